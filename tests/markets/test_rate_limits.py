"""Sliding-window rate limits per viewer and for signUp/login, shared through Redis, failing open."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from graphql import get_operation_ast, parse
from sqlalchemy import text

from graph.extensions.mutation_budget import mutation_fields
from markets.observability.metrics import RATE_LIMITED, REDIS_FAILURES
from tests.conftest import Api, codes
from tests.live import WAIT_SECONDS, serving
from tests.redis_server import RedisServer
from tests.servers import instance

QUERY = "{ markets(first: 1) { totalCount } }"
LOGIN = 'mutation($email: String!) { login(email: $email, password: "password123") { token } }'


@pytest.fixture(params=["memory", "redis"])
async def redis_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if request.param == "memory":
        yield None
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        yield server.url


def assert_limited(response: object) -> None:
    assert response.status_code == 429  # type: ignore[attr-defined]
    assert int(response.headers["Retry-After"]) >= 1  # type: ignore[attr-defined]
    assert response.headers["X-Request-ID"]  # type: ignore[attr-defined]
    assert codes(response.json()) == ["RATE_LIMITED"]  # type: ignore[attr-defined]


async def test_each_viewer_has_a_budget_per_minute(test_database_url: str, redis_url: str | None) -> None:
    async with instance(test_database_url, redis_url=redis_url, rate_limit_per_minute=3) as app:
        alice, bob = await app.make_user(), await app.make_user()
        limited_before = RATE_LIMITED.labels("request")._value.get()
        for _ in range(3):
            assert (await app.post(QUERY, token=alice.token)).status_code == 200
        assert_limited(await app.post(QUERY, token=alice.token))
        assert (await app.post(QUERY, token=bob.token)).status_code == 200  # another viewer, another budget
        for _ in range(3):
            assert (await app.post(QUERY)).status_code == 200  # anonymous: keyed by address
        assert_limited(await app.post(QUERY))
        assert RATE_LIMITED.labels("request")._value.get() == limited_before + 2


async def test_login_is_limited_by_address_and_by_email(test_database_url: str, redis_url: str | None) -> None:
    async with instance(
        test_database_url, redis_url=redis_url, auth_rate_limit_per_minute=2, trusted_proxies="127.0.0.1"
    ) as app:
        await app.make_user(email="victim@example.com")
        for n in range(2):
            forwarded = {"X-Forwarded-For": f"10.0.0.{n}"}
            response = await app.post(LOGIN, {"email": "victim@example.com"}, headers=forwarded)
            assert response.status_code == 200 and "errors" not in response.json()
        # A third address still may not try this email again.
        assert_limited(await app.post(LOGIN, {"email": "victim@example.com"}, headers={"X-Forwarded-For": "10.0.0.9"}))
        # One address may not try many emails either.
        for n in range(2):
            await app.post(LOGIN, {"email": f"other{n}@example.com"}, headers={"X-Forwarded-For": "10.0.1.1"})
        assert_limited(await app.post(LOGIN, {"email": "fresh@example.com"}, headers={"X-Forwarded-For": "10.0.1.1"}))


async def test_forwarded_for_counts_only_from_trusted_proxies(test_database_url: str) -> None:
    async with instance(test_database_url, rate_limit_per_minute=2) as app:  # no TRUSTED_PROXIES
        for n in range(2):
            assert (await app.post(QUERY, headers={"X-Forwarded-For": f"10.9.9.{n}"})).status_code == 200
        assert_limited(await app.post(QUERY, headers={"X-Forwarded-For": "10.9.9.7"}))


async def test_the_limit_holds_across_instances(test_database_url: str, redis_server: RedisServer) -> None:
    async with instance(test_database_url, redis_url=redis_server.url, rate_limit_per_minute=3) as first, \
            instance(test_database_url, redis_url=redis_server.url, rate_limit_per_minute=3) as second:
        member = await first.make_user()
        assert (await first.post(QUERY, token=member.token)).status_code == 200
        assert (await second.post(QUERY, token=member.token)).status_code == 200
        assert (await first.post(QUERY, token=member.token)).status_code == 200
        assert_limited(await second.post(QUERY, token=member.token))


async def test_bad_tokens_are_limited_by_address_before_the_401(test_database_url: str) -> None:
    async with instance(test_database_url, rate_limit_per_minute=2) as app:
        for _ in range(2):
            assert (await app.post(QUERY, token="not-a-token")).status_code == 401
        assert_limited(await app.post(QUERY, token="not-a-token"))


async def test_an_unreachable_redis_lets_requests_through(test_database_url: str) -> None:
    failures = REDIS_FAILURES.labels("ratelimit")._value.get()
    async with instance(
        test_database_url, redis_url="redis://127.0.0.1:1/0", rate_limit_per_minute=1, redis_timeout_seconds=0.1
    ) as app:
        for _ in range(3):
            assert (await app.post(QUERY)).status_code == 200
    assert REDIS_FAILURES.labels("ratelimit")._value.get() >= failures + 3


async def test_zero_turns_the_limits_off(api: Api) -> None:
    # The suite's own settings: RATE_LIMIT_PER_MINUTE=0 and AUTH_RATE_LIMIT_PER_MINUTE=0.
    for _ in range(30):
        assert (await api.post(LOGIN, {"email": "nobody@example.com"})).status_code == 200


async def live_statuses(url: str, forwarded: list[str]) -> list[int]:
    """The status of one anonymous query per X-Forwarded-For value, in turn, from 127.0.0.1."""
    async with httpx.AsyncClient(base_url=url, timeout=WAIT_SECONDS) as http:
        return [
            (await http.post("/graphql", json={"query": QUERY}, headers={"X-Forwarded-For": hop})).status_code
            for hop in forwarded
        ]


async def test_a_live_server_ignores_forwarded_for_from_loopback_without_trusted_proxies(
    test_database_url: str,
) -> None:
    """uvicorn believes X-Forwarded-For from 127.0.0.1 by default; `markets serve` must not let it."""
    with serving(test_database_url, RATE_LIMIT_PER_MINUTE="3") as server:
        statuses = await live_statuses(server.url, [f"10.9.9.{n}" for n in range(5)])
    assert statuses == [200, 200, 200, 429, 429]  # one client, 127.0.0.1, whatever the header says


async def test_a_live_server_believes_forwarded_for_from_a_trusted_proxy(test_database_url: str) -> None:
    with serving(test_database_url, RATE_LIMIT_PER_MINUTE="3", TRUSTED_PROXIES="127.0.0.1") as server:
        distinct = await live_statuses(server.url, [f"10.9.9.{n}" for n in range(5)])
        same = await live_statuses(server.url, ["10.8.8.8"] * 4)
    assert distinct == [200] * 5  # five clients behind the proxy, one request each
    assert same == [200, 200, 200, 429]  # one of them, limited on its own


def create_markets(count: int, *, first: int = 0) -> str:
    """One mutation operation of `count` aliased createMarket fields."""
    fields = " ".join(
        f'm{n}: createMarket(input: {{name: "Will it rain on day {n}?"}}) {{ id }}' for n in range(first, first + count)
    )
    return f"mutation {{ {fields} }}"


async def market_count(app: Api) -> int:
    async with app.container.engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM markets"))).scalar_one())


async def test_each_mutation_field_counts_against_the_limit(test_database_url: str, redis_url: str | None) -> None:
    async with instance(test_database_url, redis_url=redis_url, rate_limit_per_minute=10) as app:
        member = await app.make_user()
        assert_limited(await app.post(create_markets(30), token=member.token))  # 30 writes, 10 allowed
        assert await market_count(app) == 0  # refused whole, before any field ran
        response = await app.post(create_markets(3), token=member.token)  # 1 (the 429) + 3 used
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        assert await market_count(app) == 3
        assert_limited(await app.post(create_markets(7, first=3), token=member.token))  # 4 + 7 > 10
        assert await market_count(app) == 3
        response = await app.post(create_markets(5, first=3), token=member.token)  # 5 + 5 = 10: fits exactly
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        assert await market_count(app) == 8
        assert_limited(await app.post(QUERY, token=member.token))  # the budget is spent


@pytest.mark.parametrize(("document", "fields"), [
    ("mutation { a: login(email: $e, password: $p) { token } }", 1),
    ("mutation { a: login(email: $e, password: $p) { token } b: login(email: $e, password: $p) { token } }", 2),
    # One response key runs once, however often it is written.
    ("mutation { login(email: $e, password: $p) { token } login(email: $e, password: $p) { token } }", 1),
    ("mutation { __typename a: login(email: $e, password: $p) { token } }", 1),
    ("mutation { ...W ... on Mutation { c: login(email: $e, password: $p) { token } } } "
     "fragment W on Mutation { a: login(email: $e, password: $p) { token } b: login(email: $e, password: $p) "
     "{ token } }", 3),
    ("mutation { ...W ...W } fragment W on Mutation { a: login(email: $e, password: $p) { token } }", 1),
])
def test_mutation_fields_are_counted_by_response_key(document: str, fields: int) -> None:
    parsed = parse(document)
    operation = get_operation_ast(parsed)
    assert operation is not None
    assert mutation_fields(parsed, operation) == fields
