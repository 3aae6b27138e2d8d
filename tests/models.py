"""The sentence model in tests: skipped with a reason where the `semantic` extra is missing,
a failure instead under MARKETS_TESTS_REQUIRE_MODEL (CI installs the extra)."""

from __future__ import annotations

import os

import pytest

from markets.search.embedders import EXTRA_HINT, semantic_installed


def require_model() -> None:
    if semantic_installed():
        return
    reason = f"the semantic extra is not installed ({EXTRA_HINT})"
    if os.environ.get("MARKETS_TESTS_REQUIRE_MODEL"):
        pytest.fail(f"{reason}, and MARKETS_TESTS_REQUIRE_MODEL is set")
    pytest.skip(reason)

