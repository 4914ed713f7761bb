#!/usr/bin/env bash
# Times planning and applying on the 1,000-package fixture of bench/status.sh.
#
#   bench/plan.sh [N] [M]          defaults: 1000 packages, 100000 commits
#
# Part 1, on the history fixture (changes from Conventional Commits): the floor is change
# collection itself — `polyship status --json`, what bench/status.sh measures against git — and
# `polyship plan --json` and `polyship version --dry-run` (which computes every manifest, lockfile
# and changelog edit and a diff of each) must add under 20% to it.
#
# Part 2, peers: the same packages with one changeset per npm package and no history to read,
# `polyship plan` against changesets' `changeset status` (its release plan) and `polyship version
# --no-commit` against `changeset version`, each on a fresh copy. Peers install into the cache
# (`npm install @changesets/cli@2`), never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
M="${2:-100000}"
RUNS="${RUNS:-3}"
CACHE="${POLYSHIP_BENCH_CACHE:-$HOME/.cache/polyship-bench}"
HASH="$(sha1sum bench/history.py | cut -c1-8)"
REPO="$CACHE/history-$N-$M-$HASH"
mkdir -p "$CACHE"
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
TIMEIT="$PWD/bench/timeit.py"
HISTORY="$PWD/bench/history.py"
if [ ! -d "$REPO/.git" ]; then
    echo "generating $REPO …" >&2
    rm -rf "$REPO"
    python3 "$HISTORY" "$REPO" --packages "$N" --commits "$M" >&2
fi

# median wall seconds of RUNS runs (a failing run fails the benchmark)
median() {
    python3 "$TIMEIT" "$RUNS" "$@" | awk '{printf "%.3f\n", $1/1000}'
}

cd "$REPO"
releases=$("$POLYSHIP" plan --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["releases"]))')
[ "$releases" -gt 0 ] || { echo "bench/plan.sh: the plan is empty; the fixture or polyship is broken" >&2; exit 1; }
files=$("$POLYSHIP" version --dry-run 2>/dev/null | grep -c '^diff --polyship' || true)
[ -z "$(git status --porcelain)" ] || { echo "bench/plan.sh: --dry-run wrote files" >&2; exit 1; }

# Cold, all three: without the history cache (bench/history.sh measures it).
status=$(median "$POLYSHIP" status --json --no-cache)
plan=$(median "$POLYSHIP" plan --json --no-cache)
dry=$(median "$POLYSHIP" version --dry-run --no-cache)

printf '\npart 1: %s packages, %s commits; the plan releases %s packages and edits %s files; median of %s runs\n\n' "$N" "$M" "$releases" "$files" "$RUNS"
printf '%-52s %9s %8s\n' "command" "seconds" "ratio"
row() { awk -v n="$1" -v s="$2" -v f="$status" 'BEGIN {printf "%-52s %9.2f %7.2fx\n", n, s, s/f}'; }
row "polyship status --json --no-cache (floor: change collection)" "$status"
row "polyship plan --json --no-cache" "$plan"
row "polyship version --dry-run --no-cache" "$dry"
awk -v p="$plan" -v d="$dry" -v f="$status" 'BEGIN {
    printf "\ntarget: planning and editing add under 20%% to the floor -> plan +%.1f%%, version --dry-run +%.1f%%\n", (p/f-1)*100, (d/f-1)*100 }'

# Part 2: changesets side by side.
PEERS="$CACHE/node"
if [ ! -x "$PEERS/node_modules/.bin/changeset" ]; then
    if command -v npm >/dev/null; then
        npm install --silent --prefix "$PEERS" --no-audit --no-fund @changesets/cli@2 >&2
    fi
fi
if [ ! -x "$PEERS/node_modules/.bin/changeset" ]; then
    echo "changesets: not installed (npm install --prefix $PEERS @changesets/cli@2)"
    exit 0
fi
CS="$CACHE/changesets-$N-$HASH"
if [ ! -d "$CS/.git" ]; then
    rm -rf "$CS"
    python3 "$HISTORY" "$CS" --packages "$N" --commits 10 >&2
    python3 - "$CS" <<'PY'
import json, os, sys
root = sys.argv[1]
os.makedirs(f"{root}/.changeset", exist_ok=True)
json.dump({"changelog": False, "commit": False, "fixed": [], "linked": [], "access": "restricted",
           "baseBranch": "main", "updateInternalDependencies": "patch", "ignore": []},
          open(f"{root}/.changeset/config.json", "w"), indent=2)
names = []
for dirpath, dirs, files in os.walk(root):
    dirs[:] = [d for d in dirs if d not in (".git", "node_modules")]
    if "package.json" in files and dirpath != root:
        names.append(json.load(open(f"{dirpath}/package.json"))["name"])
for i, name in enumerate(sorted(names)):
    bump = ["patch", "minor", "patch", "major"][i % 4]
    open(f"{root}/.changeset/change-{i}.md", "w").write(f'---\n"{name}": {bump}\n---\n\nChange {i}\n')
PY
    git -C "$CS" add -A && git -C "$CS" -c user.name=b -c user.email=b@b commit -q -m "chore: changesets"
fi
cd "$CS"
cs_count=$(ls .changeset/*.md | wc -l)
ours_plan=$(median "$POLYSHIP" plan --json)
peer_plan=$(median "$PEERS/node_modules/.bin/changeset" status --verbose)
copy_only=$(median bash -c "rm -rf '$CACHE/copy' && cp -a '$CS' '$CACHE/copy'")
ours_version=$(median bash -c "rm -rf '$CACHE/copy' && cp -a '$CS' '$CACHE/copy' && '$POLYSHIP' -C '$CACHE/copy' version --no-commit --no-lockfile")
peer_version=$(median bash -c "rm -rf '$CACHE/copy' && cp -a '$CS' '$CACHE/copy' && cd '$CACHE/copy' && '$PEERS/node_modules/.bin/changeset' version")
rm -rf "$CACHE/copy"
printf '\npart 2: %s packages, %s changesets, median of %s runs (version rows minus the copy, %.2f s)\n\n' "$N" "$cs_count" "$RUNS" "$copy_only"
printf '%-52s %9s %8s\n' "command" "seconds" "vs ours"
awk -v o="$ours_plan" -v p="$peer_plan" 'BEGIN {
    printf "%-52s %9.2f %7.2fx\n", "polyship plan --json", o, 1
    printf "%-52s %9.2f %7.2fx\n", "changeset status --verbose (peer)", p, p/o }'
awk -v o="$ours_version" -v p="$peer_version" -v c="$copy_only" 'BEGIN {
    printf "%-52s %9.2f %7.2fx\n", "polyship version --no-commit", o-c, 1
    printf "%-52s %9.2f %7.2fx\n", "changeset version (peer)", p-c, (p-c)/(o-c) }'
