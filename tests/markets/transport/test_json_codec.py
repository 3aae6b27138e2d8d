"""markets.transport.json_codec.loads: orjson where it agrees, the standard library (Decimal) where not."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from markets.transport.json_codec import holds_float, loads


def reference(data: str | bytes) -> object:
    return json.loads(data, parse_float=Decimal)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.decimals(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=25,
)


def as_text(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False).replace('"__D__', "").replace('__D__"', "")


def decimals_as_numbers(value: object) -> object:
    """Decimals written as JSON numbers (json.dumps would refuse them)."""
    if isinstance(value, Decimal):
        return f"__D__{value}__D__"
    if isinstance(value, list):
        return [decimals_as_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: decimals_as_numbers(item) for key, item in value.items()}
    return value


@given(json_values)
def test_loads_equals_the_standard_librarys_parse_with_decimals(value: object) -> None:
    text = as_text(decimals_as_numbers(value))
    expected = reference(text)
    for data in (text, text.encode()):
        got = loads(data)
        assert got == expected
        assert repr(got) == repr(expected)  # Decimal('1.0') stays 1.0, an int stays an int


@pytest.mark.parametrize("text", [
    "1.5", "[1e3]", '{"a": {"b": [0.1]}}', "\ufeff{}", "NaN", "[Infinity]", '"\\ud800"', "1e999",
    str(2**70), "-0", '{"a": 1, "a": 2}',
])
def test_edge_cases_read_as_the_standard_library_does(text: str) -> None:
    for data in (text, text.encode()):
        try:
            expected = repr(reference(data))
        except ValueError:
            with pytest.raises(ValueError):
                loads(data)
        else:
            assert repr(loads(data)) == expected


def test_utf16_bytes_are_read_as_the_standard_library_reads_them() -> None:
    data = '{"query": "{ me { id } }"}'.encode("utf-16")
    assert loads(data) == reference(data)


@pytest.mark.parametrize("text", ["{", "[1,]", "\xff", "1" * 5000, "[" * 100_000])
def test_what_the_standard_library_refuses_is_refused(text: str) -> None:
    with pytest.raises((ValueError, RecursionError)):
        reference(text)
    with pytest.raises((ValueError, RecursionError)):
        loads(text)


def test_holds_float_walks_deeper_than_the_recursion_limit() -> None:
    nested: object = 1.5
    for _ in range(5000):
        nested = [nested]
    assert holds_float(nested)
    assert not holds_float({"a": [1, "x", None, {"b": True}]})
