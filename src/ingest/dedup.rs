//! The same requests in two files (SPEC "Logs as deployments write them"): a vhost often
//! writes every request to a `combined` access log and to a timing one. Each request is
//! counted once, from the richer record.
//!
//! Pairing is by content, never by name: before the analysis, the head (and, for an
//! uncompressed file, the tail) of every access log is sampled, and two files of one layer
//! pair when, over the time both samples cover, nearly every request of one has a twin in
//! the other (same `$request_id` when both log one; else the same second, client, request
//! line, status and size). Of a pair, the file whose records hold more fields is *kept*; the
//! other is *filtered*.
//!
//! Filtering is exact, line by line: the kept files are read first and every request key
//! they hold is counted (a multiset: two health checks in one second are two keys); then a
//! filtered file's request is dropped only while its key still has a count left in its kept
//! files, and is counted as `skipped` (a duplicate), never silently. A request of the poorer
//! file with no twin (a timing log that starts later, a partial overlap) is analysed.
//!
//! Cost: one 64-bit key per request of a kept file (8 bytes), a hash map of them for the
//! filtered file, and a hash of a few fields per request of both files.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use gatelog_parsers::{self as parsers, Format, Framing, Record, Request};

use crate::ingest::pipeline::RunOptions;
use crate::ingest::tz::TzChoice;
use crate::read::input::{self, Compression, Input, Source};

/// Requests sampled from each end of a file.
const SAMPLE_LINES: usize = 4000;
/// Bytes sampled from each end of a file.
const SAMPLE_BYTES: u64 = 1 << 20;
/// A pair needs this many requests in the time both samples cover...
const MIN_OVERLAP: usize = 10;
/// ...of which this share (per mille) of the smaller side has a twin in the other.
const MIN_MATCH_PERMILLE: usize = 900;

/// What identifies one request in both files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `$request_id` (every file of the group logs one).
    Rid,
    /// Second, client, request line, status and size.
    Tuple,
}

fn mix(h: u64, v: u64) -> u64 {
    (h.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95)
}

fn usable_rid(r: &Request<'_>) -> bool {
    !r.trace_id.is_empty() && r.trace_id != b"-"
}

/// The key of one request (`utc_us`: its instant, as the analysis placed it).
#[inline]
pub fn key(mode: Mode, utc_us: i64, r: &Request<'_>) -> u64 {
    if mode == Mode::Rid && usable_rid(r) {
        return mix(0x5249_4400, crate::agg::acc::hash(r.trace_id));
    }
    let mut h = mix(
        crate::agg::acc::hash(r.client),
        utc_us.div_euclid(1_000_000) as u64,
    );
    h = mix(h, crate::agg::acc::request_hash(r));
    h = mix(h, r.status as u64);
    h = mix(h, r.bytes_sent.unwrap_or(u64::MAX));
    h ^ (h >> 31)
}

/// How many optional fields a record holds: the richer file of a pair is kept.
fn richness(r: &Request<'_>) -> u32 {
    let set = |b: &[u8]| u32::from(!b.is_empty() && b != b"-");
    u32::from(r.request_time_us.is_some())
        + u32::from(r.bytes_sent.is_some())
        + set(r.upstream_addr)
        + set(r.upstream_status)
        + set(r.upstream_connect_time)
        + set(r.upstream_header_time)
        + set(r.upstream_response_time)
        + set(r.trace_id)
        + set(r.host)
        + set(r.referer)
        + set(r.user_agent)
        + set(r.forwarded_for)
        + set(r.protocol)
}

/// A run of consecutive requests sampled from one end of a file.
#[derive(Default, Debug)]
struct Segment {
    /// (second, tuple key, rid key, hash of the line)
    reqs: Vec<(i64, u64, Option<u64>, u64)>,
}

impl Segment {
    fn range(&self) -> Option<(i64, i64)> {
        let lo = self.reqs.iter().map(|x| x.0).min()?;
        let hi = self.reqs.iter().map(|x| x.0).max()?;
        Some((lo, hi))
    }
}

