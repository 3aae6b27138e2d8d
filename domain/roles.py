"""Roles and the permissions each one grants (the contract's permission table)."""

from __future__ import annotations

import enum


class Role(enum.Enum):
    USER = "USER"
    MODERATOR = "MODERATOR"
    ADMIN = "ADMIN"


class Permission(enum.Enum):
    READ = "READ"
    WRITE = "WRITE"
    DELETE = "DELETE"
    ADMIN = "ADMIN"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.USER: frozenset({Permission.READ, Permission.WRITE}),
    Role.MODERATOR: frozenset({Permission.READ, Permission.WRITE, Permission.DELETE}),
    Role.ADMIN: frozenset(Permission),
}

# Moderating (changing a market's status, seeing anyone's positions) is what DELETE grants.
MODERATE = Permission.DELETE

ROLE_RANK = {Role.USER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


def grants(role: Role, permission: Permission) -> bool:
    """Whether `role` carries `permission`."""
    return permission in ROLE_PERMISSIONS[role]
