#!/usr/bin/env bash
# Vendors GraphiQL's browser build, with React and the explorer plugin, from the npm registry into
# markets/transport/static/graphiql/, so that the explorer at GET /graphql works on a network with no internet.
#
#   scripts/vendor_graphiql.sh          # (re)write markets/transport/static/graphiql/ from the registry
#   scripts/vendor_graphiql.sh --check  # download again and fail if the committed files differ
#
# Reproducible: every version is pinned; npm checks each tarball against the registry's integrity
# digest; every served file is checked against the SHA-384 pinned below (the digests Strawberry's
# own CDN page pins for the same files), so a run gives the same bytes or stops. The licences of
# the four packages, and of every package inside GraphiQL's bundle, are copied beside them; those
# come from an install pinned by scripts/graphiql-licences/package-lock.json.
#
# To move to other versions: change the pins and digests here and the versions in
# scripts/graphiql-licences/package.json, run `npm install --package-lock-only --ignore-scripts
# --omit-lockfile-registry-resolved` in that folder, then this script.
# Needs node, npm and the npm registry; the server itself never needs any of them.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAPHIQL=3.8.3        # the last GraphiQL with a UMD build (4.x and later ship ES modules only)
REACT=18.2.0          # the React GraphiQL 3.8 was built against (19 has no UMD build)
EXPLORER=1.0.2        # @graphiql/plugin-explorer for GraphiQL 3
DEST=markets/transport/static/graphiql
LICENCES=scripts/graphiql-licences

# package@version | file in the package | name served | sha384 of the file
FILES="
graphiql@$GRAPHIQL|graphiql.min.js|graphiql-$GRAPHIQL.min.js|HbRVEFG0JGJZeAHCJ9Xm2+tpknBQ7QZmNlO/DgZtkZ0aJSypT96YYGRNod99l9Ie
graphiql@$GRAPHIQL|graphiql.min.css|graphiql-$GRAPHIQL.min.css|Mq3vbRBY71jfjQAt/DcjxUIYY33ksal4cgdRt9U/hNPvHBCaT2JfJ/PTRiPKf0aM
react@$REACT|umd/react.production.min.js|react-$REACT.production.min.js|tMH8h3BGESGckSAVGZ82T9n90ztNXxvdwvdM6UoR56cYcf+0iGXBliJ29D+wZ/x8
react-dom@$REACT|umd/react-dom.production.min.js|react-dom-$REACT.production.min.js|bm7MnzvK++ykSwVJ2tynSE5TRdN+xL418osEVF2DE/L/gfWHj91J2Sphe582B1Bh
@graphiql/plugin-explorer@$EXPLORER|dist/index.umd.js|plugin-explorer-$EXPLORER.umd.js|2oonKe47vfHIZnmB6ZZ10vl7T0Y+qrHQF2cmNTaFDuPshpKqpUMGMc9jgj9MLDZ9
@graphiql/plugin-explorer@$EXPLORER|dist/style.css|plugin-explorer-$EXPLORER.css|5DFJlDPW2tSATRbM8kzoP1j194jexLswuNmClWoRr2Q0x7R68JIQzPHZ02Faktwi
"

check=false
[[ "${1:-}" == "--check" ]] && check=true

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out="$work/out"
mkdir -p "$out/licenses" "$work/packs" "$work/install"

sha384() { openssl dgst -sha384 -binary "$1" | openssl base64 -A; }

# The served files, straight from the packages' tarballs.
manifest="$work/manifest.tsv"
while IFS='|' read -r spec path served digest; do
  [[ -z "$spec" ]] && continue
  name=${spec%@*}
  dir="$work/packs/${name//\//_}"
  if [[ ! -d "$dir" ]]; then
    mkdir -p "$dir"
    tarball=$(cd "$work/packs" && npm pack --silent "$spec")
    tar -xzf "$work/packs/$tarball" -C "$dir"
  fi
  cp "$dir/package/$path" "$out/$served"
  actual=$(sha384 "$out/$served")
  if [[ "$actual" != "$digest" ]]; then
    echo "vendor_graphiql: $spec $path has sha384-$actual, expected sha384-$digest" >&2
    exit 1
  fi
  printf '%s\t%s\t%s\tsha384-%s\n' "$served" "$spec" "$path" "$digest" >> "$manifest"
done <<< "$FILES"

# GraphiQL's dependency tree, exactly as the lock file says, for the bundled packages' licences.
# No install scripts run.
cp "$LICENCES/package.json" "$LICENCES/package-lock.json" "$work/install/"
(cd "$work/install" && npm ci --silent --ignore-scripts --no-audit --no-fund >/dev/null)

