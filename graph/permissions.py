"""Permission classes attached to fields: the contract's role × operation table, declaratively."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from domain.entities import User
from domain.roles import MODERATE, Permission


class IsAuthenticated(BasePermission):
    message = "You must be signed in to do this"
    error_extensions = {"code": "UNAUTHENTICATED"}

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None


class Grants(BasePermission):
    """The viewer's role carries `permission`."""

    error_extensions = {"code": "FORBIDDEN"}

    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        self.message = f"This needs the {permission.value} permission"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        return viewer is not None and viewer.can(self.permission)


class IsOwnerOr(Grants):
    """The viewer owns the source object (`owner_id`), or holds `permission`.

    Synchronous on purpose: it does no I/O, and a synchronous check keeps prefetched fields
    (Position.user on a page of pages) off the coroutine path.
    """

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:  # type: ignore[override]
        if getattr(source, "is_viewer", False):
            return True
        return owner_or(info.context.viewer, source.owner_id, self.permission)


def owner_or(viewer: User | None, owner_id: int, permission: Permission) -> bool:
    """The viewer is the owner, or holds `permission`."""
    return viewer is not None and (owner_id == viewer.id or viewer.can(permission))


def owners_or(viewer: User | None, permission: Permission) -> Callable[[int], bool]:
    """`owner_or` with the viewer and permission decided once, for a page of objects (graph.plan)."""
    if viewer is None:
        return lambda _owner_id: False
    if viewer.can(permission):
        return lambda _owner_id: True
    viewer_id = viewer.id
    return lambda owner_id: owner_id == viewer_id


def signed_in() -> list[PermissionExtension]:
    return [PermissionExtension(permissions=[IsAuthenticated()], use_directives=False)]


def requires(permission: Permission) -> list[PermissionExtension]:
    """Signed in (else UNAUTHENTICATED) with `permission` (else FORBIDDEN)."""
    return [PermissionExtension(permissions=[IsAuthenticated(), Grants(permission)], use_directives=False)]


def visible_to_owner_or(permission: Permission) -> list[PermissionExtension]:
    """Null, with no error, for anyone but the owner and holders of `permission`."""
    return [PermissionExtension(permissions=[IsOwnerOr(permission)], fail_silently=True, use_directives=False)]


__all__ = ["MODERATE", "requires", "signed_in", "visible_to_owner_or"]
