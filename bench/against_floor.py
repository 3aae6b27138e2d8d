"""The read operations against the floor (bench/floor.py), in the same run, under the same load.

The load is wrk (bench/load.py): one thread, 16 connections, each request's body taken in turn
from a file the prepare step writes (market(id) cycles through a thousand market ids). Each round
measures every case on every side in turn: the server (market cache off), for market(id) also a
second server with the Redis market cache on, then the floor; each run warmed up first (wrk
checking every answer for "errors"), then measured. Per run: requests per second and the ratio to
the floor's in the same round, p50/p99, the serving process's CPU time per request (utime + stime
from /proc/<pid>/stat before and after the measured seconds: every thread of the process, nothing
of PostgreSQL's or wrk's), SQL statements per request (X-SQL-Statements of one probe request after
the run, whose body must have no "errors"), failed requests (socket errors, non-2xx answers, bodies
with "errors" during the warm-up) and the new database connections the run opened
(pg_stat_database.sessions). The table shows the median of the rounds (3 by default). Before
measuring, the first bodies of each case go to every side and the answers must be equal, so that
the floor is known to do the client's whole work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.floor import dsn
from bench.load import run_wrk, write_bodies
from bench.run import EMAIL, MARKET_BY_ID, MARKETS_BY_VOLUME, MARKETS_NESTED, SQL_HEADER, login
from graph import ids

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
COMPARED_BODIES = 3  # of each case, sent to every side before measuring: the answers must be equal


@dataclass(frozen=True)
class ReadCase:
    """One read operation: its document, whether it is sent as the seeded admin, and whether it
    takes a market id (then one body per market, cycled through)."""

    name: str
    query: str
    authenticated: bool
    takes_id: bool


CASES = (
    ReadCase("market_by_id", MARKET_BY_ID, authenticated=False, takes_id=True),
    ReadCase("markets_nested", MARKETS_NESTED, authenticated=True, takes_id=False),
    ReadCase("markets_filtered_by_volume", MARKETS_BY_VOLUME, authenticated=False, takes_id=False),
)
READ_CASES = tuple(case.name for case in CASES)


@dataclass(frozen=True)
class Side:
    """Where one contender listens, which process to read the CPU time of, and the cases it serves
    (None: every one)."""

    name: str
    pid: int
    url: str  # the case's name is appended for the floor (one endpoint per operation)
    per_case: bool
    cases: tuple[str, ...] | None = None

    def serves(self, case: ReadCase) -> bool:
        return self.cases is None or case.name in self.cases

    def url_for(self, case: ReadCase) -> str:
        return f"{self.url}/{case.name}" if self.per_case else self.url


@dataclass(frozen=True)
class Prepared:
    """What every run needs: each case's bodies file and first bodies, and the admin's header."""

    bodies: dict[str, Path]
    samples: dict[str, list[dict[str, Any]]]
    authorization: str

    def headers(self, case: ReadCase) -> dict[str, str]:
        return {"Authorization": self.authorization} if case.authenticated else {}


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


async def market_ids(database_url: str, count: int) -> list[str]:
    """The global ids of the first `count` markets (market(id) cycles through them)."""
    connection = await asyncpg.connect(dsn(database_url))
    try:
        rows = await connection.fetch("SELECT id FROM markets ORDER BY id LIMIT $1", count)
    finally:
        await connection.close()
    if not rows:
        raise SystemExit("no market in the database: is it seeded?")
    return [ids.encode("Market", row["id"]) for row in rows]


async def prepare(client: httpx.AsyncClient, cases: Sequence[ReadCase], *, url: str, database_url: str,
                  markets: int, work_dir: Path) -> Prepared:
    """Log in as the seeded admin and write each case's bodies file into the work folder."""
    token = await login(client, url, EMAIL)
    market_list = await market_ids(database_url, markets)
    bodies, samples = {}, {}
    for case in cases:
        variables = [{"id": market} for market in market_list] if case.takes_id else [None]
        case_bodies = [{"query": case.query} | ({"variables": v} if v else {}) for v in variables]
        bodies[case.name] = write_bodies(work_dir / f"{case.name}.jsonl", case_bodies)
        samples[case.name] = case_bodies[:COMPARED_BODIES]
    return Prepared(bodies, samples, f"Bearer {token}")


