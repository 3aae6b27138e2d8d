"""Every write service enforces its own access rule, whoever calls it (no resolver, no permission class here)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import views
from domain.entities import MarketStatus, Outcome
from domain.errors import Forbidden, Unauthenticated
from domain.pagination import PageRequest
from domain.roles import Role
from domain.services import ledger, markets, positions, search, users
from domain.services.markets import MarketEdit
from domain.services.positions import Purchase
from tests.domain.fakes import FakeUnitOfWork, clock


class NoJobs:
    """A job queue that must not be reached."""

    backend = "none"

    async def enqueue(self, function: str, **kwargs: object) -> str:
        raise AssertionError("a refused request queued a job")


async def test_delete_market_needs_a_moderator() -> None:
    uow = FakeUnitOfWork()
    owner = await uow.user(Role.USER)
    market = await uow.market(owner)
    with pytest.raises(Unauthenticated):
        await markets.delete_market(uow=uow, clock=clock, viewer=None, market_id=market.id)
    with pytest.raises(Forbidden, match="DELETE"):
        await markets.delete_market(uow=uow, clock=clock, viewer=owner, market_id=market.id)
    assert uow.markets.deleted == [] and uow.ledger.settled == [] and uow.commits == 0

    moderator = await uow.user(Role.MODERATOR)
    assert await markets.delete_market(uow=uow, clock=clock, viewer=moderator, market_id=market.id) == market.id
    assert uow.markets.deleted == [market.id]
    assert uow.ledger.settled == [(market.id, None)]  # refunded first: it was not settled


async def test_resolve_market_needs_a_moderator() -> None:
    uow = FakeUnitOfWork()
    owner = await uow.user(Role.USER)
    market = await uow.market(owner)
    with pytest.raises(Forbidden):
        await markets.resolve_market(uow=uow, clock=clock, viewer=owner, market_id=market.id, outcome=Outcome.YES)
    assert uow.markets.rows[market.id].status is MarketStatus.ACTIVE

    admin = await uow.user(Role.ADMIN)
    resolved = await markets.resolve_market(uow=uow, clock=clock, viewer=admin, market_id=market.id,
                                            outcome=Outcome.YES)
    assert resolved.status is MarketStatus.RESOLVED
    assert uow.ledger.settled == [(market.id, Outcome.YES)]


async def test_update_market_owner_edits_text_moderator_status() -> None:
    uow = FakeUnitOfWork()
    owner, stranger = await uow.user(Role.USER), await uow.user(Role.USER)
    market = await uow.market(owner)
    with pytest.raises(Forbidden, match="your own markets"):
        await markets.update_market(uow=uow, clock=clock, viewer=stranger, market_id=market.id,
                                    edit=MarketEdit(name="Will it snow?"))
    with pytest.raises(Forbidden, match="change a market's status"):
        await markets.update_market(uow=uow, clock=clock, viewer=owner, market_id=market.id,
                                    edit=MarketEdit(status=MarketStatus.CLOSED))
    edited = await markets.update_market(uow=uow, clock=clock, viewer=owner, market_id=market.id,
                                         edit=MarketEdit(name="Will it snow?"))
    assert edited.name == "Will it snow?"

    moderator = await uow.user(Role.MODERATOR)
    closed = await markets.update_market(uow=uow, clock=clock, viewer=moderator, market_id=market.id,
                                         edit=MarketEdit(status=MarketStatus.CLOSED))
    assert closed.status is MarketStatus.CLOSED


async def test_create_market_and_open_position_need_a_viewer() -> None:
    uow = FakeUnitOfWork()
    owner = await uow.user(Role.USER)
    with pytest.raises(Unauthenticated):
        await markets.create_market(uow=uow, clock=clock, economy=ledger.Economy(), viewer=None, name="Rain?",
                                    description="", end_date=None, initial_position=None)
    market = await uow.market(owner)
    with pytest.raises(Unauthenticated):
        await positions.open_position(uow=uow, clock=clock, viewer=None,
                                      purchase=Purchase(market_id=market.id, outcome=Outcome.YES,
                                                        amount=Decimal("10.00")))
    assert uow.positions.rows == {} and uow.commits == 0


async def test_only_the_holder_sells_a_position_whatever_their_role() -> None:
    uow = FakeUnitOfWork()
    holder, admin = await uow.user(Role.USER), await uow.user(Role.ADMIN)
    market = await uow.market(holder)
    bought = await positions.open_position(
        uow=uow, clock=clock, viewer=holder,
        purchase=Purchase(market_id=market.id, outcome=Outcome.YES, amount=Decimal("10.00")),
    )
    with pytest.raises(Forbidden, match="holder"):
        await positions.sell_position(uow=uow, clock=clock, viewer=admin, position_id=bought.id, min_proceeds=None)
    assert uow.positions.rows[bought.id].sold_at is None
    sold = await positions.sell_position(uow=uow, clock=clock, viewer=holder, position_id=bought.id,
                                         min_proceeds=None)
    assert sold.proceeds is not None and sold.proceeds > 0


async def test_admin_only_writes() -> None:
    uow = FakeUnitOfWork()
    user, moderator, admin = await uow.user(Role.USER), await uow.user(Role.MODERATOR), await uow.user(Role.ADMIN)
    with pytest.raises(Forbidden, match="ADMIN"):
        await ledger.adjust_balance(uow=uow, clock=clock, viewer=moderator, user_id=user.id,
                                    amount=Decimal("5.00"), note="bonus")
    with pytest.raises(Forbidden, match="ADMIN"):
        await users.set_user_role(uow=uow, viewer=moderator, user_id=user.id, role=Role.MODERATOR)
    with pytest.raises(Forbidden, match="ADMIN"):
        await search.request_reindex(uow=uow, jobs=NoJobs(), viewer=moderator, market_id=1)
    assert uow.ledger.balances[user.id] == Decimal("1000.00") and uow.users.rows[user.id].role is Role.USER

    credited = await ledger.adjust_balance(uow=uow, clock=clock, viewer=admin, user_id=user.id,
                                           amount=Decimal("5.00"), note="bonus")
    assert credited.balance == Decimal("1005.00")
    promoted = await users.set_user_role(uow=uow, viewer=admin, user_id=user.id, role=Role.MODERATOR)
    assert promoted.role is Role.MODERATOR


async def test_an_admin_cannot_lower_their_own_role() -> None:
    uow = FakeUnitOfWork()
    admin = await uow.user(Role.ADMIN)
    with pytest.raises(Forbidden, match="your own role"):
        await users.set_user_role(uow=uow, viewer=admin, user_id=admin.id, role=Role.USER)
    assert uow.users.rows[admin.id].role is Role.ADMIN


async def test_the_users_list_is_for_admins() -> None:
    uow = FakeUnitOfWork()
    user, admin = await uow.user(Role.USER), await uow.user(Role.ADMIN)
    with pytest.raises(Forbidden):
        await views.users_page(reads=uow, viewer=user, role=None, request=PageRequest())
    with pytest.raises(Unauthenticated):
        await views.users_count(reads=uow, viewer=None, role=None)
    page = await views.users_page(reads=uow, viewer=admin, role=Role.USER, request=PageRequest())
    assert [u.id for u in page.items] == [user.id]
    assert await views.users_count(reads=uow, viewer=admin, role=None) == 2
