#!/usr/bin/env bash
# Issue 16's measurement: `gatelog analyze` on an incident-heavy day as users have it
# (examples/gen_incident.rs: the NGINX blog's key= timing layout, 11% 5xx in four incident
# windows peaking at 30-50%, random clients over many networks, full browser user agents),
# read from the page cache, 2 threads (the machine's cores), three ways:
#   auto   the access log alone, format inferred (no --log-format): the issue's 2.5 GB/s case
#   given  the access log alone with its --log-format
#   dir    the directory: access log + nginx error log + php-fpm error and slow logs
#          (GB/s over all their bytes): the issue's 2 GB/s case
# and each one's peak RSS (issue: <= 200 MB).
# Usage: benches/incident_heavy.sh [SIZE_MB] [RUNS]   (defaults: 1024 MB, best of 5)
# Env: BENCH_DIR (default /tmp/gatelog-bench/incident-SIZEm; generated when missing),
#      GATELOG (the binary; default target/release/gatelog, built here)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
runs=${2:-5}
dir=${BENCH_DIR:-/tmp/gatelog-bench/incident-${size_mb}m}
tgt=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin gatelog --example gen_incident
bin=${GATELOG:-$tgt/release/gatelog}
[ -s "$dir/access.log" ] || "$tgt/release/examples/gen_incident" "$dir" "$size_mb" 42
fmt='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status"'
python3 - "$bin" "$dir" "$runs" "$fmt" <<'PY'
import os, subprocess, sys, time
gatelog, d, runs, fmt = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
acc = os.path.join(d, "access.log")
files = [os.path.join(d, f) for f in sorted(os.listdir(d))]
for p in files:  # warm the page cache
    with open(p, "rb") as f:
        while f.read(1 << 24):
            pass
print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start "
      "(wall-clock figures are noisy when the machine is shared)")
cases = [
    ("auto", [gatelog, "analyze", "--json", "--quiet", acc], os.path.getsize(acc)),
    ("given", [gatelog, "analyze", "--json", "--quiet", "--log-format", fmt, acc], os.path.getsize(acc)),
    ("dir", [gatelog, "analyze", "--json", "--quiet", d], sum(map(os.path.getsize, files))),
]
best = {c[0]: (None, 0) for c in cases}
for _ in range(runs):
    for name, cmd, size in cases:  # alternated: drift hits all three alike
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):
            sys.exit(f"{name}: gatelog exited with {code}: {' '.join(cmd)}")
        b, rss = best[name]
        best[name] = (dt if b is None else min(b, dt), max(rss, ru.ru_maxrss / 1024))
for name, cmd, size in cases:
    b, rss = best[name]
    print(f"{name:6} {size/2**30:5.2f} GiB  best of {runs}: {b:.3f} s = {size/b/1e9:.2f} GB/s  peak RSS {rss:.0f} MB")
PY
