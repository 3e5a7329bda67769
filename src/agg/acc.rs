//! Per-worker state: everything one file, or one chunk of a file, contributes to the report.
//! Accumulators merge in input order (`a.merge(b)` where `b` follows `a`), so the result does
//! not depend on the thread count.

use std::collections::{BTreeMap, HashMap};

use gatelog_parsers::{fields, EventKind, Layer};

use crate::agg::hist::Hist;

/// Widths a timeline may coarsen through, as multiples of its base width. Each divides the
/// next, so two timelines can always be brought to the same width.
/// The last steps (4, 52, 520 and 5200 weeks) keep even a log whose timestamps jump across
/// millennia within [`MAX_BUCKETS`].
pub const LADDER: [i64; 16] = [
    1,
    5,
    10,
    30,
    60,
    300,
    600,
    1800,
    3600,
    21600,
    86400,
    604800,
    2_419_200,
    31_449_600,
    314_496_000,
    3_144_960_000,
];
/// The most buckets a timeline holds before it coarsens.
pub const MAX_BUCKETS: usize = 4096;
/// About how many rows a report's timeline has when no `--bucket` is given: the width is the
/// finest ladder step that gives at most this many ([`auto_step`]).
pub const TARGET_ROWS: i64 = 300;

/// The ladder step a report chooses for a span of `span` base widths: the finest whose
/// buckets number at most [`TARGET_ROWS`]. It never decreases as the span grows, so a
/// timeline may coarsen to the step of the span seen so far without changing the result.
pub fn auto_step(span: i64) -> usize {
    let mut step = 0;
    while step + 1 < LADDER.len() && span / LADDER[step] > TARGET_ROWS {
        step += 1;
    }
    step
}
/// Distinct upstream addresses tracked per bucket before the rest are pooled as `(other)`.
pub const MAX_UPSTREAMS: usize = 1024;
/// Compact rows kept for joins and cause analysis.
pub const MAX_ROWS: usize = 100_000;
/// How many upstreams of event rows an accumulator keeps shared copies of.
const EV_UPSTREAMS: usize = 16;
/// Longest key (path, client, upstream) kept in a top-N table, in bytes.
pub const MAX_KEY: usize = 512;
/// Evidence lines kept per (bucket, kind).
pub const SAMPLES_PER_KEY: usize = 2;
/// Evidence text kept per line, in bytes.
pub const SAMPLE_TEXT: usize = 400;

pub const STATUS_TRACKED: [u16; 6] = [499, 500, 502, 503, 504, 429];

#[inline]
pub fn status_slot(s: u16) -> Option<usize> {
    match s {
        499 => Some(0),
        500 => Some(1),
        502 => Some(2),
        503 => Some(3),
        504 => Some(4),
        429 => Some(5),
        _ => None,
    }
}

/// What a load balancer said about its backend for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbVerdict {
    /// No backend was available or reachable (HAProxy `<NOSRV>`/`SC`, ALB target status `-`).
    NoBackend = 0,
    /// The backend did not answer in time (HAProxy `sH`, ALB 504 with `-1` target time).
    TargetTimeout = 1,
    /// The backend answered with this 5xx itself.
    BackendError = 2,
}

#[derive(Clone, Debug)]
pub struct Bucket {
    pub requests: u64,
    /// Status classes: index 0 = other/0, 1..=5 = 1xx..5xx.
    pub class: [u64; 6],
    pub status: [u64; 6],
    /// `status` per layer (lb, proxy, app): a request logged by two layers counts once here.
    pub status_by_layer: [[u64; 6]; 3],
    /// Requests per client network (IPv4 /24, IPv6 /48), per layer: see [`NetSketch`].
    pub nets: [Option<Box<NetSketch>>; 3],
    pub requests_by_layer: [u64; 3],
    pub err5xx_by_layer: [u64; 3],
    pub lb_verdict: [u64; 3],
    pub events: [u32; EventKind::COUNT],
    pub req_time: Option<Box<Hist>>,
    pub up_time: Option<Box<Hist>>,
    /// (upstream id, requests, 5xx)
    pub upstreams: Vec<(u32, u32, u32)>,
}

impl Default for Bucket {
    fn default() -> Self {
        Bucket {
            requests: 0,
            class: [0; 6],
            status: [0; 6],
            status_by_layer: [[0; 6]; 3],
            nets: [None, None, None],
            requests_by_layer: [0; 3],
            err5xx_by_layer: [0; 3],
            lb_verdict: [0; 3],
            events: [0; EventKind::COUNT],
            req_time: None,
            up_time: None,
            upstreams: Vec::new(),
        }
    }
}

impl Bucket {
    pub fn err5xx(&self) -> u64 {
        self.class[5]
    }
    /// Add `o` into this bucket, taking its boxes where this one has none (no clone).
    /// `remap` maps `o`'s upstream ids to this accumulator's (empty = the same ids).
    fn merge(&mut self, mut o: Bucket, remap: &[u32]) {
        self.requests += o.requests;
        for i in 0..6 {
            self.class[i] += o.class[i];
            self.status[i] += o.status[i];
        }
        for l in 0..3 {
            for i in 0..6 {
                self.status_by_layer[l][i] += o.status_by_layer[l][i];
            }
            if let Some(on) = o.nets[l].take() {
                match &mut self.nets[l] {
                    Some(sn) => sn.merge(&on),
                    None => self.nets[l] = Some(on),
                }
            }
        }
        for i in 0..3 {
            self.requests_by_layer[i] += o.requests_by_layer[i];
            self.err5xx_by_layer[i] += o.err5xx_by_layer[i];
            self.lb_verdict[i] += o.lb_verdict[i];
        }
        for i in 0..EventKind::COUNT {
            self.events[i] = self.events[i].saturating_add(o.events[i]);
        }
        merge_hist(&mut self.req_time, o.req_time);
        merge_hist(&mut self.up_time, o.up_time);
        for &(id, r, e) in &o.upstreams {
            let id = remap.get(id as usize).copied().unwrap_or(id);
            self.add_upstream(id, r, e);
        }
    }
    /// Per-layer status and client-network counts of one request (the `client_subset` hook:
    /// a few integer operations, no allocation but a bucket's first sketch).
    #[inline]
    pub fn note_layer(&mut self, li: usize, status: u16, client: &[u8]) {
        if let Some(s) = status_slot(status) {
            self.status_by_layer[li][s] += 1;
        }
        let key = net_key(client);
        if key != 0 {
            self.nets[li].get_or_insert_with(Default::default).add(key);
        }
    }
    #[inline]
    fn add_upstream(&mut self, id: u32, r: u32, e: u32) {
        if let Some(x) = self.upstreams.iter_mut().find(|x| x.0 == id) {
            x.1 = x.1.saturating_add(r);
            x.2 = x.2.saturating_add(e);
        } else {
            self.upstreams.push((id, r, e));
        }
    }
}

fn merge_hist(a: &mut Option<Box<Hist>>, b: Option<Box<Hist>>) {
    if let Some(b) = b {
        match a {
            Some(a) => a.merge(&b),
            None => *a = Some(b),
        }
    }
}

/// Buckets of fixed width over UTC time, coarsening when the span grows too long.
#[derive(Clone, Debug)]
pub struct Timeline {
    pub base_width_s: i64,
    pub step: usize,
    /// Bucket index (utc seconds / width) of `buckets[0]`.
    pub first: i64,
    pub buckets: Vec<Bucket>,
    /// The last bucket used, as [lo, hi) in µs and its index: consecutive lines mostly share
    /// a bucket, and this saves a 64-bit division per line. `hot_lo > hot_hi` = none.
    hot_lo: i64,
    hot_hi: i64,
    hot_rel: usize,
    /// The earliest and latest instants (µs) counted (`lo_us > hi_us` = none): the span the
    /// report's width is chosen from, whatever width the buckets have reached.
    pub lo_us: i64,
    pub hi_us: i64,
    /// Coarsen as the span grows to the width the report will choose anyway
    /// ([`auto_step`]), instead of keeping up to [`MAX_BUCKETS`] finer buckets that the
    /// report merges at the end: fewer buckets to create, fill and merge (`analyze` without
    /// `--bucket`; the result is the same).
    pub auto: bool,
}

impl Timeline {
    pub fn new(base_width_s: i64) -> Self {
        Timeline {
            base_width_s: base_width_s.max(1),
            step: 0,
            first: 0,
            buckets: Vec::new(),
            hot_lo: 1,
            hot_hi: 0,
            hot_rel: 0,
            lo_us: i64::MAX,
            hi_us: i64::MIN,
            auto: false,
        }
    }
    pub fn width_s(&self) -> i64 {
        self.base_width_s * LADDER[self.step]
    }
    /// The bucket for a UTC instant (µs), growing or coarsening as needed.
    #[inline]
    pub fn bucket_mut(&mut self, utc_us: i64) -> &mut Bucket {
        self.lo_us = self.lo_us.min(utc_us);
        self.hi_us = self.hi_us.max(utc_us);
        if utc_us >= self.hot_lo && utc_us < self.hot_hi {
            return &mut self.buckets[self.hot_rel];
        }
        let w = 1_000_000 * self.width_s();
        let idx = utc_us.div_euclid(w);
        self.hot_lo = idx * w;
        self.hot_hi = self.hot_lo + w;
        if self.buckets.is_empty() {
            self.first = idx;
            self.buckets.push(Bucket::default());
            self.hot_rel = 0;
            return &mut self.buckets[0];
        }
        let rel = idx - self.first;
        if rel >= 0 && (rel as usize) < self.buckets.len() {
            self.hot_rel = rel as usize;
            return &mut self.buckets[rel as usize];
        }
        self.grow_to(idx);
        let w = 1_000_000 * self.width_s();
        let idx = utc_us.div_euclid(w);
        let rel = (idx - self.first) as usize;
        self.hot_lo = idx * w;
        self.hot_hi = self.hot_lo + w;
        self.hot_rel = rel;
        &mut self.buckets[rel]
    }

