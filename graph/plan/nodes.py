"""A plan's parts: plain frozen records, built once per document by graph.plan.compiler and read by
graph.plan.executor. Each object selection lists its response keys in graphql-core's order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, GraphQLField, OperationDefinitionNode
from graphql.execution.get_variable_signature import GraphQLVariableSignature

from domain.ports import Row
from domain.roles import Permission


@dataclass(frozen=True, slots=True)
class Constant:
    """A value known when compiling: `__typename`."""

    key: str
    value: object


@dataclass(frozen=True, slots=True)
class Scalar:
    """A column's value, written as the schema's scalar writes it; null unless `gate` shows it."""

    key: str
    expression: str
    gate: Permission | None


@dataclass(frozen=True, slots=True)
class Reference:
    """A user named by a foreign key column of the row (Market.creator, Position.user), read in the
    row's own statement: its columns come as `alias.column` (domain.ports.Join)."""

    key: str
    column: str
    alias: str
    target: ObjectPlan
    gate: Permission | None


@dataclass(frozen=True, slots=True)
class Arguments:
    """A field's arguments as written, coerced per request with its variables; coerced once when they hold no
    variable (`constant`, which nothing may change)."""

    definition: GraphQLField
    node: FieldNode
    constant: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PageFlag:
    """pageInfo.hasNextPage / hasPreviousPage."""

    key: str
    next: bool


@dataclass(frozen=True, slots=True)
class PageCursor:
    """pageInfo.startCursor / endCursor."""

    key: str
    last: bool


@dataclass(frozen=True, slots=True)
class PageInfoPlan:
    key: str
    parts: tuple[Constant | PageFlag | PageCursor, ...]


@dataclass(frozen=True, slots=True)
class EdgeCursor:
    key: str


@dataclass(frozen=True, slots=True)
class EdgeNode:
    key: str
    plan: ObjectPlan


@dataclass(frozen=True, slots=True)
class EdgesPlan:
    key: str
    parts: tuple[Constant | EdgeCursor | EdgeNode, ...]


@dataclass(frozen=True, slots=True)
class TotalCount:
    key: str


ConnectionPart = Constant | EdgesPlan | PageInfoPlan | TotalCount


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    """A page of children per parent row (Market.positions), or the root's page of markets."""

    key: str
    node_type: str
    arguments: Arguments
    parts: tuple[ConnectionPart, ...]
    # Cursors of a child connection are bound to this scope; the root's depends on its filter and order.
    scope: str = ""

    # Whether `totalCount` is asked for.
    counted: bool = field(init=False, compare=False, repr=False)
    # Whether a cursor is shown: else the rows' sort keys need not be read (decoding a timestamp per
    # position was a tenth of the nested page's CPU).
    keyed: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counted", any(isinstance(part, TotalCount) for part in self.parts))
        object.__setattr__(self, "keyed", any(
            isinstance(inner, EdgeCursor | PageCursor)
            for part in self.parts if isinstance(part, EdgesPlan | PageInfoPlan) for inner in part.parts
        ))


@dataclass(frozen=True, slots=True)
class ObjectPlan:
    """One object type's selection; `gates` are the permissions its fields need, each checked once per object."""

    type_name: str
    selections: tuple[Selection, ...]
    gates: tuple[Permission, ...]
    # How this object's columns are named in its rows: "" or a join's `alias.`.
    prefix: str
    # Compiled by graph.plan.codegen.
    build: Builder = field(compare=False, repr=False)

    # The selections read by a statement of their own, in the order `build` takes their values (kept, not
    # recomputed per request).
    children: tuple[Reference | ConnectionPlan, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        children = tuple(s for s in self.selections if isinstance(s, Reference | ConnectionPlan))
        object.__setattr__(self, "children", children)


Selection = Constant | Scalar | Reference | ConnectionPlan
# (row, values of the child selections, the row's index, a check per gate) -> the object's dict.
Builder = Callable[[Row, Sequence[list[object]], int, tuple[Callable[[int], bool], ...]], dict[str, object]]


@dataclass(frozen=True, slots=True)
class Lookup:
    """Query.market(id), Query.user(id) or Query.node(id): one object by its global id, with a plan
    per type it may be (`only`: the one type the field returns, None for `node`)."""

    key: str
    arguments: Arguments
    plans: dict[str, ObjectPlan]
    only: str | None


RootSelection = Constant | Lookup | ConnectionPlan


@dataclass(frozen=True, slots=True)
class Plan:
    """A query operation the planner handles: its root selections, the columns each type is read
    with (every User alike, so the users read once serve every later reference), and its cost when
    it does not depend on variables."""

    operation: OperationDefinitionNode
    roots: tuple[RootSelection, ...]
    columns: dict[str, tuple[str, ...]]
    cost: int | None
    # The variables' signatures when every one is an ID or a String (graph.plan.variables), else None.
    string_variables: tuple[GraphQLVariableSignature, ...] | None

    def columns_of(self, type_name: str) -> tuple[str, ...]:
        """The columns a type is read with (its id alone when the document selects none of its fields)."""
        return self.columns.get(type_name, ("id",))
