"""What each request did (its id, operation, viewer, statements, cache use, error codes),
carried in a context variable so every layer can add to it and the log line can read it."""

from __future__ import annotations

import os
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

VALID_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")

@dataclass
class RequestInfo:
    request_id: str
    method: str = ""
    path: str = ""
    started: float = field(default_factory=time.perf_counter)
    statements: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    operation_name: str | None = None
    operation_type: str | None = None
    viewer_id: str | None = None
    status: int = 0
    error_codes: list[str] = field(default_factory=list)
    # Values the request carries that no log line may show (its passwords, its token): markets.observability.logs.
    secrets: set[str] = field(default_factory=set)

    @property
    def duration_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


current: ContextVar[RequestInfo | None] = ContextVar("request_info", default=None)


def current_request_id() -> str:
    info = current.get()
    return info.request_id if info is not None else "-"


def record_cache(*, hits: int, misses: int) -> None:
    """Count cache hits and misses against the current request."""
    info = current.get()
    if info is not None:
        info.cache_hits += hits
        info.cache_misses += misses


def accept_request_id(sent: str | None) -> str:
    """The client's id when it is 1-128 printable ASCII characters without spaces, else a new one."""
    # 32 random hex digits, as uuid4().hex gave, without building a UUID object per request.
    return sent if sent is not None and VALID_REQUEST_ID.match(sent) else os.urandom(16).hex()


def count_statement() -> None:
    """Count one statement against the current request (the engine's, and the read views' own)."""
    info = current.get()
    if info is not None:
        info.statements += 1


def count_statements(engine: AsyncEngine) -> None:
    """Count every statement the engine sends against the current request's counter."""

    def before_cursor_execute(*_: Any) -> None:
        count_statement()

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
