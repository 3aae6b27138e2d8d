"""economy: balances, the market maker's pools, shares and settlement, the ledger, price history,
idempotency keys; existing data replayed into the rules

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import context, op

import persistence.types
from domain.entities import Outcome
from domain.market_maker import Pools, buy, from_cents, to_cents

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

IDENTITY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
MONEY = persistence.types.Money(precision=14, scale=2)
WHEN = persistence.types.UTCDateTime(timezone=True)
GRANT_NOTE = "Starting balance, with the amounts of positions opened before balances existed"
BATCH = 5000


def setting(name: str, default: str) -> Decimal:
    """STARTING_BALANCE and MARKET_LIQUIDITY as the caller of the migration passed them."""
    return Decimal(context.config.get_main_option(name.lower()) or default)


def add_money_column(table: str, column: str, *, default_cents: int | None, check: str | None = None) -> None:
    """A Money column, NOT NULL with a default when `default_cents` is given, with an optional CHECK
    named `ck_<table>_<column>_<check name>` as in the metadata.

    SQLite adds a column with its CHECK in one ALTER (a table constraint would need the table
    rebuilt, which foreign keys forbid here); PostgreSQL adds the named constraint after.
    """
    condition = {'balance_not_negative': f'{column} >= 0', 'positive': f'{column} > 0'}.get(check or '')
    name = f"ck_{table}_{check}" if check == 'balance_not_negative' else f"ck_{table}_{column}_{check}"
    if op.get_bind().dialect.name == 'sqlite':
        clause = f" NOT NULL DEFAULT {default_cents}" if default_cents is not None else ""
        constraint = f" CONSTRAINT {name} CHECK ({condition})" if condition else ""
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} BIGINT{clause}{constraint}")
        return
    default = sa.text(str(from_cents(default_cents))) if default_cents is not None else None
    op.add_column(table, sa.Column(column, MONEY, nullable=default is None, server_default=default))
    if default is not None:
        op.alter_column(table, column, server_default=None)
    if condition:
        op.create_check_constraint(op.f(name), table, condition)


def upgrade() -> None:
    liquidity = to_cents(setting('MARKET_LIQUIDITY', '100.00'))
    add_money_column('users', 'balance', default_cents=0, check='balance_not_negative')
    add_money_column('markets', 'yes_pool', default_cents=liquidity, check='positive')
    add_money_column('markets', 'no_pool', default_cents=liquidity, check='positive')
    add_money_column('positions', 'shares', default_cents=0)
    add_money_column('positions', 'proceeds', default_cents=None)
    add_money_column('positions', 'payout', default_cents=None)
    op.add_column('positions', sa.Column('sold_at', WHEN, nullable=True))

    op.create_table('transactions',
    sa.Column('id', IDENTITY, autoincrement=True, nullable=False),
    sa.Column('user_id', IDENTITY, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('balance_after', MONEY, nullable=False),
    sa.Column('market_id', IDENTITY, nullable=True),
    sa.Column('position_id', IDENTITY, nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_transactions_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['market_id'], ['markets.id'], name=op.f('fk_transactions_market_id_markets'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], name=op.f('fk_transactions_position_id_positions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transactions'))
    )
    op.create_index('ix_transactions_user_id_created_at_id', 'transactions', ['user_id', 'created_at', 'id'])
    op.create_index('ix_transactions_market_id', 'transactions', ['market_id'])
    op.create_index('ix_transactions_position_id', 'transactions', ['position_id'])

    op.create_table('price_points',
    sa.Column('id', IDENTITY, autoincrement=True, nullable=False),
    sa.Column('market_id', IDENTITY, nullable=False),
    sa.Column('yes_pool', MONEY, nullable=False),
    sa.Column('no_pool', MONEY, nullable=False),
    sa.Column('at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['market_id'], ['markets.id'], name=op.f('fk_price_points_market_id_markets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_points'))
    )
    op.create_index('ix_price_points_market_id_at_id', 'price_points', ['market_id', 'at', 'id'])

    op.create_table('idempotency_keys',
    sa.Column('user_id', IDENTITY, nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('market_id', sa.BigInteger(), nullable=False),
    sa.Column('outcome', sa.String(length=3), nullable=False),
    sa.Column('amount', MONEY, nullable=False),
    sa.Column('position_id', IDENTITY, nullable=True),
    sa.Column('created_at', WHEN, nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_idempotency_keys_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['position_id'], ['positions.id'], name=op.f('fk_idempotency_keys_position_id_positions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'])
    op.create_index('ix_idempotency_keys_position_id', 'idempotency_keys', ['position_id'])

    replay_existing_data(starting=setting('STARTING_BALANCE', '1000.00'), liquidity=liquidity)


# Lightweight tables as this revision sees them (never the application's current metadata).
USERS = sa.table('users', sa.column('id', IDENTITY), sa.column('created_at', WHEN), sa.column('balance', MONEY))
MARKETS = sa.table('markets', sa.column('id', IDENTITY), sa.column('created_at', WHEN),
                   sa.column('yes_pool', MONEY), sa.column('no_pool', MONEY))
POSITIONS = sa.table('positions', sa.column('id', IDENTITY), sa.column('market_id', IDENTITY),
                     sa.column('user_id', IDENTITY), sa.column('outcome', sa.String), sa.column('amount', MONEY),
                     sa.column('created_at', WHEN), sa.column('shares', MONEY))
TRANSACTIONS = sa.table('transactions', sa.column('user_id', IDENTITY), sa.column('kind', sa.String),
                        sa.column('amount', MONEY), sa.column('balance_after', MONEY),
                        sa.column('market_id', IDENTITY), sa.column('position_id', IDENTITY),
                        sa.column('note', sa.String), sa.column('created_at', WHEN))
PRICE_POINTS = sa.table('price_points', sa.column('market_id', IDENTITY), sa.column('yes_pool', MONEY),
                        sa.column('no_pool', MONEY), sa.column('at', WHEN))


def write(table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert in batches of executemany (one round trip per batch on asyncpg)."""
    bind = op.get_bind()
    for start in range(0, len(rows), BATCH):
        bind.execute(table.insert(), rows[start:start + BATCH])


