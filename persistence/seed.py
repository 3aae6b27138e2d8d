"""Deterministic demo data: users, markets, positions (some sold), their money and price history,
bulk inserted in one transaction (the trades replayed through the market maker: seed_economy)."""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from domain.entities import MarketStatus, Outcome
from domain.roles import Role
from domain.services.ledger import Economy
from persistence import tables
from persistence.seed_economy import choose_sales, replay

Row = dict[str, Any]

BASE = datetime(2026, 1, 1, tzinfo=UTC)
DAY = 86_400
YEAR = 365 * DAY
CHUNK = 5_000
TIE_SHARE = 0.05  # share of markets that copy another market's created_at, so orderings meet ties
SALE_SHARE = 0.1  # share of positions sold back before their market stopped trading

FIRST_NAMES = (
    "Ada", "Alan", "Amara", "Bea", "Boris", "Carmen", "Chen", "Dmitri", "Elena", "Farah", "Gabriel", "Hana",
    "Ines", "Jamal", "Jonas", "Kenji", "Lena", "Luca", "Maya", "Mateo", "Nadia", "Noah", "Olga", "Omar",
    "Priya", "Quinn", "Rosa", "Sami", "Sofia", "Tariq", "Uma", "Viktor", "Wen", "Ximena", "Yusuf", "Zoe",
)
LAST_NAMES = (
    "Abe", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "García", "Haddad", "Ivanova", "Jensen", "Kowalski",
    "Lopez", "Müller", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Silva", "Tanaka", "Umarov", "Varga",
    "Wong", "Xu", "Yilmaz", "Zhang", "O'Brien", "Nguyen", "Schmidt", "Kim",
)
ASSETS = {
    "BTC": 100_000, "ETH": 4_000, "SOL": 200, "Gold": 2_500, "Silver": 30, "the S&P 500": 6_000,
    "the Nasdaq 100": 21_000, "Nvidia stock": 150, "Tesla stock": 300, "Apple stock": 250, "Brent crude": 80,
}
SLOTS: dict[str, Sequence[str]] = {
    "team": ("Real Madrid", "Manchester City", "Arsenal", "Bayern Munich", "the Boston Celtics", "the Denver Nuggets",
             "the Kansas City Chiefs", "the New York Yankees", "Ferrari", "McLaren", "India", "Brazil", "Japan"),
    "competition": ("Champions League", "Premier League", "NBA Finals", "Super Bowl", "World Series",
                    "Constructors' Championship", "Cricket World Cup", "World Cup"),
    "company": ("Apple", "Google", "OpenAI", "Microsoft", "Nintendo", "Tesla", "Meta", "Amazon", "Netflix", "Sony"),
    "product": ("a foldable phone", "a new AI model", "smart glasses", "a humanoid robot", "a new game console",
                "a self-driving taxi service", "a stock split", "a subscription price increase"),
    "country": ("France", "Germany", "Japan", "Brazil", "Canada", "India", "Italy", "Spain", "Mexico", "Australia",
                "South Korea", "the United Kingdom", "Argentina", "Nigeria"),
    "bank": ("Federal Reserve", "European Central Bank", "Bank of England", "Bank of Japan", "Reserve Bank of India"),
    "film": ("the next Avatar film", "the next Marvel film", "the new Bond film", "the next Pixar film",
             "the Super Mario sequel", "the next Star Wars film"),
    "city": ("London", "Paris", "Tokyo", "New York", "Delhi", "Madrid", "Sydney", "Cairo", "Toronto", "Berlin"),
    "mission": ("Artemis III", "a crewed Starship flight", "the Mars Sample Return mission", "a Moon lander",
                "the Europa Clipper flyby", "a private space station module"),
    "pct": ("1", "1.5", "2", "2.5", "3", "4", "5", "7", "10"),
    "temp": ("35", "38", "40", "42", "45"),
}
# (question, resolution rule, resolution source)
TEMPLATES = (
    ("Will {asset} close above ${price:,} by {month}?",
     "Resolves YES if {asset} has a daily close above ${price:,} on any day before the end of {month}.",
     "CoinGecko or Bloomberg"),
    ("Will {asset} trade below ${low:,} at any point before {month}?",
     "Resolves YES if {asset} trades below ${low:,} at any time before the end of {month}.",
     "CoinGecko or Bloomberg"),
    ("Will {team} win the {competition} in {year}?",
     "Resolves YES if {team} are crowned winners of the {year} {competition}. A cancelled season resolves NO.",
     "the competition's official website"),
    ("Will {company} announce {product} before {month}?",
     "Resolves YES if {company} officially announces {product} before the end of {month}. Rumours do not count.",
     "the company's press releases"),
    ("Will {country} hold a snap election before {month}?",
     "Resolves YES if a national election is held in {country} before the end of {month}, earlier than scheduled.",
     "the national electoral commission"),
    ("Will the {bank} cut interest rates at its {month} meeting?",
     "Resolves YES if the {bank} lowers its main policy rate at its scheduled meeting in {month}.",
     "the central bank's statement"),
    ("Will {country}'s annual inflation exceed {pct}% in {year}?",
     "Resolves YES if the first official estimate of {country}'s {year} consumer price inflation is above {pct}%.",
     "the national statistics office"),
    ("Will {film} gross more than ${gross:,} million worldwide by {month}?",
     "Resolves YES if {film} passes ${gross:,} million in worldwide box office receipts before the end of {month}.",
     "Box Office Mojo"),
    ("Will {city} record a temperature above {temp}°C in {month}?",
     "Resolves YES if an official weather station in {city} records more than {temp}°C during {month}.",
     "the national weather service"),
    ("Will {mission} launch successfully before {month}?",
     "Resolves YES if {mission} launches and reaches its planned trajectory before the end of {month}.",
     "the launch provider"),
    ("Will {company}'s market cap exceed ${cap} trillion by {month}?",
     "Resolves YES if {company}'s market capitalisation closes above ${cap} trillion on any day before {month} ends.",
     "Bloomberg"),
)
STATUSES = (MarketStatus.ACTIVE, MarketStatus.CLOSED, MarketStatus.RESOLVED, MarketStatus.CANCELLED)
STATUS_WEIGHTS = (75, 10, 10, 5)


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What `seed` inserted, and how long it took."""

    users: int
    markets: int
    positions: int
    seconds: float
    sold: int = 0
    transactions: int = 0


async def seed(
    engine: AsyncEngine, *, users: int = 1000, markets: int = 10000, positions: int = 100000, seed: int = 42,
    password_hash: str, economy: Economy | None = None,
) -> SeedReport:
    """Fill an empty database with deterministic demo data; a non-empty one raises ValueError."""
    started = time.perf_counter()
    check_counts(users, markets, positions)
    rng = random.Random(seed)
    user_rows = make_users(rng, users, password_hash)
    market_rows, cutoffs = make_markets(rng, markets, users)
    position_rows = make_positions(rng, positions, market_rows, cutoffs, users)
    add_volumes(market_rows, position_rows)
    sales = choose_sales(rng, position_rows, {m["id"]: c for m, c in zip(market_rows, cutoffs, strict=True)},
                         SALE_SHARE)
    money = economy or Economy()
    replayed = replay(user_rows, market_rows, position_rows, sales, starting_balance=money.starting_balance,
                      liquidity=money.market_liquidity)
    for user in user_rows:
        user["balance"] = replayed.balances[user["id"]]
    async with engine.begin() as conn:
        await ensure_empty(conn)
        await insert_chunks(conn, tables.users, user_rows)
        await insert_chunks(conn, tables.markets, market_rows)
        await insert_chunks(conn, tables.positions, position_rows)
        await insert_chunks(conn, tables.transactions, replayed.transactions)
        await insert_chunks(conn, tables.price_points, replayed.price_points)
        if conn.dialect.name == "postgresql":
            await reset_sequences(conn)
    return SeedReport(users, markets, positions, round(time.perf_counter() - started, 3), sold=len(sales),
                      transactions=len(replayed.transactions))


def check_counts(users: int, markets: int, positions: int) -> None:
    """Refuse counts that cannot make a consistent data set."""
    if min(users, markets, positions) < 0:
        raise ValueError("seed counts must not be negative")
    if markets and not users:
        raise ValueError("markets need at least one user to create them")
    if positions and not markets:
        raise ValueError("positions need at least one market")


def make_users(rng: random.Random, count: int, password_hash: str) -> list[Row]:
    """Users 1..count, created during the second year before BASE; 1 is ADMIN, 2-3 MODERATOR."""
    roles = {1: Role.ADMIN, 2: Role.MODERATOR, 3: Role.MODERATOR}
    return [
        {
            "id": n, "email": f"user{n}@example.com", "name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            "role": roles.get(n, Role.USER).value, "password_hash": password_hash,
            "created_at": BASE - timedelta(seconds=2 * YEAR - rng.randrange(YEAR)),
            "balance": Decimal("0.00"),  # set by the replay (seed_economy)
        }
        for n in range(1, count + 1)
    ]


def make_markets(rng: random.Random, count: int, user_count: int) -> tuple[list[Row], list[datetime]]:
    """Markets 1..count created during the year before BASE, and the time each stopped taking positions."""
    rows: list[Row] = []
    cutoffs: list[datetime] = []
    for n in range(1, count + 1):
        created = market_created_at(rng, rows)
        status = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
        row = market_row(rng, n, status, created, rng.randint(1, user_count))
        rows.append(row)
        cutoffs.append(BASE if status is MarketStatus.ACTIVE else row["end_date"])
    return rows, cutoffs


def market_created_at(rng: random.Random, earlier: list[Row]) -> datetime:
    """A whole second in [BASE - 1 year, BASE - 1 day); now and then an earlier market's, to make ties."""
    if earlier and rng.random() < TIE_SHARE:
        tied: datetime = earlier[rng.randrange(len(earlier))]["created_at"]
        return tied
    return BASE - timedelta(seconds=YEAR - rng.randrange(YEAR - DAY))