    fn grow_to(&mut self, idx: i64) {
        self.hot_lo = 1;
        self.hot_hi = 0;
        let mut idx = idx;
        loop {
            let lo = self.first.min(idx);
            let hi = (self.first + self.buckets.len() as i64 - 1).max(idx);
            if self.auto {
                // The instants of buckets lo and hi are at least this many base widths apart
                // (plus one): a lower bound of the final span, so the report's width is at
                // least the one it gives.
                let ratio = LADDER[self.step];
                let span = if hi > lo {
                    (hi - lo - 1) * ratio + 2
                } else {
                    1
                };
                let want = auto_step(span);
                if want > self.step {
                    let factor = LADDER[want] / LADDER[self.step];
                    self.coarsen(want);
                    idx = idx.div_euclid(factor);
                    continue;
                }
            }
            if ((hi - lo + 1) as usize) <= MAX_BUCKETS || self.step + 1 >= LADDER.len() {
                if idx < self.first {
                    let add = (self.first - idx) as usize;
                    let mut v = vec![Bucket::default(); add];
                    v.append(&mut self.buckets);
                    self.buckets = v;
                    self.first = idx;
                } else {
                    let need = (idx - self.first + 1) as usize;
                    if need > self.buckets.len() {
                        self.buckets.resize(need, Bucket::default());
                    }
                }
                return;
            }
            let factor = LADDER[self.step + 1] / LADDER[self.step];
            self.coarsen(self.step + 1);
            idx = idx.div_euclid(factor);
        }
    }

    /// Coarsen to ladder step `step` (merging buckets).
    pub fn coarsen(&mut self, step: usize) {
        self.hot_lo = 1;
        self.hot_hi = 0;
        if step <= self.step || self.buckets.is_empty() {
            self.step = self.step.max(step);
            return;
        }
        let factor = LADDER[step] / LADDER[self.step];
        let new_first = self.first.div_euclid(factor);
        let last = self.first + self.buckets.len() as i64 - 1;
        let new_len = (last.div_euclid(factor) - new_first + 1) as usize;
        let mut nb = vec![Bucket::default(); new_len];
        for (i, b) in self.buckets.drain(..).enumerate() {
            let idx = (self.first + i as i64).div_euclid(factor) - new_first;
            nb[idx as usize].merge(b, &[]);
        }
        self.buckets = nb;
        self.first = new_first;
        self.step = step;
    }

    pub fn merge(&mut self, mut o: Timeline, remap: &[u32]) {
        self.lo_us = self.lo_us.min(o.lo_us);
        self.hi_us = self.hi_us.max(o.hi_us);
        if o.buckets.is_empty() {
            return;
        }
        if self.buckets.is_empty() && remap.is_empty() {
            *self = o;
            return;
        }
        // Growing may coarsen self (auto width, or too many buckets): then `o`'s bucket
        // indexes are in the wrong unit, so coarsen `o` too and grow again.
        loop {
            if o.step > self.step {
                self.coarsen(o.step);
            } else if self.step > o.step {
                o.coarsen(self.step);
            }
            let o_last = o.first + o.buckets.len() as i64 - 1;
            if self.buckets.is_empty() {
                self.first = o.first;
            }
            let step = self.step;
            self.grow_to(o.first);
            if self.step == step {
                self.grow_to(o_last);
            }
            if self.step == step {
                break;
            }
        }
        for (i, b) in o.buckets.into_iter().enumerate() {
            let idx = o.first + i as i64;
            let rel = (idx - self.first) as usize;
            if let Some(t) = self.buckets.get_mut(rel) {
                t.merge(b, remap);
            }
        }
    }

    pub fn bucket_start_us(&self, i: usize) -> i64 {
        (self.first + i as i64) * self.width_s() * 1_000_000
    }
}

/// Bounded heavy hitters (a batch-pruned Misra–Gries summary): counts are exact for keys that
/// stayed, and under-count by at most `error` for any key.
#[derive(Clone, Debug, Default)]
pub struct TopN {
    cap: usize,
    /// hashbrown with its default foldhash (randomly seeded per process): one hash per
    /// lookup-or-insert, several times cheaper than SipHash on short keys.
    /// Keys up to 30 bytes are stored inline ([`crate::agg::topkey::TopKey`]): no allocation.
    pub map: hashbrown::HashMap<crate::agg::topkey::TopKey, u64>,
    pub error: u64,
}

impl TopN {
    pub fn new(cap: usize) -> Self {
        TopN {
            cap,
            map: hashbrown::HashMap::new(),
            error: 0,
        }
    }
    #[inline]
    pub fn add(&mut self, key: &[u8], n: u64) {
        // keys are clipped: a hostile 1 MB path must not cost 1 MB per table entry
        let key = &key[..key.len().min(MAX_KEY)];
        match self.map.entry_ref(key) {
            hashbrown::hash_map::EntryRef::Occupied(mut e) => *e.get_mut() += n,
            hashbrown::hash_map::EntryRef::Vacant(e) => {
                e.insert_with_key(key.into(), n);
                if self.map.len() >= self.cap * 2 {
                    self.prune();
                }
            }
        }
    }
    fn prune(&mut self) {
        let mut counts: Vec<u64> = self.map.values().copied().collect();
        // the (cap+1)-th largest count, by selection (linear), not a full sort
        let cut = if counts.len() > self.cap {
            *counts.select_nth_unstable_by(self.cap, |a, b| b.cmp(a)).1
        } else {
            0
        };
        if cut == 0 {
            return;
        }
        // Keys at or below the cut are forgotten: any key's count is then low by at most
        // the sum of the cuts.
        self.map.retain(|_, c| *c > cut);
        self.error += cut;
    }
    pub fn merge(&mut self, o: TopN) {
        for (k, v) in o.map {
            *self.map.entry(k).or_insert(0) += v;
        }
        self.error += o.error;
        if self.map.len() >= self.cap * 2 {
            self.prune();
        }
    }
    pub fn top(&self, n: usize) -> Vec<(&[u8], u64)> {
        let mut v: Vec<(&[u8], u64)> = self.map.iter().map(|(k, v)| (&k[..], *v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }
}

/// Cells per row of a [`NetSketch`].
pub const NET_CELLS: usize = 64;

/// Requests per client network in one bucket and layer: a count-min sketch of two rows of
/// [`NET_CELLS`] counters indexed by two hashes of the network ([`net_key`]). Fixed size
/// (512 bytes), whatever the number of distinct clients; a point query (the smaller of the
/// network's two cells) over-counts only by collisions; merging is a sum, so chunks and
/// threads give exactly the same sketch as one pass.
#[derive(Clone, Debug)]
pub struct NetSketch {
    pub cells: [u32; 2 * NET_CELLS],
}

impl Default for NetSketch {
    fn default() -> Self {
        NetSketch {
            cells: [0; 2 * NET_CELLS],
        }
    }
}

impl NetSketch {
    /// The two cells of a network key.
    #[inline]
    pub fn cells_of(key: u64) -> (usize, usize) {
        let h = key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (
            (h >> 58) as usize,
            NET_CELLS + ((h >> 52) & (NET_CELLS as u64 - 1)) as usize,
        )
    }
    #[inline]
    pub fn add(&mut self, key: u64) {
        let (a, b) = Self::cells_of(key);
        self.cells[a] = self.cells[a].saturating_add(1);
        self.cells[b] = self.cells[b].saturating_add(1);
    }
    pub fn merge(&mut self, o: &NetSketch) {
        for (a, b) in self.cells.iter_mut().zip(o.cells.iter()) {
            *a = a.saturating_add(*b);
        }
    }
    /// Requests of one network (an upper bound: exact unless it shares both cells).
    pub fn estimate(&self, key: u64) -> u64 {
        let (a, b) = Self::cells_of(key);
        self.cells[a].min(self.cells[b]) as u64
    }
}

const NET_V4: u64 = 1 << 60;
const NET_V6: u64 = 2 << 60;

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
const ONES: u64 = u64::MAX / 255;
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
const LOW7: u64 = ONES * 0x7f;

/// The first 16 bytes of `b` as two little-endian words, zero-padded (overlapping loads
/// instead of a byte loop for the usual 8..16-byte address).
#[inline]
fn load16(b: &[u8]) -> (u64, u64) {
    let n = b.len();
    let word = |r: std::ops::Range<usize>| {
        b.get(r)
            .and_then(|a| <[u8; 8]>::try_from(a).ok())
            .map(u64::from_le_bytes)
    };
    if let (Some(lo), Some(hi)) = (word(0..8), word(8..16)) {
        return (lo, hi);
    }
    if let (Some(lo), Some(hi)) = (word(0..8), word(n.saturating_sub(8)..n)) {
        // `hi` holds bytes n-8..n (n < 16 here); bytes 8..n are its top n-8 bytes
        return (lo, hi.checked_shr(8 * (16 - n) as u32).unwrap_or(0));
    }
    let mut v: u64 = 0;
    for (i, &c) in b.iter().enumerate().take(8) {
        v |= (c as u64) << (8 * i);
    }
    (v, 0)
}

/// Bits 0..16 set where bytes of `lo` then `hi` are `.`, and where they are ASCII digits.
#[cfg(target_arch = "x86_64")]
#[inline]
fn dots_digits(lo: u64, hi: u64) -> (u32, u32) {
    // two compares and two movemasks for the 16 bytes (the SWAR fallback below takes about
    // sixty instructions; this runs once per request)
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline, so these register-only intrinsics are
    // always available; they touch no memory.
    unsafe {
        let v = _mm_set_epi64x(hi as i64, lo as i64);
        let dots = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8))) as u32;
        let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
        (dots, _mm_movemask_epi8(digit) as u32)
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn dots_digits(lo: u64, hi: u64) -> (u32, u32) {
    dots_digits_swar(lo, hi)
}

/// [`dots_digits`] with word operations (other architectures; the tests compare the two).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn dots_digits_swar(lo: u64, hi: u64) -> (u32, u32) {
    (
        bytes_eq(lo, b'.') | bytes_eq(hi, b'.') << 8,
        bytes_digit(lo) | bytes_digit(hi) << 8,
    )
}

