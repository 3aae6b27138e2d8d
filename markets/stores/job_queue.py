"""The job queue: saq over Redis when the process has Redis, else an in-process queue with its worker.

In Redis: the queue the API enqueues on, and the workers (`markets worker`, as many as wanted) that run
them. Periodic jobs are saq cron jobs with fixed keys, so however many workers run, each period's run is
queued once. saq keeps a finished job for its `ttl`; a job that failed every attempt is kept longer
(`failed_ttl`), listed in a sorted set of its own, and logged with its id and error.

In process, for a server without Redis: the same job functions and retry policy, on asyncio tasks of
`markets serve` itself. Jobs live in memory, so a restart loses those not run yet: the periodic
`reindex_stale`, which also runs at start, indexes any market so left behind.

Both are the domain's `JobQueue`; `build` picks one.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
import traceback
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from saq import CronJob, Job, Status, Worker
from saq.queue.redis import RedisQueue
from saq.types import PartialTimersDict

from domain.ports import FailedJob, QueueStats
from markets.jobs import FUNCTIONS, PERIODIC, JobDeps, JobFunction, OnFinish, RetryPolicy, log_failure, timeout_of
from markets.observability.metrics import count_job
from markets.redis_client import namespace
from markets.settings import Settings

log = logging.getLogger("markets.jobs")

# After the deployment's namespace (markets.redis_client.namespace): saq keeps the queue's keys under
# `saq:<name>:` and `saq:job:<name>:`, so a worker takes only its own database's jobs.
QUEUE_NAME = "jobs"
# A stopping worker lets its running jobs finish this long before cancelling (they are then retried).
SHUTDOWN_GRACE_SECONDS = 20
OUTCOMES = {Status.COMPLETE: "complete", Status.FAILED: "failed", Status.QUEUED: "retried"}


class SaqJobQueue:
    """The domain's `JobQueue` over a saq `RedisQueue`; every job gets the retry policy on enqueue."""

    backend = "redis"

    def __init__(self, redis: Redis, *, policy: RetryPolicy, failed_ttl: int, namespace: str) -> None:
        self.redis = redis
        self.policy = policy
        self.failed_ttl = failed_ttl
        self.name = namespace + QUEUE_NAME
        self.failed_key = f"{self.name}:failed"
        self.queue = RedisQueue(redis, name=self.name)
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
            pipe.llen(self.queue.namespace("queued"))
            pipe.llen(self.queue.namespace("active"))
            pipe.zcard(self.queue.namespace("incomplete"))
            pipe.zcount(self.failed_key, now - self.failed_ttl, "+inf")
            pipe.zcount(self.queue.namespace("stats"), int(now * 1000), "+inf")
            queued, active, incomplete, failed, workers = await pipe.execute()
        return QueueStats(
            queued=queued, active=active, scheduled=max(0, incomplete - queued - active), failed=failed,
            workers=workers,
        )

    async def clear(self) -> None:
        """Delete every job of this queue, waiting, running or kept as failed (saq's keys and ours)."""
        patterns = (f"saq:{self.name}:*", f"saq:job:{self.name}:*", self.failed_key)
        keys = [key for pattern in patterns async for key in self.redis.scan_iter(match=pattern)]
        if keys:
            await self.redis.delete(*keys)

    async def failed(self, limit: int = 20) -> list[FailedJob]:
        found = await self.redis.zrevrange(self.failed_key, 0, max(limit - 1, 0))
        keys = [key.decode() if isinstance(key, bytes) else str(key) for key in found]
        return [failed_job(job) for job in await self.queue.jobs(keys) if job is not None]

    async def record_failure(self, job: Job) -> None:
        """Keep a job that failed for good beyond saq's ttl, list it, and log it."""
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.expire(job.id, self.failed_ttl)
            pipe.zadd(self.failed_key, {job.key: now})
            pipe.zremrangebyscore(self.failed_key, 0, now - self.failed_ttl)
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
    timers: PartialTimersDict | None = None, periodic: bool = True,
) -> MarketsWorker:
    """A saq worker running the job functions with `deps`; `burst` stops it once the queue is empty."""
    cron = [CronJob(functions[name], cron=line) for name, _, line in PERIODIC if name in functions and periodic]
    return MarketsWorker(
        jobs.queue, functions=list(functions.items()), concurrency=concurrency, cron_jobs=cron, burst=burst,
        # Bounded waits for work, so a stopping worker's idle tasks end promptly.
        dequeue_timeout=0.2 if burst else 1.0, shutdown_grace_period_s=SHUTDOWN_GRACE_SECONDS,
        timers=timers,
        **hooks(jobs, deps, concurrency, on_finish),
    )


