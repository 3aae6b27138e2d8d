"""Where a running server's CPU goes under load: py-spy samples it while wrk loads one read case.

The case's bodies are written as the read bench writes them (bench/against_floor.py), wrk loads
the server (16 connections, one thread) for the warm-up plus the sampled seconds, and py-spy
records the server's process meanwhile, without pausing it (--nonblocking), into a raw profile
that bench/profile_summary.py summarizes: self time by package, the top functions by self and by
inclusive time. `make profile OP=market_by_id` serves the bench database and runs this.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
from pathlib import Path

import httpx

from bench.against_floor import CASES, READ_CASES, prepare
from bench.load import run_wrk
from bench.profile_summary import parse, summarize


def py_spy_binary() -> str:
    """py-spy beside this Python (the project's venv), else on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise SystemExit("py-spy is not installed: pip install py-spy (the dev extra has it)")
    return found


async def record(pid: int, output: Path, seconds: int, rate: int) -> None:
    command = [py_spy_binary(), "record", "--pid", str(pid), "--format", "raw", "--nonblocking",
               "--rate", str(rate), "--duration", str(seconds), "--output", str(output)]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.DEVNULL,
                                                   stderr=asyncio.subprocess.PIPE)
    _, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"py-spy exited with {process.returncode}: {err.decode(errors='replace')}")


async def profile(args: argparse.Namespace) -> str:
    """Load the server with the case, sample it meanwhile; the summary of the samples."""
    case = next(case for case in CASES if case.name == args.case)
    async with httpx.AsyncClient(timeout=30) as client:
        prepared = await prepare(client, [case], url=args.url, database_url=args.database_url,
                                 markets=args.markets, work_dir=args.work_dir)
    load = asyncio.create_task(run_wrk(
        args.url, prepared.bodies[case.name], authorization=prepared.headers(case).get("Authorization", ""),
        connections=args.connections, seconds=args.warmup + args.duration + 1))
    await asyncio.sleep(args.warmup)
    await record(args.server_pid, args.output, args.duration, args.rate)
    result = await load
    if result.errors:
        raise SystemExit(f"{case.name}: {result.errors} failed requests under the profile's load: {result}")
    return (f"{case.name}: {result.rps:.1f} req/s under wrk ({args.connections} connections), "
            f"p50 {result.p50_us / 1000:.1f} ms, p99 {result.p99_us / 1000:.1f} ms; profile in {args.output}\n"
            + summarize(parse(args.output.read_text()), args.top))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("case", choices=READ_CASES)
    parser.add_argument("--url", default="http://127.0.0.1:8765/graphql", help="the server's GraphQL endpoint")
    parser.add_argument("--server-pid", type=int, required=True, help="the server's process id")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""), help="market ids")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=15, help="sampled seconds")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before sampling")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--markets", type=int, default=1000, help="market ids market(id) cycles through")
    parser.add_argument("--top", type=int, default=15, help="lines per view")
    parser.add_argument("--work-dir", type=Path, default=Path("bench/wrk-bodies"), help="where bodies files go")
    parser.add_argument("--output", type=Path, default=None, help="the raw profile (default bench/profile-CASE.txt)")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set --database-url or BENCH_DATABASE_URL")
    args.output = args.output or Path(f"bench/profile-{args.case}.txt")
    return args


def main(argv: list[str] | None = None) -> None:
    print(asyncio.run(profile(parse_args(argv))))


if __name__ == "__main__":
    main()
