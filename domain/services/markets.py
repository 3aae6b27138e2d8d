"""Markets: creating, editing, deleting and settling them.

A status change is one conditional UPDATE (the database decides which of two racing changes
wins), and settlement runs in the same transaction as the change: RESOLVED pays winners,
CANCELLED (and deleting an unsettled market) refunds; both statuses are final."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import partial

from domain import access, validation
from domain.entities import Market, MarketStatus, Outcome, User
from domain.errors import Conflict, NotFound
from domain.field_errors import FieldErrors
from domain.ports import Clock, MarketChanges, UnitOfWork
from domain.roles import MODERATE, Permission
from domain.services.ledger import Economy
from domain.services.positions import buy

RESOLVABLE = frozenset({MarketStatus.ACTIVE, MarketStatus.CLOSED})
# Settled: the status can no longer change, and the money has moved.
FINAL = frozenset({MarketStatus.RESOLVED, MarketStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class InitialPosition:
    outcome: Outcome
    amount: Decimal


@dataclass(frozen=True, slots=True)
class MarketEdit:
    """What updateMarket asked for; `end_date_given` tells an explicit null from absence."""

    name: str | None = None
    description: str | None = None
    end_date: datetime | None = None
    end_date_given: bool = False
    status: MarketStatus | None = None


async def create_market(
    *, uow: UnitOfWork, clock: Clock, economy: Economy, viewer: User | None, name: str, description: str,
    end_date: datetime | None, initial_position: InitialPosition | None,
) -> Market:
    """Create a market with both pools at MARKET_LIQUIDITY and its first price point; the
    creator's first position, if any, is a purchase in the same transaction. Any signed-in user."""
    creator = access.require(viewer, Permission.WRITE)
    now = clock()
    errors = FieldErrors()
    clean_name = errors.check(validation.market_name, name)
    errors.check(validation.market_description, description)
    if end_date is not None:
        errors.check(partial(validation.future_date, now=now), end_date)
    amount = None
    if initial_position is not None:
        amount = errors.check(partial(validation.amount, field="initial_position.amount"), initial_position.amount)
    errors.raise_if_any()
    assert clean_name is not None
    async with uow:
        market = await uow.markets.add(
            name=clean_name, description=description, end_date=end_date, creator_id=creator.id,
            liquidity=economy.market_liquidity, now=now,
        )
        await uow.price_points.add(market_id=market.id, yes_pool=market.yes_pool, no_pool=market.no_pool, at=now)
        if initial_position is not None and amount is not None:
            await buy(uow, clock=clock, user_id=creator.id, market_id=market.id, outcome=initial_position.outcome,
                      amount=amount, after=market.created_at)
            market = (await uow.markets.get_many([market.id]))[market.id]
        await uow.commit()
    return market


async def get_market_or_raise(uow: UnitOfWork, market_id: int | None) -> Market:
    """The market with this id, or NotFound."""
    market = (await uow.markets.get_many([market_id])).get(market_id) if market_id is not None else None
    if market is None:
        raise NotFound("No market with this id")
    return market


def edit_changes(edit: MarketEdit) -> MarketChanges:
    """Validate an edit into the changes to store. A past `endDate` is allowed (the contract asks a
    future one at createMarket only): it ends trading now, as a moderator closing the market would."""
    errors = FieldErrors()
    if edit.status is MarketStatus.RESOLVED:
        errors.add("status", "RESOLVED is set through resolveMarket")
    name = errors.check(validation.market_name, edit.name) if edit.name is not None else None
    if edit.description is not None:
        errors.check(validation.market_description, edit.description)
    errors.raise_if_any()
    return MarketChanges(
        name=name, description=edit.description, end_date=edit.end_date,
        clear_end_date=edit.end_date_given and edit.end_date is None, status=edit.status,
    )


async def update_market(
    *, uow: UnitOfWork, clock: Clock, viewer: User | None, market_id: int | None, edit: MarketEdit
) -> Market:
    """Edit a market: owners edit its text and date, moderators anything but RESOLVED."""
    editor = access.require(viewer, Permission.WRITE)
    if edit.status is not None:
        access.require(editor, MODERATE, refusal="Only moderators and admins can change a market's status")
    now = clock()
    async with uow:
        market = await get_market_or_raise(uow, market_id)
        access.require_owner_or(editor, market.creator_id, MODERATE, refusal="You can only edit your own markets")
        if edit.status is not None and market.status in FINAL:
            # Before the input check: on a settled market any status, RESOLVED included, is CONFLICT.
            raise Conflict(f"A {market.status.value} market's status cannot change")
        changes = edit_changes(edit)
        if changes.status is not None:
            changes = replace(changes, require_status_in=RESOLVABLE)
        updated = await uow.markets.update(market.id, changes, now=now)
        if updated is None:
            await _raise_lost_race(uow, market.id)
        assert updated is not None
        if changes.status is MarketStatus.CANCELLED:
            await uow.ledger.settle(market_id=market.id, winner=None, clock=clock)
        await uow.commit()
    return updated


async def _raise_lost_race(uow: UnitOfWork, market_id: int) -> None:
    """A conditional status change matched nothing: the market is gone, or settled meanwhile."""
    market = await get_market_or_raise(uow, market_id)
    raise Conflict(f"A {market.status.value} market's status cannot change")


async def delete_market(*, uow: UnitOfWork, clock: Clock, viewer: User | None, market_id: int | None) -> int:
    """Delete a market and its positions, refunding them first unless it is settled; returns the
    id deleted. The ledger keeps its transactions, without market and position. Moderators and admins."""
    access.require(viewer, MODERATE)
    async with uow:
        market = await uow.markets.lock(market_id) if market_id is not None else None
        if market is None:
            raise NotFound("No market with this id")
        if market.status not in FINAL:
            await uow.ledger.settle(market_id=market.id, winner=None, clock=clock)
        await uow.ledger.detach_market(market.id)
        if not await uow.markets.delete(market.id):
            raise NotFound("No market with this id")
        await uow.commit()
    return market.id


async def resolve_market(
    *, uow: UnitOfWork, clock: Clock, viewer: User | None, market_id: int | None, outcome: Outcome
) -> Market:
    """Settle an ACTIVE or CLOSED market on an outcome: winners' shares pay 1.00 each. Moderators and admins."""
    access.require(viewer, MODERATE)
    async with uow:
        market = await get_market_or_raise(uow, market_id)
        changes = MarketChanges(status=MarketStatus.RESOLVED, resolved_outcome=outcome, require_status_in=RESOLVABLE)
        resolved = await uow.markets.update(market.id, changes, now=clock())
        if resolved is None:
            current = await get_market_or_raise(uow, market.id)
            raise Conflict(f"Only ACTIVE or CLOSED markets can be resolved; this one is {current.status.value}")
        await uow.ledger.settle(market_id=market.id, winner=outcome, clock=clock)
        await uow.commit()
    return resolved
