"""Cache-aside for markets by id: a decorator over the market repository, same domain port."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from redis.exceptions import RedisError

from domain.entities import Market
from domain.events import MarketWrites
from domain.pagination import MarketFilter, MarketOrder, Page, PageRequest
from domain.ports import MarketChanges, MarketRepository
from markets.stores.market_cache import Generation, MarketStore

log = logging.getLogger("markets.cache")

STORE_ERRORS = (RedisError, OSError, TimeoutError)
FLIGHT_LINGER_SECONDS = 1.0


class MarketCache:
    """Process-wide cache state: the store, reads in flight, invalidations not yet delivered.

    Concurrent misses for one market and one generation share one database read (no
    stampede). While an invalidation could not be delivered (Redis down), the cache is
    bypassed entirely, so nothing is served stale past a write; delivery is retried first
    thing on every later lookup.
    """

    def __init__(
        self, store: MarketStore, *, on_lookup: Callable[[int, int], None] = lambda h, m: None,
        on_failure: Callable[[BaseException], None] = lambda error: None,
    ) -> None:
        self.store = store
        self.on_lookup = on_lookup
        self.on_failure = on_failure
        self.flights: dict[tuple[int, Generation], asyncio.Future[Market | None]] = {}
        self.pending: set[int] = set()

    async def lookup(self, ids: Sequence[int]) -> tuple[dict[int, Market], dict[int, Generation]] | None:
        """Hits and the misses' generations; None when the cache must be bypassed."""
        if self.pending and not await self._deliver():
            return None
        try:
            hits, misses = await self.store.lookup(ids)
        except STORE_ERRORS as error:
            self._failed(error)
            return None
        self.on_lookup(len(hits), len(misses))
        return hits, misses

    async def fill(self, markets: Sequence[Market], generations: Mapping[int, Generation]) -> None:
        try:
            await self.store.store(markets, generations)
        except STORE_ERRORS as error:
            self._failed(error)

    async def after_commit(self, writes: MarketWrites) -> None:
        await self.invalidate(sorted(writes.touched()))

    async def invalidate(self, ids: Sequence[int]) -> None:
        """Forget these markets everywhere; called after the writing transaction commits."""
        self.pending.update(ids)
        await self._deliver()

    async def _deliver(self) -> bool:
        try:
            await self.store.invalidate(sorted(self.pending))
        except STORE_ERRORS as error:
            self._failed(error)
            return False
        self.pending.clear()
        return True

    def _failed(self, error: BaseException) -> None:
        log.warning("market cache unavailable, using the database: %r", error)
        self.on_failure(error)


class CachingMarketRepository:
    """Serves `get_many` from the cache, the database filling misses; the rest passes through."""

    def __init__(self, inner: MarketRepository, cache: MarketCache) -> None:
        self._inner = inner
        self._cache = cache

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Market]:
        wanted = sorted({i for i in ids if isinstance(i, int)})
        if not wanted:
            return {}
        looked_up = await self._cache.lookup(wanted)
        if looked_up is None:
            return await self._inner.get_many(wanted)
        found, generations = looked_up
        if generations:
            found.update(await self._load(generations))
        return found

    async def _load(self, generations: Mapping[int, Generation]) -> dict[int, Market]:
        """Read misses once per market and generation, sharing reads already in flight."""
        flights = self._cache.flights
        joined = {i: flights[(i, g)] for i, g in generations.items() if (i, g) in flights}
        mine = {i: g for i, g in generations.items() if i not in joined}
        futures = {i: asyncio.get_running_loop().create_future() for i in mine}
        for market_id, future in futures.items():
            flights[(market_id, mine[market_id])] = future
        try:
            loaded = dict(await self._inner.get_many(list(mine))) if mine else {}
        except BaseException as error:
            for market_id, future in futures.items():
                future.set_exception(error)
                future.exception()  # retrieved here, so waiters alone report it
                flights.pop((market_id, mine[market_id]), None)
            raise
        loop = asyncio.get_running_loop()
        for market_id, future in futures.items():
            future.set_result(loaded.get(market_id))
            # A reader whose miss crossed this read in flight may still join it a moment later:
            # same market, same generation, so the same answer a database read would give.
            loop.call_later(FLIGHT_LINGER_SECONDS, flights.pop, (market_id, mine[market_id]), None)
        await self._cache.fill(list(loaded.values()), mine)
        shared = {i: await f for i, f in joined.items()}
        return loaded | {i: m for i, m in shared.items() if m is not None}

    async def add(
        self, *, name: str, description: str, end_date: datetime | None, creator_id: int, liquidity: Decimal,
        now: datetime,
    ) -> Market:
        return await self._inner.add(
            name=name, description=description, end_date=end_date, creator_id=creator_id, liquidity=liquidity,
            now=now,
        )

    async def update(self, market_id: int, changes: MarketChanges, *, now: datetime) -> Market | None:
        return await self._inner.update(market_id, changes, now=now)

    async def delete(self, market_id: int) -> bool:
        return await self._inner.delete(market_id)

    async def lock(self, market_id: int) -> Market | None:
        return await self._inner.lock(market_id)

    async def apply_trade(
        self, market_id: int, *, yes_pool: Decimal, no_pool: Decimal, volume_added: Decimal, now: datetime
    ) -> None:
        await self._inner.apply_trade(
            market_id, yes_pool=yes_pool, no_pool=no_pool, volume_added=volume_added, now=now
        )

    async def page(self, *, filter: MarketFilter, order: MarketOrder, request: PageRequest) -> Page[Market]:
        return await self._inner.page(filter=filter, order=order, request=request)

    async def count(self, *, filter: MarketFilter) -> int:
        return await self._inner.count(filter=filter)

    async def pages_by_creator(self, creator_ids: Sequence[int], request: PageRequest) -> Mapping[int, Page[Market]]:
        return await self._inner.pages_by_creator(creator_ids, request)

    async def count_by_creator(self, creator_ids: Sequence[int]) -> Mapping[int, int]:
        return await self._inner.count_by_creator(creator_ids)

    async def close_expired(self, *, now: datetime) -> list[int]:
        return await self._inner.close_expired(now=now)
