"""The domain's enums, exposed under the contract's names.

`strawberry.enum` registers a class in place and hands back the same class, so each name below is
the domain's enum itself (a type alias mypy can read), registered by the time it is imported.
"""

import strawberry

from domain.entities import MarketStatus, Outcome, TransactionKind
from domain.pagination import MarketSortField, SortDirection
from domain.roles import Role

strawberry.enum(Role, name="Role")
strawberry.enum(MarketStatus, name="MarketStatus")
strawberry.enum(Outcome, name="Outcome")
strawberry.enum(MarketSortField, name="MarketSortField")
strawberry.enum(SortDirection, name="SortDirection")
strawberry.enum(TransactionKind, name="TransactionKind", description="What moved money in or out of a balance.")

RoleEnum = Role
MarketStatusEnum = MarketStatus
OutcomeEnum = Outcome
MarketSortFieldEnum = MarketSortField
SortDirectionEnum = SortDirection
TransactionKindEnum = TransactionKind
