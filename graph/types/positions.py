"""The Position type."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.entities import Position
from domain.roles import MODERATE
from graph import ids
from graph.permissions import visible_to_owner_or
from graph.types.enums import OutcomeEnum
from graph.types.node import Node

if TYPE_CHECKING:
    from graph.types.markets import MarketType
    from graph.types.users import UserType


@strawberry.type(name="Position")
class PositionType(Node):
    id: strawberry.ID
    outcome: OutcomeEnum
    amount: Decimal
    created_at: datetime
    market_id: strawberry.Private[int]
    owner_id: strawberry.Private[int]

    @classmethod
    def from_entity(cls, position: Position) -> PositionType:
        return cls(
            id=strawberry.ID(ids.encode("Position", position.id)), outcome=position.outcome,
            amount=position.amount, created_at=position.created_at, market_id=position.market_id,
            owner_id=position.user_id,
        )

    @strawberry.field
    async def market(self, info: Info) -> Annotated[MarketType, strawberry.lazy("graph.types.markets")]:
        from graph.types.markets import MarketType

        return MarketType.from_entity(await info.context.loaders.market.load(self.market_id))

    @strawberry.field(
        description="The holder themself, moderators and admins see it; everyone else gets null.",
        extensions=visible_to_owner_or(MODERATE),
    )
    async def user(self, info: Info) -> Annotated[UserType, strawberry.lazy("graph.types.users")] | None:
        from graph.types.users import UserType

        return UserType.from_entity(await info.context.loaders.user.load(self.owner_id))
