"""The search services, built together: the embedder (for indexing), the same embedder behind a cache of
query vectors (for searches), and this process's vector index, kept fresh from the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from domain.ports import Clock, IndexEntry, UnitOfWork
from markets.search.embedders import QueryCache, ThreadedEmbedder, make_embedder
from markets.search.index import SimilarityIndex
from markets.settings import Settings


@dataclass(frozen=True, slots=True)
class SearchServices:
    embedder: ThreadedEmbedder  # for indexing: batches, no cache
    queries: QueryCache  # for searches: the same embedder behind an LRU of query vectors
    index: SimilarityIndex


def build_search(settings: Settings, *, unit_of_work: Callable[[], UnitOfWork], clock: Clock) -> SearchServices:
    """The embedder SEARCH_EMBEDDER names and an index that reads its entries through `unit_of_work`."""
    embedder = make_embedder(settings.embedder, threads=settings.embedder_threads or 1)
    index = SimilarityIndex(
        partial(read_entries, unit_of_work), embedder=embedder.name, dimension=embedder.dimension,
        clock=clock, refresh_seconds=settings.search_refresh_seconds,
    )
    return SearchServices(embedder=embedder, queries=QueryCache(embedder), index=index)


async def read_entries(
    unit_of_work: Callable[[], UnitOfWork], since: datetime | None, after_id: int, limit: int
) -> list[IndexEntry]:
    """Index entries changed since `since`, on a connection of their own (not the request's)."""
    async with unit_of_work() as uow:
        return await uow.embeddings.changed_since(since, after_id=after_id, limit=limit)
