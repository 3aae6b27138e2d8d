"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from markets.bootstrap import Container
from markets.observability.metrics import REDIS_FAILURES

CHECK_TIMEOUT_SECONDS = 2.0


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def answers(check: Awaitable[object], timeout: float) -> bool:
    """Whether the check completes without an error within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            await check
    except Exception:  # noqa: BLE001 - any failure means the dependency is down
        return False
    return True


async def select_one(container: Container) -> None:
    async with container.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def database_state(container: Container) -> str:
    return "ok" if await answers(select_one(container), CHECK_TIMEOUT_SECONDS) else "down"


async def redis_state(container: Container) -> str:
    """Redis: "off" without REDIS_URL, else whether it answers PING (a failure is counted)."""
    if container.redis is None:
        return "off"
    if await answers(container.redis.ping(), container.settings.redis_timeout_seconds):
        return "ok"
    REDIS_FAILURES.labels("readyz").inc()
    return "down"


async def queue_state(container: Container) -> dict[str, object]:
    """Where jobs run, the queue depth and the failed jobs kept (null when the queue cannot be read)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            stats = await container.jobs.stats()
    except Exception:  # noqa: BLE001 - reported, never fatal: requests are served without the queue
        return {"jobs": container.jobs.backend, "queue_depth": None, "failed_jobs": None}
    return {"jobs": container.jobs.backend, "queue_depth": stats.queued, "failed_jobs": stats.failed}


async def readyz(request: Request) -> JSONResponse:
    """200 while the database answers (Redis, the embedder, the job queue are reported, never
    required), 503 otherwise."""
    container: Container = request.app.state.container
    database, redis, queue = await asyncio.gather(
        database_state(container), redis_state(container), queue_state(container)
    )
    states = {"database": database, "redis": redis, "embedder": container.search.embedder.name, **queue}
    return JSONResponse(states, status_code=200 if database == "ok" else 503)
