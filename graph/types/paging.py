"""Turning Relay arguments into page requests, and a child connection through its loaders."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from aiodataloader import DataLoader
from strawberry.types import Info

from domain.pagination import PageRequest, page_request
from graph.types.connections import Connection, connection

T = TypeVar("T")


def relay_request(
    info: Info, *, scope: str, first: int | None, after: str | None, last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """A PageRequest from Relay arguments, cursors checked against `scope`."""
    cursors = info.context.container.cursors
    return page_request(
        first=first, last=last,
        cursor_after=cursors.decode(after, scope, argument="after"),
        cursor_before=cursors.decode(before, scope, argument="before"),
    )


async def child_connection(
    info: Info, *, parent_id: int, scope: str, first: int | None, after: str | None,
    node: Callable[[object], T], pages: DataLoader, counts: DataLoader,
) -> Connection[T]:
    """A parent's page of children, batched with its siblings' through `pages` and `counts`."""
    request = relay_request(info, scope=scope, first=first, after=after)
    page = await pages.load((parent_id, request))
    return connection(
        page, node=node, cursors=info.context.container.cursors, scope=scope,
        count=lambda: counts.load(parent_id),
    )
