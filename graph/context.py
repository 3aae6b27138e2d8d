"""The per-request context: the viewer, the request's session, its loaders, the container."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql import DocumentNode
from starlette.requests import Request
from starlette.responses import Response

from domain.entities import User
from graph.loaders import Loaders
from markets.bootstrap import Container
from persistence.unit_of_work import Repositories, SqlUnitOfWork


@dataclass
class Context:
    request: Request
    response: Response
    container: Container
    repositories: Repositories
    loaders: Loaders
    viewer: User | None = None
    client_address: str = ""
    # The key the viewer's requests count against (markets.stores.rate_limits); empty when nothing counts them.
    rate_key: str = ""
    # Set by the validation hook: the parsed document, and whether it failed validation.
    document: DocumentNode | None = None
    validation_failed: bool = field(default=False)

    def unit_of_work(self) -> SqlUnitOfWork:
        """A transaction on this request's connection."""
        return SqlUnitOfWork(self.repositories.session, after_commit=self.container.after_commit)
