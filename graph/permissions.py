"""Permission classes attached to fields: the contract's role × operation table, declaratively.

They are the first check, made before a resolver runs; the rules themselves live in
domain/access.py, which every write service asks again.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from domain import access
from domain.errors import Forbidden, Unauthenticated, code_extensions
from domain.roles import MODERATE, Permission


class IsAuthenticated(BasePermission):
    message = access.SIGN_IN_NEEDED
    error_extensions = code_extensions(Unauthenticated.code)

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return access.is_signed_in(info.context.viewer)


class Grants(BasePermission):
    """The viewer's role carries `permission`."""

    error_extensions = code_extensions(Forbidden.code)

    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        self.message = access.permission_needed(permission)

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return access.allowed(info.context.viewer, self.permission)


class IsOwnerOr(Grants):
    """The viewer owns the source object (`owner_id`), or holds `permission`.

    Synchronous on purpose: it does no I/O, and a synchronous check keeps prefetched fields
    (Position.user on a page of pages) off the coroutine path.
    """

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:  # type: ignore[override]  # sync: see above
        if getattr(source, "is_viewer", False):
            return True
        return access.owns_or(info.context.viewer, source.owner_id, self.permission)


def signed_in() -> list[FieldExtension]:
    return [PermissionExtension(permissions=[IsAuthenticated()], use_directives=False)]


def requires(permission: Permission) -> list[FieldExtension]:
    """Signed in (else UNAUTHENTICATED) with `permission` (else FORBIDDEN)."""
    return [PermissionExtension(permissions=[IsAuthenticated(), Grants(permission)], use_directives=False)]


def visible_to_owner_or(permission: Permission) -> list[FieldExtension]:
    """Null, with no error, for anyone but the owner and holders of `permission`."""
    return [PermissionExtension(permissions=[IsOwnerOr(permission)], fail_silently=True, use_directives=False)]


__all__ = ["MODERATE", "requires", "signed_in", "visible_to_owner_or"]
