"""In-memory fakes of the domain's ports: just enough repository behaviour for the services under test,
with the same contracts as the SQL ones (a conditional update answers None when its condition fails)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType

from domain.entities import (
    IdempotencyKey,
    Market,
    MarketStatus,
    Outcome,
    Position,
    Transaction,
    TransactionKind,
    User,
)
from domain.pagination import Page, PageRequest
from domain.ports import Clock, MarketChanges
from domain.roles import Role

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def clock() -> datetime:
    return NOW


class FakeUsers:
    def __init__(self) -> None:
        self.rows: dict[int, User] = {}

    async def add(self, *, email: str, name: str, password_hash: str, role: Role, now: datetime) -> User:
        user = User(id=len(self.rows) + 1, email=email, name=name, role=role, created_at=now, balance=Decimal("0.00"),
                    password_hash=password_hash)
        self.rows[user.id] = user
        return user

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, User]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    async def get_by_email(self, email: str) -> User | None:
        return next((u for u in self.rows.values() if u.email == email), None)

    async def set_role(self, user_id: int, role: Role) -> User | None:
        if user_id not in self.rows:
            return None
        self.rows[user_id] = replace(self.rows[user_id], role=role)
        return self.rows[user_id]

    async def page(self, *, role: Role | None, request: PageRequest) -> Page[User]:
        items = [u for u in self.rows.values() if role is None or u.role is role]
        return Page(items=items, keys=[(u.id,) for u in items])

    async def count(self, *, role: Role | None) -> int:
        return len((await self.page(role=role, request=PageRequest())).items)


class FakeMarkets:
    def __init__(self) -> None:
        self.rows: dict[int, Market] = {}
        self.deleted: list[int] = []

    async def add(self, *, name: str, description: str, end_date: datetime | None, creator_id: int,
                  liquidity: Decimal, now: datetime) -> Market:
        market = Market(id=len(self.rows) + len(self.deleted) + 1, name=name, description=description,
                        status=MarketStatus.ACTIVE, volume=Decimal("0.00"), end_date=end_date, resolved_outcome=None,
                        creator_id=creator_id, created_at=now, updated_at=now, yes_pool=liquidity, no_pool=liquidity)
        self.rows[market.id] = market
        return market

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Market]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    async def update(self, market_id: int, changes: MarketChanges, *, now: datetime) -> Market | None:
        market = self.rows.get(market_id)
        if market is None or (changes.require_status_in is not None and market.status not in changes.require_status_in):
            return None
        updated = replace(
            market, name=changes.name or market.name,
            description=changes.description if changes.description is not None else market.description,
            status=changes.status or market.status, resolved_outcome=changes.resolved_outcome, updated_at=now,
        )
        self.rows[market_id] = updated
        return updated

    async def delete(self, market_id: int) -> bool:
        self.deleted.append(market_id)
        return self.rows.pop(market_id, None) is not None

    async def lock(self, market_id: int) -> Market | None:
        return self.rows.get(market_id)

    async def apply_trade(self, market_id: int, *, yes_pool: Decimal, no_pool: Decimal, volume_added: Decimal,
                          now: datetime) -> None:
        market = self.rows[market_id]
        self.rows[market_id] = replace(market, yes_pool=yes_pool, no_pool=no_pool, volume=market.volume + volume_added)


class FakePositions:
    def __init__(self) -> None:
        self.rows: dict[int, Position] = {}

    async def add(self, *, market_id: int, user_id: int, outcome: Outcome, amount: Decimal, shares: Decimal,
                  now: datetime) -> Position:
        position = Position(id=len(self.rows) + 1, market_id=market_id, user_id=user_id, outcome=outcome,
                            amount=amount, created_at=now, shares=shares)
        self.rows[position.id] = position
        return position

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Position]:
        return {i: self.rows[i] for i in ids if i in self.rows}

    async def mark_sold(self, position_id: int, *, proceeds: Decimal, now: datetime) -> Position | None:
        held = self.rows[position_id]
        if held.sold_at is not None:
            return None
        self.rows[position_id] = replace(held, proceeds=proceeds, sold_at=now)
        return self.rows[position_id]


@dataclass
class FakeLedger:
    balances: dict[int, Decimal] = field(default_factory=dict)
    transactions: list[Transaction] = field(default_factory=list)
    settled: list[tuple[int, Outcome | None]] = field(default_factory=list)

    async def change_balance(self, *, user_id: int, amount: Decimal, kind: TransactionKind, clock: Clock,
                             market_id: int | None = None, position_id: int | None = None,
                             note: str | None = None) -> Transaction | None:
        after = self.balances.get(user_id, Decimal("0.00")) + amount
        if after < 0:
            return None
        self.balances[user_id] = after
        done = Transaction(id=len(self.transactions) + 1, user_id=user_id, kind=kind, amount=amount,
                           balance_after=after, market_id=market_id, position_id=position_id, note=note,
                           created_at=clock())
        self.transactions.append(done)
        return done

    async def settle(self, *, market_id: int, winner: Outcome | None, clock: Clock) -> int:
        self.settled.append((market_id, winner))
        return 0

    async def detach_market(self, market_id: int) -> None:
        return None


class FakePricePoints:
    def __init__(self) -> None:
        self.added: list[tuple[int, Decimal, Decimal]] = []

    async def add(self, *, market_id: int, yes_pool: Decimal, no_pool: Decimal, at: datetime) -> None:
        self.added.append((market_id, yes_pool, no_pool))


class FakeIdempotency:
    async def claim(self, key: IdempotencyKey, *, expired_before: datetime) -> bool:
        return True

    async def attach(self, user_id: int, key: str, position_id: int) -> None:
        return None


class FakeUnitOfWork:
    """Every repository in memory; `commits` counts the transactions that committed."""

    def __init__(self) -> None:
        self.users = FakeUsers()
        self.markets = FakeMarkets()
        self.positions = FakePositions()
        self.ledger = FakeLedger()
        self.price_points = FakePricePoints()
        self.idempotency = FakeIdempotency()
        self.commits = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        return None

    async def commit(self) -> None:
        self.commits += 1

    async def user(self, role: Role, *, balance: Decimal = Decimal("1000.00")) -> User:
        """A stored user of `role` holding `balance`."""
        user = await self.users.add(email=f"{role.value.lower()}{len(self.users.rows)}@example.com", name=role.value,
                                    password_hash="", role=role, now=NOW)
        self.ledger.balances[user.id] = balance
        return user

    async def market(self, creator: User) -> Market:
        """A stored ACTIVE market of `creator`'s."""
        return await self.markets.add(name="Will it rain?", description="", end_date=None, creator_id=creator.id,
                                      liquidity=Decimal("100.00"), now=NOW)
