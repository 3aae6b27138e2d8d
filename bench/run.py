"""The benchmark: GraphQL cases against an already running server, over HTTP only.

The trading cases give each of the concurrent clients a seeded user of its own (credited by the
seeded admin through adjustBalance), so that balances never serialize them: `open_position_spread`
gives each client markets no other client touches, `open_position_one_market` sends all of them
to one market (whose row lock serializes the trades), and `sell_position` sells back, client by
client, the positions the two buying cases bought.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

EMAIL = "user1@example.com"
PASSWORD = "password123"
# The seed's user 1 is an admin; traders are ordinary seeded users, one per client.
TRADER_EMAIL = "user{n}@example.com"
FIRST_TRADER = 101
TRADER_FUNDS = "1000000.00"
SQL_HEADER = "X-SQL-Statements"
BodyMaker = Callable[[], dict[str, Any] | None]

LOGIN = "mutation($email: String!, $password: String!) { login(email: $email, password: $password) { token } }"
# Markets still open for positions: ACTIVE, and ending after now (the seed's end dates are fixed, the clock is not).
MARKET_IDS = (
    "query($after: DateTime!) { markets(first: 100, filter: {status: ACTIVE, endsAfter: $after}) "
    "{ edges { node { id } } } }"
)
MARKET_BY_ID = "query($id: ID!) { market(id: $id) { id name volume status creator { id name } } }"
MARKETS_NESTED = (
    "{ markets(first: 50) { edges { node { id name volume creator { name } "
    "positions(first: 10) { edges { node { amount outcome user { name } } } } } } } }"
)
MARKETS_BY_VOLUME = (
    "{ markets(first: 20, filter: {status: ACTIVE}, orderBy: {field: VOLUME, direction: DESC}) "
    "{ edges { node { id name volume } } totalCount } }"
)
OPEN_POSITION = (
    "mutation($id: ID!, $outcome: Outcome!) "
    '{ openPosition(input: {marketId: $id, outcome: $outcome, amount: "1.00"}) { id amount shares } }'
)
SELL_POSITION = "mutation($id: ID!) { sellPosition(id: $id) { id proceeds } }"
ADJUST_BALANCE = (
    "mutation($id: ID!, $amount: Decimal!) "
    '{ adjustBalance(userId: $id, amount: $amount, note: "Funds for the benchmark") { balance } }'
)
ME = "{ me { id } }"
SEARCH_MARKETS = (
    "query($q: String!) { searchMarkets(query: $q, first: 10, status: ACTIVE) { score market { id name volume } } }"
)
# Search queries in the seed's vocabulary, worded otherwise: 2,000 distinct ones, so most of a run's
# requests miss the server's cache of query vectors and pay for an encoding, as new queries do.
SEARCH_SUBJECTS = ("bitcoin", "the euro", "gold prices", "a rate cut", "the league title", "the cup final",
                   "a new phone", "an AI model", "the election", "a heatwave", "a moon landing", "the box office",
                   "oil prices", "tech stocks", "the central bank", "a rocket launch", "a new console", "rainfall",
                   "unemployment", "a merger")
SEARCH_TWISTS = ("will {} go up", "{} this year", "who wins {}", "{} before summer", "odds of {}",
                 "{} hits a record", "{} in europe", "{} by march", "is {} likely", "{} next quarter")
SEARCH_QUERIES = [f"{twist.format(subject)} #{n}" if n else twist.format(subject)
                  for n in range(10) for subject in SEARCH_SUBJECTS for twist in SEARCH_TWISTS]


@dataclass(frozen=True)
class Case:
    """One benchmarked GraphQL document.

    `markets` says which market ids a client cycles through: every one ("all"), its own share of
    them ("own"), or the first only ("one"). A `trades` case sends each client's requests as its
    own funded user; `sells` takes a position that client bought instead of a market id.
    """

    name: str
    query: str
    authenticated: bool
    takes_id: bool
    takes_query: bool = False
    markets: str = "all"
    trades: bool = False
    sells: bool = False


CASES = (
    # The read cases, for runs by hand: `make bench` measures reads with wrk (bench/against_floor.py).
    Case("market_by_id", MARKET_BY_ID, authenticated=False, takes_id=True),
    # The same document against a server whose market cache is on.
    Case("market_by_id_cached", MARKET_BY_ID, authenticated=False, takes_id=True),
    Case("markets_nested", MARKETS_NESTED, authenticated=True, takes_id=False),
    Case("markets_filtered_by_volume", MARKETS_BY_VOLUME, authenticated=False, takes_id=False),
    # Each client on markets of its own, then all of them on one market, then the positions sold.
    Case("open_position_spread", OPEN_POSITION, authenticated=True, takes_id=True, markets="own", trades=True),
    Case("open_position_one_market", OPEN_POSITION, authenticated=True, takes_id=True, markets="one", trades=True),
    Case("sell_position", SELL_POSITION, authenticated=True, takes_id=False, trades=True, sells=True),
    # Run against one server per embedder (make bench), each row tagged with --tag.
    Case("search_markets", SEARCH_MARKETS, authenticated=False, takes_id=False, takes_query=True),
)


@dataclass
class Stats:
    """What the workers of one case saw: latencies in seconds, errors, SQL counts."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    sql_counts: list[int] = field(default_factory=list)
    first_error: str | None = None


