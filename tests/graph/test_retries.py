"""The retry policy: which database errors are transient, and that mutations run again on them."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from graph.extensions.retries import RetryTransientErrors
from persistence.faults import SqlFaults, is_transient


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def database_error(sqlstate: str, *, dropped: bool = False) -> DBAPIError:
    return DBAPIError("UPDATE markets SET ...", {}, DriverError(sqlstate), connection_invalidated=dropped)


@pytest.mark.parametrize(("error", "transient"), [
    (database_error("40001"), True),  # serialization failure
    (database_error("40P01"), True),  # deadlock detected
    (database_error("08006", dropped=True), True),  # connection dropped
    (database_error("23505"), False),  # unique violation: running again changes nothing
    (IntegrityError("INSERT ...", {}, DriverError("23503")), False),
    (ValueError("not a database error"), False),
])
def test_transient_errors_are_told_apart(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


class Session:
    """A request's scope; counts the connections given back between attempts (release: the session stays usable)."""

    released = 0

    async def release(self) -> None:
        self.released += 1


class Info:
    """A resolver's info: its scope, and the services' reading of database failures (persistence.faults)."""

    def __init__(self) -> None:
        services = type("Services", (), {"faults": SqlFaults()})()
        self.context = type("Context", (), {"scope": Session(), "services": services})()


async def test_a_mutation_runs_again_on_a_fresh_connection_after_a_transient_error() -> None:
    attempts: list[int] = []

    async def resolver(_source: Any, _info: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise database_error("40001")
        return "done"

    info = Info()
    assert await RetryTransientErrors().resolve_async(resolver, None, info) == "done"  # type: ignore[arg-type]
    assert len(attempts) == 3
    assert info.context.scope.released == 2


async def test_a_mutation_gives_up_after_three_attempts() -> None:
    async def resolver(_source: Any, _info: Any) -> str:
        raise database_error("40P01")

    with pytest.raises(DBAPIError):
        await RetryTransientErrors().resolve_async(resolver, None, Info())  # type: ignore[arg-type]
