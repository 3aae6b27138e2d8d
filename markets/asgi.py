"""The ASGI application `markets serve` runs: the process's services built once (markets.bootstrap), the
GraphQL schema (graph.schema), and the HTTP/WebSocket transport around them (markets.transport.routes); the
background work starts with the server and everything closes when it stops."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from graph.schema import build_schema
from markets import background
from markets.application import Application
from markets.bootstrap import bootstrap
from markets.observability.logs import conceal
from markets.observability.metrics import instrument
from markets.observability.request_metrics import count_statements
from markets.settings import Settings
from markets.startup import wait_for_database
from markets.transport.routes import WebApp, asgi_app


def create_app(settings: Settings | None = None, *, application: Application | None = None) -> WebApp:
    """Build the ASGI app; the application (engine, Redis, stores) closes with it."""
    application = application or bootstrap(settings or Settings())
    count_statements(application.engine)
    instrument(application.engine)
    config = application.settings
    schema = build_schema(introspection=config.explorer_enabled, limits=config.query_limits(), conceal=conceal)

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        await wait_for_database(application.engine, timeout_seconds=config.db_startup_timeout_seconds)
        await background.start(application)  # the embedder loads; without Redis, the job worker runs
        yield
        await background.stop(application)
        await application.close()

    return asgi_app(application, schema, lifespan=lifespan)
