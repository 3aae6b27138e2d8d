"""Observability and operations: the request log line, /metrics, /readyz, CORS, `serve --workers`."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from domain.entities import User
from domain.roles import Role
from markets import cli
from markets.observability import metrics
from markets.observability.logs import REDACTED, UVICORN_LOGGERS, conceal, configure
from markets.observability.metrics import OperationLabels
from markets.observability.request_metrics import RequestInfo, current
from markets.tokens import TokenService
from persistence.repositories.users import SqlUserRepository
from tests.conftest import TEST_SECRET, Api, codes
from tests.redis_server import free_port
from tests.servers import instance

NAMED = "query ObsMarkets { markets(first: 1) { totalCount } }"
USERS = "query ObsUsers { users(first: 1) { edges { node { id } } } }"
SECRET = "secret-detail-7f3a"
REAL_REDIS = os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/13"
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
ORIGIN = "https://app.example"
MARKETS_BIN = Path(sys.executable).with_name("markets")
Lines = Callable[[], list[dict[str, Any]]]


# ---------------------------------------------------------------- helpers


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger, uvicorn's loggers and structlog back as they were."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    uvicorn = {name: logging.getLogger(name).propagate for name in UVICORN_LOGGERS}
    hooks = sys.excepthook, threading.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)
    for name, propagate in uvicorn.items():
        logging.getLogger(name).propagate = propagate
    structlog.reset_defaults()


@pytest.fixture
def json_lines(restore_logging: None) -> Lines:
    """Logging configured for JSON, its handler writing to a buffer; returns a reader of the lines so far."""
    configure("INFO", json=True)
    buffer = io.StringIO()
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr
    handler.setStream(buffer)
    return lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


def request_lines(lines: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("event") == "request" and line.get("request_id") == request_id]


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of a Prometheus text exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def scrape(http: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


def requests_key(operation: str, outcome: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return "markets_graphql_requests_total", frozenset({("operation", operation), ("outcome", outcome)})


def raising(*_: Any, **__: Any) -> Any:
    raise RuntimeError(SECRET)


async def failing(*args: Any, **kwargs: Any) -> Any:
    return raising(*args, **kwargs)


@pytest.fixture(autouse=True)
def fresh_operation_labels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Operation names seen by earlier tests must not use up this module's share of the cap."""
    monkeypatch.setattr(metrics, "operation_label", OperationLabels())


# ---------------------------------------------------------------- the request log line


async def test_one_request_line_with_its_fields(api: Api, json_lines: Lines) -> None:
    member = await api.make_user()
    response = await api.post(NAMED, token=member.token, headers={"X-Request-ID": "obs-line-1"})
    assert response.status_code == 200
    [line] = request_lines(json_lines(), "obs-line-1")
    assert line["level"] == "info" and line["logger"] == "markets.http" and "timestamp" in line
    assert (line["method"], line["path"], line["status"]) == ("POST", "/graphql", 200)
    assert (line["operation_name"], line["operation_type"]) == ("ObsMarkets", "query")
    assert line["viewer_id"] == member.id
    assert line["statements"] == int(response.headers["x-sql-statements"]) > 0
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert isinstance(line["cache_hits"], int) and isinstance(line["cache_misses"], int)
    assert line["error_codes"] == []


async def test_request_line_carries_error_codes_and_the_chosen_operation(api: Api, json_lines: Lines) -> None:
    document = (
        'query First { markets { totalCount } } '
        'mutation Second { login(email: "a@b.c", password: "x") { token } }'
    )
    await api.http.post("/graphql", json={"query": "{ me { id } }"}, headers={"X-Request-ID": "obs-anon"})
    await api.http.post("/graphql", json={"query": document, "operationName": "Second"},
                        headers={"X-Request-ID": "obs-chosen"})
    await api.http.post("/graphql", json={"query": "{ nope"}, headers={"X-Request-ID": "obs-parse"})
    await api.http.post("/graphql", content=b"not json", headers={"X-Request-ID": "obs-bad", "Content-Type":
                                                                  "application/json"})
    lines = json_lines()
    [anonymous] = request_lines(lines, "obs-anon")
    assert (anonymous["operation_name"], anonymous["operation_type"]) == (None, "query")
    assert anonymous["error_codes"] == ["UNAUTHENTICATED"] and anonymous["viewer_id"] is None
    [chosen] = request_lines(lines, "obs-chosen")
    assert (chosen["operation_name"], chosen["operation_type"]) == ("Second", "mutation")
    [parse] = request_lines(lines, "obs-parse")
    assert parse["error_codes"] == ["GRAPHQL_PARSE_FAILED"] and parse["operation_type"] is None
    [bad] = request_lines(lines, "obs-bad")
    assert (bad["status"], bad["error_codes"]) == (400, ["BAD_REQUEST"])


