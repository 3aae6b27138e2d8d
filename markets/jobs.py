"""The job functions, what they need, and the retry policy every runner applies.

Each function takes saq's context (`ctx["deps"]` holds `JobDeps`) and reads the current state
of the database rather than a payload, so a job run twice, late or out of order still leaves
things right, and the second run changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from saq.utils import exponential_backoff

from domain.ports import Clock, Embedder
from domain.services import positions, search
from domain.services.positions import PURGE_IDEMPOTENCY_KEYS
from domain.services.search import CLOSE_EXPIRED_MARKETS, INDEX_MARKET, REINDEX_STALE, UnitOfWorkFactory

log = logging.getLogger("markets.jobs")

JobFunction = Callable[..., Awaitable[Any]]
# Called with a job's function name and outcome ("complete", "retried" or "failed").
OnFinish = Callable[[str, str], None]

MAX_RETRY_DELAY_SECONDS = 60.0
TIMEOUT_SECONDS = {INDEX_MARKET: 60, CLOSE_EXPIRED_MARKETS: 120, REINDEX_STALE: 3600}
DEFAULT_TIMEOUT_SECONDS = 60
# Periodic jobs: (name, seconds between runs, the same as a cron line for saq).
PERIODIC = (
    (CLOSE_EXPIRED_MARKETS, 60, "* * * * *"), (REINDEX_STALE, 600, "*/10 * * * *"),
    (PURGE_IDEMPOTENCY_KEYS, 3600, "17 * * * *"),
)


@dataclass(frozen=True)
class JobDeps:
    unit_of_work: UnitOfWorkFactory
    embedder: Embedder
    clock: Clock


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` more attempts after the first, waiting `delay` × 2^n seconds (jittered, capped)."""

    retries: int = 3
    delay: float = 1.0
    max_delay: float = MAX_RETRY_DELAY_SECONDS

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def delay_after(self, attempts: int) -> float:
        """Seconds before the next attempt, after `attempts` failed ones (saq's own formula)."""
        return exponential_backoff(attempts, self.delay, self.max_delay, jitter=True)


def timeout_of(function: str) -> int:
    return TIMEOUT_SECONDS.get(function, DEFAULT_TIMEOUT_SECONDS)


def deps_of(ctx: Mapping[str, Any]) -> JobDeps:
    deps: JobDeps = ctx["deps"]
    return deps


def last_line(error: str | None) -> str:
    """The exception line of a traceback: what a log line or a listing shows."""
    lines = [line for line in (error or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "unknown error"


def log_failure(job_id: str, function: str, kwargs: Mapping[str, Any], attempts: int, error: str | None) -> None:
    log.error("job %s failed after %d attempts, kept for inspection: %s(%s): %s", job_id, attempts, function,
              ", ".join(f"{k}={v!r}" for k, v in kwargs.items()), last_line(error))


async def index_market(ctx: Mapping[str, Any], *, market_id: int, force: bool = False) -> str:
    """Bring one market's search entry in line with the market."""
    deps = deps_of(ctx)
    outcome = await search.index_market(
        unit_of_work=deps.unit_of_work, embedder=deps.embedder, clock=deps.clock, market_id=market_id, force=force
    )
    return outcome.value


async def close_expired_markets(ctx: Mapping[str, Any]) -> int:
    """Close ACTIVE markets past their end date, through a unit of work (caches hear of it)."""
    deps = deps_of(ctx)
    closed = await search.close_expired_markets(uow=deps.unit_of_work(), clock=deps.clock)
    if closed:
        log.info("closed %d expired markets", len(closed))
    return len(closed)


async def reindex_stale(ctx: Mapping[str, Any]) -> dict[str, int]:
    """Index every market whose entry is missing or of another embedder (after a model change)."""
    deps = deps_of(ctx)
    report = await search.reindex(
        unit_of_work=deps.unit_of_work, embedder=deps.embedder, clock=deps.clock, everything=False
    )
    if report.indexed or report.removed:
        log.info("re-indexed stale markets: %s", asdict(report))
    return asdict(report)


async def purge_idempotency_keys(ctx: Mapping[str, Any]) -> int:
    """Delete openPosition's idempotency keys older than 24 hours (they count as absent already)."""
    deps = deps_of(ctx)
    purged = await positions.purge_idempotency_keys(uow=deps.unit_of_work(), clock=deps.clock)
    if purged:
        log.info("purged %d expired idempotency keys", purged)
    return purged


FUNCTIONS: dict[str, JobFunction] = {
    INDEX_MARKET: index_market, CLOSE_EXPIRED_MARKETS: close_expired_markets, REINDEX_STALE: reindex_stale,
    PURGE_IDEMPOTENCY_KEYS: purge_idempotency_keys,
}
