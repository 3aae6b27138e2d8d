"""Plain HTTP answers in the GraphQL error shape, for requests that never reach execution."""

from __future__ import annotations

from starlette.responses import Response

from domain.errors import ErrorCode, InvalidToken, RateLimited
from graph.errors import error_body
from markets.observability.observe import record_error_codes
from markets.transport.json_codec import dumps
from persistence.faults import is_database_down

# How long a client is asked to wait when the database is down.
RETRY_AFTER_SECONDS = "5"


def error_response(
    status: int, message: str, code: ErrorCode, headers: dict[str, str] | None = None, **extensions: object
) -> Response:
    record_error_codes([code])
    return Response(
        dumps({"errors": [error_body(message, code, **extensions)]}), status_code=status, media_type="application/json",
        headers=headers,
    )


def refusal(error: Exception) -> Response | None:
    """The answer to a request its admission refused (markets.transport.admission): over its rate limit (429),
    a token refused (401), the database down (503); None for any other error, which is a fault."""
    if isinstance(error, RateLimited):
        return error_response(
            429, str(error), error.code, {"Retry-After": str(error.retry_after)}, retryAfter=error.retry_after
        )
    if isinstance(error, InvalidToken):
        return error_response(401, str(error), error.code, {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if is_database_down(error):
        return error_response(
            503, "The database is unavailable", ErrorCode.SERVICE_UNAVAILABLE, {"Retry-After": RETRY_AFTER_SECONDS}
        )
    return None
