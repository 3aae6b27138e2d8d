"""What a resolver sees: the viewer, the request's loaders and scope (its unit-of-work factory), and the
services the application built once (graph.context.Services) — never the application itself."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from graphql import DocumentNode

from domain import views
from domain.entities import User
from domain.ports import Clock, Embedder, JobQueue, PasswordHasher, StoreFaults, UnitOfWork, VectorIndex
from domain.services.ledger import Economy
from graph.cursors import CursorCodec
from graph.feeds import Feed
from graph.loaders import Loaders
from graph.ports import MarketEvents, RateLimiter, Scope, ScopeFactory, Tokens

# Close codes a subscription may drop its socket with (graphql-transport-ws; 1013 as RFC 6455 has it).
CLOSE_FORBIDDEN = 4403
CLOSE_TRY_AGAIN_LATER = 1013


@dataclass(frozen=True, slots=True)
class Services:
    """Everything resolvers use besides the viewer and the request's scope; built once, by markets.bootstrap."""

    scopes: ScopeFactory
    clock: Clock
    economy: Economy
    cursors: CursorCodec
    hasher: PasswordHasher
    tokens: Tokens
    rate_limiter: RateLimiter
    jobs: JobQueue
    # Searches: the embedder behind a cache of query vectors, and this process's vector index.
    query_embedder: Embedder
    index: VectorIndex
    events: MarketEvents
    subscription_queue_size: int
    viewer_recheck_seconds: float
    # What a database failure means (persistence.faults): SERVICE_UNAVAILABLE, or a mutation to run again.
    faults: StoreFaults


@dataclass
class Context:
    """One request's context (a subscription's: SubscriptionContext). The transport makes it."""

    services: Services
    scope: Scope
    loaders: Loaders
    viewer: User | None = None
    client_address: str = ""
    # The key the viewer's requests count against (markets.stores.rate_limits); empty when nothing counts them.
    rate_key: str = ""
    # Set by the validation hook: the parsed document, and whether it failed validation.
    document: DocumentNode | None = None
    validation_failed: bool = field(default=False)

    @classmethod
    def open(cls, services: Services) -> Context:
        """A context over a fresh scope, anonymous until the transport sets its viewer."""
        scope = services.scopes()
        return cls(services=services, scope=scope, loaders=Loaders(scope))

    def unit_of_work(self) -> UnitOfWork:
        """A transaction on this request's connection."""
        return self.scope.unit_of_work()

    def open_scope(self) -> None:
        """Fresh repositories and loaders, over a session that takes no connection until it needs one."""
        self.scope = self.services.scopes()
        self.loaders = Loaders(self.scope)

    async def release(self) -> None:
        """End the scope: its connection back to the pool (nothing when it took none), its late
        statements refused; a fresh scope, which takes no connection until it needs one, from now on."""
        scope = self.scope
        self.open_scope()
        await scope.close()


def ignore_drop(code: int, reason: str, label: str) -> None:
    """No socket to close (a context made outside one)."""


@dataclass
class ViewerCheck:
    """The socket's viewer as last read from the database, and when: shared by its operations."""

    user: User | None = None
    at: float = float("-inf")


@dataclass
class SubscriptionContext(Context):
    """A subscription's context: what graph.subscriptions needs of the socket it runs on (the transport's
    SocketContext adds the rest). Each event is read in a scope of fresh loaders."""

    # Close the socket from the server's side: code, reason, metric label.
    drop: Callable[[int, str, str], None] = ignore_drop
    # The operation's subscribed feeds, unsubscribed when it ends however it ends.
    feeds: list[Feed] = field(default_factory=list)
    # Shared by the socket's operations (copies share this object): the viewer last read.
    viewer_check: ViewerCheck = field(default_factory=ViewerCheck)

    async def recheck_viewer(self) -> None:
        """The viewer as the database has it now, read at most every WS_VIEWER_RECHECK_SECONDS.

        Needs an open scope (the caller's); a user who no longer exists closes the socket (4403).
        """
        if self.viewer is None:
            return
        check = self.viewer_check
        if time.monotonic() - check.at >= self.services.viewer_recheck_seconds:
            check.user = await views.current_user(reads=self.scope, user_id=self.viewer.id)
            check.at = time.monotonic()
        if check.user is None:
            await self.viewer_gone()
        self.viewer = check.user

    async def viewer_gone(self) -> None:
        """Close the socket (4403) of a user who no longer exists. This scope's connection goes back first,
        so that the cancellation of the socket's operations, this one's included, lands on no statement."""
        await self.release()
        self.drop(CLOSE_FORBIDDEN, "The token's user no longer exists", "user_gone")
        await asyncio.sleep(0)  # where this operation's own cancellation is delivered

    async def close(self) -> None:
        """The operation ended: unsubscribe its feeds and give back its connection."""
        for feed in self.feeds:
            self.services.events.unsubscribe(feed)
        await self.release()
