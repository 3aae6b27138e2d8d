"""Accounts: signing up, logging in, changing roles."""

from __future__ import annotations

from domain import access, validation
from domain.entities import User
from domain.errors import Conflict, NotFound, Unauthenticated
from domain.field_errors import FieldErrors
from domain.ports import Clock, PasswordHasher, UnitOfWork
from domain.roles import Permission, Role
from domain.services.ledger import Economy, grant_starting_balance

BAD_CREDENTIALS = "Invalid email or password"


async def sign_up(
    *, uow: UnitOfWork, hasher: PasswordHasher, clock: Clock, economy: Economy, email: str, name: str,
    password: str, role: Role = Role.USER,
) -> User:
    """Create an account with a unique, lower-cased email and its STARTING_BALANCE (one GRANT)."""
    errors = FieldErrors()
    clean_email = errors.check(validation.email, email)
    clean_name = errors.check(validation.user_name, name)
    errors.check(validation.password, password)
    errors.raise_if_any()
    assert clean_email is not None and clean_name is not None
    async with uow:
        if await uow.users.get_by_email(clean_email) is not None:
            raise Conflict("An account with this email already exists")
        user = await uow.users.add(
            email=clean_email, name=clean_name, password_hash=await hasher.hash(password), role=role, now=clock()
        )
        user = await grant_starting_balance(uow, clock=clock, economy=economy, user=user)
        await uow.commit()
    return user


async def login(*, uow: UnitOfWork, hasher: PasswordHasher, email: str, password: str) -> User:
    """Check credentials; unknown email and wrong password fail alike, in time too."""
    async with uow:
        user = await uow.users.get_by_email(email.strip().lower())
    if user is None:
        await hasher.verify_unknown(password)
        raise Unauthenticated(BAD_CREDENTIALS)
    if not await hasher.verify(user.password_hash, password):
        raise Unauthenticated(BAD_CREDENTIALS)
    return user


async def set_user_role(*, uow: UnitOfWork, viewer: User | None, user_id: int | None, role: Role) -> User:
    """Give a user a role (admins only); an admin may not lower their own (the last admin stays one)."""
    admin = access.require(viewer, Permission.ADMIN)
    access.require_may_give_role(admin, user_id, role)
    async with uow:
        user = await uow.users.set_role(user_id, role) if user_id is not None else None
        if user is None:
            raise NotFound("No user with this id")
        await uow.commit()
    return user