async def test_every_line_of_a_request_carries_its_id(api: Api, json_lines: Lines) -> None:
    logging.getLogger("markets.test").warning("outside any request")
    await api.post(NAMED, headers={"X-Request-ID": "obs-every"})
    lines = json_lines()
    outside = [line for line in lines if line["event"] == "outside any request"]
    assert outside and "request_id" not in outside[0]
    assert request_lines(lines, "obs-every")


async def test_console_lines_in_development(
    api: Api, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    assert not api.container.settings.json_logs
    configure("INFO", json=api.container.settings.json_logs)
    await api.post(NAMED, headers={"X-Request-ID": "obs-console"})
    err = capsys.readouterr().err.splitlines()
    [line] = [line for line in err if "request_id=obs-console" in line and "[markets.http]" in line]
    assert not line.startswith("{")
    for part in ("[info", "request", "[markets.http]", "operation_name=ObsMarkets", "status=200", "statements="):
        assert part in line, line


async def test_json_lines_in_production(
    test_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    production = {"ENVIRONMENT": "production", "JWT_SECRET": TEST_SECRET, "DATABASE_URL": test_database_url}
    for name, value in production.items():
        monkeypatch.setenv(name, value)
    for name in ("LOG_FORMAT", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = cli.logged_settings()  # what `markets serve` and each worker do
    assert settings.is_production and settings.json_logs
    async with instance(test_database_url, environment="production") as api:
        await api.post(NAMED, headers={"X-Request-ID": "obs-json"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    [line] = request_lines(lines, "obs-json")
    assert line["operation_name"] == "ObsMarkets"


# ---------------------------------------------------------------- unexpected errors, logged once


async def test_resolver_exception_is_logged_once_with_traceback(
    api: Api, json_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = await api.make_user(Role.ADMIN)
    monkeypatch.setattr(SqlUserRepository, "page", failing)
    response = await api.post(USERS, token=admin.token, headers={"X-Request-ID": "obs-boom"})
    assert response.status_code == 200
    assert codes(response.json()) == ["INTERNAL_SERVER_ERROR"] and SECRET not in response.text
    lines = json_lines()
    [logged] = [line for line in lines if SECRET in json.dumps(line)]
    assert logged["level"] == "error" and logged["request_id"] == "obs-boom"
    assert "Traceback" in logged["exception"] and f"RuntimeError: {SECRET}" in logged["exception"]
    [line] = request_lines(lines, "obs-boom")
    assert line["error_codes"] == ["INTERNAL_SERVER_ERROR"]


async def test_exception_outside_execution_is_logged_once_with_traceback(
    api: Api, json_lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await api.make_user()
    monkeypatch.setattr(TokenService, "user_id", raising)
    response = await api.post(NAMED, token=member.token, headers={"X-Request-ID": "obs-boom-2"})
    assert response.status_code == 500
    assert codes(response.json()) == ["INTERNAL_SERVER_ERROR"] and SECRET not in response.text
    lines = json_lines()
    [logged] = [line for line in lines if SECRET in json.dumps(line)]
    assert logged["request_id"] == "obs-boom-2" and "Traceback" in logged["exception"]
    [line] = request_lines(lines, "obs-boom-2")
    assert (line["status"], line["error_codes"]) == (500, ["INTERNAL_SERVER_ERROR"])


# ---------------------------------------------------------------- no secret in any line


def fail_holding_secrets(password: str) -> None:
    """Fails with a password and the JWT secret in its frame's local variables, as a login could."""
    signing_key = TEST_SECRET
    raise RuntimeError(f"login failed after {len(password) + len(signing_key)} characters")


@pytest.mark.parametrize("json_format", [False, True])
def test_tracebacks_never_show_local_variables(
    json_format: bool, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    """Rich's console tracebacks printed every frame's locals (the password, the secret): plain ones only."""
    configure("INFO", json=json_format)
    password = "-".join(["a", "password", "in", "a", "local"])  # not a literal: tracebacks show source lines
    try:
        fail_holding_secrets(password)
    except RuntimeError:
        logging.getLogger("markets.test").exception("login blew up")
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: login failed after" in err and "fail_holding_secrets" in err
    assert "a-password-in-a-local" not in err and TEST_SECRET not in err


def test_the_redaction_net_covers_keys_known_values_and_secret_shapes(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure("INFO", json=True, secrets=[TEST_SECRET])
    someone = User(id=1, email="someone@example.com", name="Someone", role=Role.USER, created_at=datetime.now(UTC),
                   balance=Decimal("0.00"))
    token = TokenService(secret="x" * 32, ttl_seconds=60).issue(someone, now=datetime.now(UTC))
    argon2_hash = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
    current.set(RequestInfo(request_id="redact-1"))
    try:
        conceal("the-request-password")
        structlog.stdlib.get_logger("markets.test").info(
            f"user typed the-request-password; signed with {TEST_SECRET}", password="hunter2-hunter2",
            headers={"Authorization": "Bearer abc", "X-Other": "kept"}, stored=f"hash {argon2_hash} done",
            sent=[f"Bearer {token}", token], email="a\ud800@b.c", count=3,
        )
        frame_text = """< TEXT '{"payload": {"Authorization": "x"}}' [40 bytes]"""
        logging.getLogger("uvicorn.error").warning("%s", frame_text)
    finally:
        current.set(None)
    err = capsys.readouterr().err
    [line, frame] = [json.loads(text) for text in err.splitlines()]
    assert line["event"] == f"user typed {REDACTED}; signed with {REDACTED}"
    assert line["password"] == REDACTED and line["headers"] == {"Authorization": REDACTED, "X-Other": "kept"}
    assert line["stored"] == f"hash {REDACTED} done" and line["sent"] == [f"Bearer {REDACTED}", REDACTED]
    assert line["email"] == "a\\ud800@b.c" and line["count"] == 3  # a lone surrogate cannot break the line
    assert frame["event"] == f"< TEXT {REDACTED} [40 bytes]"
    for secret in (TEST_SECRET, "the-request-password", "hunter2", argon2_hash[10:], token.partition(".")[2]):
        assert secret not in err


# ---------------------------------------------------------------- /metrics


async def test_metrics_count_requests_latency_statements_and_pool(api: Api) -> None:
    before = await scrape(api.http)
    for _ in range(3):
        await api.post(NAMED)
    await api.post("query ObsMe { me { id } }")
    async with api.container.engine.connect():
        after = await scrape(api.http)
    ok, denied = requests_key("ObsMarkets", "ok"), requests_key("ObsMe", "UNAUTHENTICATED")
    assert after[ok] - before.get(ok, 0) == 3
    assert after[denied] - before.get(denied, 0) == 1
    latency = frozenset({("operation", "ObsMarkets"), ("outcome", "ok")})
    assert after[("markets_graphql_request_duration_seconds_count", latency)] >= 3
    assert ("markets_graphql_request_duration_seconds_bucket", latency | {("le", "0.1")}) in after
    statements = ("markets_sql_statements_per_request_count", frozenset())
    assert after[statements] - before.get(statements, 0) == 4
    assert after[("markets_db_pool_checked_out_connections", frozenset())] >= 1


async def test_metrics_lists_every_family(api: Api) -> None:
    families = {family.name for family in text_string_to_metric_families((await api.http.get("/metrics")).text)}
    assert {
        "markets_graphql_requests", "markets_graphql_request_duration_seconds", "markets_sql_statements_per_request",
        "markets_db_pool_checked_out_connections", "markets_cache_lookups", "markets_rate_limited",
        "markets_redis_failures",
    } <= families


async def test_client_chosen_operation_names_are_capped(api: Api) -> None:
    long_name = "O" + "x" * 64
    before = await scrape(api.http)
    await api.post(f"query {long_name} {{ markets {{ totalCount }} }}")
    after = await scrape(api.http)
    assert after[requests_key("other", "ok")] - before.get(requests_key("other", "ok"), 0) == 1
    assert all(long_name not in str(labels) for _, labels in after)


def test_operation_labels() -> None:
    label = OperationLabels(limit=2)
    assert [label(n) for n in (None, "A", "B", "C", "A", "bad-name", "Trailing\n", "_ok")] == [
        "anonymous", "A", "B", "other", "A", "other", "other", "other"]


# ---------------------------------------------------------------- /readyz


@pytest.mark.parametrize(("redis_url", "state"), [(None, "off"), (REAL_REDIS, "ok"), (UNREACHABLE_REDIS, "down")])
async def test_readyz_reports_redis_but_needs_only_the_database(
    test_database_url: str, redis_url: str | None, state: str
) -> None:
    async with instance(test_database_url, redis_url=redis_url) as api:
        started = time.monotonic()
        response = await api.http.get("/readyz")
        assert time.monotonic() - started < 2
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("database", "redis")} == {"database": "ok", "redis": state}
    assert body["embedder"] == api.container.search.embedder.name
    assert body["jobs"] == ("in-process" if redis_url is None else "redis")
    # Counts from the queue, null when it cannot be read (Redis down).
    counted = state != "down"
    assert all(isinstance(body[k], int) if counted else body[k] is None for k in ("queue_depth", "failed_jobs"))


async def test_readyz_counts_a_failed_redis_ping(test_database_url: str) -> None:
    async with instance(test_database_url, redis_url=UNREACHABLE_REDIS) as api:
        key = ("markets_redis_failures_total", frozenset({("component", "readyz")}))
        before = (await scrape(api.http)).get(key, 0)
        await api.http.get("/readyz")
        assert (await scrape(api.http))[key] == before + 1


async def test_readyz_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/dir/x.db"
    async with instance(url, redis_url=REAL_REDIS) as api:
        response = await api.http.get("/readyz")
    assert response.status_code == 503
    assert {k: response.json()[k] for k in ("database", "redis")} == {"database": "down", "redis": "ok"}


# ---------------------------------------------------------------- CORS


PREFLIGHT = {"Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "authorization, content-type, x-request-id"}


async def test_cors_preflight_and_simple_requests(test_database_url: str) -> None:
    async with instance(test_database_url, cors_origins=f"{ORIGIN}, https://other.example") as api:
        allowed = await api.http.options("/graphql", headers={"Origin": ORIGIN, **PREFLIGHT})
        refused = await api.http.options("/graphql", headers={"Origin": "https://evil.example", **PREFLIGHT})
        simple = await api.http.post("/graphql", json={"query": NAMED}, headers={"Origin": ORIGIN})
        foreign = await api.http.post("/graphql", json={"query": NAMED}, headers={"Origin": "https://evil.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert {"GET", "POST"} <= set(allowed.headers["access-control-allow-methods"].replace(" ", "").split(","))
    allowed_headers = allowed.headers["access-control-allow-headers"].lower()
    assert all(h in allowed_headers for h in ("authorization", "content-type", "x-request-id"))
    assert refused.status_code == 400 and "access-control-allow-origin" not in refused.headers
    assert simple.status_code == 200 and simple.headers["access-control-allow-origin"] == ORIGIN
    assert simple.headers["access-control-expose-headers"].lower() == "x-request-id"
    assert foreign.status_code == 200 and "access-control-allow-origin" not in foreign.headers


async def test_cors_star_allows_any_origin(test_database_url: str) -> None:
    async with instance(test_database_url, cors_origins="*") as api:
        preflight = await api.http.options("/graphql", headers={"Origin": "https://any.example", **PREFLIGHT})
        simple = await api.http.post("/graphql", json={"query": NAMED}, headers={"Origin": "https://any.example"})
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    assert simple.headers["access-control-allow-origin"] == "*"


async def test_no_cors_headers_without_cors_origins(api: Api) -> None:
    assert api.container.settings.cors_origins == ""
    preflight = await api.http.options("/graphql", headers={"Origin": ORIGIN, **PREFLIGHT})
    simple = await api.http.post("/graphql", json={"query": NAMED}, headers={"Origin": ORIGIN})
    assert preflight.status_code == 405
    assert not any(h.startswith("access-control-") for h in (*preflight.headers, *simple.headers))


# ---------------------------------------------------------------- markets serve --workers 2


def run_markets(*args: str, env: dict[str, str], **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(MARKETS_BIN), *args], env=env, **popen)


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "markets serve exited"
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"markets serve did not answer within {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server (it stops its workers), SIGKILL to its process group if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=5)


def test_serve_with_two_workers_sums_metrics_over_workers(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if k != "REDIS_URL"},
           "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}", "LOG_FORMAT": "json",
           "RATE_LIMIT_PER_MINUTE": "0", "AUTH_RATE_LIMIT_PER_MINUTE": "0",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")}
    (tmp_path / "metrics").mkdir()
    assert run_markets("migrate", env=env).wait(timeout=60) == 0
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as log:
        process = run_markets("serve", "--workers", "2", "--port", str(port), env=env, stdout=log, stderr=log,
                              start_new_session=True)
        try:
            wait_until_healthy(base, process)
            for _ in range(6):  # a new connection each time, so both workers get some
                assert httpx.post(f"{base}/graphql", json={"query": NAMED}, timeout=10).status_code == 200
            first = samples(httpx.get(f"{base}/metrics", timeout=10).text)
            second = samples(httpx.get(f"{base}/metrics", timeout=10).text)
            [run_dir] = (tmp_path / "metrics").iterdir()  # serve's fresh directory inside the operator's
            pids = {path.stem.rsplit("_", 1)[1] for path in run_dir.glob("*.db")}
        finally:
            stop(process)
    output = (tmp_path / "serve.log").read_text()
    assert first[requests_key("ObsMarkets", "ok")] == second[requests_key("ObsMarkets", "ok")] == 6, output
    assert first[("markets_sql_statements_per_request_count", frozenset())] == 6
    assert ("markets_db_pool_checked_out_connections", frozenset()) in second
    assert len(pids) == 2, pids
    assert not run_dir.exists()  # removed when serve stops
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert len([line for line in lines if line["event"] == "request" and line["path"] == "/graphql"]) == 6
    assert any(line["logger"] == "uvicorn.error" for line in lines)
