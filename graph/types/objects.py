"""The Market type."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.entities import Market, User
from graph import ids
from graph.types.connections import Connection
from graph.types.enums import MarketStatusEnum, OutcomeEnum
from graph.types.node import Node
from graph.types.paging import child_connections

if TYPE_CHECKING:
    from graph.types.economy import PricePointType
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
    probability: float = strawberry.field(
        description="The market maker's chance of YES: noPool / (yesPool + noPool), strictly between 0 and 1."
    )
    yes_pool: Decimal = strawberry.field(description="YES shares held by the market maker.")
    no_pool: Decimal = strawberry.field(description="NO shares held by the market maker.")
    pk: strawberry.Private[int]
    creator_id: strawberry.Private[int]
    # Filled by graph.prefetch when a page's selection asks for them; fields fall back to loaders.
    prefetched_creator: strawberry.Private[User | None] = None
    prefetched_positions: strawberry.Private[tuple[tuple[object, object], object] | None] = None

    @classmethod
    def from_entity(cls, market: Market) -> MarketType:
        return cls(
            id=strawberry.ID(ids.encode("Market", market.id)), name=market.name, description=market.description,
            status=market.status, volume=market.volume, end_date=market.end_date,
            resolved_outcome=market.resolved_outcome, created_at=market.created_at, updated_at=market.updated_at,
            probability=market.probability, yes_pool=market.yes_pool, no_pool=market.no_pool,
            pk=market.id, creator_id=market.creator_id,
        )

    @strawberry.field
    def creator(self, info: Info) -> Annotated[UserType, strawberry.lazy("graph.types.users")]:
        if self.prefetched_creator is not None:
            return user_type(self.prefetched_creator)
        return self.load_creator(info)

    async def load_creator(self, info: Info) -> UserType:
        return user_type(await info.context.loaders.user.load(self.creator_id))

    @strawberry.field(description="Positions on this market, newest first.")
    def positions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Annotated[PositionType, strawberry.lazy("graph.types.positions")]]:
        if self.prefetched_positions is not None and self.prefetched_positions[0] == (first, after):
            return self.prefetched_positions[1]
        return self.load_positions(info, first, after)

    async def load_positions(self, info: Info, first: int | None, after: str | None) -> Connection[PositionType]:
        return (await self.position_pages(info, [self.pk], first=first, after=after))[0]

    @staticmethod
    async def position_pages(
        info: Info, market_ids: list[int], *, first: int | None, after: str | None
    ) -> list[Connection[PositionType]]:
        from graph.types.positions import PositionType

        loaders = info.context.loaders
        return await child_connections(
            info, parent_ids=market_ids, scope="market.positions", first=first, after=after,
            node=PositionType.from_entity, pages=loaders.positions_by_market, counts=loaders.position_count_by_market,
        )

    @strawberry.field(description="The probability at creation and after every trade, oldest first.")
    async def probability_history(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> Connection[Annotated[PricePointType, strawberry.lazy("graph.types.economy")]]:
        from graph.types.economy import PricePointType

        loaders = info.context.loaders
        connections = await child_connections(
            info, parent_ids=[self.pk], scope="market.probabilityHistory", first=first, after=after,
            node=PricePointType.from_entity, pages=loaders.price_points_by_market,
            counts=loaders.price_point_count_by_market,
        )
        return connections[0]


def user_type(user: User) -> UserType:
    from graph.types.users import UserType

    return UserType.from_entity(user)
