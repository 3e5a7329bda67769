//! Container logs and mixed streams, end to end. There is no container runtime here: the
//! lines are the lab's (real nginx, php-fpm and HAProxy wrote every one of them, samples/*/),
//! and only the wrapping is done by this test, exactly as containerd (CRI), Docker's
//! json-file driver and `kubectl logs --timestamps` write it. Each scenario must give the
//! same incidents, top causes and counts from the container files as from the plain files.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn gatelog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gatelog"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("run gatelog")
}

fn report(args: &[&str]) -> Value {
    let mut a = vec!["analyze", "--json"];
    a.extend_from_slice(args);
    let out = gatelog(&a);
    assert!(
        out.status.success(),
        "gatelog {a:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn read_lines(path: &Path) -> Vec<String> {
    let raw = std::fs::read(path).unwrap();
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .unwrap();
        s
    } else {
        String::from_utf8(raw).expect("lab logs are UTF-8")
    };
    text.lines().map(str::to_string).collect()
}

fn month(m: &str) -> u32 {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|x| *x == m)
    .unwrap() as u32
        + 1
}

/// The time a line was written, as the runtime would stamp it (RFC 3339, UTC: the lab ran in
/// UTC), read from the line's own timestamp: nginx error `2026/11/23 19:58:37`, CLF
/// `23/Nov/2026:19:58:29`, php-fpm `23-Nov-2026 19:58:26`; `prev` when it has none.
fn stamp(line: &str, prev: &str) -> String {
    let b = line.as_bytes();
    for i in 0..b.len().saturating_sub(19) {
        let s = &line[i..];
        let d =
            |r: std::ops::Range<usize>| s.get(r).filter(|x| x.bytes().all(|c| c.is_ascii_digit()));
        // 2026/11/23 19:58:37
        if let (Some(y), Some(mo), Some(dd)) = (d(0..4), d(5..7), d(8..10)) {
            if &s[4..5] == "/" && &s[7..8] == "/" && &s[10..11] == " " {
                return format!("{y}-{mo}-{dd}T{}.000000000Z", &s[11..19]);
            }
        }
        // 23/Nov/2026:19:58:29 and 23-Nov-2026 19:58:26
        if let (Some(dd), Some(y)) = (d(0..2), d(7..11)) {
            let sep = &s[2..3];
            if (sep == "/" || sep == "-") && &s[6..7] == sep && s.is_char_boundary(6) {
                if let Some(mo) = s
                    .get(3..6)
                    .filter(|m| m.chars().all(|c| c.is_ascii_alphabetic()))
                {
                    if [
                        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                        "Nov", "Dec",
                    ]
                    .contains(&mo)
                    {
                        return format!("{y}-{:02}-{dd}T{}.000000000Z", month(mo), &s[12..20]);
                    }
                }
            }
        }
    }
    prev.to_string()
}

