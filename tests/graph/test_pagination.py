"""Pagination and ordering: page bounds, stable keyset walks under ties, filters, cursors."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain.entities import Market, MarketStatus, Position, User
from domain.pagination import MarketFilter, MarketOrder
from domain.roles import Role
from graph.cursors import CursorCodec
from graph.resolvers.markets import cursor_scope
from tests.conftest import Api, Member, codes
from tests.factories import BASE, at, insert_market, insert_position, insert_user, market_id, position_id, user_id

MARKETS = """
query($first: Int, $after: String, $last: Int, $before: String, $orderBy: MarketOrder, $filter: MarketFilter) {
  markets(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, filter: $filter) {
    totalCount
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

FIELDS = ["CREATED_AT", "VOLUME", "END_DATE", "NAME"]
DIRECTIONS = ["ASC", "DESC"]
WORDS = ["alpha", "bravo", "gamma", "delta"]
CASINGS = [str.lower, str.title, str.upper]
VOLUMES = [Decimal("0"), Decimal("5"), Decimal("12.50")]
END_1, END_2, END_3 = BASE + timedelta(days=10), BASE + timedelta(days=20), BASE + timedelta(days=30)
END_DATES = [None, END_1, END_2, END_1, None, END_3]
STATUSES = [MarketStatus.ACTIVE, MarketStatus.ACTIVE, MarketStatus.CLOSED, MarketStatus.RESOLVED,
            MarketStatus.CANCELLED]
TOTAL = 27


def iso(value: datetime) -> str:
    return value.isoformat()


@dataclass
class Catalog:
    markets: list[Market]
    alice: User
    bob: User


@pytest.fixture
async def catalog(api: Api) -> Catalog:
    """27 markets with heavy ties on every sort key, inserted so that id order is no sort order."""
    alice = await insert_user(api.container, email="alice@example.com", now=at(0))
    bob = await insert_user(api.container, email="bob@example.com", now=at(0))
    stored = []
    for i in range(TOTAL):
        stored.append(await insert_market(
            api.container, alice if i % 2 else bob,
            name=CASINGS[i % 3](f"market {WORDS[i % 4]}"),
            now=at((i * 5) % 3),
            volume=VOLUMES[(i // 3) % 3],
            end_date=END_DATES[i % 6],
            status=STATUSES[(i * 2) % 5],
        ))
    return Catalog(markets=stored, alice=alice, bob=bob)


def sort_value(market: Market, field: str) -> Any:
    return {
        "CREATED_AT": market.created_at, "VOLUME": market.volume, "NAME": market.name.lower(),
        "END_DATE": market.end_date,
    }[field]


def expected_order(markets: list[Market], field: str, direction: str) -> list[str]:
    """The contract's order: by the field, ties by id in the same direction, null end dates last."""
    descending = direction == "DESC"
    with_key = [m for m in markets if sort_value(m, field) is not None]
    without_key = [m for m in markets if sort_value(m, field) is None]
    ordered = sorted(with_key, key=lambda m: (sort_value(m, field), m.id), reverse=descending)
    ordered += sorted(without_key, key=lambda m: m.id, reverse=descending)
    return [market_id(m) for m in ordered]


async def markets_page(api: Api, **variables: Any) -> dict[str, Any]:
    data = await api.data(MARKETS, {k: v for k, v in variables.items() if v is not None})
    return data["markets"]


def node_ids(page: dict[str, Any]) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def check_page_cursors(page: dict[str, Any]) -> None:
    edges = page["edges"]
    info = page["pageInfo"]
    if edges:
        assert info["startCursor"] == edges[0]["cursor"]
        assert info["endCursor"] == edges[-1]["cursor"]
    else:
        assert info["startCursor"] is None
        assert info["endCursor"] is None


async def walk_forward(api: Api, size: int, total: int, **variables: Any) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(total + 2):
        page = await markets_page(api, first=size, after=after, **variables)
        check_page_cursors(page)
        assert page["totalCount"] == total
        assert len(page["edges"]) == min(size, total - len(seen))
        seen += node_ids(page)
        remaining = total - len(seen)
        assert page["pageInfo"]["hasNextPage"] is (remaining > 0), (len(seen), page["pageInfo"])
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("the forward walk did not end")


async def walk_backward(api: Api, size: int, total: int, **variables: Any) -> list[str]:
    seen: list[str] = []
    before = None
    for _ in range(total + 2):
        page = await markets_page(api, last=size, before=before, **variables)
        check_page_cursors(page)
        assert page["totalCount"] == total
        assert len(page["edges"]) == min(size, total - len(seen))
        seen = node_ids(page) + seen
        remaining = total - len(seen)
        assert page["pageInfo"]["hasPreviousPage"] is (remaining > 0), (len(seen), page["pageInfo"])
        if not page["pageInfo"]["hasPreviousPage"]:
            return seen
        before = page["pageInfo"]["startCursor"]
    raise AssertionError("the backward walk did not end")


def test_catalog_really_has_ties() -> None:
    """The data set is only a test of tie-breaking if every sort key repeats."""
    names = [CASINGS[i % 3](f"market {WORDS[i % 4]}") for i in range(TOTAL)]
    assert len({n.lower() for n in names}) < len(set(names)) < TOTAL
    assert len({(i * 5) % 3 for i in range(TOTAL)}) == 3
    assert len({END_DATES[i % 6] for i in range(TOTAL)}) == 4


# ---------------------------------------------------------------- stable walks, every ordering


@pytest.mark.parametrize(("walk", "whole_page"), [(walk_forward, "first"), (walk_backward, "last")],
                         ids=["forward", "backward"])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("field", FIELDS)
async def test_a_walk_returns_every_market_once_in_order(
    api: Api, catalog: Catalog, field: str, direction: str, walk: Any, whole_page: str
) -> None:
    expected = expected_order(catalog.markets, field, direction)
    order = {"field": field, "direction": direction}
    seen = await walk(api, 4, TOTAL, orderBy=order)
    assert seen == expected
    assert len(set(seen)) == TOTAL
    # One page holding everything agrees.
    assert node_ids(await markets_page(api, **{whole_page: 100}, orderBy=order)) == expected


@pytest.mark.parametrize(("field", "direction"), [("NAME", "ASC"), ("END_DATE", "DESC"), ("VOLUME", "ASC")])
async def test_walk_with_page_size_one(api: Api, catalog: Catalog, field: str, direction: str) -> None:
    order = {"field": field, "direction": direction}
    expected = expected_order(catalog.markets, field, direction)
    assert await walk_forward(api, 1, TOTAL, orderBy=order) == expected
    assert await walk_backward(api, 1, TOTAL, orderBy=order) == expected


@pytest.mark.parametrize(("field", "direction"), [(f, d) for f in FIELDS for d in DIRECTIONS])
async def test_backward_from_a_middle_cursor_meets_the_forward_walk(
    api: Api, catalog: Catalog, field: str, direction: str
) -> None:
    order = {"field": field, "direction": direction}
    expected = expected_order(catalog.markets, field, direction)
    first = await markets_page(api, first=10, orderBy=order)
    # Items before the 10th, read backward from its cursor, are the first nine.
    back = await markets_page(api, last=9, before=first["edges"][9]["cursor"], orderBy=order)
    assert node_ids(back) == expected[:9]
    assert back["pageInfo"]["hasPreviousPage"] is False
    back = await markets_page(api, last=5, before=first["edges"][9]["cursor"], orderBy=order)
    assert node_ids(back) == expected[4:9]
    assert back["pageInfo"]["hasPreviousPage"] is True
    rest = await markets_page(api, first=100, after=first["edges"][9]["cursor"], orderBy=order)
    assert node_ids(rest) == expected[10:]


async def test_name_orders_case_insensitively(api: Api) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for name in ["banana", "Apple", "cherry", "APRICOT", "Blueberry"]:
        await insert_market(api.container, owner, name=name)
    page = await markets_page(api, orderBy={"field": "NAME", "direction": "ASC"})
    assert [e["node"]["name"] for e in page["edges"]] == ["Apple", "APRICOT", "banana", "Blueberry", "cherry"]
    page = await markets_page(api, orderBy={"field": "NAME", "direction": "DESC"})
    assert [e["node"]["name"] for e in page["edges"]] == ["cherry", "Blueberry", "banana", "APRICOT", "Apple"]


@pytest.mark.parametrize("direction", DIRECTIONS)
async def test_end_date_puts_markets_without_one_last(api: Api, direction: str) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    undated_1 = await insert_market(api.container, owner, name="undated one")
    late = await insert_market(api.container, owner, name="late", end_date=END_3)
    undated_2 = await insert_market(api.container, owner, name="undated two")
    early = await insert_market(api.container, owner, name="early", end_date=END_1)
    page = await markets_page(api, orderBy={"field": "END_DATE", "direction": direction})
    dated = [early, late] if direction == "ASC" else [late, early]
    undated = [undated_1, undated_2] if direction == "ASC" else [undated_2, undated_1]
    assert node_ids(page) == [market_id(m) for m in dated + undated]


async def test_default_order_is_newest_first_ties_by_id_descending(api: Api) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    old = await insert_market(api.container, owner, name="old", now=at(0))
    tied = [await insert_market(api.container, owner, name=f"tied {i}", now=at(60)) for i in range(3)]
    new = await insert_market(api.container, owner, name="new", now=at(120))
    page = await markets_page(api)
    assert node_ids(page) == [market_id(m) for m in [new, *reversed(tied), old]]


# ---------------------------------------------------------------- first / last bounds


@pytest.mark.parametrize(("count", "has_next"), [(0, False), (19, False), (20, False), (21, True), (45, True)])
async def test_default_page_is_twenty_with_exact_has_next_page(api: Api, count: int, has_next: bool) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for i in range(count):
        await insert_market(api.container, owner, name=f"market {i:03}", now=at(i))
    page = await markets_page(api)
    assert len(page["edges"]) == min(count, 20)
    assert page["pageInfo"]["hasNextPage"] is has_next
    assert page["totalCount"] == count
    check_page_cursors(page)


@pytest.mark.parametrize("argument", ["first", "last"])
@pytest.mark.parametrize("value", [101, -1, 1000, -100])
async def test_page_size_out_of_bounds_is_bad_user_input(api: Api, argument: str, value: int) -> None:
    body = await api.gql(MARKETS, {argument: value})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert argument in body["errors"][0]["extensions"]["fields"]
    assert body.get("data") is None


@pytest.mark.parametrize("argument", ["first", "last"])
async def test_page_size_out_of_bounds_as_literal(api: Api, argument: str) -> None:
    body = await api.gql(f"{{ markets({argument}: 101) {{ totalCount }} }}")
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("argument", ["first", "last"])
@pytest.mark.parametrize("value", [0, 1, 100])
async def test_page_size_within_bounds_is_accepted(api: Api, argument: str, value: int) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for i in range(3):
        await insert_market(api.container, owner, name=f"market {i}", now=at(i))
    page = await markets_page(api, **{argument: value})
    assert len(page["edges"]) == min(value, 3)
    assert page["totalCount"] == 3


async def test_first_zero_gives_empty_edges_with_exact_has_next_page(api: Api) -> None:
    page = await markets_page(api, first=0)
    assert page["edges"] == []
    assert page["pageInfo"]["hasNextPage"] is False
    check_page_cursors(page)
    owner = await insert_user(api.container, email="o@example.com")
    await insert_market(api.container, owner, name="only one")
    page = await markets_page(api, first=0)
    assert page["edges"] == []
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["totalCount"] == 1
    check_page_cursors(page)


async def test_last_zero_gives_empty_edges_with_exact_has_previous_page(api: Api) -> None:
    page = await markets_page(api, last=0)
    assert page["edges"] == []
    assert page["pageInfo"]["hasPreviousPage"] is False
    owner = await insert_user(api.container, email="o@example.com")
    await insert_market(api.container, owner, name="only one")
    page = await markets_page(api, last=0)
    assert page["edges"] == []
    assert page["pageInfo"]["hasPreviousPage"] is True


@pytest.mark.parametrize(("first", "last"), [(1, 1), (0, 0), (20, 5), (0, 100)])
async def test_first_and_last_together_is_bad_user_input(api: Api, first: int, last: int) -> None:
    body = await api.gql(MARKETS, {"first": first, "last": last})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body.get("data") is None


async def test_after_the_last_item_is_an_empty_final_page(api: Api) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for i in range(3):
        await insert_market(api.container, owner, name=f"market {i}", now=at(i))
    page = await markets_page(api, first=3)
    assert page["pageInfo"]["hasNextPage"] is False
    rest = await markets_page(api, first=3, after=page["pageInfo"]["endCursor"])
    assert rest["edges"] == []
    assert rest["pageInfo"]["hasNextPage"] is False
    assert rest["totalCount"] == 3


# ---------------------------------------------------------------- filters


async def test_filtered_walks_in_every_ordering(api: Api, catalog: Catalog) -> None:
    filters: list[tuple[dict[str, Any], Any]] = [
        ({"status": "ACTIVE"}, lambda m: m.status is MarketStatus.ACTIVE),
        ({"creatorId": user_id(catalog.alice)}, lambda m: m.creator_id == catalog.alice.id),
        ({"nameContains": "ALPHA"}, lambda m: "alpha" in m.name.lower()),
        ({"endsAfter": iso(END_1)}, lambda m: m.end_date is not None and m.end_date > END_1),
        ({"status": "CLOSED", "creatorId": user_id(catalog.bob)},
         lambda m: m.status is MarketStatus.CLOSED and m.creator_id == catalog.bob.id),
    ]
    for where, keep in filters:
        chosen = [m for m in catalog.markets if keep(m)]
        assert 0 < len(chosen) < TOTAL, where
        for field in FIELDS:
            for direction in DIRECTIONS:
                order = {"field": field, "direction": direction}
                expected = expected_order(chosen, field, direction)
                assert await walk_forward(api, 3, len(chosen), orderBy=order, filter=where) == expected
                assert await walk_backward(api, 3, len(chosen), orderBy=order, filter=where) == expected


@pytest.mark.parametrize("status", ["ACTIVE", "CLOSED", "RESOLVED", "CANCELLED"])
async def test_status_filter(api: Api, catalog: Catalog, status: str) -> None:
    page = await markets_page(api, first=100, filter={"status": status})
    wanted = [m for m in catalog.markets if m.status.value == status]
    assert wanted
    assert sorted(node_ids(page)) == sorted(market_id(m) for m in wanted)
    assert page["totalCount"] == len(wanted)


async def test_creator_filter(api: Api, catalog: Catalog) -> None:
    for creator in (catalog.alice, catalog.bob):
        page = await markets_page(api, first=100, filter={"creatorId": user_id(creator)})
        wanted = [market_id(m) for m in catalog.markets if m.creator_id == creator.id]
        assert sorted(node_ids(page)) == sorted(wanted)
        assert page["totalCount"] == len(wanted)
    carol = await insert_user(api.container, email="carol@example.com")
    page = await markets_page(api, filter={"creatorId": user_id(carol)})
    assert page["edges"] == []
    assert page["totalCount"] == 0


@pytest.mark.parametrize("garbage", ["", "nope", "!!!", "VXNlcjo=", "VXNlcjphYmM", "TWFya2V0OjE", "VXNlcjo5OTk5OTk"])
async def test_garbage_creator_id_matches_nothing(api: Api, catalog: Catalog, garbage: str) -> None:
    # "TWFya2V0OjE" is Market:1 (a wrong type), "VXNlcjo5OTk5OTk" is User:999999 (nobody).
    page = await markets_page(api, filter={"creatorId": garbage})
    assert page["edges"] == []
    assert page["totalCount"] == 0
    assert page["pageInfo"]["hasNextPage"] is False


async def test_creator_id_of_a_market_matches_nothing(api: Api, catalog: Catalog) -> None:
    page = await markets_page(api, filter={"creatorId": market_id(catalog.markets[0].creator_id)})
    assert page["totalCount"] == 0


@pytest.mark.parametrize(("needle", "expected"), [
    ("apple", ["Apple pie", "APPLE TART", "pineapple"]),
    ("APPLE", ["Apple pie", "APPLE TART", "pineapple"]),
    ("%", ["100% sure"]),
    ("0%", ["100% sure"]),
    ("_", ["snake_case"]),
    ("e_c", ["snake_case"]),
    ("\\", ["back\\slash"]),
    ("k\\s", ["back\\slash"]),
    ("100", ["100% sure", "100 x sure"]),
    ("zzz", []),
])
async def test_name_contains_is_case_insensitive_and_literal(api: Api, needle: str, expected: list[str]) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for name in ["Apple pie", "APPLE TART", "pineapple", "100% sure", "100 x sure", "snake_case", "snakeXcase",
                 "back\\slash", "backslash"]:
        await insert_market(api.container, owner, name=name)
    page = await markets_page(api, first=100, filter={"nameContains": needle})
    assert sorted(e["node"]["name"] for e in page["edges"]) == sorted(expected)
    assert page["totalCount"] == len(expected)


async def test_ends_before_and_after_are_strict_and_skip_undated(api: Api, catalog: Catalog) -> None:
    dated = {d: sorted(market_id(m) for m in catalog.markets if m.end_date == d) for d in (END_1, END_2, END_3)}
    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"endsBefore": iso(END_2)}, dated[END_1]),
        ({"endsAfter": iso(END_2)}, dated[END_3]),
        ({"endsBefore": iso(END_1)}, []),
        ({"endsAfter": iso(END_3)}, []),
        ({"endsAfter": iso(END_1), "endsBefore": iso(END_3)}, dated[END_2]),
        ({"endsAfter": iso(BASE)}, dated[END_1] + dated[END_2] + dated[END_3]),
        ({"endsBefore": iso(END_3 + timedelta(days=365))}, dated[END_1] + dated[END_2] + dated[END_3]),
        ({"endsBefore": iso(END_2 + timedelta(microseconds=1))}, dated[END_1] + dated[END_2]),
        # The same instants written in another offset.
        ({"endsBefore": END_2.astimezone(timezone(timedelta(hours=2))).isoformat()}, dated[END_1]),
        ({"endsAfter": END_2.astimezone(timezone(timedelta(hours=-5))).isoformat()}, dated[END_3]),
    ]
    for where, expected in cases:
        page = await markets_page(api, first=100, filter=where)
        assert sorted(node_ids(page)) == sorted(expected), where
        assert page["totalCount"] == len(expected), where


async def test_total_count_ignores_the_page(api: Api, catalog: Catalog) -> None:
    page = await markets_page(api, first=2)
    assert len(page["edges"]) == 2
    assert page["totalCount"] == TOTAL
    page = await markets_page(api, last=1, filter={"status": "ACTIVE"})
    assert page["totalCount"] == sum(m.status is MarketStatus.ACTIVE for m in catalog.markets)
    page = await markets_page(api, first=2, after=page["edges"][0]["cursor"], filter={"status": "ACTIVE"})
    assert page["totalCount"] == sum(m.status is MarketStatus.ACTIVE for m in catalog.markets)


# ---------------------------------------------------------------- cursors


def tampered(cursor: str) -> list[str]:
    """Variants of a real cursor: its body altered, its signature altered, truncated, extended."""
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    variants = []
    for index in (0, 5, len(raw) - 2):
        flipped = bytearray(raw)
        flipped[index] ^= 0x01
        variants.append(base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("="))
    body = bytes(raw[12:])
    if b"," in body:
        # Same signature, another id at the end of the sort key.
        head, _, _ = body.rpartition(b",")
        variants.append(base64.urlsafe_b64encode(bytes(raw[:12]) + head + b",1]]").decode().rstrip("="))
    variants.append(cursor[:-3])
    variants.append(cursor + "AAAA")
    return variants


async def first_page_cursor(api: Api, **variables: Any) -> str:
    page = await markets_page(api, first=3, **variables)
    cursor = page["pageInfo"]["endCursor"]
    assert cursor
    return str(cursor)


@pytest.mark.parametrize("argument", ["after", "before"])
@pytest.mark.parametrize("garbage", ["", "garbage", "!!!", "é", "bm90IGEgY3Vyc29y", "eyJhIjoxfQ", "A" * 400])
async def test_garbage_cursor_is_bad_user_input(api: Api, catalog: Catalog, argument: str, garbage: str) -> None:
    size = "first" if argument == "after" else "last"
    body = await api.gql(MARKETS, {size: 3, argument: garbage})
    assert codes(body) == ["BAD_USER_INPUT"]
    assert argument in body["errors"][0]["extensions"]["fields"]


async def test_tampered_cursor_is_bad_user_input(api: Api, catalog: Catalog) -> None:
    cursor = await first_page_cursor(api)
    for variant in tampered(cursor):
        assert variant != cursor
        body = await api.gql(MARKETS, {"first": 3, "after": variant})
        assert codes(body) == ["BAD_USER_INPUT"], variant
        body = await api.gql(MARKETS, {"last": 3, "before": variant})
        assert codes(body) == ["BAD_USER_INPUT"], variant


async def test_cursor_signed_with_another_secret_is_bad_user_input(api: Api, catalog: Catalog) -> None:
    page = await markets_page(api, first=3)
    # A well-formed cursor for the same ordering, signed with a key the server does not have.
    real = api.container.api.cursors
    scope = cursor_scope(MarketFilter(), MarketOrder())
    forged = CursorCodec("some-other-secret-of-enough-length!!").encode(scope, (BASE, 1))
    assert real.decode(page["pageInfo"]["endCursor"], scope, argument="after") is not None
    body = await api.gql(MARKETS, {"first": 3, "after": forged})
    assert codes(body) == ["BAD_USER_INPUT"]


ORDERS = [{"field": f, "direction": d} for f in FIELDS for d in DIRECTIONS]


@pytest.mark.parametrize("issued", [0, 2, 3, 7])
async def test_cursor_with_another_order_by_is_bad_user_input(api: Api, catalog: Catalog, issued: int) -> None:
    cursor = await first_page_cursor(api, orderBy=ORDERS[issued])
    for index, other in enumerate(ORDERS):
        if index == issued:
            continue
        body = await api.gql(MARKETS, {"first": 3, "after": cursor, "orderBy": other})
        assert codes(body) == ["BAD_USER_INPUT"], (ORDERS[issued], other)
        body = await api.gql(MARKETS, {"last": 3, "before": cursor, "orderBy": other})
        assert codes(body) == ["BAD_USER_INPUT"], (ORDERS[issued], other)
    # ...and still works with its own.
    page = await markets_page(api, first=3, after=cursor, orderBy=ORDERS[issued])
    assert len(page["edges"]) == 3


async def test_cursor_from_non_default_order_fails_without_order_by(api: Api, catalog: Catalog) -> None:
    cursor = await first_page_cursor(api, orderBy={"field": "VOLUME", "direction": "DESC"})
    body = await api.gql(MARKETS, {"first": 3, "after": cursor})
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_cursor_with_another_filter_is_bad_user_input(api: Api, catalog: Catalog) -> None:
    filters: list[dict[str, Any] | None] = [
        None,
        {"status": "ACTIVE"},
        {"status": "CLOSED"},
        {"creatorId": user_id(catalog.alice)},
        {"creatorId": user_id(catalog.bob)},
        {"nameContains": "market"},
        {"nameContains": "market a"},
        {"endsAfter": iso(BASE)},
        {"endsBefore": iso(END_3 + timedelta(days=1))},
        {"status": "ACTIVE", "nameContains": "market"},
    ]
    cursors = []
    for where in filters:
        page = await markets_page(api, first=1, filter=where)
        assert page["pageInfo"]["hasNextPage"], where
        cursors.append(page["pageInfo"]["endCursor"])
    for i, cursor in enumerate(cursors):
        for j, where in enumerate(filters):
            body = await api.gql(MARKETS, {"first": 2, "after": cursor, **({"filter": where} if where else {})})
            if i == j:
                assert "errors" not in body, (filters[i], where, body)
            else:
                assert codes(body) == ["BAD_USER_INPUT"], (filters[i], where)


@pytest.mark.parametrize("explicit", [{"field": "CREATED_AT", "direction": "DESC"}, {}, {"field": "CREATED_AT"}])
async def test_default_order_cursors_are_interchangeable(
    api: Api, catalog: Catalog, explicit: dict[str, str]
) -> None:
    expected = expected_order(catalog.markets, "CREATED_AT", "DESC")
    plain = await markets_page(api, first=5)
    assert node_ids(plain) == expected[:5]
    page = await markets_page(api, first=5, after=plain["pageInfo"]["endCursor"], orderBy=explicit)
    assert node_ids(page) == expected[5:10]
    back = await markets_page(api, first=5, after=page["pageInfo"]["endCursor"])
    assert node_ids(back) == expected[10:15]
    prior = await markets_page(api, last=5, before=back["pageInfo"]["startCursor"], orderBy=explicit)
    assert node_ids(prior) == expected[5:10]


async def test_empty_filter_is_the_same_as_no_filter(api: Api, catalog: Catalog) -> None:
    expected = expected_order(catalog.markets, "CREATED_AT", "DESC")
    cursor = await first_page_cursor(api)
    page = await markets_page(api, first=3, after=cursor, filter={})
    assert node_ids(page) == expected[3:6]


async def test_cursor_of_a_deleted_market_still_continues(api: Api, catalog: Catalog) -> None:
    order = {"field": "VOLUME", "direction": "ASC"}
    expected = expected_order(catalog.markets, "VOLUME", "ASC")
    page = await markets_page(api, first=5, orderBy=order)
    moderator = await api.make_user(Role.MODERATOR)
    await api.data("mutation($id: ID!) { deleteMarket(id: $id) }", {"id": expected[4]}, token=moderator.token)
    rest = await markets_page(api, first=100, after=page["pageInfo"]["endCursor"], orderBy=order)
    assert node_ids(rest) == expected[5:]


# ---------------------------------------------------------------- child connections and users


USER_MARKETS = """
query($id: ID!, $first: Int, $after: String) {
  user(id: $id) { markets(first: $first, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor startCursor } } }
}
"""
USER_POSITIONS = """
query($id: ID!, $first: Int, $after: String) {
  user(id: $id) { positions(first: $first, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor startCursor } } }
}
"""
MARKET_POSITIONS = """
query($id: ID!, $first: Int, $after: String) {
  market(id: $id) { positions(first: $first, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor startCursor } } }
}
"""
USERS = """
query($first: Int, $after: String) {
  users(first: $first, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor startCursor } }
}
"""


def newest_first(rows: list[Any], encode: Any) -> list[str]:
    return [encode(r) for r in sorted(rows, key=lambda r: (r.created_at, r.id), reverse=True)]


def token_for(api: Api, user: User) -> str:
    return api.container.tokens.issue(user, now=api.container.clock())


async def walk_child(
    api: Api, query: str, root: str, size: int, total: int, *, token: str | None = None, **variables: Any
) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(total + 2):
        sent = {**variables, "first": size, **({"after": after} if after else {})}
        data = await api.data(query, sent, token=token)
        connection = data["users"] if root == "users" else next(iter(data[root].values()))
        assert connection["totalCount"] == total
        check_page_cursors(connection)
        seen += [e["node"]["id"] for e in connection["edges"]]
        assert connection["pageInfo"]["hasNextPage"] is (len(seen) < total)
        if not connection["pageInfo"]["hasNextPage"]:
            return seen
        after = connection["pageInfo"]["endCursor"]
    raise AssertionError("the walk did not end")


@dataclass
class Family:
    alice: User
    bob: User
    admin: User
    markets: list[Market]
    positions: list[Position]
    users: list[User]


@pytest.fixture
async def family(api: Api) -> Family:
    """Users, markets and positions, with created_at ties and ids out of time order."""
    users = [
        await insert_user(api.container, email=f"user{i}@example.com", now=at([5, 1, 5, 3, 1, 5, 0][i]))
        for i in range(7)
    ]
    admin = await insert_user(api.container, email="admin@example.com", now=at(1), role=Role.ADMIN)
    users.append(admin)
    alice, bob = users[0], users[1]
    markets = [
        await insert_market(api.container, alice, name=f"alice market {i}", now=at([2, 0, 2, 1, 2, 0, 1][i]))
        for i in range(7)
    ]
    await insert_market(api.container, bob, name="bob market", now=at(3))
    positions = []
    for i in range(9):
        positions.append(await insert_position(
            api.container, markets[0], alice if i % 3 else bob, now=at([4, 4, 2, 4, 9, 2, 4, 9, 0][i])
        ))
    positions.append(await insert_position(api.container, markets[1], alice, now=at(4)))
    return Family(alice=alice, bob=bob, admin=admin, markets=markets, positions=positions, users=users)


@pytest.mark.parametrize("size", [1, 2, 3, 20])
async def test_user_markets_newest_first_paginated(api: Api, family: Family, size: int) -> None:
    expected = newest_first(family.markets, market_id)
    seen = await walk_child(api, USER_MARKETS, "user", size, len(expected), id=user_id(family.alice))
    assert seen == expected


@pytest.mark.parametrize("size", [1, 2, 4, 20])
async def test_user_positions_newest_first_paginated(api: Api, family: Family, size: int) -> None:
    mine = [p for p in family.positions if p.user_id == family.alice.id]
    expected = newest_first(mine, position_id)
    seen = await walk_child(
        api, USER_POSITIONS, "user", size, len(expected), token=token_for(api, family.alice), id=user_id(family.alice)
    )
    assert seen == expected


@pytest.mark.parametrize("size", [1, 2, 4, 20])
async def test_market_positions_newest_first_paginated(api: Api, family: Family, size: int) -> None:
    on_market = [p for p in family.positions if p.market_id == family.markets[0].id]
    expected = newest_first(on_market, position_id)
    seen = await walk_child(api, MARKET_POSITIONS, "market", size, len(expected), id=market_id(family.markets[0]))
    assert seen == expected


@pytest.mark.parametrize("size", [1, 3, 20])
async def test_users_newest_first_paginated(api: Api, family: Family, size: int) -> None:
    expected = newest_first(family.users, user_id)
    seen = await walk_child(api, USERS, "users", size, len(expected), token=token_for(api, family.admin))
    assert seen == expected


async def test_children_of_several_parents_page_independently(api: Api, family: Family) -> None:
    """Batched child pages (one query for all parents) still give each parent its own page."""
    data = await api.data(
        "{ markets(first: 100) { edges { node { id positions(first: 2) { totalCount edges { node { id } } "
        "pageInfo { hasNextPage } } } } } }"
    )
    by_market = {e["node"]["id"]: e["node"]["positions"] for e in data["markets"]["edges"]}
    for market in family.markets:
        mine = newest_first([p for p in family.positions if p.market_id == market.id], position_id)
        got = by_market[market_id(market)]
        assert [e["node"]["id"] for e in got["edges"]] == mine[:2]
        assert got["totalCount"] == len(mine)
        assert got["pageInfo"]["hasNextPage"] is (len(mine) > 2)


CHILD_QUERIES = [
    pytest.param(USER_MARKETS, "user", False, id="User.markets"),
    pytest.param(USER_POSITIONS, "user", True, id="User.positions"),
    pytest.param(MARKET_POSITIONS, "market", False, id="Market.positions"),
    pytest.param(USERS, "users", True, id="users"),
]


def child_variables(family: Family, root: str) -> dict[str, Any]:
    if root == "user":
        return {"id": user_id(family.alice)}
    if root == "market":
        return {"id": market_id(family.markets[0])}
    return {}


@pytest.mark.parametrize(("query", "root", "needs_admin"), CHILD_QUERIES)
@pytest.mark.parametrize("first", [101, -1])
async def test_child_page_size_out_of_bounds(
    api: Api, family: Family, query: str, root: str, needs_admin: bool, first: int
) -> None:
    token = token_for(api, family.admin) if needs_admin else None
    body = await api.gql(query, {**child_variables(family, root), "first": first}, token=token)
    assert codes(body) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(("query", "root", "needs_admin"), CHILD_QUERIES)
async def test_child_first_zero_and_hundred(
    api: Api, family: Family, query: str, root: str, needs_admin: bool
) -> None:
    token = token_for(api, family.admin) if needs_admin else None
    for first in (0, 100):
        data = await api.data(query, {**child_variables(family, root), "first": first}, token=token)
        connection = data["users"] if root == "users" else next(iter(data[root].values()))
        assert connection["totalCount"] > 0
        if first == 0:
            assert connection["edges"] == []
            assert connection["pageInfo"]["hasNextPage"] is True
        else:
            assert len(connection["edges"]) == connection["totalCount"]
            assert connection["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(("query", "root", "needs_admin"), CHILD_QUERIES)
@pytest.mark.parametrize("garbage", ["", "garbage", "bm90IGEgY3Vyc29y"])
async def test_child_garbage_cursor(
    api: Api, family: Family, query: str, root: str, needs_admin: bool, garbage: str
) -> None:
    token = token_for(api, family.admin) if needs_admin else None
    body = await api.gql(query, {**child_variables(family, root), "first": 2, "after": garbage}, token=token)
    assert codes(body) == ["BAD_USER_INPUT"]


async def test_cursors_do_not_cross_connections(api: Api, family: Family) -> None:
    admin = token_for(api, family.admin)
    cursors = {}
    for query, root in ((USER_MARKETS, "user"), (USER_POSITIONS, "user"), (MARKET_POSITIONS, "market"),
                        (USERS, "users")):
        data = await api.data(query, {**child_variables(family, root), "first": 1}, token=admin)
        connection = data["users"] if root == "users" else next(iter(data[root].values()))
        cursors[query] = connection["pageInfo"]["endCursor"]
    cursors[MARKETS] = await first_page_cursor(api)
    for issued_by, cursor in cursors.items():
        for query, root in ((USER_MARKETS, "user"), (USER_POSITIONS, "user"), (MARKET_POSITIONS, "market"),
                            (USERS, "users"), (MARKETS, "markets")):
            variables = {"first": 1, "after": cursor}
            if query is not MARKETS:
                variables |= child_variables(family, root)
            body = await api.gql(query, variables, token=admin)
            if query is issued_by:
                assert "errors" not in body, body
            else:
                assert codes(body) == ["BAD_USER_INPUT"], (issued_by[:40], query[:40])


async def test_search_markets_first_bounds(api: Api) -> None:
    for first in (101, -1):
        body = await api.gql("query($f: Int) { searchMarkets(query: \"x\", first: $f) { score } }", {"f": first})
        assert codes(body) == ["BAD_USER_INPUT"]
    data = await api.data("{ searchMarkets(query: \"x\", first: 0) { score } }")
    assert data["searchMarkets"] == []


async def test_datetimes_in_the_past_or_future_keep_their_order(api: Api) -> None:
    """created_at far apart and microseconds apart order the same way."""
    owner = await insert_user(api.container, email="o@example.com")
    stamps = [datetime(2001, 1, 1, tzinfo=UTC), at(0), at(0.000001), at(0.000002), datetime(2099, 1, 1, tzinfo=UTC)]
    stored = [await insert_market(api.container, owner, name=f"m{i}", now=s) for i, s in enumerate(reversed(stamps))]
    expected = expected_order(stored, "CREATED_AT", "ASC")
    order = {"field": "CREATED_AT", "direction": "ASC"}
    assert await walk_forward(api, 2, len(stored), orderBy=order) == expected
    assert await walk_backward(api, 2, len(stored), orderBy=order) == expected


async def test_users_role_filter_and_its_cursors(api: Api, family: Family) -> None:
    admin = token_for(api, family.admin)
    query = """query($role: Role, $first: Int, $after: String) { users(role: $role, first: $first, after: $after) {
      totalCount edges { node { id role } } pageInfo { hasNextPage endCursor } } }"""
    users = (await api.data(query, {"role": "USER", "first": 2}, token=admin))["users"]
    assert users["totalCount"] == 7
    assert {e["node"]["role"] for e in users["edges"]} == {"USER"}
    admins = (await api.data(query, {"role": "ADMIN"}, token=admin))["users"]
    assert [e["node"]["id"] for e in admins["edges"]] == [user_id(family.admin)]
    cursor = users["pageInfo"]["endCursor"]
    rest = (await api.data(query, {"role": "USER", "first": 100, "after": cursor}, token=admin))["users"]
    expected = newest_first([u for u in family.users if u.role is Role.USER], user_id)
    assert [e["node"]["id"] for e in users["edges"] + rest["edges"]] == expected
    for other in ({"role": "ADMIN"}, {"role": "MODERATOR"}, {}):
        body = await api.gql(query, {**other, "first": 2, "after": cursor}, token=admin)
        assert codes(body) == ["BAD_USER_INPUT"], other


@pytest.mark.parametrize(("field", "direction"), [("CREATED_AT", "DESC"), ("END_DATE", "ASC"), ("NAME", "DESC")])
async def test_window_between_two_cursors(api: Api, catalog: Catalog, field: str, direction: str) -> None:
    order = {"field": field, "direction": direction}
    expected = expected_order(catalog.markets, field, direction)
    everything = await markets_page(api, first=100, orderBy=order)
    low, high = everything["edges"][4]["cursor"], everything["edges"][15]["cursor"]
    window = await markets_page(api, first=100, after=low, before=high, orderBy=order)
    assert node_ids(window) == expected[5:15]
    window = await markets_page(api, first=3, after=low, before=high, orderBy=order)
    assert node_ids(window) == expected[5:8]
    window = await markets_page(api, last=3, after=low, before=high, orderBy=order)
    assert node_ids(window) == expected[12:15]


async def test_case_insensitivity_covers_letters_beyond_ascii(api: Api) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for name in ["école", "Étude", "ÉCOLE normale", "Zèbre", "ängel", "Ärger"]:
        await insert_market(api.container, owner, name=name)
    for needle, expected in (("ÉCOLE", ["ÉCOLE normale", "école"]), ("étude", ["Étude"]), ("äRG", ["Ärger"])):
        page = await markets_page(api, filter={"nameContains": needle})
        assert sorted(e["node"]["name"] for e in page["edges"]) == sorted(expected), needle
    page = await markets_page(api, orderBy={"field": "NAME", "direction": "ASC"})
    names = [e["node"]["name"] for e in page["edges"]]
    assert names == sorted(names, key=str.lower)
    walk = await walk_forward(api, 1, 6, orderBy={"field": "NAME", "direction": "ASC"})
    assert walk == node_ids(page)


USER_TRANSACTIONS = """
query($id: ID!, $first: Int, $after: String) {
  user(id: $id) { transactions(first: $first, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor startCursor } } }
}
"""


def child_parents(family: Family, root: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two parents of a child connection, each with at least one child."""
    if root == "market":
        return {"id": market_id(family.markets[0])}, {"id": market_id(family.markets[1])}
    return {"id": user_id(family.alice)}, {"id": user_id(family.bob)}


@pytest.mark.parametrize("query", [
    pytest.param(USER_MARKETS, id="User.markets"),
    pytest.param(USER_POSITIONS, id="User.positions"),
    pytest.param(USER_TRANSACTIONS, id="User.transactions"),
    pytest.param(MARKET_POSITIONS, id="Market.positions"),
])
async def test_child_cursor_belongs_to_its_parent(api: Api, family: Family, query: str) -> None:
    """A cursor of one parent's children is refused on another parent's, and pages its own parent."""
    for user in (family.alice, family.bob):
        for amount in ("5", "7"):
            await api.fund(Member(user=user, token=""), amount)
    root = "market" if query is MARKET_POSITIONS else "user"
    admin = token_for(api, family.admin)
    parent_a, parent_b = child_parents(family, root)
    first = await api.data(query, {**parent_a, "first": 1}, token=admin)
    cursor = next(iter(first[root].values()))["pageInfo"]["endCursor"]
    other = await api.gql(query, {**parent_b, "first": 1, "after": cursor}, token=admin)
    assert codes(other) == ["BAD_USER_INPUT"], other
    assert "after" in other["errors"][0]["extensions"]["fields"]
    own = await api.data(query, {**parent_a, "first": 1, "after": cursor}, token=admin)
    connection = next(iter(own[root].values()))
    assert connection["edges"] and connection["edges"][0]["cursor"] != cursor


async def test_a_child_cursor_given_to_every_parent_is_refused(api: Api, family: Family) -> None:
    """One `after` for the positions of every market: it fits one market only, so the others refuse it (and
    Position connections are non-null, so the whole answer is that error)."""
    first = await api.data(MARKET_POSITIONS, {"id": market_id(family.markets[0]), "first": 1})
    cursor = first["market"]["positions"]["pageInfo"]["endCursor"]
    body = await api.gql(
        "query($after: String) { markets(first: 100) { edges { node { id positions(first: 1, after: $after) "
        "{ edges { node { id } } } } } } }", {"after": cursor},
    )
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"][-1] == "positions"
    assert "after" in body["errors"][0]["extensions"]["fields"]
    assert body["data"] is None


@pytest.mark.parametrize("casing", CASINGS)
async def test_name_contains_cursors_are_shared_by_case_variants(api: Api, catalog: Catalog, casing: Any) -> None:
    """nameContains matches whatever the case, so a cursor of one case variant pages every other."""
    page = await markets_page(api, first=2, filter={"nameContains": "market"})
    cursor = page["pageInfo"]["endCursor"]
    whole = await markets_page(api, first=100, filter={"nameContains": "market"})
    variant = await markets_page(api, first=2, after=cursor, filter={"nameContains": casing("market")})
    assert node_ids(variant) == node_ids(whole)[2:4]
    other = await api.gql(MARKETS, {"first": 2, "after": cursor, "filter": {"nameContains": "markets"}})
    assert codes(other) == ["BAD_USER_INPUT"]


async def test_an_int_out_of_range_is_a_validation_error_as_literal_and_bad_input_as_variable(api: Api) -> None:
    """GraphQL checks literals when it validates the document and variables when it coerces them (README,
    "Error codes"): the same value answers GRAPHQL_VALIDATION_FAILED as a literal, BAD_USER_INPUT as a variable."""
    literal = await api.gql("{ markets(first: 99999999999) { totalCount } }")
    assert codes(literal) == ["GRAPHQL_VALIDATION_FAILED"]
    assert literal.get("data") is None
    variable = await api.gql(MARKETS, {"first": 99999999999})
    assert codes(variable) == ["BAD_USER_INPUT"]
    assert variable.get("data") is None
