"""The ports the domain needs: repositories, a unit of work, password hashing, a clock, and for
search and background work an embedder, a vector index and a job queue."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from domain.entities import (
    IdempotencyKey,
    Market,
    MarketStatus,
    Outcome,
    Position,
    PricePoint,
    Transaction,
    TransactionKind,
    User,
)
from domain.pagination import MarketFilter, MarketOrder, Page, PageRequest
from domain.roles import Role


@dataclass(frozen=True, slots=True)
class MarketChanges:
    """The fields an update sets; None leaves a field alone (except `clear_end_date`)."""

    name: str | None = None
    description: str | None = None
    end_date: datetime | None = None
    clear_end_date: bool = False
    status: MarketStatus | None = None
    resolved_outcome: Outcome | None = None
    # Guard against races: apply only while the market's status is one of these.
    require_status_in: frozenset[MarketStatus] | None = None


class UserRepository(Protocol):
    async def add(self, *, email: str, name: str, password_hash: str, role: Role, now: datetime) -> User: ...
    async def get_many(self, ids: Sequence[int]) -> Mapping[int, User]: ...
    async def get_by_email(self, email: str) -> User | None: ...
    async def set_role(self, user_id: int, role: Role) -> User | None: ...
    async def page(self, *, role: Role | None, request: PageRequest) -> Page[User]: ...
    async def count(self, *, role: Role | None) -> int: ...


class MarketRepository(Protocol):
    async def add(
        self, *, name: str, description: str, end_date: datetime | None, creator_id: int, liquidity: Decimal,
        now: datetime,
    ) -> Market:
        """A new ACTIVE market with both pools at `liquidity`."""
    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Market]: ...
    async def update(self, market_id: int, changes: MarketChanges, *, now: datetime) -> Market | None: ...
    async def delete(self, market_id: int) -> bool: ...
    async def lock(self, market_id: int) -> Market | None:
        """The market, its row locked until the transaction ends (trades on it queue here)."""
    async def apply_trade(
        self, market_id: int, *, yes_pool: Decimal, no_pool: Decimal, volume_added: Decimal, now: datetime
    ) -> None:
        """Set the pools after a trade and add a purchase's amount to the volume (0 for a sale)."""
    async def page(self, *, filter: MarketFilter, order: MarketOrder, request: PageRequest) -> Page[Market]: ...
    async def count(self, *, filter: MarketFilter) -> int: ...
    async def pages_by_creator(
        self, creator_ids: Sequence[int], request: PageRequest
    ) -> Mapping[int, Page[Market]]: ...
    async def count_by_creator(self, creator_ids: Sequence[int]) -> Mapping[int, int]: ...
    async def close_expired(self, *, now: datetime) -> list[int]:
        """Close every ACTIVE market whose end date has passed; the ids closed."""


class PositionRepository(Protocol):
    async def add(
        self, *, market_id: int, user_id: int, outcome: Outcome, amount: Decimal, shares: Decimal, now: datetime
    ) -> Position: ...
    async def mark_sold(self, position_id: int, *, proceeds: Decimal, now: datetime) -> Position | None:
        """Record a sale, only if the position is neither sold nor settled; None otherwise."""
    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Position]: ...
    async def pages_by_market(
        self, market_ids: Sequence[int], request: PageRequest
    ) -> Mapping[int, Page[Position]]: ...
    async def pages_by_user(self, user_ids: Sequence[int], request: PageRequest) -> Mapping[int, Page[Position]]: ...
    async def count_by_market(self, market_ids: Sequence[int]) -> Mapping[int, int]: ...
    async def count_by_user(self, user_ids: Sequence[int]) -> Mapping[int, int]: ...


