"""What a graphql-transport-ws frame must look like before the handler reads it.

A frame that is not text, not JSON, not a JSON object, or whose fields have the wrong types (an
object as `id`, a `payload` that is a string, a `query` that is a number, ...) closes the socket
with 4400 and a fixed reason, as the protocol says of an invalid message: never an exception in the
handler, never a traceback in the log, never the client's text echoed into a close reason.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any

from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived

from graph.extensions.input_checks import problem
from markets.transport.json_codec import loads

CLOSE_BAD_FRAME = 4400
# RFC 6455: a close frame's reason is at most 123 bytes of UTF-8.
MAX_REASON_BYTES = 123
# Which payload fields may be absent (None), and the type each must have when present.
SUBSCRIBE_FIELDS: dict[str, tuple[type, bool]] = {
    "query": (str, False), "variables": (dict, True), "operationName": (str, True), "extensions": (dict, True),
}
KNOWN_TYPES = frozenset({"connection_init", "ping", "pong", "subscribe", "complete"})


class SocketFrames(ASGIWebSocketAdapter):
    """Reads frames as JSON objects (anything else is an invalid message); closes with a reason that fits."""

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        while self.ws.application_state != WebSocketState.DISCONNECTED:
            try:
                text = await self.ws.receive_text()
            except KeyError as error:  # a binary frame
                raise NonTextMessageReceived from error
            except WebSocketDisconnect:
                return
            try:
                message = loads(text)
            except (ValueError, RecursionError):
                message = None
            if not isinstance(message, dict):
                raise NonJsonMessageReceived
            yield message

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code=code, reason=fitting(reason))


def fitting(reason: str) -> str:
    """The reason cut to what a close frame can carry (a longer one makes the close itself fail)."""
    encoded = reason.encode("utf-8", "replace")
    if len(encoded) <= MAX_REASON_BYTES:
        return reason
    return encoded[: MAX_REASON_BYTES - 3].decode("utf-8", "ignore") + "..."


def frame_problem(message: Mapping[str, Any]) -> str | None:
    """Why a decoded frame is not a valid message of the protocol; None when it is."""
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in KNOWN_TYPES:
        return "Unknown message type"
    payload = message.get("payload")
    if kind == "subscribe":
        return subscribe_problem(message.get("id"), payload)
    if kind == "complete":
        return id_problem(message.get("id"))
    if payload is not None and not isinstance(payload, dict):
        return "The payload must be an object"
    return None


def id_problem(value: object) -> str | None:
    """An operation id must be a string the server can echo."""
    if not isinstance(value, str) or not value or problem(value) is not None:
        return "The message id must be a non-empty string"
    return None


def subscribe_problem(id_: object, payload: object) -> str | None:
    """A subscribe message needs an id and a payload of the right shape."""
    if (wrong := id_problem(id_)) is not None:
        return wrong
    if not isinstance(payload, dict):
        return "The subscribe payload must be an object"
    for name, (kind, optional) in SUBSCRIBE_FIELDS.items():
        value = payload.get(name)
        if not (isinstance(value, kind) or (optional and value is None)):
            return f"The subscribe payload's {name} must be {'a string' if kind is str else 'an object'}"
    return None
