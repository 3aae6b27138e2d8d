"""Rows stored straight through the repositories, with controlled timestamps (to force ties)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.entities import Market, MarketStatus, Outcome, Position, User
from domain.ports import MarketChanges
from domain.roles import Role
from graph import ids
from markets.application import Application
from persistence.unit_of_work import SqlUnitOfWork
from tests.conftest import FAST_HASHER

# A fixed instant well before any end date used in the tests.
BASE = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
PASSWORD_HASH = FAST_HASHER.hash("password123")


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def market_id(market: Market | int) -> str:
    return ids.encode("Market", market if isinstance(market, int) else market.id)


def user_id(user: User | int) -> str:
    return ids.encode("User", user if isinstance(user, int) else user.id)


def position_id(position: Position | int) -> str:
    return ids.encode("Position", position if isinstance(position, int) else position.id)


async def insert_user(
    container: Application, *, email: str, now: datetime = BASE, role: Role = Role.USER, name: str = "Stored User"
) -> User:
    async with SqlUnitOfWork.standalone(container.engine) as uow:
        user = await uow.users.add(email=email, name=name, password_hash=PASSWORD_HASH, role=role, now=now)
        await uow.commit()
    return user


async def insert_market(
    container: Application,
    creator: User,
    *,
    name: str = "A stored market",
    now: datetime = BASE,
    end_date: datetime | None = None,
    volume: Decimal | str | None = None,
    status: MarketStatus = MarketStatus.ACTIVE,
    description: str = "",
) -> Market:
    """A market created at `now` with untouched pools; `volume` is set as given (no trade behind it)."""
    async with SqlUnitOfWork.standalone(container.engine) as uow:
        market = await uow.markets.add(
            name=name, description=description, end_date=end_date, creator_id=creator.id,
            liquidity=container.settings.market_liquidity, now=now,
        )
        if volume is not None and Decimal(volume) != 0:
            await uow.markets.apply_trade(
                market.id, yes_pool=market.yes_pool, no_pool=market.no_pool, volume_added=Decimal(volume), now=now
            )
        if status is not MarketStatus.ACTIVE:
            await uow.markets.update(market.id, MarketChanges(status=status), now=now)
        market = (await uow.markets.get_many([market.id]))[market.id]
        await uow.commit()
    return market


async def insert_position(
    container: Application, market: Market, holder: User, *, amount: str = "1", now: datetime = BASE,
    outcome: Outcome = Outcome.YES,
) -> Position:
    async with SqlUnitOfWork.standalone(container.engine) as uow:
        position = await uow.positions.add(
            market_id=market.id, user_id=holder.id, outcome=outcome, amount=Decimal(amount), shares=Decimal(amount),
            now=now,
        )
        await uow.commit()
    return position
