"""Log lines through structlog on standard error: JSON in production, readable in development.

The stdlib root handler formats every record, uvicorn's and the app's own, with one
structlog ProcessorFormatter, and each line carries the id of the request it belongs to.
Uncaught exceptions and Python warnings go through it too, so that in production every line
the process writes is one JSON object.

No line may carry a secret. Tracebacks are plain (never with local variables, which hold
passwords and the token service's key), and every line passes a redaction net first: values
under secret-sounding keys, the JWT secret, the current request's passwords and token, and
anything shaped like a JWT, a bearer credential or an argon2 hash become `[REDACTED]`.
"""

from __future__ import annotations

import json as stdlib_json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any, TextIO

import orjson
import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from markets.observability.request_metrics import current, current_request_id

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# uvicorn logs access lines only while "uvicorn.access" has a handler, its ancestors' included.
SILENT_LOGGERS = ("uvicorn.access",)
REDACTED = "[REDACTED]"
SECRET_KEYS = re.compile(r"password|passwd|secret|token|authorization|cookie|credential", re.IGNORECASE)
SECRET_SHAPES = re.compile(
    r"eyJ[\w-]*\.[\w-]*\.[\w-]*"  # a JWT (its header is base64url JSON: `{"` encodes as eyJ)
    r"|\$argon2(?:id|i|d)\$[\w$=,+/.-]+"  # an argon2 hash, as the hasher writes it
    r"|(?<=bearer )[^\s'\"\\,]+",  # a bearer credential, whatever its shape
    re.IGNORECASE,
)
# The websockets library logs each frame's text at DEBUG ("< TEXT '{...}' [96 bytes]"): a client's
# connection_init carries its token there.
FRAME_DATA = re.compile(r"(?<=[<>] TEXT )'.*'(?= \[\d+ bytes\])|(?<=[<>] BINARY ).*(?= \[\d+ bytes\])")
# Too short to redact without mangling every line (a one-letter "password" would blank its letter).
SHORTEST_SECRET = 4


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


def conceal(value: object) -> None:
    """Never log this value (a password or token the current request carries) for the rest of the request."""
    info = current.get()
    if info is not None and isinstance(value, str) and len(value) >= SHORTEST_SECRET:
        info.secrets.add(value)


class Redactor:
    """The safety net every line passes before it is rendered (see the module's docstring)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if len(s) >= SHORTEST_SECRET)

    def scrub(self, text: str) -> str:
        """The text without known secrets or secret-shaped words, and with no lone surrogate left in it."""
        info = current.get()
        for secret in (*self.secrets, *(info.secrets if info is not None else ())):
            if secret in text:
                text = text.replace(secret, REDACTED)
        text = SECRET_SHAPES.sub(REDACTED, FRAME_DATA.sub(REDACTED, text))
        # A lone surrogate cannot be written out as UTF-8: shown as its escape instead.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

    def value(self, value: object) -> object:
        """A logged value, scrubbed all the way down (anything but plain data becomes its text first)."""
        if isinstance(value, str):
            return self.scrub(value)
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, dict):
            return {key: REDACTED if is_secret_key(key) else self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(item) for item in value]
        return self.scrub(str(value))

    def __call__(self, _: WrappedLogger, __: str, event: EventDict) -> EventDict:
        return {
            key: REDACTED if key != "event" and is_secret_key(key) else self.value(item) for key, item in event.items()
        }


def is_secret_key(key: object) -> bool:
    return isinstance(key, str) and SECRET_KEYS.search(key) is not None


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
    try:
        return orjson.dumps(event, default=str).decode()
    except TypeError:  # orjson.JSONEncodeError: an integer over 64 bits, a dict key that is not a string
        return stdlib_json.dumps(event, default=str)


def formatter(*, json: bool, colors: bool = False, secrets: Iterable[str] = ()) -> structlog.stdlib.ProcessorFormatter:
    """The one formatter: a JSON object per line, or a console line with a plain traceback below."""
    renderer: Processor = (
        structlog.processors.JSONRenderer(serializer=json_line) if json
        # Rich's tracebacks would print every frame's local variables: passwords, the JWT secret.
        else structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=structlog.dev.plain_traceback)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # The traceback as text before redaction, so that the net covers it too.
            structlog.processors.format_exc_info,
            Redactor(secrets),
            renderer,
        ],
    )


class LineHandler(logging.StreamHandler[TextIO]):
    """A stream handler that, when a line cannot be written, says so in one line, never with the record's
    arguments (the stdlib's fallback prints them, and a traceback, as plain text)."""

    def __init__(self, *, json: bool) -> None:
        super().__init__(sys.stderr)
        self.json = json

    def handleError(self, record: logging.LogRecord) -> None:
        problem = {"event": "a log line could not be written", "logger": record.name, "level": "error"}
        try:
            self.stream.write((stdlib_json.dumps(problem) if self.json else str(problem)) + self.terminator)
            self.flush()
        except Exception:  # noqa: BLE001 - nowhere left to report it
            pass


def log_uncaught(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    """sys.excepthook: an exception nothing caught, as one log line rather than a bare traceback."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, traceback)
        return
    logging.getLogger("markets").critical("uncaught exception", exc_info=(kind, error, traceback))


def log_uncaught_in_thread(hook: threading.ExceptHookArgs) -> None:
    """threading.excepthook: the same for a thread's exception."""
    if hook.exc_value is not None:
        log_uncaught(hook.exc_type, hook.exc_value, hook.exc_traceback)


def configure(level: str, *, json: bool = False, secrets: Iterable[str] = ()) -> None:
    """Route structlog, every stdlib logger (uvicorn's included), warnings and uncaught exceptions
    through one handler on stderr; `secrets` (the JWT secret) never appear in a line."""
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
    handler = LineHandler(json=json)
    handler.setFormatter(formatter(json=json, colors=not json and sys.stderr.isatty(), secrets=secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        # The middleware's "request" line is the access log: one line per request, not two.
        logger.propagate = name not in SILENT_LOGGERS
    logging.captureWarnings(True)
    sys.excepthook = log_uncaught
    threading.excepthook = log_uncaught_in_thread


def emit(level: int, event: str, **fields: Any) -> None:
    """One line from the command itself (not a request), in the configured format."""
    structlog.stdlib.get_logger("markets").log(level, event, **fields)
