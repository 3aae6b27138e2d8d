"""Collects every bad input of one call so a client learns of all of them at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from domain.errors import BadUserInput

T = TypeVar("T")
R = TypeVar("R")


class FieldErrors:
    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def check(self, rule: Callable[[T], R], value: T) -> R | None:
        """Apply `rule`; on BadUserInput remember its fields and return None."""
        try:
            return rule(value)
        except BadUserInput as error:
            self.fields.update(error.fields)
            return None

    def add(self, field: str, message: str) -> None:
        self.fields[field] = message

    def raise_if_any(self) -> None:
        if self.fields:
            raise BadUserInput(dict(self.fields))
