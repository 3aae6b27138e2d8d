"""quote: the price of a purchase, for anyone; the rules live in domain/services/quotes.py."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from strawberry.types import Info

from domain.entities import Outcome
from domain.services import quotes
from graph import ids
from graph.types.economy import QuoteType


async def quote(info: Info, market_id: strawberry.ID, outcome: Outcome, amount: Decimal) -> QuoteType:
    context = info.context
    priced = await quotes.quote(
        markets=context.scope.markets, clock=context.services.clock,
        market_id=ids.decode(market_id, "Market"), outcome=outcome, amount=amount,
    )
    return QuoteType.from_quote(priced)
