"""Slow clients are cut off (issue 8, finding 17): headers and bodies have a time to arrive.

Each test runs a real `markets serve` with one-second bounds and plays a client over a raw socket.
The assertions are on what the client sees (a 408 in the error shape, then the connection closed),
never on how long the server took; WAIT_SECONDS only keeps a broken server from hanging the suite.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import suppress

import httpx
import pytest

from tests.live import WAIT_SECONDS, LiveServer, serving

QUERY = b'{"query": "{ markets(first: 1) { totalCount } }"}'
TRICKLE_SECONDS = 0.2


@pytest.fixture(scope="module")
def server(test_database_url: str) -> Iterator[LiveServer]:
    with serving(
        test_database_url, REQUEST_HEADER_TIMEOUT_SECONDS="1", REQUEST_BODY_TIMEOUT_SECONDS="1",
        KEEP_ALIVE_TIMEOUT_SECONDS="1",
    ) as running:
        yield running


async def connect(server: LiveServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = server.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    """What the server sends until it closes the connection (a reset after its answer included)."""

    async def read() -> bytes:
        received = b""
        with suppress(ConnectionError):
            while chunk := await reader.read(65536):
                received += chunk
        return received

    return await asyncio.wait_for(read(), WAIT_SECONDS)


async def trickle_until_answered(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> bytes:
    """Send `data` a byte at a time, slowly, until the server answers and closes; all it sent."""

    async def trickle() -> None:
        for byte in data:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(TRICKLE_SECONDS)
        await asyncio.sleep(WAIT_SECONDS)  # everything sent: wait for the server

    sending = asyncio.create_task(trickle())
    try:
        return await read_answer(reader)
    finally:
        sending.cancel()
        with suppress(asyncio.CancelledError, ConnectionError):
            await sending
        writer.close()


def assert_timed_out(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in head.lower(), answer
    errors = json.loads(body)["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"], answer


async def trickle_body(server: LiveServer) -> bytes:
    """Headers at once, then a 500-byte body at 5 bytes a second (100 s); what the server answers."""
    reader, writer = await connect(server)
    head = (
        "POST /graphql HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(QUERY) * 10}\r\n\r\n"
    ).encode()
    writer.write(head)
    return await trickle_until_answered(reader, writer, QUERY * 10)


async def trickle_headers(server: LiveServer) -> bytes:
    """A request line and 450 bytes of headers at 5 bytes a second (90 s); what the server answers."""
    reader, writer = await connect(server)
    head = b"POST /graphql HTTP/1.1\r\nHost: test\r\n" + b"X-Padding: " + b"a" * 400 + b"\r\n\r\n"
    return await trickle_until_answered(reader, writer, head)


async def test_a_body_trickled_past_the_timeout_is_cut_off_with_408(server: LiveServer) -> None:
    assert_timed_out(await trickle_body(server))


async def test_headers_trickled_past_the_timeout_are_cut_off(server: LiveServer) -> None:
    assert_timed_out(await trickle_headers(server))


async def test_many_slow_clients_at_once_are_all_cut_off(server: LiveServer) -> None:
    """The review's attack, scaled down: slow bodies and slow headers on many connections at once."""
    answers = await asyncio.gather(
        *[trickle_body(server) for _ in range(10)], *[trickle_headers(server) for _ in range(5)]
    )
    for answer in answers:
        assert_timed_out(answer)


async def test_a_connection_that_never_sends_a_request_is_closed(server: LiveServer) -> None:
    reader, writer = await connect(server)
    try:
        answer = await read_answer(reader)
    finally:
        writer.close()
    assert_timed_out(answer)


async def test_prompt_clients_are_served_and_kept_alive(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_SECONDS) as http:
        for _ in range(3):  # the same kept-alive connection: each request has its own deadline
            response = await http.post("/graphql", content=QUERY, headers={"Content-Type": "application/json"})
            assert response.status_code == 200, response.text
            assert "errors" not in response.json()


async def test_the_bounds_are_settings_with_defaults() -> None:
    from markets.serving import uvicorn_options
    from markets.settings import Settings

    settings = Settings()
    assert (settings.request_header_timeout_seconds, settings.request_body_timeout_seconds) == (10.0, 30.0)
    options = uvicorn_options(settings)
    assert options["timeout_keep_alive"] == settings.keep_alive_timeout_seconds == 5
    assert options["proxy_headers"] is False
