"""economy: balances, the market maker's pools, shares and settlement, the ledger, price history,
idempotency keys; existing data replayed into the rules

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from alembic import context, op

import persistence.types
from domain.market_maker import from_cents, to_cents
from persistence.replay import replay_purchases

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

IDENTITY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
MONEY = persistence.types.Money(precision=14, scale=2)
WHEN = persistence.types.UTCDateTime(timezone=True)
GRANT_NOTE = "Starting balance, with the amounts of positions opened before balances existed"


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

    replay_purchases(op.get_bind(), starting_balance=setting('STARTING_BALANCE', '1000.00'),
                     liquidity=from_cents(liquidity), note=GRANT_NOTE)


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
