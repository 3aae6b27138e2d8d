"""The domain's entities: plain immutable records, free of any framework."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from domain.roles import Permission, Role, grants


class MarketStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    RESOLVED = "RESOLVED"
    CANCELLED = "CANCELLED"


class Outcome(enum.Enum):
    YES = "YES"
    NO = "NO"


class TransactionKind(enum.Enum):
    """What moved money in or out of a balance."""

    GRANT = "GRANT"
    BUY = "BUY"
    SELL = "SELL"
    PAYOUT = "PAYOUT"
    REFUND = "REFUND"
    ADJUSTMENT = "ADJUSTMENT"


ZERO = Decimal("0.00")


def pool_probability(yes_pool: Decimal, no_pool: Decimal) -> float:
    """noPool / (yesPool + noPool): exact as a fraction, rounded once to the contract's Float."""
    return float(Fraction(no_pool) / (Fraction(yes_pool) + Fraction(no_pool)))


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    created_at: datetime
    balance: Decimal
    password_hash: str = ""

    def can(self, permission: Permission) -> bool:
        return grants(self.role, permission)


@dataclass(frozen=True, slots=True)
class Market:
    id: int
    name: str
    description: str
    status: MarketStatus
    volume: Decimal
    end_date: datetime | None
    resolved_outcome: Outcome | None
    creator_id: int
    created_at: datetime
    updated_at: datetime
    # The market maker's pools: the shares it holds.
    yes_pool: Decimal
    no_pool: Decimal

    @property
    def probability(self) -> float:
        """noPool / (yesPool + noPool), exact until the one rounding to a float."""
        return pool_probability(self.yes_pool, self.no_pool)


@dataclass(frozen=True, slots=True)
class Position:
    id: int
    market_id: int
    user_id: int
    outcome: Outcome
    amount: Decimal
    created_at: datetime
    shares: Decimal
    proceeds: Decimal | None = None
    sold_at: datetime | None = None
    payout: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Transaction:
    """One change of a user's balance: signed `amount`, and the balance right after it."""

    id: int
    user_id: int
    kind: TransactionKind
    amount: Decimal
    balance_after: Decimal
    market_id: int | None
    position_id: int | None
    note: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PricePoint:
    """The pools right after a market's creation or a trade; the probability follows from them exactly."""

    id: int
    market_id: int
    yes_pool: Decimal
    no_pool: Decimal
    at: datetime

    @property
    def probability(self) -> float:
        return pool_probability(self.yes_pool, self.no_pool)


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A viewer's key for one purchase: what it asked for and the position it made."""

    user_id: int
    key: str
    market_id: int
    outcome: Outcome
    amount: Decimal
    position_id: int | None
    created_at: datetime
