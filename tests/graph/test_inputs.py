"""Input rules, scalars, state conflicts, ids that name nothing, and write consistency."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain.entities import MarketStatus
from domain.roles import Role
from persistence.repositories.positions import SqlPositionRepository
from tests.conftest import Api, Member, codes
from tests.factories import insert_market, market_id, position_id, user_id

CREATE = """
mutation($input: CreateMarketInput!) {
  createMarket(input: $input) {
    id name description status volume endDate createdAt updatedAt resolvedOutcome
    positions { totalCount edges { node { amount outcome } } }
  }
}
"""
UPDATE = """mutation($id: ID!, $input: UpdateMarketInput!) {
  updateMarket(id: $id, input: $input) { id name description status endDate } }"""
OPEN = "mutation($input: OpenPositionInput!) { openPosition(input: $input) { id amount outcome market { id volume } } }"
RESOLVE = """mutation($id: ID!, $outcome: Outcome!) {
  resolveMarket(id: $id, outcome: $outcome) { id status resolvedOutcome } }"""
DELETE = "mutation($id: ID!) { deleteMarket(id: $id) }"
MARKET = "query($id: ID!) { market(id: $id) { id name description status volume endDate resolvedOutcome } }"
COUNT = "{ markets { totalCount } }"

FUTURE = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0)
PAST = datetime(2001, 1, 1, tzinfo=UTC)


def fields(body: dict[str, Any]) -> dict[str, str]:
    assert codes(body) == ["BAD_USER_INPUT"], body
    return body["errors"][0]["extensions"]["fields"]


async def market_count(api: Api) -> int:
    return int((await api.data(COUNT))["markets"]["totalCount"])


RAW = "<raw>"


def with_raw(variables: dict[str, Any], written: str) -> str:
    """Variables as JSON text with the RAW placeholder replaced by `written`, digits exactly as typed."""
    return json.dumps(variables).replace(json.dumps(RAW), written)


async def post_raw(api: Api, query: str, variables_json: str, *, token: str | None = None) -> dict[str, Any]:
    """Post variables written as raw JSON text, so numbers keep their exact digits."""
    content = f'{{"query": {json.dumps(query)}, "variables": {variables_json}}}'
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await api.http.post("/graphql", content=content, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def alice(api: Api) -> Member:
    return await api.make_user(email="alice@example.com")


@pytest.fixture
async def moderator(api: Api) -> Member:
    return await api.make_user(Role.MODERATOR, email="mod@example.com")


@pytest.fixture
async def admin(api: Api) -> Member:
    return await api.make_user(Role.ADMIN, email="admin@example.com")


# ---------------------------------------------------------------- market name and description


@pytest.mark.parametrize(("sent", "stored"), [
    ("abc", "abc"),
    ("   abc   ", "abc"),
    ("\tab c\n", "ab c"),
    ("a" * 200, "a" * 200),
    ("  " + "b" * 200 + "  ", "b" * 200),
    ("  Will it rain?  ", "Will it rain?"),
])
async def test_market_name_is_stored_trimmed(api: Api, alice: Member, sent: str, stored: str) -> None:
    created = (await api.data(CREATE, {"input": {"name": sent}}, token=alice.token))["createMarket"]
    assert created["name"] == stored
    read = (await api.data(MARKET, {"id": created["id"]}))["market"]
    assert read["name"] == stored


@pytest.mark.parametrize("name", ["", "ab", "   ", "  ab  ", "a" * 201, " " + "c" * 201, "\t\n"])
async def test_market_name_out_of_bounds(api: Api, alice: Member, name: str) -> None:
    body = await api.gql(CREATE, {"input": {"name": name}}, token=alice.token)
    assert list(fields(body)) == ["input.name"]
    assert body.get("data") is None
    assert await market_count(api) == 0


@pytest.mark.parametrize("name", ["ab", "a" * 201, "   "])
async def test_update_market_name_out_of_bounds(api: Api, alice: Member, name: str) -> None:
    market = await api.make_market(alice, name="A fine name")
    body = await api.gql(UPDATE, {"id": market["id"], "input": {"name": name}}, token=alice.token)
    assert list(fields(body)) == ["input.name"]
    assert (await api.data(MARKET, {"id": market["id"]}))["market"]["name"] == "A fine name"


async def test_update_market_name_is_stored_trimmed(api: Api, alice: Member) -> None:
    market = await api.make_market(alice, name="A fine name")
    data = await api.data(UPDATE, {"id": market["id"], "input": {"name": "  Renamed  "}}, token=alice.token)
    assert data["updateMarket"]["name"] == "Renamed"
    assert (await api.data(MARKET, {"id": market["id"]}))["market"]["name"] == "Renamed"


@pytest.mark.parametrize(("length", "ok"), [(0, True), (1, True), (5000, True), (5001, False), (9999, False)])
async def test_market_description_length(api: Api, alice: Member, length: int, ok: bool) -> None:
    body = await api.gql(CREATE, {"input": {"name": "Described", "description": "d" * length}}, token=alice.token)
    if ok:
        assert "errors" not in body, body
        assert body["data"]["createMarket"]["description"] == "d" * length
    else:
        assert list(fields(body)) == ["input.description"]
        assert await market_count(api) == 0


async def test_update_description_too_long(api: Api, alice: Member) -> None:
    market = await api.make_market(alice, name="Described")
    body = await api.gql(UPDATE, {"id": market["id"], "input": {"description": "d" * 5001}}, token=alice.token)
    assert list(fields(body)) == ["input.description"]


async def test_description_defaults_to_empty(api: Api, alice: Member) -> None:
    created = (await api.data(CREATE, {"input": {"name": "No description"}}, token=alice.token))["createMarket"]
    assert created["description"] == ""
    assert created["status"] == "ACTIVE"
    assert created["resolvedOutcome"] is None
    assert created["endDate"] is None


async def test_every_bad_input_is_reported_at_once(api: Api, alice: Member) -> None:
    body = await api.gql(CREATE, {"input": {
        "name": "x", "description": "d" * 5001, "endDate": PAST.isoformat(),
        "initialPosition": {"outcome": "YES", "amount": "0"},
    }}, token=alice.token)
    assert set(fields(body)) == {"input.name", "input.description", "input.endDate", "input.initialPosition.amount"}
    assert await market_count(api) == 0


# ---------------------------------------------------------------- amounts


@pytest.fixture
async def open_market(api: Api, alice: Member) -> dict[str, Any]:
    return await api.make_market(alice, name="An open market")


VALID_AMOUNTS = [
    ('"12.5"', "12.50"),
    ('"1.000"', "1.00"),
    ('"1.10000"', "1.10"),
    ('"0.01"', "0.01"),
    ('"1000000"', "1000000.00"),
    ('"1000000.00"', "1000000.00"),
    ('"999999.99"', "999999.99"),
    ('"7"', "7.00"),
    ("0.1", "0.10"),
    ("12.5", "12.50"),
    ("5", "5.00"),
    ("1.000", "1.00"),
    ("0.30", "0.30"),
    ("1e2", "100.00"),
    ("1000000", "1000000.00"),
    ('"1E+2"', "100.00"),
    ('"1e-2"', "0.01"),
]
INVALID_AMOUNTS = [
    '"0"', '"0.00"', '"-1"', '"-0.01"', '"1000000.01"', '"1000001"', '"1.001"', '"0.001"', '"0.005"',
    '"ten"', '""', '"NaN"', '"Infinity"', '"1.2.3"', '"1,5"',
    '"1e999999999"', '"1e-999999999"', '"9' + "9" * 400 + '"',
    "0", "-5", "0.001", "1.0000000000000001", "1000000.01", "1e7", "true", "null", "[1]", '{"a": 1}',
]


@pytest.mark.parametrize(("written", "shown"), VALID_AMOUNTS)
async def test_open_position_valid_amounts(
    api: Api, alice: Member, open_market: dict[str, Any], written: str, shown: str
) -> None:
    await api.fund(alice, "1000000")
    variables = with_raw({"input": {"marketId": open_market["id"], "outcome": "YES", "amount": RAW}}, written)
    body = await post_raw(api, OPEN, variables, token=alice.token)
    assert "errors" not in body, body
    assert body["data"]["openPosition"]["amount"] == shown
    assert body["data"]["openPosition"]["market"]["volume"] == shown


@pytest.mark.parametrize("written", INVALID_AMOUNTS)
async def test_open_position_invalid_amounts(
    api: Api, alice: Member, open_market: dict[str, Any], written: str
) -> None:
    variables = with_raw({"input": {"marketId": open_market["id"], "outcome": "YES", "amount": RAW}}, written)
    body = await post_raw(api, OPEN, variables, token=alice.token)
    assert set(fields(body)) == {"input.amount"}
    assert body.get("data") is None
    market = (await api.data(MARKET, {"id": open_market["id"]}))["market"]
    assert market["volume"] == "0.00"


@pytest.mark.parametrize("written", ['"ten"', '"1.001"', "1.0000000000000001", '"0"'])
async def test_amount_field_path_does_not_depend_on_the_variable_name(
    api: Api, alice: Member, open_market: dict[str, Any], written: str
) -> None:
    query = "mutation($payload: OpenPositionInput!) { openPosition(input: $payload) { id } }"
    variables = with_raw({"payload": {"marketId": open_market["id"], "outcome": "YES", "amount": RAW}}, written)
    body = await post_raw(api, query, variables, token=alice.token)
    assert set(fields(body)) == {"input.amount"}


OPEN_LITERAL = 'mutation { openPosition(input: {marketId: "MARKET", outcome: NO, amount: AMOUNT}) { amount } }'


@pytest.mark.parametrize(("literal", "shown"), [('"12.5"', "12.50"), ("0.1", "0.10"), ("5", "5.00"), ("1.000", "1.00")])
async def test_amount_literal_valid(
    api: Api, alice: Member, open_market: dict[str, Any], literal: str, shown: str
) -> None:
    query = OPEN_LITERAL.replace("MARKET", open_market["id"]).replace("AMOUNT", literal)
    data = await api.data(query, token=alice.token)
    assert data["openPosition"]["amount"] == shown


@pytest.mark.parametrize("literal", ['"ten"', "1.0000000000000001", '"0"', "-1", '"1.001"', "true", "ten", "NO"])
async def test_amount_literal_invalid(api: Api, alice: Member, open_market: dict[str, Any], literal: str) -> None:
    query = OPEN_LITERAL.replace("MARKET", open_market["id"]).replace("AMOUNT", literal)
    body = await api.gql(query, token=alice.token)
    if literal in ("ten", "NO"):
        # An enum-like bare word for a Decimal: the document does not validate either way.
        assert codes(body) in (["BAD_USER_INPUT"], ["GRAPHQL_VALIDATION_FAILED"])
        return
    assert set(fields(body)) == {"input.amount"}


@pytest.mark.parametrize("written", ['"ten"', '"0"', '"1.001"', "1.0000000000000001", '"1000000.01"'])
async def test_initial_position_amount_path(api: Api, alice: Member, written: str) -> None:
    variables = with_raw({"input": {"name": "With a position", "initialPosition": {"outcome": "YES", "amount": RAW}}},
                         written)
    body = await post_raw(api, CREATE, variables, token=alice.token)
    assert set(fields(body)) == {"input.initialPosition.amount"}
    assert body.get("data") is None
    assert await market_count(api) == 0


async def test_initial_position_amount_literal_path(api: Api, alice: Member) -> None:
    query = 'mutation { createMarket(input: {name: "Lit", initialPosition: {outcome: YES, amount: "ten"}}) { id } }'
    body = await api.gql(query, token=alice.token)
    assert set(fields(body)) == {"input.initialPosition.amount"}
    assert await market_count(api) == 0


async def test_create_market_with_initial_position(api: Api, alice: Member) -> None:
    variables = '{"input": {"name": "With a position", "initialPosition": {"outcome": "NO", "amount": 0.1}}}'
    body = await post_raw(api, CREATE, variables, token=alice.token)
    assert "errors" not in body, body
    created = body["data"]["createMarket"]
    assert created["volume"] == "0.10"
    assert created["positions"]["totalCount"] == 1
    assert created["positions"]["edges"][0]["node"] == {"amount": "0.10", "outcome": "NO"}


async def test_create_market_is_all_or_nothing_when_the_position_write_fails(
    api: Api, alice: Member, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SqlPositionRepository, "add", broken)
    body = await api.gql(CREATE, {"input": {"name": "Doomed", "initialPosition": {"outcome": "YES", "amount": "5"}}},
                         token=alice.token)
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    monkeypatch.undo()
    assert await market_count(api) == 0


async def test_volume_is_the_exact_sum_of_positions(api: Api, alice: Member, open_market: dict[str, Any]) -> None:
    amounts = ["0.1"] * 10 + ["12.5", "0.01", "999.99"]
    await api.fund(alice, "100")
    for amount in amounts:
        await api.data(OPEN, {"input": {"marketId": open_market["id"], "outcome": "YES", "amount": amount}},
                       token=alice.token)
    market = (await api.data(MARKET, {"id": open_market["id"]}))["market"]
    assert market["volume"] == str(sum(Decimal(a) for a in amounts).quantize(Decimal("0.01")))
    assert market["volume"] == "1013.50"


async def test_decimal_output_has_two_places(api: Api, alice: Member) -> None:
    created = (await api.data(CREATE, {"input": {"name": "Fresh"}}, token=alice.token))["createMarket"]
    assert created["volume"] == "0.00"
    body = await api.data(OPEN, {"input": {"marketId": created["id"], "outcome": "YES", "amount": "12.5"}},
                          token=alice.token)
    assert body["openPosition"]["amount"] == "12.50"
    assert body["openPosition"]["market"]["volume"] == "12.50"
    data = await api.data("query($id: ID!) { market(id: $id) { volume positions { edges { node { amount } } } } }",
                          {"id": created["id"]})
    assert data["market"]["volume"] == "12.50"
    assert data["market"]["positions"]["edges"][0]["node"]["amount"] == "12.50"


# ---------------------------------------------------------------- DateTime


@pytest.mark.parametrize("written", [
    "2031-06-01T12:00:00", "2031-06-01 12:00:00", "2031-06-01", "tomorrow", "", "2031-13-01T00:00:00Z",
])
async def test_end_date_without_offset_or_garbage_is_bad_user_input(api: Api, alice: Member, written: str) -> None:
    body = await api.gql(CREATE, {"input": {"name": "Dated", "endDate": written}}, token=alice.token)
    assert set(fields(body)) == {"input.endDate"}
    assert await market_count(api) == 0


async def test_end_date_as_a_number_is_bad_user_input(api: Api, alice: Member) -> None:
    body = await api.gql(CREATE, {"input": {"name": "Dated", "endDate": 1_900_000_000}}, token=alice.token)
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("written", ["2031-06-01T12:00:00", "yesterday"])
async def test_end_date_literal_without_offset_is_bad_user_input(api: Api, alice: Member, written: str) -> None:
    query = 'mutation { createMarket(input: {name: "Dated", endDate: "WHEN"}) { id } }'.replace("WHEN", written)
    body = await api.gql(query, token=alice.token)
    assert set(fields(body)) == {"input.endDate"}
    assert await market_count(api) == 0


@pytest.mark.parametrize("argument", ["endsBefore", "endsAfter"])
async def test_filter_datetime_without_offset_is_bad_user_input(api: Api, argument: str) -> None:
    body = await api.gql("query($f: MarketFilter) { markets(filter: $f) { totalCount } }",
                         {"f": {argument: "2031-06-01T12:00:00"}})
    assert codes(body) == ["BAD_USER_INPUT"]
    body = await api.gql('{ markets(filter: {ARG: "2031-06-01T12:00:00"}) { totalCount } }'.replace("ARG", argument))
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("offset", [timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30)), UTC])
async def test_datetime_output_is_utc_with_an_explicit_offset(api: Api, alice: Member, offset: timezone) -> None:
    sent = FUTURE.astimezone(offset)
    created = (await api.data(CREATE, {"input": {"name": "Dated", "endDate": sent.isoformat()}},
                              token=alice.token))["createMarket"]
    for key in ("endDate", "createdAt", "updatedAt"):
        text = created[key]
        assert text.endswith(("+00:00", "Z")), text
        assert datetime.fromisoformat(text).utcoffset() == timedelta(0)
    assert datetime.fromisoformat(created["endDate"]) == FUTURE
    read = (await api.data(MARKET, {"id": created["id"]}))["market"]
    assert read["endDate"] == created["endDate"]


async def test_datetime_with_z_suffix_is_accepted(api: Api, alice: Member) -> None:
    sent = FUTURE.strftime("%Y-%m-%dT%H:%M:%SZ")
    created = (await api.data(CREATE, {"input": {"name": "Zulu", "endDate": sent}}, token=alice.token))["createMarket"]
    assert datetime.fromisoformat(created["endDate"]) == FUTURE


async def test_plus_two_hours_reads_back_as_the_same_instant(api: Api, alice: Member) -> None:
    created = (await api.data(CREATE, {"input": {"name": "Dated", "endDate": "2099-06-01T12:00:00+02:00"}},
                              token=alice.token))["createMarket"]
    assert created["endDate"] in ("2099-06-01T10:00:00+00:00", "2099-06-01T10:00:00Z")


@pytest.mark.parametrize("past", [PAST, datetime.now(UTC) - timedelta(seconds=5)])
async def test_end_date_in_the_past_at_create_is_bad_user_input(api: Api, alice: Member, past: datetime) -> None:
    body = await api.gql(CREATE, {"input": {"name": "Too late", "endDate": past.isoformat()}}, token=alice.token)
    assert set(fields(body)) == {"input.endDate"}
    assert await market_count(api) == 0


# ---------------------------------------------------------------- Int and enums over variables


@pytest.mark.parametrize("value", ["ten", "1", 1.5, True, [1], 2**31, 10**20, {"a": 1}])
async def test_int_variable_that_does_not_coerce(api: Api, value: Any) -> None:
    body = await api.gql("query($first: Int) { markets(first: $first) { totalCount } }", {"first": value})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert "first" in body["errors"][0]["extensions"]["fields"]
    assert "data" not in body or body["data"] is None


async def test_enum_variable_that_does_not_coerce(api: Api, alice: Member, open_market: dict[str, Any]) -> None:
    body = await api.gql(OPEN, {"input": {"marketId": open_market["id"], "outcome": "MAYBE", "amount": "1"}},
                         token=alice.token)
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_missing_required_variable(api: Api, alice: Member) -> None:
    body = await api.gql(CREATE, {}, token=alice.token)
    assert codes(body) == ["BAD_USER_INPUT"]


# ---------------------------------------------------------------- updateMarket status


async def test_update_market_status_resolved_is_bad_user_input(api: Api, alice: Member, moderator: Member) -> None:
    market = await api.make_market(alice, name="Settle me")
    body = await api.gql(UPDATE, {"id": market["id"], "input": {"status": "RESOLVED"}}, token=moderator.token)
    assert set(fields(body)) == {"input.status"}
    assert (await api.data(MARKET, {"id": market["id"]}))["market"]["status"] == "ACTIVE"


@pytest.mark.parametrize("status", ["CLOSED", "CANCELLED", "ACTIVE"])
async def test_moderator_sets_other_statuses(api: Api, alice: Member, moderator: Member, status: str) -> None:
    market = await api.make_market(alice, name="Status me")
    data = await api.data(UPDATE, {"id": market["id"], "input": {"status": status}}, token=moderator.token)
    assert data["updateMarket"]["status"] == status
    assert (await api.data(MARKET, {"id": market["id"]}))["market"]["status"] == status


# ---------------------------------------------------------------- state conflicts


@pytest.mark.parametrize("status", [MarketStatus.CLOSED, MarketStatus.RESOLVED, MarketStatus.CANCELLED])
async def test_open_position_on_a_market_not_active_is_conflict(
    api: Api, alice: Member, status: MarketStatus
) -> None:
    market = await insert_market(api.container, alice.user, name="Not open", status=status)
    body = await api.gql(OPEN, {"input": {"marketId": market_id(market), "outcome": "YES", "amount": "1"}},
                         token=alice.token)
    assert codes(body) == ["CONFLICT"]
    assert body.get("data") is None
    read = (await api.data(MARKET, {"id": market_id(market)}))["market"]
    assert read["volume"] == "0.00"
    assert read["status"] == status.value


async def test_open_position_after_the_end_date_is_conflict(api: Api, alice: Member) -> None:
    ended = await insert_market(
        api.container, alice.user, name="Ended", end_date=datetime.now(UTC) - timedelta(seconds=1)
    )
    body = await api.gql(OPEN, {"input": {"marketId": market_id(ended), "outcome": "NO", "amount": "1"}},
                         token=alice.token)
    assert codes(body) == ["CONFLICT"]
    assert (await api.data(MARKET, {"id": market_id(ended)}))["market"]["volume"] == "0.00"
    running = await insert_market(api.container, alice.user, name="Running", end_date=FUTURE)
    data = await api.data(OPEN, {"input": {"marketId": market_id(running), "outcome": "NO", "amount": "1"}},
                          token=alice.token)
    assert data["openPosition"]["market"]["volume"] == "1.00"


@pytest.mark.parametrize("status", [MarketStatus.ACTIVE, MarketStatus.CLOSED])
@pytest.mark.parametrize("outcome", ["YES", "NO"])
async def test_resolve_market_from_active_or_closed(
    api: Api, alice: Member, moderator: Member, status: MarketStatus, outcome: str
) -> None:
    market = await insert_market(api.container, alice.user, name="Resolvable", status=status)
    data = await api.data(RESOLVE, {"id": market_id(market), "outcome": outcome}, token=moderator.token)
    assert data["resolveMarket"] == {"id": market_id(market), "status": "RESOLVED", "resolvedOutcome": outcome}
    read = (await api.data(MARKET, {"id": market_id(market)}))["market"]
    assert (read["status"], read["resolvedOutcome"]) == ("RESOLVED", outcome)


@pytest.mark.parametrize("status", [MarketStatus.RESOLVED, MarketStatus.CANCELLED])
async def test_resolve_market_not_active_or_closed_is_conflict(
    api: Api, alice: Member, moderator: Member, status: MarketStatus
) -> None:
    market = await insert_market(api.container, alice.user, name="Settled", status=status)
    body = await api.gql(RESOLVE, {"id": market_id(market), "outcome": "YES"}, token=moderator.token)
    assert codes(body) == ["CONFLICT"]
    assert body.get("data") is None
    read = (await api.data(MARKET, {"id": market_id(market)}))["market"]
    assert read["status"] == status.value
    assert read["resolvedOutcome"] is None


async def test_resolving_twice_is_conflict_and_keeps_the_first_outcome(
    api: Api, alice: Member, moderator: Member
) -> None:
    market = await api.make_market(alice, name="Twice")
    await api.data(RESOLVE, {"id": market["id"], "outcome": "NO"}, token=moderator.token)
    body = await api.gql(RESOLVE, {"id": market["id"], "outcome": "YES"}, token=moderator.token)
    assert codes(body) == ["CONFLICT"]
    assert (await api.data(MARKET, {"id": market["id"]}))["market"]["resolvedOutcome"] == "NO"
    body = await api.gql(OPEN, {"input": {"marketId": market["id"], "outcome": "YES", "amount": "1"}},
                         token=alice.token)
    assert codes(body) == ["CONFLICT"]


# ---------------------------------------------------------------- ids that name nothing


MISSING_MARKET = market_id(999_999)
GARBAGE_IDS = [
    "", "garbage", "!!!", "é", "TWFya2V0Og", "TWFya2V0OmFiYw", "TWFya2V0Oi0x", "TWFya2V0OjE5OTk5OTk5OTk5OTk5OTk5OTk5",
]
# Market: (no pk), Market:abc, Market:-1, Market:<20 digits>


@pytest.fixture
async def wrong_ids(api: Api, alice: Member) -> dict[str, str]:
    """Ids of every kind for one real market: its id, a position id, a user id, and ids that name nothing."""
    market = await api.make_market(alice, name="Real", initialPosition={"outcome": "YES", "amount": "1"})
    data = await api.data("query($id: ID!) { market(id: $id) { positions { edges { node { id } } } } }",
                          {"id": market["id"]})
    return {
        "market": market["id"],
        "position": data["market"]["positions"]["edges"][0]["node"]["id"],
        "user": alice.id,
    }


def not_market_ids(wrong: dict[str, str]) -> list[str]:
    return [MISSING_MARKET, wrong["position"], wrong["user"], *GARBAGE_IDS]


async def test_mutations_with_ids_that_name_no_market_are_not_found(
    api: Api, admin: Member, wrong_ids: dict[str, str]
) -> None:
    for bad in not_market_ids(wrong_ids):
        calls = [
            (UPDATE, {"id": bad, "input": {"name": "Renamed"}}),
            (DELETE, {"id": bad}),
            (RESOLVE, {"id": bad, "outcome": "YES"}),
            (OPEN, {"input": {"marketId": bad, "outcome": "YES", "amount": "1"}}),
        ]
        for query, variables in calls:
            body = await api.gql(query, variables, token=admin.token)
            assert codes(body) == ["NOT_FOUND"], (bad, query[:30], body)
            assert body.get("data") is None
    # Nothing happened to the real market.
    market = (await api.data(MARKET, {"id": wrong_ids["market"]}))["market"]
    assert (market["name"], market["status"], market["volume"]) == ("Real", "ACTIVE", "1.00")


async def test_set_user_role_with_ids_that_name_no_user_is_not_found(
    api: Api, admin: Member, wrong_ids: dict[str, str]
) -> None:
    query = "mutation($id: ID!) { setUserRole(userId: $id, role: MODERATOR) { id role } }"
    for bad in [user_id(999_999), wrong_ids["market"], wrong_ids["position"], *GARBAGE_IDS]:
        body = await api.gql(query, {"id": bad}, token=admin.token)
        assert codes(body) == ["NOT_FOUND"], (bad, body)


async def test_market_user_and_node_return_null_for_ids_that_name_nothing(
    api: Api, wrong_ids: dict[str, str]
) -> None:
    query = "query($id: ID!) { market(id: $id) { id } user(id: $id) { id } node(id: $id) { id } }"
    for bad in [MISSING_MARKET, user_id(999_999), position_id(999_999), "Rm9vOjE", *GARBAGE_IDS]:  # Foo:1
        body = await api.gql(query, {"id": bad})
        assert body == {"data": {"market": None, "user": None, "node": None}}, bad
    # Ids of the wrong type: market(userId) and user(marketId) are null, node finds the object.
    body = await api.data(query, {"id": wrong_ids["position"]})
    assert body == {"market": None, "user": None, "node": {"id": wrong_ids["position"]}}
    body = await api.data(query, {"id": wrong_ids["user"]})
    assert body == {"market": None, "user": {"id": wrong_ids["user"]}, "node": {"id": wrong_ids["user"]}}
    body = await api.data(query, {"id": wrong_ids["market"]})
    assert body == {"market": {"id": wrong_ids["market"]}, "user": None, "node": {"id": wrong_ids["market"]}}


async def test_node_resolves_each_type(api: Api, wrong_ids: dict[str, str]) -> None:
    query = """query($id: ID!) { node(id: $id) { __typename id
      ... on Market { name } ... on User { name } ... on Position { amount } } }"""
    market = (await api.data(query, {"id": wrong_ids["market"]}))["node"]
    assert market == {"__typename": "Market", "id": wrong_ids["market"], "name": "Real"}
    user = (await api.data(query, {"id": wrong_ids["user"]}))["node"]
    assert user == {"__typename": "User", "id": wrong_ids["user"], "name": "Test User"}
    position = (await api.data(query, {"id": wrong_ids["position"]}))["node"]
    assert position == {"__typename": "Position", "id": wrong_ids["position"], "amount": "1.00"}


async def test_nodes_returns_null_entries_for_bad_ids(api: Api, wrong_ids: dict[str, str]) -> None:
    sent = [wrong_ids["market"], "", MISSING_MARKET, wrong_ids["user"], "garbage", wrong_ids["position"],
            wrong_ids["market"], "Rm9vOjE"]
    data = await api.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": sent})
    assert data["nodes"] == [
        {"id": wrong_ids["market"]}, None, None, {"id": wrong_ids["user"]}, None, {"id": wrong_ids["position"]},
        {"id": wrong_ids["market"]}, None,
    ]
    assert (await api.data("{ nodes(ids: []) { id } }"))["nodes"] == []


# ---------------------------------------------------------------- delete and consistency


async def test_delete_market_deletes_its_positions(api: Api, alice: Member, moderator: Member) -> None:
    doomed = await api.make_market(alice, name="Doomed", initialPosition={"outcome": "YES", "amount": "3"})
    kept = await api.make_market(alice, name="Kept", initialPosition={"outcome": "NO", "amount": "4"})
    await api.data(OPEN, {"input": {"marketId": doomed["id"], "outcome": "NO", "amount": "2"}}, token=alice.token)
    positions_query = (
        "query($id: ID!) { user(id: $id) { positions { totalCount edges { node { id market { id } } } } } }"
    )
    before = (await api.data(positions_query, {"id": alice.id}, token=alice.token))["user"]["positions"]
    assert before["totalCount"] == 3
    doomed_positions = [e["node"]["id"] for e in before["edges"] if e["node"]["market"]["id"] == doomed["id"]]
    assert len(doomed_positions) == 2

    data = await api.data(DELETE, {"id": doomed["id"]}, token=moderator.token)
    assert data["deleteMarket"] == doomed["id"]

    assert (await api.data(MARKET, {"id": doomed["id"]}))["market"] is None
    after = (await api.data(positions_query, {"id": alice.id}, token=alice.token))["user"]["positions"]
    assert after["totalCount"] == 1
    assert [e["node"]["market"]["id"] for e in after["edges"]] == [kept["id"]]
    nodes = await api.data("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": doomed_positions})
    assert nodes["nodes"] == [None, None]
    # Deleting again names nothing.
    body = await api.gql(DELETE, {"id": doomed["id"]}, token=moderator.token)
    assert codes(body) == ["NOT_FOUND"]
    assert await market_count(api) == 1


async def test_open_position_adds_to_volume_and_lists_the_position(api: Api, alice: Member) -> None:
    market = await api.make_market(alice, name="Growing", initialPosition={"outcome": "YES", "amount": "10"})
    assert market["volume"] == "10.00"
    bob = await api.make_user(email="bob@example.com")
    opened = (await api.data(OPEN, {"input": {"marketId": market["id"], "outcome": "NO", "amount": "2.25"}},
                             token=bob.token))["openPosition"]
    assert opened["amount"] == "2.25"
    assert opened["outcome"] == "NO"
    assert opened["market"] == {"id": market["id"], "volume": "12.25"}
    query = "query($id: ID!) { market(id: $id) { volume positions { totalCount edges { node { id } } } } }"
    data = await api.data(query, {"id": market["id"]})
    assert data["market"]["volume"] == "12.25"
    assert data["market"]["positions"]["totalCount"] == 2
    assert data["market"]["positions"]["edges"][0]["node"]["id"] == opened["id"]


# ---------------------------------------------------------------- sign-up inputs


SIGN_UP = """mutation($e: String!, $n: String!, $p: String!) {
  signUp(email: $e, name: $n, password: $p) { user { email name } } }"""


@pytest.mark.parametrize(("email", "name", "password", "bad"), [
    ("not-an-email", "Ann", "password123", {"email"}),
    ("ann@example.com", "   ", "password123", {"name"}),
    ("ann@example.com", "n" * 101, "password123", {"name"}),
    ("ann@example.com", "Ann", "short", {"password"}),
    ("ann@example.com", "Ann", "p" * 129, {"password"}),
    ("nope", "", "x", {"email", "name", "password"}),
])
async def test_sign_up_input_rules(api: Api, email: str, name: str, password: str, bad: set[str]) -> None:
    body = await api.gql(SIGN_UP, {"e": email, "n": name, "p": password})
    assert set(fields(body)) == bad


async def test_sign_up_stores_trimmed_name_and_lower_cased_email(api: Api) -> None:
    data = await api.data(SIGN_UP, {"e": "Ann@Example.COM", "n": "  Ann  ", "p": "p" * 128})
    assert data["signUp"]["user"] == {"email": "ann@example.com", "name": "Ann"}


@pytest.mark.parametrize(("query", "name", "written"), [
    ("mutation($m: ID!, $a: Decimal!) { openPosition(input: {marketId: $m, outcome: YES, amount: $a}) { id } }",
     "a", '"ten"'),
    ("mutation($amount: Decimal!, $m: ID!) {\n"
     " openPosition(input: {marketId: $m, outcome: NO, amount: $amount}) { id } }",
     "amount", "1.001"),
])
async def test_amount_path_for_a_variable_nested_in_a_literal(
    api: Api, alice: Member, open_market: dict[str, Any], query: str, name: str, written: str
) -> None:
    variables = with_raw({"m": open_market["id"], name: RAW}, written)
    body = await post_raw(api, query, variables, token=alice.token)
    assert set(fields(body)) == {"input.amount"}


async def test_int_variable_path_is_the_argument_not_the_variable(api: Api) -> None:
    body = await api.gql("query($n: Int) { markets(first: $n) { totalCount } }", {"n": "ten"})
    assert set(fields(body)) == {"first"}


# ---------------------------------------------------------------- NUL characters and lone surrogates

NUL_MESSAGE, SURROGATE_MESSAGE = "must not contain NUL characters", "must not contain lone surrogates"
# (operation with $v where the bad string goes, the path reported): every kind of string argument.
STRING_ARGUMENTS = [
    ('mutation($v: String!) { signUp(email: $v, name: "N", password: "password123") { token } }', "email"),
    ('mutation($v: String!) { signUp(email: "n@example.com", name: $v, password: "password123") { token } }', "name"),
    ('mutation($v: String!) { signUp(email: "n@example.com", name: "N", password: $v) { token } }', "password"),
    ('mutation($v: String!) { login(email: $v, password: "password123") { token } }', "email"),
    ('mutation($v: String!) { login(email: "alice@example.com", password: $v) { token } }', "password"),
    ("mutation($v: String!) { createMarket(input: {name: $v}) { id } }", "input.name"),
    ('mutation($v: String!) { createMarket(input: {name: "Fine name", description: $v}) { id } }',
     "input.description"),
    ('mutation($v: ID!) { updateMarket(id: $v, input: {name: "Fine name"}) { id } }', "id"),
    ('mutation($v: String!) { updateMarket(id: "TWFya2V0OjE=", input: {description: $v}) { id } }',
     "input.description"),
    ('mutation($v: ID!) { openPosition(input: {marketId: $v, outcome: YES, amount: "1"}) { id } }', "input.marketId"),
    ("mutation($v: ID!) { deleteMarket(id: $v) }", "id"),
    ("mutation($v: ID!) { setUserRole(userId: $v, role: ADMIN) { id } }", "userId"),
    ("query($v: ID!) { market(id: $v) { id } }", "id"),
    ("query($v: ID!) { node(id: $v) { id } }", "id"),
    ("query($v: ID!) { user(id: $v) { id } }", "id"),
    ('query($v: ID!) { nodes(ids: ["TWFya2V0OjE=", $v]) { id } }', "ids[1]"),
    ("query($v: String!) { searchMarkets(query: $v) { score } }", "query"),
    ("query($v: String) { markets(after: $v) { totalCount } }", "after"),
    ("query($v: String) { markets(last: 2, before: $v) { totalCount } }", "before"),
    ("query($v: String) { markets(filter: {nameContains: $v}) { totalCount } }", "filter.nameContains"),
    ("query($v: ID) { markets(filter: {creatorId: $v}) { totalCount } }", "filter.creatorId"),
    ('query($v: String) { user(id: "VXNlcjox") { markets(after: $v) { totalCount } } }', "after"),
]
BAD_STRINGS = [("a\u0000b", NUL_MESSAGE), ("a\ud800b", SURROGATE_MESSAGE), ("\udfff", SURROGATE_MESSAGE)]


async def post_json(api: Api, body: dict[str, Any], *, token: str | None = None) -> dict[str, Any]:
    """A request as JSON text with every non-ASCII character escaped (a lone surrogate cannot be UTF-8)."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    response = await api.http.post("/graphql", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def row_counts(api: Api) -> tuple[int, int]:
    """(users, markets): a refused request changes neither."""
    from sqlalchemy import text

    async with api.container.engine.connect() as connection:
        users = (await connection.execute(text("SELECT count(*) FROM users"))).scalar_one()
        markets = (await connection.execute(text("SELECT count(*) FROM markets"))).scalar_one()
    return int(users), int(markets)


