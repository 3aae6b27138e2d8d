"""markets.transport.middleware.compiled_reads: planned reads answered ahead of the stack, with what the stack
would have answered, and everything else handed down it. The shadow is off here (the plan answers for
itself); graphql-core's answer to the same request is the reference. PostgreSQL only (the read views)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.types import Message

from markets.transport.compiled_reads import CompiledReads
from markets.transport.middleware.compiled_reads import CompiledReadsMiddleware
from tests.conftest import Api
from tests.servers import instance

pytestmark = pytest.mark.postgres_only

MARKET = "query($id: ID!) { market(id: $id) { id name volume status creator { id name } } }"


@pytest.fixture
async def front(test_database_url: str) -> AsyncIterator[Api]:
    async with instance(test_database_url, read_plan_shadow=False, rate_limit_per_minute=5) as api:
        yield api


def reads_of(api: Api) -> CompiledReads:
    reads: CompiledReads = api.http._transport.app.state.reads  # type: ignore[attr-defined]
    return reads


async def market_id(api: Api) -> str:
    owner = await api.make_user(name="Owner")
    market: dict[str, Any] = await api.make_market(owner, name="Front market")
    return str(market["id"])


async def test_a_planned_answer_is_graphql_cores_with_the_same_headers(front: Api) -> None:
    variables = {"id": await market_id(front)}
    reference = await front.post(MARKET, variables, headers={"X-Request-ID": "ref-1"})  # validated, cached
    before = reads_of(front).answered
    planned = await front.post(MARKET, variables, headers={"X-Request-ID": "plan-1"})
    assert reads_of(front).answered == before + 1
    assert (planned.status_code, planned.content) == (reference.status_code, reference.content)
    for name in ("content-type", "content-length"):
        assert planned.headers[name] == reference.headers[name]
    assert planned.headers["X-Request-ID"] == "plan-1"
    assert planned.headers["X-SQL-Statements"] == "1"


async def test_the_rate_limit_holds_on_the_planned_path(front: Api) -> None:
    variables = {"id": await market_id(front)}
    answers = [await front.post(MARKET, variables) for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    refused = answers[-1]
    assert refused.headers["Retry-After"] == "60"
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "data" not in refused.json()


async def test_a_refused_token_is_answered_as_graphql_core_answers_it(front: Api) -> None:
    variables = {"id": await market_id(front)}
    await front.post(MARKET, variables)
    bad = {"Authorization": "Bearer not-a-token"}
    planned = await front.post(MARKET, variables, headers=bad)
    unplanned = await front.post("{ me { id } }", headers=bad)  # graphql-core's path
    assert planned.status_code == unplanned.status_code == 401
    assert planned.headers["WWW-Authenticate"] == unplanned.headers["WWW-Authenticate"]
    assert planned.json()["errors"][0]["extensions"] == unplanned.json()["errors"][0]["extensions"]


async def test_what_the_planner_declines_goes_down_the_stack_with_its_body(front: Api) -> None:
    member = await front.make_user()
    before = reads_of(front).answered
    created = await front.data('mutation { createMarket(input: {name: "Declined"}) { name } }', token=member.token)
    assert created == {"createMarket": {"name": "Declined"}}
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ markets { totalCount } }"}'

    chunked = await front.http.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in chunked.request.headers
    assert chunked.json() == {"data": {"markets": {"totalCount": 1}}}
    assert reads_of(front).answered == before


async def test_a_browsers_request_goes_through_cors(test_database_url: str) -> None:
    origin = "https://app.example"
    async with instance(test_database_url, read_plan_shadow=False, cors_origins=origin) as api:
        query = "{ markets { totalCount } }"
        await api.post(query)
        before = reads_of(api).answered
        response = await api.post(query, headers={"Origin": origin})
        assert response.headers["access-control-allow-origin"] == origin
        assert reads_of(api).answered == before
        await api.post(query)
        assert reads_of(api).answered == before + 1


async def handed_down(*_: Any) -> None:
    raise AssertionError("the request was handed down the stack")


def middleware_of(api: Api, *, max_bytes: int, body_seconds: float) -> CompiledReadsMiddleware:
    return CompiledReadsMiddleware(handed_down, reads=reads_of(api), max_bytes=max_bytes, body_seconds=body_seconds)


async def answer(middleware: CompiledReadsMiddleware, body: list[bytes], length: int) -> Message:
    """The response's start, the body's chunks arriving 0.2 s apart (then nothing more)."""
    chunks = iter(body)
    sent: list[Message] = []

    async def receive() -> Message:
        chunk = next(chunks, None)
        await asyncio.sleep(0.2 if chunk is not None else 3600)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-length", str(length).encode())]
    await middleware({"type": "http", "method": "POST", "path": "/graphql", "headers": headers}, receive, send)
    return sent[0]


async def test_a_slow_body_is_cut_off_with_408_and_an_oversized_one_with_413(front: Api) -> None:
    slow = await answer(middleware_of(front, max_bytes=100, body_seconds=0.5), [b"{"] * 10, 10)
    assert slow["status"] == 408 and (b"connection", b"close") in slow["headers"]
    large = await answer(middleware_of(front, max_bytes=10, body_seconds=5), [b"x" * 8, b"x" * 8], 10)
    assert large["status"] == 413


def test_only_posts_to_graphql_with_a_declared_length_are_taken(front: Api) -> None:
    middleware = middleware_of(front, max_bytes=100, body_seconds=1)
    post = {"type": "http", "method": "POST", "path": "/graphql", "headers": [(b"content-length", b"10")]}
    assert middleware.eligible(post)
    assert not middleware.eligible({**post, "method": "GET"})
    assert not middleware.eligible({**post, "path": "/graphql/"})
    assert not middleware.eligible({**post, "type": "websocket"})
    assert not middleware.eligible({**post, "headers": []})
    assert not middleware.eligible({**post, "headers": [(b"content-length", b"101")]})
    assert not middleware.eligible({**post, "headers": [(b"content-length", b"-1")]})
    assert not middleware.eligible({**post, "headers": [(b"content-length", b"10"), (b"origin", b"https://x")]})
