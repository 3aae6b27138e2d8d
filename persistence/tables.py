"""The schema: users, markets, positions, with the indexes keyset pagination needs; the search index."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text, func

from persistence.types import Identity, Money, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Identity, primary_key=True, autoincrement=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_users_created_at_id", users.c.created_at, users.c.id)
Index("ix_users_role_created_at_id", users.c.role, users.c.created_at, users.c.id)

markets = Table(
    "markets",
    metadata,
    Column("id", Identity, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("volume", Money(), nullable=False),
    Column("end_date", UTCDateTime(), nullable=True),
    Column("resolved_outcome", String(3), nullable=True),
    Column("creator_id", Identity, ForeignKey("users.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
Index("ix_markets_created_at_id", markets.c.created_at, markets.c.id)
Index("ix_markets_volume_id", markets.c.volume, markets.c.id)
Index("ix_markets_end_date_id", markets.c.end_date, markets.c.id)
Index("ix_markets_lower_name_id", func.lower(markets.c.name), markets.c.id)
Index("ix_markets_status_created_at_id", markets.c.status, markets.c.created_at, markets.c.id)
Index("ix_markets_status_volume_id", markets.c.status, markets.c.volume, markets.c.id)
Index("ix_markets_creator_id_created_at_id", markets.c.creator_id, markets.c.created_at, markets.c.id)

positions = Table(
    "positions",
    metadata,
    Column("id", Identity, primary_key=True, autoincrement=True),
    Column("market_id", Identity, ForeignKey("markets.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Identity, ForeignKey("users.id"), nullable=False),
    Column("outcome", String(3), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_positions_market_id_created_at_id", positions.c.market_id, positions.c.created_at, positions.c.id)
Index("ix_positions_user_id_created_at_id", positions.c.user_id, positions.c.created_at, positions.c.id)

# One row per market: its vector (float32 bytes, little-endian) with the embedder's name and
# dimension. No foreign key: when a market goes, its row stays a while as a tombstone (no
# vector, no status), so every process's in-memory index learns of the deletion incrementally.
market_embeddings = Table(
    "market_embeddings",
    metadata,
    Column("market_id", BigInteger, primary_key=True, autoincrement=False),
    Column("embedder", String(64), nullable=False),
    Column("dimension", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=True),
    Column("content_hash", String(64), nullable=False),
    Column("status", String(16), nullable=True),
    Column("indexed_at", UTCDateTime(), nullable=False),
)
Index("ix_market_embeddings_indexed_at", market_embeddings.c.indexed_at)
