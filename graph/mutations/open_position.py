"""openPosition: any signed-in user buys shares from the market maker of an ACTIVE market that has not ended."""

from __future__ import annotations

from strawberry.types import Info

from domain.services import positions
from domain.services.positions import Purchase
from graph import ids
from graph.argument_paths import OPEN_POSITION, argument_paths
from graph.types.inputs import OpenPositionInput
from graph.types.objects import PositionType


async def open_position(info: Info, input: OpenPositionInput) -> PositionType:
    context = info.context
    purchase = Purchase(
        market_id=ids.decode(input.market_id, "Market"), outcome=input.outcome, amount=input.amount,
        min_shares=input.min_shares, idempotency_key=input.idempotency_key,
    )
    with argument_paths(OPEN_POSITION):
        position = await positions.open_position(
            uow=context.unit_of_work(), clock=context.services.clock, viewer=context.viewer, purchase=purchase
        )
    context.loaders.market.clear(position.market_id)
    context.loaders.remember(position)
    return PositionType.from_entity(position)
