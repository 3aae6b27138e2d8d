"""Dataloaders, one set per request, named after what they load; each batches into one query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader

from domain.entities import Market, Position, User
from domain.pagination import Page, PageRequest
from persistence.unit_of_work import Repositories

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def by_key(fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]], default: Any = None) -> DataLoader:
    """A loader over a fetch-many function that answers a mapping."""

    async def load(keys: Sequence[K]) -> list[V | None]:
        found = await fetch(keys)
        return [found.get(key, default) for key in keys]

    return DataLoader(load)


def page_per_parent(
    fetch: Callable[[Sequence[int], PageRequest], Awaitable[Mapping[int, Page[V]]]],
) -> DataLoader:
    """A loader of (parent id, page request) → page, one query per distinct page request."""

    async def load(keys: Sequence[tuple[int, PageRequest]]) -> list[Page[V]]:
        parents: dict[PageRequest, list[int]] = defaultdict(list)
        for parent_id, request in keys:
            parents[request].append(parent_id)
        pages = {request: await fetch(ids, request) for request, ids in parents.items()}
        return [pages[request].get(parent_id, Page()) for parent_id, request in keys]

    return DataLoader(load)


class Loaders:
    def __init__(self, repositories: Repositories) -> None:
        self.user: DataLoader = by_key(repositories.users.get_many)
        self.market: DataLoader = by_key(repositories.markets.get_many)
        self.position: DataLoader = by_key(repositories.positions.get_many)
        self.positions_by_market: DataLoader = page_per_parent(repositories.positions.pages_by_market)
        self.positions_by_user: DataLoader = page_per_parent(repositories.positions.pages_by_user)
        self.markets_by_creator: DataLoader = page_per_parent(repositories.markets.pages_by_creator)
        self.position_count_by_market: DataLoader = by_key(repositories.positions.count_by_market, 0)
        self.position_count_by_user: DataLoader = by_key(repositories.positions.count_by_user, 0)
        self.market_count_by_creator: DataLoader = by_key(repositories.markets.count_by_creator, 0)
        self.transaction: DataLoader = by_key(repositories.ledger.get_many)
        self.transactions_by_user: DataLoader = page_per_parent(repositories.ledger.pages_by_user)
        self.transaction_count_by_user: DataLoader = by_key(repositories.ledger.count_by_user, 0)
        self.price_points_by_market: DataLoader = page_per_parent(repositories.price_points.pages_by_market)
        self.price_point_count_by_market: DataLoader = by_key(repositories.price_points.count_by_market, 0)

    def remember(self, entity: User | Market | Position) -> None:
        """Replace a cached entity after a write, so the rest of the request sees the write."""
        loader = {User: self.user, Market: self.market, Position: self.position}[type(entity)]
        loader.clear(entity.id).prime(entity.id, entity)
