#!/usr/bin/env python3
r"""Container-runtime log capture shim for the gatelog lab2.

    capture.py --name NAME --cri FILE --json FILE [--raw DIR] [--pidfile F] -- CMD ARGS...

Runs CMD with its stdout and stderr connected to pipes (as a container runtime does) and
writes every line the server writes, as it arrives, into

  * a CRI log file, the bytes containerd's CRI plugin writes (pkg/cri/io/logger.go):
      <RFC3339Nano time> <stdout|stderr> <P|F> <line>\n
    with the line's trailing "\n" (or "\r\n") removed; a line longer than 16384 bytes
    (containerd's default max_container_log_line_size) is cut into P records of exactly
    16384 bytes followed by an F record with the rest; output that ends without a newline
    is written as a P record.
  * a Docker json-file log, the bytes moby's json-file driver writes
    (daemon/logger/copier.go + jsonfilelog/jsonlog/jsonlogbytes.go):
      {"log":"<line>\n","stream":"stderr","time":"<RFC3339Nano>"}\n
    a line that fills the copier's 16384-byte buffer without a newline is written as a
    piece of 16384 bytes with no "\n" in "log"; the piece with the newline ends in "\n".
    Escaping as ffjsonWriteJSONBytesAsString: \\ \" \n \r, other bytes < 0x20 and < > &
    as \u00XX, invalid UTF-8 bytes as \ufffd, U+2028/U+2029 as \u2028/\u2029.
  * with --raw, the stream's bytes unchanged into DIR/NAME.stdout.log / NAME.stderr.log
    (what `docker logs` without -t prints, or a plain `2>file` redirect).

Times are UTC (both runtimes write "Z"), Go's RFC3339Nano: nanoseconds with trailing zeros
trimmed, no fraction at all when it is zero. One clock reading is taken per line and used in
both files. Both streams share each output file, as in both runtimes (a lock keeps each record
whole). SIGTERM, SIGQUIT, SIGINT, SIGHUP, SIGUSR1 and SIGUSR2 sent to the shim are forwarded
to CMD; the shim exits with CMD's status once CMD has exited and both pipes are drained.
"""
import argparse
import os
import signal
import subprocess
import sys
import threading
import time

MAX_LINE = 16384  # containerd max_container_log_line_size default; moby copier bufSize


def rfc3339nano(ns):
    sec, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(sec)
    s = time.strftime("%Y-%m-%dT%H:%M:%S", t)
    if frac:
        s += "." + ("%09d" % frac).rstrip("0")
    return s + "Z"


_HEX = "0123456789abcdef"


def ffjson_string(b):
    """moby's ffjsonWriteJSONBytesAsString, byte for byte."""
    out = ['"']
    i, n = 0, len(b)
    while i < n:
        c = b[i]
        if c < 0x80:
            if 0x20 <= c and c not in (0x5C, 0x22, 0x3C, 0x3E, 0x26):
                out.append(chr(c))
            elif c in (0x5C, 0x22):
                out.append("\\" + chr(c))
            elif c == 0x0A:
                out.append("\\n")
            elif c == 0x0D:
                out.append("\\r")
            else:
                out.append("\\u00" + _HEX[c >> 4] + _HEX[c & 0xF])
            i += 1
            continue
        # decode one UTF-8 sequence (as Go's utf8.DecodeRune: invalid -> one byte)
        size = 0
        if 0xC2 <= c <= 0xDF:
            size = 2
        elif 0xE0 <= c <= 0xEF:
            size = 3
        elif 0xF0 <= c <= 0xF4:
            size = 4
        ok = size and i + size <= n
        if ok:
            try:
                ch = b[i:i + size].decode("utf-8")
            except UnicodeDecodeError:
                ok = False
        if not ok:
            out.append("\\ufffd")
            i += 1
            continue
        if ch in ("\u2028", "\u2029"):
            out.append("\\u202" + _HEX[ord(ch) & 0xF])
        else:
            out.append(ch)
        i += size
    out.append('"')
    return "".join(out).encode("utf-8")


