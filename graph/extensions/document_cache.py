"""Parsing and validation, cached together per query text in one LRU bounded by entries AND bytes.

Strawberry's ParserCache and ValidationCache are `functools.lru_cache` globals bounded by entry count
only, the second keyed by whole documents: distinct 1 MB documents filled hundreds of MiB. Here one
entry per text holds its document and, once validated, its errors; it is weighed from above by its
text (three times: the source, the token values and the AST's string values; measured 2.2 times for a
document that is one long string) and its tokens (the AST's nodes and the token chain cost up to ~540
bytes a token, measured on graphql-core 3.3). The cache lives with its schema, not in a module global.

A document is also refused before validation when it holds more selections than the limit: the
validation of one field repeated 1,200 times costs about a second (the overlap check compares every
pair), while counting selections costs microseconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from graphql import (
    ASTValidationRule,
    DocumentNode,
    ExecutableDefinitionNode,
    FieldNode,
    GraphQLError,
    InlineFragmentNode,
    SelectionSetNode,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from domain.bounded import BoundedLRU, text_bytes
from graph.extensions.limits import Limits, over_limit

DOCUMENT_ENTRIES = 1024
DOCUMENT_BYTES = 64 * 1024 * 1024
# One entry may take at most this much: a bigger document is parsed for its request and forgotten.
DOCUMENT_ENTRY_BYTES = 8 * 1024 * 1024
# An upper estimate of what each token costs once parsed: its Token object and its share of the AST.
TOKEN_BYTES = 600

Key = tuple[str, tuple[tuple[str, object], ...]]
Rules = tuple[type[ASTValidationRule], ...]


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed text: its document, how many selections it writes, and its validation once done."""

    document: DocumentNode
    selections: int
    tokens: int
    rules: Rules | None = None
    errors: tuple[GraphQLError, ...] = ()
    # graph.extensions.input_checks.DocumentStrings, once a request has needed them: what its strings say.
    strings: object | None = None
    # graph.plan.nodes.Plan (or None: not planned) by operation name, once compiled (graph.plan.reads).
    plans: Mapping[str | None, object] | None = None


def count_tokens(document: DocumentNode) -> int:
    """The tokens the parser kept (the AST's location holds the whole chain)."""
    token, count = (document.loc.start_token if document.loc else None), 0
    while token is not None:
        token, count = token.next, count + 1
    return count


def count_selections(document: DocumentNode) -> int:
    """Fields, fragment spreads and inline fragments as written (each fragment once), without recursion."""
    stack: list[SelectionSetNode] = [
        d.selection_set for d in document.definitions if isinstance(d, ExecutableDefinitionNode)
    ]
    count = 0
    while stack:
        selections = stack.pop().selections
        count += len(selections)
        stack.extend(
            s.selection_set for s in selections
            if isinstance(s, FieldNode | InlineFragmentNode) and s.selection_set is not None
        )
    return count


def weigh(key: Key, parsed: Parsed) -> int:
    """What an entry holds in memory, estimated from above."""
    return 3 * text_bytes(key[0]) + TOKEN_BYTES * parsed.tokens


DocumentStore = BoundedLRU[Key, Parsed]


def document_key(query: str, parse_options: Mapping[str, object]) -> Key:
    """A text's entry: the same text parsed with other limits is another document."""
    return query, tuple(sorted(parse_options.items()))


def document_store() -> DocumentStore:
    """One schema's cache of parsed and validated texts."""
    return BoundedLRU(
        max_entries=DOCUMENT_ENTRIES, max_bytes=DOCUMENT_BYTES, max_entry_bytes=DOCUMENT_ENTRY_BYTES, weigh=weigh,
    )


class DocumentCache(SchemaExtension):
    """Parses and validates through the schema's bounded cache; refuses too many selections unvalidated."""

    def __init__(self, store: BoundedLRU[Key, Parsed], limits: Limits) -> None:
        self.store = store
        self.limits = limits
        self.key: Key | None = None
        self.parsed: Parsed | None = None

    def on_parse(self) -> Iterator[None]:
        """The cached document for the text, else parse it (a syntax error propagates, uncached)."""
        execution = self.execution_context
        if execution.graphql_document is None and execution.query:
            self.key = document_key(execution.query, execution.parse_options)
            self.parsed = self.store.get(self.key)
            if self.parsed is None:
                document = parse(execution.query, **execution.parse_options)
                self.parsed = Parsed(document, count_selections(document), count_tokens(document))
                self.store.put(self.key, self.parsed)
            execution.graphql_document = self.parsed.document
        yield

    def on_validate(self) -> Iterator[None]:
        """Refuse too many selections before validating; else the cached errors, or validate and keep them."""
        execution = self.execution_context
        parsed, key = self.parsed, self.key
        if parsed is not None and key is not None and execution.pre_execution_errors is None:
            document = parsed.document
            refused = over_limit("selections", parsed.selections, self.limits.max_selections, None)
            rules = tuple(execution.validation_rules)
            if refused is not None:
                execution.pre_execution_errors = [refused]
            elif parsed.rules == rules:
                execution.pre_execution_errors = list(parsed.errors)
            else:
                errors = validate_document(execution.schema._schema, document, rules)
                execution.pre_execution_errors = errors
                if key in self.store:
                    self.store.put(key, replace(parsed, rules=rules, errors=tuple(errors)))
        yield
