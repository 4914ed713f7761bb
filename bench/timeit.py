#!/usr/bin/env python3
"""Median wall time of a command, in milliseconds: `timeit.py RUNS CMD [ARGS...]`.

Output is discarded; a failing run fails the measurement (a broken command is not fast).
"""

import statistics
import subprocess
import sys
import time

runs = int(sys.argv[1])
cmd = sys.argv[2:]
times = []
for _ in range(runs):
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - start) * 1000)
    if done.returncode != 0:
        sys.exit(f"timeit.py: {' '.join(cmd)} exited {done.returncode}")
print(f"{statistics.median(times):.1f}")
