"""Running a plan: one batched read per level, then the response dicts built straight from the rows.

Arguments are read first, all of them, before any statement: a request that would answer with an
error (a bad cursor, a bad `first`) raises Decline and is answered by graphql-core instead. Users
a row references (Market.creator, Position.user) are read by the row's own statement (a join), so
a page of markets with their creators and positions with their holders is two statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from graphql.execution.values import VariableValues, get_argument_values

from domain.entities import User
from domain.errors import DomainError
from domain.pagination import MarketFilter, MarketOrder, Page, PageRequest, page_request
from domain.ports import Join, ReadViews, Row
from graph import ids
from graph.cursors import CursorCodec
from graph.plan.fields import OWNER_COLUMNS
from graph.plan.nodes import (
    Arguments,
    ConnectionPlan,
    Constant,
    EdgeCursor,
    EdgeNode,
    EdgesPlan,
    Lookup,
    ObjectPlan,
    PageFlag,
    PageInfoPlan,
    Plan,
    Reference,
    TotalCount,
)
from graph.plan.rules import shown_to
from graph.resolvers.markets import cursor_scope, domain_filter
from graph.types.inputs import MarketFilterInput, MarketOrderInput
from graph.types.paging import child_scope

# Node types graphql-core answers for `node(id)` (a Transaction is shown to its user and admins only).
UNPLANNED_NODES = frozenset({"Position", "Transaction"})


class Decline(Exception):
    """This request's answer would not be plain data: graphql-core answers it."""


@dataclass(frozen=True, slots=True)
class RootPage:
    """The root `markets` field's filter, order and page, read from its arguments."""

    filter: MarketFilter
    order: MarketOrder
    request: PageRequest
    scope: str


@dataclass
class Run:
    """One request's execution of a plan."""

    plan: Plan
    views: ReadViews
    viewer: User | None
    cursors: CursorCodec
    variables: VariableValues
    requests: dict[int, PageRequest | RootPage] = field(default_factory=dict)
    # A child connection's `after`, read before any statement but checked once its parents are known.
    afters: dict[int, str] = field(default_factory=dict)

    def arguments(self, arguments: Arguments) -> dict[str, Any]:
        if arguments.constant is not None:
            return arguments.constant
        try:
            return get_argument_values(arguments.definition, arguments.node, self.variables)
        except Exception as error:
            raise Decline(str(error)) from error


async def execute(run: Run) -> dict[str, object]:
    """The operation's `data`, or Decline."""
    lookups: dict[int, tuple[str, int] | None] = {}
    for root in run.plan.roots:
        if isinstance(root, ConnectionPlan):
            run.requests[id(root)] = root_page(run, root)
            prepare(run, root)
        elif isinstance(root, Lookup):
            lookups[id(root)] = looked_up(root, str(run.arguments(root.arguments)["id"]))
            for plan in root.plans.values():
                prepare(run, plan)
    data: dict[str, object] = {}
    for root in run.plan.roots:
        if isinstance(root, Constant):
            data[root.key] = root.value
        elif isinstance(root, Lookup):
            data[root.key] = await lookup(run, root, lookups[id(root)])
        else:
            data[root.key] = await root_connection(run, root)
    return data


def root_page(run: Run, root: ConnectionPlan) -> RootPage:
    """The markets resolver's reading of its arguments (graph.resolvers.markets), errors declined."""
    given = run.arguments(root.arguments)
    where, order_by = given.get("filter"), given.get("orderBy")
    try:
        filter = domain_filter(None if where is None else MarketFilterInput(
            status=where.get("status"), creator_id=where.get("creatorId"), name_contains=where.get("nameContains"),
            ends_before=where.get("endsBefore"), ends_after=where.get("endsAfter"),
        ))
        order = MarketOrder() if order_by is None else MarketOrder(**MarketOrderInput(
            field=order_by["field"], direction=order_by["direction"]
        ).__dict__)
        scope = cursor_scope(filter, order)
        request = page_request(
            first=given.get("first"), last=given.get("last"),
            cursor_after=run.cursors.decode(given.get("after"), scope, argument="after"),
            cursor_before=run.cursors.decode(given.get("before"), scope, argument="before"),
        )
    except DomainError as error:
        raise Decline(str(error)) from error
    return RootPage(filter, order, request, scope)


