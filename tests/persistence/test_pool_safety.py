"""A connection interrupted mid-statement never serves anyone again (issue 8, finding 1).

graphql-core cancels the siblings of a field that fails; a cancelled statement, or a BEGIN whose
answer the driver never recorded, used to go back to the pool: the next requests failed on it
(500, then 503 and /readyz "down" until a restart) and a backend sat "idle in transaction".
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from domain.roles import Role
from persistence.database import Session, TransactionLost, guard_pool, make_engine, unclean
from persistence.unit_of_work import SqlUnitOfWork
from tests.conftest import Api
from tests.live import WAIT_SECONDS, serving

IDLE_IN_TRANSACTION = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'"
)
# A sibling of the failing field is cancelled while its statements run.
POISON = "query($id: ID!) { user(id: $id) { markets(first: 4537) { totalCount } m: markets(first: 5) { totalCount } } }"
ORDINARY = "{ markets(first: 5) { totalCount edges { node { name creator { name } } } } }"


def on_postgres() -> bool:
    return os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


async def scalar(url: str, sql: str) -> int:
    """One value, asked on a connection of its own (outside every pool under test)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text(sql))).scalar_one())
    finally:
        await engine.dispose()


async def test_a_request_whose_field_fails_leaves_the_pool_clean(api: Api, test_database_url: str) -> None:
    owner = await api.make_user(Role.USER)
    for number in range(3):
        await api.make_market(owner, name=f"Market number {number}")
    # A small pool: a poisoned connection would be handed out again at once.
    with serving(test_database_url, DB_POOL_SIZE="2") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_SECONDS) as http:
            poisoned = await asyncio.gather(*[
                http.post("/graphql", json={"query": POISON, "variables": {"id": owner.id}}) for _ in range(20)
            ])
            for response in poisoned:
                assert response.status_code == 200, response.text
                body = response.json()
                assert body["data"] == {"user": None}
                assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
                    (["user", "markets"], "BAD_USER_INPUT")
                ]
            ordinary = await asyncio.gather(*[http.post("/graphql", json={"query": ORDINARY}) for _ in range(50)])
            for response in ordinary:
                assert response.status_code == 200, response.text
                assert "errors" not in response.json(), response.text
                assert response.json()["data"]["markets"]["totalCount"] == 3
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            if on_postgres():
                assert await scalar(test_database_url, IDLE_IN_TRANSACTION) == 0
        log = server.log.read_text()
    assert "Traceback" not in log and "manually started transaction" not in log, log


