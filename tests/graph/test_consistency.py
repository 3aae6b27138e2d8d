"""Writes that must hold together under concurrency."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from tests.conftest import Api

OPEN = "mutation($input: OpenPositionInput!) { openPosition(input: $input) { id amount } }"


async def test_concurrent_open_positions_keep_volume_exact(api: Api) -> None:
    market = await api.make_market(await api.make_user())
    traders = [await api.make_user() for _ in range(5)]
    amounts = [Decimal("0.01") * (n % 97 + 1) + Decimal(n % 13) for n in range(60)]

    async def open_one(n: int) -> None:
        outcome = "YES" if n % 2 else "NO"
        variables = {"input": {"marketId": market["id"], "outcome": outcome, "amount": str(amounts[n])}}
        await api.data(OPEN, variables, token=traders[n % len(traders)].token)

    await asyncio.gather(*(open_one(n) for n in range(len(amounts))))
    body = await api.data(
        "query($id: ID!) { market(id: $id) { volume positions(first: 100) { totalCount edges { node { amount } } } } }",
        {"id": market["id"]},
    )
    data = body["market"]
    assert data["positions"]["totalCount"] == len(amounts)
    stored = sum(Decimal(e["node"]["amount"]) for e in data["positions"]["edges"])
    assert Decimal(data["volume"]) == stored == sum(amounts)
