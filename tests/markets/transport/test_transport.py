"""HTTP transport: GET and POST, status codes, request ids, health, a database that is down, internal errors."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from graph.errors import INTERNAL
from markets.application import Application
from markets.asgi import create_app
from markets.bootstrap import bootstrap
from markets.observability.logs import RequestIdFilter
from markets.passwords import Argon2Hasher
from markets.tokens import TokenService
from persistence.repositories.markets import SqlMarketRepository
from tests.conftest import FAST_HASHER, Api, codes
from tests.conftest import test_settings as settings_for
from tests.factories import insert_market, insert_user

VALID_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
KNOWN_CODES = {
    "BAD_REQUEST", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "RATE_LIMITED",
    "PERSISTED_QUERY_NOT_FOUND", "SERVICE_UNAVAILABLE", "QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED", "INTERNAL_SERVER_ERROR",
}
QUERY = "{ markets { totalCount } }"
UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"


def graphql_body(response: httpx.Response) -> dict[str, Any]:
    """A JSON GraphQL response whose every error carries a known extensions.code."""
    assert response.headers["content-type"].split(";")[0].strip() == "application/json", response.headers
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) <= {"data", "errors", "extensions"}
    assert "data" in body or "errors" in body
    for error in body.get("errors", []):
        assert isinstance(error["message"], str)
        assert error["extensions"]["code"] in KNOWN_CODES, error
    return body


def error_codes(response: httpx.Response) -> list[str]:
    return codes(graphql_body(response))


@pytest.fixture
async def http(api: Api) -> httpx.AsyncClient:
    return api.http


# ---------------------------------------------------------------- GET


async def test_get_runs_a_query(api: Api, http: httpx.AsyncClient) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    await insert_market(api.container, owner, name="Over GET")
    response = await http.get("/graphql", params={"query": QUERY})
    assert response.status_code == 200
    assert graphql_body(response) == {"data": {"markets": {"totalCount": 1}}}


async def test_get_takes_variables_and_operation_name(api: Api, http: httpx.AsyncClient) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for i in range(3):
        await insert_market(api.container, owner, name=f"Over GET {i}")
    params = {
        "query": "query Two($n: Int) { markets(first: $n) { edges { node { name } } } } query Other { me { id } }",
        "variables": json.dumps({"n": 2}),
        "operationName": "Two",
    }
    response = await http.get("/graphql", params=params)
    assert response.status_code == 200
    assert len(graphql_body(response)["data"]["markets"]["edges"]) == 2


@pytest.mark.parametrize("query", [
    'mutation { deleteMarket(id: "TWFya2V0OjE") }',
    'mutation M { createMarket(input: {name: "Sneaky"}) { id } }',
    'query A { markets { totalCount } } mutation B { createMarket(input: {name: "Sneaky"}) { id } }',
])
async def test_mutation_over_get_is_405_bad_request(api: Api, http: httpx.AsyncClient, query: str) -> None:
    member = await api.make_user()
    params = {"query": query}
    if "mutation B" in query:
        params["operationName"] = "B"
    response = await http.get("/graphql", params=params, headers={"Authorization": f"Bearer {member.token}"})
    assert response.status_code == 405
    assert error_codes(response) == ["BAD_REQUEST"]
    assert (await api.data(QUERY))["markets"]["totalCount"] == 0


async def test_get_never_runs_a_mutation_without_operation_name(api: Api, http: httpx.AsyncClient) -> None:
    member = await api.make_user()
    query = 'mutation B { createMarket(input: {name: "Sneaky"}) { id } } query A { markets { totalCount } }'
    response = await http.get("/graphql", params={"query": query}, headers={"Authorization": f"Bearer {member.token}"})
    assert response.status_code in (400, 405)
    graphql_body(response)
    assert (await api.data(QUERY))["markets"]["totalCount"] == 0


@pytest.mark.parametrize("accept", ["text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"])
async def test_browser_get_serves_graphiql(http: httpx.AsyncClient, accept: str) -> None:
    response = await http.get("/graphql", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()
    assert "<html" in response.text.lower()


async def test_get_without_query_for_a_json_client_is_400(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert error_codes(response) == ["BAD_REQUEST"]


async def test_get_with_bad_variables_json_is_400(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": QUERY, "variables": "{bad"})
    assert response.status_code == 400
    assert error_codes(response) == ["BAD_REQUEST"]


# ---------------------------------------------------------------- POST bodies that are not GraphQL requests


@pytest.mark.parametrize("content", [
    b"{bad", b"", b"{\"query\": ", b"\xff\xfe\x00", b"\xc3\x28{}", b"nul", b"{'query': '{ me { id } }'}",
    b"[" * 100_000, b'{"query": "{ markets { totalCount } }", "variables": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"query": "query($n: Int) { markets(first: $n) { totalCount } }", "variables": {"n": 1' + b"0" * 5000 + b"}}",
])
async def test_bad_json_is_400_bad_request(http: httpx.AsyncClient, content: bytes) -> None:
    response = await http.post("/graphql", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert error_codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize("body", [
    {}, {"variables": {}}, {"operationName": "A"}, {"query": None}, {"query": ""}, {"Query": QUERY},
])
async def test_json_without_query_is_400_bad_request(http: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await http.post("/graphql", json=body)
    assert response.status_code == 400
    assert error_codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize("body", [
    [{"query": QUERY}], [], QUERY, 5, 1.5, True, None,
    {"query": 5}, {"query": [QUERY]}, {"query": QUERY, "variables": "x"}, {"query": QUERY, "variables": [1]},
])
async def test_json_that_is_not_a_graphql_request_is_400(http: httpx.AsyncClient, body: Any) -> None:
    response = await http.post(
        "/graphql", content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_codes(response) == ["BAD_REQUEST"]


async def test_unsupported_content_type_is_400(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=QUERY, headers={"Content-Type": "text/plain"})
    assert response.status_code == 400
    assert error_codes(response) == ["BAD_REQUEST"]


# ---------------------------------------------------------------- documents: 200 with errors


@pytest.mark.parametrize(
    "query", ["{ markets { ", "{", "query {{ }", "mutation", "}{", "{ markets(first: ) { totalCount } }", "\u0000"]
)
async def test_document_that_does_not_parse_is_200_parse_failed(http: httpx.AsyncClient, query: str) -> None:
    response = await http.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body = graphql_body(response)
    assert codes(body) == ["GRAPHQL_PARSE_FAILED"]
    assert "data" not in body


@pytest.mark.parametrize("query", [
    "{ nope }",
    "{ markets { nope } }",
    "{ markets }",
    "{ market { id } }",
    "query($x: Int) { markets { totalCount } }",
    "{ markets(orderBy: {field: SIDEWAYS}) { totalCount } }",
    "{ markets(first: \"ten\") { totalCount } }",
    "subscription { markets { totalCount } }",
])
async def test_document_that_does_not_validate_is_200_validation_failed(http: httpx.AsyncClient, query: str) -> None:
    response = await http.post("/graphql", json={"query": query})
    assert response.status_code == 200
    body = graphql_body(response)
    assert codes(body) and set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}, body
    assert "data" not in body


async def test_several_validation_errors_each_carry_a_code(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": "{ nope markets { alsoNope } market { id } }"})
    assert response.status_code == 200
    assert error_codes(response) == ["GRAPHQL_VALIDATION_FAILED"] * 3


async def test_responses_are_json_with_data(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": QUERY})
    assert response.status_code == 200
    assert graphql_body(response) == {"data": {"markets": {"totalCount": 0}}}


async def test_operation_name_picks_the_operation(http: httpx.AsyncClient) -> None:
    query = "query A { markets { totalCount } } query B { m: markets { totalCount } }"
    response = await http.post("/graphql", json={"query": query, "operationName": "B"})
    assert response.status_code == 200
    assert graphql_body(response) == {"data": {"m": {"totalCount": 0}}}


# ---------------------------------------------------------------- body size


@pytest.fixture
async def small_body_app(test_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    container = bootstrap(settings_for(test_database_url, max_body_bytes=300), hasher=Argon2Hasher(FAST_HASHER))
    app = create_app(application=container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client
    await container.close()


def padded(size: int) -> bytes:
    """A valid GraphQL request body of exactly `size` bytes (padding in a comment)."""
    shell = json.dumps({"query": QUERY + " #"})
    body = shell[:-2] + "x" * (size - len(shell)) + shell[-2:]
    assert len(body) == size
    return body.encode()


@pytest.mark.parametrize(("size", "status"), [(100, 200), (300, 200), (301, 413), (5000, 413)])
async def test_body_limit(small_body_app: httpx.AsyncClient, size: int, status: int) -> None:
    response = await small_body_app.post("/graphql", content=padded(size),
                                         headers={"Content-Type": "application/json", "X-Request-ID": "big-1"})
    assert response.status_code == status
    body = graphql_body(response)
    assert response.headers["x-request-id"] == "big-1"
    if status == 413:
        assert codes(body) and len(body["errors"]) == 1
        assert "data" not in body
    else:
        assert body == {"data": {"markets": {"totalCount": 0}}}


async def test_body_limit_without_content_length(small_body_app: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        data = padded(1000)
        for start in range(0, len(data), 100):
            yield data[start:start + 100]

    response = await small_body_app.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert len(graphql_body(response)["errors"]) == 1
    assert VALID_ID.match(response.headers["x-request-id"])


async def test_default_limit_is_one_mebibyte(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", content=padded(1_048_576 + 1), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert len(graphql_body(response)["errors"]) == 1
    response = await http.post("/graphql", content=padded(1_048_576), headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert graphql_body(response) == {"data": {"markets": {"totalCount": 0}}}


# ---------------------------------------------------------------- X-Request-ID


VALID_IDS = ["abc", "a" * 128, "x", "req-123_ABC.x:y/z", "!~", "0f8fad5b-d9cb-469f-a165-70867728950e", "\"quoted\""]
INVALID_IDS = ["has space", "a" * 129, "", " leading", "trailing ", "tab\there", "del\x7f"]


def request_kinds(member_token: str) -> list[tuple[str, str, dict[str, Any], int]]:
    """(method, path, httpx kwargs, expected status) for every kind of response the app gives."""
    return [
        ("POST", "/graphql", {"json": {"query": QUERY}}, 200),
        ("POST", "/graphql", {"json": {"query": "{ nope }"}}, 200),
        ("GET", "/graphql", {"params": {"query": QUERY}}, 200),
        ("GET", "/graphql", {"headers": {"Accept": "text/html"}}, 200),
        ("POST", "/graphql", {"content": b"{bad", "headers": {"Content-Type": "application/json"}}, 400),
        ("POST", "/graphql", {"json": {"variables": {}}}, 400),
        ("GET", "/graphql", {"params": {"query": "mutation { deleteMarket(id: \"x\") }"}}, 405),
        ("POST", "/graphql", {"content": padded(1_048_577), "headers": {"Content-Type": "application/json"}}, 413),
        ("POST", "/graphql", {"json": {"query": QUERY}, "headers": {"Authorization": "Bearer not-a-token"}}, 401),
        ("POST", "/graphql", {"json": {"query": "{ me { id } }"},
                              "headers": {"Authorization": f"Bearer {member_token}"}}, 200),
        ("GET", "/healthz", {}, 200),
        ("GET", "/readyz", {}, 200),
    ]


async def send(http: httpx.AsyncClient, method: str, path: str, kwargs: dict[str, Any], request_id: str | None
               ) -> httpx.Response:
    headers = dict(kwargs.get("headers", {}))
    if request_id is not None:
        headers["X-Request-ID"] = request_id
    return await http.request(method, path, **{**kwargs, "headers": headers})


@pytest.mark.parametrize("request_id", VALID_IDS)
async def test_valid_request_id_is_echoed_on_every_response(api: Api, http: httpx.AsyncClient, request_id: str) -> None:
    member = await api.make_user()
    for method, path, kwargs, status in request_kinds(member.token):
        response = await send(http, method, path, kwargs, request_id)
        assert response.status_code == status, (method, path, response.text[:200])
        assert response.headers["x-request-id"] == request_id, (method, path, status)


@pytest.mark.parametrize("request_id", INVALID_IDS)
async def test_invalid_request_id_is_replaced_on_every_response(
    api: Api, http: httpx.AsyncClient, request_id: str
) -> None:
    member = await api.make_user()
    for method, path, kwargs, status in request_kinds(member.token):
        response = await send(http, method, path, kwargs, request_id)
        assert response.status_code == status, (method, path, response.text[:200])
        generated = response.headers["x-request-id"]
        assert generated != request_id
        assert VALID_ID.match(generated), generated


async def test_non_ascii_request_id_is_replaced(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": QUERY}, headers=[(b"X-Request-ID", "café".encode())])
    assert response.status_code == 200
    assert VALID_ID.match(response.headers["x-request-id"])
    assert response.headers["x-request-id"] != "café"


async def test_request_id_is_generated_when_missing_and_differs_per_request(api: Api, http: httpx.AsyncClient) -> None:
    member = await api.make_user()
    seen = set()
    for method, path, kwargs, _ in request_kinds(member.token):
        response = await send(http, method, path, kwargs, None)
        generated = response.headers["x-request-id"]
        assert VALID_ID.match(generated)
        seen.add(generated)
    assert len(seen) == len(request_kinds(member.token))


async def test_every_error_response_is_json_with_codes(api: Api, http: httpx.AsyncClient) -> None:
    member = await api.make_user()
    for method, path, kwargs, status in request_kinds(member.token):
        response = await send(http, method, path, kwargs, "check")
        if path == "/graphql" and "Accept" not in kwargs.get("headers", {}):
            body = graphql_body(response)
            if status != 200:
                assert body["errors"], (method, status)
                assert "data" not in body


async def test_401_carries_www_authenticate_and_one_error(http: httpx.AsyncClient) -> None:
    response = await http.post("/graphql", json={"query": QUERY}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert error_codes(response) == ["UNAUTHENTICATED"]
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


# ---------------------------------------------------------------- health


async def test_healthz(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


@pytest.fixture
async def client_for() -> AsyncIterator[Any]:
    """Build apps over their own containers; closes them afterwards."""
    built: list[tuple[Application, httpx.AsyncClient]] = []

    async def make(container: Application) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(application=container)),
                                   base_url="http://test")
        built.append((container, client))
        return client

    yield make
    for container, client in built:
        await client.aclose()
        await container.close()


async def test_readyz_without_redis(test_database_url: str, client_for: Any) -> None:
    container = bootstrap(settings_for(test_database_url, redis_url=None), hasher=Argon2Hasher(FAST_HASHER))
    client = await client_for(container)
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() | {"embedder": "-"} == {
        "database": "ok", "redis": "off", "embedder": "-", "jobs": "in-process", "queue_depth": 0, "failed_jobs": 0,
    }


# ---------------------------------------------------------------- database unreachable


@pytest.fixture
async def down(client_for: Any) -> httpx.AsyncClient:
    container = bootstrap(settings_for(UNREACHABLE, redis_url=None), hasher=Argon2Hasher(FAST_HASHER))
    return await client_for(container)


async def test_readyz_when_the_database_is_down(down: httpx.AsyncClient) -> None:
    response = await down.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "down"
    assert response.json()["redis"] == "off"
    assert (await down.get("/healthz")).status_code == 200


@pytest.mark.parametrize("query", [
    QUERY,
    '{ market(id: "TWFya2V0OjE") { id } }',
    "{ markets { edges { node { id creator { name } } } } }",
    '{ node(id: "VXNlcjox") { id } }',
])
async def test_query_when_the_database_is_down_is_503(down: httpx.AsyncClient, query: str) -> None:
    response = await down.post("/graphql", json={"query": query}, headers={"X-Request-ID": "down-1"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    body = graphql_body(response)
    assert body["errors"]
    assert set(codes(body)) == {"SERVICE_UNAVAILABLE"}
    assert response.headers["x-request-id"] == "down-1"
    assert "asyncpg" not in response.text and "Connect" not in response.text


async def test_get_query_when_the_database_is_down_is_503(down: httpx.AsyncClient) -> None:
    response = await down.get("/graphql", params={"query": QUERY})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert set(error_codes(response)) == {"SERVICE_UNAVAILABLE"}


async def test_signed_in_request_when_the_database_is_down_is_503(down: httpx.AsyncClient, api: Api) -> None:
    member = await api.make_user()  # a token the down app accepts: both share the test secret
    response = await down.post(
        "/graphql", json={"query": 'mutation { createMarket(input: {name: "Offline"}) { id } }'},
        headers={"Authorization": f"Bearer {member.token}"},
    )
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert set(error_codes(response)) == {"SERVICE_UNAVAILABLE"}


async def test_mutation_when_the_database_is_down_is_503(down: httpx.AsyncClient) -> None:
    response = await down.post("/graphql", json={
        "query": 'mutation { login(email: "a@example.com", password: "password123") { token } }'
    })
    assert response.status_code == 503
    assert set(error_codes(response)) == {"SERVICE_UNAVAILABLE"}


async def test_documents_that_do_not_parse_or_validate_need_no_database(down: httpx.AsyncClient) -> None:
    response = await down.post("/graphql", json={"query": "{ nope }"})
    assert response.status_code == 200
    assert error_codes(response) == ["GRAPHQL_VALIDATION_FAILED"]


# ---------------------------------------------------------------- unexpected errors


LEAKS = ("Traceback", "RuntimeError", "secret-detail", "File \"", ".py", "line ")


def assert_internal(response: httpx.Response) -> dict[str, Any]:
    body = graphql_body(response)
    assert codes(body) == ["INTERNAL_SERVER_ERROR"]
    error = body["errors"][0]
    assert error["message"] == "Internal server error" == INTERNAL
    assert set(error) <= {"message", "locations", "path", "extensions"}
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for leak in LEAKS:
        assert leak not in response.text, leak
    return body


async def boom(*_: Any, **__: Any) -> Any:
    raise RuntimeError("secret-detail: password=hunter2 at /srv/app/markets.py line 3")


async def test_unexpected_exception_is_internal_server_error(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SqlMarketRepository, "page", boom)
    response = await api.post(QUERY)
    assert response.status_code == 200
    body = assert_internal(response)
    assert body["data"] is None
    assert body["errors"][0]["path"] == ["markets"]


async def test_unexpected_exception_in_a_nullable_field_keeps_the_rest(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = await api.make_user()
    market = await api.make_market(owner, name="Still here")
    monkeypatch.setattr(SqlMarketRepository, "get_many", boom)
    response = await api.post("query($id: ID!) { market(id: $id) { id } markets { totalCount } }", {"id": market["id"]})
    assert response.status_code == 200
    body = assert_internal(response)
    assert body["data"] == {"market": None, "markets": {"totalCount": 1}}


async def test_unexpected_exception_in_a_mutation(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    owner = await api.make_user()
    monkeypatch.setattr(SqlMarketRepository, "add", boom)
    response = await api.post('mutation { createMarket(input: {name: "Boom"}) { id } }', token=owner.token)
    assert response.status_code == 200
    assert_internal(response)
    monkeypatch.undo()
    assert (await api.data(QUERY))["markets"]["totalCount"] == 0


async def test_unexpected_exception_before_execution(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure outside any resolver (reading the token) still answers in the GraphQL error shape."""
    owner = await api.make_user()

    def broken(*_: Any, **__: Any) -> int:
        raise RuntimeError("secret-detail in token parsing")

    monkeypatch.setattr(TokenService, "user_id", broken)
    response = await api.post(QUERY, token=owner.token, headers={"X-Request-ID": "boom-1"})
    assert response.status_code == 500
    assert_internal(response)
    assert response.headers["x-request-id"] == "boom-1"


