"""market embeddings (the search index)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import persistence.types

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Hand-written: the same DDL on PostgreSQL (BYTEA) and SQLite (BLOB). No foreign key to
    # markets on purpose: a deleted market's row stays as a tombstone (vector and status NULL).
    op.create_table('market_embeddings',
    sa.Column('market_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('embedder', sa.String(length=64), nullable=False),
    sa.Column('dimension', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('indexed_at', persistence.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('market_id', name=op.f('pk_market_embeddings'))
    )
    op.create_index('ix_market_embeddings_indexed_at', 'market_embeddings', ['indexed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_market_embeddings_indexed_at', table_name='market_embeddings')
    op.drop_table('market_embeddings')
