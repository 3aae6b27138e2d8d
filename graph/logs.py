"""Log lines through structlog on standard error: JSON in production, readable in development.

The stdlib root handler formats every record, uvicorn's and the app's own, with one
structlog ProcessorFormatter, and each line carries the id of the request it belongs to.
"""

from __future__ import annotations

import logging
import sys

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from graph.requests import current, current_request_id

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# uvicorn logs access lines only while "uvicorn.access" has a handler, its ancestors' included.
SILENT_LOGGERS = ("uvicorn.access",)


class RequestIdFilter(logging.Filter):
    """Sets `record.request_id`, for plain stdlib handlers (structlog lines get it below)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


def add_request_id(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    """Tag the line with the current request's id, when it belongs to a request."""
    info = current.get()
    if info is not None:
        event.setdefault("request_id", info.request_id)
    return event


def shared_processors() -> list[Processor]:
    """What every line gets, whether it comes from structlog or from a stdlib logger."""
    return [
        add_request_id,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def json_line(event: EventDict, **_: object) -> str:
    """orjson for the per-request line: several times faster than the stdlib encoder."""
    return orjson.dumps(event, default=str).decode()


def formatter(*, json: bool, colors: bool = False) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter: a JSON object per line, or a console line with the traceback below."""
    renderer: list[Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(serializer=json_line)]
        if json else [structlog.dev.ConsoleRenderer(colors=colors)]
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def configure(level: str, *, json: bool = False) -> None:
    """Route structlog and every stdlib logger (uvicorn's included) through one handler on stderr."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level, *shared_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: a logger used before configure() would keep the defaults forever.
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(json=json, colors=not json and sys.stderr.isatty()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        # The middleware's "request" line is the access log: one line per request, not two.
        logger.propagate = name not in SILENT_LOGGERS
