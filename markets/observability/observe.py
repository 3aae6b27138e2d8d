"""What the GraphQL layer tells the request's record (markets.observability.request_metrics.current): its operation,
its viewer and its error codes, for the request log line and the request metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from domain.entities import User
from domain.errors import ErrorCode
from graph import ids
from markets.observability.metrics import record_request
from markets.observability.request_metrics import RequestInfo, current

GRAPHQL_PATH = "/graphql"
request_log = structlog.stdlib.get_logger("markets.http")
# The standard library logger structlog's filter_by_level asks: asked first here, so that a request's
# line costs nothing when LOG_LEVEL is above INFO (structlog binds a new logger for every call).
request_logger = logging.getLogger("markets.http")


def record_viewer(viewer: User | None) -> None:
    """Note the viewer's API id (None when anonymous)."""
    info = current.get()
    if info is not None:
        info.viewer_id = ids.encode("User", viewer.id) if viewer is not None else None


def record_error_codes(codes: Iterable[str]) -> None:
    """Add error codes the client is answered with."""
    info = current.get()
    if info is not None:
        info.error_codes.extend(codes)


def record_errors(errors: Iterable[Mapping[str, Any]]) -> None:
    """Add the `extensions.code` of each formatted GraphQL error."""
    record_error_codes(str(e.get("extensions", {}).get("code", ErrorCode.INTERNAL_SERVER_ERROR)) for e in errors)


def finish_request(info: RequestInfo) -> None:
    """The request's one log line, and its metrics when it was a GraphQL request."""
    elapsed_ms = info.duration_ms
    if request_logger.isEnabledFor(logging.INFO):
        request_log.info(
            "request", request_id=info.request_id, method=info.method, path=info.path, status=info.status,
            operation_name=info.operation_name, operation_type=info.operation_type, viewer_id=info.viewer_id,
            duration_ms=round(elapsed_ms, 2), statements=info.statements, cache_hits=info.cache_hits,
            cache_misses=info.cache_misses, error_codes=info.error_codes,
        )
    if info.path == GRAPHQL_PATH:
        record_request(info, elapsed_ms / 1000)
