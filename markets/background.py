"""Search and background jobs, wired into the container: the embedder, the per-process vector
index, the job queue (saq on Redis with REDIS_URL, else in-process), and the after-commit
listener that queues a market's indexing once its write is durable."""

from __future__ import annotations

import logging
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from domain.events import MarketWrites
from domain.ports import IndexEntry, JobQueue
from domain.services.search import INDEX_MARKET, REINDEX_STALE, markets_to_index
from markets.jobs import JobDeps, RetryPolicy
from markets.observability.metrics import count_job
from markets.search.embedders import QueryCache, ThreadedEmbedder, make_embedder
from markets.search.index import SimilarityIndex
from markets.settings import Settings
from markets.stores.job_queue import SaqJobQueue, make_worker
from markets.stores.local_job_queue import LocalJobQueue

if TYPE_CHECKING:
    from markets.bootstrap import Container

log = logging.getLogger("markets.search")


@dataclass
class SearchServices:
    embedder: ThreadedEmbedder  # for indexing: batches, no cache
    queries: QueryCache  # for searches: the same embedder behind an LRU of query vectors
    index: SimilarityIndex


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(retries=settings.job_retries, delay=settings.job_retry_delay_seconds)


def make_jobs(settings: Settings, redis: Redis | None) -> JobQueue:
    """saq over the shared Redis when there is one, else the in-process queue."""
    if redis is not None:
        return SaqJobQueue(redis, policy=retry_policy(settings), failed_ttl=settings.failed_job_ttl_seconds)
    return LocalJobQueue(policy=retry_policy(settings), concurrency=settings.job_concurrency, on_finish=count_job,
                         periodic=settings.periodic_jobs)


def wire(container: Container) -> None:
    """Give the container its search services and job queue, and queue indexing after commits."""
    settings = container.settings
    embedder = make_embedder(settings.embedder, threads=settings.embedder_threads or 1)
    index = SimilarityIndex(
        partial(read_entries, container), embedder=embedder.name, dimension=embedder.dimension,
        clock=container.clock, refresh_seconds=settings.search_refresh_seconds,
    )
    container.search = SearchServices(embedder=embedder, queries=QueryCache(embedder), index=index)
    container.jobs = make_jobs(settings, container.redis)
    container.commit_listeners.append(partial(enqueue_indexing, container))


async def read_entries(container: Container, since: datetime | None, after_id: int, limit: int) -> list[IndexEntry]:
    """Index entries changed since `since`, on a connection of their own (not the request's)."""
    async with container.unit_of_work() as uow:
        return await uow.embeddings.changed_since(since, after_id=after_id, limit=limit)


async def enqueue_indexing(container: Container, writes: MarketWrites) -> None:
    for market_id in markets_to_index(writes):
        await container.jobs.enqueue(INDEX_MARKET, market_id=market_id)


def job_deps(container: Container) -> JobDeps:
    return JobDeps(unit_of_work=container.unit_of_work, embedder=container.search.embedder, clock=container.clock)


def describe(container: Container) -> str:
    name = container.search.embedder.name
    return f"{name} ({'lexical fallback' if name.startswith('hashing') else 'sentence model'})"


async def start(container: Container) -> None:
    """At server start: load the embedder in the background; without Redis, run the jobs here."""
    container.search.embedder.start_loading().add_done_callback(report_loading)
    where = "in this process" if isinstance(container.jobs, LocalJobQueue) else "by `markets worker` (Redis)"
    log.info("search embedder: %s; jobs run %s", describe(container), where)
    if isinstance(container.jobs, LocalJobQueue):
        container.jobs.start(job_deps(container))


def report_loading(loading: Future[Any]) -> None:
    """Log a model that failed to load now, not at the first search."""
    if not loading.cancelled() and (error := loading.exception()) is not None:
        log.error("the search embedder failed to load: %r", error)


async def stop(container: Container) -> None:
    if isinstance(container.jobs, LocalJobQueue):
        await container.jobs.stop()


def close(container: Container) -> None:
    container.search.embedder.close()


async def run_jobs(container: Container) -> None:
    """Run every job queued now to the end, then return (tests; on Redis, a saq worker in burst mode)."""
    if isinstance(container.jobs, LocalJobQueue):
        await container.jobs.run_pending(job_deps(container))
        return
    await run_saq(container, concurrency=container.settings.job_concurrency, burst=True)


async def run_worker(container: Container, *, concurrency: int) -> None:
    """`markets worker`: run jobs from Redis until SIGTERM or SIGINT (saq handles both)."""
    log.info("loading the search embedder: %s", describe(container))
    await run_saq(container, concurrency=concurrency, burst=False)


async def run_saq(container: Container, *, concurrency: int, burst: bool) -> None:
    settings = container.settings
    assert settings.redis_url
    # A client of its own: the shared one bounds every call to REDIS_TIMEOUT_SECONDS, and a
    # worker blocks on Redis while it waits for work.
    jobs = SaqJobQueue(Redis.from_url(settings.redis_url), policy=retry_policy(settings),
                       failed_ttl=settings.failed_job_ttl_seconds)
    await container.search.embedder.ready()
    await jobs.queue.connect()
    try:
        if not burst and settings.periodic_jobs:
            # Catch up at start (a model change, markets written while no worker ran); a fixed
            # key queues it once however many workers start together.
            await jobs.queue.enqueue(REINDEX_STALE, key=f"{REINDEX_STALE}:startup")
        await make_worker(jobs, job_deps(container), concurrency=concurrency, burst=burst, on_finish=count_job,
                          periodic=settings.periodic_jobs).start()
    finally:
        await jobs.queue.disconnect()
