"""One check of every string a request brings: no NUL characters, no lone surrogates (contract, "Inputs").

PostgreSQL refuses a NUL in text, and a lone surrogate cannot be encoded as UTF-8 (not in a
statement, not in a response that echoes it): left alone, either fails deep down as an internal
error. So they are refused up front as BAD_USER_INPUT, like any other invalid input:

- the request's own strings, `query` and `operationName`, before anything runs (`request_refusal`);
- literal strings and every string in the variables (keys included), after validation, by the
  `InputStrings` extension, with `extensions.fields` naming each bad input by its path from the
  argument, as for any other bad input.

GraphQL's `String` and `ID` are graphql-core's built-in scalars, which a schema cannot replace:
hence one check of the request here rather than in their parsing.

The same walk also tells the log's redaction net (the `conceal` build_schema is given) which values are passwords.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, cast

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    ObjectFieldNode,
    StringValueNode,
    VariableNode,
    visit,
)
from graphql.language.visitor import Visitor
from strawberry.extensions import SchemaExtension

from domain.errors import ErrorCode, code_extensions
from graph.errors import literal_path, variable_path
from graph.extensions.document_cache import DocumentStore, document_key

MESSAGE = "Strings may not contain NUL characters or lone surrogates"
NUL = "must not contain NUL characters"
SURROGATE = "must not contain lone surrogates"
# json.loads pairs the escapes of an astral character into one code point: what is left is alone.
BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
PASSWORD = re.compile("password", re.IGNORECASE)


def problem(text: str) -> str | None:
    """What is wrong with a string a client sent, None when nothing is."""
    found = BAD_CHARACTER.search(text)
    if found is None:
        return None
    return NUL if found.group() == "\x00" else SURROGATE


def bad_strings(value: object, path: str) -> Iterator[tuple[str, str]]:
    """(path, problem) for each bad string in a JSON value; a bad key is reported at its object's path
    (never echoed: it cannot be encoded)."""
    if isinstance(value, str):
        found = problem(value)
        if found is not None:
            yield path, found
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key_problem = problem(key) if isinstance(key, str) else None
            if key_problem is not None:
                yield path, f"field names {key_problem}"
                continue
            yield from bad_strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from bad_strings(item, f"{path}[{index}]")


def refused(fields: Mapping[str, str]) -> GraphQLError:
    """The one BAD_USER_INPUT error naming every bad string."""
    return GraphQLError(MESSAGE, extensions=code_extensions(ErrorCode.BAD_USER_INPUT, fields=dict(fields)))


def request_refusal(query: object, operation_name: object) -> GraphQLError | None:
    """The error for a request whose document text holds a lone surrogate (it cannot be hashed, and the
    parser would echo it) or whose operationName holds a bad character, else None.

    A NUL in the document is the parser's to refuse (GRAPHQL_PARSE_FAILED), or, within a string
    literal, the `InputStrings` extension's, with its argument's path.
    """
    fields: dict[str, str] = {}
    # An ASCII text (str.isascii reads a flag, it does not scan) holds no surrogate: most queries are.
    if isinstance(query, str) and not query.isascii() and LONE_SURROGATE.search(query) is not None:
        fields["query"] = SURROGATE
    if operation_name is not None:
        fields.update((path.removeprefix("."), why) for path, why in bad_strings(operation_name, ".operationName"))
    return refused(fields) if fields else None


def document_strings(document: DocumentNode) -> Iterator[StringValueNode]:
    """Every string literal of the document (arguments, input fields, variable defaults, directives)."""
    found: list[StringValueNode] = []

    class Strings(Visitor):
        def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
            found.append(node)

    visit(document, Strings())
    return iter(found)


def variable_strings(document: DocumentNode, variables: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(path from the argument, problem) for each bad string in the variables sent."""
    for name, value in variables.items():
        if isinstance(name, str) and problem(name) is not None:
            yield "variables", f"variable names {problem(name)}"
            continue
        for inner, why in bad_strings(value, ""):
            yield (variable_path(document, name) or name) + inner, why


@dataclass(frozen=True, slots=True)
class DocumentStrings:
    """What InputStrings needs of a document alone, found once per cached document (two full walks
    of the AST per request otherwise, a fifteenth of a small query's CPU): the password literals,
    the variables passed as passwords, and the literals' problems by path."""

    password_literals: tuple[str, ...]
    password_variables: tuple[str, ...]
    literal_problems: tuple[tuple[str, str], ...]


def document_strings_of(document: DocumentNode) -> DocumentStrings:
    literals: list[str] = []
    variables: list[str] = []

    class Passwords(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
            self.take(node.name.value, node.value)

        def enter_object_field(self, node: ObjectFieldNode, *_: Any) -> None:
            self.take(node.name.value, node.value)

        @staticmethod
        def take(name: str, value: Any) -> None:
            if not PASSWORD.search(name):
                return
            if isinstance(value, StringValueNode):
                literals.append(value.value)
            elif isinstance(value, VariableNode):
                variables.append(value.name.value)

    visit(document, Passwords())
    problems = {
        literal_path(document, node) or "query": why
        for node in document_strings(document) if (why := problem(node.value)) is not None
    }
    return DocumentStrings(tuple(literals), tuple(variables), tuple(problems.items()))


def password_inputs(strings: DocumentStrings, variables: Mapping[str, Any]) -> Iterator[object]:
    """The values the request sends as a password, as a literal or through a variable."""
    yield from strings.password_literals
    yield from (variables.get(name) for name in strings.password_variables)
    yield from nested_passwords(variables)


def nested_passwords(value: object) -> Iterator[object]:
    """The values under password-named keys anywhere in the variables (an input object's `password`)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and PASSWORD.search(key):
                yield item
            else:
                yield from nested_passwords(item)
    elif isinstance(value, list):
        for item in value:
            yield from nested_passwords(item)


class InputStrings(SchemaExtension):
    """Refuses a document whose strings (literals, variables) hold NUL or a lone surrogate: BAD_USER_INPUT.

    Runs after ValidationCache has validated (extensions enter in order) and replaces its errors,
    which may echo the bad string. Also marks the request's passwords for the log's redaction.
    What the document alone says is kept with it in the schema's document cache.
    """

    def __init__(
        self, documents: DocumentStore | None = None, *, conceal: Callable[[object], None] = lambda value: None
    ) -> None:
        self.documents = documents
        self.conceal = conceal

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        if document is not None:
            variables = execution.variables or {}
            strings = self.strings(document)
            for password in password_inputs(strings, variables):
                self.conceal(password)
            fields = dict(strings.literal_problems)
            fields.update(variable_strings(document, variables))
            if fields:
                execution.pre_execution_errors = [refused(fields)]
        yield

    def strings(self, document: DocumentNode) -> DocumentStrings:
        """The document's strings from its cache entry, found and kept there on first use."""
        execution = self.execution_context
        key = document_key(execution.query or "", execution.parse_options)
        parsed = self.documents.get(key) if self.documents is not None else None
        if parsed is not None and parsed.document is document and parsed.strings is not None:
            return cast(DocumentStrings, parsed.strings)
        strings = document_strings_of(document)
        if parsed is not None and parsed.document is document and self.documents is not None:
            self.documents.put(key, replace(parsed, strings=strings))
        return strings
