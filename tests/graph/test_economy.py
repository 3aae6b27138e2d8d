"""Money and prices through the API: balances, buying and selling with the market maker,
settlement, the ledger, idempotency keys and who sees a balance (contract, "Money and prices").
Every test ends by checking the books: balances against the ledger, pools against the trades."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from domain.events import MarketWrites
from domain.roles import Role
from domain.services.positions import purge_idempotency_keys
from graph import ids
from persistence.tables import idempotency_keys, markets, positions, price_points, transactions
from tests.books import assert_books_balance, balance_of, ledger, rows
from tests.conftest import Api, Member, codes
from tests.servers import instance

D = Decimal
POSITION_FIELDS = "id amount outcome shares proceeds soldAt payout createdAt"
MARKET_FIELDS = "id status volume yesPool noPool probability resolvedOutcome createdAt"
OPEN = f"""mutation($input: OpenPositionInput!) {{
  openPosition(input: $input) {{ {POSITION_FIELDS} market {{ {MARKET_FIELDS} }} }}
}}"""
SELL = f"""mutation($id: ID!, $min: Decimal) {{
  sellPosition(id: $id, minProceeds: $min) {{ {POSITION_FIELDS} market {{ {MARKET_FIELDS} }} }}
}}"""
CREATE = f"""mutation($input: CreateMarketInput!) {{ createMarket(input: $input) {{ {MARKET_FIELDS}
  positions {{ edges {{ node {{ {POSITION_FIELDS} }} }} }} }} }}"""
MARKET = f"""query($id: ID!) {{ market(id: $id) {{ {MARKET_FIELDS}
  positions(first: 100) {{ edges {{ node {{ {POSITION_FIELDS} }} }} }} }} }}"""
POSITION = f"query($id: ID!) {{ node(id: $id) {{ ... on Position {{ {POSITION_FIELDS} }} }} }}"
RESOLVE = f"mutation($id: ID!, $o: Outcome!) {{ resolveMarket(id: $id, outcome: $o) {{ {MARKET_FIELDS} }} }}"
UPDATE = f"""mutation($id: ID!, $input: UpdateMarketInput!) {{
  updateMarket(id: $id, input: $input) {{ {MARKET_FIELDS} }} }}"""
DELETE = "mutation($id: ID!) { deleteMarket(id: $id) }"
ADJUST = """mutation($u: ID!, $a: Decimal!, $n: String!) {
  adjustBalance(userId: $u, amount: $a, note: $n) { id balance } }"""
BALANCE = "query($id: ID!) { user(id: $id) { balance } }"


def buy_input(market: dict[str, Any], outcome: str = "YES", amount: str = "10", **extra: Any) -> dict[str, Any]:
    return {"input": {"marketId": market["id"], "outcome": outcome, "amount": amount, **extra}}


async def buy(api: Api, member: Member, market: dict[str, Any], outcome: str = "YES", amount: str = "10",
              **extra: Any) -> dict[str, Any]:
    position: dict[str, Any] = (await api.data(OPEN, buy_input(market, outcome, amount, **extra),
                                               token=member.token))["openPosition"]
    return position


async def market_of(api: Api, market: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = (await api.data(MARKET, {"id": market["id"]}))["market"]
    return found


async def count(api: Api, table: Any) -> int:
    return int((await rows(api.container.engine, select(func.count()).select_from(table)))[0][0])


@pytest.fixture
async def alice(api: Api) -> Member:
    return await api.make_user(email="alice@example.com")


@pytest.fixture
async def bob(api: Api) -> Member:
    return await api.make_user(email="bob@example.com")


@pytest.fixture
async def admin(api: Api) -> Member:
    return await api.make_user(Role.ADMIN, email="admin@example.com")


@pytest.fixture
async def moderator(api: Api) -> Member:
    return await api.make_user(Role.MODERATOR, email="moderator@example.com")


@pytest.fixture
async def market(api: Api, bob: Member) -> dict[str, Any]:
    return await api.make_market(bob, name="Will it snow in May?")


# ------------------------------------------------------------------------------------------ grants


async def test_sign_up_grants_the_starting_balance_once(api: Api) -> None:
    body = await api.data(
        'mutation { signUp(email: "new@example.com", name: "New", password: "long enough pw") { user { id balance } } }'
    )
    user = body["signUp"]["user"]
    assert user["balance"] == "1000.00"
    entries = await ledger(api.container.engine, ids.decode(user["id"], "User") or 0)
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [("GRANT", D("1000.00"), D("1000.00"))]
    await assert_books_balance(api.container.engine)


async def test_a_new_market_has_even_pools_and_one_price_point(api: Api, bob: Member, market: dict[str, Any]) -> None:
    found = await market_of(api, market)
    shown = (found["yesPool"], found["noPool"], found["probability"], found["volume"])
    assert shown == ("100.00", "100.00", 0.5, "0.00")
    assert await count(api, price_points) == 1
    assert await balance_of(api.container.engine, bob.user.id) == D("1000.00")  # creating costs nothing
    await assert_books_balance(api.container.engine)


# ------------------------------------------------------------------------------------------ buying


async def test_buying_prices_by_the_formula_and_moves_everything_together(
    api: Api, alice: Member, market: dict[str, Any]
) -> None:
    position = await buy(api, alice, market, "YES", "10")
    # 100 + 10 − 100·100/110 = 19.0909… → 19.09; yesPool 90.91, noPool 110.00.
    assert (position["shares"], position["proceeds"], position["soldAt"], position["payout"]) == ("19.09", None,
                                                                                                  None, None)
    assert position["market"]["yesPool"] == "90.91" and position["market"]["noPool"] == "110.00"
    assert position["market"]["volume"] == "10.00"
    assert position["market"]["probability"] == 110 / (90.91 + 110)
    assert await balance_of(api.container.engine, alice.user.id) == D("990.00")
    entries = await ledger(api.container.engine, alice.user.id)
    assert [(e.kind, e.amount, e.balance_after) for e in entries] == [
        ("GRANT", D("1000.00"), D("1000.00")), ("BUY", D("-10.00"), D("990.00"))
    ]
    assert entries[1].market_id == ids.decode(market["id"], "Market")
    assert entries[1].position_id == ids.decode(position["id"], "Position")
    no = await buy(api, alice, market, "NO", "5")
    # n + a − y·n/(y + a) = 110 + 5 − 90.91·110/95.91 = 10.7328… → 10.73; noPool 104.27, yesPool 95.91.
    assert no["shares"] == "10.73"
    assert (no["market"]["yesPool"], no["market"]["noPool"]) == ("95.91", "104.27")
    await assert_books_balance(api.container.engine)


async def test_an_insufficient_balance_is_a_conflict_and_changes_nothing(
    api: Api, alice: Member, market: dict[str, Any]
) -> None:
    body = await api.gql(OPEN, buy_input(market, "YES", "1000.01"), token=alice.token)
    assert codes(body) == ["CONFLICT"] and "insufficient balance" in body["errors"][0]["message"].lower()
    found = await market_of(api, market)
    assert (found["volume"], found["yesPool"], found["noPool"], found["positions"]["edges"]) == (
        "0.00", "100.00", "100.00", []
    )
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")
    await buy(api, alice, market, "NO", "1000")  # exactly the balance is fine
    assert await balance_of(api.container.engine, alice.user.id) == D("0.00")
    assert codes(await api.gql(OPEN, buy_input(market, "NO", "0.01"), token=alice.token)) == ["CONFLICT"]
    await assert_books_balance(api.container.engine)


async def test_min_shares_refuses_a_price_that_moved(api: Api, alice: Member, market: dict[str, Any]) -> None:
    body = await api.gql(OPEN, buy_input(market, "YES", "10", minShares="19.10"), token=alice.token)
    assert codes(body) == ["CONFLICT"]
    assert (await market_of(api, market))["volume"] == "0.00"
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")
    assert (await buy(api, alice, market, "YES", "10", minShares="19.09"))["shares"] == "19.09"
    assert (await buy(api, alice, market, "YES", "1", minShares="0"))["shares"] != ""
    await assert_books_balance(api.container.engine)


@pytest.mark.parametrize("bound", ["-0.01", "0.001", "NaN", "1000000000000.01"])
async def test_a_bad_min_shares_is_bad_user_input(api: Api, alice: Member, market: dict[str, Any], bound: str) -> None:
    body = await api.gql(OPEN, buy_input(market, minShares=bound), token=alice.token)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert list(body["errors"][0]["extensions"]["fields"]) == ["input.minShares"]
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")


async def test_closed_and_settled_markets_take_no_purchase(
    api: Api, alice: Member, moderator: Member, market: dict[str, Any]
) -> None:
    await api.data(UPDATE, {"id": market["id"], "input": {"status": "CLOSED"}}, token=moderator.token)
    assert codes(await api.gql(OPEN, buy_input(market), token=alice.token)) == ["CONFLICT"]
    assert codes(await api.gql(OPEN, {"input": {"marketId": "garbage", "outcome": "YES", "amount": "1"}},
                               token=alice.token)) == ["NOT_FOUND"]
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")
    await assert_books_balance(api.container.engine)


async def test_an_initial_position_is_a_purchase_stamped_after_its_market(api: Api, alice: Member) -> None:
    created = (await api.data(CREATE, {"input": {"name": "Will it hail?", "initialPosition": {
        "outcome": "NO", "amount": "10"}}}, token=alice.token))["createMarket"]
    position = created["positions"]["edges"][0]["node"]
    assert position["shares"] == "19.09"
    assert (created["yesPool"], created["noPool"], created["volume"]) == ("110.00", "90.91", "10.00")
    assert position["createdAt"] > created["createdAt"]  # issue 8, finding 16: never the same instant
    assert await balance_of(api.container.engine, alice.user.id) == D("990.00")
    body = await api.gql(CREATE, {"input": {"name": "Too dear", "initialPosition": {
        "outcome": "YES", "amount": "991"}}}, token=alice.token)
    assert codes(body) == ["CONFLICT"]
    assert (await api.data("{ markets { totalCount } }"))["markets"]["totalCount"] == 1  # both or neither
    await assert_books_balance(api.container.engine)


# ----------------------------------------------------------------------------------------- selling


async def test_selling_pays_the_formula_and_keeps_the_volume(api: Api, alice: Member, market: dict[str, Any]) -> None:
    position = await buy(api, alice, market, "YES", "10")
    sold = (await api.data(SELL, {"id": position["id"]}, token=alice.token))["sellPosition"]
    # A = 220, √(220² − 4·19.09·110) = 200.0009999…, (220 − 200.0009999…)/2 → 9.99.
    assert (sold["proceeds"], sold["shares"], sold["amount"], sold["payout"]) == ("9.99", "19.09", "10.00", None)
    assert sold["soldAt"] is not None
    assert (sold["market"]["yesPool"], sold["market"]["noPool"], sold["market"]["volume"]) == ("100.01", "100.01",
                                                                                                "10.00")
    assert sold["market"]["probability"] == 0.5
    entries = await ledger(api.container.engine, alice.user.id)
    assert [(e.kind, e.amount, e.balance_after) for e in entries][-1] == ("SELL", D("9.99"), D("999.99"))
    assert await count(api, price_points) == 3
    body = await api.gql(SELL, {"id": position["id"]}, token=alice.token)
    assert codes(body) == ["CONFLICT"]  # sold already
    await assert_books_balance(api.container.engine)


async def test_min_proceeds_refuses_a_price_that_moved(api: Api, alice: Member, market: dict[str, Any]) -> None:
    position = await buy(api, alice, market, "NO", "10")
    assert codes(await api.gql(SELL, {"id": position["id"], "min": "10.00"}, token=alice.token)) == ["CONFLICT"]
    held = (await api.data(POSITION, {"id": position["id"]}))["node"]
    assert held["proceeds"] is None and held["soldAt"] is None
    assert await balance_of(api.container.engine, alice.user.id) == D("990.00")
    bad = await api.gql(SELL, {"id": position["id"], "min": "-1"}, token=alice.token)
    assert codes(bad) == ["BAD_USER_INPUT"] and list(bad["errors"][0]["extensions"]["fields"]) == ["minProceeds"]
    sold = (await api.data(SELL, {"id": position["id"], "min": "9.99"}, token=alice.token))["sellPosition"]
    assert sold["proceeds"] == "9.99"
    await assert_books_balance(api.container.engine)


async def test_only_the_holder_sells(
    api: Api, alice: Member, bob: Member, admin: Member, market: dict[str, Any]
) -> None:
    position = await buy(api, alice, market)
    assert codes(await api.gql(SELL, {"id": position["id"]})) == ["UNAUTHENTICATED"]
    assert codes(await api.gql(SELL, {"id": position["id"]}, token=bob.token)) == ["FORBIDDEN"]
    assert codes(await api.gql(SELL, {"id": position["id"]}, token=admin.token)) == ["FORBIDDEN"]
    for garbage in ("", "garbage", market["id"], ids.encode("Position", 999)):
        assert codes(await api.gql(SELL, {"id": garbage}, token=alice.token)) == ["NOT_FOUND"], garbage
    assert (await api.data(POSITION, {"id": position["id"]}))["node"]["soldAt"] is None
    await assert_books_balance(api.container.engine)


async def test_no_sale_once_the_market_stopped_trading(
    api: Api, alice: Member, moderator: Member, market: dict[str, Any]
) -> None:
    position = await buy(api, alice, market)
    await api.data(UPDATE, {"id": market["id"], "input": {"status": "CLOSED"}}, token=moderator.token)
    assert codes(await api.gql(SELL, {"id": position["id"]}, token=alice.token)) == ["CONFLICT"]
    await api.data(UPDATE, {"id": market["id"], "input": {"status": "ACTIVE"}}, token=moderator.token)
    async with api.container.engine.begin() as connection:  # the end date passes
        past = api.container.clock() - timedelta(seconds=1)
        await connection.execute(update(markets).values(end_date=past))
    assert codes(await api.gql(SELL, {"id": position["id"]}, token=alice.token)) == ["CONFLICT"]
    assert await balance_of(api.container.engine, alice.user.id) == D("990.00")
    await assert_books_balance(api.container.engine)


async def test_a_sale_announces_the_new_price_after_commit(test_database_url: str) -> None:
    heard: list[MarketWrites] = []

    async def listen(writes: MarketWrites) -> None:
        heard.append(writes)

    async with instance(test_database_url, parts={"commit_listeners": (listen,)}) as api:
        alice, bob = await api.make_user(email="alice@example.com"), await api.make_user(email="bob@example.com")
        market = await api.make_market(bob, name="Will it snow in May?")
        position = await buy(api, alice, market)
        await market_of(api, market)  # cached now
        heard.clear()  # what the sale announces, only
        sold = (await api.data(SELL, {"id": position["id"]}, token=alice.token))["sellPosition"]
        fresh = await market_of(api, market)  # the cache was invalidated, not left to expire
    market_pk = ids.decode(market["id"], "Market")
    assert len(heard) == 1 and {"yes_pool", "no_pool", "probability"} <= heard[0].updated[market_pk]
    assert "volume" not in heard[0].updated[market_pk]
    assert (fresh["yesPool"], fresh["noPool"]) == (sold["market"]["yesPool"], sold["market"]["noPool"])


# -------------------------------------------------------------------------------------- settlement


async def stake(api: Api, alice: Member, bob: Member, market: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Alice: two YES and one NO; Bob: one NO, then one YES he sells."""
    held = {
        "alice_yes_1": await buy(api, alice, market, "YES", "10"),
        "alice_yes_2": await buy(api, alice, market, "YES", "20.50"),
        "alice_no": await buy(api, alice, market, "NO", "7"),
        "bob_no": await buy(api, bob, market, "NO", "30"),
        "bob_sold": await buy(api, bob, market, "YES", "5"),
    }
    held["bob_sold"] = (await api.data(SELL, {"id": held["bob_sold"]["id"]}, token=bob.token))["sellPosition"]
    return held


