"""Query limits: depth, aliases, tokens and cost, refused with QUERY_TOO_COMPLEX before any resolver runs.

Depth and aliases are validation rules, built once so that ValidationCache keeps working; tokens are a
parser option; cost needs the request's variables, so it is computed after validation, per request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeGuard, runtime_checkable

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    Node,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValidationRule,
    ValueNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from graphql.validation.validate import ValidationAbortedError
from strawberry.extensions import SchemaExtension

from domain.errors import ErrorCode, code_extensions

# The page a connection returns without first/last, when its schema declares no default.
DEFAULT_PAGE_SIZE = 20
# Introspection's type references nest `ofType` eight deep without fanning out: it adds no depth.
FLAT_FIELDS = frozenset({"ofType"})
INT_RANGE = range(-(2**31), 2**31)
TOKEN_LIMIT = re.compile(r"Document contains more than (\d+) (tokens|comments)\.")
NESTED_TOO_DEEPLY = "Document is nested too deeply"
VALIDATION_ABORTED = "Validation aborted."
NESTED_MESSAGE = "Query is nested too deeply"
LABELS = {"depth": "depth", "aliases": "alias count", "cost": "cost", "selections": "selection count"}
# Said when validation gave up (recursion) on a document that is not too deep: the truth, not "nested".
TOO_COMPLEX_TO_VALIDATE = "Query is too complex to validate"


@dataclass(frozen=True)
class Limits:
    """The operator's query limits (MAX_QUERY_DEPTH, MAX_ALIASES, MAX_QUERY_TOKENS, MAX_QUERY_COST,
    MAX_QUERY_SELECTIONS)."""

    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_cost: int = 10_000
    max_selections: int = 500


@runtime_checkable
class Budgeted(Protocol):
    """A context whose operations share a cost budget (a WebSocket's subscriptions: markets.transport.socket_limits)."""

    def charge(self, cost: int) -> str | None:
        """Spend the operation's cost; why it cannot be spent, or None once it is."""


def too_complex(message: str, nodes: list[Node] | None = None, **measures: int) -> GraphQLError:
    """A QUERY_TOO_COMPLEX error carrying what was measured and the limit."""
    return GraphQLError(message, nodes, extensions=code_extensions(ErrorCode.QUERY_TOO_COMPLEX, **measures))


def over_limit(key: str, value: int, limit: int, node: Node | None) -> GraphQLError | None:
    """The error for a measure past its limit (at `node`, or the whole document), None within it."""
    if value <= limit:
        return None
    message = f"Query {LABELS[key]} {value} exceeds the limit of {limit}"
    return too_complex(message, [node] if node is not None else None, **{key: value, "limit": limit})


class Measure:
    """A number folded over an operation's selections; each named fragment is measured once, a cycle counts 0."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.measured: dict[str, int] = {}

    def combine(self, values: list[int]) -> int:
        """Sibling selections add up (depth takes the deepest instead)."""
        return sum(values)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        """The measure of one field with its selections."""
        raise NotImplementedError

    def selections(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None) -> int:
        """The measure of a selection set (plain loops: nesting may be 200 deep)."""
        values: list[int] = []
        for selection in node.selections if node else ():
            values.append(self.selection(selection, parent))
        return self.combine(values)

    def selection(self, node: SelectionNode, parent: GraphQLNamedType | None) -> int:
        """A field, an inline fragment, or a spread of a named fragment."""
        if isinstance(node, FieldNode):
            return self.field(node, parent)
        if isinstance(node, InlineFragmentNode):
            return self.selections(node.selection_set, self.condition(node, parent))
        assert isinstance(node, FragmentSpreadNode)
        return self.spread(node.name.value)

    def spread(self, name: str) -> int:
        """A named fragment's measure, computed once per document."""
        if name not in self.measured:
            self.measured[name] = 0  # reached again while being measured: a cycle, reported by NoFragmentCycles
            fragment = self.fragments.get(name)
            if fragment is not None:
                self.measured[name] = self.selections(fragment.selection_set, self.condition(fragment, None))
        return self.measured[name]

    def condition(
        self, node: InlineFragmentNode | FragmentDefinitionNode, parent: GraphQLNamedType | None
    ) -> GraphQLNamedType | None:
        """The type a fragment applies to: its type condition, else its parent's type."""
        if node.type_condition is None:
            return parent
        return self.schema.get_type(node.type_condition.name.value)

    def operation(self, operation: OperationDefinitionNode) -> int:
        """The measure of a whole operation."""
        return self.selections(operation.selection_set, self.schema.get_root_type(operation.operation))


class Depth(Measure):
    """Nesting of fields: `{ markets { totalCount } }` is 2 deep; introspection's `ofType` adds nothing."""

    def combine(self, values: list[int]) -> int:
        """The deepest of the siblings."""
        return max(values, default=0)

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        """One level for the field, plus its deepest selection."""
        inner = self.selections(node.selection_set, None)
        return inner if node.name.value in FLAT_FIELDS else 1 + inner


class Aliases(Measure):
    """Aliased fields, counted once for each time their fragment is spread."""

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        """One if the field is aliased, plus the aliases within it."""
        return int(node.alias is not None) + self.selections(node.selection_set, None)


class Cost(Measure):
    """GitHub's rule: a page (first/last, else its default) costs 1 + its size times its selections; the ids
    asked for cost 1 + their number times their selections, at least 1 each; any other object or list field
    1 + its selections; scalars nothing."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any]) -> None:
        super().__init__(schema, document)
        self.variables = variables

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> int:
        """The field's cost, from its definition on the parent type and its arguments."""
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0  # scalars, enums and __typename (and introspection) are free
        inner = self.selections(node.selection_set, get_named_type(definition.type))
        size = self.page_size(definition, node)
        if size is None:
            return 1 + inner
        # Each id asked for is a lookup, even when only scalars are selected from it.
        return 1 + size * (max(1, inner) if "ids" in definition.args else inner)

    def page_size(self, definition: GraphQLField, node: FieldNode) -> int | None:
        """How many items the field returns at most (first/last, or the ids asked for); None for one object."""
        arguments = {a.name.value: a.value for a in node.arguments or ()}
        if "first" in definition.args or "last" in definition.args:
            sizes = [v for v in (self.value(arguments.get(n)) for n in ("first", "last")) if is_int(v)]
            if sizes:
                return max(0, *sizes)
            default = definition.args["first"].default_value if "first" in definition.args else None
            return default if is_int(default) else DEFAULT_PAGE_SIZE
        if "ids" in definition.args:
            ids = self.value(arguments.get("ids"))
            return len(ids) if isinstance(ids, list) else 1
        return None

    def value(self, node: ValueNode | None) -> object:
        """An argument's value as far as cost needs it: an Int, or a list's items."""
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        return literal(node)


def is_int(value: object) -> TypeGuard[int]:
    """A value GraphQL's Int accepts (booleans are not ints here)."""
    return type(value) is int and value in INT_RANGE


def literal(node: ValueNode | None) -> object:
    """An Int literal's value, a list literal's items; None for anything else."""
    if isinstance(node, IntValueNode):
        try:
            return int(node.value)
        except ValueError:
            return None
    if isinstance(node, ListValueNode):
        return list(node.values)
    return None


def operation_variables(operation: OperationDefinitionNode, sent: Mapping[str, Any] | None) -> dict[str, Any]:
    """The variables the client sent, over the defaults the operation declares."""
    defaults = {d.variable.name.value: literal(d.default_value) for d in operation.variable_definitions or ()}
    return {**defaults, **(sent or {})}


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode,
    variables: Mapping[str, Any] | None,
) -> int:
    """The cost of one of the document's operations, with the variables sent."""
    return Cost(schema, document, operation_variables(operation, variables)).operation(operation)