/// Bit i set where byte i of `x` is `c`.
#[inline]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn bytes_eq(x: u64, c: u8) -> u32 {
    let v = x ^ (ONES * c as u64);
    gather(!(((v & LOW7) + LOW7) | v | LOW7))
}

/// Bit i set where byte i of `x` is an ASCII digit.
#[inline]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn bytes_digit(x: u64) -> u32 {
    let low = x & LOW7;
    gather((low + ONES * 0x50) & !(low + ONES * 0x46) & !x)
}

/// The high bit of each byte of `m`, as bits 0..8.
#[inline]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn gather(m: u64) -> u32 {
    ((((m >> 7) & ONES).wrapping_mul(0x0102_0408_1020_4080)) >> 56) as u32
}

/// The client network of an address as a key for counting: IPv4 /24 or IPv6 /48 (an
/// IPv4-mapped IPv6 address counts as IPv4), with or without a port (`1.2.3.4:5`,
/// `[2001:db8::1]:5`); 0 when the client is not an IP address (a unix socket, `-`, a name).
///
/// On the per-request path: an IPv4 address is not parsed, its text up to the third dot is
/// hashed (found with a few word operations, no loop over the bytes). [`net_of`] gives the
/// network itself, for display.
#[inline]
pub fn net_key(client: &[u8]) -> u64 {
    let (lo, hi) = load16(client);
    let (dots, digits) = dots_digits(lo, hi);
    let d2 = dots & dots.wrapping_sub(1);
    let d3 = d2 & d2.wrapping_sub(1);
    let (p1, p2, p3) = (
        dots.trailing_zeros(),
        d2.trailing_zeros(),
        d3.trailing_zeros(), // 32 when there is no third dot
    );
    // octets of 1 to 3 digits (their value is not checked here: `256.1.1.1` gets a key),
    // then a digit
    let prefix = (1u32 << p3.min(16)) - 1;
    let shape = (1..=3).contains(&p1)
        && (2..=4).contains(&(p2 - p1))
        && (2..=4).contains(&(p3 - p2))
        && (digits | dots) & prefix == prefix
        && (digits >> (p3 + 1)) & 1 == 1;
    if !shape {
        return net_key_slow(client);
    }
    // p3 is 5..=11: the text before it
    let (a, b) = if p3 >= 8 {
        (lo, hi & ((1u64 << (8 * (p3 - 8))) - 1))
    } else {
        (lo & ((1u64 << (8 * p3)) - 1), 0)
    };
    let h = (a ^ b.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    NET_V4 | (h >> 4)
}

/// [`net_key`] of what its fast path does not take: IPv6, IPv4-mapped IPv6, not an address.
#[cold]
fn net_key_slow(client: &[u8]) -> u64 {
    match net_of(client) {
        0 => 0,
        k if k & NET_V4 != 0 => {
            // an IPv4-mapped address: the key of the same network written as IPv4
            let v = k & ((1 << 60) - 1);
            let text = format!("{}.{}.{}.0", v >> 16 & 255, v >> 8 & 255, v & 255);
            let key = net_key(text.as_bytes());
            if key & NET_V4 != 0 {
                key
            } else {
                0
            }
        }
        k => k,
    }
}

/// The client network of an address, parsed: IPv4 /24 or IPv6 /48 as [`net_name`] shows it
/// (0 when not an IP address). Off the per-request path: see [`net_key`].
pub fn net_of(client: &[u8]) -> u64 {
    let mut v: u64 = 0;
    let mut i = 0;
    for _ in 0..3 {
        let mut o: u64 = 0;
        let start = i;
        while let Some(&c) = client.get(i) {
            if !c.is_ascii_digit() || i - start >= 3 {
                break;
            }
            o = o * 10 + (c - b'0') as u64;
            i += 1;
        }
        if i == start || o > 255 || client.get(i) != Some(&b'.') {
            return net_of_v6(client);
        }
        v = (v << 8) | o;
        i += 1;
    }
    if client.get(i).is_some_and(|c| c.is_ascii_digit()) {
        NET_V4 | v
    } else {
        0
    }
}

fn net_of_v6(client: &[u8]) -> u64 {
    let host = host_of(client);
    let host = match memchr::memchr(b'%', host) {
        Some(i) => &host[..i],
        None => host,
    };
    if host.len() < 2 || memchr::memchr(b':', host).is_none() {
        return 0;
    }
    if let Some(s) = v6_groups(host) {
        // not a network std would show another way (IPv4-mapped, or any address starting
        // with three zero groups: left to std below)
        if s[0] | s[1] | s[2] != 0 {
            return NET_V6 | (s[0] as u64) << 32 | (s[1] as u64) << 16 | s[2] as u64;
        }
    }
    let Some(a) = std::str::from_utf8(host)
        .ok()
        .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
    else {
        return 0;
    };
    if let Some(v4) = a.to_ipv4_mapped() {
        let o = v4.octets();
        return NET_V4 | (o[0] as u64) << 16 | (o[1] as u64) << 8 | o[2] as u64;
    }
    let s = a.segments();
    NET_V6 | (s[0] as u64) << 32 | (s[1] as u64) << 16 | s[2] as u64
}

/// A network key as text: `192.0.2.0/24`, `2001:db8:1::/48`.
/// The eight groups of an IPv6 address written with hex groups only (no embedded IPv4, which
/// is left to std): the grammar of std's parser (1 to 4 hex digits per group, at most one
/// `::` standing for at least one zero group), without building a `str` or a parser (std's
/// took ~1,500 instructions an address, for the 2% of IPv6 clients). `None` when not such
/// an address (std then decides).
fn v6_groups(s: &[u8]) -> Option<[u16; 8]> {
    if s.contains(&b'.') {
        return None;
    }
    fn hex(c: u8) -> Option<u16> {
        (c as char).to_digit(16).map(|d| d as u16)
    }
    // groups separated by `:`, at most out.len(): how many were read (a group is 1 to 4 hex
    // digits; a separator not followed by a group is not read)
    let read = |p: &mut usize, out: &mut [u16]| -> usize {
        for (i, slot) in out.iter_mut().enumerate() {
            let mut q = *p;
            if i > 0 {
                if s.get(q) != Some(&b':') {
                    return i;
                }
                q += 1;
            }
            let mut v = 0u16;
            let mut n = 0;
            while let Some(d) = s.get(q + n).copied().and_then(hex) {
                if n == 4 {
                    return i; // a fifth digit: no group here (and the parse fails after)
                }
                v = v << 4 | d;
                n += 1;
            }
            if n == 0 {
                return i;
            }
            *slot = v;
            *p = q + n;
        }
        out.len()
    };
    let mut g = [0u16; 8];
    let mut p = 0;
    let head = read(&mut p, &mut g);
    if head < 8 {
        if s.get(p..p + 2) != Some(b"::") {
            return None;
        }
        p += 2;
        let mut tail = [0u16; 7];
        let n = read(&mut p, &mut tail[..7 - head]);
        g[8 - n..].copy_from_slice(&tail[..n]);
    }
    (p == s.len()).then_some(g)
}

pub fn net_name(key: u64) -> String {
    let v = key & ((1 << 60) - 1);
    match key & !((1 << 60) - 1) {
        NET_V4 => format!("{}.{}.{}.0/24", v >> 16 & 255, v >> 8 & 255, v & 255),
        NET_V6 => {
            let a = std::net::Ipv6Addr::new(
                (v >> 32) as u16,
                (v >> 16) as u16,
                v as u16,
                0,
                0,
                0,
                0,
                0,
            );
            format!("{a}/48")
        }
        _ => "(not an IP address)".to_string(),
    }
}

/// Byte equality without a `memcmp` call for the usual 8- to 16-byte names (`10.0.1.11:9000`):
/// two overlapping word compares. Runs per request (upstream ids).
#[inline(always)]
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let w = |s: &[u8], i: usize| {
            let mut t = [0u8; 8];
            if let Some(x) = s.get(i..i + 8) {
                t.copy_from_slice(x);
            }
            u64::from_ne_bytes(t)
        };
        return w(a, 0) == w(b, 0) && w(a, n - 8) == w(b, n - 8);
    }
    a == b
}

/// Slots of [`Acc::upstream_id`]'s cache.
const UP_CACHE: usize = 64;

