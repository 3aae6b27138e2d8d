"""What `markets serve` writes: never a secret, and in production nothing but JSON lines.

Each test runs the real server as a subprocess, with its standard output and error captured, and
drives it from outside as an attacker would: sign-ups and logins with passwords in variables and in
literals, emails holding a lone surrogate or a NUL, wrong passwords, forged and broken tokens over
HTTP and WebSocket, an operationName that cannot be encoded. The whole output must then hold none
of the passwords, tokens, the stored password hash or JWT_SECRET, in every log format and
environment (at DEBUG, where libraries log the most).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text

from tests.conftest import TEST_SECRET, Api
from tests.live import MARKETS, WAIT_SECONDS, LiveServer, wait_until_healthy
from tests.redis_server import free_port

SIGN_UP = "mutation($e: String!, $n: String!, $p: String!) { signUp(email: $e, name: $n, password: $p) { token } }"
LOGIN = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }"
ME = "{ me { id email } }"
EMAIL = "victim@example.com"
PASSWORD = "correct-horse-battery-staple"
WRONG_PASSWORD = "guessed-password-1234"
LITERAL_PASSWORD = "literal-password-5678"
# (ENVIRONMENT, LOG_FORMAT or None for the environment's default)
CONFIGURATIONS = [("development", None), ("development", "json"), ("production", None), ("production", "console")]


@dataclass
class Served:
    """A `markets serve` run: the server, then (once stopped) everything it wrote."""

    server: LiveServer
    stdout: Path
    stderr: Path
    exit_code: int | None = None
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a server under test: the test database and secret, no rate limits, DEBUG logs."""
    inherited = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ENVIRONMENT", "GRAPHIQL", "LOG_FORMAT")}
    return inherited | {
        "DATABASE_URL": database_url, "JWT_SECRET": TEST_SECRET, "RATE_LIMIT_PER_MINUTE": "0",
        "AUTH_RATE_LIMIT_PER_MINUTE": "0", "LOG_LEVEL": "DEBUG", **settings,
    }


@contextmanager
def served(database_url: str, tmp_path: Path, **settings: str) -> Iterator[Served]:
    """`markets serve` with both streams captured; stopped with SIGTERM (a graceful shutdown, logged) afterwards."""
    port = free_port()
    run = Served(server=None, stdout=tmp_path / "stdout", stderr=tmp_path / "stderr")  # type: ignore[arg-type]
    with run.stdout.open("wb") as out, run.stderr.open("wb") as err:
        process = subprocess.Popen([MARKETS, "serve", "--port", str(port)], env=server_env(database_url, **settings),
                                   stdout=out, stderr=err)
    run.server = LiveServer(url=f"http://127.0.0.1:{port}", process=process, log=run.stderr)
    try:
        wait_until_healthy(run.server)
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            run.exit_code = process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


async def post(http: httpx.AsyncClient, body: dict[str, Any], authorization: str | None = None) -> httpx.Response:
    """As JSON with every non-ASCII character escaped (a lone surrogate cannot be sent as UTF-8)."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": authorization} if authorization else {})
    return await http.post("/graphql", content=json.dumps(body), headers=headers)


def codes(response: httpx.Response) -> list[str]:
    return [error["extensions"]["code"] for error in response.json().get("errors", [])]


async def attack(run: Served) -> None:
    """Everything that might put a secret in a line; the secrets it used end up in `run.secrets`."""
    server = run.server
    async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_SECONDS) as http:
        signed_up = await post(http, {"query": SIGN_UP, "variables": {"e": EMAIL, "n": "Victim", "p": PASSWORD}})
        token = signed_up.json()["data"]["signUp"]["token"]
        # The original report: a lone surrogate in the email, the password beside it.
        for email in ("a\ud800@b.c", "a\u0000@b.c", "\ud800"):
            refused = await post(http, {"query": LOGIN, "variables": {"e": email, "p": PASSWORD}})
            assert codes(refused) == ["BAD_USER_INPUT"], refused.text
        wrong = await post(http, {"query": LOGIN, "variables": {"e": EMAIL, "p": WRONG_PASSWORD}})
        assert codes(wrong) == ["UNAUTHENTICATED"]
        literal = 'mutation { signUp(email: "%s", name: "%s", password: "%s") { token } }'
        second = (await post(http, {"query": literal % ("lit@example.com", "L", LITERAL_PASSWORD)}))
        second = second.json()["data"]["signUp"]["token"]
        nul_name = literal % ("nul@example.com", "a\\u0000", LITERAL_PASSWORD)
        assert codes(await post(http, {"query": nul_name})) == ["BAD_USER_INPUT"]
        surrogate_operation = await post(http, {"query": ME, "operationName": "\ud800"})
        assert surrogate_operation.status_code == 200 and codes(surrogate_operation) == ["BAD_USER_INPUT"]
        assert (await post(http, {"query": ME}, f"Bearer {token}")).json()["data"]["me"]["email"] == EMAIL
        forged = [f"Bearer {token}x", f"Bearer {token[:-6]}", f"Bearer {token.replace('.', '..', 1)}",
                  f"Basic {PASSWORD}", f"Bearer {PASSWORD}", f"Bearer {second}{PASSWORD}"]
        for authorization in forged:
            response = await post(http, {"query": ME}, authorization)
            assert response.status_code == 401, response.text
        response = await http.get("/graphql", params={"query": ME}, headers={"Authorization": f"Bearer {token}x"})
        assert response.status_code == 401
    for payload in ({"Authorization": f"Bearer {token}"}, {"Authorization": f"Bearer {token}x"},
                    {"Authorization": f"Bearer {PASSWORD}"}):
        async with websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WAIT_SECONDS)
                await ws.send("not json")
                await asyncio.wait_for(ws.recv(), WAIT_SECONDS)
    # A token's header is the same for every token: its claims and signature are what must not show.
    run.secrets |= {"password": PASSWORD, "wrong password": WRONG_PASSWORD, "literal password": LITERAL_PASSWORD,
                    "token": token.partition(".")[2], "second token": second.partition(".")[2],
                    "JWT_SECRET": TEST_SECRET}


def fragments(secret: str, size: int = 12) -> set[str]:
    """Every run of `size` characters of a secret: a line that cuts a secret short still leaks most of it."""
    return {secret[start:start + size] for start in range(max(1, len(secret) - size + 1))}


def leaks(secrets: dict[str, str], output: str) -> dict[str, set[str]]:
    """{secret's name: the fragments of it found in the output} for each secret that shows."""
    found = {name: {part for part in fragments(secret) if part in output} for name, secret in secrets.items()}
    return {name: parts for name, parts in found.items() if parts}


def garbage_request(server: LiveServer) -> None:
    """Bytes that are not HTTP: uvicorn's own logger warns about them."""
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT_SECONDS) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw.recv(1024)


