"""Memory that clients could fill (issue 8, finding 5): every cache keyed by client text is bounded by
entries and by bytes, over-long inputs are refused before they become keys, and the in-process rate
limiter forgets keys once their window has passed. Each test inspects the structure, never process RSS.
(The parse/validation cache is tested in test_limits.py, beside the other query limits.)"""

from __future__ import annotations

import sys
from typing import Any

import pytest
from redis import asyncio as redis

from domain.bounded import BoundedLRU, text_bytes
from domain.validation import MAX_EMAIL_LENGTH, MAX_SEARCH_QUERY_LENGTH
from graph.extensions.persisted_queries import MAX_STORED_LENGTH
from graph.extensions.persisted_queries import sha256_hex as sha
from markets.search.embedders import QUERY_CACHE_BYTES, QUERY_CACHE_SIZE, QueryCache
from markets.stores.persisted_queries import LOCAL_BYTES, LOCAL_ENTRIES, MemoryStore, RedisStore
from markets.stores.rate_limits import MAX_KEY_LENGTH, WINDOW_SECONDS, MemoryWindow, RateLimiter
from tests.conftest import Api, codes
from tests.servers import instance

SEARCH = "query($q: String!) { searchMarkets(query: $q) { score } }"
LOGIN = "mutation($email: String!) { login(email: $email, password: \"wrong-password\") { token } }"
SIGN_UP = 'mutation($email: String!) { signUp(email: $email, name: "N", password: "password123") { token } }'


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# ---------------------------------------------------------------- the LRU itself


def test_the_lru_keeps_both_bounds_and_refuses_what_is_too_heavy() -> None:
    cache: BoundedLRU[str, str] = BoundedLRU(
        max_entries=10, max_bytes=10_000, max_entry_bytes=4_000, weigh=lambda k, v: text_bytes(k) + text_bytes(v)
    )
    for n in range(100):
        cache.put(f"k{n}", "v" * 1_500)  # about 1.6 KB each: the bytes bound bites before the entry bound
        assert cache.bytes <= 10_000 and len(cache) <= 10
    assert len(cache) == 6 and cache.get("k99") is not None and cache.get("k93") is None
    assert cache.put("huge", "x" * 5_000) is False and "huge" not in cache
    for n in range(100):
        cache.put(str(n), "")
    assert len(cache) == 10 and cache.bytes == sum(text_bytes(str(n)) + text_bytes("") for n in range(90, 100))
    cache.put("99", "y" * 100)  # replacing an entry reweighs it
    assert cache.bytes == sum(text_bytes(str(n)) + text_bytes("") for n in range(90, 99)) + text_bytes("99") \
        + text_bytes("y" * 100)


# ---------------------------------------------------------------- searchMarkets: the query-vector cache


async def test_search_text_over_1000_characters_is_refused_and_never_cached(test_database_url: str) -> None:
    async with instance(test_database_url, embedder="hashing") as api:  # the cache, not the model, is tested
        cache = api.container.search.queries
        assert (await api.gql(SEARCH, {"q": "a" * MAX_SEARCH_QUERY_LENGTH})).get("errors") is None
        assert len(cache.entries) == 1
        body = await api.gql(SEARCH, {"q": "b" * (MAX_SEARCH_QUERY_LENGTH + 1)})
        assert codes(body) == ["BAD_USER_INPUT"]
        assert body["errors"][0]["extensions"]["fields"] == {"query": "must be at most 1000 characters"}
        assert len(cache.entries) == 1 and "b" * (MAX_SEARCH_QUERY_LENGTH + 1) not in cache.entries


async def test_the_query_vector_cache_is_bounded_by_entries_and_bytes(test_database_url: str) -> None:
    async with instance(test_database_url, embedder="hashing") as api:
        served = api.container.search.queries
        assert (served.entries.max_entries, served.entries.max_bytes) == (QUERY_CACHE_SIZE, QUERY_CACHE_BYTES)
        # The largest texts the API lets through, more of them than the cache holds: the first ones through
        # searchMarkets, the rest straight into the cache the server uses (the same path, 20 times faster).
        for n in range(QUERY_CACHE_SIZE + 20):
            text = f"{n} " + "w" * (MAX_SEARCH_QUERY_LENGTH - 8)
            if n < 20:
                assert "errors" not in await api.gql(SEARCH, {"q": text})
            else:
                await served.encode([text])
        assert len(served.entries) == QUERY_CACHE_SIZE and served.entries.bytes <= QUERY_CACHE_BYTES
        # A cache with a tighter byte bound, fed texts far larger than the API allows: bytes bind first.
        small = QueryCache(api.container.search.embedder, size=1000, max_bytes=200_000)
        for n in range(200):
            await small.encode([f"{n} " + "z" * 20_000])
        assert small.entries.bytes <= 200_000 and len(small.entries) < 10
        assert small.entries.bytes >= sys.getsizeof("z" * 20_000)


