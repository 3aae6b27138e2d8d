"""updateMarket: owners edit text and end date; moderators and admins also the status."""

from __future__ import annotations

from typing import TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.unset import UnsetType

from domain.services import markets
from domain.services.markets import MarketEdit
from graph import ids
from graph.argument_paths import UPDATE_MARKET, argument_paths
from graph.types.inputs import UpdateMarketInput
from graph.types.objects import MarketType

T = TypeVar("T")


def given(value: T | UnsetType) -> T | None:
    """Absent and null both leave a field unchanged, except endDate where null clears it."""
    return None if isinstance(value, UnsetType) else value


async def update_market(info: Info, id: strawberry.ID, input: UpdateMarketInput) -> MarketType:
    context = info.context
    edit = MarketEdit(
        name=given(input.name), description=given(input.description), end_date=given(input.end_date),
        end_date_given=input.end_date is not strawberry.UNSET, status=given(input.status),
    )
    with argument_paths(UPDATE_MARKET):
        market = await markets.update_market(
            uow=context.unit_of_work(), clock=context.services.clock, viewer=context.viewer,
            market_id=ids.decode(id, "Market"), edit=edit,
        )
    context.loaders.remember(market)
    return MarketType.from_entity(market)
