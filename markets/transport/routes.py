"""The Starlette application: routes and middleware around the GraphQL view (markets.asgi builds it with them)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from domain.errors import ErrorCode
from graph.schema import Schema
from markets.application import Application
from markets.transport.compiled_reads import CompiledReads
from markets.transport.cors import cors_middleware
from markets.transport.frontend import frontend_routes
from markets.transport.health import healthz, metrics_endpoint, readyz
from markets.transport.middleware.body_limit import BodyLimitMiddleware
from markets.transport.middleware.body_timeout import BodyTimeoutMiddleware
from markets.transport.middleware.compiled_reads import CompiledReadsMiddleware
from markets.transport.middleware.request_context import RequestContextMiddleware
from markets.transport.responses import error_response
from markets.transport.view import GraphQLView

# What asgi_app returns (markets.asgi names it without importing Starlette).
WebApp = Starlette

async def not_found(_: Request, __: Exception) -> Response:
    return error_response(404, "Not found", ErrorCode.NOT_FOUND)


async def method_not_allowed(_: Request, __: Exception) -> Response:
    return error_response(405, "Method not allowed: use GET or POST", ErrorCode.BAD_REQUEST, {"Allow": "GET, POST"})


def asgi_app(
    application: Application, schema: Schema, *, lifespan: Callable[[], AbstractAsyncContextManager[None]]
) -> WebApp:
    """The ASGI app serving `schema` over `application`; `lifespan` runs around the server's life."""
    settings = application.settings
    view = GraphQLView(app=application, schema=schema)
    reads = CompiledReads(
        app=application, schema=schema, persisted_only=view.persisted.only, proxies=view.proxies
    )
    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *frontend_routes(settings),
        ],
        middleware=[
            Middleware(RequestContextMiddleware, sql_statements_header=not settings.is_production),
            Middleware(
                CompiledReadsMiddleware, reads=reads, max_bytes=settings.max_body_bytes,
                body_seconds=settings.request_body_timeout_seconds,
            ),
            *cors_middleware(settings),
            Middleware(BodyTimeoutMiddleware, seconds=settings.request_body_timeout_seconds),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        lifespan=lambda _: lifespan(),
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.state.application = application
    app.state.schema = schema
    app.state.reads = reads  # the compiled read path, for its tests
    return app
