"""The one error model: the contract's codes are exactly the enum's, and no other module spells one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from domain.errors import BadUserInput, ErrorCode, InvalidToken, PersistedQueryNotFound, RateLimited

ROOT = Path(__file__).resolve().parents[2]
SOURCE_PACKAGES = ("domain", "graph", "persistence", "markets", "bench")
ENUM_MODULE = ROOT / "domain" / "errors.py"
CODE_CELL = re.compile(r"`([A-Z_]+)`")


def contract_codes() -> set[str]:
    """The codes in the first column of the contract's "Errors" table."""
    text = (ROOT / "contract" / "README.md").read_text()
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {code for row in rows for code in CODE_CELL.findall(row.split("|")[1])}


def code_literals(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each string constant in the module that is exactly an error code."""
    codes = {code.value for code in ErrorCode}
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value) for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in codes
    ]


def test_the_enum_holds_exactly_the_contracts_codes() -> None:
    assert len(contract_codes()) >= 13  # the table was found and read
    assert {code.value for code in ErrorCode} == contract_codes()


def test_no_module_but_the_enums_spells_a_code() -> None:
    modules = [path for package in SOURCE_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]
    assert ENUM_MODULE in modules
    spelled = {
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in modules if path != ENUM_MODULE for line, text in code_literals(path)
    }
    assert spelled == set()
    assert {text for _, text in code_literals(ENUM_MODULE)} == {code.value for code in ErrorCode}


def test_the_literal_scan_finds_a_code(tmp_path: Path) -> None:
    """The scan above would see a code written out (so its passing means something)."""
    module = tmp_path / "module.py"
    module.write_text('REFUSED = {"code": "FORBIDDEN"}\nNOTE = "not FORBIDDEN here"\n')
    assert code_literals(module) == [(1, "FORBIDDEN")]


def test_errors_outside_the_domain_carry_their_code_and_fields() -> None:
    assert RateLimited(2.2).extensions == {"code": "RATE_LIMITED", "retryAfter": 3}
    assert InvalidToken("The token has expired").extensions == {"code": "UNAUTHENTICATED"}
    assert PersistedQueryNotFound("PersistedQueryNotFound").extensions == {"code": "PERSISTED_QUERY_NOT_FOUND"}


def test_extensions_carry_plain_text_codes() -> None:
    """What the wire carries is `str`, not the enum (JSON encoders and metrics labels see plain text)."""
    assert type(BadUserInput({"name": "too short"}).extensions["code"]) is str


def test_a_domain_field_is_renamed_to_its_argument_path() -> None:
    error = BadUserInput({"end_date": "must be in the future", "name": "must be 3 to 200 characters"})
    renamed = error.renamed({"end_date": "input.endDate"})
    assert renamed.fields == {"input.endDate": "must be in the future", "name": "must be 3 to 200 characters"}
