//! Reading `log_format` directives out of nginx configuration text (no I/O here: the caller
//! resolves `include` paths and feeds their text).
//!
//! The tokenizer (nom, over bytes) follows nginx's `ngx_conf_read_token`: words are separated
//! by whitespace, `;`, `{` and `}` end statements, `#` starts a comment (at the start of a
//! word), `'...'` and `"..."` quote (with `\"`, `\'`, `\\`, `\t`, `\r`, `\n` escapes), and
//! `${name}` stays one word. Every error names its line and column (`LINE:COL: why`, so that
//! the caller's `FILE:` prefix makes `FILE:LINE:COL: why`); a `log_format` that gatelog cannot
//! compile is reported at the line and column of the offending byte inside its quoted parts.

use nom::branch::alt;
use nom::bytes::complete::{escaped, is_not, tag, take, take_while, take_while1};
use nom::character::complete::one_of;
use nom::combinator::{opt, recognize};
use nom::multi::many0;
use nom::Parser;

use crate::grammar::{fail, into_fail, PResult, Pos};
pub use crate::nginx_access::Escape;

/// One `log_format NAME [escape=...] 'part' 'part' ...;` directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfLogFormat {
    pub name: String,
    pub escape: Escape,
    /// The parts concatenated, as nginx does.
    pub format: String,
    /// 1-based line of the directive.
    pub line: usize,
}

impl ConfLogFormat {
    /// The string to hand to [`crate::nginx_access::compile`] or to
    /// `ParserOptions::log_formats` (`escape=json ` prefixed when not the default escape).
    pub fn option_string(&self) -> String {
        match self.escape {
            Escape::Default => self.format.clone(),
            e => format!("escape={} {}", e.id(), self.format),
        }
    }
}

/// One `access_log PATH [FORMAT [params]];` directive (`access_log off;` is not listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfAccessLog {
    /// As written (may hold variables or be `syslog:server=...`).
    pub path: String,
    /// The format name (`combined` when omitted).
    pub format: String,
    pub line: usize,
}

/// Everything [`scan`] found in one configuration text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfScan {
    pub log_formats: Vec<ConfLogFormat>,
    /// `include` arguments (globs, relative to the configuration's prefix), in order.
    pub includes: Vec<String>,
    pub access_logs: Vec<ConfAccessLog>,
}

impl ConfScan {
    /// The `log_format` named `name` (the built-in `combined` when not defined).
    pub fn format_named(&self, name: &str) -> Option<String> {
        self.log_formats
            .iter()
            .rev()
            .find(|f| f.name == name)
            .map(ConfLogFormat::option_string)
            .or_else(|| (name == "combined").then(|| crate::nginx_access::COMBINED.to_string()))
    }
}

/// A word of the configuration: its unescaped bytes, and for each byte the offset in the
/// text it came from (so that an error inside a format string names the right column).
struct Word {
    text: Vec<u8>,
    src: Vec<usize>,
    /// Offset of the word's first byte (its opening quote when quoted).
    at: usize,
}

enum Tok {
    Word(Word),
    /// `;`, `{` or `}` with its offset.
    Punct(u8, usize),
    /// Whitespace or a comment.
    Skip,
}

/// Unescape `raw` (which starts at offset `at` of the text) into `w`.
fn unescape_into(w: &mut Word, raw: &[u8], at: usize) {
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        if c == b'\\' {
            let e = match raw.get(i + 1) {
                Some(&q @ (b'"' | b'\'' | b'\\')) => Some(q),
                Some(b't') => Some(b'\t'),
                Some(b'r') => Some(b'\r'),
                Some(b'n') => Some(b'\n'),
                _ => None,
            };
            if let Some(e) = e {
                w.text.push(e);
                w.src.push(at + i);
                i += 2;
                continue;
            }
        }
        w.text.push(c);
        w.src.push(at + i);
        i += 1;
    }
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether `c` ends an unquoted word.
fn ends_word(c: u8) -> bool {
    is_blank(c) || matches!(c, b';' | b'{' | b'}')
}

/// The tokenizer's state: the whole text, to turn the input left into offsets.
struct Lexer<'a> {
    text: &'a [u8],
}

impl<'a> Lexer<'a> {
    fn off(&self, rest: &[u8]) -> usize {
        self.text.len() - rest.len()
    }

