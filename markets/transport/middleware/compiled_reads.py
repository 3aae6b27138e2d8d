"""Compiled reads ahead of the stack: a POST to /graphql that its plan answers (markets.transport.compiled_reads)
is answered here, just inside request_context, without the layers every other request goes through.

Those layers were most of what `market(id)` cost beyond its one statement: CORS, the body's timeout and
limit (one middleware each), Starlette's exception handling and router, the strawberry view, a Request and a
Response object. What they do for such a request is done here once, by the same functions:
- the body is read under the same time limit and size limit (408 and 413, from the same answers);
- a request with an `Origin` header goes the whole way, through CORS;
- a refused admission (rate limit, token, database down) is answered as the view answers it
  (markets.transport.responses.refusal);
- the answer is sent as the view would send it (status 200, `content-length` and `content-type`);
  request_context, outside, adds its id, its statement count, its log line and its metrics.

A request the planner declines goes on down the stack with its body replayed and its admission kept (on the
request's state), so it is counted against its rate limit once and its viewer read once. A request
without a declared length (chunked) goes the whole way too.

With READ_PLAN_SHADOW (the tests), graphql-core answers every request first and the plan's answer is checked
against it (CompiledReads.check), before graphql-core's answer is sent.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.plan.executor import Decline
from markets.transport.compiled_reads import CompiledReads
from markets.transport.middleware.body_limit import read_body, replay, too_large
from markets.transport.middleware.body_timeout import too_slow
from markets.transport.responses import refusal

GRAPHQL_PATH = "/graphql"
JSON = b"application/json"


class CompiledReadsMiddleware:
    """Answers the POSTs to /graphql that `reads` plans; passes everything else on to `app`."""

    def __init__(self, app: ASGIApp, *, reads: CompiledReads, max_bytes: int, body_seconds: float) -> None:
        self.app = app
        self.reads = reads
        self.max_bytes = max_bytes
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.eligible(scope):
            await self.app(scope, receive, send)
            return
        try:
            async with asyncio.timeout(self.body_seconds):
                body = await read_body(receive, self.max_bytes)
        except TimeoutError:
            await too_slow(self.body_seconds)(scope, receive, send)
            return
        if body is None:
            await too_large(self.max_bytes)(scope, receive, send)
            return
        request = Request(scope)  # its body is read already: `body` goes with it
        if self.reads.shadow:
            await self.shadowed(request, body, scope, receive, send)
            return
        try:
            answer = await self.reads.answer(request, body)
        except Decline:
            answer = None
        except Exception as error:
            refused = refusal(error)
            if refused is None:
                raise
            await refused(scope, receive, send)
            return
        if answer is None:
            await self.app(scope, replay(body, receive), send)
            return
        headers = [(b"content-length", str(len(answer)).encode()), (b"content-type", JSON)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    def eligible(self, scope: Scope) -> bool:
        """A POST to /graphql, the planner on, no `Origin` (CORS), a declared length within the limit (else the
        stack's body_limit answers, without reading it)."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != GRAPHQL_PATH:
            return False
        if not self.reads.enabled:
            return False
        length = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"origin":
                return False
        return length is not None and length.isdigit() and int(length) <= self.max_bytes

    async def shadowed(self, request: Request, body: bytes, scope: Scope, receive: Receive, send: Send) -> None:
        """graphql-core's answer, sent once the plan's (if any) is found equal to it."""
        if self.reads.body(request, body) is None:  # not JSON, or a streamed answer: never planned
            await self.app(scope, replay(body, receive), send)
            return
        messages: list[Message] = []

        async def captured(message: Message) -> None:
            messages.append(message)

        await self.app(scope, replay(body, receive), captured)
        start = messages[0]
        content_type = next((value.decode() for name, value in start["headers"] if name == b"content-type"), None)
        answer = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        await self.reads.check(request, body, start["status"], content_type, answer)
        for message in messages:
            await send(message)
