"""The WebSocket side of /graphql: graphql-transport-ws as this server speaks it.

- The viewer comes from `connection_init`'s payload (`Authorization`, any case), by the HTTP token
  rules and read from the database; a refused token closes the socket with 4403, and so does the
  token's expiry later on. No token: anonymous.
- Only subscriptions run here (queries and mutations go over HTTP, where rate limits and persisted
  queries apply); with PERSISTED_QUERIES_ONLY a subscription's text must be registered.
- Each operation runs in a copy of the socket's context, each event in fresh loaders whose
  connection goes back to the pool before the event is sent; errors leave with the codes HTTP gives.
- The viewer is read again from the database before an event is rendered, at most every
  WS_VIEWER_RECHECK_SECONDS (shared by the socket's operations): a role change applies to sockets
  already open within that time, and a user who no longer exists has the socket closed with 4403.
- Limits: MAX_SUBSCRIPTIONS_PER_CONNECTION (RATE_LIMITED past it), the connection-init timeout
  (4408), a ping every WS_PING_INTERVAL_SECONDS answered by the next one or 1011, and a subscriber
  whose bounded queue overflows closed with 1013 (graph.subscriptions); sockets per address and
  per user (4429), the subscriptions' cost per connection and the rate of subscribe messages
  (markets.transport.socket_limits).
- A frame that is not a valid message of the protocol closes the socket with 4400 (markets.transport.frames).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import Any, cast

import jwt
from graphql import GraphQLError, GraphQLFormattedError, GraphQLSyntaxError
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage,
    Message,
    PongMessage,
    SubscribeMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from domain.entities import User
from domain.errors import ErrorCode, InvalidToken, RateLimited
from graph.context import CLOSE_FORBIDDEN, CLOSE_TRY_AGAIN_LATER, Context, SubscriptionContext
from graph.errors import INTERNAL, classify, error_body
from graph.extensions.input_checks import request_refusal
from graph.extensions.persisted_queries import ONLY_PERSISTED, sha256_hex
from graph.loaders import Loaders
from markets.application import Application
from markets.observability.metrics import WEBSOCKET_DROPS
from markets.transport.frames import frame_problem
from markets.transport.json_codec import dumps
from markets.transport.proxies import Network, client_address
from markets.transport.socket_limits import CLOSE_TOO_MANY_SOCKETS, CostBudget, SocketCounts, TooManySockets
from persistence.faults import is_database_down

log = logging.getLogger("markets.websocket")

CLOSE_PING_TIMEOUT = 1011  # as uvicorn's own WebSocket keep-alive
SUBSCRIPTIONS_ONLY = "Only subscriptions run over WebSocket: send queries and mutations over HTTP"

TokenSubject = Callable[[str | None], tuple[int | None, InvalidToken | None]]
ViewerOf = Callable[[int | None, Context], Awaitable[User | None]]


@dataclass
class SocketContext(SubscriptionContext):
    """A socket's context. Each operation runs in a copy; each event in a scope of fresh loaders."""

    connection_params: dict[str, object] = field(default_factory=dict)
    # When the token expires (epoch seconds); the socket closes then.
    expires_at: float | None = None
    # Shared by the socket's operations (copies share these objects): what the open subscriptions may
    # still cost, and the socket's slots in the per-client counts.
    budget: CostBudget = field(default_factory=lambda: CostBudget(limit=0))
    slots: list[str] = field(default_factory=list)
    # What this operation spent of the budget (given back when it ends).
    charged: int = 0
    # Whether error messages may suggest names (the schema is public: GraphiQL and introspection on).
    suggestions: bool = False

    def for_operation(self) -> SocketContext:
        """A copy for one operation: its own document flags, feeds, charge, and scope (none shared with the socket)."""
        scope = self.services.scopes()
        return dataclasses.replace(
            self, document=None, validation_failed=False, feeds=[], charged=0, scope=scope, loaders=Loaders(scope),
        )

    def charge(self, cost: int) -> str | None:
        """Spend the operation's cost from the socket's budget (graph.extensions.limits.Budgeted)."""
        if not self.budget.charge(cost):
            return (f"This subscription costs {cost}: the subscriptions open on this connection may cost "
                    f"{self.budget.limit} together, {self.budget.spent} is taken; complete one first")
        self.charged += cost
        return None

    async def close(self) -> None:
        """The operation ended: refund its cost, unsubscribe its feeds and give back its connection."""
        self.budget.refund(self.charged)
        self.charged = 0
        await super().close()


