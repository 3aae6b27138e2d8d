"""Input types, under the contract's names."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from domain.pagination import MarketSortField, SortDirection
from graph.types.enums import MarketSortFieldEnum, MarketStatusEnum, OutcomeEnum, SortDirectionEnum


@strawberry.input(name="MarketFilter")
class MarketFilterInput:
    status: MarketStatusEnum | None = None
    creator_id: strawberry.ID | None = None
    name_contains: str | None = strawberry.field(default=None, description="Case-insensitive substring of the name.")
    ends_before: datetime | None = None
    ends_after: datetime | None = None


@strawberry.input(name="MarketOrder")
class MarketOrderInput:
    field: MarketSortFieldEnum = MarketSortField.CREATED_AT
    direction: SortDirectionEnum = SortDirection.DESC


@strawberry.input(name="PositionInput")
class PositionInput:
    outcome: OutcomeEnum
    amount: Decimal


@strawberry.input(name="CreateMarketInput")
class CreateMarketInput:
    name: str
    description: str = ""
    end_date: datetime | None = None
    initial_position: PositionInput | None = strawberry.field(
        default=None, description="Opened by the creator in the same transaction as the market."
    )


@strawberry.input(name="UpdateMarketInput")
class UpdateMarketInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    end_date: datetime | None = strawberry.UNSET
    status: MarketStatusEnum | None = strawberry.field(
        default=strawberry.UNSET, description="Moderators and admins only; RESOLVED is set through resolveMarket."
    )


@strawberry.input(name="OpenPositionInput")
class OpenPositionInput:
    market_id: strawberry.ID
    outcome: OutcomeEnum
    amount: Decimal
    min_shares: Decimal | None = strawberry.field(
        default=None,
        description="Refuse (CONFLICT, nothing changes) if the purchase would give fewer shares than this.",
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="1 to 64 printable ASCII characters without spaces. A retry with the same key by the same\n"
        "viewer within 24 hours returns the first position instead of buying again.",
    )


