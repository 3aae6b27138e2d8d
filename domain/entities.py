"""The domain's entities: plain immutable records, free of any framework."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.roles import Permission, Role, grants


class MarketStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    RESOLVED = "RESOLVED"
    CANCELLED = "CANCELLED"


class Outcome(enum.Enum):
    YES = "YES"
    NO = "NO"


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    name: str
    role: Role
    created_at: datetime
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


@dataclass(frozen=True, slots=True)
class Position:
    id: int
    market_id: int
    user_id: int
    outcome: Outcome
    amount: Decimal
    created_at: datetime
