"""Opaque cursors: a sort key bound to one ordering and filter, signed so forgeries fail."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal

from domain.errors import BadUserInput
from domain.pagination import SortKey


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    return value


def _typed(value: object) -> object:
    if isinstance(value, dict):
        if "t" in value:
            return datetime.fromisoformat(value["t"])
        return Decimal(value["d"])
    return value


class CursorCodec:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"cursor:" + secret.encode()).digest()

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:12]

    def encode(self, scope: str, key: SortKey) -> str:
        body = json.dumps([scope, [_plain(v) for v in key]], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(self._mac(body) + body).decode().rstrip("=")

    def decode(self, cursor: str | None, scope: str, *, argument: str) -> SortKey | None:
        """The sort key of a cursor issued for `scope`, else BAD_USER_INPUT on `argument`."""
        if cursor is None:
            return None
        invalid = BadUserInput({argument: "is not a valid cursor for this ordering and filter"})
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise invalid from None
        mac, body = raw[:12], raw[12:]
        if not hmac.compare_digest(mac, self._mac(body)):
            raise invalid
        issued_scope, key = json.loads(body)
        if issued_scope != scope:
            raise invalid
        return tuple(_typed(v) for v in key)
