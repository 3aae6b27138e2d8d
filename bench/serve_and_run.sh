#!/usr/bin/env bash
# `make bench`: seed PostgreSQL with the standard data set, serve it, measure over HTTP, in parts
# (BENCH_PARTS, default all four, in this order):
#   reads       the read operations against the floor (bench/against_floor.py): the server with the
#               market cache off, a second one with it on (Redis; market(id) only) and the floor
#               (bench/floor.py: one SQL statement builds each answer), loaded in turn by wrk with
#               the same 16 connections, 3 rounds; each as a ratio to the floor, with p50/p99, CPU
#               and SQL per request, errors and new database connections
#   trades      openPosition spread over markets and on one market, sellPosition (bench/run.py)
#   settlement  resolveMarket on markets of 10,000 and 100,000 positions (bench/settle.py)
#   search      searchMarkets once per embedder, each after indexing the 10,000 markets with it; the
#               model's indexing runs through a real `markets worker` (bench/index.py)
# Ports, database, Redis and the venv: see bench/processes.sh. Extra arguments go to bench/run.py.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/processes.sh
PARTS=" ${BENCH_PARTS:-reads trades settlement search} "
seed_database

if [[ "$PARTS" == *" reads "* ]]; then
  echo "== reads against the floor: server (market cache off), server (market cache on), floor =="
  ensure_wrk
  redis-cli -u "$BENCH_REDIS_URL" flushdb >/dev/null
  start_server server "$PORT" MARKET_CACHE_TTL_SECONDS=0 REDIS_URL=
  server=$LAST_PID
  start_server cached "$CACHED_PORT" REDIS_URL="$BENCH_REDIS_URL"
  cached=$LAST_PID
  start floor "$FLOOR_PORT" "$BIN/python" -m bench.floor --database-url "$BENCH_DATABASE_URL" --port "$FLOOR_PORT"
  "$BIN/python" -m bench.against_floor --database-url "$BENCH_DATABASE_URL" \
    --url "http://127.0.0.1:$PORT/graphql" --server-pid "$server" \
    --cached-url "http://127.0.0.1:$CACHED_PORT/graphql" --cached-pid "$cached" \
    --floor-url "http://127.0.0.1:$FLOOR_PORT" --floor-pid "$LAST_PID" \
    --duration "${BENCH_FLOOR_SECONDS:-10}" --rounds "${BENCH_ROUNDS:-3}"
  stop_all
fi

RESULTS="${BENCH_RESULTS:-bench/results.json}"
if [[ "$PARTS" == *" trades "* || "$PARTS" == *" settlement "* ]]; then
  start_server server "$PORT" MARKET_CACHE_TTL_SECONDS=0 REDIS_URL=
  if [[ "$PARTS" == *" trades "* ]]; then
    echo "== trades, market cache off =="
    "$BIN/python" -m bench.run --url "http://127.0.0.1:$PORT/graphql" --json "$RESULTS" \
      --only open_position_spread --only open_position_one_market --only sell_position "$@"
  fi
  if [[ "$PARTS" == *" settlement "* ]]; then
    echo "== settlement: resolveMarket on 10,000 and 100,000 positions =="
    "$BIN/python" -m bench.settle --url "http://127.0.0.1:$PORT/graphql" --database-url "$BENCH_DATABASE_URL" \
      --liquidity "${MARKET_LIQUIDITY:-100.00}"
  fi
  stop_all
fi

if [[ "$PARTS" == *" search "* ]]; then
  echo "== searchMarkets, lexical fallback (EMBEDDER=hashing) =="
  EMBEDDER=hashing "$BIN/markets" reindex
  start_server server "$PORT" MARKET_CACHE_TTL_SECONDS=0 REDIS_URL= EMBEDDER=hashing
  "$BIN/python" -m bench.run --url "http://127.0.0.1:$PORT/graphql" --json "$RESULTS" --append \
    --only search_markets --tag hashing "$@"
  stop_all

  echo "== indexing with the model through a worker, then searchMarkets (EMBEDDER=minilm) =="
  BENCH_INDEX_REDIS_URL="${BENCH_INDEX_REDIS_URL:-$BENCH_REDIS_URL}" "$BIN/python" -m bench.index --log "${LOGS}worker.log"
  start_server server "$PORT" MARKET_CACHE_TTL_SECONDS=0 REDIS_URL= EMBEDDER=minilm
  "$BIN/python" -m bench.run --url "http://127.0.0.1:$PORT/graphql" --json "$RESULTS" --append \
    --only search_markets --tag minilm "$@"
  stop_all
fi
