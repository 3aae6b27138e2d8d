"""Counting the SQL statements a request runs, through SQLAlchemy's engine events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine


class StatementLog:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @classmethod
    def attach(cls, engine: AsyncEngine) -> StatementLog:
        log = cls()

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            log.statements.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        return log

    def clear(self) -> None:
        self.statements.clear()

    @property
    def count(self) -> int:
        return len(self.statements)
