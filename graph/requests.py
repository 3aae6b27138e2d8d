"""Request ids and statement counts, carried per request in context variables."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

VALID_REQUEST_ID = re.compile(r"^[\x21-\x7e]{1,128}$")

request_id: ContextVar[str] = ContextVar("request_id", default="-")


class StatementCounter:
    def __init__(self) -> None:
        self.count = 0


statements: ContextVar[StatementCounter | None] = ContextVar("statements", default=None)


def accept_request_id(sent: str | None) -> str:
    """The client's id when it is 1-128 printable ASCII characters without spaces, else a new one."""
    return sent if sent is not None and VALID_REQUEST_ID.match(sent) else uuid.uuid4().hex


def count_statements(engine: AsyncEngine) -> None:
    """Count every statement the engine sends against the current request's counter."""

    def before_cursor_execute(*_: Any) -> None:
        counter = statements.get()
        if counter is not None:
            counter.count += 1

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
