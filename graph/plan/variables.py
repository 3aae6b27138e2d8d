"""A planned operation's variables, coerced without graphql-core's general machinery where that is plain.

Most read operations declare only ids and strings (`query($id: ID!)`), and a string sent for an ID or a String
coerces to itself (graphql-core's coerce_id, coerce_string). For such an operation the signatures are read once
per document, and each request's variables, when every one is a string, make the same VariableValues graphql-core
would make. Anything else (another type, a missing value, a number for an ID) goes to get_variable_values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphql import GraphQLError, GraphQLID, GraphQLNonNull, GraphQLSchema, GraphQLString, VariableDefinitionNode
from graphql.execution.get_variable_signature import GraphQLVariableSignature, get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource

STRING_SCALARS = (GraphQLID, GraphQLString)


def string_signatures(
    schema: GraphQLSchema, definitions: Sequence[VariableDefinitionNode] | None
) -> tuple[GraphQLVariableSignature, ...] | None:
    """The variables' signatures when each is an ID or a String, null or not; else None."""
    signatures = []
    for definition in definitions or ():
        signature = get_variable_signature(schema, definition)
        if isinstance(signature, GraphQLError):
            return None
        scalar = signature.type.of_type if isinstance(signature.type, GraphQLNonNull) else signature.type
        if scalar not in STRING_SCALARS:
            return None
        signatures.append(signature)
    return tuple(signatures)


def coerced_strings(
    signatures: Sequence[GraphQLVariableSignature], inputs: Mapping[str, Any]
) -> VariableValues | None:
    """graphql-core's coercion of these variables when every one was sent as a string; None otherwise."""
    sources: dict[str, VariableValueSource] = {}
    coerced: dict[str, Any] = {}
    for signature in signatures:
        value = inputs.get(signature.name)
        if type(value) is not str:
            return None
        sources[signature.name] = VariableValueSource(signature, value)
        coerced[signature.name] = value
    return VariableValues(sources, coerced)