class Sink:
    def __init__(self, cri_path, json_path):
        self.lock = threading.Lock()
        self.cri = open(cri_path, "ab", buffering=0) if cri_path else None
        self.json = open(json_path, "ab", buffering=0) if json_path else None

    def cri_record(self, stream, tag, content):
        if self.cri:
            rec = rfc3339nano(time.time_ns()).encode() + b" " + stream + b" " + tag + b" " + content + b"\n"
            with self.lock:
                self.cri.write(rec)

    def json_record(self, stream, content):
        if self.json:
            rec = (b'{"log":' + ffjson_string(content) + b',"stream":"' + stream + b'","time":"'
                   + rfc3339nano(time.time_ns()).encode() + b'"}\n')
            with self.lock:
                self.json.write(rec)


def pump(fd, stream, sink, raw):
    """Read one pipe to EOF; cut records as containerd and moby do."""
    cri_buf = b""   # containerd: bytes of the current line not yet written
    dk_buf = b""    # moby copier: bytes in its 16 KiB buffer not yet logged
    while True:
        try:
            data = os.read(fd, 65536)
        except InterruptedError:
            continue
        if raw:
            raw.write(data)
        if not data:
            break
        # containerd
        cri_buf += data
        while True:
            nl = cri_buf.find(b"\n")
            line_end = nl if nl >= 0 else len(cri_buf)
            if line_end > MAX_LINE:
                sink.cri_record(stream, b"P", cri_buf[:MAX_LINE])
                cri_buf = cri_buf[MAX_LINE:]
                continue
            if nl < 0:
                break
            line = cri_buf[:nl]
            if line.endswith(b"\r"):
                line = line[:-1]
            sink.cri_record(stream, b"F", line)
            cri_buf = cri_buf[nl + 1:]
        # moby
        dk_buf += data
        while True:
            nl = dk_buf.find(b"\n")
            if nl >= 0 and nl < MAX_LINE:
                sink.json_record(stream, dk_buf[:nl + 1])
                dk_buf = dk_buf[nl + 1:]
                continue
            if len(dk_buf) >= MAX_LINE:   # buffer full, no newline in it: a partial piece
                sink.json_record(stream, dk_buf[:MAX_LINE])
                dk_buf = dk_buf[MAX_LINE:]
                continue
            break
    if cri_buf:
        sink.cri_record(stream, b"P", cri_buf)
    if dk_buf:
        sink.json_record(stream, dk_buf)
    os.close(fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--cri")
    ap.add_argument("--json")
    ap.add_argument("--raw")
    ap.add_argument("--pidfile")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no command")
    for p in (a.cri, a.json):
        if p:
            os.makedirs(os.path.dirname(p), exist_ok=True)
    sink = Sink(a.cri, a.json)
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w)
    os.close(out_w)
    os.close(err_w)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % child.pid)

    def forward(sig, _frame):
        try:
            child.send_signal(sig)
        except ProcessLookupError:
            pass
    for s in (signal.SIGTERM, signal.SIGQUIT, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, forward)

    raws = {}
    if a.raw:
        os.makedirs(a.raw, exist_ok=True)
        for s in ("stdout", "stderr"):
            raws[s] = open(os.path.join(a.raw, "%s.%s.log" % (a.name, s)), "ab", buffering=0)
    threads = [threading.Thread(target=pump, args=(out_r, b"stdout", sink, raws.get("stdout"))),
               threading.Thread(target=pump, args=(err_r, b"stderr", sink, raws.get("stderr")))]
    for t in threads:
        t.start()
    while True:
        try:
            rc = child.wait()
            break
        except InterruptedError:
            continue
    # the server's own children (nginx workers) may hold the pipes a moment longer; bounded
    for t in threads:
        t.join(10)
    sys.exit(rc if rc >= 0 else 128 - rc)


if __name__ == "__main__":
    main()
