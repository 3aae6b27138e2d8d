"""Reading the money: User.transactions, Transaction nodes, Market.probabilityHistory and quote.

Through the API only, against the real database: who sees a ledger through each path (anonymous,
another USER, the owner, a MODERATOR, an ADMIN), the pages walked to the end, the quote's rules
side by side with the purchase it prices.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain import market_maker
from domain.entities import MarketStatus, Outcome, TransactionKind
from domain.market_maker import Pools
from domain.roles import Role
from graph import ids
from persistence.unit_of_work import SqlUnitOfWork
from tests.conftest import Api, Member, codes
from tests.factories import at, insert_market, insert_user

ANONYMOUS, OWNER, OTHER, MODERATOR, ADMIN = "anonymous", "owner", "other", "moderator", "admin"
VIEWERS = (ANONYMOUS, OWNER, OTHER, MODERATOR, ADMIN)
SEES_LEDGER = {OWNER, ADMIN}  # the contract's row for User.balance and User.transactions

OPEN = "mutation($input: OpenPositionInput!) { openPosition(input: $input) { id shares market { probability } } }"
SELL = "mutation($id: ID!) { sellPosition(id: $id) { id proceeds } }"
LEDGER = "transactions(first: 10) { totalCount edges { node { id kind amount balanceAfter note } } }"
QUOTE = """query($id: ID!, $outcome: Outcome!, $amount: Decimal!) {
  quote(marketId: $id, outcome: $outcome, amount: $amount) { outcome amount shares probabilityBefore probabilityAfter }
}"""
HISTORY = """query($id: ID!, $first: Int, $after: String) { market(id: $id) {
  probabilityHistory(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { probability at } } } } }"""
WALK = """query($id: ID!, $first: Int, $after: String) { user(id: $id) {
  transactions(first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { id amount createdAt } } } } }"""


class Cast:
    """The owner of the ledger under test (with a market they hold a position on), another user,
    a moderator and an admin."""

    def __init__(self, members: dict[str, Member], market: dict[str, Any], position: str) -> None:
        self.members = members
        self.market = market
        self.position = position

    def token(self, viewer: str) -> str | None:
        return self.members[viewer].token if viewer != ANONYMOUS else None

    @property
    def owner(self) -> Member:
        return self.members[OWNER]


async def buy(api: Api, member: Member, market_id: str, amount: str, outcome: str = "YES") -> dict[str, Any]:
    data = await api.data(OPEN, {"input": {"marketId": market_id, "outcome": outcome, "amount": amount}},
                          token=member.token)
    return dict(data["openPosition"])


@pytest.fixture
async def cast(api: Api) -> Cast:
    members = {
        OWNER: await api.make_user(Role.USER, name="Owner"),
        OTHER: await api.make_user(Role.USER, name="Other"),
        MODERATOR: await api.make_user(Role.MODERATOR, name="Moderator"),
        ADMIN: await api.make_user(Role.ADMIN, name="Admin"),
    }
    for member in members.values():
        await api.fund(member, "500")
    market = await api.make_market(members[OTHER], name="Will the ledger balance?")
    position = await buy(api, members[OWNER], market["id"], "12.50")
    return Cast(members, market, position["id"])


def transaction_ids(data: Any) -> list[str] | None:
    return None if data is None else [edge["node"]["id"] for edge in data["edges"]]


# --- who sees a ledger ------------------------------------------------------------------------------------------


async def owners_ledger(api: Api, cast: Cast) -> dict[str, Any]:
    data = await api.data(f"query($id: ID!) {{ user(id: $id) {{ {LEDGER} }} }}", {"id": cast.owner.id},
                          token=cast.token(ADMIN))
    return dict(data["user"]["transactions"])


async def test_the_owners_ledger_reads_newest_first_with_running_balances(api: Api, cast: Cast) -> None:
    ledger = await owners_ledger(api, cast)
    nodes = [edge["node"] for edge in ledger["edges"]]
    assert ledger["totalCount"] == len(nodes) >= 2
    assert nodes[0]["kind"] == "BUY" and nodes[0]["amount"] == "-12.50"
    assert nodes[1] == {**nodes[1], "kind": "ADJUSTMENT", "amount": "500.00", "note": "test funds"}
    # balanceAfter is the running sum, oldest to newest, ending at the balance.
    running = Decimal(0)
    for node in reversed(nodes):
        running += Decimal(node["amount"])
        assert Decimal(node["balanceAfter"]) == running
    balance = await api.data("{ me { balance } }", token=cast.owner.token)
    assert Decimal(balance["me"]["balance"]) == running
    assert ids.decode_any(nodes[0]["id"]) is not None and ids.decode_any(nodes[0]["id"])[0] == "Transaction"


PATHS = {
    "user": ("query($id: ID!) { user(id: $id) { %s } }", lambda d: d["user"]["transactions"]),
    "node": ("query($id: ID!) { node(id: $id) { ... on User { %s } } }", lambda d: d["node"]["transactions"]),
    "nodes": ("query($id: ID!) { nodes(ids: [$id]) { ... on User { %s } } }",
              lambda d: d["nodes"][0]["transactions"]),
}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("path", sorted(PATHS))
async def test_user_transactions_are_for_the_user_and_admins(api: Api, cast: Cast, viewer: str, path: str) -> None:
    query, pick = PATHS[path]
    body = await api.gql(query % LEDGER, {"id": cast.owner.id}, token=cast.token(viewer))
    assert "errors" not in body, body  # null, never an error
    expected = transaction_ids(await owners_ledger(api, cast)) if viewer in SEES_LEDGER else None
    assert transaction_ids(pick(body["data"])) == expected


@pytest.mark.parametrize("viewer", [OWNER, OTHER, MODERATOR, ADMIN])
async def test_me_shows_every_viewer_their_own_ledger(api: Api, cast: Cast, viewer: str) -> None:
    data = await api.data(f"{{ me {{ id {LEDGER} }} }}", token=cast.token(viewer))
    assert data["me"]["transactions"]["totalCount"] >= 1
    kinds = {edge["node"]["kind"] for edge in data["me"]["transactions"]["edges"]}
    assert "ADJUSTMENT" in kinds
    if viewer == OWNER:
        assert transaction_ids(data["me"]["transactions"]) == transaction_ids(await owners_ledger(api, cast))


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_position_user_shows_the_ledger_only_to_its_owner_and_admins(api: Api, cast: Cast, viewer: str) -> None:
    """Position.user is the holder's, moderators' and admins'; its ledger, the holder's and admins' only."""
    query = """query($id: ID!) { market(id: $id) { positions { edges { node {
        user { id transactions(first: 10) { totalCount } } } } } } }"""
    data = await api.data(query, {"id": cast.market["id"]}, token=cast.token(viewer))
    user = data["market"]["positions"]["edges"][0]["node"]["user"]
    if viewer in (ANONYMOUS, OTHER):
        assert user is None
    elif viewer == MODERATOR:
        assert user == {"id": cast.owner.id, "transactions": None}
    else:
        assert user["transactions"]["totalCount"] == (await owners_ledger(api, cast))["totalCount"]


