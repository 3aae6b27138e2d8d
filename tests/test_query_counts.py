"""N+1 is a bug: a request runs the same few statements however many rows it returns."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.entities import Outcome
from persistence.unit_of_work import SqlUnitOfWork
from tests.conftest import Api, Member
from tests.statements import StatementLog

NESTED = """
{ markets(first: %d) { edges { node { name creator { name }
    positions(first: 10) { edges { node { amount user { name } } } } } } } }
"""
NESTED_WITH_COUNTS = """
{ markets(first: %d) { totalCount edges { node { name creator { name markets(first: 2) { totalCount } }
    positions(first: 10) { totalCount edges { node { amount market { name } user { name } } } } } } } }
"""


async def fill(api: Api, owner: Member, markets: int, positions_each: int) -> None:
    """Markets by several creators, each with positions by other users (so no loader cache hides a query)."""
    creators = [owner.user, (await api.make_user()).user]
    holders = [(await api.make_user()).user for _ in range(3)]
    now = api.container.clock()
    async with SqlUnitOfWork.standalone(api.container.engine) as uow:
        for n in range(markets):
            creator = creators[n % len(creators)]
            market = await uow.markets.add(
                name=f"Market {n}", description="", end_date=None, creator_id=creator.id,
                liquidity=Decimal("100.00"), now=now + timedelta(seconds=n),
            )
            for p in range(positions_each):
                holder = holders[p % len(holders)]
                await uow.positions.add(
                    market_id=market.id, user_id=holder.id, outcome=Outcome.YES, amount=Decimal("1.00"),
                    shares=Decimal("1.98"), now=now,
                )
        await uow.commit()


async def statements_for(api: Api, log: StatementLog, query: str, token: str) -> int:
    log.clear()
    await api.data(query, token=token)
    return log.count


@pytest.mark.parametrize("query", [NESTED, NESTED_WITH_COUNTS], ids=["nested", "nested-with-counts"])
async def test_nested_markets_run_a_constant_number_of_statements(
    api: Api, statement_log: StatementLog, query: str
) -> None:
    moderator = await api.make_user()
    await fill(api, moderator, markets=100, positions_each=12)
    counts = {n: await statements_for(api, statement_log, query % n, moderator.token) for n in (1, 10, 100)}
    assert counts[1] == counts[10] == counts[100], counts
    assert counts[100] <= (6 if query is NESTED else 9), counts


async def test_the_nested_page_returns_every_row(api: Api, statement_log: StatementLog) -> None:
    owner = await api.make_user()
    await fill(api, owner, markets=30, positions_each=12)
    data = await api.data(NESTED % 30, token=owner.token)
    edges = data["markets"]["edges"]
    assert len(edges) == 30
    assert all(len(e["node"]["positions"]["edges"]) == 10 for e in edges)
