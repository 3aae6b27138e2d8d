"""Rules of the contract that a black-box audit of the live server found broken, each checked the
way a client sees it (over HTTP, with the exact status, code and body)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from domain.roles import Role
from tests.conftest import Api, codes
from tests.live import WAIT_SECONDS, LiveServer, serving
from tests.servers import instance

OPEN = """mutation($input: OpenPositionInput!) {
  openPosition(input: $input) { id shares soldAt } }"""
SELL = "mutation($id: ID!, $min: Decimal) { sellPosition(id: $id, minProceeds: $min) { id proceeds soldAt } }"
OPEN_AMOUNT = "mutation($input: OpenPositionInput!) { openPosition(input: $input) { amount } }"
POSITION = "query($id: ID!) { node(id: $id) { ... on Position { soldAt proceeds } } }"


async def held_position(api: Api) -> tuple[dict[str, Any], Any]:
    """A position held by a fresh user, and that user."""
    creator, holder = await api.make_user(email="creator@example.com"), await api.make_user(email="holder@example.com")
    market = await api.make_market(creator)
    opened = await api.data(
        OPEN, {"input": {"marketId": market["id"], "outcome": "YES", "amount": "10"}}, token=holder.token
    )
    return opened["openPosition"], holder


@pytest.mark.parametrize("min_proceeds", ["-5", "0.001", "1000000000000.01"])
@pytest.mark.parametrize("role", [Role.USER, Role.MODERATOR, Role.ADMIN])
async def test_selling_another_s_position_is_forbidden_whatever_min_proceeds(
    api: Api, role: Role, min_proceeds: str
) -> None:
    """Permission before validation: a stranger learns nothing from the value check."""
    position, _ = await held_position(api)
    stranger = await api.make_user(role, email="stranger@example.com")
    body = await api.gql(SELL, {"id": position["id"], "min": min_proceeds}, token=stranger.token)
    assert codes(body) == ["FORBIDDEN"]
    assert body["data"] is None
    assert (await api.data(POSITION, {"id": position["id"]}))["node"] == {"soldAt": None, "proceeds": None}


async def test_the_holder_still_gets_bad_user_input_for_a_bad_min_proceeds(api: Api) -> None:
    position, holder = await held_position(api)
    body = await api.gql(SELL, {"id": position["id"], "min": "-5"}, token=holder.token)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert list(body["errors"][0]["extensions"]["fields"]) == ["minProceeds"]
    assert (await api.data(POSITION, {"id": position["id"]}))["node"]["soldAt"] is None


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
async def test_a_get_without_query_from_a_non_browser_is_400(api: Api, accept: str | None) -> None:
    """GraphiQL is for `Accept: text/html`; anything else without `query` is not a GraphQL request."""
    headers = {"Accept": accept} if accept is not None else {}
    response = await api.http.get("/graphql", headers=headers)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert codes(response.json()) == ["BAD_REQUEST"]


async def test_a_rate_limited_request_carries_its_wait_in_the_header_and_the_error(test_database_url: str) -> None:
    """429: `Retry-After` and `extensions.retryAfter` (README, Rate limits) say the same number of seconds."""
    async with instance(test_database_url, rate_limit_per_minute=1) as app:
        query = "{ markets(first: 1) { totalCount } }"
        assert (await app.post(query)).status_code == 200
        response = await app.post(query)
        assert response.status_code == 429
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        assert error["extensions"]["retryAfter"] == int(response.headers["Retry-After"]) >= 1



async def buy_on_a_new_market(api: Api, amount: str) -> tuple[dict[str, Any], str]:
    """The response to a first purchase of `amount`, and the buyer's token."""
    creator, buyer = await api.make_user(email="creator@example.com"), await api.make_user(email="buyer@example.com")
    market = await api.make_market(creator)
    body = await api.gql(OPEN_AMOUNT, {"input": {"marketId": market["id"], "outcome": "YES", "amount": amount}},
                         token=buyer.token)
    return body, buyer.token


@pytest.mark.parametrize("amount", ["1_000", "1_0.00", "\u0661\u0662", "\u00a05", "\uff15", "5\u2003"])
async def test_an_amount_is_written_in_ascii_decimal_digits(api: Api, amount: str) -> None:
    """Python's Decimal() would read these as 1000, 10, 12 and 5; the contract's amount is plain digits."""
    body, token = await buy_on_a_new_market(api, amount)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert list(body["errors"][0]["extensions"]["fields"]) == ["input.amount"]
    me = await api.data("{ me { balance positions { totalCount } } }", token=token)
    assert me["me"] == {"balance": "1000.00", "positions": {"totalCount": 0}}


@pytest.mark.parametrize("amount", [" 5 ", "5.", ".5e1", "+5", "5E0", "0.5e1"])
async def test_plain_decimal_notation_is_still_read(api: Api, amount: str) -> None:
    body, _ = await buy_on_a_new_market(api, amount)
    assert body == {"data": {"openPosition": {"amount": "5.00"}}}


UPDATE = "mutation($id: ID!, $input: UpdateMarketInput!) { updateMarket(id: $id, input: $input) { status } }"


