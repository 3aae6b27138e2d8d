"""The `markets` command: serve, worker, migrate, create-user, token, seed, reindex, jobs, export-schema."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError

from domain.errors import DomainError
from domain.roles import Role

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
DEMO_PASSWORD = "password123"
# On SIGTERM, in-flight requests get this long to finish.
GRACEFUL_SHUTDOWN_SECONDS = 30


class CliError(Exception):
    """An expected failure: printed as one line, exit status 1."""


def settings() -> Any:
    from markets.settings import Settings

    try:
        return Settings()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors())
        raise CliError(f"invalid settings: {problems}") from None


def logged_settings() -> Any:
    """The settings, with logging configured by them (in the parent and in every worker)."""
    from markets.observability.logs import configure

    config = settings()
    configure(config.log_level, json=config.json_logs, secrets=[config.jwt_secret])
    return config


def fresh_metrics_dir() -> str:
    """A new empty PROMETHEUS_MULTIPROC_DIR for this run's workers (inside the operator's, if set)."""
    path = tempfile.mkdtemp(prefix="markets-metrics-", dir=os.environ.get(METRICS_DIR_ENV) or None)
    os.environ[METRICS_DIR_ENV] = path
    return path


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from markets.observability.logs import emit
    from markets.search.embedders import resolve
    from markets.serving import uvicorn_options

    config = logged_settings()
    resolve(config.embedder)  # EMBEDDER=minilm without the extra: one line here, not a worker's traceback
    if args.workers > 1 and not config.redis_url and config.market_cache_ttl_seconds:
        # Workers without Redis cannot tell each other about writes: an in-process cache
        # would serve one worker's stale copy after another's write.
        emit(logging.WARNING, "several workers without REDIS_URL: the market cache is off")
        os.environ["MARKET_CACHE_TTL_SECONDS"] = "0"
    if args.workers > 1 and not config.redis_url:
        emit(logging.WARNING, "several workers without REDIS_URL: a subscriber sees only its own worker's writes")
    # A log line like any other (in production, JSON), not a bare line on standard output.
    url = f"http://{args.host}:{args.port}/graphql"
    emit(logging.INFO, f"GraphiQL: {url}" if config.explorer_enabled else f"serving {url}", url=url)
    # Set before uvicorn spawns the workers: prometheus_client reads it when first imported.
    metrics_dir = fresh_metrics_dir() if args.workers > 1 else None
    try:
        uvicorn.run(
            "markets.cli:app_factory", factory=True, host=args.host, port=args.port, workers=args.workers,
            loop="uvloop", log_level=config.log_level.lower(), access_log=False,
            log_config=None, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, **uvicorn_options(config),
        )
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def app_factory() -> Any:
    from markets.asgi import create_app
    from markets.serving import settle_garbage_collector

    app = create_app(logged_settings())
    settle_garbage_collector()
    return app


def migrate(_: argparse.Namespace) -> None:
    from persistence.migrate import upgrade

    config = settings()
    upgrade(config.database_url, economy={
        "STARTING_BALANCE": config.starting_balance, "MARKET_LIQUIDITY": config.market_liquidity,
    })
    print("database is at the newest schema")


async def with_application(work: Callable[[Any], Coroutine[Any, Any, None]], config: Any = None) -> None:
    from markets.bootstrap import bootstrap

    application = bootstrap(config or settings())
    try:
        await work(application)
    finally:
        await application.close()


async def create_user(args: argparse.Namespace) -> None:
    from domain.services.users import sign_up

    async def work(application: Any) -> None:
        user = await sign_up(
            uow=application.unit_of_work(), hasher=application.hasher, clock=application.clock,
            economy=application.settings.economy, email=args.email, name=args.name, password=args.password,
            role=Role(args.role.upper()),
        )
        print(f"created {user.role.value} {user.email}")

    await with_application(work)


async def token(args: argparse.Namespace) -> None:
    async def work(application: Any) -> None:
        async with application.unit_of_work() as uow:
            user = await uow.users.get_by_email(args.email.strip().lower())
        if user is None:
            raise CliError(f"no user with email {args.email}")
        print(application.tokens.issue(user, now=application.clock()))

    await with_application(work)


async def seed(args: argparse.Namespace) -> None:
    from persistence.seed import seed as fill

    async def work(application: Any) -> None:
        async with application.unit_of_work() as uow:
            if args.if_empty and await uow.users.count(role=None):
                print("database already has data; not seeding")
                return
        report = await fill(
            application.engine, users=args.users, markets=args.markets, positions=args.positions, seed=args.seed,
            password_hash=await application.hasher.hash(DEMO_PASSWORD), economy=application.settings.economy,
        )
        print(f"seeded {report.users} users, {report.markets} markets, {report.positions} positions "
              f"({report.sold} sold), {report.transactions} transactions "
              f"in {report.seconds:.1f} s (every password: {DEMO_PASSWORD})")

    await with_application(work)


async def persist_query(args: argparse.Namespace) -> None:
    from graphql import GraphQLError, parse, validate

    from graph.extensions.persisted_queries import register
    from graph.schema import build_schema

    text = read_document(args.file)
    try:
        errors = validate(build_schema()._schema, parse(text))
    except GraphQLError as error:
        errors = [error]
    if errors:
        raise CliError(f"{args.file} is not a valid document: {errors[0].message}")

    async def work(application: Any) -> None:
        if application.redis is None:
            raise CliError("persisted queries outlive this command only in Redis: set REDIS_URL")
        print(await register(application.persisted_queries, text))

    await with_application(work)


async def worker(args: argparse.Namespace) -> None:
    from redis.exceptions import RedisError

    from markets.background import run_worker

    config = logged_settings()
    if not config.redis_url:
        raise CliError("the worker takes jobs from Redis: set REDIS_URL (without it, `markets serve` runs them itself)")

    async def work(application: Any) -> None:
        try:
            await run_worker(application, concurrency=args.concurrency or config.job_concurrency)
        except RedisError as error:
            raise CliError(f"cannot reach Redis: {error}") from None

    await with_application(work, every_core(config))


async def reindex(args: argparse.Namespace) -> None:
    import time

    from domain.services.search import reindex as run

    async def work(application: Any) -> None:
        embedder, started = application.search.embedder, time.monotonic()
        with reindex_progress(embedder.name) as update:
            report = await run(unit_of_work=application.unit_of_work, embedder=embedder, clock=application.clock,
                               everything=args.all, progress=update)
        print(f"indexed {report.indexed} markets with {embedder.name} in {time.monotonic() - started:.1f} s "
              f"({report.unchanged} already current, {report.removed} deleted ones dropped)")

    await with_application(work, every_core(settings()))


def every_core(config: Any) -> Any:
    """The settings with the model on every core unless EMBEDDER_THREADS says otherwise (no requests wait)."""
    return config.model_copy(update={"embedder_threads": config.embedder_threads or os.cpu_count() or 1})


@contextmanager
def reindex_progress(embedder: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar; yields the function that moves it (markets done, markets in all)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn(f"indexing with {embedder}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("reindex", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


async def list_jobs(args: argparse.Namespace) -> None:
    from redis.exceptions import RedisError

    from markets.jobs import last_line

    async def work(application: Any) -> None:
        if application.redis is None:
            raise CliError("without REDIS_URL jobs live in the server's memory: see its /readyz and /metrics")
        try:
            stats, failed = await application.jobs.stats(), await application.jobs.failed(args.limit)
        except RedisError as error:
            raise CliError(f"cannot reach Redis: {error}") from None
        print(f"queued {stats.queued}, active {stats.active}, scheduled {stats.scheduled}, "
              f"failed {stats.failed}, workers {stats.workers}")
        for job in failed:
            arguments = ", ".join(f"{k}={v!r}" for k, v in job.kwargs.items())
            when = job.failed_at.isoformat(timespec="seconds") if job.failed_at else "-"
            print(f"{when} {job.id} {job.function}({arguments}) after {job.attempts} attempts: {last_line(job.error)}")

    await with_application(work)


def read_document(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}") from None


def export_schema(args: argparse.Namespace) -> None:
    from strawberry.printer import print_schema

    from graph.schema import build_schema

    text = print_schema(build_schema()) + "\n"
    if args.check:
        if not SCHEMA_FILE.exists() or SCHEMA_FILE.read_text() != text:
            raise CliError(f"{SCHEMA_FILE} is stale: run 'markets export-schema'")
        print(f"{SCHEMA_FILE} is up to date")
        return
    SCHEMA_FILE.write_text(text)
    print(f"wrote {SCHEMA_FILE}")


def role_name(value: str) -> str:
    if value.upper() not in Role.__members__:
        raise argparse.ArgumentTypeError("must be USER, MODERATOR or ADMIN")
    return value.upper()


def count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError("must be a whole number, 0 or more")
    return int(value)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="markets", description="The markets GraphQL API server.")
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("serve", help="serve the API with uvicorn")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--workers", type=int, default=1)
    run.set_defaults(handler=serve)
    commands.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(handler=migrate)
    user = commands.add_parser("create-user", help="create a user (how the first admin is made)")
    user.add_argument("--email", required=True)
    user.add_argument("--name", required=True)
    user.add_argument("--password", required=True)
    user.add_argument("--role", type=role_name, default="USER", help="USER, MODERATOR or ADMIN")
    user.set_defaults(handler=create_user)
    mint = commands.add_parser("token", help="print a token for an existing user")
    mint.add_argument("--email", required=True)
    mint.set_defaults(handler=token)
    fill = commands.add_parser("seed", help="fill an empty database with deterministic demo data")
    fill.add_argument("--users", type=count, default=1000)
    fill.add_argument("--markets", type=count, default=10000)
    fill.add_argument("--positions", type=count, default=100000)
    fill.add_argument("--seed", type=int, default=42)
    fill.add_argument("--if-empty", action="store_true", help="do nothing when the database has users")
    fill.set_defaults(handler=seed)
    persist = commands.add_parser(
        "persist-query", help="store a document for PERSISTED_QUERIES_ONLY and print its sha256 hash (needs REDIS_URL)"
    )
    persist.add_argument("--file", required=True, help="a file holding one GraphQL document")
    persist.set_defaults(handler=persist_query)
    work = commands.add_parser("worker", help="run background jobs from Redis (several may run at once)")
    work.add_argument("--concurrency", type=count, default=0, help="jobs at a time (default: JOB_CONCURRENCY)")
    work.set_defaults(handler=worker)
    index = commands.add_parser("reindex", help="index markets for searchMarkets, with a progress bar")
    index.add_argument("--all", action="store_true", help="re-encode every market, not only missing or stale ones")
    index.set_defaults(handler=reindex)
    queue = commands.add_parser("jobs", help="queue depth and the failed jobs kept for inspection (needs REDIS_URL)")
    queue.add_argument("--limit", type=count, default=20, help="failed jobs to list, newest first")
    queue.set_defaults(handler=list_jobs)
    export = commands.add_parser("export-schema", help=f"write {SCHEMA_FILE.name} at the project root")
    export.add_argument("--check", action="store_true", help="exit non-zero when the file is stale")
    export.set_defaults(handler=export_schema)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        outcome = args.handler(args)
        if asyncio.iscoroutine(outcome):
            asyncio.run(outcome)
    except (CliError, DomainError, ValueError) as error:
        fail(args, f"markets: {error}")
    except ArgumentError as error:
        fail(args, f"markets: bad DATABASE_URL: {error}")
    except (DBAPIError, OSError) as error:
        fail(args, f"markets: cannot reach the database: {error.__class__.__name__}: {str(error).splitlines()[0]}")
    except KeyboardInterrupt:
        sys.exit(130)


def fail(args: argparse.Namespace, message: str) -> None:
    """Exit with status 1 and the message on standard error: a JSON line from a server in JSON-logging mode."""
    if args.handler in (serve, worker) and json_logs_wanted():
        sys.exit(json.dumps({"event": message, "level": "critical", "logger": "markets"}))
    sys.exit(message)


def json_logs_wanted() -> bool:
    """What LOG_FORMAT and ENVIRONMENT ask for, read from the environment (the settings may be what failed)."""
    environment = {key.upper(): value.strip().lower() for key, value in os.environ.items()}
    chosen = environment.get("LOG_FORMAT")
    if chosen in ("json", "console"):
        return chosen == "json"
    return environment.get("ENVIRONMENT") == "production"
