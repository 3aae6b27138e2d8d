"""Summarize a py-spy raw profile (`py-spy record --format raw`): where a server's CPU goes.

Three views of the same samples: self time by package (the package of each sample's innermost
frame: sqlalchemy, graphql, strawberry, the project's graph/ and persistence/, ...), the
functions with the most self time (the innermost frame), and those with the most inclusive time
(each counted once per sample, however deep it recurses). Used by `make profile` (bench/profile.py)
to profile the server under wrk's load (README, "Performance").
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
# Where a path shows no package of its own: the standard library's modules by their first part.
PROJECT = ("graph", "persistence", "domain", "search", "jobs", "bench")
# Innermost frames of threads that only wait (py-spy may sample them as active): not CPU.
IDLE = ("Condition.wait (threading.py", "_worker (concurrent/futures/thread.py:81)")


def parse(text: str) -> list[tuple[list[str], int]]:
    """Each line: frames outermost first, separated by ';', then a space and the sample count.
    Samples of idle threads are left out."""
    stacks = []
    for line in text.splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit() and not frames.rpartition(";")[2].startswith(IDLE):
            stacks.append((frames.split(";"), int(count)))
    return stacks


def package(frame: str) -> str:
    match = FRAME.match(frame)
    if match is None:
        return "?"
    path = match["path"]
    first = path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")
    return f"{first}/ (project)" if first in PROJECT else first


def function(frame: str) -> str:
    match = FRAME.match(frame)
    return frame if match is None else f"{match['function']} ({match['path']})"


def summarize(stacks: list[tuple[list[str], int]], top: int) -> str:
    total = sum(count for _, count in stacks) or 1
    by_package: Counter[str] = Counter()
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in stacks:
        by_package[package(frames[-1])] += count
        own[function(frames[-1])] += count
        for name in {function(frame) for frame in frames}:
            inclusive[name] += count
    lines = [f"{total} samples", "self time by package:"]
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in by_package.most_common(top)]
    lines.append("self time by function:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    lines.append("inclusive time by function:")
    lines += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top + 10)
              if not name.startswith(("<module>", "main (", "serve (", "run (", "Runner.run", "asyncio_run"))][:top]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_summary", description=__doc__)
    parser.add_argument("profile", type=Path, help="the output of py-spy record --format raw")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    print(summarize(parse(args.profile.read_text()), args.top))


if __name__ == "__main__":
    main()
