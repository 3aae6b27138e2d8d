"""login: trade an email and password for a token."""

from __future__ import annotations

from strawberry.types import Info

from domain import validation
from domain.services import users
from graph.mutations.auth_payload import AuthPayload, auth_payload


async def login(info: Info, email: str, password: str) -> AuthPayload:
    services = info.context.services
    validation.email_length(email)  # before it becomes a rate-limit key
    await services.rate_limiter.check_auth(address=info.context.client_address, email=email)
    user = await users.login(uow=info.context.unit_of_work(), hasher=services.hasher, email=email, password=password)
    return auth_payload(info, user)
