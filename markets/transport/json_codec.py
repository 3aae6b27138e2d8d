"""Fast JSON out; exact JSON in (numbers with a fraction become Decimal, never float)."""

from __future__ import annotations

import json
from decimal import Decimal

import orjson


def dumps(value: object) -> bytes:
    return orjson.dumps(value)


def loads(data: str | bytes) -> object:
    return json.loads(data, parse_float=Decimal)