def prepare(run: Run, plan: ObjectPlan | ConnectionPlan) -> None:
    """Read every child connection's page request now, before any statement."""
    if isinstance(plan, ConnectionPlan):
        for part in plan.parts:
            if isinstance(part, EdgesPlan):
                for edge_part in part.parts:
                    if isinstance(edge_part, EdgeNode):
                        prepare(run, edge_part.plan)
        return
    for selection in plan.selections:
        if isinstance(selection, Reference):
            prepare(run, selection.target)
        elif isinstance(selection, ConnectionPlan):
            given = run.arguments(selection.arguments)
            try:
                run.requests[id(selection)] = page_request(first=given.get("first"), last=None)
            except DomainError as error:
                raise Decline(str(error)) from error
            if given.get("after") is not None:
                run.afters[id(selection)] = given["after"]
            prepare(run, selection)


def child_request(run: Run, connection: ConnectionPlan, parent_ids: Sequence[int]) -> PageRequest:
    """The page request of a child connection; its `after` must have been issued for every parent (so a cursor
    given fits one parent at most), else graphql-core reports it at each field's path."""
    request = run.requests[id(connection)]
    assert isinstance(request, PageRequest)
    after = run.afters.get(id(connection))
    if after is None:
        return request
    try:
        keys = [run.cursors.decode(after, child_scope(connection.scope, pid), argument="after") for pid in parent_ids]
    except DomainError as error:
        raise Decline(str(error)) from error
    return replace(request, after=keys[0]) if keys else request


def looked_up(root: Lookup, global_id: str) -> tuple[str, int] | None:
    """The (type, pk) a lookup reads, None when graph.types.node.load_node answers null without
    reading (garbage, another type than `only`, a type that is no Node); Decline for the Node types
    not planned."""
    decoded = ids.decode_any(global_id)
    if decoded is None or (root.only is not None and decoded[0] != root.only):
        return None
    if decoded[0] not in root.plans:
        if decoded[0] in UNPLANNED_NODES:
            raise Decline(f"node of type {decoded[0]}")
        return None
    return decoded


async def lookup(run: Run, root: Lookup, wanted: tuple[str, int] | None) -> dict[str, object] | None:
    if wanted is None:
        return None
    type_name, pk = wanted
    plan = root.plans[type_name]
    columns = run.plan.columns_of(type_name)
    if type_name == "Market":
        found = await run.views.markets_by_ids([pk], columns, joins_of(run, [plan]))
    else:
        found = await run.views.users_by_ids([pk], columns)
    row = found.get(pk)
    return None if row is None else (await objects(run, plan, [row]))[0]


async def root_connection(run: Run, root: ConnectionPlan) -> dict[str, object]:
    page_of = run.requests[id(root)]
    assert isinstance(page_of, RootPage)
    page, count = await run.views.market_page(
        columns=run.plan.columns_of("Market"), filter=page_of.filter, order=page_of.order, request=page_of.request,
        joins=joins_of(run, node_plans(root)), counted=root.counted, keyed=root.keyed,
    )
    if root.counted and count is None:
        count = await run.views.market_count(filter=page_of.filter)
    nodes = await node_values(run, root, page.items)
    return connection_value(run, root, page, nodes, 0, count or 0, page_of.scope)


async def child_connections(run: Run, connection: ConnectionPlan, parents: Sequence[Row]) -> list[object]:
    parent_ids = [row["id"] for row in parents]
    request = child_request(run, connection, parent_ids)
    pages = await run.views.position_pages_by_market(
        parent_ids, run.plan.columns_of(connection.node_type), request, joins_of(run, node_plans(connection)),
        keyed=connection.keyed,
    )
    counts = await run.views.position_counts_by_market(parent_ids) if connection.counted else {}
    ordered = [pages.get(pid) or Page() for pid in parent_ids]
    nodes = await node_values(run, connection, [item for page in ordered for item in page.items])
    built: list[object] = []
    offset = 0
    for pid, page in zip(parent_ids, ordered, strict=True):
        scope = child_scope(connection.scope, pid)
        built.append(connection_value(run, connection, page, nodes, offset, counts.get(pid, 0), scope))
        offset += len(page.items)
    return built


