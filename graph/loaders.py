"""Dataloaders, one set per request, named after what they load; each batches into one query."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader

from domain.entities import Market, Position, User
from domain.pagination import Page, PageRequest
from graph.ports import Scope

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


class OnFirstUse:
    """A Loaders attribute built on first use, then kept on the instance: a request uses a few of
    the loaders, and each DataLoader built costs a little of every request's fixed cost."""

    def __init__(self, build: Callable[[Scope], DataLoader]) -> None:
        self._build = build
        self._name = ""

    def __set_name__(self, _owner: type, name: str) -> None:
        self._name = name

    def __get__(self, loaders: Loaders, _owner: type) -> DataLoader:
        loader = self._build(loaders.scope)
        loaders.__dict__[self._name] = loader  # no __set__: later reads find it in the instance
        return loader


class Loaders:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    user = OnFirstUse(lambda r: by_key(r.users.get_many))
    market = OnFirstUse(lambda r: by_key(r.markets.get_many))
    position = OnFirstUse(lambda r: by_key(r.positions.get_many))
    positions_by_market = OnFirstUse(lambda r: page_per_parent(r.positions.pages_by_market))
    positions_by_user = OnFirstUse(lambda r: page_per_parent(r.positions.pages_by_user))
    markets_by_creator = OnFirstUse(lambda r: page_per_parent(r.markets.pages_by_creator))
    position_count_by_market = OnFirstUse(lambda r: by_key(r.positions.count_by_market, 0))
    position_count_by_user = OnFirstUse(lambda r: by_key(r.positions.count_by_user, 0))
    market_count_by_creator = OnFirstUse(lambda r: by_key(r.markets.count_by_creator, 0))
    transaction = OnFirstUse(lambda r: by_key(r.ledger.get_many))
    transactions_by_user = OnFirstUse(lambda r: page_per_parent(r.ledger.pages_by_user))
    transaction_count_by_user = OnFirstUse(lambda r: by_key(r.ledger.count_by_user, 0))
    price_points_by_market = OnFirstUse(lambda r: page_per_parent(r.price_points.pages_by_market))
    price_point_count_by_market = OnFirstUse(lambda r: by_key(r.price_points.count_by_market, 0))

    def remember(self, entity: User | Market | Position) -> None:
        """Replace a cached entity after a write, so the rest of the request sees the write."""
        loader = {User: self.user, Market: self.market, Position: self.position}[type(entity)]
        loader.clear(entity.id).prime(entity.id, entity)
