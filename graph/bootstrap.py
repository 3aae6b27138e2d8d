"""The composition root: builds, once per process, everything a request needs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.events import AfterCommit, MarketWrites
from domain.ports import JobQueue
from domain.views import ReadViews
from graph import background
from graph.auth import TokenService
from graph.cursors import CursorCodec
from graph.events import Broadcaster, make_broadcaster
from graph.metrics import count_cache_lookups, count_redis_failure
from graph.passwords import Argon2Hasher
from graph.ratelimit import Network, RateLimiter, make_rate_limiter, parse_networks
from graph.requests import count_statement
from graph.settings import Settings
from persistence.database import make_engine
from persistence.market_cache import MarketStore, MemoryMarketStore, RedisMarketStore
from persistence.repositories.cached_markets import MarketCache
from persistence.unit_of_work import SqlUnitOfWork
from persistence.views import PostgresViews

log = logging.getLogger("markets.commits")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    tokens: TokenService
    cursors: CursorCodec
    hasher: Argon2Hasher = field(default_factory=Argon2Hasher)
    clock: Callable[[], datetime] = utc_now
    # Shared by every instance when REDIS_URL is set; None runs everything in-process.
    redis: Redis | None = None
    market_cache: MarketCache | None = None
    rate_limiter: RateLimiter = field(default_factory=lambda: make_rate_limiter(None, per_minute=0, auth_per_minute=0))
    trusted_proxies: list[Network] = field(default_factory=list)
    # The compiled read path's reads (graph.plan); None runs every read through graphql-core.
    views: ReadViews | None = None
    close_views: Callable[[], Awaitable[None]] | None = None

    # Run after every commit that wrote markets, after the cache is invalidated.
    commit_listeners: list[AfterCommit] = field(default_factory=list)
    # Set by graph.background.wire: the embedder and vector index, the job queue.
    search: background.SearchServices = field(init=False)
    jobs: JobQueue = field(init=False)
    # Market events for subscriptions (graph.events): its publisher is the first commit listener.
    events: Broadcaster = field(default_factory=Broadcaster)

    def __post_init__(self) -> None:
        self.commit_listeners.insert(0, self.events.publish)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A unit of work on its own connection (for the CLI; requests use their context's)."""
        return SqlUnitOfWork.standalone(self.engine, after_commit=self.after_commit)

    async def after_commit(self, writes: MarketWrites) -> None:
        """Invalidate the cache first (a read after the write must see it), then tell the listeners.

        The write is committed already: a listener that fails is logged, never the client's error.
        """
        if self.market_cache is not None:
            await self.market_cache.after_commit(writes)
        for listener in self.commit_listeners:
            try:
                await listener(writes)
            except Exception:
                log.exception("after-commit listener %r failed", listener)

    async def close(self) -> None:
        background.close(self)
        await self.events.close()
        await self.engine.dispose()
        if self.close_views is not None:
            await self.close_views()
        if self.redis is not None:
            await self.redis.aclose()


def make_redis(settings: Settings) -> Redis | None:
    """A client whose every call is bounded: Redis slow or down must never stall a request."""
    if not settings.redis_url:
        return None
    timeout = settings.redis_timeout_seconds
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=64, timeout=timeout, socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return Redis(connection_pool=pool)


def make_market_cache(settings: Settings, redis: Redis | None) -> MarketCache | None:
    """Redis-backed when Redis is configured, in memory otherwise; none with a zero TTL."""
    ttl = settings.market_cache_ttl_seconds
    if ttl == 0:
        return None
    store: MarketStore = RedisMarketStore(redis, ttl_seconds=ttl) if redis is not None else MemoryMarketStore(
        ttl_seconds=ttl
    )
    return MarketCache(store, on_lookup=count_cache_lookups, on_failure=count_redis_failure("cache"))


def read_views(settings: Settings) -> PostgresViews | None:
    """The compiled reads' own pool on PostgreSQL: DB_POOL_SIZE connections of the process's
    2 × DB_POOL_SIZE (the engine keeps the rest). None on SQLite or with COMPILED_READS off."""
    if not settings.compiled_reads or not settings.database_url.startswith("postgresql"):
        return None
    return PostgresViews(settings.database_url, max_connections=settings.db_pool_size, on_statement=count_statement)


def bootstrap(settings: Settings, *, hasher: Argon2Hasher | None = None) -> Container:
    """Wire the process's engine, Redis client, token service, cursor codec and hasher."""
    redis = make_redis(settings)
    views = read_views(settings)
    container = Container(
        settings=settings,
        engine=make_engine(
            settings.database_url, pool_size=settings.db_pool_size,
            reserved=settings.db_pool_size if views is not None else 0,
        ),
        views=views,
        close_views=views.close if views is not None else None,
        tokens=TokenService(secret=settings.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds),
        cursors=CursorCodec(settings.jwt_secret),
        hasher=hasher or Argon2Hasher(),
        redis=redis,
        market_cache=make_market_cache(settings, redis),
        events=make_broadcaster(settings, redis),
        rate_limiter=make_rate_limiter(
            redis, per_minute=settings.rate_limit_per_minute, auth_per_minute=settings.auth_rate_limit_per_minute
        ),
        trusted_proxies=parse_networks(settings.trusted_proxy_list),
    )
    background.wire(container)
    return container
