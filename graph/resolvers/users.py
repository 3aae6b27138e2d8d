"""me, user, users, node and nodes."""

from __future__ import annotations

import asyncio
import json

import strawberry
from strawberry.types import Info

from domain import validation, views
from domain.roles import Role
from graph.types.connections import Connection, connection
from graph.types.node import Node
from graph.types.objects import UserType, load_node
from graph.types.paging import relay_request


async def me(info: Info) -> UserType | None:
    viewer = info.context.viewer
    return UserType.from_entity(viewer) if viewer is not None else None


async def user(info: Info, id: strawberry.ID) -> UserType | None:
    found = await load_node(info, id, only="User")
    return found if isinstance(found, UserType) else None


async def users(
    info: Info, role: Role | None = None, first: int | None = 20, after: str | None = None
) -> Connection[UserType]:
    scope = json.dumps(["users", role.value if role else None])
    request = relay_request(info, scope=scope, first=first, after=after)
    reads, viewer = info.context.scope, info.context.viewer
    page = await views.users_page(reads=reads, viewer=viewer, role=role, request=request)
    return connection(
        page, node=UserType.from_entity, cursors=info.context.services.cursors, scope=scope,
        count=lambda: views.users_count(reads=reads, viewer=viewer, role=role),
    )


async def node(info: Info, id: strawberry.ID) -> Node | None:
    return await load_node(info, id)


async def nodes(info: Info, ids: list[strawberry.ID]) -> list[Node | None]:
    validation.id_list(ids)  # refused before any id is decoded or loaded
    return list(await asyncio.gather(*(load_node(info, i) for i in ids)))
