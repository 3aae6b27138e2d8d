"""A size limit on a request's body (413), before anything parses it."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from markets.transport.responses import error_response


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
            await too_large(self.max_bytes)(scope, receive, send)
            return
        body = await read_body(receive, self.max_bytes)
        if body is None:
            await too_large(self.max_bytes)(scope, receive, send)
            return
        await self.app(scope, replay(body, receive), send)



async def read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """The whole body, or None once it passes `max_bytes`."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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


def too_large(max_bytes: int) -> Response:
    return error_response(413, f"The request body is over {max_bytes} bytes", ErrorCode.BAD_REQUEST)
