"""Users over SQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.entities import ZERO, User
from domain.errors import Conflict
from domain.pagination import Page, PageRequest
from domain.roles import Role
from persistence.database import Session
from persistence.keyset import SortColumn
from persistence.repositories.queries import fetch_page, get_many
from persistence.tables import users

NEWEST_FIRST = (SortColumn(users.c.created_at, True), SortColumn(users.c.id, True))


def to_user(row: Any) -> User:
    return User(
        id=row.id, email=row.email, name=row.name, role=Role(row.role),
        created_at=row.created_at, password_hash=row.password_hash, balance=row.balance,
    )


class SqlUserRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(self, *, email: str, name: str, password_hash: str, role: Role, now: datetime) -> User:
        statement = insert(users).values(
            email=email, name=name, password_hash=password_hash, role=role.value, created_at=now, balance=ZERO
        ).returning(users)
        try:
            row = (await self._session.execute(statement)).one()
        except IntegrityError as error:
            raise Conflict("An account with this email already exists") from error
        return to_user(row)

    async def get_many(self, ids: Sequence[int]) -> Mapping[int, User]:
        return await get_many(self._session, users, ids, to_user)

    async def get_by_email(self, email: str) -> User | None:
        row = (await self._session.execute(select(users).where(users.c.email == email))).first()
        return to_user(row) if row else None

    async def set_role(self, user_id: int, role: Role) -> User | None:
        statement = update(users).where(users.c.id == user_id).values(role=role.value).returning(users)
        row = (await self._session.execute(statement)).first()
        return to_user(row) if row else None

    async def page(self, *, role: Role | None, request: PageRequest) -> Page[User]:
        return await fetch_page(self._session, self._filtered(role), NEWEST_FIRST, request, to_user)

    async def count(self, *, role: Role | None) -> int:
        query = self._filtered(role).with_only_columns(func.count(), maintain_column_froms=True)
        return int((await self._session.execute(query)).scalar_one())

    @staticmethod
    def _filtered(role: Role | None) -> Select[Any]:
        query = select(users)
        return query.where(users.c.role == role.value) if role is not None else query
