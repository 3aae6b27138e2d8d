"""Real servers for the live-update tests: `markets serve` subprocesses, gql WebSocket clients, /metrics."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from tests.conftest import TEST_SECRET
from tests.redis_server import free_port

MARKETS = str(Path(sys.executable).with_name("markets"))
# The bound on every wait in these tests: a failure, never a timing, when it passes.
WAIT_SECONDS = 15.0
ENDED = object()


@dataclass
class LiveServer:
    """A `markets serve` process on its own port."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def ws_url(self) -> str:
        """The server's WebSocket endpoint."""
        return "ws" + self.url.removeprefix("http") + "/graphql"

    async def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        """The JSON body of a GraphQL request over HTTP."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=self.url, timeout=WAIT_SECONDS) as http:
            response = await http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        """The data of a GraphQL request over HTTP that must succeed."""
        body = await self.post(query, variables, token=token)
        assert "errors" not in body, body
        return body["data"]

    async def metric(self, name: str) -> float:
        """A metric's value (the sum of its series) from /metrics."""
        async with httpx.AsyncClient(base_url=self.url, timeout=WAIT_SECONDS) as http:
            text = (await http.get("/metrics")).text
        pattern = re.compile(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)$", re.MULTILINE)
        return sum(float(value) for value in pattern.findall(text))

    async def until_metric(self, name: str, value: float) -> None:
        """Wait (bounded) until the metric reads `value`."""

        async def poll() -> None:
            while await self.metric(name) != value:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), WAIT_SECONDS)

    async def until_subscribed(self, count: int) -> None:
        """Wait until this server serves exactly `count` subscriptions (each one registered for events)."""
        await self.until_metric("markets_subscriptions_active", count)

    def client(self, *, token: str | None = None, payload: dict[str, Any] | None = None, **options: Any) -> Client:
        """A gql client over graphql-transport-ws; the token goes in connection_init's payload."""
        init = payload if payload is not None else ({"Authorization": f"Bearer {token}"} if token else {})
        transport = WebsocketsTransport(url=self.ws_url, init_payload=init, connect_timeout=WAIT_SECONDS,
                                        ack_timeout=WAIT_SECONDS, close_timeout=2, **options)
        return Client(transport=transport)


@contextmanager
def serving(database_url: str, **settings: str) -> Iterator[LiveServer]:
    """`markets serve` on a free port over this database (test secret, no rate limits); killed afterwards."""
    port = free_port()
    inherited = {key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "ENVIRONMENT", "GRAPHIQL")}
    env = inherited | {
        "DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "RATE_LIMIT_PER_MINUTE": "0",
        "AUTH_RATE_LIMIT_PER_MINUTE": "0", "LOG_LEVEL": "WARNING", **settings,
    }
    log = Path(tempfile.mkstemp(prefix="markets-live-", suffix=".log")[1])
    with log.open("wb") as output:
        process = subprocess.Popen([MARKETS, "serve", "--port", str(port)], env=env,
                                   stdout=subprocess.DEVNULL, stderr=output)
    server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log=log)
    try:
        wait_until_healthy(server)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.unlink(missing_ok=True)


def wait_until_healthy(server: LiveServer) -> None:
    """Block (bounded) until /healthz answers; fail with the server's log if it exits or never does."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"markets serve exited: {server.log.read_text()}")
        with suppress(httpx.HTTPError):
            if httpx.get(server.url + "/healthz", timeout=0.5).status_code == 200:
                return
        time.sleep(0.05)
    raise AssertionError(f"markets serve did not become healthy: {server.log.read_text()}")


class Watch:
    """One subscription consumed in the background: its payloads, then ENDED or the error it ended with."""

    def __init__(self, session: AsyncClientSession, document: str, variables: dict[str, Any] | None = None) -> None:
        self.items: asyncio.Queue[Any] = asyncio.Queue()
        self.task = asyncio.create_task(self.run(session, GraphQLRequest(document, variable_values=variables)))

    async def run(self, session: AsyncClientSession, request: GraphQLRequest) -> None:
        """Queue each payload, then ENDED or the error."""
        try:
            async for data in session.subscribe(request):
                await self.items.put(data)
            await self.items.put(ENDED)
        except Exception as error:  # noqa: BLE001 - handed to the test, which asserts on it
            await self.items.put(error)

    async def next(self) -> Any:
        """The next payload (the error, raised, if the subscription failed instead)."""
        item = await asyncio.wait_for(self.items.get(), WAIT_SECONDS)
        if isinstance(item, Exception):
            raise item
        assert item is not ENDED, "the subscription completed"
        return item

    async def end(self) -> Any:
        """How the subscription ended: ENDED, or its error (payloads still queued are skipped)."""
        while True:
            item = await asyncio.wait_for(self.items.get(), WAIT_SECONDS)
            if item is ENDED or isinstance(item, Exception):
                return item

    async def stop(self) -> None:
        """Leave the subscription (gql sends `complete`)."""
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@asynccontextmanager
async def watching(server: LiveServer, document: str, variables: dict[str, Any] | None = None, *,
                   token: str | None = None) -> AsyncIterator[Watch]:
    """One connection with one subscription, registered on the server before the block runs."""
    before = await server.metric("markets_subscriptions_active")
    async with server.client(token=token) as session:
        watch = Watch(session, document, variables)
        try:
            await server.until_subscribed(before + 1)
            yield watch
        finally:
            await watch.stop()


def close_code(error: BaseException | None) -> int | None:
    """The WebSocket close code a gql or websockets error carries, if any."""
    while error is not None:
        if isinstance(error, ConnectionClosed):
            return error.rcvd.code if error.rcvd is not None else None
        error = error.__cause__ or error.__context__
    return None
