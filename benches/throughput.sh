#!/usr/bin/env bash
# Throughput and peak memory of `gatelog analyze` on a generated 1 GiB main_upstream access
# log read from the page cache. Usage: benches/throughput.sh [SIZE_MB] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
runs=${2:-3}
file=${BENCH_FILE:-/tmp/gatelog-bench-${size_mb}m.log}
cargo build --release --quiet --bin gatelog --example gen_access
[ -s "$file" ] || ./target/release/examples/gen_access "$file" "$size_mb" 42
cat "$file" > /dev/null   # warm the page cache
python3 - "$file" "$runs" <<'PY'
import os, resource, subprocess, sys, time
path, runs = sys.argv[1], int(sys.argv[2])
size = os.path.getsize(path)
best = None
for i in range(runs):
    t0 = time.perf_counter()
    p = subprocess.run(["./target/release/gatelog", "analyze", "--json", path], stdout=subprocess.DEVNULL)
    dt = time.perf_counter() - t0
    assert p.returncode == 0, p.returncode
    best = dt if best is None else min(best, dt)
    print(f"run {i+1}: {dt:.3f} s  {size/dt/1e9:.2f} GB/s")
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"file {size/2**30:.2f} GiB; best {best:.3f} s = {size/best/1e9:.2f} GB/s; peak RSS {rss:.0f} MB; cores {os.cpu_count()}")
PY
