"""Extra app instances over the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from markets.asgi import create_app
from markets.bootstrap import bootstrap
from markets.passwords import Argon2Hasher
from tests.conftest import FAST_HASHER, Api, test_settings


@asynccontextmanager
async def instance(database_url: str, *, parts: dict[str, Any] | None = None, **overrides: Any) -> AsyncIterator[Api]:
    """Another app instance (its own engine, cache and limiter) on the same database: `overrides` are settings,
    `parts` replace what bootstrap would build (its keyword arguments: a rate limiter, a commit listener)."""
    built = {"hasher": Argon2Hasher(FAST_HASHER), **(parts or {})}
    container = bootstrap(test_settings(database_url, **overrides), **built)
    transport = httpx.ASGITransport(app=create_app(application=container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield Api(http=http, container=container)
    finally:
        await container.close()
