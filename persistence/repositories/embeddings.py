"""The search index over SQL: one row per market, its vector stored as little-endian float32 bytes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Integer, LargeBinary, String, bindparam, cast, delete, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from domain.entities import Market, MarketStatus
from domain.ports import Embedding, IndexEntry
from persistence.database import Session
from persistence.repositories.markets import to_market
from persistence.repositories.queries import one_of
from persistence.tables import market_embeddings as entries
from persistence.tables import markets
from persistence.types import UTCDateTime

VECTOR_DTYPE = np.dtype("<f4")
METADATA = (entries.c.embedder, entries.c.dimension, entries.c.content_hash, entries.c.status, entries.c.indexed_at)
ENTRY_LABELS = [c.label(f"entry_{c.key}") for c in METADATA]


def to_entry(row: Any, *, prefix: str = "", with_vector: bool = False) -> IndexEntry:
    values = row._mapping
    status = values[f"{prefix}status"]
    raw = values["vector"] if with_vector else None
    return IndexEntry(
        market_id=values["market_id"], embedder=values[f"{prefix}embedder"], dimension=values[f"{prefix}dimension"],
        content_hash=values[f"{prefix}content_hash"], status=MarketStatus(status) if status else None,
        indexed_at=values[f"{prefix}indexed_at"],
        vector=np.frombuffer(raw, dtype=VECTOR_DTYPE) if raw is not None else None,
    )


def store_statement(dialect: str) -> Insert:
    """Upsert a vector, with the market's status, only while the market has the text encoded."""
    # One statement, so an edit committed meanwhile cannot slip in between the check and the write.
    source = select(
        markets.c.id, cast(bindparam("embedder"), String()), cast(bindparam("dimension"), Integer()),
        cast(bindparam("vector"), LargeBinary()), cast(bindparam("content_hash"), String()), markets.c.status,
        bindparam("indexed_at", type_=UTCDateTime()),
    ).where(
        markets.c.id == bindparam("market_id"), markets.c.name == bindparam("name"),
        markets.c.description == bindparam("description"),
    )
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(entries)
    statement = insert.from_select([c.key for c in entries.c], source)
    return statement.on_conflict_do_update(
        index_elements=[entries.c.market_id],
        set_={c.key: statement.excluded[c.key] for c in entries.c if c.key != "market_id"},
    )


def store_parameters(embedding: Embedding, now: datetime) -> dict[str, Any]:
    market = embedding.market
    return {
        "market_id": market.id, "name": market.name, "description": market.description,
        "embedder": embedding.embedder, "dimension": embedding.dimension, "content_hash": embedding.content_hash,
        "vector": np.asarray(embedding.vector, dtype=VECTOR_DTYPE).tobytes(), "indexed_at": now,
    }


class SqlEmbeddingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def get_many(self, market_ids: Sequence[int]) -> Mapping[int, IndexEntry]:
        wanted = sorted({i for i in market_ids if isinstance(i, int)})
        if not wanted:
            return {}
        query = select(entries.c.market_id, *METADATA).where(one_of(self._session, entries.c.market_id, wanted))
        return {row.market_id: to_entry(row) for row in await self._session.execute(query)}

    async def store_if_current(self, embedding: Embedding, *, now: datetime) -> bool:
        statement = store_statement(self._session.dialect).returning(entries.c.market_id)
        result = await self._session.execute(statement, store_parameters(embedding, now))
        return result.first() is not None

    async def store_many(self, embeddings: Sequence[Embedding], *, now: datetime) -> None:
        if embeddings:
            rows = [store_parameters(e, now) for e in embeddings]
            await self._session.execute(store_statement(self._session.dialect), rows)

    async def set_status(self, market_id: int, status: MarketStatus, *, now: datetime) -> None:
        statement = update(entries).where(entries.c.market_id == market_id, entries.c.status.is_not(None))
        await self._session.execute(statement.values(status=status.value, indexed_at=now))

    async def remove(self, market_id: int, *, now: datetime) -> bool:
        return bool(await self._tombstone(entries.c.market_id == market_id, now=now))

    async def remove_orphans(self, *, now: datetime) -> int:
        return len(await self._tombstone(~exists().where(markets.c.id == entries.c.market_id), now=now))

    async def purge_removed(self, *, before: datetime) -> int:
        statement = delete(entries).where(entries.c.status.is_(None), entries.c.indexed_at < before)
        return len((await self._session.execute(statement.returning(entries.c.market_id))).all())

    async def changed_since(self, since: datetime | None, *, after_id: int, limit: int) -> list[IndexEntry]:
        query = select(entries).where(entries.c.market_id > after_id)
        if since is not None:
            query = query.where(entries.c.indexed_at > since)
        rows = await self._session.execute(query.order_by(entries.c.market_id).limit(limit))
        return [to_entry(row, with_vector=True) for row in rows]

    async def markets_with_entries(self, *, after_id: int, limit: int) -> list[tuple[Market, IndexEntry | None]]:
        query = (
            select(markets, entries.c.market_id, *ENTRY_LABELS)
            .outerjoin(entries, entries.c.market_id == markets.c.id)
            .where(markets.c.id > after_id).order_by(markets.c.id).limit(limit)
        )
        rows = await self._session.execute(query)
        return [(to_market(row), None if row.market_id is None else to_entry(row, prefix="entry_")) for row in rows]

    async def _tombstone(self, condition: ColumnElement[bool], *, now: datetime) -> list[int]:
        """Drop the vector and status of the matching live entries; their ids."""
        statement = (
            update(entries).where(entries.c.status.is_not(None), condition)
            .values(vector=None, status=None, content_hash="", indexed_at=now).returning(entries.c.market_id)
        )
        return [row.market_id for row in await self._session.execute(statement)]