    /// Whitespace, or a `#` comment up to the end of its line.
    fn skip(&self, i: &'a [u8]) -> PResult<&'a [u8], Tok> {
        alt((
            take_while1(is_blank),
            recognize((tag(&b"#"[..]), take_while(|c| c != b'\n'))),
        ))
        .map(|_| Tok::Skip)
        .parse(i)
    }

    fn punct(&self, i: &'a [u8]) -> PResult<&'a [u8], Tok> {
        let (rest, c) = one_of(&b";{}"[..]).parse(i)?;
        Ok((rest, Tok::Punct(c as u8, self.off(i))))
    }

    /// `"..."` or `'...'`, backslash escapes inside; it must be followed by a separator.
    fn quoted(&self, i: &'a [u8]) -> PResult<&'a [u8], Tok> {
        let (body, q) = one_of(&b"\"'"[..]).parse(i)?;
        let q = q as u8;
        let stop: &[u8] = if q == b'"' { b"\\\"" } else { b"\\'" };
        let inner: PResult<&[u8], Option<&[u8]>> =
            opt(escaped(is_not(stop), '\\', take(1usize))).parse(body);
        let (after, raw) = match inner {
            Ok((after, raw)) if after.first() == Some(&q) => (after, raw.unwrap_or_default()),
            _ => {
                let kind = if q == b'"' { "double" } else { "single" };
                return fail(i, format!("unterminated {kind} quote"));
            }
        };
        let after = after.get(1..).unwrap_or_default();
        // nginx also lets `)` follow a quoted string: `if ($http_user_agent = "")`
        match after.first() {
            Some(&c) if !ends_word(c) && c != b')' => {
                return fail(after, "unexpected character after a quoted string")
            }
            _ => {}
        }
        let mut w = Word {
            text: Vec::new(),
            src: Vec::new(),
            at: self.off(i),
        };
        unescape_into(&mut w, raw, self.off(body));
        Ok((after, Tok::Word(w)))
    }

    /// An unquoted word: up to a separator; `${name}` stays in it whole, `\x` escapes `x`.
    fn bare(&self, i: &'a [u8]) -> PResult<&'a [u8], Tok> {
        let piece = alt((
            recognize((
                tag(&b"${"[..]),
                take_while(|c| c != b'}'),
                opt(tag(&b"}"[..])),
            )),
            recognize((tag(&b"\\"[..]), opt(take(1usize)))),
            take_while1(|c| !ends_word(c) && c != b'\\' && c != b'$'),
            tag(&b"$"[..]),
        ));
        let (rest, raw) = recognize(nom::multi::many1(piece)).parse(i)?;
        let mut w = Word {
            text: Vec::new(),
            src: Vec::new(),
            at: self.off(i),
        };
        unescape_into(&mut w, raw, self.off(i));
        Ok((rest, Tok::Word(w)))
    }

    fn tokens(&self) -> Result<Vec<Tok>, (String, usize)> {
        let tok = |i: &'a [u8]| -> PResult<&'a [u8], Tok> {
            alt((
                |i| self.skip(i),
                |i| self.punct(i),
                |i| self.quoted(i),
                |i| self.bare(i),
            ))
            .parse(i)
        };
        let (rest, toks) = many0(tok).parse(self.text).map_err(|e| {
            let f = into_fail(e, self.text);
            (f.why, self.off(f.rest))
        })?;
        if !rest.is_empty() {
            return Err(("unexpected input".into(), self.off(rest)));
        }
        Ok(toks
            .into_iter()
            .filter(|t| !matches!(t, Tok::Skip))
            .collect())
    }
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `LINE:COL: why` for offset `at` of `text`.
fn err_at(text: &[u8], at: usize, why: impl std::fmt::Display) -> String {
    let p = Pos::of(text, text.len().saturating_sub(at));
    format!("{}:{}: {why}", p.line, p.col)
}

/// Scan nginx configuration text for `log_format`, `access_log` and `include` directives (in
/// any block). Errors name the line and column (`LINE:COL: why`); every `log_format` found
/// must compile.
pub fn scan(text: &[u8]) -> Result<ConfScan, String> {
    let toks = Lexer { text }
        .tokens()
        .map_err(|(why, at)| err_at(text, at, why))?;
    let mut out = ConfScan::default();
    let mut stmt: Vec<Word> = Vec::new();
    let mut depth = 0usize;
    for t in toks {
        match t {
            Tok::Word(w) => stmt.push(w),
            Tok::Skip => {}
            Tok::Punct(p, at) => {
                match p {
                    b';' => {
                        if stmt.is_empty() {
                            // nginx rejects a lone `;`, but it is harmless here.
                        } else {
                            directive(text, &stmt, &mut out)?;
                        }
                    }
                    b'{' => {
                        if stmt.is_empty() {
                            return Err(err_at(text, at, "unexpected \"{\""));
                        }
                        depth += 1;
                    }
                    _ => {
                        if !stmt.is_empty() {
                            return Err(err_at(
                                text,
                                at,
                                format!(
                                    "unexpected \"}}\" (directive \"{}\" has no \";\")",
                                    s(&stmt[0].text)
                                ),
                            ));
                        }
                        depth = depth
                            .checked_sub(1)
                            .ok_or_else(|| err_at(text, at, "unexpected \"}\""))?;
                    }
                }
                stmt.clear();
            }
        }
    }
    if let Some(w) = stmt.first() {
        return Err(err_at(
            text,
            w.at,
            format!("directive \"{}\" is not terminated by \";\"", s(&w.text)),
        ));
    }
    if depth != 0 {
        return Err(err_at(
            text,
            text.len(),
            "unexpected end of file, expecting \"}\"",
        ));
    }
    Ok(out)
}

fn directive(text: &[u8], stmt: &[Word], out: &mut ConfScan) -> Result<(), String> {
    let Some(head) = stmt.first() else {
        return Ok(());
    };
    let line = Pos::of(text, text.len() - head.at).line;
    match head.text.as_slice() {
        b"log_format" => {
            let name = stmt
                .get(1)
                .ok_or_else(|| err_at(text, head.at, "log_format without a name"))?;
            let mut k = 2;
            let mut escape = Escape::Default;
            if let Some(w) = stmt.get(2) {
                if let Some(v) = w.text.strip_prefix(b"escape=") {
                    escape = Escape::from_bytes(v).ok_or_else(|| {
                        err_at(
                            text,
                            w.at,
                            format!("unknown log_format escape \"{}\"", s(v)),
                        )
                    })?;
                    k = 3;
                }
            }
            let parts = stmt.get(k..).unwrap_or_default();
            if parts.is_empty() {
                return Err(err_at(
                    text,
                    head.at,
                    format!("log_format \"{}\" has no format string", s(&name.text)),
                ));
            }
            let mut fmt = Vec::new();
            let mut src = Vec::new();
            for p in parts {
                fmt.extend_from_slice(&p.text);
                src.extend_from_slice(&p.src);
            }
            let format = s(&fmt);
            // the format must compile; its error is placed where its byte is in this text
            if let Err(e) = crate::nginx_access::compile_checked(&format, escape) {
                let at = match e.byte {
                    // a lossy conversion keeps the bytes of valid UTF-8 where they were
                    Some(b) if format.len() == fmt.len() => src.get(b).copied(),
                    Some(_) => None,
                    None => Some(head.at),
                };
                return Err(err_at(
                    text,
                    at.unwrap_or(head.at),
                    format!(
                        "log_format \"{}\": {}",
                        s(&name.text),
                        e.why.trim_start_matches("log_format: ")
                    ),
                ));
            }
            out.log_formats.push(ConfLogFormat {
                name: s(&name.text),
                escape,
                format,
                line,
            });
        }
        b"include" => {
            let arg = stmt
                .get(1)
                .ok_or_else(|| err_at(text, head.at, "include without a file"))?;
            out.includes.push(s(&arg.text));
        }
        b"access_log" => {
            let path = stmt
                .get(1)
                .ok_or_else(|| err_at(text, head.at, "access_log without a path"))?;
            if path.text == b"off" {
                return Ok(());
            }
            let format = match stmt.get(2) {
                Some(w) if !w.text.contains(&b'=') && w.text != b"gzip" => s(&w.text),
                _ => "combined".to_string(),
            };
            out.access_logs.push(ConfAccessLog {
                path: s(&path.text),
                format,
                line,
            });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_log_format() {
        let conf = br#"
user nginx;   # comment with 'quote
http {
    include       /etc/nginx/mime.types;
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '   # trailing comment
                      "\"$http_user_agent\" \"$http_x_forwarded_for\"";
    log_format json escape=json '{"t":"$time_iso8601",'
        '"s":"$status"}';
    access_log  /var/log/nginx/access.log  main buffer=32k;
    access_log  /var/log/nginx/plain.log;
    access_log  off;
    server {
        location ~ ^/x${uri}$ { return 200; }
        access_log /var/log/nginx/api.json json if=$loggable;
    }
    include conf.d/*.conf;
}
"#;
        let r = scan(conf).unwrap();
        assert_eq!(r.log_formats.len(), 2);
        assert_eq!(r.log_formats[0].name, "main");
        assert_eq!(r.log_formats[0].line, 5);
        assert_eq!(
            r.log_formats[0].format,
            r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#
        );
        assert_eq!(r.log_formats[1].escape, Escape::Json);
        assert_eq!(
            r.log_formats[1].format,
            r#"{"t":"$time_iso8601","s":"$status"}"#
        );
        assert!(r.log_formats[1]
            .option_string()
            .starts_with("escape=json {"));
        assert_eq!(r.includes, vec!["/etc/nginx/mime.types", "conf.d/*.conf"]);
        assert_eq!(r.access_logs.len(), 3);
        assert_eq!(r.access_logs[0].format, "main");
        assert_eq!(r.access_logs[1].format, "combined");
        assert_eq!(r.access_logs[2].format, "json");
        assert_eq!(r.access_logs[2].path, "/var/log/nginx/api.json");
        // the main format compiles and matches the default `main`
        let main = r.format_named("main").unwrap();
        assert!(crate::nginx_access::compile(&main).is_ok());
        assert!(crate::nginx_access::compile(&r.format_named("json").unwrap()).is_ok());
        assert!(r.format_named("combined").is_some());
        assert!(r.format_named("nope").is_none());
    }

    /// Every error names `LINE:COL` of what failed; a format that does not compile is placed
    /// at its offending byte inside the quoted parts (escapes and line breaks counted).
    #[test]
    fn conf_errors_name_line_and_column() {
        let cases: [(&[u8], &str); 13] = [
            (
                b"http {\n log_format x '$status;\n}\n",
                "2:15: unterminated single quote",
            ),
            (
                b"http {\n log_format x '$status'\n}\n",
                "3:1: unexpected \"}\" (directive \"log_format\" has no \";\")",
            ),
            (b"http {\n", "2:1: unexpected end of file, expecting \"}\""),
            (b"}\n", "1:1: unexpected \"}\""),
            (b"a;\n  {", "2:3: unexpected \"{\""),
            (
                b"log_format x escape=xml '$status';",
                "1:14: unknown log_format escape \"xml\"",
            ),
            (
                b"\n\nlog_format x;",
                "3:1: log_format \"x\" has no format string",
            ),
            (b"\n  log_format;", "2:3: log_format without a name"),
            (b"include;", "1:1: include without a file"),
            (
                b"x 1;\nlog_format x '$status'",
                "2:1: directive \"log_format\" is not terminated",
            ),
            (
                b"log_format x '$status'x;",
                "1:23: unexpected character after a quoted string",
            ),
            (
                b"http {\n    log_format bad '$remote_addr '\n        '${time_local';\n}",
                "3:10: log_format \"bad\": missing '}' after '${'",
            ),
            (
                br#"log_format x "\"$status\" $a$b";"#,
                "1:29: log_format \"x\": $a and $b are not separated",
            ),
        ];
        for (conf, want) in cases {
            let e = scan(conf).unwrap_err();
            assert!(
                e.starts_with(want),
                "{}: {e}",
                String::from_utf8_lossy(conf)
            );
            assert!(!e.contains('\n'), "{e}");
        }
    }

    /// Multi-byte characters count once in a column; bytes that are not UTF-8 are read.
    #[test]
    fn columns_count_characters_and_bytes_are_not_utf8() {
        let e = scan("# é\nlog_format é '$status' 'ü$a$b';".as_bytes()).unwrap_err();
        assert!(e.starts_with("2:28: "), "{e}");
        let r = scan(b"# \xff\xfe\nif ($a = \"\") { }\nlog_format x '$status \xff';").unwrap();
        assert_eq!(r.log_formats[0].line, 3);
        assert!(r.log_formats[0].format.starts_with("$status "));
    }

    #[test]
    fn conf_errors_name_lines() {
        let e = scan(b"http {\n log_format x '$status;\n}\n").unwrap_err();
        assert!(e.starts_with("2:"), "{e}");
        assert!(e.contains("unterminated"), "{e}");
        let e = scan(b"http {\n log_format x '$status'\n}\n").unwrap_err();
        assert!(e.starts_with("3:"), "{e}");
        let e = scan(b"http {\n").unwrap_err();
        assert!(e.contains("end of file"), "{e}");
        let e = scan(b"}\n").unwrap_err();
        assert!(e.starts_with("1:1:"), "{e}");
        let e = scan(b"log_format x escape=xml '$status';").unwrap_err();
        assert!(e.contains("escape"), "{e}");
        let e = scan(b"\n\nlog_format x;").unwrap_err();
        assert!(e.starts_with("3:1:"), "{e}");
        assert!(scan(b"").unwrap().log_formats.is_empty());
        let _ = scan(b"a \"\\");
        let _ = scan(b"a '\\");
    }
}
