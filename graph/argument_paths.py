"""The domain names the fields of a bad input its own way (`end_date`); a client reads them by their
path from the argument (`input.endDate`, contract "Errors"). Each mutation declares its renaming here
once, and runs its service inside `argument_paths`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from domain.errors import BadUserInput

CREATE_MARKET = {
    "name": "input.name",
    "description": "input.description",
    "end_date": "input.endDate",
    "initial_position.amount": "input.initialPosition.amount",
}
UPDATE_MARKET = {"name": "input.name", "description": "input.description", "status": "input.status"}
OPEN_POSITION = {"amount": "input.amount", "min_shares": "input.minShares", "idempotency_key": "input.idempotencyKey"}
SELL_POSITION = {"min_proceeds": "minProceeds"}


@contextmanager
def argument_paths(paths: Mapping[str, str]) -> Iterator[None]:
    """Re-raise a BadUserInput from the block with its fields named by `paths` (the others as they are)."""
    try:
        yield
    except BadUserInput as error:
        raise error.renamed(dict(paths)) from None
