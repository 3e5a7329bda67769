//! Seeded generator of a large nginx access log in the `main_upstream` format (combined +
//! `$request_time $upstream_connect_time $upstream_header_time $upstream_response_time
//! $upstream_addr $upstream_status`), with two incidents (php-fpm saturation: 504s with slow
//! upstream header times; a refused backend: fast 502s) so the analysis has work to do.
//!
//!     cargo run --release --example gen_access -- OUT.log SIZE_MB [SEED]

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
const PATHS: [&str; 8] = [
    "/",
    "/index.php",
    "/api/v1/orders",
    "/api/v1/cart?id=42",
    "/static/app.js",
    "/login",
    "/search?q=shoes",
    "/wp-admin/admin-ajax.php",
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "curl/8.4.0",
    "Go-http-client/1.1",
];
const UPSTREAMS: [&str; 3] = [
    "10.0.1.11:9000",
    "10.0.1.12:9000",
    "unix:/run/php/php8.2-fpm.sock",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_access OUT.log SIZE_MB [SEED]");
        std::process::exit(1);
    }
    let size: u64 = args[2].parse::<u64>().expect("SIZE_MB") << 20;
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(42);
    let mut rng = Rng(seed | 1);
    let f = std::fs::File::create(&args[1]).expect("create output");
    let mut w = BufWriter::with_capacity(1 << 20, f);
    // 2026-11-23 00:00:00 UTC; about 60 lines per second
    let mut t: i64 = 1_795_392_000;
    let mut written: u64 = 0;
    let mut n: u64 = 0;
    let mut line = Vec::with_capacity(512);
    while written < size {
        n += 1;
        if n.is_multiple_of(60) {
            t += 1;
        }
        let sec_of_day = t % 86400;
        // incident 1: 10:00-10:20 php-fpm saturation; incident 2: 15:00-15:05 refused
        let sat = (36000..37200).contains(&sec_of_day);
        let refused = (54000..54300).contains(&sec_of_day);
        let days = t / 86400;
        let (y, m, d) = civil(days);
        let (hh, mm, ss) = (sec_of_day / 3600, (sec_of_day / 60) % 60, sec_of_day % 60);
        let ip = format!(
            "{}.{}.{}.{}",
            10 + rng.below(180),
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        );
        let path = PATHS[rng.below(PATHS.len() as u64) as usize];
        let ua = AGENTS[rng.below(AGENTS.len() as u64) as usize];
        let up = UPSTREAMS[rng.below(UPSTREAMS.len() as u64) as usize];
        let roll = rng.below(1000);
        let (status, rt, ct, ht, upstatus, upaddr): (u16, f64, String, String, String, String) =
            if sat && roll < 600 {
                (
                    504,
                    60.0 + rng.below(5) as f64 / 1000.0,
                    "0.000".into(),
                    "-".into(),
                    "504".into(),
                    up.into(),
                )
            } else if refused && roll < 700 {
                (502, 0.001, "-".into(), "-".into(), "502".into(), up.into())
            } else if roll < 3 {
                // a retried request: two upstreams tried
                (
                    200,
                    0.250,
                    "0.001, 0.000".into(),
                    "0.120, 0.100".into(),
                    "502, 200".into(),
                    format!("{}, {}", UPSTREAMS[0], UPSTREAMS[1]),
                )
            } else {
                let rt = (5 + rng.below(300)) as f64 / 1000.0;
                let s = if roll < 900 {
                    200
                } else if roll < 960 {
                    304
                } else if roll < 995 {
                    404
                } else {
                    500
                };
                (
                    s,
                    rt,
                    "0.000".into(),
                    format!("{:.3}", rt * 0.9),
                    s.to_string(),
                    up.into(),
                )
            };
        let bytes = if status == 200 {
            500 + rng.below(40000)
        } else {
            150 + rng.below(400)
        };
        line.clear();
        let _ = writeln!(
            line,
            "{ip} - - [{d:02}/{}/{y}:{hh:02}:{mm:02}:{ss:02} +0000] \"GET {path} HTTP/1.1\" {status} {bytes} \"-\" \"{ua}\" {rt:.3} {ct} {ht} {ur} {upaddr} {upstatus}",
            MONTHS[(m - 1) as usize],
            ur = if ht == "-" && status == 502 { "0.000".to_string() } else { format!("{:.3}", rt) },
        );
        w.write_all(&line).expect("write");
        written += line.len() as u64;
    }
    w.flush().expect("flush");
    eprintln!("wrote {n} lines, {written} bytes to {}", args[1]);
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
