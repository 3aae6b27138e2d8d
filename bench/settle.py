"""Settlement time: one `resolveMarket` over HTTP on a market with 10,000, then 100,000 positions.

For each size a market is created through the API (as the seeded admin), then its positions are
written in bulk the way the server would have written them, trade by trade: each purchase replayed
through the market maker (shares, pools, a price point), each holder's BUY in the ledger, funded by
an ADJUSTMENT just before, so that balances and the ledger keep agreeing. Then the one request is
timed: it sets every unsold position's payout and credits every winner (PAYOUT) in the same
transaction as the status change, with set-based statements. Prints a table; writes
bench/results-settlement.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.run import EMAIL, graphql, login
from domain.market_maker import to_cents
from graph import ids
from persistence.database import make_engine
from persistence.seed import insert_chunks
from persistence.seed_economy import Entry, ledger, trade_market
from persistence.tables import markets, positions, price_points, transactions, users

CREATE_MARKET = "mutation($name: String!) { createMarket(input: {name: $name}) { id } }"
RESOLVE_MARKET = "mutation($id: ID!) { resolveMarket(id: $id, outcome: YES) { status } }"
FUNDING_NOTE = "Funds for the settlement benchmark"
AMOUNTS = tuple(Decimal(f"{n}.00") for n in (1, 2, 5, 10))


async def next_id(conn: AsyncConnection, table: Any) -> int:
    return int(await conn.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0) + 1


def draw_positions(rng: random.Random, count: int, market_id: int, holders: list[int], first_id: int,
                   start: datetime) -> list[dict[str, Any]]:
    """`count` purchases a microsecond apart, by holders in turn, mostly YES."""
    return [
        {"id": first_id + n, "market_id": market_id, "user_id": holders[n % len(holders)],
         "outcome": "YES" if rng.random() < 0.55 else "NO", "amount": rng.choice(AMOUNTS),
         "created_at": start + timedelta(microseconds=n)}
        for n in range(count)
    ]


async def fill(conn: AsyncConnection, market_pk: int, count: int, *, liquidity: Decimal) -> None:
    """Write `count` positions on the market, with everything a purchase writes, in one transaction."""
    market = dict((await conn.execute(select(markets).where(markets.c.id == market_pk))).one()._mapping)
    holders = list((await conn.scalars(select(users.c.id).order_by(users.c.id).limit(1000))).all())
    start = datetime.now(UTC)
    rows = draw_positions(random.Random(count), count, market_pk, holders, await next_id(conn, positions), start)
    entries: list[Entry] = []
    points = trade_market(market, rows, {}, to_cents(liquidity), entries)[1:]  # the creation point exists
    spent: dict[int, int] = defaultdict(int)
    for row in rows:
        spent[row["user_id"]] += to_cents(row["amount"])
    funding = [Entry(start - timedelta(microseconds=1), user, "ADJUSTMENT", cents, note=FUNDING_NOTE)
               for user, cents in spent.items()]
    opening = {row.id: to_cents(row.balance) for row in await conn.execute(
        select(users.c.id, users.c.balance).where(users.c.id.in_(list(spent))).with_for_update())}
    ledger_rows, balances = ledger(funding + entries, opening, first_id=await next_id(conn, transactions))
    for row in rows:
        row.update(proceeds=None, sold_at=None, payout=None)
    await insert_chunks(conn, positions, rows)
    await insert_chunks(conn, transactions, ledger_rows)
    await insert_chunks(conn, price_points, points)
    await conn.execute(update(markets).where(markets.c.id == market_pk).values(
        yes_pool=market["yes_pool"], no_pool=market["no_pool"],
        volume=markets.c.volume + sum((row["amount"] for row in rows), Decimal("0.00"))))
    await conn.execute(update(users).where(users.c.id == bindparam("user_id")).values(balance=bindparam("new_balance")),
                       [{"user_id": user, "new_balance": balance} for user, balance in balances.items()])
    for name in ("positions", "transactions", "price_points"):
        await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
        await conn.execute(text(f"ANALYZE {name}"))


async def measure(args: argparse.Namespace) -> list[dict[str, Any]]:
    engine = make_engine(args.database_url)
    rows = []
    async with httpx.AsyncClient(timeout=args.timeout) as client:
        token = await login(client, args.url, EMAIL)
        for size in args.sizes:
            created = await graphql(client, args.url, CREATE_MARKET, {"name": f"Settlement of {size:,} positions"},
                                    token)
            market_id = created["createMarket"]["id"]
            pk = ids.decode(market_id, "Market")
            assert pk is not None
            async with engine.begin() as conn:
                await fill(conn, pk, size, liquidity=Decimal(args.liquidity))
            started = time.perf_counter()
            resolved = await graphql(client, args.url, RESOLVE_MARKET, {"id": market_id}, token)
            seconds = time.perf_counter() - started
            assert resolved["resolveMarket"]["status"] == "RESOLVED"
            async with engine.connect() as conn:
                paid = await conn.scalar(select(func.count()).select_from(transactions).where(
                    transactions.c.market_id == pk, transactions.c.kind == "PAYOUT"))
            rows.append({"positions": size, "payouts": paid, "seconds": round(seconds, 3)})
            print(f"resolveMarket with {size:>7,} positions: {seconds:6.2f} s ({paid:,} payouts)", flush=True)
    await engine.dispose()
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.settle", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8765/graphql", help="the server's GraphQL endpoint")
    parser.add_argument("--database-url", required=True, help="the database the server uses (PostgreSQL)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="positions per market")
    parser.add_argument("--liquidity", default="100.00", help="the server's MARKET_LIQUIDITY")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before the request counts as failed")
    parser.add_argument("--json", type=Path, default=Path("bench/results-settlement.json"), help="where to write")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    rows = asyncio.run(measure(args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
