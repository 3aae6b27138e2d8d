"""Relay connections: generic Edge and Connection named MarketEdge, MarketConnection and so on.

Cursors are encoded only when a client selects them: a nested page of pages would otherwise
sign hundreds of cursors nobody reads.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry

from domain.pagination import Page, SortKey
from graph.cursors import CursorCodec

T = TypeVar("T")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class CursorMaker:
    codec: CursorCodec
    scope: str

    def __call__(self, key: SortKey | None) -> str | None:
        return self.codec.encode(self.scope, key) if key is not None else None


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    first_key: strawberry.Private[SortKey | None]
    last_key: strawberry.Private[SortKey | None]
    cursors: strawberry.Private[CursorMaker]

    @strawberry.field
    def start_cursor(self) -> str | None:
        return self.cursors(self.first_key)

    @strawberry.field
    def end_cursor(self) -> str | None:
        return self.cursors(self.last_key)


@strawberry.type
class Edge(Generic[T]):
    key: strawberry.Private[SortKey]
    cursors: strawberry.Private[CursorMaker]

    @strawberry.field
    def cursor(self) -> str:
        return self.cursors.codec.encode(self.cursors.scope, self.key)

    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.count()


def connection(
    page: Page[E],
    *,
    node: Callable[[E], T],
    cursors: CursorCodec,
    scope: str,
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """Build a connection from a domain page; cursors bind each sort key to `scope`."""
    maker = CursorMaker(cursors, scope)
    return Connection(
        edges=[Edge(key=key, cursors=maker, node=node(item)) for key, item in zip(page.keys, page.items, strict=True)],
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            first_key=page.keys[0] if page.keys else None,
            last_key=page.keys[-1] if page.keys else None,
            cursors=maker,
        ),
        count=count,
    )
