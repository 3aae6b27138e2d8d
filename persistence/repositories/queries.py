"""Query shapes every repository shares: by ids, one page, a page per parent, counts per parent."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import BigInteger, ColumnElement, Select, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from domain.pagination import Page, PageRequest
from persistence.database import Session
from persistence.keyset import SortColumn, beyond, order_by, paginate, sort_key_labels, to_page

T = TypeVar("T")
RowMapper = Callable[[Any], T]


@functools.cache
def bigint_array() -> ARRAY[int]:
    """One array type for every `one_of`, rather than a new one built (and its part of the
    statement's cache key computed again) on every call."""
    return ARRAY(BigInteger())


def one_of(session: Session, column: ColumnElement[Any], ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL `= ANY($1)`, one prepared statement whatever the count."""
    if session.dialect == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=bigint_array()))
    return column.in_(ids)


@functools.cache
def by_ids(table: Table, dialect: str) -> Select[Any]:
    """`SELECT table WHERE id IN :ids`, built once per table: SQLAlchemy memoizes a statement's
    cache key on the statement, so a reused one skips building it and hashing it (about 70 µs,
    paid by every loader batch and every viewer lookup)."""
    if dialect == "postgresql":
        return select(table).where(table.c.id == any_(bindparam("ids", type_=bigint_array())))
    return select(table).where(table.c.id.in_(bindparam("ids", expanding=True)))


async def get_many(session: Session, table: Table, ids: Sequence[int], to_entity: RowMapper[T]) -> dict[int, T]:
    """Rows by primary key, in one statement."""
    wanted = sorted({i for i in ids if isinstance(i, int)})
    if not wanted:
        return {}
    result = await session.execute(by_ids(table, session.dialect), {"ids": wanted})
    return {row.id: to_entity(row) for row in result}


async def fetch_page(
    session: Session, query: Select[Any], columns: Sequence[SortColumn], request: PageRequest, to_entity: RowMapper[T]
) -> Page[T]:
    """One keyset page of `query`, with each row's sort key."""
    width = len(columns)
    result = await session.execute(paginate(query.add_columns(*sort_key_labels(columns)), columns, request))
    rows = result.all()
    return to_page([to_entity(row) for row in rows], [tuple(row[-width:]) for row in rows], request)


async def fetch_pages_by_parent(
    session: Session,
    table: Table,
    parent: ColumnElement[Any],
    parent_ids: Sequence[int],
    columns: Sequence[SortColumn],
    request: PageRequest,
    to_entity: RowMapper[T],
) -> dict[int, Page[T]]:
    """The same page for each parent in one statement (a row_number window per parent)."""
    if not parent_ids:
        return {}
    walk = [c.reversed() for c in columns] if request.backward else list(columns)
    rank = func.row_number().over(partition_by=parent, order_by=order_by(walk)).label("page_rank")
    inner = select(table, *sort_key_labels(columns), rank).where(one_of(session, parent, sorted(set(parent_ids))))
    if request.after is not None:
        inner = inner.where(beyond(columns, request.after))
    if request.before is not None:
        inner = inner.where(beyond([c.reversed() for c in columns], request.before))
    ranked = inner.subquery()
    query = select(ranked).where(ranked.c.page_rank <= request.size + 1)
    rows = (await session.execute(query.order_by(ranked.c[column_key(parent)], ranked.c.page_rank))).all()
    width = len(columns)
    # By position: row._mapping builds a mapping per row, a tenth of a nested page's CPU.
    parent_at = list(ranked.c.keys()).index(column_key(parent))
    grouped: dict[int, tuple[list[T], list[Any]]] = {pid: ([], []) for pid in parent_ids}
    for row in rows:
        items, keys = grouped[row[parent_at]]
        items.append(to_entity(row))
        keys.append(tuple(row[-width - 1 : -1]))
    return {pid: to_page(items, keys, request) for pid, (items, keys) in grouped.items()}


def column_key(column: ColumnElement[Any]) -> str:
    """The name a column goes by in a subquery's columns (a table's column always has one)."""
    if column.key is None:
        raise ValueError(f"{column!r} has no key to find it by in a subquery")
    return column.key


async def count_by_parent(session: Session, parent: ColumnElement[Any], ids: Sequence[int]) -> Mapping[int, int]:
    """How many rows each parent has, in one grouped statement."""
    wanted = sorted(set(ids))
    counts = dict.fromkeys(wanted, 0)
    if wanted:
        query = select(parent, func.count()).where(one_of(session, parent, wanted)).group_by(parent)
        counts.update({pid: n for pid, n in map(tuple, (await session.execute(query)).all())})
    return counts
