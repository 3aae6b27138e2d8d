"""SIGTERM drains: a request in flight when the server is told to stop still gets its answer."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from graph import ids
from tests.conftest import Api
from tests.live import LiveServer, serving

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def server(test_database_url: str) -> Iterator[LiveServer]:
    with serving(test_database_url) as running:
        yield running


async def wait_for_lock_waiter(connection: object, *, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = await connection.execute(text(  # type: ignore[attr-defined]
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        ))
        if waiting.scalar_one():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never reached the lock")


async def test_sigterm_lets_the_request_in_flight_finish(
    api: Api, server: LiveServer, test_database_url: str
) -> None:
    process, url = server.process, server.url
    owner = await api.make_user()
    market = await api.make_market(owner)
    engine = create_async_engine(test_database_url, poolclass=NullPool)
    async with engine.connect() as blocker, engine.connect() as watcher, httpx.AsyncClient(timeout=30) as client:
        await blocker.execute(text("SELECT id FROM markets WHERE id = :id FOR UPDATE"),
                              {"id": ids.decode(market["id"], "Market")})
        in_flight = asyncio.create_task(client.post(
            url + "/graphql", headers={"Authorization": f"Bearer {owner.token}"},
            json={"query": 'mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: YES, amount: "9"}) '
                           "{ amount } }", "variables": {"id": market["id"]}},
        ))
        await wait_for_lock_waiter(watcher)
        process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.5)
        assert process.poll() is None, "the server quit with a request in flight"
        await blocker.rollback()  # the lock goes; the request can finish
        response = await in_flight
    await engine.dispose()
    assert response.status_code == 200
    assert response.json() == {"data": {"openPosition": {"amount": "9.00"}}}
    # uvicorn finishes its graceful shutdown, then re-raises the signal it was sent.
    assert process.wait(timeout=15) in (0, -signal.SIGTERM)
