"""Automatic persisted queries (Apollo's protocol), in process and in Redis, over GET and POST; the allow-list mode."""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from graph.extensions.persisted_queries import (
    MAX_STORED_LENGTH,
    MISMATCH,
    NOT_FOUND,
    ONLY_PERSISTED,
    PersistedQueries,
    register,
)
from graph.extensions.persisted_queries import sha256_hex as sha
from markets.asgi import create_app
from markets.bootstrap import bootstrap
from markets.passwords import Argon2Hasher
from markets.redis_client import namespace
from markets.stores.persisted_queries import KEY_PREFIX, TTL_SECONDS, MemoryStore, RedisStore
from markets.transport.view import GraphQLView
from tests.conftest import FAST_HASHER, Api, codes, test_settings
from tests.factories import insert_market, insert_user
from tests.statements import StatementLog

# A Redis database the test empties: the suite's own when TEST_REDIS_URL names one, else database 14.
REDIS_URL = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/14"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
QUERY = "query Count($n: Int) { markets(first: $n) { totalCount edges { node { name } } } }"
NOT_FOUND_BODY = {"errors": [{"message": NOT_FOUND, "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
ONLY_BODY = {"errors": [{"message": ONLY_PERSISTED, "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}


@dataclass
class Served:
    """An app instance of the test's own, with its persisted-query store at hand."""

    api: Api
    persisted: PersistedQueries

    async def send(self, method: str, query: str | None = None, sha256: str | None = None,
                   variables: dict[str, Any] | None = None) -> httpx.Response:
        """A GraphQL request over GET or POST, with a persisted-query hash when given."""
        fields: dict[str, Any] = {"query": query, "variables": variables}
        if sha256 is not None:
            fields["extensions"] = {"persistedQuery": {"version": 1, "sha256Hash": sha256}}
        fields = {key: value for key, value in fields.items() if value is not None}
        if method == "POST":
            return await self.api.http.post("/graphql", json=fields)
        params = {key: value if isinstance(value, str) else json.dumps(value) for key, value in fields.items()}
        return await self.api.http.get("/graphql", params=params)


Serve = Callable[..., Awaitable[Served]]


@asynccontextmanager
async def served(url: str, **overrides: Any) -> AsyncIterator[Served]:
    """An app over the test database with its own container (settings, Redis client, store)."""
    container = bootstrap(test_settings(url, **overrides), hasher=Argon2Hasher(FAST_HASHER))
    app = create_app(application=container)
    view = next(r.endpoint for r in app.routes if isinstance(getattr(r, "endpoint", None), GraphQLView))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            yield Served(api=Api(http=http, container=container), persisted=view.persisted)
    finally:
        await container.close()


@pytest.fixture
def redis_14() -> Iterator[redis.Redis]:
    """The Redis database REDIS_URL names, empty before and after the test."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError):
        if os.environ.get("MARKETS_TESTS_REQUIRE_REDIS"):
            pytest.fail(f"Redis is required at {REDIS_URL}")
        pytest.skip(f"no Redis at {REDIS_URL}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
async def instances(test_database_url: str) -> AsyncIterator[Serve]:
    """Start app instances over the test database; the store is in memory unless `redis_url` is given."""
    async with AsyncExitStack() as stack:
        async def start(**overrides: Any) -> Served:
            return await stack.enter_async_context(served(test_database_url, **{"redis_url": None, **overrides}))

        yield start


@pytest.fixture(params=["memory", "redis"])
def serve(request: pytest.FixtureRequest, instances: Serve) -> Serve:
    """`instances` on each store kind: this process's memory, then Redis database 14."""
    if request.param == "memory":
        return instances
    request.getfixturevalue("redis_14")
    return functools.partial(instances, redis_url=REDIS_URL)


@pytest.fixture
async def seeded(api: Api) -> None:
    owner = await insert_user(api.container, email="o@example.com")
    for name in ("First market", "Second market"):
        await insert_market(api.container, owner, name=name)


METHODS = pytest.mark.parametrize("method", ["GET", "POST"])


# ---------------------------------------------------------------- the protocol


@METHODS
async def test_miss_then_register_then_hit(serve: Serve, seeded: None, method: str) -> None:
    app = await serve()
    first = await app.send(method, sha256=sha(QUERY), variables={"n": 1})
    assert first.status_code == 200
    assert first.json() == NOT_FOUND_BODY
    registered = await app.send(method, QUERY, sha(QUERY), variables={"n": 1})
    assert registered.status_code == 200
    assert registered.json()["data"]["markets"]["totalCount"] == 2
    hit = await app.send(method, sha256=sha(QUERY), variables={"n": 2})
    assert hit.status_code == 200
    assert len(hit.json()["data"]["markets"]["edges"]) == 2  # the stored text, with this request's variables


async def test_a_hash_registered_over_post_runs_over_get(serve: Serve) -> None:
    app = await serve()
    assert (await app.send("POST", QUERY, sha(QUERY))).status_code == 200
    assert (await app.send("GET", sha256=sha(QUERY))).json() == {"data": {"markets": {"totalCount": 0, "edges": []}}}


@METHODS
async def test_a_hash_that_is_not_the_querys_is_400(serve: Serve, method: str) -> None:
    app = await serve()
    wrong = sha("{ markets { totalCount } }")
    response = await app.send(method, QUERY, wrong)
    assert response.status_code == 400
    assert response.json() == {"errors": [{"message": MISMATCH, "extensions": {"code": "BAD_REQUEST"}}]}
    assert (await app.send(method, sha256=wrong)).json() == NOT_FOUND_BODY  # nothing was stored


async def test_an_upper_case_hash_is_the_same_hash(serve: Serve) -> None:
    app = await serve()
    assert (await app.send("POST", QUERY, sha(QUERY).upper())).status_code == 200
    assert "data" in (await app.send("POST", sha256=sha(QUERY))).json()


@pytest.mark.parametrize("query", [
    "{ nope }", "{ markets { ", "{ " + "me { " * 20 + "id" + " }" * 20 + " }",
    "{ markets(first: 100) { edges { node { positions(first: 100) { edges { node { id } } } } } } }",
])
async def test_documents_that_do_not_validate_are_not_stored(serve: Serve, query: str) -> None:
    app = await serve()
    response = await app.send("POST", query, sha(query))
    assert response.status_code == 200
    assert codes(response.json())[0] in {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "QUERY_TOO_COMPLEX"}
    assert (await app.send("POST", sha256=sha(query))).json() == NOT_FOUND_BODY


async def test_very_long_queries_run_but_are_not_stored(serve: Serve) -> None:
    app = await serve()
    query = "{ markets { totalCount } }" + " " * MAX_STORED_LENGTH
    assert (await app.send("POST", query, sha(query))).json() == {"data": {"markets": {"totalCount": 0}}}
    assert (await app.send("POST", sha256=sha(query))).json() == NOT_FOUND_BODY


@pytest.mark.parametrize("extensions", [
    {"persistedQuery": {"version": 2, "sha256Hash": sha(QUERY)}},
    {"persistedQuery": {"sha256Hash": sha(QUERY)}},
    {"persistedQuery": {"version": 1}},
    {"persistedQuery": {"version": 1, "sha256Hash": "abc"}},
    {"persistedQuery": {"version": 1, "sha256Hash": 5}},
    {"persistedQuery": "x"},
])
async def test_a_malformed_persisted_query_is_400(api: Api, extensions: dict[str, Any]) -> None:
    response = await api.http.post("/graphql", json={"query": QUERY, "extensions": extensions})
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


async def test_a_stored_mutation_is_refused_over_get(serve: Serve) -> None:
    app = await serve()
    mutation = 'mutation { login(email: "x@example.com", password: "password123") { token } }'
    assert codes((await app.send("POST", mutation, sha(mutation))).json()) == ["UNAUTHENTICATED"]
    response = await app.send("GET", sha256=sha(mutation))
    assert response.status_code == 405
    assert codes(response.json()) == ["BAD_REQUEST"]


async def test_the_default_app_speaks_the_protocol(api: Api, statement_log: StatementLog) -> None:
    unknown = {"persistedQuery": {"version": 1, "sha256Hash": sha("{ markets { totalCount } } # never sent")}}
    statement_log.clear()
    response = await api.http.post("/graphql", json={"extensions": unknown})
    assert (response.status_code, response.json()) == (200, NOT_FOUND_BODY)
    assert statement_log.count == 0


async def test_without_redis_the_store_is_in_process(instances: Serve) -> None:
    assert isinstance((await instances()).persisted.store, MemoryStore)


async def test_the_in_process_store_is_a_bounded_lru_that_keeps_registered_queries() -> None:
    store = MemoryStore(max_entries=2)
    await register(store, "{ a }")
    for query in ("{ b }", "{ c }"):
        await store.put(sha(query), query)
    assert await store.get(sha("{ b }")) == "{ b }"  # now the most recent
    await store.put(sha("{ d }"), "{ d }")
    assert await store.get(sha("{ c }")) is None
    assert [await store.get(sha(q)) for q in ("{ a }", "{ b }", "{ d }")] == ["{ a }", "{ b }", "{ d }"]


# ---------------------------------------------------------------- Redis


async def test_redis_shares_queries_between_instances(instances: Serve, redis_14: redis.Redis) -> None:
    one, two = await instances(redis_url=REDIS_URL), await instances(redis_url=REDIS_URL)
    assert isinstance(one.persisted.store, RedisStore)
    assert (await one.send("POST", QUERY, sha(QUERY))).status_code == 200
    key = one.persisted.store.prefix + sha(QUERY)
    assert key.startswith(namespace(one.api.container.settings))
    assert redis_14.get(key) == QUERY.encode()
    assert 0 < redis_14.ttl(key) <= TTL_SECONDS
    assert "data" in (await two.send("GET", sha256=sha(QUERY))).json()


async def test_registered_queries_do_not_expire_in_redis(instances: Serve, redis_14: redis.Redis) -> None:
    app = await instances(redis_url=REDIS_URL)
    assert await register(app.api.container.persisted_queries, QUERY) == sha(QUERY)
    assert redis_14.ttl(namespace(app.api.container.settings) + KEY_PREFIX + sha(QUERY)) == -1


@METHODS
async def test_redis_down_fails_open(instances: Serve, method: str, caplog: pytest.LogCaptureFixture) -> None:
    app = await instances(redis_url=UNREACHABLE_REDIS)
    with caplog.at_level(logging.WARNING, logger="markets.persisted"):
        miss = await app.send(method, sha256=sha(QUERY))
        assert (miss.status_code, miss.json()) == (200, NOT_FOUND_BODY)
        ran = await app.send(method, QUERY, sha(QUERY))
    assert ran.status_code == 200
    assert ran.json() == {"data": {"markets": {"totalCount": 0, "edges": []}}}
    assert {"lookup", "store"} <= {r.args[0] for r in caplog.records if r.name == "markets.persisted"}


# ---------------------------------------------------------------- PERSISTED_QUERIES_ONLY


@METHODS
async def test_only_mode_runs_registered_hashes_only(serve: Serve, seeded: None, method: str,
                                                     statement_log: StatementLog) -> None:
    app = await serve(persisted_queries_only=True)
    plain = await app.send(method, QUERY)
    assert (plain.status_code, plain.json()) == (200, ONLY_BODY)
    new = await app.send(method, QUERY, sha(QUERY))
    assert (new.status_code, new.json()) == (200, ONLY_BODY)
    assert (await app.send(method, sha256=sha(QUERY))).json() == NOT_FOUND_BODY  # refusing did not store it

    assert await register(app.persisted.store, QUERY) == sha(QUERY)
    assert (await app.send(method, sha256=sha(QUERY))).json()["data"]["markets"]["totalCount"] == 2
    assert (await app.send(method, QUERY, sha(QUERY))).json()["data"]["markets"]["totalCount"] == 2
    assert (await app.send(method, QUERY + " ", sha(QUERY))).status_code == 400


async def test_only_mode_without_a_query_or_hash_is_400(serve: Serve) -> None:
    app = await serve(persisted_queries_only=True)
    response = await app.api.http.post("/graphql", json={"variables": {}})
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


async def test_only_mode_sees_what_another_process_registered_in_redis(instances: Serve, redis_14: redis.Redis) -> None:
    app = await instances(redis_url=REDIS_URL, persisted_queries_only=True)
    operator = bootstrap(test_settings(app.api.container.settings.database_url, redis_url=REDIS_URL))
    try:
        await register(operator.persisted_queries, QUERY)  # what a CLI would do
    finally:
        await operator.close()
    assert "data" in (await app.send("POST", sha256=sha(QUERY))).json()
