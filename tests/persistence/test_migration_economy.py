"""Migration 0003 on a database filled before it: every user a GRANT of STARTING_BALANCE plus
their positions' amounts, then every position replayed as a BUY in (created_at, id) order through
its market's maker (contract, "Money and prices", "Existing data")."""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from sqlalchemy import select, text

from domain.entities import Outcome
from domain.market_maker import Pools, buy, to_cents
from markets.application import Application
from persistence.database import make_engine
from persistence.migrate import upgrade
from persistence.seed import seed
from persistence.tables import markets, positions, price_points, transactions, users
from persistence.types import Identity, Money, UTCDateTime
from tests.books import assert_books_balance, rows
from tests.conftest import database_url

STARTING = Decimal("500.00")
LIQUIDITY = Decimal("50.00")
BASE = datetime(2026, 3, 1, tzinfo=UTC)

# The tables as revision 0002 left them.
OLD_USERS = sa.table("users", sa.column("id", Identity), sa.column("email", sa.String), sa.column("name", sa.String),
                     sa.column("role", sa.String), sa.column("password_hash", sa.String),
                     sa.column("created_at", UTCDateTime()))
OLD_MARKETS = sa.table("markets", sa.column("id", Identity), sa.column("name", sa.String),
                       sa.column("description", sa.String), sa.column("status", sa.String),
                       sa.column("volume", Money()), sa.column("creator_id", Identity),
                       sa.column("created_at", UTCDateTime()), sa.column("updated_at", UTCDateTime()))
OLD_POSITIONS = sa.table("positions", sa.column("id", Identity), sa.column("market_id", Identity),
                         sa.column("user_id", Identity), sa.column("outcome", sa.String),
                         sa.column("amount", Money()), sa.column("created_at", UTCDateTime()))


@pytest.fixture
async def old_database() -> AsyncIterator[str]:
    """A database of its own (the suite's stays at the newest revision), at revision 0002."""
    url = database_url()
    if url.startswith("postgresql"):
        name = "markets_migration_test"
        admin = make_engine(url)
        async with admin.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            await connection.execute(text(f"CREATE DATABASE {name}"))
        await admin.dispose()
        url = url.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp(prefix='markets-migration-')) / 'old.db'}"
    await asyncio.to_thread(upgrade, url, revision="0002")
    yield url


class Held(NamedTuple):
    id: int
    market_id: int
    user_id: int
    outcome: str
    amount: Decimal
    created_at: datetime


async def fill(url: str, *, users_count: int, markets_count: int, positions_count: int) -> list[Held]:
    """Users, markets and positions as the old schema had them; some positions share a created_at."""
    rng = random.Random(11)
    engine = make_engine(url)
    held: list[Held] = []
    async with engine.begin() as connection:
        await connection.execute(OLD_USERS.insert(), [
            {"id": n, "email": f"u{n}@example.com", "name": f"U{n}", "role": "USER", "password_hash": "x",
             "created_at": BASE + timedelta(minutes=n)} for n in range(1, users_count + 1)
        ])
        await connection.execute(OLD_MARKETS.insert(), [
            {"id": n, "name": f"Market {n}", "description": "", "status": "RESOLVED" if n % 5 == 0 else "ACTIVE",
             "volume": Decimal(0), "creator_id": 1 + n % users_count, "created_at": BASE + timedelta(hours=n),
             "updated_at": BASE + timedelta(hours=n)} for n in range(1, markets_count + 1)
        ])
        for n in range(1, positions_count + 1):
            market = rng.randint(1, markets_count)
            # Every third position takes the previous one's time: ties broken by id.
            when = BASE + timedelta(days=2, seconds=rng.randint(0, 10**6))
            if n % 3 == 0:
                when = held[-1].created_at
            held.append(Held(id=n, market_id=market, user_id=rng.randint(1, users_count),
                             outcome=rng.choice(["YES", "NO"]), amount=Decimal(rng.randint(1, 50_000)) / 100,
                             created_at=when))
        await connection.execute(OLD_POSITIONS.insert(), [p._asdict() for p in held])
        volumes: dict[int, Decimal] = defaultdict(Decimal)
        for position in held:
            volumes[position.market_id] += position.amount
        for market_id, volume in volumes.items():
            await connection.execute(OLD_MARKETS.update().where(OLD_MARKETS.c.id == market_id).values(volume=volume))
    await engine.dispose()
    return held


async def test_existing_positions_are_replayed_through_the_market_maker(old_database: str) -> None:
    held = await fill(old_database, users_count=30, markets_count=12, positions_count=600)
    await asyncio.to_thread(upgrade, old_database, economy={"STARTING_BALANCE": STARTING,
                                                            "MARKET_LIQUIDITY": LIQUIDITY})
    engine = make_engine(old_database)
    try:
        await assert_books_balance(engine, liquidity=LIQUIDITY)
        # Every user keeps STARTING_BALANCE; the grant covered what they had staked.
        for user in await rows(engine, select(users.c.id, users.c.balance)):
            assert user.balance == STARTING
            staked = sum((p.amount for p in held if p.user_id == user.id), Decimal(0))
            entries = await rows(engine, select(transactions).where(transactions.c.user_id == user.id)
                                 .order_by(transactions.c.created_at, transactions.c.id))
            assert (entries[0].kind, entries[0].amount) == ("GRANT", STARTING + staked)
            assert [e.kind for e in entries[1:]] == ["BUY"] * (len(entries) - 1)
        # Shares and pools: the contract's order, replayed here independently.
        pools = {m: Pools(to_cents(LIQUIDITY), to_cents(LIQUIDITY)) for m in range(1, 13)}
        expected_shares = {}
        for position in sorted(held, key=lambda p: (p.created_at, p.id)):
            trade = buy(pools[position.market_id], Outcome(position.outcome), to_cents(position.amount))
            pools[position.market_id] = trade.after
            expected_shares[position.id] = trade.shares_decimal
        stored = dict(await rows(engine, select(positions.c.id, positions.c.shares)))
        assert stored == expected_shares
        for market in await rows(engine, select(markets.c.id, markets.c.yes_pool, markets.c.no_pool)):
            assert (market.yes_pool, market.no_pool) == (pools[market.id].yes_pool, pools[market.id].no_pool)
        first_points = await rows(engine, select(price_points).order_by(price_points.c.market_id, price_points.c.at,
                                                                        price_points.c.id))
        assert first_points[0].yes_pool == first_points[0].no_pool == LIQUIDITY
        # The schema works on: the CHECK refuses a negative balance.
        async with engine.connect() as connection:
            with pytest.raises(sa.exc.IntegrityError):
                await connection.execute(users.update().where(users.c.id == 1).values(balance=Decimal("-0.01")))
    finally:
        await engine.dispose()


async def test_seeded_demo_data_follows_the_rules(container: Application) -> None:
    """`markets seed` inserts in bulk, then replays the same way: every invariant holds."""
    await seed(container.engine, users=20, markets=15, positions=400, password_hash="x")
    await assert_books_balance(container.engine)
    balances = {row.balance for row in await rows(container.engine, select(users.c.balance))}
    # Everyone keeps STARTING_BALANCE to spend, plus what their sales and settled markets paid
    # (the seed sells some positions and settles its RESOLVED and CANCELLED markets).
    assert min(balances) >= container.settings.starting_balance < max(balances)
