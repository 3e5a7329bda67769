//! Hardening tests for the parsers:
//! - regression tests, one per crash the fuzz targets (fuzz/, see docs/fuzzing.md) found;
//! - a deterministic "mini-fuzz": every parser and both format compilers get thousands of
//!   mutated real lines (samples/ always, the corpus when `GATELOG_CORPUS` is set) from a
//!   seeded generator, through the same harness as the fuzz targets (fuzz/src/lib.rs), and
//!   must not panic;
//! - linear time on hostile lines (long `$upstream_addr` lists, runs of escapes, a 1 MB
//!   header): time relative to the same number of bytes in normal lines, not absolute.

mod common;

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use gatelog_parsers::{fpm_access, nginx_access, Format, LineParser, Record};

// ---------------------------------------------------------------------------------------
// A tiny seeded generator (splitmix64): the mini-fuzz is the same on every run.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes that matter to the parsers: separators, quotes, escapes, digits, signs, brackets,
/// JSON punctuation, invalid UTF-8, NUL, and values that overflow.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"\\x22",
    b"\\\"",
    b"\\u00",
    b"\\u0022",
    b", ",
    b" : ",
    b":",
    b" ",
    b"  ",
    b"-",
    b"-1",
    b"0",
    b"[",
    b"]",
    b"{",
    b"}",
    b"{\"",
    b"\":",
    b",\"",
    b"[{",
    b"}]",
    b"\t",
    b"\r",
    b"\n",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"%",
    b"%{",
    b"}t",
    b"$",
    b"${",
    b"'",
    b"#",
    b";",
    b"99999999999999999999",
    b"18446744073709551616",
    b"4294967296",
    b"2147483648",
    b"-9223372036854775808",
    b".",
    b"0.000",
    b"1e999",
    b"+",
    b"/",
    b"HTTP/1.1",
    b"GET ",
    b"*",
    b"#0:",
    b"+0000",
    b"-1400",
    b"Z",
    b"T",
    b"NaN",
    b"=",
    b"unix:",
    b"[23/Nov/2026:10:00:01 +0000]",
    b"2026/11/23 10:00:01",
    b"[23-Nov-2026 10:00:01]",
    b"29/Feb/2025",
    b"31/Apr/2026",
    b"99/Xyz/9999:99:99:99",
    b"1795428001",
    b"-62135596800",
];

fn mutate(rng: &mut Rng, seed: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seed.to_vec();
    let rounds = 1 + rng.below(6);
    for _ in 0..rounds {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let i = rng.below(len + 1);
                v.splice(i..i, t.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(16));
                v.drain(i..i + n);
            }
            4 => {
                let i = rng.below(len + 1);
                v.truncate(i);
            }
            5 if len > 0 => {
                // repeat a range: long lists, runs of escapes
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(12));
                let piece = v[i..i + n].to_vec();
                let times = 1 + rng.below(64);
                for _ in 0..times {
                    v.splice(i..i, piece.iter().copied());
                }
            }
            6 if !pool.is_empty() => {
                // splice with another seed (a line of another format, or of this one)
                let o = &pool[rng.below(pool.len())];
                let i = rng.below(len + 1);
                let j = rng.below(o.len() + 1);
                v.truncate(i);
                v.extend_from_slice(&o[j..]);
            }
            7 if len > 0 => {
                // replace a digit run with an extreme value
                let i = rng.below(len);
                if v[i].is_ascii_digit() {
                    let mut e = i;
                    while e < v.len() && v[e].is_ascii_digit() {
                        e += 1;
                    }
                    let t = TOKENS[38 + rng.below(5)];
                    v.splice(i..e, t.iter().copied());
                }
            }
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.extend_from_slice(t);
            }
        }
    }
    v
}

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples")
}

fn read_maybe_gz(p: &Path) -> Vec<u8> {
    let data = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    // the few .gz samples are skipped (no decompressor in this crate); their plain siblings
    // in the other scenarios hold the same kind of lines
    if data.starts_with(b"\x1f\x8b") {
        Vec::new()
    } else {
        data
    }
}

/// Seed records of one format: up to `per_file` chunks of 1–4 lines from each sample file and
/// corpus file of that format.
fn seeds(format: Format, per_file: usize) -> Vec<Vec<u8>> {
    let (sample_prefix, corpus_sub): (&[&str], &str) = match format {
        Format::NginxAccess => (&["access.log", "access_combined.log"], "nginx-access"),
        Format::NginxError => (&["error.log"], "nginx-error"),
        Format::FpmError => (&["php-fpm.log"], "php-fpm-error"),
        Format::FpmSlow => (&["php-fpm-slow.log"], "php-fpm-slow"),
        Format::FpmAccess => (&["php-fpm-access.log"], "php-fpm-access"),
        Format::Haproxy => (&["haproxy.log"], "haproxy"),
        Format::Alb => (&[], "alb"),
        Format::Elb => (&[], "elb-classic"),
        Format::Slb => (&[], "slb"),
        Format::Envoy => (&[], "envoy"),
        Format::Traefik => (&[], "traefik"),
        // no corpus folder yet: samples/formats/<id>/ (our own servers wrote them) and the example
        Format::PhpError | Format::Caddy | Format::Kernel => (&[], ""),
    };
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(samples_dir()) {
        let mut scen: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        scen.sort();
        for s in scen {
            for n in sample_prefix {
                let p = s.join(n);
                if p.is_file() {
                    files.push(p);
                }
            }
        }
    }
    let own = samples_dir().join("formats").join(format.id());
    if let Ok(rd) = std::fs::read_dir(&own) {
        let mut fs: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "log"))
            .collect();
        fs.sort();
        files.extend(fs);
    }
    if let (Some(d), false) = (std::env::var_os("GATELOG_CORPUS"), corpus_sub.is_empty()) {
        let dir = PathBuf::from(d).join(corpus_sub);
        let mut fs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        fs.sort();
        files.extend(fs);
    }
    let mut out = Vec::new();
    for f in files {
        let data = read_maybe_gz(&f);
        let lines = common::lines(&data);
        let step = (lines.len() / per_file.max(1)).max(1);
        let mut i = 0;
        while i < lines.len() && out.len() < 100_000 {
            let n = 1 + (i % 4);
            let chunk: Vec<u8> = lines[i..(i + n).min(lines.len())].join(&b'\n');
            out.push(chunk);
            i += step;
        }
    }
    // always at least the example line `gatelog formats` prints
    out.push(example(format).to_vec());
    out
}

