"""The SQL unit of work: one transaction, rolled back on exit unless committed."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.database import Session
from persistence.repositories.markets import SqlMarketRepository
from persistence.repositories.positions import SqlPositionRepository
from persistence.repositories.users import SqlUserRepository


class Repositories:
    """The three repositories over one session."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.users = SqlUserRepository(session)
        self.markets = SqlMarketRepository(session)
        self.positions = SqlPositionRepository(session)


class SqlUnitOfWork(Repositories):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(Session(engine))

    async def __aenter__(self) -> SqlUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