class LedgerRepository(Protocol):
    """Balances and their transactions: every change is one conditional update of the balance
    and one transaction row, in the caller's database transaction."""

    async def change_balance(
        self, *, user_id: int, amount: Decimal, kind: TransactionKind, clock: Clock,
        market_id: int | None = None, position_id: int | None = None, note: str | None = None,
    ) -> Transaction | None:
        """Add the signed `amount` and record it; None (nothing done) if the balance would go below
        0.00 or the user does not exist. The clock is read after the user's row is locked, so
        each user's transactions are ordered by the moment their change committed."""
    async def settle(self, *, market_id: int, winner: Outcome | None, clock: Clock) -> int:
        """Pay every unsold, unsettled position of the market: `shares` to holders of `winner`
        (0.00 to the others), or its `amount` back when `winner` is None (a refund). Set-based:
        a fixed number of statements whatever the number of positions. The number of positions settled."""
    async def detach_market(self, market_id: int) -> None:
        """Before a market is deleted: its transactions stay, without market and position, in one
        statement (rather than two foreign-key updates per transaction during the delete)."""
    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Transaction]: ...
    async def pages_by_user(
        self, user_ids: Sequence[int], request: PageRequest
    ) -> Mapping[int, Page[Transaction]]: ...
    async def count_by_user(self, user_ids: Sequence[int]) -> Mapping[int, int]: ...


class PricePointRepository(Protocol):
    async def add(self, *, market_id: int, yes_pool: Decimal, no_pool: Decimal, at: datetime) -> None: ...
    async def pages_by_market(
        self, market_ids: Sequence[int], request: PageRequest
    ) -> Mapping[int, Page[PricePoint]]: ...
    async def count_by_market(self, market_ids: Sequence[int]) -> Mapping[int, int]: ...


class IdempotencyRepository(Protocol):
    async def claim(self, key: IdempotencyKey, *, expired_before: datetime) -> bool:
        """Store the key for this purchase unless the viewer holds it already (a key stored before
        `expired_before` counts as absent and is replaced). True when this call now owns it; the
        database settles racing claims (a loser waits for the winner's transaction)."""
    async def get(self, user_id: int, key: str) -> IdempotencyKey | None: ...
    async def attach(self, user_id: int, key: str, position_id: int) -> None: ...
    async def purge(self, *, before: datetime) -> int:
        """Delete the keys stored before `before`; how many."""


class Reads(Protocol):
    """What a request reads through outside any transaction of its own: the batch, page and count
    reads of the repositories (the API's dataloaders and the named queries of domain/views.py)."""

    @property
    def users(self) -> UserRepository: ...
    @property
    def markets(self) -> MarketRepository: ...
    @property
    def positions(self) -> PositionRepository: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def price_points(self) -> PricePointRepository: ...


class UnitOfWork(Reads, Protocol):
    """One transaction: rolled back on exit unless `commit` was called. Its repositories are read-only
    properties here, so an implementation may hold its own (SQL) classes of them."""

    @property
    def idempotency(self) -> IdempotencyRepository: ...
    @property
    def embeddings(self) -> EmbeddingRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...



class StoreFaults(Protocol):
    """What a failure of the data store means: persistence knows its driver's exceptions, the API only asks."""

    def database_down(self, error: BaseException | None) -> bool:
        """The store cannot be reached: SERVICE_UNAVAILABLE, not the request's fault."""
        ...

    def transient(self, error: BaseException) -> bool:
        """The transaction failed for reasons of timing (deadlock, serialization, dropped connection)."""
        ...


class PasswordHasher(Protocol):
    async def hash(self, password: str) -> str: ...
    async def verify(self, password_hash: str, password: str) -> bool: ...
    async def verify_unknown(self, password: str) -> None:
        """Spend the time a verify takes, so an unknown email cannot be told by timing."""


class Clock(Protocol):
    def __call__(self) -> datetime: ...


# One unit-length float32 row per text.
Vectors = NDArray[np.float32]


class Embedder(Protocol):
    """Texts to vectors; `name` and `dimension` tell one model's vectors from another's."""

    @property
    def name(self) -> str: ...
    @property
    def dimension(self) -> int: ...
    async def encode(self, texts: Sequence[str]) -> Vectors: ...


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """A market's row in the search index. `status` None marks a market that is gone (a
    tombstone, so other processes learn of the deletion); `vector` is None when not read."""

    market_id: int
    embedder: str
    dimension: int
    content_hash: str
    status: MarketStatus | None
    indexed_at: datetime
    vector: Vectors | None = None

    @property
    def removed(self) -> bool:
        return self.status is None


@dataclass(frozen=True, slots=True)
class Embedding:
    """A vector and the market text it was computed from (stored only while that text holds)."""

    market: Market
    embedder: str
    vector: Vectors
    content_hash: str

    @property
    def dimension(self) -> int:
        return int(self.vector.shape[0])