@pytest.fixture
async def one_connection(test_database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool holds exactly one connection: what one user leaves, the next one gets."""
    engine = create_async_engine(test_database_url, pool_size=1, max_overflow=0)
    guard_pool(engine)
    yield engine
    await engine.dispose()


async def until_running(url: str, fragment: str) -> None:
    """Wait (bounded) until a statement containing `fragment` runs on the server."""
    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
        f"AND query LIKE '%{fragment}%' AND pid <> pg_backend_pid()"
    )

    async def poll() -> None:
        while not await scalar(url, sql):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), WAIT_SECONDS)


async def cancel_mid_statement(url: str, work: asyncio.Task[object]) -> None:
    await until_running(url, "pg_sleep")
    work.cancel()
    with pytest.raises(asyncio.CancelledError):
        await work


async def assert_serves_cleanly(engine: AsyncEngine, url: str) -> None:
    """The pool's connection works in a transaction of its own, and no backend is left in one."""
    for _ in range(3):
        async with engine.begin() as connection:
            assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1
    assert await scalar(url, IDLE_IN_TRANSACTION) == 0


@pytest.mark.postgres_only
async def test_a_session_cancelled_mid_statement_discards_its_connection(
    one_connection: AsyncEngine, test_database_url: str
) -> None:
    session = Session(one_connection)
    await session.execute(text("SELECT 1"))  # the transaction has begun on the one connection
    work = asyncio.create_task(session.execute(text("SELECT pg_sleep(1)")))
    await cancel_mid_statement(test_database_url, work)
    await session.close()
    await assert_serves_cleanly(one_connection, test_database_url)


@pytest.mark.postgres_only
async def test_a_plain_connection_cancelled_mid_statement_is_not_handed_out_broken(
    one_connection: AsyncEngine, test_database_url: str
) -> None:
    async def sleep() -> None:
        async with one_connection.connect() as connection:  # as /readyz does, under a timeout
            await connection.execute(text("SELECT pg_sleep(1)"))

    await cancel_mid_statement(test_database_url, asyncio.create_task(sleep()))
    await assert_serves_cleanly(one_connection, test_database_url)


async def begin_behind_the_drivers_back(connection: AsyncConnection) -> None:
    """What a cancelled BEGIN leaves: the server in a transaction SQLAlchemy's adapter never recorded."""
    raw = await connection.get_raw_connection()
    await raw.driver_connection.execute("BEGIN")  # type: ignore[union-attr]


@pytest.mark.postgres_only
async def test_a_connection_left_in_a_transaction_is_discarded_when_it_comes_back(
    one_connection: AsyncEngine, test_database_url: str
) -> None:
    async with one_connection.connect() as connection:
        await begin_behind_the_drivers_back(connection)
    await assert_serves_cleanly(one_connection, test_database_url)


@pytest.mark.postgres_only
async def test_without_the_guard_that_connection_poisons_the_pool(test_database_url: str) -> None:
    """The failure the guard prevents, shown on an unguarded pool (so the guard's test can fail)."""
    engine = create_async_engine(test_database_url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as connection:
            await begin_behind_the_drivers_back(connection)
        assert await scalar(test_database_url, IDLE_IN_TRANSACTION) == 1
        with pytest.raises(Exception, match="manually started transaction"):
            async with engine.begin() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


@pytest.mark.postgres_only
async def test_a_transaction_that_lost_its_connection_does_not_commit_its_rest(
    api: Api, test_database_url: str
) -> None:
    engine = make_engine(test_database_url, pool_size=1)
    try:
        session = Session(engine)
        uow = SqlUnitOfWork(session)
        async with uow:
            await session.execute(text("INSERT INTO users (email, name, password_hash, role, created_at, balance) "
                                       "VALUES ('first@example.com', 'First', 'x', 'USER', now(), 0)"))
            work = asyncio.create_task(session.execute(text("SELECT pg_sleep(1)")))
            await cancel_mid_statement(test_database_url, work)
            await session.execute(text("INSERT INTO users (email, name, password_hash, role, created_at, balance) "
                                       "VALUES ('second@example.com', 'Second', 'x', 'USER', now(), 0)"))
            with pytest.raises(TransactionLost):
                await uow.commit()
        await session.close()
    finally:
        await engine.dispose()
    assert await scalar(test_database_url, "SELECT count(*) FROM users") == 0


@pytest.mark.postgres_only
async def test_a_job_cut_off_mid_statement_gives_back_nothing_broken(
    one_connection: AsyncEngine, test_database_url: str
) -> None:
    """A job's unit of work (its own session) cancelled mid-statement, as its timeout or a stopping worker does."""

    async def job() -> None:
        async with SqlUnitOfWork.standalone(one_connection) as uow:
            await uow.session.execute(text("SELECT pg_sleep(1)"))
            await uow.commit()

    await cancel_mid_statement(test_database_url, asyncio.create_task(job()))
    await assert_serves_cleanly(one_connection, test_database_url)


@pytest.mark.postgres_only
async def test_the_pool_tells_a_clean_connection_from_one_left_in_a_transaction(one_connection: AsyncEngine) -> None:
    """What both guards ask (on check-in, and on check-out should one slip past check-in)."""
    async with one_connection.connect() as connection:
        raw = await connection.get_raw_connection()
        assert unclean(raw) is None
        await raw.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
        assert unclean(raw) == "inside a transaction"
        await raw.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]
        assert unclean(raw) is None
        await raw.driver_connection.close()  # type: ignore[union-attr]
        assert unclean(raw) == "closed"
