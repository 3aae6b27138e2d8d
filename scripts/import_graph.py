"""Print the project's import graph in numbers: cycles (strongly connected components) and cross-package edges.

Every import counts, including those under `if TYPE_CHECKING:` and inside functions (grimp reads them all).
Run from the checkout's root: python scripts/import_graph.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import grimp

# Today's packages, and the two that were top-level before issue 9 (counted when a checkout still has them).
PACKAGES = ("domain", "graph", "persistence", "markets", "search", "jobs")


def strongly_connected(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: every cycle of modules, as its set of members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    members.append(member)
                    if member == node:
                        break
                if len(members) > 1 or node in graph.find_modules_directly_imported_by(node):
                    found.append(sorted(members))
    return found


def main() -> None:
    present = [name for name in PACKAGES if _importable(name)]
    graph = grimp.build_graph(*present, include_external_packages=True)
    modules = {module for module in graph.modules if module.split(".")[0] in present}
    edges = [(a, b) for a in modules for b in graph.find_modules_directly_imported_by(a)]
    internal = [(a, b) for a, b in edges if b in modules]
    cross = Counter((a.split(".")[0], b.split(".")[0]) for a, b in internal if a.split(".")[0] != b.split(".")[0])
    starlette = sorted({a for a, b in edges if b.split(".")[0] == "starlette"})
    cycles = strongly_connected(graph, modules)
    print(f"modules: {len(modules)}  internal import edges: {len(internal)}")
    print(f"cycles (strongly connected groups): {len(cycles)}  modules in a cycle: {sum(map(len, cycles))}")
    for members in cycles:
        print("  cycle:", " ".join(members))
    print("cross-package edges:")
    for (source, target), count in sorted(cross.items()):
        print(f"  {source} -> {target}: {count}")
    print(f"modules importing starlette: {len(starlette)}")
    for module in starlette:
        print("  ", module)


def _importable(name: str) -> bool:
    """A package of this checkout (run from its root)."""
    return Path(name, "__init__.py").is_file()


if __name__ == "__main__":
    sys.exit(main())
