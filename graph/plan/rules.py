"""Who sees what, read from the strawberry fields themselves: one source of truth for both paths.

A field the schema guards with `visible_to_owner_or(permission)` (graph.permissions) is planned
with the same permission and evaluated by the same rule, domain.access.owns_or, once per object rather
than once per field call (its owner compared, the viewer's role looked at once per request).
A field guarded any other way is not planned: graphql-core runs it.
"""

from __future__ import annotations

from collections.abc import Callable

from strawberry.permission import PermissionExtension
from strawberry.schema import Schema
from strawberry.types.base import StrawberryObjectDefinition

from domain.access import owners_or
from domain.entities import User
from domain.roles import Permission
from graph.permissions import IsOwnerOr

# Whether an object owned by this user id shows a gated field.
Check = Callable[[int], bool]


class Unplannable(Exception):
    """The document asks for something the planner does not handle: graphql-core runs it."""


def field_gate(schema: Schema, type_name: str, field_name: str) -> Permission | None:
    """The permission that, besides ownership, shows the field (None: shown to everyone);
    Unplannable when the field is guarded in a way the planner does not know."""
    object_definition = schema.get_type_by_name(type_name)
    if not isinstance(object_definition, StrawberryObjectDefinition):
        raise Unplannable(type_name)
    converter = schema.config.name_converter
    for field in object_definition.fields:
        if converter.get_graphql_name(field) != field_name:
            continue
        gates = [gate_of(extension) for extension in field.extensions]
        if len(gates) > 1:
            raise Unplannable(f"{type_name}.{field_name}")
        return gates[0] if gates else None
    raise Unplannable(f"{type_name}.{field_name}")


def gate_of(extension: object) -> Permission:
    """The permission of a `visible_to_owner_or` extension; Unplannable for any other extension."""
    if not isinstance(extension, PermissionExtension) or not extension.fail_silently:
        raise Unplannable(repr(extension))
    permissions = extension.permissions
    if len(permissions) != 1 or type(permissions[0]) is not IsOwnerOr:
        raise Unplannable(repr(extension))
    return permissions[0].permission


def shown_to(viewer: User | None, permission: Permission | None) -> Check:
    """Whether the viewer sees a field gated by `permission`, by the object's owner id: the permission
    classes' own rule (domain.access.owners_or), decided once per request and gate."""
    return everyone if permission is None else owners_or(viewer, permission)


def everyone(_owner_id: int) -> bool:
    return True
