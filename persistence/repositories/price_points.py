"""Price history over SQL: the pools after each event, oldest first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from domain.entities import PricePoint
from domain.pagination import Page, PageRequest
from persistence.database import Session
from persistence.keyset import SortColumn
from persistence.repositories.queries import count_by_parent, fetch_pages_by_parent
from persistence.tables import price_points

OLDEST_FIRST = (SortColumn(price_points.c.at, False), SortColumn(price_points.c.id, False))


def to_price_point(row: Any) -> PricePoint:
    return PricePoint(id=row.id, market_id=row.market_id, yes_pool=row.yes_pool, no_pool=row.no_pool, at=row.at)


class SqlPricePointRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(self, *, market_id: int, yes_pool: Decimal, no_pool: Decimal, at: datetime) -> None:
        await self._session.execute(
            insert(price_points).values(market_id=market_id, yes_pool=yes_pool, no_pool=no_pool, at=at)
        )

    async def pages_by_market(
        self, market_ids: Sequence[int], request: PageRequest
    ) -> Mapping[int, Page[PricePoint]]:
        return await fetch_pages_by_parent(
            self._session, price_points, price_points.c.market_id, market_ids, OLDEST_FIRST, request, to_price_point
        )

    async def count_by_market(self, market_ids: Sequence[int]) -> Mapping[int, int]:
        return await count_by_parent(self._session, price_points.c.market_id, market_ids)