def hooks(jobs: SaqJobQueue, deps: JobDeps, concurrency: int, on_finish: OnFinish) -> dict[str, Any]:
    """saq's lifecycle hooks: the deps into the context, each outcome counted, failures kept."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = deps
        log.info("job worker ready: queue %s, embedder %s, %d at a time", jobs.name, deps.embedder.name, concurrency)

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


FAILED_KEPT = 1000
STOP_GRACE_SECONDS = 10.0


@dataclass
class LocalJob:
    function: str
    kwargs: dict[str, Any]
    id: str = field(default_factory=lambda: f"local:{uuid.uuid4().hex}")
    attempts: int = 0
    error: str | None = None


class LocalJobQueue:
    """A `JobQueue` in memory, with its worker: `start` runs it; `run_pending` runs what is queued
    now in the caller's task (tests, and anything that wants the work done before it goes on)."""

    backend = "in-process"

    def __init__(
        self, *, policy: RetryPolicy, concurrency: int, functions: Mapping[str, JobFunction] = FUNCTIONS,
        on_finish: OnFinish = lambda function, outcome: None, periodic: bool = True,
    ) -> None:
        self.policy = policy
        self.concurrency = concurrency
        self.functions = dict(functions)
        self.on_finish = on_finish
        self.periodic = periodic
        self._queue: asyncio.Queue[LocalJob] = asyncio.Queue()
        self._retrying: set[asyncio.Task[None]] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._active = 0
        self._failed: deque[FailedJob] = deque(maxlen=FAILED_KEPT)
        self._deps: JobDeps | None = None

    @property
    def running(self) -> bool:
        return bool(self._workers)

    async def enqueue(self, function: str, **kwargs: object) -> str:
        if function not in self.functions:
            raise ValueError(f"no job function named {function!r}")
        job = LocalJob(function, dict(kwargs))
        self._queue.put_nowait(job)
        return job.id

    async def stats(self) -> QueueStats:
        return QueueStats(
            queued=self._queue.qsize(), active=self._active, scheduled=len(self._retrying), failed=len(self._failed),
            workers=1 if self.running else 0,
        )

    async def failed(self, limit: int = 20) -> list[FailedJob]:
        return list(reversed(self._failed))[:limit]

    async def clear(self) -> None:
        """Drop every job: queued, waiting to be retried, kept as failed."""
        for retry in self._retrying:
            retry.cancel()
        self._retrying.clear()
        self._queue = asyncio.Queue()
        self._failed.clear()

    def start(self, deps: JobDeps) -> None:
        """Run the worker: `concurrency` consumers, and the periodic jobs (each due at once) unless off."""
        self._deps = deps
        if self.running:
            return
        self._workers = [asyncio.create_task(self._consume(), name="job-worker") for _ in range(self.concurrency)]
        if self.periodic:
            self._workers += [asyncio.create_task(self._every(name, seconds)) for name, seconds, _ in PERIODIC]
        log.info("in-process job worker started (%d at a time)", self.concurrency)

    async def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let running jobs finish (up to `grace` seconds), then stop; queued jobs are dropped."""
        tasks, self._workers = [*self._workers, *self._retrying], []
        deadline = asyncio.get_running_loop().time() + grace
        while self._active and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def run_pending(self, deps: JobDeps) -> int:
        """Run queued jobs here until none is left, retries included; how many attempts ran."""
        self._deps = deps
        ran = 0
        while not self._queue.empty() or self._retrying:
            try:
                job = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.01)
                continue
            await self._run(job)
            ran += 1
        return ran

    async def _consume(self) -> None:
        while True:
            job = await self._queue.get()
            await self._run(job)

    async def _every(self, function: str, seconds: float) -> None:
        while True:
            await self.enqueue(function)
            await asyncio.sleep(seconds)

    async def _run(self, job: LocalJob) -> None:
        """One attempt: done, retried after a backoff, or failed for good (kept and logged)."""
        assert self._deps is not None, "start the worker (or run_pending) with the job deps first"
        job.attempts += 1
        self._active += 1
        try:
            async with asyncio.timeout(timeout_of(job.function)):
                await self.functions[job.function]({"deps": self._deps, "job": job}, **job.kwargs)
        except Exception:  # noqa: BLE001 - any failure of a job is retried, then kept
            job.error = traceback.format_exc()
            self._after_failure(job)
        else:
            self.on_finish(job.function, "complete")
        finally:
            self._active -= 1

    def _after_failure(self, job: LocalJob) -> None:
        if job.attempts < self.policy.attempts:
            log.warning("job %s (%s) failed, attempt %d of %d; retrying", job.id, job.function, job.attempts,
                        self.policy.attempts)
            self.on_finish(job.function, "retried")
            retry = asyncio.create_task(self._retry_later(job, self.policy.delay_after(job.attempts)))
            self._retrying.add(retry)
            retry.add_done_callback(self._retrying.discard)
            return
        self.on_finish(job.function, "failed")
        self._failed.append(FailedJob(
            id=job.id, function=job.function, kwargs=job.kwargs, attempts=job.attempts, error=job.error or "",
            failed_at=datetime.now(UTC),
        ))
        log_failure(job.id, job.function, job.kwargs, job.attempts, job.error)

    async def _retry_later(self, job: LocalJob, delay: float) -> None:
        await asyncio.sleep(delay)
        self._queue.put_nowait(job)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(retries=settings.job_retries, delay=settings.job_retry_delay_seconds)


# Either queue: the domain's JobQueue, and `clear` (tests, between cases).
Queue = SaqJobQueue | LocalJobQueue


def saq_queue(settings: Settings, redis: Redis) -> SaqJobQueue:
    """The deployment's queue in Redis (the server's, whose client `build` is given, and a worker's, with a
    client of its own): one name for both, in the deployment's namespace."""
    return SaqJobQueue(
        redis, policy=retry_policy(settings), failed_ttl=settings.failed_job_ttl_seconds, namespace=namespace(settings)
    )


def build(settings: Settings, redis: Redis | None) -> Queue:
    """saq over the shared Redis when there is one, else the in-process queue."""
    if redis is not None:
        return saq_queue(settings, redis)
    return LocalJobQueue(policy=retry_policy(settings), concurrency=settings.job_concurrency, on_finish=count_job,
                         periodic=settings.periodic_jobs)
