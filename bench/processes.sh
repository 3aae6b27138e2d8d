# Sourced by bench/serve_and_run.sh (`make bench`) and bench/profile.sh (`make profile`): the
# bench's settings, the seeded database, wrk, and the processes it serves from, each waited for on
# /healthz and all stopped on exit. Every address is configurable, so that benches can run side by
# side on one machine:
#   BENCH_DATABASE_URL  the database (created, migrated and seeded if need be)
#   BENCH_BIN           the folder of the project's `markets`, `python` and `py-spy` (default .venv/bin)
#   BENCH_PORT          the server (default 8765); the floor listens on BENCH_FLOOR_PORT (8766) and
#                       the server with the market cache on, on BENCH_CACHED_PORT (8767)
#   BENCH_REDIS_URL     the Redis database the market cache and the indexing jobs use (flushed!)
#   BENCH_LOGS          the prefix of the processes' logs (default /tmp/markets-bench-)
: "${BENCH_DATABASE_URL:?set BENCH_DATABASE_URL}"
BIN="${BENCH_BIN:-.venv/bin}"
PORT="${BENCH_PORT:-8765}"
FLOOR_PORT="${BENCH_FLOOR_PORT:-8766}"
CACHED_PORT="${BENCH_CACHED_PORT:-8767}"
BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/12}"
LOGS="${BENCH_LOGS:-/tmp/markets-bench-}"

export DATABASE_URL="$BENCH_DATABASE_URL" RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0 LOG_LEVEL=WARNING
# No background indexing or closing under the measurements; each search run says its embedder.
export PERIODIC_JOBS=false EMBEDDER=hashing

# The standard data set: 1,000 users, 10,000 markets, 100,000 positions (kept if already there).
seed_database() {
  local db_name="${BENCH_DATABASE_URL##*/}"
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1 \
    || createdb -h 127.0.0.1 -U postgres "$db_name"
  "$BIN/markets" migrate
  "$BIN/markets" seed --if-empty --users 1000 --markets 10000 --positions 100000
  # Vacuumed and analyzed, as autovacuum leaves it sooner or later: the plans (index-only counts) and so
  # the measurements do not depend on whether it has run since the seed.
  psql -h 127.0.0.1 -U postgres -q -c "VACUUM ANALYZE" "$db_name"
}

# The load generator of the read benches (bench/load.py): Debian's wrk, installed if missing.
ensure_wrk() {
  command -v wrk >/dev/null && return
  echo "installing wrk (apt-get install -y wrk)" >&2
  { apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >/dev/null 2>&1 || true
  command -v wrk >/dev/null && return
  echo "the read benches need wrk, which could not be installed: run \`apt-get install -y wrk\` as root" >&2
  exit 1
}

# shellcheck source=scripts/healthz.sh
. scripts/healthz.sh
STARTED=()
stop_all() {
  local pid
  for pid in "${STARTED[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  STARTED=()
}
trap stop_all EXIT

# start NAME PORT COMMAND...: COMMAND in the background (output appended to ${LOGS}NAME.log), waited
# for until http://127.0.0.1:PORT/healthz answers; its process id in LAST_PID.
start() {
  local name="$1" port="$2"
  shift 2
  "$@" >>"${LOGS}${name}.log" 2>&1 &
  LAST_PID=$!
  STARTED+=("$LAST_PID")
  wait_for_healthz "$LAST_PID" "http://127.0.0.1:$port" "${LOGS}${name}.log"
}

# start_server NAME PORT [VARIABLE=value...]: `markets serve` with these settings.
start_server() {
  local name="$1" port="$2"
  shift 2
  start "$name" "$port" env "$@" "$BIN/markets" serve --port "$port"
}
