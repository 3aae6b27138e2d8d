"""The application as markets.bootstrap built it: every service of the process, made once, immutable."""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.ports import Clock, PasswordHasher
from graph.context import Services
from graph.ports import QueryStore, RateLimiter
from markets.commit_hooks import CommitHooks
from markets.search.services import SearchServices
from markets.settings import Settings
from markets.stores.job_queue import Queue
from markets.stores.market_cache import MarketCache
from markets.stores.market_events import Broadcaster
from markets.tokens import TokenService
from persistence.unit_of_work import Database, SqlUnitOfWork
from persistence.views import PostgresViews


@dataclass(frozen=True, slots=True)
class Application:
    """What the process runs on. `api` is the part resolvers see (graph.context.Services); the rest is for
    the transport, the CLI, the background jobs and the health checks. Tests build one with overrides
    (markets.bootstrap.bootstrap's keyword arguments) instead of changing it."""

    settings: Settings
    engine: AsyncEngine
    # Shared by every store when REDIS_URL is set; None runs everything in-process.
    redis: Redis | None
    database: Database
    commit_hooks: CommitHooks
    clock: Clock
    hasher: PasswordHasher
    tokens: TokenService
    market_cache: MarketCache | None
    rate_limiter: RateLimiter
    persisted_queries: QueryStore
    events: Broadcaster
    jobs: Queue
    search: SearchServices
    api: Services
    # The compiled read path's reads (graph.plan) with their own pool; None runs every read through graphql-core.
    views: PostgresViews | None = None

    def unit_of_work(self) -> SqlUnitOfWork:
        """A unit of work on its own connection (the CLI's; requests use their scope's)."""
        return self.database.unit_of_work()

    async def close(self) -> None:
        """Release what the process holds: the embedder's threads, the events listener, the pool, Redis."""
        self.search.embedder.close()
        await self.events.close()
        await self.engine.dispose()
        if self.views is not None:
            await self.views.close()
        if self.redis is not None:
            await self.redis.aclose()
