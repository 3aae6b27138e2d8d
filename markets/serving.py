"""How `markets serve` runs uvicorn: who decides the client's address, and how long a client may dawdle.

uvicorn times out idle keep-alive connections only: a client that opens a connection and sends
its request line and headers a byte at a time is never cut off, nor one that trickles a body
(the body's bound is markets.transport.middleware.body_timeout). The protocol below bounds the time
from the connection opening (or the previous response ending) to the end of the request's headers.
"""

from __future__ import annotations

import asyncio
import functools
import gc
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from domain.errors import ErrorCode
from graph.errors import error_body
from markets.settings import Settings
from markets.transport.json_codec import dumps

HEADER_TIMEOUT_MESSAGE = "The request's headers took too long to arrive"
# The collector's first generation runs after this many new container objects (Python's default
# is 700): a nested page builds a few thousand short-lived dicts and lists, which died young anyway.
YOUNG_GENERATION_THRESHOLD = 20_000


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run's options that the settings decide.

    proxy_headers=False: uvicorn would otherwise rewrite the client's address from
    X-Forwarded-For for every loopback peer (its FORWARDED_ALLOW_IPS default) before the app
    sees it, and a local proxy, sidecar or tunnel would let any caller choose its own rate-limit
    key. TRUSTED_PROXIES alone decides (markets.stores.rate_limits.client_address).
    """
    return {
        "proxy_headers": False,
        "http": "markets.serving:TimedHttpToolsProtocol",
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
    }


def settle_garbage_collector() -> None:
    """Once the app is built: its schema, engine and modules (hundreds of thousands of objects that
    live as long as the process) are moved out of the collector's sight (gc.freeze), and young
    collections run less often. Each request's garbage is freed by reference counting; the
    collector only looks for cycles, and under load its full passes over the long-lived heap were
    a tenth of the nested page's CPU (py-spy, attributed to whichever frame allocated)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, middle, old)


@functools.cache
def header_timeout_seconds() -> float:
    """REQUEST_HEADER_TIMEOUT_SECONDS, read once per process (uvicorn builds the protocol, not us)."""
    return Settings().request_header_timeout_seconds


def timeout_response(message: str) -> bytes:
    """A raw HTTP 408 in the GraphQL error shape, which closes the connection."""
    body = dumps({"errors": [error_body(message, ErrorCode.BAD_REQUEST)]})
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class CoalescedWrites(asyncio.Transport):
    """A connection's transport whose writes within one turn of the event loop go out as one.

    uvicorn writes a response's status line and headers, then its body, each at once: two send
    calls and two TCP segments for every small answer (a third of `market(id)`'s CPU under load was
    in them). Writes are gathered and handed to the socket at the end of the loop's turn, in order;
    closing hands them over first. Everything else is the socket's transport's.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.transport = transport
        self.loop = loop
        self.pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self.pending:
            self.loop.call_soon(self.flush)
        self.pending.append(bytes(data))

    def flush(self) -> None:
        if self.pending:
            data, self.pending = b"".join(self.pending), []
            if not self.transport.is_closing():
                self.transport.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self.pending = []
        self.transport.abort()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.transport.get_protocol()

    def is_reading(self) -> bool:
        return self.transport.is_reading()

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + sum(len(data) for data in self.pending)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self.transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self.transport.set_write_buffer_limits(high, low)

    def can_write_eof(self) -> bool:
        return self.transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self.transport.write_eof()


class TimedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's headers, writing through
    CoalescedWrites."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # uvicorn's own signature
        super().connection_made(CoalescedWrites(transport, self.loop))
        self.await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop_waiting()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        # The next request on a kept-alive connection: its deadline runs from its first byte (the
        # idle time before it is uvicorn's keep-alive timeout). The first one's runs from the connection.
        super().on_message_begin()
        if self.header_deadline is None:
            self.await_headers()

    def on_headers_complete(self) -> None:
        self.stop_waiting()
        super().on_headers_complete()

    def await_headers(self) -> None:
        self.header_deadline = self.loop.call_later(header_timeout_seconds(), self.headers_too_slow)

    def stop_waiting(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def headers_too_slow(self) -> None:
        self.header_deadline = None
        if not self.transport.is_closing():
            self.transport.write(timeout_response(HEADER_TIMEOUT_MESSAGE))
            self.transport.close()
