"""SIGTERM drains: a request in flight when the server is told to stop still gets its answer."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from graph import ids
from tests.conftest import TEST_SECRET, Api
from tests.redis_server import free_port

pytestmark = pytest.mark.postgres_only
MARKETS = str(Path(sys.executable).with_name("markets"))


@pytest.fixture
def server(test_database_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": test_database_url, "JWT_SECRET": TEST_SECRET, "RATE_LIMIT_PER_MINUTE": "0",
        "AUTH_RATE_LIMIT_PER_MINUTE": "0", "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    process = subprocess.Popen([MARKETS, "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield process, url
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


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
    api: Api, server: tuple[subprocess.Popen[bytes], str], test_database_url: str
) -> None:
    process, url = server
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
