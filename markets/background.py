"""The background work of a running process: the embedder loading at start, the in-process job worker
(without Redis), `markets worker` (saq over Redis), and running every queued job now (tests)."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

from redis.asyncio import Redis

from domain.services.search import REINDEX_STALE
from markets.application import Application
from markets.jobs import JobDeps
from markets.observability.metrics import count_job
from markets.stores.job_queue import LocalJobQueue, make_worker, saq_queue

log = logging.getLogger("markets.search")


def job_deps(app: Application) -> JobDeps:
    return JobDeps(unit_of_work=app.unit_of_work, embedder=app.search.embedder, clock=app.clock)


def describe(app: Application) -> str:
    name = app.search.embedder.name
    return f"{name} ({'lexical fallback' if name.startswith('hashing') else 'sentence model'})"


async def start(app: Application) -> None:
    """At server start: load the embedder in the background; without Redis, run the jobs here."""
    app.search.embedder.start_loading().add_done_callback(report_loading)
    where = "in this process" if isinstance(app.jobs, LocalJobQueue) else "by `markets worker` (Redis)"
    log.info("search embedder: %s; jobs run %s", describe(app), where)
    if isinstance(app.jobs, LocalJobQueue):
        app.jobs.start(job_deps(app))


def report_loading(loading: Future[Any]) -> None:
    """Log a model that failed to load now, not at the first search."""
    if not loading.cancelled() and (error := loading.exception()) is not None:
        log.error("the search embedder failed to load: %r", error)


async def stop(app: Application) -> None:
    if isinstance(app.jobs, LocalJobQueue):
        await app.jobs.stop()


async def run_jobs(app: Application) -> None:
    """Run every job queued now to the end, then return (tests; on Redis, a saq worker in burst mode)."""
    if isinstance(app.jobs, LocalJobQueue):
        await app.jobs.run_pending(job_deps(app))
        return
    await run_saq(app, concurrency=app.settings.job_concurrency, burst=True)


async def run_worker(app: Application, *, concurrency: int) -> None:
    """`markets worker`: run jobs from Redis until SIGTERM or SIGINT (saq handles both)."""
    log.info("loading the search embedder: %s", describe(app))
    await run_saq(app, concurrency=concurrency, burst=False)


async def run_saq(app: Application, *, concurrency: int, burst: bool) -> None:
    settings = app.settings
    assert settings.redis_url
    # A client of its own: the shared one bounds every call to REDIS_TIMEOUT_SECONDS, and a
    # worker blocks on Redis while it waits for work.
    jobs = saq_queue(settings, Redis.from_url(settings.redis_url))
    await app.search.embedder.ready()
    await jobs.queue.connect()
    try:
        if not burst and settings.periodic_jobs:
            # Catch up at start (a model change, markets written while no worker ran); a fixed
            # key queues it once however many workers start together.
            await jobs.queue.enqueue(REINDEX_STALE, key=f"{REINDEX_STALE}:startup")
        await make_worker(jobs, job_deps(app), concurrency=concurrency, burst=burst, on_finish=count_job,
                          periodic=settings.periodic_jobs).start()
    finally:
        await jobs.queue.disconnect()
