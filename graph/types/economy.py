"""The Quote type: what a purchase would give right now."""

from __future__ import annotations

from decimal import Decimal

import strawberry

from domain.services.quotes import Quote
from graph.types.enums import OutcomeEnum


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