@dataclass(frozen=True)
class Row:
    """One line of the results table, as printed and as written to JSON."""

    case: str
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p99_ms: float
    sql_per_request: float | None


@dataclass(frozen=True)
class Target:
    """What every request of a run needs: where to send it, the viewer's token and the market ids;
    the traders' tokens (one per client) and the positions each client bought and has not sold."""

    client: httpx.AsyncClient
    url: str
    token: str
    market_ids: list[str]
    trader_tokens: list[str] = field(default_factory=list)
    bought: list[list[str]] = field(default_factory=list)


async def graphql(client: httpx.AsyncClient, url: str, query: str, variables: dict[str, Any], token: str = "") -> Any:
    """One setup request; any failure stops the benchmark."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await client.post(url, json={"query": query, "variables": variables}, headers=headers)
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
    if response.status_code != 200 or not body or body.get("errors"):
        raise SystemExit(f"setup request failed: HTTP {response.status_code}: {response.text[:500]}")
    return body["data"]


async def login(client: httpx.AsyncClient, url: str, email: str) -> str:
    return str((await graphql(client, url, LOGIN, {"email": email, "password": PASSWORD}))["login"]["token"])


async def prepare(client: httpx.AsyncClient, url: str, *, traders: int) -> Target:
    """Log in as the seeded user 1, pick the markets to cycle through, and fund `traders` users."""
    token = await login(client, url, EMAIL)
    after = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    data = await graphql(client, url, MARKET_IDS, {"after": after})
    ids = [edge["node"]["id"] for edge in data["markets"]["edges"]]
    if not ids:
        raise SystemExit("no ACTIVE market that ends in the future: is the database seeded?")
    trader_tokens = []
    for n in range(FIRST_TRADER, FIRST_TRADER + traders):
        trader = await login(client, url, TRADER_EMAIL.format(n=n))
        me = (await graphql(client, url, ME, {}, trader))["me"]
        await graphql(client, url, ADJUST_BALANCE, {"id": me["id"], "amount": TRADER_FUNDS}, token)
        trader_tokens.append(trader)
    return Target(client, url, token, ids, trader_tokens, [[] for _ in trader_tokens])


def market_ids(case: Case, target: Target, client: int, clients: int) -> list[str]:
    """The markets one client cycles through: all of them, its own share, or the first one."""
    if case.markets == "one":
        return target.market_ids[:1]
    if case.markets == "own":
        own = target.market_ids[client::clients]
        if not own:
            raise SystemExit(f"{clients} clients need at least as many markets, found {len(target.market_ids)}")
        return own
    return target.market_ids


def request_maker(case: Case, target: Target, client: int, clients: int) -> BodyMaker:
    """A function returning a client's next request body for the case, or None when it has none left
    (a seller whose bought positions are all sold)."""
    ids: Iterator[str] = itertools.cycle(market_ids(case, target, client, clients))
    if case.sells:
        bought = target.bought[client]
        return lambda: {"query": case.query, "variables": {"id": bought.pop()}} if bought else None
    if case.takes_query:
        queries: Iterator[str] = itertools.cycle(SEARCH_QUERIES)
        return lambda: {"query": case.query, "variables": {"q": next(queries)}}
    if case.trades:
        # YES and NO in turn, so that thousands of buys keep the price near the middle.
        outcomes = itertools.cycle(("YES", "NO"))
        return lambda: {"query": case.query, "variables": {"id": next(ids), "outcome": next(outcomes)}}
    if case.takes_id:
        return lambda: {"query": case.query, "variables": {"id": next(ids)}}
    return lambda: {"query": case.query}


def record(stats: Stats, response: httpx.Response, elapsed: float) -> Any:
    """Count the response: an error unless HTTP 200 with no `errors` in the body. Its data, if any."""
    stats.latencies.append(elapsed)
    sql = response.headers.get(SQL_HEADER)
    if sql is not None and sql.isdigit():
        stats.sql_counts.append(int(sql))
    try:
        body = response.json()
        failed = response.status_code != 200 or "errors" in body
    except ValueError:
        failed = True
    if failed:
        fail(stats, f"HTTP {response.status_code}: {response.text[:500]}")
        return None
    return body.get("data")


def fail(stats: Stats, message: str) -> None:
    stats.errors += 1
    stats.first_error = stats.first_error or message


def viewer_token(case: Case, target: Target, client: int) -> str | None:
    """Whose token the client sends: its own trader's, the admin's, or none."""
    if case.trades:
        return target.trader_tokens[client]
    return target.token if case.authenticated else None


async def worker(case: Case, target: Target, client: int, next_body: BodyMaker, until: float, stats: Stats) -> None:
    """Send the case's requests one after another until the deadline (or until the client has none left)."""
    token = viewer_token(case, target, client)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.perf_counter() < until and (body := next_body()) is not None:
        started = time.perf_counter()
        try:
            response = await target.client.post(target.url, json=body, headers=headers)
        except httpx.HTTPError as error:
            stats.latencies.append(time.perf_counter() - started)
            fail(stats, f"{type(error).__name__}: {error}")
            continue
        data = record(stats, response, time.perf_counter() - started)
        if case.trades and not case.sells and data:
            target.bought[client].append(data["openPosition"]["id"])  # for sell_position, later