# ---------------------------------------------------------------- persisted queries in memory


async def test_persisted_queries_in_memory_are_bounded_by_entries_and_bytes(test_database_url: str) -> None:
    store = MemoryStore()
    assert (store.recent.max_entries, store.recent.max_bytes) == (LOCAL_ENTRIES, LOCAL_BYTES)
    # With Redis: the same bounded store in front.
    assert isinstance(RedisStore(redis.Redis(), namespace="markets:test:").local, MemoryStore)
    async with instance(test_database_url, redis_url=None) as api:  # without Redis: the in-process store
        view_store = next(
            r.endpoint.persisted.store for r in api.http._transport.app.routes  # type: ignore[attr-defined]
            if hasattr(r.endpoint, "persisted")
        )
        assert isinstance(view_store, MemoryStore)
        # Distinct queries just under the stored length: 16 MiB holds about 80 of them.
        for n in range(200):
            query = '{ user(id: "' + f"{n}-" + "q" * (MAX_STORED_LENGTH - 40) + '") { id } }'
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}
            response = await api.http.post("/graphql", json={"query": query, "extensions": extensions})
            assert response.status_code == 200 and response.json() == {"data": {"user": None}}
        assert view_store.recent.bytes <= LOCAL_BYTES and len(view_store.recent) < 200
        for n in range(LOCAL_ENTRIES + 30):
            query = f'{{ user(id: "{n}") {{ id }} }}'
            extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}
            await api.http.post("/graphql", json={"query": query, "extensions": extensions})
        assert len(view_store.recent) == LOCAL_ENTRIES and view_store.recent.bytes <= LOCAL_BYTES


# ---------------------------------------------------------------- the in-process rate limiter


async def test_rate_limit_keys_expire_after_the_window() -> None:
    clock = Clock()
    window = MemoryWindow(clock)
    for n in range(500):
        assert await window.admit(f"auth:email:user{n}@example.com", 10) is None
    assert len(window) == 500
    clock.now += WINDOW_SECONDS / 2
    assert await window.admit("request:address:10.0.0.1", 10) is None
    assert len(window) == 501  # still inside the window: nothing forgotten
    clock.now += WINDOW_SECONDS / 2 + 0.001
    assert await window.admit("request:address:10.0.0.2", 10) is None
    assert len(window) == 2  # the 500 left the window; the half-minute-old key is still counted
    assert await window.admit("request:address:10.0.0.1", 1) is not None  # and still limits


async def test_logins_are_keyed_by_the_validated_lower_cased_email_only(test_database_url: str) -> None:
    clock = Clock()
    window = MemoryWindow(clock)
    limiter = RateLimiter(window, per_minute=0, auth_per_minute=50)
    async with instance(test_database_url, parts={"rate_limiter": limiter}, auth_rate_limit_per_minute=50) as api:
        await api.make_user(email="someone@example.com")
        for email in ("Someone@Example.COM", "  someone@example.com ", "not an email", "x" * 200):
            assert codes(await api.gql(LOGIN, {"email": email})) == ["UNAUTHENTICATED"]
        keys = set(window._logs)
        assert keys == {"auth:address:127.0.0.1", "auth:email:someone@example.com"}
        # Over-long: refused before it is a key (and before the database is asked).
        for query in (LOGIN, SIGN_UP):
            body = await api.gql(query, {"email": "a" * 1_000_000 + "@example.com"})
            assert codes(body) == ["BAD_USER_INPUT"]
            fields = body["errors"][0]["extensions"]["fields"]
            assert fields == {"email": f"must be at most {MAX_EMAIL_LENGTH} characters"}
        assert set(window._logs) == keys
        # A minute later every key has expired: the next login leaves only its own.
        clock.now += WINDOW_SECONDS + 1
        await api.gql(LOGIN, {"email": "other@example.com"})
        assert set(window._logs) == {"auth:address:127.0.0.1", "auth:email:other@example.com"}


@pytest.mark.parametrize("length", [MAX_EMAIL_LENGTH, MAX_EMAIL_LENGTH + 1])
async def test_emails_at_and_past_254_characters(api: Api, length: int) -> None:
    email = "a" * (length - len("@example.com")) + "@example.com"
    body: dict[str, Any] = await api.gql(LOGIN, {"email": email})
    assert codes(body) == (["UNAUTHENTICATED"] if length <= MAX_EMAIL_LENGTH else ["BAD_USER_INPUT"])


async def test_keys_built_from_long_client_text_are_hashed() -> None:
    window = MemoryWindow(Clock())
    limiter = RateLimiter(window, per_minute=5, auth_per_minute=5)
    await limiter.check_viewer("address:" + "f" * 100_000)  # e.g. a forwarded hop a trusted proxy passed on
    [key] = window._logs
    assert len(key) <= MAX_KEY_LENGTH