async def stored_hash(api: Api) -> str:
    async with api.container.engine.connect() as connection:
        found = await connection.execute(text("SELECT password_hash FROM users WHERE email = :e"), {"e": EMAIL})
        return str(found.scalar_one())


def is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


@pytest.mark.parametrize(("environment", "log_format"), CONFIGURATIONS)
async def test_no_secret_reaches_the_output_in_any_format_or_environment(
    api: Api, test_database_url: str, tmp_path: Path, environment: str, log_format: str | None
) -> None:
    settings = {"ENVIRONMENT": environment} | ({"LOG_FORMAT": log_format} if log_format else {})
    with served(test_database_url, tmp_path, **settings) as run:
        await attack(run)
        run.secrets["password hash"] = (await stored_hash(api)).removeprefix("$argon2id$v=19$m=65536,t=3,p=4$")
    output = run.output
    assert "Finished server process" in output, output  # the whole run, shutdown included, is in the output
    assert output.count("BAD_USER_INPUT") >= 5 and output.count("UNAUTHENTICATED") >= 7, output  # it did log
    assert leaks(run.secrets, output) == {}, output
    assert "Traceback" not in output, output


async def test_in_production_every_line_of_both_streams_is_one_json_object(
    api: Api, test_database_url: str, tmp_path: Path
) -> None:
    """Start-up, requests, bad input, forged tokens, uvicorn's own warning about a request that is not HTTP,
    WebSocket refusals and the graceful shutdown: one JSON object per line, on stdout as on stderr."""
    with served(test_database_url, tmp_path, ENVIRONMENT="production") as run:
        await attack(run)
        garbage_request(run.server)
    lines = [line for line in run.output.splitlines() if line.strip()]
    assert [line for line in lines if not is_json_object(line)] == []
    events = [json.loads(line) for line in lines]
    said = {(event.get("logger"), event.get("event")) for event in events}
    assert ("markets", "serving http://127.0.0.1:" + run.server.url.rsplit(":", 1)[1] + "/graphql") in said
    assert ("uvicorn.error", "Invalid HTTP request received.") in said
    assert any(logger == "uvicorn.error" and "Finished server process" in str(event) for logger, event in said)
    assert sum(event.get("event") == "request" for event in events) >= 15
    assert run.stdout.read_text() == ""  # nothing bare on standard output either


def test_in_production_a_start_up_failure_is_a_json_line(test_database_url: str) -> None:
    env = server_env(test_database_url, ENVIRONMENT="production", JWT_SECRET="too-short")
    failed = subprocess.run([MARKETS, "serve", "--port", str(free_port())], env=env, capture_output=True,
                            timeout=WAIT_SECONDS * 2)
    assert failed.returncode == 1 and failed.stdout == b""
    [line] = failed.stderr.decode().splitlines()
    assert "JWT_SECRET" in json.loads(line)["event"] and "too-short" not in line


def test_in_production_a_port_in_use_is_reported_in_json_lines(test_database_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        failed = subprocess.run([MARKETS, "serve", "--port", str(port)], capture_output=True,
                                env=server_env(test_database_url, ENVIRONMENT="production"), timeout=WAIT_SECONDS * 2)
    assert failed.returncode != 0
    lines = (failed.stdout + failed.stderr).decode().splitlines()
    assert lines and all(is_json_object(line) for line in lines), lines
    assert any("address already in use" in line.lower() for line in lines), lines
