"""The market maker against the contract's formulas: worked examples by hand, a cross-check with
an independent 60-digit Decimal reading of each formula, and properties over random trade
sequences (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Context, Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.entities import Outcome
from domain.market_maker import Pools, buy, from_cents, sell, to_cents

D = Decimal
CENT = D("0.01")
LIQUIDITY = 10_000  # 100.00 in cents


def floor2(value: Decimal) -> Decimal:
    """The contract's floor2: toward zero, 2 places."""
    return value.quantize(CENT, rounding=ROUND_DOWN)


def contract_buy(y: Decimal, n: Decimal, a: Decimal, outcome: Outcome) -> tuple[Decimal, Decimal, Decimal]:
    """The contract's buying formulas, read literally, in 60-digit decimals: (shares, yesPool, noPool)."""
    with localcontext(Context(prec=60)):
        if outcome is Outcome.YES:
            shares = floor2(y + a - y * n / (n + a))
            return shares, y + a - shares, n + a
        shares = floor2(n + a - y * n / (y + a))
        return shares, y + a, n + a - shares


def contract_sell(y: Decimal, n: Decimal, s: Decimal, outcome: Outcome) -> tuple[Decimal, Decimal, Decimal]:
    """The contract's selling formulas, read literally, in 60-digit decimals: (proceeds, yesPool, noPool)."""
    with localcontext(Context(prec=60)):
        if outcome is Outcome.YES:
            total = y + s + n
            proceeds = floor2((total - (total * total - 4 * s * n).sqrt()) / 2)
            return proceeds, y + s - proceeds, n - proceeds
        total = n + s + y
        proceeds = floor2((total - (total * total - 4 * s * y).sqrt()) / 2)
        return proceeds, y - proceeds, n + s - proceeds


def test_a_ten_yes_buy_on_fresh_pools_worked_by_hand() -> None:
    # 100 + 10 − 100·100/110 = 19.0909… → 19.09 shares; yesPool 110 − 19.09 = 90.91, noPool 110.
    trade = buy(Pools(LIQUIDITY, LIQUIDITY), Outcome.YES, 1000)
    assert trade.shares_decimal == D("19.09")
    assert (trade.after.yes_pool, trade.after.no_pool) == (D("90.91"), D("110.00"))
    assert trade.after.probability == 110 / (90.91 + 110)
    assert Pools(LIQUIDITY, LIQUIDITY).probability == 0.5


def test_a_ten_no_buy_mirrors_the_yes_buy() -> None:
    trade = buy(Pools(LIQUIDITY, LIQUIDITY), Outcome.NO, 1000)
    assert trade.shares_decimal == D("19.09")
    assert (trade.after.yes_pool, trade.after.no_pool) == (D("110.00"), D("90.91"))


def test_selling_the_bought_shares_back_worked_by_hand() -> None:
    # A = 90.91 + 19.09 + 110 = 220; D = 220² − 4·19.09·110 = 40000.40; √D = 200.0009999…
    # (220 − 200.0009999…)/2 = 9.99950… → 9.99: one cent less than was paid.
    trade = sell(Pools(9091, 11000), Outcome.YES, 1909)
    assert trade.money_decimal == D("9.99")
    assert (trade.after.yes_pool, trade.after.no_pool) == (D("100.01"), D("100.01"))


def test_a_perfect_square_discriminant_takes_the_exact_root() -> None:
    # y = 0.02, n = 0.04, s = 0.04: A = 10 cents, D = 100 − 4·4·4 = 36 = 6², proceeds (10 − 6)/2 = 2 cents
    # exactly (the branch where no root is rounded).
    trade = sell(Pools(2, 4), Outcome.YES, 4)
    assert trade.money == 2
    assert contract_sell(D("0.02"), D("0.04"), D("0.04"), Outcome.YES)[0] == D("0.02")
    assert (trade.after.yes, trade.after.no) == (4, 2)


cents = st.integers(min_value=1, max_value=10**10)
amounts = st.integers(min_value=1, max_value=10**8)  # 0.01 to 1,000,000.00
outcomes = st.sampled_from(list(Outcome))


