#!/usr/bin/env python3
"""Soak test of `gatelog live`: a writer appends nginx access lines (about 5% 5xx over eight
upstreams, a 502 burst with error-log lines every few minutes, tens of thousands of distinct
clients and paths) at a steady rate while `gatelog live --json --metrics` follows them; the
access log is rotated by rename every 5 minutes. Every 30 s the script samples gatelog's RSS
and CPU time from /proc, and at the end it checks that gatelog counted every line written.

    python3 benches/live_soak.py --bin target/release/gatelog --rate 5000 --seconds 3600

Prints one line per sample and a summary (peak RSS, mean CPU %, lines written and counted).
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
import json
import threading

MON = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def stamp(t):
    g = time.gmtime(t)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (g.tm_mday, MON[g.tm_mon - 1], g.tm_year,
                                                  g.tm_hour, g.tm_min, g.tm_sec)


def err_stamp(t):
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(t))


def proc_stats(pid):
    with open("/proc/%d/status" % pid) as f:
        st = dict(l.split(":", 1) for l in f if ":" in l)
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(parts[11]) + int(parts[12])) / ticks
    kb = lambda k: int(st.get(k, "0 kB").split()[0])
    return kb("VmRSS"), kb("VmHWM"), cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/gatelog")
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--seconds", type=int, default=3600)
    ap.add_argument("--rotate", type=int, default=300, help="rotate by rename every N s")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="gatelog-soak-")
    acc = os.path.join(d, "access.log")
    err = os.path.join(d, "error.log")
    open(acc, "w").close()
    open(err, "w").close()
    out = open(os.path.join(d, "live.jsonl"), "w")
    p = subprocess.Popen([a.bin, "live", acc, err, "--json", "--metrics", "127.0.0.1:0",
                          "--format", "%s=nginx-access" % acc, "--format", "%s=nginx-error" % err],
                         stdout=out, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    rnd = random.Random(7)
    ups = ["10.1.0.%d:9000" % i for i in range(1, 9)]
    fa = open(acc, "a")
    fe = open(err, "a")
    written = 0
    start = time.time()
    last_rot = start
    last_sample = start
    peak = 0
    samples = []
    tick = 0.05
    n_per_tick = max(1, int(a.rate * tick))
    access_written = 0
    while True:
        now = time.time()
        el = now - start
        if el >= a.seconds:
            break
        burst = int(el) % 240 < 20  # a 20 s incident every 4 minutes
        ts = stamp(now)
        lines = []
        errs = []
        # keep to the rate on average: a tick that came late writes what was missed
        n = min(int(el * a.rate) - access_written, 20 * n_per_tick)
        for _ in range(max(n, 0)):
            up = ups[rnd.randrange(8)]
            bad = (burst and up == ups[0] and rnd.random() < 0.8) or rnd.random() < 0.01
            status = 502 if bad else (504 if rnd.random() < 0.002 else 200)
            client = "172.%d.%d.%d" % (rnd.randrange(16, 32), rnd.randrange(256), rnd.randrange(256))
            path = "/p/%d?id=%d" % (rnd.randrange(50000), rnd.randrange(10 ** 6))
            rt = rnd.expovariate(1 / 0.05)
            lines.append('%s - - [%s] "GET %s HTTP/1.1" %d 512 "-" "soak/1.0" %.3f %.3f %.3f %.3f %s %d\n'
                         % (client, ts, path, status, rt, 0.001, rt, rt, up, status))
            if bad and status == 502:
                errs.append('%s [error] 1234#1234: *%d connect() failed (111: Connection refused) while connecting to upstream, client: %s, server: x, request: "GET %s HTTP/1.1", upstream: "fastcgi://%s", host: "x"\n'
                            % (err_stamp(now), written, client, path, up))
        fa.write("".join(lines))
        fa.flush()
        if errs:
            fe.write("".join(errs))
            fe.flush()
        written += len(lines) + len(errs)
        access_written += len(lines)
        if now - last_rot >= a.rotate:
            os.rename(acc, acc + ".1")
            fa.close()
            fa = open(acc, "a")
            last_rot = now
        if now - last_sample >= 30:
            rss, hwm, cpu = proc_stats(p.pid)
            peak = max(peak, hwm)
            samples.append((el, rss, cpu))
            print("t=%5.0fs rss=%6.1f MiB peak=%6.1f MiB cpu=%.1f s (%.1f%%) written=%d" %
                  (el, rss / 1024, hwm / 1024, cpu, 100 * cpu / el, written), flush=True)
            last_sample = now
        sl = tick - (time.time() - now)
        if sl > 0:
            time.sleep(sl)
    fa.close()
    fe.close()
    time.sleep(8)  # drain (the renamed file is read until quiet)
    rss, hwm, cpu = proc_stats(p.pid)
    el = time.time() - start
    p.terminate()
    p.wait()
    out.close()
    last = None
    with open(os.path.join(d, "live.jsonl")) as f:
        for l in f:
            last = json.loads(l)
    counted = last["total_lines"] if last else 0
    print("summary: %d s at %d access lines/s (achieved %.0f access lines/s; %d lines in all with the error log): peak RSS %.1f MiB, final RSS %.1f MiB, CPU %.1f s (%.1f%% of one core); "
          "lines written %d, counted %d, rejected %d" %
          (a.seconds, a.rate, access_written / a.seconds, written, hwm / 1024, rss / 1024, cpu, 100 * cpu / el, written, counted,
           last["rejected_lines"] if last else -1))
    sys.exit(0 if counted == written else 1)


if __name__ == "__main__":
    main()
