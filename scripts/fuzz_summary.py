"""The distinct errors a `markets serve` JSON log holds, once each with a count: scripts/fuzz.sh's epilogue.

Usage: python scripts/fuzz_summary.py SERVER_LOG; exit status 1 when the log holds any error.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter

# The lines of a traceback that name an exception (`asyncpg.exceptions.X: why`, `OverflowError: why`).
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning|Exit|Interrupt|Cancelled\w*)\b.*")
# Ids that make each occurrence of the same error look distinct.
VOLATILE = re.compile(r"\b(local:)?[0-9a-f]{32}\b|\(\w+_id=\d+\)|\d+ attempts")


def signature(record: dict[str, object]) -> str:
    """What identifies an error: its event with ids blanked, and the exceptions of its traceback."""
    event = VOLATILE.sub("…", str(record.get("event", "")))
    lines = str(record.get("exception", "")).splitlines()
    causes = list(dict.fromkeys(line[:200] for line in lines if EXCEPTION_LINE.match(line)))
    return " ⟵ ".join([event[:200], *causes])


def main(path: str) -> int:
    counts: Counter[str] = Counter()
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in ("error", "critical"):
                counts[signature(record)] += 1
    for text, count in counts.most_common():
        print(f"{count:5d} × {text}")
    return 1 if counts else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
