"""Market events: what each commit changed, told to this process's subscribers at once and, through
Redis pub/sub, to every other instance's.

Events carry market ids and the names of the fields that changed, never rows: each subscriber loads
the market's current state itself, through its own loaders, so the cache serves the many readers of
one change and the field permissions of each subscriber apply. Deletions are carried too (a
`marketUpdated` subscription ends when its market is deleted), but no subscriber is sent a payload
for them: there is no market left to show.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from typing import TypeGuard

import orjson
from redis.asyncio import Redis

from domain.events import MarketWrites
from graph.feeds import KINDS, Change, Feed, Kind, changes_of
from markets.observability.metrics import SUBSCRIPTIONS
from markets.redis_client import REDIS_ERRORS, degrade, namespace
from markets.settings import Settings

log = logging.getLogger("markets.events")

# How long a new subscriber waits for the Redis listener to be subscribed before it goes on regardless.
LISTENER_READY_SECONDS = 2.0
POLL_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 15
BACKOFF_SECONDS = (0.1, 5.0)


def encode(origin: str, changes: Sequence[Change]) -> bytes:
    """The wire form: `{"origin", "changes": [[id, kind, [fields]], …]}`."""
    return orjson.dumps({"origin": origin, "changes": [[c.market_id, c.kind, sorted(c.fields)] for c in changes]})


def decode(raw: bytes | str) -> tuple[str, list[Change]]:
    """The origin and changes of a wire message; ValueError when it is not one."""
    try:
        message = orjson.loads(raw)
        return str(message["origin"]), [change(*item) for item in message["changes"]]
    except (orjson.JSONDecodeError, KeyError, TypeError) as error:
        raise ValueError(f"not a market event: {error}") from None


def change(market_id: object, kind: object, fields: object) -> Change:
    """One decoded change, its parts checked."""
    if not isinstance(market_id, int) or not is_kind(kind) or not isinstance(fields, list):
        raise TypeError("malformed change")
    return Change(market_id, kind, frozenset(str(f) for f in fields))


def is_kind(value: object) -> TypeGuard[Kind]:
    """Whether a decoded value names a kind of change."""
    return value in KINDS


class Broadcaster:
    """graph.ports.MarketEvents in this process: its subscribers, told of every commit's changes (all of
    them, with one instance)."""

    def __init__(self) -> None:
        self.by_market: dict[int, set[Feed]] = {}
        self.every_market: set[Feed] = set()

    async def publish(self, writes: MarketWrites) -> None:
        """The commit listener: tell this process's subscribers."""
        self.deliver(changes_of(writes))

    def deliver(self, changes: Sequence[Change]) -> None:
        """Offer each change to the feeds that follow its market or every market."""
        for item in changes:
            for feed in [*self.every_market, *self.by_market.get(item.market_id, ())]:
                feed.offer(item)

    async def subscribe(self, feed: Feed) -> None:
        """Start offering changes to the feed."""
        feeds = self.every_market if feed.market_id is None else self.by_market.setdefault(feed.market_id, set())
        feeds.add(feed)
        SUBSCRIPTIONS.inc()

    def unsubscribe(self, feed: Feed) -> None:
        """Stop offering changes to the feed (closing it); nothing when it was not subscribed."""
        feed.close()
        feeds = self.every_market if feed.market_id is None else self.by_market.get(feed.market_id, set())
        if feed not in feeds:
            return
        feeds.discard(feed)
        SUBSCRIPTIONS.dec()
        if feed.market_id is not None and not feeds:
            del self.by_market[feed.market_id]

    async def close(self) -> None:
        """Nothing to release in-process."""


