"""Semantic search: keeping each market's index entry in line with the market, and answering
queries from the vector index. Also the periodic closing of expired markets."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from domain import access, validation
from domain.entities import Market, MarketStatus, User
from domain.errors import NotFound
from domain.events import MarketWrites
from domain.pagination import MarketFilter
from domain.ports import (
    Clock,
    Embedder,
    Embedding,
    EmbeddingRepository,
    IndexEntry,
    JobQueue,
    MarketRepository,
    UnitOfWork,
    VectorIndex,
)
from domain.roles import Permission

# Job names, shared by whoever enqueues and whoever runs them.
INDEX_MARKET = "index_market"
CLOSE_EXPIRED_MARKETS = "close_expired_markets"
REINDEX_STALE = "reindex_stale"

# The fields a market's index entry depends on: its text, and its status (for the status filter).
INDEXED_FIELDS = frozenset({"name", "description", "status"})
# A market edited again while its vector was computed is read and encoded once more, this often.
MAX_ENCODINGS = 3
# Candidates fetched beyond `first`, for those the index still lists but the database no longer has.
SLACK = 5
REINDEX_BATCH = 256
# Tombstones outlive their market this long: every process refreshes far more often than that.
TOMBSTONE_AGE = timedelta(days=1)

UnitOfWorkFactory = Callable[[], UnitOfWork]


class IndexOutcome(enum.Enum):
    INDEXED = "indexed"
    STATUS = "status"
    REMOVED = "removed"
    UNCHANGED = "unchanged"


class IndexingRace(Exception):
    """The market changed under every encoding attempt; the job is retried later."""


@dataclass
class ReindexReport:
    indexed: int = 0
    unchanged: int = 0
    removed: int = 0
    purged: int = 0


def document(market: Market) -> str:
    """The text a market is found by: its name first (long descriptions are cut by the model)."""
    return f"{market.name}\n{market.description}".strip()


def content_hash(market: Market) -> str:
    return hashlib.sha256(document(market).encode()).hexdigest()


def is_current(entry: IndexEntry | None, market: Market, embedder: Embedder) -> bool:
    """Whether the entry holds this embedder's vector of the market's present text."""
    return (
        entry is not None and not entry.removed and entry.embedder == embedder.name
        and entry.dimension == embedder.dimension and entry.content_hash == content_hash(market)
    )


def markets_to_index(writes: MarketWrites) -> list[int]:
    """The markets a commit created, deleted, or changed in a field their entry depends on."""
    changed = {market_id for market_id, fields in writes.updated.items() if fields & INDEXED_FIELDS}
    return sorted(writes.created | writes.deleted | changed)


async def embed(embedder: Embedder, markets: list[Market]) -> list[Embedding]:
    vectors = await embedder.encode([document(m) for m in markets])
    return [Embedding(m, embedder.name, vectors[i], content_hash(m)) for i, m in enumerate(markets)]


async def settle_without_encoding(
    embeddings: EmbeddingRepository, market: Market | None, entry: IndexEntry | None, embedder: Embedder,
    *, force: bool, clock: Clock,
) -> IndexOutcome | None:
    """The outcome when no vector need be computed (gone, or only the status changed); None otherwise."""
    if market is None:
        removed = entry is not None and not entry.removed and await embeddings.remove(entry.market_id, now=clock())
        return IndexOutcome.REMOVED if removed else IndexOutcome.UNCHANGED
    if force or not is_current(entry, market, embedder):
        return None
    assert entry is not None
    if entry.status is market.status:
        return IndexOutcome.UNCHANGED
    await embeddings.set_status(market.id, market.status, now=clock())
    return IndexOutcome.STATUS


async def index_market(
    *, unit_of_work: UnitOfWorkFactory, embedder: Embedder, clock: Clock, market_id: int, force: bool = False
) -> IndexOutcome:
    """Bring one market's entry in line with the market; running it twice changes nothing."""
    for _ in range(MAX_ENCODINGS):
        async with unit_of_work() as uow:
            market = (await uow.markets.get_many([market_id])).get(market_id)
            entry = (await uow.embeddings.get_many([market_id])).get(market_id)
            settled = await settle_without_encoding(uow.embeddings, market, entry, embedder, force=force, clock=clock)
            await uow.commit()
        if settled is not None:
            return settled
        assert market is not None
        # Encoded outside any transaction: no connection is held while the model works.
        [embedding] = await embed(embedder, [market])
        async with unit_of_work() as uow:
            stored = await uow.embeddings.store_if_current(embedding, now=clock())
            await uow.commit()
        if stored:
            return IndexOutcome.INDEXED
    raise IndexingRace(f"market {market_id} kept changing while it was indexed")


