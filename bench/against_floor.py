"""The read operations against the floor (bench/floor.py), in the same run, under the same load.

For each read case: the server, then the floor, each warmed up then measured with the same
clients (bench.run's workers). Per row: requests per second, the ratio to the floor's, p50/p99,
the serving process's CPU time per request (utime + stime from /proc/<pid>/stat, read before and
after the measured seconds: every thread of the process, nothing of PostgreSQL's), SQL statements
per request (X-SQL-Statements) and, given the database URL, the new database connections the run
opened (pg_stat_database.sessions). Before measuring, one request of each case goes to both and
their answers must be equal, so that the floor is known to do the client's whole work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import asyncpg
import httpx

from bench.floor import dsn
from bench.run import CASES, Case, Target, measure, prepare, request_maker, summarize

READ_CASES = ("market_by_id", "markets_nested", "markets_filtered_by_volume")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Side:
    """Where one contender listens and which process to read the CPU time of."""

    name: str
    pid: int
    url: str  # the case's name is appended for the floor (one endpoint per operation)
    per_case: bool


@dataclass(frozen=True)
class FloorRow:
    case: str
    side: str
    requests: int
    errors: int
    rps: float
    ratio: float | None
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float | None
    sql_per_request: float | None
    new_connections: int | None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def sessions(database_url: str | None) -> int | None:
    """Connections ever opened to the database (PostgreSQL 14+), or None without a URL."""
    if not database_url:
        return None
    connection = await asyncpg.connect(dsn(database_url))
    try:
        return int(await connection.fetchval(
            "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        ))
    finally:
        await connection.close()


def side_target(target: Target, side: Side, case: Case) -> Target:
    return replace(target, url=f"{side.url}/{case.name}" if side.per_case else side.url)


async def same_answers(case: Case, target: Target, sides: list[Side]) -> None:
    """Send one request of the case to every side; stop the run if their data differ."""
    next_body = request_maker(case, target, 0, 1)
    body = next_body() if next_body is not None else None
    headers = {"Authorization": f"Bearer {target.token}"} if case.authenticated else {}
    answers = []
    for side in sides:
        response = await target.client.post(side_target(target, side, case).url, json=body, headers=headers)
        answers.append(response.json())
    if any(answer != answers[0] for answer in answers[1:]):
        raise SystemExit(f"{case.name}: the floor's answer differs from the server's:\n"
                         + "\n".join(json.dumps(a)[:600] for a in answers))


async def measure_side(case: Case, target: Target, side: Side, args: argparse.Namespace) -> FloorRow:
    """Warm up, then measure one case on one side, with its CPU time and new connections."""
    target = side_target(target, side, case)
    await measure(case, target, args.concurrency, args.warmup)
    cpu_before, sessions_before = cpu_seconds(side.pid), await sessions(args.database_url)
    stats, wall = await measure(case, target, args.concurrency, args.duration)
    cpu = cpu_seconds(side.pid) - cpu_before
    await asyncio.sleep(0.6)  # PostgreSQL publishes its statistics at most every half second
    sessions_after = await sessions(args.database_url)
    if stats.first_error:
        print(f"{case.name} ({side.name}): first error: {stats.first_error}", file=sys.stderr)
    row = summarize(case, stats, wall)
    opened = None if sessions_before is None or sessions_after is None else sessions_after - sessions_before - 1
    return FloorRow(
        case=case.name, side=side.name, requests=row.requests, errors=row.errors, rps=row.rps, ratio=None,
        p50_ms=row.p50_ms, p99_ms=row.p99_ms,
        cpu_ms_per_request=round(cpu * 1000 / row.requests, 3) if row.requests else None,
        sql_per_request=row.sql_per_request, new_connections=opened,
    )


HEADER = (f"{'case':<28} {'side':<7} {'req/s':>9} {'× floor':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/req':>11} {'SQL/req':>8} {'new conns':>10} {'errors':>7}")


def format_row(row: FloorRow) -> str:
    def show(value: float | int | None, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    return (f"{row.case:<28} {row.side:<7} {row.rps:>9.1f} {show(row.ratio, '.3f'):>8} {row.p50_ms:>8.2f} "
            f"{row.p99_ms:>8.2f} {show(row.cpu_ms_per_request, '.3f'):>11} {show(row.sql_per_request, '.2f'):>8} "
            f"{show(row.new_connections, 'd'):>10} {row.errors:>7}")


async def run(args: argparse.Namespace) -> list[FloorRow]:
    server = Side("server", args.server_pid, args.url, per_case=False)
    floor = Side("floor", args.floor_pid, args.floor_url.rstrip("/"), per_case=True)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=args.timeout) as client:
        target = await prepare(client, args.url, traders=0)
        cases = [case for case in CASES if case.name in (args.only or READ_CASES)]
        for case in cases:
            await same_answers(case, target, [server, floor])
        print(HEADER)
        rows = []
        for case in cases:
            mine = await measure_side(case, target, server, args)
            base = await measure_side(case, target, floor, args)
            mine = replace(mine, ratio=round(mine.rps / base.rps, 3) if base.rps else None)
            rows += [mine, replace(base, ratio=1.0)]
            print(format_row(mine), format_row(rows[-1]), sep="\n", flush=True)
        return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.against_floor", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8765/graphql", help="the server's GraphQL endpoint")
    parser.add_argument("--server-pid", type=int, required=True, help="the server's process id (CPU time)")
    parser.add_argument("--floor-url", default="http://127.0.0.1:8766", help="where bench.floor listens")
    parser.add_argument("--floor-pid", type=int, required=True, help="the floor's process id (CPU time)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="to count the new connections each side opens")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per case and side")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--json", type=Path, default=Path("bench/results-floor.json"))
    parser.add_argument("--only", action="append", choices=READ_CASES, metavar="CASE")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rows = [asdict(row) for row in asyncio.run(run(args))]
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