def as_literal(document: str, value: str) -> str:
    """The document with $v replaced by a GraphQL string literal of `value` (NUL written as its escape)."""
    written = json.dumps(value, ensure_ascii=False)  # a NUL becomes the escape \u0000, a surrogate stays raw
    body = document.split(") {", 1)[1] if document.startswith(("query(", "mutation(")) else document
    operation = document.split("(", 1)[0]
    return f"{operation} {{{body}".replace("$v", written)


@pytest.mark.parametrize(("bad", "why"), BAD_STRINGS, ids=["nul", "high-surrogate", "low-surrogate"])
@pytest.mark.parametrize(("document", "path"), STRING_ARGUMENTS, ids=lambda value: str(value)[:48])
async def test_bad_characters_in_a_string_variable_are_bad_user_input(
    api: Api, alice: Member, document: str, path: str, bad: str, why: str
) -> None:
    before = await row_counts(api)
    body = await post_json(api, {"query": document, "variables": {"v": bad}}, token=alice.token)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "fields": {path: why}}, body
    assert await row_counts(api) == before


@pytest.mark.parametrize(("document", "path"), STRING_ARGUMENTS, ids=lambda value: str(value)[:48])
async def test_a_nul_in_a_string_literal_is_bad_user_input_at_its_argument(
    api: Api, alice: Member, document: str, path: str
) -> None:
    before = await row_counts(api)
    literal = as_literal(document, "a\u0000b")
    assert "$" not in literal and "\\u0000" in literal
    body = await post_json(api, {"query": literal}, token=alice.token)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "fields": {path: NUL_MESSAGE}}, body
    assert await row_counts(api) == before


