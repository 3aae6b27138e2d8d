"""Query limits: depth, aliases, tokens and cost refuse abusive documents (QUERY_TOO_COMPLEX) before any resolver."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import pytest
from graphql import OperationDefinitionNode, get_introspection_query, parse

from graph.extensions.document_cache import (
    DOCUMENT_BYTES,
    DOCUMENT_ENTRIES,
    DocumentCache,
    Parsed,
    count_selections,
    count_tokens,
    weigh,
)
from graph.extensions.limits import Depth, Limits, QueryLimits, fixed_cost, query_cost
from graph.schema import Schema, build_schema
from tests.conftest import Api, codes
from tests.factories import insert_market, insert_position, insert_user
from tests.servers import instance
from tests.statements import StatementLog

SCHEMA = build_schema()._schema
CONTRACT_QUERY = """{ markets(first: 100) { edges { node { id name creator { name }
  positions(first: 10) { edges { node { amount user { name } } } } } } } }"""
# markets 1 + 100 × (edges 1 + node 1 + creator 1 + positions (1 + 10 × (edges 1 + node 1 + user 1)))
CONTRACT_COST = 3401
DEPTH_10 = (
    "{ markets { edges { node { creator { markets { edges { node { creator { "
    "markets { totalCount } } } } } } } } } }"
)
DEPTH_11 = DEPTH_10.replace("{ totalCount }", "{ edges { cursor } }")
NOTHING = 'user(id: "nobody") { id }'  # an object field that resolves to null without an error
CYCLES = [
    "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
    "query { me { ...U } } fragment U on User { markets { edges { node { creator { ...U } } } } }",
    "query { me { ...U } } fragment U on User { id ...U }",
]


def too_complex(body: dict[str, Any]) -> dict[str, Any]:
    """The extensions of the one QUERY_TOO_COMPLEX error of a refused request (which has no data)."""
    assert "data" not in body, body
    assert codes(body) == ["QUERY_TOO_COMPLEX"], body
    return dict(body["errors"][0]["extensions"])


def aliased(count: int, field: str = "totalCount") -> str:
    return " ".join(f"a{i}: {field}" for i in range(count))


def ids_query(count: int) -> str:
    """`{ nodes(ids: [...]) { id } }`: 12 tokens and one per id."""
    return "{ nodes(ids: [" + ", ".join('"x"' for _ in range(count)) + "]) { id } }"


def cost(query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None) -> int | None:
    return query_cost(SCHEMA, parse(query), variables, operation_name)


# ---------------------------------------------------------------- the contract's query at the defaults


async def test_the_contract_query_is_admitted_at_the_defaults(api: Api) -> None:
    owner = await insert_user(api.container, email="o@example.com", name="Owner")
    market = await insert_market(api.container, owner, name="Nested market")
    await insert_position(api.container, market, owner, amount="2.50")
    document = parse(CONTRACT_QUERY)
    assert cost(CONTRACT_QUERY) == CONTRACT_COST <= Limits().max_cost
    assert Depth(SCHEMA, document).operation(document.definitions[0]) == 8  # type: ignore[arg-type]
    data = await api.data(CONTRACT_QUERY)
    node = data["markets"]["edges"][0]["node"]
    assert node["creator"] == {"name": "Owner"}
    assert node["positions"]["edges"] == [{"node": {"amount": "2.50", "user": None}}]  # anonymous: user is null


async def test_the_introspection_query_is_admitted(api: Api) -> None:
    data = await api.data(get_introspection_query())
    assert data["__schema"]["queryType"]["name"] == "Query"


# ---------------------------------------------------------------- depth


async def test_depth_at_the_limit_runs_and_one_more_is_refused(api: Api) -> None:
    assert (await api.data(DEPTH_10))["markets"]["edges"] == []
    assert too_complex(await api.gql(DEPTH_11)) == {"code": "QUERY_TOO_COMPLEX", "depth": 11, "limit": 10}


async def test_depth_counts_through_named_and_inline_fragments(api: Api) -> None:
    query = """{ markets { ...Page } }
      fragment Page on MarketConnection { edges { node { ... on Market { creator { ...Mine } } } } }
      fragment Mine on User { markets { edges { node { creator { markets { edges { cursor } } } } } } }"""
    assert too_complex(await api.gql(query))["depth"] == 11


async def test_a_document_nested_past_the_parser_limit_is_too_complex(api: Api) -> None:
    body = await api.gql("{ " + "me { " * 300 + "id" + " }" * 300 + " }")
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX"}


async def test_fragments_nested_past_the_validator_limit_are_too_complex(api: Api) -> None:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(300))
    body = await api.gql("query { ...F0 } " + chain + " fragment F300 on Query { me { id } }")
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX"}


async def test_deep_inline_fragments_within_the_parser_limit_do_not_exhaust_the_stack(api: Api) -> None:
    assert await api.data("{ " + "... on Query { " * 190 + NOTHING + " }" * 190 + " }") == {"user": None}


@pytest.mark.parametrize("query", CYCLES)
async def test_fragment_cycles_fail_validation_quickly(api: Api, query: str) -> None:
    started = time.monotonic()
    body = await api.gql(query)
    assert time.monotonic() - started < 1
    assert "data" not in body
    assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, body


# ---------------------------------------------------------------- aliases


async def test_aliases_at_the_limit_run_and_one_more_is_refused(api: Api) -> None:
    data = await api.data("{ markets(first: 1) { " + aliased(30) + " } }")
    assert data["markets"] == {f"a{i}": 0 for i in range(30)}
    body = await api.gql("{ markets(first: 1) { " + aliased(31) + " } }")
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX", "aliases": 31, "limit": 30}


async def test_aliases_count_once_per_fragment_spread(api: Api) -> None:
    query = "{ a: markets { ...C } b: markets { ...C } c: markets { ... on MarketConnection { ...C } } } " \
            "fragment C on MarketConnection { " + aliased(10) + " }"
    assert too_complex(await api.gql(query))["aliases"] == 33


# ---------------------------------------------------------------- tokens


async def test_tokens_at_the_limit_parse_and_one_more_is_refused(api: Api) -> None:
    body = await api.gql(ids_query(4988))  # 5000 tokens: parsed and validated, then past nodes' 100 ids
    assert codes(body) == ["BAD_USER_INPUT"] and body["errors"][0]["extensions"]["fields"] == {
        "ids": "must hold at most 100 ids"
    }
    body = await api.gql(ids_query(4989))
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX", "limit": 5000}
    assert body["errors"][0]["message"] == "Query has more than 5000 tokens"


async def test_comments_count_against_the_token_limit(api: Api) -> None:
    assert await api.data("{ " + NOTHING + " }" + " #\n" * 5000) == {"user": None}
    assert too_complex(await api.gql("{ " + NOTHING + " }" + " #\n" * 5001))["limit"] == 5000


async def test_a_real_syntax_error_is_still_a_parse_failure(api: Api) -> None:
    assert codes(await api.gql("{ markets { ")) == ["GRAPHQL_PARSE_FAILED"]


# ---------------------------------------------------------------- cost


async def test_cost_at_the_limit_is_admitted_and_one_more_is_refused(api: Api) -> None:
    # 1 + n × (edges 1 + node 1), plus `user` 1: 10,000 exactly; the resolver then refuses first > 100.
    at_limit = "query($n: Int!) { markets(first: $n) { edges { node { id } } } " + NOTHING + " }"
    assert cost(at_limit, {"n": 4999}) == 10_000
    assert codes(await api.gql(at_limit, {"n": 4999})) == ["BAD_USER_INPUT"]
    over = "query($n: Int!) { markets(first: $n) { edges { node { id } } } }"
    body = await api.gql(over, {"n": 5000})
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX", "cost": 10_001, "limit": 10_000}
    assert body["errors"][0]["message"] == "Query cost 10001 exceeds the limit of 10000"


async def test_nested_connections_multiply(api: Api) -> None:
    query = "{ markets(first: 100) { edges { node { positions(first: 100) { edges { node { id } } } } } } }"
    assert too_complex(await api.gql(query))["cost"] == 1 + 100 * (2 + 1 + 100 * 2)


@pytest.mark.parametrize(("query", "variables", "expected"), [
    ("query($n: Int) { markets(first: $n) { totalCount } }", {"n": 7}, 1),
    ("query($n: Int) { markets(first: $n) { edges { cursor } } }", {"n": 7}, 1 + 7),
    ("query($n: Int) { markets(last: $n) { edges { cursor } } }", {"n": 7}, 1 + 7),
    ("query($n: Int = 50) { markets(first: $n) { edges { cursor } } }", None, 1 + 50),
    ("query($n: Int = 50) { markets(first: $n) { edges { cursor } } }", {"n": 3}, 1 + 3),
    ("query($n: Int) { markets(first: $n) { edges { cursor } } }", {"n": None}, 1 + 20),
    ("query($n: Int) { markets(first: $n) { edges { cursor } } }", {"n": "ten"}, 1 + 20),
    ("query($n: Int) { markets(first: $n) { edges { cursor } } }", {"n": -5}, 1),
    ("{ markets { edges { cursor } } }", None, 1 + 20),
    ("{ me { markets { edges { cursor } } } }", None, 1 + 1 + 20),  # the schema's default, 20
    ("{ me { positions(first: 5) { edges { node { market { id } } } } } }", None, 1 + 1 + 5 * 3),
    ('{ searchMarkets(query: "x", first: 4) { market { id } score } }', None, 1 + 4 * 1),
    ('{ searchMarkets(query: "x") { market { id } } }', None, 1 + 10 * 1),  # the schema's default, 10
    ('query($ids: [ID!]!) { nodes(ids: $ids) { ... on Market { creator { id } } } }', {"ids": ["a"] * 9}, 1 + 9),
    ('{ nodes(ids: ["a", "b", "c"]) { ... on Market { creator { id } } ... on User { id } } }', None, 1 + 3),
    ('{ node(id: "a") { ... on User { markets(first: 2) { edges { cursor } } } } }', None, 1 + 1 + 2),
    ("{ me { id name __typename } }", None, 1),
    ("{ markets(first: 2) { edges @skip(if: true) { cursor } } }", None, 1 + 2),  # directives are ignored
    # The money connections, priced like the others: probabilityHistory's default page is 100, transactions' 20.
    ('{ market(id: "a") { probabilityHistory { edges { node { probability } } } } }', None, 1 + 1 + 100 * 2),
    ("{ me { transactions { edges { node { market { id } } } } } }", None, 1 + 1 + 20 * 3),
    ("{ markets(first: 10) { edges { node { probabilityHistory(first: 5) { totalCount } } } } }", None,
     1 + 10 * (1 + 1 + 1)),
    ('{ node(id: "a") { ... on Transaction { position { market { id } } } } }', None, 1 + 1 + 1),
    ('{ quote(marketId: "a", outcome: YES, amount: "1") { shares probabilityAfter } }', None, 1),
])
def test_cost_rules(query: str, variables: dict[str, Any] | None, expected: int) -> None:
    assert cost(query, variables) == expected


def test_cost_counts_named_and_inline_fragments_like_the_fields_they_hold() -> None:
    with_fragments = """query Page { markets(first: 100) { edges { node { ...M } } } }
      fragment M on Market { id ... on Market { name creator { name } } positions(first: 10) { ...P } }
      fragment P on PositionConnection { edges { node { ... { amount user { ...Name } } } } }
      fragment Name on User { name }"""
    assert cost(with_fragments) == CONTRACT_COST
    assert cost(with_fragments + " query Other { me { id } }", operation_name="Other") == 1


async def test_fragment_spread_bombs_are_refused_by_cost(api: Api) -> None:
    fragments = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    started = time.monotonic()
    body = await api.gql("query { ...F0 } " + fragments + " fragment F40 on Query { me { id } }")
    assert time.monotonic() - started < 1
    assert too_complex(body)["cost"] == 2**40


async def test_alias_bombs_of_connections_are_refused(api: Api) -> None:
    each = "markets(first: 100) { edges { node { creator { markets(first: 1) { totalCount } } } } }"
    assert cost("{ " + each + " }") == 1 + 100 * (1 + 1 + 1 + 1)
    assert too_complex(await api.gql("{ " + aliased(30, each) + " }"))["cost"] == 30 * 401


# ---------------------------------------------------------------- before any resolver, transport limits


@pytest.mark.parametrize("query", [
    DEPTH_11, "{ markets(first: 1) { " + aliased(31) + " } }", ids_query(4989),
    "{ markets(first: 100) { edges { node { positions(first: 100) { edges { node { id } } } } } } }",
    "{ " + "me { " * 300 + "id" + " }" * 300 + " }", *CYCLES,
])
async def test_refusals_run_no_sql(api: Api, statement_log: StatementLog, query: str) -> None:
    statement_log.clear()
    assert codes(await api.gql("{ markets { totalCount } }")) == []
    assert statement_log.count > 0  # the control: a query that reaches a resolver does run SQL
    statement_log.clear()
    body = await api.gql(query)
    assert "data" not in body and codes(body)
    assert statement_log.count == 0, statement_log.statements


async def test_get_is_limited_too(api: Api) -> None:
    response = await api.http.get("/graphql", params={"query": DEPTH_11})
    assert response.status_code == 200
    assert too_complex(response.json())["depth"] == 11


async def test_a_body_over_max_body_bytes_is_413(api: Api) -> None:
    body = json.dumps({"query": "{ me { id } }", "variables": {"pad": "x" * 1_048_576}})
    response = await api.http.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413


async def test_a_batch_is_400(api: Api) -> None:
    response = await api.http.post("/graphql", json=[{"query": "{ me { id } }"}] * 2)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


# ---------------------------------------------------------------- settings and caching


async def test_the_settings_set_the_limits(test_database_url: str) -> None:
    async with instance(
        test_database_url, max_query_depth=3, max_aliases=1, max_query_tokens=30, max_query_cost=CONTRACT_COST,
    ) as api:
        assert (await api.data("{ markets { edges { cursor } } }"))["markets"] == {"edges": []}
        assert too_complex(await api.gql("{ markets { edges { node { id } } } }"))["limit"] == 3
        assert await api.data("{ a: markets { totalCount } }") == {"a": {"totalCount": 0}}
        assert too_complex(await api.gql("{ a: markets { totalCount } b: markets { totalCount } }"))["limit"] == 1
        assert too_complex(await api.gql(ids_query(19)))["limit"] == 30
    async with instance(test_database_url, max_query_cost=CONTRACT_COST) as api:
        assert (await api.data(CONTRACT_QUERY))["markets"] == {"edges": []}
    async with instance(test_database_url, max_query_cost=CONTRACT_COST - 1) as api:
        assert too_complex(await api.gql(CONTRACT_QUERY)) == {
            "code": "QUERY_TOO_COMPLEX", "cost": CONTRACT_COST, "limit": CONTRACT_COST - 1,
        }


@pytest.mark.parametrize(("query", "fixed"), [
    ("query($id: ID!) { market(id: $id) { id creator { name } } }", True),
    ("query($s: MarketStatus) { markets(first: 5, filter: {status: $s}) { edges { node { id } } } }", True),
    ("query($n: Int) { markets(first: $n) { edges { node { id } } } }", False),
    ("query($n: Int = 3) { markets { edges { node { positions(first: $n) { totalCount } } } } }", False),
    ("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", False),
    ("query($n: Int) { ...F } fragment F on Query { markets(last: $n) { totalCount } }", False),
])
def test_a_cost_no_variable_decides_is_measured_once(query: str, fixed: bool) -> None:
    document = parse(query)
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    if fixed:
        assert fixed_cost(SCHEMA, document, operation) == cost(query) == cost(query, {"n": 99, "s": "ACTIVE"})
    else:
        assert fixed_cost(SCHEMA, document, operation) is None


def test_the_rules_are_built_once_per_schema() -> None:
    schema = build_schema()
    first, second = (next(e for e in schema.get_extensions() if isinstance(e, QueryLimits)) for _ in range(2))
    assert first is not second
    assert first.rules is second.rules


def app_schema(api: Api) -> Schema:
    """The schema the app under test serves (its document cache included)."""
    schema: Schema = api.http._transport.app.state.schema  # type: ignore[attr-defined]
    return schema


async def test_validation_stays_cached(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    query = "{ markets(first: 3) { totalCount } }"
    validated: list[object] = []
    monkeypatch.setattr("graph.extensions.document_cache.validate_document", lambda *a: validated.append(a) or [])
    await api.data(query)
    await api.data(query)
    await api.data(query + " ")  # another text, validated once more
    assert len(validated) == 2
    assert any(key[0] == query for key in app_schema(api).documents._entries)



# ---------------------------------------------------------------- nodes(ids:): bounded and charged per id


async def test_nodes_takes_at_most_100_ids(api: Api) -> None:
    owner = await api.make_user()
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    assert (await api.data(query, {"ids": [owner.id] * 100}))["nodes"] == [{"id": owner.id}] * 100
    body = await api.gql(query, {"ids": [owner.id] * 101})
    assert "data" not in body or body["data"] is None
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["fields"] == {"ids": "must hold at most 100 ids"}


@pytest.mark.parametrize(("selection", "each"), [
    ("id", 1), ("__typename", 1), ("... on User { markets(first: 3) { edges { cursor } } }", 4),
])
def test_each_id_costs_at_least_one(selection: str, each: int) -> None:
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { " + selection + " } }"
    assert cost(query, {"ids": ["a"] * 60_000}) == 1 + 60_000 * each


async def test_sixty_thousand_ids_are_refused_by_cost_before_any_resolver(
    api: Api, statement_log: StatementLog
) -> None:
    statement_log.clear()
    body = await api.gql("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["VXNlcjox"] * 60_000})
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX", "cost": 60_001, "limit": 10_000}
    assert statement_log.count == 0


# ---------------------------------------------------------------- selections, counted before validation


def repeated(count: int, field: str = "me { id }") -> str:
    return "{ " + " ".join([field] * count) + " }"


async def test_a_field_repeated_1200_times_is_refused_by_its_selection_count(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    validated: list[object] = []
    monkeypatch.setattr("graph.extensions.document_cache.validate_document", lambda *a: validated.append(a) or [])
    query = repeated(1200)  # 12 KB; 2,400 selections
    body = await api.gql(query)
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX", "selections": 2400, "limit": 500}
    assert body["errors"][0]["message"] == "Query selection count 2400 exceeds the limit of 500"
    assert "nested" not in body["errors"][0]["message"]
    assert validated == []  # refused before validation ran


async def test_selections_at_the_limit_are_validated_and_run(api: Api) -> None:
    assert count_selections(parse(repeated(500, "__typename"))) == 500
    assert (await api.data(repeated(500, "__typename"))) == {"__typename": "Query"}
    assert too_complex(await api.gql(repeated(501, "__typename")))["selections"] == 501


def test_fragments_count_once_as_written() -> None:
    document = parse("{ ...F ...F me { ...F } } fragment F on Query { me { id name } }")
    assert count_selections(document) == 3 + 1 + 3


async def test_the_selection_limit_is_a_setting(test_database_url: str) -> None:
    async with instance(test_database_url, max_query_selections=3) as api:
        assert await api.data('{ user(id: "x") { id name } }') == {"user": None}
        assert too_complex(await api.gql('{ user(id: "x") { id name email } }'))["limit"] == 3


async def test_validation_that_gives_up_says_nested_only_when_it_is(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*_: object) -> list[object]:
        from graphql.validation.validate import ValidationAbortedError

        return [ValidationAbortedError("Validation aborted.")]

    monkeypatch.setattr("graph.extensions.document_cache.validate_document", exhausted)
    # A document no other test sends: the schema's document cache outlives a test.
    body = await api.gql("{ me { validationGaveUp: id } }")
    assert too_complex(body) == {"code": "QUERY_TOO_COMPLEX"}
    assert body["errors"][0]["message"] == "Query is too complex to validate"
    deep = await api.gql("{ me { ...U } } fragment U on User { markets { edges { node { creator { markets { "
                         "edges { node { creator { markets { edges { node { id } } } } } } } } } } } }")
    assert deep["errors"][0]["message"] == "Query is nested too deeply"


# ---------------------------------------------------------------- the document cache is bounded


async def test_the_document_cache_is_bounded_by_entries_and_bytes(api: Api) -> None:
    store = app_schema(api).documents
    assert (store.max_entries, store.max_bytes) == (DOCUMENT_ENTRIES, DOCUMENT_BYTES)
    # 40 distinct documents of ~1 MB each (a 1 MB string argument), weighing ~3 MB each: more than fit.
    for n in range(40):
        big = '{ user(id: "' + str(n) + "x" * 1_000_000 + '") { id } }'
        response = await api.http.post("/graphql", content='{"query": ' + json.dumps(big) + "}",
                                        headers={"Content-Type": "application/json"})
        assert response.status_code in (200, 413)
    assert store.bytes <= DOCUMENT_BYTES
    # Distinct mid-sized documents (~600 KB each by weight), more than fit: the bytes bound holds.
    for n in range(120):
        await api.gql('{ user(id: "' + str(n) + "y" * 200_000 + '") { id } }')
    assert len(store) <= DOCUMENT_ENTRIES and store.bytes <= DOCUMENT_BYTES
    assert len(store) < 120
    # Many distinct small documents: the entry bound holds.
    for n in range(DOCUMENT_ENTRIES + 50):
        await api.gql(f'{{ user(id: "{n}") {{ id }} }}')
    assert len(store) == DOCUMENT_ENTRIES and store.bytes <= DOCUMENT_BYTES
    assert isinstance(next(e for e in build_schema().get_extensions() if isinstance(e, DocumentCache)).store,
                      type(store))


def deep_size(root: object) -> int:
    """The bytes an object graph holds (each object once), walking attributes, lists and tuples."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        item = stack.pop()
        if item is None or isinstance(item, bool | int | float) or id(item) in seen:
            continue
        seen.add(id(item))
        total += sys.getsizeof(item)
        if isinstance(item, str | bytes | type):
            continue
        if isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
            continue
        if hasattr(item, "__dict__"):
            total += sys.getsizeof(item.__dict__)
            stack.extend(item.__dict__.values())
        for cls in type(item).__mro__:
            stack.extend(getattr(item, name, None) for name in cls.__dict__.get("__slots__", ()))
    return total


@pytest.mark.parametrize("query", [
    get_introspection_query(), repeated(480), ids_query(4000), '{ user(id: "' + "x" * 300_000 + '") { id } }',
    "{ me { id } }" + " #\n" * 5000, CONTRACT_QUERY,
])
def test_an_entry_weighs_at_least_what_its_document_holds(query: str) -> None:
    document = parse(query, max_lexical_tokens=5000, max_comments=5000)  # the server's parse options
    parsed = Parsed(document, count_selections(document), count_tokens(document))
    assert weigh((query, ()), parsed) >= deep_size((query, document))  # the key and the value, each object once
