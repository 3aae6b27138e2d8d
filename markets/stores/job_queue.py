"""Jobs in Redis through saq: the queue the API enqueues on, and the workers (`markets worker`,
as many as wanted) that run them. Periodic jobs are saq cron jobs with fixed keys, so however
many workers run, each period's run is queued once.

saq keeps a finished job for its `ttl`; a job that failed every attempt is kept longer
(`failed_ttl`), listed in a sorted set of its own, and logged with its id and error."""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from saq import CronJob, Job, Status, Worker
from saq.queue.redis import RedisQueue

from domain.ports import FailedJob, QueueStats
from markets.jobs import FUNCTIONS, PERIODIC, JobDeps, JobFunction, OnFinish, RetryPolicy, log_failure, timeout_of

log = logging.getLogger("markets.jobs")

QUEUE_NAME = "markets"
FAILED_KEY = f"markets:jobs:{QUEUE_NAME}:failed"
# A stopping worker lets its running jobs finish this long before cancelling (they are then retried).
SHUTDOWN_GRACE_SECONDS = 20
OUTCOMES = {Status.COMPLETE: "complete", Status.FAILED: "failed", Status.QUEUED: "retried"}


class SaqJobQueue:
    """The domain's `JobQueue` over a saq `RedisQueue`; every job gets the retry policy on enqueue."""

    backend = "redis"

    def __init__(self, redis: Redis, *, policy: RetryPolicy, failed_ttl: int) -> None:
        self.redis = redis
        self.policy = policy
        self.failed_ttl = failed_ttl
        self.queue = RedisQueue(redis, name=QUEUE_NAME)
        self.queue.register_before_enqueue(self._apply_policy)

    async def _apply_policy(self, job: Job) -> None:
        # saq's `retries` counts attempts; its backoff doubles retry_delay up to retry_backoff.
        job.retries = self.policy.attempts
        job.retry_delay = self.policy.delay
        job.retry_backoff = self.policy.max_delay
        job.timeout = timeout_of(job.function)

    async def enqueue(self, function: str, **kwargs: object) -> str:
        job = await self.queue.enqueue(function, **kwargs)
        # None: a job of the same key is already waiting (periodic jobs have fixed keys).
        return job.id if job is not None else ""

    async def stats(self) -> QueueStats:
        now = time.time()
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.llen(self.queue.namespace("queued")).llen(self.queue.namespace("active"))
            pipe.zcard(self.queue.namespace("incomplete")).zcount(FAILED_KEY, now - self.failed_ttl, "+inf")
            pipe.zcount(self.queue.namespace("stats"), int(now * 1000), "+inf")
            queued, active, incomplete, failed, workers = await pipe.execute()
        return QueueStats(
            queued=queued, active=active, scheduled=max(0, incomplete - queued - active), failed=failed,
            workers=workers,
        )

    async def failed(self, limit: int = 20) -> list[FailedJob]:
        keys = [key.decode() for key in await self.redis.zrevrange(FAILED_KEY, 0, max(limit - 1, 0))]
        return [failed_job(job) for job in await self.queue.jobs(keys) if job is not None]

    async def record_failure(self, job: Job) -> None:
        """Keep a job that failed for good beyond saq's ttl, list it, and log it."""
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.expire(job.id, self.failed_ttl).zadd(FAILED_KEY, {job.key: now})
            pipe.zremrangebyscore(FAILED_KEY, 0, now - self.failed_ttl)
            await pipe.execute()
        log_failure(job.id, job.function, job.kwargs or {}, job.attempts, job.error)


def failed_job(job: Job) -> FailedJob:
    completed = datetime.fromtimestamp(job.completed / 1000, UTC) if job.completed else None
    return FailedJob(
        id=job.id, function=job.function, kwargs=job.kwargs or {}, attempts=job.attempts, error=job.error or "",
        failed_at=completed,
    )


def peak_memory_mib() -> float:
    """This process's peak resident memory (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MarketsWorker(Worker[Any]):
    """saq's worker, but its upkeep loops (which sleep up to a minute) are cancelled at stop
    instead of awaited, so the grace period waits on running jobs only."""

    _upkeep: list[asyncio.Task[None]]

    async def upkeep(self) -> list[asyncio.Task[None]]:
        self._upkeep = await super().upkeep()
        return []

    async def stop(self) -> None:
        for task in getattr(self, "_upkeep", []):
            task.cancel()
        await super().stop()


def make_worker(
    jobs: SaqJobQueue, deps: JobDeps, *, concurrency: int, burst: bool = False,
    functions: Mapping[str, JobFunction] = FUNCTIONS, on_finish: OnFinish = lambda function, outcome: None,
    timers: Mapping[str, int] | None = None, periodic: bool = True,
) -> MarketsWorker:
    """A saq worker running the job functions with `deps`; `burst` stops it once the queue is empty."""
    cron = [CronJob(functions[name], cron=line) for name, _, line in PERIODIC if name in functions and periodic]
    return MarketsWorker(
        jobs.queue, functions=list(functions.items()), concurrency=concurrency, cron_jobs=cron, burst=burst,
        # Bounded waits for work, so a stopping worker's idle tasks end promptly.
        dequeue_timeout=0.2 if burst else 1.0, shutdown_grace_period_s=SHUTDOWN_GRACE_SECONDS,
        timers=dict(timers) if timers else None,  # type: ignore[arg-type]
        **hooks(jobs, deps, concurrency, on_finish),
    )


def hooks(jobs: SaqJobQueue, deps: JobDeps, concurrency: int, on_finish: OnFinish) -> dict[str, Any]:
    """saq's lifecycle hooks: the deps into the context, each outcome counted, failures kept."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = deps
        log.info("job worker ready: queue %s, embedder %s, %d at a time", QUEUE_NAME, deps.embedder.name, concurrency)

    async def shutdown(_: dict[str, Any]) -> None:
        log.info("job worker stopped; peak memory %.0f MiB", peak_memory_mib())

    async def after_process(ctx: dict[str, Any]) -> None:
        job: Job | None = ctx.get("job")
        if job is None:
            return
        on_finish(job.function, OUTCOMES.get(job.status, job.status.value))
        if job.status is Status.FAILED:
            await jobs.record_failure(job)

    return {"startup": startup, "shutdown": shutdown, "after_process": after_process}