fn example(format: Format) -> &'static [u8] {
    match format {
        Format::NginxAccess => br#"127.0.0.1 - - [23/Nov/2026:10:00:01 +0000] "GET /index.php HTTP/1.1" 504 167 "-" "curl/7.88.1" 5.001 0.000 - 5.001 unix:/run/php/www.sock 504"#,
        Format::NginxError => br#"2026/11/23 10:00:01 [error] 812#812: *4211 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /index.php HTTP/1.1", upstream: "fastcgi://unix:/run/php/www.sock", host: "localhost""#,
        Format::FpmError => b"[23-Nov-2026 10:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it",
        Format::FpmSlow => b"[23-Nov-2026 10:00:03]  [pool www] pid 1234\nscript_filename = /srv/app/index.php\n[0x00007f9be3014300] usleep() /srv/app/index.php:4",
        Format::FpmAccess => br#"127.0.0.1 - - 23/Nov/2026:10:00:01 +0000 "GET /index.php" 200 /srv/app/index.php 12.345 2048 8.10%"#,
        Format::Alb => br#"http 2026-11-23T10:00:01.000000Z app/my-lb/50dc6c495c0c9188 192.168.131.39:2817 - -1 -1 -1 503 - 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - arn:aws:elasticloadbalancing:...:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2026-11-23T10:00:01.000000Z "forward" "-" "-" "-" "-" "-" "-""#,
        Format::Elb => br#"2026-11-23T10:00:01.123456Z my-loadbalancer 192.168.131.39:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 29 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.38.0" - -"#,
        Format::Slb => br#"{"__time__":"1795428001","status":"504","upstream_status":"-","request_time":"60.001","upstream_addr":"10.0.0.5:80","request_method":"GET","request_uri":"/api","client_ip":"1.2.3.4"}"#,
        Format::Haproxy => br#"Nov 23 10:00:01 lb haproxy[1234]: 127.0.0.1:50514 [23/Nov/2026:10:00:01.123] web be_nginx/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET / HTTP/1.1""#,
        Format::Envoy => br#"[2026-11-23T10:00:01.310Z] "GET /api HTTP/1.1" 503 UF 0 91 5 - "10.0.35.28" "curl/7.88.1" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "api" "10.0.2.1:80""#,
        Format::Traefik => br#"10.0.0.1 - - [23/Nov/2026:10:00:01 +0000] "GET /api HTTP/1.1" 502 11 "-" "curl/7.88.1" 42 "api@docker" "http://172.18.0.5:80" 3ms"#,
        Format::PhpError => b"[23-Nov-2026 10:00:01 UTC] PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in /srv/app/index.php on line 12",
        Format::Caddy => br#"{"level":"error","ts":1795428001.25,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","proto":"HTTP/1.1","method":"GET","host":"localhost","uri":"/index.php"},"duration":0.0003,"size":0,"status":502}"#,
        Format::Kernel => b"Nov 23 10:00:01 web1 kernel: [123456.789012] Out of memory: Killed process 1234 (php-fpm8.2) total-vm:524288kB, anon-rss:262144kB, file-rss:0kB, shmem-rss:0kB, UID:33 pgtables:1024kB oom_score_adj:0",
    }
}

/// Mutations per format (seeded; the same inputs on every run).
const ROUNDS: usize = 16_000;

#[test]
fn mini_fuzz_every_parser() {
    let all: Vec<Vec<u8>> = Format::ALL
        .iter()
        .flat_map(|&f| seeds(f, 3).into_iter().take(200))
        .collect();
    for (k, &format) in Format::ALL.iter().enumerate() {
        let pool = seeds(format, 12);
        let mut rng = Rng(0x5eed_0000 + k as u64);
        let mut p = harness::default_parser(format);
        let mut parsed_seeds = 0;
        for s in &pool {
            parsed_seeds += harness::exercise(p.as_mut(), s);
        }
        assert!(
            parsed_seeds > 0,
            "{format}: not one seed record parsed; the seeds are wrong"
        );
        for i in 0..ROUNDS {
            let base = if i % 5 == 4 {
                &all[rng.below(all.len())]
            } else {
                &pool[rng.below(pool.len())]
            };
            let m = mutate(&mut rng, base, &all);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                harness::exercise(p.as_mut(), &m)
            }));
            if r.is_err() {
                panic!(
                    "{format} parser panicked on {:?} (mutation {i}); add it below as a regression",
                    String::from_utf8_lossy(&m)
                );
            }
        }
    }
}

/// The straight-line reading of `combined`-prefixed nginx formats (the fast path) gives the
/// same record or the same error as the generic item loop, on the seeds (real corpus and
/// sample lines) and on every mutation of them.
#[test]
fn nginx_fast_prefix_matches_item_loop() {
    let mut pool = seeds(Format::NginxAccess, 12);
    // the NGINX blog's `key=` timing layout (issue 16), whose quoted upstream lists and
    // inferred `- -` prefix take the fast paths too
    pool.extend(KEY_TIMING_LINES.iter().map(|l| l.as_bytes().to_vec()));
    let all: Vec<Vec<u8>> = Format::ALL
        .iter()
        .flat_map(|&f| seeds(f, 3).into_iter().take(200))
        .collect();
    // each format alone (in a list, a line is read by the first format that takes it; and one
    // format that does not compile would leave the list unused)
    let extra: Vec<Vec<String>> = NGINX_FORMATS
        .iter()
        .filter(|f| nginx_access::compile(f).is_ok())
        .map(|f| vec![f.to_string()])
        .collect();
    assert!(extra.len() >= 5, "the formats to compare do not compile");
    for s in &pool {
        for f in &extra {
            harness::nginx_fast_prefix_agrees(s, f);
        }
    }
    let mut rng = Rng(0xfa57_0001);
    for _ in 0..ROUNDS {
        let base = &pool[rng.below(pool.len())];
        let m = mutate(&mut rng, base, &all);
        harness::nginx_fast_prefix_agrees(&m, &extra[rng.below(extra.len())]);
    }
}

/// Lines in the NGINX blog's `key=` timing layout (as `examples/gen_incident.rs` writes
/// them), with the edge cases of its quoted upstream lists.
const KEY_TIMING_LINES: &[&str] = &[
    r#"38.74.83.243 - - [23/Nov/2026:00:00:00 +0000] "GET /product/6399 HTTP/2.0" 502 157 "https://www.google.com/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.6559.131 Safari/537.36" rt=6.862 uct="0.000" uht="-" urt="6.862" ua="10.0.1.13:9000" us="502""#,
    r#"16.226.67.101 - - [23/Nov/2026:00:00:01 +0000] "GET /static/31/app.eaf94b.woff2 HTTP/2.0" 200 41775 "-" "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.6792.134 Safari/537.36" rt=0.001 uct="-" uht="-" urt="-" ua="-" us="-""#,
    r#"2a02:1389:7d16::751c - - [23/Nov/2026:09:00:00 +0000] "POST /api/v1/cart HTTP/1.1" 502 151 "-" "curl/8.4.0" rt=0.001 uct="-, -" uht="-, -" urt="0.000, 0.001" ua="10.0.1.11:9000, 10.0.1.12:9000" us="502, 502""#,
    r#"10.1.2.3 - alice [23/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x" rt=0.120 uct="0.001 : 0.002" uht="0.100 : 0.110" urt="0.110 : 0.115" ua="10.0.1.11:9000 : 10.0.1.12:9000" us="200 : 200""#,
    r#"10.1.2.3 - - [23/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "x" rt=0.120 uct="0.001 " uht="0.1x" urt="\"" ua="a\"b" us="20 0""#,
    // the straight-line tail's hand-overs to the item loop (issue 16, session 21)
    r#"10.1.2.3 - - [23/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 502 5 "-" "x" rt=- uct="-" uht="-" urt="-" ua="[2001:db8::1]:9000" us="502""#,
    r#"10.1.2.3 - - [23/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 502 5 "-" "x" rt=1.2.3 uct="-" uht="-" urt="-" ua="a" us="502"x"#,
    r#"10.1.2.3 - - [23/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 504 0 "-" "x" rt=60.001 uct="0.001" uht="-" urt="60.000""#,
    r#"10.1.2.3 - - [23/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 504 0 "-" "x"rt=60.001 uct="0.001" uht="-" urt="60.000""#,
    r#"10.1.2.3 - - [23/Nov/2026:09:00:00 +0000] "GET / HTTP/1.1" 504 0 "-" "x" rt=60.001 uct="0.001" uht="-" urt="60.000" "#,
];

/// Format strings the compilers accept, plus broken ones.
const NGINX_FORMATS: &[&str] = &[
    nginx_access::COMBINED,
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status""#,
    r#"$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time uct="$upstream_connect_time" uht="$upstream_header_time" urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status""#,
    r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time $upstream_connect_time $upstream_header_time $upstream_response_time $upstream_addr $upstream_status"#,
    r#"$time_iso8601 - $remote_addr - $status $request_method "$uri" $request_id $server_protocol $body_bytes_sent "$http_referer" "$http_user_agent""#,
    r#"escape=json {"time":"$time_iso8601","addr":"$remote_addr","req":"$request","status":$status,"up":"$upstream_addr","rt":$request_time}"#,
    r#"$msec $remote_addr ${status}x$request_time$upstream_response_time"#,
    r#""$request"#,
    r#"$"#,
    r#"${"#,
    r#"$no_such_variable $status"#,
];

const FPM_FORMATS: &[&str] = &[
    r#"%R - %u %t "%m %r" %s"#,
    r#"%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%"#,
    r#"%t "%m %r%Q%q" %s %{mili}dms %{kilo}Mkb %C%%"#,
    r#"%{%Y-%m-%dT%H:%M:%S%z}t - %R %u %s %m "%r" %{REQUEST_ID}e %{SERVER_PROTOCOL}e %l "%{HTTP_REFERER}e" "%{HTTP_USER_AGENT}e" %{bytes}M %C %d"#,
    r#"%{"#,
    r#"%"#,
    r#"%{%}t %Z"#,
];

#[test]
fn mini_fuzz_format_compilers() {
    let nginx_lines = seeds(Format::NginxAccess, 6);
    let fpm_lines = seeds(Format::FpmAccess, 6);
    for (name, formats, lines, run) in [
        (
            "nginx log_format",
            NGINX_FORMATS,
            &nginx_lines,
            harness::compile_nginx as fn(&[u8]),
        ),
        (
            "php-fpm access.format",
            FPM_FORMATS,
            &fpm_lines,
            harness::compile_fpm as fn(&[u8]),
        ),
    ] {
        let mut rng = Rng(0xf0f0 + formats.len() as u64);
        let fmts: Vec<Vec<u8>> = formats.iter().map(|f| f.as_bytes().to_vec()).collect();
        for i in 0..ROUNDS {
            let f = &fmts[rng.below(fmts.len())];
            // mutate the format half of the time, the lines the other half
            let f = if i % 2 == 0 {
                mutate(&mut rng, f, &fmts)
            } else {
                f.clone()
            };
            let f: Vec<u8> = f.into_iter().filter(|&c| c != b'\n').collect();
            let mut input = f.clone();
            input.push(b'\n');
            for _ in 0..1 + rng.below(3) {
                let l = &lines[rng.below(lines.len())];
                let l = if i % 2 == 1 {
                    mutate(&mut rng, l, lines)
                } else {
                    l.clone()
                };
                input.extend_from_slice(&l);
                input.push(b'\n');
            }
            let r = std::panic::catch_unwind(|| run(&input));
            if r.is_err() {
                panic!(
                    "{name} compiler panicked on {:?} (round {i}); add it below as a regression",
                    String::from_utf8_lossy(&input)
                );
            }
        }
    }
}

#[test]
fn mini_fuzz_detection_and_nginx_conf() {
    let mut rng = Rng(0xdead);
    let all: Vec<Vec<u8>> = Format::ALL
        .iter()
        .flat_map(|&f| seeds(f, 2).into_iter().take(50))
        .collect();
    for i in 0..ROUNDS / 4 {
        let mut input = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let l = &all[rng.below(all.len())];
            input.extend_from_slice(&mutate(&mut rng, l, &all));
            input.push(b'\n');
        }
        let r = std::panic::catch_unwind(|| harness::detect(&input));
        assert!(
            r.is_ok(),
            "detection panicked on {:?} (round {i})",
            String::from_utf8_lossy(&input)
        );
    }
    let mut confs: Vec<Vec<u8>> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(samples_dir()) {
        for e in rd.flatten() {
            for n in ["conf/nginx.conf", "conf/nginx2.conf"] {
                if let Ok(d) = std::fs::read(e.path().join(n)) {
                    confs.push(d);
                }
            }
        }
    }
    assert!(!confs.is_empty(), "no nginx.conf in samples/");
    for i in 0..ROUNDS / 2 {
        let base = &confs[rng.below(confs.len())];
        let c = mutate(&mut rng, base, &confs);
        let r = std::panic::catch_unwind(|| harness::nginx_conf(&c));
        assert!(
            r.is_ok(),
            "nginx.conf scanner panicked on {:?} (round {i})",
            String::from_utf8_lossy(&c)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Linear time on hostile lines.

/// Time to parse `lines` with `p`, best of three (the machine is shared; the minimum is the
/// least noisy estimate).
fn time_parse(p: &mut dyn LineParser, lines: &[Vec<u8>]) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for l in lines {
            let _ = std::hint::black_box(p.parse(l).map(|r| matches!(r, Record::Request(_))));
        }
        best = best.min(t.elapsed());
    }
    best
}

/// `hostile` (one line of about `n` bytes) must not take more than `factor` times as long per
/// byte as `normal` lines (repeated to the same total size): linear, not quadratic. A
/// quadratic parser on a 1 MB line would be ~10^4 times slower per byte than on a 100-byte
/// line, far beyond the factor.
fn assert_linear(what: &str, p: &mut dyn LineParser, normal: &[u8], hostile: &[u8], factor: f64) {
    let reps = (hostile.len() / normal.len()).max(1);
    let normal_lines: Vec<Vec<u8>> = vec![normal.to_vec(); reps];
    let hostile_lines = vec![hostile.to_vec()];
    // warm up
    time_parse(p, &normal_lines[..reps.min(100)]);
    let tn = time_parse(p, &normal_lines).as_secs_f64().max(1e-4);
    let th = time_parse(p, &hostile_lines).as_secs_f64();
    eprintln!(
        "{what}: {} bytes in {:.2} ms; same bytes in {} normal lines {:.2} ms (ratio {:.1}, limit {factor})",
        hostile.len(),
        th * 1e3,
        reps,
        tn * 1e3,
        th / tn
    );
    assert!(
        th <= tn * factor,
        "{what}: {:.1}x the time of normal lines of the same total size (limit {factor}x): quadratic?",
        th / tn
    );
}

