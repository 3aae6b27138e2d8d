"""Compiled reads against graphql-core (issue 10): a corpus of read documents, as anonymous, owner,
moderator and admin, each answered by both paths and compared byte for byte (READ_PLAN_SHADOW, on in
the test settings: markets.transport.compiled_reads answers 500 on any difference). Each document must actually be
planned (the shadow's comparison count goes up), so no test here passes by falling back.
PostgreSQL only: the read views are raw asyncpg, and without them nothing is planned."""

from __future__ import annotations

from typing import Any

import pytest

from domain.roles import Role
from markets.transport.compiled_reads import CompiledReads
from tests.conftest import Api, Member

pytestmark = pytest.mark.postgres_only

MARKET_FIELDS = (
    "__typename id name description status volume endDate resolvedOutcome createdAt updatedAt probability "
    "yesPool noPool"
)
USER_FIELDS = "__typename id name role createdAt email balance"
POSITION_FIELDS = "__typename id outcome amount createdAt shares proceeds soldAt payout"
BENCH_MARKET_BY_ID = "query($id: ID!) { market(id: $id) { id name volume status creator { id name } } }"
BENCH_NESTED = (
    "{ markets(first: 50) { edges { node { id name volume creator { name } "
    "positions(first: 10) { edges { node { amount outcome user { name } } } } } } } }"
)
BENCH_BY_VOLUME = (
    "{ markets(first: 20, filter: {status: ACTIVE}, orderBy: {field: VOLUME, direction: DESC}) "
    "{ edges { node { id name volume } } totalCount } }"
)
EVERY_FIELD = f"""
query Everything($first: Int = 3) {{
  __typename
  markets(first: $first) {{
    __typename totalCount
    pageInfo {{ __typename hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ __typename cursor node {{
      {MARKET_FIELDS}
      creator {{ {USER_FIELDS} }}
      positions(first: 2) {{
        __typename totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
        edges {{ cursor node {{ {POSITION_FIELDS} user {{ {USER_FIELDS} }} }} }}
      }}
    }} }}
  }}
}}
"""
FRAGMENTS = """
fragment Who on User { id name email }
fragment Row on Market { id ...Named creator { ...Who } }
fragment Named on Node { ... on Market { name } }
query Fragments { markets(first: 5) { edges { node { ...Row ... on Market { volume creator { balance } }
  positions { edges { node { ... on Position { amount user { ...Who role } } } } } } } } }
"""
ALIASES = """
{ newest: markets(first: 2) { edges { node { a: id b: name c: creator { d: name } name } } }
  byName: markets(first: 4, orderBy: {field: NAME, direction: ASC}) {
    total: totalCount edges { c1: cursor node { id } } }
  ending: markets(first: 4, orderBy: {field: END_DATE, direction: ASC}) { edges { cursor node { id endDate } } }
  vol: markets(first: 3, orderBy: {field: VOLUME}) { pageInfo { startCursor } edges { cursor node { volume } } }
  typename: __typename }
"""
FILTERS = """
query($status: MarketStatus, $text: String) {
  active: markets(filter: {status: $status, nameContains: $text}) { totalCount edges { node { id name status } } }
  closed: markets(filter: {status: RESOLVED}, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount }
}
"""


def reads_of(api: Api) -> CompiledReads:
    reads: CompiledReads = api.http._transport.app.state.reads  # type: ignore[attr-defined]
    return reads


async def planned(api: Api, query: str, variables: dict[str, Any] | None, token: str | None) -> dict[str, Any]:
    """The answer, checked by the shadow against graphql-core's; fails unless the plan answered too."""
    reads = reads_of(api)
    before = reads.compared
    response = await api.post(query, variables, token=token)
    assert response.status_code == 200, response.text
    assert reads.compared == before + 1, f"not planned: {query}"
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


@pytest.fixture
async def cast(api: Api) -> dict[str, Member | None]:
    """Markets by an owner, with positions by the owner and others, one sold, one market resolved."""
    owner = await api.make_user(name="Owner")
    other = await api.make_user(name="Other")
    moderator = await api.make_user(Role.MODERATOR, name="Moderator")
    admin = await api.make_user(Role.ADMIN, name="Admin")
    markets = [
        await api.make_market(owner, name=f"Market {n}", endDate=f"2099-01-0{n + 1}T10:00:00+00:00")
        for n in range(4)
    ] + [await api.make_market(other, name="Zeta without end")]
    opened = "mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: YES, amount: \"3.50\"}) { id } }"
    for index, market in enumerate(markets):
        for member in (owner, other)[: 1 + index % 2]:
            await api.data(opened, {"id": market["id"]}, token=member.token)
    sold = await api.data(opened, {"id": markets[0]["id"]}, token=other.token)
    await api.data("mutation($id: ID!) { sellPosition(id: $id) { id } }", {"id": sold["openPosition"]["id"]},
                   token=other.token)
    await api.data("mutation($id: ID!) { resolveMarket(id: $id, outcome: YES) { id } }", {"id": markets[1]["id"]},
                   token=moderator.token)
    return {"anonymous": None, "owner": owner, "moderator": moderator, "admin": admin}


VIEWERS = ["anonymous", "owner", "moderator", "admin"]
CORPUS = {
    "bench-nested": (BENCH_NESTED, None),
    "bench-by-volume": (BENCH_BY_VOLUME, None),
    "every-field": (EVERY_FIELD, None),
    "every-field-all-rows": (EVERY_FIELD, {"first": 10}),
    "fragments": (FRAGMENTS, None),
    "aliases": (ALIASES, None),
    "filters": (FILTERS, {"status": "ACTIVE", "text": "market"}),
    "filters-nothing": (FILTERS, {"status": None, "text": "%_"}),
}