async def test_unexpected_exception_is_logged_with_its_detail(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(SqlMarketRepository, "page", boom)
    caplog.handler.addFilter(RequestIdFilter())
    with caplog.at_level("ERROR"):
        response = await api.post(QUERY, headers={"X-Request-ID": "log-me"})
    assert_internal(response)
    logged = [r for r in caplog.records if r.exc_info and "secret-detail" in str(r.exc_info[1])]
    assert logged
    assert all(getattr(r, "request_id", None) == "log-me" for r in caplog.records)


async def test_several_operations_need_an_operation_name(api: Api) -> None:
    document = "query A { markets(first: 1) { totalCount } } query B { markets(first: 2) { totalCount } }"
    body = (await api.post(document)).json()
    assert "data" not in body and codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    named = await api.http.post("/graphql", json={"query": document, "operationName": "B"})
    assert named.json() == {"data": {"markets": {"totalCount": 0}}}


@pytest.mark.parametrize(("method", "path", "status"), [("PUT", "/graphql", 405), ("GET", "/nowhere", 404)])
async def test_other_routes_and_methods_answer_in_the_error_shape(
    api: Api, method: str, path: str, status: int
) -> None:
    response = await api.http.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert len(codes(response.json())) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_unknown_operation_name_is_a_validation_failure_with_http_200(api: Api, method: str) -> None:
    """A well-formed request naming no operation of its document is a GraphQL error, not a bad request."""
    request = {"query": "query Count { markets { totalCount } }", "operationName": "Nope"}
    response = await (api.http.get("/graphql", params=request) if method == "GET"
                      else api.http.post("/graphql", json=request))
    assert response.status_code == 200
    assert response.json() == {"errors": [{"message": 'Unknown operation named "Nope".',
                                           "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}
