"""The commit hooks, declared here and nowhere else: what runs after a commit that wrote markets, in order.

A small message bus: the unit of work collects what its transaction wrote (domain.events.MarketWrites), and
persistence.unit_of_work.SqlUnitOfWork.commit hands it to `CommitHooks` only once the COMMIT succeeded —
never for a rolled-back or lost transaction. In order:
1. the market cache forgets the markets written (a read after the write must see it);
2. market events go to this process's subscribers and, through Redis, to the other instances';
3. the markets whose indexed text may have changed are queued for indexing (markets.jobs);
then any listener bootstrap was given (tests). The write is durable already: a listener that fails is
logged, never the client's error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from domain.events import AfterCommit, MarketWrites
from domain.ports import JobQueue
from domain.services.search import INDEX_MARKET, markets_to_index
from graph.ports import MarketEvents
from markets.stores.market_cache import MarketCache

log = logging.getLogger("markets.commits")


class Publishes(MarketEvents, Protocol):
    """Market events that also take a commit's writes (markets.stores.market_events.Broadcaster)."""

    async def publish(self, writes: MarketWrites) -> None: ...


@dataclass(frozen=True, slots=True)
class CommitHooks:
    """The persistence layer's `after_commit`: the cache first, then each listener in turn."""

    invalidate: AfterCommit | None
    listeners: tuple[AfterCommit, ...]

    async def __call__(self, writes: MarketWrites) -> None:
        if self.invalidate is not None:
            await self.invalidate(writes)
        for listener in self.listeners:
            try:
                await listener(writes)
            except Exception:
                log.exception("after-commit listener %r failed", listener)


def commit_hooks(
    *, market_cache: MarketCache | None, events: Publishes, jobs: JobQueue, listeners: tuple[AfterCommit, ...] = ()
) -> CommitHooks:
    """The hooks, in their order (see the module's docstring)."""
    return CommitHooks(
        invalidate=market_cache.after_commit if market_cache is not None else None,
        listeners=(events.publish, partial(enqueue_indexing, jobs), *listeners),
    )


async def enqueue_indexing(jobs: JobQueue, writes: MarketWrites) -> None:
    """Queue the indexing of each market the commit created or whose text it changed."""
    for market_id in markets_to_index(writes):
        await jobs.enqueue(INDEX_MARKET, market_id=market_id)
