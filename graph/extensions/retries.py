"""Transient database failures (serialization failure, deadlock, dropped connection) are retried,
a bounded number of times with exponential backoff, through tenacity."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.types import Info
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential_jitter

log = logging.getLogger("markets.retries")

ATTEMPTS = 3


def retrying(on_retry: Callable[[], Awaitable[None]], transient: Callable[[BaseException], bool]) -> AsyncRetrying:
    """The retry policy for failures `transient` says may pass (domain.ports.StoreFaults); `on_retry` runs
    before each new attempt (to drop a broken connection)."""

    async def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("transient database error, attempt %d of %d: %r", state.attempt_number, ATTEMPTS, error)
        await on_retry()

    return AsyncRetrying(
        retry=retry_if_exception(transient), stop=stop_after_attempt(ATTEMPTS),
        wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.05), before_sleep=before_sleep,
        reraise=True,
    )


class RetryTransientErrors(FieldExtension):
    """Runs a mutation again, on a fresh connection, when its transaction failed transiently.

    Safe because a mutation's writes are one transaction: a failed attempt left nothing behind.
    """

    async def resolve_async(self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any) -> Any:
        async for attempt in retrying(info.context.scope.release, info.context.services.faults.transient):
            with attempt:
                return await next_(source, info, **kwargs)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover
