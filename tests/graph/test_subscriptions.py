"""Live updates: subscriptions over graphql-transport-ws, against real `markets serve` processes.

Two instances share the test database and one Redis (a write on one is seen on the other); a third
runs without Redis (the in-process broadcaster); a fourth has tight limits. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import websockets
from gql.transport.exceptions import TransportError, TransportQueryError
from graphql import parse, print_ast
from redis import Redis
from sqlalchemy import text

from domain.roles import Role
from graph import ids
from graph.extensions.persisted_queries import sha256_hex
from graph.feeds import Change
from markets.redis_client import namespace
from markets.stores.market_events import encode
from markets.stores.persisted_queries import KEY_PREFIX
from markets.tokens import TokenService
from persistence.unit_of_work import SqlUnitOfWork
from tests.conftest import TEST_SECRET, Api, Member, test_settings
from tests.live import ENDED, WAIT_SECONDS, LiveServer, Watch, close_code, serving, watching
from tests.redis_server import RedisServer, private_redis

UPDATED = "subscription($id: ID!) { marketUpdated(id: $id) { id name description status volume endDate } }"
EVENTS = "subscription($status: MarketStatus) { marketEvents(status: $status) { id name status } }"
VISIBLE = """subscription($id: ID!) { marketUpdated(id: $id) {
  volume creator { email balance } positions(first: 5) { edges { node { user { id } } } } } }"""
PRICED = "subscription($id: ID!) { marketUpdated(id: $id) { volume probability yesPool noPool } }"
SELL = "mutation($id: ID!) { sellPosition(id: $id) { id } }"
CREATE = "mutation($input: CreateMarketInput!) { createMarket(input: $input) { id } }"
UPDATE = "mutation($id: ID!, $input: UpdateMarketInput!) { updateMarket(id: $id, input: $input) { id } }"
OPEN = "mutation($input: OpenPositionInput!) { openPosition(input: $input) { id } }"
RESOLVE = "mutation($id: ID!) { resolveMarket(id: $id, outcome: YES) { id } }"
DELETE = "mutation($id: ID!) { deleteMarket(id: $id) }"
ACTIVE_GAUGE = "markets_subscriptions_active"


@pytest.fixture(scope="module")
def live_redis() -> Iterator[RedisServer]:
    server = private_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pair(test_database_url: str, live_redis: RedisServer) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two instances on the same database and Redis."""
    with serving(test_database_url, REDIS_URL=live_redis.url) as a, \
            serving(test_database_url, REDIS_URL=live_redis.url) as b:
        yield a, b


@pytest.fixture(scope="module")
def solo(test_database_url: str) -> Iterator[LiveServer]:
    """One instance without Redis: the in-process broadcaster (no cache: ids restart between tests)."""
    with serving(test_database_url, MARKET_CACHE_TTL_SECONDS="0") as server:
        yield server


@pytest.fixture(scope="module")
def tight(test_database_url: str, live_redis: RedisServer) -> Iterator[LiveServer]:
    """An instance with small limits, on its own Redis database (so its own events channel)."""
    with serving(
        test_database_url, REDIS_URL=live_redis.url.removesuffix("/0") + "/1", MAX_SUBSCRIPTIONS_PER_CONNECTION="3",
        WS_CONNECTION_INIT_TIMEOUT_SECONDS="0.5", WS_PING_INTERVAL_SECONDS="0.2", SUBSCRIPTION_QUEUE_SIZE="5",
        WS_VIEWER_RECHECK_SECONDS="0",  # the viewer re-read before every event
    ) as server:
        yield server


@pytest.fixture(scope="module")
def capped(test_database_url: str) -> Iterator[LiveServer]:
    """An instance with small per-client limits: 4 sockets per address, 2 per user, a cost budget of 40
    per connection (two VISIBLE subscriptions, which cost 18 each, not three)."""
    with serving(
        test_database_url, MARKET_CACHE_TTL_SECONDS="0", MAX_SOCKETS_PER_ADDRESS="4", MAX_SOCKETS_PER_USER="2",
        MAX_SUBSCRIPTION_COST_PER_CONNECTION="40",
    ) as server:
        yield server


