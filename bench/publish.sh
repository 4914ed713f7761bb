#!/usr/bin/env bash
# Times publishing N npm packages to a local Verdaccio (scripts/registries starts it).
#
#   bench/publish.sh [N]          default: 40 packages, in chains of five (each depends on the one
#                                 before it), so both order and parallelism matter
#
#   floor       `npm publish` of every package, one after another, in dependency order: the uploads
#               any tool must make, without any checking, tagging or parallelism
#   changesets  `changeset publish` (registry checks, `npm publish` per package, git tags)
#   polyship    `polyship publish --no-push` (preflight, registry reads, packing, uploads in
#               dependency order on `--jobs` threads, tags, journal)
#
# Every contender publishes its own copy under fresh names, so nothing is "already published".
# Runs RUNS times (default 3) and prints medians. Peers install into the cache
# (`npm install @changesets/cli@2`), never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-40}"
RUNS="${RUNS:-3}"
CACHE="${POLYSHIP_BENCH_CACHE:-$HOME/.cache/polyship-bench}"
mkdir -p "$CACHE"
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
PEERS="$CACHE/node"
if [ ! -x "$PEERS/node_modules/.bin/changeset" ]; then
    echo "installing @changesets/cli@2 into $PEERS …" >&2
    npm install --silent --prefix "$PEERS" --no-audit --no-fund @changesets/cli@2 >&2
fi
CHANGESET="$PEERS/node_modules/.bin/changeset"
# shellcheck source=scripts/registries
source scripts/registries
WORK="$(mktemp -d)"
trap '_reg_stop; rm -rf "$WORK"' EXIT
export NPM_TOKEN="$POLYSHIP_TEST_NPM_TOKEN"
# One user config for every contender: the registry and its token (by variable).
printf 'registry=%s\n//%s:_authToken=${NPM_TOKEN}\n' "$POLYSHIP_TEST_NPM_REGISTRY" \
    "${POLYSHIP_TEST_NPM_REGISTRY#*://}" >"$WORK/npmrc"
export NPM_CONFIG_USERCONFIG="$WORK/npmrc"
# changesets takes the registry from the environment (else npmjs.org), not from the user config.
export npm_config_registry="$POLYSHIP_TEST_NPM_REGISTRY"

# fixture DIR PREFIX: a git repository with N packages named PREFIX-pI.
fixture() {
    python3 - "$1" "$2" "$N" "$POLYSHIP_TEST_NPM_REGISTRY" <<'PY'
import json, os, sys
out, prefix, n, registry = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
os.makedirs(out)
json.dump({"name": "root", "private": True, "workspaces": ["packages/*"]},
          open(os.path.join(out, "package.json"), "w"))
os.makedirs(os.path.join(out, ".changeset"))
json.dump({"baseBranch": "main", "access": "public", "commit": False},
          open(os.path.join(out, ".changeset", "config.json"), "w"))
with open(os.path.join(out, "polyship.toml"), "w") as f:
    f.write(f'[publish.npm]\nregistry = "{registry}"\n')
for i in range(n):
    d = os.path.join(out, "packages", f"p{i}")
    os.makedirs(d)
    manifest = {"name": f"{prefix}-p{i}", "version": "1.0.0", "main": "index.js"}
    if i % 5:
        manifest["dependencies"] = {f"{prefix}-p{i-1}": "^1.0.0"}
    json.dump(manifest, open(os.path.join(d, "package.json"), "w"), indent=2)
    open(os.path.join(d, "index.js"), "w").write(f"module.exports = {i};\n")
PY
    git -C "$1" init -q -b main
    git -C "$1" add -A
    git -C "$1" -c user.name=Bench -c user.email=bench@example.com commit -q -m "chore: packages"
}

# Published versions of PREFIX-p0 … PREFIX-p(N-1) on the registry.
count() {
    python3 - "$POLYSHIP_TEST_NPM_REGISTRY" "$1" "$N" <<'PY'
import json, sys, urllib.request, urllib.error
registry, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
found = 0
for i in range(n):
    try:
        doc = json.load(urllib.request.urlopen(f"{registry}{prefix}-p{i}"))
        found += "1.0.0" in doc.get("versions", {})
    except urllib.error.HTTPError:
        pass
print(found)
PY
}

# seconds CMD…: wall time of one run, failing loudly.
seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >"$WORK/last.log" 2>&1 || { cat "$WORK/last.log" >&2; echo "bench/publish.sh: $* failed" >&2; exit 1; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN {printf "%.3f\n", b-a}'
}

floor_publish() {
    local dir="$1" i
    for i in $(seq 0 $((N - 1))); do
        (cd "$dir/packages/p$i" && npm publish --silent --registry "$POLYSHIP_TEST_NPM_REGISTRY")
    done
}

median() { python3 -c 'import statistics, sys; print(f"{statistics.median(map(float, sys.argv[1:])):.3f}")' "$@"; }

declare -a floors peers ours
for run in $(seq "$RUNS"); do
    stamp="$(date +%s%N)"
    for who in floor changesets polyship; do
        prefix="bench-$who-$stamp"
        dir="$WORK/$who-$run"
        fixture "$dir" "$prefix"
        case "$who" in
        floor) floors+=("$(seconds floor_publish "$dir")") ;;
        changesets) peers+=("$(seconds bash -c "cd '$dir' && '$CHANGESET' publish")") ;;
        polyship) ours+=("$(seconds "$POLYSHIP" -C "$dir" publish --no-push)") ;;
        esac
        published=$(count "$prefix")
        [ "$published" = "$N" ] || {
            echo "bench/publish.sh: $who published $published of $N packages" >&2
            exit 1
        }
    done
done

floor=$(median "${floors[@]}")
peer=$(median "${peers[@]}")
own=$(median "${ours[@]}")
printf '\n%s npm packages to Verdaccio, median of %s runs\n\n' "$N" "$RUNS"
printf '%-58s %9s %8s\n' "command" "seconds" "ratio"
row() { awk -v n="$1" -v s="$2" -v f="$floor" 'BEGIN {printf "%-58s %9.2f %7.2fx\n", n, s, s/f}'; }
row "npm publish, one after another (floor)" "$floor"
row "changeset publish" "$peer"
row "polyship publish --no-push" "$own"
awk -v p="$own" -v c="$peer" 'BEGIN { printf "\npolyship vs changesets: %.2fx the time\n", p/c }'
