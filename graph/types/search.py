"""Search hits."""

from __future__ import annotations

import strawberry

from graph.types.objects import MarketType


@strawberry.type
class MarketSearchHit:
    market: MarketType
    score: float = strawberry.field(description="Similarity in [0, 1]; hits come best first.")
