"""The composition root: builds, once per process, everything a request needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from graph.auth import TokenService
from graph.cursors import CursorCodec
from graph.passwords import Argon2Hasher
from graph.settings import Settings
from persistence.database import make_engine
from persistence.unit_of_work import SqlUnitOfWork


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    tokens: TokenService
    cursors: CursorCodec
    hasher: Argon2Hasher = field(default_factory=Argon2Hasher)
    clock: Callable[[], datetime] = utc_now

    def unit_of_work(self) -> SqlUnitOfWork:
        """A unit of work on its own connection (for the CLI; requests use their context's)."""
        return SqlUnitOfWork.standalone(self.engine)

    async def close(self) -> None:
        await self.engine.dispose()


def bootstrap(settings: Settings, *, hasher: Argon2Hasher | None = None) -> Container:
    """Wire the process's engine, token service, cursor codec and hasher."""
    return Container(
        settings=settings,
        engine=make_engine(settings.database_url, pool_size=settings.db_pool_size),
        tokens=TokenService(secret=settings.jwt_secret, ttl_seconds=settings.jwt_ttl_seconds),
        cursors=CursorCodec(settings.jwt_secret),
        hasher=hasher or Argon2Hasher(),
    )
