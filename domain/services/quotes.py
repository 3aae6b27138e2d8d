"""quote: what openPosition would give right now, by its own rules, without buying anything.

The same amount rule, the same "open for trading" rule and the same market-maker function as a
purchase (domain/services/positions.py), so a quote and the purchase that follows it agree to the
cent while the pools stay put. No balance is looked at and nothing is locked or written: anyone
may ask, as often as they like.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from domain import market_maker, validation
from domain.entities import Market, Outcome
from domain.errors import NotFound
from domain.market_maker import Pools
from domain.ports import Clock
from domain.services.positions import ensure_open


class MarketsById(Protocol):
    async def get_many(self, ids: Sequence[int]) -> Mapping[int, Market]: ...


@dataclass(frozen=True, slots=True)
class Quote:
    """A purchase priced, not made."""

    outcome: Outcome
    amount: Decimal
    shares: Decimal
    probability_before: float
    probability_after: float


async def quote(
    *, markets: MarketsById, clock: Clock, market_id: int | None, outcome: Outcome, amount: Decimal
) -> Quote:
    """Price `amount` on `outcome`: BAD_USER_INPUT (field `amount`) for an amount openPosition would
    refuse, NOT_FOUND for no such market, CONFLICT for a market not open for trading."""
    clean = validation.amount(amount, field="amount")
    market = (await markets.get_many([market_id])).get(market_id) if market_id is not None else None
    if market is None:
        raise NotFound("No market with this id")
    ensure_open(market, clock())
    trade = market_maker.buy(Pools.of(market.yes_pool, market.no_pool), outcome, market_maker.to_cents(clean))
    return Quote(
        outcome=outcome, amount=clean, shares=trade.shares_decimal, probability_before=trade.before.probability,
        probability_after=trade.after.probability,
    )