async def payouts(api: Api, market: dict[str, Any]) -> dict[str, tuple[str | None, str | None]]:
    found = await market_of(api, market)
    return {e["node"]["id"]: (e["node"]["payout"], e["node"]["proceeds"]) for e in found["positions"]["edges"]}


async def test_resolving_pays_winners_their_shares_once(
    api: Api, alice: Member, bob: Member, moderator: Member, market: dict[str, Any]
) -> None:
    held = await stake(api, alice, bob, market)
    before = {m.user.id: await balance_of(api.container.engine, m.user.id) for m in (alice, bob)}
    resolved = (await api.data(RESOLVE, {"id": market["id"], "o": "YES"}, token=moderator.token))["resolveMarket"]
    assert (resolved["status"], resolved["resolvedOutcome"]) == ("RESOLVED", "YES")
    paid = await payouts(api, market)
    assert paid[held["alice_yes_1"]["id"]] == (held["alice_yes_1"]["shares"], None)
    assert paid[held["alice_yes_2"]["id"]] == (held["alice_yes_2"]["shares"], None)
    assert paid[held["alice_no"]["id"]] == ("0.00", None)
    assert paid[held["bob_no"]["id"]] == ("0.00", None)
    assert paid[held["bob_sold"]["id"]] == (None, held["bob_sold"]["proceeds"])  # sold: keeps its proceeds
    won = D(held["alice_yes_1"]["shares"]) + D(held["alice_yes_2"]["shares"])
    assert await balance_of(api.container.engine, alice.user.id) == before[alice.user.id] + won
    assert await balance_of(api.container.engine, bob.user.id) == before[bob.user.id]
    entries = await ledger(api.container.engine, alice.user.id)
    assert [e.kind for e in entries] == ["GRANT", "BUY", "BUY", "BUY", "PAYOUT", "PAYOUT"]  # none for 0.00
    assert [e.position_id for e in entries[-2:]] == [ids.decode(held[k]["id"], "Position")
                                                     for k in ("alice_yes_1", "alice_yes_2")]
    again = await api.gql(RESOLVE, {"id": market["id"], "o": "NO"}, token=moderator.token)
    assert codes(again) == ["CONFLICT"]
    assert await balance_of(api.container.engine, alice.user.id) == before[alice.user.id] + won
    await assert_books_balance(api.container.engine)


