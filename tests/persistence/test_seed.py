"""`markets seed`'s demo data keeps every rule of "Money and prices", checked row by row in the database."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from domain.entities import MarketStatus
from domain.services.ledger import Economy
from persistence import tables
from persistence.seed import seed
from tests.books import assert_books_balance
from tests.conftest import Api
from tests.factories import PASSWORD_HASH

# What `seed()` uses when not given the configured economy.
STARTING_BALANCE = Economy().starting_balance
MARKET_LIQUIDITY = Economy().market_liquidity

ZERO = Decimal("0.00")


async def rows(api: Api, table: Any, *order: Any) -> list[Any]:
    async with api.container.engine.connect() as conn:
        return list((await conn.execute(select(table).order_by(*order))).all())


async def seeded(api: Api) -> dict[str, list[Any]]:
    report = await seed(api.container.engine, users=30, markets=120, positions=1500, seed=7,
                        password_hash=PASSWORD_HASH)
    assert (report.users, report.markets, report.positions) == (30, 120, 1500)
    found = {
        "users": await rows(api, tables.users, tables.users.c.id),
        "markets": await rows(api, tables.markets, tables.markets.c.id),
        "positions": await rows(api, tables.positions, tables.positions.c.id),
        "transactions": await rows(api, tables.transactions, tables.transactions.c.created_at,
                                   tables.transactions.c.id),
        "points": await rows(api, tables.price_points, tables.price_points.c.at, tables.price_points.c.id),
    }
    assert report.transactions == len(found["transactions"]) and report.sold > 0
    return found


async def test_the_books_balance_and_the_history_starts_at_creation(api: Api) -> None:
    """Balances are their ledgers, pools follow the formulas, one price point per trade (tests/books.py);
    every user keeps STARTING_BALANCE to spend; each history starts at the market's creation."""
    data = await seeded(api)
    await assert_books_balance(api.container.engine, liquidity=MARKET_LIQUIDITY)
    assert min(user.balance for user in data["users"]) >= STARTING_BALANCE
    assert {row.kind for row in data["transactions"]} == {"GRANT", "BUY", "SELL", "PAYOUT", "REFUND"}
    first: dict[int, Any] = {}
    for point in data["points"]:
        first.setdefault(point.market_id, point)
    for market in data["markets"]:
        assert (first[market.id].yes_pool, first[market.id].no_pool, first[market.id].at) == (
            MARKET_LIQUIDITY, MARKET_LIQUIDITY, market.created_at)


async def test_sales_and_settlements_are_recorded_as_the_server_would(api: Api) -> None:
    data = await seeded(api)
    markets = {market.id: market for market in data["markets"]}
    ledger: dict[tuple[int | None, str], list[Any]] = defaultdict(list)
    for row in data["transactions"]:
        ledger[(row.position_id, row.kind)].append(row)
    statuses = {MarketStatus(market.status) for market in markets.values()}
    assert {MarketStatus.RESOLVED, MarketStatus.CANCELLED} <= statuses
    for position in data["positions"]:
        market = markets[position.market_id]
        status = MarketStatus(market.status)
        assert position.shares >= position.amount
        assert [row.amount for row in ledger[(position.id, "BUY")]] == [-position.amount]
        if position.sold_at is not None:
            assert position.payout is None and position.created_at < position.sold_at
            assert [row.amount for row in ledger[(position.id, "SELL")]] == [position.proceeds]
        elif status is MarketStatus.CANCELLED:
            assert position.payout == position.amount
            assert [row.amount for row in ledger[(position.id, "REFUND")]] == [position.amount]
        elif status is MarketStatus.RESOLVED:
            won = position.outcome == market.resolved_outcome
            assert position.payout == (position.shares if won else ZERO)
            assert [row.amount for row in ledger[(position.id, "PAYOUT")]] == ([position.shares] if won else [])
        else:
            assert position.payout is None and position.proceeds is None


async def test_the_seed_is_deterministic(api: Api) -> None:
    first = await seeded(api)
    async with api.container.engine.begin() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            await conn.execute(table.delete())
    second = await seeded(api)
    for name in ("users", "markets", "positions", "transactions"):
        assert [tuple(row) for row in second[name]] == [tuple(row) for row in first[name]], name
