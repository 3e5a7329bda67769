//! Seeded generator of one incident-heavy day as users have it (issue 16): a directory with
//! an nginx access log in the NGINX blog's `key=` timing layout, plus the nginx error log and
//! the php-fpm error and slow logs of the same incidents.
//!
//!     cargo run --release --example gen_incident -- OUTDIR SIZE_MB [SEED]
//!
//! writes `OUTDIR/access.log` (about SIZE_MB MiB), `OUTDIR/error.log`, `OUTDIR/php-fpm.log`
//! and `OUTDIR/php-fpm-slow.log`. The access log format (never given to gatelog: inferred) is
//!
//! ```text
//! log_format timing '$remote_addr - $remote_user [$time_local] "$request" $status '
//!                   '$body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time '
//!                   'uct="$upstream_connect_time" uht="$upstream_header_time" '
//!                   'urt="$upstream_response_time" ua="$upstream_addr" us="$upstream_status"';
//! ```
//!
//! Unlike `gen_access` (two short incidents, four user agents): about 11% of the lines are
//! 5xx, in four incident windows whose 5xx share ramps up to a 30-50% peak (php-fpm
//! saturation → 504; a refused backend → fast 502 with retries; OOM-killed workers → 502;
//! a rate limit on a subset of networks → 503), clients are random addresses over the whole
//! IPv4 space (2% IPv6), user agents are full browser strings with varying versions, paths
//! carry ids, static files are served by nginx itself (`ua="-"`).

use std::fmt::Write as _;
use std::io::{BufWriter, Write};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const UPSTREAMS: [&str; 4] = [
    "10.0.1.11:9000",
    "10.0.1.12:9000",
    "10.0.1.13:9000",
    "10.0.1.14:9000",
];
const REFERERS: [&str; 5] = [
    "-",
    "https://shop.example.com/",
    "https://www.google.com/",
    "https://shop.example.com/cart",
    "https://m.facebook.com/",
];

/// What a window's failing requests look like.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// php-fpm saturated: 504 after 60 s, no upstream header
    Saturation,
    /// a backend refuses connections: fast 502, retried on the next upstream
    Refused,
    /// workers killed mid-request: 502 "prematurely closed"
    OomKill,
    /// limit_req on a subset of networks: 503 answered by nginx
    RateLimit,
}

/// (start second of day, end, peak 5xx share in per mille, kind)
const WINDOWS: [(i64, i64, u64, Kind); 4] = [
    (2 * 3600, 3 * 3600 + 1800, 320, Kind::Saturation),
    (8 * 3600, 10 * 3600 + 1800, 480, Kind::Refused),
    (13 * 3600, 14 * 3600 + 1800, 400, Kind::OomKill),
    (18 * 3600, 20 * 3600 + 1800, 380, Kind::RateLimit),
];

/// The 5xx share (per mille) at second of day `s`: a trapezoid in each window (a quarter of
/// the window ramping up, half at the peak, a quarter down), 1.5% elsewhere.
fn failing_share(s: i64) -> (u64, Option<Kind>) {
    for &(a, b, peak, kind) in &WINDOWS {
        if (a..b).contains(&s) {
            let q = (b - a) / 4;
            let x = s - a;
            let f = if x < q {
                peak * x as u64 / q as u64
            } else if x >= b - a - q {
                peak * (b - a - x) as u64 / q as u64
            } else {
                peak
            };
            return (f.max(15), Some(kind));
        }
    }
    (15, None)
}

