"""Plain HTTP answers in the GraphQL error shape, for requests that never reach execution."""

from __future__ import annotations

from starlette.responses import Response

from domain.errors import ErrorCode
from graph.errors import error_body
from markets.observability.observe import record_error_codes
from markets.transport.json_codec import dumps


def error_response(
    status: int, message: str, code: ErrorCode, headers: dict[str, str] | None = None, **extensions: object
) -> Response:
    record_error_codes([code])
    return Response(
        dumps({"errors": [error_body(message, code, **extensions)]}), status_code=status, media_type="application/json",
        headers=headers,
    )
