"""What a document's strings say is found once and kept with the cached document (issue 10);
what the variables say is still read on every request."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import Api

NAME_CONTAINS = "query($v: String) { markets(filter: {nameContains: $v}) { totalCount } }"
NUL_LITERAL = 'query { markets(filter: {nameContains: "a\\u0000b"}) { totalCount } }'
REFUSED = {"code": "BAD_USER_INPUT", "fields": {"filter.nameContains": "must not contain NUL characters"}}


async def post_json(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    response = await api.http.post("/graphql", content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_bad_literal_is_refused_every_time_its_document_is_sent(api: Api) -> None:
    for _ in range(3):  # the first parses and examines the document, the others reuse what it found
        body = await post_json(api, {"query": NUL_LITERAL})
        assert body["errors"][0]["extensions"] == REFUSED, body
        assert "data" not in body


async def test_the_variables_of_a_cached_document_are_examined_on_every_request(api: Api) -> None:
    ok = await post_json(api, {"query": NAME_CONTAINS, "variables": {"v": "fine"}})
    assert ok == {"data": {"markets": {"totalCount": 0}}}
    bad = await post_json(api, {"query": NAME_CONTAINS, "variables": {"v": "a\u0000b"}})
    assert bad["errors"][0]["extensions"] == REFUSED, bad
    again = await post_json(api, {"query": NAME_CONTAINS, "variables": {"v": "fine again"}})
    assert again == {"data": {"markets": {"totalCount": 0}}}
