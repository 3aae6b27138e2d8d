"""ASGI middleware: request ids on every response, body size and time limits, a last-resort 500."""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
        info = RequestInfo(request_id=rid, method=scope.get("method", ""), path=scope.get("path", ""))
        current.set(info)
        started = False

        async def tagged_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = rid
                if self.sql_statements_header:
                    headers["X-SQL-Statements"] = str(info.statements)
                info.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tagged_send)
        except Exception:
            # Logged once, here: not re-raised, so uvicorn does not log it a second time.
            log.exception("unhandled error")
            if started:
                info.error_codes.append("INTERNAL_SERVER_ERROR")
            else:
                await error_response(500, INTERNAL, "INTERNAL_SERVER_ERROR")(scope, receive, tagged_send)
        finally:
            finish_request(info)


class BodyTooSlow(Exception):
    """The request's body did not arrive within the time allowed."""


class BodyTimeoutMiddleware:
    """Answers 408 (BAD_REQUEST) and closes the connection when a request's body takes longer than
    `seconds` to arrive, counted from the end of its headers. uvicorn has no such bound: a client
    trickling a body a byte at a time would hold a connection, and a task, for as long as it likes.
    What the app reads after the body (a disconnect) is not bounded."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.seconds
        body_done = started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except BodyTooSlow:
            if started:
                raise
            message = f"The request body took more than {self.seconds:g} s to arrive"
            await error_response(408, message, "BAD_REQUEST", {"Connection": "close"})(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413 before anything parses them."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.too_large(scope, receive, send)
            return
        body = await self.read_body(receive)
        if body is None:
            await self.too_large(scope, receive, send)
            return
        await self.app(scope, self.replay(body, receive), send)

    async def read_body(self, receive: Receive) -> bytes | None:
        """The whole body, or None once it passes the limit."""
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    @staticmethod
    def replay(body: bytes, upstream: Receive) -> Receive:
        """The body read, then the real channel: a file or streaming response waits on it for the
        client's disconnect, and would stop at once on an invented one."""
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if sent:
                return await upstream()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return receive

    async def too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, f"The request body is over {self.max_bytes} bytes", "BAD_REQUEST")
        await response(scope, receive, send)