/// (time, stream, line) of each line of `files`, each file on its stream, in time order (a
/// stable sort: lines of one second keep their file order).
fn merged(files: &[(&Path, &str)]) -> Vec<(String, String, String)> {
    let mut v = Vec::new();
    for (f, stream) in files {
        let mut prev = "2026-11-23T00:00:00.000000000Z".to_string();
        for l in read_lines(f) {
            let t = stamp(&l, &prev);
            prev = t.clone();
            v.push((t, stream.to_string(), l));
        }
    }
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn cri(rows: &[(String, String, String)], split_every: usize) -> String {
    let mut s = String::new();
    for (k, (t, stream, l)) in rows.iter().enumerate() {
        // containerd splits lines longer than its buffer into P pieces; do it to some lines
        if split_every > 0 && k % split_every == 0 && l.len() > 12 {
            let (a, rest) = l.split_at(5);
            let (b, c) = rest.split_at(6);
            s += &format!("{t} {stream} P {a}\n{t} {stream} P {b}\n{t} {stream} F {c}\n");
        } else {
            s += &format!("{t} {stream} F {l}\n");
        }
    }
    s
}

fn docker(rows: &[(String, String, String)], split_every: usize) -> String {
    let mut s = String::new();
    for (k, (t, stream, l)) in rows.iter().enumerate() {
        let piece =
            |p: &str| serde_json::json!({"log": p, "stream": stream, "time": t}).to_string();
        if split_every > 0 && k % split_every == 0 && l.len() > 12 {
            // the json-file driver splits lines over 16 KiB: pieces without a trailing \n
            let (a, b) = l.split_at(7);
            s += &piece(a);
            s.push('\n');
            s += &piece(&format!("{b}\n"));
        } else {
            s += &piece(&format!("{l}\n"));
        }
        s.push('\n');
    }
    s
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gatelog-wrap-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn find(dir: &Path, stem: &str) -> Option<PathBuf> {
    [stem.to_string(), format!("{stem}.gz")]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

struct Built {
    plain: Vec<String>,
    wrapped: Vec<String>,
    /// Lines and pieces written to the wrapped files.
    nginx_lines: usize,
}

/// The plain files of a lab scenario, and the same lines as the containers of a
/// Kubernetes/Docker deployment would have them: the nginx pod's CRI log (access on stdout,
/// error on stderr), the php container's json-file log (fpm master log and pool access log
/// both on stderr), HAProxy's `log stdout format raw` as `kubectl logs --timestamps` shows it.
fn build(dir: &Path, out: &Path, split_every: usize) -> Built {
    let (acc, err, fpm, fpm_acc, slow) = (
        find(dir, "access.log").unwrap(),
        find(dir, "error.log").unwrap(),
        find(dir, "php-fpm.log").unwrap(),
        find(dir, "php-fpm-access.log").unwrap(),
        find(dir, "php-fpm-slow.log"),
    );
    let mut plain: Vec<PathBuf> = vec![acc.clone(), err.clone(), fpm.clone(), fpm_acc.clone()];
    let mut wrapped = Vec::new();
    let nginx_rows = merged(&[(&acc, "stdout"), (&err, "stderr")]);
    let pod = out.join("pods/lab_nginx-7f9c_0d6c2c1e/nginx");
    std::fs::create_dir_all(&pod).unwrap();
    std::fs::write(pod.join("0.log"), cri(&nginx_rows, split_every)).unwrap();
    wrapped.push(pod.join("0.log"));
    let php_rows = merged(&[(&fpm, "stderr"), (&fpm_acc, "stderr")]);
    let id = "3f4e8a9b2c1d";
    let c = out.join("containers").join(id);
    std::fs::create_dir_all(&c).unwrap();
    std::fs::write(
        c.join(format!("{id}-json.log")),
        docker(&php_rows, split_every),
    )
    .unwrap();
    wrapped.push(c.join(format!("{id}-json.log")));
    if let Some(s) = slow {
        plain.push(s.clone());
        wrapped.push(s);
    }
    if let Some(h) = find(dir, "haproxy.log") {
        plain.push(h.clone());
        // `log stdout format raw`: no syslog prefix
        let mut s = String::new();
        let mut prev = "2026-11-23T00:00:00.000000000Z".to_string();
        for l in read_lines(&h) {
            let msg = match l.find("]: ") {
                Some(i) if l.contains(" haproxy[") => &l[i + 3..],
                _ => &l[..],
            };
            let t = stamp(msg, &prev);
            prev = t.clone();
            s += &format!("{t} {msg}\n");
        }
        std::fs::write(out.join("haproxy-kubectl.log"), s).unwrap();
        wrapped.push(out.join("haproxy-kubectl.log"));
    }
    let st = |v: Vec<PathBuf>| v.iter().map(|p| p.display().to_string()).collect();
    Built {
        plain: st(plain),
        wrapped: st(wrapped),
        nginx_lines: nginx_rows.len(),
    }
}

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("ground_truth.json").is_file() && find(p, "access.log").is_some())
        .collect();
    v.sort();
    v
}

fn summary(r: &Value) -> Vec<(String, String, String)> {
    r["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["start"].to_string(),
                i["end"].to_string(),
                i["causes"][0]["cause"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn totals(r: &Value) -> (u64, u64, u64) {
    let ins = r["inputs"].as_array().unwrap();
    let sum = |k: &str| ins.iter().map(|i| i[k].as_u64().unwrap_or(0)).sum::<u64>();
    (sum("requests"), sum("events"), sum("rejected"))
}

#[test]
fn container_files_give_the_plain_files_incidents_for_every_scenario() {
    let dirs = scenarios();
    assert!(dirs.len() >= 8, "lab scenarios: {}", dirs.len());
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let out = tmp(&name);
        let b = build(&dir, &out, 7);
        let pa: Vec<&str> = b.plain.iter().map(String::as_str).collect();
        let wa: Vec<&str> = b.wrapped.iter().map(String::as_str).collect();
        let p = report(&pa);
        let w = report(&wa);
        assert_eq!(summary(&w), summary(&p), "{name}: incidents and top causes");
        assert!(
            !summary(&p).is_empty() || name == "baseline",
            "{name}: has incidents"
        );
        let (pr, pe, prej) = totals(&p);
        let (wr, we, wrej) = totals(&w);
        assert_eq!(prej, 0, "{name}: plain rejected");
        assert_eq!(wrej, 0, "{name}: container files rejected: {}", w["inputs"]);
        assert_eq!((wr, we), (pr, pe), "{name}: requests and events");
        // every physical line of the nginx pod's log is accounted for (pieces included)
        let pod = &w["inputs"][0];
        assert!(pod["path"].as_str().unwrap().ends_with("0.log"), "{pod}");
        assert_eq!(pod["lines"], pod["parsed"], "{name}: {pod}");
        assert!(
            pod["lines"].as_u64().unwrap() > b.nginx_lines as u64,
            "{name}: pieces"
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}

#[test]
fn detect_names_wrapper_and_format_per_stream() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/backlog");
    let out = tmp("detect");
    let b = build(&dir, &out, 0);
    let o = gatelog(&["detect", &b.wrapped[0], &b.wrapped[1], &b.wrapped[3]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    let l: Vec<&str> = s.lines().collect();
    assert!(
        l[0].contains("\tnginx-access\tcri: nginx-access (stdout) + nginx-error (stderr) ("),
        "{}",
        l[0]
    );
    assert!(
        l[1].contains("docker-json: fpm-error, fpm-access (stderr)"),
        "{}",
        l[1]
    );
    assert!(
        l[2].contains("\thaproxy\ttimestamped: haproxy ("),
        "{}",
        l[2]
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_plain_file_mixing_fpm_master_and_access_lines_is_read_line_by_line() {
    // php-fpm's stderr captured to one file (the official php image's stderr, unwrapped)
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/backlog");
    let out = tmp("mixed");
    let rows = merged(&[
        (&dir.join("php-fpm.log"), "stderr"),
        (&dir.join("php-fpm-access.log"), "stderr"),
    ]);
    let f = out.join("php-stderr.log");
    let text: String = rows.iter().map(|r| format!("{}\n", r.2)).collect();
    std::fs::write(&f, text).unwrap();
    let f = f.display().to_string();
    let d = gatelog(&["detect", &f]);
    let ds = String::from_utf8_lossy(&d.stdout);
    assert!(ds.contains("mixed: fpm-error, fpm-access"), "{ds}");
    let r = report(&[&f]);
    let i = &r["inputs"][0];
    let fpm_access = read_lines(&dir.join("php-fpm-access.log")).len() as u64;
    assert_eq!(i["rejected"], 0, "{i}");
    assert_eq!(i["requests"].as_u64().unwrap(), fpm_access, "{i}");
    assert_eq!(i["lines"].as_u64().unwrap(), rows.len() as u64, "{i}");
    // each record keeps its own layer: the access lines are php-fpm's (app)
    let plain = report(&[&dir.join("php-fpm-access.log").display().to_string()]);
    assert_eq!(r["totals"]["by_layer"], plain["totals"]["by_layer"]);
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn evidence_names_the_container_file_and_its_physical_line() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/backlog");
    let out = tmp("evidence");
    let b = build(&dir, &out, 3);
    let r = report(&[&b.wrapped[0]]);
    let text = std::fs::read_to_string(&b.wrapped[0]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut checked = 0;
    let s = serde_json::to_string(&r).unwrap();
    // every "file:line" evidence location points at a physical line of the pod's log whose
    // unwrapped text is the one quoted
    for inc in r["incidents"].as_array().unwrap() {
        for c in inc["causes"].as_array().unwrap() {
            for e in c["evidence"].as_array().into_iter().flatten() {
                let (Some(line), Some(t)) = (e["line"].as_u64(), e["text"].as_str()) else {
                    continue;
                };
                let phys = lines[line as usize - 1];
                assert!(phys.starts_with("2026-"), "{phys}");
                let tag = phys.split(' ').nth(2).unwrap();
                if tag == "F" {
                    assert!(phys.ends_with(t), "{phys} / {t}");
                } else {
                    // the first piece of a joined line
                    assert!(
                        t.starts_with(phys.splitn(4, ' ').nth(3).unwrap()),
                        "{phys} / {t}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no evidence lines in {s:.2000}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn stray_lines_in_a_container_file_are_rejected_with_file_line() {
    let out = tmp("stray");
    let f = out.join("0.log");
    std::fs::write(
        &f,
        "2026-11-23T17:21:06.100000000Z stdout F 10.0.0.1 - - [23/Nov/2026:17:21:06 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n\
         garbage that is no CRI line\n\
         2026-11-23T17:21:06.200000000Z stdout F 10.0.0.1 - - [23/Nov/2026:17:21:06 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"curl/8\"\n\
         2026-11-23T17:21:06.300000000Z stderr F I1123 17:21:06.300000       7 controller.go:190] \"Configuration changes detected\"\n\
         2026-11-23T17:21:06.400000000Z stderr F something no format reads\n",
    )
    .unwrap();
    let f = f.display().to_string();
    let r = report(&[&f]);
    let i = &r["inputs"][0];
    assert_eq!(i["lines"], 5, "{i}");
    assert_eq!(i["requests"], 2, "{i}");
    assert_eq!(i["rejected"], 2, "{i}");
    assert_eq!(i["parsed"], 3, "klog is read, not rejected: {i}");
    let s = r.to_string();
    assert!(s.contains("not a cri line"), "{s:.3000}");
    let _ = std::fs::remove_dir_all(&out);
}
