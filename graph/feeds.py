"""A subscription's feed of market changes: what a commit changed, one change per market, queued for one
subscriber, bounded and conflated (markets.stores.market_events offers every commit's changes to the feeds)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from domain.events import MarketWrites

Kind = Literal["created", "updated", "deleted"]
KINDS: frozenset[str] = frozenset({"created", "updated", "deleted"})


@dataclass(frozen=True, slots=True)
class Change:
    """One market's part in a commit."""

    market_id: int
    kind: Kind
    fields: frozenset[str] = frozenset()


def changes_of(writes: MarketWrites) -> list[Change]:
    """The commit's changes, one per market: deleted wins over created, created over updated."""
    created = sorted(writes.created - writes.deleted)
    updated = sorted(set(writes.updated) - writes.created - writes.deleted)
    return [
        *(Change(pk, "created") for pk in created),
        *(Change(pk, "updated", frozenset(writes.updated[pk])) for pk in updated),
        *(Change(pk, "deleted") for pk in sorted(writes.deleted)),
    ]


class Feed:
    """One subscription's pending changes: bounded, and conflated by market.

    A market already pending is not queued again (its subscriber loads the current state anyway, so
    one delivery covers every change since), except that a deletion replaces what was pending. Once
    more distinct markets are pending than `capacity`, the feed overflows: it drops everything,
    takes nothing more, and calls `on_overflow` (which drops the subscriber).
    """

    def __init__(
        self, wants: Callable[[Change], bool], *, capacity: int, market_id: int | None = None,
        on_overflow: Callable[[], None] = lambda: None,
    ) -> None:
        self.wants = wants
        self.capacity = capacity
        self.market_id = market_id
        self.on_overflow = on_overflow
        self.pending: dict[int, Change] = {}
        self.closed = False
        self._wakeup = asyncio.Event()

    def offer(self, change: Change) -> None:
        """Queue a change this feed wants; past the bound, overflow."""
        if self.closed or not self.wants(change):
            return
        if change.market_id not in self.pending and len(self.pending) >= self.capacity:
            self.overflow()
            return
        if change.kind == "deleted" or change.market_id not in self.pending:
            self.pending[change.market_id] = change
        self._wakeup.set()

    def overflow(self) -> None:
        """Drop everything pending and stop; tell the owner."""
        self.pending.clear()
        self.close()
        self.on_overflow()

    def close(self) -> None:
        """Take nothing more; a waiting `next` returns None."""
        self.closed = True
        self._wakeup.set()

    async def next(self) -> Change | None:
        """The oldest pending change, waiting for one; None once closed."""
        while not self.pending:
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        market_id = next(iter(self.pending))
        return self.pending.pop(market_id)
