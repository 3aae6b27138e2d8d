#!/usr/bin/env bash
# GraphQL fuzzing: schemathesis (GraphQL mode) against a real `markets serve` on PostgreSQL, as a
# signed-in admin, with rate limits off. Fails on any HTTP 5xx and on any INTERNAL_SERVER_ERROR
# in a response, and on an error logged by the server (scripts/fuzz_checks.py). Bounded by examples per field, and by a hard timeout.
#
#   FUZZ_DATABASE_URL   a PostgreSQL database this script owns: its `public` schema is DROPPED and
#                       rebuilt (default: postgresql+asyncpg://postgres@127.0.0.1:5432/markets_fuzz,
#                       created when missing)
#   FUZZ_EXAMPLES       test cases per root field (default 40)
#   FUZZ_SEED           hypothesis seed (default fixed, so CI is repeatable; set another to explore)
#   FUZZ_PORT           the server's port (default: a free one)
#   FUZZ_TIMEOUT        seconds schemathesis may run before it is stopped and the run fails (default 170)
#   MARKETS_BIN         the folder holding `markets` and `schemathesis` (default: .venv/bin)
#   FUZZ_REPORT_DIR     where the JUnit report and the server's log go (default: a temporary folder)
#
# By hand: `scripts/fuzz.sh`; more exploring:
#   `FUZZ_EXAMPLES=300 FUZZ_TIMEOUT=900 FUZZ_SEED=$RANDOM scripts/fuzz.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${MARKETS_BIN:-.venv/bin}
DB_URL=${FUZZ_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/markets_fuzz}
EXAMPLES=${FUZZ_EXAMPLES:-40}
SEED=${FUZZ_SEED:-20261205}
PORT=${FUZZ_PORT:-$("$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
# shellcheck source=scripts/serving.sh
. scripts/serving.sh
REPORT_DIR=${FUZZ_REPORT_DIR:-$WORK/report}
ADMIN_EMAIL=fuzz-admin@example.com
ADMIN_PASSWORD=fuzz-admin-password

case "$DB_URL" in
  postgresql*) ;;
  *) echo "fuzz.sh: FUZZ_DATABASE_URL must be PostgreSQL" >&2; exit 2 ;;
esac
PSQL_URL=$(printf '%s' "$DB_URL" | sed 's#^postgresql+asyncpg://#postgresql://#')
DB_NAME=${PSQL_URL##*/}
ADMIN_URL=${PSQL_URL%/*}/postgres
psql -q "$ADMIN_URL" -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1 \
  || psql -q "$ADMIN_URL" -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
psql -q "$PSQL_URL" -c "DROP SCHEMA public CASCADE; CREATE SCHEMA public" >/dev/null 2>&1

export DATABASE_URL=$DB_URL
export ENVIRONMENT=development GRAPHIQL=true LOG_FORMAT=json LOG_LEVEL=WARNING
export JWT_SECRET=fuzz-secret-that-is-at-least-32-bytes-long
export RATE_LIMIT_PER_MINUTE=0 AUTH_RATE_LIMIT_PER_MINUTE=0
export EMBEDDER=hashing PERIODIC_JOBS=false
unset REDIS_URL

"$BIN/markets" migrate >/dev/null
"$BIN/markets" seed --users 20 --markets 60 --positions 300 >/dev/null
"$BIN/markets" create-user --email "$ADMIN_EMAIL" --name "Fuzz Admin" --password "$ADMIN_PASSWORD" --role ADMIN >/dev/null
TOKEN=$("$BIN/markets" token --email "$ADMIN_EMAIL")

start_server "$BIN/markets" "$PORT"

echo "fuzzing $URL/graphql: $EXAMPLES examples per field, seed $SEED"
status=0
PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=fuzz_checks \
  timeout "${FUZZ_TIMEOUT:-170}" "$BIN/schemathesis" run "$URL/graphql" \
    --header "Authorization: Bearer $TOKEN" \
    --checks no_server_error \
    --max-examples "$EXAMPLES" --seed "$SEED" --workers 2 --request-timeout 10 --continue-on-failure \
    --suppress-health-check all --output-truncate false \
    --report junit --report-dir "$REPORT_DIR" || status=$?
[ "$status" -ne 124 ] || echo "fuzz.sh: schemathesis did not finish within ${FUZZ_TIMEOUT:-170} s" >&2

echo "== errors the server logged during the run =="
"$BIN/python" scripts/fuzz_summary.py "$WORK/server.log" >&2 || { [ "$status" -ne 0 ] || status=1; }
mkdir -p "$REPORT_DIR" && cp "$WORK/server.log" "$REPORT_DIR/server.log"
exit "$status"