class FixedCost(Cost):
    """Cost, noting whether any variable was read to decide it."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        super().__init__(schema, document, {})
        self.variable_read = False

    def value(self, node: ValueNode | None) -> object:
        self.variable_read = self.variable_read or isinstance(node, VariableNode)
        return super().value(node)


def fixed_cost(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode) -> int | None:
    """The operation's cost when it is the same whatever the variables (no page size or list of ids is a
    variable), so that it is measured once per document; else None."""
    meter = FixedCost(schema, document)
    cost = meter.operation(operation)
    return None if meter.variable_read else cost


def query_cost(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int | None:
    """The cost of the operation a request runs, None when the document has no such operation."""
    operation = get_operation_ast(document, operation_name)
    return None if operation is None else operation_cost(schema, document, operation, variables)


def measured(check: Callable[[], GraphQLError | None]) -> GraphQLError | None:
    """Run a check; a document that exhausts the stack is too complex by definition."""
    try:
        return check()
    except RecursionError:
        return too_complex(NESTED_MESSAGE)


def operation_over_limit(
    meter: Measure, operation: OperationDefinitionNode, key: str, limit: int
) -> GraphQLError | None:
    """The error for an operation whose measure exceeds the limit, None within it."""
    return over_limit(key, meter.operation(operation), limit, operation)


def limit_rule(measure: type[Measure], key: str, limit: int) -> type[ValidationRule]:
    """A validation rule refusing each operation whose measure exceeds the limit."""

    class LimitRule(ValidationRule):
        # On leaving the document: graphql-core has by then aborted one nested past its recursion budget.
        def leave_document(self, node: DocumentNode, *_: object) -> None:
            meter = measure(self.context.schema, node)
            for operation in node.definitions:
                if isinstance(operation, OperationDefinitionNode):
                    error = measured(partial(operation_over_limit, meter, operation, key, limit))
                    if error is not None:
                        self.report_error(error)

    LimitRule.__name__ = LimitRule.__qualname__ = f"Max{measure.__name__}Rule"
    return LimitRule


def document_depth(schema: GraphQLSchema, document: DocumentNode) -> int | None:
    """The depth of the document's deepest operation; None when measuring it exhausts the stack."""
    meter = Depth(schema, document)
    try:
        return max((meter.operation(d) for d in document.definitions if isinstance(d, OperationDefinitionNode)),
                   default=0)
    except RecursionError:
        return None