/// A fingerprint of an upstream name: its length and first and last eight bytes, mixed
/// (two loads and a multiply; equal names always agree, and the cache checks the name).
#[inline]
fn up_fingerprint(b: &[u8]) -> u64 {
    let n = b.len();
    let word = |i: usize| {
        b.get(i..i + 8)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map(u64::from_le_bytes)
    };
    let (x, y) = match (word(0), word(n.saturating_sub(8))) {
        (Some(x), Some(y)) => (x, y),
        _ => {
            let mut v = 0u64;
            for (i, &c) in b.iter().enumerate() {
                v ^= (c as u64) << (8 * (i % 8));
            }
            (v, 0)
        }
    };
    (x ^ y.rotate_left(23) ^ n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A 5xx (or 499) request kept for joins.
#[derive(Clone, Debug)]
pub struct ReqRow {
    pub utc_us: i64,
    pub dur_us: Option<u64>,
    pub status: u16,
    pub layer: Layer,
    pub file: u32,
    pub line: u64,
    pub client: u64,
    pub request: u64,
    pub upstream: u32,
    pub trace: u64,
    pub lb: Option<LbVerdict>,
    /// Hash of the client's host (port stripped), to compare with backend addresses.
    pub client_host: u64,
    /// The client's network as counted ([`net_key`]; 0 when the client is not an IP address)
    /// and as shown ([`net_of`]).
    pub net: u64,
    pub net_ip: u64,
    /// Upstream response time (last server tried), when logged.
    pub up_us: Option<u64>,
    /// Upstream status (last server tried): 0 when not logged or `-`.
    pub up_status: u16,
    /// No `$upstream_addr` on a line whose format logs timing (`$request_time`): this layer
    /// answered without contacting an upstream (when the format logs upstreams at all).
    pub up_none: bool,
    /// An `$upstream_connect_time` was logged: the upstream accepted the connection.
    pub up_connected: bool,
    /// Response bytes sent (`$body_bytes_sent`), when logged.
    pub bytes: Option<u64>,
    /// The path is a usual health-check page (`/health`, `/healthz`, `/ping`, ...).
    pub health_check: bool,
}

/// The row kept of one request for joins and causes.
#[allow(clippy::too_many_arguments)]
fn req_row(
    utc_us: i64,
    dur_us: Option<u64>,
    status: u16,
    layer: Layer,
    file: u32,
    line: u64,
    r: &gatelog_parsers::Request<'_>,
    lb: Option<LbVerdict>,
    up_id: Option<u32>,
    up_us: Option<u64>,
) -> ReqRow {
    let client = hash(r.client);
    let host = host_of(r.client);
    // an IPv6 network's key is the network itself: parsed once for both
    let origin = r.origin_client();
    let net_ip = net_of(origin);
    let net = if net_ip != 0 && net_ip & NET_V4 == 0 {
        net_ip
    } else {
        net_key(origin)
    };
    ReqRow {
        utc_us,
        dur_us,
        status,
        layer,
        file,
        line,
        client,
        request: request_hash(r),
        upstream: up_id.unwrap_or(u32::MAX),
        trace: if r.trace_id.is_empty() {
            0
        } else {
            hash(r.trace_id)
        },
        lb,
        // the same bytes when there is no port to strip
        client_host: if host.len() == r.client.len() {
            client
        } else {
            hash(host)
        },
        net,
        net_ip,
        up_us,
        up_status: parse_u16(fields::upstream_last(r.upstream_status)).unwrap_or(0),
        up_none: (r.upstream_addr.is_empty() || r.upstream_addr == b"-") && dur_us.is_some(),
        up_connected: {
            let t = fields::upstream_last(r.upstream_connect_time);
            !t.is_empty() && t != b"-"
        },
        bytes: r.bytes_sent,
        health_check: health_path(r.path),
    }
}

/// `u16`'s `FromStr` on bytes (no UTF-8 check: a byte that is not ASCII is not a digit):
/// an optional `+`, then one or more digits, without overflow.
#[inline]
fn parse_u16(b: &[u8]) -> Option<u16> {
    let d = match b {
        [b'+', rest @ ..] => rest,
        _ => b,
    };
    if d.is_empty() {
        return None;
    }
    let mut v: u16 = 0;
    for &c in d {
        let x = c.wrapping_sub(b'0');
        if x > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(x as u16)?;
    }
    Some(v)
}

/// A usual health-check path (a load balancer's check request), with or without a query.
/// Tested for every request that did not fail, so it costs a byte test for most paths and a
/// few word compares for the others (no search for the `?`): the part before the first `?`
/// is `name` when the path starts with `name` followed by the end or a `?`.
#[inline]
pub fn health_path(p: &[u8]) -> bool {
    #[inline(always)]
    fn is<const N: usize>(p: &[u8], name: &[u8; N]) -> bool {
        p.get(..N).is_some_and(|h| h == name) && matches!(p.get(N), None | Some(b'?'))
    }
    match p {
        [b'/', b'h', ..] => {
            is(p, b"/health")
                || is(p, b"/healthz")
                || is(p, b"/health.html")
                || is(p, b"/healthcheck")
                || is(p, b"/health_check")
        }
        [b'/', b'p', ..] => is(p, b"/ping"),
        [b'/', b's', ..] => is(p, b"/status"),
        [b'/', b'c', ..] => is(p, b"/check"),
        [b'/', b'l', ..] => is(p, b"/lb-check") || is(p, b"/livez"),
        [b'/', b'r', ..] => is(p, b"/ready") || is(p, b"/readyz"),
        _ => false,
    }
}

/// An error event kept for joins and cause analysis.
#[derive(Clone, Debug)]
pub struct EventRow {
    pub utc_us: i64,
    pub kind: EventKind,
    pub file: u32,
    pub line: u64,
    pub client: u64,
    pub request: u64,
    /// Shared by the rows of one accumulator that name the same upstream
    /// ([`Acc::event_upstream`]): an error log names a handful of upstreams, row after row.
    pub upstream: std::sync::Arc<[u8]>,
    pub pool: Box<[u8]>,
    pub child_pid: Option<u32>,
    pub number: Option<i64>,
    /// Script or PHP message or request, for summaries (bounded).
    pub detail: Box<[u8]>,
    /// Slowlog frames (bounded), for the root of a saturation.
    pub frames: Box<[u8]>,
}

/// An evidence line.
#[derive(Clone, Debug)]
pub struct Sample {
    pub utc_us: i64,
    pub file: u32,
    pub line: u64,
    pub text: Box<[u8]>,
}

/// Key of an evidence sample: an event kind, or a status (+1000) for requests; 5xx requests
/// at the load balancer are also kept apart ([`layer_sample_key`]).
pub type SampleKey = (i64 /* bucket start µs at base width */, u16);

/// Sample key of a 5xx request at one layer: 2000 + 100 × layer + (status − 500).
pub fn layer_sample_key(layer: Layer, status: u16) -> u16 {
    2000 + 100 * layer as u16 + status.saturating_sub(500).min(99)
}

#[derive(Clone, Debug, Default)]
pub struct FileStats {
    pub lines: u64,
    pub parsed: u64,
    pub rejected: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub requests: u64,
    pub events: u64,
    pub rejected_reasons: BTreeMap<String, u64>,
    pub rejected_samples: Vec<Sample>,
    pub rejected_reason_of_samples: Vec<String>,
    pub errors: Vec<String>,
    pub first_us: Option<i64>,
    pub last_us: Option<i64>,
    /// First and last instants of records outside `--since/--until` (read and not counted):
    /// where the logs are, when the window holds nothing.
    pub outside_first_us: Option<i64>,
    pub outside_last_us: Option<i64>,
    /// Time zone offset seen in this file's timestamps, if any.
    pub offset_seen: Option<i32>,
    /// Lines skipped as the same requests as another input's (`crate::ingest::dedup`).
    pub duplicates: u64,
}

impl FileStats {
    /// Add another part's counts for the same file (a chunk, a thread, a live interval).
    pub fn add(&mut self, st: FileStats) {
        self.lines += st.lines;
        self.parsed += st.parsed;
        self.rejected += st.rejected;
        self.skipped += st.skipped;
        self.duplicates += st.duplicates;
        self.bytes += st.bytes;
        self.requests += st.requests;
        self.events += st.events;
        for (r, n) in st.rejected_reasons {
            *self.rejected_reasons.entry(r).or_insert(0) += n;
        }
        for (s, r) in st
            .rejected_samples
            .into_iter()
            .zip(st.rejected_reason_of_samples)
        {
            if self.rejected_samples.len() < REJECTED_SAMPLES {
                self.rejected_samples.push(s);
                self.rejected_reason_of_samples.push(r);
            }
        }
        self.errors.extend(st.errors);
        self.first_us = opt_min(self.first_us, st.first_us);
        self.last_us = opt_max(self.last_us, st.last_us);
        self.outside_first_us = opt_min(self.outside_first_us, st.outside_first_us);
        self.outside_last_us = opt_max(self.outside_last_us, st.outside_last_us);
        self.offset_seen = self.offset_seen.or(st.offset_seen);
    }
}

pub const REJECTED_SAMPLES: usize = 5;

#[derive(Clone, Debug)]
pub struct Acc {
    pub timeline: Timeline,
    /// Requests and failures in 10 s cells whatever the timeline's width: incidents are
    /// found on it (`crate::agg::fine`).
    pub fine: crate::agg::fine::Fine,
    pub upstream_names: Vec<Box<[u8]>>,
    upstream_ids: HashMap<Box<[u8]>, u32>,
    /// Clients, paths and upstreams of 5xx requests, per layer (index `Layer as usize`).
    pub top_clients: [TopN; 3],
    pub top_paths: [TopN; 3],
    pub top_upstreams: [TopN; 3],
    pub req_rows: Vec<ReqRow>,
    /// Requests that did not fail but causes look at: health checks and large (>= 64 KB)
    /// responses of the proxy (bounded by [`MAX_ROWS`]; kept for causes only, the counts
    /// above are exact).
    pub side_rows: Vec<ReqRow>,
    pub event_rows: Vec<EventRow>,
    /// The upstreams of the last event rows ([`Acc::event_upstream`]), replaced in turn.
    ev_upstreams: Vec<std::sync::Arc<[u8]>>,
    ev_upstreams_next: usize,
    pub rows_dropped: u64,
    pub samples: BTreeMap<(i64, u16), Vec<Sample>>,
    /// Keys of `samples` known to be full (a full entry stays full), most recent first out.
    full_keys: [(i64, u16); 4],
    full_next: usize,
    /// The event-kind keys (< 64) of `samples` known to be full in the bucket
    /// `full_ev_bucket`, one bit per key (an error log's burst repeats a few kinds per second).
    full_ev: u64,
    full_ev_bucket: i64,
    pub files: BTreeMap<u32, FileStats>,
    /// Requests per status code (0..=999).
    pub status_counts: Box<[u64; 1000]>,
    /// Requests per status code, per layer (index `Layer as usize`): headline figures count
    /// each request once, at the outermost layer that logged requests.
    pub layer_status_counts: Box<[[u64; 1000]; 3]>,
    /// Client addresses (hashed, port stripped) seen by a load balancer, bounded: a
    /// backend's own address among them is a request loop (`self_loop`).
    pub lb_clients: std::collections::HashSet<u64>,
    /// More distinct LB clients than [`MAX_LB_CLIENTS`] were seen (the set is partial).
    pub lb_clients_full: bool,
    /// Upstream ids that load balancers forwarded to (their targets).
    pub lb_upstreams: Vec<u32>,
    /// Upstream ids by name fingerprint ([`up_fingerprint`]; slot = `(fingerprint, id + 1)`,
    /// 0 = empty): a direct-mapped cache in front of the name table, so that upstreams
    /// taking turns (round robin) cost a predictable check, not a mispredicted scan.
    up_cache: Box<[(u64, u32); UP_CACHE]>,
    /// Requests by (layer, status, upstream id or [`NO_UPSTREAM`]): only when enabled
    /// (`gatelog live --metrics`, for Prometheus series with all three labels); `None` in
    /// batch runs, where it costs one branch per request.
    pub combos: Option<HashMap<(Layer, u16, u32), u64>>,
}

/// The upstream id of a request that names no upstream (in [`Acc::combos`]).
pub const NO_UPSTREAM: u32 = u32::MAX;

/// Load-balancer targets remembered for `self_loop` (a linear set: kept small).
pub const MAX_LB_TARGETS: usize = 64;

/// Distinct load-balancer clients remembered for `self_loop`.
pub const MAX_LB_CLIENTS: usize = 65_536;

/// The host part of `ip:port`, `[v6]:port` (or the whole thing when there is no port).
pub fn host_of(addr: &[u8]) -> &[u8] {
    if let Some(rest) = addr.strip_prefix(b"[") {
        return match memchr::memchr(b']', rest) {
            Some(i) => &rest[..i],
            None => rest,
        };
    }
    // the last colon is searched for only when there is exactly one (an address without
    // a port, the usual client, needs no search; an IPv6 address keeps its colons)
    if addr.iter().filter(|&&c| c == b':').count() == 1 {
        if let Some(i) = memchr::memrchr(b':', addr) {
            return &addr[..i];
        }
    }
    addr
}

pub const OTHER_UPSTREAM: &[u8] = b"(other)";

impl Acc {
    pub fn new(base_width_s: i64) -> Self {
        Acc {
            timeline: Timeline::new(base_width_s),
            fine: Default::default(),
            upstream_names: Vec::new(),
            upstream_ids: HashMap::new(),
            top_clients: std::array::from_fn(|_| TopN::new(1000)),
            top_paths: std::array::from_fn(|_| TopN::new(1000)),
            top_upstreams: std::array::from_fn(|_| TopN::new(1000)),
            req_rows: Vec::new(),
            side_rows: Vec::new(),
            event_rows: Vec::new(),
            ev_upstreams: Vec::new(),
            ev_upstreams_next: 0,
            rows_dropped: 0,
            samples: BTreeMap::new(),
            full_keys: [(i64::MIN, u16::MAX); 4], // u16::MAX is no sample key
            full_next: 0,
            full_ev: 0,
            full_ev_bucket: i64::MIN,
            files: BTreeMap::new(),
            status_counts: Box::new([0; 1000]),
            layer_status_counts: Box::new([[0; 1000]; 3]),
            lb_clients: std::collections::HashSet::new(),
            lb_clients_full: false,
            lb_upstreams: Vec::new(),
            up_cache: Box::new([(0, 0); UP_CACHE]),
            combos: None,
        }
    }

    pub fn stats(&mut self, file: u32) -> &mut FileStats {
        self.files.entry(file).or_default()
    }

    #[inline]
    pub fn upstream_id(&mut self, name: &[u8]) -> u32 {
        let fp = up_fingerprint(name);
        let slot = (fp >> 58) as usize % UP_CACHE;
        if let Some(&(f, id1)) = self.up_cache.get(slot) {
            if f == fp && id1 != 0 {
                let id = id1 - 1;
                if let Some(n) = self.upstream_names.get(id as usize) {
                    if short_eq(n, name) {
                        return id;
                    }
                }
            }
        }
        let id = self.upstream_id_slow(name);
        if let Some(x) = self.up_cache.get_mut(slot) {
            *x = (fp, id + 1);
        }
        id
    }

    #[inline(never)]
    fn upstream_id_slow(&mut self, name: &[u8]) -> u32 {
        // few upstreams: a linear scan beats hashing
        if self.upstream_names.len() <= 16 {
            if let Some(i) = self.upstream_names.iter().position(|n| short_eq(n, name)) {
                return i as u32;
            }
        }
        match self.upstream_ids.get(name) {
            Some(&id) => id,
            None => {
                let key: &[u8] = if self.upstream_names.len() >= MAX_UPSTREAMS {
                    OTHER_UPSTREAM
                } else {
                    name
                };
                if let Some(&id) = self.upstream_ids.get(key) {
                    id
                } else {
                    let id = self.upstream_names.len() as u32;
                    self.upstream_names.push(key.into());
                    self.upstream_ids.insert(key.into(), id);
                    id
                }
            }
        }
    }

    pub fn add_sample(&mut self, key: u16, utc_us: i64, file: u32, line: u64, text: &[u8]) {
        let w = self.timeline.base_width_s * 1_000_000;
        let b = utc_us.div_euclid(w) * w;
        // an incident's errors repeat the last few keys: no map lookup for them
        if key < 64 {
            if self.full_ev_bucket == b && self.full_ev & (1u64 << key) != 0 {
                return;
            }
        } else if self.full_keys.contains(&(b, key)) {
            return;
        }
        let v = self
            .samples
            .entry((b, key))
            .or_insert_with(|| Vec::with_capacity(SAMPLES_PER_KEY));
        if v.len() < SAMPLES_PER_KEY {
            v.push(Sample {
                utc_us,
                file,
                line,
                text: clip(text),
            });
        }
        if v.len() >= SAMPLES_PER_KEY {
            if key < 64 {
                if self.full_ev_bucket != b {
                    self.full_ev_bucket = b;
                    self.full_ev = 0;
                }
                self.full_ev |= 1u64 << key;
            } else {
                self.full_keys[self.full_next] = (b, key);
                self.full_next = (self.full_next + 1) % self.full_keys.len();
            }
        }
    }

    /// Record one request (already normalised) into the timeline and tables.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn add_request(
        &mut self,
        utc_us: i64,
        layer: Layer,
        status: u16,
        req_time_us: Option<u64>,
        up_us: Option<u64>,
        r: &gatelog_parsers::Request<'_>,
        lb: Option<LbVerdict>,
        file: u32,
        line: u64,
        text: &[u8],
    ) {
        let up_addr = fields::upstream_last(r.upstream_addr);
        let up_id = if up_addr.is_empty() || up_addr == b"-" {
            None
        } else {
            Some(self.upstream_id(up_addr))
        };
        self.status_counts[(status as usize).min(999)] += 1;
        if let Some(c) = self.layer_status_counts.get_mut(layer as usize) {
            c[(status as usize).min(999)] += 1;
        }
        if let Some(c) = self.combos.as_mut() {
            *c.entry((layer, status.min(999), up_id.unwrap_or(NO_UPSTREAM)))
                .or_insert(0) += 1;
        }
        let b = self.timeline.bucket_mut(utc_us);
        b.requests += 1;
        let class = (status / 100) as usize;
        b.class[if (1..=5).contains(&class) { class } else { 0 }] += 1;
        if let Some(s) = status_slot(status) {
            b.status[s] += 1;
        }
        let li = layer as usize;
        b.requests_by_layer[li] += 1;
        // the client network as the outermost proxy saw it (X-Forwarded-For when logged)
        b.note_layer(li, status, r.origin_client());
        let is5 = class == 5;
        if is5 {
            b.err5xx_by_layer[li] += 1;
            if let Some(v) = lb {
                b.lb_verdict[v as usize] += 1;
            }
        }
        if let Some(t) = req_time_us {
            b.req_time.get_or_insert_with(Default::default).add(t);
        }
        if let Some(t) = up_us {
            b.up_time.get_or_insert_with(Default::default).add(t);
        }
        if let Some(id) = up_id {
            b.add_upstream(id, 1, is5 as u32);
        }
        let f = self.fine.cell(utc_us);
        f.requests[li] += 1;
        f.err5xx[li] += is5 as u32;
        f.s429[li] += (status == 429) as u32;
        if layer == Layer::Lb {
            if !self.lb_clients_full {
                self.note_lb_client(r.client);
            }
            if let Some(id) = up_id {
                if self.lb_upstreams.len() < MAX_LB_TARGETS && !self.lb_upstreams.contains(&id) {
                    self.lb_upstreams.push(id);
                }
            }
        }
        if !(is5 || status == 499)
            && self.side_rows.len() < MAX_ROWS
            && (health_path(r.path)
                || (layer == Layer::Proxy && r.bytes_sent.unwrap_or(0) >= 64 * 1024))
        {
            self.side_rows.push(req_row(
                utc_us,
                req_time_us,
                status,
                layer,
                file,
                line,
                r,
                lb,
                up_id,
                up_us,
            ));
        }
        if is5 || status == 499 {
            self.add_error_request(
                utc_us,
                layer,
                status,
                req_time_us,
                up_us,
                r,
                lb,
                up_id,
                file,
                line,
                text,
            );
        }
    }

    fn note_lb_client(&mut self, client: &[u8]) {
        if self.lb_clients.len() >= MAX_LB_CLIENTS {
            self.lb_clients_full = true;
            return;
        }
        self.lb_clients.insert(hash(host_of(client)));
    }

    #[allow(clippy::too_many_arguments)]
    #[cold]
    fn add_error_request(
        &mut self,
        utc_us: i64,
        layer: Layer,
        status: u16,
        dur_us: Option<u64>,
        up_us: Option<u64>,
        r: &gatelog_parsers::Request<'_>,
        lb: Option<LbVerdict>,
        up_id: Option<u32>,
        file: u32,
        line: u64,
        text: &[u8],
    ) {
        if status >= 500 {
            // per layer (a request logged by several layers is in each layer's tables)
            let li = (layer as usize).min(self.top_clients.len() - 1);
            self.top_clients[li].add(r.client, 1);
            let path = strip_query(if r.path.is_empty() {
                r.request_line
            } else {
                r.path
            });
            self.top_paths[li].add(path, 1);
            if let Some(name) = up_id.and_then(|id| self.upstream_names.get(id as usize)) {
                self.top_upstreams[li].add(name, 1);
            }
        }
        self.add_sample(1000 + status, utc_us, file, line, text);
        if layer == Layer::Lb && (500..600).contains(&status) {
            // and the load balancer's apart: a cause counted at the LB (which sees the real
            // clients) can show its lines even when a backend's file, read first, filled the
            // samples above
            self.add_sample(layer_sample_key(layer, status), utc_us, file, line, text);
        }
        if self.req_rows.len() < MAX_ROWS {
            self.req_rows.push(req_row(
                utc_us, dur_us, status, layer, file, line, r, lb, up_id, up_us,
            ));
        } else {
            self.rows_dropped += 1;
        }
    }

    /// The shared copy of an event row's upstream (a small cache of the last ones seen: no
    /// allocation per row for the usual few upstreams).
    fn event_upstream(&mut self, u: &[u8]) -> std::sync::Arc<[u8]> {
        if let Some(a) = self.ev_upstreams.iter().find(|a| ***a == *u) {
            return a.clone();
        }
        let a: std::sync::Arc<[u8]> = u.into();
        if self.ev_upstreams.len() < EV_UPSTREAMS {
            self.ev_upstreams.push(a.clone());
        } else {
            let i = self.ev_upstreams_next % EV_UPSTREAMS;
            self.ev_upstreams[i] = a.clone();
            self.ev_upstreams_next = i + 1;
        }
        a
    }

    pub fn add_event(
        &mut self,
        utc_us: i64,
        e: &gatelog_parsers::Event<'_>,
        file: u32,
        line: u64,
        text: &[u8],
    ) {
        let b = self.timeline.bucket_mut(utc_us);
        let k = e.kind.index();
        b.events[k] = b.events[k].saturating_add(1);
        if e.kind.is_error() || e.kind == EventKind::ClientHeaderTooBig {
            let f = self.fine.cell(utc_us);
            if e.kind == EventKind::ClientHeaderTooBig {
                f.header_too_big += 1;
            }
            if e.kind.is_error()
                && e.kind != EventKind::FpmSlowTrace
                && e.kind != EventKind::FpmExecutingTooSlow
            {
                f.errors += 1;
            }
        }
        if e.kind == EventKind::Other || e.kind == EventKind::FpmChildStarted {
            return;
        }
        self.add_sample(k as u16, utc_us, file, line, text);
        if self.event_rows.len() < MAX_ROWS {
            let detail: &[u8] = if !e.script.is_empty() {
                e.script
            } else {
                e.request
            };
            let upstream = self.event_upstream(e.upstream);
            self.event_rows.push(EventRow {
                utc_us,
                kind: e.kind,
                file,
                line,
                client: if e.client.is_empty() {
                    0
                } else {
                    hash(e.client)
                },
                request: if e.request.is_empty() {
                    0
                } else {
                    hash(e.request)
                },
                upstream,
                pool: e.pool.into(),
                child_pid: e.child_pid,
                number: e.number,
                detail: clip(detail),
                frames: if e.frames.is_empty() {
                    Box::new([])
                } else {
                    clip_n(e.frames, 2048)
                },
            });
        } else {
            self.rows_dropped += 1;
        }
    }

    /// Merge `o`, which follows `self` in input order. Line numbers of `o`'s rows for files
    /// that `self` already saw (chunks of one file) are shifted by `self`'s line count.
    pub fn merge(&mut self, mut o: Acc) {
        // line fix-up for chunked files: `o` continues files this accumulator has lines of
        // (usually one file: a short list, not a hash map, on this per-row path)
        let shift: Vec<(u32, u64)> = o
            .files
            .keys()
            .filter_map(|f| self.files.get(f).map(|s| (*f, s.lines)))
            .filter(|x| x.1 > 0)
            .collect();
        let fix = |file: u32, line: &mut u64| {
            if let Some(s) = shift.iter().find(|x| x.0 == file) {
                *line += s.1;
            }
        };
        // upstream ids
        let remap: Vec<u32> = o
            .upstream_names
            .iter()
            .map(|n| self.upstream_id(n))
            .collect();
        self.timeline.merge(o.timeline, &remap);
        self.fine.merge(std::mem::take(&mut o.fine));
        // request rows: line fix-up and upstream ids in one pass
        if !shift.is_empty() || remap.iter().enumerate().any(|(i, &n)| n != i as u32) {
            for r in &mut o.req_rows {
                fix(r.file, &mut r.line);
                if let Some(&n) = remap.get(r.upstream as usize) {
                    r.upstream = n;
                }
            }
        }
        for r in &mut o.side_rows {
            fix(r.file, &mut r.line);
        }
        let room = MAX_ROWS.saturating_sub(self.side_rows.len());
        o.side_rows.truncate(room);
        self.side_rows.append(&mut o.side_rows);
        if !shift.is_empty() {
            for r in &mut o.event_rows {
                fix(r.file, &mut r.line);
            }
            for v in o.samples.values_mut() {
                for s in v {
                    fix(s.file, &mut s.line);
                }
            }
            for (f, st) in o.files.iter_mut() {
                for s in &mut st.rejected_samples {
                    fix(*f, &mut s.line);
                }
            }
        }
        if let (Some(d), Some(c)) = (self.combos.as_mut(), o.combos.take()) {
            for ((l, st, u), n) in c {
                let u = remap.get(u as usize).copied().unwrap_or(u);
                *d.entry((l, st, u)).or_insert(0) += n;
            }
        }
        for (a, b) in self.status_counts.iter_mut().zip(o.status_counts.iter()) {
            *a += b;
        }
        for (la, lb) in self
            .layer_status_counts
            .iter_mut()
            .zip(o.layer_status_counts.iter())
        {
            for (a, b) in la.iter_mut().zip(lb.iter()) {
                *a += b;
            }
        }
        self.lb_clients_full |= o.lb_clients_full;
        for id in &o.lb_upstreams {
            let n = remap.get(*id as usize).copied().unwrap_or(*id);
            if self.lb_upstreams.len() < MAX_LB_TARGETS && !self.lb_upstreams.contains(&n) {
                self.lb_upstreams.push(n);
            }
        }
        for c in o.lb_clients {
            if self.lb_clients.len() >= MAX_LB_CLIENTS {
                self.lb_clients_full = true;
                break;
            }
            self.lb_clients.insert(c);
        }
        for (a, b) in self.top_clients.iter_mut().zip(o.top_clients) {
            a.merge(b);
        }
        for (a, b) in self.top_paths.iter_mut().zip(o.top_paths) {
            a.merge(b);
        }
        for (a, b) in self.top_upstreams.iter_mut().zip(o.top_upstreams) {
            a.merge(b);
        }
        let room = MAX_ROWS.saturating_sub(self.req_rows.len());
        self.rows_dropped += o.rows_dropped + o.req_rows.len().saturating_sub(room) as u64;
        o.req_rows.truncate(room);
        self.req_rows.append(&mut o.req_rows);
        let room = MAX_ROWS.saturating_sub(self.event_rows.len());
        self.rows_dropped += o.event_rows.len().saturating_sub(room) as u64;
        o.event_rows.truncate(room);
        self.event_rows.append(&mut o.event_rows);
        // Keys after this accumulator's last (a later chunk's, the usual case) move over in
        // one bulk append; the others are merged one by one.
        let mut later = match self.samples.last_key_value() {
            Some((&last, _)) => {
                let mut later = o.samples.split_off(&last);
                if let Some(v) = later.remove(&last) {
                    o.samples.insert(last, v);
                }
                later
            }
            None => std::mem::take(&mut o.samples),
        };
        for (k, v) in o.samples {
            match self.samples.entry(k) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(v);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    let t = e.get_mut();
                    for s in v {
                        if t.len() < SAMPLES_PER_KEY {
                            t.push(s);
                        }
                    }
                }
            }
        }
        self.samples.append(&mut later);
        for (f, st) in o.files {
            self.files.entry(f).or_default().add(st);
        }
    }
}

