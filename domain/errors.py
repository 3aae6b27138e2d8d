"""One error model for the whole server: every code the API can return, and the errors that carry them.

`ErrorCode` is the only place a code is spelled (a test holds every other module to it, and holds it
to the contract's table); `code_extensions` is the only place a code becomes an error's
`extensions`. Each error class names its code, so whoever raises one never writes a code.
"""

from __future__ import annotations

import enum
import math
from typing import ClassVar


class ErrorCode(enum.StrEnum):
    """`extensions.code` of every error the API returns (contract/README.md, "Errors")."""

    BAD_REQUEST = "BAD_REQUEST"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"


def code_extensions(code: ErrorCode, **extra: object) -> dict[str, object]:
    """An error's `extensions`: its code as plain text (what the wire carries), then `extra`."""
    return {"code": code.value, **extra}


class DomainError(Exception):
    """A failure a client caused or may see; `code` becomes `extensions.code`."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, object]:
        """What graphql-core puts in the error's `extensions` (it reads this attribute)."""
        return code_extensions(self.code)


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED


class InvalidToken(Unauthenticated):
    """The Authorization header does not carry a token we accept: the whole request is refused (HTTP 401)."""


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Conflict(DomainError):
    code = ErrorCode.CONFLICT


class BadUserInput(DomainError):
    """Invalid arguments; `fields` maps each bad input (by the domain's name for it) to what is wrong.

    The domain names its own fields (`end_date`); the API renames them to argument paths
    (`input.endDate`) before a client sees them, with `renamed`.
    """

    code = ErrorCode.BAD_USER_INPUT

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message or "Invalid input: " + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields

    @property
    def extensions(self) -> dict[str, object]:
        return code_extensions(self.code, fields=self.fields)

    def renamed(self, paths: dict[str, str]) -> BadUserInput:
        """The same error with each field named by `paths` (fields it does not name keep their name)."""
        return BadUserInput({paths.get(field, field): why for field, why in self.fields.items()})


class ServiceUnavailable(DomainError):
    code = ErrorCode.SERVICE_UNAVAILABLE


class RateLimited(DomainError):
    """Over a limit; `retry_after` is how many seconds until the oldest counted request expires."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(message or f"Too many requests: retry in {self.retry_after} s")

    @property
    def extensions(self) -> dict[str, object]:
        return code_extensions(self.code, retryAfter=self.retry_after)


class PersistedQueryNotFound(DomainError):
    """A persisted-query request the server cannot run from its hash (HTTP 200, one error): unknown yet,
    or, with PERSISTED_QUERIES_ONLY, not registered."""

    code = ErrorCode.PERSISTED_QUERY_NOT_FOUND
