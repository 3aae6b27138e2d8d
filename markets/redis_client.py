"""The one Redis helper: the client every store shares, the errors a Redis call can raise, and the one way a
store degrades when Redis fails — log a warning, count it (markets_redis_failures_total), go on without it."""

from __future__ import annotations

import logging

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


def degrade(component: str, log: logging.Logger, message: str, *args: object) -> None:
    """Log (a warning: `message` % `args`) and count a Redis failure of `component` (its metric label);
    the caller goes on without Redis."""
    log.warning(message, *args)
    REDIS_FAILURES.labels(component).inc()
