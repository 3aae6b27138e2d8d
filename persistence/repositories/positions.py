"""Positions over SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, update

from domain.entities import Outcome, Position
from domain.pagination import Page, PageRequest
from persistence.database import Session
from persistence.keyset import SortColumn
from persistence.repositories.queries import count_by_parent, fetch_pages_by_parent, get_many
from persistence.tables import positions

NEWEST_FIRST = (SortColumn(positions.c.created_at, True), SortColumn(positions.c.id, True))


def to_position(row: Any) -> Position:
    return Position(
        id=row.id, market_id=row.market_id, user_id=row.user_id, outcome=Outcome(row.outcome),
        amount=row.amount, created_at=row.created_at, shares=row.shares, proceeds=row.proceeds,
        sold_at=row.sold_at, payout=row.payout,
    )


class SqlPositionRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(
        self, *, market_id: int, user_id: int, outcome: Outcome, amount: Decimal, shares: Decimal, now: datetime
    ) -> Position:
        statement = insert(positions).values(
            market_id=market_id, user_id=user_id, outcome=outcome.value, amount=amount, shares=shares, created_at=now
        ).returning(positions)
        return to_position((await self._session.execute(statement)).one())

    async def mark_sold(self, position_id: int, *, proceeds: Decimal, now: datetime) -> Position | None:
        statement = (
            update(positions)
            .where(positions.c.id == position_id, positions.c.sold_at.is_(None), positions.c.payout.is_(None))
            .values(proceeds=proceeds, sold_at=now)
            .returning(positions)
        )
        row = (await self._session.execute(statement)).first()
        return to_position(row) if row else None

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Position]:
        return await get_many(self._session, positions, ids, to_position)

    async def pages_by_market(self, market_ids: Sequence[int], request: PageRequest) -> Mapping[int, Page[Position]]:
        return await fetch_pages_by_parent(
            self._session, positions, positions.c.market_id, market_ids, NEWEST_FIRST, request, to_position
        )

    async def pages_by_user(self, user_ids: Sequence[int], request: PageRequest) -> Mapping[int, Page[Position]]:
        return await fetch_pages_by_parent(
            self._session, positions, positions.c.user_id, user_ids, NEWEST_FIRST, request, to_position
        )

    async def count_by_market(self, market_ids: Sequence[int]) -> Mapping[int, int]:
        return await count_by_parent(self._session, positions.c.market_id, market_ids)

    async def count_by_user(self, user_ids: Sequence[int]) -> Mapping[int, int]:
        return await count_by_parent(self._session, positions.c.user_id, user_ids)
