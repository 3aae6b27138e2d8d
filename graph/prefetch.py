"""Look-ahead prefetching for pages of markets.

A list resolver that reads its own selection can load, in one batch each, the creators, the
position pages and the position holders that the rows' fields will ask for. Those fields then
resolve synchronously: no coroutine and no task per row, which is most of graphql-core's cost
on a nested page. Anything not prefetched (aliases with different arguments) falls back to the
dataloaders, so results never depend on this module, only their speed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    InlineFragmentNode,
)
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.types import Info

from domain.errors import DomainError
from graph.types.objects import MarketType, PositionType

# graphql-core's own info: its context is strawberry's, which this module does not read.
RawInfo: TypeAlias = "GraphQLResolveInfo[Any]"


def subfields(raw: RawInfo, nodes: Sequence[FieldNode], name: str) -> list[FieldNode]:
    """The fields called `name` selected directly under `nodes`, through fragments."""
    found: list[FieldNode] = []

    def walk(selections: Sequence[Any]) -> None:
        for selection in selections:
            if isinstance(selection, FieldNode):
                if selection.name.value == name:
                    found.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set.selections)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value in raw.fragments:
                walk(raw.fragments[selection.name.value].selection_set.selections)

    for node in nodes:
        if node.selection_set is not None:
            walk(node.selection_set.selections)
    return found


def edge_nodes(raw: RawInfo, connections: Sequence[FieldNode]) -> list[FieldNode]:
    """The `edges { node }` fields under connection fields."""
    return subfields(raw, subfields(raw, connections, "edges"), "node")


def shared_arguments(raw: RawInfo, type_name: str, fields: Sequence[FieldNode]) -> dict[str, Any] | None:
    """The coerced arguments all `fields` share, or None when they differ (aliases) or are absent."""
    object_type = raw.schema.get_type(type_name)
    assert isinstance(object_type, GraphQLObjectType)
    variables = raw.variable_values
    if isinstance(variables, dict):  # strawberry hands resolvers the coerced dict alone
        variables = VariableValues(sources={}, coerced=variables)
    try:
        found = [get_argument_values(object_type.fields[f.name.value], f, variables) for f in fields]
    except GraphQLError:
        return None  # the field itself will report its bad arguments
    return found[0] if found and all(args == found[0] for args in found[1:]) else None


async def prefetch_markets(info: Info, markets: Sequence[MarketType], nodes: Sequence[FieldNode]) -> None:
    """Attach creators and position pages to `markets` when `nodes` (the rows' fields) select them."""
    raw = info._raw_info
    if not markets:
        return
    if subfields(raw, nodes, "creator"):
        users = await info.context.loaders.user.load_many([m.creator_id for m in markets])
        for market, user in zip(markets, users, strict=True):
            market.prefetched_creator = user
    positions = subfields(raw, nodes, "positions")
    arguments = shared_arguments(raw, "Market", positions)
    if arguments is not None:
        await prefetch_positions(info, markets, arguments, edge_nodes(raw, positions))


async def prefetch_positions(
    info: Info, markets: Sequence[MarketType], arguments: dict[str, Any], nodes: Sequence[FieldNode]
) -> None:
    first, after = arguments.get("first"), arguments.get("after")
    try:
        pages = await MarketType.position_pages(info, [m.pk for m in markets], first=first, after=after)
    except DomainError:
        return  # Bad arguments: the field itself reports them, at its own path.
    holders: list[PositionType] = []
    for market, page in zip(markets, pages, strict=True):
        market.prefetched_positions = ((first, after), page)
        for edge in page.edges:
            edge.node.prefetched_market = market
            holders.append(edge.node)
    if holders and subfields(info._raw_info, nodes, "user"):
        users = await info.context.loaders.user.load_many([p.owner_id for p in holders])
        for position, user in zip(holders, users, strict=True):
            position.prefetched_user = user
