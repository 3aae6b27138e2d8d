#!/usr/bin/env bash
# `make bench`: seed PostgreSQL with the standard data set, serve it, measure over HTTP
# (trading included: openPosition spread over markets and on one market, sellPosition, and
# settlement of markets with 10,000 and 100,000 positions, bench/settle.py).
# The server runs twice: with the market cache off (every case), then with it on, over Redis
# (the cache-hit case), so the two market(id) rows compare the uncached and the cached path.
# Then searchMarkets, once per embedder (each after indexing the 10,000 markets with it); the
# model's indexing runs through a real `markets worker` (bench/index.py: time, peak memory).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL}"
PORT="${BENCH_PORT:-8765}"
BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/12}"
RESULTS="${BENCH_RESULTS:-bench/results.json}"
db_name="${BENCH_DATABASE_URL##*/}"
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1 \
  || createdb -h 127.0.0.1 -U postgres "$db_name"

export DATABASE_URL="$BENCH_DATABASE_URL" RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0 LOG_LEVEL=WARNING
# No background indexing or closing under the measurements; each search run says its embedder.
export PERIODIC_JOBS=false EMBEDDER=hashing
.venv/bin/markets migrate
.venv/bin/markets seed --if-empty --users 1000 --markets 10000 --positions 100000

server=""
stop_server() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  server=""
}
trap stop_server EXIT
start_server() {
  env "$@" .venv/bin/markets serve --port "$PORT" >> /tmp/markets-bench-server.log 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return
    sleep 0.2
  done
  echo "the server did not start: see /tmp/markets-bench-server.log" >&2
  exit 1
}

# The floor (bench/floor.py: one SQL statement builds each answer) beside the server, same clients:
# every read operation as a ratio to it, with CPU and SQL per request (bench/against_floor.py).
FLOOR_PORT="${BENCH_FLOOR_PORT:-8766}"
floor=""
stop_floor() {
  if [ -n "$floor" ]; then kill "$floor" 2>/dev/null || true; wait "$floor" 2>/dev/null || true; fi
  floor=""
}
echo "== reads against the floor, market cache off =="
trap 'stop_floor; stop_server' EXIT
start_server MARKET_CACHE_TTL_SECONDS=0 REDIS_URL=
.venv/bin/python -m bench.floor --database-url "$BENCH_DATABASE_URL" --port "$FLOOR_PORT" \
  >> /tmp/markets-bench-floor.log 2>&1 &
floor=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$FLOOR_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
.venv/bin/python -m bench.against_floor --url "http://127.0.0.1:$PORT/graphql" --server-pid "$server" \
  --floor-url "http://127.0.0.1:$FLOOR_PORT" --floor-pid "$floor" --database-url "$BENCH_DATABASE_URL" \
  --duration "${BENCH_FLOOR_SECONDS:-10}"
stop_floor
stop_server
trap stop_server EXIT

echo "== market cache off =="
start_server MARKET_CACHE_TTL_SECONDS=0 REDIS_URL=
cases=(--only market_by_id --only markets_nested --only markets_filtered_by_volume
       --only open_position_spread --only open_position_one_market --only sell_position)
.venv/bin/python -m bench.run --url "http://127.0.0.1:$PORT/graphql" --json "$RESULTS" "${cases[@]}" "$@"
echo "== settlement: resolveMarket on 10,000 and 100,000 positions =="
.venv/bin/python -m bench.settle --url "http://127.0.0.1:$PORT/graphql" --database-url "$BENCH_DATABASE_URL" \
  --liquidity "${MARKET_LIQUIDITY:-100.00}"
stop_server

echo "== market cache on, in Redis =="
redis-cli -u "$BENCH_REDIS_URL" flushdb >/dev/null
start_server REDIS_URL="$BENCH_REDIS_URL"
.venv/bin/python -m bench.run --url "http://127.0.0.1:$PORT/graphql" --json "$RESULTS" --append \
  --only market_by_id_cached "$@"
stop_server

echo "== searchMarkets, lexical fallback (EMBEDDER=hashing) =="
EMBEDDER=hashing .venv/bin/markets reindex
start_server MARKET_CACHE_TTL_SECONDS=0 REDIS_URL= EMBEDDER=hashing
.venv/bin/python -m bench.run --url "http://127.0.0.1:$PORT/graphql" --json "$RESULTS" --append \
  --only search_markets --tag hashing "$@"
stop_server

echo "== indexing with the model through a worker, then searchMarkets (EMBEDDER=minilm) =="
BENCH_INDEX_REDIS_URL="${BENCH_INDEX_REDIS_URL:-redis://127.0.0.1:6379/11}" .venv/bin/python -m bench.index
start_server MARKET_CACHE_TTL_SECONDS=0 REDIS_URL= EMBEDDER=minilm
.venv/bin/python -m bench.run --url "http://127.0.0.1:$PORT/graphql" --json "$RESULTS" --append \
  --only search_markets --tag minilm "$@"