def market_row(rng: random.Random, n: int, status: MarketStatus, created: datetime, creator_id: int) -> Row:
    """One market; ACTIVE ones mostly end in BASE's next three years, the others ended before BASE."""
    if status is MarketStatus.ACTIVE:
        end = None if rng.random() < 0.1 else BASE + timedelta(days=rng.randint(1, 3 * 365))
        updated = created
    else:
        end = created + timedelta(seconds=rng.randint(3600, int((BASE - created).total_seconds()) - 60))
        updated = end + timedelta(seconds=rng.randint(1, 60))
    name, description = market_text(rng, end or BASE + timedelta(days=rng.randint(30, 3 * 365)))
    resolved = rng.choice((Outcome.YES, Outcome.NO)).value if status is MarketStatus.RESOLVED else None
    return {
        "id": n, "name": name, "description": description, "status": status.value, "volume": Decimal("0.00"),
        "end_date": end, "resolved_outcome": resolved, "creator_id": creator_id, "created_at": created,
        "updated_at": updated, "yes_pool": Decimal("0.01"), "no_pool": Decimal("0.01"),  # set by the replay
    }


def market_text(rng: random.Random, when: datetime) -> tuple[str, str]:
    """A question and its resolution rules from a random template, dated by `when`."""
    name, rules, source = rng.choice(TEMPLATES)
    asset = rng.choice(list(ASSETS))
    values: dict[str, Any] = {slot: rng.choice(options) for slot, options in SLOTS.items()}
    values.update(
        asset=asset, price=round_price(ASSETS[asset] * rng.choice((1.1, 1.25, 1.5, 2, 3))),
        low=round_price(ASSETS[asset] * rng.choice((0.5, 0.7, 0.8, 0.9))), month=f"{when:%B %Y}", year=when.year,
        gross=rng.choice((500, 750, 1000, 1500, 2000)), cap=rng.choice((2, 3, 4, 5, 6)),
    )
    closing = f" Resolution source: {source}. Trading ends {when:%B} {when.day}, {when.year}."
    return name.format(**values), rules.format(**values) + closing


