"""The per-process vector index: every indexed market's vector in one numpy matrix, scored by
cosine similarity. It is loaded once, then refreshed incrementally: only the entries indexed
since the last refresh are read (tombstones of deleted markets included), at most every
`refresh_seconds`, so a market indexed by another instance shows up within about that long."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

from domain.entities import MarketStatus
from domain.ports import Clock, IndexEntry, Vectors

STATUS_CODES = {status: code for code, status in enumerate(MarketStatus)}
# Entries are read back from this long before the previous refresh began: a writer's
# transaction commits after it stamped `indexed_at`, and instances' clocks differ a little.
OVERLAP = timedelta(seconds=10)
CHUNK = 5_000
INITIAL_CAPACITY = 1_024

EntryLoader = Callable[[datetime | None, int, int], Awaitable[list[IndexEntry]]]


class VectorMatrix:
    """Unit vectors keyed by market id, with their status; removal swaps in the last one.

    Stored one dimension per row (dimension × markets): a sparse query (the lexical embedder's
    have about a tenth of their dimensions set) then reads only the rows of its nonzero
    dimensions, a tenth of the matrix; a dense one reads it all, as it would either way.
    """

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self.size = 0
        self._ids: NDArray[np.int64] = np.zeros(INITIAL_CAPACITY, dtype=np.int64)
        self._statuses: NDArray[np.int8] = np.zeros(INITIAL_CAPACITY, dtype=np.int8)
        self._vectors: Vectors = np.zeros((dimension, INITIAL_CAPACITY), dtype=np.float32)
        self._rows: dict[int, int] = {}

    def __contains__(self, market_id: int) -> bool:
        return market_id in self._rows

    def upsert(self, market_id: int, vector: Vectors, status: MarketStatus) -> None:
        row = self._rows.get(market_id)
        if row is None:
            row = self._append(market_id)
        self._vectors[:, row] = vector
        self._statuses[row] = STATUS_CODES[status]

    def remove(self, market_id: int) -> None:
        row = self._rows.pop(market_id, None)
        if row is None:
            return
        last = self.size - 1
        if row != last:
            moved = int(self._ids[last])
            self._ids[row], self._statuses[row] = moved, self._statuses[last]
            self._vectors[:, row] = self._vectors[:, last]
            self._rows[moved] = row
        self.size = last

    def nearest(self, query: Vectors, *, status: MarketStatus | None, limit: int) -> list[tuple[int, float]]:
        """The `limit` best rows (of `status`, if given): market ids with scores clipped to [0, 1]."""
        if self.size == 0 or limit <= 0:
            return []
        scores = self._scores(query)
        if status is not None:
            scores = np.where(self._statuses[: self.size] == STATUS_CODES[status], scores, -np.inf)
        count = min(limit, self.size)
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(int(self._ids[i]), float(np.clip(scores[i], 0.0, 1.0))) for i in best if np.isfinite(scores[i])]

    def _scores(self, query: Vectors) -> Vectors:
        """Cosine similarity of the query with every vector (all are unit length)."""
        nonzero = np.flatnonzero(query)
        if len(nonzero) < self.dimension // 2:
            return query[nonzero] @ self._vectors[nonzero, : self.size]
        return query @ self._vectors[:, : self.size]

    def _append(self, market_id: int) -> int:
        if self.size == len(self._ids):
            self._grow()
        row, self.size = self.size, self.size + 1
        self._ids[row] = market_id
        self._rows[market_id] = row
        return row

    def _grow(self) -> None:
        capacity = 2 * len(self._ids)
        self._ids = np.resize(self._ids, capacity)
        self._statuses = np.resize(self._statuses, capacity)
        vectors = np.zeros((self.dimension, capacity), dtype=np.float32)
        vectors[:, : self.size] = self._vectors[:, : self.size]
        self._vectors = vectors


class SimilarityIndex:
    """The domain's `VectorIndex`: a matrix of one embedder's vectors, kept fresh from the database.

    Entries of another embedder (during a re-index to a new model) are left out: their vectors
    live in another space. Scoring runs on the event loop: for 10,000 markets it takes about a
    millisecond, and no refresh can interleave with it.
    """

    def __init__(
        self, load: EntryLoader, *, embedder: str, dimension: int, clock: Clock, refresh_seconds: float
    ) -> None:
        self._load = load
        self._embedder, self._dimension = embedder, dimension
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._lock = asyncio.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget everything; the next search loads the whole index again."""
        self.matrix = VectorMatrix(self._dimension)
        self._since: datetime | None = None
        self._refreshed: float | None = None

    @property
    def size(self) -> int:
        return self.matrix.size

    async def nearest(self, vector: Vectors, *, status: MarketStatus | None, limit: int) -> list[tuple[int, float]]:
        await self.refresh(force=False)
        return self.matrix.nearest(vector, status=status, limit=limit)

    async def refresh(self, *, force: bool = True) -> int:
        """Read the entries changed since the last refresh (all, the first time); how many."""
        if not force and not self._due():
            return 0
        async with self._lock:  # concurrent searches share one refresh
            if not force and not self._due():
                return 0
            started = self._clock()
            changed = await self._read_changes(None if self._since is None else self._since - OVERLAP)
            self._since, self._refreshed = started, time.monotonic()
            return changed

    def _due(self) -> bool:
        return self._refreshed is None or time.monotonic() - self._refreshed >= self._refresh_seconds

    async def _read_changes(self, since: datetime | None) -> int:
        after, count = 0, 0
        while True:
            entries = await self._load(since, after, CHUNK)
            self.apply(entries)
            count += len(entries)
            if len(entries) < CHUNK:
                return count
            after = entries[-1].market_id

    def apply(self, entries: Sequence[IndexEntry]) -> None:
        for entry in entries:
            same_space = (entry.embedder, entry.dimension) == (self._embedder, self._dimension)
            if same_space and entry.status is not None and entry.vector is not None:
                self.matrix.upsert(entry.market_id, entry.vector, entry.status)
            else:
                self.matrix.remove(entry.market_id)