@pytest.mark.parametrize(("document", "path"), STRING_ARGUMENTS[:8], ids=lambda value: str(value)[:48])
async def test_a_lone_surrogate_written_in_the_document_is_bad_user_input(
    api: Api, alice: Member, document: str, path: str
) -> None:
    """GraphQL source text may not hold a surrogate code point at all: the document itself is the bad string."""
    before = await row_counts(api)
    body = await post_json(api, {"query": as_literal(document, "a\ud800b")}, token=alice.token)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "fields": {"query": SURROGATE_MESSAGE}}
    assert await row_counts(api) == before


@pytest.mark.parametrize(("bad", "why"), BAD_STRINGS, ids=["nul", "high-surrogate", "low-surrogate"])
async def test_bad_characters_in_the_operation_name_are_bad_user_input(api: Api, bad: str, why: str) -> None:
    """A lone surrogate here used to answer HTTP 500: the echoed "Unknown operation" message could not be encoded."""
    body = await post_json(api, {"query": "query Count { markets { totalCount } }", "operationName": bad})
    assert body == {"errors": [{"message": "Strings may not contain NUL characters or lone surrogates",
                                "extensions": {"code": "BAD_USER_INPUT", "fields": {"operationName": why}}}]}


async def test_a_nul_in_the_operation_name_over_get_is_bad_user_input(api: Api) -> None:
    response = await api.http.get("/graphql", params={"query": "query Count { markets { totalCount } }",
                                                      "operationName": "Co\u0000unt"})
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["fields"] == {"operationName": NUL_MESSAGE}


