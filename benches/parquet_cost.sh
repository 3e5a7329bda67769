#!/usr/bin/env bash
# Issue 13's measurement: what `--parquet` costs on top of the analysis, as the ratio
#   time(analyze --json --quiet --parquet OUT X) / time(analyze --json --quiet X)
# on the access log of examples/gen_incident.rs (DIR 128 42: 128 MB, 450 K requests with
# full browser user agents, 11% 5xx), read from the page cache. Two figures:
#   1. instructions (valgrind --tool=callgrind, -j1): what the machine's load cannot move;
#   2. wall clock, 2 threads, the two commands alternated RUNS times (best and median):
#      drift of a shared machine hits both alike, but read it as indicative.
# Usage: benches/parquet_cost.sh [SIZE_MB] [RUNS]   (defaults: 128 MB, 9 rounds)
# Env: BENCH_DIR (default /tmp/gatelog-bench/incident-SIZEm; generated when missing),
#      GATELOG (the binary; default target/release/gatelog, built here),
#      INPUT (default $BENCH_DIR/access.log; the directory itself works too),
#      NO_CALLGRIND=1 (wall clock only).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-128}
runs=${2:-9}
dir=${BENCH_DIR:-/tmp/gatelog-bench/incident-${size_mb}m}
tgt=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin gatelog --example gen_incident
bin=${GATELOG:-$tgt/release/gatelog}
[ -s "$dir/access.log" ] || "$tgt/release/examples/gen_incident" "$dir" "$size_mb" 42
input=${INPUT:-$dir/access.log}
out=$(mktemp -d /tmp/gatelog-parquet-cost.XXXXXX)
trap 'rm -rf "$out"' EXIT

if [ -z "${NO_CALLGRIND:-}" ] && command -v valgrind >/dev/null; then
  count() {
    rm -rf "$out/pq"
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
      sed -n 's/.*refs: *//p' | tr -d ,
  }
  a=$(count "$bin" analyze --json --quiet -j1 "$input")
  p=$(count "$bin" analyze --json --quiet -j1 --parquet "$out/pq" "$input")
  python3 -c "a, p = $a, $p; print(f'instructions (-j1): analyze {a/1e9:.2f} G, with --parquet {p/1e9:.2f} G: ratio {p/a:.2f}')"
else
  echo "instructions: skipped (no valgrind, or NO_CALLGRIND set)"
fi

python3 - "$bin" "$input" "$runs" "$out/pq" <<'PY'
import os, shutil, subprocess, sys, time
gatelog, inp, runs, pq = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
paths = [inp] if os.path.isfile(inp) else [os.path.join(inp, f) for f in os.listdir(inp)]
for p in paths:  # warm the page cache
    with open(p, "rb") as f:
        while f.read(1 << 24):
            pass
print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
cases = {
    "analyze": [gatelog, "analyze", "--json", "--quiet", inp],
    "analyze --parquet": [gatelog, "analyze", "--json", "--quiet", "--parquet", pq, inp],
}
times = {k: [] for k in cases}
for _ in range(runs):
    for name, cmd in cases.items():  # alternated
        shutil.rmtree(pq, ignore_errors=True)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
        times[name].append(time.perf_counter() - t0)
        if r.returncode not in (0, 3):
            sys.exit(f"{name}: gatelog exited with {r.returncode}")
med = {}
for name, t in times.items():
    t.sort()
    med[name] = t[len(t) // 2]
    print(f"{name:18} best {t[0]:.3f} s  median {med[name]:.3f} s  ({runs} alternated runs)")
b = {k: min(v) for k, v in times.items()}
print(f"wall-clock ratio: best {b['analyze --parquet'] / b['analyze']:.2f}, "
      f"median {med['analyze --parquet'] / med['analyze']:.2f}")
PY
