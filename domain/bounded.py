"""A least-recently-used map bounded by entries AND by bytes, for every cache keyed by client text.

A bound on entries alone lets a client fill memory with a few huge keys (a thousand 1 MB queries
is a gigabyte); a bound on bytes alone lets it fill the map with tiny ones. Each entry is weighed
once, when stored, by a function the owner supplies; an entry heavier than `max_entry_bytes` is
never stored (it would evict everything for one client's sake), so callers simply go without.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


def text_bytes(text: str) -> int:
    """The memory a str holds (its object, not its UTF-8 length): what a cached key really costs."""
    return sys.getsizeof(text)


class BoundedLRU(Generic[K, V]):
    """At most `max_entries` entries weighing at most `max_bytes` together; least recently used out first."""

    def __init__(
        self, *, max_entries: int, max_bytes: int, weigh: Callable[[K, V], int], max_entry_bytes: int | None = None,
    ) -> None:
        if max_entries <= 0 or max_bytes <= 0:
            raise ValueError("a bounded cache needs a positive bound on entries and on bytes")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_bytes, max_entry_bytes or max_bytes)
        self._weigh = weigh
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def bytes(self) -> int:
        """What the stored entries weigh together."""
        return self._bytes

    def get(self, key: K) -> V | None:
        """The value stored under `key` (now the most recently used), None when absent."""
        found = self._entries.get(key)
        if found is None:
            return None
        self._entries.move_to_end(key)
        return found[0]

    def put(self, key: K, value: V) -> bool:
        """Store a value, evicting the least recently used past either bound; False when too heavy to keep."""
        weight = self._weigh(key, value)
        self.discard(key)
        if weight > self.max_entry_bytes:
            return False
        self._entries[key] = (value, weight)
        self._bytes += weight
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted
        return True

    def discard(self, key: K) -> None:
        """Forget `key` if stored."""
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= found[1]

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
        self._bytes = 0