@pytest.fixture(autouse=True)
async def quiet_servers(
    pair: tuple[LiveServer, LiveServer], solo: LiveServer, tight: LiveServer, capped: LiveServer
) -> AsyncIterator[None]:
    """After each test, every subscription gone from every server.

    Their Redis is not flushed: ids restart, but each test creates the markets it reads, and creating
    one invalidates whatever was cached under its id. A flush would reset the cache's generations
    and let a server's in-memory read of the last test's market pass for this test's.
    """
    yield
    for server in (*pair, solo, tight, capped):
        await server.until_subscribed(0)


@pytest.fixture(params=["in-process", "across-instances"])
def route(request: pytest.FixtureRequest, pair: tuple[LiveServer, LiveServer], solo: LiveServer) -> tuple[
    LiveServer, LiveServer
]:
    """(where writes go, where the subscriber is): one instance alone, or two through Redis."""
    return (solo, solo) if request.param == "in-process" else pair


async def create(server: LiveServer, member: Member, name: str = "Will it rain?") -> str:
    return (await server.data(CREATE, {"input": {"name": name}}, token=member.token))["createMarket"]["id"]


async def set_role(api: Api, member: Member, role: Role) -> None:
    async with SqlUnitOfWork.standalone(api.container.engine) as uow:
        await uow.users.set_role(member.user.id, role)
        await uow.commit()


async def first_payloads(
    reader: LiveServer, viewers: dict[str, str | None], document: str, market: str,
    write: Callable[[], Awaitable[object]],
) -> dict[str, Any]:
    """Each viewer's first `marketUpdated` payload of `document` on `market`, all subscribed on
    `reader` before `write` runs."""
    sessions = {name: reader.client(token=token) for name, token in viewers.items()}
    watches: dict[str, Watch] = {}
    try:
        for name, client in sessions.items():
            watches[name] = Watch(await client.connect_async(), document, {"id": market})
        await reader.until_subscribed(len(viewers))
        await write()
        return {name: (await watch.next())["marketUpdated"] for name, watch in watches.items()}
    finally:
        for watch in watches.values():
            await watch.stop()
        for client in sessions.values():
            await client.close_async()


async def test_market_updated_fires_for_each_shown_field_and_only_its_market(
    api: Api, route: tuple[LiveServer, LiveServer]
) -> None:
    writer, reader = route
    owner, moderator = await api.make_user(), await api.make_user(Role.MODERATOR)
    market, other = await create(writer, owner), await create(writer, owner, "Will it snow?")
    edits = [
        (owner, UPDATE, {"id": market, "input": {"name": "Will it pour?"}}, "name", "Will it pour?"),
        (owner, UPDATE, {"id": market, "input": {"description": "In Paris"}}, "description", "In Paris"),
        (owner, UPDATE, {"id": market, "input": {"endDate": "2031-01-01T00:00:00Z"}}, "endDate",
         "2031-01-01T00:00:00+00:00"),
        (owner, OPEN, {"input": {"marketId": market, "outcome": "YES", "amount": "12.5"}}, "volume", "12.50"),
        (moderator, UPDATE, {"id": market, "input": {"status": "CLOSED"}}, "status", "CLOSED"),
        (moderator, RESOLVE, {"id": market}, "status", "RESOLVED"),
    ]
    async with watching(reader, UPDATED, {"id": market}) as watch:
        await writer.data(UPDATE, {"id": other, "input": {"name": "Will it hail?"}}, token=owner.token)
        for member, mutation, variables, field, value in edits:
            await writer.data(mutation, variables, token=member.token)
            event = (await watch.next())["marketUpdated"]
            assert (event["id"], event[field]) == (market, value)


async def test_market_updated_completes_when_the_market_is_deleted(
    api: Api, route: tuple[LiveServer, LiveServer]
) -> None:
    writer, reader = route
    owner, moderator = await api.make_user(), await api.make_user(Role.MODERATOR)
    market = await create(writer, owner)
    async with watching(reader, UPDATED, {"id": market}) as watch:
        await writer.data(DELETE, {"id": market}, token=moderator.token)
        assert await watch.end() is ENDED


