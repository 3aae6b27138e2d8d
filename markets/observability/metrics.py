"""Prometheus metrics, in one place. Multi-process safe when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import asyncio
import atexit
import os
import re
from collections.abc import Callable
from typing import Any

import anyio
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from markets.observability.request_metrics import RequestInfo, record_cache

QUEUE_READ_TIMEOUT_SECONDS = 1.0
REDIS_FAILURES = Counter(
    "markets_redis_failures_total", "Redis calls that failed or timed out (the request went on without Redis)",
    ["component"],
)
RATE_LIMITED = Counter("markets_rate_limited_total", "Requests refused by a rate limit", ["limit"])
CACHE_LOOKUPS = Counter("markets_cache_lookups_total", "Market cache lookups", ["result"])


JOBS_FINISHED = Counter(
    "markets_jobs_finished_total", "Job attempts this process ran, by function and outcome (complete, retried, failed)",
    ["function", "outcome"],
)
# Read from the queue at scrape time (Redis: shared by every instance, so the same everywhere).
QUEUE_JOBS = Gauge(
    "markets_job_queue_jobs", "Jobs in the queue by state: queued (the depth), active, scheduled (retries, periodic)",
    ["state"], multiprocess_mode="max",
)
FAILED_JOBS = Gauge(
    "markets_jobs_failed", "Jobs that failed every attempt and are kept for inspection", multiprocess_mode="max",
)


def count_job(function: str, outcome: str) -> None:
    JOBS_FINISHED.labels(function, outcome).inc()


async def record_queue(jobs: Any) -> None:
    """Set the queue gauges from the job queue; left as they were when it cannot be read."""
    try:
        async with asyncio.timeout(QUEUE_READ_TIMEOUT_SECONDS):
            stats = await jobs.stats()
    except Exception:  # noqa: BLE001 - Redis down: the scrape still answers
        REDIS_FAILURES.labels("jobs").inc()
        return
    for state in ("queued", "active", "scheduled"):
        QUEUE_JOBS.labels(state).set(getattr(stats, state))
    FAILED_JOBS.set(stats.failed)


def count_cache_lookups(hits: int, misses: int) -> None:
    """Market cache outcomes, for the request's log line and for the hit ratio."""
    record_cache(hits=hits, misses=misses)
    if hits:
        CACHE_LOOKUPS.labels("hit").inc(hits)
    if misses:
        CACHE_LOOKUPS.labels("miss").inc(misses)


def count_redis_failure(component: str) -> Callable[[BaseException], None]:
    def count(_: BaseException) -> None:
        REDIS_FAILURES.labels(component).inc()

    return count


# Set (by `markets serve --workers N`, N > 1) to a fresh directory where every worker writes its values.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Operation names are chosen by clients: only plain names, and only so many, become label values.
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 100
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STATEMENT_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89)

REQUESTS = Counter(
    "markets_graphql_requests_total", "GraphQL HTTP requests, by operation name and outcome (ok or error code)",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "markets_graphql_request_duration_seconds", "GraphQL HTTP request latency, by operation name and outcome",
    ["operation", "outcome"], buckets=LATENCY_BUCKETS,
)
STATEMENTS = Histogram(
    "markets_sql_statements_per_request", "SQL statements sent by one GraphQL HTTP request", buckets=STATEMENT_BUCKETS,
)
POOL_CHECKED_OUT = Gauge(
    "markets_db_pool_checked_out_connections", "Database connections checked out of the pool",
    multiprocess_mode="livesum",
)
SUBSCRIPTIONS = Gauge(
    "markets_subscriptions_active", "GraphQL subscriptions being served over WebSocket", multiprocess_mode="livesum",
)
WEBSOCKET_DROPS = Counter(
    "markets_websocket_drops_total", "WebSockets the server closed on its own (slow consumer, ping timeout…)",
    ["reason"],
)


class OperationLabels:
    """Operation names as label values: "anonymous", a plain name, or "other" past the cap."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        if not OPERATION_NAME.fullmatch(name) or (name not in self.seen and len(self.seen) >= self.limit):
            return "other"
        self.seen.add(name)
        return name


operation_label = OperationLabels()


def outcome(info: RequestInfo) -> str:
    """The outcome label: "ok", else the first error code sent ("error" for a failure without one)."""
    if info.error_codes:
        return info.error_codes[0]
    return "ok" if info.status < 400 else "error"


# The counter and histogram of each (operation, outcome): prometheus_client's `labels()` looks them up under a
# lock on every call. Bounded as the labels are: MAX_OPERATION_NAMES + 2 operations times the outcomes.
request_series: dict[tuple[str, str], tuple[Counter, Histogram]] = {}


def record_request(info: RequestInfo, seconds: float) -> None:
    """Count one finished GraphQL request, its latency and its SQL statements."""
    labels = (operation_label(info.operation_name), outcome(info))
    series = request_series.get(labels)
    if series is None:
        series = request_series[labels] = (REQUESTS.labels(*labels), LATENCY.labels(*labels))
    series[0].inc()
    series[1].observe(seconds)
    STATEMENTS.observe(info.statements)


def _checked_out(*_: Any) -> None:
    POOL_CHECKED_OUT.inc()


def _checked_in(*_: Any) -> None:
    POOL_CHECKED_OUT.dec()


def instrument(engine: AsyncEngine) -> None:
    """Follow the engine's pool checkouts; under several workers, drop this one's gauges at exit."""
    pool = engine.sync_engine.pool
    if not event.contains(pool, "checkout", _checked_out):
        event.listen(pool, "checkout", _checked_out)
        event.listen(pool, "checkin", _checked_in)
    if os.environ.get(MULTIPROC_ENV):
        atexit.register(multiprocess.mark_process_dead, os.getpid())


def scrape_registry() -> CollectorRegistry:
    """The process's registry, or one that sums every worker's files under several workers."""
    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated in prometheus_client
    return registry


async def scrape(jobs: Any) -> bytes:
    """The metrics in the Prometheus text format, the queue's gauges read first (files read off the event loop)."""
    await record_queue(jobs)
    return await anyio.to_thread.run_sync(generate_latest, scrape_registry())
