"""The load generator of the read benchmarks: wrk (C, one thread), driven by bench/wrk_bodies.lua.

A Python client on the same 2 cores as the servers spent more CPU per request than the floor it
measured, so it, not the floor, set the floor's pace. wrk costs a few microseconds per request.
Each run POSTs the lines of a bodies file (one JSON body each, written by the bench's prepare step)
in turn; the Lua script's done() prints one `WRK_RESULT {...}` line that `parse` reads.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("wrk_bodies.lua")
RESULT_PREFIX = "WRK_RESULT "
# wrk's own report says this only when some answers were not 2xx or 3xx; it must agree with the result line.
NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses: (\d+)\s*$", re.MULTILINE)
MISSING_WRK = "wrk is not installed: `apt-get install -y wrk` (Debian's package; bench/serve_and_run.sh does it)"


@dataclass(frozen=True)
class WrkResult:
    """One wrk run as bench/wrk_bodies.lua reports it: counts, and latencies in microseconds."""

    requests: int
    duration_us: int
    bytes: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    non_2xx: int
    body_errors: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int

    @property
    def rps(self) -> float:
        return self.requests * 1_000_000 / self.duration_us if self.duration_us else 0.0

    @property
    def errors(self) -> int:
        """Every request that failed: socket errors, timeouts, non-2xx answers, bodies with "errors"."""
        return (self.connect_errors + self.read_errors + self.write_errors + self.timeouts + self.non_2xx
                + self.body_errors)


def parse(output: str) -> WrkResult:
    """The one result line of a wrk run's standard output, checked against wrk's own report."""
    lines = [line for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    if len(lines) != 1:
        raise ValueError(f"expected one {RESULT_PREFIX.strip()} line in wrk's output, found {len(lines)}:\n{output}")
    values: dict[str, Any] = json.loads(lines[0].removeprefix(RESULT_PREFIX))
    expected = {field.name for field in fields(WrkResult)}
    if set(values) != expected:
        raise ValueError(f"wrk's result line has fields {sorted(values)}, expected {sorted(expected)}")
    result = WrkResult(**{name: int(value) for name, value in values.items()})
    reported = NON_2XX.search(output)
    if result.non_2xx != (int(reported[1]) if reported else 0):
        raise ValueError(f"wrk reports {reported[0] if reported else 'no non-2xx answer'}, its result line "
                         f"{result.non_2xx}")
    return result


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit(MISSING_WRK)
    return found


def write_bodies(path: Path, bodies: Iterable[dict[str, Any]]) -> Path:
    """One JSON body per line, as bench/wrk_bodies.lua reads them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(body, separators=(",", ":")) + "\n" for body in bodies))
    return path


async def run_wrk(url: str, bodies: Path, *, authorization: str = "", connections: int = 16, seconds: int = 10,
                  check_bodies: bool = False) -> WrkResult:
    """Load `url` for `seconds` from `connections` connections on one wrk thread; check_bodies
    searches every answer for "errors" (costlier for wrk: for warm-ups, not measured runs)."""
    command = [wrk_binary(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(SCRIPT),
               url, "--", str(bodies), authorization, "check" if check_bodies else ""]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"wrk exited with {process.returncode}: {err.decode(errors='replace')}")
    return parse(out.decode(errors="replace"))
