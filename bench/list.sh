#!/usr/bin/env bash
# Times `polyship list --json` on a generated monorepo of N packages (default 1000) across Cargo,
# npm and Python with internal dependencies, against the floor — listing the manifests with git and
# reading each once, which any discovery must do — and against peers on the same tree:
# `cargo metadata --no-deps` (the Cargo part), `npm pkg get --workspaces` (the npm part) and
# `@manypkg/get-packages` (the discovery changesets uses; installed into the cache on first run).
#
#   bench/list.sh [N]            RUNS=20 by default; POLYSHIP_BENCH_CACHE moves the cache
#
# Target: under 100 ms for N = 1000. The figures are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
RUNS="${RUNS:-20}"
CACHE="${POLYSHIP_BENCH_CACHE:-$HOME/.cache/polyship-bench}"
REPO="$CACHE/list-$N-$(sha1sum bench/history.py | cut -c1-8)"
mkdir -p "$CACHE"
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
TIMEIT="python3 $PWD/bench/timeit.py $RUNS"
if [ ! -d "$REPO/.git" ]; then
    rm -rf "$REPO"
    python3 bench/history.py "$REPO" --packages "$N" --commits 1 >&2
fi
count=$("$POLYSHIP" -C "$REPO" list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["packages"]))')
if [ "$count" != "$N" ]; then
    echo "bench/list.sh: polyship listed $count packages, the fixture has $N" >&2
    exit 1
fi

MANY="$CACHE/node"
if [ ! -d "$MANY/node_modules/@manypkg/get-packages" ] && command -v npm >/dev/null; then
    npm install --silent --prefix "$MANY" @manypkg/get-packages@2 >/dev/null 2>&1 || echo "could not install @manypkg/get-packages; skipping it" >&2
fi

cd "$REPO"
floor=$($TIMEIT sh -c "git ls-files -z -co --exclude-standard -- Cargo.toml package.json ':(glob)**/Cargo.toml' ':(glob)**/package.json' ':(glob)**/pyproject.toml' | xargs -0 cat")
ours=$($TIMEIT "$POLYSHIP" list --json)
printf '\npolyship list on %s packages (cargo, npm, python), median of %s runs\n\n' "$N" "$RUNS"
printf '%-56s %9s %12s\n' "command" "ms" "vs polyship"
row() { awk -v n="$1" -v t="$2" -v o="$ours" 'BEGIN {printf "%-56s %9.1f %11.2fx\n", n, t, t/o}'; }
row "floor: git ls-files + read every manifest" "$floor"
row "polyship list --json" "$ours"
row "cargo metadata --no-deps --offline (Cargo only)" "$($TIMEIT cargo metadata --no-deps --offline --format-version 1)"
if command -v npm >/dev/null; then
    row "npm pkg get name version --workspaces (npm only)" "$($TIMEIT npm pkg get name version --workspaces --json)"
fi
if [ -d "$MANY/node_modules/@manypkg/get-packages" ]; then
    row "@manypkg/get-packages (changesets' discovery, npm only)" \
        "$($TIMEIT node -e "require('$MANY/node_modules/@manypkg/get-packages').getPackages(process.cwd()).then(p => process.stdout.write(JSON.stringify(p)))")"
fi
awk -v o="$ours" -v f="$floor" 'BEGIN {printf "\ntarget: under 100 ms -> %.1f ms (%.2fx the floor)\n", o, o/f}'