async def test_the_auth_payload_shows_the_user_their_ledger(api: Api) -> None:
    signed_up = await api.data(
        'mutation { signUp(email: "ledger@example.com", name: "Led", password: "correct horse") '
        f"{{ user {{ balance {LEDGER} }} }} }}")
    ledger = signed_up["signUp"]["user"]["transactions"]
    assert [edge["node"]["kind"] for edge in ledger["edges"]] == ["GRANT"]
    assert ledger["edges"][0]["node"]["balanceAfter"] == signed_up["signUp"]["user"]["balance"]
    logged_in = await api.data(
        'mutation { login(email: "ledger@example.com", password: "correct horse") '
        f"{{ user {{ {LEDGER} }} }} }}")
    assert transaction_ids(logged_in["login"]["user"]["transactions"]) == transaction_ids(ledger)


# --- Transaction nodes ----------------------------------------------------------------------------------------

NODE = """query($id: ID!) { node(id: $id) { id ... on Transaction { kind amount balanceAfter note createdAt
  market { id name } position { id amount } } } }"""


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_a_transaction_node_is_for_its_user_and_admins(api: Api, cast: Cast, viewer: str) -> None:
    bought = (await owners_ledger(api, cast))["edges"][0]["node"]
    body = await api.gql(NODE, {"id": bought["id"]}, token=cast.token(viewer))
    assert "errors" not in body, body
    many = await api.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": [bought["id"], cast.owner.id]},
                          token=cast.token(viewer))
    if viewer in SEES_LEDGER:
        assert body["data"]["node"] == {
            "id": bought["id"], "kind": "BUY", "amount": "-12.50", "balanceAfter": bought["balanceAfter"],
            "note": None, "createdAt": body["data"]["node"]["createdAt"],
            "market": {"id": cast.market["id"], "name": "Will the ledger balance?"},
            "position": {"id": cast.position, "amount": "12.50"},
        }
        assert many["nodes"] == [{"id": bought["id"]}, {"id": cast.owner.id}]
    else:
        assert body["data"]["node"] is None
        assert many["nodes"] == [None, {"id": cast.owner.id}]


