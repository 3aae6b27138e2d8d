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
    """A transaction over a session: the request's own (one connection per request, so a
    request never waits on the pool twice), or a fresh one it then closes (the CLI's)."""

    def __init__(self, session: Session, *, owns_session: bool = False) -> None:
        super().__init__(session)
        self._owns_session = owns_session
        self._committed = False

    @classmethod
    def standalone(cls, engine: AsyncEngine) -> SqlUnitOfWork:
        return cls(Session(engine), owns_session=True)

    async def __aenter__(self) -> SqlUnitOfWork:
        self._committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            await self.session.rollback()
        if self._owns_session:
            await self.session.close()

    async def commit(self) -> None:
        await self.session.commit()
        self._committed = True
