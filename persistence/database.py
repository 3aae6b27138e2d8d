"""The engine (one pool per process) and a lazily opened, one-statement-at-a-time session.

A connection interrupted in the middle of a statement (a cancelled task: graphql-core cancels a
field's siblings when it fails; a timeout; a stopping worker) is in a state nobody knows: the
driver may have sent a BEGIN whose answer it never recorded, or still wait for a cancelled
statement. Such a connection must never serve anyone again. Two guards: the session discards
(invalidates) its connection whenever an operation on it ends other than cleanly, shielded from
the cancellation; and the pool itself refuses, on check-in and on check-out, a connection still
inside a transaction or still cancelling a statement, whoever held it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, ManagesConnection
from sqlalchemy.sql import Executable

log = logging.getLogger("markets.database")
T = TypeVar("T")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, reserved: int = 0) -> AsyncEngine:
    """Build the process's engine, tuned per dialect; `reserved` of its 2 × pool_size PostgreSQL
    connections are left to the read views' own pool (persistence.views)."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(
            url,
            echo=echo,
            # As many connections as before (pool_size plus as many overflow), all kept once
            # opened: an overflow connection is closed whenever it comes back to a full pool, so
            # under load the pool opened and closed dozens per second, each new one paying a
            # connection, authentication and asyncpg's type introspection.
            pool_size=max(1, 2 * pool_size - reserved),
            max_overflow=0,
            pool_recycle=1800,
            # JIT planning costs more than it saves on these small indexed queries.
            connect_args={"server_settings": {"jit": "off"}},
        )
    guard_pool(engine)
    return engine


def guard_pool(engine: AsyncEngine) -> None:
    """Never keep or hand out a connection left inside a transaction or mid-statement.

    The pool rolls a connection back when it comes back; a rollback cannot end a transaction
    the driver does not know it opened (a BEGIN cancelled while it ran), so the server would
    keep that backend "idle in transaction" and the next request would fail on it. Checked
    without a round trip, from the driver's own record of the server's last answer.
    """
    event.listen(engine.sync_engine, "checkin", _discard_if_unclean)
    event.listen(engine.sync_engine, "checkout", _refuse_if_unclean)


