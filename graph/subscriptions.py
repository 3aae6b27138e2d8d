"""The Subscription type: marketUpdated and marketEvents, fed by the market events (graph.ports.MarketEvents).

Each event is loaded for its subscriber in a scope of its own (fresh loaders through the market
cache; a pooled connection only when a statement needs one, given back before the payload is sent),
so a payload is the market's current state under the viewer's field permissions, as a query's is.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

import strawberry
from strawberry.types import Info

from domain.entities import Market
from domain.errors import NotFound, ServiceUnavailable
from graph import ids
from graph.context import CLOSE_TRY_AGAIN_LATER, SubscriptionContext
from graph.feeds import Change, Feed
from graph.types.enums import MarketStatusEnum
from graph.types.objects import MarketType

# What marketUpdated fires on (resolvedOutcome changes only with status; a sale moves the pools
# and the probability without the volume).
UPDATE_FIELDS = frozenset({"name", "description", "end_date", "status", "volume", "yes_pool", "no_pool", "probability"})
NO_MARKET = "No market with this id"


def changed_or_deleted(change: Change) -> bool:
    """What marketUpdated follows: its market's shown fields changing, or the market going."""
    return change.kind == "deleted" or (change.kind == "updated" and bool(change.fields & UPDATE_FIELDS))


def created_or_changed(change: Change) -> bool:
    """What marketEvents follows: any market created or changed."""
    return change.kind != "deleted"


async def market_updated(info: Info, id: strawberry.ID) -> AsyncGenerator[MarketType, None]:
    """Refuses (NOT_FOUND) at subscribe time an id that names no market; ends when the market is deleted."""
    context: SubscriptionContext = info.context
    pk = ids.decode(id, "Market")
    if pk is None:
        raise NotFound(NO_MARKET)
    # Subscribed before the check, so a deletion right after it still ends the subscription.
    feed = await follow(context, changed_or_deleted, market_id=pk)
    try:
        found = await current(context, pk)
    finally:
        await context.release()
    if found is None:
        context.services.events.unsubscribe(feed)
        raise NotFound(NO_MARKET)
    return deliver(context, feed)


async def market_events(
    info: Info, status: MarketStatusEnum | None = None
) -> AsyncGenerator[MarketType, None]:
    """Every market created or changed (deletions are not sent), when its current status is `status`."""
    context: SubscriptionContext = info.context
    feed = await follow(context, created_or_changed)
    return deliver(context, feed, keep=lambda market: status is None or market.status == status)


async def follow(
    context: SubscriptionContext, wants: Callable[[Change], bool], *, market_id: int | None = None
) -> Feed:
    """A subscribed feed of the changes wanted, the operation's until it ends; on overflow the socket is dropped."""
    capacity = context.services.subscription_queue_size
    reason = f"Subscriber too slow: more than {capacity} markets pending"
    feed = Feed(
        wants, capacity=capacity, market_id=market_id,
        on_overflow=lambda: context.drop(CLOSE_TRY_AGAIN_LATER, reason, "slow_consumer"),
    )
    context.feeds.append(feed)
    await context.services.events.subscribe(feed)
    return feed


async def current(context: SubscriptionContext, market_id: int) -> Market | None:
    """The market as it is now, through a new scope's loaders (the caller releases the scope), for the
    viewer as they are now (their role re-read, at most every WS_VIEWER_RECHECK_SECONDS)."""
    context.open_scope()
    try:
        await context.recheck_viewer()
        market: Market | None = await context.loaders.market.load(market_id)
    except Exception as error:
        if context.services.faults.database_down(error):
            raise ServiceUnavailable("The database is unavailable") from error
        raise
    return market


async def deliver(
    context: SubscriptionContext, feed: Feed, *, keep: Callable[[Market], bool] = lambda market: True
) -> AsyncGenerator[MarketType, None]:
    """Each market the feed names, as it is now and if `keep`s it; ends when the feed does or the market goes."""
    try:
        while (change := await feed.next()) is not None and change.kind != "deleted":
            market = await current(context, change.market_id)
            if market is not None and keep(market):
                yield MarketType.from_entity(market)
            await context.release()
    finally:
        context.services.events.unsubscribe(feed)
        await context.release()


@strawberry.type
class Subscription:
    market_updated = strawberry.subscription(
        resolver=market_updated,
        description="The market each time its volume, status, name, description or end date changes. "
        "An id that names no market is NOT_FOUND; the subscription completes when the market is deleted.",
    )
    market_events = strawberry.subscription(
        resolver=market_events,
        description="Every market created or changed, optionally only those whose current status is `status`.",
    )
