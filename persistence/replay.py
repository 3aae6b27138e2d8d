"""Positions that exist without a ledger (a database from before the economy, demo data inserted
in bulk) brought into the contract's rules: every user a GRANT of STARTING_BALANCE plus the
amounts of their positions, then every position a BUY, in (created_at, id) order, through its
market's maker, so shares, pools, price points and the ledger follow the rules and every user
keeps STARTING_BALANCE ("Money and prices", "Existing data").

Synchronous, on one connection, inside the caller's transaction: migration 0003 runs it on its
bind. Rows are read in bulk, the seed's replay (persistence/seed_economy.py) runs the maker in
Python, writes go in batches. It expects no transactions and no price points yet, and leaves
markets' statuses alone (nothing is settled).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from persistence.seed_economy import replay
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
    """Grants, then every position replayed as a purchase (the seed's replay, without sales or
    settlement); see the module's docstring."""
    columns = POSITIONS.c
    held = [dict(row._mapping) for row in connection.execute(
        sa.select(columns.id, columns.market_id, columns.user_id, columns.outcome, columns.amount, columns.created_at)
        .order_by(columns.created_at, columns.id)
    )]
    users = [dict(row._mapping) for row in connection.execute(sa.select(USERS.c.id, USERS.c.created_at))]
    markets = [dict(row._mapping) for row in connection.execute(sa.select(MARKETS.c.id, MARKETS.c.created_at))]
    replayed = replay(users, markets, held, {}, starting_balance=starting_balance, liquidity=liquidity,
                      grant_note=note, settled=False)
    # In commit order without ids: the tables' identities number them, and their sequences follow.
    write(connection, TRANSACTIONS, [without_id(row) for row in replayed.transactions])
    write(connection, PRICE_POINTS, [without_id(row) for row in replayed.price_points])
    update_by_id(connection, 'positions', [{"row_id": p["id"], "shares": p["shares"]} for p in held], 'shares')
    moved = [{"row_id": m["id"], "yes_pool": m["yes_pool"], "no_pool": m["no_pool"]} for m in markets
             if m["yes_pool"] != liquidity or m["no_pool"] != liquidity]
    update_by_id(connection, 'markets', moved, 'yes_pool', 'no_pool')
    connection.execute(USERS.update().values(balance=starting_balance))


def without_id(row: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in row.items() if name != "id"}
