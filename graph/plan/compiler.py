"""From a validated document to a Plan, or None when the planner does not handle it.

Handled: a query operation without directives whose root fields are `market(id)`, `user(id)`,
`node(id)` (a Market or a User), `markets(...)` and `__typename`, selecting the Market, User and
Position fields graph.plan.fields lists and their connections, with aliases, named and inline
fragments, and variables (with defaults). Fields are
collected as graphql-core collects them (first occurrence sets a key's place; a key's selections
merge), so the plan's dicts come out in the same key order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLObjectType,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from graphql.execution.values import get_argument_values
from strawberry.schema import Schema

from domain.roles import Permission
from graph.extensions.limits import fixed_cost
from graph.plan.codegen import object_builder
from graph.plan.fields import CONNECTIONS, OWNER_COLUMNS, REFERENCES, SCALARS
from graph.plan.nodes import (
    Arguments,
    ConnectionPart,
    ConnectionPlan,
    Constant,
    EdgeCursor,
    EdgeNode,
    EdgesPlan,
    Lookup,
    ObjectPlan,
    PageCursor,
    PageFlag,
    PageInfoPlan,
    Plan,
    Reference,
    RootSelection,
    Scalar,
    Selection,
    TotalCount,
)
from graph.plan.rules import Unplannable, field_gate
from graph.plan.variables import string_signatures

Collected = dict[str, list[FieldNode]]
# Root fields answering one object by its global id: the type each returns (None: any Node).
LOOKUPS = {"market": "Market", "user": "User", "node": None}
# The Node types a planned `node(id)` answers; the others (Position, Transaction) go to graphql-core.
NODE_TYPES = ("Market", "User")
PAGE_INFO: dict[str, Callable[[str], PageFlag | PageCursor]] = {
    "hasNextPage": lambda key: PageFlag(key, next=True), "hasPreviousPage": lambda key: PageFlag(key, next=False),
    "startCursor": lambda key: PageCursor(key, last=False), "endCursor": lambda key: PageCursor(key, last=True),
}


def compile_plan(schema: Schema, document: DocumentNode, operation_name: str | None) -> Plan | None:
    """The plan of the operation a request names, or None when graphql-core must run it."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    try:
        return Compiler(schema, document).plan(operation)
    except Unplannable:
        return None


def constant_arguments(definition: GraphQLField, node: FieldNode) -> dict[str, Any] | None:
    """The field's arguments coerced once, when no variable is among them and they coerce without an error
    (else None: coerced per request, where an error declines the request)."""
    if any(isinstance(found, VariableNode) for found in walk(node.arguments or ())):
        return None
    try:
        return get_argument_values(definition, node)
    except GraphQLError:
        return None


def walk(nodes: Sequence[Node]) -> Iterator[Node]:
    """The nodes and every node within them."""
    pending = list(nodes)
    while pending:
        node = pending.pop()
        yield node
        for key in node.keys:
            child = getattr(node, key, None)
            if isinstance(child, Node):
                pending.append(child)
            elif isinstance(child, tuple | list):
                pending.extend(item for item in child if isinstance(item, Node))


