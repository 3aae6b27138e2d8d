"""adjustBalance: admins credit or debit a user's balance, with a reason kept in the ledger."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.types import Info

from domain.services import ledger
from graph import ids
from graph.types.objects import UserType


async def adjust_balance(info: Info, user_id: strawberry.ID, amount: Decimal, note: str) -> UserType:
    context = info.context
    user = await ledger.adjust_balance(
        uow=context.unit_of_work(), clock=context.services.clock, viewer=context.viewer,
        user_id=ids.decode(user_id, "User"), amount=amount, note=note,
    )
    context.loaders.remember(user)
    return UserType.from_entity(user)
