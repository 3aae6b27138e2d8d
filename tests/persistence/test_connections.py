"""persistence.connections.ConnectionLender against a real PostgreSQL: never more than its size, a connection
usable again after an error or a cancelled statement (whose work the server stops), a closed one replaced,
waiters served whatever happens to the connections."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from persistence.connections import ConnectionLender
from persistence.views import asyncpg_dsn

pytestmark = pytest.mark.postgres_only

BACKENDS = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"


@pytest.fixture
async def dsn(test_database_url: str) -> str:
    return asyncpg_dsn(test_database_url)


@pytest.fixture
async def lender(dsn: str) -> AsyncIterator[ConnectionLender]:
    # Its connections named for this test alone: PostgreSQL may still list another test's closed ones.
    lent = ConnectionLender(dsn, size=3, server_settings={"application_name": f"lender-{uuid.uuid4().hex[:12]}"})
    yield lent
    await lent.close()


async def backends(dsn: str, lender: ConnectionLender, expected: int) -> int:
    """Connections the lender holds, as PostgreSQL sees them (asked on a connection of its own), once they are
    `expected` or after a second (a terminated backend takes a moment to leave the list)."""
    name = lender._options["server_settings"]["application_name"]
    connection = await asyncpg.connect(dsn)
    try:
        for _ in range(20):
            count = int(await connection.fetchval(BACKENDS, name))
            if count == expected:
                break
            await asyncio.sleep(0.05)
        return count
    finally:
        await connection.close()


async def sleeping_backends(dsn: str, pid: int) -> int:
    """Whether backend `pid` still runs its pg_sleep, once it does not or after a second."""
    connection = await asyncpg.connect(dsn)
    try:
        for _ in range(20):
            count = int(await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active'", pid
            ))
            if not count:
                break
            await asyncio.sleep(0.05)
        return count
    finally:
        await connection.close()


async def value(lender: ConnectionLender, sql: str = "SELECT 1", *params: object) -> object:
    return (await lender.fetch(sql, params))[0][0]


async def test_many_statements_at_once_share_at_most_size_connections(lender: ConnectionLender, dsn: str) -> None:
    results = await asyncio.gather(*(value(lender, "SELECT $1::int FROM (SELECT pg_sleep(0.01)) AS s", n)
                                     for n in range(30)))
    assert results == list(range(30))
    assert lender.open_connections == 3
    assert await backends(dsn, lender, 3) == 3
    await asyncio.gather(*(value(lender) for _ in range(10)))
    assert await backends(dsn, lender, 3) == 3  # kept open, not reopened


async def test_after_a_failed_statement_its_connection_serves_the_next(lender: ConnectionLender, dsn: str) -> None:
    pid = await value(lender, "SELECT pg_backend_pid()")
    with pytest.raises(asyncpg.PostgresSyntaxError):
        await value(lender, "SELEC 1")
    assert await value(lender, "SELECT pg_backend_pid()") == pid
    assert lender.open_connections == 1


async def test_a_statement_cancelled_midway_is_stopped_on_the_server_too(lender: ConnectionLender, dsn: str) -> None:
    pid = await value(lender, "SELECT pg_backend_pid()")
    sleeping = asyncio.create_task(value(lender, "SELECT pg_sleep(30)"))
    await asyncio.sleep(0.3)
    sleeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeping
    assert await sleeping_backends(dsn, pid) == 0  # the server stopped it (else it sleeps on for 30 s)
    assert await value(lender, "SELECT pg_backend_pid()") == pid  # and the connection serves again
    assert await backends(dsn, lender, 1) == 1


async def test_waiters_are_served_whatever_happens_to_the_connection_they_wait_for(dsn: str) -> None:
    lender = ConnectionLender(dsn, size=1)
    try:
        failing = asyncio.create_task(value(lender, "SELECT pg_sleep(0.2), 1/0"))
        await asyncio.sleep(0.05)
        waiting = [asyncio.create_task(value(lender, "SELECT $1::int", n)) for n in range(5)]
        with pytest.raises(asyncpg.DivisionByZeroError):
            await failing
        assert await asyncio.gather(*waiting) == list(range(5))
        assert lender.open_connections == 1
        # The server closes the one connection while others wait for it: a waiter opens a new one.
        holder = asyncio.create_task(value(lender, "SELECT pg_terminate_backend(pg_backend_pid())"))
        waiting = [asyncio.create_task(value(lender, "SELECT $1::int", n)) for n in range(3)]
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await holder
        assert await asyncio.gather(*waiting) == list(range(3))
        assert lender.open_connections == 1
    finally:
        await lender.close()


async def test_a_waiter_cancelled_as_it_is_served_passes_the_connection_on(dsn: str) -> None:
    lender = ConnectionLender(dsn, size=1)
    try:
        holder = asyncio.create_task(value(lender, "SELECT pg_sleep(0.2)"))
        await asyncio.sleep(0.05)
        cancelled = asyncio.create_task(value(lender))
        served = asyncio.create_task(value(lender, "SELECT 3"))
        await asyncio.sleep(0.05)
        await holder  # gives its connection to `cancelled`, which is cancelled before it runs
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert await served == 3
        assert lender.open_connections == 1
    finally:
        await lender.close()


async def test_a_connection_the_server_closed_is_replaced(lender: ConnectionLender, dsn: str) -> None:
    pid = await value(lender, "SELECT pg_backend_pid()")
    killer = await asyncpg.connect(dsn)
    try:
        await killer.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await killer.close()
    await asyncio.sleep(0.2)
    assert await value(lender, "SELECT pg_backend_pid()") != pid
    assert lender.open_connections == 1


async def test_close_closes_the_idle_connections(lender: ConnectionLender, dsn: str) -> None:
    await asyncio.gather(*(value(lender, "SELECT pg_sleep(0.05)") for _ in range(3)))
    assert await backends(dsn, lender, 3) == 3
    await lender.close()
    assert lender.open_connections == 0
    assert await backends(dsn, lender, 0) == 0