@pytest.mark.parametrize(("variables", "path", "why"), [
    ({"input": {"name": "Fine name", "descr\ud800iption": "x"}}, "input", f"field names {SURROGATE_MESSAGE}"),
    ({"input": {"name": "Fine name", "description": ["a\u0000"]}}, "input.description[0]", NUL_MESSAGE),
    ({"input": {"name": "Fine name"}, "un\u0000used": "x"}, "variables", f"variable names {NUL_MESSAGE}"),
    ({"input": {"name": "Fine name"}, "unused": "\ud800"}, "unused", SURROGATE_MESSAGE),
])
async def test_bad_characters_anywhere_in_the_variables_are_bad_user_input(
    api: Api, alice: Member, variables: dict[str, Any], path: str, why: str
) -> None:
    """Keys included (graphql-core echoes an unknown field's name), and values the operation does not use."""
    query = "mutation($input: CreateMarketInput!) { createMarket(input: $input) { id } }"
    body = await post_json(api, {"query": query, "variables": variables}, token=alice.token)
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "fields": {path: why}}, body
    assert await market_count(api) == 0


async def test_every_bad_string_of_a_request_is_reported_at_once(api: Api, alice: Member) -> None:
    body = await post_json(api, {
        "query": 'mutation($n: String!) { createMarket(input: {name: $n, description: "a\\u0000"}) { id } }',
        "variables": {"n": "b\ud800"},
    }, token=alice.token)
    assert body["errors"][0]["extensions"]["fields"] == {"input.name": SURROGATE_MESSAGE,
                                                         "input.description": NUL_MESSAGE}


