# Sourced by scripts/serving.sh (CI) and bench/processes.sh (`make bench`): waiting for a server
# started in the background.
# wait_for_healthz PID URL LOG: until URL/healthz answers (30 s at most); if the process PID exits
# or the server never answers, the end of its LOG and exit 1.
wait_for_healthz() {
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$2/healthz" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  echo "no answer from $2/healthz; the end of $3:" >&2
  tail -n 40 "$3" >&2
  exit 1
}
