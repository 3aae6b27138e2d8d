"""graph.plan.variables: ids and strings coerced as graphql-core's get_variable_values coerces them; and the
arguments without variables, coerced once per document (graph.plan.compiler)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from graphql.execution.values import VariableValues, get_variable_values
from hypothesis import given
from hypothesis import strategies as st

from graph.plan.compiler import compile_plan
from graph.plan.nodes import ConnectionPlan
from graph.plan.variables import coerced_strings, string_signatures
from graph.schema import build_schema

SCHEMA = build_schema()._schema
STRINGS = "query($id: ID!, $maybe: ID, $text: String!, $note: String = \"x\") { __typename }"


def definitions(query: str) -> Any:
    operation = parse(query).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation.variable_definitions


def as_compared(values: VariableValues) -> tuple[dict[str, Any], dict[str, Any]]:
    sources = {name: (s.signature.name, str(s.signature.type), s.signature.default, s.value)
               for name, s in values.sources.items()}
    return sources, values.coerced


@given(st.dictionaries(
    st.sampled_from(["id", "maybe", "text", "note", "extra"]),
    st.none() | st.text() | st.integers() | st.booleans() | st.lists(st.text(), max_size=2),
))
def test_where_it_coerces_it_coerces_as_graphql_core(inputs: dict[str, Any]) -> None:
    signatures = string_signatures(SCHEMA, definitions(STRINGS))
    assert signatures is not None
    plain = coerced_strings(signatures, inputs)
    reference = get_variable_values(SCHEMA, definitions(STRINGS), inputs)
    if plain is None:
        assert not all(type(inputs.get(name)) is str for name in ("id", "maybe", "text", "note"))
        return
    assert isinstance(reference, VariableValues)
    assert as_compared(plain) == as_compared(reference)


@pytest.mark.parametrize("query", [
    "query($n: Int) { __typename }",
    "query($s: MarketStatus) { __typename }",
    "query($ids: [ID!]!) { __typename }",
    "query($f: MarketFilter) { __typename }",
    "query($x: NoSuchType) { __typename }",
])
def test_any_other_type_leaves_coercion_to_graphql_core(query: str) -> None:
    assert string_signatures(SCHEMA, definitions(query)) is None


def test_no_variables_coerce_to_nothing() -> None:
    assert string_signatures(SCHEMA, None) == ()
    assert coerced_strings((), {"anything": 1}) == VariableValues({}, {})


@pytest.mark.parametrize(("query", "constant"), [
    ("{ markets(first: 20, filter: {status: ACTIVE}, orderBy: {field: VOLUME, direction: DESC}) { totalCount } }",
     {"first": 20, "filter": {"status": "ACTIVE"}, "orderBy": {"field": "VOLUME", "direction": "DESC"}}),
    ("{ markets { totalCount } }", {}),
    ("query($n: Int) { markets(first: $n) { totalCount } }", None),
    ("query($s: MarketStatus) { markets(filter: {status: $s}) { totalCount } }", None),
    ("query($d: SortDirection!) { markets(orderBy: {field: NAME, direction: $d}) { totalCount } }", None),
])
def test_arguments_without_variables_are_coerced_once_per_document(query: str, constant: Any) -> None:
    plan = compile_plan(build_schema(), parse(query), None)
    assert plan is not None
    root = plan.roots[0]
    assert isinstance(root, ConnectionPlan)
    given = root.arguments.constant
    if constant is None:
        assert given is None
        return
    assert given is not None
    plain = {key: ({k: getattr(v, "value", v) for k, v in value.items() if v is not None}
                   if isinstance(value, dict) else value)
             for key, value in given.items() if value is not None}
    assert plain == constant