@settings(max_examples=400, deadline=None)
@given(yes=cents, no=cents, amount=amounts, outcome=outcomes)
def test_buying_matches_the_contract_formula(yes: int, no: int, amount: int, outcome: Outcome) -> None:
    trade = buy(Pools(yes, no), outcome, amount)
    shares, yes_pool, no_pool = contract_buy(from_cents(yes), from_cents(no), from_cents(amount), outcome)
    assert (trade.shares_decimal, trade.after.yes_pool, trade.after.no_pool) == (shares, yes_pool, no_pool)
    assert trade.shares >= amount  # the contract: shares ≥ a, so a valid amount buys at least 0.01


@settings(max_examples=400, deadline=None)
@given(yes=cents, no=cents, shares=cents, outcome=outcomes)
def test_selling_matches_the_contract_formula(yes: int, no: int, shares: int, outcome: Outcome) -> None:
    trade = sell(Pools(yes, no), outcome, shares)
    proceeds, yes_pool, no_pool = contract_sell(from_cents(yes), from_cents(no), from_cents(shares), outcome)
    assert (trade.money_decimal, trade.after.yes_pool, trade.after.no_pool) == (proceeds, yes_pool, no_pool)


@dataclass
class Book:
    """A market replayed trade by trade, with the sums the contract's pool identities need."""

    pools: Pools = field(default_factory=lambda: Pools(LIQUIDITY, LIQUIDITY))
    held: list[tuple[Outcome, int]] = field(default_factory=list)  # (outcome, shares) of positions held
    bought: int = 0
    bought_shares: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    sold_shares: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    proceeds: int = 0


operations = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), outcomes, amounts),
        st.tuples(st.just("sell"), st.integers(min_value=0, max_value=10**6), st.just(0)),
    ),
    min_size=1, max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(steps=operations)
def test_random_trade_sequences_keep_every_invariant(steps: list[tuple[str, object, int]]) -> None:
    book = Book()
    for kind, what, amount in steps:
        before = book.pools
        if kind == "buy":
            assert isinstance(what, Outcome)
            trade = buy(before, what, amount)
            book.held.append((what, trade.shares))
            book.bought += amount
            book.bought_shares[what] += trade.shares
        elif book.held:
            assert isinstance(what, int)
            outcome, shares = book.held.pop(what % len(book.held))
            trade = sell(before, outcome, shares)
            book.sold_shares[outcome] += shares
            book.proceeds += trade.money
        else:
            continue
        book.pools = trade.after
        assert book.pools.yes * book.pools.no >= before.yes * before.no  # the product never decreases
        assert book.pools.yes >= 1 and book.pools.no >= 1  # pools stay at or above 0.01
        assert 0.0 < book.pools.probability < 1.0
    # The contract: yesPool = L + Σ buys' a − Σ YES buys' shares + Σ YES sales' shares − Σ sales' proceeds.
    for outcome in Outcome:
        own = book.pools.yes if outcome is Outcome.YES else book.pools.no
        assert own == (LIQUIDITY + book.bought - book.bought_shares[outcome] + book.sold_shares[outcome]
                       - book.proceeds)
    assert book.pools.yes * book.pools.no >= LIQUIDITY * LIQUIDITY


@settings(max_examples=400, deadline=None)
@given(yes=cents, no=cents, amount=amounts, outcome=outcomes)
def test_buying_then_selling_the_same_shares_never_pays_more(yes: int, no: int, amount: int, outcome: Outcome) -> None:
    bought = buy(Pools(yes, no), outcome, amount)
    sold = sell(bought.after, outcome, bought.shares)
    assert sold.money <= amount


@pytest.mark.parametrize(("text", "value"), [("12.50", 1250), ("0.01", 1), ("1000000", 100_000_000), ("7", 700)])
def test_cents_round_trip(text: str, value: int) -> None:
    assert to_cents(D(text)) == value
    assert from_cents(value) == D(text)
    assert str(from_cents(value)).count(".") == 1 and len(str(from_cents(value)).split(".")[1]) == 2


def test_more_than_two_places_is_refused() -> None:
    with pytest.raises(ValueError, match="2 decimal places"):
        to_cents(D("0.001"))
