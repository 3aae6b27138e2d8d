"""The market cache: cache-aside for markets by id, in Redis shared by every instance or in this process's memory.

Entries are guarded by a generation per market. A reader notes the generation when it misses,
reads the database, and stores its row only if the generation is still the one it noted. A
writer bumps the generation (and drops the entry) after its transaction commits. So a reader
that read the old row before a write can never put it back after the write's invalidation:
its generation is stale and the store is refused. A lease would also work, but would make a
writer wait on readers; a generation check costs the reader nothing but one compare in Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from domain.entities import Market, MarketStatus, Outcome
from domain.events import MarketWrites
from domain.pagination import MarketFilter, MarketOrder, Page, PageRequest
from domain.ports import MarketChanges, MarketRepository
from markets.observability.metrics import count_cache_lookups
from markets.redis_client import REDIS_ERRORS, degrade, namespace
from markets.settings import Settings

log = logging.getLogger("markets.cache")
FLIGHT_LINGER_SECONDS = 1.0

Generation = str
# v2: entries carry the pools; entries in the older shape are simply never read.
# After the deployment's namespace (markets.redis_client.namespace).
PREFIX = "market:v2:"
GENERATION_PREFIX = "market-generation:"

# Store each (key, generation key, expected generation, value) only if the generation holds.
STORE_IF_CURRENT = """
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  local n = (i + 1) / 2
  if (redis.call('GET', KEYS[i + 1]) or '0') == ARGV[n * 2] then
    redis.call('SET', KEYS[i], ARGV[n * 2 + 1], 'EX', ttl)
  end
end
return 0
"""


class MarketStore(Protocol):
    async def lookup(self, ids: Sequence[int]) -> tuple[dict[int, Market], dict[int, Generation]]: ...
    async def store(self, markets: Sequence[Market], generations: Mapping[int, Generation]) -> None: ...
    async def invalidate(self, ids: Sequence[int]) -> None: ...
    async def clear(self) -> None: ...


def encode(market: Market) -> bytes:
    return orjson.dumps({
        "id": market.id, "name": market.name, "description": market.description, "status": market.status.value,
        "volume": str(market.volume), "end_date": market.end_date.isoformat() if market.end_date else None,
        "resolved_outcome": market.resolved_outcome.value if market.resolved_outcome else None,
        "creator_id": market.creator_id, "created_at": market.created_at.isoformat(),
        "updated_at": market.updated_at.isoformat(), "yes_pool": str(market.yes_pool),
        "no_pool": str(market.no_pool),
    })


def decode(raw: bytes | str) -> Market:
    data: dict[str, Any] = orjson.loads(raw)
    return Market(
        id=data["id"], name=data["name"], description=data["description"], status=MarketStatus(data["status"]),
        volume=Decimal(data["volume"]),
        end_date=datetime.fromisoformat(data["end_date"]) if data["end_date"] else None,
        resolved_outcome=Outcome(data["resolved_outcome"]) if data["resolved_outcome"] else None,
        creator_id=data["creator_id"], created_at=datetime.fromisoformat(data["created_at"]),
        updated_at=datetime.fromisoformat(data["updated_at"]), yes_pool=Decimal(data["yes_pool"]),
        no_pool=Decimal(data["no_pool"]),
    )



def as_text(value: bytes | str) -> str:
    """A Redis reply as text, whether or not the client decodes replies."""
    return value.decode() if isinstance(value, bytes) else value


class RedisMarketStore:
    def __init__(self, redis: Redis, *, ttl_seconds: int, namespace: str) -> None:
        self._redis = redis
        self._entries = namespace + PREFIX
        self._generations = namespace + GENERATION_PREFIX
        self._ttl = ttl_seconds
        self._store_if_current = redis.register_script(STORE_IF_CURRENT)

    async def lookup(self, ids: Sequence[int]) -> tuple[dict[int, Market], dict[int, Generation]]:
        """Entries and, for the misses, their generations: one MGET."""
        keys = [self._entries + str(i) for i in ids] + [self._generations + str(i) for i in ids]
        values = await self._redis.mget(keys)
        entries, generations = values[: len(ids)], values[len(ids) :]
        hits = {i: decode(raw) for i, raw in zip(ids, entries, strict=True) if raw is not None}
        misses = {i: as_text(g or b"0") for i, raw, g in zip(ids, entries, generations, strict=True) if raw is None}
        return hits, misses

    async def store(self, markets: Sequence[Market], generations: Mapping[int, Generation]) -> None:
        keys: list[str] = []
        args: list[Any] = [self._ttl]
        for market in markets:
            keys += [self._entries + str(market.id), self._generations + str(market.id)]
            args += [generations[market.id], encode(market)]
        if keys:
            await self._store_if_current(keys=keys, args=args)

    async def invalidate(self, ids: Sequence[int]) -> None:
        """Bump each generation and drop each entry, atomically, in one round trip."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for market_id in ids:
                pipe.incr(self._generations + str(market_id))
                # Outlives any entry stored under the old generation; an expired one reads as 0.
                pipe.expire(self._generations + str(market_id), self._ttl * 2 + 60)
                pipe.delete(self._entries + str(market_id))
            await pipe.execute()

    async def clear(self) -> None:
        """Delete every entry and generation of this deployment's cache."""
        for prefix in (self._entries, self._generations):
            keys = [key async for key in self._redis.scan_iter(match=prefix + "*")]
            if keys:
                await self._redis.delete(*keys)


