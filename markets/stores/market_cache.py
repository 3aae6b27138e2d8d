"""Where cached markets live: Redis shared by every instance, or this process's memory.

Entries are guarded by a generation per market. A reader notes the generation when it misses,
reads the database, and stores its row only if the generation is still the one it noted. A
writer bumps the generation (and drops the entry) after its transaction commits. So a reader
that read the old row before a write can never put it back after the write's invalidation:
its generation is stale and the store is refused. A lease would also work, but would make a
writer wait on readers; a generation check costs the reader nothing but one compare in Redis.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import orjson
from redis.asyncio import Redis

from domain.entities import Market, MarketStatus, Outcome

Generation = str
# v2: entries carry the pools; entries in the older shape are simply never read.
PREFIX = "markets:market:v2:"
GENERATION_PREFIX = "markets:market-generation:"

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


def encode(market: Market) -> bytes:
    return orjson.dumps({
        "id": market.id, "name": market.name, "description": market.description, "status": market.status.value,
        "volume": str(market.volume), "end_date": market.end_date.isoformat() if market.end_date else None,
        "resolved_outcome": market.resolved_outcome.value if market.resolved_outcome else None,
        "creator_id": market.creator_id, "created_at": market.created_at.isoformat(),
        "updated_at": market.updated_at.isoformat(), "yes_pool": str(market.yes_pool),
        "no_pool": str(market.no_pool),
    })


def decode(raw: bytes) -> Market:
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


class RedisMarketStore:
    def __init__(self, redis: Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._store_if_current = redis.register_script(STORE_IF_CURRENT)

    async def lookup(self, ids: Sequence[int]) -> tuple[dict[int, Market], dict[int, Generation]]:
        """Entries and, for the misses, their generations: one MGET."""
        keys = [PREFIX + str(i) for i in ids] + [GENERATION_PREFIX + str(i) for i in ids]
        values = await self._redis.mget(keys)
        entries, generations = values[: len(ids)], values[len(ids) :]
        hits = {i: decode(raw) for i, raw in zip(ids, entries, strict=True) if raw is not None}
        misses = {i: (g or b"0").decode() for i, raw, g in zip(ids, entries, generations, strict=True) if raw is None}
        return hits, misses

    async def store(self, markets: Sequence[Market], generations: Mapping[int, Generation]) -> None:
        keys: list[str] = []
        args: list[Any] = [self._ttl]
        for market in markets:
            keys += [PREFIX + str(market.id), GENERATION_PREFIX + str(market.id)]
            args += [generations[market.id], encode(market)]
        if keys:
            await self._store_if_current(keys=keys, args=args)

    async def invalidate(self, ids: Sequence[int]) -> None:
        """Bump each generation and drop each entry, atomically, in one round trip."""
        async with self._redis.pipeline(transaction=True) as pipe:
            for market_id in ids:
                pipe.incr(GENERATION_PREFIX + str(market_id))
                # Outlives any entry stored under the old generation; an expired one reads as 0.
                pipe.expire(GENERATION_PREFIX + str(market_id), self._ttl * 2 + 60)
                pipe.delete(PREFIX + str(market_id))
            await pipe.execute()


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
