"""Alembic driven from code, so `markets migrate` works from any directory."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str, *, economy: Mapping[str, Decimal] | None = None) -> Config:
    """`economy` holds STARTING_BALANCE and MARKET_LIQUIDITY for the revision that replays existing
    positions through the market maker (its defaults are the contract's)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    for name, value in (economy or {}).items():
        config.set_main_option(name.lower(), str(value))
    return config


def upgrade(database_url: str, *, economy: Mapping[str, Decimal] | None = None, revision: str = "head") -> None:
    """Bring the database to the newest schema (or to `revision`)."""
    command.upgrade(alembic_config(database_url, economy=economy), revision)
