"""Which failures of the database mean what: the driver's exception classes are persistence's knowledge.

The API asks through the `StoreFaults` port (domain/ports.py): "down" answers SERVICE_UNAVAILABLE with
a 503 instead of INTERNAL_SERVER_ERROR; "transient" runs a mutation's transaction again.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# The server, or the network to it, is gone: nothing the request did wrong.
DATABASE_DOWN = (OperationalError, InterfaceError, OSError, TimeoutError)
# serialization_failure, deadlock_detected: the transaction may simply be run again.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


def is_database_down(error: BaseException | None) -> bool:
    """The database cannot be reached (the error itself, or the driver error SQLAlchemy wraps)."""
    return isinstance(error, DATABASE_DOWN) or isinstance(getattr(error, "orig", None), DATABASE_DOWN)


def is_transient(error: BaseException) -> bool:
    """A transaction that failed for reasons of its own timing: a dropped connection, a serialization
    failure or a deadlock."""
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return state in TRANSIENT_SQLSTATES


class SqlFaults:
    """domain.ports.StoreFaults for the SQLAlchemy engine and the asyncpg read views."""

    def database_down(self, error: BaseException | None) -> bool:
        return is_database_down(error)

    def transient(self, error: BaseException) -> bool:
        return is_transient(error)
