#!/usr/bin/env bash
# Times `polyship status` on a monorepo of N packages and M commits against the floor — git itself
# reading the same trees (`git log --raw --no-renames` over the same first-parent range) — and,
# when installed, against git-cliff reading the same history.
#
#   bench/status.sh [N] [M]          defaults: 1000 packages, 100000 commits
#
# The fixture is generated once into the cache directory (about a minute for the defaults).
# Peers (one run each) install into the cache too, never into the repository: BENCH_INSTALL_PEERS=1 runs
# `cargo install git-cliff --root <cache>` (several minutes on two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000}"
M="${2:-100000}"
RUNS="${RUNS:-3}"
CACHE="${POLYSHIP_BENCH_CACHE:-$HOME/.cache/polyship-bench}"
REPO="$CACHE/history-$N-$M-$(sha1sum bench/history.py | cut -c1-8)"
mkdir -p "$CACHE"

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get install -y -qq time >/dev/null
    else
        echo "bench/status.sh: GNU time (/usr/bin/time) is needed: apt-get install time" >&2
        exit 1
    fi
fi
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
if [ ! -d "$REPO/.git" ]; then
    echo "generating $REPO …" >&2
    rm -rf "$REPO"
    python3 bench/history.py "$REPO" --packages "$N" --commits "$M" >&2
fi
if [ "${BENCH_INSTALL_PEERS:-0}" = 1 ] && [ ! -x "$CACHE/bin/git-cliff" ]; then
    cargo install --quiet --locked git-cliff --root "$CACHE" >&2
fi

# median wall seconds and max RSS (KiB) of RUNS runs of a command, as "secs kib"
measure() {
    local times=() rss=0 out tmp
    tmp=$(mktemp)
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$tmp" "$@" >/dev/null 2>&1
        out=$(tail -n 1 "$tmp")
        times+=("${out% *}")
        [ "${out#* }" -gt "$rss" ] && rss="${out#* }"
    done
    rm -f "$tmp"
    printf '%s\n' "${times[@]}" | sort -n | awk -v r="$rss" '{a[NR]=$1} END {print a[int((NR+1)/2)], r}'
}

cd "$REPO"
count=$("$POLYSHIP" status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(len(p["changes"]) for p in d["packages"]))')
[ "$count" -gt 0 ] || { echo "bench/status.sh: polyship found no changes; the fixture or polyship is broken" >&2; exit 1; }

read -r floor floor_rss < <(measure git log --first-parent --diff-merges=first-parent --raw --no-renames --format=%H%n%B HEAD)
# Cold: the history cache (.git/polyship/history-cache) would make every run after the first warm;
# bench/history.sh measures the warm case.
read -r ours ours_rss < <(measure "$POLYSHIP" status --json --no-cache)
read -r all all_rss < <(measure git log --raw --no-renames --format=%H%n%B HEAD)

printf '\npolyship status on %s packages, %s commits (%s pending changes), median of %s runs\n\n' "$N" "$M" "$count" "$RUNS"
printf '%-58s %9s %9s %8s\n' "command" "seconds" "MiB" "ratio"
row() { awk -v n="$1" -v s="$2" -v k="$3" -v f="$floor" 'BEGIN {printf "%-58s %9.2f %9.0f %7.2fx\n", n, s, k/1024, s/f}'; }
row "git log --first-parent --raw --no-renames (floor)" "$floor" "$floor_rss"
row "polyship status --json --no-cache" "$ours" "$ours_rss"
row "git log --raw --no-renames (every commit)" "$all" "$all_rss"
if [ -x "$CACHE/bin/git-cliff" ]; then
    # One run: it takes minutes on this history.
    read -r cliff cliff_rss < <(RUNS=1 measure "$CACHE/bin/git-cliff" --context)
    row "git-cliff --context (peer)" "$cliff" "$cliff_rss"
else
    echo "git-cliff: not installed (BENCH_INSTALL_PEERS=1 installs it into $CACHE)"
fi
awk -v s="$ours" -v f="$floor" -v k="$ours_rss" 'BEGIN {
    printf "\ntarget: within 1.5x of the floor -> %.2fx; memory under 256 MiB -> %.0f MiB\n", s/f, k/1024 }'
