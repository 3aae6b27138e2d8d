"""users, markets and positions

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

import persistence.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('created_at', persistence.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index('ix_users_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_users_role_created_at_id', ['role', 'created_at', 'id'], unique=False)

    op.create_table('markets',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('volume', persistence.types.Money(precision=14, scale=2), nullable=False),
    sa.Column('end_date', persistence.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_outcome', sa.String(length=3), nullable=True),
    sa.Column('creator_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', persistence.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', persistence.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['creator_id'], ['users.id'], name=op.f('fk_markets_creator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_markets'))
    )
    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.create_index('ix_markets_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_markets_creator_id_created_at_id', ['creator_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_markets_end_date_id', ['end_date', 'id'], unique=False)
        batch_op.create_index('ix_markets_status_created_at_id', ['status', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_markets_status_volume_id', ['status', 'volume', 'id'], unique=False)
        batch_op.create_index('ix_markets_volume_id', ['volume', 'id'], unique=False)
    op.create_index('ix_markets_lower_name_id', 'markets', [sa.text('lower(name)'), 'id'], unique=False)

    op.create_table('positions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('market_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('outcome', sa.String(length=3), nullable=False),
    sa.Column('amount', persistence.types.Money(precision=14, scale=2), nullable=False),
    sa.Column('created_at', persistence.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['market_id'], ['markets.id'], name=op.f('fk_positions_market_id_markets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_positions_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_positions'))
    )
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.create_index('ix_positions_market_id_created_at_id', ['market_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_positions_user_id_created_at_id', ['user_id', 'created_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('positions', schema=None) as batch_op:
        batch_op.drop_index('ix_positions_user_id_created_at_id')
        batch_op.drop_index('ix_positions_market_id_created_at_id')

    op.drop_table('positions')
    with op.batch_alter_table('markets', schema=None) as batch_op:
        batch_op.drop_index('ix_markets_volume_id')
        batch_op.drop_index('ix_markets_lower_name_id')
        batch_op.drop_index('ix_markets_status_volume_id')
        batch_op.drop_index('ix_markets_status_created_at_id')
        batch_op.drop_index('ix_markets_end_date_id')
        batch_op.drop_index('ix_markets_creator_id_created_at_id')
        batch_op.drop_index('ix_markets_created_at_id')

    op.drop_table('markets')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index('ix_users_role_created_at_id')
        batch_op.drop_index('ix_users_created_at_id')

    op.drop_table('users')
