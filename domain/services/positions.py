"""Positions: opening one adds its amount to the market's volume in the same transaction."""

from __future__ import annotations

from decimal import Decimal

from domain import validation
from domain.entities import Outcome, Position, User
from domain.errors import Conflict
from domain.ports import Clock, UnitOfWork
from domain.services.markets import get_market_or_raise


async def open_position(
    *, uow: UnitOfWork, clock: Clock, viewer: User, market_id: int | None, outcome: Outcome, amount: Decimal
) -> Position:
    """Open a position on an ACTIVE market whose end date has not passed."""
    clean_amount = validation.amount(amount, field="input.amount")
    now = clock()
    async with uow:
        if market_id is None or not await uow.markets.add_volume_if_open(market_id, clean_amount, now=now):
            market = await get_market_or_raise(uow, market_id)
            raise Conflict(f"Market is not open for positions (status {market.status.value})")
        position = await uow.positions.add(
            market_id=market_id, user_id=viewer.id, outcome=outcome, amount=clean_amount, now=now
        )
        await uow.commit()
    return position
