"""Named queries: the reads the API makes besides its dataloaders' batches, each over the `Reads` port.

Reads change nothing, so they need no unit of work; like the write services they enforce their
own access rule (the `users` list is for admins only).
"""

from __future__ import annotations

from domain import access
from domain.entities import Market, User
from domain.pagination import MarketFilter, MarketOrder, Page, PageRequest
from domain.ports import Reads
from domain.roles import Permission, Role


async def markets_page(
    *, reads: Reads, filter: MarketFilter, order: MarketOrder, request: PageRequest
) -> Page[Market]:
    """One page of the markets that pass `filter`, in `order`."""
    return await reads.markets.page(filter=filter, order=order, request=request)


async def markets_count(*, reads: Reads, filter: MarketFilter) -> int:
    """How many markets pass `filter` (a connection's totalCount)."""
    return await reads.markets.count(filter=filter)


async def users_page(*, reads: Reads, viewer: User | None, role: Role | None, request: PageRequest) -> Page[User]:
    """One page of the users (of `role`, when given), newest first; admins only."""
    access.require(viewer, Permission.ADMIN)
    return await reads.users.page(role=role, request=request)


async def users_count(*, reads: Reads, viewer: User | None, role: Role | None) -> int:
    """How many users (of `role`, when given) there are; admins only."""
    access.require(viewer, Permission.ADMIN)
    return await reads.users.count(role=role)


async def current_user(*, reads: Reads, user_id: int) -> User | None:
    """The user as the database has them now (a token's subject, whose role may have changed), or None."""
    return (await reads.users.get_many([user_id])).get(user_id)
