"""Subscriptions run only over a WebSocket: strawberry would run a subscription sent over HTTP as a query."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from graph.context import SubscriptionContext


class SubscriptionsOverWebSocket(SchemaExtension):
    """A valid subscription sent over HTTP is refused (400): strawberry would run its resolver as a query's."""

    def on_validate(self) -> Iterator[None]:
        """After validation: a valid subscription outside a socket raises InvalidOperationTypeError."""
        yield
        execution = self.execution_context
        if execution.pre_execution_errors or isinstance(execution.context, SubscriptionContext):
            return
        if execution.operation_type is OperationType.SUBSCRIPTION:
            raise InvalidOperationTypeError(OperationType.SUBSCRIPTION)
