"""graph.ids: the global ids, written as base64.urlsafe_b64encode writes them, read back."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from graph import ids


# decode_any reads at most 18 digits.
@given(st.sampled_from(["Market", "User", "Position", "Transaction", "X"]), st.integers(0, 10**18 - 1))
def test_an_id_is_the_url_safe_base64_of_type_and_key_unpadded(type_name: str, pk: int) -> None:
    expected = base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")
    assert ids.encode(type_name, pk) == expected
    assert ids.decode_any(expected) == (type_name, pk)
    assert ids.decode(expected, type_name) == pk


def test_the_url_safe_alphabet_and_no_padding() -> None:
    assert base64.b64encode(b"Ma~~:1") == b"TWF+fjox"  # a "+" in the standard alphabet
    assert ids.encode("Ma~~", 1) == "TWF-fjox"
    assert ids.encode("User", 1) == "VXNlcjox"
    assert ids.encode("User", 12) == "VXNlcjoxMg"  # "VXNlcjoxMg==" unpadded
