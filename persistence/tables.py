"""The schema: users, markets, positions, the ledger and price history, with the indexes keyset
pagination needs; idempotency keys; the search index."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    func,
)

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
    # Kept equal to the sum of the user's transactions; never below 0.00, the database says so too.
    Column("balance", Money(), CheckConstraint("balance >= 0", name="balance_not_negative"), nullable=False),
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
    # The market maker's shares; at least 0.01 each (the maker's formulas keep them there).
    Column("yes_pool", Money(), CheckConstraint("yes_pool > 0", name="yes_pool_positive"), nullable=False),
    Column("no_pool", Money(), CheckConstraint("no_pool > 0", name="no_pool_positive"), nullable=False),
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
    Column("shares", Money(), nullable=False),
    # Set once by a sale (proceeds, sold_at) or by settlement (payout); never both.
    Column("proceeds", Money(), nullable=True),
    Column("sold_at", UTCDateTime(), nullable=True),
    Column("payout", Money(), nullable=True),
)
Index("ix_positions_market_id_created_at_id", positions.c.market_id, positions.c.created_at, positions.c.id)
Index("ix_positions_user_id_created_at_id", positions.c.user_id, positions.c.created_at, positions.c.id)

# The ledger: one row per change of a balance, `balance_after` the running sum per user. Rows
# outlive their market and position (both set to NULL when those are deleted).
transactions = Table(
    "transactions",
    metadata,
    Column("id", Identity, primary_key=True, autoincrement=True),
    Column("user_id", Identity, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("balance_after", Money(), nullable=False),
    Column("market_id", Identity, ForeignKey("markets.id", ondelete="SET NULL"), nullable=True),
    Column("position_id", Identity, ForeignKey("positions.id", ondelete="SET NULL"), nullable=True),
    Column("note", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)
Index("ix_transactions_user_id_created_at_id", transactions.c.user_id, transactions.c.created_at, transactions.c.id)
# For ON DELETE SET NULL: without them deleting a market scans the ledger once per position.
Index("ix_transactions_market_id", transactions.c.market_id)
Index("ix_transactions_position_id", transactions.c.position_id)

# A market's pools at its creation and after every trade; the probability follows exactly.
price_points = Table(
    "price_points",
    metadata,
    Column("id", Identity, primary_key=True, autoincrement=True),
    Column("market_id", Identity, ForeignKey("markets.id", ondelete="CASCADE"), nullable=False),
    Column("yes_pool", Money(), nullable=False),
    Column("no_pool", Money(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)
Index("ix_price_points_market_id_at_id", price_points.c.market_id, price_points.c.at, price_points.c.id)

# openPosition's idempotency keys: one per viewer and key, written in the buy's transaction so
# that the database itself resolves racing duplicates. `market_id` is a plain value (compared
# against a retry), not a reference; the position goes NULL if it is deleted.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("user_id", Identity, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("market_id", BigInteger, nullable=False),
    Column("outcome", String(3), nullable=False),
    Column("amount", Money(), nullable=False),
    Column("position_id", Identity, ForeignKey("positions.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("user_id", "key"),
)
Index("ix_idempotency_keys_created_at", idempotency_keys.c.created_at)
Index("ix_idempotency_keys_position_id", idempotency_keys.c.position_id)

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