async def test_market_events_sees_creations_and_changes_not_deletions(
    api: Api, route: tuple[LiveServer, LiveServer]
) -> None:
    writer, reader = route
    owner, moderator = await api.make_user(), await api.make_user(Role.MODERATOR)
    doomed = await create(writer, owner, "Will it go?")
    async with watching(reader, EVENTS) as watch:
        market = await create(writer, owner)
        assert (await watch.next())["marketEvents"] == {"id": market, "name": "Will it rain?", "status": "ACTIVE"}
        await writer.data(UPDATE, {"id": market, "input": {"name": "Will it pour?"}}, token=owner.token)
        assert (await watch.next())["marketEvents"]["name"] == "Will it pour?"
        await writer.data(DELETE, {"id": doomed}, token=moderator.token)
        later = await create(writer, owner, "Will it come?")
        assert (await watch.next())["marketEvents"]["id"] == later


async def test_market_events_filters_by_the_current_status(api: Api, route: tuple[LiveServer, LiveServer]) -> None:
    writer, reader = route
    owner, moderator = await api.make_user(), await api.make_user(Role.MODERATOR)
    steady = await create(writer, owner, "Will it stay?")
    async with watching(reader, EVENTS, {"status": "ACTIVE"}) as active, \
            watching(reader, EVENTS, {"status": "CLOSED"}) as closed:
        market = await create(writer, owner)
        assert (await active.next())["marketEvents"]["id"] == market
        await writer.data(UPDATE, {"id": market, "input": {"status": "CLOSED"}}, token=moderator.token)
        assert (await closed.next())["marketEvents"] == {"id": market, "name": "Will it rain?", "status": "CLOSED"}
        await writer.data(UPDATE, {"id": steady, "input": {"name": "Will it remain?"}}, token=owner.token)
        # The closing was not sent to the ACTIVE subscriber, nor this change to the CLOSED one.
        assert (await active.next())["marketEvents"]["id"] == steady
        await writer.data(UPDATE, {"id": market, "input": {"name": "Was it rain?"}}, token=moderator.token)
        assert (await closed.next())["marketEvents"]["name"] == "Was it rain?"


async def test_payload_fields_follow_the_subscribers_permissions(
    api: Api, route: tuple[LiveServer, LiveServer]
) -> None:
    """Position.user and User.email as in a query: the holder and moderators (by their role in the
    database, not their token's) see the holder; the creator alone sees their email."""
    writer, reader = route
    holder, stranger = await api.make_user(), await api.make_user()
    promoted = await api.make_user()  # a USER token, a MODERATOR in the database
    await set_role(api, promoted, Role.MODERATOR)
    market = await create(writer, holder)
    viewers = {"holder": holder.token, "stranger": stranger.token, "promoted": promoted.token, "anonymous": None}
    seen = await first_payloads(reader, viewers, VISIBLE, market, lambda: writer.data(
        OPEN, {"input": {"marketId": market, "outcome": "NO", "amount": "3"}}, token=holder.token))
    holder_id = {"id": holder.id}
    assert {name: event["positions"]["edges"][0]["node"]["user"] for name, event in seen.items()} == {
        "holder": holder_id, "stranger": None, "promoted": holder_id, "anonymous": None,
    }
    assert {name: event["creator"]["email"] for name, event in seen.items()} == {
        "holder": holder.user.email, "stranger": None, "promoted": None, "anonymous": None,
    }
    assert {name: event["creator"]["balance"] for name, event in seen.items()} == {
        "holder": "997.00", "stranger": None, "promoted": None, "anonymous": None,
    }
    assert {event["volume"] for event in seen.values()} == {"3.00"}


LEDGER = "subscription($id: ID!) { marketUpdated(id: $id) { creator { transactions(first: 5) { totalCount } } } }"


async def test_the_creators_ledger_in_a_payload_is_theirs_and_admins_only(api: Api, solo: LiveServer) -> None:
    """User.transactions as in a query: the creator and admins see it, another user and anonymous get null."""
    creator, stranger = await api.make_user(), await api.make_user()
    admin = await api.make_user(Role.ADMIN)
    market = await create(solo, creator)
    viewers = {"creator": creator.token, "stranger": stranger.token, "admin": admin.token, "anonymous": None}
    seen = await first_payloads(solo, viewers, LEDGER, market, lambda: solo.data(
        UPDATE, {"id": market, "input": {"name": "Will it pour?"}}, token=creator.token))
    ledger = (await solo.data("{ me { transactions(first: 5) { totalCount } } }", token=creator.token))["me"]
    assert {name: event["creator"]["transactions"] for name, event in seen.items()} == {
        "creator": ledger["transactions"], "stranger": None, "admin": ledger["transactions"], "anonymous": None,
    }


