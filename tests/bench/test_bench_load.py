"""The read bench's own arithmetic, on recorded wrk output: what it parses, sums and takes medians of.

Pure functions only: no server, no timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.against_floor import FloorRow, median_rows, with_ratios
from bench.load import parse

RECORDED = Path(__file__).with_name("recorded")
# `wrk -t1 -c16 -d2s -s bench/wrk_bodies.lua …/market_by_id -- bodies.jsonl "" ""` against the floor.
CLEAN_RUN = (RECORDED / "wrk_floor.txt").read_text()
# Against the server with a bad token: every answer a 401.
REFUSED_RUN = (RECORDED / "wrk_refused.txt").read_text()


def test_a_clean_run_gives_its_rate_percentiles_and_no_error() -> None:
    result = parse(CLEAN_RUN)
    assert result.requests == 8469
    assert result.rps == pytest.approx(4231.9, abs=0.1)  # requests over wrk's own measured duration
    assert (result.p50_us, result.p99_us, result.max_us) == (3585, 8658, 22070)
    assert result.errors == 0


def test_non_2xx_answers_and_error_bodies_count_as_errors() -> None:
    assert parse(REFUSED_RUN).errors == 3344
    in_bodies = CLEAN_RUN.replace('"body_errors": 0', '"body_errors": 7')
    in_bodies = in_bodies.replace('"read_errors": 0', '"read_errors": 2')
    assert parse(in_bodies).errors == 9


def test_the_result_line_must_agree_with_wrks_own_non_2xx_line() -> None:
    with pytest.raises(ValueError, match="Non-2xx or 3xx responses: 3344"):
        parse(REFUSED_RUN.replace('"non_2xx": 3344', '"non_2xx": 0'))
    with pytest.raises(ValueError, match="no non-2xx answer"):
        parse(CLEAN_RUN.replace('"non_2xx": 0', '"non_2xx": 5'))


def test_output_without_one_result_line_or_with_other_fields_is_refused() -> None:
    without = "\n".join(line for line in CLEAN_RUN.splitlines() if not line.startswith("WRK_RESULT"))
    with pytest.raises(ValueError, match="found 0"):
        parse(without)
    with pytest.raises(ValueError, match="found 2"):
        parse(CLEAN_RUN + CLEAN_RUN)
    with pytest.raises(ValueError, match="fields"):
        parse(CLEAN_RUN.replace('"timeouts": 0, ', ""))


def row(case: str, side: str, rps: float, *, p99: float = 10.0, errors: int = 0, sql: float | None = 1.0) -> FloorRow:
    return FloorRow(case=case, side=side, requests=int(rps * 10), errors=errors, rps=rps, ratio=None, p50_ms=1.0,
                    p99_ms=p99, cpu_ms_per_request=2.0, sql_per_request=sql, new_connections=0)


def test_ratios_are_to_the_floor_of_the_same_case_in_the_same_round() -> None:
    rows = with_ratios([row("a", "server", 100), row("a", "cached", 50), row("a", "floor", 400),
                        row("b", "server", 30), row("b", "floor", 60)])
    assert [r.ratio for r in rows] == [0.25, 0.125, 1.0, 0.5, 1.0]


def test_the_table_takes_each_figures_median_over_the_rounds_and_sums_the_errors() -> None:
    rounds = [with_ratios([row("a", "server", rps, p99=p99, errors=errors, sql=sql), row("a", "floor", floor)])
              for rps, floor, p99, errors, sql in ((100, 400, 30.0, 0, 2.0), (90, 200, 10.0, 1, None),
                                                   (120, 300, 20.0, 2, 2.0))]
    server, floor = median_rows(rounds)
    assert (server.case, server.side, floor.side) == ("a", "server", "floor")
    assert server.rps == 100  # the median rate ...
    assert server.ratio == 0.4  # ... and the median of the rounds' ratios (0.25, 0.45, 0.4), not their quotient
    assert server.p99_ms == 20.0
    assert server.sql_per_request == 2.0  # a round without the figure does not count
    assert server.errors == 3
    assert floor.rps == 300 and floor.ratio == 1.0