def update_by_id(table: str, rows: list[dict[str, Any]], *columns: str) -> None:
    """`UPDATE table SET column = value WHERE id = row_id` for many rows, batched: on PostgreSQL one
    statement per batch over unnest()ed arrays (executemany would be a statement per row)."""
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        sets = ", ".join(f"{c} = v.{c}" for c in columns)
        arrays = ", ".join(f"CAST(:{c} AS numeric[])" for c in columns)
        statement = sa.text(f"UPDATE {table} SET {sets} FROM unnest(CAST(:row_id AS bigint[]), {arrays}) "
                            f"AS v(row_id, {', '.join(columns)}) WHERE {table}.id = v.row_id")
        for start in range(0, len(rows), BATCH):
            batch = rows[start:start + BATCH]
            bind.execute(statement, {name: [r[name] for r in batch] for name in ('row_id', *columns)})
        return
    money = sa.table(table, sa.column('id', IDENTITY), *(sa.column(c, MONEY) for c in columns))
    update = money.update().where(money.c.id == sa.bindparam('row_id')).values(
        {c: sa.bindparam(c) for c in columns}
    )
    for start in range(0, len(rows), BATCH):
        bind.execute(update, rows[start:start + BATCH])


def replay_existing_data(*, starting: Decimal, liquidity: int) -> None:
    """The contract's "Existing data": each user a GRANT of STARTING_BALANCE plus their positions'
    amounts, then every position a BUY in (created_at, id) order through its market's maker."""
    bind = op.get_bind()
    held = bind.execute(sa.select(POSITIONS).order_by(POSITIONS.c.created_at, POSITIONS.c.id)).all()
    users = bind.execute(sa.select(USERS.c.id, USERS.c.created_at).order_by(USERS.c.id)).all()
    markets = bind.execute(sa.select(MARKETS.c.id, MARKETS.c.created_at).order_by(MARKETS.c.id)).all()
    spent: dict[int, int] = defaultdict(int)
    first_position: dict[int, datetime] = {}
    for position in held:
        spent[position.user_id] += to_cents(position.amount)
        first_position.setdefault(position.user_id, position.created_at)
    balances = {user.id: to_cents(starting) + spent[user.id] for user in users}
    grants = [
        {"user_id": user.id, "kind": "GRANT", "amount": from_cents(balances[user.id]),
         "balance_after": from_cents(balances[user.id]), "market_id": None, "position_id": None,
         "note": GRANT_NOTE, "created_at": min(user.created_at, first_position.get(user.id, user.created_at))}
        for user in users
    ]
    pools = {market.id: Pools(liquidity, liquidity) for market in markets}
    points = [{"market_id": m.id, "yes_pool": from_cents(liquidity), "no_pool": from_cents(liquidity),
               "at": m.created_at} for m in markets]
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
    write(TRANSACTIONS, grants)
    write(TRANSACTIONS, buys)
    write(PRICE_POINTS, points)
    update_by_id('positions', shares, 'shares')
    moved = [{"row_id": market_id, "yes_pool": p.yes_pool, "no_pool": p.no_pool}
             for market_id, p in pools.items() if p != Pools(liquidity, liquidity)]
    update_by_id('markets', moved, 'yes_pool', 'no_pool')
    bind.execute(USERS.update().values(balance=starting))


def downgrade() -> None:
    op.drop_table('idempotency_keys')
    op.drop_table('price_points')
    op.drop_table('transactions')
    if op.get_bind().dialect.name != 'sqlite':
        # SQLite drops a column's own CHECK with the column.
        for table, name in (('markets', 'ck_markets_no_pool_positive'), ('markets', 'ck_markets_yes_pool_positive'),
                            ('users', 'ck_users_balance_not_negative')):
            op.drop_constraint(op.f(name), table, type_='check')
    for table, column in (('positions', 'sold_at'), ('positions', 'payout'), ('positions', 'proceeds'),
                          ('positions', 'shares'), ('markets', 'no_pool'), ('markets', 'yes_pool'),
                          ('users', 'balance')):
        op.drop_column(table, column)
