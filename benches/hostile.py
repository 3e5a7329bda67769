#!/usr/bin/env python3
"""Hostile-volume benchmark: peak memory of `gatelog analyze` when every line brings a new
client, path and upstream address (the top-N tables and the upstream table must stay
bounded), and when those keys are long.

    python3 benches/hostile.py [--bin target/release/gatelog] [--lines 1000000,10000000]
                               [--stdin] [--long-keys 4000] [--keep]

For each size it writes a combined+upstream nginx access log where line i has client
10.x.y.z (i), path /p/<i>, upstream 172.x.y.z:9000 (i) and status 502 (every line counts in
the 5xx tables), runs gatelog on it and prints lines/s and peak RSS (from wait4's
ru_maxrss). Bounded memory means the RSS does not grow with the number of distinct keys.
--stdin streams the lines into gatelog's stdin instead of a file (paced by this generator);
files go to $TMPDIR and are removed unless --keep.

--long-keys N adds a run of N lines whose paths are distinct and 100 KB long: the tables
keep up to 2x their capacity of keys, so memory there grows with key length.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


SPAN = 600  # seconds the timestamps cover (the timeline's size does not depend on n)


def line(i, path=None):
    a, b, c = (i >> 16) & 255, (i >> 8) & 255, i & 255
    p = path if path is not None else "/p/%d" % i
    s = i % SPAN
    return ('10.%d.%d.%d - - [23/Nov/2026:%02d:%02d:%02d +0000] "GET %s HTTP/1.1" 502 157 "-" '
            '"bench" 0.010 0.000 0.010 0.010 172.%d.%d.%d:9000 502\n'
            % (a, b, c, s // 3600, (s // 60) % 60, s % 60, p, a, b, c))


def generate(out, n, long_keys=0):
    buf = []
    for i in range(n):
        buf.append(line(i))
        if len(buf) == 10000:
            out.write("".join(buf).encode())
            buf = []
    for i in range(long_keys):
        buf.append(line(i, "/" + ("%08d" % i) * 12500))  # 100 KB, distinct
        if len(buf) == 100:
            out.write("".join(buf).encode())
            buf = []
    out.write("".join(buf).encode())


def run(binary, n, stdin, long_keys, keep):
    # the format is forced: this measures memory, not detection (which sniffs 64 KiB)
    args = [binary, "analyze", "--json", "--format", "nginx-access"]
    t0 = time.time()
    if stdin:
        p = subprocess.Popen(args + ["-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        import threading
        out = {}
        th = threading.Thread(target=lambda: out.setdefault("o", p.stdout.read()))
        th.start()
        generate(p.stdin, n, long_keys)
        p.stdin.close()
        th.join()
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        report = out["o"]
        gen_s = 0.0
    else:
        fd, path = tempfile.mkstemp(prefix="gatelog-hostile-", suffix=".log")
        with os.fdopen(fd, "wb") as f:
            generate(f, n, long_keys)
        gen_s = time.time() - t0
        t0 = time.time()
        p = subprocess.Popen(args + [path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        report = p.stdout.read()
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        if not keep:
            os.unlink(path)
    took = time.time() - t0
    import json
    try:
        r = json.loads(report)
        i = r["inputs"][0]
        counts = "lines %d parsed %d rejected %d" % (i["lines"], i["parsed"], i["rejected"])
        tops = {k: len(v) for k, v in r.items() if k.startswith("top")}
    except Exception as e:  # noqa: BLE001
        counts, tops = "no report (%s): %s" % (e, err.decode(errors="replace")[:200]), {}
    rss_mb = ru.ru_maxrss / 1024
    total = n + long_keys
    print("%10d lines%s: %6.1f s (%4.2f M lines/s), peak RSS %7.1f MB  [%s]%s"
          % (total, " (%d with 100 KB paths)" % long_keys if long_keys else "", took,
             total / took / 1e6 if took else 0, rss_mb, counts,
             "" if not gen_s else "  (generation %.0f s)" % gen_s))
    sys.stdout.flush()
    return rss_mb


def main():
    global SPAN
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "gatelog"))
    ap.add_argument("--lines", default="100000,1000000,10000000")
    ap.add_argument("--stdin", action="store_true")
    ap.add_argument("--long-keys", type=int, default=0)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--span", type=int, default=SPAN, help="seconds covered by the timestamps")
    a = ap.parse_args()
    SPAN = a.span
    if not os.path.exists(a.bin):
        sys.exit("build first: cargo build --release (or pass --bin)")
    print("gatelog %s, %s, %d cores" % (a.bin, "stdin" if a.stdin else "file", os.cpu_count()))
    for n in [int(x) for x in a.lines.split(",") if x]:
        run(a.bin, n, a.stdin, 0, a.keep)
    if a.long_keys:
        run(a.bin, 0, a.stdin, a.long_keys, a.keep)


if __name__ == "__main__":
    main()