async def test_cancelling_refunds_the_amounts_and_is_final(
    api: Api, alice: Member, bob: Member, moderator: Member, market: dict[str, Any]
) -> None:
    held = await stake(api, alice, bob, market)
    await api.data(UPDATE, {"id": market["id"], "input": {"status": "CLOSED"}}, token=moderator.token)
    cancelled = (await api.data(UPDATE, {"id": market["id"], "input": {"status": "CANCELLED"}},
                                token=moderator.token))["updateMarket"]
    assert cancelled["status"] == "CANCELLED" and cancelled["resolvedOutcome"] is None
    paid = await payouts(api, market)
    for key in ("alice_yes_1", "alice_yes_2", "alice_no", "bob_no"):
        assert paid[held[key]["id"]] == (held[key]["amount"], None)
    assert paid[held["bob_sold"]["id"]] == (None, held["bob_sold"]["proceeds"])
    # Alice spent 37.50 and got it all back; Bob lost only the spread of his sale.
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")
    assert await balance_of(api.container.engine, bob.user.id) == D("995.00") + D(held["bob_sold"]["proceeds"])
    assert [e.kind for e in await ledger(api.container.engine, alice.user.id)][-3:] == ["REFUND"] * 3
    refunds = await count(api, transactions)
    for status in ("CANCELLED", "ACTIVE", "CLOSED"):
        body = await api.gql(UPDATE, {"id": market["id"], "input": {"status": status}}, token=moderator.token)
        assert codes(body) == ["CONFLICT"], status
    assert codes(await api.gql(RESOLVE, {"id": market["id"], "o": "YES"}, token=moderator.token)) == ["CONFLICT"]
    assert await count(api, transactions) == refunds  # no money moved again
    renamed = await api.data(UPDATE, {"id": market["id"], "input": {"name": "Snow in May, cancelled"}},
                             token=moderator.token)
    assert renamed["updateMarket"]["status"] == "CANCELLED"  # only the status is final
    await assert_books_balance(api.container.engine)


