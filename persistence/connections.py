"""A fixed number of asyncpg connections, each lent for one statement at a time: the read views' pool.

asyncpg's Pool is made for connections held across many statements (transactions, listeners, session
settings): each acquire builds a proxy and a future, each release runs a reset and a shielded task under a
timeout. The read views (persistence/views.py) hold a connection for exactly one statement and change no
session state, so lending one is popping it from a list and giving it back is pushing it (or handing it to
the longest waiter): the pool's machinery was a tenth of `market(id)`'s CPU (cProfile, in-process).

Connections open on first need, up to `size`, and stay open. Every statement runs on its own (autocommit:
no transaction is ever left open), so a connection comes back usable whatever its statement did: after an
error; or cancelled in the middle of it (the request gone), when asyncpg has already asked the server to
cancel the statement and makes the connection's next statement wait for that (its protocol awaits the
cancellation before any new command, as its own Pool does before reuse), so the server's work stops too.
A connection found closed (the server restarted, the network gone) is dropped, and its place is given to
a waiter, which opens a new one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

import asyncpg


class ConnectionLender:
    """Up to `size` connections to `dsn`, lent one statement at a time (connect options in `options`)."""

    def __init__(self, dsn: str, *, size: int, **options: Any) -> None:
        self._dsn = dsn
        self._size = size
        self._options = options
        self._idle: list[asyncpg.Connection] = []
        # Each waiter gets a connection, or None: a place freed by a closed connection, to open one in.
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._places_taken = 0  # connections open, opening, or lent
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._places_taken

    async def fetch(self, query: str, params: Sequence[Any]) -> list[asyncpg.Record]:
        """The rows of one statement, on a lent connection."""
        connection = await self._borrow()
        try:
            rows: list[asyncpg.Record] = await connection.fetch(query, *params)
        finally:
            self._give_back(connection)
        return rows

    async def close(self) -> None:
        """Close the idle connections; lent ones close as they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            self._places_taken -= 1
            await connection.close()

    async def _borrow(self) -> asyncpg.Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.is_closed():
                return connection
            self._places_taken -= 1
        if self._places_taken < self._size:
            self._places_taken += 1
            return await self._connect()
        waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            given = await waiter
        except asyncio.CancelledError:
            # Handed a connection (or a place) just as this request was cancelled: pass it on.
            if waiter.done() and not waiter.cancelled():
                self._pass_on(waiter.result())
            raise
        return given if given is not None else await self._connect()

    async def _connect(self) -> asyncpg.Connection:
        """A new connection in a place already taken; the place is freed if it cannot be opened."""
        try:
            connection: asyncpg.Connection = await asyncpg.connect(self._dsn, **self._options)
        except BaseException:
            self._free_place()
            raise
        return connection

    def _pass_on(self, given: asyncpg.Connection | None) -> None:
        if given is None:
            self._free_place()
        else:
            self._give_back(given)

    def _give_back(self, connection: asyncpg.Connection) -> None:
        if self._closed or connection.is_closed():
            self._discard(connection)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _discard(self, connection: asyncpg.Connection) -> None:
        """Drop a connection (closed already, or the lender is), and free its place."""
        connection.terminate()
        self._free_place()

    def _free_place(self) -> None:
        """A place is free: the longest waiter takes it (to open a connection of its own), or it stays free."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._places_taken -= 1
