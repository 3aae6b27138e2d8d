"""N+1 is a bug: a request runs the same few statements however many rows it returns."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.entities import Outcome, TransactionKind
from domain.roles import Role
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


HISTORY_PAGE = """{ markets(first: %d) { edges { node { name
    probabilityHistory(first: 3) { totalCount edges { cursor node { probability at } } } } } } }"""
LEDGER_PAGE = """{ users(first: %d) { edges { node { name
    transactions(first: 3) { totalCount edges { node { kind amount market { name } position { amount } } } } } } } }"""


async def fill_economy(api: Api, count: int) -> Member:
    """`count` markets, each with a few price points, and `count` users, each with a few ledger rows
    that name a market and a position (so loaders, not caches, answer)."""
    admin = await api.make_user(Role.ADMIN)
    now = api.container.clock()
    async with SqlUnitOfWork.standalone(api.container.engine) as uow:
        for n in range(count):
            holder = await uow.users.add(email=f"holder{n}@example.com", name=f"Holder {n}", password_hash="x",
                                         role=Role.USER, now=now + timedelta(seconds=n))
            market = await uow.markets.add(name=f"Market {n}", description="", end_date=None, creator_id=admin.user.id,
                                           liquidity=Decimal("100.00"), now=now + timedelta(seconds=n))
            position = await uow.positions.add(market_id=market.id, user_id=holder.id, outcome=Outcome.YES,
                                               amount=Decimal("1.00"), shares=Decimal("1.90"), now=now)
            for step in range(4):
                await uow.price_points.add(market_id=market.id, yes_pool=Decimal(90 - step), no_pool=Decimal(100),
                                           at=now + timedelta(seconds=step))
            await uow.ledger.change_balance(user_id=holder.id, amount=Decimal("5.00"), kind=TransactionKind.GRANT,
                                            clock=lambda: now)
            for _ in range(3):
                await uow.ledger.change_balance(user_id=holder.id, amount=Decimal("-1.00"), kind=TransactionKind.BUY,
                                                clock=lambda: now, market_id=market.id, position_id=position.id)
        await uow.commit()
    return admin


@pytest.mark.parametrize("query", [HISTORY_PAGE, LEDGER_PAGE], ids=["probability-history", "transactions"])
async def test_economy_connections_on_a_page_run_a_constant_number_of_statements(
    api: Api, statement_log: StatementLog, query: str
) -> None:
    """probabilityHistory on a page of markets and transactions on a page of users: one batch per
    connection (pages, counts, and each reference), whether the page holds 2 rows or 20."""
    admin = await fill_economy(api, 20)
    counts = {n: await statements_for(api, statement_log, query % n, admin.token) for n in (2, 20)}
    assert counts[2] == counts[20], counts
    assert counts[20] <= (4 if query is HISTORY_PAGE else 7), counts
    data = await api.data(query % 20, token=admin.token)
    if query is HISTORY_PAGE:
        pages = [edge["node"]["probabilityHistory"] for edge in data["markets"]["edges"]]
        assert all(len(page["edges"]) == 3 and page["totalCount"] >= 4 for page in pages)
    else:
        pages = [edge["node"]["transactions"] for edge in data["users"]["edges"]]
        assert sum(page is not None and page["totalCount"] == 4 for page in pages) == 20
