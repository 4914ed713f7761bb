#!/usr/bin/env python3
"""Measures `polyship status` on one fixture against git, cold and warm: `bench/history.sh` runs it
on every shape.

    python3 bench/compare.py POLYSHIP REPO RUNS

Prints one row: the floor (`git log --first-parent --diff-merges=first-parent --raw --no-renames`,
git reading the same trees), polyship cold (`status --json --no-cache`), polyship after one new
commit with the cache of the commit before (a fresh commit each run, so every run is a first run
after a commit), the ratios, and the peak memory of both. Runs of git and polyship alternate, so a
machine that slows down slows both. Before timing, it checks that polyship found changes and that
its answer is the same with and without the cache (a wrong answer is not fast).
"""

import os
import statistics
import subprocess
import sys
import time

POLYSHIP, REPO, RUNS = sys.argv[1], sys.argv[2], int(sys.argv[3])
ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
FLOOR = ["git", "log", "--first-parent", "--diff-merges=first-parent", "--raw", "--no-renames", "--format=%H%n%B", "HEAD"]
COLD = [POLYSHIP, "status", "--json", "--no-cache"]
WARM = [POLYSHIP, "status", "--json"]
CACHE = os.path.join(REPO, ".git", "polyship", "history-cache")


def git(*args):
    return subprocess.run(["git", "-C", REPO, *args], check=True, env=ENV, capture_output=True, text=True).stdout


def timed(cmd):
    """Wall seconds of one run; a failing run fails the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=REPO, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"compare.py: {' '.join(cmd)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return wall


def peak(cmd):
    """Peak RSS (KiB) of one run, measured in a fresh process."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, "
        "stderr=subprocess.DEVNULL, check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", probe, *cmd], cwd=REPO, env=ENV, capture_output=True, text=True, check=True)
    return int(out.stdout)


def output(cmd):
    return subprocess.run(cmd, cwd=REPO, env=ENV, capture_output=True, check=True).stdout


def main():
    if git("status", "--porcelain"):
        sys.exit(f"compare.py: {REPO} has uncommitted changes")
    base = git("rev-parse", "HEAD").strip()
    cold_out = output(COLD)
    if b'"changes": [\n' not in cold_out:
        sys.exit("compare.py: polyship found no changes; the fixture or polyship is broken")
    if os.path.exists(CACHE):
        os.remove(CACHE)
    if output(WARM) != cold_out or output(WARM) != cold_out:
        sys.exit("compare.py: polyship's answer differs with the cache")

    floor, cold, warm = [], [], []
    for k in range(RUNS):
        floor.append(timed(FLOOR))
        cold.append(timed(COLD))
        # One new commit on top of the cached history: a shared file, then the run.
        with open(os.path.join(REPO, "BENCH.md"), "w") as f:
            f.write(f"run {k} {time.time()}\n")
        git("add", "BENCH.md")
        git("-c", "user.name=Bench", "-c", "user.email=bench@example.com", "commit", "-q", "-m", f"docs: bench {k}")
        warm.append(timed(WARM))
        # Back to the base commit; the cache keeps the extra commit, which nothing reaches.
        git("reset", "-q", "--hard", base)
        output(WARM)
    floor_kib, cold_kib = peak(FLOOR), peak(COLD)
    f, c, w = statistics.median(floor), statistics.median(cold), statistics.median(warm)
    print(
        f"{f:8.3f} {c:8.3f} {c / f:6.2f}x {w:8.3f} {w / f:7.3f}x {floor_kib / 1024:7.0f} {cold_kib / 1024:7.0f}"
    )


if __name__ == "__main__":
    main()
