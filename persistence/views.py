"""The read views (domain.ports.ReadViews) on PostgreSQL through raw asyncpg: the compiled read path's reads.

Rows are asyncpg's records as they come, but for the money columns: NUMERIC(14, 2) is selected as
its text (`12.50`, always two places: PostgreSQL never writes a numeric with an exponent), which is
what graph.scalars.serialize_decimal writes of the Decimal; decoding a Decimal per amount and
quantizing it again was most of the cost of a page's amounts. Timestamptz arrives in UTC, the
very values persistence.types gives the repositories (the differential tests compare both paths
byte for byte). No SQLAlchemy session and no transaction: each read is one
statement, and at READ COMMITTED every statement has its own snapshot whether or not a BEGIN
wraps it, so autocommit single statements read exactly what the session path reads, minus its
BEGIN/ROLLBACK round trips and its per-statement compilation. Only the columns a plan asks for
are selected (never a password hash it does not show).

Connections are lent one statement at a time by persistence.connections.ConnectionLender (`max_connections`,
opened on first use and kept open), carved out of the DB_POOL_SIZE budget by markets.bootstrap so the process's
total stays what the setting says. Each statement is counted through `on_statement` (X-SQL-Statements, metrics).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from domain.entities import User
from domain.pagination import MarketFilter, MarketOrder, MarketSortField, Page, PageRequest, SortDirection, SortKey
from domain.ports import Join, Row
from domain.roles import Role
from persistence.connections import ConnectionLender
from persistence.keyset import to_page
from persistence.repositories.markets import escape_like

# What a plan may select, per table: anything else is a programming error, never SQL.
COLUMNS = {
    "users": frozenset({"id", "email", "name", "role", "created_at", "balance"}),
    "markets": frozenset({
        "id", "name", "description", "status", "volume", "end_date", "resolved_outcome", "creator_id",
        "created_at", "updated_at", "yes_pool", "no_pool",
    }),
    "positions": frozenset({
        "id", "market_id", "user_id", "outcome", "amount", "created_at", "shares", "proceeds", "sold_at", "payout",
    }),
}
# The NUMERIC(14, 2) columns, selected as their text.
MONEY_COLUMNS = frozenset({"balance", "volume", "yes_pool", "no_pool", "amount", "shares", "proceeds", "payout"})
# Foreign keys naming a user; a join's alias as the planner writes it.
FOREIGN_KEYS = frozenset({"creator_id", "user_id"})
JOIN_ALIAS = re.compile(r"j[0-9]+")
VIEWER_COLUMNS = "id, email, name, role, created_at, balance"
# One ordering: (SQL expression, descending), the id last as the tie-breaker.
Ordering = tuple[tuple[str, bool], ...]
POSITIONS_NEWEST_FIRST: Ordering = (("created_at", True), ("id", True))
NULLS_LAST_FLAG = "CASE WHEN end_date IS NULL THEN 1 ELSE 0 END"


def asyncpg_dsn(database_url: str) -> str:
    """The libpq URL of an SQLAlchemy `postgresql+asyncpg://` URL."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


def market_ordering(order: MarketOrder) -> Ordering:
    """The same ordering as persistence.repositories.markets.sort_columns, as SQL."""
    descending = order.direction is SortDirection.DESC
    if order.field is MarketSortField.END_DATE:
        return (NULLS_LAST_FLAG, False), ("end_date", descending), ("id", descending)
    expression = {
        # Qualified: a bare `volume` in ORDER BY would be the selected column, volume's text.
        MarketSortField.CREATED_AT: "created_at", MarketSortField.VOLUME: "markets.volume",
        MarketSortField.NAME: "lower(name)",
    }[order.field]
    return (expression, descending), ("id", descending)


