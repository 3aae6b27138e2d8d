"""Automatic persisted queries, Apollo's protocol: a client may send a query's SHA-256 instead of its text.

`extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` without `query` runs the stored text,
or answers PERSISTED_QUERY_NOT_FOUND ("PersistedQueryNotFound") so that the client sends both; with both,
the hash must be the query's (else HTTP 400) and the query is stored once it validates. With
PERSISTED_QUERIES_ONLY, only hashes already stored (by `register`) run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException
from graphql import GraphQLError
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from domain.errors import PersistedQueryNotFound
from graph.context import Context
from graph.ports import QueryStore

NOT_FOUND = "PersistedQueryNotFound"
ONLY_PERSISTED = "Only registered persisted queries are accepted: send extensions.persistedQuery with a known hash"
MISMATCH = "provided sha does not match query"
# Longer queries still run, they are just not stored: clients must not fill Redis with megabyte strings.
MAX_STORED_LENGTH = 100_000
SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


def sha256_hex(query: str) -> str:
    """The hash a client sends for a query: hex SHA-256 of its UTF-8 text."""
    return hashlib.sha256(query.encode()).hexdigest()


async def register(store: QueryStore, query: str) -> str:
    """Store a query for good (for PERSISTED_QUERIES_ONLY) and return its hash."""
    sha = sha256_hex(query)
    await store.put(sha, query, permanent=True)
    return sha


def refusal_result(refusal: PersistedQueryNotFound) -> ExecutionResult:
    """The GraphQL result of a refused persisted-query request: that one error (HTTP 200)."""
    return ExecutionResult(data=None, errors=[GraphQLError(str(refusal), extensions=refusal.extensions)])


def requested_hash(extensions: dict[str, Any] | None) -> str | None:
    """The lower-case hash in `extensions.persistedQuery`, None without one; HTTP 400 when malformed."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise HTTPException(400, "Unsupported persisted query version: send extensions.persistedQuery.version 1")
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not SHA256_HEX.match(sha):
        raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be a hex SHA-256")
    return sha.lower()


@dataclass
class PersistedQueries:
    """The view's side of the protocol: where queries are stored, and whether only stored ones run."""

    store: QueryStore
    only: bool = False

    async def resolve(self, data: GraphQLRequestData) -> tuple[str | None, str | None]:
        """The query text to run, and the hash to store it under once it validates (None: nothing to store)."""
        sha = requested_hash(data.extensions)
        if sha is None:
            if self.only and data.query is not None:
                raise PersistedQueryNotFound(ONLY_PERSISTED)
            return data.query, None
        if data.query is None:
            stored = await self.store.get(sha)
            if stored is None:
                raise PersistedQueryNotFound(NOT_FOUND)
            return stored, None
        if sha256_hex(data.query) != sha:
            raise HTTPException(400, MISMATCH)
        if self.only and await self.store.get(sha) is None:
            raise PersistedQueryNotFound(ONLY_PERSISTED)
        return data.query, None if self.only else sha

    async def execute(
        self, data: GraphQLRequestData, context: Context,
        run: Callable[[GraphQLRequestData], Awaitable[ExecutionResult]],
    ) -> ExecutionResult:
        """Run the request with its query resolved; store a new query once it parsed and validated."""
        try:
            query, new_sha = await self.resolve(data)
        except PersistedQueryNotFound as refusal:
            return refusal_result(refusal)
        result = await run(dataclasses.replace(data, query=query))
        validated = context.document is not None and not context.validation_failed
        if new_sha is not None and query is not None and validated and len(query) <= MAX_STORED_LENGTH:
            await self.store.put(new_sha, query)
        return result
