"""Cross-origin access for browsers, from CORS_ORIGINS ("*" allows any origin)."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from markets.settings import Settings

ALLOWED_METHODS = ["GET", "POST"]
ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Request-ID"]
EXPOSED_HEADERS = ["X-Request-ID"]


def cors_middleware(settings: Settings) -> list[Middleware]:
    """Starlette's CORS middleware for the configured origins; none when CORS_ORIGINS is empty."""
    origins = settings.cors_origin_list
    if not origins:
        return []
    return [
        Middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=ALLOWED_METHODS, allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
        )
    ]
