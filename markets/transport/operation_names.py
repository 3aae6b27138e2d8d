"""The name and type of the operation a request ran, for its log line and metrics (markets.observability)."""

from __future__ import annotations

from graphql import DocumentNode, OperationDefinitionNode, get_operation_ast
from starlette.requests import Request

from markets.observability.request_metrics import current
from markets.transport.json_codec import loads


async def record_operation(request: Request, document: DocumentNode | None) -> None:
    """Note the name and type of the operation the document runs, once it has parsed."""
    info = current.get()
    if info is None or document is None:
        return
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    # Only a document of several operations needs the operationName the client sent.
    chosen = await requested_operation_name(request) if len(operations) > 1 else None
    operation = get_operation_ast(document, chosen)
    if operation is not None:
        info.operation_name = operation.name.value if operation.name else None
        info.operation_type = operation.operation.value


async def requested_operation_name(request: Request) -> str | None:
    """The request's `operationName`, from the query string or the (already read) JSON body."""
    if request.method == "GET":
        return request.query_params.get("operationName")
    try:
        body = loads(await request.body())
    except (ValueError, RecursionError):
        return None
    name = body.get("operationName") if isinstance(body, dict) else None
    return name if isinstance(name, str) else None
