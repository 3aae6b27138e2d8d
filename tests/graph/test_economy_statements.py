"""Trades and settlement run a fixed number of SQL statements, whatever the number of positions
(settlement is set-based: never a statement per position)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.roles import Role
from tests.books import assert_books_balance
from tests.conftest import Api, Member
from tests.graph.test_economy import DELETE, OPEN, RESOLVE, SELL, UPDATE, buy, buy_input
from tests.statements import StatementLog


async def statements_of(api: Api, log: StatementLog, query: str, variables: dict[str, Any], token: str) -> int:
    log.clear()
    await api.data(query, variables, token=token)
    return log.count


async def market_with(api: Api, holders: list[Member], positions: int) -> dict[str, Any]:
    market = await api.make_market(holders[0], name=f"A market with {positions} positions")
    for n in range(positions):
        await buy(api, holders[n % len(holders)], market, "YES" if n % 3 else "NO", "1.5")
    return market


@pytest.fixture
async def holders(api: Api) -> list[Member]:
    return [await api.make_user() for _ in range(4)]


@pytest.fixture
async def moderator(api: Api) -> Member:
    return await api.make_user(Role.MODERATOR)


async def test_a_trade_runs_the_same_statements_on_a_busy_market(
    api: Api, statement_log: StatementLog, holders: list[Member]
) -> None:
    trader = holders[0]
    quiet, busy = await market_with(api, holders, 0), await market_with(api, holders, 30)
    counts = [await statements_of(api, statement_log, OPEN, buy_input(m), trader.token) for m in (quiet, busy)]
    assert counts[0] == counts[1]
    keyed = [await statements_of(api, statement_log, OPEN, buy_input(m, idempotencyKey=f"k{i}"), trader.token)
             for i, m in enumerate((quiet, busy))]
    assert keyed[0] == keyed[1] == counts[0] + 2  # the key's claim and its link to the position
    mine = [await buy(api, trader, m) for m in (quiet, busy)]
    sales = [await statements_of(api, statement_log, SELL, {"id": p["id"]}, trader.token) for p in mine]
    assert sales[0] == sales[1]
    await assert_books_balance(api.container.engine)


@pytest.mark.parametrize(("settle", "variables"), [
    (RESOLVE, {"o": "YES"}), (UPDATE, {"input": {"status": "CANCELLED"}}), (DELETE, {}),
])
async def test_settlement_runs_the_same_statements_for_2_and_50_positions(
    api: Api, statement_log: StatementLog, holders: list[Member], moderator: Member, settle: str,
    variables: dict[str, Any],
) -> None:
    small, large = await market_with(api, holders, 2), await market_with(api, holders, 50)
    counts = [await statements_of(api, statement_log, settle, {"id": m["id"], **variables}, moderator.token)
              for m in (small, large)]
    assert counts[0] == counts[1]
    await assert_books_balance(api.container.engine)
