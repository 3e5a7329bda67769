//! Format detection by sniffing the first records of an input: every candidate parser reads
//! the same lines, and the one that parses most of them (and finds requests or events in
//! them, not just lines it may ignore) wins.

use crate::{Format, Framing, LineParser, Record};

/// How well one format parsed a sample.
#[derive(Clone, Debug)]
pub struct Score {
    pub format: Format,
    /// Records the sample framed into (for multi-line formats, fewer than lines).
    pub records: usize,
    pub parsed: usize,
    /// Parsed records that were requests or events (not [`Record::Ignored`]).
    pub useful: usize,
    /// Physical lines covered by parsed records.
    pub lines_parsed: usize,
    pub lines: usize,
    /// The first parse error, for `detect`'s explanation.
    pub first_error: Option<String>,
}

impl Score {
    /// Share of lines this format accounts for, 0..=1.
    pub fn ratio(&self) -> f64 {
        if self.lines == 0 {
            0.0
        } else {
            self.lines_parsed as f64 / self.lines as f64
        }
    }
}

/// Preference when two formats parse a sample equally well: the more specific first.
fn preference(f: Format) -> usize {
    match f {
        Format::Alb => 0,
        Format::Elb => 1,
        Format::Slb => 2,
        Format::Haproxy => 3,
        Format::Envoy => 4,
        Format::Traefik => 5,
        Format::Caddy => 6,
        Format::Kernel => 7,
        Format::FpmSlow => 8,
        // PHP's own error_log reads as fpm-error too (its lines are accepted there): the
        // more specific name first
        Format::PhpError => 9,
        Format::FpmError => 10,
        Format::NginxError => 11,
        Format::NginxAccess => 12,
        Format::FpmAccess => 13,
    }
}

/// Score one parser on sample lines (complete lines, without terminators).
pub fn score(parser: &mut dyn LineParser, lines: &[&[u8]]) -> Score {
    let mut s = Score {
        format: parser.format(),
        records: 0,
        parsed: 0,
        useful: 0,
        lines_parsed: 0,
        lines: lines.len(),
        first_error: None,
    };
    let tally = |rec: &[u8], n_lines: usize, parser: &mut dyn LineParser, s: &mut Score| {
        s.records += 1;
        match parser.parse(rec) {
            Ok(Record::Ignored) => {
                s.parsed += 1;
                s.lines_parsed += n_lines;
            }
            // a request or event with no timestamp (1970) is not evidence of this format: a
            // format that yields only those never wins (a Caddy log read as Traefik JSON)
            Ok(Record::Request(r)) if r.ts.wall_us == 0 => {
                s.parsed += 1;
                s.lines_parsed += n_lines;
            }
            Ok(Record::Event(e)) if e.ts.wall_us == 0 => {
                s.parsed += 1;
                s.lines_parsed += n_lines;
            }
            Ok(_) => {
                s.parsed += 1;
                s.useful += 1;
                s.lines_parsed += n_lines;
            }
            Err(e) => {
                if s.first_error.is_none() {
                    s.first_error = Some(e.to_string());
                }
            }
        }
    };
    match parser.framing() {
        Framing::Line => {
            for l in lines {
                tally(l, 1, parser, &mut s);
            }
        }
        Framing::MultiLine => {
            let mut rec: Vec<u8> = Vec::new();
            let mut n = 0usize;
            for l in lines {
                if parser.starts_record(l) || n == 0 {
                    if n > 0 {
                        tally(&rec, n, parser, &mut s);
                    }
                    rec.clear();
                    rec.extend_from_slice(l);
                    n = 1;
                } else {
                    rec.push(b'\n');
                    rec.extend_from_slice(l);
                    n += 1;
                }
            }
            if n > 0 {
                tally(&rec, n, parser, &mut s);
            }
        }
    }
    s
}

/// Score every candidate and rank them, best first. A candidate is a plausible match only
/// when [`is_match`] holds for it.
pub fn rank(candidates: &mut [Box<dyn LineParser>], lines: &[&[u8]]) -> Vec<Score> {
    let mut scores: Vec<Score> = candidates
        .iter_mut()
        .map(|p| score(p.as_mut(), lines))
        .collect();
    scores.sort_by(|a, b| {
        b.useful
            .min(1)
            .cmp(&a.useful.min(1))
            .then(b.lines_parsed.cmp(&a.lines_parsed))
            .then(b.useful.cmp(&a.useful))
            .then(preference(a.format).cmp(&preference(b.format)))
    });
    scores
}

/// Whether a score is good enough to call the sample this format: at least half of the
/// non-blank lines accounted for (blank lines parse as ignored in every format, so they do
/// not count). A sample of well-formed lines that hold no HTTP request (an ELB TCP listener,
/// HAProxy `option tcplog`) still matches.
pub fn is_match(s: &Score, nonblank_lines: usize) -> bool {
    let blank = s.lines.saturating_sub(nonblank_lines);
    let need = nonblank_lines.div_ceil(2).max(1);
    s.lines_parsed >= blank + need
}

/// The last resort of detection: when no format [`is_match`]es a sample, try to infer an
/// nginx `log_format` from it ([`crate::infer::infer`]: a timestamp and a status, at least 90%
/// of the non-blank lines parsed). Call it only after every format failed, so that inference
/// never takes a sample a built-in layout or another format family reads. `Err` says why no
/// format could be inferred.
///
/// A php-fpm `access.format` is tried first ([`crate::fpm_infer`]: its lines carry a request
/// without protocol, a pool, memory or CPU, which nginx inference would misname), kept when it
/// reads 90% of the non-blank lines; then an nginx `log_format`.
pub fn infer_unmatched(lines: &[&[u8]]) -> Result<crate::infer::Inferred, String> {
    if let Ok(i) = crate::fpm_infer::infer(lines) {
        if i.lines_parsed * 10 >= i.lines * 9 {
            return Ok(i);
        }
    }
    crate::infer::infer(lines)
}
