"""Trading with the market maker: buying (openPosition, createMarket's initialPosition) and selling.

A trade locks its market's row first, so trades on one market apply one after another and
none is lost, while trades on other markets never wait; then the trader's balance row (the
ledger's conditional update). Always that order, so two trades never wait on each other in a
cycle. Everything a trade changes (balance, ledger, position, pools, volume, price point)
commits together or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from domain import access, market_maker, validation
from domain.entities import IdempotencyKey, Market, MarketStatus, Outcome, Position, TransactionKind, User
from domain.errors import BadUserInput, Conflict, NotFound
from domain.field_errors import FieldErrors
from domain.market_maker import Pools, Trade
from domain.ports import Clock, UnitOfWork
from domain.roles import Permission
from domain.services.ledger import credit

IDEMPOTENCY_TTL = timedelta(hours=24)
# The periodic job that deletes expired keys (expired ones already count as absent; this keeps
# the table small).
PURGE_IDEMPOTENCY_KEYS = "purge_idempotency_keys"
MAX_LIMIT = Decimal("1000000000000")
# The smallest step of a stored time: the creator's initial position comes after its market's
# creation, never at the same instant (its price point follows the creation point).
TICK = timedelta(microseconds=1)
# 1 to 64 printable ASCII characters, no spaces.
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,64}")


@dataclass(frozen=True, slots=True)
class Purchase:
    """What openPosition asked for."""

    market_id: int | None
    outcome: Outcome
    amount: Decimal
    min_shares: Decimal | None = None
    idempotency_key: str | None = None


def limit(value: Decimal, *, field: str) -> Decimal:
    """A minShares/minProceeds bound: 0 (accepts any price) up to 1,000,000,000,000 (more than
    any trade can give), at most 2 decimal places."""
    if not value.is_finite() or value < 0:
        raise BadUserInput({field: "must be a number of at least 0"})
    if value == 0:
        return Decimal("0.00")
    return validation.amount(value, field=field, maximum=MAX_LIMIT)


def idempotency_key(value: str, *, field: str = "idempotency_key") -> str:
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise BadUserInput({field: "must be 1 to 64 printable ASCII characters without spaces"})
    return value


def ensure_open(market: Market, now: datetime) -> None:
    """CONFLICT unless the market is ACTIVE and its end date (if any) is still ahead."""
    if market.status is not MarketStatus.ACTIVE:
        raise Conflict(f"Market is not open for trading (status {market.status.value})")
    if market.end_date is not None and market.end_date <= now:
        raise Conflict("Market is not open for trading (its end date has passed)")


async def open_position(*, uow: UnitOfWork, clock: Clock, viewer: User | None, purchase: Purchase) -> Position:
    """Buy shares (any signed-in user); with an idempotency key, a retry within 24 hours gets the first position."""
    buyer = access.require(viewer, Permission.WRITE)
    errors = FieldErrors()
    amount = errors.check(lambda value: validation.amount(value, field="amount"), purchase.amount)
    min_shares = None
    if purchase.min_shares is not None:
        min_shares = errors.check(lambda value: limit(value, field="min_shares"), purchase.min_shares)
    key = errors.check(idempotency_key, purchase.idempotency_key) if purchase.idempotency_key is not None else None
    errors.raise_if_any()
    assert amount is not None
    if purchase.market_id is None:
        raise NotFound("No market with this id")
    async with uow:
        if key is not None:
            stored = IdempotencyKey(
                user_id=buyer.id, key=key, market_id=purchase.market_id, outcome=purchase.outcome, amount=amount,
                position_id=None, created_at=clock(),
            )
            if not await uow.idempotency.claim(stored, expired_before=stored.created_at - IDEMPOTENCY_TTL):
                return await _repeated(uow, stored)
        position = await buy(
            uow, clock=clock, user_id=buyer.id, market_id=purchase.market_id, outcome=purchase.outcome,
            amount=amount, min_shares=min_shares,
        )
        if key is not None:
            await uow.idempotency.attach(buyer.id, key, position.id)
        await uow.commit()
    return position


async def _repeated(uow: UnitOfWork, asked: IdempotencyKey) -> Position:
    """A key the viewer used already: the first position if the call is the same, else CONFLICT."""
    first = await uow.idempotency.get(asked.user_id, asked.key)
    if first is None or (first.market_id, first.outcome, first.amount) != (asked.market_id, asked.outcome,
                                                                           asked.amount):
        raise Conflict("This idempotencyKey was used for another purchase")
    position = (await uow.positions.get_many([first.position_id])).get(first.position_id) if first.position_id else None
    if position is None:
        raise NotFound("The position bought with this idempotencyKey no longer exists")
    return position


async def buy(
    uow: UnitOfWork, *, clock: Clock, user_id: int, market_id: int, outcome: Outcome, amount: Decimal,
    min_shares: Decimal | None = None, after: datetime | None = None,
) -> Position:
    """Inside the caller's transaction: buy from the market maker, debit, move the pools, record
    a price point. NOT_FOUND, or CONFLICT (closed market, price past minShares, balance short).
    `after`: a time the purchase must be stamped later than (the market's creation, for its creator)."""
    market = await uow.markets.lock(market_id)
    if market is None:
        raise NotFound("No market with this id")
    now = clock()
    if after is not None and now <= after:
        now = after + TICK
    ensure_open(market, now)
    trade = market_maker.buy(Pools.of(market.yes_pool, market.no_pool), outcome, market_maker.to_cents(amount))
    if min_shares is not None and trade.shares_decimal < min_shares:
        raise Conflict(f"The purchase would give {trade.shares_decimal} shares, fewer than minShares {min_shares}")
    position = await uow.positions.add(
        market_id=market.id, user_id=user_id, outcome=outcome, amount=amount, shares=trade.shares_decimal, now=now
    )
    await credit(uow, clock=clock, user_id=user_id, amount=-amount, kind=TransactionKind.BUY, market_id=market.id,
                 position_id=position.id)
    await _move_pools(uow, market, trade, volume_added=amount, now=now)
    return position


async def sell_position(
    *, uow: UnitOfWork, clock: Clock, viewer: User | None, position_id: int | None, min_proceeds: Decimal | None
) -> Position:
    """The holder (whatever their role) sells every share back; CONFLICT if sold already, the market
    is not open, or the proceeds fall short of `minProceeds`."""
    seller = access.require(viewer, Permission.WRITE)
    async with uow:
        held = (await uow.positions.get_many([position_id])).get(position_id) if position_id is not None else None
        if held is None:
            raise NotFound("No position with this id")
        access.require_owner(seller, held.user_id, refusal="Only the holder can sell a position")
        # Permission before validation (contract): a stranger's bad minProceeds is still FORBIDDEN.
        bound = limit(min_proceeds, field="min_proceeds") if min_proceeds is not None else None
        market = await uow.markets.lock(held.market_id)
        if market is None:
            raise NotFound("No position with this id")
        now = clock()
        ensure_open(market, now)
        trade = market_maker.sell(Pools.of(market.yes_pool, market.no_pool), held.outcome,
                                  market_maker.to_cents(held.shares))
        if bound is not None and trade.money_decimal < bound:
            raise Conflict(f"The sale would pay {trade.money_decimal}, less than minProceeds {bound}")
        sold = await uow.positions.mark_sold(held.id, proceeds=trade.money_decimal, now=now)
        if sold is None:
            raise Conflict("This position was sold or settled already")
        await credit(uow, clock=clock, user_id=seller.id, amount=trade.money_decimal, kind=TransactionKind.SELL,
                     market_id=market.id, position_id=held.id)
        await _move_pools(uow, market, trade, volume_added=Decimal(0), now=now)
        await uow.commit()
    return sold


async def _move_pools(uow: UnitOfWork, market: Market, trade: Trade, *, volume_added: Decimal, now: datetime) -> None:
    after = trade.after
    await uow.markets.apply_trade(
        market.id, yes_pool=after.yes_pool, no_pool=after.no_pool, volume_added=volume_added, now=now
    )
    await uow.price_points.add(market_id=market.id, yes_pool=after.yes_pool, no_pool=after.no_pool, at=now)


async def purge_idempotency_keys(*, uow: UnitOfWork, clock: Clock) -> int:
    """Delete the keys older than 24 hours; how many."""
    async with uow:
        purged = await uow.idempotency.purge(before=clock() - IDEMPOTENCY_TTL)
        await uow.commit()
    return purged