def node_plans(connection: ConnectionPlan) -> list[ObjectPlan]:
    """The connection's `node` selections (several under aliases), all built from the same rows."""
    return [
        edge_part.plan for part in connection.parts if isinstance(part, EdgesPlan)
        for edge_part in part.parts if isinstance(edge_part, EdgeNode)
    ]


def joins_of(run: Run, plans: Sequence[ObjectPlan]) -> tuple[Join, ...]:
    """The users the rows of `plans` reference, to be read in the rows' own statement."""
    columns = run.plan.columns_of("User")
    return tuple(Join(c.alias, c.column, columns) for plan in plans for c in plan.children if isinstance(c, Reference))


async def node_values(run: Run, connection: ConnectionPlan, rows: Sequence[Row]) -> dict[int, list[dict[str, object]]]:
    """Each `node` selection's objects for `rows`, by the selection's identity."""
    built: dict[int, list[dict[str, object]]] = {}
    for part in connection.parts:
        if isinstance(part, EdgesPlan):
            for edge_part in part.parts:
                if isinstance(edge_part, EdgeNode):
                    built[id(edge_part)] = await objects(run, edge_part.plan, rows)
    return built


def connection_value(
    run: Run, connection: ConnectionPlan, page: Page[Row], nodes: dict[int, list[dict[str, object]]], offset: int,
    count: int, scope: str,
) -> dict[str, object]:
    value: dict[str, object] = {}
    for part in connection.parts:
        if isinstance(part, Constant):
            value[part.key] = part.value
        elif isinstance(part, TotalCount):
            value[part.key] = count
        elif isinstance(part, PageInfoPlan):
            value[part.key] = page_info(run, part, page, scope)
        else:
            value[part.key] = edges(run, part, page, nodes, offset, scope)
    return value


def edges(
    run: Run, plan: EdgesPlan, page: Page[Row], nodes: dict[int, list[dict[str, object]]], offset: int, scope: str
) -> list[dict[str, object]]:
    if len(plan.parts) == 1 and isinstance(plan.parts[0], EdgeNode):  # `edges { node { … } }`, the usual shape
        only = plan.parts[0]
        return [{only.key: node} for node in nodes[id(only)][offset : offset + len(page.keys)]]
    built = []
    for index, key in enumerate(page.keys):
        edge: dict[str, object] = {}
        for part in plan.parts:
            if isinstance(part, Constant):
                edge[part.key] = part.value
            elif isinstance(part, EdgeCursor):
                edge[part.key] = run.cursors.encode(scope, key)
            else:
                edge[part.key] = nodes[id(part)][offset + index]
        built.append(edge)
    return built


def page_info(run: Run, plan: PageInfoPlan, page: Page[Row], scope: str) -> dict[str, object]:
    value: dict[str, object] = {}
    for part in plan.parts:
        if isinstance(part, Constant):
            value[part.key] = part.value
        elif isinstance(part, PageFlag):
            value[part.key] = page.has_next if part.next else page.has_previous
        else:
            keys = page.keys
            value[part.key] = run.cursors.encode(scope, keys[-1 if part.last else 0]) if keys else None
    return value


async def objects(run: Run, plan: ObjectPlan, rows: Sequence[Row]) -> list[dict[str, object]]:
    """The selection's dict for each row, by its compiled builder; child reads first, one statement each."""
    children: list[list[object]] = []
    for selection in plan.children:
        if isinstance(selection, Reference):
            children.append(await references(run, plan, selection, rows))
        else:
            children.append(await child_connections(run, selection, rows))
    build, checks = plan.build, tuple(shown_to(run.viewer, gate) for gate in plan.gates)
    return [build(row, children, index, checks) for index, row in enumerate(rows)]


async def references(run: Run, parent: ObjectPlan, reference: Reference, rows: Sequence[Row]) -> list[object]:
    """The referenced users, read along with `rows`; null where the gate hides them."""
    owner, sees = parent.prefix + OWNER_COLUMNS.get(parent.type_name, "id"), shown_to(run.viewer, reference.gate)
    found = reference.alias + ".id"
    shown = [sees(row[owner]) for row in rows]
    if any(see and row[found] is None for see, row in zip(shown, rows, strict=True)):
        raise Decline("a referenced user is gone")  # graphql-core reports it
    built = iter(await objects(run, reference.target, [row for see, row in zip(shown, rows, strict=True) if see]))
    return [next(built) if see else None for see in shown]