@pytest.mark.parametrize("settle", ["resolve", "cancel"])
@pytest.mark.parametrize("status", ["RESOLVED", "CANCELLED", "ACTIVE", "CLOSED"])
async def test_a_settled_market_refuses_every_status_with_conflict(api: Api, settle: str, status: str) -> None:
    """"Any status in updateMarket on such a market (the same one included) → CONFLICT": RESOLVED too,
    which on an open market is BAD_USER_INPUT (use resolveMarket)."""
    position, holder = await held_position(api)
    moderator = await api.make_user(Role.MODERATOR, email="moderator@example.com")
    market_id = (await api.data("query($id: ID!) { node(id: $id) { ... on Position { market { id } } } }",
                                {"id": position["id"]}))["node"]["market"]["id"]
    if settle == "resolve":
        await api.data("mutation($id: ID!) { resolveMarket(id: $id, outcome: YES) { id } }", {"id": market_id},
                       token=moderator.token)
    else:
        await api.data(UPDATE, {"id": market_id, "input": {"status": "CANCELLED"}}, token=moderator.token)
    balance = (await api.data("{ me { balance } }", token=holder.token))["me"]["balance"]
    body = await api.gql(UPDATE, {"id": market_id, "input": {"status": status}}, token=moderator.token)
    assert codes(body) == ["CONFLICT"]
    assert (await api.data("{ me { balance } }", token=holder.token))["me"]["balance"] == balance


async def test_resolved_through_update_market_on_an_open_market_is_bad_user_input(api: Api) -> None:
    moderator = await api.make_user(Role.MODERATOR, email="moderator@example.com")
    market = await api.make_market(moderator)
    body = await api.gql(UPDATE, {"id": market["id"], "input": {"status": "RESOLVED"}}, token=moderator.token)
    assert codes(body) == ["BAD_USER_INPUT"]
    assert list(body["errors"][0]["extensions"]["fields"]) == ["input.status"]


async def test_update_market_may_move_the_end_date_into_the_past_which_stops_trading(api: Api) -> None:
    """The contract asks a future endDate at createMarket only; a past one set later ends trading:
    buying, selling and quoting are CONFLICT, and the market can still be resolved."""
    position, holder = await held_position(api)
    market_id = (await api.data("query($id: ID!) { node(id: $id) { ... on Position { market { id } } } }",
                                {"id": position["id"]}))["node"]["market"]["id"]
    moderator = await api.make_user(Role.MODERATOR, email="moderator@example.com")
    moved = await api.data("mutation($id: ID!) { updateMarket(id: $id, input: {endDate: \"2020-01-01T00:00:00+02:00\"})"
                           " { endDate status } }", {"id": market_id}, token=moderator.token)
    assert moved["updateMarket"] == {"endDate": "2019-12-31T22:00:00+00:00", "status": "ACTIVE"}
    balance = (await api.data("{ me { balance } }", token=holder.token))["me"]["balance"]
    buying = {"input": {"marketId": market_id, "outcome": "NO", "amount": "5"}}
    assert codes(await api.gql(OPEN, buying, token=holder.token)) == ["CONFLICT"]
    assert codes(await api.gql(SELL, {"id": position["id"]}, token=holder.token)) == ["CONFLICT"]
    quote = 'query($id: ID!) { quote(marketId: $id, outcome: YES, amount: "5") { shares } }'
    assert codes(await api.gql(quote, {"id": market_id})) == ["CONFLICT"]
    assert (await api.data("{ me { balance } }", token=holder.token))["me"]["balance"] == balance
    await api.data("mutation($id: ID!) { resolveMarket(id: $id, outcome: YES) { id } }", {"id": market_id},
                   token=moderator.token)
    assert (await api.data(POSITION, {"id": position["id"]}))["node"]["soldAt"] is None


async def subscribe_once(server: LiveServer, document: str) -> dict[str, Any]:
    """The first answer to one subscribe message on a fresh socket past connection_ack."""
    async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS))["type"] == "connection_ack"
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": document}}))
        answer: dict[str, Any] = json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS))
        return answer


async def test_a_subscription_that_does_not_parse_closes_the_socket_with_4400(test_database_url: str) -> None:
    """4400 with the syntax error as the reason (graphql-transport-ws), never the operation's task crashing
    into a bare `complete` and an error-level traceback in the log."""
    with serving(test_database_url, LOG_LEVEL="INFO") as server:
        with pytest.raises(ConnectionClosed) as closed:
            await subscribe_once(server, "subscription { marketEvents { id ")
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4400, "Syntax Error: Expected Name, found <EOF>.")
        assert "Exception in worker task" not in server.log.read_text()


async def test_a_subscription_that_does_not_validate_is_an_error_message_with_its_code(test_database_url: str) -> None:
    with serving(test_database_url) as server:
        answer = await subscribe_once(server, "subscription { marketEvents { nope } }")
    assert answer["type"] == "error", answer
    assert [error["extensions"]["code"] for error in answer["payload"]] == ["GRAPHQL_VALIDATION_FAILED"]
