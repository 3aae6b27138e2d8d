"""Balances: the starting grant, admins' adjustments; every change goes through the ledger."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Context, Decimal

from domain import access, validation
from domain.entities import Transaction, TransactionKind, User
from domain.errors import BadUserInput, Conflict, NotFound
from domain.field_errors import FieldErrors
from domain.ports import Clock, UnitOfWork
from domain.roles import Permission

GRANT_NOTE = "Starting balance"


@dataclass(frozen=True, slots=True)
class Economy:
    """The operator's money settings: STARTING_BALANCE and MARKET_LIQUIDITY."""

    starting_balance: Decimal = Decimal("1000.00")
    market_liquidity: Decimal = Decimal("100.00")


async def grant_starting_balance(uow: UnitOfWork, *, clock: Clock, economy: Economy, user: User) -> User:
    """Inside the caller's transaction (sign-up, create-user): one GRANT of STARTING_BALANCE."""
    if economy.starting_balance == 0:
        return user
    granted = await credit(uow, clock=clock, user_id=user.id, amount=economy.starting_balance,
                           kind=TransactionKind.GRANT, note=GRANT_NOTE)
    return _with_balance(user, granted)


async def credit(
    uow: UnitOfWork, *, clock: Clock, user_id: int, amount: Decimal, kind: TransactionKind,
    market_id: int | None = None, position_id: int | None = None, note: str | None = None,
) -> Transaction:
    """Add a signed amount to a balance with its transaction; CONFLICT if it would go below 0.00."""
    done = await uow.ledger.change_balance(
        user_id=user_id, amount=amount, kind=kind, clock=clock, market_id=market_id, position_id=position_id,
        note=note,
    )
    if done is None:
        raise Conflict("Insufficient balance")
    return done


def adjustment_amount(value: Decimal, *, field: str = "amount") -> Decimal:
    """Non-zero, at most 1,000,000 either way, at most 2 decimal places."""
    if not value.is_finite():
        raise BadUserInput({field: "must be a finite number"})
    if value == 0:
        raise BadUserInput({field: "must not be 0"})
    magnitude = validation.amount(value.copy_abs(), field=field)  # exact: abs() rounds in the context and overflows
    return magnitude.copy_sign(value, context=Context(prec=validation.MONEY_DIGITS))


async def adjust_balance(
    *, uow: UnitOfWork, clock: Clock, viewer: User | None, user_id: int | None, amount: Decimal, note: str
) -> User:
    """An admin's credit or debit with a reason; a debit below 0.00 is a CONFLICT."""
    access.require(viewer, Permission.ADMIN)
    errors = FieldErrors()
    clean_amount = errors.check(adjustment_amount, amount)
    clean_note = errors.check(lambda text: validation.trimmed_length(text, field="note", low=1, high=200), note)
    errors.raise_if_any()
    assert clean_amount is not None and clean_note is not None
    async with uow:
        user = (await uow.users.get_many([user_id])).get(user_id) if user_id is not None else None
        if user is None:
            raise NotFound("No user with this id")
        done = await credit(uow, clock=clock, user_id=user.id, amount=clean_amount, kind=TransactionKind.ADJUSTMENT,
                            note=clean_note)
        await uow.commit()
    return _with_balance(user, done)


def _with_balance(user: User, transaction: Transaction) -> User:
    return replace(user, balance=transaction.balance_after)