class RedisBroadcaster(Broadcaster):
    """Every instance's changes: each commit is delivered here at once and published on a Redis
    channel; one listener per process relays the other instances' messages to this process's feeds.

    Redis down: this instance's subscribers still hear of this instance's writes; other instances'
    writes are missed until the listener reconnects (with backoff), and failures are logged and counted.
    """

    def __init__(self, redis: Redis, *, url: str, timeout_seconds: float, namespace: str) -> None:
        super().__init__()
        self.redis = redis
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.channel = channel_name(redis, namespace)
        self.origin = uuid.uuid4().hex
        self.listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.backoff = BACKOFF_SECONDS[0]

    async def publish(self, writes: MarketWrites) -> None:
        """Deliver here, then publish for the other instances (a Redis failure is logged, not raised)."""
        changes = changes_of(writes)
        self.deliver(changes)
        try:
            await self.redis.publish(self.channel, encode(self.origin, changes))
        except REDIS_ERRORS as error:
            self.failure("publish", error)

    async def subscribe(self, feed: Feed) -> None:
        """Subscribe the feed once the listener is (or, bounded, may soon be) on the channel."""
        if self.listener is None or self.listener.done():
            self.listener = asyncio.create_task(self.relay(), name="market-events-listener")
            self.listener.add_done_callback(listener_stopped)
        try:
            await asyncio.wait_for(self.listening.wait(), LISTENER_READY_SECONDS)
        except TimeoutError:
            log.warning("market events: not yet subscribed to Redis; other instances' writes may be missed")
        await super().subscribe(feed)

    async def relay(self) -> None:
        """Forever: relay the channel's messages; on a failure wait (backoff) and subscribe again."""
        client = Redis.from_url(
            self.url, socket_connect_timeout=self.timeout_seconds, health_check_interval=HEALTH_CHECK_SECONDS
        )
        try:
            while True:
                try:
                    await self.relay_once(client)
                except REDIS_ERRORS as error:
                    self.listening.clear()
                    self.failure("listen", error)
                    await asyncio.sleep(self.backoff)
                    self.backoff = min(self.backoff * 2, BACKOFF_SECONDS[1])
        finally:
            await client.aclose()

    async def relay_once(self, client: Redis) -> None:
        """Subscribe and relay messages until the connection fails."""
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
            while True:
                message = await pubsub.get_message(timeout=POLL_SECONDS)
                if message is None:
                    continue
                if message["type"] == "subscribe":
                    self.listening.set()
                    self.backoff = BACKOFF_SECONDS[0]
                elif message["type"] == "message":
                    self.receive(message["data"])

    def receive(self, raw: bytes) -> None:
        """Deliver another instance's changes (this one's were delivered when published)."""
        try:
            origin, changes = decode(raw)
        except ValueError as error:
            log.warning("market events: ignored a malformed message: %s", error)
            return
        if origin != self.origin:
            self.deliver(changes)

    def failure(self, action: str, error: BaseException) -> None:
        """Log and count a Redis failure; events go on without Redis."""
        degrade("events", log, "market events: Redis %s failed: %r", action, error)

    async def close(self) -> None:
        """Stop the listener (its Redis connection closes with it)."""
        if self.listener is not None:
            self.listener.cancel()
            await asyncio.gather(self.listener, return_exceptions=True)
            self.listener = None


def listener_stopped(task: asyncio.Task[None]) -> None:
    """Log a listener that died of an unexpected error (the next subscriber starts another)."""
    if not task.cancelled() and task.exception() is not None:
        log.error("market events: the Redis listener stopped", exc_info=task.exception())


def channel_name(redis: Redis, namespace: str) -> str:
    """`<namespace><db>:events`: pub/sub ignores database numbers and key prefixes, deployments sharing a
    server must not hear each other's markets."""
    return f"{namespace}{redis.connection_pool.connection_kwargs.get('db', 0)}:events"


def build(settings: Settings, redis: Redis | None) -> Broadcaster:
    """Through Redis when the process has it, in-process otherwise."""
    if redis is None or not settings.redis_url:
        return Broadcaster()
    return RedisBroadcaster(
        redis, url=settings.redis_url, timeout_seconds=settings.redis_timeout_seconds, namespace=namespace(settings)
    )