#[derive(Debug)]
struct Sample {
    head: Segment,
    tail: Segment,
    /// Requests with a usable `$request_id`, of all sampled.
    with_rid: usize,
    total: usize,
    /// Sum of [`richness`] over sampled requests.
    fields: u64,
}

impl Sample {
    fn has_rid(&self) -> bool {
        self.total > 0 && self.with_rid == self.total
    }
    /// Mean optional fields per record, in hundredths.
    fn richness(&self) -> u64 {
        self.fields * 100 / self.total.max(1) as u64
    }
}

fn parse_lines(
    lines: &mut dyn Iterator<Item = Vec<u8>>,
    parser: &mut Box<dyn parsers::LineParser>,
    tz: &mut crate::ingest::tz::TzResolver,
    seg: &mut Segment,
    s: &mut Sample,
) {
    for line in lines {
        if seg.reqs.len() >= SAMPLE_LINES {
            break;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        parser.parse_each(line, &mut |res| {
            if let Ok(Record::Request(r)) = res {
                let off = r.ts.offset.unwrap_or_else(|| tz.offset(r.ts.wall_us));
                let utc = r.ts.wall_us - off as i64 * 1_000_000;
                let rid = usable_rid(r).then(|| key(Mode::Rid, utc, r));
                seg.reqs.push((
                    utc.div_euclid(1_000_000),
                    key(Mode::Tuple, utc, r),
                    rid,
                    crate::agg::acc::hash(line),
                ));
                s.total += 1;
                s.with_rid += usize::from(rid.is_some());
                s.fields += u64::from(richness(r));
            }
        });
    }
}

fn read_lines(r: impl Read, limit: u64) -> impl Iterator<Item = Vec<u8>> {
    let mut br = BufReader::new(r.take(limit));
    std::iter::from_fn(move || {
        let mut v = Vec::new();
        match br.read_until(b'\n', &mut v) {
            Ok(0) | Err(_) => None,
            Ok(_) => {
                if v.last() == Some(&b'\n') {
                    v.pop();
                    Some(v)
                } else {
                    None // a line cut by the sample's limit
                }
            }
        }
    })
}

fn sample(inp: &Input, f: Format, opts: &RunOptions, tz: &TzChoice) -> io::Result<Sample> {
    let mut parser = parsers::build(f, &opts.parser_opts).map_err(io::Error::other)?;
    let mut tzr = tz.resolver();
    let mut s = Sample {
        head: Segment::default(),
        tail: Segment::default(),
        with_rid: 0,
        total: 0,
        fields: 0,
    };
    let mut head = Segment::default();
    parse_lines(
        &mut read_lines(input::open(inp)?, SAMPLE_BYTES),
        &mut parser,
        &mut tzr,
        &mut head,
        &mut s,
    );
    s.head = head;
    if let (Source::File(p), Compression::None) = (&inp.source, inp.compression) {
        if inp.size > 2 * SAMPLE_BYTES {
            let mut fh = std::fs::File::open(p)?;
            fh.seek(SeekFrom::Start(inp.size - SAMPLE_BYTES))?;
            let mut lines = read_lines(fh, SAMPLE_BYTES).skip(1); // a partial first line
            let mut tail = Segment::default();
            parse_lines(&mut lines, &mut parser, &mut tzr, &mut tail, &mut s);
            s.tail = tail;
        }
    }
    Ok(s)
}

/// Requests of `a` and `b` in the seconds both cover: (of `a`, of `b`, with a twin, with a
/// byte-identical twin).
fn overlap(a: &Segment, b: &Segment, rid: bool) -> [usize; 4] {
    let (Some((a0, a1)), Some((b0, b1))) = (a.range(), b.range()) else {
        return [0; 4];
    };
    let (lo, hi) = (a0.max(b0), a1.min(b1));
    if lo > hi {
        return [0; 4];
    }
    let pick = |x: &(i64, u64, Option<u64>, u64)| if rid { x.2.unwrap_or(x.1) } else { x.1 };
    let mut counts: HashMap<u64, u32> = HashMap::new();
    let mut raw: HashMap<u64, u32> = HashMap::new();
    let mut na = 0;
    for x in a.reqs.iter().filter(|x| (lo..=hi).contains(&x.0)) {
        *counts.entry(pick(x)).or_insert(0) += 1;
        *raw.entry(x.3).or_insert(0) += 1;
        na += 1;
    }
    let (mut nb, mut matched, mut same) = (0, 0, 0);
    for x in b.reqs.iter().filter(|x| (lo..=hi).contains(&x.0)) {
        nb += 1;
        if let Some(c) = counts.get_mut(&pick(x)).filter(|c| **c > 0) {
            *c -= 1;
            matched += 1;
        }
        if let Some(c) = raw.get_mut(&x.3).filter(|c| **c > 0) {
            *c -= 1;
            same += 1;
        }
    }
    [na, nb, matched, same]
}

/// Whether two samples hold the same requests where their times overlap.
fn same_requests(a: &Sample, b: &Sample) -> bool {
    let rid = a.has_rid() && b.has_rid();
    let mut t = [0; 4];
    for sa in [&a.head, &a.tail] {
        for sb in [&b.head, &b.tail] {
            for (x, y) in t.iter_mut().zip(overlap(sa, sb, rid)) {
                *x += y;
            }
        }
    }
    let [na, nb, m, same] = t;
    let small = na.min(nb);
    // twins: nearly all of the smaller side has its twin, and the sides are alike in size
    // (two nodes behind one balancer see different numbers of requests); the twins are
    // written differently (two log formats: a byte-for-byte copy of a file is not a vhost's
    // second log, and is read as given)
    small >= MIN_OVERLAP
        && m * 1000 >= small * MIN_MATCH_PERMILLE
        && small * 2 >= na.max(nb)
        && same * 2 < m
}

enum Role {
    /// Read first; its request keys are counted.
    Keep,
    /// Its requests with a twin in `keepers` are skipped as duplicates.
    Filter { keepers: Vec<u32> },
}

/// The pairing of one run, and the keys its kept files hold once they are read.
pub struct Run {
    roles: HashMap<u32, (Mode, Role)>,
    names: HashMap<u32, String>,
    keys: Mutex<HashMap<u32, Vec<u64>>>,
    counts: OnceLock<HashMap<u32, hashbrown::HashMap<u64, AtomicU32>>>,
}

/// A worker's part of the deduplication of one file.
pub struct Hook<'a> {
    mode: Mode,
    kind: HookKind<'a>,
    /// The last request was a duplicate (read and cleared by [`Hook::take_last`]).
    last: bool,
}

