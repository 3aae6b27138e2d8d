"""openPosition's idempotency keys over SQL: the claim is one INSERT … ON CONFLICT, so the
database, not a check-then-insert, decides which of two racing calls buys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from domain.entities import IdempotencyKey, Outcome
from persistence.database import Session
from persistence.tables import idempotency_keys


def to_key(row: Any) -> IdempotencyKey:
    return IdempotencyKey(
        user_id=row.user_id, key=row.key, market_id=row.market_id, outcome=Outcome(row.outcome),
        amount=row.amount, position_id=row.position_id, created_at=row.created_at,
    )


class SqlIdempotencyRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def claim(self, key: IdempotencyKey, *, expired_before: datetime) -> bool:
        dialect = postgresql if self._session.dialect == "postgresql" else sqlite
        statement = dialect.insert(idempotency_keys).values(
            user_id=key.user_id, key=key.key, market_id=key.market_id, outcome=key.outcome.value,
            amount=key.amount, position_id=None, created_at=key.created_at,
        )
        # An expired key is taken over as if absent; a live one stays, and nothing is returned.
        statement = statement.on_conflict_do_update(
            index_elements=[idempotency_keys.c.user_id, idempotency_keys.c.key],
            set_={name: statement.excluded[name] for name in ("market_id", "outcome", "amount", "position_id",
                                                              "created_at")},
            where=idempotency_keys.c.created_at < expired_before,
        ).returning(idempotency_keys.c.user_id)
        return (await self._session.execute(statement)).first() is not None

    async def get(self, user_id: int, key: str) -> IdempotencyKey | None:
        statement = select(idempotency_keys).where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        row = (await self._session.execute(statement)).first()
        return to_key(row) if row else None

    async def attach(self, user_id: int, key: str, position_id: int) -> None:
        await self._session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
            .values(position_id=position_id)
        )

    async def purge(self, *, before: datetime) -> int:
        result = await self._session.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < before))
        return int(result.rowcount)