# manifest.json: what each served file is (the page takes its integrity attributes from it);
# licences: one file per vendored package, one for everything GraphiQL's bundle contains.
python3 - "$work" "$out" "$manifest" "$GRAPHIQL" <<'PY'
import json, re, sys
from pathlib import Path

work, out, manifest, graphiql = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
modules = work / "install" / "node_modules"

files = {}
for line in manifest.read_text().splitlines():
    served, spec, path, integrity = line.split("\t")
    files[served] = {"package": spec, "path": path, "integrity": integrity}
(out / "manifest.json").write_text(json.dumps({"files": files}, indent=2, sort_keys=True) + "\n")


def licence_text(package_dir: Path) -> str | None:
    for candidate in sorted(package_dir.iterdir()):
        if re.match(r"(?i)^(licen[cs]e|copying)", candidate.name) and candidate.is_file():
            return candidate.read_text(errors="replace").strip()
    return None


def find(name: str) -> Path | None:
    """The package's folder: top-level, else the first nested copy (npm nests clashing versions)."""
    if (modules / name / "package.json").exists():
        return modules / name
    nested = sorted(modules.glob(f"**/node_modules/{name}/package.json"))
    return nested[0].parent if nested else None


def describe(folder: Path) -> tuple[str, str, str | None]:
    meta = json.loads((folder / "package.json").read_text())
    return meta["version"], str(meta.get("license", "see text")), licence_text(folder)


# The vendored packages themselves, from their tarballs. The explorer plugin ships no LICENSE
# file; it is MIT and lives in GraphiQL's repository (graphql/graphiql), whose LICENSE covers it.
graphiql_licence = licence_text(work / "packs" / "graphiql" / "package")
for name, short in [("graphiql", "graphiql"), ("react", "react"), ("react-dom", "react-dom"),
                    ("@graphiql/plugin-explorer", "plugin-explorer")]:
    version, kind, text = describe(work / "packs" / name.replace("/", "_") / "package")
    if text is None:
        text = (f"{name} declares the {kind} licence and ships no licence file; it is part of the\n"
                f"graphql/graphiql repository, whose licence follows.\n\n{graphiql_licence}")
    (out / "licenses" / f"{short}.LICENSE.txt").write_text(f"{name}@{version} ({kind})\n\n{text}\n")

# Everything webpack put into graphiql.min.js, named by the module paths the bundle records.
bundle = (out / f"graphiql-{graphiql}.min.js").read_text()
bundled = set()
for path in re.findall(r'^/\*\*\*/ "([^"]+)"', bundle, re.M):
    if "node_modules/" in path:
        rest = path.rsplit("node_modules/", 1)[1].split("/")
        bundled.add("/".join(rest[:2]) if rest[0].startswith("@") else rest[0])
    elif path.startswith("../../"):  # GraphiQL's own monorepo packages
        folder = path.split("/")[2]
        bundled.add({"graphiql-react": "@graphiql/react", "graphiql-toolkit": "@graphiql/toolkit"}.get(folder, folder))
sections = [f"Packages bundled in graphiql-{graphiql}.min.js (names from the bundle's module paths;\n"
            f"versions and texts from scripts/graphiql-licences/package-lock.json).\n"]
for name in sorted(bundled):
    folder = find(name)
    if folder is None:
        sys.exit(f"vendor_graphiql: bundled package {name} is not in the install: add it to {sys.argv[0]}'s lock")
    version, kind, text = describe(folder)
    sections.append(f"{'=' * 78}\n{name}@{version} ({kind})\n\n{text or f'Licensed under {kind}.'}\n")
(out / "licenses" / "graphiql-bundled-packages.LICENSE.txt").write_text("\n".join(sections))
print(f"vendor_graphiql: {len(files)} files, licences of {len(bundled)} bundled packages")
PY

if $check; then
  if diff -r "$out" "$DEST" >/dev/null; then
    echo "vendor_graphiql: $DEST matches the registry"
  else
    diff -rq "$out" "$DEST" >&2 || true
    echo "vendor_graphiql: $DEST differs from a fresh download: run scripts/vendor_graphiql.sh" >&2
    exit 1
  fi
else
  rm -rf "$DEST"
  mkdir -p "$(dirname "$DEST")"
  cp -r "$out" "$DEST"
  echo "vendor_graphiql: wrote $DEST ($(du -sh "$DEST" | cut -f1))"
fi