async def same_answers(client: httpx.AsyncClient, case: ReadCase, prepared: Prepared, sides: list[Side]) -> None:
    """Send the case's first bodies to every side; stop the run if any answer differs or fails."""
    for body in prepared.samples[case.name]:
        answers = []
        for side in sides:
            response = await client.post(side.url_for(case), json=body, headers=prepared.headers(case))
            answers.append(response.json())
        if any(answer != answers[0] for answer in answers[1:]) or "errors" in answers[0]:
            shown = (f"{side.name}: {json.dumps(answer)[:600]}" for side, answer in zip(sides, answers, strict=True))
            raise SystemExit(f"{case.name}: the sides' answers differ or fail:\n" + "\n".join(shown))


async def probe(client: httpx.AsyncClient, case: ReadCase, prepared: Prepared, side: Side) -> float | None:
    """One request after the run: its SQL statements; its body must be an answer without errors."""
    response = await client.post(side.url_for(case), json=prepared.samples[case.name][0],
                                 headers=prepared.headers(case))
    if response.status_code != 200 or "errors" in response.json():
        raise SystemExit(f"{case.name} ({side.name}): HTTP {response.status_code}: {response.text[:600]}")
    sql = response.headers.get(SQL_HEADER, "")
    return float(sql) if sql.isdigit() else None


async def measure_side(client: httpx.AsyncClient, case: ReadCase, prepared: Prepared, side: Side,
                       args: argparse.Namespace) -> FloorRow:
    """Warm up (every answer checked), then measure one case on one side with wrk, with its CPU time
    and new connections."""
    load = {"authorization": prepared.headers(case).get("Authorization", ""), "connections": args.connections}
    url, bodies = side.url_for(case), prepared.bodies[case.name]
    warm = await run_wrk(url, bodies, seconds=args.warmup, check_bodies=True, **load)
    cpu_before, sessions_before = cpu_seconds(side.pid), await sessions(args.database_url)
    run = await run_wrk(url, bodies, seconds=args.duration, **load)
    cpu = cpu_seconds(side.pid) - cpu_before
    await asyncio.sleep(0.6)  # PostgreSQL publishes its statistics at most every half second
    sessions_after = await sessions(args.database_url)
    if warm.errors or run.errors:
        print(f"{case.name} ({side.name}): warm-up {warm}, measured {run}", file=sys.stderr)
    opened = None if sessions_before is None or sessions_after is None else sessions_after - sessions_before - 1
    return FloorRow(
        case=case.name, side=side.name, requests=run.requests, errors=warm.errors + run.errors,
        rps=round(run.rps, 1), ratio=None, p50_ms=run.p50_us / 1000, p99_ms=run.p99_us / 1000,
        cpu_ms_per_request=round(cpu * 1000 / run.requests, 3) if run.requests else None,
        sql_per_request=await probe(client, case, prepared, side), new_connections=opened,
    )


def with_ratios(rows: list[FloorRow]) -> list[FloorRow]:
    """Each row's req/s as a ratio to the floor's for the same case in the same round."""
    floors = {row.case: row.rps for row in rows if row.side == "floor"}
    return [replace(row, ratio=round(row.rps / floors[row.case], 3) if floors.get(row.case) else None)
            for row in rows]


def median_rows(rounds: list[list[FloorRow]]) -> list[FloorRow]:
    """Per case and side, the median of each figure over the rounds (errors: their sum)."""
    def median(values: list[Any]) -> Any:
        present = [value for value in values if value is not None]
        return statistics.median(present) if present else None

    merged = []
    for first in rounds[0]:
        same = [row for rows in rounds for row in rows if (row.case, row.side) == (first.case, first.side)]
        figures = {name: median([getattr(row, name) for row in same]) for name in asdict(first)
                   if name not in ("case", "side", "errors")}
        merged.append(replace(first, errors=sum(row.errors for row in same), **figures))
    return merged


HEADER = (f"{'case':<28} {'side':<7} {'req/s':>9} {'× floor':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU ms/req':>11} {'SQL/req':>8} {'new conns':>10} {'errors':>7}")


