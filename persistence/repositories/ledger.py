"""Balances and the ledger over SQL; settlement as a fixed handful of set-based statements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, select, text, update

from domain.entities import ZERO, Outcome, Transaction, TransactionKind
from domain.pagination import Page, PageRequest
from domain.ports import Clock
from persistence.database import Session
from persistence.keyset import SortColumn
from persistence.repositories.queries import count_by_parent, fetch_pages_by_parent, get_many
from persistence.tables import positions, transactions, users
from persistence.types import Money, UTCDateTime

NEWEST_FIRST = (SortColumn(transactions.c.created_at, True), SortColumn(transactions.c.id, True))
LOCK_HOLDERS = text(
    "SELECT id FROM users WHERE id = ANY(ARRAY(SELECT DISTINCT user_id FROM positions"
    " WHERE market_id = :market_id AND sold_at IS NULL AND payout > 0)) ORDER BY id FOR NO KEY UPDATE"
)


def to_transaction(row: Any) -> Transaction:
    return Transaction(
        id=row.id, user_id=row.user_id, kind=TransactionKind(row.kind), amount=row.amount,
        balance_after=row.balance_after, market_id=row.market_id, position_id=row.position_id, note=row.note,
        created_at=row.created_at,
    )


def money(value: Decimal) -> Any:
    """A bound Money value inside an expression (cents on SQLite, NUMERIC on PostgreSQL)."""
    return literal(value, Money())


class SqlLedgerRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def change_balance(
        self, *, user_id: int, amount: Decimal, kind: TransactionKind, clock: Clock,
        market_id: int | None = None, position_id: int | None = None, note: str | None = None,
    ) -> Transaction | None:
        changed = (
            update(users)
            .where(users.c.id == user_id, users.c.balance + money(amount) >= money(ZERO))
            .values(balance=users.c.balance + money(amount))
            .returning(users.c.balance)
        )
        balance = (await self._session.execute(changed)).scalar_one_or_none()
        if balance is None:
            return None
        # Read now: the row is locked, so this user's later changes get later times.
        row = (await self._session.execute(insert(transactions).values(
            user_id=user_id, kind=kind.value, amount=amount, balance_after=balance, market_id=market_id,
            position_id=position_id, note=note, created_at=clock(),
        ).returning(transactions))).one()
        return to_transaction(row)

    async def settle(self, *, market_id: int, winner: Outcome | None, clock: Clock) -> int:
        open_positions = and_(
            positions.c.market_id == market_id, positions.c.sold_at.is_(None), positions.c.payout.is_(None)
        )
        payout: Any = positions.c.amount if winner is None else case(
            (positions.c.outcome == winner.value, positions.c.shares), else_=money(ZERO)
        )
        settled = await self._session.execute(update(positions).where(open_positions).values(payout=payout))
        paid = and_(positions.c.market_id == market_id, positions.c.sold_at.is_(None), positions.c.payout > money(ZERO))
        if self._session.dialect == "postgresql":
            # Every holder's row locked in id order, so two settlements never wait on each other in a
            # cycle. ARRAY(…) makes it one primary-key lookup per holder whatever the statistics say.
            await self._session.execute(LOCK_HOLDERS, {"market_id": market_id})
        credits = (
            select(positions.c.user_id, func.sum(positions.c.payout).label("total"))
            .where(paid).group_by(positions.c.user_id).subquery()
        )
        await self._session.execute(
            update(users).where(users.c.id == credits.c.user_id).values(balance=users.c.balance + credits.c.total)
        )
        await self._session.execute(insert(transactions).from_select(
            ["user_id", "kind", "amount", "balance_after", "market_id", "position_id", "created_at"],
            self._payout_rows(paid, TransactionKind.REFUND if winner is None else TransactionKind.PAYOUT, clock),
        ))
        return int(settled.rowcount)

    async def detach_market(self, market_id: int) -> None:
        await self._session.execute(
            update(transactions).where(transactions.c.market_id == market_id).values(market_id=None, position_id=None)
        )

    @staticmethod
    def _payout_rows(paid: Any, kind: TransactionKind, clock: Clock) -> Any:
        """One credit per paid position; balance_after is the running sum up to the balance just
        set: the balance − the user's total here + the payouts so far (by position id)."""
        by_user = positions.c.user_id
        running = func.sum(positions.c.payout).over(partition_by=by_user, order_by=positions.c.id, rows=(None, 0))
        total = func.sum(positions.c.payout).over(partition_by=by_user)
        # A primary-key lookup per row rather than a join, whose plan fresh statistics can ruin.
        balance = select(users.c.balance).where(users.c.id == positions.c.user_id).scalar_subquery()
        return (
            select(
                positions.c.user_id, literal(kind.value), positions.c.payout, balance - total + running,
                positions.c.market_id, positions.c.id, literal(clock(), UTCDateTime()),
            )
            .where(paid)
            .order_by(positions.c.user_id, positions.c.id)
        )

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Transaction]:
        return await get_many(self._session, transactions, ids, to_transaction)

    async def pages_by_user(self, user_ids: Sequence[int], request: PageRequest) -> Mapping[int, Page[Transaction]]:
        return await fetch_pages_by_parent(
            self._session, transactions, transactions.c.user_id, user_ids, NEWEST_FIRST, request, to_transaction
        )

    async def count_by_user(self, user_ids: Sequence[int]) -> Mapping[int, int]:
        return await count_by_parent(self._session, transactions.c.user_id, user_ids)
