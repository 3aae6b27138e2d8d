"""Keyset pagination in domain terms: what a page asks for and what it holds."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from domain.entities import MarketStatus
from domain.errors import BadUserInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

# A sort key: the values of the ordering columns of one row, its id last.
SortKey = tuple[object, ...]


class SortDirection(enum.Enum):
    ASC = "ASC"
    DESC = "DESC"


class MarketSortField(enum.Enum):
    CREATED_AT = "CREATED_AT"
    VOLUME = "VOLUME"
    END_DATE = "END_DATE"
    NAME = "NAME"


@dataclass(frozen=True, slots=True)
class MarketOrder:
    field: MarketSortField = MarketSortField.CREATED_AT
    direction: SortDirection = SortDirection.DESC


@dataclass(frozen=True, slots=True)
class MarketFilter:
    status: MarketStatus | None = None
    creator_id: int | None = None
    name_contains: str | None = None
    ends_before: datetime | None = None
    ends_after: datetime | None = None
    # Set when filter.creatorId names nothing: the page is empty whatever else matches.
    matches_nothing: bool = False


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`first` items after `after`, or the `last` items before `before`."""

    size: int = DEFAULT_PAGE_SIZE
    backward: bool = False
    after: SortKey | None = None
    before: SortKey | None = None


@dataclass(slots=True)
class Page(Generic[T]):
    """Items in display order with their sort keys; the flags follow the contract's rules."""

    items: list[T] = field(default_factory=list)
    keys: list[SortKey] = field(default_factory=list)
    has_next: bool = False
    has_previous: bool = False


def page_size(value: int | None, *, field_name: str) -> int:
    if value is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= value <= MAX_PAGE_SIZE:
        raise BadUserInput({field_name: f"must be between 0 and {MAX_PAGE_SIZE}"})
    return value


def page_request(
    *, first: int | None, last: int | None, cursor_after: SortKey | None = None, cursor_before: SortKey | None = None
) -> PageRequest:
    """Turn Relay arguments into a PageRequest, enforcing the contract's bounds."""
    if first is not None and last is not None:
        raise BadUserInput({"first": "cannot be combined with last", "last": "cannot be combined with first"})
    if last is not None:
        size, backward = page_size(last, field_name="last"), True
    else:
        size, backward = page_size(first, field_name="first"), False
    return PageRequest(size=size, backward=backward, after=cursor_after, before=cursor_before)
