"""The Market type."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.entities import Market
from graph import ids
from graph.types.connections import Connection
from graph.types.enums import MarketStatusEnum, OutcomeEnum
from graph.types.node import Node
from graph.types.paging import child_connection

if TYPE_CHECKING:
    from graph.types.positions import PositionType
    from graph.types.users import UserType


@strawberry.type(name="Market")
class MarketType(Node):
    id: strawberry.ID
    name: str
    description: str
    status: MarketStatusEnum
    volume: Decimal = strawberry.field(description="Sum of the amounts of all positions opened on this market.")
    end_date: datetime | None
    resolved_outcome: OutcomeEnum | None = strawberry.field(description="Set when status is RESOLVED.")
    created_at: datetime
    updated_at: datetime
    pk: strawberry.Private[int]
    creator_id: strawberry.Private[int]

    @classmethod
    def from_entity(cls, market: Market) -> MarketType:
        return cls(
            id=strawberry.ID(ids.encode("Market", market.id)), name=market.name, description=market.description,
            status=market.status, volume=market.volume, end_date=market.end_date,
            resolved_outcome=market.resolved_outcome, created_at=market.created_at, updated_at=market.updated_at,
            pk=market.id, creator_id=market.creator_id,
        )

    @strawberry.field
    async def creator(self, info: Info) -> Annotated[UserType, strawberry.lazy("graph.types.users")]:
        from graph.types.users import UserType

        return UserType.from_entity(await info.context.loaders.user.load(self.creator_id))

    @strawberry.field(description="Positions on this market, newest first.")
    async def positions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Annotated[PositionType, strawberry.lazy("graph.types.positions")]]:
        from graph.types.positions import PositionType

        return await child_connection(
            info, parent_id=self.pk, scope="market.positions", first=first, after=after,
            node=PositionType.from_entity, pages=info.context.loaders.positions_by_market,
            counts=info.context.loaders.position_count_by_market,
        )
