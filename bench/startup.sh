#!/usr/bin/env bash
# Times polyship's start-up: `status`, `list` and `plan` on the bundled example repository (five
# packages in four ecosystems, one commit), against what any run there must pay — starting a
# process, and the one `git ls-files` discovery runs — and against `git status` on the same tree.
#
#   bench/startup.sh                 RUNS=41 by default (medians)
#
# Target (issue "History at git's speed"): `polyship status` at a median of 10 ms or less.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-41}"
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
BENCH="$PWD/bench"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -R examples/polyglot/. "$work"
git -C "$work" init -q -b main
git -C "$work" add -A
git -C "$work" -c user.name=Bench -c user.email=bench@example.com commit -q -m "chore: initial import"
cd "$work"
# A broken command is not fast: the example must show its packages.
"$POLYSHIP" status --json | grep -q '"packages": \[' || {
    echo "bench/startup.sh: polyship status printed no packages" >&2
    exit 1
}

median() { python3 "$BENCH/timeit.py" "$RUNS" "$@"; }
spawn=$(median true)
ls_files=$(median git -C "$work" ls-files -z --cached --others --exclude-standard)
git_status=$(median git status --porcelain)
status=$(median "$POLYSHIP" status)
status_json=$(median "$POLYSHIP" status --json)
list=$(median "$POLYSHIP" list)
plan=$(median "$POLYSHIP" plan)

printf '\nstart-up on examples/polyglot, median of %s runs (milliseconds)\n\n' "$RUNS"
row() { awk -v n="$1" -v t="$2" -v s="$status" 'BEGIN {printf "%-44s %8.1f %9.2fx\n", n, t, t/s}'; }
printf '%-44s %8s %10s\n' "command" "ms" "vs status"
row "polyship status" "$status"
row "polyship status --json" "$status_json"
row "polyship list" "$list"
row "polyship plan" "$plan"
row "floor: a process (true)" "$spawn"
row "floor: the git ls-files discovery runs" "$ls_files"
row "git status --porcelain" "$git_status"
echo
echo "target: polyship status <= 10 ms"
