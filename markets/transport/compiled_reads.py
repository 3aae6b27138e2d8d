"""The HTTP side of compiled reads: answer a POSTed query from its plan, or hand it to graphql-core.

A request is planned only when everything graphql-core's path would check before executing is
known to pass: a JSON body of the usual shape, no persisted-query extension, a document already
parsed and validated without errors in the schema's document cache (graph.extensions.document_cache),
its strings clean (graph.extensions.input_checks), its cost within MAX_QUERY_COST
(graph.extensions.limits), its variables coercible. The request is then admitted exactly as
graphql-core's would be (markets.transport.admission: rate limit, token, viewer), its plan runs, and
the answer is encoded once by markets.transport.json_codec, with the headers, log line and metrics
graphql-core's answer would have. Anything else, and any request whose answer would carry an error,
goes to graphql-core (graph.plan.executor.Decline).

With READ_PLAN_SHADOW (the test suite's settings) every request runs through graphql-core first,
and a request the planner answers too must be answered byte for byte alike: else a 500, logged
(unless graphql-core's answer reports a fault of the machinery, which tests inject into its path).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from graphql.execution.values import VariableValues, get_variable_values
from starlette.requests import Request

from domain.errors import ErrorCode
from graph.extensions.document_cache import DocumentStore, Parsed, document_key
from graph.extensions.input_checks import (
    DocumentStrings,
    document_strings_of,
    password_inputs,
    request_refusal,
    variable_strings,
)
from graph.extensions.limits import measured, operation_cost, over_limit
from graph.plan.compiler import compile_plan
from graph.plan.executor import Decline, Run, execute
from graph.plan.nodes import Plan
from graph.plan.variables import coerced_strings
from graph.schema import Schema
from markets.application import Application
from markets.observability.logs import conceal
from markets.observability.request_metrics import current
from markets.transport.admission import admit_request, admitted
from markets.transport.json_codec import dumps, loads
from markets.transport.proxies import Network

log = logging.getLogger("markets.plan")


# Failures of the machinery (a repository that raises, the database gone): a test injects them into
# graphql-core's path, which the plan does not take, so its answer is not comparable.
FAULTS = frozenset({ErrorCode.INTERNAL_SERVER_ERROR, ErrorCode.SERVICE_UNAVAILABLE})


def faulted(status: int, body: bytes) -> bool:
    """Whether graphql-core's answer reports a failure of the machinery rather than of the request."""
    if status >= 500:
        return True
    if b'"errors"' not in body:
        return False
    try:
        parsed = loads(body)
    except (ValueError, RecursionError):
        return False
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    return bool({e.get("extensions", {}).get("code") for e in errors or () if isinstance(e, dict)} & FAULTS)


def json_content(content_type: str) -> bool:
    """Whether strawberry reads the body as JSON: its media type, parameters aside, is exactly
    `application/json` (strawberry compares it as written). Any other type, even one strawberry would also
    read as JSON, goes its way."""
    return content_type.partition(";")[0].strip() == "application/json"


# What graphql-core coerces for an operation that declares no variables (whatever the client sent).
NO_VARIABLES = VariableValues(sources={}, coerced={})


class PlanMismatch(RuntimeError):
    """READ_PLAN_SHADOW: the plan's answer is not graphql-core's."""


@dataclass(frozen=True, slots=True)
class Planned:
    """A request the planner will answer: its plan and its coerced variables."""

    plan: Plan
    variables: VariableValues


