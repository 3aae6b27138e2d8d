#!/usr/bin/env bash
# `make bench`: seed PostgreSQL with the standard data set, serve it, measure over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL}"
PORT="${BENCH_PORT:-8765}"
db_name="${BENCH_DATABASE_URL##*/}"
psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1 \
  || createdb -h 127.0.0.1 -U postgres "$db_name"

export DATABASE_URL="$BENCH_DATABASE_URL" RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0 LOG_LEVEL=WARNING
.venv/bin/markets migrate
.venv/bin/markets seed --if-empty --users 1000 --markets 10000 --positions 100000

.venv/bin/markets serve --port "$PORT" > /tmp/markets-bench-server.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
.venv/bin/python -m bench.run --url "http://127.0.0.1:$PORT/graphql" "$@"
