"""Start-up: wait for the database with backoff instead of crashing when it is not up yet."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, RetryCallState, RetryError, retry_if_exception_type, stop_after_delay
from tenacity import wait_exponential_jitter as backoff

from persistence.database import ping

log = logging.getLogger("markets.startup")


def report(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning("database not reachable yet (attempt %d): %r", state.attempt_number, error)


async def wait_for_database(engine: AsyncEngine, *, timeout_seconds: float) -> bool:
    """True once the database answers; False when `timeout_seconds` pass first (the server
    then serves anyway: requests get 503 and /readyz says so, until the database is back)."""
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Exception), stop=stop_after_delay(timeout_seconds),
        wait=backoff(multiplier=0.1, max=5.0, jitter=0.1), before_sleep=report,
    )
    try:
        async for attempt in retrying:
            with attempt:
                await ping(engine)
    except RetryError as error:
        log.error("database still unreachable after %.0f s, serving anyway: %r", timeout_seconds,
                  error.last_attempt.exception())
        return False
    return True