const MAIN_UPSTREAM_LINE: &str = r#"127.0.0.1 - - [23/Nov/2026:10:00:01 +0000] "GET /index.php HTTP/1.1" 504 167 "-" "curl/7.88.1" 5.001 0.000 - 5.001 unix:/run/php/www.sock 504"#;

fn main_upstream_with(addr: &str, ua: &str) -> Vec<u8> {
    format!(
        r#"127.0.0.1 - - [23/Nov/2026:10:00:01 +0000] "GET /index.php HTTP/1.1" 502 167 "-" "{ua}" 5.001 0.000 - 5.001 {addr} 502"#
    )
    .into_bytes()
}

#[test]
fn hostile_lines_parse_in_linear_time() {
    const N: usize = 1 << 20;
    let mut nginx = nginx_access::build(&[]).unwrap();
    // a very long $upstream_addr list (every server of a big upstream tried, and redirects)
    let mut addrs = String::new();
    let mut k = 0u32;
    while addrs.len() < N {
        let sep = if k % 7 == 6 { " : " } else { ", " };
        if k > 0 {
            addrs.push_str(sep);
        }
        addrs.push_str(&format!(
            "10.{}.{}.{}:9000",
            (k >> 16) & 255,
            (k >> 8) & 255,
            k & 255
        ));
        k += 1;
    }
    let long_list = main_upstream_with(&addrs, "curl/8");
    assert!(matches!(nginx.parse(&long_list), Ok(Record::Request(_))));
    assert_linear(
        "nginx: 1 MB $upstream_addr list",
        nginx.as_mut(),
        MAIN_UPSTREAM_LINE.as_bytes(),
        &long_list,
        300.0,
    );
    // the field helpers the pipeline calls on that list
    let t = Instant::now();
    let n = gatelog_parsers::fields::upstream_entries(addrs.as_bytes()).len();
    let last = gatelog_parsers::fields::upstream_last(addrs.as_bytes());
    assert_eq!(n, k as usize);
    assert!(!last.is_empty());
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "upstream list helpers: {:?}",
        t.elapsed()
    );

    // deeply repeated escapes in a quoted field (nginx \x22 and runs of backslashes)
    let esc = "\\x22\\\\".repeat(N / 6);
    let escapes = main_upstream_with("unix:/run/php/www.sock", &esc);
    assert!(matches!(nginx.parse(&escapes), Ok(Record::Request(_))));
    assert_linear(
        "nginx: 1 MB of escapes in a quoted field",
        nginx.as_mut(),
        MAIN_UPSTREAM_LINE.as_bytes(),
        &escapes,
        300.0,
    );
    // an odd run of backslashes before every quote: each quote is escaped, the field never
    // closes until the end (worst case for the closing-quote search)
    let bs = "\\\\\\\"".repeat(N / 4);
    let unclosed = main_upstream_with("x", &bs);
    let _ = nginx.parse(&unclosed);
    assert_linear(
        "nginx: 1 MB of backslash-escaped quotes",
        nginx.as_mut(),
        MAIN_UPSTREAM_LINE.as_bytes(),
        &unclosed,
        300.0,
    );
    // a 1 MB header (User-Agent) in an otherwise normal line, with no quote to close it
    let header = "A".repeat(N);
    let big = main_upstream_with("unix:/run/php/www.sock", &header);
    assert!(matches!(nginx.parse(&big), Ok(Record::Request(_))));
    assert_linear(
        "nginx: 1 MB User-Agent",
        nginx.as_mut(),
        MAIN_UPSTREAM_LINE.as_bytes(),
        &big,
        300.0,
    );
    // the same header as a JSON line (escape=json log_format / JSON lines)
    let json_normal = br#"{"time_local":"23/Nov/2026:10:00:01 +0000","remote_addr":"1.2.3.4","request":"GET / HTTP/1.1","status":"502","http_user_agent":"curl","upstream_addr":"10.0.0.1:80"}"#;
    let json_big = format!(
        r#"{{"time_local":"23/Nov/2026:10:00:01 +0000","remote_addr":"1.2.3.4","request":"GET / HTTP/1.1","status":"502","http_user_agent":"{}","upstream_addr":"{}"}}"#,
        "\\\"\\\\\\u0022".repeat(N / 16),
        addrs
    );
    assert_linear(
        "nginx JSON line: escapes and a long upstream list",
        nginx.as_mut(),
        json_normal,
        json_big.as_bytes(),
        300.0,
    );

    // php-fpm access.format with a 1 MB URI full of escapes
    let mut fpm = fpm_access::FpmAccessParser::compile(r#"%R - %u %t "%m %r%Q%q" %s"#).unwrap();
    let fpm_normal = br#"127.0.0.1 - - 23/Nov/2026:10:00:01 +0000 "GET /index.php" 200"#;
    let fpm_big = format!(
        r#"127.0.0.1 - - 23/Nov/2026:10:00:01 +0000 "GET /index.php?{}" 200"#,
        "%22\\\"".repeat(N / 5)
    );
    assert_linear(
        "fpm-access: 1 MB URI",
        &mut fpm,
        fpm_normal,
        fpm_big.as_bytes(),
        300.0,
    );

    // nginx error line: 1 MB request with escapes, and a 1 MB upstream
    let mut err = gatelog_parsers::build(Format::NginxError, &Default::default()).unwrap();
    let err_normal = example(Format::NginxError);
    let err_big = format!(
        r#"2026/11/23 10:00:01 [error] 812#812: *4211 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 127.0.0.1, server: _, request: "GET /{} HTTP/1.1", upstream: "fastcgi://{}", host: "localhost""#,
        "\\\", client: ".repeat(N / 12),
        addrs
    );
    assert_linear(
        "nginx-error: 1 MB request and upstream",
        err.as_mut(),
        err_normal,
        err_big.as_bytes(),
        300.0,
    );

    // every LB format with a 1 MB field of quotes and escapes appended to the example line
    for f in [
        Format::Alb,
        Format::Elb,
        Format::Slb,
        Format::Haproxy,
        Format::Envoy,
        Format::Traefik,
    ] {
        let mut p = gatelog_parsers::build(f, &Default::default()).unwrap();
        let normal = example(f);
        let mut big = normal.to_vec();
        let pos = match f {
            // inside the request_uri value of the JSON record
            Format::Slb => normal.windows(4).position(|w| w == b"/api").unwrap_or(0) + 1,
            _ => normal.iter().position(|&c| c == b'"').unwrap_or(0) + 1,
        };
        // inside the first quoted field: escaped backslashes, percent-escapes, separators
        let junk = "ab\\\\%22, : {[".repeat(N / 16);
        big.splice(pos..pos, junk.bytes());
        assert!(
            matches!(p.parse(&big), Ok(Record::Request(_))),
            "{f}: the long line must still parse: {:?}",
            p.parse(&big).err()
        );
        assert_linear(
            &format!("{f}: 1 MB quoted field with escapes"),
            p.as_mut(),
            normal,
            &big,
            300.0,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Regressions: every crash the fuzz targets found, as the exact input that crashed.

/// Found by the bad-input suite (tests/bad_input.rs): day-of-month was checked against 31
/// only, so `31/Feb/2026` parsed as 3 March. An impossible date is now an invalid field.
#[test]
fn impossible_dates_are_rejected_not_rolled_over() {
    fn ok(format: Format, line: &str) -> bool {
        let mut p = harness::default_parser(format);
        matches!(
            p.parse(line.as_bytes()),
            Ok(Record::Request(_)) | Ok(Record::Event(_))
        )
    }
    let clf =
        |d: &str| format!(r#"10.0.0.1 - - [{d}:10:00:00 +0000] "GET / HTTP/1.1" 502 5 "-" "curl""#);
    assert!(ok(Format::NginxAccess, &clf("28/Feb/2026")));
    assert!(ok(Format::NginxAccess, &clf("29/Feb/2028")), "leap day");
    assert!(
        ok(Format::NginxAccess, &clf("29/Feb/2000")),
        "leap day (400 rule)"
    );
    for bad in [
        "29/Feb/2026",
        "31/Feb/2026",
        "31/Apr/2026",
        "29/Feb/2100",
        "00/Jan/2026",
    ] {
        assert!(!ok(Format::NginxAccess, &clf(bad)), "{bad} parsed");
    }
    let err = |d: &str| {
        format!("{d} 10:00:01 [error] 1#1: *1 no live upstreams while connecting to upstream, client: 10.0.0.1")
    };
    assert!(ok(Format::NginxError, &err("2026/04/30")));
    assert!(!ok(Format::NginxError, &err("2026/04/31")));
    let fpm = |d: &str| {
        format!("[{d} 10:00:00] WARNING: [pool www] server reached pm.max_children setting (5), consider raising it")
    };
    assert!(ok(Format::FpmError, &fpm("30-Jun-2026")));
    assert!(!ok(Format::FpmError, &fpm("31-Jun-2026")));
    let mut fa =
        fpm_access::FpmAccessParser::compile(r#"%R - %u %{%d/%b/%Y:%H:%M:%S}t "%m %r" %s"#)
            .unwrap();
    assert!(fa
        .parse(br#"10.0.0.1 - - 30/Sep/2026:10:00:00 "GET /" 200"#)
        .is_ok());
    assert!(fa
        .parse(br#"10.0.0.1 - - 31/Sep/2026:10:00:00 "GET /" 200"#)
        .is_err());
    let alb = |d: &str| String::from_utf8_lossy(example(Format::Alb)).replace("2026-11-23", d);
    assert!(ok(Format::Alb, &alb("2026-11-30")));
    assert!(!ok(Format::Alb, &alb("2026-11-31")));
    let hap = |d: &str| String::from_utf8_lossy(example(Format::Haproxy)).replacen("Nov 23", d, 1);
    assert!(
        ok(Format::Haproxy, &hap("Feb 29")),
        "year-less syslog stamp: 29 Feb may be valid"
    );
    assert!(!ok(Format::Haproxy, &hap("Feb 30")));
}

/// Found by `fuzz/run.sh 600 parse_nginx_access` (2026-11-23): an nginx JSON line whose time
/// value was a long run of digits overflowed the epoch-seconds parser (`time::parse_epoch`
/// summed ten or more digits in a u32). Debug builds panicked; release builds wrapped to a
/// wrong time.
#[test]
fn fuzz_crash_nginx_access_epoch_overflow() {
    const INPUT: &[u8] = &[
        34, 32, 34, 45, 34, 10, 91, 34, 32, 34, 45, 34, 35, 116, 46, 108, 111, 99, 97, 108, 47, 48,
        91, 34, 49, 10, 47, 79, 99, 116, 47, 50, 48, 50, 53, 99, 32, 79, 83, 36, 88, 32, 50, 47,
        112, 116, 116, 58, 47, 116, 101, 115, 116, 46, 108, 111, 99, 97, 108, 47, 61, 10, 91, 48,
        49, 47, 79, 99, 45, 93, 76, 44, 32, 108, 105, 107, 101, 32, 71, 101, 45, 34, 0, 0, 0, 0,
        46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50,
        48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115, 101, 114,
        32, 45, 32, 50, 48, 49, 48, 48, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0,
        0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46,
        48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 50, 48, 49, 48,
        48, 49, 48, 49, 32, 70, 105, 114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 130, 0, 0, 0,
        0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32,
        34, 0, 0, 0, 0, 0, 0, 130, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32,
        34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49,
        34, 71, 69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 45, 32, 91, 50, 51, 47, 78, 111,
        118, 47, 50, 48, 50, 54, 58, 49, 57, 58, 53, 53, 58, 53, 53, 32, 43, 49, 54, 49, 53, 93,
        32, 34, 71, 77, 84, 32, 47, 105, 45, 48, 49, 45, 50, 48, 98, 75, 105, 101, 34, 58, 32, 34,
        50, 32, 45, 93, 76, 44, 32, 108, 105, 107, 101, 32, 71, 101, 45, 34, 123, 32, 34, 116, 105,
        109, 47, 100, 109, 100, 34, 64, 0, 0, 16, 58, 32, 255, 0, 138, 216, 34, 10, 10, 35, 219, 0,
        40, 0, 0, 0, 0, 0, 0, 95, 115, 101, 110, 116, 46, 3, 10, 123, 9, 9, 9, 9, 9, 0, 0, 0, 10,
        123, 32, 34, 116, 105, 109, 94, 34, 58, 32, 34, 50, 48, 49, 53, 45, 48, 49, 45, 50, 48, 84,
        49, 57, 58, 53, 53, 58, 50, 56, 220, 44, 0, 32, 91, 50, 49, 47, 77, 97, 114, 47, 0, 0, 0,
        243, 58, 48, 52, 58, 52, 56, 58, 51, 49, 32, 43, 0, 0, 0, 219, 0, 0, 0, 0, 0, 0, 0, 10,
        123, 32, 34, 116, 0, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34,
        116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34,
        71, 69, 84, 32, 47, 32, 115, 101, 114, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32,
        34, 50, 48, 49, 53, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32,
        47, 32, 115, 101, 114, 32, 45, 32, 45, 32, 91, 50, 51, 47, 78, 111, 118, 47, 50, 48, 50,
        54, 58, 49, 57, 58, 53, 53, 58, 53, 53, 32, 43, 49, 54, 49, 53, 93, 32, 34, 71, 77, 84, 32,
        47, 105, 45, 48, 49, 45, 50, 48, 98, 75, 105, 101, 34, 58, 32, 34, 50, 32, 45, 93, 76, 44,
        32, 108, 105, 107, 101, 32, 71, 101, 45, 34, 123, 32, 34, 116, 105, 109, 47, 100, 109, 100,
        34, 64, 0, 0, 16, 58, 32, 255, 0, 138, 216, 34, 10, 10, 35, 219, 0, 40, 0, 0, 0, 0, 0, 0,
        95, 115, 101, 110, 116, 46, 3, 10, 123, 9, 9, 9, 9, 9, 0, 0, 0, 10, 123, 32, 34, 116, 105,
        109, 94, 34, 58, 32, 34, 50, 48, 49, 53, 45, 48, 49, 45, 50, 48, 84, 49, 57, 58, 53, 53,
        58, 50, 56, 220, 44, 0, 32, 91, 50, 49, 47, 77, 97, 114, 47, 0, 0, 0, 243, 58, 48, 52, 58,
        52, 56, 58, 51, 49, 32, 43, 0, 0, 0, 219, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 0, 0,
        0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34,
        58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32,
        115, 101, 114, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0,
        0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49,
        50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 50,
        48, 49, 48, 48, 49, 48, 49, 32, 70, 105, 114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 247, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 49, 48, 49, 32, 70,
        105, 114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0,
        0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49,
        50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 39, 47, 32, 115, 101, 114, 32, 45, 32, 50,
        48, 49, 48, 48, 49, 48, 49, 32, 70, 105, 114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0,
        0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84,
        32, 47, 32, 115, 101, 114, 32, 45, 32, 45, 32, 91, 50, 51, 47, 78, 111, 118, 47, 50, 48,
        50, 54, 58, 49, 57, 58, 53, 53, 58, 53, 53, 32, 43, 49, 54, 49, 53, 93, 32, 34, 71, 77, 84,
        32, 47, 105, 45, 48, 49, 45, 50, 48, 98, 75, 105, 101, 34, 58, 32, 34, 50, 32, 45, 93, 76,
        44, 32, 108, 105, 107, 101, 32, 71, 101, 45, 34, 123, 32, 34, 116, 105, 109, 47, 100, 109,
        100, 34, 64, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10,
        123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46,
        48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 50, 48, 49, 48, 48, 49,
        48, 49, 32, 70, 105, 114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 121, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 130, 0, 0, 0,
        0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32,
        34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115,
        101, 114, 32, 45, 32, 45, 32, 91, 50, 51, 47, 78, 111, 118, 47, 50, 48, 50, 54, 58, 49, 57,
        58, 53, 53, 58, 53, 53, 32, 43, 49, 54, 49, 53, 93, 32, 34, 71, 77, 84, 32, 47, 105, 45,
        48, 49, 45, 50, 48, 98, 75, 105, 101, 34, 58, 32, 34, 50, 32, 45, 93, 76, 44, 32, 108, 105,
        107, 101, 32, 71, 101, 45, 34, 123, 32, 34, 116, 105, 109, 47, 100, 109, 100, 49, 45, 50,
        48, 84, 49, 57, 58, 53, 53, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 58, 50, 56,
        220, 44, 0, 32, 91, 50, 49, 47, 77, 97, 114, 47, 0, 0, 0, 243, 58, 48, 52, 58, 52, 56, 58,
        51, 49, 32, 43, 0, 0, 0, 219, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 0, 0, 0, 0, 0, 0,
        0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34,
        50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115, 101,
        114, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0,
        0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46,
        48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 50, 48, 49, 48,
        48, 49, 48, 49, 32, 70, 105, 114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 74, 0, 0, 247, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 49, 48, 49, 32, 70, 105,
        114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0,
        0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50,
        55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 39, 47, 32, 115, 101, 114, 32, 45, 32, 50, 48,
        49, 48, 48, 49, 48, 49, 32, 70, 105, 114, 101, 102, 111, 120, 47, 49, 49, 56, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 130, 0, 0, 0,
        0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32,
        34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115,
        101, 114, 32, 45, 32, 45, 32, 91, 50, 51, 47, 78, 111, 118, 47, 50, 48, 50, 54, 58, 49, 57,
        58, 53, 53, 58, 53, 53, 32, 43, 49, 54, 49, 53, 93, 32, 34, 71, 77, 84, 32, 47, 105, 45,
        48, 49, 45, 50, 48, 98, 75, 105, 101, 34, 58, 32, 34, 50, 32, 45, 93, 76, 44, 32, 108, 105,
        107, 101, 32, 71, 101, 45, 34, 123, 32, 34, 116, 105, 109, 47, 100, 109, 100, 34, 64, 0, 0,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116,
        105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71,
        69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 50, 48, 49, 48, 48, 49, 48, 49, 32, 70, 105,
        114, 101, 102, 111, 34, 64, 0, 0, 16, 58, 32, 255, 0, 138, 216, 34, 10, 10, 35, 219, 0, 40,
        0, 0, 0, 0, 0, 0, 95, 115, 101, 110, 116, 46, 3, 10, 123, 9, 9, 9, 9, 9, 0, 0, 0, 10, 123,
        32, 34, 116, 105, 109, 94, 34, 58, 32, 34, 50, 48, 49, 53, 45, 48, 49, 45, 50, 48, 84, 49,
        57, 58, 53, 53, 58, 50, 56, 220, 44, 0, 32, 91, 50, 49, 47, 77, 97, 114, 47, 0, 0, 0, 243,
        58, 48, 52, 58, 52, 56, 58, 51, 49, 32, 43, 0, 0, 0, 219, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32,
        34, 116, 0, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105,
        109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 222, 184,
        186, 171, 223, 208, 223, 149, 101, 114, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32,
        34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115,
        101, 114, 32, 45, 32, 50, 48, 49, 48, 48, 49, 48, 49, 32, 70, 105, 114, 101, 102, 111, 120,
        47, 49, 49, 56, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 247, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 130, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0,
        0, 0, 10, 123, 32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46,
        48, 46, 48, 46, 49, 34, 71, 69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 45, 32, 91, 50,
        51, 47, 78, 111, 118, 47, 50, 48, 50, 54, 58, 49, 57, 58, 53, 53, 58, 53, 53, 32, 43, 49,
        54, 49, 53, 93, 32, 34, 71, 77, 84, 32, 47, 105, 45, 48, 49, 45, 50, 48, 98, 75, 105, 101,
        34, 58, 32, 34, 50, 32, 45, 93, 76, 44, 32, 108, 105, 107, 101, 32, 71, 101, 45, 112, 116,
        58, 116, 47, 116, 101, 115, 116, 46, 46, 108, 111, 99, 97, 0, 10, 123, 32, 34, 116, 105,
        109, 101, 34, 58, 32, 34, 50, 48, 10, 91, 48, 49, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46,
        49, 34, 71, 69, 49, 34, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 130, 0, 0, 0, 0, 0, 0, 46, 48, 34, 0, 0, 0, 0, 0, 0, 0, 10, 123,
        32, 34, 116, 105, 109, 101, 34, 58, 32, 34, 50, 48, 49, 53, 49, 50, 55, 46, 48, 46, 48, 46,
        49, 34, 71, 69, 84, 32, 47, 32, 115, 101, 114, 32, 45, 32, 45, 32, 91, 50, 51, 47, 78, 111,
        118, 47, 50, 48, 50, 54, 58, 49, 57,
    ];
    let mut p = harness::default_parser(Format::NginxAccess);
    harness::exercise(p.as_mut(), INPUT);
}