class Statement:
    """SQL text under construction with its positional parameters."""

    def __init__(self) -> None:
        self.params: list[Any] = []

    def param(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"


def beyond(sql: Statement, ordering: Ordering, key: SortKey) -> str:
    """Rows strictly after `key` in `ordering`; a None in the key is a NULL group the flag column
    already separates (persistence.keyset.beyond, the same rule)."""
    pairs = [(column, value) for column, value in zip(ordering, key, strict=True) if value is not None]
    clauses = []
    for index, ((expression, descending), value) in enumerate(pairs):
        equal = [f"{e} = {sql.param(v)}" for (e, _), v in pairs[:index]]
        step = f"{expression} {'<' if descending else '>'} {sql.param(value)}"
        clauses.append("(" + " AND ".join([*equal, step]) + ")")
    return "(" + " OR ".join(clauses) + ")" if clauses else "false"


def order_clause(ordering: Ordering) -> str:
    return ", ".join(f"{e} {'DESC' if d else 'ASC'}" for e, d in ordering)


def walked(ordering: Ordering, request: PageRequest) -> Ordering:
    return tuple((e, not d) for e, d in ordering) if request.backward else ordering


def cursor_bounds(sql: Statement, ordering: Ordering, request: PageRequest) -> list[str]:
    reversed_ordering = tuple((e, not d) for e, d in ordering)
    bounds = []
    if request.after is not None:
        bounds.append(beyond(sql, ordering, request.after))
    if request.before is not None:
        bounds.append(beyond(sql, reversed_ordering, request.before))
    return bounds


def market_conditions(sql: Statement, where: MarketFilter) -> list[str]:
    """The filter as SQL conditions (persistence.repositories.markets.filtered, the same rules)."""
    if where.matches_nothing:
        return ["false"]
    conditions = []
    if where.status is not None:
        conditions.append(f"status = {sql.param(where.status.value)}")
    if where.creator_id is not None:
        conditions.append(f"creator_id = {sql.param(where.creator_id)}")
    if where.name_contains:
        pattern = sql.param(f"%{escape_like(where.name_contains)}%")
        conditions.append(f"lower(name) LIKE lower({pattern}) ESCAPE '\\'")
    if where.ends_before is not None:
        conditions.append(f"end_date < {sql.param(where.ends_before)}")
    if where.ends_after is not None:
        conditions.append(f"end_date > {sql.param(where.ends_after)}")
    return conditions


def checked(table: str, columns: Sequence[str]) -> list[str]:
    unknown = set(columns) - COLUMNS[table]
    if unknown:
        raise ValueError(f"no such columns in {table}: {sorted(unknown)}")
    return list(dict.fromkeys(["id", *columns]))


def column_value(qualifier: str, column: str, name: str) -> str:
    """A column as selected under `name`: money as its text."""
    if column in MONEY_COLUMNS:
        return f"{qualifier}{column}::text AS {name}"
    return f"{qualifier}{column}" if name == column else f"{qualifier}{column} AS {name}"


def selected(table: str, columns: Sequence[str], qualifier: str = "") -> str:
    return ", ".join(column_value(qualifier, column, column) for column in checked(table, columns))


def reselected(table: str, columns: Sequence[str], qualifier: str) -> str:
    """The columns of a subquery that selected them already (money already its text)."""
    return ", ".join(qualifier + column for column in checked(table, columns))


def joined(base: str, joins: Sequence[Join]) -> tuple[str, str]:
    """The joined users' columns (`alias.column`) and their LEFT JOINs onto the rows of `base`."""
    for join in joins:
        if not JOIN_ALIAS.fullmatch(join.alias) or join.column not in FOREIGN_KEYS:
            raise ValueError(f"not a join: {join}")
    columns = "".join(
        ", " + column_value(j.alias + ".", c, f'"{j.alias}.{c}"') for j in joins for c in checked("users", j.columns)
    )
    clauses = "".join(f" LEFT JOIN users AS {j.alias} ON {j.alias}.id = {base}.{j.column}" for j in joins)
    return columns, clauses


def where_clause(conditions: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def sort_key_reader(width: int) -> Callable[[Row], SortKey]:
    """A row's sort key: its `sort_0` … columns (two at least: the id breaks ties), as selected beside
    it; no columns (width 0), an empty key."""
    if not width:
        return no_key
    reader: Callable[[Row], SortKey] = itemgetter(*[f"sort_{i}" for i in range(width)])
    return reader


def no_key(_row: Row) -> SortKey:
    return ()


def sort_keys_selected(ordering: Ordering, keyed: bool) -> str:
    """The ordering's expressions as `sort_0` …, each after a comma; none when no cursor is shown."""
    return "".join(f", {e} AS sort_{i}" for i, (e, _) in enumerate(ordering)) if keyed else ""


@functools.lru_cache(maxsize=1024)
def by_ids_query(table: str, columns: tuple[str, ...], joins: tuple[Join, ...]) -> str:
    """The statement reading rows of `table` by their ids, written once per shape (a plan reads the same
    columns and joins on every request)."""
    users, clauses = joined("b", joins)
    return f"SELECT {selected(table, columns, 'b.')}{users} FROM {table} AS b{clauses} WHERE b.id = ANY($1::bigint[])"


class PostgresViews:
    """domain.ports.ReadViews over connections of its own (persistence.connections)."""

    def __init__(self, database_url: str, *, max_connections: int, on_statement: Callable[[], None]) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._max_connections = max_connections
        self._on_statement = on_statement
        self._connections = self._lender()

    def _lender(self) -> ConnectionLender:
        # Kept once opened, as the engine's are: no connecting (and type introspection) under load.
        return ConnectionLender(self._dsn, size=self._max_connections, server_settings={"jit": "off"})

    async def _fetch(self, query: str, params: Sequence[Any]) -> list[asyncpg.Record]:
        self._on_statement()
        return await self._connections.fetch(query, params)

    async def close(self) -> None:
        """Close the connections; the next read opens new ones."""
        connections, self._connections = self._connections, self._lender()
        await connections.close()

    async def viewer(self, user_id: int) -> User | None:
        rows = await self._fetch(f"SELECT {VIEWER_COLUMNS} FROM users WHERE id = $1", [user_id])
        if not rows:
            return None
        row = rows[0]
        return User(
            id=row["id"], email=row["email"], name=row["name"], role=Role(row["role"]),
            created_at=row["created_at"], balance=row["balance"],
        )

    async def users_by_ids(self, ids: Sequence[int], columns: Sequence[str]) -> Mapping[int, Row]:
        return await self._by_ids("users", ids, columns, ())

    async def markets_by_ids(
        self, ids: Sequence[int], columns: Sequence[str], joins: Sequence[Join] = ()
    ) -> Mapping[int, Row]:
        return await self._by_ids("markets", ids, columns, joins)

    async def _by_ids(
        self, table: str, ids: Sequence[int], columns: Sequence[str], joins: Sequence[Join]
    ) -> Mapping[int, Row]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        query = by_ids_query(table, tuple(columns), tuple(joins))
        return {row["id"]: row for row in await self._fetch(query, [wanted])}

    async def market_page(
        self, *, columns: Sequence[str], filter: MarketFilter, order: MarketOrder, request: PageRequest,
        joins: Sequence[Join] = (), counted: bool = False, keyed: bool = True,
    ) -> tuple[Page[Row], int | None]:
        ordering = market_ordering(order)
        sql = Statement()
        matching = market_conditions(sql, filter)
        conditions = [*matching, *cursor_bounds(sql, ordering, request)]
        # The outer ordering (with joins) reads the sort keys: selected then whether keyed or not.
        sort_keys = sort_keys_selected(ordering, keyed or bool(joins))
        # Counted by the same statement: an uncorrelated subquery, which PostgreSQL runs once.
        count = f", (SELECT count(*) FROM markets{where_clause(matching)}) AS total_count" if counted else ""
        walk = walked(ordering, request)
        query = (
            f"SELECT {selected('markets', columns)}{sort_keys}{count} FROM markets{where_clause(conditions)} "
            f"ORDER BY {order_clause(walk)} LIMIT {sql.param(request.size + 1)}"
        )
        if joins:
            users, clauses = joined("b", joins)
            outer = ", ".join(f"b.sort_{i} {'DESC' if d else 'ASC'}" for i, (_, d) in enumerate(walk))
            query = f"SELECT b.*{users} FROM ({query}) AS b{clauses} ORDER BY {outer}"
        rows: list[Row] = list(await self._fetch(query, sql.params))
        key_of = sort_key_reader(len(ordering) if keyed else 0)
        total = rows[0]["total_count"] if counted and rows else None
        return to_page(rows, [key_of(row) for row in rows], request), total

    async def market_count(self, *, filter: MarketFilter) -> int:
        sql = Statement()
        query = f"SELECT count(*) FROM markets{where_clause(market_conditions(sql, filter))}"
        return int((await self._fetch(query, sql.params))[0][0])

    async def position_pages_by_market(
        self, market_ids: Sequence[int], columns: Sequence[str], request: PageRequest, joins: Sequence[Join] = (),
        keyed: bool = True,
    ) -> Mapping[int, Page[Row]]:
        if not market_ids:
            return {}
        ordering = POSITIONS_NEWEST_FIRST
        sql = Statement()
        conditions = [f"market_id = ANY({sql.param(sorted(set(market_ids)))}::bigint[])",
                      *cursor_bounds(sql, ordering, request)]
        users, clauses = joined("ranked", joins)
        # The rank only orders and cuts: not selected (one column fewer to decode per row).
        query = (
            f"SELECT {reselected('positions', [*columns, 'market_id'], 'ranked.')}"
            f"{''.join(f', ranked.sort_{i}' for i in range(len(ordering))) if keyed else ''}{users} "
            f"FROM (SELECT {selected('positions', [*columns, 'market_id'])}{sort_keys_selected(ordering, keyed)}, "
            f"row_number() OVER (PARTITION BY market_id ORDER BY {order_clause(walked(ordering, request))}) "
            f"AS page_rank FROM positions{where_clause(conditions)}) AS ranked{clauses} "
            f"WHERE ranked.page_rank <= {sql.param(request.size + 1)} ORDER BY ranked.market_id, ranked.page_rank"
        )
        grouped: dict[int, tuple[list[Row], list[SortKey]]] = {pid: ([], []) for pid in market_ids}
        key_of = sort_key_reader(len(ordering) if keyed else 0)
        for row in await self._fetch(query, sql.params):
            items, keys = grouped[row["market_id"]]
            items.append(row)
            keys.append(key_of(row))
        return {pid: to_page(items, keys, request) for pid, (items, keys) in grouped.items()}

    async def position_counts_by_market(self, market_ids: Sequence[int]) -> Mapping[int, int]:
        wanted = sorted(set(market_ids))
        counts = dict.fromkeys(wanted, 0)
        if wanted:
            query = "SELECT market_id, count(*) FROM positions WHERE market_id = ANY($1::bigint[]) GROUP BY market_id"
            counts.update({row[0]: row[1] for row in await self._fetch(query, [wanted])})
        return counts
