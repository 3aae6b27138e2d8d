"""Sliding-window rate limits: one atomic Redis round trip per check, shared by all instances.

The window is a log of request times per key (a sorted set). A check drops entries older
than the window, counts the rest and, under the limit, records itself: exact, with no burst
at window edges. Redis's own clock is used, so instances with skewed clocks agree. Without
Redis the same log lives in this process. If Redis fails the request passes (fail open): an
outage of the limiter must not become an outage of the API.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from redis.asyncio import Redis

from domain import validation
from domain.errors import BadUserInput, RateLimited
from markets.observability.metrics import RATE_LIMITED
from markets.redis_client import REDIS_ERRORS, degrade, namespace
from markets.settings import Settings

log = logging.getLogger("markets.ratelimit")
WINDOW_SECONDS = 60.0
# Keys are built from client text (an address from X-Forwarded-For, an email): longer ones are
# counted under their hash, so no client decides how much memory or Redis a key takes.
MAX_KEY_LENGTH = 300

SLIDING_LOG = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local over = redis.call('ZCARD', KEYS[1]) + cost - limit
if over > 0 then
  if cost > limit then
    return tostring(window)
  end
  local freeing = redis.call('ZRANGE', KEYS[1], over - 1, over - 1, 'WITHSCORES')
  return tostring(tonumber(freeing[2]) + window - now)
end
for i = 1, cost do
  redis.call('ZADD', KEYS[1], now, ARGV[3] .. ':' .. i)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
return false
"""


class Window(Protocol):
    async def admit(self, key: str, limit: int, cost: int = 1) -> float | None:
        """None when `cost` more requests fit under `limit` (and are counted, all or none), else the
        seconds until enough slots free (the whole window when `cost` alone is over the limit)."""


class RedisWindow:
    def __init__(self, redis: Redis, *, namespace: str) -> None:
        self._script = redis.register_script(SLIDING_LOG)
        self._prefix = namespace + "rate:"

    async def admit(self, key: str, limit: int, cost: int = 1) -> float | None:
        wait = await self._script(
            keys=[self._prefix + key], args=[WINDOW_SECONDS, limit, uuid.uuid4().hex, cost]
        )
        return float(wait) if wait is not None else None


class MemoryWindow:
    """The sliding logs in this process. A key whose newest request has left the window is forgotten
    (swept at most once per window), so keys a client invents do not pile up."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._logs: dict[str, deque[float]] = {}
        self._swept = clock()

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._logs)

    async def admit(self, key: str, limit: int, cost: int = 1) -> float | None:
        now = self._clock()
        self.sweep(now)
        entries = self._logs.setdefault(key, deque())
        while entries and entries[0] <= now - WINDOW_SECONDS:
            entries.popleft()
        over = len(entries) + cost - limit
        if over > 0:
            return WINDOW_SECONDS if cost > limit else entries[over - 1] + WINDOW_SECONDS - now
        entries.extend([now] * cost)
        return None

    def sweep(self, now: float) -> None:
        """Forget the keys with nothing left in the window; a no-op until a window has passed since the last."""
        if now - self._swept < WINDOW_SECONDS:
            return
        self._swept = now
        for key in [k for k, entries in self._logs.items() if not entries or entries[-1] <= now - WINDOW_SECONDS]:
            del self._logs[key]


def bounded_key(key: str) -> str:
    """The key itself, or its hash when a client made it longer than MAX_KEY_LENGTH."""
    return key if len(key) <= MAX_KEY_LENGTH else "sha256:" + hashlib.sha256(key.encode(errors="replace")).hexdigest()


def email_key(email: str) -> str | None:
    """The validated, lower-cased email a login is counted under; None for text no account can have."""
    try:
        return validation.email(email)
    except BadUserInput:
        return None


class RateLimiter:
    """graph.ports.RateLimiter: counts a viewer's requests, and signUp/login attempts, in a window."""

    def __init__(self, window: Window, *, per_minute: int, auth_per_minute: int) -> None:
        self._window = window
        self.per_minute = per_minute
        self.auth_per_minute = auth_per_minute

    async def check(self, kind: str, keys: Sequence[str], limit: int, cost: int = 1) -> None:
        """Count `cost` requests against each key; RateLimited when any would go over `limit` (0: off)."""
        if limit == 0:
            return
        for key in keys:
            try:
                wait = await self._window.admit(bounded_key(f"{kind}:{key}"), limit, cost)
            except REDIS_ERRORS as error:
                degrade("ratelimit", log, "rate limiter unavailable, letting the request through: %r", error)
                return
            if wait is not None:
                RATE_LIMITED.labels(kind).inc()
                raise RateLimited(wait)

    async def check_viewer(self, viewer_key: str, cost: int = 1) -> None:
        """A request (`cost` 1), or the further writes of a mutation operation (graph.extensions.mutation_budget)."""
        await self.check("request", [viewer_key], self.per_minute, cost)

    async def check_auth(self, *, address: str, email: str) -> None:
        """signUp and login: stricter, by client address and by the email tried (when it is a valid one)."""
        valid = email_key(email)
        emails = [f"email:{valid}"] if valid is not None else []
        await self.check("auth", [f"address:{address}", *emails], self.auth_per_minute)


def build(settings: Settings, redis: Redis | None) -> RateLimiter:
    """The limits the settings configure, counted in Redis when the process has it, in this process otherwise."""
    window: Window = RedisWindow(redis, namespace=namespace(settings)) if redis is not None else MemoryWindow()
    return RateLimiter(
        window, per_minute=settings.rate_limit_per_minute, auth_per_minute=settings.auth_rate_limit_per_minute
    )