enum HookKind<'a> {
    Keep {
        run: &'a Run,
        file: u32,
        keys: Vec<u64>,
    },
    Filter {
        counts: Option<&'a hashbrown::HashMap<u64, AtomicU32>>,
    },
}

impl Hook<'_> {
    /// Whether this request is a duplicate of one already counted (a filtered file's request
    /// with a twin left in its kept files). A kept file's request is remembered.
    #[inline]
    pub fn duplicate(&mut self, utc_us: i64, r: &Request<'_>) -> bool {
        let k = key(self.mode, utc_us, r);
        match &mut self.kind {
            HookKind::Keep { keys, .. } => {
                keys.push(k);
                false
            }
            HookKind::Filter { counts } => {
                self.last = counts.and_then(|c| c.get(&k)).is_some_and(|n| {
                    n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                        .is_ok()
                });
                self.last
            }
        }
    }

    /// Whether a request since the last call was a duplicate (the row export skips its line).
    pub fn take_last(&mut self) -> bool {
        std::mem::take(&mut self.last)
    }

    /// End of a job: hand a kept file's keys to the run.
    pub fn finish(self) {
        if let HookKind::Keep { run, file, keys } = self.kind {
            let mut g = run.keys.lock().unwrap_or_else(|p| p.into_inner());
            g.entry(file).or_default().extend(keys);
        }
    }
}

