"""Relay's Node interface (graph.types.objects.load_node finds any object by its global id)."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object with an opaque global identifier (Relay Global Object Identification).")
class Node:
    id: strawberry.ID
