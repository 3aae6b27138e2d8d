"""Liveness, readiness and the Prometheus scrape."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from markets.application import Application
from markets.observability.metrics import REDIS_FAILURES, scrape
from persistence.database import ping

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


async def database_state(app: Application) -> str:
    return "ok" if await answers(ping(app.engine), CHECK_TIMEOUT_SECONDS) else "down"


async def redis_state(app: Application) -> str:
    """Redis: "off" without REDIS_URL, else whether it answers PING (a failure is counted)."""
    if app.redis is None:
        return "off"
    if await answers(app.redis.ping(), app.settings.redis_timeout_seconds):
        return "ok"
    REDIS_FAILURES.labels("readyz").inc()
    return "down"


async def queue_state(app: Application) -> dict[str, object]:
    """Where jobs run, the queue depth and the failed jobs kept (null when the queue cannot be read)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            stats = await app.jobs.stats()
    except Exception:  # noqa: BLE001 - reported, never fatal: requests are served without the queue
        return {"jobs": app.jobs.backend, "queue_depth": None, "failed_jobs": None}
    return {"jobs": app.jobs.backend, "queue_depth": stats.queued, "failed_jobs": stats.failed}


async def readyz(request: Request) -> JSONResponse:
    """200 while the database answers (Redis, the embedder, the job queue are reported, never
    required), 503 otherwise."""
    app: Application = request.app.state.application
    database, redis, queue = await asyncio.gather(
        database_state(app), redis_state(app), queue_state(app)
    )
    states = {"database": database, "redis": redis, "embedder": app.search.embedder.name, **queue}
    return JSONResponse(states, status_code=200 if database == "ok" else 503)


async def metrics_endpoint(request: Request) -> Response:
    """GET /metrics in the Prometheus text format."""
    application: Application = request.app.state.application
    return Response(await scrape(application.jobs), media_type=CONTENT_TYPE_LATEST)
