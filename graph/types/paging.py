"""Turning Relay arguments into page requests, and a child connection through its loaders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TypeVar

from aiodataloader import DataLoader
from strawberry.types import Info

from domain.pagination import Page, PageRequest, page_request
from graph.types.connections import Connection, connection

T = TypeVar("T")
E = TypeVar("E")


def relay_request(
    info: Info, *, scope: str, first: int | None, after: str | None, last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """A PageRequest from Relay arguments, cursors checked against `scope`."""
    cursors = info.context.services.cursors
    return page_request(
        first=first, last=last,
        cursor_after=cursors.decode(after, scope, argument="after"),
        cursor_before=cursors.decode(before, scope, argument="before"),
    )


async def child_connections(
    info: Info, *, parent_ids: Sequence[int], scope: str, first: int | None, after: str | None,
    node: Callable[[E], T], pages: DataLoader[tuple[int, PageRequest], Page[E]], counts: DataLoader[int, int],
) -> list[Connection[T]]:
    """Each parent's page of children, in one batch through `pages` (and `counts`, if selected)."""
    request = relay_request(info, scope=scope, first=first, after=after)
    loaded = await pages.load_many([(parent_id, request) for parent_id in parent_ids])
    return [
        connection(
            page, node=node, cursors=info.context.services.cursors, scope=scope,
            count=partial(counts.load, parent_id),
        )
        for parent_id, page in zip(parent_ids, loaded, strict=True)
    ]
