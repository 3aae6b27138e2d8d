"""The contract's DateTime and Decimal scalars: strict about offsets, exact about digits."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.types.scalar import ScalarDefinition

CENTS = Decimal("0.01")
# Plain decimal notation in ASCII digits, as JSON writes numbers (sign, point, exponent allowed).
# Python's Decimal() alone also reads "1_000", non-ASCII digits ("١٢"), "NaN" and "Infinity".
DECIMAL_NOTATION = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
ASCII_SPACE = " \t\n\r"


class ScalarInputError(ValueError):
    """A scalar value a client sent that cannot be read; reported as BAD_USER_INPUT."""


def parse_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise ScalarInputError("DateTime must be an ISO-8601 string with an offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ScalarInputError(f"{value!r} is not an ISO-8601 date-time") from None
    if parsed.tzinfo is None:
        raise ScalarInputError("DateTime must carry a time-zone offset (Z or +02:00)")
    try:
        # Every instant is compared and stored in UTC: one that has no UTC date (past year 9999,
        # before year 1) is out of range here, not an overflow later.
        parsed.astimezone(UTC)
    except OverflowError:
        raise ScalarInputError("DateTime is out of range once converted to UTC") from None
    return parsed


def parse_datetime_literal(node: ValueNode, _variables: object = None) -> datetime:
    if not isinstance(node, StringValueNode):
        raise ScalarInputError("DateTime must be an ISO-8601 string with an offset")
    return parse_datetime(node.value)


def serialize_datetime(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def parse_decimal(value: object) -> Decimal:
    """Read a decimal from its written digits (JSON numbers arrive as Decimal, never float)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ScalarInputError("Decimal must be a string or a number")
    written = str(value).strip(ASCII_SPACE)
    if DECIMAL_NOTATION.fullmatch(written) is None:
        if written.lstrip("+-").lower() in ("nan", "snan", "inf", "infinity"):
            raise ScalarInputError("Decimal must be finite")
        raise ScalarInputError(f"{value!r} is not a decimal number")
    return Decimal(written)


def parse_decimal_literal(node: ValueNode, _variables: object = None) -> Decimal:
    if not isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        raise ScalarInputError("Decimal must be a string or a number")
    return parse_decimal(node.value)


def serialize_decimal(value: Decimal) -> str:
    # A Decimal is quantized as it is: copying it first (Decimal(value)) was most of the cost of
    # writing the ~600 amounts of a nested page.
    exact = value if type(value) is Decimal else Decimal(value)
    return str(exact.quantize(CENTS))


DateTimeScalar = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date-time with a time-zone offset, e.g. 2026-11-22T10:00:00+00:00.",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
    parse_literal=parse_datetime_literal,
)

DecimalScalar = strawberry.scalar(
    name="Decimal",
    description='An exact decimal number serialized as a string, e.g. "12.50".',
    serialize=serialize_decimal,
    parse_value=parse_decimal,
    parse_literal=parse_decimal_literal,
)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {datetime: DateTimeScalar, Decimal: DecimalScalar}