async def test_a_resolved_market_status_is_final(
    api: Api, alice: Member, moderator: Member, market: dict[str, Any]
) -> None:
    await buy(api, alice, market, "NO", "10")
    await api.data(RESOLVE, {"id": market["id"], "o": "NO"}, token=moderator.token)
    balance = await balance_of(api.container.engine, alice.user.id)
    for status in ("CANCELLED", "ACTIVE", "CLOSED"):
        body = await api.gql(UPDATE, {"id": market["id"], "input": {"status": status}}, token=moderator.token)
        assert codes(body) == ["CONFLICT"], status
    found = await market_of(api, market)
    assert (found["status"], found["resolvedOutcome"]) == ("RESOLVED", "NO")
    assert await balance_of(api.container.engine, alice.user.id) == balance == D("1009.09")
    await assert_books_balance(api.container.engine)


async def test_deleting_an_unsettled_market_refunds_first_and_keeps_the_ledger(
    api: Api, alice: Member, bob: Member, moderator: Member, market: dict[str, Any]
) -> None:
    held = await stake(api, alice, bob, market)
    await api.data(DELETE, {"id": market["id"]}, token=moderator.token)
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")
    entries = await ledger(api.container.engine, alice.user.id)
    assert [e.kind for e in entries] == ["GRANT", "BUY", "BUY", "BUY", "REFUND", "REFUND", "REFUND"]
    assert all(e.market_id is None and e.position_id is None for e in entries)
    assert await count(api, positions) == 0 and await count(api, price_points) == 0
    assert D(held["bob_no"]["amount"]) == D("30.00")
    await assert_books_balance(api.container.engine)


