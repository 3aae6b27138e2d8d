"""The object types that refer to one another (Market, Position, User, Transaction, PricePoint) and the
lookup of any of them by its global id: one module, so that each can name the others directly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

import strawberry
from aiodataloader import DataLoader
from strawberry.types import Info

from domain.access import owns_or
from domain.entities import Market, Position, PricePoint, Transaction, User
from domain.roles import MODERATE, Permission
from graph import ids
from graph.permissions import visible_to_owner_or
from graph.types.connections import Connection
from graph.types.enums import MarketStatusEnum, OutcomeEnum, RoleEnum, TransactionKindEnum
from graph.types.node import Node
from graph.types.paging import child_connections

T = TypeVar("T")
E = TypeVar("E")


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
    def creator(self, info: Info) -> UserType:
        if self.prefetched_creator is not None:
            return user_type(self.prefetched_creator)
        return self.load_creator(info)  # type: ignore[return-value]  # strawberry awaits it (sync when prefetched)

    async def load_creator(self, info: Info) -> UserType:
        return user_type(await info.context.loaders.user.load(self.creator_id))

    @strawberry.field(description="Positions on this market, newest first.")
    def positions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[PositionType]:
        if self.prefetched_positions is not None and self.prefetched_positions[0] == (first, after):
            return cast("Connection[PositionType]", self.prefetched_positions[1])
        return self.load_positions(info, first, after)  # type: ignore[return-value]  # strawberry awaits it (sync when prefetched)

    async def load_positions(self, info: Info, first: int | None, after: str | None) -> Connection[PositionType]:
        return (await self.position_pages(info, [self.pk], first=first, after=after))[0]

    @staticmethod
    async def position_pages(
        info: Info, market_ids: list[int], *, first: int | None, after: str | None
    ) -> list[Connection[PositionType]]:
        loaders = info.context.loaders
        return await child_connections(
            info, parent_ids=market_ids, scope="market.positions", first=first, after=after,
            node=PositionType.from_entity, pages=loaders.positions_by_market, counts=loaders.position_count_by_market,
        )

    @strawberry.field(description="The probability at creation and after every trade, oldest first.")
    async def probability_history(
        self, info: Info, first: int | None = 100, after: str | None = None
    ) -> Connection[PricePointType]:
        loaders = info.context.loaders
        connections = await child_connections(
            info, parent_ids=[self.pk], scope="market.probabilityHistory", first=first, after=after,
            node=PricePointType.from_entity, pages=loaders.price_points_by_market,
            counts=loaders.price_point_count_by_market,
        )
        return connections[0]


def user_type(user: User) -> UserType:
    return UserType.from_entity(user)


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
    def market(self, info: Info) -> MarketType:
        if self.prefetched_market is not None:
            return self.prefetched_market
        return self.load_market(info)  # type: ignore[return-value]  # strawberry awaits it (sync when prefetched)

    async def load_market(self, info: Info) -> MarketType:
        return MarketType.from_entity(await info.context.loaders.market.load(self.market_id))

    @strawberry.field(
        description="The holder themself, moderators and admins see it; everyone else gets null.",
        extensions=visible_to_owner_or(MODERATE),
    )
    def user(self, info: Info) -> UserType | None:
        if self.prefetched_user is not None:
            return UserType.from_entity(self.prefetched_user)
        return self.load_user(info)  # type: ignore[return-value]  # strawberry awaits it (sync when prefetched)

    async def load_user(self, info: Info) -> UserType:
        return UserType.from_entity(await info.context.loaders.user.load(self.owner_id))


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
    ) -> Connection[MarketType]:
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
    ) -> Connection[PositionType] | None:
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
    ) -> Connection[TransactionType] | None:
        loaders = info.context.loaders
        connections = await child_connections(
            info, parent_ids=[self.owner_id], scope="user.transactions", first=first, after=after,
            node=TransactionType.from_entity, pages=loaders.transactions_by_user,
            counts=loaders.transaction_count_by_user,
        )
        return connections[0]


@strawberry.type(name="Transaction")
class TransactionType(Node):
    id: strawberry.ID
    kind: TransactionKindEnum
    amount: Decimal = strawberry.field(description="Signed: positive credits the balance, negative debits it.")
    balance_after: Decimal = strawberry.field(description="The balance right after this transaction.")
    note: str | None = strawberry.field(description="ADJUSTMENT: the admin's reason. GRANT: why the grant was made.")
    created_at: datetime
    owner_id: strawberry.Private[int]
    market_pk: strawberry.Private[int | None]
    position_pk: strawberry.Private[int | None]

    @classmethod
    def from_entity(cls, transaction: Transaction) -> TransactionType:
        return cls(
            id=strawberry.ID(ids.encode("Transaction", transaction.id)), kind=transaction.kind,
            amount=transaction.amount, balance_after=transaction.balance_after, note=transaction.note,
            created_at=transaction.created_at, owner_id=transaction.user_id, market_pk=transaction.market_id,
            position_pk=transaction.position_id,
        )

    @strawberry.field(
        description="The market concerned (BUY, SELL, PAYOUT, REFUND); null for others, and once the market is deleted."
    )
    async def market(self, info: Info) -> MarketType | None:
        return await referenced(info.context.loaders.market, self.market_pk, MarketType.from_entity)

    @strawberry.field(
        description="The position concerned (BUY, SELL, PAYOUT, REFUND); null for others, and once it is deleted."
    )
    async def position(self, info: Info) -> PositionType | None:
        return await referenced(info.context.loaders.position, self.position_pk, PositionType.from_entity)


async def referenced(loader: DataLoader[int, E | None], pk: int | None, to_type: Callable[[E], T]) -> T | None:
    """What a ledger row points at, through `loader`; None when it points at nothing, or at a row
    deleted since (the reference is set to NULL then, but a page read just before may still hold it)."""
    entity = await loader.load(pk) if pk is not None else None
    return to_type(entity) if entity is not None else None


@strawberry.type(name="PricePoint")
class PricePointType:
    probability: float
    at: datetime

    @classmethod
    def from_entity(cls, point: PricePoint) -> PricePointType:
        return cls(probability=point.probability, at=point.at)


async def load_node(info: Info, global_id: str, *, only: str | None = None) -> Node | None:
    """The object a global id names (of type `only`, when given), or None; None too for a
    Transaction the viewer may not see (only its user and admins may)."""
    decoded = ids.decode_any(global_id)
    if decoded is None or (only is not None and decoded[0] != only):
        return None
    type_name, pk = decoded
    loaders = info.context.loaders
    kinds: dict[str, tuple[DataLoader[int, Any], Callable[[Any], Node]]] = {
        "User": (loaders.user, UserType.from_entity),
        "Market": (loaders.market, MarketType.from_entity),
        "Position": (loaders.position, PositionType.from_entity),
        "Transaction": (loaders.transaction, TransactionType.from_entity),
    }
    if type_name not in kinds:
        return None
    loader, to_type = kinds[type_name]
    entity = await loader.load(pk)
    if entity is None or (type_name == "Transaction" and not owns_or(info.context.viewer, entity.user_id,
                                                                       Permission.ADMIN)):
        return None
    return to_type(entity)
