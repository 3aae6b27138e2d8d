"""How much of the server one client's WebSockets may hold (README, "Live updates").

Every event is rendered once per subscription that wants it, so a client's share of the work is
its sockets times their subscriptions times what each selects. Each of the three is bounded:

- sockets: MAX_SOCKETS_PER_ADDRESS open at once from one client address, MAX_SOCKETS_PER_USER for
  one signed-in user; one more is closed with 4429. Counted in this process: behind a load balancer
  spreading sockets over N instances a client may hold up to N times as many.
- subscriptions' cost: each subscription costs what graph.extensions.limits charges a query with the same
  selection; the subscriptions open on one connection may cost MAX_SUBSCRIPTION_COST_PER_CONNECTION
  together, and one past it is refused (QUERY_TOO_COMPLEX) until another completes.
- subscribe messages count against the viewer's RATE_LIMIT_PER_MINUTE like HTTP requests
  (markets.stores.rate_limits), across instances when Redis is configured.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

CLOSE_TOO_MANY_SOCKETS = 4429


class TooManySockets(Exception):
    """The viewer already holds as many sockets as they may."""


class SocketCounts:
    """Open sockets per key (`address:…`, `user:…`) in this process."""

    def __init__(self) -> None:
        self._open: Counter[str] = Counter()

    def admit(self, key: str, limit: int) -> bool:
        """Count one more socket for the key, unless it holds `limit` already."""
        if self._open[key] >= limit:
            return False
        self._open[key] += 1
        return True

    def release(self, key: str) -> None:
        """One socket of the key closed (the key is forgotten at zero, so the table stays small)."""
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    def count(self, key: str) -> int:
        return self._open[key]


@dataclass
class CostBudget:
    """What a connection's open subscriptions may cost together, and what they cost now."""

    limit: int
    spent: int = 0

    def charge(self, cost: int) -> bool:
        """Spend `cost` if it fits; False (and nothing spent) if it does not."""
        if self.spent + cost > self.limit:
            return False
        self.spent += cost
        return True

    def refund(self, cost: int) -> None:
        self.spent = max(0, self.spent - cost)
