"""The exported schema keeps every promise of the contract.

The repository carries its own copy of the contract (`contract/`), so a lone clone tests against
it; where the shared contract folder sits beside the checkout (CI), the copy must equal it, so a
drift between the two is caught rather than silently tested against an old promise."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes
from strawberry.printer import print_schema

from graph.schema import build_schema as build_app_schema

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "contract"
SHARED_CONTRACT = ROOT.parent / "shared" / "contract"
CONTRACT_FILES = ("schema.graphql", "economy.graphql", "README.md")
# The contract's SDL: economy.graphql extends schema.graphql, so it is read after it.
SDL_FILES = ("schema.graphql", "economy.graphql")


def test_schema_file_is_what_the_code_exports() -> None:
    assert (ROOT / "schema.graphql").read_text() == print_schema(build_app_schema()) + "\n"


def test_no_breaking_changes_against_the_contract() -> None:
    contract = build_schema("\n".join((CONTRACT / name).read_text() for name in SDL_FILES))
    ours = build_schema((ROOT / "schema.graphql").read_text())
    assert find_breaking_changes(contract, ours) == []


@pytest.mark.parametrize("name", CONTRACT_FILES)
def test_contract_copy_matches_the_shared_contract(name: str) -> None:
    shared = SHARED_CONTRACT / name
    if not shared.exists():
        # A lone clone: its own copy is the contract. CI always has the shared folder.
        assert (CONTRACT / name).exists()
        return
    assert (CONTRACT / name).read_text() == shared.read_text(), f"contract/{name} drifted from the shared contract"
