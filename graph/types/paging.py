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


def child_scope(scope: str, parent_id: int) -> str:
    """The scope of one parent's child connection: a cursor of market A's positions must not page market B's,
    so the parent's id is part of it (the compiled reads of graph.plan.executor use this function too)."""
    return f"{scope}:{parent_id}"


async def child_connections(
    info: Info, *, parent_ids: Sequence[int], scope: str, first: int | None, after: str | None,
    node: Callable[[E], T], pages: DataLoader[tuple[int, PageRequest], Page[E]], counts: DataLoader[int, int],
) -> list[Connection[T]]:
    """Each parent's page of children, in one batch through `pages` (and `counts`, if selected); `after` must
    have been issued for that parent."""
    scopes = [child_scope(scope, parent_id) for parent_id in parent_ids]
    requests = [relay_request(info, scope=parent_scope, first=first, after=after) for parent_scope in scopes]
    loaded = await pages.load_many(list(zip(parent_ids, requests, strict=True)))
    return [
        connection(
            page, node=node, cursors=info.context.services.cursors, scope=parent_scope,
            count=partial(counts.load, parent_id),
        )
        for parent_id, parent_scope, page in zip(parent_ids, scopes, loaded, strict=True)
    ]
