# Sourced by the CI scripts that run a real `markets serve` (check_wheel.sh, fuzz.sh): one work
# folder, a server started in the background and waited for, and both cleaned up on exit.
#   WORK        a temporary folder, removed on exit
#   URL         the server's base URL, once `start_server` returned
# shellcheck source=scripts/healthz.sh
. "$(dirname "${BASH_SOURCE[0]}")/healthz.sh"
WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# start_server MARKETS PORT: `MARKETS serve` on 127.0.0.1:PORT, its output in $WORK/server.log,
# until /healthz answers (its log and exit 1 if it dies or never answers).
start_server() {
  "$1" serve --host 127.0.0.1 --port "$2" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  URL="http://127.0.0.1:$2"
  wait_for_healthz "$SERVER_PID" "$URL" "$WORK/server.log"
}