fn opt_min(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}
fn opt_max(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

pub fn clip(b: &[u8]) -> Box<[u8]> {
    clip_n(b, SAMPLE_TEXT)
}

pub fn clip_n(b: &[u8], n: usize) -> Box<[u8]> {
    b[..b.len().min(n)].into()
}

pub fn strip_query(p: &[u8]) -> &[u8] {
    match memchr::memchr(b'?', p) {
        Some(i) => &p[..i],
        None => p,
    }
}

/// FNV-1a, 64-bit: stable across runs and threads (joins compare hashes from different
/// workers).
#[inline]
pub fn hash(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for &c in b {
        h ^= c as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// Hash of a request as `METHOD TARGET PROTOCOL` whichever way the format logged it, so that
/// an access line and an nginx error line's `request: "..."` compare equal.
pub fn request_hash(r: &gatelog_parsers::Request<'_>) -> u64 {
    if !r.request_line.is_empty() {
        return hash(r.request_line);
    }
    let mut h: u64 = 0xcbf29ce484222325;
    let mut feed = |b: &[u8]| {
        for &c in b {
            h ^= c as u64;
            h = h.wrapping_mul(0x100000001b3);
        }
    };
    feed(r.method);
    feed(b" ");
    feed(r.path);
    if !r.protocol.is_empty() {
        feed(b" ");
        feed(r.protocol);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evidence samples: the first two lines of each (second, key), whatever the order the
    /// keys come in (the cache of full keys skips the map only for keys that are full).
    #[test]
    fn samples_keep_the_first_two_per_second_and_key() {
        let mut a = Acc::new(1);
        let mut want: BTreeMap<(i64, u16), Vec<u64>> = BTreeMap::new();
        let mut line = 0u64;
        // six keys interleaved (more than the cache holds), three seconds, out of order
        for round in 0..5u64 {
            for sec in [2i64, 0, 1] {
                for key in [1502u16, 1504, 1503, 3, 4, 1502, 2005, 0, 63, 64] {
                    line += 1;
                    let t = sec * 1_000_000 + round as i64 * 1000;
                    a.add_sample(key, t, 0, line, b"x");
                    let v = want.entry((sec * 1_000_000, key)).or_default();
                    if v.len() < SAMPLES_PER_KEY {
                        v.push(line);
                    }
                }
            }
        }
        let got: BTreeMap<(i64, u16), Vec<u64>> = a
            .samples
            .iter()
            .map(|(k, v)| (*k, v.iter().map(|s| s.line).collect()))
            .collect();
        assert_eq!(got, want);
        assert!(got.values().all(|v| v.len() == 2));
    }

    /// The SSE2 byte classes of a network key agree with the word-operation version (and with
    /// a byte loop) for every byte value in every position.
    #[test]
    fn dots_digits_agree() {
        let fillers = [b'1', b'.', b'/', b':', 0u8, 0x80, 0xff, 0xae];
        for pos in 0..16 {
            for c in 0..=255u8 {
                for &f in &fillers {
                    let mut b = [f; 16];
                    b[pos] = c;
                    let lo = u64::from_le_bytes(b[..8].try_into().unwrap());
                    let hi = u64::from_le_bytes(b[8..].try_into().unwrap());
                    let mut want = (0u32, 0u32);
                    for (i, &x) in b.iter().enumerate() {
                        want.0 |= ((x == b'.') as u32) << i;
                        want.1 |= (x.is_ascii_digit() as u32) << i;
                    }
                    assert_eq!(dots_digits(lo, hi), want, "{b:?}");
                    assert_eq!(dots_digits_swar(lo, hi), want, "{b:?}");
                }
            }
        }
    }

    #[test]
    fn timeline_coarsens_and_merges_in_any_split() {
        let times: Vec<i64> = (0..20_000i64).map(|i| i * 7 * 1_000_000).collect();
        let mut whole = Timeline::new(1);
        for &t in &times {
            whole.bucket_mut(t).requests += 1;
        }
        assert!(whole.buckets.len() <= MAX_BUCKETS);
        let total: u64 = whole.buckets.iter().map(|b| b.requests).sum();
        assert_eq!(total, 20_000);
        for split in [1, 3, 7000, 19_999] {
            let mut a = Timeline::new(1);
            let mut b = Timeline::new(1);
            for &t in &times[..split] {
                a.bucket_mut(t).requests += 1;
            }
            for &t in &times[split..] {
                b.bucket_mut(t).requests += 1;
            }
            a.merge(b, &[]);
            assert_eq!(a.width_s(), whole.width_s(), "split {split}");
            assert_eq!(a.first, whole.first);
            let av: Vec<u64> = a.buckets.iter().map(|b| b.requests).collect();
            let wv: Vec<u64> = whole.buckets.iter().map(|b| b.requests).collect();
            assert_eq!(av, wv, "split {split}");
        }
    }

    /// Two chunks far apart (an error log quiet for hours): growing to the second's first
    /// bucket coarsens the auto-width timeline, and its last bucket must then be read in the
    /// new unit (it was read in the old one: a 1970-2090 timeline of 10-year rows).
    #[test]
    fn auto_timelines_far_apart_merge_like_one_pass() {
        let t0 = 1_741_110_284_000_000i64;
        let gaps = [5_731_000_000i64, 3 * 86_400_000_000, 40 * 86_400_000_000];
        for gap in gaps {
            for n_b in [1i64, 2, 500] {
                let times_b: Vec<i64> = (0..n_b).map(|i| t0 + gap + i * 61_000_000).collect();
                let auto = || {
                    let mut t = Timeline::new(1);
                    t.auto = true;
                    t
                };
                let mut whole = auto();
                let (mut a, mut b) = (auto(), auto());
                whole.bucket_mut(t0).requests += 1;
                a.bucket_mut(t0).requests += 1;
                for &t in &times_b {
                    whole.bucket_mut(t).requests += 1;
                    b.bucket_mut(t).requests += 1;
                }
                a.merge(b, &[1]);
                assert_eq!(a.width_s(), whole.width_s(), "gap {gap} n {n_b}");
                assert_eq!(a.first, whole.first, "gap {gap} n {n_b}");
                let rows = |t: &Timeline| t.buckets.iter().map(|b| b.requests).collect::<Vec<_>>();
                assert_eq!(rows(&a), rows(&whole), "gap {gap} n {n_b}");
                assert_eq!(rows(&a).iter().sum::<u64>(), 1 + n_b as u64);
            }
        }
    }

    /// `req_row` takes an IPv6 network's key from `net_of` (parsed once): the same key as
    /// `net_key`'s, for every kind of client.
    #[test]
    fn req_row_network_key_is_net_key() {
        for c in [
            &b"192.168.1.77"[..],
            b"192.168.1.255:443",
            b"::ffff:192.168.1.9",
            b"::ffff:c0a8:0109",
            b"2001:db8:1:2::7",
            b"[2001:db8:1:2::7]:443",
            b"64:ff9b::1.2.3.4",
            b"2a02:1389:7d16::751c",
            b"::1",
            b"-",
            b"",
            b"unix:",
            b"example.com",
            b"256.1.1.1",
            b"1.2.3 .4",
        ] {
            let r = gatelog_parsers::Request {
                client: c,
                ..Default::default()
            };
            let row = req_row(0, None, 502, Layer::Proxy, 0, 1, &r, None, None, None);
            assert_eq!(row.net, net_key(c), "{}", String::from_utf8_lossy(c));
            assert_eq!(row.net_ip, net_of(c), "{}", String::from_utf8_lossy(c));
        }
    }

    /// `parse_u16` is `str::parse::<u16>` on bytes.
    #[test]
    fn parse_u16_is_std_parse() {
        for s in [
            &b"502"[..],
            b"0",
            b"+200",
            b"+",
            b"-",
            b"-1",
            b"",
            b"65535",
            b"65536",
            b"99999999999",
            b"5 0",
            b"502, 504",
            b"\xff1",
            b"00042",
            b"++1",
        ] {
            let want = std::str::from_utf8(s)
                .ok()
                .and_then(|x| x.parse::<u16>().ok());
            assert_eq!(parse_u16(s), want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn hosts_of_addresses() {
        assert_eq!(host_of(b"10.0.0.1:80"), b"10.0.0.1");
        assert_eq!(host_of(b"10.0.0.1"), b"10.0.0.1");
        assert_eq!(host_of(b"[::1]:8080"), b"::1");
        assert_eq!(host_of(b"2001:db8::1"), b"2001:db8::1");
        assert_eq!(host_of(b"be_nginx/n1"), b"be_nginx/n1");
    }

    /// Upstream ids through the fingerprint cache: first-seen order, the same id every time
    /// (names colliding in a cache slot, names of every length), `(other)` past the cap.
    #[test]
    fn upstream_ids_are_stable_through_the_cache() {
        let mut a = Acc::new(1);
        let mut want: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut names: Vec<Vec<u8>> = Vec::new();
        for i in 0..(MAX_UPSTREAMS + 300) {
            names.push(match i % 4 {
                0 => format!("10.0.{}.{}:9000", i / 256, i % 256).into_bytes(),
                1 => format!("u{i}").into_bytes(),
                2 => format!("unix:/run/php/pool-{i}.sock").into_bytes(),
                _ => vec![b'x'; i % 20],
            });
        }
        let mut seed = 7u64;
        for round in 0..6 {
            for k in 0..names.len() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let i = if round == 0 {
                    k
                } else {
                    (seed >> 33) as usize % names.len()
                };
                let n = &names[i];
                let got = a.upstream_id(n);
                let next = want.len() as u32;
                let w = *want.entry(n.clone()).or_insert_with(|| {
                    if next as usize >= MAX_UPSTREAMS {
                        u32::MAX // resolved below: the (other) id
                    } else {
                        next
                    }
                });
                if w == u32::MAX {
                    assert_eq!(&a.upstream_names[got as usize][..], OTHER_UPSTREAM);
                } else {
                    assert_eq!(got, w, "{}", String::from_utf8_lossy(n));
                    assert_eq!(&a.upstream_names[got as usize][..], &n[..]);
                }
            }
        }
    }

    #[test]
    fn short_names_compare_exactly() {
        let names: [&[u8]; 9] = [
            b"",
            b"a",
            b"10.0.1.1:90",
            b"10.0.1.11:9000",
            b"10.0.1.12:9000",
            b"10.0.1.11:9001",
            b"20.0.1.11:9000",
            b"unix:/run/php/php8.2-fpm.sock",
            b"unix:/run/php/php8.3-fpm.sock",
        ];
        for a in names {
            for b in names {
                assert_eq!(short_eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    /// The fast test agrees with the plain definition (the part before the first `?` is one
    /// of the names) on the names, their prefixes and extensions, queries and other paths.
    #[test]
    fn health_paths_agree_with_the_definition() {
        const NAMES: [&[u8]; 12] = [
            b"/health",
            b"/healthz",
            b"/health.html",
            b"/healthcheck",
            b"/health_check",
            b"/ping",
            b"/status",
            b"/check",
            b"/lb-check",
            b"/ready",
            b"/readyz",
            b"/livez",
        ];
        let plain = |p: &[u8]| {
            let p = p.split(|&b| b == b'?').next().unwrap_or(p);
            NAMES.contains(&p)
        };
        let mut paths: Vec<Vec<u8>> = Vec::new();
        for n in NAMES {
            for k in 0..=n.len() {
                paths.push(n[..k].to_vec());
            }
            for tail in [
                &b"?"[..],
                b"?x=1",
                b"??",
                b"/",
                b"x",
                b"?a?b",
                b"_check",
                b" ",
            ] {
                paths.push([n, tail].concat());
            }
        }
        for p in [
            &b"/api/v1/orders/1?expand=items"[..],
            b"/static/app.js",
            b"/statusx",
            b"/status/",
            b"/health_checks",
            b"/health_check?",
            b"/health_check/?",
            b"?/health",
            b"health",
            b"//health",
            b"/HEALTH",
            b"",
            b"/",
            b"/?",
        ] {
            paths.push(p.to_vec());
        }
        let mut hits = 0;
        for p in &paths {
            assert_eq!(health_path(p), plain(p), "{}", String::from_utf8_lossy(p));
            hits += plain(p) as usize;
        }
        assert!(hits >= 12 * 5, "{hits}");
    }

    /// The hex-only IPv6 reader agrees with std's parser wherever it answers, and answers
    /// for the usual written forms.
    #[test]
    fn v6_groups_agree_with_std() {
        let mut cases: Vec<String> = Vec::new();
        let groups = [
            "0", "1", "a", "ff", "2a02", "F09C", "4cd4", "00ab", "fFfF", "db8",
        ];
        let mut x = 12345u64;
        let mut next = |m: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m as u64) as usize
        };
        for _ in 0..20_000 {
            let n = 1 + next(9);
            let mut parts: Vec<String> = (0..n)
                .map(|_| groups[next(groups.len())].to_string())
                .collect();
            match next(6) {
                0 => {
                    let at = next(n + 1);
                    parts.insert(at, String::new()); // a `::` somewhere
                    if at == 0 || at == parts.len() - 1 {
                        parts.insert(at, String::new());
                    }
                }
                1 => parts[next(n)] = "12345".into(),
                2 => parts.push(String::new()),
                3 => parts[next(n)] = "g1".into(),
                _ => {}
            }
            cases.push(parts.join(":"));
        }
        for c in [
            "::",
            "::1",
            "1::",
            ":::",
            "1:::2",
            "::1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4::5:6:7:8",
            "2a02:f09c:4cd4::9705",
            "::ffff:1.2.3.4",
            "1::2:3:4:5:6:7",
            ":1::2",
            "1:",
            ":",
            "",
            "12345::",
            "0:0:0::1",
        ] {
            cases.push(c.to_string());
        }
        let mut answered = 0;
        for c in &cases {
            let std = c.parse::<std::net::Ipv6Addr>().ok().map(|a| a.segments());
            if let Some(g) = v6_groups(c.as_bytes()) {
                assert_eq!(Some(g), std, "{c}");
                answered += 1;
            } else {
                assert!(std.is_none() || c.contains('.'), "{c}: std reads {std:?}");
            }
        }
        assert!(answered > 2_000, "{answered}");
        assert_eq!(
            net_of(b"2a02:f09c:4cd4::9705"),
            NET_V6 | 0x2a02 << 32 | 0xf09c << 16 | 0x4cd4
        );
        assert_eq!(
            net_of(b"[2a02:f09c:4cd4::9705]:443"),
            net_of(b"2a02:f09c:4cd4::1")
        );
        assert_eq!(net_of(b"::ffff:10.1.2.3"), net_of(b"10.1.2.9"));
    }

    #[test]
    fn client_networks() {
        // the per-request key: one per /24, whatever the host, port or notation
        let k = net_key(b"192.168.1.77");
        for same in [
            &b"192.168.1.5"[..],
            b"192.168.1.255:443",
            b"192.168.1.2 extra",
            b"::ffff:192.168.1.9",
            b"::ffff:c0a8:0109",
        ] {
            assert_eq!(net_key(same), k, "{}", String::from_utf8_lossy(same));
        }
        let mut keys = std::collections::HashSet::new();
        for a in 0..=255u32 {
            for c in [0u32, 1, 9, 10, 99, 100, 255] {
                for b in [0u32, 7, 64, 255] {
                    assert!(keys.insert(net_key(format!("{a}.{b}.{c}.1").as_bytes())));
                }
            }
        }
        assert_ne!(net_key(b"1.2.3.4"), net_key(b"1.2.33.4"));
        assert_ne!(net_key(b"1.2.3.4"), 0);
        assert_eq!(net_key(b"2001:db8:1:2::7"), net_of(b"2001:db8:1:2::7"));
        for not_ip in [
            &b"-"[..],
            b"",
            b"unix:",
            b"1.2.3",
            b"1.2.3.x",
            b"example.com",
            b"::zz",
        ] {
            assert_eq!(net_key(not_ip), 0, "{}", String::from_utf8_lossy(not_ip));
        }
        // malformed: no key, except an octet over 255 (the per-request key checks the shape
        // of an address, not its values)
        for bad in [
            &b"1234.5.6.7"[..],
            b"1.2.3.x",
            b"1..2.3",
            b"1.2.3.",
            b"01x.2.3.4",
            b"1.2.3 .4",
            b"1.2.\xb3.4",
        ] {
            assert_eq!(net_key(bad), 0, "{}", String::from_utf8_lossy(bad));
        }
        assert_ne!(net_key(b"256.1.1.1"), 0);
    }

    #[test]
    fn client_networks_parsed() {
        // `net_of`: the network itself, for display (exact parse)
        let net_key = net_of;
        let v4 = net_of(b"192.168.1.77");
        assert_eq!(net_name(v4), "192.168.1.0/24");
        assert_eq!(net_key(b"192.168.1.5:4430"), v4);
        assert_eq!(net_key(b"::ffff:192.168.1.9"), v4);
        assert_ne!(net_key(b"192.168.2.77"), v4);
        assert_eq!(net_name(net_key(b"0.0.0.1")), "0.0.0.0/24");
        assert_eq!(net_name(net_key(b"255.25.5.1")), "255.25.5.0/24");
        for bad in [
            &b"256.1.1.1"[..],
            b"1234.5.6.7",
            b"1.2.3.x",
            b"1..2.3",
            b"1.2.3.",
            b"01x.2.3.4",
        ] {
            assert_eq!(net_key(bad), 0, "{}", String::from_utf8_lossy(bad));
        }
        let v6 = net_key(b"2001:db8:1:2::7");
        assert_eq!(net_name(v6), "2001:db8:1::/48");
        assert_eq!(net_key(b"[2001:db8:1:ffff::1]:443"), v6);
        assert_eq!(net_key(b"2001:0db8:0001:9::1%eth0"), v6);
        assert_eq!(net_name(net_key(b"::1")), "::/48");
        for not_ip in [
            &b"-"[..],
            b"",
            b"unix:",
            b"1.2.3",
            b"256.1.1.1",
            b"1.2.3.x",
            b"1234.1.1.1",
            b"example.com",
            b"::zz",
            b"\xff:",
        ] {
            assert_eq!(net_key(not_ip), 0, "{}", String::from_utf8_lossy(not_ip));
        }
    }

    #[test]
    fn net_sketch_merges_exactly_and_bounds_each_count() {
        let keys: Vec<u64> = (0..500u64)
            .map(|i| net_key(format!("10.{}.{}.1", i / 256, i % 256).as_bytes()))
            .collect();
        let mut whole = NetSketch::default();
        let mut a = NetSketch::default();
        let mut b = NetSketch::default();
        for (n, k) in keys.iter().enumerate() {
            for _ in 0..(n % 7 + 1) {
                whole.add(*k);
                if n % 2 == 0 {
                    a.add(*k)
                } else {
                    b.add(*k)
                }
            }
        }
        a.merge(&b);
        assert_eq!(a.cells, whole.cells);
        for (n, k) in keys.iter().enumerate() {
            assert!(whole.estimate(*k) >= (n % 7 + 1) as u64);
        }
        // few networks: exact
        let mut s = NetSketch::default();
        for _ in 0..40 {
            s.add(keys[1]);
        }
        for _ in 0..3 {
            s.add(keys[2]);
        }
        assert_eq!((s.estimate(keys[1]), s.estimate(keys[2])), (40, 3));
    }

    #[test]
    fn topn_bounded_with_error() {
        let mut t = TopN::new(10);
        for i in 0..100_000u64 {
            t.add(format!("k{}", i % 5000).as_bytes(), 1);
            t.add(b"hot", 1);
        }
        assert!(t.map.len() < 20);
        let top = t.top(1);
        assert_eq!(top[0].0, b"hot");
        assert!(top[0].1 <= 100_000 && top[0].1 + t.error >= 100_000);
    }
}
