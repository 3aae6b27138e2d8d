"""Automatic persisted queries, Apollo's protocol: a client may send a query's SHA-256 instead of its text.

`extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` without `query` runs the stored text,
or answers PERSISTED_QUERY_NOT_FOUND ("PersistedQueryNotFound") so that the client sends both; with both,
the hash must be the query's (else HTTP 400) and the query is stored once it validates. With
PERSISTED_QUERIES_ONLY, only hashes already stored (by `register`) run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cross_web import HTTPException
from graphql import GraphQLError
from redis.asyncio import Redis
from redis.exceptions import RedisError
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from domain.bounded import BoundedLRU, text_bytes
from graph.context import Context
from markets.bootstrap import Container
from markets.observability.metrics import count_redis_failure

log = logging.getLogger("markets.persisted")

CODE = "PERSISTED_QUERY_NOT_FOUND"
NOT_FOUND = "PersistedQueryNotFound"
ONLY_PERSISTED = "Only registered persisted queries are accepted: send extensions.persistedQuery with a known hash"
MISMATCH = "provided sha does not match query"
KEY_PREFIX = "markets:apq:"
# Queries clients registered themselves expire (a client re-registers on a miss); `register`'s never do.
TTL_SECONDS = 24 * 3600
# Longer queries still run, they are just not stored: clients must not fill Redis with megabyte strings.
MAX_STORED_LENGTH = 100_000
LOCAL_ENTRIES = 1024
# What this process keeps of client-registered queries, texts and hashes together.
LOCAL_BYTES = 16 * 1024 * 1024
REDIS_ERRORS = (RedisError, OSError, TimeoutError)
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def sha256_hex(query: str) -> str:
    """The hash a client sends for a query: hex SHA-256 of its UTF-8 text."""
    return hashlib.sha256(query.encode()).hexdigest()


class QueryStore(Protocol):
    async def get(self, sha: str) -> str | None: ...
    async def put(self, sha: str, query: str, *, permanent: bool = False) -> None: ...


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

    def __init__(self, redis: Redis, *, on_failure: Callable[[BaseException], None] | None = None) -> None:
        self.redis = redis
        self.local = MemoryStore()
        self.on_failure = on_failure

    async def get(self, sha: str) -> str | None:
        """The query stored under the hash, from memory or Redis; None when unknown or Redis fails."""
        query = await self.local.get(sha)
        if query is not None:
            return query
        try:
            raw = await self.redis.get(KEY_PREFIX + sha)
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
            await self.redis.set(KEY_PREFIX + sha, query, ex=None if permanent else TTL_SECONDS)
        except REDIS_ERRORS as error:
            self.failed("store", error)

    def failed(self, action: str, error: BaseException) -> None:
        """Log a Redis failure (and count it) and carry on without Redis."""
        log.warning("persisted query %s failed, going on without Redis: %r", action, error)
        if self.on_failure is not None:
            self.on_failure(error)


def make_store(container: Container) -> QueryStore:
    """Redis when the container has it, this process's memory otherwise."""
    if container.redis is None:
        return MemoryStore()
    return RedisStore(container.redis, on_failure=count_redis_failure("apq"))


async def register(store: QueryStore, query: str) -> str:
    """Store a query for good (for PERSISTED_QUERIES_ONLY) and return its hash."""
    sha = sha256_hex(query)
    await store.put(sha, query, permanent=True)
    return sha


class Refused(Exception):
    """A persisted-query request answered with one PERSISTED_QUERY_NOT_FOUND error (HTTP 200)."""

    def result(self) -> ExecutionResult:
        """The GraphQL result that says so."""
        return ExecutionResult(data=None, errors=[GraphQLError(str(self), extensions={"code": CODE})])


def requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The lower-case hash in `extensions.persistedQuery`, None without one; HTTP 400 when malformed."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise HTTPException(400, "Unsupported persisted query version: send extensions.persistedQuery.version 1")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not SHA256_HEX.match(sha):
        raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be a hex SHA-256")
    return sha.lower()


@dataclass
class PersistedQueries:
    """The view's side of the protocol: where queries are stored, and whether only stored ones run."""

    store: QueryStore
    only: bool = False

    @classmethod
    def for_container(cls, container: Container) -> PersistedQueries:
        """The store and the mode the container's settings choose."""
        return cls(make_store(container), only=container.settings.persisted_queries_only)

    async def resolve(self, data: GraphQLRequestData) -> tuple[str | None, str | None]:
        """The query text to run, and the hash to store it under once it validates (None: nothing to store)."""
        sha = requested_hash(data.extensions)
        if sha is None:
            if self.only and data.query is not None:
                raise Refused(ONLY_PERSISTED)
            return data.query, None
        if data.query is None:
            stored = await self.store.get(sha)
            if stored is None:
                raise Refused(NOT_FOUND)
            return stored, None
        if sha256_hex(data.query) != sha:
            raise HTTPException(400, MISMATCH)
        if self.only and await self.store.get(sha) is None:
            raise Refused(ONLY_PERSISTED)
        return data.query, None if self.only else sha

    async def execute(
        self, data: GraphQLRequestData, context: Context,
        run: Callable[[GraphQLRequestData], Awaitable[ExecutionResult]],
    ) -> ExecutionResult:
        """Run the request with its query resolved; store a new query once it parsed and validated."""
        try:
            query, new_sha = await self.resolve(data)
        except Refused as refusal:
            return refusal.result()
        result = await run(dataclasses.replace(data, query=query))
        validated = context.document is not None and not context.validation_failed
        if new_sha is not None and query is not None and validated and len(query) <= MAX_STORED_LENGTH:
            await self.store.put(new_sha, query)
        return result
