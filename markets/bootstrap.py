"""The composition root: builds, once per process and in one pass, every service the process runs on."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.events import AfterCommit
from domain.ports import Clock, PasswordHasher
from graph.context import Services
from graph.cursors import CursorCodec
from graph.ports import RateLimiter
from markets.application import Application
from markets.commit_hooks import commit_hooks
from markets.observability.request_metrics import count_statement
from markets.passwords import Argon2Hasher
from markets.redis_client import make_client
from markets.search.services import build_search
from markets.settings import Settings
from markets.stores import job_queue, market_cache, market_events, persisted_queries, rate_limits
from markets.tokens import TokenService
from persistence.database import make_engine
from persistence.faults import SqlFaults
from persistence.unit_of_work import Database
from persistence.views import PostgresViews


def utc_now() -> datetime:
    return datetime.now(UTC)


def bootstrap(
    settings: Settings, *, hasher: PasswordHasher | None = None, clock: Clock = utc_now,
    rate_limiter: RateLimiter | None = None, commit_listeners: tuple[AfterCommit, ...] = (),
) -> Application:
    """Wire the process: Redis and its stores, the commit hooks, the engine, search, tokens, and the
    services resolvers see. The keyword arguments replace a part (tests: a fast hasher, a clock of their
    own, a rate limiter over a window they hold, a commit listener)."""
    redis = make_client(settings)
    cache = market_cache.build(settings, redis)
    events = market_events.build(settings, redis)
    jobs = job_queue.build(settings, redis)
    hooks = commit_hooks(market_cache=cache, events=events, jobs=jobs, listeners=commit_listeners)
    views = read_views(settings)
    engine = make_engine(
        settings.database_url, pool_size=settings.db_pool_size,
        reserved=settings.db_pool_size if views is not None else 0,
    )
    database = Database(engine, after_commit=hooks, read_markets=cache.reading if cache is not None else None)
    search = build_search(settings, unit_of_work=database.unit_of_work, clock=clock)
    tokens = TokenService(secret=settings.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds)
    hasher = hasher or Argon2Hasher()
    limiter = rate_limiter or rate_limits.build(settings, redis)
    api = Services(
        scopes=database.scope, clock=clock, economy=settings.economy, cursors=CursorCodec(settings.jwt_secret),
        hasher=hasher, tokens=tokens, rate_limiter=limiter, jobs=jobs, query_embedder=search.queries,
        index=search.index, events=events, subscription_queue_size=settings.subscription_queue_size,
        viewer_recheck_seconds=settings.ws_viewer_recheck_seconds, faults=SqlFaults(),
    )
    return Application(
        settings=settings, engine=engine, redis=redis, database=database, commit_hooks=hooks, clock=clock,
        hasher=hasher, tokens=tokens, market_cache=cache, rate_limiter=limiter,
        persisted_queries=persisted_queries.build(settings, redis), events=events, jobs=jobs, search=search,
        api=api, views=views,
    )


def read_views(settings: Settings) -> PostgresViews | None:
    """The compiled reads' own pool on PostgreSQL: DB_POOL_SIZE connections of the process's
    2 × DB_POOL_SIZE (the engine keeps the rest). None on SQLite or with COMPILED_READS off."""
    if not settings.compiled_reads or not settings.database_url.startswith("postgresql"):
        return None
    return PostgresViews(settings.database_url, max_connections=settings.db_pool_size, on_statement=count_statement)
