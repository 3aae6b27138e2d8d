"""Each mutation field is a write, and counts as a request against the viewer's rate limit.

One request may carry many mutation fields (`a: createMarket(…) b: createMarket(…) …`), each one
a write: the request itself counted one, so an operation of N fields counts N - 1 more, all or
none, before any of them runs. An operation that asks for more than the viewer has left is refused
whole (429 RATE_LIMITED), not run in part. Fields are counted by response key, the way GraphQL
executes them: aliases count apart, fragments are looked into, a field repeated under one key
runs once; `@skip`/`@include` are not evaluated (such a field counts).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    get_operation_ast,
)
from strawberry.extensions import SchemaExtension

from domain.errors import RateLimited


def mutation_fields(document: DocumentNode, operation: OperationDefinitionNode) -> int:
    """How many root fields a mutation operation runs: distinct response keys, through fragments."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    keys: set[str] = set()
    spread: set[str] = set()
    pending: list[SelectionNode] = list(operation.selection_set.selections)
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode):
            if node.name.value != "__typename":
                keys.add((node.alias or node.name).value)
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in spread:
            spread.add(node.name.value)
            fragment = fragments.get(node.name.value)
            pending.extend(fragment.selection_set.selections if fragment else ())
    return len(keys)


class MutationBudget(SchemaExtension):
    """Charges a mutation operation's further fields to the viewer's rate limit (after validation)."""

    async def on_validate(self) -> AsyncIterator[None]:
        # Enters after ValidationCache and the query limits (extensions enter in order).
        further = self.further_writes()
        if further:
            context = self.execution_context.context
            try:
                await context.services.rate_limiter.check_viewer(context.rate_key, cost=further)
            except RateLimited as error:
                self.execution_context.pre_execution_errors = [GraphQLError(str(error), extensions=error.extensions)]
        yield

    def further_writes(self) -> int:
        """The fields past the first of a valid mutation operation whose viewer is counted; else 0."""
        execution = self.execution_context
        document = execution.graphql_document
        if execution.pre_execution_errors or document is None or not getattr(execution.context, "rate_key", ""):
            return 0
        operation = get_operation_ast(document, execution.operation_name)
        if operation is None or operation.operation is not OperationType.MUTATION:
            return 0
        return max(0, mutation_fields(document, operation) - 1)
