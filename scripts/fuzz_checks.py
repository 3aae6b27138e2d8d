"""Schemathesis hooks for scripts/fuzz.sh: what a failure is, and values for the custom scalars.

Schemathesis's own GraphQL checks count every error with a `path` as a server error, but this API
answers NOT_FOUND, CONFLICT, FORBIDDEN... that way by contract. So the run uses one check of its
own: a failure is HTTP 5xx, a body that is not JSON, or any error whose code is
INTERNAL_SERVER_ERROR, whatever the HTTP status. Loaded through SCHEMATHESIS_HOOKS (the module's
name, with scripts/ on PYTHONPATH).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

INTERNAL = "INTERNAL_SERVER_ERROR"


def error_codes(body: Any) -> list[str]:
    """The `extensions.code` of each error in a GraphQL response body."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return [str((e.get("extensions") or {}).get("code")) for e in errors or () if isinstance(e, dict)]


@schemathesis.check
def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Fail on HTTP 5xx, on a body that is not JSON, and on INTERNAL_SERVER_ERROR anywhere."""
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {response.content[:500]!r}")
    try:
        body = json.loads(response.content or b"null")
    except ValueError as error:
        raise AssertionError(f"not JSON ({error}): {response.content[:500]!r}") from None
    if INTERNAL in error_codes(body):
        raise AssertionError(f"INTERNAL_SERVER_ERROR in the response: {response.content[:500]!r}")
    return None


# Decimal: amounts as strings and JSON numbers, in and out of the contract's range, and junk.
DECIMAL_TEXT = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["0.01", "1", "12.50", "1000000", "1000000.01", "-1", "1e999999999", "1e-999999999", "0.001"]),
    st.text(max_size=20),
)
schemathesis.graphql.scalar("Decimal", st.one_of(
    DECIMAL_TEXT.map(nodes.String), st.integers().map(nodes.Int), st.floats(allow_nan=False).map(nodes.Float),
))

# DateTime: instants with any offset (edges of the calendar included), naive ones, and junk.
OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
schemathesis.graphql.scalar("DateTime", st.one_of(
    st.datetimes(timezones=st.one_of(st.just(UTC), OFFSETS)).map(lambda d: nodes.String(d.isoformat())),
    st.datetimes().map(lambda d: nodes.String(d.isoformat())),
    st.sampled_from([datetime.max.isoformat() + "-23:59", datetime.min.isoformat() + "+01:00"]).map(nodes.String),
    st.text(max_size=30).map(nodes.String),
))

# String: besides plain text (NUL included), emails (so that signUp and login get past their rules)
# and text just past the contract's lengths. (Lone surrogates cannot be sent this way: in the JSON
# body the server refuses them as malformed JSON, in the document graphql-core refuses their escape.)
schemathesis.graphql.scalar("String", st.one_of(
    st.text(max_size=40),
    st.emails(),
    st.sampled_from(["\x00", "a\x00@b.c", "x" * 201, "x" * 1001, "x" * 5001, "a" * 243 + "@example.com"]),
).map(nodes.String))
