#!/usr/bin/env bash
# Run gatelog's fuzz targets for a bounded time each.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      # default: 60 s, every target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler (libFuzzer is built from
# source). Works on a stable toolchain: RUSTC_BOOTSTRAP=1 lets it accept libFuzzer's -Z flags.
# Seeds come from ../shared/corpus (or $GATELOG_CORPUS) and samples/ at run time, into
# fuzz/corpus/ (git-ignored); crashes land in fuzz/artifacts/<target>/. Exits 1 when a target
# crashed, after running the others. One summary line per target goes to stdout.
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
export RUSTC_BOOTSTRAP=1
all=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^gatelog-fuzz$')
targets="${*:-$all}"
python3 fuzz/seed.py $targets >/dev/null || exit 1
# -s none: the parsers are safe Rust, so AddressSanitizer finds nothing more and costs speed;
# debug assertions (integer overflow checks) stay on.
cargo fuzz build -s none --release --debug-assertions 2>&1 | tail -n 3 || exit 1
status=0
for t in $targets; do
  log="fuzz/artifacts/$t.log"
  mkdir -p "fuzz/artifacts/$t"
  start=$(date +%s)
  cargo fuzz run -s none --release --debug-assertions "$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "$t: ok, ${took}s, ${runs:-?} runs, ${cov:-cov: ?}"
  else
    status=1
    echo "$t: CRASH (exit $rc) after ${took}s; see $log and fuzz/artifacts/$t/"
    grep -m 3 -E 'panicked|SUMMARY|ERROR' "$log" | sed 's/^/    /'
  fi
done
exit $status
