"""Read views: named queries answering rows of chosen columns, for the compiled read path.

cosmicpython's "views": reads that need no entity, no unit of work and no transaction. The
compiled read path (graph.plan) asks for exactly the columns a document selects and builds its
response straight from the rows; every method is one statement, however many ids it is given,
so a plan never runs N+1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from domain.entities import User
from domain.pagination import MarketFilter, MarketOrder, Page, PageRequest


class Row(Protocol):
    """One row: its columns by name."""

    def __getitem__(self, column: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Join:
    """The user a row's `column` names, read in the same statement: its `columns` come in the row as
    `alias.column` (no match: `alias.id` is None)."""

    alias: str
    column: str
    columns: tuple[str, ...]


class ReadViews(Protocol):
    """The reads of the compiled path; `columns` are column names of the named table, `joins` the
    users the rows name, read along (one round trip per level, however many references)."""

    async def viewer(self, user_id: int) -> User | None:
        """The user a token names (all but the password hash), or None."""

    async def users_by_ids(self, ids: Sequence[int], columns: Sequence[str]) -> Mapping[int, Row]:
        """Users by id, in one statement."""

    async def markets_by_ids(
        self, ids: Sequence[int], columns: Sequence[str], joins: Sequence[Join] = ()
    ) -> Mapping[int, Row]:
        """Markets by id, in one statement."""

    async def market_page(
        self, *, columns: Sequence[str], filter: MarketFilter, order: MarketOrder, request: PageRequest,
        joins: Sequence[Join] = (), counted: bool = False,
    ) -> tuple[Page[Row], int | None]:
        """One keyset page of markets, with each row's sort key; with `counted`, how many markets the
        filter matches (None when the page is empty: ask market_count)."""

    async def market_count(self, *, filter: MarketFilter) -> int:
        """How many markets the filter matches."""

    async def position_pages_by_market(
        self, market_ids: Sequence[int], columns: Sequence[str], request: PageRequest, joins: Sequence[Join] = ()
    ) -> Mapping[int, Page[Row]]:
        """The same page of positions (newest first) for each market, in one statement."""

    async def position_counts_by_market(self, market_ids: Sequence[int]) -> Mapping[int, int]:
        """How many positions each market has, in one statement."""