async def test_a_sale_fires_market_updated_with_the_new_price(api: Api, route: tuple[LiveServer, LiveServer]) -> None:
    """A sale moves the pools and the probability without the volume: subscribers still hear of it."""
    writer, reader = route
    holder = await api.make_user()
    market = await create(writer, holder)
    bought = await writer.data(OPEN, {"input": {"marketId": market, "outcome": "YES", "amount": "10"}},
                               token=holder.token)
    async with reader.client(token=holder.token) as session:
        watch = Watch(session, PRICED, {"id": market})
        await reader.until_subscribed(1)
        await writer.data(SELL, {"id": bought["openPosition"]["id"]}, token=holder.token)
        event = (await watch.next())["marketUpdated"]
        await watch.stop()
    assert event == {"volume": "10.00", "probability": 0.5, "yesPool": "100.01", "noPool": "100.01"}


async def test_connection_init_accepts_a_lower_case_authorization_key(api: Api, solo: LiveServer) -> None:
    creator = await api.make_user()
    market = await create(solo, creator)
    async with solo.client(payload={"authorization": f"Bearer {creator.token}"}) as session:
        watch = Watch(session, VISIBLE, {"id": market})
        await solo.until_subscribed(1)
        await solo.data(UPDATE, {"id": market, "input": {"name": "Will it pour?"}}, token=creator.token)
        assert (await watch.next())["marketUpdated"]["creator"]["email"] == creator.user.email
        await watch.stop()


@pytest.mark.parametrize("authorization", [
    "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer ", 42, "expired", "gone",
])
async def test_a_refused_token_closes_the_socket_with_4403(api: Api, solo: LiveServer, authorization: object) -> None:
    member = await api.make_user()
    if authorization == "expired":
        yesterday = api.container.clock() - timedelta(days=1)
        authorization = "Bearer " + api.container.tokens.issue(member.user, now=yesterday)
    if authorization == "gone":
        authorization = f"Bearer {member.token}"
        async with SqlUnitOfWork.standalone(api.container.engine) as uow:
            await uow.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": member.user.id})
            await uow.commit()
    with pytest.raises(TransportError) as refused:
        async with solo.client(payload={"Authorization": authorization}):
            pass
    assert close_code(refused.value) == 4403


async def test_the_socket_closes_when_its_token_expires(api: Api, solo: LiveServer) -> None:
    member = await api.make_user()
    brief = TokenService(secret=TEST_SECRET, ttl_seconds=2).issue(member.user, now=api.container.clock())
    async with watching(solo, EVENTS, token=brief) as watch:
        assert close_code(await watch.end()) == 4403


async def test_subscriptions_per_connection_are_limited(tight: LiveServer) -> None:
    async with tight.client() as session:
        watches = [Watch(session, EVENTS) for _ in range(3)]
        await tight.until_subscribed(3)
        with pytest.raises(TransportQueryError) as refused:
            await Watch(session, EVENTS).next()
        assert refused.value.errors is not None
        assert refused.value.errors[0]["extensions"]["code"] == "RATE_LIMITED"
        await watches.pop().stop()
        await tight.until_subscribed(2)
        watches.append(Watch(session, EVENTS))
        await tight.until_subscribed(3)
        for watch in watches:
            await watch.stop()


async def test_a_connection_that_never_initialises_is_closed_with_4408(tight: LiveServer) -> None:
    async with websockets.connect(tight.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), WAIT_SECONDS)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4408


async def test_the_legacy_graphql_ws_protocol_is_refused(solo: LiveServer) -> None:
    async with websockets.connect(solo.ws_url, subprotocols=["graphql-ws"]) as socket:  # type: ignore[list-item]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), WAIT_SECONDS)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4406


