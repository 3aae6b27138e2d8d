"""Who may do what: the contract's role rules in one place.

The API's field permission classes (graph/permissions.py) ask these predicates as the declarative
first check; every write service asks the `require_*` functions again, so a rule holds whoever calls
the service (a resolver, the CLI, a test). Both raise or refuse with the same codes and messages.
"""

from __future__ import annotations

from collections.abc import Callable

from domain.entities import User
from domain.errors import Forbidden, Unauthenticated
from domain.roles import ROLE_RANK, Permission, Role

SIGN_IN_NEEDED = "You must be signed in to do this"


def permission_needed(permission: Permission) -> str:
    """The FORBIDDEN message of a viewer whose role lacks `permission`."""
    return f"This needs the {permission.value} permission"


def is_signed_in(viewer: User | None) -> bool:
    """Whether there is a viewer at all."""
    return viewer is not None


def allowed(viewer: User | None, permission: Permission) -> bool:
    """Whether the viewer's role carries `permission` (never, for no viewer)."""
    return viewer is not None and viewer.can(permission)


def owns_or(viewer: User | None, owner_id: int, permission: Permission) -> bool:
    """Whether the viewer is the owner, or holds `permission`."""
    return viewer is not None and (owner_id == viewer.id or viewer.can(permission))


def owners_or(viewer: User | None, permission: Permission) -> Callable[[int], bool]:
    """`owns_or` with the viewer and permission decided once, for a page of objects (graph.plan)."""
    if viewer is None:
        return lambda _owner_id: False
    if viewer.can(permission):
        return lambda _owner_id: True
    viewer_id = viewer.id
    return lambda owner_id: owner_id == viewer_id


def require_signed_in(viewer: User | None) -> User:
    """The viewer; UNAUTHENTICATED without one."""
    if viewer is None:
        raise Unauthenticated(SIGN_IN_NEEDED)
    return viewer


def require(viewer: User | None, permission: Permission, *, refusal: str | None = None) -> User:
    """The viewer, whose role carries `permission`: UNAUTHENTICATED without a viewer, else FORBIDDEN
    (with `refusal`, or the message that names the permission)."""
    signed_in = require_signed_in(viewer)
    if not signed_in.can(permission):
        raise Forbidden(refusal or permission_needed(permission))
    return signed_in


def require_owner_or(viewer: User, owner_id: int, permission: Permission, *, refusal: str) -> None:
    """FORBIDDEN (with `refusal`) unless the viewer is the owner or holds `permission`."""
    if not owns_or(viewer, owner_id, permission):
        raise Forbidden(refusal)


def require_owner(viewer: User, owner_id: int, *, refusal: str) -> None:
    """FORBIDDEN (with `refusal`) unless the viewer is the owner, whatever their role."""
    if owner_id != viewer.id:
        raise Forbidden(refusal)


def require_may_give_role(viewer: User, user_id: int | None, role: Role) -> None:
    """FORBIDDEN when an admin would lower their own role (so the last admin cannot lock everyone out)."""
    if user_id == viewer.id and ROLE_RANK[role] < ROLE_RANK[viewer.role]:
        raise Forbidden("You cannot lower your own role")