class MemoryMarketStore:
    """The same contract in this process's memory, for a single instance without Redis."""

    def __init__(self, *, ttl_seconds: int, max_entries: int = 10_000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries: OrderedDict[int, tuple[float, Market]] = OrderedDict()
        self._generations: dict[int, int] = {}

    async def lookup(self, ids: Sequence[int]) -> tuple[dict[int, Market], dict[int, Generation]]:
        now = time.monotonic()
        hits: dict[int, Market] = {}
        for market_id in ids:
            entry = self._entries.get(market_id)
            if entry is not None and entry[0] > now:
                hits[market_id] = entry[1]
                self._entries.move_to_end(market_id)
        misses = {i: str(self._generations.get(i, 0)) for i in ids if i not in hits}
        return hits, misses

    async def store(self, markets: Sequence[Market], generations: Mapping[int, Generation]) -> None:
        expires = time.monotonic() + self._ttl
        for market in markets:
            if str(self._generations.get(market.id, 0)) == generations[market.id]:
                self._entries[market.id] = (expires, market)
                self._entries.move_to_end(market.id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def invalidate(self, ids: Sequence[int]) -> None:
        for market_id in ids:
            self._generations[market_id] = self._generations.get(market_id, 0) + 1
            self._entries.pop(market_id, None)

    async def clear(self) -> None:
        self._entries.clear()
        self._generations.clear()


class MarketCache:
    """Process-wide cache state: the store, reads in flight, invalidations not yet delivered.

    Concurrent misses for one market and one generation share one database read (no
    stampede). While an invalidation could not be delivered (Redis down), the cache is
    bypassed entirely, so nothing is served stale past a write; delivery is retried first
    thing on every later lookup.
    """

    def __init__(self, store: MarketStore, *, on_lookup: Callable[[int, int], None] = lambda h, m: None) -> None:
        self.store = store
        self.on_lookup = on_lookup
        self.flights: dict[tuple[int, Generation], asyncio.Future[Market | None]] = {}
        self.pending: set[int] = set()

    async def lookup(self, ids: Sequence[int]) -> tuple[dict[int, Market], dict[int, Generation]] | None:
        """Hits and the misses' generations; None when the cache must be bypassed."""
        if self.pending and not await self._deliver():
            return None
        try:
            hits, misses = await self.store.lookup(ids)
        except REDIS_ERRORS as error:
            self._failed(error)
            return None
        self.on_lookup(len(hits), len(misses))
        return hits, misses

    async def fill(self, markets: Sequence[Market], generations: Mapping[int, Generation]) -> None:
        try:
            await self.store.store(markets, generations)
        except REDIS_ERRORS as error:
            self._failed(error)

    async def clear(self) -> None:
        """Forget everything: the store's entries, reads in flight, invalidations pending (ids restart in tests)."""
        self.flights.clear()
        self.pending.clear()
        await self.store.clear()

    def reading(self, inner: MarketRepository) -> MarketRepository:
        """The market repository with its reads by id served through this cache (persistence's `read_markets`)."""
        return CachingMarketRepository(inner, self)

    async def after_commit(self, writes: MarketWrites) -> None:
        await self.invalidate(sorted(writes.touched()))

    async def invalidate(self, ids: Sequence[int]) -> None:
        """Forget these markets everywhere; called after the writing transaction commits."""
        self.pending.update(ids)
        await self._deliver()

    async def _deliver(self) -> bool:
        try:
            await self.store.invalidate(sorted(self.pending))
        except REDIS_ERRORS as error:
            self._failed(error)
            return False
        self.pending.clear()
        return True

    def _failed(self, error: BaseException) -> None:
        degrade("cache", log, "market cache unavailable, using the database: %r", error)


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


def build(settings: Settings, redis: Redis | None) -> MarketCache | None:
    """Redis-backed when Redis is configured, in memory otherwise; none with a zero TTL."""
    ttl = settings.market_cache_ttl_seconds
    if ttl == 0:
        return None
    store: MarketStore = (
        RedisMarketStore(redis, ttl_seconds=ttl, namespace=namespace(settings)) if redis is not None
        else MemoryMarketStore(ttl_seconds=ttl)
    )
    return MarketCache(store, on_lookup=count_cache_lookups)
