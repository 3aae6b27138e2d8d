"""The exported schema keeps every promise of the contract."""

from __future__ import annotations

from pathlib import Path

from graphql import build_schema, find_breaking_changes
from strawberry.printer import print_schema

from graph.schema import build_schema as build_app_schema

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT.parent / "shared" / "contract" / "schema.graphql"


def test_schema_file_is_what_the_code_exports() -> None:
    assert (ROOT / "schema.graphql").read_text() == print_schema(build_app_schema()) + "\n"


def test_no_breaking_changes_against_the_contract() -> None:
    contract = build_schema(CONTRACT.read_text())
    ours = build_schema((ROOT / "schema.graphql").read_text())
    assert find_breaking_changes(contract, ours) == []
