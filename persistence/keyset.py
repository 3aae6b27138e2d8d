"""Keyset (seek) pagination over any ordering, with ties broken by id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_

from domain.pagination import Page, PageRequest, SortKey


@dataclass(frozen=True)
class SortColumn:
    expression: ColumnElement[Any]
    descending: bool

    def reversed(self) -> SortColumn:
        return SortColumn(self.expression, not self.descending)


def beyond(columns: Sequence[SortColumn], key: SortKey) -> ColumnElement[bool]:
    """Rows strictly after `key` in the order of `columns` (lexicographic).

    A None in the key stands for a NULL group that an earlier flag column already
    separates (END_DATE's nulls-last flag): inside that group the column is equal.
    """
    pairs = [(column, value) for column, value in zip(columns, key, strict=True) if value is not None]
    clauses = []
    for index, (column, value) in enumerate(pairs):
        equal_prefix = [c.expression == v for c, v in pairs[:index]]
        step = column.expression < value if column.descending else column.expression > value
        clauses.append(and_(*equal_prefix, step))
    return or_(*clauses) if clauses else false()


def order_by(columns: Sequence[SortColumn]) -> list[ColumnElement[Any]]:
    return [c.expression.desc() if c.descending else c.expression.asc() for c in columns]


def paginate(query: Select[Any], columns: Sequence[SortColumn], request: PageRequest) -> Select[Any]:
    """Apply cursors, order and limit (one extra row tells whether more follow)."""
    walk = [c.reversed() for c in columns] if request.backward else list(columns)
    if request.after is not None:
        query = query.where(beyond(columns, request.after))
    if request.before is not None:
        query = query.where(beyond([c.reversed() for c in columns], request.before))
    return query.order_by(*order_by(walk)).limit(request.size + 1)


def sort_key_labels(columns: Sequence[SortColumn]) -> list[ColumnElement[Any]]:
    """The ordering expressions, selected alongside each row so cursors hold exact DB values."""
    return [c.expression.label(f"sort_{i}") for i, c in enumerate(columns)]


def to_page(items: list[Any], keys: list[SortKey], request: PageRequest) -> Page[Any]:
    """Cut the extra row, restore display order and set the contract's page flags."""
    more = len(items) > request.size
    items, keys = items[: request.size], keys[: request.size]
    if request.backward:
        items.reverse()
        keys.reverse()
        return Page(items=items, keys=keys, has_previous=more, has_next=request.before is not None)
    return Page(items=items, keys=keys, has_next=more, has_previous=request.after is not None)
