"""ENVIRONMENT and GRAPHIQL: the explorer and introspection follow them."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TEST_SECRET, codes
from tests.servers import instance

INTROSPECTION = "{ __schema { queryType { name } } }"
BROWSER = {"Accept": "text/html"}


@pytest.mark.parametrize(("environment", "graphiql", "open_"), [
    ("development", None, True),
    ("development", False, False),
    ("production", None, False),
    ("production", True, True),
])
async def test_explorer_and_introspection(
    test_database_url: str, environment: str, graphiql: bool | None, open_: bool
) -> None:
    async with instance(test_database_url, environment=environment, graphiql=graphiql, jwt_secret=TEST_SECRET) as app:
        page = await app.http.get("/graphql", headers=BROWSER)
        body = (await app.post(INTROSPECTION)).json()
        ordinary = (await app.post("{ markets(first: 1) { totalCount } }")).json()
    assert ordinary == {"data": {"markets": {"totalCount": 0}}}
    if open_:
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}
    else:
        assert page.status_code == 404
        assert set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"} and "data" not in body


# (document, variables): each draws a "Did you mean …?" hint from graphql-core, naming schema members.
HINTED = [
    ("{ markts { totalCount } }", None),
    ("{ markets(frist: 1) { totalCount } }", None),
    ("{ markets(filter: {status: ACTIV}) { totalCount } }", None),
    ("{ markets(filter: {nameContain: \"x\"}) { totalCount } }", None),
    ("query($f: MarketFiltr) { markets(filter: $f) { totalCount } }", {"f": {}}),
    ("query($s: MarketStatus) { markets(filter: {status: $s}) { totalCount } }", {"s": "ACTIV"}),
    ("query($f: MarketFilter) { markets(filter: $f) { totalCount } }", {"f": {"nameContain": "x"}}),
    ("{ markets { edges { nod { id } } } }", None),
]


@pytest.mark.parametrize(("environment", "graphiql", "hints"), [
    ("development", None, True), ("production", None, False), ("production", True, True), ("development", False, False),
])
async def test_field_name_hints_only_where_introspection_is_on(
    test_database_url: str, environment: str, graphiql: bool | None, hints: bool
) -> None:
    """With introspection off, "Did you mean 'markets'?" would hand out the schema it hides."""
    async with instance(test_database_url, environment=environment, graphiql=graphiql, jwt_secret=TEST_SECRET) as app:
        bodies = [(await app.post(document, variables)).json() for document, variables in HINTED]
    for body in bodies:
        assert set(codes(body)) <= {"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"} and codes(body), body
        assert ("Did you mean" in json.dumps(body)) is hints, body
        if not hints:
            assert all(error["message"].endswith((".", "'")) for error in body["errors"]), body


@pytest.mark.parametrize(("environment", "header"), [("development", True), ("production", False)])
async def test_the_sql_statements_header_is_sent_only_in_development(
    test_database_url: str, environment: str, header: bool
) -> None:
    """X-SQL-Statements helps find N+1 queries; in production it would tell any client how data is stored."""
    async with instance(test_database_url, environment=environment, jwt_secret=TEST_SECRET) as app:
        responses = [await app.post("{ markets(first: 1) { totalCount } }"), await app.post("{ nope }"),
                     await app.post("{ markets { totalCount } }", headers={"Authorization": "Bearer bad"})]
    for response in responses:
        assert ("x-sql-statements" in response.headers) is header, response.headers
        assert "x-request-id" in response.headers
