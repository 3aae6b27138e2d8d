"""markets, market and searchMarkets."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict
from datetime import UTC, datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from domain import views
from domain.entities import MarketStatus
from domain.pagination import MarketFilter, MarketOrder, page_size
from domain.services import search
from graph import ids
from graph.prefetch import edge_nodes, prefetch_markets
from graph.types.connections import Connection, connection
from graph.types.inputs import MarketFilterInput, MarketOrderInput
from graph.types.objects import MarketType, load_node
from graph.types.paging import relay_request
from graph.types.search import MarketSearchHit


def domain_filter(given: MarketFilterInput | None) -> MarketFilter:
    if given is None:
        return MarketFilter()
    creator_id = ids.decode(given.creator_id, "User") if given.creator_id is not None else None
    return MarketFilter(
        status=given.status, creator_id=creator_id, name_contains=given.name_contains,
        ends_before=given.ends_before, ends_after=given.ends_after,
        matches_nothing=given.creator_id is not None and creator_id is None,
    )


def plain(value: object) -> object:
    """A filter value as it names a cursor's scope: one spelling per meaning (instants in UTC)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


@functools.lru_cache(maxsize=1024)
def cursor_scope(where: MarketFilter, order: MarketOrder) -> str:
    """Cursors belong to one ordering and filter; this string names the pair. nameContains matches as
    lower(name) LIKE lower(pattern) does, so its case variants name one filter and share cursors. Kept for the
    filters asked most (equal filters name one scope: their instants are written in UTC)."""
    given = {name: plain(value) for name, value in asdict(where).items() if value not in (None, False)}
    name = given.get("name_contains")
    if isinstance(name, str):
        given["name_contains"] = name.lower()
    return json.dumps(["markets", order.field.value, order.direction.value, given], sort_keys=True)


async def markets(
    info: Info, filter: MarketFilterInput | None = None, order_by: MarketOrderInput | None = None,
    first: int | None = None, after: str | None = None, last: int | None = None, before: str | None = None,
) -> Connection[MarketType]:
    order = MarketOrder(order_by.field, order_by.direction) if order_by is not None else MarketOrder()
    where = domain_filter(filter)
    scope = cursor_scope(where, order)
    request = relay_request(info, scope=scope, first=first, after=after, last=last, before=before)
    reads = info.context.scope
    page = await views.markets_page(reads=reads, filter=where, order=order, request=request)
    found = connection(
        page, node=MarketType.from_entity, cursors=info.context.services.cursors, scope=scope,
        count=lambda: views.markets_count(reads=reads, filter=where),
    )
    rows = edge_nodes(info._raw_info, info._raw_info.field_nodes)
    await prefetch_markets(info, [edge.node for edge in found.edges], rows)
    return found


async def market(info: Info, id: strawberry.ID) -> MarketType | None:
    found = await load_node(info, id, only="Market")
    if not isinstance(found, MarketType):
        return None
    await prefetch_markets(info, [found], info._raw_info.field_nodes)
    return found


async def search_markets(
    info: Info, query: str, first: int | None = 10, status: MarketStatus | None = None
) -> list[MarketSearchHit]:
    limit = page_size(first if first is not None else 10, field_name="first")
    services = info.context.services
    hits = await search.search_markets(
        embedder=services.query_embedder, index=services.index, markets=info.context.scope.markets, text=query,
        status=status, limit=limit,
    )
    return [MarketSearchHit(market=MarketType.from_entity(m), score=score) for m, score in hits]