async def test_the_server_pings_and_keeps_a_client_that_answers(api: Api, tight: LiveServer) -> None:
    owner = await api.make_user()
    client = tight.client()
    async with client as session:
        transport = client.transport
        for _ in range(3):  # each ping after the first means the previous pong was taken
            transport.ping_received.clear()
            await asyncio.wait_for(transport.ping_received.wait(), WAIT_SECONDS)
        watch = Watch(session, EVENTS)
        await tight.until_subscribed(1)
        market = await create(tight, owner)
        assert (await watch.next())["marketEvents"]["id"] == market
        await watch.stop()


async def test_a_client_that_does_not_answer_pings_is_dropped_with_1011(tight: LiveServer) -> None:
    async with tight.client(answer_pings=False) as session:
        watch = Watch(session, EVENTS)
        assert close_code(await watch.end()) == 1011


async def test_a_client_ping_is_answered_with_a_pong(solo: LiveServer) -> None:
    client = solo.client(ping_interval=0.1, pong_timeout=WAIT_SECONDS)
    async with client:
        await asyncio.wait_for(client.transport.pong_received.wait(), WAIT_SECONDS)


async def test_a_subscriber_too_slow_for_its_queue_is_dropped_with_1013(
    tight: LiveServer, live_redis: RedisServer, test_database_url: str
) -> None:
    """More markets pending than SUBSCRIPTION_QUEUE_SIZE (5): the socket is closed, nothing buffered."""
    drops = await tight.metric("markets_websocket_drops_total")
    async with watching(tight, EVENTS) as watch:
        burst = [Change(pk, "created") for pk in range(1, 11)]  # from "another instance", in one message
        channel = f"{namespace(test_settings(test_database_url))}1:events"  # the server's, on Redis db 1
        live_redis.client().publish(channel, encode("elsewhere", burst))
        assert close_code(await watch.end()) == 1013
    assert await tight.metric("markets_websocket_drops_total") == drops + 1


@pytest.mark.parametrize("bad_id", ["garbage", "", ids.encode("Market", 987654), ids.encode("User", 1)])
async def test_market_updated_refuses_an_id_naming_no_market_with_not_found(
    api: Api, solo: LiveServer, bad_id: str
) -> None:
    await api.make_user()
    async with solo.client() as session:
        with pytest.raises(TransportQueryError) as refused:
            await Watch(session, UPDATED, {"id": bad_id}).next()
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert refused.value.errors[0]["path"] == ["marketUpdated"]


@pytest.mark.parametrize(("document", "code"), [
    ("{ markets(first: 1) { totalCount } }", "BAD_REQUEST"),
    ("subscription { marketEvents { nope } }", "GRAPHQL_VALIDATION_FAILED"),
    ("subscription($s: MarketStatus) { marketEvents(status: $s) { id } }", "BAD_USER_INPUT"),
    ("subscription { marketEvents { creator { markets { edges { node { creator { markets { edges { node {"
     " creator { name } } } } } } } } } } }", "QUERY_TOO_COMPLEX"),
])
async def test_what_cannot_run_over_websocket_is_refused_with_its_code(
    solo: LiveServer, document: str, code: str
) -> None:
    async with solo.client() as session:
        with pytest.raises(TransportQueryError) as refused:
            await Watch(session, document, {"s": "SOMETIMES"}).next()
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == code


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_subscription_over_http_is_a_bad_request(solo: LiveServer, method: str) -> None:
    query = "subscription { marketEvents { id } }"
    async with httpx.AsyncClient(base_url=solo.url, timeout=WAIT_SECONDS) as http:
        if method == "GET":
            response = await http.get("/graphql", params={"query": query})
        else:
            response = await http.post("/graphql", json={"query": query})
    assert response.status_code == 400
    assert await solo.metric(ACTIVE_GAUGE) == 0  # no resolver ran, nothing subscribed
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_connections_go_back_to_the_pool_between_events(api: Api, solo: LiveServer) -> None:
    """Each event takes a pooled connection (no cache here) for its market, creator and positions, and
    gives it back: idle subscriptions hold none."""
    holder = await api.make_user()
    market = await create(solo, holder)
    async with solo.client(token=holder.token) as session:
        watches = [Watch(session, VISIBLE, {"id": market}) for _ in range(3)]
        await solo.until_subscribed(3)
        for amount in ("1", "2"):
            await solo.data(OPEN, {"input": {"marketId": market, "outcome": "YES", "amount": amount}},
                            token=holder.token)
            for watch in watches:
                assert (await watch.next())["marketUpdated"]["creator"]["email"] == holder.user.email
            await solo.until_metric("markets_db_pool_checked_out_connections", 0)
        for watch in watches:
            await watch.stop()