impl Run {
    pub fn is_kept(&self, file: u32) -> bool {
        matches!(self.roles.get(&file), Some((_, Role::Keep)))
    }

    /// This file's hook (`None`: not part of a pair). Filtered files' hooks are valid only
    /// after [`Run::seal`].
    pub fn hook(&self, file: u32) -> Option<Hook<'_>> {
        let (mode, role) = self.roles.get(&file)?;
        let kind = match role {
            Role::Keep => HookKind::Keep {
                run: self,
                file,
                keys: Vec::new(),
            },
            Role::Filter { .. } => HookKind::Filter {
                counts: self.counts.get().and_then(|c| c.get(&file)),
            },
        };
        Some(Hook {
            mode: *mode,
            kind,
            last: false,
        })
    }

    /// The kept files are read: count their keys for each filtered file.
    pub fn seal(&self) {
        let keys = std::mem::take(&mut *self.keys.lock().unwrap_or_else(|p| p.into_inner()));
        let mut counts = HashMap::new();
        for (&file, (_, role)) in &self.roles {
            let Role::Filter { keepers } = role else {
                continue;
            };
            let n: usize = keepers
                .iter()
                .filter_map(|k| keys.get(k))
                .map(Vec::len)
                .sum();
            let mut m: hashbrown::HashMap<u64, AtomicU32> = hashbrown::HashMap::with_capacity(n);
            for k in keepers.iter().filter_map(|k| keys.get(k)).flatten() {
                m.entry(*k)
                    .or_insert_with(|| AtomicU32::new(0))
                    .fetch_add(1, Ordering::Relaxed);
            }
            counts.insert(file, m);
        }
        let _ = self.counts.set(counts);
    }

    /// For each filtered file: (its name, the names of the files kept instead).
    pub fn pairs(&self) -> Vec<(u32, String, Vec<String>)> {
        let mut v: Vec<_> = self
            .roles
            .iter()
            .filter_map(|(&f, (_, r))| match r {
                Role::Filter { keepers } => Some((
                    f,
                    self.names[&f].clone(),
                    keepers.iter().map(|k| self.names[k].clone()).collect(),
                )),
                Role::Keep => None,
            })
            .collect();
        v.sort_by_key(|x| x.0);
        v
    }

    /// Each filtered input with what it duplicates: its name, the names of the inputs kept
    /// instead and its lines skipped as duplicates (the counts of the run, in `acc`); the
    /// report's `inputs[].duplicate_of` (`Report::mark_duplicates`).
    pub fn duplicates(&self, acc: &crate::agg::acc::Acc) -> Vec<(String, Vec<String>, u64)> {
        self.pairs()
            .into_iter()
            .map(|(f, name, keepers)| {
                let lines = acc.files.get(&f).map_or(0, |s| s.duplicates);
                (name, keepers, lines)
            })
            .collect()
    }
}

