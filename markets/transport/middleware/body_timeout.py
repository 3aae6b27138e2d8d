"""A time limit on the arrival of a request's body (408)."""

from __future__ import annotations

import asyncio

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from markets.transport.responses import error_response


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
            await too_slow(self.seconds)(scope, receive, send)


def too_slow(seconds: float) -> Response:
    """408, closing the connection: the body did not arrive within `seconds`."""
    message = f"The request body took more than {seconds:g} s to arrive"
    return error_response(408, message, ErrorCode.BAD_REQUEST, {"Connection": "close"})
