"""The schema: Query and Mutation assembled from resolvers, permissions attached declaratively."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import strawberry
from strawberry.extensions import DisableIntrospection, FieldExtension, SchemaExtension

from domain.bounded import BoundedLRU
from domain.roles import MODERATE, Permission
from graph.errors import ValidationPhase
from graph.extensions.document_cache import DocumentCache, Key, Parsed, document_store
from graph.extensions.input_checks import InputStrings
from graph.extensions.limits import Limits, query_limits
from graph.extensions.mutation_budget import MutationBudget
from graph.extensions.retries import RetryTransientErrors
from graph.extensions.socket_only_subscriptions import SubscriptionsOverWebSocket
from graph.mutations.adjust_balance import adjust_balance
from graph.mutations.create_market import create_market
from graph.mutations.delete_market import delete_market
from graph.mutations.login import login
from graph.mutations.open_position import open_position
from graph.mutations.reindex_market import reindex_market
from graph.mutations.resolve_market import resolve_market
from graph.mutations.sell_position import sell_position
from graph.mutations.set_user_role import set_user_role
from graph.mutations.sign_up import sign_up
from graph.mutations.update_market import update_market
from graph.permissions import requires, signed_in
from graph.resolvers import markets as market_queries
from graph.resolvers import quotes
from graph.resolvers import users as user_queries
from graph.scalars import SCALAR_OVERRIDES
from graph.subscriptions import Subscription
from graph.types.objects import MarketType, PositionType, TransactionType, UserType


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
    quote = strawberry.field(
        resolver=quotes.quote,
        description="The shares `amount` would buy now, by the rules of openPosition; nothing is bought.",
    )


def mutation(
    resolver: Callable[..., Any], *, permissions: Sequence[FieldExtension] = (), description: str | None = None
) -> Any:
    """A mutation field: its permissions, then transient database errors retried."""
    return strawberry.mutation(
        resolver=resolver, description=description, extensions=[*permissions, RetryTransientErrors()]
    )


@strawberry.type
class Mutation:
    sign_up = mutation(sign_up)
    login = mutation(login)
    create_market = mutation(create_market, permissions=requires(Permission.WRITE))
    update_market = mutation(update_market, permissions=requires(Permission.WRITE))
    delete_market = mutation(
        delete_market, permissions=requires(MODERATE),
        description="Moderators and admins. Returns the id of the deleted market.",
    )
    resolve_market = mutation(resolve_market, permissions=requires(MODERATE), description="Moderators and admins.")
    open_position = mutation(open_position, permissions=requires(Permission.WRITE))
    sell_position = mutation(
        sell_position, permissions=requires(Permission.WRITE),
        description="The holder only: sells every share of the position to the market maker.",
    )
    adjust_balance = mutation(
        adjust_balance, permissions=requires(Permission.ADMIN),
        description="Admins only: credits (positive amount) or debits (negative) a user's balance, with a reason.",
    )
    set_user_role = mutation(set_user_role, permissions=requires(Permission.ADMIN), description="Admins only.")
    reindex_market = mutation(
        reindex_market, permissions=requires(Permission.ADMIN),
        description="Admins only. Queues a fresh encoding of the market for searchMarkets; true once queued.",
    )


class Schema(strawberry.Schema):
    # Parsed and validated documents, bounded (graph.extensions.document_cache); set by build_schema.
    documents: BoundedLRU[Key, Parsed]

    def process_errors(self, errors: Sequence[object], execution_context: object = None) -> None:
        """Errors are classified and logged once, by the HTTP view; strawberry's own logging is off."""


def build_schema(
    *, introspection: bool = True, limits: Limits | None = None, conceal: Callable[[object], None] = lambda value: None
) -> Schema:
    """The schema with its bounded document cache and query limits; introspection off when asked. `conceal`
    is told every password the request carries (the application's logs then never show it)."""
    limits = limits or Limits()
    documents = document_store()
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: DocumentCache(documents, limits),  # parses and validates: first
        # Before ValidationPhase, which notes whether anything refused the document.
        lambda: InputStrings(documents, conceal=conceal),
        ValidationPhase,
        SubscriptionsOverWebSocket,
        query_limits(limits),  # after ValidationPhase: costs only what validated
        MutationBudget,  # after the limits: charges only what may run
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    schema = Schema(
        query=Query, mutation=Mutation, subscription=Subscription,
        types=[UserType, MarketType, PositionType, TransactionType], extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,
    )
    schema.documents = documents
    return schema
