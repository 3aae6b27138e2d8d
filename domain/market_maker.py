"""The constant-product market maker of the contract ("Money and prices"), in exact integer cents.

Every formula of the contract is computed on integers: an amount of money or shares is a whole
number of cents, and `floor2` of a rational or of a square root becomes an exact integer floor
(`math.isqrt` for the root). Nothing here is ever a float except `probability`, which the
contract declares a Float; rounding only ever favours the market maker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from domain.entities import Outcome, pool_probability

CENT = Decimal("0.01")


def to_cents(value: Decimal) -> int:
    """Whole cents of a Decimal that has at most 2 places (validated before it gets here)."""
    cents = value.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"{value} has more than 2 decimal places")
    return int(cents)


def from_cents(cents: int) -> Decimal:
    """The Decimal with exactly 2 places for a number of cents."""
    return Decimal(cents).scaleb(-2).quantize(CENT)


def ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


@dataclass(frozen=True, slots=True)
class Pools:
    """The market maker's YES and NO shares, in cents; each stays at or above 1 cent."""

    yes: int
    no: int

    @classmethod
    def of(cls, yes_pool: Decimal, no_pool: Decimal) -> Pools:
        return cls(to_cents(yes_pool), to_cents(no_pool))

    @property
    def yes_pool(self) -> Decimal:
        return from_cents(self.yes)

    @property
    def no_pool(self) -> Decimal:
        return from_cents(self.no)

    @property
    def probability(self) -> float:
        return pool_probability(self.yes_pool, self.no_pool)


@dataclass(frozen=True, slots=True)
class Trade:
    """One buy or sale: the shares that changed hands, the money (amount paid or proceeds), both pools."""

    outcome: Outcome
    shares: int
    money: int
    before: Pools
    after: Pools

    @property
    def shares_decimal(self) -> Decimal:
        return from_cents(self.shares)

    @property
    def money_decimal(self) -> Decimal:
        return from_cents(self.money)


def _swap(pools: Pools) -> Pools:
    return Pools(pools.no, pools.yes)


def _oriented(pools: Pools, outcome: Outcome) -> Pools:
    """The pools seen from `outcome`: `yes` is the outcome's own pool (NO is YES mirrored)."""
    return pools if outcome is Outcome.YES else _swap(pools)


def buy(pools: Pools, outcome: Outcome, amount: int) -> Trade:
    """Buy `outcome` with `amount` cents: shares = floor2(y + a − y·n / (n + a)) for YES."""
    if amount <= 0:
        raise ValueError("amount must be positive")
    own = _oriented(pools, outcome)
    # floor(y + a − y·n/(n + a)) on integers is y + a − ceil(y·n/(n + a)).
    kept = ceil_div(own.yes * own.no, own.no + amount)
    shares = own.yes + amount - kept
    after = _oriented(Pools(own.yes + amount - shares, own.no + amount), outcome)
    return Trade(outcome=outcome, shares=shares, money=amount, before=pools, after=after)


def sale_proceeds(own: int, other: int, shares: int) -> int:
    """floor2(((y + s + n) − √((y + s + n)² − 4·s·n)) / 2) in cents, the root taken exactly."""
    total = own + shares + other
    discriminant = total * total - 4 * shares * other
    root = math.isqrt(discriminant)
    if root * root == discriminant:
        return (total - root) // 2
    # √D lies strictly between root and root + 1, so the half lies strictly inside an interval
    # whose floor this is, whichever the parity of total − root.
    return (total - root - 1) // 2


def sell(pools: Pools, outcome: Outcome, shares: int) -> Trade:
    """Sell `shares` cents of `outcome` back: the pools move by the shares and the proceeds."""
    if shares <= 0:
        raise ValueError("shares must be positive")
    own = _oriented(pools, outcome)
    proceeds = sale_proceeds(own.yes, own.no, shares)
    after = _oriented(Pools(own.yes + shares - proceeds, own.no - proceeds), outcome)
    return Trade(outcome=outcome, shares=shares, money=proceeds, before=pools, after=after)
