"""The contract's money invariants, checked straight on the tables after any sequence of calls."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from persistence.tables import markets, positions, price_points, transactions, users

ZERO = Decimal("0.00")


async def rows(engine: AsyncEngine, query: Any) -> list[Any]:
    async with engine.connect() as connection:
        return list((await connection.execute(query)).all())


async def ledger(engine: AsyncEngine, user_id: int) -> list[Any]:
    """A user's transactions in the contract's order (the moment each change committed, ties by id)."""
    query = select(transactions).where(transactions.c.user_id == user_id)
    return await rows(engine, query.order_by(transactions.c.created_at, transactions.c.id))


async def balance_of(engine: AsyncEngine, user_id: int) -> Decimal:
    balance: Decimal = (await rows(engine, select(users.c.balance).where(users.c.id == user_id)))[0][0]
    return balance


async def assert_books_balance(engine: AsyncEngine, *, liquidity: Decimal = Decimal("100.00")) -> None:
    """For every user: balance = Σ transactions, balance_after the running sum in order, never
    below 0.00. For every market: the pool identities, volume = Σ amounts, the product ≥ L², one
    price point at creation and one per buy and per sale."""
    entries: dict[int, list[Any]] = defaultdict(list)
    for entry in await rows(engine, select(transactions).order_by(transactions.c.created_at, transactions.c.id)):
        entries[entry.user_id].append(entry)
    for user in await rows(engine, select(users.c.id, users.c.balance)):
        running = ZERO
        for entry in entries[user.id]:
            running += entry.amount
            assert entry.balance_after == running, (user.id, entry)
            assert running >= 0
        assert user.balance == running, user.id
    held: dict[int, list[Any]] = defaultdict(list)
    for position in await rows(engine, select(positions)):
        held[position.market_id].append(position)
    points = dict(await rows(engine, select(price_points.c.market_id, func.count()).group_by(price_points.c.market_id)))
    for market in await rows(engine, select(markets)):
        mine = held[market.id]
        sold = [p for p in mine if p.sold_at is not None]
        assert market.volume == sum((p.amount for p in mine), ZERO)
        for pool, outcome in ((market.yes_pool, "YES"), (market.no_pool, "NO")):
            expected = (liquidity + sum((p.amount for p in mine), ZERO)
                        - sum((p.shares for p in mine if p.outcome == outcome), ZERO)
                        + sum((p.shares for p in sold if p.outcome == outcome), ZERO)
                        - sum((p.proceeds for p in sold), ZERO))
            assert pool == expected, (market.id, outcome)
        assert market.yes_pool * market.no_pool >= liquidity * liquidity
        assert points.get(market.id, 0) == 1 + len(mine) + len(sold), market.id
