"""Market events in-process: what a commit becomes, the bounded conflating feed, the broadcasters."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from domain.events import MarketWrites
from graph.feeds import Change, Feed, changes_of
from markets.stores.market_events import Broadcaster, RedisBroadcaster, channel_name, decode, encode
from tests.redis_server import free_port


def every(change: Change) -> bool:
    return True


def test_a_commit_becomes_one_change_per_market() -> None:
    writes = MarketWrites(created={1, 2}, updated={1: {"name"}, 3: {"volume"}, 4: {"status"}}, deleted={2, 4})
    assert changes_of(writes) == [
        Change(1, "created"), Change(3, "updated", frozenset({"volume"})), Change(2, "deleted"), Change(4, "deleted"),
    ]


def test_the_wire_form_round_trips_and_refuses_garbage() -> None:
    changes = [Change(7, "updated", frozenset({"name", "volume"})), Change(8, "deleted")]
    assert decode(encode("here", changes)) == ("here", changes)
    for garbage in (b"not json", b"{}", b'{"origin": "x", "changes": [["7", "updated", []]]}',
                    b'{"origin": "x", "changes": [[7, "exploded", []]]}'):
        with pytest.raises(ValueError, match="not a market event"):
            decode(garbage)


async def test_a_feed_conflates_by_market_and_a_deletion_replaces_what_was_pending() -> None:
    feed = Feed(every, capacity=10)
    for change in (Change(1, "updated", frozenset({"name"})), Change(2, "created"), Change(1, "updated"),
                   Change(2, "deleted")):
        feed.offer(change)
    assert [await feed.next(), await feed.next()] == [Change(1, "updated", frozenset({"name"})), Change(2, "deleted")]
    feed.close()
    assert await feed.next() is None


async def test_a_feed_past_its_capacity_drops_everything_and_says_so() -> None:
    dropped: list[bool] = []
    feed = Feed(every, capacity=2, on_overflow=lambda: dropped.append(True))
    for pk in (1, 2, 2, 1):
        feed.offer(Change(pk, "created"))
    assert not dropped
    feed.offer(Change(3, "created"))
    feed.offer(Change(4, "created"))
    assert dropped == [True]
    assert await feed.next() is None


async def test_the_broadcaster_offers_each_change_to_its_market_and_to_every_market() -> None:
    broadcaster = Broadcaster()
    one, all_markets = Feed(every, capacity=5, market_id=1), Feed(every, capacity=5)
    for feed in (one, all_markets):
        await broadcaster.subscribe(feed)
    await broadcaster.publish(MarketWrites(created={2}, updated={1: {"volume"}}))
    assert await one.next() == Change(1, "updated", frozenset({"volume"}))
    assert {(await all_markets.next()).market_id, (await all_markets.next()).market_id} == {1, 2}
    broadcaster.unsubscribe(one)
    broadcaster.unsubscribe(one)  # twice is harmless
    assert 1 not in broadcaster.by_market
    broadcaster.unsubscribe(all_markets)


async def test_redis_down_still_tells_this_instances_subscribers() -> None:
    url = f"redis://127.0.0.1:{free_port()}/3"  # nothing listens there
    redis = Redis.from_url(url, socket_timeout=0.2, socket_connect_timeout=0.2)
    broadcaster = RedisBroadcaster(redis, url=url, timeout_seconds=0.2, namespace="markets:test:")
    assert broadcaster.channel == channel_name(redis, "markets:test:") == "markets:test:3:events"
    feed = Feed(every, capacity=5)
    try:
        await broadcaster.subscribe(feed)  # waits (bounded) for a listener that cannot connect
        await broadcaster.publish(MarketWrites(created={9}))
        assert await asyncio.wait_for(feed.next(), 5) == Change(9, "created")
    finally:
        broadcaster.unsubscribe(feed)
        await broadcaster.close()
        await redis.aclose()


async def test_an_instance_ignores_its_own_messages_and_malformed_ones() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    redis = Redis.from_url(url)
    broadcaster = RedisBroadcaster(redis, url=url, timeout_seconds=0.2, namespace="markets:test:")
    feed = Feed(every, capacity=5)
    broadcaster.every_market.add(feed)
    broadcaster.receive(encode(broadcaster.origin, [Change(1, "created")]))
    broadcaster.receive(b"garbage")
    broadcaster.receive(encode("another instance", [Change(2, "created")]))
    assert feed.pending == {2: Change(2, "created")}
    await redis.aclose()