async def test_deleting_a_settled_market_moves_no_money(
    api: Api, alice: Member, moderator: Member, market: dict[str, Any]
) -> None:
    await buy(api, alice, market, "YES", "10")
    await api.data(RESOLVE, {"id": market["id"], "o": "NO"}, token=moderator.token)
    entries = await count(api, transactions)
    await api.data(DELETE, {"id": market["id"]}, token=moderator.token)
    assert await count(api, transactions) == entries
    assert await balance_of(api.container.engine, alice.user.id) == D("990.00")
    await assert_books_balance(api.container.engine)


async def test_several_payouts_of_one_user_run_their_balance_after(
    api: Api, alice: Member, moderator: Member, market: dict[str, Any]
) -> None:
    amounts = ["1", "2.5", "3.33", "10", "0.01", "7"]
    for amount in amounts:
        await buy(api, alice, market, "YES", amount)
    await api.data(RESOLVE, {"id": market["id"], "o": "YES"}, token=moderator.token)
    entries = await ledger(api.container.engine, alice.user.id)
    assert [e.kind for e in entries[-len(amounts):]] == ["PAYOUT"] * len(amounts)
    await assert_books_balance(api.container.engine)  # balance_after is the running sum, in id order


# ---------------------------------------------------------------------------------------- balances