def format_row(row: FloorRow) -> str:
    def show(value: float | int | None, spec: str) -> str:
        return "n/a" if value is None else format(value, spec)

    return (f"{row.case:<28} {row.side:<7} {row.rps:>9.1f} {show(row.ratio, '.3f'):>8} {row.p50_ms:>8.2f} "
            f"{row.p99_ms:>8.2f} {show(row.cpu_ms_per_request, '.3f'):>11} {show(row.sql_per_request, '.2f'):>8} "
            f"{show(row.new_connections, '.0f'):>10} {row.errors:>7}")


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def sides_of(args: argparse.Namespace) -> list[Side]:
    """The server, the cached server when given (market(id) only), and the floor, in this order."""
    sides = [Side("server", args.server_pid, args.url, per_case=False)]
    if args.cached_url:
        sides.append(Side("cached", args.cached_pid, args.cached_url, per_case=False, cases=("market_by_id",)))
    return [*sides, Side("floor", args.floor_pid, args.floor_url.rstrip("/"), per_case=True)]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    cases = [case for case in CASES if case.name in (args.only or READ_CASES)]
    sides = sides_of(args)
    async with httpx.AsyncClient(timeout=args.timeout) as client:
        prepared = await prepare(client, cases, url=args.url, database_url=args.database_url, markets=args.markets,
                                 work_dir=args.work_dir)
        for case in cases:
            await same_answers(client, case, prepared, [side for side in sides if side.serves(case)])
        rounds: list[list[FloorRow]] = []
        loads = [load_average()]
        for number in range(1, args.rounds + 1):
            print(f"round {number} of {args.rounds} (load average {loads[-1]})\n{HEADER}", flush=True)
            rows = []
            for case in cases:
                for side in sides:
                    if side.serves(case):
                        rows.append(await measure_side(client, case, prepared, side, args))
            rounds.append(with_ratios(rows))
            print("\n".join(format_row(row) for row in rounds[-1]), flush=True)
            loads.append(load_average())
    medians = median_rows(rounds)
    print(f"median of {args.rounds} rounds (load average before and after each round: {' → '.join(loads)})")
    print(HEADER, *map(format_row, medians), sep="\n")
    return {"median": [asdict(row) for row in medians], "rounds": [[asdict(row) for row in rows] for rows in rounds],
            "load_average": loads, "connections": args.connections, "seconds": args.duration}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.against_floor", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8765/graphql", help="the server's GraphQL endpoint")
    parser.add_argument("--server-pid", type=int, required=True, help="the server's process id (CPU time)")
    parser.add_argument("--cached-url", default="", help="a second server's endpoint, market cache on (market(id))")
    parser.add_argument("--cached-pid", type=int, default=0, help="that server's process id")
    parser.add_argument("--floor-url", default="http://127.0.0.1:8766", help="where bench.floor listens")
    parser.add_argument("--floor-pid", type=int, required=True, help="the floor's process id (CPU time)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""),
                        help="the served database: market ids, and the new connections each side opens")
    parser.add_argument("--connections", type=int, default=16, help="wrk's concurrent connections")
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per case and side")
    parser.add_argument("--warmup", type=int, default=2, help="seconds before each measured run")
    parser.add_argument("--rounds", type=int, default=3, help="the table shows the median of the rounds")
    parser.add_argument("--markets", type=int, default=1000, help="market ids market(id) cycles through")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--work-dir", type=Path, default=Path("bench/wrk-bodies"), help="where bodies files go")
    parser.add_argument("--json", type=Path, default=Path("bench/results-floor.json"))
    parser.add_argument("--only", action="append", choices=READ_CASES, metavar="CASE")
    args = parser.parse_args(argv)
    if not args.database_url:
        parser.error("set --database-url or BENCH_DATABASE_URL")
    if args.cached_url and not args.cached_pid:
        parser.error("--cached-url needs --cached-pid")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")
    failed = [f"{row['case']} ({row['side']}): {row['errors']}" for row in results["median"] if row["errors"]]
    if failed:
        raise SystemExit("failed requests (each must succeed): " + ", ".join(failed))


if __name__ == "__main__":
    main()
