"""The User type."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain.entities import User
from domain.roles import MODERATE, Permission
from graph import ids
from graph.permissions import visible_to_owner_or
from graph.types.connections import Connection
from graph.types.enums import RoleEnum
from graph.types.node import Node
from graph.types.paging import child_connections

if TYPE_CHECKING:
    from graph.types.economy import TransactionType
    from graph.types.markets import MarketType
    from graph.types.positions import PositionType


@strawberry.type(name="User")
class UserType(Node):
    id: strawberry.ID
    name: str
    role: RoleEnum
    created_at: datetime
    owner_id: strawberry.Private[int]
    stored_email: strawberry.Private[str]
    stored_balance: strawberry.Private[Decimal]
    # True in an AuthPayload: the user is the one who just proved who they are.
    is_viewer: strawberry.Private[bool] = False

    @classmethod
    def from_entity(cls, user: User, *, is_viewer: bool = False) -> UserType:
        return cls(
            id=strawberry.ID(ids.encode("User", user.id)), name=user.name, role=user.role,
            created_at=user.created_at, owner_id=user.id, stored_email=user.email, stored_balance=user.balance,
            is_viewer=is_viewer,
        )

    @strawberry.field(
        description="The user themself and admins see it; everyone else gets null.",
        extensions=visible_to_owner_or(Permission.ADMIN),
    )
    def email(self) -> str | None:
        return self.stored_email

    @strawberry.field(
        description="Money available to spend. The user themself and admins see it; everyone else gets null.",
        extensions=visible_to_owner_or(Permission.ADMIN),
    )
    def balance(self) -> Decimal | None:
        return self.stored_balance

    @strawberry.field(description="Markets this user created, newest first.")
    async def markets(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Annotated[MarketType, strawberry.lazy("graph.types.markets")]]:
        from graph.types.markets import MarketType

        loaders = info.context.loaders
        connections = await child_connections(
            info, parent_ids=[self.owner_id], scope="user.markets", first=first, after=after,
            node=MarketType.from_entity, pages=loaders.markets_by_creator, counts=loaders.market_count_by_creator,
        )
        return connections[0]

    @strawberry.field(
        description="Newest first. The user themself, moderators and admins see it; everyone else gets null.",
        extensions=visible_to_owner_or(MODERATE),
    )
    async def positions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Annotated[PositionType, strawberry.lazy("graph.types.positions")]] | None:
        from graph.types.positions import PositionType

        loaders = info.context.loaders
        connections = await child_connections(
            info, parent_ids=[self.owner_id], scope="user.positions", first=first, after=after,
            node=PositionType.from_entity, pages=loaders.positions_by_user, counts=loaders.position_count_by_user,
        )
        return connections[0]

    @strawberry.field(
        description="Every change of the balance, newest first. The user themself and admins; everyone else gets null.",
        extensions=visible_to_owner_or(Permission.ADMIN),
    )
    async def transactions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Annotated[TransactionType, strawberry.lazy("graph.types.economy")]] | None:
        from graph.types.economy import TransactionType

        loaders = info.context.loaders
        connections = await child_connections(
            info, parent_ids=[self.owner_id], scope="user.transactions", first=first, after=after,
            node=TransactionType.from_entity, pages=loaders.transactions_by_user,
            counts=loaders.transaction_count_by_user,
        )
        return connections[0]
