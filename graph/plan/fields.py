"""What the planner knows of each object type's scalar fields: the columns they read, and how a
value is written, by the very functions the strawberry scalars and types use (graph.scalars,
graph.ids), so both paths spell every value alike."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from domain.entities import pool_probability
from graph import ids
from graph.scalars import serialize_datetime


@dataclass(frozen=True, slots=True)
class ScalarSpec:
    """A scalar field: the columns it needs, and the Python expression that writes its value, each
    `{column}` standing for the column's value in the row; compiled into each object's builder
    (graph.plan.codegen) with the names in WRITERS."""

    columns: tuple[str, ...]
    template: str

    def expression(self, prefix: str) -> str:
        """The expression over `row`, whose columns for this object are named `prefix` + column."""
        return self.template.format(**{column: f"row[{prefix + column!r}]" for column in self.columns})


WRITERS = {"encode_id": ids.encode, "instant": serialize_datetime, "probability": pool_probability, "exact": Decimal}


def global_id(type_name: str) -> ScalarSpec:
    return ScalarSpec(("id",), f"encode_id({type_name!r}, {{id}})")


def plain(column: str) -> ScalarSpec:
    """Strings, and enums whose stored value is their GraphQL name (the domain enums' values are)."""
    return ScalarSpec((column,), f"{{{column}}}")


def written(writer: str, column: str, *, nullable: bool = False) -> ScalarSpec:
    value = f"{{{column}}}"
    expression = f"{writer}({value})"
    return ScalarSpec((column,), f"(None if {value} is None else {expression})" if nullable else expression)


def decimal(column: str) -> ScalarSpec:
    """Money: the read views select NUMERIC(14, 2) as its text, which is the very string
    graph.scalars.serialize_decimal writes (two places, no exponent)."""
    return plain(column)


def optional_decimal(column: str) -> ScalarSpec:
    return plain(column)  # None stays None


def instant(column: str) -> ScalarSpec:
    return written("instant", column)


def optional_instant(column: str) -> ScalarSpec:
    return written("instant", column, nullable=True)


PROBABILITY = ScalarSpec(("yes_pool", "no_pool"), "probability(exact({yes_pool}), exact({no_pool}))")
# Per GraphQL type: its table, the column naming the owner its gated fields are shown to
# (graph.permissions.IsOwnerOr reads `owner_id`, which these types fill from that column), and its scalars.
TABLES = {"Market": "markets", "User": "users", "Position": "positions"}
OWNER_COLUMNS = {"User": "id", "Position": "user_id"}
SCALARS: dict[str, dict[str, ScalarSpec]] = {
    "Market": {
        "id": global_id("Market"), "name": plain("name"), "description": plain("description"),
        "status": plain("status"), "volume": decimal("volume"), "endDate": optional_instant("end_date"),
        "resolvedOutcome": plain("resolved_outcome"), "createdAt": instant("created_at"),
        "updatedAt": instant("updated_at"), "probability": PROBABILITY,
        "yesPool": decimal("yes_pool"), "noPool": decimal("no_pool"),
    },
    "User": {
        "id": global_id("User"), "name": plain("name"), "role": plain("role"), "createdAt": instant("created_at"),
        "email": plain("email"), "balance": decimal("balance"),
    },
    "Position": {
        "id": global_id("Position"), "outcome": plain("outcome"), "amount": decimal("amount"),
        "createdAt": instant("created_at"), "shares": decimal("shares"), "proceeds": optional_decimal("proceeds"),
        "soldAt": optional_instant("sold_at"), "payout": optional_decimal("payout"),
    },
}
# Object fields reached through a foreign key column of the parent row: (target type, column).
REFERENCES: dict[str, dict[str, tuple[str, str]]] = {
    "Market": {"creator": ("User", "creator_id")},
    "Position": {"user": ("User", "user_id")},
}
# Connection fields: the child type, the column of the child naming its parent, the cursor scope.
CONNECTIONS: dict[str, dict[str, tuple[str, str, str]]] = {
    "Market": {"positions": ("Position", "market_id", "market.positions")},
}