def aborted_message(schema: GraphQLSchema, document: DocumentNode | None, limits: Limits) -> str:
    """Why validation gave up: too deep only when the document is deeper than the limit."""
    depth = document_depth(schema, document) if document is not None else None
    return NESTED_MESSAGE if depth is None or depth > limits.max_depth else TOO_COMPLEX_TO_VALIDATE


def mark_too_complex(error: GraphQLError, aborted: Callable[[], str] = lambda: NESTED_MESSAGE) -> None:
    """Give graphql-core's own refusals of a document too big or too deep the code QUERY_TOO_COMPLEX;
    `aborted` says why validation gave up, when it did."""
    if isinstance(error, GraphQLSyntaxError):
        match = TOKEN_LIMIT.search(error.message)
        if match is not None:
            error.message = f"Query has more than {match.group(1)} {match.group(2)}"
            error.extensions = code_extensions(ErrorCode.QUERY_TOO_COMPLEX, limit=int(match.group(1)))
        elif NESTED_TOO_DEEPLY in error.message:
            error.message, error.extensions = NESTED_MESSAGE, code_extensions(ErrorCode.QUERY_TOO_COMPLEX)
    elif isinstance(error, ValidationAbortedError) and error.message == VALIDATION_ABORTED:
        # Without "Too many validation errors": the validator ran out of stack.
        error.message, error.extensions = aborted(), code_extensions(ErrorCode.QUERY_TOO_COMPLEX)


class QueryLimits(SchemaExtension):
    """Applies the limits to one request; build it with `query_limits`, which builds the rules once."""

    def __init__(self, limits: Limits, rules: tuple[type[ValidationRule], ...]) -> None:
        self.limits = limits
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        """Set the token limit and the rules; give the parser's limit errors their code."""
        execution = self.execution_context
        tokens = self.limits.max_tokens  # comments are bounded too: the lexer allocates each one
        # graphql-core 3.3 takes both; strawberry's ParseOptions TypedDict names only max_tokens.
        execution.parse_options.update(max_lexical_tokens=tokens, max_comments=tokens)  # type: ignore[call-arg]
        execution.validation_rules = (*execution.validation_rules, *self.rules)
        try:
            yield
        except GraphQLSyntaxError as error:  # raised by the DocumentCache's parse, from its own hook
            mark_too_complex(error)
            raise
        schema, document = execution.schema._schema, execution.graphql_document
        for refused in execution.pre_execution_errors or ():  # caught by strawberry's own parse
            mark_too_complex(refused, lambda: aborted_message(schema, document, self.limits))

    def on_validate(self) -> Iterator[None]:
        """Refuse an operation that costs too much, with the request's variables."""
        # Runs after ValidationCache has validated (extensions enter in order); a cost is only
        # meaningful for a valid document. The cached error list is replaced, never appended to.
        execution = self.execution_context
        document = execution.graphql_document
        if not execution.pre_execution_errors and document is not None:
            error = measured(lambda: self.cost_error(document))
            if error is not None:
                execution.pre_execution_errors = [error]
        yield

    def cost_error(self, document: DocumentNode) -> GraphQLError | None:
        """The error for an operation that costs more than the limit, with its variables."""
        execution = self.execution_context
        operation = get_operation_ast(document, execution.operation_name)
        if operation is None:
            return None
        cost = operation_cost(execution.schema._schema, document, operation, execution.variables)
        error = over_limit("cost", cost, self.limits.max_cost, operation)
        if error is None and isinstance(execution.context, Budgeted):
            refusal = execution.context.charge(cost)
            if refusal is not None:
                error = too_complex(refusal, [operation], cost=cost)
        return error


def query_limits(limits: Limits) -> Callable[[], QueryLimits]:
    """The extension factory, with the depth and alias rules built once for the process."""
    rules = (limit_rule(Depth, "depth", limits.max_depth), limit_rule(Aliases, "aliases", limits.max_aliases))
    return lambda: QueryLimits(limits, rules)
