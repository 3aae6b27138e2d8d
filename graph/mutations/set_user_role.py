"""setUserRole: admins only; an admin cannot lower their own role."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.roles import Role
from domain.services import users
from graph import ids
from graph.types.objects import UserType


async def set_user_role(info: Info, user_id: strawberry.ID, role: Role) -> UserType:
    context = info.context
    user = await users.set_user_role(
        uow=context.unit_of_work(), viewer=context.viewer, user_id=ids.decode(user_id, "User"), role=role
    )
    context.loaders.remember(user)
    return UserType.from_entity(user)
