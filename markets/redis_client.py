"""The one Redis helper: the client every store shares, the errors a Redis call can raise, and the one way a
store degrades when Redis fails — log a warning, count it (markets_redis_failures_total), go on without it."""

from __future__ import annotations

import hashlib
import logging
import os
from urllib.parse import urlsplit

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from markets.observability.metrics import REDIS_FAILURES
from markets.settings import Settings

# What a call on a client of make_client may raise when Redis is slow, down or refuses: every store catches these.
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
MAX_CONNECTIONS = 64


def make_client(settings: Settings) -> Redis | None:
    """A client whose every call is bounded: Redis slow or down must never stall a request. None without REDIS_URL."""
    if not settings.redis_url:
        return None
    timeout = settings.redis_timeout_seconds
    pool = BlockingConnectionPool.from_url(
        settings.redis_url, max_connections=MAX_CONNECTIONS, timeout=timeout, socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return Redis(connection_pool=pool)


def namespace(settings: Settings) -> str:
    """The prefix of every key, channel and queue name this deployment uses in Redis: REDIS_NAMESPACE, else
    `markets:` and 8 hex digits of the sha256 of DATABASE_URL's host:port/name (never its user or password).
    Servers of one database must share their cache, queries, limits, events and jobs; servers of different
    databases sharing a Redis must never see each other's (a worker would run another database's jobs)."""
    if settings.redis_namespace:
        return settings.redis_namespace
    parts = urlsplit(settings.database_url)
    # A file database (SQLite) has no host: its absolute path names it.
    where = f"{(parts.hostname or '').lower()}:{parts.port or ''}{parts.path}" if parts.hostname else os.path.abspath(
        parts.path.removeprefix("/")
    )
    return f"markets:{hashlib.sha256(where.encode()).hexdigest()[:8]}:"


def degrade(component: str, log: logging.Logger, message: str, *args: object) -> None:
    """Log (a warning: `message` % `args`) and count a Redis failure of `component` (its metric label);
    the caller goes on without Redis."""
    log.warning(message, *args)
    REDIS_FAILURES.labels(component).inc()
