"""The domain names the fields of a bad input its own way; the API renames them (tests/test_inputs.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.entities import MarketStatus, Outcome
from domain.errors import BadUserInput
from domain.roles import Role
from domain.services import ledger, markets, positions
from domain.services.markets import InitialPosition, MarketEdit
from domain.services.positions import Purchase
from tests.domain.fakes import NOW, FakeUnitOfWork, clock


async def test_create_market_names_its_own_fields() -> None:
    uow = FakeUnitOfWork()
    owner = await uow.user(Role.USER)
    with pytest.raises(BadUserInput) as refused:
        await markets.create_market(
            uow=uow, clock=clock, economy=ledger.Economy(), viewer=owner, name="x", description="y" * 5001,
            end_date=NOW - timedelta(days=1), initial_position=InitialPosition(Outcome.YES, Decimal("0")),
        )
    assert set(refused.value.fields) == {"name", "description", "end_date", "initial_position.amount"}
    assert uow.markets.rows == {}


async def test_trades_name_their_own_fields() -> None:
    uow = FakeUnitOfWork()
    owner = await uow.user(Role.USER)
    market = await uow.market(owner)
    purchase = Purchase(market_id=market.id, outcome=Outcome.NO, amount=Decimal("0.001"), min_shares=Decimal("-1"),
                        idempotency_key="has spaces")
    with pytest.raises(BadUserInput) as refused:
        await positions.open_position(uow=uow, clock=clock, viewer=owner, purchase=purchase)
    assert set(refused.value.fields) == {"amount", "min_shares", "idempotency_key"}

    bought = await positions.open_position(
        uow=uow, clock=clock, viewer=owner,
        purchase=Purchase(market_id=market.id, outcome=Outcome.NO, amount=Decimal("1.00")),
    )
    with pytest.raises(BadUserInput) as bound:
        await positions.sell_position(uow=uow, clock=clock, viewer=owner, position_id=bought.id,
                                      min_proceeds=Decimal("-1"))
    assert set(bound.value.fields) == {"min_proceeds"}


async def test_update_market_names_status() -> None:
    uow = FakeUnitOfWork()
    moderator = await uow.user(Role.MODERATOR)
    market = await uow.market(moderator)
    with pytest.raises(BadUserInput) as refused:
        await markets.update_market(uow=uow, clock=clock, viewer=moderator, market_id=market.id,
                                    edit=MarketEdit(status=MarketStatus.RESOLVED))
    assert set(refused.value.fields) == {"status"}
