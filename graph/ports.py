"""What the GraphQL API needs from the application that runs it, as Protocols.

The application (markets/) implements each one, with Redis or in this process; graph/ never imports it.
The domain's own ports (repositories, the unit of work, the job queue, the embedder) are in domain/ports.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from domain.entities import User
from domain.ports import Reads, UnitOfWork
from graph.feeds import Feed


class RateLimiter(Protocol):
    """Sliding-window limits per viewer and for signUp/login (markets.stores.rate_limits); domain.errors.RateLimited
    when over."""

    async def check_viewer(self, viewer_key: str, cost: int = 1) -> None: ...
    async def check_auth(self, *, address: str, email: str) -> None: ...


class QueryStore(Protocol):
    """Where persisted queries are kept by their SHA-256 (markets.stores.persisted_queries)."""

    async def get(self, sha: str) -> str | None: ...
    async def put(self, sha: str, query: str, *, permanent: bool = False) -> None: ...


class MarketEvents(Protocol):
    """The market changes of every commit, offered to subscribed feeds (markets.stores.market_events)."""

    async def subscribe(self, feed: Feed) -> None: ...
    def unsubscribe(self, feed: Feed) -> None: ...


class Tokens(Protocol):
    """Issues the bearer token of a user who just signed up or logged in (markets.tokens)."""

    def issue(self, user: User, *, now: datetime) -> str: ...


class Scope(Reads, Protocol):
    """The repositories of one request, or of one subscription event, over one session that takes a
    pooled connection only when a statement needs one (persistence.unit_of_work.Repositories)."""

    def unit_of_work(self) -> UnitOfWork:
        """A transaction on this scope's connection; the commit hooks run after it commits."""
        ...

    async def release(self) -> None:
        """Give the connection back to the pool (a broken one is dropped); the next statement takes one."""
        ...

    async def close(self) -> None:
        """End the scope: its connection back, its late statements refused."""
        ...


ScopeFactory = Callable[[], Scope]
