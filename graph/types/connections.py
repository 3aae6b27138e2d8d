"""Relay connections: generic Edge and Connection named MarketEdge, MarketConnection and so on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import strawberry

from domain.pagination import Page
from graph.cursors import CursorCodec

T = TypeVar("T")


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
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
    page: Page[object],
    *,
    node: Callable[[object], T],
    cursors: CursorCodec,
    scope: str,
    count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    """Build a connection from a domain page; cursors bind each sort key to `scope`."""
    encoded = [cursors.encode(scope, key) for key in page.keys]
    return Connection(
        edges=[Edge(cursor=c, node=node(item)) for c, item in zip(encoded, page.items, strict=True)],
        page_info=PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=encoded[0] if encoded else None,
            end_cursor=encoded[-1] if encoded else None,
        ),
        count=count,
    )
