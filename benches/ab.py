#!/usr/bin/env python3
"""Time two or more gatelog builds alternately on one file (a benchmark, not a test).

    python3 benches/ab.py FILE RUNS BIN_A BIN_B [BIN_C ...]

Runs `BIN analyze --json FILE` for each binary in turn, RUNS rounds, and prints each one's
best and median wall time. Alternating in the same minutes cancels most of the drift of a
shared virtual machine (up to 10% from one minute to the next here), which comparing two
separate runs of benches/throughput.sh does not. Extra arguments for `analyze` go in $ARGS
(default: --json). Build an older commit with, for example:

    git worktree add /tmp/wt-old <commit> && (cd /tmp/wt-old && CARGO_TARGET_DIR=/tmp/tgt-old \\
        cargo build --release --bin gatelog)
"""
import os
import subprocess
import sys
import time

if len(sys.argv) < 4:
    sys.exit(__doc__)
path, runs, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
extra = os.environ.get("ARGS", "--json").split()
with open(path, "rb") as f:  # warm the page cache
    while f.read(1 << 24):
        pass
times = {b: [] for b in bins}
for _ in range(runs):
    for b in bins:
        t0 = time.perf_counter()
        p = subprocess.run([b, "analyze", *extra, path], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if p.returncode not in (0, 3):
            sys.exit(f"{b} failed with status {p.returncode}")
        times[b].append(dt)
size = os.path.getsize(path)
for b in bins:
    t = sorted(times[b])
    print(f"{b}: best {t[0]:.3f} s ({size / t[0] / 1e9:.2f} GB/s), median {t[len(t) // 2]:.3f} s")
