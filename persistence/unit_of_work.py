"""The SQL unit of work: one transaction, rolled back on exit unless committed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine

from domain.events import AfterCommit, MarketWrites
from domain.ports import MarketRepository
from persistence.database import Session, TransactionLost
from persistence.repositories.embeddings import SqlEmbeddingRepository
from persistence.repositories.idempotency import SqlIdempotencyRepository
from persistence.repositories.ledger import SqlLedgerRepository
from persistence.repositories.markets import SqlMarketRepository
from persistence.repositories.positions import SqlPositionRepository
from persistence.repositories.price_points import SqlPricePointRepository
from persistence.repositories.users import SqlUserRepository

# What wraps the market repository for reads (the application's cache), if anything.
ReadMarkets = Callable[[MarketRepository], MarketRepository]


class Repositories:
    """The repositories over one session (a request's scope), markets read through `read_markets` when given."""

    def __init__(
        self, session: Session, *, read_markets: ReadMarkets | None = None, after_commit: AfterCommit | None = None
    ) -> None:
        self.session = session
        self.users = SqlUserRepository(session)
        sql_markets = SqlMarketRepository(session)
        self.markets: MarketRepository = read_markets(sql_markets) if read_markets is not None else sql_markets
        self.positions = SqlPositionRepository(session)
        self.ledger = SqlLedgerRepository(session)
        self.price_points = SqlPricePointRepository(session)
        self.idempotency = SqlIdempotencyRepository(session)
        self.embeddings = SqlEmbeddingRepository(session)
        self._after_commit = after_commit

    def unit_of_work(self) -> SqlUnitOfWork:
        """A transaction on this scope's session; the commit hook runs after it commits."""
        return SqlUnitOfWork(self.session, after_commit=self._after_commit)

    async def release(self) -> None:
        """The session's connection back to the pool (a broken one dropped); the next statement takes one."""
        await self.session.release()

    async def close(self) -> None:
        """End the scope: the connection back, later statements refused."""
        await self.session.close()


class SqlUnitOfWork(Repositories):
    """A transaction over a session: the request's own (one connection per request, so a
    request never waits on the pool twice), or a fresh one it then closes (the CLI's)."""

    def __init__(
        self, session: Session, *, owns_session: bool = False, after_commit: AfterCommit | None = None
    ) -> None:
        super().__init__(session, after_commit=after_commit)
        self.markets: SqlMarketRepository = SqlMarketRepository(session)  # writes never read the cache
        self._owns_session = owns_session
        self._after_commit = after_commit
        self._committed = False
        self._losses = session.losses

    @classmethod
    def standalone(cls, engine: AsyncEngine, *, after_commit: AfterCommit | None = None) -> SqlUnitOfWork:
        return cls(Session(engine), owns_session=True, after_commit=after_commit)

    async def __aenter__(self) -> SqlUnitOfWork:
        self._committed = False
        self._losses = self.session.losses
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            await self.session.rollback()
        if self._owns_session:
            await self.session.close()

    async def commit(self) -> None:
        """Commit, then announce what was written (caches invalidate, subscribers hear of it).

        Refused when the session lost a connection with this transaction's first statements on it:
        what follows ran on another connection, and committing it alone would keep half the work.
        """
        if self.session.losses != self._losses:
            raise TransactionLost("the transaction's connection was lost before the commit")
        await self.session.commit()
        self._committed = True
        writes, self.markets.writes = self.markets.writes, MarketWrites()
        if writes and self._after_commit is not None:
            await self._after_commit(writes)


@dataclass(frozen=True, slots=True)
class Database:
    """Where scopes and units of work come from: the engine, the hook run after every durable commit
    that wrote markets, and what wraps the market repository for reads (the cache), all fixed at start."""

    engine: AsyncEngine
    after_commit: AfterCommit | None = None
    read_markets: ReadMarkets | None = None

    def scope(self) -> Repositories:
        """Repositories over a new session, which takes a pooled connection only when it needs one."""
        return Repositories(Session(self.engine), read_markets=self.read_markets, after_commit=self.after_commit)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A unit of work on its own connection (the CLI's, the jobs', the index's; requests use their scope's)."""
        return SqlUnitOfWork.standalone(self.engine, after_commit=self.after_commit)
