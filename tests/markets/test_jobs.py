"""Background jobs: closing expired markets, retries and kept failures, idempotency, real
`markets worker` and `markets serve` processes, and the `reindex` and `jobs` commands."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from saq import Status
from sqlalchemy import select

from domain.entities import MarketStatus
from domain.services import search
from domain.services.positions import PURGE_IDEMPOTENCY_KEYS
from domain.services.search import CLOSE_EXPIRED_MARKETS, INDEX_MARKET, REINDEX_STALE
from markets.background import job_deps
from markets.jobs import RetryPolicy
from markets.redis_client import namespace
from markets.search.embedders import resolve
from markets.stores.job_queue import LocalJobQueue, SaqJobQueue, make_worker
from persistence.tables import market_embeddings
from persistence.tables import markets as market_rows
from tests.conftest import TEST_SECRET, Api
from tests.factories import insert_market, market_id
from tests.graph.test_search import eventually, names
from tests.markets.test_cli import assert_one_line_failure, markets
from tests.redis_server import RedisServer, free_port
from tests.servers import instance

MARKETS_BIN = str(Path(sys.executable).with_name("markets"))
MARKET_STATUS = "query($id: ID!) { market(id: $id) { status } }"
PAST, FUTURE = datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=30)


# ---------------------------------------------------------------- close_expired_markets


async def test_expired_markets_close_and_the_cache_sees_it(api: Api) -> None:
    owner = await api.make_user()
    expired = await insert_market(api.container, owner.user, name="Will the old ferry sail?", end_date=PAST)
    running = await insert_market(api.container, owner.user, name="Will the new ferry sail?", end_date=FUTURE)
    open_ended = await insert_market(api.container, owner.user, name="Will any ferry sail?")
    resolved = await insert_market(api.container, owner.user, name="Did the ferry sink?", end_date=PAST,
                                   status=MarketStatus.RESOLVED)
    await search.reindex(unit_of_work=api.container.unit_of_work, embedder=api.container.search.embedder,
                         clock=api.container.clock, everything=False)
    assert (await api.data(MARKET_STATUS, {"id": market_id(expired)}))["market"]["status"] == "ACTIVE"  # cached
    await api.container.jobs.enqueue(CLOSE_EXPIRED_MARKETS)
    await api.run_jobs()
    statuses = {m.id: (await api.data(MARKET_STATUS, {"id": market_id(m)}))["market"]["status"]
                for m in (expired, running, open_ended, resolved)}
    assert statuses == {expired.id: "CLOSED", running.id: "ACTIVE", open_ended.id: "ACTIVE", resolved.id: "RESOLVED"}
    # The status change went through the after-commit listeners too: the index filters by it.
    assert await names(api, "ferry", status="CLOSED") == ["Will the old ferry sail?"]


async def test_the_in_process_worker_runs_the_periodic_jobs_at_once(api: Api) -> None:
    owner = await api.make_user()
    expired = await insert_market(api.container, owner.user, name="Will the old ferry sail?", end_date=PAST)
    queue = LocalJobQueue(policy=RetryPolicy(), concurrency=2, periodic=True)
    queue.start(job_deps(api.container))
    try:
        deadline = time.monotonic() + 10
        while (await status_of(api, expired.id)) != "CLOSED" and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        await queue.stop()
    assert await status_of(api, expired.id) == "CLOSED"


async def status_of(api: Api, pk: int) -> str:
    query = select(market_rows.c.status).where(market_rows.c.id == pk)
    async with api.container.engine.connect() as connection:
        status: str = (await connection.execute(query)).scalar_one()
    return status


def test_saq_workers_schedule_the_periodic_jobs_unless_told_not_to(api: Api) -> None:
    jobs = SaqJobQueue(Redis.from_url("redis://127.0.0.1:1/0"), policy=RetryPolicy(), failed_ttl=60, namespace="t:")
    crons = {job.function.__name__: job.cron for job in make_worker(jobs, job_deps(api.container), concurrency=1)
             .cron_jobs}
    assert crons == {CLOSE_EXPIRED_MARKETS: "* * * * *", REINDEX_STALE: "*/10 * * * *",
                     PURGE_IDEMPOTENCY_KEYS: "17 * * * *"}
    assert not make_worker(jobs, job_deps(api.container), concurrency=1, periodic=False).cron_jobs


async def test_jobs_are_idempotent(api: Api) -> None:
    owner = await api.make_user()
    market = await insert_market(api.container, owner.user, name="Will the tram reach the airport?", end_date=PAST)
    deps = job_deps(api.container)
    run = {"unit_of_work": deps.unit_of_work, "embedder": deps.embedder, "clock": deps.clock}
    assert (await search.index_market(**run, market_id=market.id)).value == "indexed"
    before = await rows(api)
    assert (await search.index_market(**run, market_id=market.id)).value == "unchanged"
    assert await rows(api) == before
    assert await search.close_expired_markets(uow=api.container.unit_of_work(), clock=deps.clock) == [market.id]
    assert await search.close_expired_markets(uow=api.container.unit_of_work(), clock=deps.clock) == []
    assert (await search.index_market(**run, market_id=market.id)).value == "status"
    assert (await search.index_market(**run, market_id=market.id)).value == "unchanged"
    report = await search.reindex(**run, everything=False)
    assert (report.indexed, report.unchanged) == (0, 1)


async def rows(api: Api) -> list[Any]:
    async with api.container.engine.connect() as connection:
        return list(await connection.execute(select(market_embeddings)))


# ---------------------------------------------------------------- retries and failures


def failing(failures: int) -> Any:
    """A job function that fails its first `failures` calls (a real coroutine function, as saq wants)."""

    async def run(ctx: Any, **_: Any) -> str:
        run.calls += 1  # type: ignore[attr-defined]
        if run.calls <= failures:  # type: ignore[attr-defined]
            raise RuntimeError(f"boom {run.calls}")  # type: ignore[attr-defined]
        return "done"

    run.calls = 0  # type: ignore[attr-defined]
    return run


def test_the_backoff_grows_exponentially_within_its_cap() -> None:
    policy = RetryPolicy(retries=3, delay=0.5, max_delay=3)
    assert policy.attempts == 4
    for attempts, ceiling in [(1, 0.5), (2, 1), (3, 2), (4, 3), (9, 3)]:
        assert all(0 <= policy.delay_after(attempts) <= ceiling for _ in range(50))


async def test_in_process_jobs_retry_then_fail_visibly(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    flaky, broken = failing(failures=2), failing(failures=99)
    queue = LocalJobQueue(policy=RetryPolicy(retries=3, delay=0.01), concurrency=2,
                          functions={"flaky": flaky, "broken": broken})
    await queue.enqueue("flaky")
    job_id = await queue.enqueue("broken", market_id=7)
    with caplog.at_level(logging.WARNING, logger="markets.jobs"):
        assert await queue.run_pending(job_deps(api.container)) == 3 + 4
    assert (flaky.calls, broken.calls) == (3, 4)  # the first attempt and 3 retries
    stats = await queue.stats()
    assert (stats.queued, stats.active, stats.scheduled, stats.failed) == (0, 0, 0, 1)
    [failed] = await queue.failed()
    assert (failed.id, failed.function, failed.kwargs, failed.attempts) == (job_id, "broken", {"market_id": 7}, 4)
    assert failed.error.strip().endswith("RuntimeError: boom 4")
    [logged] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert job_id in logged and "RuntimeError: boom 4" in logged


async def test_saq_jobs_retry_with_backoff_then_fail_visibly(
    api: Api, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    flaky, broken = failing(failures=2), failing(failures=99)
    jobs = SaqJobQueue(
        Redis.from_url(redis_server.url), policy=RetryPolicy(retries=3, delay=0.05), failed_ttl=3600,
        namespace=namespace(api.container.settings),
    )
    await jobs.queue.connect()
    async with running_worker(jobs, job_deps(api.container), {"flaky": flaky, "broken": broken}):
        keys = [(await jobs.queue.enqueue(name)).key for name in ("flaky", "broken")]  # type: ignore[union-attr]
        with caplog.at_level(logging.ERROR, logger="markets.jobs"):
            done = await finished(jobs, keys, seconds=20)
    assert [(job.status, job.attempts, job.retries, job.retry_delay) for job in done] == [
        (Status.COMPLETE, 3, 4, 0.05), (Status.FAILED, 4, 4, 0.05)]
    stats = await jobs.stats()
    assert (stats.queued, stats.active, stats.failed) == (0, 0, 1)
    [failed] = await jobs.failed()
    assert failed.id == done[1].id and failed.attempts == 4 and failed.error.strip().endswith("RuntimeError: boom 4")
    assert await jobs.redis.ttl(done[1].id) > 600  # kept past saq's own ttl for finished jobs
    assert any(done[1].id in r.getMessage() and "boom 4" in r.getMessage() for r in caplog.records)
    await jobs.queue.disconnect()


@asynccontextmanager
async def running_worker(jobs: SaqJobQueue, deps: Any, functions: dict[str, Any]) -> AsyncIterator[None]:
    """A saq worker in this process, once its first sweep is done: a job dequeued while saq sweeps
    at start may be taken for a stuck one and retried (harmless with retries, but not countable)."""
    worker = make_worker(jobs, deps, concurrency=2, functions=functions)
    running = asyncio.create_task(worker.start())
    try:
        deadline = time.monotonic() + 10
        while not await jobs.redis.exists(jobs.queue.namespace("sweep")) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)
        yield
    finally:
        worker.event.set()
        await running


async def finished(jobs: SaqJobQueue, keys: list[str], *, seconds: float) -> list[Any]:
    """The jobs once all are complete or failed (polled, bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = await jobs.queue.jobs(keys)
        if all(job is not None and job.status in (Status.COMPLETE, Status.FAILED) for job in found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"jobs not finished in {seconds} s: {await jobs.queue.jobs(keys)}")


# ---------------------------------------------------------------- real processes


def spawn(tmp_path: Path, name: str, *args: str, **env: str) -> tuple[subprocess.Popen[bytes], Path]:
    """A `markets` process writing its output to a file of the test's."""
    log = tmp_path / f"{name}.log"
    environment = os.environ | {"JWT_SECRET": TEST_SECRET, "RATE_LIMIT_PER_MINUTE": "0", **env}
    with log.open("wb") as out:
        process = subprocess.Popen([MARKETS_BIN, *args], env=environment, stdout=out, stderr=subprocess.STDOUT)
    return process, log


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts, killed at its end whatever happens."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


async def wait_for_workers(jobs: Any, count: int, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (await jobs.stats()).workers >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{count} worker(s) not ready in {seconds} s")


async def test_a_market_is_searchable_within_5_seconds_with_a_worker(
    test_database_url: str, redis_server: RedisServer, processes: list[Any], tmp_path: Path
) -> None:
    embedder = resolve("auto")  # the model where installed, as in CI
    async with instance(test_database_url, redis_url=redis_server.url, embedder=embedder,
                        search_refresh_seconds=1.0) as api:
        owner = await api.make_user()
        worker, log = spawn(tmp_path, "worker", "worker", DATABASE_URL=test_database_url,
                            REDIS_URL=redis_server.url, EMBEDDER=embedder)
        processes.append(worker)
        await wait_for_workers(api.container.jobs, 1, seconds=120)
        assert await names(api, "Danube bridge in Vienna") == []  # loads this instance's index and model
        await api.make_market(owner, name="Will the Danube bridge in Vienna reopen?")
        found = await eventually(lambda: names(api, "Danube bridge in Vienna"),
                                 lambda hits: hits[0] == "Will the Danube bridge in Vienna reopen?", seconds=5)
        assert found, log.read_text()[-3000:]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    output = log.read_text()
    assert "job worker ready" in output and "peak memory" in output


async def test_several_workers_share_the_queue(
    api: Api, test_database_url: str, redis_server: RedisServer, processes: list[Any], tmp_path: Path
) -> None:
    owner = await api.make_user()
    created = [await insert_market(api.container, owner.user, name=f"Will dam {n} hold?") for n in range(40)]
    async with instance(test_database_url, redis_url=redis_server.url, embedder="hashing") as other:
        for n in range(2):
            process, _ = spawn(tmp_path, f"worker{n}", "worker", "--concurrency", "4",
                               DATABASE_URL=test_database_url, REDIS_URL=redis_server.url, EMBEDDER="hashing")
            processes.append(process)
        await wait_for_workers(other.container.jobs, 2, seconds=60)
        for market in created:
            await other.container.jobs.enqueue(INDEX_MARKET, market_id=market.id)
        deadline = time.monotonic() + 30
        while len(await rows(other)) < len(created) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert len(await rows(other)) == len(created)
        assert len(await names(other, "dam hold", first=100)) == len(created)
    for process in processes:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


async def test_serve_runs_the_jobs_itself_without_redis(
    api: Api, test_database_url: str, processes: list[Any], tmp_path: Path
) -> None:
    owner = await api.make_user()
    port = free_port()
    server, log = spawn(tmp_path, "serve", "serve", "--port", str(port), DATABASE_URL=test_database_url,
                        EMBEDDER="hashing", REDIS_URL="", SEARCH_REFRESH_SECONDS="0.2")
    processes.append(server)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        await ready(http)
        created = await http.post("/graphql", headers={"Authorization": f"Bearer {owner.token}"}, json={
            "query": 'mutation { createMarket(input: {name: "Will the cable car reach the summit?"}) { id } }'})
        assert created.status_code == 200, created.text

        async def found() -> list[str]:
            body = (await http.post("/graphql", json={"query": '{ searchMarkets(query: "cable car summit") '
                                                      "{ market { name } } }"})).json()
            return [hit["market"]["name"] for hit in body["data"]["searchMarkets"]]

        assert await eventually(found, lambda hits: hits[0].startswith("Will the cable car")), log.read_text()
        readiness = (await http.get("/readyz")).json()
    assert readiness["embedder"] == "hashing-v1" and readiness["jobs"] == "in-process"
    assert "search embedder: hashing-v1 (lexical fallback); jobs run in this process" in log.read_text()


async def ready(http: httpx.AsyncClient, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.HTTPError:
            await asyncio.sleep(0.1)
    raise AssertionError("the server did not start")


# ---------------------------------------------------------------- the commands


def test_reindex_all_with_a_progress_bar(test_database_url: str) -> None:
    seeded = markets("seed", "--users", "2", "--markets", "25", "--positions", "0", database_url=test_database_url)
    assert seeded.returncode == 0, seeded.stderr
    first = markets("reindex", database_url=test_database_url)
    assert first.returncode == 0, first.stderr
    assert "25/25" in first.stdout and "indexed 25 markets with hashing-v1" in first.stdout
    again = markets("reindex", database_url=test_database_url)
    assert "indexed 0 markets" in again.stdout and "25 already current" in again.stdout
    everything = markets("reindex", "--all", database_url=test_database_url)
    assert "indexed 25 markets" in everything.stdout, everything.stdout


def test_worker_and_jobs_need_redis() -> None:
    assert_one_line_failure(markets("worker"), "REDIS_URL")
    assert_one_line_failure(markets("jobs"), "REDIS_URL")
    assert_one_line_failure(markets("jobs", REDIS_URL="redis://127.0.0.1:1/0"), "cannot reach Redis")


async def test_jobs_lists_the_failed_ones(api: Api, redis_server: RedisServer, test_database_url: str) -> None:
    jobs = SaqJobQueue(  # the deployment's queue, which `markets jobs` on test_database_url lists
        Redis.from_url(redis_server.url), policy=RetryPolicy(retries=0), failed_ttl=3600,
        namespace=namespace(api.container.settings),
    )
    await jobs.queue.connect()
    async with running_worker(jobs, job_deps(api.container), {"broken": failing(failures=9)}):
        key = (await jobs.queue.enqueue("broken", market_id=3)).key  # type: ignore[union-attr]
        await finished(jobs, [key], seconds=10)
    listed = await asyncio.to_thread(markets, "jobs", database_url=test_database_url, REDIS_URL=redis_server.url)
    assert listed.returncode == 0, listed.stderr
    assert "queued 0, active 0" in listed.stdout and "failed 1" in listed.stdout
    assert "broken(market_id=3) after 1 attempts: RuntimeError: boom 1" in listed.stdout
    await jobs.queue.disconnect()


async def test_metrics_report_the_queue(api: Api) -> None:
    await api.container.jobs.enqueue(REINDEX_STALE)
    text = (await api.http.get("/metrics")).text
    assert 'markets_job_queue_jobs{state="queued"} 1.0' in text and "markets_jobs_failed 0.0" in text
    await api.run_jobs()
    assert 'markets_jobs_finished_total{function="reindex_stale",outcome="complete"}' in (
        await api.http.get("/metrics")).text