async def test_with_persisted_queries_only_a_subscription_must_be_registered(
    test_database_url: str, live_redis: RedisServer
) -> None:
    registered = print_ast(parse("subscription { marketEvents { id } }"))  # the text gql sends
    redis_url = live_redis.url.removesuffix("/0") + "/2"
    key = namespace(test_settings(test_database_url)) + KEY_PREFIX + sha256_hex(registered)
    Redis.from_url(redis_url).set(key, registered)
    with serving(test_database_url, REDIS_URL=redis_url, PERSISTED_QUERIES_ONLY="true") as server:
        async with server.client() as session:
            with pytest.raises(TransportQueryError) as refused:
                await Watch(session, "subscription { marketEvents { id name } }").next()
            assert refused.value.errors is not None
            assert refused.value.errors[0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
            watch = Watch(session, registered)
            await server.until_subscribed(1)
            await watch.stop()
            await server.until_subscribed(0)


# ---------------------------------------------------------------- roles re-read, frames, per-client limits


async def test_a_demoted_moderator_stops_seeing_position_holders_on_an_open_socket(
    api: Api, tight: LiveServer
) -> None:
    """The role in effect is the database's at each event (re-read at most every WS_VIEWER_RECHECK_SECONDS,
    0 on this server), as it is at each HTTP request: a socket opened before a demotion is no way around it."""
    holder, moderator = await api.make_user(), await api.make_user(Role.MODERATOR)
    market = await create(tight, holder)
    async with watching(tight, VISIBLE, {"id": market}, token=moderator.token) as watch:
        await tight.data(OPEN, {"input": {"marketId": market, "outcome": "YES", "amount": "1"}}, token=holder.token)
        before = (await watch.next())["marketUpdated"]
        await set_role(api, moderator, Role.USER)
        await tight.data(OPEN, {"input": {"marketId": market, "outcome": "NO", "amount": "2"}}, token=holder.token)
        after = (await watch.next())["marketUpdated"]
    assert [edge["node"]["user"] for edge in before["positions"]["edges"]] == [{"id": holder.id}]
    assert [edge["node"]["user"] for edge in after["positions"]["edges"]] == [None, None]


async def test_a_promotion_applies_to_an_open_socket_too(api: Api, tight: LiveServer) -> None:
    holder, member = await api.make_user(), await api.make_user()
    market = await create(tight, holder)
    async with watching(tight, VISIBLE, {"id": market}, token=member.token) as watch:
        await set_role(api, member, Role.MODERATOR)
        await tight.data(OPEN, {"input": {"marketId": market, "outcome": "YES", "amount": "1"}}, token=holder.token)
        event = (await watch.next())["marketUpdated"]
    assert [edge["node"]["user"] for edge in event["positions"]["edges"]] == [{"id": holder.id}]


async def test_the_socket_of_a_user_who_no_longer_exists_is_closed_with_4403(api: Api, tight: LiveServer) -> None:
    holder, member = await api.make_user(), await api.make_user()
    market = await create(tight, holder)
    async with watching(tight, VISIBLE, {"id": market}, token=member.token) as watch:
        async with SqlUnitOfWork.standalone(api.container.engine) as uow:
            await uow.session.execute(text("DELETE FROM users WHERE id = :id"), {"id": member.user.id})
            await uow.commit()
        await tight.data(OPEN, {"input": {"marketId": market, "outcome": "YES", "amount": "1"}}, token=holder.token)
        assert close_code(await watch.end()) == 4403


SUBSCRIBE = {"type": "subscribe", "id": "1", "payload": {"query": "subscription { marketEvents { id } }"}}
BAD_FRAMES: list[object] = [
    "not json", "[]", "1", "null", '"text"', "{", b"\x00binary",
    {"type": "hello"}, {"type": {"an": "object"}}, {"id": "1"}, {"type": "pong", "payload": []},
    {**SUBSCRIBE, "id": {"an": "object"}}, {**SUBSCRIBE, "id": ["1"]}, {**SUBSCRIBE, "id": 7}, {**SUBSCRIBE, "id": ""},
    {**SUBSCRIBE, "id": "\ud800"}, {**SUBSCRIBE, "payload": "x"}, {"type": "subscribe", "id": "1"},
    {**SUBSCRIBE, "payload": {"query": 1}}, {**SUBSCRIBE, "payload": {}},
    {**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "variables": []}},  # type: ignore[dict-item]
    {**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "operationName": 1}},  # type: ignore[dict-item]
    {**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "extensions": "x"}},  # type: ignore[dict-item]
    {"type": "complete", "id": {"an": "object"}}, {"type": "complete"},
]


