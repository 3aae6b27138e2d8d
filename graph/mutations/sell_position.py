"""sellPosition: the holder sells every share of a position back to the market maker."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.types import Info

from domain.services import positions
from graph import ids
from graph.argument_paths import SELL_POSITION, argument_paths
from graph.types.objects import PositionType


async def sell_position(info: Info, id: strawberry.ID, min_proceeds: Decimal | None = None) -> PositionType:
    context = info.context
    with argument_paths(SELL_POSITION):
        position = await positions.sell_position(
            uow=context.unit_of_work(), clock=context.services.clock, viewer=context.viewer,
            position_id=ids.decode(id, "Position"), min_proceeds=min_proceeds,
        )
    context.loaders.market.clear(position.market_id)
    context.loaders.remember(position)
    return PositionType.from_entity(position)