async def reindex(
    *, unit_of_work: UnitOfWorkFactory, embedder: Embedder, clock: Clock, everything: bool,
    progress: Callable[[int, int], None] = lambda done, total: None, batch_size: int = REINDEX_BATCH,
) -> ReindexReport:
    """Index stale markets (all with `everything`) in batches, tombstone gone ones, purge old tombstones."""
    report, after, done = ReindexReport(), 0, 0
    async with unit_of_work() as uow:
        total = await uow.markets.count(filter=MarketFilter())
    while True:
        async with unit_of_work() as uow:
            rows = await uow.embeddings.markets_with_entries(after_id=after, limit=batch_size)
            if not rows:
                break
            after, done = rows[-1][0].id, done + len(rows)
            await reindex_batch(uow, embedder, rows, everything=everything, report=report, clock=clock)
            await uow.commit()
        progress(done, max(total, done))
    async with unit_of_work() as uow:
        report.removed = await uow.embeddings.remove_orphans(now=clock())
        report.purged = await uow.embeddings.purge_removed(before=clock() - TOMBSTONE_AGE)
        await uow.commit()
    return report


async def reindex_batch(
    uow: UnitOfWork, embedder: Embedder, rows: list[tuple[Market, IndexEntry | None]], *, everything: bool,
    report: ReindexReport, clock: Clock,
) -> None:
    stale = [market for market, entry in rows if everything or not is_current(entry, market, embedder)]
    encoded = {market.id for market in stale}
    for market, entry in rows:
        if market.id not in encoded and entry is not None and entry.status is not market.status:
            await uow.embeddings.set_status(market.id, market.status, now=clock())
    if stale:
        await uow.embeddings.store_many(await embed(embedder, stale), now=clock())
    report.indexed += len(stale)
    report.unchanged += len(rows) - len(stale)


async def search_markets(
    *, embedder: Embedder, index: VectorIndex, markets: MarketRepository, text: str, status: MarketStatus | None,
    limit: int,
) -> list[tuple[Market, float]]:
    """The markets nearest in meaning to `text`, best first, fetched in one batch."""
    query = validation.search_query(text).strip()  # over-long text is never encoded nor cached
    if not query or limit == 0:
        return []
    [vector] = await embedder.encode([query])
    window = limit + SLACK
    while True:
        candidates = await index.nearest(vector, status=status, limit=window)
        found = await markets.get_many([market_id for market_id, _ in candidates])
        hits = [
            (found[market_id], score) for market_id, score in candidates
            if market_id in found and (status is None or found[market_id].status is status)
        ]
        # Short only when the index lags behind deletions or status changes: widen, rarely.
        if len(hits) >= limit or len(candidates) < window:
            return hits[:limit]
        window *= 4


async def request_reindex(*, uow: UnitOfWork, jobs: JobQueue, viewer: User | None, market_id: int | None) -> str:
    """Queue a fresh encoding of one market (after a model change, say; admins only); the job's id."""
    access.require(viewer, Permission.ADMIN)
    async with uow:
        found = (await uow.markets.get_many([market_id])).get(market_id) if market_id is not None else None
    if found is None:
        raise NotFound("No market with this id")
    return await jobs.enqueue(INDEX_MARKET, market_id=found.id, force=True)


async def close_expired_markets(*, uow: UnitOfWork, clock: Clock) -> list[int]:
    """ACTIVE markets whose end date has passed become CLOSED; the ids closed (none on a rerun)."""
    async with uow:
        closed = await uow.markets.close_expired(now=clock())
        await uow.commit()
    return closed
