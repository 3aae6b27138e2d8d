"""Relay global ids: opaque base64 of "Type:pk"."""

from __future__ import annotations

import base64
import binascii

# base64's url-safe alphabet, applied to the standard one's output.
URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encode(type_name: str, pk: int) -> str:
    """base64.urlsafe_b64encode of "Type:pk" without padding, in one call to binascii (a page writes one per
    row: the two Python layers of base64 were most of it)."""
    return binascii.b2a_base64(f"{type_name}:{pk}".encode(), newline=False).translate(URL_SAFE).rstrip(b"=").decode()


def decode_any(global_id: str) -> tuple[str, int] | None:
    """(type, pk) of a well-formed id, or None for garbage."""
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, _, pk = raw.partition(":")
    if not type_name or not pk.isascii() or not pk.isdigit() or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode(global_id: str, type_name: str) -> int | None:
    """The pk when `global_id` names a `type_name`; None for garbage or another type."""
    decoded = decode_any(global_id)
    return decoded[1] if decoded is not None and decoded[0] == type_name else None