def round_price(value: float) -> int:
    """Two significant digits, the way market questions quote prices."""
    return int(float(f"{value:.2g}"))


def make_positions(
    rng: random.Random, count: int, markets: list[Row], cutoffs: list[datetime], user_count: int
) -> list[Row]:
    """Positions 1..count on markets picked by a heavy-tailed popularity, each between its market's open and cutoff.

    Each market leans one way (YES bought 25 % to 75 % of the time), so that the market maker's
    prices spread on both sides of 0.5 instead of all drifting the same way."""
    popularity = [rng.paretovariate(1.5) for _ in markets]
    leans = [rng.uniform(0.25, 0.75) for _ in markets]
    picks = rng.choices(range(len(markets)), weights=popularity, k=count)
    rows: list[Row] = []
    for n, index in enumerate(picks, start=1):
        market = markets[index]
        span = int((cutoffs[index] - market["created_at"]).total_seconds())
        rows.append({
            "id": n, "market_id": market["id"], "user_id": rng.randint(1, user_count),
            "outcome": Outcome.YES.value if rng.random() < leans[index] else Outcome.NO.value,
            "amount": Decimal(round(100 * 1000 ** rng.random())).scaleb(-2),
            "created_at": market["created_at"] + timedelta(seconds=rng.randint(1, span)),
            "shares": Decimal("0.00"),  # set by the replay (seed_economy)
        })
    return rows


def add_volumes(markets: list[Row], positions: list[Row]) -> None:
    """Set each market's volume to the exact sum of its positions' amounts."""
    by_id = {market["id"]: market for market in markets}
    for position in positions:
        by_id[position["market_id"]]["volume"] += position["amount"]


async def ensure_empty(conn: AsyncConnection) -> None:
    """Refuse to seed over existing users, so a second run cannot duplicate anything."""
    if await conn.scalar(select(tables.users.c.id).limit(1)) is not None:
        raise ValueError("refusing to seed: the users table is not empty")


async def insert_chunks(conn: AsyncConnection, table: Table, rows: list[Row]) -> None:
    """Bulk insert: COPY on PostgreSQL (several times faster than INSERT for 100,000 rows; the
    values go as they are, so each row must hold the table's Python values), chunks of CHUNK
    rows of INSERT elsewhere."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        columns = list(rows[0])
        driver = (await conn.get_raw_connection()).driver_connection
        if driver is None:
            raise RuntimeError("the PostgreSQL connection has no asyncpg connection under it")
        await driver.copy_records_to_table(
            table.name, records=[tuple(row[column] for column in columns) for row in rows], columns=columns
        )
        return
    for start in range(0, len(rows), CHUNK):
        await conn.execute(table.insert(), rows[start:start + CHUNK])


async def reset_sequences(conn: AsyncConnection) -> None:
    """Move PostgreSQL's id sequences past the explicit ids, then refresh the planner's statistics."""
    for name in ("users", "markets", "positions", "transactions", "price_points"):
        await conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))
        await conn.execute(text(f"ANALYZE {name}"))