@pytest.mark.parametrize("viewer", VIEWERS)
@pytest.mark.parametrize("name", list(CORPUS))
async def test_the_corpus_is_planned_and_answered_as_graphql_core_answers(
    api: Api, cast: dict[str, Member | None], name: str, viewer: str
) -> None:
    query, variables = CORPUS[name]
    member = cast[viewer]
    await planned(api, query, variables, member.token if member else None)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_market_by_id_and_pages_by_cursor(api: Api, cast: dict[str, Member | None], viewer: str) -> None:
    member = cast[viewer]
    token = member.token if member else None
    pages = "query($after: String) { markets(first: 2, after: $after) { pageInfo { hasNextPage endCursor } " \
            "edges { cursor node { id } } } }"
    after, seen = None, []
    while True:
        page = (await planned(api, pages, {"after": after}, token))["data"]["markets"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 5
    backward = "query($before: String) { markets(last: 2, before: $before) { " \
               "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } } } }"
    await planned(api, backward, {"before": after}, token)
    positions = "query($id: ID!, $after: String) { market(id: $id) { positions(first: 1, after: $after) { " \
                "pageInfo { hasNextPage hasPreviousPage endCursor } edges { node { id user { name } } } } } }"
    first = (await planned(api, positions, {"id": seen[-1], "after": None}, token))["data"]["market"]["positions"]
    await planned(api, positions, {"id": seen[-1], "after": first["pageInfo"]["endCursor"]}, token)
    for market_id in [*seen, "TWFya2V0Ojk5OTk5", "VXNlcjox", "garbage"]:
        await planned(api, BENCH_MARKET_BY_ID, {"id": market_id}, token)


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_users_and_nodes_by_id(api: Api, cast: dict[str, Member | None], viewer: str) -> None:
    member = cast[viewer]
    token = member.token if member else None
    users = [m.id for m in cast.values() if m is not None]
    market = (await planned(api, "{ markets(first: 1) { edges { node { id } } } }", None, token))
    market_id = market["data"]["markets"]["edges"][0]["node"]["id"]
    by_user = f"query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}"
    by_node = (
        f"query($id: ID!) {{ node(id: $id) {{ __typename id ... on User {{ {USER_FIELDS} }} "
        f"... on Market {{ {MARKET_FIELDS} creator {{ email }} }} }} }}"
    )
    for wanted in [*users, market_id, "VXNlcjo5OTk5", "garbage"]:
        await planned(api, by_user, {"id": wanted}, token)
        await planned(api, by_node, {"id": wanted}, token)


async def test_requests_with_errors_are_left_to_graphql_core(api: Api, cast: dict[str, Member | None]) -> None:
    reads = reads_of(api)
    before = reads.compared
    bad = [
        ("{ markets(first: 500) { totalCount } }", None),
        ("query($a: String) { markets(after: $a) { totalCount } }", {"a": "not a cursor"}),
        ("{ market(id: \"x\") { positions(first: -1) { totalCount } } }", None),
        ("{ markets { edges { node { id @include(if: true) } } } }", None),
        ("{ me { id } }", None),
    ]
    for query, variables in bad:
        await api.post(query, variables)
    assert reads.compared == before


async def test_a_plan_that_answers_otherwise_is_refused(
    api: Api, cast: dict[str, Member | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shadow check is live: a plan that shows an email it must hide answers 500, not the email."""
    monkeypatch.setattr("graph.plan.executor.shown_to", lambda *_: lambda _owner: True)
    response = await api.post("{ markets { edges { node { creator { email } } } } }")
    assert response.status_code == 500
    assert "@" not in response.text


@pytest.mark.parametrize("query", [BENCH_NESTED, EVERY_FIELD], ids=["bench-nested", "every-field"])
async def test_a_plan_runs_as_many_statements_for_2_rows_as_for_20(
    api: Api, monkeypatch: pytest.MonkeyPatch, query: str
) -> None:
    """Counted on the plan's own answers (the shadow off): the same statements whatever the page holds."""
    reads = reads_of(api)
    monkeypatch.setattr(reads, "shadow", False)
    admin = await api.make_user(Role.ADMIN)
    holders = [await api.make_user() for _ in range(3)]
    opened = "mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: NO, amount: \"1.00\"}) { id } }"
    counts = {}
    made = 0
    for rows in (2, 20):
        while made < rows:
            market = await api.make_market(holders[made % 3], name=f"Row {made}")
            for holder in holders[: 1 + made % 3]:
                await api.data(opened, {"id": market["id"]}, token=holder.token)
            made += 1
        sized = query.replace("first: 50", f"first: {rows}").replace("$first: Int = 3", f"$first: Int = {rows}")
        await api.post(sized, token=admin.token)  # graphql-core validates and caches the document first
        before = reads.answered
        response = await api.post(sized, token=admin.token)
        assert response.status_code == 200 and "errors" not in response.json()
        assert reads.answered == before + 1
        assert len(response.json()["data"]["markets"]["edges"]) == rows
        counts[rows] = int(response.headers["X-SQL-Statements"])
    assert counts[2] == counts[20], counts


async def test_a_plan_that_fails_is_answered_by_graphql_core(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the tests' shadow, a plan whose read fails hands the request to graphql-core."""
    reads = reads_of(api)
    monkeypatch.setattr(reads, "shadow", False)

    async def broken(**_: object) -> None:
        raise OSError("the read views' connection is gone")

    monkeypatch.setattr(api.container.views, "market_page", broken)
    query = "{ markets { totalCount } }"
    await api.post(query)  # graphql-core validates and caches the document first
    before = reads.answered
    assert await api.data(query) == {"markets": {"totalCount": 0}}
    assert reads.answered == before
