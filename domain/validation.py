"""Input rules from the contract, each returning the clean value or raising BadUserInput.

Errors name the domain's own fields (`end_date`); the API maps them to its argument paths."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Context, Decimal

from domain.errors import BadUserInput

MAX_AMOUNT = Decimal("1000000")
CENTS = Decimal("0.01")
# Digits of the largest amount in cents (1000000.00), with room to spare.
MONEY_DIGITS = 16
# Deliberately simple: one @, a dot in the domain, no spaces. Deliverability is not ours to judge.
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# RFC 5321's bound on a forward path; anything longer is refused before it becomes a key anywhere.
MAX_EMAIL_LENGTH = 254
# `nodes(ids:)`: like every list argument, at most a page.
MAX_IDS = 100
# `searchMarkets(query:)`: the model reads far less; longer text is refused, never cached or encoded.
MAX_SEARCH_QUERY_LENGTH = 1000


def trimmed_length(value: str, *, field: str, low: int, high: int) -> str:
    """Trim `value` and check its length lies in [low, high]."""
    clean = value.strip()
    if not low <= len(clean) <= high:
        raise BadUserInput({field: f"must be {low} to {high} characters after trimming"})
    return clean


def market_name(value: str, *, field: str = "name") -> str:
    return trimmed_length(value, field=field, low=3, high=200)


def market_description(value: str, *, field: str = "description") -> str:
    if len(value) > 5000:
        raise BadUserInput({field: "must be at most 5000 characters"})
    return value


def user_name(value: str, *, field: str = "name") -> str:
    return trimmed_length(value, field=field, low=1, high=100)


def email(value: str, *, field: str = "email") -> str:
    clean = value.strip().lower()
    if len(clean) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(clean):
        raise BadUserInput({field: "must be a valid email address"})
    return clean


def email_length(value: str, *, field: str = "email") -> str:
    """Refuse an email too long to be anyone's before anything (a rate-limit key, a lookup) uses it."""
    if len(value) > MAX_EMAIL_LENGTH:
        raise BadUserInput({field: f"must be at most {MAX_EMAIL_LENGTH} characters"})
    return value


def id_list(values: Sequence[str], *, field: str = "ids") -> Sequence[str]:
    """A list of ids to load: at most MAX_IDS, so that the work a request asks for stays bounded."""
    if len(values) > MAX_IDS:
        raise BadUserInput({field: f"must hold at most {MAX_IDS} ids"})
    return values


def search_query(value: str, *, field: str = "query") -> str:
    """Search text: at most MAX_SEARCH_QUERY_LENGTH characters, refused before it is encoded or cached."""
    if len(value) > MAX_SEARCH_QUERY_LENGTH:
        raise BadUserInput({field: f"must be at most {MAX_SEARCH_QUERY_LENGTH} characters"})
    return value


def password(value: str, *, field: str = "password") -> str:
    if not 8 <= len(value) <= 128:
        raise BadUserInput({field: "must be 8 to 128 characters"})
    return value


def amount(value: Decimal, *, field: str, maximum: Decimal = MAX_AMOUNT) -> Decimal:
    """Check an amount: > 0, at most 1,000,000, at most 2 decimal places (trailing zeros free).

    Comparisons are exact whatever the exponent; the range is checked first so that the
    rounding below never meets an exponent the decimal context cannot hold (1e999999999
    overflows `normalize`, 1e-999999999 underflows it to zero).
    """
    if not value.is_finite():
        raise BadUserInput({field: "must be a finite number"})
    if value <= 0:
        raise BadUserInput({field: "must be greater than 0"})
    if value > maximum:
        raise BadUserInput({field: f"must be at most {maximum}"})
    cents = value.quantize(CENTS, context=Context(prec=MONEY_DIGITS))
    if cents != value:
        raise BadUserInput({field: "must have at most 2 decimal places"})
    return cents


def future_date(value: datetime, *, now: datetime, field: str = "end_date") -> datetime:
    if value <= now:
        raise BadUserInput({field: "must be in the future"})
    return value
