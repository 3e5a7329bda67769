#!/usr/bin/env python3
"""Build the seed corpus of each fuzz target at run time from the real-log corpus
(../shared/corpus, read in place) and the lab samples (samples/).

The seeds are written to fuzz/corpus/<target>/ (git-ignored, never committed). Each seed is
a few consecutive lines of one log file; the compiler targets get a format string as first
line followed by lines written with it.

    python3 fuzz/seed.py [--corpus DIR] [TARGET...]
"""

import argparse
import glob
import gzip
import hashlib
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNK = 8  # lines per seed
MAX_SEEDS_PER_FILE = 40

# target -> (corpus sub-folders, sample file globs)
PARSE = {
    "parse_nginx_access": (["nginx-access"], ["access.log*", "access_combined.log*"]),
    "parse_nginx_error": (["nginx-error"], ["error.log*"]),
    "parse_fpm_error": (["php-fpm-error"], ["php-fpm.log*"]),
    "parse_fpm_slow": (["php-fpm-slow"], ["php-fpm-slow.log*"]),
    "parse_fpm_access": (["php-fpm-access"], ["php-fpm-access.log*"]),
    "parse_alb": (["alb"], []),
    "parse_elb": (["elb-classic"], []),
    "parse_slb": (["slb"], []),
    "parse_haproxy": (["haproxy"], ["haproxy.log*"]),
    "parse_envoy": (["envoy"], []),
    "parse_traefik": (["traefik"], []),
    # formats with no corpus folder: the real servers' output in samples/formats and the labs
    "parse_php_error": ([], ["php-error/*.log", "*/plain/php-error.log"]),
    "parse_caddy": ([], ["caddy/*.log"]),
    "parse_kernel": ([], ["kern.log*"]),
}
ALL_DIRS = sorted({d for dirs, _ in PARSE.values() for d in dirs})

COMBINED = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
NGINX_FORMATS = [
    ("nginx-access", COMBINED),
    ("nginx-access", COMBINED + ' $request_time $upstream_connect_time $upstream_header_time $upstream_response_time $upstream_addr $upstream_status'),
    ("nginx-access", '$time_iso8601 - $remote_addr - $status $request_method "$uri" $request_id $server_protocol $body_bytes_sent "$http_referer" "$http_user_agent"'),
    ("nginx-access", 'escape=json {"time":"$time_iso8601","addr":"$remote_addr","req":"$request","status":$status,"up":"$upstream_addr","rt":$request_time}'),
    ("nginx-access", '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] [$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length $upstream_response_time $upstream_status $req_id'),
]
FPM_FORMATS = [
    '%R - %u %t "%m %r" %s',
    '%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%',
    '%t "%m %r%Q%q" %s %{mili}dms %{kilo}Mkb %C%%',
    '%{%Y-%m-%dT%H:%M:%S%z}t - %R %u %s %m "%r" %{REQUEST_ID}e %{SERVER_PROTOCOL}e %l "%{HTTP_REFERER}e" "%{HTTP_USER_AGENT}e" %{bytes}M %C %d',
]


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


def chunks(data):
    lines = data.split(b"\n")
    out = []
    for i in range(0, len(lines), CHUNK):
        c = b"\n".join(lines[i:i + CHUNK]).strip(b"\n")
        if c:
            out.append(c + b"\n")
        if len(out) >= MAX_SEEDS_PER_FILE:
            break
    return out


def files(corpus, dirs, sample_globs):
    out = []
    for d in dirs:
        out += sorted(glob.glob(os.path.join(corpus, d, "*")))
    for g in sample_globs:
        out += sorted(glob.glob(os.path.join(ROOT, "samples", "*", g)))
    return [f for f in out if os.path.isfile(f)]


def write(target, seeds):
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    n = 0
    for s in seeds:
        name = hashlib.sha1(s).hexdigest()
        p = os.path.join(d, name)
        if not os.path.exists(p):
            with open(p, "wb") as f:
                f.write(s)
            n += 1
    print(f"{target}: {n} new seeds in {os.path.relpath(d, ROOT)}")


def seeds_for(target, corpus):
    if target in PARSE:
        dirs, globs_ = PARSE[target]
        return [c for f in files(corpus, dirs, globs_) for c in chunks(read(f))]
    if target == "compile_nginx_log_format":
        acc = [c for f in files(corpus, ["nginx-access"], ["access.log*"]) for c in chunks(read(f))[:3]]
        out = []
        for _, fmt in NGINX_FORMATS:
            out.append(fmt.encode() + b"\n")
            out += [fmt.encode() + b"\n" + c for c in acc]
        # log_format strings from the lab's nginx configurations
        for conf in sorted(glob.glob(os.path.join(ROOT, "samples", "*", "conf", "nginx*.conf"))):
            text = read(conf).decode("utf-8", "replace")
            for m in re.finditer(r"log_format\s+\S+\s+((?:'[^']*'\s*)+);", text):
                fmt = "".join(re.findall(r"'([^']*)'", m.group(1)))
                out += [fmt.encode() + b"\n" + c for c in acc[:5]]
        return out
    if target == "compile_fpm_access_format":
        acc = [c for f in files(corpus, ["php-fpm-access"], ["php-fpm-access.log*"]) for c in chunks(read(f))[:3]]
        out = []
        for fmt in FPM_FORMATS:
            out.append(fmt.encode() + b"\n")
            out += [fmt.encode() + b"\n" + c for c in acc]
        return out
    if target == "nginx_conf":
        return [read(f) for f in sorted(glob.glob(os.path.join(ROOT, "samples", "*", "conf", "nginx*.conf")))]
    if target == "unwrap":
        # container logs as the runtimes wrote them: lab2's CRI and json-file views
        out = []
        for g in ["var/log/pods/*/*/*.log*", "var/lib/docker/containers/*/*-json.log*"]:
            for f in sorted(glob.glob(os.path.join(ROOT, "samples", "lab2", "*", g))):
                out += chunks(read(f))[:6]
        return out
    if target == "detect":
        return [c for f in files(corpus, ALL_DIRS, []) for c in chunks(read(f))[:4]]
    sys.exit(f"seed.py: unknown target {target}")


TARGETS = list(PARSE) + ["compile_nginx_log_format", "compile_fpm_access_format", "nginx_conf", "detect", "unwrap"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.environ.get("GATELOG_CORPUS", os.path.join(ROOT, "..", "shared", "corpus")))
    ap.add_argument("targets", nargs="*", default=TARGETS)
    a = ap.parse_args()
    if not os.path.isdir(a.corpus):
        print(f"seed.py: corpus {a.corpus} not found; seeding from samples/ only", file=sys.stderr)
    for t in a.targets:
        write(t, seeds_for(t, a.corpus))


if __name__ == "__main__":
    main()
