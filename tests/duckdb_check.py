#!/usr/bin/env python3
"""Recompute the JSON report's figures from gatelog's Parquet tables with DuckDB.

usage: duckdb_check.py PARQUET_DIR REPORT_JSON [--hive]

Run by tests/exports.rs. DuckDB is a reader this project did not write: if it agrees with the
JSON report on counts per status, per input, per event kind, per incident and per cause, the
tables are what they claim to be. Prints one line per check and exits 1 on the first mismatch.
"""
import glob
import json
import sys
from datetime import datetime

import duckdb

TRACKED = ["499", "500", "502", "503", "504", "429"]
EMPTY = {
    "rejected": "NULL::VARCHAR AS file, 0::UBIGINT AS line, 0::UBIGINT AS lines, NULL::VARCHAR AS reason",
    "events": "NULL::TIMESTAMPTZ AS ts, NULL::VARCHAR AS kind, NULL::VARCHAR AS file, 0::UBIGINT AS line",
    "incidents": "0::UINTEGER AS incident, 0::UINTEGER AS rank, NULL::VARCHAR AS cause, 0.0::DOUBLE AS confidence, "
                 "NULL::VARCHAR AS summary, []::VARCHAR[] AS evidence, NULL::TIMESTAMPTZ AS start, "
                 "NULL::TIMESTAMPTZ AS \"end\"",
}


def us(rfc3339):
    d = datetime.fromisoformat(rfc3339)
    return int(d.timestamp() * 1_000_000)