/// Pair the inputs that hold the same requests. `None`: no two inputs do.
pub fn plan(inputs: &[(Input, Format)], opts: &RunOptions, tz: &TzChoice) -> Option<Run> {
    let cands: Vec<(&Input, Format)> = inputs
        .iter()
        .filter(|(inp, f)| {
            matches!(inp.source, Source::File(_))
                && inp.demux.is_none()
                && !crate::ingest::span::needs_year(*f)
                && parsers::build(*f, &opts.parser_opts)
                    .map(|p| p.framing() == Framing::Line)
                    .unwrap_or(false)
        })
        .map(|(i, f)| (i, *f))
        .collect();
    if cands.len() < 2 {
        return None;
    }
    let samples: Vec<Option<Sample>> = cands
        .iter()
        .map(|(inp, f)| sample(inp, *f, opts, tz).ok().filter(|s| s.total > 0))
        .collect();
    // matched pairs, as (kept, filtered) indices into cands
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for i in 0..cands.len() {
        for j in i + 1..cands.len() {
            let (Some(a), Some(b)) = (&samples[i], &samples[j]) else {
                continue;
            };
            if cands[i].1.layer() != cands[j].1.layer() || !same_requests(a, b) {
                continue;
            }
            // the richer record is kept; of equals (a copy), the first input
            if b.richness() > a.richness() {
                pairs.push((j, i));
            } else {
                pairs.push((i, j));
            }
        }
    }
    if pairs.is_empty() {
        return None;
    }
    // a file filtered in one pair is filtered: it keeps no other file's requests
    let filtered: Vec<usize> = pairs.iter().map(|p| p.1).collect();
    pairs.retain(|p| !filtered.contains(&p.0));
    // groups (for the key mode): union-find over pairs
    let mut parent: Vec<usize> = (0..cands.len()).collect();
    fn find(p: &mut [usize], x: usize) -> usize {
        let mut r = x;
        while p[r] != r {
            r = p[r];
        }
        p[x] = r;
        r
    }
    for &(a, b) in &pairs {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra] = rb;
    }
    let mut roles = HashMap::new();
    let mut names = HashMap::new();
    let id = |i: usize| cands[i].0.id as u32;
    for &(k, f) in &pairs {
        let root = find(&mut parent, k);
        let group_rid = (0..cands.len())
            .filter(|&x| find(&mut parent, x) == root)
            .all(|x| samples[x].as_ref().is_some_and(Sample::has_rid));
        let mode = if group_rid { Mode::Rid } else { Mode::Tuple };
        roles.entry(id(k)).or_insert((mode, Role::Keep));
        let e = roles.entry(id(f)).or_insert((
            mode,
            Role::Filter {
                keepers: Vec::new(),
            },
        ));
        if let Role::Filter { keepers } = &mut e.1 {
            keepers.push(id(k));
        }
        names.insert(id(k), cands[k].0.name.clone());
        names.insert(id(f), cands[f].0.name.clone());
    }
    Some(Run {
        roles,
        names,
        keys: Mutex::new(HashMap::new()),
        counts: OnceLock::new(),
    })
}

/// A job's accumulator when the kept inputs were read first.
pub enum Pre {
    /// Not read yet.
    Run,
    /// Read by the first pass (all of its file's jobs, merged in order).
    Done(Box<crate::agg::acc::Acc>),
    /// Read by the first pass, merged into its file's first job.
    Merged,
}

/// Read the kept inputs' jobs (in parallel), count their keys ([`Run::seal`]), and return
/// each job's slot for the main pass.
pub fn first_pass(
    jobs: &[crate::ingest::pipeline::Job],
    run: &Run,
    read: impl Fn(&crate::ingest::pipeline::Job) -> crate::agg::acc::Acc + Sync,
) -> Vec<Pre> {
    use rayon::prelude::*;
    let kept: Vec<usize> = (0..jobs.len())
        .filter(|&i| run.is_kept(jobs[i].input.id as u32))
        .collect();
    let accs: Vec<(usize, crate::agg::acc::Acc)> =
        kept.par_iter().map(|&i| (i, read(&jobs[i]))).collect();
    let mut pre: Vec<Pre> = (0..jobs.len()).map(|_| Pre::Run).collect();
    let mut first_of: HashMap<usize, usize> = HashMap::new();
    for (i, a) in accs {
        match first_of.get(&jobs[i].input.id) {
            Some(&k) => {
                if let Pre::Done(t) = &mut pre[k] {
                    t.merge(a);
                }
                pre[i] = Pre::Merged;
            }
            None => {
                first_of.insert(jobs[i].input.id, i);
                pre[i] = Pre::Done(Box::new(a));
            }
        }
    }
    run.seal();
    pre
}
