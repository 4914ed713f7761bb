#!/usr/bin/env bash
# Times `polyship artifacts archive` and `polyship artifacts image --no-push` (every archive, its
# .sha256, SHA256SUMS, and an OCI image per target with its index) against the floor: `tar czf`
# of the same files per target, then `sha256sum` — and the same `tar czf` again for the images'
# layers, since an image layer is one more compressed tar of the binaries.
#
#   bench/artifacts.sh               RUNS=5 by default (medians)
#
# Two shapes: one 20 MB binary on 4 targets, and 8 binaries of 4 MB on 4 targets. The binaries
# are slices of polyship's own release binary (real machine code, compressible as binaries are),
# recorded as builds of the fixture's commit, so only archiving and assembly are timed.
#
# Target (issue "Artifacts"): polyship within 1.5× of the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
cargo build --release --locked --quiet
POLYSHIP="$(scripts/release-binary)"
BENCH="$PWD/bench"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
TARGETS=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
median() { python3 "$BENCH/timeit.py" "$RUNS" "$@"; }

# shape <name> <binaries> <MB each>
shape() {
    local name="$1" count="$2" mb="$3" dir="$work/$1"
    mkdir -p "$dir/src" && cd "$dir"
    printf '[package]\nname = "tool"\nversion = "1.0.0"\nedition = "2021"\n' >Cargo.toml
    for i in $(seq "$count"); do
        printf '[[bin]]\nname = "tool%s"\npath = "src/main.rs"\n' "$i" >>Cargo.toml
    done
    echo 'fn main() {}' >src/main.rs
    echo "# tool" >README.md
    dd if="$POLYSHIP" bs=11000 count=1 status=none | base64 >LICENSE
    git init -q -b main && git add -A
    git -c user.name=Bench -c user.email=bench@example.com commit -q -m "feat: tool"
    local head store
    head=$(git rev-parse HEAD)
    store="$(git rev-parse --git-common-dir)/polyship/artifacts/tool/1.0.0"
    for t in "${TARGETS[@]}"; do
        mkdir -p "$store/targets/$t" "$dir/floor/$t"
        local binaries=""
        for i in $(seq "$count"); do
            # Each binary its own slice, so no two files compress alike.
            dd if="$POLYSHIP" of="$store/targets/$t/tool$i" bs=100000 skip="$i" \
                count=$((mb * 1024 * 1024)) iflag=count_bytes status=none
            chmod 755 "$store/targets/$t/tool$i"
            cp "$store/targets/$t/tool$i" README.md LICENSE "$dir/floor/$t/"
            sum=$(sha256sum "$store/targets/$t/tool$i" | cut -d' ' -f1)
            binaries="$binaries${binaries:+,}{\"name\":\"tool$i\",\"sha256\":\"$sum\",\"size\":$((mb * 1024 * 1024))}"
        done
        printf '{"schema":1,"package":"tool","version":"1.0.0","target":"%s","commit":"%s","binaries":[%s]}\n' \
            "$t" "$head" "$binaries" >"$store/targets/$t/build.json"
    done
    cat >"$dir/floor.sh" <<'SH'
set -e
cd "$1/floor"
rm -f ./*.tar.gz
for t in */; do t="${t%/}"; tar czf "$t.tar.gz" "$t"; tar czf "$t.layer.tar.gz" "$t"; done
sha256sum ./*.tar.gz >SHA256SUMS
SH
    "$POLYSHIP" -q artifacts archive
    "$POLYSHIP" -q artifacts image --no-push
    local floor archive image
    floor=$(median bash "$dir/floor.sh" "$dir")
    archive=$(median "$POLYSHIP" -q artifacts archive)
    image=$(median "$POLYSHIP" -q artifacts image --no-push)
    # Compressed sizes beside the times: a faster run must not be a weaker compression.
    local ours theirs
    ours=$(cat "$store"/dist/*.tar.gz | wc -c)
    theirs=$(find "$dir/floor" -name '*.tar.gz' ! -name '*.layer.tar.gz' -exec cat {} + | wc -c)
    awk -v n="$name" -v f="$floor" -v a="$archive" -v i="$image" -v o="$ours" -v t="$theirs" 'BEGIN {
        printf "%-28s %10.0f %10.0f %10.0f %10.0f %8.2fx %8.1f %8.1f\n", n, f, a, i, a + i, (a + i) / f,
            t / 1048576, o / 1048576 }'
    cd "$work"
}

printf '\nartifacts, median of %s runs (milliseconds)\n\n' "$RUNS"
printf '%-28s %10s %10s %10s %10s %9s %8s %8s\n' "shape" "floor" "archive" "image" "polyship" "ratio" \
    "tar MiB" "ours MiB"
shape "1 × 20 MB on 4 targets" 1 20
shape "8 × 4 MB on 4 targets" 8 4
