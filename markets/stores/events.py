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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from domain.events import MarketWrites
from markets.observability.metrics import SUBSCRIPTIONS, count_redis_failure
from markets.settings import Settings

log = logging.getLogger("markets.events")

Kind = Literal["created", "updated", "deleted"]
KINDS: frozenset[str] = frozenset({"created", "updated", "deleted"})
REDIS_ERRORS = (RedisError, OSError, TimeoutError)
# How long a new subscriber waits for the Redis listener to be subscribed before it goes on regardless.
LISTENER_READY_SECONDS = 2.0
POLL_SECONDS = 1.0
HEALTH_CHECK_SECONDS = 15
BACKOFF_SECONDS = (0.1, 5.0)


@dataclass(frozen=True, slots=True)
class Change:
    """One market's part in a commit."""

    market_id: int
    kind: Kind
    fields: frozenset[str] = frozenset()


def changes_of(writes: MarketWrites) -> list[Change]:
    """The commit's changes, one per market: deleted wins over created, created over updated."""
    created = sorted(writes.created - writes.deleted)
    updated = sorted(set(writes.updated) - writes.created - writes.deleted)
    return [
        *(Change(pk, "created") for pk in created),
        *(Change(pk, "updated", frozenset(writes.updated[pk])) for pk in updated),
        *(Change(pk, "deleted") for pk in sorted(writes.deleted)),
    ]


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
    if not isinstance(market_id, int) or kind not in KINDS or not isinstance(fields, list):
        raise TypeError("malformed change")
    return Change(market_id, kind, frozenset(str(f) for f in fields))  # type: ignore[arg-type]


class Feed:
    """One subscription's pending changes: bounded, and conflated by market.

    A market already pending is not queued again (its subscriber loads the current state anyway, so
    one delivery covers every change since), except that a deletion replaces what was pending. Once
    more distinct markets are pending than `capacity`, the feed overflows: it drops everything,
    takes nothing more, and calls `on_overflow` (which drops the subscriber).
    """

    def __init__(
        self, wants: Callable[[Change], bool], *, capacity: int, market_id: int | None = None,
        on_overflow: Callable[[], None] = lambda: None,
    ) -> None:
        self.wants = wants
        self.capacity = capacity
        self.market_id = market_id
        self.on_overflow = on_overflow
        self.pending: dict[int, Change] = {}
        self.closed = False
        self._wakeup = asyncio.Event()

    def offer(self, change: Change) -> None:
        """Queue a change this feed wants; past the bound, overflow."""
        if self.closed or not self.wants(change):
            return
        if change.market_id not in self.pending and len(self.pending) >= self.capacity:
            self.overflow()
            return
        if change.kind == "deleted" or change.market_id not in self.pending:
            self.pending[change.market_id] = change
        self._wakeup.set()

    def overflow(self) -> None:
        """Drop everything pending and stop; tell the owner."""
        self.pending.clear()
        self.close()
        self.on_overflow()

    def close(self) -> None:
        """Take nothing more; a waiting `next` returns None."""
        self.closed = True
        self._wakeup.set()

    async def next(self) -> Change | None:
        """The oldest pending change, waiting for one; None once closed."""
        while not self.pending:
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        market_id = next(iter(self.pending))
        return self.pending.pop(market_id)


class Broadcaster:
    """This process's subscribers, told of every commit's changes: all of it, with one instance."""

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

    def __init__(self, redis: Redis, *, url: str, timeout_seconds: float) -> None:
        super().__init__()
        self.redis = redis
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.channel = channel_name(redis)
        self.origin = uuid.uuid4().hex
        self.listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.backoff = BACKOFF_SECONDS[0]
        self.failed = count_redis_failure("events")

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
        log.warning("market events: Redis %s failed: %r", action, error)
        self.failed(error)

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


def channel_name(redis: Redis) -> str:
    """`markets:<db>:events`: pub/sub ignores database numbers, deployments sharing a server must not."""
    return f"markets:{redis.connection_pool.connection_kwargs.get('db', 0)}:events"


def make_broadcaster(settings: Settings, redis: Redis | None) -> Broadcaster:
    """Through Redis when the process has it, in-process otherwise."""
    if redis is None or not settings.redis_url:
        return Broadcaster()
    return RedisBroadcaster(redis, url=settings.redis_url, timeout_seconds=settings.redis_timeout_seconds)
