"""The pool keeps the connections it opened (issue 10): no opening and closing under load.

With `pool_size` plus as many overflow connections, every connection past the pool's size was
closed as soon as it came back, so 16 clients made the server open about 17 connections a second,
each paying the connection, authentication and asyncpg's type introspection. The same bound now
holds as one pool whose connections all stay.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from persistence.database import make_engine


@pytest.mark.postgres_only
async def test_connections_opened_under_load_stay_in_the_pool(test_database_url: str) -> None:
    engine = make_engine(test_database_url, pool_size=2)
    holding = asyncio.Event()
    try:
        async def hold() -> int:
            async with engine.connect() as connection:
                backend = int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())
                await holding.wait()
                return backend

        tasks = [asyncio.create_task(hold()) for _ in range(4)]
        while engine.pool.checkedout() < 4:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        holding.set()
        first = set(await asyncio.gather(*tasks))
        # All four came back and stayed: the next four requests reuse the same backends.
        assert engine.pool.checkedin() == 4  # type: ignore[attr-defined]
        holding.clear()
        tasks = [asyncio.create_task(hold()) for _ in range(4)]
        while engine.pool.checkedout() < 4:  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        holding.set()
        assert set(await asyncio.gather(*tasks)) == first
    finally:
        await engine.dispose()


def test_the_bound_is_unchanged_twice_the_setting() -> None:
    engine = make_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/unused", pool_size=3)
    assert engine.pool.size() == 6  # type: ignore[attr-defined]
    assert engine.pool._max_overflow == 0  # type: ignore[attr-defined]