async def test_strings_that_only_look_odd_are_accepted(api: Api, alice: Member) -> None:
    """An astral character (a valid surrogate pair in JSON), controls other than NUL, and U+FFFD are fine."""
    name = "Emoji \U0001f600 tab\t bell\u0007 \ufffd"
    body = await post_json(api, {"query": CREATE, "variables": {"input": {"name": name}}}, token=alice.token)
    assert body["data"]["createMarket"]["name"] == name.strip()


@pytest.mark.parametrize("written", [
    "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00",
])
async def test_a_date_time_with_no_utc_equivalent_is_bad_user_input(api: Api, alice: Member, written: str) -> None:
    """Valid ISO-8601 whose instant falls outside years 1 to 9999 in UTC: it used to overflow deep down (500)."""
    body = await api.gql(CREATE, {"input": {"name": "Dated", "endDate": written}}, token=alice.token)
    [(path, why)] = fields(body).items()
    assert path == "input.endDate" and "DateTime is out of range once converted to UTC" in why
    literal = 'mutation { createMarket(input: {name: "Dated", endDate: "WHEN"}) { id } }'.replace("WHEN", written)
    assert set(fields(await api.gql(literal, token=alice.token))) == {"input.endDate"}
    for argument in ("endsBefore", "endsAfter"):
        body = await api.gql("query($f: MarketFilter) { markets(filter: $f) { totalCount } }",
                             {"f": {argument: written}})
        assert set(fields(body)) == {f"filter.{argument}"}
        body = await api.gql('{ markets(filter: {ARG: "WHEN"}) { totalCount } }'.replace("ARG", argument)
                             .replace("WHEN", written))
        assert set(fields(body)) == {f"filter.{argument}"}
    assert await market_count(api) == 0


async def test_the_extreme_date_times_that_have_a_utc_equivalent_are_accepted(api: Api) -> None:
    for written in ("9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00-01:00", "9999-12-31T23:59:59+23:59"):
        body = await api.gql("query($f: MarketFilter) { markets(filter: $f) { totalCount } }",
                             {"f": {"endsBefore": written}})
        assert "errors" not in body, (written, body)