fn user_agent(rng: &mut Rng, out: &mut String) {
    let chrome = 118 + rng.below(14);
    let build = 6000 + rng.below(900);
    let patch = rng.below(200);
    match rng.below(10) {
        0..=2 => write!(out, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.{build}.{patch} Safari/537.36"),
        3 => write!(out, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.{build}.{patch} Safari/537.36"),
        4 | 5 => write!(out, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{} Mobile/15E148 Safari/604.1", rng.below(6), rng.below(6)),
        6 => write!(out, "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.{build}.{patch} Mobile Safari/537.36"),
        7 => write!(out, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{}.0) Gecko/20100101 Firefox/{}.0", 115 + chrome % 10, 115 + chrome % 10),
        8 => write!(out, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.{build}.{patch}"),
        _ => write!(out, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
    }
    .unwrap();
}

/// (method, path, served by php)
fn request(rng: &mut Rng, out: &mut String) -> (&'static str, bool) {
    match rng.below(20) {
        0..=4 => {
            let ext = ["js", "css", "png", "woff2", "svg"][rng.below(5) as usize];
            write!(
                out,
                "/static/{}/app.{:x}.{ext}",
                rng.below(40),
                rng.below(1 << 24)
            )
            .unwrap();
            ("GET", false)
        }
        5..=9 => {
            write!(out, "/product/{}", 1000 + rng.below(50_000)).unwrap();
            ("GET", true)
        }
        10..=12 => {
            write!(out, "/api/v1/orders/{}?expand=items", rng.below(1_000_000)).unwrap();
            ("GET", true)
        }
        13 => {
            out.push_str("/api/v1/cart");
            ("POST", true)
        }
        14 => {
            write!(out, "/search?q=shoes&page={}", 1 + rng.below(20)).unwrap();
            ("GET", true)
        }
        15 => {
            out.push_str("/checkout");
            ("POST", true)
        }
        16 => {
            out.push_str("/index.php");
            ("GET", true)
        }
        _ => {
            out.push('/');
            ("GET", true)
        }
    }
}

fn client(rng: &mut Rng, kind: Option<Kind>, failing: bool, out: &mut String) {
    if failing && kind == Some(Kind::RateLimit) {
        // the limited clients: 40 /24 networks of one provider
        write!(
            out,
            "185.220.{}.{}",
            100 + rng.below(40),
            1 + rng.below(254)
        )
        .unwrap();
    } else if rng.below(50) == 0 {
        write!(
            out,
            "2a02:{:x}:{:x}::{:x}",
            rng.below(0xffff),
            rng.below(0xffff),
            1 + rng.below(0xfffe)
        )
        .unwrap();
    } else {
        write!(
            out,
            "{}.{}.{}.{}",
            1 + rng.below(223),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        )
        .unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_incident OUTDIR SIZE_MB [SEED]");
        std::process::exit(1);
    }
    let dir = std::path::Path::new(&args[1]);
    let size: u64 = args[2].parse::<u64>().expect("SIZE_MB") << 20;
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(42);
    let mut rng = Rng(seed | 1);
    std::fs::create_dir_all(dir).expect("create OUTDIR");
    let open = |name: &str| {
        BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.join(name)).expect("create output"),
        )
    };
    let mut acc = open("access.log");
    let mut err = open("error.log");
    let mut fpm = open("php-fpm.log");
    let mut slow = open("php-fpm-slow.log");

    // One day from 2026-11-23 00:00:00 UTC; lines average about 300 bytes.
    let day0: i64 = 1_795_392_000;
    let est_lines = (size / 300).max(1) as i64;
    let mut written: u64 = 0;
    let mut n: u64 = 0;
    let mut fails: u64 = 0;
    let mut conn: u64 = 1;
    let mut last_fpm_sec = 0i64;
    let mut line = String::with_capacity(1024);
    let mut ip = String::with_capacity(64);
    let mut path = String::with_capacity(128);
    let mut ua = String::with_capacity(256);
    let mut e = String::with_capacity(1024);
    while written < size {
        let t = day0 + (n as i64 * 86400) / est_lines;
        n += 1;
        let sec_of_day = t % 86400;
        let (y, m, d) = civil(t / 86400);
        let (hh, mi, ss) = (sec_of_day / 3600, (sec_of_day / 60) % 60, sec_of_day % 60);
        let stamp = format!(
            "{d:02}/{}/{y}:{hh:02}:{mi:02}:{ss:02} +0000",
            MONTHS[(m - 1) as usize]
        );
        let etime = format!("{y}/{m:02}/{d:02} {hh:02}:{mi:02}:{ss:02}");
        let ftime = format!(
            "{d:02}-{}-{y} {hh:02}:{mi:02}:{ss:02}",
            MONTHS[(m - 1) as usize]
        );
        let (share, kind) = failing_share(sec_of_day);
        path.clear();
        let (method, php) = request(&mut rng, &mut path);
        // only requests that reach php fail in an incident (static files are served by nginx)
        let failing = if kind == Some(Kind::RateLimit) {
            rng.below(1000) < share
        } else {
            php && rng.below(1000) < share * 4 / 3
        };
        ip.clear();
        client(&mut rng, kind, failing, &mut ip);
        ua.clear();
        user_agent(&mut rng, &mut ua);
        let referer = REFERERS[rng.below(REFERERS.len() as u64) as usize];
        let up = UPSTREAMS[rng.below(4) as usize];
        let up2 = UPSTREAMS
            [(rng.below(3) as usize + 1 + UPSTREAMS.iter().position(|u| *u == up).unwrap()) % 4];
        conn += 1 + rng.below(3);
        let pid = 20_000 + rng.below(64);
        let req_line = format!(
            "{method} {path} HTTP/{}",
            if rng.below(4) == 0 { "1.1" } else { "2.0" }
        );
        // status, body bytes, rt, uct, uht, urt, ua, us
        let (status, bytes, rt, uct, uht, urt, uaddr, us): (
            u16,
            u64,
            String,
            String,
            String,
            String,
            String,
            String,
        );
        e.clear();
        if failing {
            fails += 1;
            let k = kind.unwrap_or(if rng.below(2) == 0 {
                Kind::Refused
            } else {
                Kind::OomKill
            });
            match k {
                Kind::Saturation => {
                    let r = format!("60.{:03}", rng.below(5));
                    (status, bytes, rt, uct, uht, urt, uaddr, us) = (
                        504,
                        160 + rng.below(20),
                        r.clone(),
                        "0.000".into(),
                        "-".into(),
                        r,
                        up.into(),
                        "504".into(),
                    );
                    let _ = writeln!(e, "{etime} [error] {pid}#{pid}: *{conn} upstream timed out (110: Connection timed out) while reading response header from upstream, client: {ip}, server: shop.example.com, request: \"{req_line}\", upstream: \"fastcgi://{up}\", host: \"shop.example.com\"");
                }
                Kind::Refused => {
                    (status, bytes, rt, uct, uht, urt, uaddr, us) = (
                        502,
                        150 + rng.below(20),
                        "0.001".into(),
                        "-, -".into(),
                        "-, -".into(),
                        "0.000, 0.001".into(),
                        format!("{up}, {up2}"),
                        "502, 502".into(),
                    );
                    for u in [up, up2] {
                        let _ = writeln!(e, "{etime} [error] {pid}#{pid}: *{conn} connect() failed (111: Connection refused) while connecting to upstream, client: {ip}, server: shop.example.com, request: \"{req_line}\", upstream: \"fastcgi://{u}\", host: \"shop.example.com\"");
                    }
                }
                Kind::OomKill => {
                    let r = format!("{}.{:03}", rng.below(8), rng.below(1000));
                    (status, bytes, rt, uct, uht, urt, uaddr, us) = (
                        502,
                        150 + rng.below(20),
                        r.clone(),
                        "0.000".into(),
                        "-".into(),
                        r,
                        up.into(),
                        "502".into(),
                    );
                    let _ = writeln!(e, "{etime} [error] {pid}#{pid}: *{conn} upstream prematurely closed connection while reading response header from upstream, client: {ip}, server: shop.example.com, request: \"{req_line}\", upstream: \"fastcgi://{up}\", host: \"shop.example.com\"");
                }
                Kind::RateLimit => {
                    (status, bytes, rt, uct, uht, urt, uaddr, us) = (
                        503,
                        197,
                        "0.000".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                        "-".into(),
                    );
                    let _ = writeln!(e, "{etime} [error] {pid}#{pid}: *{conn} limiting requests, excess: {}.{:03} by zone \"perip\", client: {ip}, server: shop.example.com, request: \"{req_line}\", host: \"shop.example.com\"", 10 + rng.below(20), rng.below(1000));
                }
            }
            // php-fpm's side, at most once a second
            if sec_of_day != last_fpm_sec {
                last_fpm_sec = sec_of_day;
                match k {
                    Kind::Saturation => {
                        let _ = writeln!(fpm, "[{ftime}] WARNING: [pool www] server reached pm.max_children setting (32), consider raising it");
                        let child = 30_000 + rng.below(32);
                        let _ = writeln!(fpm, "[{ftime}] WARNING: [pool www] child {child}, script '/var/www/shop/public/index.php' (request: \"{method} /index.php\") executing too slow (10.{:06} sec), logging", rng.below(1_000_000));
                        let _ = writeln!(slow, "\n[{ftime}]  [pool www] pid {child}\nscript_filename = /var/www/shop/public/index.php\n[0x00007f3a5c8131a0] PDOStatement->execute() /var/www/shop/src/Db.php:88\n[0x00007f3a5c813120] db_query() /var/www/shop/src/Repository/OrderRepository.php:41\n[0x00007f3a5c8130a0] load_orders() /var/www/shop/src/Controller/OrderController.php:27\n[0x00007f3a5c813020] +++ dump failed");
                    }
                    Kind::OomKill => {
                        let child = 30_000 + rng.below(32);
                        let _ = writeln!(fpm, "[{ftime}] WARNING: [pool www] child {child} exited on signal 9 (SIGKILL) after {}.{:06} seconds from start", 20 + rng.below(300), rng.below(1_000_000));
                        let _ = writeln!(
                            fpm,
                            "[{ftime}] NOTICE: [pool www] child {} started",
                            31_000 + rng.below(1000)
                        );
                    }
                    Kind::Refused | Kind::RateLimit => {}
                }
            }
        } else {
            let s: u16 = match rng.below(1000) {
                0..=899 => 200,
                900..=959 => 304,
                960..=989 => 404,
                _ => 301,
            };
            let b = if s == 200 {
                500 + rng.below(60_000)
            } else {
                rng.below(300)
            };
            let r = if php {
                5 + rng.below(400)
            } else {
                rng.below(3)
            };
            let rts = format!("{}.{:03}", r / 1000, r % 1000);
            if php {
                let h = r * 9 / 10;
                (status, bytes, rt, uct, uht, urt, uaddr, us) = (
                    s,
                    b,
                    rts.clone(),
                    format!("0.00{}", rng.below(3)),
                    format!("{}.{:03}", h / 1000, h % 1000),
                    rts,
                    up.into(),
                    s.to_string(),
                );
            } else {
                (status, bytes, rt, uct, uht, urt, uaddr, us) = (
                    s,
                    b,
                    rts,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                );
            }
        }
        line.clear();
        let _ = writeln!(
            line,
            "{ip} - - [{stamp}] \"{req_line}\" {status} {bytes} \"{referer}\" \"{ua}\" rt={rt} uct=\"{uct}\" uht=\"{uht}\" urt=\"{urt}\" ua=\"{uaddr}\" us=\"{us}\""
        );
        acc.write_all(line.as_bytes()).expect("write");
        err.write_all(e.as_bytes()).expect("write");
        written += line.len() as u64;
    }
    for w in [&mut acc, &mut err, &mut fpm, &mut slow] {
        w.flush().expect("flush");
    }
    eprintln!(
        "wrote {n} lines, {written} bytes to {}/access.log; {fails} 5xx ({:.1}%)",
        dir.display(),
        fails as f64 * 100.0 / n as f64
    );
}

fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}
