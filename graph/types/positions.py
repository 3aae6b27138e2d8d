"""The Position type."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.entities import Position, User
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
    shares: Decimal = strawberry.field(
        description="Shares bought with `amount`; each pays 1.00 if the market resolves to `outcome`."
    )
    proceeds: Decimal | None = strawberry.field(description="What selling the position paid; null while it is held.")
    sold_at: datetime | None
    payout: Decimal | None = strawberry.field(
        description="Null until the market is RESOLVED (shares or 0.00) or CANCELLED (the amount back); "
        "stays null once sold."
    )
    market_id: strawberry.Private[int]
    owner_id: strawberry.Private[int]
    # Filled by graph.prefetch; the fields fall back to the loaders without them.
    prefetched_market: strawberry.Private[MarketType | None] = None
    prefetched_user: strawberry.Private[User | None] = None

    @classmethod
    def from_entity(cls, position: Position) -> PositionType:
        return cls(
            id=strawberry.ID(ids.encode("Position", position.id)), outcome=position.outcome,
            amount=position.amount, created_at=position.created_at, shares=position.shares,
            proceeds=position.proceeds, sold_at=position.sold_at, payout=position.payout, market_id=position.market_id,
            owner_id=position.user_id,
        )

    @strawberry.field
    def market(self, info: Info) -> Annotated[MarketType, strawberry.lazy("graph.types.markets")]:
        if self.prefetched_market is not None:
            return self.prefetched_market
        return self.load_market(info)  # type: ignore[return-value]  # strawberry awaits it (sync when prefetched)

    async def load_market(self, info: Info) -> MarketType:
        from graph.types.markets import MarketType

        return MarketType.from_entity(await info.context.loaders.market.load(self.market_id))

    @strawberry.field(
        description="The holder themself, moderators and admins see it; everyone else gets null.",
        extensions=visible_to_owner_or(MODERATE),
    )
    def user(self, info: Info) -> Annotated[UserType, strawberry.lazy("graph.types.users")] | None:
        from graph.types.users import UserType

        if self.prefetched_user is not None:
            return UserType.from_entity(self.prefetched_user)
        return self.load_user(info)  # type: ignore[return-value]  # strawberry awaits it (sync when prefetched)

    async def load_user(self, info: Info) -> UserType:
        from graph.types.users import UserType

        return UserType.from_entity(await info.context.loaders.user.load(self.owner_id))