async def test_a_transaction_outlives_its_market_with_null_references(api: Api, cast: Cast) -> None:
    admin = cast.members[ADMIN]
    await api.data("mutation($id: ID!) { deleteMarket(id: $id) }", {"id": cast.market["id"]}, token=admin.token)
    ledger = (await owners_ledger(api, cast))["edges"]
    kinds = [edge["node"]["kind"] for edge in ledger]
    assert kinds[:2] == ["REFUND", "BUY"]  # deleting an open market refunds it first
    for edge in ledger[:2]:
        node = (await api.data(NODE, {"id": edge["node"]["id"]}, token=admin.token))["node"]
        assert node["market"] is None and node["position"] is None


@pytest.mark.parametrize("garbage", ["", "not an id", ids.encode("Transaction", 999_999), ids.encode("Transactio", 1)])
async def test_a_transaction_id_naming_nothing_is_null(api: Api, cast: Cast, garbage: str) -> None:
    assert await api.data(NODE, {"id": garbage}, token=cast.token(ADMIN)) == {"node": None}


# --- pagination -----------------------------------------------------------------------------------------------


async def test_transactions_walk_newest_first_with_ties_by_id(api: Api) -> None:
    """Ledger rows with equal createdAt (stored straight through the ledger with a fixed clock):
    pages of 3 return each row once, newest first, ties by id descending."""
    user = await insert_user(api.container, email="walker@example.com")
    async with SqlUnitOfWork.standalone(api.container.engine) as uow:
        for n in range(11):
            await uow.ledger.change_balance(user_id=user.id, amount=Decimal(n + 1), kind=TransactionKind.ADJUSTMENT,
                                            clock=lambda n=n: at(n // 3), note=f"row {n}")
        await uow.commit()
    admin = await api.make_user(Role.ADMIN)
    seen: list[dict[str, Any]] = []
    after = None
    pages = 0
    while True:
        page = (await api.data(WALK, {"id": ids.encode("User", user.id), "first": 3, "after": after},
                               token=admin.token))["user"]["transactions"]
        pages += 1
        assert page["totalCount"] == 11
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 4
    keys = [(datetime.fromisoformat(node["createdAt"]), ids.decode(node["id"], "Transaction")) for node in seen]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == 11
    assert [node["amount"] for node in seen][:3] == ["11.00", "10.00", "9.00"]


async def test_transaction_cursors_belong_to_their_connection(api: Api, cast: Cast) -> None:
    positions = await api.data("{ me { positions(first: 1) { pageInfo { endCursor } } } }", token=cast.owner.token)
    foreign = positions["me"]["positions"]["pageInfo"]["endCursor"]
    for after in (foreign, "garbage"):
        body = await api.gql(WALK, {"id": cast.owner.id, "first": 1, "after": after}, token=cast.owner.token)
        assert codes(body) == ["BAD_USER_INPUT"]
        assert list(body["errors"][0]["extensions"]["fields"]) == ["after"]
    body = await api.gql(WALK, {"id": cast.owner.id, "first": 101}, token=cast.owner.token)
    assert codes(body) == ["BAD_USER_INPUT"] and "first" in body["errors"][0]["extensions"]["fields"]


async def test_probability_history_follows_every_trade_oldest_first(api: Api, cast: Cast) -> None:
    """The creation point (0.5), then one after each buy and each sale, each the market maker's
    probability after the trade; the last one is the market's own probability."""
    other, market_id = cast.members[OTHER], cast.market["id"]
    second = await buy(api, other, market_id, "30", outcome="NO")
    await buy(api, cast.members[MODERATOR], market_id, "7.25")
    await api.data(SELL, {"id": second["id"]}, token=other.token)

    expected = [0.5]
    pools = Pools.of(Decimal("100.00"), Decimal("100.00"))
    for outcome, cents in ((Outcome.YES, 1250), (Outcome.NO, 3000), (Outcome.YES, 725)):
        pools = market_maker.buy(pools, outcome, cents).after
        expected.append(pools.probability)
    pools = market_maker.sell(pools, Outcome.NO, market_maker.to_cents(Decimal(second["shares"]))).after
    expected.append(pools.probability)

    history = (await api.data(HISTORY, {"id": market_id}))["market"]["probabilityHistory"]
    assert history["totalCount"] == 5
    assert [edge["node"]["probability"] for edge in history["edges"]] == expected
    times = [datetime.fromisoformat(edge["node"]["at"]) for edge in history["edges"]]
    assert times == sorted(times)
    market = await api.data("query($id: ID!) { market(id: $id) { probability } }", {"id": market_id})
    assert market["market"]["probability"] == expected[-1]


async def test_probability_history_walks_in_pages(api: Api, cast: Cast) -> None:
    for n in range(4):
        await buy(api, cast.members[OTHER], cast.market["id"], f"{n + 1}", outcome="NO" if n % 2 else "YES")
    whole = (await api.data(HISTORY, {"id": cast.market["id"]}))["market"]["probabilityHistory"]
    assert whole["totalCount"] == 6 and whole["pageInfo"]["hasNextPage"] is False
    walked: list[Any] = []
    after = None
    while True:
        page = (await api.data(HISTORY, {"id": cast.market["id"], "first": 4, "after": after}))["market"][
            "probabilityHistory"]
        walked += page["edges"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [edge["node"] for edge in walked] == [edge["node"] for edge in whole["edges"]]
    assert [edge["cursor"] for edge in walked] == [edge["cursor"] for edge in whole["edges"]]


async def test_probability_history_ties_are_ordered_by_id(api: Api) -> None:
    """Points stored with one instant (straight through the repository) come oldest id first."""
    creator = await insert_user(api.container, email="tied@example.com")
    market = await insert_market(api.container, creator)
    async with SqlUnitOfWork.standalone(api.container.engine) as uow:
        for yes in (90, 80, 70):
            await uow.price_points.add(market_id=market.id, yes_pool=Decimal(yes), no_pool=Decimal(100), at=at(5))
        await uow.commit()
    history = (await api.data(HISTORY, {"id": ids.encode("Market", market.id), "first": 2}))["market"][
        "probabilityHistory"]
    rest = (await api.data(HISTORY, {"id": ids.encode("Market", market.id), "first": 2,
                                     "after": history["pageInfo"]["endCursor"]}))["market"]["probabilityHistory"]
    seen = [edge["node"]["probability"] for edge in history["edges"] + rest["edges"]]
    assert seen[-3:] == [100 / 190, 100 / 180, 100 / 170]


# --- quote ----------------------------------------------------------------------------------------------------


async def quote(api: Api, market_id: str, amount: Any, outcome: str = "YES", token: str | None = None) -> Any:
    return await api.gql(QUOTE, {"id": market_id, "outcome": outcome, "amount": amount}, token=token)


@pytest.mark.parametrize("outcome", ["YES", "NO"])
async def test_a_quote_is_what_the_purchase_then_gives(api: Api, cast: Cast, outcome: str) -> None:
    market_id = cast.market["id"]
    before = await api.data("query($id: ID!) { market(id: $id) { probability volume yesPool noPool } }",
                            {"id": market_id})
    body = await quote(api, market_id, "25.5", outcome)  # anonymous: anyone may ask
    assert "errors" not in body, body
    priced = body["data"]["quote"]
    pools = Pools.of(Decimal(before["market"]["yesPool"]), Decimal(before["market"]["noPool"]))
    trade = market_maker.buy(pools, Outcome(outcome), 2550)
    assert priced == {
        "outcome": outcome, "amount": "25.50", "shares": str(trade.shares_decimal),
        "probabilityBefore": before["market"]["probability"], "probabilityAfter": trade.after.probability,
    }
    # Nothing was bought: the market is as it was, its history too.
    again = await api.data("query($id: ID!) { market(id: $id) { probability volume yesPool noPool } }",
                           {"id": market_id})
    assert again == before
    bought = await buy(api, cast.members[MODERATOR], market_id, "25.50", outcome)
    assert bought["shares"] == priced["shares"]
    assert bought["market"]["probability"] == priced["probabilityAfter"]


async def test_a_quote_looks_at_no_balance(api: Api, cast: Cast) -> None:
    """A million quoted to a user whose balance is far below it (openPosition would refuse: CONFLICT)."""
    broke = await api.make_user(name="Broke")
    balance = (await api.data("{ me { balance } }", token=broke.token))["me"]["balance"]
    assert Decimal(balance) < Decimal("1000000")
    body = await quote(api, cast.market["id"], "1000000", token=broke.token)
    assert "errors" not in body, body
    assert Decimal(body["data"]["quote"]["shares"]) >= Decimal("1000000")


@pytest.mark.parametrize("garbage", [
    "", "nonsense", ids.encode("Market", 999_999), ids.encode("User", 1), ids.encode("Position", 1),
])
async def test_a_quote_on_no_market_is_not_found(api: Api, cast: Cast, garbage: str) -> None:
    body = await quote(api, garbage, "5")
    assert codes(body) == ["NOT_FOUND"] and body["data"] is None


@pytest.mark.parametrize("state", ["CLOSED", "RESOLVED", "CANCELLED", "ENDED"])
async def test_a_quote_on_a_market_not_open_is_a_conflict(api: Api, state: str) -> None:
    creator = await insert_user(api.container, email="closer@example.com")
    if state == "ENDED":
        ended = datetime.now(UTC) - timedelta(minutes=1)
        market = await insert_market(api.container, creator, now=ended - timedelta(days=1), end_date=ended)
    else:
        market = await insert_market(api.container, creator, status=MarketStatus(state))
    body = await quote(api, ids.encode("Market", market.id), "5")
    assert codes(body) == ["CONFLICT"] and body["data"] is None


@pytest.mark.parametrize("amount", ["0", "-1", "1.001", "1000000.01", "ten", 0.001, "NaN", "Infinity", True])
async def test_a_bad_amount_is_bad_user_input_on_amount(api: Api, cast: Cast, amount: Any) -> None:
    body = await quote(api, cast.market["id"], amount)
    assert codes(body) == ["BAD_USER_INPUT"], body
    assert list(body["errors"][0]["extensions"]["fields"]) == ["amount"]


async def test_a_bad_amount_in_the_document_names_the_field_too(api: Api, cast: Cast) -> None:
    body = await api.gql(f'{{ quote(marketId: "{cast.market["id"]}", outcome: YES, amount: "1.005") {{ shares }} }}')
    assert codes(body) == ["BAD_USER_INPUT"]
    assert list(body["errors"][0]["extensions"]["fields"]) == ["amount"]


@pytest.mark.parametrize(
    ("amount", "written"), [("1.000", "1.00"), (7, "7.00"), ("0.1", "0.10"), ("1000000", "1000000.00")]
)
async def test_amounts_are_judged_by_their_digits(api: Api, cast: Cast, amount: Any, written: str) -> None:
    body = await quote(api, cast.market["id"], amount)
    assert "errors" not in body, body
    assert body["data"]["quote"]["amount"] == written
    assert Decimal(body["data"]["quote"]["shares"]) >= Decimal(written)
