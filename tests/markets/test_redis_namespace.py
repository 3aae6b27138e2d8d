"""Deployments sharing one Redis: those of one database share their cache, queries, events and jobs; those of
different databases never see each other's (REDIS_NAMESPACE, markets.redis_client.namespace)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

from domain.events import MarketWrites
from graph.feeds import Change, Feed
from markets.jobs import INDEX_MARKET
from markets.redis_client import namespace
from markets.settings import Settings
from tests.conftest import Api, ensure_database, reset_schema
from tests.redis_server import RedisServer
from tests.servers import instance

QUERY = "{ markets(first: 5) { totalCount } }"
MARKET = "query($id: ID!) { market(id: $id) { name } }"


@pytest.fixture(scope="module")
def other_database_url(test_database_url: str) -> str:
    """A second database (the test database's name with `_b`, created if missing), migrated from scratch."""
    url = make_url(test_database_url)
    other = url.set(database=f"{url.database}_b").render_as_string(hide_password=False)
    ensure_database(other)
    reset_schema(other)
    return other


@dataclass
class Deployments:
    one: Api  # on the test database
    one_again: Api  # another server of the same database
    other: Api  # on another database, same Redis database
    other_again: Api


@pytest.fixture
async def deployments(
    test_database_url: str, other_database_url: str, redis_server: RedisServer
) -> AsyncIterator[Deployments]:
    async with AsyncExitStack() as stack:
        one, one_again = [
            await stack.enter_async_context(instance(test_database_url, redis_url=redis_server.url)) for _ in "12"
        ]
        other, other_again = [
            await stack.enter_async_context(instance(other_database_url, redis_url=redis_server.url))
            for _ in "12"
        ]
        for server in (other, other_again):
            await server.container.jobs.clear()
        yield Deployments(one, one_again, other, other_again)


def test_the_namespace_names_the_database_not_its_credentials() -> None:
    def of(url: str, **given: Any) -> str:
        return namespace(Settings(database_url=url, **given))

    base = of("postgresql+asyncpg://app:secret@db.example:5432/markets")
    expected = "markets:" + hashlib.sha256(b"db.example:5432/markets").hexdigest()[:8] + ":"
    assert base == expected
    assert of("postgresql+asyncpg://other:changed@db.example:5432/markets") == base
    assert "secret" not in base
    assert of("postgresql+asyncpg://app:secret@db.example:5432/markets_b") != base
    assert of("postgresql+asyncpg://app:secret@db2.example:5432/markets") != base
    assert of("postgresql+asyncpg://app:secret@db.example:5433/markets") != base
    assert of("sqlite+aiosqlite:////srv/a.db") != of("sqlite+aiosqlite:////srv/b.db")
    assert of("postgresql+asyncpg://db.example/markets", redis_namespace="shop:") == "shop:"


async def create_market(api: Api, name: str) -> str:
    member = await api.make_user()
    return str((await api.make_market(member, name=name))["id"])


async def test_a_cached_market_is_seen_only_by_its_database(deployments: Deployments) -> None:
    """Both databases have a market of the same id: each server reads its own, though the first is cached."""
    mine = await create_market(deployments.one, "Mine")
    theirs = await create_market(deployments.other, "Theirs 1")
    for i in range(2, 100):
        if theirs == mine:
            break
        theirs = await create_market(deployments.other, f"Theirs {i}")
    assert theirs == mine
    assert (await deployments.one.data(MARKET, {"id": mine}))["market"]["name"] == "Mine"
    redis = deployments.one.container.redis
    assert redis is not None
    assert await redis.keys(f"{namespace(deployments.one.container.settings)}market:*"), "the read filled the cache"
    assert (await deployments.other.data(MARKET, {"id": mine}))["market"]["name"] != "Mine"
    assert (await deployments.one_again.data(MARKET, {"id": mine}))["market"]["name"] == "Mine"
    assert namespace(deployments.one_again.container.settings) == namespace(deployments.one.container.settings)


async def persisted(api: Api, *, query: str | None) -> Any:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {
        "version": 1, "sha256Hash": hashlib.sha256(QUERY.encode()).hexdigest()
    }}}
    if query is not None:
        body["query"] = query
    response = await api.http.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_persisted_query_is_known_only_to_its_database(deployments: Deployments) -> None:
    assert "data" in await persisted(deployments.one, query=QUERY)
    refused = await persisted(deployments.other, query=None)
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["PERSISTED_QUERY_NOT_FOUND"]
    assert "data" in await persisted(deployments.one_again, query=None)


async def test_an_event_reaches_only_its_database(deployments: Deployments) -> None:
    """Published in order, one by a server of another database and then one by a server of this one: a
    subscriber here hears the second first, so it never heard the first."""
    feed = Feed(lambda change: True, capacity=5)
    await deployments.other.container.events.subscribe(feed)
    try:
        await deployments.one.container.events.publish(MarketWrites(created={101}))
        await deployments.other_again.container.events.publish(MarketWrites(created={202}))
        assert await asyncio.wait_for(feed.next(), 10) == Change(202, "created")
        assert feed.pending == {}
    finally:
        deployments.other.container.events.unsubscribe(feed)


async def test_a_job_is_queued_only_for_its_database(deployments: Deployments, redis_server: RedisServer) -> None:
    """A worker of another database must never take this database's jobs (it would run them on its own)."""
    assert await deployments.one.container.jobs.enqueue(INDEX_MARKET, market_id=7)
    assert (await deployments.one_again.container.jobs.stats()).queued == 1
    assert (await deployments.other.container.jobs.stats()).queued == 0
    redis = Redis.from_url(redis_server.url)
    try:
        keys = [key.decode() async for key in redis.scan_iter(match="saq:*")]
    finally:
        await redis.aclose()
    mine = namespace(deployments.one.container.settings)
    assert keys and all(key.startswith((f"saq:{mine}", f"saq:job:{mine}")) for key in keys), keys


async def test_a_rate_limit_window_counts_only_its_database(
    test_database_url: str, other_database_url: str, redis_server: RedisServer
) -> None:
    """One request a minute: spent on a server of one database, refused by its peer, still free on the other."""
    limited = {"redis_url": redis_server.url, "rate_limit_per_minute": 1}
    async with instance(test_database_url, **limited) as one, instance(test_database_url, **limited) as one_again, \
            instance(other_database_url, **limited) as other:
        assert (await one.post(QUERY)).status_code == 200
        assert (await one_again.post(QUERY)).status_code == 429
        assert (await other.post(QUERY)).status_code == 200