async def test_adjust_balance_credits_and_debits_with_a_note(api: Api, alice: Member, admin: Member) -> None:
    done = await api.data(ADJUST, {"u": alice.id, "a": "25.5", "n": "  welcome bonus  "}, token=admin.token)
    assert done["adjustBalance"] == {"id": alice.id, "balance": "1025.50"}
    done = await api.data(ADJUST, {"u": alice.id, "a": "-1025.50", "n": "all of it"}, token=admin.token)
    assert done["adjustBalance"]["balance"] == "0.00"
    entries = await ledger(api.container.engine, alice.user.id)
    assert [(e.kind, e.amount, e.note) for e in entries[1:]] == [
        ("ADJUSTMENT", D("25.50"), "welcome bonus"), ("ADJUSTMENT", D("-1025.50"), "all of it")
    ]
    body = await api.gql(ADJUST, {"u": alice.id, "a": "-0.01", "n": "below zero"}, token=admin.token)
    assert codes(body) == ["CONFLICT"]
    assert await balance_of(api.container.engine, alice.user.id) == D("0.00")
    await assert_books_balance(api.container.engine)


@pytest.mark.parametrize(("amount", "note", "fields"), [
    ("0", "fine", ["amount"]), ("0.00", "fine", ["amount"]), ("1000000.01", "fine", ["amount"]),
    ("-1000000.01", "fine", ["amount"]), ("1.001", "fine", ["amount"]), ("NaN", "fine", ["amount"]),
    ("5", "   ", ["note"]), ("5", "", ["note"]), ("5", "x" * 201, ["note"]), ("0", "", ["amount", "note"]),
])
async def test_adjust_balance_bad_input(
    api: Api, alice: Member, admin: Member, amount: str, note: str, fields: list[str]
) -> None:
    body = await api.gql(ADJUST, {"u": alice.id, "a": amount, "n": note}, token=admin.token)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert sorted(body["errors"][0]["extensions"]["fields"]) == fields
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")