async def initialised(server: LiveServer, payload: dict[str, object] | None = None) -> websockets.ClientConnection:
    """A raw graphql-transport-ws socket past connection_ack."""
    socket = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await socket.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
    assert json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS)) == {"type": "connection_ack"}
    return socket


async def closed_with(socket: websockets.ClientConnection) -> int | None:
    """The code the server closes the socket with (failing if it sends anything instead)."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        message = await asyncio.wait_for(socket.recv(), WAIT_SECONDS)
        raise AssertionError(f"expected the socket to close, got {message!r}")
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


@pytest.mark.parametrize("frame", BAD_FRAMES, ids=lambda frame: json.dumps(frame, default=repr)[:40])
async def test_a_malformed_frame_closes_the_socket_with_4400_and_logs_no_traceback(
    solo: LiveServer, frame: object
) -> None:
    socket = await initialised(solo)
    try:
        await socket.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
        assert await closed_with(socket) == 4400
    finally:
        await socket.close()
    log = solo.log.read_text()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log


async def test_a_malformed_frame_before_connection_init_closes_with_4400(solo: LiveServer) -> None:
    async with websockets.connect(solo.ws_url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send("[]")
        assert await closed_with(socket) == 4400
    assert "Traceback" not in solo.log.read_text()


async def test_bad_strings_in_a_subscribe_message_are_bad_user_input(solo: LiveServer) -> None:
    """A lone surrogate as operationName (it cannot be echoed) and a NUL in a variable: BAD_USER_INPUT,
    the socket stays open."""
    socket = await initialised(solo)
    try:
        await socket.send(json.dumps({**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "operationName": "\ud800"}}))  # type: ignore[dict-item]
        refused = json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS))
        await socket.send(json.dumps({"type": "subscribe", "id": "2", "payload": {"query": UPDATED,
                                                                                   "variables": {"id": "a\u0000"}}}))
        nul = json.loads(await asyncio.wait_for(socket.recv(), WAIT_SECONDS))
    finally:
        await socket.close()
    assert refused["type"] == nul["type"] == "error"
    assert refused["payload"][0]["extensions"] == {
        "code": "BAD_USER_INPUT", "fields": {"operationName": "must not contain lone surrogates"}}
    assert nul["payload"][0]["extensions"] == {
        "code": "BAD_USER_INPUT", "fields": {"id": "must not contain NUL characters"}}


async def until_admitted(server: LiveServer, payload: dict[str, object] | None = None) -> websockets.ClientConnection:
    """A socket past connection_ack, retried while the server may still be releasing a closed socket's slot."""
    async def attempt() -> websockets.ClientConnection:
        while True:
            try:
                return await initialised(server, payload)
            except websockets.ConnectionClosed:
                await asyncio.sleep(0.02)

    return await asyncio.wait_for(attempt(), WAIT_SECONDS)


async def test_sockets_per_address_are_capped_with_4429(capped: LiveServer) -> None:
    sockets = [await initialised(capped) for _ in range(4)]
    try:
        async with websockets.connect(capped.ws_url, subprotocols=["graphql-transport-ws"]) as extra:  # type: ignore[list-item]
            assert await closed_with(extra) == 4429
        await sockets.pop().close()
        sockets.append(await until_admitted(capped))  # a closed socket's slot is given back
    finally:
        for socket in sockets:
            await socket.close()


