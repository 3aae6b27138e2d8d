"""The money read side: ledger transactions, price-history points and quotes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry
from aiodataloader import DataLoader
from strawberry.types import Info

from domain.entities import PricePoint, Transaction
from domain.services.quotes import Quote
from graph import ids
from graph.types.enums import OutcomeEnum, TransactionKindEnum
from graph.types.node import Node

if TYPE_CHECKING:
    from graph.types.markets import MarketType
    from graph.types.positions import PositionType

T = TypeVar("T")
E = TypeVar("E")

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
    async def market(self, info: Info) -> Annotated[MarketType, strawberry.lazy("graph.types.markets")] | None:
        from graph.types.markets import MarketType

        return await referenced(info.context.loaders.market, self.market_pk, MarketType.from_entity)

    @strawberry.field(
        description="The position concerned (BUY, SELL, PAYOUT, REFUND); null for others, and once it is deleted."
    )
    async def position(self, info: Info) -> Annotated[PositionType, strawberry.lazy("graph.types.positions")] | None:
        from graph.types.positions import PositionType

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


@strawberry.type(name="Quote", description="What a purchase would give right now, without making it.")
class QuoteType:
    outcome: OutcomeEnum
    amount: Decimal
    shares: Decimal
    probability_before: float
    probability_after: float

    @classmethod
    def from_quote(cls, quote: Quote) -> QuoteType:
        return cls(
            outcome=quote.outcome, amount=quote.amount, shares=quote.shares,
            probability_before=quote.probability_before, probability_after=quote.probability_after,
        )
