"""Money under concurrency, on PostgreSQL (SQLite has one writer at a time): trades on one market
apply one after another, a balance never goes negative, racing idempotency keys buy once, and
settlement races settle exactly once."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from domain.roles import Role
from graph import ids
from persistence.tables import positions, transactions
from tests.books import assert_books_balance, balance_of, rows
from tests.conftest import Api, Member, codes
from tests.graph.test_economy import MARKET, OPEN, RESOLVE, SELL, UPDATE, buy, buy_input

pytestmark = pytest.mark.postgres_only

D = Decimal


async def count(api: Api, query: Any) -> int:
    return int((await rows(api.container.engine, query))[0][0])


async def test_fifty_concurrent_buys_on_one_market_lose_nothing(api: Api) -> None:
    market = await api.make_market(await api.make_user())
    traders = [await api.make_user() for _ in range(10)]
    amounts = [D(n % 17 + 1) + D("0.01") * (n % 89) for n in range(50)]

    async def one(n: int) -> dict[str, Any]:
        variables = buy_input(market, "YES" if n % 3 else "NO", str(amounts[n]))
        return await api.gql(OPEN, variables, token=traders[n % len(traders)].token)  # type: ignore[no-any-return]

    answers = await asyncio.gather(*(one(n) for n in range(len(amounts))))
    assert all("errors" not in a for a in answers), [a for a in answers if "errors" in a][:1]
    found = (await api.data(MARKET, {"id": market["id"]}))["market"]
    assert D(found["volume"]) == sum(amounts)
    assert await count(api, select(func.count()).select_from(positions)) == 50
    await assert_books_balance(api.container.engine)


async def test_concurrent_buys_and_sales_on_one_market_keep_the_pool_identities(api: Api) -> None:
    market = await api.make_market(await api.make_user())
    traders = [await api.make_user() for _ in range(6)]
    held = [await buy(api, t, market, "YES" if i % 2 else "NO", str(5 + i)) for i, t in enumerate(traders)]
    sales = [api.gql(SELL, {"id": p["id"]}, token=t.token) for p, t in zip(held, traders, strict=True)]
    buys = [api.gql(OPEN, buy_input(market, "NO" if i % 2 else "YES", str(3 + i)), token=t.token)
            for i, t in enumerate(traders)]
    answers = await asyncio.gather(*sales, *buys)
    assert all("errors" not in a for a in answers)
    await assert_books_balance(api.container.engine)


async def test_one_user_buying_on_two_markets_at_once_never_overdraws(api: Api) -> None:
    trader = await api.make_user()
    await api.fund(trader, "-900")  # 100.00 left: ten purchases of 10.00 out of twenty
    markets = [await api.make_market(await api.make_user(), name=f"Market {n}") for n in range(2)]
    answers = await asyncio.gather(*(
        api.gql(OPEN, buy_input(markets[n % 2], "YES", "10"), token=trader.token) for n in range(20)
    ))
    succeeded = [a for a in answers if "errors" not in a]
    assert len(succeeded) == 10
    assert all(codes(a) == ["CONFLICT"] for a in answers if "errors" in a)
    assert await balance_of(api.container.engine, trader.user.id) == D("0.00")
    await assert_books_balance(api.container.engine)


async def test_a_key_sent_ten_times_at_once_buys_once(api: Api) -> None:
    trader = await api.make_user()
    market = await api.make_market(await api.make_user())
    answers = await asyncio.gather(*(
        api.gql(OPEN, buy_input(market, "NO", "12.34", idempotencyKey="retry-me"), token=trader.token)
        for _ in range(10)
    ))
    assert all("errors" not in a for a in answers), answers
    assert len({a["data"]["openPosition"]["id"] for a in answers}) == 1
    assert await count(api, select(func.count()).select_from(positions)) == 1
    debits = select(func.count()).select_from(transactions).where(transactions.c.kind == "BUY")
    assert await count(api, debits) == 1
    assert await balance_of(api.container.engine, trader.user.id) == D("987.66")
    await assert_books_balance(api.container.engine)


async def test_a_position_sold_ten_times_at_once_sells_once(api: Api) -> None:
    trader = await api.make_user()
    market = await api.make_market(await api.make_user())
    position = await buy(api, trader, market, "YES", "10")
    answers = await asyncio.gather(*(api.gql(SELL, {"id": position["id"]}, token=trader.token) for _ in range(10)))
    assert sum("errors" not in a for a in answers) == 1
    assert all(codes(a) == ["CONFLICT"] for a in answers if "errors" in a)
    assert await balance_of(api.container.engine, trader.user.id) == D("999.99")
    await assert_books_balance(api.container.engine)


async def test_resolve_racing_cancel_settles_exactly_once(api: Api, moderator: Member) -> None:
    """Issue 8, finding 7: never CANCELLED with a resolvedOutcome, and money moves once."""
    traders = [await api.make_user() for _ in range(3)]
    for trial in range(25):
        market = await api.make_market(traders[0], name=f"Race {trial}")
        for n, trader in enumerate(traders):
            await buy(api, trader, market, "YES" if n % 2 else "NO", str(3 + n))
        resolve = api.gql(RESOLVE, {"id": market["id"], "o": "YES"}, token=moderator.token)
        cancel = api.gql(UPDATE, {"id": market["id"], "input": {"status": "CANCELLED"}}, token=moderator.token)
        answers = await asyncio.gather(*((resolve, cancel) if trial % 2 else (cancel, resolve)))
        assert sorted(codes(a) for a in answers) == [[], ["CONFLICT"]], answers
        found = (await api.data(MARKET, {"id": market["id"]}))["market"]
        payouts = [e["node"]["payout"] for e in found["positions"]["edges"]]
        if found["status"] == "CANCELLED":
            assert found["resolvedOutcome"] is None
            assert sorted(payouts) == ["3.00", "4.00", "5.00"]
        else:
            assert (found["status"], found["resolvedOutcome"]) == ("RESOLVED", "YES")
            assert payouts.count("0.00") == 2
        market_pk = ids.decode(market["id"], "Market")
        credits = select(func.count()).select_from(transactions).where(
            transactions.c.market_id == market_pk, transactions.c.kind.in_(["PAYOUT", "REFUND"])
        )
        assert await count(api, credits) == (3 if found["status"] == "CANCELLED" else 1)
    await assert_books_balance(api.container.engine)


async def test_a_trade_waits_for_its_own_market_only(api: Api) -> None:
    """A lock held on market A (as a trade on it would) stops trades on A, never those on B."""
    trader = await api.make_user()
    first, second = [await api.make_market(await api.make_user(), name=f"Market {n}") for n in range(2)]
    async with api.container.engine.connect() as holder:
        await holder.execute(text("SELECT id FROM markets WHERE id = :id FOR UPDATE"),
                             {"id": ids.decode(first["id"], "Market")})
        waiting = asyncio.ensure_future(api.gql(OPEN, buy_input(first), token=trader.token))
        while not await lock_waiters(api):
            await asyncio.sleep(0.01)
        other = await api.gql(OPEN, buy_input(second), token=trader.token)
        assert "errors" not in other  # done while market A is still locked
        assert not waiting.done()
        await holder.rollback()
    assert "errors" not in await waiting
    await assert_books_balance(api.container.engine)


async def lock_waiters(api: Api) -> int:
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    return await count(api, query)


@pytest.fixture
async def moderator(api: Api) -> Member:
    return await api.make_user(Role.MODERATOR)
