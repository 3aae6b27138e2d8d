"""createMarket: any signed-in user, optionally with a first position in the same transaction."""

from __future__ import annotations

from strawberry.types import Info

from domain.services import markets
from domain.services.markets import InitialPosition
from graph.argument_paths import CREATE_MARKET, argument_paths
from graph.types.inputs import CreateMarketInput
from graph.types.objects import MarketType


async def create_market(info: Info, input: CreateMarketInput) -> MarketType:
    context = info.context
    given = input.initial_position
    with argument_paths(CREATE_MARKET):
        market = await markets.create_market(
            uow=context.unit_of_work(), clock=context.services.clock, economy=context.services.economy,
            viewer=context.viewer,
            name=input.name, description=input.description, end_date=input.end_date,
            initial_position=InitialPosition(given.outcome, given.amount) if given is not None else None,
        )
    context.loaders.remember(market)
    return MarketType.from_entity(market)
