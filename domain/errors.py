"""One error model for the whole server: each domain error names its client-facing code."""

from __future__ import annotations


class DomainError(Exception):
    """A failure a client caused or may see; `code` becomes `extensions.code`."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    code = "CONFLICT"


class BadUserInput(DomainError):
    """Invalid arguments; `fields` maps each bad input's path to what is wrong with it."""

    code = "BAD_USER_INPUT"

    def __init__(self, fields: dict[str, str], message: str | None = None) -> None:
        super().__init__(message or "Invalid input: " + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code, "fields": self.fields}


class ServiceUnavailable(DomainError):
    code = "SERVICE_UNAVAILABLE"