class CompiledReads:
    """The view's compiled read path (off without read views: SQLite, or COMPILED_READS=false)."""

    def __init__(
        self, *, app: Application, schema: Schema, persisted_only: bool, proxies: Sequence[Network]
    ) -> None:
        self.app = app
        self.proxies = proxies
        self.schema = schema
        self.documents: DocumentStore = schema.documents
        self.limits = app.settings.query_limits()
        tokens = self.limits.max_tokens
        # The parse options graph.extensions.limits.QueryLimits sets: part of each document's cache key.
        self.parse_options = {"max_lexical_tokens": tokens, "max_comments": tokens}
        self.shadow = app.settings.read_plan_shadow
        self.persisted_only = persisted_only
        # Requests answered by a plan, and (shadow) found equal to graphql-core's: the tests' proof
        # that the path is taken at all.
        self.answered = 0
        self.compared = 0

    @property
    def enabled(self) -> bool:
        return self.app.views is not None

    async def check(self, request: Request, sent: bytes, status: int, content_type: str | None, body: bytes) -> None:
        """READ_PLAN_SHADOW: graphql-core answered the request (its body `sent`) so; if the planner answers it
        too, its answer must be the same (PlanMismatch if not). Its statements are not counted. Nothing is
        compared when graphql-core's admission refused the request (over its rate limit, a bad token): the
        plan's is the same function (markets.transport.admission), and would not count it a second time."""
        if faulted(status, body) or admitted(request) is None:
            return
        info = current.get()
        counted = (info.statements, info.cache_hits, info.cache_misses) if info is not None else None
        try:
            answer = await self.answer(request, sent)
        except Decline:
            answer = None
        finally:
            if info is not None and counted is not None:
                info.statements, info.cache_hits, info.cache_misses = counted
        if answer is None:
            return
        if (200, answer, "application/json") != (status, body, content_type):
            log.error("compiled read differs from graphql-core: %r against %r", answer, body)
            raise PlanMismatch("the compiled read's answer differs from graphql-core's")
        self.compared += 1

    async def answer(self, request: Request, sent: bytes) -> bytes | None:
        """The plan's answer to the request (its body `sent`, read already) as its JSON body (status 200), or None
        (Decline) when graphql-core must answer."""
        views = self.app.views
        if views is None:
            return None
        planned = self.planned(request, sent)
        if planned is None:
            return None
        admission = await admit_request(request, self.app, self.proxies, views.viewer)
        try:
            data = await execute(Run(
                plan=planned.plan, views=views, viewer=admission.viewer, cursors=self.app.api.cursors,
                variables=planned.variables,
            ))
        except Decline:
            raise
        except Exception as error:
            if self.shadow:
                raise  # the tests must see a plan that fails
            # The database gone, say: graphql-core answers, with the error codes and status it gives.
            log.warning("a compiled read failed, graphql-core answers it: %r", error)
            raise Decline(repr(error)) from error
        operation = planned.plan.operation
        info = current.get()
        if info is not None:
            info.operation_name = operation.name.value if operation.name else None
            info.operation_type = operation.operation.value
        self.answered += 1
        return dumps({"data": data})

    def planned(self, request: Request, sent: bytes) -> Planned | None:
        """The plan and variables of a request graphql-core's path would execute without an error."""
        body = self.body(request, sent)
        if body is None:
            return None
        query, variables, operation_name = body
        key = document_key(query, self.parse_options)
        entry = self.documents.get(key)
        if entry is None or entry.rules is None or entry.errors:
            return None  # not yet validated here (graphql-core parses and validates it first), or invalid
        plan = self.plan(key, entry, operation_name)
        if plan is None or not self.clean(entry, variables) or self.too_costly(entry, plan, variables):
            return None
        definitions = plan.operation.variable_definitions
        if not definitions:
            return Planned(plan, NO_VARIABLES)
        strings = plan.string_variables
        plain = coerced_strings(strings, variables) if strings is not None else None
        if plain is not None:
            return Planned(plan, plain)
        coerced = get_variable_values(self.schema._schema, definitions, variables)
        return None if isinstance(coerced, list) else Planned(plan, coerced)

    def body(self, request: Request, sent: bytes) -> tuple[str, dict[str, Any], str | None] | None:
        """(query, variables, operationName) of a JSON POST strawberry would run as it stands."""
        headers = request.headers
        accept = headers.get("accept", "")
        if not json_content(headers.get("content-type", "")) or "multipart" in accept or "event-stream" in accept:
            return None
        try:
            body = loads(sent)
        except (ValueError, RecursionError):
            return None
        if not isinstance(body, dict) or body.get("extensions") or self.persisted_only:
            return None
        query, variables, operation_name = body.get("query"), body.get("variables"), body.get("operationName")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return None
        if not isinstance(operation_name, str | None) or request_refusal(query, operation_name) is not None:
            return None
        return query, variables or {}, operation_name

    def plan(self, key: Any, entry: Parsed, operation_name: str | None) -> Plan | None:
        """The operation's plan, compiled on first use and kept with the document."""
        plans: Mapping[str | None, object] = entry.plans or {}
        if operation_name not in plans:
            plans = {**plans, operation_name: compile_plan(self.schema, entry.document, operation_name)}
            if key in self.documents:
                self.documents.put(key, replace(entry, plans=plans))
        return cast(Plan | None, plans[operation_name])

    def clean(self, entry: Parsed, variables: dict[str, Any]) -> bool:
        """No bad string in the document or the variables (graph.extensions.input_checks); passwords
        concealed as there."""
        strings = cast(DocumentStrings, entry.strings) if entry.strings is not None else document_strings_of(
            entry.document
        )
        if strings.literal_problems or (variables and any(True for _ in variable_strings(entry.document, variables))):
            return False
        for password in password_inputs(strings, variables):
            conceal(password)
        return True

    def too_costly(self, entry: Parsed, plan: Plan, variables: dict[str, Any]) -> bool:
        """Whether graph.extensions.limits would refuse the operation's cost with these variables."""
        if plan.cost is not None:
            return plan.cost > self.limits.max_cost
        return measured(lambda: over_limit(
            "cost", operation_cost(self.schema._schema, entry.document, plan.operation, variables),
            self.limits.max_cost, None,
        )) is not None