async def test_sockets_per_user_are_capped_with_4429(api: Api, capped: LiveServer) -> None:
    first, second = await api.make_user(), await api.make_user()
    signed = {"Authorization": f"Bearer {first.token}"}
    sockets = [await initialised(capped, signed) for _ in range(2)]
    try:
        extra = await websockets.connect(capped.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        await extra.send(json.dumps({"type": "connection_init", "payload": signed}))
        assert await closed_with(extra) == 4429
        sockets.append(await until_admitted(capped, {"Authorization": f"Bearer {second.token}"}))  # another user's own
    finally:
        for socket in sockets:
            await socket.close()


async def test_subscriptions_on_one_connection_share_a_cost_budget(api: Api, capped: LiveServer) -> None:
    """VISIBLE costs 18 (the query cost of its selection): two fit in the budget of 40, a third is refused
    QUERY_TOO_COMPLEX until one completes; another connection has its own budget."""
    market = await create(capped, await api.make_user())
    async with capped.client() as session:
        watches = [Watch(session, VISIBLE, {"id": market}) for _ in range(2)]
        await capped.until_subscribed(2)
        with pytest.raises(TransportQueryError) as refused:
            await Watch(session, VISIBLE, {"id": market}).next()
        assert refused.value.errors is not None
        assert refused.value.errors[0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        assert "40" in refused.value.errors[0]["message"]
        async with watching(capped, VISIBLE, {"id": market}):  # its own connection, its own budget
            await capped.until_subscribed(3)
        await watches.pop().stop()
        await capped.until_subscribed(1)

        async def resubscribed() -> Watch:
            while True:  # the completed subscription's cost is refunded as its operation ends
                watch = Watch(session, VISIBLE, {"id": market})
                outcome = await asyncio.wait(
                    [asyncio.ensure_future(capped.until_subscribed(2)), asyncio.ensure_future(watch.items.get())],
                    return_when=asyncio.FIRST_COMPLETED,
                )
                if capped_subscribed(outcome):
                    return watch
                await asyncio.sleep(0.02)

        watches.append(await asyncio.wait_for(resubscribed(), WAIT_SECONDS))
        for watch in watches:
            await watch.stop()


def capped_subscribed(outcome: tuple[set[asyncio.Future[object]], set[asyncio.Future[object]]]) -> bool:
    """Whether the race in `resubscribed` was won by the gauge (subscribed) rather than an error."""
    done, pending = outcome
    for future in pending:
        future.cancel()
    return any(future.result() is None for future in done)


async def test_subscribe_messages_count_against_the_request_rate_limit(test_database_url: str) -> None:
    """RATE_LIMIT_PER_MINUTE=3: three subscribe messages pass, the fourth is RATE_LIMITED with retryAfter, and
    the same client's next HTTP request is 429: one budget for both."""
    with serving(test_database_url, RATE_LIMIT_PER_MINUTE="3") as server:
        async with server.client() as session:
            watches = [Watch(session, EVENTS) for _ in range(3)]
            await server.until_subscribed(3)
            with pytest.raises(TransportQueryError) as refused:
                await Watch(session, EVENTS).next()
            for watch in watches:
                await watch.stop()
        async with httpx.AsyncClient(base_url=server.url, timeout=WAIT_SECONDS) as http:
            response = await http.post("/graphql", json={"query": "{ markets { totalCount } }"})
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "RATE_LIMITED"
    assert refused.value.errors[0]["extensions"]["retryAfter"] >= 1
    assert response.status_code == 429


async def test_an_unknown_operation_name_of_any_length_closes_with_4400(solo: LiveServer) -> None:
    """The close reason names the operation; one that would not fit a close frame (123 bytes) is cut short."""
    for name in ("Nope", "N" * 300, "É" * 100):
        socket = await initialised(solo)
        try:
            await socket.send(json.dumps({**SUBSCRIBE, "payload": {**SUBSCRIBE["payload"], "operationName": name}}))  # type: ignore[dict-item]
            assert await closed_with(socket) == 4400
        finally:
            await socket.close()
    assert "Traceback" not in solo.log.read_text()


async def test_no_field_name_hints_over_websocket_in_production(test_database_url: str) -> None:
    with serving(test_database_url, ENVIRONMENT="production") as server:
        async with server.client() as session:
            with pytest.raises(TransportQueryError) as refused:
                await Watch(session, "subscription { marketEvnts { id } }").next()
    assert refused.value.errors is not None
    [error] = refused.value.errors
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == "Cannot query field 'marketEvnts' on type 'Subscription'."
