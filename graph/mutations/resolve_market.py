"""resolveMarket: moderators and admins settle an ACTIVE or CLOSED market."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.entities import Outcome
from domain.services import markets
from graph import ids
from graph.types.objects import MarketType


async def resolve_market(info: Info, id: strawberry.ID, outcome: Outcome) -> MarketType:
    context = info.context
    market = await markets.resolve_market(
        uow=context.unit_of_work(), clock=context.services.clock, viewer=context.viewer,
        market_id=ids.decode(id, "Market"), outcome=outcome,
    )
    context.loaders.remember(market)
    return MarketType.from_entity(market)
