"""The in-process job queue and worker, for a server without Redis: the same job functions and
retry policy as the saq workers, on asyncio tasks of `markets serve` itself. Jobs live in memory,
so a restart loses those not run yet: the periodic `reindex_stale`, which also runs at start,
indexes any market so left behind."""

from __future__ import annotations

import asyncio
import logging
import traceback
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.ports import FailedJob, QueueStats
from markets.jobs import FUNCTIONS, PERIODIC, JobDeps, JobFunction, OnFinish, RetryPolicy, log_failure, timeout_of

log = logging.getLogger("markets.jobs")

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