async def measure(case: Case, target: Target, concurrency: int, seconds: float) -> tuple[Stats, float]:
    """Run `concurrency` workers for `seconds`; the stats and the wall time they took."""
    stats = Stats()
    makers = [request_maker(case, target, client, concurrency) for client in range(concurrency)]
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(worker(case, target, client, makers[client], until, stats)
                           for client in range(concurrency)))
    return stats, time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values, 0 for none."""
    if not sorted_values:
        return 0.0
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def summarize(case: Case, stats: Stats, wall: float) -> Row:
    latencies = sorted(stats.latencies)
    sql = round(sum(stats.sql_counts) / len(stats.sql_counts), 2) if stats.sql_counts else None
    return Row(
        case=case.name, requests=len(latencies), errors=stats.errors, rps=round(len(latencies) / wall, 1),
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2), p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        sql_per_request=sql,
    )


async def run_case(case: Case, target: Target, args: argparse.Namespace) -> Row:
    """Warm up, then measure one case and report its first error, if any."""
    await measure(case, target, args.concurrency, args.warmup)
    stats, wall = await measure(case, target, args.concurrency, args.duration)
    if stats.first_error:
        print(f"{case.name}: first error: {stats.first_error}", file=sys.stderr)
    row = summarize(case, stats, wall)
    return replace(row, case=f"{row.case}[{args.tag}]") if args.tag else row


HEADER = f"{'case':<28} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'sql/request':>12}"


def format_row(row: Row) -> str:
    sql = "n/a" if row.sql_per_request is None else f"{row.sql_per_request:.2f}"
    return (
        f"{row.case:<28} {row.requests:>9} {row.errors:>7} {row.rps:>9.1f} {row.p50_ms:>8.2f} {row.p99_ms:>8.2f} "
        f"{sql:>12}"
    )


async def run(args: argparse.Namespace) -> list[Row]:
    """Prepare once, then run the selected cases one after another, printing each row as it is done."""
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=args.timeout) as client:
        trading = any(case.trades and (not args.only or case.name in args.only) for case in CASES)
        target = await prepare(client, args.url, traders=args.concurrency if trading else 0)
        print(HEADER)
        rows = []
        for case in CASES:
            if not args.only or case.name in args.only:
                rows.append(await run_case(case, target, args))
                print(format_row(rows[-1]), flush=True)
        return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8765/graphql", help="the server's GraphQL endpoint")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent workers (and connections)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per case before measuring")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds before a request counts as failed")
    parser.add_argument("--json", type=Path, default=Path("bench/results.json"), help="where to write the rows")
    parser.add_argument("--append", action="store_true", help="add the rows to those already in --json")
    parser.add_argument("--tag", default="", help="appended to each row's case name, e.g. the server's embedder")
    parser.add_argument("--only", action="append", choices=[case.name for case in CASES], metavar="CASE",
                        help="run only this case (repeatable): " + ", ".join(case.name for case in CASES))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rows = [asdict(row) for row in asyncio.run(run(args))]
    if args.append and args.json.exists():
        rows = json.loads(args.json.read_text()) + rows
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
