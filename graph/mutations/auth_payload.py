"""AuthPayload, shared by signUp and login."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.entities import User
from graph.types.objects import UserType


@strawberry.type
class AuthPayload:
    token: str = strawberry.field(description="A signed JWT to send as `Authorization: Bearer <token>`.")
    user: UserType


def auth_payload(info: Info, user: User) -> AuthPayload:
    services = info.context.services
    token = services.tokens.issue(user, now=services.clock())
    return AuthPayload(token=token, user=UserType.from_entity(user, is_viewer=True))
