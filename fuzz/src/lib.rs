//! The harness shared by the fuzz targets (and by the deterministic mini-fuzz in
//! `parsers/tests/regressions.rs`, which includes this file by path): it feeds bytes to the
//! parsers the way gatelog's pipeline does, and touches every field helper the pipeline and
//! the analysis call on parsed records, so a panic anywhere on that path is found.
//!
//! Depends on `gatelog_parsers` only (no libFuzzer), so it also builds on stable under
//! `cargo test`.

use gatelog_parsers::{
    detect, fields, fpm_access, fpm_slow, lb, nginx_access, nginx_conf, Format, Framing,
    LineParser, ParserOptions, Record,
};

/// The longest record the pipeline hands a parser by default (`--max-line`, 1 MiB); the fuzz
/// inputs stay far below it, but multi-line records are capped the same way.
const MAX_RECORD: usize = 1 << 20;

/// Physical lines of `data` as the pipeline frames them: split at `\n`, a trailing `\r`
/// removed, no empty last line after a final newline.
pub fn lines(data: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.into_iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect()
}

/// Frame `data` into records the way `src/pipeline.rs` does (one line per record, or
/// multi-line records joined with `\n` for [`Framing::MultiLine`]) and parse each with
/// [`LineParser::parse_each`], touching every record. Returns the records parsed.
pub fn exercise(p: &mut dyn LineParser, data: &[u8]) -> usize {
    let format = p.format();
    let mut ok = 0usize;
    let mut on_rec = |p: &mut dyn LineParser, rec: &[u8]| {
        p.parse_each(rec, &mut |res| {
            if let Ok(r) = res {
                touch(format, r);
                ok += 1;
            } else if let Err(e) = res {
                // the position is within the record (rejected samples print from it)
                assert!(
                    e.pos <= rec.len(),
                    "{e:?} beyond a {}-byte record",
                    rec.len()
                );
                let _ = e.reason();
            }
        });
    };
    if p.framing() == Framing::MultiLine {
        let mut pending: Vec<u8> = Vec::new();
        let mut have = false;
        for line in lines(data) {
            if have && !p.starts_record(line) {
                if pending.len() < MAX_RECORD {
                    pending.push(b'\n');
                    pending.extend_from_slice(&line[..line.len().min(MAX_RECORD)]);
                }
                continue;
            }
            if have {
                on_rec(p, &pending);
            }
            pending.clear();
            pending.extend_from_slice(line);
            have = true;
        }
        if have {
            on_rec(p, &pending);
        }
    } else {
        for line in lines(data) {
            on_rec(p, line);
        }
    }
    ok
}

/// Everything the pipeline and the analysis compute from a parsed record.
pub fn touch(format: Format, r: &Record<'_>) {
    match r {
        Record::Request(q) => {
            let _ = q.ts.utc_us(0);
            let _ = q.ts.utc_us(14 * 3600);
            let _ = q.ts.utc_us(-12 * 3600);
            for list in [
                q.upstream_addr,
                q.upstream_status,
                q.upstream_connect_time,
                q.upstream_header_time,
                q.upstream_response_time,
            ] {
                let _ = fields::upstream_last(list);
                let n = fields::upstream_list(list).count();
                let e = fields::upstream_entries(list);
                assert!(e.len() <= list.len());
                let _ = n;
            }
            let _ = lb::upstream_time_us(format, q.upstream_response_time);
            let _ = lb::upstream_time_us(format, q.upstream_header_time);
            let _ = fields::parse_status(fields::upstream_last(q.upstream_status));
            let _ = fields::split_request_line(q.request_line);
            let _ = fields::split_request_line(q.path);
            // the client networks are keyed on this (X-Forwarded-For's last entry)
            let o = q.origin_client();
            assert!(o.len() <= q.client.len().max(q.forwarded_for.len()));
        }
        Record::Event(e) => {
            let _ = e.ts.utc_us(0);
            let _ = e.kind.id();
            let _ = e.severity.id();
            let _ = fields::upstream_last(e.upstream);
            let _ = fields::split_request_line(e.request);
            let _ = fpm_slow::frames(e.frames).count();
        }
        Record::Ignored => {}
    }
}

