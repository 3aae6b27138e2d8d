"""The GraphQL HTTP view: authentication, per-request context, status codes, error codes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from domain import views
from domain.entities import User
from domain.errors import ErrorCode, InvalidToken
from graph.context import Context
from graph.errors import classify
from graph.extensions.input_checks import request_refusal
from graph.extensions.persisted_queries import PersistedQueries
from graph.loaders import Loaders
from graph.schema import Schema
from markets.application import Application
from markets.observability.observe import record_errors
from markets.transport.admission import admit_request, known, token_subject
from markets.transport.frames import SocketFrames
from markets.transport.frontend import graphiql_page
from markets.transport.json_codec import dumps, loads
from markets.transport.operation_names import record_operation
from markets.transport.proxies import parse_networks
from markets.transport.responses import RETRY_AFTER_SECONDS, error_response, refusal
from markets.transport.socket_limits import SocketCounts
from markets.transport.websocket import SocketContext, SocketHandler, admit, authenticate, socket_context


@dataclass
class HttpContext(Context):
    """An HTTP request's context: the GraphQL one, with the request and the response it will answer."""

    request: Request | None = None
    response: Response | None = None


class GraphQLView(GraphQL[Context, None]):
    # Subscriptions over WebSocket: markets.transport.websocket, frames checked by markets.transport.frames.
    graphql_transport_ws_handler_class = SocketHandler
    websocket_adapter_class = SocketFrames

    def __init__(self, *, app: Application, schema: Schema) -> None:
        settings = app.settings
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.explorer_enabled else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=settings.ws_connection_init_timeout_seconds),
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            allowed_origins=settings.cors_origin_list,
        )
        self.app = app
        self.proxies = parse_networks(settings.trusted_proxy_list)
        self.persisted = PersistedQueries(app.persisted_queries, only=settings.persisted_queries_only)
        self.sockets = SocketCounts()

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = loads(data)
        except (ValueError, RecursionError):
            # Bad JSON, text that is not UTF-8/16/32, an integer over Python's digit limit, or
            # nesting past the parser's depth: not a GraphQL request.
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request body must be a JSON object with a `query`")
        return value

    def encode_json(self, data: object) -> bytes:
        return dumps(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        if isinstance(request, WebSocket):
            return socket_context(self.app, request, self.proxies)  # its viewer comes with connection_init
        assert isinstance(response, Response)  # strawberry's sub-response, for an HTTP request
        scope = self.app.api.scopes()
        context = HttpContext(
            services=self.app.api, scope=scope, loaders=Loaders(scope), request=request, response=response,
        )
        request.state.context = context
        admission = await admit_request(request, self.app, self.proxies, lambda pk: self.viewer(pk, context))
        context.client_address, context.rate_key, context.viewer = (
            admission.client_address, admission.rate_key, admission.viewer
        )
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType:
        """connection_init: the socket's viewer from its payload, by the same token rules (4403 if refused);
        TooManySockets (4429) when the user holds MAX_SOCKETS_PER_USER already."""
        assert isinstance(context, SocketContext)
        await authenticate(context, self.token_subject, self.viewer)
        if context.viewer is not None:
            admit(self.sockets, context, f"user:{context.viewer.id}", self.app.settings.max_sockets_per_user)
        return UnsetType()

    def token_subject(self, authorization: str | None) -> tuple[int | None, InvalidToken | None]:
        """The user pk a bearer token names, or the reason it is refused (neither without a header)."""
        return token_subject(self.app.tokens, authorization)

    @staticmethod
    async def viewer(pk: int | None, context: Context) -> User | None:
        """The user a verified token names (None without one); InvalidToken if they are gone."""
        if pk is None:
            return None
        # Not through the user loader: a cached viewer would resolve a tick before its batch-mates
        # and split their batches in two.
        return known(await views.current_user(reads=context.scope, user_id=pk))

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """Only for a browser (`Accept: text/html`, as the contract says), never for a persisted-query
        GET (it carries `extensions` instead of `query`). Strawberry also serves it for `*/*`, which
        would answer a bare `GET /graphql` from curl or httpx with HTML instead of 400 BAD_REQUEST."""
        return (
            "extensions" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
            and super().should_render_graphql_ide(request)
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL from this server's vendored assets, not Strawberry's CDN page."""
        return graphiql_page()

    async def execute_single(
        self, request: Request, request_adapter: AsyncHTTPRequestAdapter, sub_response: Response, context: Context,
        root_value: None, request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Refuse bad characters in the query text or operationName (they cannot even be hashed or echoed);
        resolve an automatic persisted query's text, then run it like any other."""
        refusal = request_refusal(request_data.query, request_data.operation_name)
        if refusal is not None:
            return ExecutionResult(data=None, errors=[refusal])
        parent = super().execute_single
        return await self.persisted.execute(
            request_data, context,
            lambda data: parent(request, request_adapter, sub_response, context, root_value, data),
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        context: HttpContext = request.state.context
        await record_operation(request, context.document)
        if not result.errors:
            return {"data": result.data}
        errors = [
            classify(e, validation_failed=context.validation_failed, document=context.document,
                     faults=self.app.api.faults, suggestions=self.app.settings.explorer_enabled)
            for e in result.errors
        ]
        record_errors(errors)
        assert context.response is not None
        if any(e["extensions"]["code"] == ErrorCode.SERVICE_UNAVAILABLE for e in errors):
            context.response.status_code = 503
            context.response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        waits = [e["extensions"]["retryAfter"] for e in errors if e["extensions"]["code"] == ErrorCode.RATE_LIMITED]
        if waits:
            context.response.status_code = 429
            context.response.headers["Retry-After"] = str(max(waits))
        # Errors raised before execution began leave no `data` entry (GraphQL spec, "Response").
        executed = result.data is not None or any(e.path for e in result.errors)
        return {"data": result.data, "errors": errors} if executed else {"errors": errors}  # type: ignore[typeddict-item]  # data-less: spec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as error:
            response = self.http_error(error)
        except Exception as error:
            refused = refusal(error)
            if refused is None:
                raise
            response = refused
        finally:
            context = getattr(request.state, "context", None)
            if context is not None:
                await context.scope.close()
        await response(scope, receive, send)

    @staticmethod
    def http_error(error: HTTPException) -> Response:
        refused = error.__cause__
        if isinstance(refused, CannotGetOperationTypeError):
            # No operation of that name: the document does not validate for this request, which the
            # contract answers with HTTP 200 like any other validation failure (not a transport 400).
            return error_response(200, refused.as_http_error_reason(), ErrorCode.GRAPHQL_VALIDATION_FAILED)
        if isinstance(refused, InvalidOperationTypeError) and refused.operation_type is OperationType.SUBSCRIPTION:
            return error_response(400, "Subscriptions run over WebSocket (graphql-transport-ws) at /graphql",
                                  ErrorCode.BAD_REQUEST)
        if isinstance(refused, InvalidOperationTypeError):
            return error_response(
                405, "Mutations are only accepted over POST", ErrorCode.BAD_REQUEST, {"Allow": "POST"}
            )
        return error_response(error.status_code, error.reason, ErrorCode.BAD_REQUEST if error.status_code < 500 else
                              ErrorCode.INTERNAL_SERVER_ERROR)
