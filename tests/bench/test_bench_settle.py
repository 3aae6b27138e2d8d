"""bench/settle.py writes a market's positions in bulk as trades would have: the books balance
after the fill and after the resolveMarket it times (PostgreSQL: the benchmark's database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from bench.settle import RESOLVE_MARKET, fill
from domain.roles import Role
from graph import ids
from persistence.tables import positions, transactions
from tests.books import assert_books_balance, rows
from tests.conftest import Api

pytestmark = pytest.mark.postgres_only


async def test_the_bulk_fill_keeps_the_books_and_settles_like_any_market(api: Api) -> None:
    admin = await api.make_user(Role.ADMIN)
    for _ in range(3):
        await api.make_user()
    market = await api.make_market(admin, name="Will the benchmark settle?")
    pk = ids.decode(market["id"], "Market")
    assert pk is not None
    async with api.container.engine.begin() as conn:
        await fill(conn, pk, 300, liquidity=api.container.settings.market_liquidity)
    await assert_books_balance(api.container.engine)
    state = await api.data("query($id: ID!) { market(id: $id) { volume probabilityHistory { totalCount } } }",
                           {"id": market["id"]})
    assert state["market"]["probabilityHistory"]["totalCount"] == 301
    assert Decimal(state["market"]["volume"]) > 0

    await api.data(RESOLVE_MARKET, {"id": market["id"]}, token=admin.token)
    await assert_books_balance(api.container.engine)
    held = await rows(api.container.engine, select(positions).where(positions.c.market_id == pk))
    paid = await rows(api.container.engine, select(transactions.c.position_id, transactions.c.amount).where(
        transactions.c.market_id == pk, transactions.c.kind == "PAYOUT"))
    assert dict(paid) == {p.id: p.shares for p in held if p.outcome == "YES"}
    assert all(p.payout == (p.shares if p.outcome == "YES" else Decimal("0.00")) for p in held)
