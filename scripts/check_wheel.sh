#!/usr/bin/env bash
# The package as shipped (the Docker image installs the same wheel): build the wheel, check that it
# carries every package and data file of the source, install it into a fresh virtualenv outside the
# checkout, migrate a SQLite database with it and start `markets serve` until /healthz answers 200,
# a GraphQL query works and the static assets are served; then stop it. Needs no Docker engine.
#
#   MARKETS_BIN   the folder of the virtualenv with the dependencies (default: .venv/bin); the fresh
#                 virtualenv reaches them through a .pth line, never through this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=$PWD
BIN=$(cd "${MARKETS_BIN:-.venv/bin}" && pwd)
# shellcheck source=scripts/serving.sh
. "$SOURCE/scripts/serving.sh"

# 1. The wheel, built from a copy of the files git would ship (tracked or new, not ignored), so the
#    build leaves nothing behind in the checkout.
mkdir -p "$WORK/src" "$WORK/dist"
git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' \
  | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
"$BIN/python" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK/dist"/markets-*.whl)

# 2. Every file under the packages (modules, migrations, templates, static assets) is in the wheel.
"$BIN/python" - "$WHEEL" "$WORK/src" <<'PY'
import sys, zipfile
from pathlib import Path
wheel, source = sys.argv[1], Path(sys.argv[2])
shipped = set(zipfile.ZipFile(wheel).namelist())
packages = [p.parent for p in source.glob("*/__init__.py") if p.parent.name not in ("tests", "bench")]
expected = {
    str(f.relative_to(source)) for package in packages for f in package.rglob("*")
    if f.is_file() and "__pycache__" not in f.parts
}
missing = sorted(expected - shipped)
if missing:
    sys.exit("the wheel lacks: " + ", ".join(missing))
print(f"wheel: {Path(wheel).name}, {len(expected)} files of {len(packages)} packages, none missing")
PY

# 3. A fresh virtualenv outside the checkout: the wheel, and the dependencies by a .pth line.
BASE_PYTHON=$("$BIN/python" -c 'import sys, os; print(os.path.join(sys.base_prefix, "bin", "python3"))')
"$BASE_PYTHON" -m venv --without-pip "$WORK/venv"
SITE=$("$WORK/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
DEPS=$("$BIN/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$DEPS" > "$SITE/zz_dependencies.pth"
"$BIN/python" -m pip --python "$WORK/venv/bin/python" install --quiet --no-deps --no-compile "$WHEEL"
cd "$WORK"  # nothing of the checkout on sys.path from here on
"$WORK/venv/bin/python" - "$SOURCE" <<'PY'
import sys
from importlib.metadata import requires
from pathlib import Path
import graph
source = Path(sys.argv[1]).resolve()
where = Path(graph.__file__).resolve()
if source in where.parents:
    sys.exit(f"graph was imported from the checkout ({where}), not from the wheel")
print(f"installed: {where.parent.parent}; requires {len(requires('markets') or [])} distributions")
PY
"$BIN/python" -m pip --python "$WORK/venv/bin/python" check

# 4. Serve from it, as the image does (production), on a SQLite database of its own.
export DATABASE_URL="sqlite+aiosqlite:///$WORK/check.db" ENVIRONMENT=production GRAPHIQL=true
export JWT_SECRET=wheel-check-secret-that-is-at-least-32-bytes EMBEDDER=hashing PERIODIC_JOBS=false
unset REDIS_URL
"$WORK/venv/bin/markets" migrate
PORT=$("$WORK/venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server "$WORK/venv/bin/markets" "$PORT"
fail() { echo "check_wheel: $1" >&2; cat "$WORK/server.log" >&2; exit 1; }
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] || fail "/healthz did not answer 200"
[ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] || fail "/readyz did not answer 200"
ANSWER=$(curl -sS -H 'Content-Type: application/json' -d '{"query": "{ markets(first: 1) { totalCount } }"}' "$URL/graphql")
[ "$ANSWER" = '{"data":{"markets":{"totalCount":0}}}' ] || fail "GraphQL answered $ANSWER"
for asset in /admin /admin/main.js /static/graphiql/manifest.json /static/explorer/explorer.js; do
  [ "$(curl -sS -o /dev/null -w '%{http_code}' "$URL$asset")" = 200 ] || fail "$asset is not served"
done
echo "check_wheel: markets serve from the wheel answers /healthz, /readyz, GraphQL and its assets"
