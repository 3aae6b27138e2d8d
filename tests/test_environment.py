"""ENVIRONMENT and GRAPHIQL: the explorer and introspection follow them."""

from __future__ import annotations

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