/// A fresh parser for `format` with its default configuration.
pub fn default_parser(format: Format) -> Box<dyn LineParser> {
    match gatelog_parsers::build(format, &ParserOptions::default()) {
        Ok(p) => p,
        Err(e) => panic!("the default {format} parser does not build: {e}"),
    }
}

/// Fuzz target body for one format's default parser.
pub fn parse_all(format: Format, data: &[u8]) {
    let mut p = default_parser(format);
    exercise(p.as_mut(), data);
    // the same bytes again through a clone (warm caches: last format, last second)
    let mut c = p.clone_box();
    exercise(c.as_mut(), data);
}

/// The straight-line reading of `combined`-prefixed nginx formats must give exactly what the
/// generic item loop gives, line by line, for the built-in formats and for `extra` formats.
pub fn nginx_fast_prefix_agrees(data: &[u8], extra: &[String]) {
    let fast = nginx_access::NginxAccessMulti::defaults();
    let mut slow = nginx_access::NginxAccessMulti::defaults();
    slow.set_fast_prefix(false);
    let mut pairs = vec![(fast, slow)];
    if let (Ok(f), Ok(mut s)) = (
        nginx_access::NginxAccessMulti::new(extra),
        nginx_access::NginxAccessMulti::new(extra),
    ) {
        s.set_fast_prefix(false);
        pairs.push((f, s));
    }
    for (fast, slow) in pairs.iter_mut() {
        for line in lines(data) {
            let a = fast.parse_request(line);
            let b = slow.parse_request(line);
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "fast prefix and item loop disagree on {:?}",
                String::from_utf8_lossy(line)
            );
        }
    }
}

/// Split a compiler fuzz input into (format string, log lines): the first line is the format.
pub fn split_format(data: &[u8]) -> (String, &[u8]) {
    let (f, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    (String::from_utf8_lossy(f).into_owned(), rest)
}

/// nginx `log_format` compiler: compile the first line, parse the rest with it, alone and as
/// one of several formats.
pub fn compile_nginx(data: &[u8]) {
    let (fmt, rest) = split_format(data);
    nginx_fast_prefix_agrees(rest, std::slice::from_ref(&fmt));
    if let Ok(mut p) = nginx_access::compile(&fmt) {
        exercise(&mut p, rest);
    }
    for esc in [nginx_conf::Escape::Json, nginx_conf::Escape::None] {
        if let Ok(mut p) = nginx_access::compile_with(&fmt, esc) {
            exercise(&mut p, rest);
        }
    }
    if let Ok(mut p) = nginx_access::build(&[fmt, nginx_access::COMBINED.to_string()]) {
        exercise(p.as_mut(), rest);
    }
}

/// php-fpm `access.format` compiler: compile the first line, parse the rest with it.
pub fn compile_fpm(data: &[u8]) {
    let (fmt, rest) = split_format(data);
    if let Ok(mut p) = fpm_access::FpmAccessParser::compile(&fmt) {
        exercise(&mut p, rest);
    }
    if let Ok(mut p) = fpm_access::build(&[fmt]) {
        exercise(p.as_mut(), rest);
    }
}

/// nginx configuration scanner, and every `log_format` it yields through the compiler.
pub fn nginx_conf(data: &[u8]) {
    if let Ok(scan) = nginx_conf::scan(data) {
        for f in &scan.log_formats {
            let s = f.option_string();
            if let Ok(mut p) = nginx_access::compile(&s) {
                exercise(&mut p, f.format.as_bytes());
            }
        }
        for a in &scan.access_logs {
            let _ = scan.format_named(&a.format);
        }
    }
}

/// Format detection: every parser scores the same lines.
pub fn detect(data: &[u8]) {
    let ls = lines(data);
    let ls = &ls[..ls.len().min(64)];
    let mut cands: Vec<Box<dyn LineParser>> =
        Format::ALL.iter().map(|&f| default_parser(f)).collect();
    let scores = detect::rank(&mut cands, ls);
    for s in &scores {
        assert!(s.lines_parsed <= s.lines, "{s:?}");
        let _ = detect::is_match(s, ls.len());
    }
    // nginx log_format inference (tried when nothing matches): what it accepts must compile
    // and parse the lines it was inferred from
    if let Ok(inf) = detect::infer_unmatched(ls) {
        if let Ok(mut p) = nginx_access::compile(&inf.log_format) {
            exercise(&mut p, data);
        }
    }
}
