"""Fixtures: a real database (PostgreSQL when TEST_DATABASE_URL is set, else SQLite), clean per test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import argon2
import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.entities import TransactionKind, User
from domain.roles import Role
from domain.services.ledger import credit, grant_starting_balance
from graph import ids
from markets import background
from markets.application import Application
from markets.asgi import create_app
from markets.bootstrap import bootstrap
from markets.passwords import Argon2Hasher
from markets.settings import Settings
from persistence.migrate import upgrade
from persistence.unit_of_work import SqlUnitOfWork
from tests.redis_server import redis_server  # noqa: F401 - a fixture for every test module
from tests.statements import StatementLog

# No timing decides a test: hypothesis' per-example deadline and its "input generation is slow" health check
# are wall-clock limits, which a machine busy with other suites trips (seen in CI).
hypothesis_settings.register_profile("markets", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("markets")

TEST_SECRET = "test-secret-that-is-at-least-32-bytes-long"
# Servers, workers and CLIs that tests start as subprocesses use the lexical embedder unless a
# test asks for the model: each would otherwise load torch (seconds of CPU, half a GiB) for nothing.
os.environ.setdefault("EMBEDDER", "hashing")
# Nor do they close expired markets or re-index on their own: a session-long server over the test
# database would otherwise write to it under other tests' feet.
os.environ.setdefault("PERIODIC_JOBS", "false")
# argon2id still, with test-sized cost: the production cost is ~0.2 s per hash.
FAST_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On SQLite, leave out tests of behaviour only PostgreSQL has (they run in CI's PostgreSQL pass)."""
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        return
    kept = [item for item in items if item.get_closest_marker("postgres_only") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    path = Path(tempfile.mkdtemp(prefix="markets-test-")) / "test.db"
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def test_database_url() -> str:
    url = database_url()
    reset_schema(url)
    return url


def ensure_database(url: str) -> None:
    """Create a PostgreSQL database the suite needs besides TEST_DATABASE_URL's, if it is not there yet
    (on SQLite the file appears by itself)."""
    if not url.startswith("postgresql"):
        return
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    maintenance = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    async def create() -> None:
        connection = await asyncpg.connect(maintenance)
        try:
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", target.database):
                await connection.execute(f'CREATE DATABASE "{target.database}"')
        finally:
            await connection.close()

    asyncio.run(create())


def reset_schema(url: str) -> None:
    """Drop everything and migrate from scratch, so the migrations themselves are under test."""
    if url.startswith("postgresql"):
        import asyncio

        from persistence.database import make_engine

        async def drop() -> None:
            engine = make_engine(url)
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(drop())
    upgrade(url)


def test_settings(url: str, **overrides: Any) -> Settings:
    """Settings for a test app: rate limits off unless a test turns them on; Redis from TEST_REDIS_URL;
    the model when installed; searches that see every index write at once; quick job retries."""
    defaults: dict[str, Any] = {
        "jwt_secret": TEST_SECRET, "redis_url": os.environ.get("TEST_REDIS_URL") or None,
        "rate_limit_per_minute": 0, "auth_rate_limit_per_minute": 0,
        "embedder": "auto", "search_refresh_seconds": 0, "job_retry_delay_seconds": 0.05,
        # A loaded CI machine can take longer than the production bound of 0.25 s; tests of the
        # bound itself (Redis stalled or gone) set their own.
        "redis_timeout_seconds": 2.0,
        # Every request the compiled read path answers is answered by graphql-core too, and must
        # match byte for byte (graph.plan.reads): the whole suite is the planner's differential test.
        "read_plan_shadow": True,
    }
    return Settings(database_url=url, **(defaults | overrides))


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@dataclass
class ShiftedClock:
    """The suite's clock: UTC now, moved by `offset` (a test dates writes in the past by setting it)."""

    offset: timedelta = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="session")
async def container(test_database_url: str) -> AsyncIterator[Application]:
    built = bootstrap(test_settings(test_database_url), hasher=Argon2Hasher(FAST_HASHER), clock=ShiftedClock())
    yield built
    await built.close()


@pytest.fixture(scope="session")
def statement_log(container: Application) -> StatementLog:
    return StatementLog.attach(container.engine)


# Every table, children before parents (SQLite deletes in this order).
TABLES = ("idempotency_keys", "transactions", "price_points", "positions", "markets", "users", "market_embeddings")


@pytest.fixture(autouse=True)
async def clean_database(container: Application) -> None:
    """Empty tables, and a cache, vector index and job queue that remember nothing (ids restart,
    so old entries would lie)."""
    if container.redis is not None:
        await container.redis.flushdb()
    if container.market_cache is not None:
        await container.market_cache.clear()
    container.search.index.reset()
    await container.jobs.clear()
    engine: AsyncEngine = container.engine
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(
                text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            )
        else:
            for table in TABLES:
                await connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(scope="session")
def app(container: Application) -> Any:
    return create_app(application=container)


@dataclass
class Api:
    """A client of the API over ASGI, speaking GraphQL."""

    http: httpx.AsyncClient
    container: Application

    async def post(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None,
                   headers: dict[str, str] | None = None) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        return await self.http.post("/graphql", json=body, headers=sent)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        """The JSON body of a request that must answer HTTP 200."""
        response = await self.post(query, variables, token=token)
        assert response.status_code == 200, response.text
        return response.json()

    async def data(self, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None) -> Any:
        """The data of a request that must succeed without errors."""
        body = await self.gql(query, variables, token=token)
        assert "errors" not in body, body
        return body["data"]

    async def run_jobs(self) -> None:
        """Run every queued job (indexing after writes) to the end, as a worker would."""
        await background.run_jobs(self.container)

    async def make_user(self, role: Role = Role.USER, *, email: str | None = None, name: str = "Test User") -> Member:
        """A user stored directly (no argon2 cost), with a token and STARTING_BALANCE granted."""
        clock = self.container.clock
        async with SqlUnitOfWork.standalone(self.container.engine) as uow:
            count = await uow.users.count(role=None)
            user = await uow.users.add(
                email=email or f"member{count + 1}@example.com", name=name,
                password_hash=FAST_HASHER.hash("password123"), role=role, now=clock(),
            )
            user = await grant_starting_balance(uow, clock=clock, economy=self.container.settings.economy, user=user)
            await uow.commit()
        return Member(user=user, token=self.container.tokens.issue(user, now=self.container.clock()))

    async def fund(self, member: Member, amount: str) -> None:
        """Credit a user (an ADJUSTMENT through the ledger), for tests that buy more than STARTING_BALANCE."""
        async with SqlUnitOfWork.standalone(self.container.engine) as uow:
            await credit(uow, clock=self.container.clock, user_id=member.user.id, amount=Decimal(amount),
                         kind=TransactionKind.ADJUSTMENT, note="test funds")
            await uow.commit()

    async def make_market(self, member: Member, **fields: Any) -> dict[str, Any]:
        values = {"name": "Will it rain tomorrow?", **fields}
        data = await self.data(
            "mutation($input: CreateMarketInput!) { createMarket(input: $input) { id name status volume } }",
            {"input": values}, token=member.token,
        )
        return data["createMarket"]


@dataclass
class Member:
    user: User
    token: str

    @property
    def id(self) -> str:
        return ids.encode("User", self.user.id)


@pytest.fixture
async def api(app: Any, container: Application) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield Api(http=http, container=container)


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]
