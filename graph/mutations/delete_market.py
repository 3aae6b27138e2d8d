"""deleteMarket: moderators and admins; the market's positions go with it."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.services import markets
from graph import ids


async def delete_market(info: Info, id: strawberry.ID) -> strawberry.ID:
    context = info.context
    pk = await markets.delete_market(
        uow=context.unit_of_work(), clock=context.services.clock, viewer=context.viewer,
        market_id=ids.decode(id, "Market"),
    )
    context.loaders.market.clear(pk)
    return id