async def test_adjust_balance_limits_are_inclusive(api: Api, alice: Member, admin: Member) -> None:
    await api.data(ADJUST, {"u": alice.id, "a": "1000000", "n": "x" * 200}, token=admin.token)
    await api.data(ADJUST, {"u": alice.id, "a": "-1000000", "n": "y"}, token=admin.token)
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")


async def test_adjust_balance_is_for_admins_on_existing_users(
    api: Api, alice: Member, moderator: Member, admin: Member
) -> None:
    variables = {"u": alice.id, "a": "5", "n": "why"}
    assert codes(await api.gql(ADJUST, variables)) == ["UNAUTHENTICATED"]
    assert codes(await api.gql(ADJUST, variables, token=alice.token)) == ["FORBIDDEN"]
    assert codes(await api.gql(ADJUST, variables, token=moderator.token)) == ["FORBIDDEN"]
    for user_id in ("", "garbage", ids.encode("User", 999), ids.encode("Market", alice.user.id)):
        assert codes(await api.gql(ADJUST, {**variables, "u": user_id}, token=admin.token)) == ["NOT_FOUND"]
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")


async def test_a_balance_is_seen_by_its_user_and_admins_only(
    api: Api, alice: Member, bob: Member, moderator: Member, admin: Member, market: dict[str, Any]
) -> None:
    position = await buy(api, alice, market)
    paths = {
        "me": ("{ me { balance } }", {}, lambda d: d["me"]),
        "user": (BALANCE, {"id": alice.id}, lambda d: d["user"]),
        "node": ("query($id: ID!) { node(id: $id) { ... on User { balance } } }", {"id": alice.id},
                 lambda d: d["node"]),
        "nodes": ("query($id: ID!) { nodes(ids: [$id]) { ... on User { balance } } }", {"id": alice.id},
                  lambda d: d["nodes"][0]),
        "Position.user": ("query($id: ID!) { node(id: $id) { ... on Position { user { balance } } } }",
                          {"id": position["id"]}, lambda d: d["node"]["user"]),
    }
    for path, (query, variables, pick) in paths.items():
        if path == "me":
            assert pick(await api.data(query, token=alice.token)) == {"balance": "990.00"}
            continue
        assert pick(await api.data(query, variables, token=alice.token)) == {"balance": "990.00"}, path
        assert pick(await api.data(query, variables, token=admin.token)) == {"balance": "990.00"}, path
        for viewer in (bob.token, None):
            seen = pick(await api.data(query, variables, token=viewer))
            assert seen is None or seen == {"balance": None}, path
    # A moderator sees Position.user, but not the balance on it.
    seen = paths["Position.user"]
    assert seen[2](await api.data(seen[0], seen[1], token=moderator.token)) == {"balance": None}
    assert (await api.data(BALANCE, {"id": alice.id}, token=moderator.token))["user"] == {"balance": None}
    login = await api.data('mutation { login(email: "alice@example.com", password: "password123") '
                           '{ user { balance } } }')
    assert login["login"]["user"]["balance"] == "990.00"


# ------------------------------------------------------------------------------------- idempotency


async def test_an_idempotency_key_buys_once(api: Api, alice: Member, market: dict[str, Any]) -> None:
    first = await buy(api, alice, market, "YES", "5", idempotencyKey="order-1")
    again = await buy(api, alice, market, "YES", "5.00", idempotencyKey="order-1")  # compared as values
    assert again["id"] == first["id"]
    assert await balance_of(api.container.engine, alice.user.id) == D("995.00")
    assert (await market_of(api, market))["volume"] == "5.00"
    for other in (buy_input(market, "NO", "5", idempotencyKey="order-1"),
                  buy_input(market, "YES", "5.01", idempotencyKey="order-1")):
        assert codes(await api.gql(OPEN, other, token=alice.token)) == ["CONFLICT"]
    another = await api.make_market(alice, name="Another market")
    assert codes(await api.gql(OPEN, buy_input(another, "YES", "5", idempotencyKey="order-1"),
                               token=alice.token)) == ["CONFLICT"]
    assert await balance_of(api.container.engine, alice.user.id) == D("995.00")
    await assert_books_balance(api.container.engine)


