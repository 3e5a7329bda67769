#!/usr/bin/env bash
# gatelog side by side with the tools people use today, on the same generated files in the
# same run (a benchmark, not a test: CI does not run it).
#
#  1. GoAccess (Debian's `goaccess`, with the --log-format of the generator's main_upstream
#     nginx format) and `gatelog analyze --json` on one generated access log, each producing
#     its report from the page cache: prints both times and the ratio.
#  2. The same log split into 8 gzip-compressed rotated files (access.log.8.gz ...
#     access.log.1.gz): `pigz -dc` writing them to /dev/null, and `gatelog analyze --json`
#     on the directory (decompressing and analysing the files in parallel): prints the ratio.
#
# Usage: benches/compare.sh [SIZE_MB] [RUNS]      (defaults: 1024 MB, best of 3)
# Needs: apt-get install goaccess pigz
# Env: BENCH_FILE (the generated log), GZ_DIR (where the .gz files go), CARGO_TARGET_DIR,
#      GOACCESS_SIZE_MB (GoAccess is slow: compare on a head of the log of this many MB;
#      default: the whole log)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
runs=${2:-3}
for tool in goaccess pigz python3; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is missing; install it: apt-get install goaccess pigz" >&2; exit 1; }
done
tgt=${CARGO_TARGET_DIR:-target}
file=${BENCH_FILE:-/tmp/gatelog-bench-${size_mb}m.log}
gzdir=${GZ_DIR:-/tmp/gatelog-bench-gz-${size_mb}m}
cargo build --release --quiet --bin gatelog --example gen_access
[ -s "$file" ] || "$tgt/release/examples/gen_access" "$file" "$size_mb" 42

ga_file=$file
if [ -n "${GOACCESS_SIZE_MB:-}" ]; then
  ga_file=/tmp/gatelog-bench-head-${GOACCESS_SIZE_MB}m.log
  [ -s "$ga_file" ] || head -c "$((GOACCESS_SIZE_MB << 20))" "$file" | sed '$d' > "$ga_file"
fi

if [ ! -s "$gzdir/access.log.1.gz" ]; then
  rm -rf "$gzdir" && mkdir -p "$gzdir"
  # 8 parts at line boundaries, oldest first = highest rotation number
  split -n l/8 -d -a 1 "$file" "$gzdir/part."
  for i in 0 1 2 3 4 5 6 7; do
    pigz -6 -c "$gzdir/part.$i" > "$gzdir/access.log.$((8 - i)).gz"
    rm "$gzdir/part.$i"
  done
fi

# The main_upstream format of examples/gen_access.rs: combined + $request_time
# $upstream_connect_time $upstream_header_time $upstream_response_time $upstream_addr
# $upstream_status. GoAccess reads the combined part and the request time (%T).
GA_FORMAT='%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %T %^'

python3 - "$tgt/release/gatelog" "$file" "$ga_file" "$gzdir" "$runs" "$GA_FORMAT" <<'PY'
import glob, json, os, subprocess, sys, time
gatelog, path, ga_path, gzdir, runs, ga_format = sys.argv[1:7]
runs = int(runs)

def best(cmd, n, stdout=subprocess.DEVNULL, check=None):
    t = None
    for _ in range(n):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed with status {p.returncode}: {' '.join(cmd)}")
        if check:
            check()
        t = dt if t is None else min(t, dt)
    return t

def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass

cores = os.cpu_count()
load = os.getloadavg()[0]
print(f"machine: {cores} cores, load average {load:.1f} at start (figures are noisy when the machine is shared)")

# 1. GoAccess vs gatelog on one log
warm([ga_path])
size = os.path.getsize(ga_path)
ga_out = "/tmp/gatelog-bench-goaccess.json"
def ga_check():
    g = json.load(open(ga_out))["general"]
    if g["failed_requests"] > g["total_requests"] // 100:
        sys.exit(f"GoAccess rejected {g['failed_requests']} of {g['total_requests']} lines: check the --log-format")
ga_cmd = ["goaccess", ga_path, "--no-global-config", "--no-progress", f"--log-format={ga_format}",
          "--date-format=%d/%b/%Y", "--time-format=%T", "-o", ga_out]
gl_cmd = [gatelog, "analyze", "--json", "--quiet", ga_path]
t_ga = best(ga_cmd, max(1, min(runs, 2)), check=ga_check)
t_gl = best(gl_cmd, runs)
print(f"one log, {size/2**20:.0f} MiB:")
print(f"  goaccess   {t_ga:8.3f} s  {size/t_ga/1e6:8.1f} MB/s   ({' '.join(ga_cmd)})")
print(f"  gatelog    {t_gl:8.3f} s  {size/t_gl/1e6:8.1f} MB/s   ({' '.join(gl_cmd)})")
print(f"  ratio: gatelog is {t_ga/t_gl:.1f}x faster than GoAccess")

# 2. 8 gzip files: pigz -dc > /dev/null vs gatelog
gz = sorted(glob.glob(os.path.join(gzdir, "*.gz")))
warm(gz)
total = 0
for g in gz:
    with subprocess.Popen(["pigz", "-dc", g], stdout=subprocess.PIPE) as p:
        while True:
            b = p.stdout.read(1 << 22)
            if not b:
                break
            total += len(b)
pz_cmd = ["pigz", "-dc", *gz]
gl_cmd = [gatelog, "analyze", "--json", "--quiet", gzdir]
t_pz = best(pz_cmd, runs)
t_gl = best(gl_cmd, runs)
print(f"{len(gz)} gzip files, {sum(map(os.path.getsize, gz))/2**20:.0f} MiB compressed, {total/2**20:.0f} MiB uncompressed:")
print(f"  pigz -dc > /dev/null  {t_pz:8.3f} s  {total/t_pz/1e9:6.2f} GB/s (uncompressed)")
print(f"  gatelog analyze       {t_gl:8.3f} s  {total/t_gl/1e9:6.2f} GB/s (uncompressed)")
print(f"  ratio: gatelog is {t_pz/t_gl:.2f}x as fast as pigz -dc")
PY
