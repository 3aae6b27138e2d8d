"""The floor: the benchmark's read operations answered by hand, one SQL statement each.

A minimal Starlette + asyncpg app served like `markets serve` (uvicorn, uvloop, httptools, one
process). Each endpoint takes the same request body as the GraphQL server and runs ONE statement
on the project's own tables that builds the whole JSON response in PostgreSQL (json_build_object,
json_agg); Python only decodes the market id and passes the text through as bytes. No GraphQL, no
authentication, no permissions: it is what the server's reads would cost with nothing in between,
so `bench.against_floor` reports the server's requests per second as a ratio to it (ratios hold
from machine to machine; absolute numbers do not). Its answers equal the server's (checked before
each measurement), so both do the same work for the client.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from graph import ids

SQL_HEADER = "X-SQL-Statements"


def relay_id(type_name: str, column: str) -> str:
    """SQL for graph.ids.encode: url-safe base64 of "Type:pk", without padding."""
    raw = f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"
    return f"rtrim(translate({raw}, '+/', '-_'), '=')"


# market(id) { id name volume status creator { id name } }
MARKET_BY_ID = f"""
SELECT json_build_object('data', json_build_object('market', (
  SELECT json_build_object(
    'id', {relay_id('Market', 'm.id')}, 'name', m.name, 'volume', m.volume::text, 'status', m.status,
    'creator', json_build_object('id', {relay_id('User', 'u.id')}, 'name', u.name))
  FROM markets m JOIN users u ON u.id = m.creator_id
  WHERE m.id = $1)))::text
"""

# markets(first: 50), newest first, each with its creator's name and its 10 newest positions
# (amount, outcome, holder's name): what an admin sees.
MARKETS_NESTED = f"""
SELECT json_build_object('data', json_build_object('markets', json_build_object('edges', coalesce(json_agg(
  json_build_object('node', json_build_object(
    'id', {relay_id('Market', 'm.id')}, 'name', m.name, 'volume', m.volume::text,
    'creator', json_build_object('name', u.name),
    'positions', json_build_object('edges', (
      SELECT coalesce(json_agg(json_build_object('node', json_build_object(
               'amount', p.amount::text, 'outcome', p.outcome, 'user', json_build_object('name', h.name)))
             ORDER BY p.created_at DESC, p.id DESC), '[]'::json)
      FROM (SELECT created_at, id, amount, outcome, user_id FROM positions WHERE market_id = m.id
            ORDER BY created_at DESC, id DESC LIMIT 10) p
      JOIN users h ON h.id = p.user_id))))
  ORDER BY m.created_at DESC, m.id DESC), '[]'::json))))::text
FROM (SELECT id, name, volume, creator_id, created_at FROM markets ORDER BY created_at DESC, id DESC LIMIT 50) m
JOIN users u ON u.id = m.creator_id
"""

# markets(first: 20, filter: {status: ACTIVE}, orderBy: VOLUME DESC) { id name volume } totalCount
MARKETS_BY_VOLUME = f"""
SELECT json_build_object('data', json_build_object('markets', json_build_object(
  'edges', (
    SELECT coalesce(json_agg(json_build_object('node', json_build_object(
             'id', {relay_id('Market', 'm.id')}, 'name', m.name, 'volume', m.volume::text))
           ORDER BY m.volume DESC, m.id DESC), '[]'::json)
    FROM (SELECT id, name, volume FROM markets WHERE status = 'ACTIVE' ORDER BY volume DESC, id DESC LIMIT 20) m),
  'totalCount', (SELECT count(*) FROM markets WHERE status = 'ACTIVE'))))::text
"""


def answer(text: str) -> Response:
    return Response(text.encode(), media_type="application/json", headers={SQL_HEADER: "1"})


def pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pool


async def market_by_id(request: Request) -> Response:
    body = orjson.loads(await request.body())
    pk = ids.decode(str(body.get("variables", {}).get("id", "")), "Market")
    if pk is None:
        return answer('{"data":{"market":null}}')
    return answer(await pool(request).fetchval(MARKET_BY_ID, pk))


async def markets_nested(request: Request) -> Response:
    await request.body()
    return answer(await pool(request).fetchval(MARKETS_NESTED))


async def markets_filtered_by_volume(request: Request) -> Response:
    await request.body()
    return answer(await pool(request).fetchval(MARKETS_BY_VOLUME))


async def healthz(_: Request) -> Response:
    return Response(b"ok")


def dsn(url: str) -> str:
    """asyncpg's DSN from a SQLAlchemy URL (postgresql+asyncpg://...)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_app(database_url: str, *, pool_size: int = 16) -> Starlette:
    """The floor's app; its pool holds as many connections as the benchmark has clients."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(
            dsn(database_url), min_size=pool_size, max_size=pool_size, server_settings={"jit": "off"}
        )
        yield
        await app.state.pool.close()

    return Starlette(
        routes=[
            Route("/market_by_id", market_by_id, methods=["POST"]),
            Route("/markets_nested", markets_nested, methods=["POST"]),
            Route("/markets_filtered_by_volume", markets_filtered_by_volume, methods=["POST"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--pool-size", type=int, default=16)
    args = parser.parse_args(argv)
    if not args.database_url:
        raise SystemExit("set --database-url or BENCH_DATABASE_URL")
    # The options `markets serve` gives uvicorn: uvloop, httptools, one process, no access log.
    uvicorn.run(
        create_app(args.database_url, pool_size=args.pool_size), host=args.host, port=args.port, workers=1,
        loop="uvloop", http="httptools", log_level="warning", access_log=False,
    )


if __name__ == "__main__":
    main()
