"""The server rides out a database that drops connections, and waits for one at start-up."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from markets.asgi import create_app
from markets.bootstrap import bootstrap
from tests.conftest import Api, test_settings

pytestmark = pytest.mark.postgres_only

OPEN = 'mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: YES, amount: "5"}) { amount } }'


async def kill_other_connections(url: str) -> int:
    """Terminate, server side, every connection to this database but the one asking (not pooled)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            killed = await connection.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))
            return int(killed.scalar_one())
    finally:
        await engine.dispose()


async def test_requests_survive_the_database_dropping_pooled_connections(api: Api, test_database_url: str) -> None:
    owner = await api.make_user()
    market = await api.make_market(owner)
    await api.data("{ markets(first: 1) { totalCount } }")  # the pool now holds live connections
    assert await kill_other_connections(test_database_url) >= 1
    assert (await api.data(OPEN, {"id": market["id"]}, token=owner.token))["openPosition"]["amount"] == "5.00"
    assert (await api.data("{ markets(first: 1) { edges { node { volume } } } }"))["markets"]["edges"][0]["node"][
        "volume"
    ] == "5.00"


async def test_start_up_waits_for_the_database_then_serves(caplog: pytest.LogCaptureFixture) -> None:
    settings = test_settings("postgresql+asyncpg://postgres@127.0.0.1:1/unreachable", db_startup_timeout_seconds=0.3)
    app = create_app(application=bootstrap(settings))
    with caplog.at_level(logging.WARNING, logger="markets.startup"):
        async with app.router.lifespan_context(app):
            pass
    assert any("database not reachable yet" in r.getMessage() for r in caplog.records)
