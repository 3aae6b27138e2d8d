"""The domain's enums, exposed under the contract's names."""

import strawberry

from domain.entities import MarketStatus, Outcome, TransactionKind
from domain.pagination import MarketSortField, SortDirection
from domain.roles import Role

RoleEnum = strawberry.enum(Role, name="Role")
MarketStatusEnum = strawberry.enum(MarketStatus, name="MarketStatus")
OutcomeEnum = strawberry.enum(Outcome, name="Outcome")
MarketSortFieldEnum = strawberry.enum(MarketSortField, name="MarketSortField")
SortDirectionEnum = strawberry.enum(SortDirection, name="SortDirection")
TransactionKindEnum = strawberry.enum(
    TransactionKind, name="TransactionKind", description="What moved money in or out of a balance."
)