def socket_context(app: Application, websocket: WebSocket, proxies: Sequence[Network]) -> SocketContext:
    """The context of a socket just accepted: anonymous until connection_init says otherwise."""
    scope = app.api.scopes()
    return SocketContext(
        services=app.api, scope=scope, loaders=Loaders(scope),
        client_address=client_address(websocket, proxies),
        budget=CostBudget(limit=app.settings.max_subscription_cost_per_connection),
        suggestions=app.settings.explorer_enabled,
    )


def authorization_of(params: Mapping[str, object]) -> object:
    """The payload's `Authorization` value (that spelling first, then any case); None without one."""
    if "Authorization" in params:
        return params["Authorization"]
    return next((value for key, value in params.items() if key.lower() == "authorization"), None)


async def authenticate(context: SocketContext, subject: TokenSubject, viewer_of: ViewerOf) -> None:
    """Set the socket's viewer by the HTTP rules; ConnectionRejectionError (4403) when the token is refused."""
    authorization = authorization_of(context.connection_params)
    if authorization is not None and not isinstance(authorization, str):
        raise rejected("Authorization must be a string")
    pk, invalid = subject(authorization)
    if invalid is not None:
        raise rejected(str(invalid))
    try:
        context.viewer = await viewer_of(pk, context)
    except InvalidToken as error:
        raise rejected(str(error)) from None
    finally:
        await context.release()
    context.viewer_check.user, context.viewer_check.at = context.viewer, time.monotonic()
    if authorization is not None:
        context.expires_at = token_expiry(authorization)


def admit(counts: SocketCounts, context: SocketContext, key: str, limit: int) -> None:
    """Take one of the key's socket slots (given back at the socket's shutdown); TooManySockets if none is left."""
    if not counts.admit(key, limit):
        raise TooManySockets(key.partition(":")[0])
    context.slots.append(key)


def rejected(reason: str) -> ConnectionRejectionError:
    """What makes strawberry close the socket with 4403 Forbidden (the reason is logged, not sent)."""
    log.info("refused a WebSocket's token: %s", reason)
    return ConnectionRejectionError()


def token_expiry(authorization: str) -> float:
    """The `exp` of a bearer token already verified."""
    token = authorization.strip().partition(" ")[2].strip()
    return float(jwt.decode(token, options={"verify_signature": False})["exp"])


def with_code(error: GraphQLError, context: SocketContext, *, from_stream: bool) -> GraphQLError:
    """The error as HTTP would answer it (its code; nothing internal), changed in place to keep its type.

    `from_stream`: raised while the event stream ran, so a path-less error is not a variable's.
    """
    original = error.original_error
    if isinstance(original, InvalidOperationTypeError):
        body = error_body(SUBSCRIPTIONS_ONLY, ErrorCode.BAD_REQUEST)
    elif from_stream and error.path is None and not (error.extensions or {}).get("code"):
        body = stream_failure(original or error)
    else:
        body = classify(error, validation_failed=context.validation_failed, document=context.document,
                        faults=context.services.faults,
                        suggestions=context.suggestions)
    error.message = body["message"]
    error.extensions = body["extensions"]
    return error


def stream_failure(error: BaseException) -> dict[str, Any]:
    """The body for an unexpected failure of the event stream itself (logged here)."""
    if is_database_down(error):
        log.warning("database unavailable during a subscription: %r", error)
        return error_body("The database is unavailable", ErrorCode.SERVICE_UNAVAILABLE)
    log.error("subscription stream failed", exc_info=error)
    return error_body(INTERNAL, ErrorCode.INTERNAL_SERVER_ERROR)


