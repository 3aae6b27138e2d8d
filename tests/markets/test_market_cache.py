"""Cache-aside for markets: hits run no SQL, writes invalidate everywhere, no stampede, no stale race."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from domain.entities import Market
from domain.ports import MarketChanges
from domain.roles import Role
from graph import ids
from markets.observability.metrics import REDIS_FAILURES
from markets.stores.market_cache import (
    CachingMarketRepository,
    MarketCache,
    MarketStore,
    MemoryMarketStore,
    RedisMarketStore,
)
from persistence.database import Session
from persistence.repositories.markets import SqlMarketRepository
from persistence.unit_of_work import SqlUnitOfWork
from tests.conftest import Api, Member
from tests.redis_server import RedisServer
from tests.servers import instance
from tests.statements import StatementLog

READ = "query($id: ID!) { market(id: $id) { name volume status } }"


@pytest.fixture(params=["memory", "redis"])
async def cached(request: pytest.FixtureRequest, test_database_url: str, api: Api) -> AsyncIterator[Api]:
    """An instance whose market cache lives in memory, or in a redis-server of its own."""
    overrides: dict[str, object] = {"redis_url": None}
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        overrides = {"redis_url": server.url}
    async with instance(test_database_url, **overrides) as app:
        yield app


async def market_id(api: Api, owner: Member) -> str:
    return str((await api.make_market(owner, name="Will the cache hold?"))["id"])


async def read(api: Api, market: str) -> dict[str, object]:
    return (await api.data(READ, {"id": market}))["market"]


async def test_a_cache_hit_runs_no_sql(cached: Api) -> None:
    market = await market_id(cached, await cached.make_user())
    log = StatementLog.attach(cached.container.engine)
    await read(cached, market)
    log.clear()
    assert (await read(cached, market))["name"] == "Will the cache hold?"
    assert log.count == 0, log.statements


WRITES = {
    "updateMarket": ('mutation($id: ID!) { updateMarket(id: $id, input: {name: "Renamed market"}) { id } }',
                     {"name": "Renamed market"}),
    "resolveMarket": ("mutation($id: ID!) { resolveMarket(id: $id, outcome: YES) { id } }", {"status": "RESOLVED"}),
    "openPosition": ('mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: NO, amount: "2.50"}) { id } }',
                     {"volume": "2.50"}),
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_writes_invalidate_instead_of_waiting_for_expiry(cached: Api, write: str) -> None:
    market = await market_id(cached, await cached.make_user())
    moderator = await cached.make_user(Role.MODERATOR)
    before = await read(cached, market)
    mutation, expected = WRITES[write]
    await cached.data(mutation, {"id": market}, token=moderator.token)
    after = await read(cached, market)
    assert after == before | expected


async def test_deleting_a_market_forgets_it(cached: Api) -> None:
    market = await market_id(cached, await cached.make_user())
    await read(cached, market)
    moderator = await cached.make_user(Role.MODERATOR)
    await cached.data("mutation($id: ID!) { deleteMarket(id: $id) }", {"id": market}, token=moderator.token)
    assert (await cached.data(READ, {"id": market}))["market"] is None


async def test_a_write_on_one_instance_is_read_on_another(test_database_url: str, redis_server: RedisServer) -> None:
    async with instance(test_database_url, redis_url=redis_server.url) as first, \
            instance(test_database_url, redis_url=redis_server.url) as second:
        owner = await first.make_user()
        market = await market_id(first, owner)
        assert (await read(second, market))["name"] == "Will the cache hold?"  # now cached in Redis
        await first.data('mutation($id: ID!) { updateMarket(id: $id, input: {name: "Seen everywhere"}) { id } }',
                         {"id": market}, token=owner.token)
        assert (await read(second, market))["name"] == "Seen everywhere"
        await second.data('mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: YES, amount: "4"}) '
                          "{ id } }", {"id": market}, token=owner.token)
        assert (await read(first, market))["volume"] == "4.00"


async def test_concurrent_misses_read_the_database_once(cached: Api) -> None:
    market = await market_id(cached, await cached.make_user())
    log = StatementLog.attach(cached.container.engine)
    await asyncio.gather(*(read(cached, market) for _ in range(20)))
    market_reads = [s for s in log.statements if "FROM markets" in s]
    assert len(market_reads) == 1, market_reads


class GatedRepository(SqlMarketRepository):
    """A real repository whose reads wait at a gate after reading, like a slow reader."""

    def __init__(self, *args: object, gate: asyncio.Event, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.gate = gate
        self.read_done = asyncio.Event()

    async def get_many(self, ids: object) -> dict[int, Market]:
        found = dict(await super().get_many(ids))  # type: ignore[arg-type]
        self.read_done.set()
        await self.gate.wait()
        return found


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[MarketStore]:
    if request.param == "memory":
        yield MemoryMarketStore(ttl_seconds=300)
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    client = Redis(port=server.port)
    yield RedisMarketStore(client, ttl_seconds=300, namespace="markets:test:")
    await client.aclose()


async def test_a_slow_reader_cannot_put_back_a_row_a_writer_replaced(api: Api, store: MarketStore) -> None:
    cache = MarketCache(store)
    created = await api.make_market(await api.make_user(), name="Old name")
    pk = ids.decode(created["id"], "Market")
    assert pk is not None
    session = Session(api.container.engine)
    slow = GatedRepository(session, gate=asyncio.Event())
    reader = asyncio.create_task(CachingMarketRepository(slow, cache).get_many([pk]))
    await slow.read_done.wait()  # the reader holds the old row; now a writer replaces it
    async with SqlUnitOfWork.standalone(api.container.engine, after_commit=cache.after_commit) as writer:
        await writer.markets.update(pk, MarketChanges(name="New name"), now=api.container.clock())
        await writer.commit()
    slow.gate.set()
    assert (await reader)[pk].name == "Old name"  # it read before the write: fine to answer with
    hits, _ = await store.lookup([pk])
    assert pk not in hits  # but it did not put the old row back
    fresh = CachingMarketRepository(SqlMarketRepository(session), cache)
    assert (await fresh.get_many([pk]))[pk].name == "New name"
    await session.close()


async def test_redis_stalling_serves_the_database_and_never_a_stale_row(
    test_database_url: str, redis_server: RedisServer
) -> None:
    async with instance(test_database_url, redis_url=redis_server.url, redis_timeout_seconds=0.1) as app:
        owner = await app.make_user()
        market = await market_id(app, owner)
        assert (await read(app, market))["volume"] == "0.00"  # cached
        failures = REDIS_FAILURES.labels("cache")._value.get()
        redis_server.client().execute_command("CLIENT", "PAUSE", "1500", "ALL")
        await app.data('mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: YES, amount: "3"}) '
                       "{ id } }", {"id": market}, token=owner.token)  # its invalidation cannot reach Redis
        assert (await read(app, market))["volume"] == "3.00"  # from the database while Redis stalls
        assert REDIS_FAILURES.labels("cache")._value.get() > failures
        await asyncio.sleep(1.6)  # Redis answers again, still holding the old entry
        assert (await read(app, market))["volume"] == "3.00"  # the pending invalidation went first


async def test_redis_going_away_leaves_the_api_working(test_database_url: str, redis_server: RedisServer) -> None:
    async with instance(test_database_url, redis_url=redis_server.url, redis_timeout_seconds=0.1) as app:
        owner = await app.make_user()
        market = await market_id(app, owner)
        await read(app, market)
        redis_server.stop()
        await app.data('mutation($id: ID!) { openPosition(input: {marketId: $id, outcome: NO, amount: "1.25"}) '
                       "{ id } }", {"id": market}, token=owner.token)
        assert (await read(app, market))["volume"] == "1.25"
