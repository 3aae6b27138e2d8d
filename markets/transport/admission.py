"""Who is asking, once per request: the client's address, the rate limit, the token's user.

Both read paths admit a request through here (the view's context, markets.transport.compiled_reads), and the
outcome is kept on the request: when the compiled path hands a request over to graphql-core, or
checks its answer against graphql-core's (READ_PLAN_SHADOW), the request is counted against its
rate limit once and its viewer read once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request

from domain.entities import User
from domain.errors import InvalidToken
from markets.application import Application
from markets.observability.logs import conceal
from markets.observability.observe import record_viewer
from markets.tokens import TokenService
from markets.transport.proxies import Network, client_address

# The user a token names; None (or InvalidToken) when they are gone.
ViewerLookup = Callable[[int], Awaitable[User | None]]


@dataclass(frozen=True, slots=True)
class Admission:
    client_address: str
    # The key the viewer's requests count against (markets.stores.rate_limits).
    rate_key: str
    viewer: User | None


def token_subject(tokens: TokenService, authorization: str | None) -> tuple[int | None, InvalidToken | None]:
    """The user pk a bearer token names, or the reason it is refused (neither without a header)."""
    if authorization is None:
        return None, None
    try:
        return tokens.user_id(authorization), None
    except InvalidToken as error:
        return None, error


async def admit_request(
    request: Request, app: Application, proxies: Sequence[Network], lookup: ViewerLookup
) -> Admission:
    """Rate-limit the request and read its viewer, once per request whichever path asks first."""
    state = request.state
    already = admitted(request)
    if already is not None:
        return already
    address = client_address(request, proxies)
    authorization = request.headers.get("authorization")
    conceal(authorization)
    conceal(authorization.strip().partition(" ")[2].strip() if authorization else None)
    pk, invalid = token_subject(app.tokens, authorization)
    # Counted before the database is asked anything; bad tokens count against the address.
    rate_key = f"user:{pk}" if pk else f"address:{address}"
    if getattr(state, "rate_counted", None) != rate_key:
        state.rate_counted = rate_key
        await app.rate_limiter.check_viewer(rate_key)
    if invalid is not None:
        raise invalid
    viewer = known(await lookup(pk)) if pk is not None else None
    record_viewer(viewer)
    admission = Admission(address, rate_key, viewer)
    state.admission = admission
    return admission


def admitted(request: Request) -> Admission | None:
    """The request's admission, once admit_request has let it in (None before, or when it was refused)."""
    admission: Admission | None = getattr(request.state, "admission", None)
    return admission


def known(user: User | None) -> User:
    """The user, or InvalidToken: a token outlives a deleted user."""
    if user is None:
        raise InvalidToken("The token's user no longer exists")
    return user
