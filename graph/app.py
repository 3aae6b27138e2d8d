"""The Starlette application: routes, middleware, and the container's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from graph import background
from graph.bootstrap import Container, bootstrap
from graph.cors import cors_middleware
from graph.frontend import frontend_routes
from graph.health import healthz, readyz
from graph.http import error_response
from graph.limits import Limits
from graph.metrics import instrument, metrics_endpoint
from graph.middleware import BodyLimitMiddleware, BodyTimeoutMiddleware, RequestContextMiddleware
from graph.requests import count_statements
from graph.schema import build_schema
from graph.settings import Settings
from graph.startup import wait_for_database
from graph.view import GraphQLView


async def not_found(_: Request, __: Exception) -> Response:
    return error_response(404, "Not found", "NOT_FOUND")


async def method_not_allowed(_: Request, __: Exception) -> Response:
    return error_response(405, "Method not allowed: use GET or POST", "BAD_REQUEST", {"Allow": "GET, POST"})


def create_app(settings: Settings | None = None, *, container: Container | None = None) -> Starlette:
    """Build the ASGI app; the container (engine, hasher, tokens) closes with it."""
    container = container or bootstrap(settings or Settings())
    count_statements(container.engine)
    instrument(container.engine)
    schema = build_schema(
        introspection=container.settings.explorer_enabled, limits=Limits.from_settings(container.settings)
    )
    view = GraphQLView(container=container, schema=schema)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await wait_for_database(container.engine, timeout_seconds=container.settings.db_startup_timeout_seconds)
        await background.start(container)  # the embedder loads; without Redis, the job worker runs
        yield
        await background.stop(container)
        await container.close()

    app = Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            *frontend_routes(container.settings),
        ],
        middleware=[
            Middleware(RequestContextMiddleware, sql_statements_header=not container.settings.is_production),
            *cors_middleware(container.settings),
            Middleware(BodyTimeoutMiddleware, seconds=container.settings.request_body_timeout_seconds),
            Middleware(BodyLimitMiddleware, max_bytes=container.settings.max_body_bytes),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found, 405: method_not_allowed},
    )
    app.state.container = container
    app.state.schema = schema
    app.state.reads = view.reads  # the compiled read path, for its tests
    return app
