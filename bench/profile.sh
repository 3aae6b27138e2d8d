#!/usr/bin/env bash
# `make profile OP=market_by_id`: serve the bench database (market cache off, as the read bench's
# server), load it with wrk for one read case (market_by_id, markets_nested or
# markets_filtered_by_volume) and sample it with py-spy meanwhile (bench/profile.py); prints the top
# frames by self and inclusive time. Settings as for `make bench` (bench/processes.sh);
# BENCH_PROFILE_SECONDS sets the sampled seconds (default 15).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/processes.sh
case_name="${1:-market_by_id}"
seed_database
ensure_wrk
start_server server "$PORT" MARKET_CACHE_TTL_SECONDS=0 REDIS_URL=
"$BIN/python" -m bench.profile "$case_name" --url "http://127.0.0.1:$PORT/graphql" --server-pid "$LAST_PID" \
  --database-url "$BENCH_DATABASE_URL" --duration "${BENCH_PROFILE_SECONDS:-15}"