class EmbeddingRepository(Protocol):
    async def get_many(self, market_ids: Sequence[int]) -> Mapping[int, IndexEntry]:
        """Entries without their vectors."""
    async def store_if_current(self, embedding: Embedding, *, now: datetime) -> bool:
        """Store the vector unless the market's name or description changed meanwhile (or it is gone)."""
    async def store_many(self, embeddings: Sequence[Embedding], *, now: datetime) -> None: ...
    async def set_status(self, market_id: int, status: MarketStatus, *, now: datetime) -> None: ...
    async def remove(self, market_id: int, *, now: datetime) -> bool: ...
    async def remove_orphans(self, *, now: datetime) -> int:
        """Tombstone the entries of markets that no longer exist."""
    async def purge_removed(self, *, before: datetime) -> int: ...
    async def changed_since(self, since: datetime | None, *, after_id: int, limit: int) -> list[IndexEntry]:
        """Entries, vectors included, indexed after `since` (all when None), by market id after `after_id`."""
    async def markets_with_entries(self, *, after_id: int, limit: int) -> list[tuple[Market, IndexEntry | None]]:
        """Markets by id after `after_id`, each with its entry (no vector) if it has one."""


class VectorIndex(Protocol):
    async def nearest(self, vector: Vectors, *, status: MarketStatus | None, limit: int) -> list[tuple[int, float]]:
        """Market ids and scores in [0, 1], best first."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    queued: int
    active: int
    # Waiting for their time: retries in backoff, the next periodic runs.
    scheduled: int
    failed: int
    workers: int | None = None


@dataclass(frozen=True, slots=True)
class FailedJob:
    id: str
    function: str
    kwargs: Mapping[str, object]
    attempts: int
    error: str
    failed_at: datetime | None


class JobQueue(Protocol):
    @property
    def backend(self) -> str: ...
    async def enqueue(self, function: str, **kwargs: object) -> str:
        """Queue a job; its id."""
    async def stats(self) -> QueueStats: ...
    async def failed(self, limit: int = 20) -> list[FailedJob]:
        """The jobs that failed every attempt, newest first."""


# The compiled read path (graph.plan): rows of chosen columns, no entity, no unit of work, no transaction;
# every method is one statement however many ids it is given, so a plan never runs N+1.

class Row(Protocol):
    """One row: its columns by name; money columns as their exact text with two places (`12.50`),
    which is how the API writes them (sort keys keep their Decimals)."""

    def __getitem__(self, column: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Join:
    """The user a row's `column` names, read in the same statement: its `columns` come in the row as
    `alias.column` (no match: `alias.id` is None)."""

    alias: str
    column: str
    columns: tuple[str, ...]


class ReadViews(Protocol):
    """The reads of the compiled path; `columns` are column names of the named table, `joins` the
    users the rows name, read along (one round trip per level, however many references)."""

    async def viewer(self, user_id: int) -> User | None:
        """The user a token names (all but the password hash), or None."""

    async def users_by_ids(self, ids: Sequence[int], columns: Sequence[str]) -> Mapping[int, Row]:
        """Users by id, in one statement."""

    async def markets_by_ids(
        self, ids: Sequence[int], columns: Sequence[str], joins: Sequence[Join] = ()
    ) -> Mapping[int, Row]:
        """Markets by id, in one statement."""

    async def market_page(
        self, *, columns: Sequence[str], filter: MarketFilter, order: MarketOrder, request: PageRequest,
        joins: Sequence[Join] = (), counted: bool = False, keyed: bool = True,
    ) -> tuple[Page[Row], int | None]:
        """One keyset page of markets, with each row's sort key (an empty key without `keyed`); with
        `counted`, how many markets the filter matches (None when the page is empty: ask market_count)."""

    async def market_count(self, *, filter: MarketFilter) -> int:
        """How many markets the filter matches."""

    async def position_pages_by_market(
        self, market_ids: Sequence[int], columns: Sequence[str], request: PageRequest, joins: Sequence[Join] = (),
        keyed: bool = True,
    ) -> Mapping[int, Page[Row]]:
        """The same page of positions (newest first) for each market, in one statement; each row's
        sort key only when `keyed` (else an empty key)."""

    async def position_counts_by_market(self, market_ids: Sequence[int]) -> Mapping[int, int]:
        """How many positions each market has, in one statement."""
