"""Relay's Node interface and the lookup of any object by its global id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from aiodataloader import DataLoader
from strawberry.types import Info

from domain.access import owns_or
from domain.roles import Permission
from graph import ids


@strawberry.interface(description="An object with an opaque global identifier (Relay Global Object Identification).")
class Node:
    id: strawberry.ID


async def load_node(info: Info, global_id: str, *, only: str | None = None) -> Node | None:
    """The object a global id names (of type `only`, when given), or None; None too for a
    Transaction the viewer may not see (only its user and admins may)."""
    from graph.types.economy import TransactionType
    from graph.types.markets import MarketType
    from graph.types.positions import PositionType
    from graph.types.users import UserType

    decoded = ids.decode_any(global_id)
    if decoded is None or (only is not None and decoded[0] != only):
        return None
    type_name, pk = decoded
    loaders = info.context.loaders
    kinds: dict[str, tuple[DataLoader[int, Any], Callable[[Any], Node]]] = {
        "User": (loaders.user, UserType.from_entity),
        "Market": (loaders.market, MarketType.from_entity),
        "Position": (loaders.position, PositionType.from_entity),
        "Transaction": (loaders.transaction, TransactionType.from_entity),
    }
    if type_name not in kinds:
        return None
    loader, to_type = kinds[type_name]
    entity = await loader.load(pk)
    if entity is None or (type_name == "Transaction" and not owns_or(info.context.viewer, entity.user_id,
                                                                       Permission.ADMIN)):
        return None
    return to_type(entity)
