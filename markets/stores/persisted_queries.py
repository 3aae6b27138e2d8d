"""The persisted-query store: the queries clients (and `markets persist-query`) stored by their SHA-256.

In Redis (shared by every instance, under `markets:apq:<sha>`, with a local LRU in front) when the process has
Redis; in this process's memory otherwise. Both implement graph.ports.QueryStore.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from domain.bounded import BoundedLRU, text_bytes
from graph.ports import QueryStore
from markets.redis_client import REDIS_ERRORS, degrade, namespace
from markets.settings import Settings

log = logging.getLogger("markets.persisted")

KEY_PREFIX = "apq:"  # after the deployment's namespace (markets.redis_client.namespace)
# Queries clients registered themselves expire (a client re-registers on a miss); `register`'s never do.
TTL_SECONDS = 24 * 3600
LOCAL_ENTRIES = 1024
# What this process keeps of client-registered queries, texts and hashes together.
LOCAL_BYTES = 16 * 1024 * 1024


class MemoryStore:
    """This process's queries: registered ones kept for good (the operator chose them), the rest in an
    LRU bounded by entries and bytes (clients chose them)."""

    def __init__(self, max_entries: int = LOCAL_ENTRIES, max_bytes: int = LOCAL_BYTES) -> None:
        self.permanent: dict[str, str] = {}
        self.recent: BoundedLRU[str, str] = BoundedLRU(
            max_entries=max_entries, max_bytes=max_bytes, weigh=lambda sha, query: text_bytes(sha) + text_bytes(query),
        )

    async def get(self, sha: str) -> str | None:
        """The query stored under the hash, None when unknown."""
        recent = self.recent.get(sha)
        return recent if recent is not None else self.permanent.get(sha)

    async def put(self, sha: str, query: str, *, permanent: bool = False) -> None:
        """Store a query; past either bound the least recently used non-permanent ones go."""
        if permanent:
            self.permanent[sha] = query
            return
        self.recent.put(sha, query)


class RedisStore:
    """Queries shared by every instance, under `markets:apq:<sha>`, with a local LRU in front.

    A hash names one text forever, so the local copy can never be stale. Redis down: a lookup is a
    miss (the client then sends the text) and a store is skipped; both are logged, neither fails.
    """

    def __init__(self, redis: Redis, *, namespace: str) -> None:
        self.redis = redis
        self.prefix = namespace + KEY_PREFIX
        self.local = MemoryStore()

    async def get(self, sha: str) -> str | None:
        """The query stored under the hash, from memory or Redis; None when unknown or Redis fails."""
        query = await self.local.get(sha)
        if query is not None:
            return query
        try:
            raw = await self.redis.get(self.prefix + sha)
        except REDIS_ERRORS as error:
            self.failed("lookup", error)
            return None
        if raw is None:
            return None
        query = raw.decode() if isinstance(raw, bytes) else str(raw)
        await self.local.put(sha, query)
        return query

    async def put(self, sha: str, query: str, *, permanent: bool = False) -> None:
        """Store a query in Redis (permanent ones without expiry) and locally."""
        await self.local.put(sha, query)
        try:
            await self.redis.set(self.prefix + sha, query, ex=None if permanent else TTL_SECONDS)
        except REDIS_ERRORS as error:
            self.failed("store", error)

    def failed(self, action: str, error: BaseException) -> None:
        """Log a Redis failure (and count it) and carry on without Redis."""
        degrade("apq", log, "persisted query %s failed, going on without Redis: %r", action, error)



def build(settings: Settings, redis: Redis | None) -> QueryStore:
    """Redis when the process has it, this process's memory otherwise."""
    return RedisStore(redis, namespace=namespace(settings)) if redis is not None else MemoryStore()
