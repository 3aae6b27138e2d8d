"""The demo data's money: every trade of the seed replayed through the market maker, in time order.

The seeder draws who bought what and when; this module turns that into what the server itself
would have written: shares and proceeds from the market maker's pure functions, each market's
pools and price points, settlement of the resolved and cancelled markets, and every user's
ledger with its running balance. All of it is computed here in Python and bulk inserted by the
caller, so that a seed of 100,000 positions takes seconds and still keeps every invariant of the
contract's "Money and prices" (balance = sum of the ledger, pools by the formulas, no balance
below 0.00).

Funding follows the contract's rule for data from before the economy: each user's GRANT is
STARTING_BALANCE plus the sum of what they will buy, so every user keeps STARTING_BALANCE to spend.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain import market_maker
from domain.entities import MarketStatus, Outcome
from domain.market_maker import Pools, from_cents, to_cents

Row = dict[str, Any]

GRANT_NOTE = "Starting balance, plus the demo's trading funds"
BUY, SALE = 0, 1  # at the same instant a market's buys replay before its sales


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger entry before ids and running balances are assigned."""

    at: datetime
    user_id: int
    kind: str
    cents: int
    market_id: int | None = None
    position_id: int | None = None
    note: str | None = None


@dataclass(slots=True)
class Economy:
    """What the replay produced, ready to insert (positions and markets are updated in place)."""

    transactions: list[Row] = field(default_factory=list)
    price_points: list[Row] = field(default_factory=list)
    balances: dict[int, Decimal] = field(default_factory=dict)


def choose_sales(
    rng: random.Random, positions: list[Row], cutoffs: dict[int, datetime], share: float
) -> dict[int, datetime]:
    """About `share` of the positions sold, each at a whole second after its purchase and before its
    market stopped trading."""
    sales: dict[int, datetime] = {}
    for position in positions:
        room = int((cutoffs[position["market_id"]] - position["created_at"]).total_seconds()) - 1
        if room >= 1 and rng.random() < share:
            sales[position["id"]] = position["created_at"] + timedelta(seconds=rng.randint(1, room))
    return sales


def replay(
    users: list[Row], markets: list[Row], positions: list[Row], sales: dict[int, datetime], *,
    starting_balance: Decimal, liquidity: Decimal, grant_note: str = GRANT_NOTE, settled: bool = True,
) -> Economy:
    """Replay every market's trades, settle unless told not to, and write each user's ledger.

    Grants go first so that one at the same instant as its user's first trade sorts before it."""
    economy = Economy()
    entries = list(grants(users, positions, to_cents(starting_balance), grant_note))
    by_market: dict[int, list[Row]] = defaultdict(list)
    for position in positions:
        by_market[position["market_id"]].append(position)
    for market in markets:
        held = by_market.get(market["id"], [])
        economy.price_points.extend(trade_market(market, held, sales, to_cents(liquidity), entries))
        if settled:
            entries.extend(settle(market, held))
    economy.transactions, economy.balances = ledger(entries, dict.fromkeys((user["id"] for user in users), 0))
    for number, point in enumerate(economy.price_points, start=1):
        point["id"] = number
    return economy


def trade_market(
    market: Row, held: list[Row], sales: dict[int, datetime], liquidity: int, entries: list[Entry]
) -> list[Row]:
    """A market's buys and sales in time order through the market maker; its price points."""
    pools = Pools(liquidity, liquidity)
    points = [price_point(market["id"], pools, market["created_at"])]
    events = [(p["created_at"], BUY, p["id"], p) for p in held]
    events += [(sales[p["id"]], SALE, p["id"], p) for p in held if p["id"] in sales]
    for at, kind, _, position in sorted(events, key=lambda event: event[:3]):
        outcome = Outcome(position["outcome"])
        if kind == BUY:
            trade = market_maker.buy(pools, outcome, to_cents(position["amount"]))
            position["shares"] = from_cents(trade.shares)
            entries.append(Entry(at, position["user_id"], "BUY", -trade.money, market["id"], position["id"]))
        else:
            trade = market_maker.sell(pools, outcome, to_cents(position["shares"]))
            position["proceeds"], position["sold_at"] = from_cents(trade.money), at
            entries.append(Entry(at, position["user_id"], "SELL", trade.money, market["id"], position["id"]))
        pools = trade.after
        points.append(price_point(market["id"], pools, at))
    market["yes_pool"], market["no_pool"] = pools.yes_pool, pools.no_pool
    return points


def price_point(market_id: int, pools: Pools, at: datetime) -> Row:
    return {"market_id": market_id, "yes_pool": pools.yes_pool, "no_pool": pools.no_pool, "at": at}


def settle(market: Row, held: list[Row]) -> Iterable[Entry]:
    """Payouts of a RESOLVED market (shares to the winners, 0.00 to the others) or refunds of a
    CANCELLED one, for every position not sold, at the moment the status changed."""
    status = MarketStatus(market["status"])
    for position in held:
        position.setdefault("proceeds", None)
        position.setdefault("sold_at", None)
        position["payout"] = None
        if position["sold_at"] is not None or status not in (MarketStatus.RESOLVED, MarketStatus.CANCELLED):
            continue
        if status is MarketStatus.CANCELLED:
            position["payout"], kind = position["amount"], "REFUND"
        else:
            won = position["outcome"] == market["resolved_outcome"]
            position["payout"], kind = (position["shares"] if won else Decimal("0.00")), "PAYOUT"
        if position["payout"] > 0:
            yield Entry(market["updated_at"], position["user_id"], kind, to_cents(position["payout"]),
                        market["id"], position["id"])


def grants(users: list[Row], positions: list[Row], starting_balance: int, note: str) -> Iterable[Entry]:
    """Each user's GRANT when they joined (or at their first purchase, if the rows say it came
    earlier): STARTING_BALANCE plus everything they will buy."""
    spent: dict[int, int] = defaultdict(int)
    first_purchase: dict[int, datetime] = {}
    for position in positions:
        spent[position["user_id"]] += to_cents(position["amount"])
        first_purchase[position["user_id"]] = min(position["created_at"], first_purchase.get(position["user_id"],
                                                                                           position["created_at"]))
    for user in users:
        joined = min(user["created_at"], first_purchase.get(user["id"], user["created_at"]))
        yield Entry(joined, user["id"], "GRANT", starting_balance + spent[user["id"]], note=note)


def ledger(
    entries: list[Entry], opening: dict[int, int], *, first_id: int = 1
) -> tuple[list[Row], dict[int, Decimal]]:
    """Ids in commit order (time, then the order the entries were made) from `first_id`, each
    entry's balance after it, and every user's final balance, from `opening` balances in cents."""
    running = dict(opening)
    rows: list[Row] = []
    for number, entry in enumerate(sorted(entries, key=lambda e: e.at), start=first_id):
        running[entry.user_id] += entry.cents
        if running[entry.user_id] < 0:
            raise AssertionError(f"the seed's ledger took user {entry.user_id} below 0.00")
        rows.append({
            "id": number, "user_id": entry.user_id, "kind": entry.kind, "amount": from_cents(entry.cents),
            "balance_after": from_cents(running[entry.user_id]), "market_id": entry.market_id,
            "position_id": entry.position_id, "note": entry.note, "created_at": entry.at,
        })
    return rows, {user_id: from_cents(cents) for user_id, cents in running.items()}
