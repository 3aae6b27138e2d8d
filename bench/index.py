"""Indexing every market through a real `markets worker`: how long, and the worker's peak memory.

With the search index emptied, a worker catches up in batches (the `reindex_stale` job it queues
at start, after a model change or on a fresh deploy; queued here, periodic jobs off, so that
nothing else runs under the timing). Then one
`index_market` job per market is queued (each re-encoded, as an edit would), which measures the
per-market path that new and edited markets take. The worker's peak resident memory is read
from /proc (VmHWM) before it is stopped. Prints a table; writes bench/results-indexing.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import func, select, text

from domain.services.search import INDEX_MARKET, REINDEX_STALE
from markets.search.embedders import make_embedder
from markets.settings import Settings
from markets.stores.job_queue import SaqJobQueue, saq_queue
from persistence.database import make_engine
from persistence.tables import market_embeddings, markets

MARKETS_BIN = str(Path(sys.executable).with_name("markets"))
ENQUEUE_CHUNK = 500


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident memory, from /proc/<pid>/status (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def count_indexed(engine: Any, embedder: str, since: datetime | None = None) -> int:
    query = select(func.count()).select_from(market_embeddings).where(market_embeddings.c.embedder == embedder)
    if since is not None:
        query = query.where(market_embeddings.c.indexed_at > since)
    async with engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def wait_until(check: Any, target: int, *, timeout: float) -> float:
    """Seconds until `await check()` reaches `target` (polled every 0.2 s, bounded by `timeout`)."""
    started = time.monotonic()
    while (done := await check()) < target:
        if time.monotonic() - started > timeout:
            raise SystemExit(f"only {done} of {target} indexed after {timeout:.0f} s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def start_worker(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    env = os.environ | {"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "EMBEDDER": args.embedder,
                        "LOG_LEVEL": "WARNING", "PERIODIC_JOBS": "false"}  # nothing else runs under the timing
    with Path(args.log).open("ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([MARKETS_BIN, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Both phases through one worker; a row for each."""
    engine = make_engine(args.database_url)
    name = make_embedder(args.embedder).name
    # The worker's own queue: the same name, in the namespace its DATABASE_URL gives (markets.redis_client).
    jobs = saq_queue(Settings(database_url=args.database_url, redis_url=args.redis_url), Redis.from_url(args.redis_url))
    await jobs.redis.flushdb()
    async with engine.begin() as connection:
        await connection.execute(text("DELETE FROM market_embeddings"))
        ids = [row.id for row in await connection.execute(select(markets.c.id).order_by(markets.c.id))]
    worker = start_worker(args)
    try:
        await wait_for_worker(jobs, worker, args.log)
        await jobs.enqueue(REINDEX_STALE)  # what a worker queues at its start
        batch = await wait_until(lambda: count_indexed(engine, name), len(ids), timeout=args.timeout)
        per_market = await index_one_by_one(jobs, engine, name, ids, timeout=args.timeout)
        peak = peak_rss_mib(worker.pid)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        await jobs.redis.aclose()
        await engine.dispose()
    common = {"markets": len(ids), "embedder": name, "cpus": os.cpu_count(), "worker_peak_rss_mib": round(peak)}
    return [
        {"path": "worker catch-up (reindex_stale, batches)", "seconds": round(batch, 1),
         "markets_per_second": round(len(ids) / batch, 1), **common},
        {"path": "one index_market job per market", "seconds": round(per_market, 1),
         "markets_per_second": round(len(ids) / per_market, 1), **common},
    ]


async def wait_for_worker(jobs: SaqJobQueue, worker: subprocess.Popen[bytes], log: str) -> None:
    """Until the worker registers (it loads the model first)."""
    while not (await jobs.stats()).workers:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited: see {log}")
        await asyncio.sleep(0.2)


async def index_one_by_one(jobs: SaqJobQueue, engine: Any, name: str, ids: list[int], *, timeout: float) -> float:
    """Seconds for one forced index_market job per market, from the first enqueue to the last write."""
    since, started = datetime.now(UTC), time.monotonic()
    for start in range(0, len(ids), ENQUEUE_CHUNK):
        chunk = ids[start : start + ENQUEUE_CHUNK]
        await asyncio.gather(*(jobs.enqueue(INDEX_MARKET, market_id=i, force=True) for i in chunk))
    await wait_until(lambda: count_indexed(engine, name, since), len(ids), timeout=timeout)
    return time.monotonic() - started


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.index", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="default: DATABASE_URL")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_INDEX_REDIS_URL", "redis://127.0.0.1:6379/11"))
    parser.add_argument("--embedder", default="minilm", choices=["minilm", "hashing"])
    parser.add_argument("--timeout", type=float, default=1800, help="seconds each phase may take")
    parser.add_argument("--json", type=Path, default=Path("bench/results-indexing.json"))
    parser.add_argument("--log", default="/tmp/markets-bench-worker.log", help="the worker's output")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.database_url:
        raise SystemExit("set DATABASE_URL or --database-url")
    rows = asyncio.run(measure(args))
    for row in rows:
        print(f"{row['path']:<42} {row['markets']:>6} markets {row['seconds']:>7.1f} s "
              f"{row['markets_per_second']:>7.1f}/s, worker peak {row['worker_peak_rss_mib']} MiB, {row['cpus']} cores")
    args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
