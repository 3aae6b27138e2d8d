"""One error model: every GraphQL error leaves with an `extensions.code`, nothing internal leaks."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from graphql.language import (
    ArgumentNode,
    DocumentNode,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    VariableNode,
    visit,
)
from graphql.language.visitor import Visitor
from strawberry.extensions import SchemaExtension

from domain.errors import ErrorCode, code_extensions
from domain.ports import StoreFaults
from graph.scalars import ScalarInputError

log = logging.getLogger("markets.errors")

INTERNAL = "Internal server error"
# graphql-core 3.3: "Variable '$input' has invalid value at .amount: <why>" (no " at ..." for the whole value).
VARIABLE_PATH = re.compile(
    r"^Variable '\$(\w+)' has invalid (?:default )?value(?: at ((?:\.\w+|\[\d+\])+))?: (.*)$", re.DOTALL
)
VARIABLE_NAME = re.compile(r"^Variable '\$(\w+)'")
# graphql-core's hints ("Did you mean 'markets'?") name fields and values: with introspection off they
# would hand out the schema it hides.
SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


class ValidationPhase(SchemaExtension):
    """Marks the request when its document failed validation, so those errors are told apart.

    It also refuses a document of several operations sent without `operationName`, which the
    GraphQL spec requires and strawberry would otherwise answer by running the first one.
    """

    def on_validate(self) -> Iterator[None]:
        # Runs after ValidationCache has validated (extensions enter in order), before the
        # errors are looked at.
        execution = self.execution_context
        document = execution.graphql_document
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)] if document else []
        named = execution._provided_operation_name  # `operation_name` falls back to the first one
        if not execution.pre_execution_errors and len(operations) > 1 and not named:
            execution.pre_execution_errors = [
                GraphQLError("Must provide operationName when the document contains several operations")
            ]
        yield
        execution.context.document = document
        execution.context.validation_failed = bool(execution.pre_execution_errors)


def error_body(message: str, code: ErrorCode, **extensions: Any) -> dict[str, Any]:
    """A GraphQL error as the client reads it, for errors built outside graphql-core."""
    return {"message": message, "extensions": code_extensions(code, **extensions)}


def literal_path(document: DocumentNode | None, target: Node) -> str | None:
    """The dotted path, from its argument, of a literal value node in the document."""
    return _argument_path(document, lambda node: node is target)


def variable_path(document: DocumentNode | None, name: str) -> str | None:
    """The dotted path, from its argument, where the variable `$name` is used in the document."""
    return _argument_path(document, lambda node: isinstance(node, VariableNode) and node.name.value == name)


def _argument_path(document: DocumentNode | None, matches: Callable[[Node], bool]) -> str | None:
    found: list[str] = []

    class Finder(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            path = _search(node.value, matches, node.name.value)
            if path:
                found.append(path)

    if document is not None:
        visit(document, Finder())
    return found[0] if found else None


def _search(value: Node, matches: Callable[[Node], bool], path: str) -> str | None:
    if matches(value):
        return path
    if isinstance(value, ObjectValueNode):
        for field in value.fields:
            hit = _search(field.value, matches, f"{path}.{field.name.value}")
            if hit:
                return hit
    if isinstance(value, ListValueNode):
        for index, item in enumerate(value.values):
            hit = _search(item, matches, f"{path}[{index}]")
            if hit:
                return hit
    return None


def variable_fields(message: str, document: DocumentNode | None = None) -> dict[str, str]:
    """{path from the argument: why} for a variable value that did not coerce."""
    match = VARIABLE_PATH.match(message)
    if match:
        name, inner, why = match.groups()
        return {(variable_path(document, name) or name) + (inner or ""): why}
    named = VARIABLE_NAME.match(message)
    if named:
        return {variable_path(document, named.group(1)) or named.group(1): message}
    return {"variables": message}


def classify(
    error: GraphQLError, *, validation_failed: bool, document: DocumentNode | None, faults: StoreFaults,
    suggestions: bool = True,
) -> dict[str, Any]:
    """The client's view of one error: the code it carries (QUERY_TOO_COMPLEX…), else one by its phase.

    Without `suggestions` (introspection off), graphql-core's "Did you mean …?" hints are left out.
    """
    body: dict[str, Any] = dict(error.formatted)
    if not suggestions:
        body["message"] = SUGGESTION.sub("", body["message"])
    original = error.original_error
    if (error.extensions or {}).get("code"):
        return body
    if isinstance(error, GraphQLSyntaxError):
        return {**body, "extensions": code_extensions(ErrorCode.GRAPHQL_PARSE_FAILED)}
    if validation_failed:
        if isinstance(original, ScalarInputError) and error.nodes:
            fields = {literal_path(document, error.nodes[0]) or "input": str(original)}
            return {**body, "extensions": code_extensions(ErrorCode.BAD_USER_INPUT, fields=fields)}
        return {**body, "extensions": code_extensions(ErrorCode.GRAPHQL_VALIDATION_FAILED)}
    if error.path is None:
        # Execution errors with no path are variable values that did not coerce.
        fields = variable_fields(body["message"], document)
        return {**body, "extensions": code_extensions(ErrorCode.BAD_USER_INPUT, fields=fields)}
    if faults.database_down(original):
        log.warning("database unavailable: %r", original)
        return {**body, **error_body("The database is unavailable", ErrorCode.SERVICE_UNAVAILABLE)}
    log.error("unexpected error at %s", error.path, exc_info=original or error)
    where = {key: body[key] for key in ("locations", "path") if key in body}
    return where | error_body(INTERNAL, ErrorCode.INTERNAL_SERVER_ERROR)
