"""What a committed transaction did to markets: the fact that caches, live subscriptions and
search indexing react to once it is durable."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class MarketWrites:
    created: set[int] = field(default_factory=set)
    # Market id → the fields that changed (name, description, end_date, status, resolved_outcome, volume).
    updated: dict[int, set[str]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)

    def touched(self) -> set[int]:
        return self.created | set(self.updated) | self.deleted

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def record_update(self, market_id: int, fields: set[str]) -> None:
        self.updated.setdefault(market_id, set()).update(fields)


# Called after a commit with what it wrote; it must not fail the (already committed) write.
AfterCommit = Callable[[MarketWrites], Awaitable[None]]
