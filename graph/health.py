"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from graph.bootstrap import Container

CHECK_TIMEOUT_SECONDS = 2.0


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def database_state(container: Container) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            async with container.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means not ready
        return "down"
    return "ok"


async def readyz(request: Request) -> JSONResponse:
    container: Container = request.app.state.container
    redis = "off" if not container.settings.redis_url else "unknown"
    states = {"database": await database_state(container), "redis": redis}
    return JSONResponse(states, status_code=200 if states["database"] == "ok" else 503)