def main():
    root, report_path = sys.argv[1], sys.argv[2]
    hive = "--hive" in sys.argv[3:]
    report = json.load(open(report_path))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")

    def table(name):
        if hive:
            return f"read_parquet('{root}/{name}/**/*.parquet', hive_partitioning = true)"
        return f"read_parquet('{root}/{name}.parquet')"

    for t in ["requests", "events", "rejected", "timeline", "incidents"]:
        if hive and not glob.glob(f"{root}/{t}/**/*.parquet", recursive=True):
            # a partitioned table with no rows has no files (a run without rejected lines,
            # events or incidents): an empty view with the columns this script reads
            if t not in EMPTY:
                sys.exit(f"no {t} files under {root}")
            con.execute(f"CREATE VIEW {t} AS SELECT {EMPTY[t]} WHERE false")
            continue
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM {table(t)}")
    failures = []
    checks = 0

    def same(what, got, want):
        nonlocal checks
        checks += 1
        if got != want:
            failures.append(f"{what}: parquet {got!r} != json {want!r}")

    # column types: UTC timestamps, durations, dictionary strings read back as text
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE requests)").fetchall())
    same("requests.ts type", types.get("ts"), "TIMESTAMP WITH TIME ZONE")
    same("requests.status type", types.get("status"), "USMALLINT")

    t = report["totals"]
    # totals count each request once, at `counted_layer` (the outermost that logged
    # requests); the rows are log lines, every layer's: `layers` has each layer's own
    cl = t.get("counted_layer")
    at = "WHERE layer = ?" if cl else ""
    args = [cl] if cl else []
    same("total requests", con.execute(f"SELECT count(*) FROM requests {at}", args).fetchone()[0], t["requests"])
    status = {str(s): n for s, n in con.execute(f"SELECT status, count(*) FROM requests {at} GROUP BY ALL", args).fetchall()}
    same("requests per status", status, t["status"])
    classes = dict(con.execute(f"SELECT status_class, count(*) FROM requests {at} GROUP BY ALL", args).fetchall())
    same("requests per status class", classes, t["status_class"])
    per_layer = {}
    for l, s, n in con.execute("SELECT layer, status, count(*) FROM requests GROUP BY ALL").fetchall():
        per_layer.setdefault(l, {})[str(s)] = n
    same("requests per layer and status", per_layer, {l: x["status"] for l, x in t["layers"].items()})
    layers = {l: {"requests": r, "5xx": e} for l, r, e in con.execute(
        "SELECT layer, count(*), count(*) FILTER (status >= 500 AND status < 600) FROM requests GROUP BY ALL").fetchall()}
    same("requests and 5xx per layer", layers, t["by_layer"])
    events = dict(con.execute("SELECT kind, count(*) FROM events GROUP BY ALL").fetchall())
    same("events per kind", events, t["events"])
    rejected = con.execute("SELECT coalesce(sum(lines), 0) FROM rejected").fetchone()[0]
    same("rejected lines", int(rejected), t["rejected"])

    # per input: requests, events, rejected lines and reasons, with file:line on every row
    for inp in report["inputs"]:
        p = inp["path"]
        q = lambda sql: con.execute(sql, [p]).fetchone()[0]
        same(f"{p}: requests", q("SELECT count(*) FROM requests WHERE file = ?"), inp["requests"])
        same(f"{p}: events", q("SELECT count(*) FROM events WHERE file = ?"), inp["events"])
        same(f"{p}: rejected", int(q("SELECT coalesce(sum(lines), 0) FROM rejected WHERE file = ?")), inp["rejected"])
        reasons = {r: int(n) for r, n in con.execute(
            "SELECT reason, sum(lines) FROM rejected WHERE file = ? GROUP BY ALL", [p]).fetchall()}
        same(f"{p}: rejected reasons", reasons, inp["rejected_reasons"])
        if inp["requests"] + inp["events"] > 0:
            # rows of one file come with distinct line numbers within its line count
            lo, hi = con.execute(
                "SELECT min(line), max(line) FROM (SELECT line FROM requests WHERE file = ? "
                "UNION ALL SELECT line FROM events WHERE file = ?)", [p, p]).fetchone()
            checks += 1
            if not (1 <= lo and hi <= inp["lines"]):
                failures.append(f"{p}: line numbers {lo}..{hi} outside 1..{inp['lines']}")

    # timeline: one row per bucket, same counts as the requests falling into it
    tl = report["timeline"]
    same("timeline rows", con.execute("SELECT count(*) FROM timeline").fetchone()[0], len(tl["rows"]))
    width = tl["bucket_seconds"] * 1_000_000
    got = con.execute(f"""
        SELECT epoch_us(t.start), t.requests, t.status_5xx,
               (SELECT count(*) FROM requests r WHERE epoch_us(r.ts) >= epoch_us(t.start)
                   AND epoch_us(r.ts) < epoch_us(t.start) + {width}),
               (SELECT count(*) FROM requests r WHERE epoch_us(r.ts) >= epoch_us(t.start)
                   AND epoch_us(r.ts) < epoch_us(t.start) + {width} AND r.status >= 500 AND r.status < 600)
        FROM timeline t ORDER BY 1""").fetchall()
    want = [(us(r["start"]), r["requests"], r["5xx"]) for r in tl["rows"]]
    same("timeline buckets (start, requests, 5xx)", [g[:3] for g in got], want)
    same("timeline rows recomputed from requests", [(g[0], g[3], g[4]) for g in got], want)

    # incidents: counts per status and per event kind inside each window, causes and evidence.
    # A request that crossed several layers was logged once per layer: the headline figures
    # (requests, errors, status) count each request once, at the outermost layer that logged
    # requests in the window (lb, else proxy, else app); by_layer keeps every layer's count.
    for inc in report["incidents"]:
        a, b = us(inc["start"]), us(inc["end"])
        win = f"epoch_us(ts) >= {a} AND epoch_us(ts) < {b}"
        present = {r[0] for r in con.execute(f"SELECT DISTINCT layer FROM requests WHERE {win}").fetchall()}
        outer = next((l for l in ["lb", "proxy", "app"] if l in present), None)
        same(f"incident {inc['id']}: counted layer", outer, inc.get("counted_layer"))
        once = f"{win} AND layer = '{outer}'" if outer else win
        st = {str(s): n for s, n in con.execute(
            f"SELECT status, count(*) FROM requests WHERE {once} AND status IN (499,500,502,503,504,429) GROUP BY ALL").fetchall()}
        other5 = con.execute(
            f"SELECT count(*) FROM requests WHERE {once} AND status >= 500 AND status < 600 "
            "AND status NOT IN (500,502,503,504)").fetchone()[0]
        if other5:
            st["5xx_other"] = other5
        same(f"incident {inc['id']}: status", st, inc["status"])
        same(f"incident {inc['id']}: requests",
             con.execute(f"SELECT count(*) FROM requests WHERE {once}").fetchone()[0], inc["requests"])
        if outer:
            same(f"incident {inc['id']}: errors",
                 con.execute(f"SELECT count(*) FROM requests WHERE {once} AND status >= 500 AND status < 600").fetchone()[0],
                 inc["errors"])
        layers = {l: {"requests": r, "5xx": e} for l, r, e in con.execute(
            f"SELECT layer, count(*), count(*) FILTER (status >= 500 AND status < 600) FROM requests WHERE {win} GROUP BY ALL").fetchall()}
        same(f"incident {inc['id']}: requests and 5xx per layer", layers, inc["by_layer"])
        pq = con.execute('SELECT DISTINCT requests, errors FROM incidents WHERE incident = ?', [inc["id"]]).fetchall()
        same(f"incident {inc['id']}: parquet requests, errors", pq, [(inc["requests"], inc["errors"])])
        ev = dict(con.execute(f"SELECT kind, count(*) FROM events WHERE {win} AND kind <> 'other' GROUP BY ALL").fetchall())
        same(f"incident {inc['id']}: events per kind", ev, inc["events"])
        ups = dict(con.execute(
            f"SELECT upstream, count(*) FROM requests WHERE {win} AND status >= 500 AND status < 600 "
            "AND upstream IS NOT NULL GROUP BY ALL").fetchall())
        same(f"incident {inc['id']}: 5xx per upstream", ups, inc["upstreams"])
        rows = con.execute(
            "SELECT rank, cause, confidence, summary, len(evidence), epoch_us(start), epoch_us(\"end\") "
            "FROM incidents WHERE incident = ? ORDER BY rank", [inc["id"]]).fetchall()
        want = [(n + 1, c["cause"], c["confidence"], c["summary"], len(c["evidence"]), a, b)
                for n, c in enumerate(inc["causes"])]
        same(f"incident {inc['id']}: causes", rows, want)
        for c in inc["causes"]:
            for e in c["evidence"]:
                found = con.execute(
                    "SELECT (SELECT count(*) FROM requests WHERE file = ? AND line = ?) + "
                    "(SELECT count(*) FROM events WHERE file = ? AND line = ?) + "
                    "(SELECT count(*) FROM rejected WHERE file = ? AND line = ?)",
                    [e["path"], e["line"]] * 3).fetchone()[0]
                checks += 1
                if found == 0:
                    failures.append(f"incident {inc['id']} {c['cause']}: evidence {e['path']}:{e['line']} is in no table")
    same("incidents", con.execute("SELECT count(DISTINCT incident) FROM incidents").fetchone()[0],
         len(report["incidents"]))
    causes = dict(con.execute("SELECT cause, count(*) FROM incidents WHERE cause IS NOT NULL GROUP BY ALL").fetchall())
    want = {}
    for inc in report["incidents"]:
        for c in inc["causes"]:
            want[c["cause"]] = want.get(c["cause"], 0) + 1
    same("incidents per cause", causes, want)

    for f in failures:
        print("MISMATCH", f)
    print(f"duckdb {duckdb.__version__}: {checks - len(failures)} of {checks} checks agree with the JSON report")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
