#!/usr/bin/env bash
# Times reading history — `polyship status` — on fixtures of several shapes and sizes against git
# itself, cold and after one new commit, then against peers on one fixture.
#
#   bench/history.sh                 every shape at 100 × 10k and 1,000 × 100k
#   SIZES="100:10000" bench/history.sh
#   SHAPES="lerna-import:gc flat:gc" bench/history.sh
#   BENCH_PEERS=1 bench/history.sh   also lerna 8, changesets, knope and git-cliff (installed into
#                                    the cache; knope and git-cliff build with cargo, minutes)
#
# Fixtures come from bench/shapes.py (not bench/history.py, which bench/status.sh uses), generated
# once into the cache directory. A shape is `<shape>[-import]:<pack>`: `-import` means only the tags
# of the initial import (every package's range is the whole history), `<pack>` is `gc` (one pack
# and a commit-graph), `no-graph` (no commit-graph file) or `fast-import` (the unrepacked pack).
#
# Targets (issue "History at git's speed"): cold within 1.2x of git, after one commit within 0.05x,
# peak memory no more than git's. The figures are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
CACHE="${POLYSHIP_BENCH_CACHE:-$HOME/.cache/polyship-bench}"
SIZES="${SIZES:-100:10000 1000:100000}"
SHAPES="${SHAPES:-lerna-import:gc lerna-import:no-graph lerna-import:fast-import lerna:gc flat:gc deep:gc}"
HASH="$(cat bench/shapes.py | sha1sum | cut -c1-8)"
mkdir -p "$CACHE"
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
BENCH="$PWD/bench"

fixture() { # size shape -> path (generated when missing)
    local n="${1%%:*}" m="${1##*:}" spec="$2"
    local shape="${spec%%:*}" pack="${spec##*:}" every=0
    case "$shape" in *-import) shape="${shape%-import}"; every=-1 ;; esac
    local dir="$CACHE/shape-$shape-$every-$pack-$n-$m-$HASH"
    if [ ! -d "$dir/.git" ]; then
        rm -rf "$dir"
        echo "generating $dir …" >&2
        python3 "$BENCH/shapes.py" "$dir" --shape "$shape" --packages "$n" --commits "$m" \
            --pack "$pack" --release-every "$every" >&2
    fi
    echo "$dir"
}

printf '\npolyship status against git, median of %s paired runs (seconds; memory in MiB)\n\n' "$RUNS"
printf '%-26s %-14s %8s %8s %7s %8s %8s %7s %7s\n' \
    "shape" "size" "git" "cold" "ratio" "1 commit" "ratio" "git MiB" "ours"
for size in $SIZES; do
    for spec in $SHAPES; do
        repo=$(fixture "$size" "$spec")
        row=$(python3 "$BENCH/compare.py" "$POLYSHIP" "$repo" "$RUNS")
        printf '%-26s %-14s %s\n' "$spec" "${size/:/ × }" "$row"
    done
done
echo
echo "targets: cold ratio <= 1.20x; after one commit <= 0.050x; memory no more than git's"

[ "${BENCH_PEERS:-0}" = 1 ] || {
    echo
    echo "peers: not run (BENCH_PEERS=1 runs lerna, changesets, knope and git-cliff)"
    exit 0
}

# Peers, on the lerna-shaped fixture of the first size: each does its own idea of the job, one run
# each on a fresh clone (they write files).
size="${SIZES%% *}"
repo=$(fixture "$size" "lerna-import:gc")
PEERS="$CACHE/peers"
mkdir -p "$PEERS"
if [ ! -x "$PEERS/node_modules/.bin/lerna" ] || [ ! -x "$PEERS/node_modules/.bin/changeset" ]; then
    npm install --silent --prefix "$PEERS" lerna@8.2.4 @changesets/cli@2.31.1 >&2
fi
if [ ! -x "$CACHE/bin/knope" ]; then
    cargo install --quiet --locked knope --root "$CACHE" >&2 || echo "knope: install failed" >&2
fi
if [ ! -x "$CACHE/bin/git-cliff" ]; then
    cargo install --quiet --locked git-cliff --root "$CACHE" >&2 || echo "git-cliff: install failed" >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fresh() { cd "$work"; rm -rf r; git clone -q "$repo" r; git -C r fetch -q --tags; echo "$work/r"; }
once() { # seconds of one run of "$@" in the current directory
    python3 "$BENCH/timeit.py" 1 "$@" | awk '{printf "%.3f\n", $1/1000}'
}

# polyship is cheap to run again: the median of several runs, each from a clean tree, against one
# run of each peer.
median_of() { # runs command... -> median seconds, the tree put back before each run
    local n="$1" times=()
    shift
    for _ in $(seq "$n"); do
        git reset -q --hard && git clean -fdxq
        times+=("$(once "$@")")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
r=$(fresh); cd "$r"
ours=$(median_of 7 "$POLYSHIP" status --json --no-cache)
ours_version=$(median_of 7 "$POLYSHIP" version --no-commit --no-cache)
git reset -q --hard && git clean -fdxq
printf '\npeers on %s (%s), one run each; polyship: median of 7\n\n' "lerna-import:gc" "${size/:/ × }"
printf '%-72s %9s %9s\n' "command" "seconds" "vs ours"
peer() { awk -v n="$1" -v s="$2" -v o="$3" 'BEGIN {printf "%-72s %9.3f %8.1fx\n", n, s, s/o}'; }
peer "polyship status --json --no-cache" "$ours" "$ours"
peer "polyship version --no-commit --no-cache" "$ours_version" "$ours_version"

r=$(fresh); cd "$r"
t=$(NX_DAEMON=false once "$PEERS/node_modules/.bin/lerna" version --conventional-commits \
    --no-git-tag-version --no-push --yes)
peer "lerna version --conventional-commits --no-git-tag-version --no-push" "$t" "$ours_version"

r=$(fresh); cd "$r"
mkdir -p .changeset
echo '{ "baseBranch": "main", "changelog": false, "commit": false, "access": "public" }' > .changeset/config.json
printf -- '---\n"@acme/pkg-0001": minor\n---\n\nA change\n' > .changeset/bench.md
git add -A && git -c user.name=b -c user.email=b@b commit -qm "chore: changesets"
t=$(once "$PEERS/node_modules/.bin/changeset" status)
peer "changeset status" "$t" "$ours"

if [ -x "$CACHE/bin/knope" ]; then
    r=$(fresh); cd "$r"
    python3 - <<'EOF'
import json, pathlib
lines = []
for manifest in sorted(pathlib.Path("packages").glob("*/package.json")):
    name = json.loads(manifest.read_text())["name"]
    lines += [f'[packages."{name}"]', f'versioned_files = ["{manifest}"]', f'changelog = "{manifest.parent}/CHANGELOG.md"', ""]
lines += ['[[workflows]]', 'name = "release"', '', '[[workflows.steps]]', 'type = "PrepareRelease"', ""]
pathlib.Path("knope.toml").write_text("\n".join(lines))
EOF
    git add -A && git -c user.name=b -c user.email=b@b commit -qm "chore: knope"
    t=$(once "$CACHE/bin/knope" release --dry-run)
    peer "knope release --dry-run" "$t" "$ours_version"
fi
if [ -x "$CACHE/bin/git-cliff" ]; then
    r=$(fresh); cd "$r"
    t=$(once "$CACHE/bin/git-cliff" --context)
    peer "git-cliff --context" "$t" "$ours"
fi
