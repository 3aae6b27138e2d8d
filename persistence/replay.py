"""Positions that exist without a ledger (a database from before the economy, demo data inserted
in bulk) brought into the contract's rules: every user a GRANT of STARTING_BALANCE plus the
amounts of their positions, then every position a BUY, in (created_at, id) order, through its
market's maker, so shares, pools, price points and the ledger follow the rules and every user
keeps STARTING_BALANCE ("Money and prices", "Existing data").

Synchronous, on one connection, inside the caller's transaction: migration 0003 runs it on its
bind, `markets seed` through `AsyncConnection.run_sync`. Rows are read in bulk, the maker runs
in Python, writes go in batches. It expects no transactions and no price points yet, and leaves
markets' statuses alone (nothing is settled).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from domain.entities import Outcome
from domain.market_maker import Pools, buy, from_cents, to_cents
from persistence.types import Identity, Money, UTCDateTime

BATCH = 5000

# The columns this needs, as revision 0003 made them (never the application's current metadata,
# which may move on while the migration must not).
USERS = sa.table('users', sa.column('id', Identity), sa.column('created_at', UTCDateTime()),
                 sa.column('balance', Money()))
MARKETS = sa.table('markets', sa.column('id', Identity), sa.column('created_at', UTCDateTime()),
                   sa.column('yes_pool', Money()), sa.column('no_pool', Money()))
POSITIONS = sa.table('positions', sa.column('id', Identity), sa.column('market_id', Identity),
                     sa.column('user_id', Identity), sa.column('outcome', sa.String), sa.column('amount', Money()),
                     sa.column('created_at', UTCDateTime()), sa.column('shares', Money()))
TRANSACTIONS = sa.table('transactions', sa.column('user_id', Identity), sa.column('kind', sa.String),
                        sa.column('amount', Money()), sa.column('balance_after', Money()),
                        sa.column('market_id', Identity), sa.column('position_id', Identity),
                        sa.column('note', sa.String), sa.column('created_at', UTCDateTime()))
PRICE_POINTS = sa.table('price_points', sa.column('market_id', Identity), sa.column('yes_pool', Money()),
                        sa.column('no_pool', Money()), sa.column('at', UTCDateTime()))


def write(connection: Connection, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert in batches (executemany: one round trip per batch on asyncpg)."""
    for start in range(0, len(rows), BATCH):
        connection.execute(table.insert(), rows[start:start + BATCH])


def update_by_id(connection: Connection, table: str, rows: list[dict[str, Any]], *columns: str) -> None:
    """`UPDATE table SET column = value WHERE id = row_id` for many rows, batched: on PostgreSQL one
    statement per batch over unnest()ed arrays (executemany would be a statement per row)."""
    if connection.dialect.name == 'postgresql':
        sets = ", ".join(f"{c} = v.{c}" for c in columns)
        arrays = ", ".join(f"CAST(:{c} AS numeric[])" for c in columns)
        statement = sa.text(f"UPDATE {table} SET {sets} FROM unnest(CAST(:row_id AS bigint[]), {arrays}) "
                            f"AS v(row_id, {', '.join(columns)}) WHERE {table}.id = v.row_id")
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            connection.execute(statement, {name: [r[name] for r in batch] for name in ('row_id', *columns)})
        return
    money = sa.table(table, sa.column('id', Identity), *(sa.column(c, Money()) for c in columns))
    update = money.update().where(money.c.id == sa.bindparam('row_id')).values(
        {c: sa.bindparam(c) for c in columns}
    )
    for start in range(0, len(rows), BATCH):
        connection.execute(update, rows[start:start + BATCH])


def replay_purchases(connection: Connection, *, starting_balance: Decimal, liquidity: Decimal, note: str) -> None:
    """Grants, then every position replayed as a purchase; see the module's docstring."""
    held = connection.execute(sa.select(POSITIONS).order_by(POSITIONS.c.created_at, POSITIONS.c.id)).all()
    users = connection.execute(sa.select(USERS.c.id, USERS.c.created_at).order_by(USERS.c.id)).all()
    markets = connection.execute(sa.select(MARKETS.c.id, MARKETS.c.created_at).order_by(MARKETS.c.id)).all()
    spent: dict[int, int] = defaultdict(int)
    first_position: dict[int, datetime] = {}
    for position in held:
        spent[position.user_id] += to_cents(position.amount)
        first_position.setdefault(position.user_id, position.created_at)
    balances = {user.id: to_cents(starting_balance) + spent[user.id] for user in users}
    grants = [
        {"user_id": user.id, "kind": "GRANT", "amount": from_cents(balances[user.id]),
         "balance_after": from_cents(balances[user.id]), "market_id": None, "position_id": None, "note": note,
         # Before the user's first purchase even if the rows' times disagree.
         "created_at": min(user.created_at, first_position.get(user.id, user.created_at))}
        for user in users
    ]
    fresh = Pools.of(liquidity, liquidity)
    pools = {market.id: fresh for market in markets}
    points = [{"market_id": m.id, "yes_pool": liquidity, "no_pool": liquidity, "at": m.created_at} for m in markets]
    buys: list[dict[str, Any]] = []
    shares: list[dict[str, Any]] = []
    for position in held:
        amount = to_cents(position.amount)
        trade = buy(pools[position.market_id], Outcome(position.outcome), amount)
        pools[position.market_id] = trade.after
        balances[position.user_id] -= amount
        shares.append({"row_id": position.id, "shares": trade.shares_decimal})
        buys.append({"user_id": position.user_id, "kind": "BUY", "amount": -position.amount,
                     "balance_after": from_cents(balances[position.user_id]), "market_id": position.market_id,
                     "position_id": position.id, "note": None, "created_at": position.created_at})
        points.append({"market_id": position.market_id, "yes_pool": trade.after.yes_pool,
                       "no_pool": trade.after.no_pool, "at": position.created_at})
    write(connection, TRANSACTIONS, grants)
    write(connection, TRANSACTIONS, buys)
    write(connection, PRICE_POINTS, points)
    update_by_id(connection, 'positions', shares, 'shares')
    moved = [{"row_id": market_id, "yes_pool": p.yes_pool, "no_pool": p.no_pool}
             for market_id, p in pools.items() if p != fresh]
    update_by_id(connection, 'markets', moved, 'yes_pool', 'no_pool')
    connection.execute(USERS.update().values(balance=starting_balance))
