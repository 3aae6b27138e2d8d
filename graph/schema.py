"""The schema: Query and Mutation assembled from resolvers, permissions attached declaratively."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import strawberry
from strawberry.extensions import DisableIntrospection, ParserCache, SchemaExtension, ValidationCache

from domain.roles import MODERATE, Permission
from graph.errors import ValidationPhase
from graph.mutations.create_market import create_market
from graph.mutations.delete_market import delete_market
from graph.mutations.login import login
from graph.mutations.open_position import open_position
from graph.mutations.resolve_market import resolve_market
from graph.mutations.set_user_role import set_user_role
from graph.mutations.sign_up import sign_up
from graph.mutations.update_market import update_market
from graph.permissions import requires, signed_in
from graph.resolvers import markets as market_queries
from graph.resolvers import users as user_queries
from graph.scalars import SCALAR_OVERRIDES
from graph.types.markets import MarketType
from graph.types.positions import PositionType
from graph.types.users import UserType

CACHE_SIZE = 1024


@strawberry.type
class Query:
    node = strawberry.field(resolver=user_queries.node)
    nodes = strawberry.field(resolver=user_queries.nodes)
    market = strawberry.field(resolver=market_queries.market)
    markets = strawberry.field(
        resolver=market_queries.markets,
        description="Newest first unless orderBy says otherwise; 20 per page unless first or last says otherwise.",
    )
    search_markets = strawberry.field(
        resolver=market_queries.search_markets,
        description="Semantic search over market names and descriptions, best first.",
    )
    me = strawberry.field(resolver=user_queries.me, description="The authenticated viewer.", extensions=signed_in())
    user = strawberry.field(resolver=user_queries.user)
    users = strawberry.field(
        resolver=user_queries.users, description="Admins only. Newest first.", extensions=requires(Permission.ADMIN)
    )


@strawberry.type
class Mutation:
    sign_up = strawberry.mutation(resolver=sign_up)
    login = strawberry.mutation(resolver=login)
    create_market = strawberry.mutation(resolver=create_market, extensions=signed_in())
    update_market = strawberry.mutation(resolver=update_market, extensions=signed_in())
    delete_market = strawberry.mutation(
        resolver=delete_market, description="Moderators and admins. Returns the id of the deleted market.",
        extensions=requires(MODERATE),
    )
    resolve_market = strawberry.mutation(
        resolver=resolve_market, description="Moderators and admins.", extensions=requires(MODERATE)
    )
    open_position = strawberry.mutation(resolver=open_position, extensions=signed_in())
    set_user_role = strawberry.mutation(
        resolver=set_user_role, description="Admins only.", extensions=requires(Permission.ADMIN)
    )


class Schema(strawberry.Schema):
    def process_errors(self, errors: Sequence[object], execution_context: object = None) -> None:
        """Errors are classified and logged once, by the HTTP view; strawberry's own logging is off."""


def build_schema(*, introspection: bool = True) -> Schema:
    """The schema with parse and validation caches; introspection off when asked."""
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
        ValidationPhase,
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        query=Query, mutation=Mutation, types=[UserType, MarketType, PositionType],
        extensions=extensions, scalar_overrides=SCALAR_OVERRIDES,
    )