async def test_keys_of_other_viewers_never_collide(
    api: Api, alice: Member, bob: Member, market: dict[str, Any]
) -> None:
    mine = await buy(api, alice, market, "YES", "5", idempotencyKey="same-key")
    theirs = await buy(api, bob, market, "NO", "7", idempotencyKey="same-key")
    assert mine["id"] != theirs["id"]
    await assert_books_balance(api.container.engine)


async def test_a_failed_purchase_leaves_its_key_unused(api: Api, alice: Member, market: dict[str, Any]) -> None:
    body = await api.gql(OPEN, buy_input(market, "YES", "5000", idempotencyKey="k"), token=alice.token)
    assert codes(body) == ["CONFLICT"]
    assert await count(api, idempotency_keys) == 0
    assert (await buy(api, alice, market, "YES", "5", idempotencyKey="k"))["amount"] == "5.00"


@pytest.mark.parametrize("key", ["", " ", "has space", "x" * 65, "tab\tkey", "é", "new\nline", "\x7f"])
async def test_a_malformed_key_is_bad_user_input(api: Api, alice: Member, market: dict[str, Any], key: str) -> None:
    body = await api.gql(OPEN, buy_input(market, idempotencyKey=key), token=alice.token)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert list(body["errors"][0]["extensions"]["fields"]) == ["input.idempotencyKey"]
    assert await balance_of(api.container.engine, alice.user.id) == D("1000.00")


async def test_a_key_expires_after_24_hours_and_is_purged(api: Api, alice: Member, market: dict[str, Any]) -> None:
    first = await buy(api, alice, market, "YES", "5", idempotencyKey="x" * 64)
    async with api.container.engine.begin() as connection:
        old = api.container.clock() - timedelta(hours=24, seconds=1)
        await connection.execute(update(idempotency_keys).values(created_at=old))
    second = await buy(api, alice, market, "NO", "6", idempotencyKey="x" * 64)  # absent: buys anew
    assert second["id"] != first["id"]
    assert await purge_idempotency_keys(uow=api.container.unit_of_work(), clock=api.container.clock) == 0
    async with api.container.engine.begin() as connection:
        await connection.execute(update(idempotency_keys).values(created_at=old))
    assert await purge_idempotency_keys(uow=api.container.unit_of_work(), clock=api.container.clock) == 1
    assert await count(api, idempotency_keys) == 0
    await assert_books_balance(api.container.engine)


# ---------------------------------------------------------------- decimals the context cannot hold

EXTREME_DECIMALS = ["1e999999999", "-1e999999999", "1e-999999999", "-1e-999999999", "1E+1000000"]
QUOTE = "query($m: ID!, $a: Decimal!) { quote(marketId: $m, outcome: YES, amount: $a) { shares } }"


@pytest.mark.parametrize("sent", EXTREME_DECIMALS)
async def test_decimals_with_extreme_exponents_are_bad_user_input_everywhere(
    api: Api, alice: Member, admin: Member, market: dict[str, Any], sent: str
) -> None:
    """Found by the fuzzer: `abs()` rounds in the decimal context, and 1e999999999 overflowed it (an
    internal error). Every Decimal input is judged exactly, whatever its exponent."""
    bought = await api.data(OPEN, buy_input(market), token=alice.token)
    before = await ledger(api.container.engine, alice.user.id)
    attempts = {
        "amount": (ADJUST, {"u": alice.id, "a": sent, "n": "fuzz"}, admin.token),
        "input.amount": (OPEN, buy_input(market, amount=sent), alice.token),
        "input.minShares": (OPEN, buy_input(market, minShares=sent), alice.token),
        "minProceeds": (SELL, {"id": bought["openPosition"]["id"], "min": sent}, alice.token),
        "quote.amount": (QUOTE, {"m": market["id"], "a": sent}, alice.token),
    }
    for field, (document, variables, token) in attempts.items():
        body = await api.gql(document, variables, token=token)
        assert codes(body) == ["BAD_USER_INPUT"], (field, body)
        assert list(body["errors"][0]["extensions"]["fields"]) == [field.removeprefix("quote.")], (field, body)
    assert await ledger(api.container.engine, alice.user.id) == before
