"""The engine (one pool per process) and a lazily opened, one-statement-at-a-time session."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> AsyncEngine:
    """Build the process's engine, tuned per dialect."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # JIT planning costs more than it saves on these small indexed queries.
        connect_args={"server_settings": {"jit": "off"}},
    )


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite's own lower() folds ASCII only; NAME ordering and nameContains are case-insensitive
    # for every letter ("É" and "é"), as on PostgreSQL. Deterministic, so index expressions may use it.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Session:
    """A connection taken from the pool on first use; statements on it run one at a time.

    Dataloaders of one request may fire together; a connection runs one statement at once,
    so the lock queues them instead of failing.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        async with self._lock:
            if self._connection is not None:
                return await self._connection.execute(statement, params)
            self._connection = await self._engine.connect()
            try:
                return await self._connection.execute(statement, params)
            except DBAPIError as error:
                # A pooled connection the server dropped fails its first statement, which
                # therefore did nothing: run it once more on a new connection (a ping for free).
                if not error.connection_invalidated:
                    raise
                await self._drop()
                self._connection = await self._engine.connect()
                return await self._connection.execute(statement, params)

    async def commit(self) -> None:
        if self._connection is not None:
            await self._connection.commit()

    async def rollback(self) -> None:
        """Roll back; a connection that died meanwhile is simply given up (nothing to undo)."""
        if self._connection is None:
            return
        try:
            await self._connection.rollback()
        except DBAPIError:
            await self._drop()

    async def close(self) -> None:
        """Roll back whatever was not committed and give the connection back (or drop a dead one)."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            await connection.close()
        except DBAPIError:
            await connection.invalidate()

    async def _drop(self) -> None:
        """Give up a connection known to be dead."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.invalidate()
