"""The outermost middleware: a request id on every response, the request's record and log line, a last-resort 500."""

from __future__ import annotations

import logging

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from graph.errors import INTERNAL
from markets.observability.observe import finish_request
from markets.observability.request_metrics import RequestInfo, accept_request_id, current
from markets.transport.responses import error_response

log = logging.getLogger("markets.http")


class RequestContextMiddleware:
    """Tags the request with an id (echoed or generated), counts its SQL statements, logs its one line.

    `X-SQL-Statements` (the statements the request ran) is a development aid: in production it would
    tell any client how the server stores its data, so it is sent only when `sql_statements_header`.
    """

    def __init__(self, app: ASGIApp, *, sql_statements_header: bool = True) -> None:
        self.app = app
        self.sql_statements_header = sql_statements_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = accept_request_id(Headers(scope=scope).get("x-request-id"))
        encoded_id = rid.encode()
        info = RequestInfo(request_id=rid, method=scope.get("method", ""), path=scope.get("path", ""))
        current.set(info)
        started = False

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # Appended as they are (no layer below sets them): no header object per response.
                headers = [*message.get("headers", ()), (b"x-request-id", encoded_id)]
                if self.sql_statements_header:
                    headers.append((b"x-sql-statements", str(info.statements).encode()))
                message["headers"] = headers
                info.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        except Exception:
            # Logged once, here: not re-raised, so uvicorn does not log it a second time.
            log.exception("unhandled error")
            if started:
                info.error_codes.append(ErrorCode.INTERNAL_SERVER_ERROR)
            else:
                await error_response(500, INTERNAL, ErrorCode.INTERNAL_SERVER_ERROR)(scope, receive, tagged_send)
        finally:
            finish_request(info)
