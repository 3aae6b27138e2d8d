"""reindexMarket: admins queue a fresh encoding of one market's search entry."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from domain.services import search
from graph import ids


async def reindex_market(info: Info, id: strawberry.ID) -> bool:
    context = info.context
    await search.request_reindex(
        uow=context.unit_of_work(), jobs=context.services.jobs, viewer=context.viewer,
        market_id=ids.decode(id, "Market"),
    )
    return True