async def coded(results: AsyncGenerator[ExecutionResult, None], context: SocketContext) -> AsyncGenerator[Any, None]:
    """The operation's results with coded errors, each event's connection given back before it is sent."""
    try:
        async with aclosing(results):
            async for result in results:
                await context.release()
                from_stream = not isinstance(result, PreExecutionError)
                for error in result.errors or ():
                    with_code(error, context, from_stream=from_stream)
                yield result
    except GraphQLSyntaxError as error:
        # The document cache parses in its own hook, which strawberry's stream (unlike its HTTP path) does
        # not guard: without this the operation's task crashes and the client sees a bare `complete`.
        yield PreExecutionError(data=None, errors=[with_code(error, context, from_stream=False)])
    finally:
        await context.close()


class SocketSchema:
    """The schema as a socket runs it: subscriptions only, one context per operation, coded errors."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema

    async def stream(
        self, query: str, *, variable_values: dict[str, Any] | None = None, context_value: SocketContext,
        root_value: Any = None, operation_name: str | None = None, **_: Any,
    ) -> AsyncGenerator[Any, None]:
        """Run the operation as a subscription, in a copy of the socket's context."""
        context = context_value.for_operation()
        results = await self.schema.stream(
            query, variable_values=variable_values, context_value=context, root_value=root_value,
            operation_name=operation_name, allowed_operation_types=(OperationType.SUBSCRIPTION,),
        )
        return coded(results, context)


class SocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with this server's rules (see the module's docstring)."""

    # The view's get_context gives every socket a SocketContext.
    context: SocketContext

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schema = SocketSchema(self.schema)  # type: ignore[assignment]  # a wrapper, not a Schema
        self.context.drop = self.drop
        self.settings = self.view.app.settings  # type: ignore[attr-defined]  # GraphQLView (it imports us)
        self.watchers: set[asyncio.Task[None]] = set()
        self.awaiting_pong = False
        self.dropping = False
        self.closing: asyncio.Future[None] | None = None
        self.cancelled: list[asyncio.Task[None]] = []
        self.counts: SocketCounts = self.view.sockets  # type: ignore[attr-defined]  # GraphQLView (it imports us)

    async def handle(self) -> None:
        """Serve the socket unless its address holds MAX_SOCKETS_PER_ADDRESS already (4429); its slots are
        given back however it ends."""
        address = f"address:{self.context.client_address}"
        try:
            admit(self.counts, self.context, address, self.settings.max_sockets_per_address)
        except TooManySockets:
            WEBSOCKET_DROPS.labels("too_many_sockets").inc()
            log.warning("closing a WebSocket (too_many_sockets): %s holds %s", address, self.counts.count(address))
            await self.close_socket(CLOSE_TOO_MANY_SOCKETS, "Too many sockets from this address")
            return
        try:
            await super().handle()
        finally:
            for key in self.context.slots:
                self.counts.release(key)
            self.context.slots.clear()

    async def handle_message(self, message: Message) -> None:
        """A frame of the wrong shape closes the socket with 4400 (transport.frames); the rest as the protocol says."""
        problem = frame_problem(message)
        if problem is not None:
            await self.handle_invalid_message(problem)
            return
        await super().handle_message(message)

    async def handle_connection_init(self, message: Any) -> None:
        """Acknowledge as the protocol says, then start the keep-alive and the token's expiry."""
        try:
            await super().handle_connection_init(message)
        except TooManySockets:
            self.drop(CLOSE_TOO_MANY_SOCKETS, "Too many sockets for this user", "too_many_sockets")
            return
        except Exception as error:
            if not is_database_down(error):
                raise
            self.drop(CLOSE_TRY_AGAIN_LATER, "The database is unavailable", "database_down")
            return
        if not self.connection_acknowledged or self.watchers:
            return
        if self.settings.ws_ping_interval_seconds > 0:
            self.watch(self.keep_alive(self.settings.ws_ping_interval_seconds))
        if self.context.expires_at is not None:
            self.watch(self.expire(self.context.expires_at))

    async def send_message(self, message: Message) -> None:
        """As a text frame, as the protocol says (the view's JSON encoder gives bytes, for HTTP)."""
        try:
            await self.websocket.ws.send_text(dumps(message).decode())  # type: ignore[attr-defined]  # starlette adapter
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error

    async def handle_pong(self, message: PongMessage) -> None:
        """The client answered the last ping."""
        self.awaiting_pong = False

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """Subscribe as the protocol says, unless over the limit or (persisted only) not registered."""
        refusal = await self.refusal(message)
        if refusal is None:
            await super().handle_subscribe(message)
            return
        payload = [cast(GraphQLFormattedError, refusal)]  # error_body's shape
        await self.send_message(ErrorMessage(id=message["id"], type="error", payload=payload))

    async def refusal(self, message: SubscribeMessage) -> dict[str, Any] | None:
        """The error refusing a subscription the protocol itself would accept; None to go on.

        Every subscribe message counts against the viewer's request rate, as an HTTP request does.
        """
        if not self.connection_acknowledged or message["id"] in self.operations:
            return None
        viewer = self.context.viewer
        try:
            await self.view.app.rate_limiter.check_viewer(  # type: ignore[attr-defined]  # GraphQLView
                f"user:{viewer.id}" if viewer is not None else f"address:{self.context.client_address}"
            )
        except RateLimited as error:
            return error_body(str(error), error.code, retryAfter=error.retry_after)
        bad = request_refusal(message["payload"]["query"], message["payload"].get("operationName"))
        if bad is not None:
            return dict(bad.formatted)
        limit = self.settings.max_subscriptions_per_connection
        if len(self.operations) >= limit:
            too_many = f"At most {limit} subscriptions per connection: complete one first"
            return error_body(too_many, ErrorCode.RATE_LIMITED)
        persisted = self.view.persisted  # type: ignore[attr-defined]  # GraphQLView (it imports us)
        query = message["payload"]["query"]
        if persisted.only and (not isinstance(query, str) or await persisted.store.get(sha256_hex(query)) is None):
            return error_body(ONLY_PERSISTED, ErrorCode.PERSISTED_QUERY_NOT_FOUND)
        return None

    async def keep_alive(self, interval: float) -> None:
        """Ping every interval; a client that has not answered the previous ping by then is dropped."""
        while True:
            await asyncio.sleep(interval)
            if self.awaiting_pong:
                self.drop(CLOSE_PING_TIMEOUT, "keepalive ping timeout", "ping_timeout")
                return
            self.awaiting_pong = True
            try:
                await self.send_message({"type": "ping"})
            except WebSocketDisconnected:
                return

    async def expire(self, expires_at: float) -> None:
        """Close the socket when its token expires, as HTTP would refuse the token then."""
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        self.drop(CLOSE_FORBIDDEN, "Token expired", "token_expired")

    def drop(self, code: int, reason: str, label: str) -> None:
        """Close the socket from the server's side; its operations are cancelled first, so none sends into it."""
        if self.dropping:
            return
        self.dropping = True
        WEBSOCKET_DROPS.labels(label).inc()
        level = logging.INFO if code == CLOSE_FORBIDDEN else logging.WARNING
        log.log(level, "closing a WebSocket (%s): %s %s", label, code, reason)
        for operation in self.operations.values():
            if operation.task is not None:
                operation.task.cancel()
                self.cancelled.append(operation.task)
        self.operations.clear()
        self.stop_watchers()
        self.closing = asyncio.ensure_future(self.close_socket(code, reason))

    async def close_socket(self, code: int, reason: str) -> None:
        """Close the socket; nothing when the client is gone already."""
        with suppress(RuntimeError, WebSocketDisconnected):
            await self.websocket.close(code=code, reason=reason)

    def watch(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work beside the message loop, held until it ends (cancelled when the socket goes)."""
        task = asyncio.ensure_future(work)
        self.watchers.add(task)
        task.add_done_callback(self.watchers.discard)

    def stop_watchers(self) -> None:
        """Cancel the keep-alive and the expiry (not the task calling this)."""
        current = asyncio.current_task()
        for task in list(self.watchers):
            if task is not current:
                task.cancel()

    async def shutdown(self) -> None:
        """Stop the watchers and the operations (those dropped too), and give back the socket's connection."""
        self.stop_watchers()
        await super().shutdown()
        for task in self.cancelled:
            with suppress(Exception, asyncio.CancelledError):
                await task
        await self.context.release()