def _discard_if_unclean(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    reason = unclean(record) if dbapi_connection is not None else None
    if reason is not None:
        log.warning("discarding a pooled connection returned %s", reason)
        record.invalidate()


def _refuse_if_unclean(_dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
    reason = unclean(record)
    if reason is not None:
        # The pool discards it and checks out another (SQLAlchemy's "pessimistic" protocol).
        raise DisconnectionError(f"pooled connection {reason}")


def unclean(record: ManagesConnection) -> str | None:
    """Why a pooled connection (between two users of it) may not be used, or None when it may."""
    driver = record.driver_connection
    if driver is None:
        return None
    if hasattr(driver, "is_in_transaction"):  # asyncpg
        return _asyncpg_unclean(driver)
    try:
        in_transaction = bool(driver.in_transaction)  # aiosqlite
    except ValueError:  # closed
        return "closed"
    return "inside a transaction" if in_transaction else None


def _asyncpg_unclean(driver: Any) -> str | None:
    if driver.is_closed():
        return "closed"
    if driver.is_in_transaction():
        return "inside a transaction"
    # asyncpg's own bookkeeping (private, hence looked up with care): a transaction object a
    # cancelled BEGIN left behind, or a cancelled statement the server has not acknowledged yet.
    if getattr(driver, "_top_xact", None) is not None:
        return "with a transaction block still open"
    cancelling = getattr(getattr(driver, "_protocol", None), "_is_cancelling", None)
    if cancelling is not None and cancelling():
        return "while a cancelled statement still runs"
    return None


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




class SessionClosed(RuntimeError):
    """A statement for a session already closed: a late task of a request that has ended."""


class TransactionLost(RuntimeError):
    """A commit after the transaction's connection was discarded mid-way: its first part is gone."""


async def completed(awaitable: Awaitable[T]) -> T:
    """Await to the end even if the caller is cancelled meanwhile; the cancellation is re-raised
    after. Cleanup (giving a connection back, discarding it) must never stop half-way."""
    task = asyncio.ensure_future(awaitable)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError as error:
            if task.done():
                raise
            cancelled = error
    if cancelled is not None:
        raise cancelled
    return result


def left_clean(error: BaseException) -> bool:
    """Whether a connection is in a known state after an operation on it raised `error`: an
    error the server reported (the transaction is aborted; a rollback ends it). Anything else (a
    cancellation, a driver-side error, a dropped connection) leaves a state nobody can vouch for."""
    return isinstance(error, DBAPIError) and not error.connection_invalidated and not isinstance(error, InterfaceError)


async def discard(connection: AsyncConnection) -> None:
    """Invalidate a connection: the pool closes it and never hands it out again."""
    try:
        await connection.invalidate()
    except Exception as error:  # noqa: BLE001 - already closed or dead: gone either way
        log.debug("discarding a connection: %r", error)


class Session:
    """A connection taken from the pool on first use; statements on it run one at a time.

    Dataloaders of one request may fire together; a connection runs one statement at once,
    so the lock queues them instead of failing. Their batches run in tasks of their own, which
    may outlive the field that asked (graphql-core cancels the siblings of a failed field, not
    the batches they wait on): `close` waits for the statement in flight, and the session then
    refuses any later one rather than take a connection nobody would give back.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self._pending = False  # statements since the last commit or rollback
        # Transactions lost with their connection; a unit of work that saw one must not commit.
        self.losses = 0

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        async with self._lock:
            if self._closed:
                raise SessionClosed("the session is closed")
            if self._connection is not None:
                return await self._guarded(self._connection.execute, statement, params)
            self._connection = await self._engine.connect()
            try:
                return await self._guarded(self._connection.execute, statement, params)
            except DBAPIError as error:
                # A pooled connection the server dropped fails its first statement, which therefore did nothing:
                # run it once more on a new connection (a ping for free).
                if not error.connection_invalidated:
                    raise
                self._connection = await self._engine.connect()
                return await self._guarded(self._connection.execute, statement, params)

    async def commit(self) -> None:
        async with self._lock:
            if self._connection is not None:
                await self._guarded(self._connection.commit)
                self._pending = False

    async def rollback(self) -> None:
        """Roll back; a connection that died meanwhile is simply given up (nothing to undo)."""
        async with self._lock:
            if self._connection is None:
                return
            # A failed rollback leaves nothing to undo; _guarded discarded the connection if it matters.
            with contextlib.suppress(DBAPIError):
                await self._guarded(self._connection.rollback)
            self._pending = False

    async def release(self) -> None:
        """Give the connection back (once the statement in flight ends); the next statement takes another."""
        await self._give_back(final=False)

    async def close(self) -> None:
        """Roll back whatever was not committed, give the connection back, refuse later statements.

        Never raises but for the caller's own cancellation, and then only once the connection is
        given back or discarded: a request that has answered must not turn into a 500 here.
        """
        await self._give_back(final=True)

    async def _give_back(self, *, final: bool) -> None:
        self._closed = self._closed or final  # statements queued behind the lock see it at once
        try:
            await self._lock.acquire()
        except asyncio.CancelledError:
            # Cancelled while a late statement runs: take the connection from under it.
            await completed(self._drop())
            raise
        try:
            if self._connection is not None:
                await completed(self._return())
        finally:
            self._lock.release()

    async def _return(self) -> None:
        connection, self._connection = self._connection, None
        self._pending = False
        if connection is None:
            return
        try:
            await connection.close()
        except Exception as error:  # noqa: BLE001 - a connection that cannot be rolled back is discarded
            log.warning("discarding a connection that failed to close: %r", error)
            await discard(connection)

    async def _guarded(self, operation: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run an operation on the connection; if it ends other than cleanly, discard the connection."""
        connection = self._connection
        try:
            result = await operation(*args)
        except BaseException as error:
            if connection is self._connection and not left_clean(error):
                await completed(self._drop())
            raise
        self._pending = True
        return result

    async def _drop(self) -> None:
        """Give up the connection: closed by the pool, whatever state it is in."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self._pending:
            self.losses += 1
        self._pending = False
        await discard(connection)


async def ping(engine: AsyncEngine) -> None:
    """`SELECT 1` on a connection of its own: whether the database answers (start-up, /readyz)."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