class Compiler:
    def __init__(self, schema: Schema, document: DocumentNode) -> None:
        self.schema = schema
        self.types = schema._schema
        self.document = document
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.columns: dict[str, dict[str, None]] = defaultdict(dict)
        self.aliases: list[str] = []

    def plan(self, operation: OperationDefinitionNode) -> Plan:
        if operation.directives:
            raise Unplannable("directives")
        roots = tuple(self.root(key, nodes) for key, nodes in self.collect("Query", [operation.selection_set]).items())
        columns = {name: tuple(columns) for name, columns in self.columns.items()}
        cost = fixed_cost(self.types, self.document, operation)
        return Plan(operation, roots, columns, cost, string_signatures(self.types, operation.variable_definitions))

    def root(self, key: str, nodes: list[FieldNode]) -> RootSelection:
        name = nodes[0].name.value
        if name == "__typename":
            return Constant(key, "Query")
        if name in LOOKUPS:
            only = LOOKUPS[name]
            types = (only,) if only is not None else NODE_TYPES
            plans = {type_name: self.object_plan(type_name, nodes) for type_name in types}
            return Lookup(key, self.arguments("Query", nodes[0]), plans, only)
        if name == "markets":
            return self.connection(key, "Query", nodes, "Market")
        raise Unplannable(name)

    def arguments(self, type_name: str, node: FieldNode) -> Arguments:
        parent = self.types.get_type(type_name)
        assert isinstance(parent, GraphQLObjectType)
        definition = parent.fields[node.name.value]
        return Arguments(definition, node, constant_arguments(definition, node))

    def object_plan(self, type_name: str, nodes: Sequence[FieldNode], prefix: str = "") -> ObjectPlan:
        columns = self.columns[type_name]
        columns["id"] = None
        selections: list[Selection] = []
        gates: dict[Permission, None] = {}
        for key, fields in self.collect(type_name, [n.selection_set for n in nodes if n.selection_set]).items():
            selection = self.field(type_name, key, fields, prefix)
            gate = getattr(selection, "gate", None)
            if gate is not None:
                if type_name not in OWNER_COLUMNS:
                    raise Unplannable(f"{type_name}.{key}")
                gates[gate] = None
                columns[OWNER_COLUMNS[type_name]] = None
            selections.append(selection)
        shown = tuple(gates)
        return ObjectPlan(
            type_name, tuple(selections), shown, prefix, object_builder(type_name, selections, shown, prefix)
        )

    def field(self, type_name: str, key: str, nodes: list[FieldNode], prefix: str) -> Selection:
        name = nodes[0].name.value
        if name == "__typename":
            return Constant(key, type_name)
        scalar = SCALARS[type_name].get(name)
        if scalar is not None:
            self.columns[type_name].update(dict.fromkeys(scalar.columns))
            return Scalar(key, scalar.expression(prefix), field_gate(self.schema, type_name, name))
        reference = REFERENCES.get(type_name, {}).get(name)
        if reference is not None:
            target, column = reference
            alias = f"j{len(self.aliases)}"
            self.aliases.append(alias)
            plan = self.object_plan(target, nodes, prefix=f"{alias}.")
            if target != "User" or prefix or plan.children:
                raise Unplannable(f"{type_name}.{name}")  # one level of joined users, no more
            self.columns[type_name][column] = None
            return Reference(key, column, alias, plan, field_gate(self.schema, type_name, name))
        child = CONNECTIONS.get(type_name, {}).get(name)
        if child is not None and field_gate(self.schema, type_name, name) is None:
            return self.connection(key, type_name, nodes, child[0], scope=child[2])
        raise Unplannable(f"{type_name}.{name}")

    def connection(
        self, key: str, type_name: str, nodes: list[FieldNode], node_type: str, *, scope: str = ""
    ) -> ConnectionPlan:
        arguments = self.arguments(type_name, nodes[0])
        connection_type = get_named_type(arguments.definition.type)
        assert isinstance(connection_type, GraphQLObjectType)
        edge_type = get_named_type(connection_type.fields["edges"].type)
        parts: list[ConnectionPart] = []
        for part_key, fields in self.collect(connection_type.name, selection_sets(nodes)).items():
            name = fields[0].name.value
            if name == "__typename":
                parts.append(Constant(part_key, connection_type.name))
            elif name == "totalCount":
                parts.append(TotalCount(part_key))
            elif name == "pageInfo":
                parts.append(self.page_info(part_key, fields))
            else:  # edges: the only other field a connection has
                parts.append(self.edges(part_key, edge_type.name, node_type, fields))
        return ConnectionPlan(key, node_type, arguments, tuple(parts), scope)

    def edges(self, key: str, edge_type: str, node_type: str, nodes: list[FieldNode]) -> EdgesPlan:
        parts: list[Constant | EdgeCursor | EdgeNode] = []
        for part_key, fields in self.collect(edge_type, selection_sets(nodes)).items():
            name = fields[0].name.value
            if name == "__typename":
                parts.append(Constant(part_key, edge_type))
            elif name == "cursor":
                parts.append(EdgeCursor(part_key))
            else:
                parts.append(EdgeNode(part_key, self.object_plan(node_type, fields)))
        return EdgesPlan(key, tuple(parts))

    def page_info(self, key: str, nodes: list[FieldNode]) -> PageInfoPlan:
        parts: list[Constant | PageFlag | PageCursor] = []
        for part_key, fields in self.collect("PageInfo", selection_sets(nodes)).items():
            name = fields[0].name.value
            parts.append(Constant(part_key, "PageInfo") if name == "__typename" else PAGE_INFO[name](part_key))
        return PageInfoPlan(key, tuple(parts))

    def collect(self, type_name: str, selection_sets: Sequence[SelectionSetNode]) -> Collected:
        """The fields by response key, as graphql-core's collect_fields orders and merges them."""
        fields: Collected = {}
        visited: set[str] = set()
        for selection_set in selection_sets:
            self.collect_into(fields, visited, type_name, selection_set)
        return fields

    def collect_into(
        self, fields: Collected, visited: set[str], type_name: str, selection_set: SelectionSetNode
    ) -> None:
        for selection in selection_set.selections:
            if selection.directives:
                raise Unplannable("directives")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                fields.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or self.applies(condition.name.value, type_name):
                    self.collect_into(fields, visited, type_name, selection.selection_set)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                self.spread(fields, visited, type_name, selection)

    def spread(self, fields: Collected, visited: set[str], type_name: str, spread: FragmentSpreadNode) -> None:
        name = spread.name.value
        if getattr(spread, "arguments", None):
            raise Unplannable("fragment arguments")
        if name in visited:
            return
        visited.add(name)
        fragment = self.fragments[name]
        if fragment.directives or getattr(fragment, "variable_definitions", None):
            raise Unplannable("fragment directives or variables")
        if self.applies(fragment.type_condition.name.value, type_name):
            self.collect_into(fields, visited, type_name, fragment.selection_set)

    def applies(self, condition: str, type_name: str) -> bool:
        """Whether a fragment on `condition` applies to an object of `type_name` (the type, or its interface)."""
        if condition == type_name:
            return True
        abstract, concrete = self.types.get_type(condition), self.types.get_type(type_name)
        assert abstract is not None and isinstance(concrete, GraphQLObjectType)
        return not isinstance(abstract, GraphQLObjectType) and self.types.is_sub_type(abstract, concrete)  # type: ignore[arg-type]


def selection_sets(nodes: Sequence[FieldNode]) -> list[SelectionSetNode]:
    return [n.selection_set for n in nodes if n.selection_set is not None]
