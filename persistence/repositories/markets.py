"""Markets over SQL: filters, orderings, atomic volume and status updates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, case, delete, func, insert, literal, select, update

from domain.entities import Market, MarketStatus, Outcome
from domain.events import MarketWrites
from domain.pagination import MarketFilter, MarketOrder, MarketSortField, Page, PageRequest, SortDirection
from domain.ports import MarketChanges
from persistence.database import Session
from persistence.keyset import SortColumn
from persistence.repositories.queries import count_by_parent, fetch_page, fetch_pages_by_parent, get_many
from persistence.tables import markets
from persistence.types import Money

NEWEST_FIRST = (SortColumn(markets.c.created_at, True), SortColumn(markets.c.id, True))
NULLS_LAST_FLAG = case((markets.c.end_date.is_(None), 1), else_=0)


def to_market(row: Any) -> Market:
    return Market(
        id=row.id, name=row.name, description=row.description, status=MarketStatus(row.status),
        volume=row.volume, end_date=row.end_date,
        resolved_outcome=Outcome(row.resolved_outcome) if row.resolved_outcome else None,
        creator_id=row.creator_id, created_at=row.created_at, updated_at=row.updated_at,
        yes_pool=row.yes_pool, no_pool=row.no_pool,
    )


def sort_columns(order: MarketOrder) -> tuple[SortColumn, ...]:
    """The ordering as columns, id last as the tie-breaker in the same direction."""
    descending = order.direction is SortDirection.DESC
    tie = SortColumn(markets.c.id, descending)
    if order.field is MarketSortField.END_DATE:
        # Markets without an end date come last whichever the direction.
        return SortColumn(NULLS_LAST_FLAG, False), SortColumn(markets.c.end_date, descending), tie
    expression: ColumnElement[Any] = {
        MarketSortField.CREATED_AT: markets.c.created_at,
        MarketSortField.VOLUME: markets.c.volume,
        MarketSortField.NAME: func.lower(markets.c.name),
    }[order.field]
    return SortColumn(expression, descending), tie


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(column: ColumnElement[str], text: str) -> ColumnElement[bool]:
    """Case-insensitive substring, lower-cased by the database on both sides."""
    return func.lower(column).like(func.lower(literal(f"%{escape_like(text)}%")), escape="\\")


def filtered(where: MarketFilter) -> Select[Any]:
    query = select(markets)
    if where.matches_nothing:
        return query.where(literal(False))
    if where.status is not None:
        query = query.where(markets.c.status == where.status.value)
    if where.creator_id is not None:
        query = query.where(markets.c.creator_id == where.creator_id)
    if where.name_contains:
        query = query.where(contains(markets.c.name, where.name_contains))
    if where.ends_before is not None:
        query = query.where(markets.c.end_date < where.ends_before)
    if where.ends_after is not None:
        query = query.where(markets.c.end_date > where.ends_after)
    return query


class SqlMarketRepository:
    def __init__(self, session: Session) -> None:
        self._session = session
        # What this repository wrote, for the unit of work to announce after commit.
        self.writes = MarketWrites()

    async def add(
        self, *, name: str, description: str, end_date: datetime | None, creator_id: int, liquidity: Decimal,
        now: datetime,
    ) -> Market:
        statement = insert(markets).values(
            name=name, description=description, status=MarketStatus.ACTIVE.value, volume=Decimal("0"),
            end_date=end_date, creator_id=creator_id, created_at=now, updated_at=now,
            yes_pool=liquidity, no_pool=liquidity,
        ).returning(markets)
        market = to_market((await self._session.execute(statement)).one())
        self.writes.created.add(market.id)
        return market

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Market]:
        return await get_many(self._session, markets, ids, to_market)

    async def update(self, market_id: int, changes: MarketChanges, *, now: datetime) -> Market | None:
        values: dict[str, Any] = {"updated_at": now}
        for column in ("name", "description", "end_date"):
            if getattr(changes, column) is not None:
                values[column] = getattr(changes, column)
        if changes.clear_end_date:
            values["end_date"] = None
        if changes.status is not None:
            values["status"] = changes.status.value
        if changes.resolved_outcome is not None:
            values["resolved_outcome"] = changes.resolved_outcome.value
        statement = update(markets).where(markets.c.id == market_id)
        if changes.require_status_in is not None:
            statement = statement.where(markets.c.status.in_([s.value for s in changes.require_status_in]))
        row = (await self._session.execute(statement.values(**values).returning(markets))).first()
        if row is None:
            return None
        self.writes.record_update(market_id, set(values) - {"updated_at"})
        return to_market(row)

    async def delete(self, market_id: int) -> bool:
        result = await self._session.execute(delete(markets).where(markets.c.id == market_id).returning(markets.c.id))
        if result.first() is None:
            return False
        self.writes.deleted.add(market_id)
        return True

    async def lock(self, market_id: int) -> Market | None:
        """SELECT … FOR NO KEY UPDATE on PostgreSQL (the lock an UPDATE takes, so foreign-key checks
        of rows that reference the market are not blocked). On SQLite a no-op UPDATE instead: the driver begins
        the transaction only at the first write, so a plain read could be stale by the time of
        the trade's writes; the write takes the database's one write lock, and then the row."""
        statement: Any = select(markets).where(markets.c.id == market_id).with_for_update(key_share=True)
        if self._session.dialect == "sqlite":
            statement = (
                update(markets).where(markets.c.id == market_id).values(yes_pool=markets.c.yes_pool).returning(markets)
            )
        row = (await self._session.execute(statement)).first()
        return to_market(row) if row else None

    async def apply_trade(
        self, market_id: int, *, yes_pool: Decimal, no_pool: Decimal, volume_added: Decimal, now: datetime
    ) -> None:
        values: dict[str, Any] = {"yes_pool": yes_pool, "no_pool": no_pool, "updated_at": now}
        changed = {"yes_pool", "no_pool", "probability"}
        if volume_added:
            values["volume"] = markets.c.volume + literal(volume_added, Money())
            changed.add("volume")
        await self._session.execute(update(markets).where(markets.c.id == market_id).values(**values))
        self.writes.record_update(market_id, changed)

    async def page(self, *, filter: MarketFilter, order: MarketOrder, request: PageRequest) -> Page[Market]:
        return await fetch_page(self._session, filtered(filter), sort_columns(order), request, to_market)

    async def count(self, *, filter: MarketFilter) -> int:
        query = filtered(filter).with_only_columns(func.count(), maintain_column_froms=True)
        return int((await self._session.execute(query)).scalar_one())

    async def pages_by_creator(self, creator_ids: Sequence[int], request: PageRequest) -> Mapping[int, Page[Market]]:
        return await fetch_pages_by_parent(
            self._session, markets, markets.c.creator_id, creator_ids, NEWEST_FIRST, request, to_market
        )

    async def count_by_creator(self, creator_ids: Sequence[int]) -> Mapping[int, int]:
        return await count_by_parent(self._session, markets.c.creator_id, creator_ids)

    async def close_expired(self, *, now: datetime) -> list[int]:
        statement = (
            update(markets)
            .where(markets.c.status == MarketStatus.ACTIVE.value, markets.c.end_date < now)
            .values(status=MarketStatus.CLOSED.value, updated_at=now)
            .returning(markets.c.id)
        )
        closed = sorted(row.id for row in await self._session.execute(statement))
        for market_id in closed:
            self.writes.record_update(market_id, {"status"})
        return closed
