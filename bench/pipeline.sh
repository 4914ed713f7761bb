#!/usr/bin/env bash
# Measures polyship's own cost per pipeline step: `polyship run` of no-op steps (`true`) against
# the floor, the same number of `sh -c true` run by a plain shell loop (one at a time) and by
# `xargs -P` (as many at once as polyship runs), on two shapes:
#
#   wide    200 steps in 10 layers of 20, each layer needing the one before it (a group)
#   matrix  one step with a 5 × 10 matrix (50 cells), then a step that needs them all
#
#   bench/pipeline.sh            RUNS=5 by default; JOBS (default 2) steps at once
#
# Every run journals and logs each step as a real run does (the journal is written after every
# change of state, atomically); the per-step figure is (polyship − floor) / steps.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
JOBS="${JOBS:-2}"
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
TIMEIT="python3 $PWD/bench/timeit.py $RUNS"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

make_repo() { # dir, config
    mkdir -p "$1"
    git -C "$1" init -q -b main
    printf '%s' "$2" >"$1/polyship.toml"
    git -C "$1" add -A
    git -C "$1" -c user.name=Bench -c user.email=bench@example.com commit -q -m "chore: bench"
}

wide="[pipeline.bench]"$'\n'
for layer in $(seq 0 9); do
    for step in $(seq 0 19); do
        wide+=$'\n'"[[pipeline.bench.step]]"$'\n'"name = \"s$layer-$step\""$'\n'"group = \"layer$layer\""$'\n'"run = \"true\""$'\n'
        if [ "$layer" -gt 0 ]; then
            wide+="needs = [\"layer$((layer - 1))\"]"$'\n'
        fi
    done
done
matrix=$'[pipeline.bench]\n\n[[pipeline.bench.step]]\nname = "cell"\nmatrix = { a = [1, 2, 3, 4, 5], b = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }\nrun = "true"\n\n[[pipeline.bench.step]]\nname = "after"\nneeds = ["cell"]\nrun = "true"\n'
make_repo "$work/wide" "$wide"
make_repo "$work/matrix" "$matrix"

printf '%-8s %6s %12s %12s %12s %14s %14s\n' shape steps polyship_ms loop_ms xargs_ms per_step_ms vs_xargs
for shape in wide matrix; do
    steps=$([ "$shape" = wide ] && echo 200 || echo 51)
    ours=$($TIMEIT "$POLYSHIP" -C "$work/$shape" run bench --jobs "$JOBS")
    loop=$($TIMEIT sh -c "for i in \$(seq $steps); do sh -c true; done")
    par=$($TIMEIT sh -c "seq $steps | xargs -P $JOBS -I{} sh -c true")
    python3 - "$shape" "$steps" "$ours" "$loop" "$par" <<'PY'
import sys
shape, steps, ours, loop, par = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"{shape:<8} {steps:>6} {ours:>12.1f} {loop:>12.1f} {par:>12.1f} {(ours - par) / steps:>14.2f} {ours / par:>13.2f}x")
PY
done
echo "per_step_ms: polyship's cost per step beyond the xargs floor (target: under 5 ms)"
