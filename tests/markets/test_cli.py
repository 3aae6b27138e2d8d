"""The `markets` command, run as operators run it: a real process, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jwt
import pytest

from tests.conftest import TEST_SECRET, Api

MARKETS = str(Path(sys.executable).with_name("markets"))
COMMANDS = ["serve", "worker", "migrate", "create-user", "token", "seed", "reindex", "jobs", "persist-query",
            "export-schema"]


def markets(
    *args: str, database_url: str | None = None, cwd: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the console script with the test secret, without any Redis the environment names."""
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"JWT_SECRET": TEST_SECRET, **env}
    if database_url is not None:
        environment["DATABASE_URL"] = database_url
    return subprocess.run([MARKETS, *args], env=environment, capture_output=True, text=True, timeout=120, cwd=cwd)


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("markets: "), result.stderr
    assert all(word in lines[0] for word in words), lines[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = markets(command, "--help")
    assert result.returncode == 0 and "usage: markets " + command in result.stdout


def test_create_user_then_token(test_database_url: str) -> None:
    created = markets("create-user", "--email", "Boss@Example.com", "--name", "Boss", "--password", "long enough",
                      "--role", "admin", database_url=test_database_url)
    assert created.returncode == 0, created.stderr
    assert "ADMIN boss@example.com" in created.stdout
    minted = markets("token", "--email", "BOSS@example.com", database_url=test_database_url)
    claims = jwt.decode(minted.stdout.strip(), TEST_SECRET, algorithms=["HS256"])
    assert claims["role"] == "ADMIN" and claims["email"] == "boss@example.com"
    again = markets("create-user", "--email", "boss@example.com", "--name", "Boss", "--password", "long enough",
                    database_url=test_database_url)
    assert_one_line_failure(again, "already exists")


async def test_a_cli_token_works_against_the_api(api: Api, test_database_url: str) -> None:
    markets("create-user", "--email", "mod@example.com", "--name", "Mod", "--password", "long enough",
            "--role", "MODERATOR", database_url=test_database_url, STARTING_BALANCE="250.5")
    token = markets("token", "--email", "mod@example.com", database_url=test_database_url).stdout.strip()
    # create-user grants STARTING_BALANCE, as signUp does.
    assert (await api.data("{ me { role balance } }", token=token)) == {"me": {"role": "MODERATOR",
                                                                             "balance": "250.50"}}


@pytest.mark.parametrize(("args", "words"), [
    (["token", "--email", "nobody@example.com"], ["no user"]),
    (["create-user", "--email", "x@example.com", "--name", "X", "--password", "short"], ["password"]),
    (["create-user", "--email", "x@example.com", "--name", "X", "--password", "long enough", "--role", "KING"],
     ["--role"]),
    (["seed", "--users", "-3"], ["--users"]),
])
def test_bad_input_is_one_line_and_no_traceback(test_database_url: str, args: list[str], words: list[str]) -> None:
    result = markets(*args, database_url=test_database_url)
    if "--role" in words or "--users" in words:  # argparse's own usage errors: exit 2, usage plus one line
        assert result.returncode == 2 and "Traceback" not in result.stderr and words[0] in result.stderr
        return
    assert_one_line_failure(result, *words)


@pytest.mark.parametrize("url", ["postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", "nonsense://x"])
def test_an_unusable_database_is_one_line(url: str) -> None:
    assert_one_line_failure(markets("token", "--email", "a@b.co", database_url=url))
    assert_one_line_failure(markets("migrate", database_url=url))


def test_production_without_a_secret_refuses_to_start() -> None:
    result = markets("migrate", ENVIRONMENT="production", JWT_SECRET="short")
    assert_one_line_failure(result, "JWT_SECRET")


def test_seed_is_deterministic_and_refuses_to_seed_twice(test_database_url: str) -> None:
    first = markets("seed", "--users", "5", "--markets", "20", "--positions", "60", database_url=test_database_url)
    assert first.returncode == 0 and "seeded 5 users, 20 markets, 60 positions" in first.stdout, first.stderr
    assert_one_line_failure(markets("seed", database_url=test_database_url), "not empty")
    skipped = markets("seed", "--if-empty", database_url=test_database_url)
    assert skipped.returncode == 0 and "not seeding" in skipped.stdout


def test_migrate_and_export_schema_work_from_any_directory(test_database_url: str, tmp_path: Path) -> None:
    assert markets("migrate", database_url=test_database_url, cwd=str(tmp_path)).returncode == 0
    checked = markets("export-schema", "--check", cwd=str(tmp_path))
    assert checked.returncode == 0, checked.stderr


def test_persist_query_needs_redis_and_a_valid_document(tmp_path: Path) -> None:
    document = tmp_path / "q.graphql"
    document.write_text("{ nope }")
    assert_one_line_failure(markets("persist-query", "--file", str(document)), "not a valid document")
    document.write_text("{ markets(first: 1) { totalCount } }")
    assert_one_line_failure(markets("persist-query", "--file", str(document)), "REDIS_URL")
