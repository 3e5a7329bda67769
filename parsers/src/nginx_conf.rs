//! Reading `log_format` directives out of nginx configuration text (no I/O here: the caller
//! resolves `include` paths and feeds their text).
//!
//! The tokenizer follows nginx's `ngx_conf_read_token`: words are separated by whitespace,
//! `;`, `{` and `}` end statements, `#` starts a comment (at the start of a word), `'...'` and
//! `"..."` quote (with `\"`, `\'`, `\\`, `\t`, `\r`, `\n` escapes), and `${name}` stays one
//! word.

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

struct Word {
    text: Vec<u8>,
    line: usize,
}

enum Tok {
    Word(Word),
    /// `;`, `{` or `}` with its line.
    Punct(u8, usize),
}

fn unescape_into(out: &mut Vec<u8>, raw: &[u8]) {
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        if c == b'\\' {
            match raw.get(i + 1) {
                Some(&q @ (b'"' | b'\'' | b'\\')) => {
                    out.push(q);
                    i += 2;
                    continue;
                }
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
        i += 1;
    }
}

fn tokenize(text: &[u8]) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while let Some(&c) = text.get(i) {
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'#' => {
                while let Some(&c) = text.get(i) {
                    if c == b'\n' {
                        break;
                    }
                    i += 1;
                }
            }
            b';' | b'{' | b'}' => {
                toks.push(Tok::Punct(c, line));
                i += 1;
            }
            b'"' | b'\'' => {
                let start_line = line;
                let q = c;
                let mut j = i + 1;
                loop {
                    match text.get(j) {
                        None => {
                            return Err(format!(
                                "line {start_line}: unterminated {} quote",
                                if q == b'"' { "double" } else { "single" }
                            ))
                        }
                        Some(b'\\') => j += 2,
                        Some(&c) if c == q => break,
                        Some(b'\n') => {
                            line += 1;
                            j += 1
                        }
                        Some(_) => j += 1,
                    }
                }
                let mut w = Vec::new();
                unescape_into(&mut w, text.get(i + 1..j).unwrap_or_default());
                toks.push(Tok::Word(Word {
                    text: w,
                    line: start_line,
                }));
                i = j + 1;
                match text.get(i) {
                    None | Some(b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{' | b'}') => {}
                    Some(_) => {
                        return Err(format!(
                            "line {line}: unexpected character after a quoted string"
                        ))
                    }
                }
            }
            _ => {
                let start = i;
                let mut j = i;
                let mut var_brace = false;
                while let Some(&c) = text.get(j) {
                    if var_brace {
                        if c == b'}' {
                            var_brace = false;
                        }
                        j += 1;
                        continue;
                    }
                    if matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b';' | b'{' | b'}') {
                        if c == b'{' && j > start && text.get(j - 1) == Some(&b'$') {
                            var_brace = true;
                            j += 1;
                            continue;
                        }
                        break;
                    }
                    if c == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                let j = j.min(text.len());
                let mut w = Vec::new();
                unescape_into(&mut w, text.get(start..j).unwrap_or_default());
                toks.push(Tok::Word(Word { text: w, line }));
                i = j;
            }
        }
    }
    Ok(toks)
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Scan nginx configuration text for `log_format`, `access_log` and `include` directives (in
/// any block). Errors name the line.
pub fn scan(text: &[u8]) -> Result<ConfScan, String> {
    let toks = tokenize(text)?;
    let mut out = ConfScan::default();
    let mut stmt: Vec<Word> = Vec::new();
    let mut depth = 0usize;
    for t in toks {
        match t {
            Tok::Word(w) => stmt.push(w),
            Tok::Punct(p, line) => {
                match p {
                    b';' => {
                        if stmt.is_empty() {
                            // nginx rejects a lone `;`, but it is harmless here.
                        } else {
                            directive(&stmt, &mut out)?;
                        }
                    }
                    b'{' => {
                        if stmt.is_empty() {
                            return Err(format!("line {line}: unexpected \"{{\""));
                        }
                        depth += 1;
                    }
                    _ => {
                        if !stmt.is_empty() {
                            return Err(format!(
                                "line {line}: unexpected \"}}\" (directive \"{}\" has no \";\")",
                                s(&stmt[0].text)
                            ));
                        }
                        depth = depth
                            .checked_sub(1)
                            .ok_or_else(|| format!("line {line}: unexpected \"}}\""))?;
                    }
                }
                stmt.clear();
            }
        }
    }
    if let Some(w) = stmt.first() {
        return Err(format!(
            "line {}: directive \"{}\" is not terminated by \";\"",
            w.line,
            s(&w.text)
        ));
    }
    if depth != 0 {
        return Err("unexpected end of file, expecting \"}\"".into());
    }
    Ok(out)
}

fn directive(stmt: &[Word], out: &mut ConfScan) -> Result<(), String> {
    let Some(head) = stmt.first() else {
        return Ok(());
    };
    let line = head.line;
    match head.text.as_slice() {
        b"log_format" => {
            let name = stmt
                .get(1)
                .ok_or_else(|| format!("line {line}: log_format without a name"))?;
            let mut k = 2;
            let mut escape = Escape::Default;
            if let Some(w) = stmt.get(2) {
                if let Some(v) = w.text.strip_prefix(b"escape=") {
                    escape = Escape::from_bytes(v).ok_or_else(|| {
                        format!("line {}: unknown log_format escape \"{}\"", w.line, s(v))
                    })?;
                    k = 3;
                }
            }
            let parts = stmt.get(k..).unwrap_or_default();
            if parts.is_empty() {
                return Err(format!(
                    "line {line}: log_format \"{}\" has no format string",
                    s(&name.text)
                ));
            }
            let mut fmt = Vec::new();
            for p in parts {
                fmt.extend_from_slice(&p.text);
            }
            out.log_formats.push(ConfLogFormat {
                name: s(&name.text),
                escape,
                format: s(&fmt),
                line,
            });
        }
        b"include" => {
            let arg = stmt
                .get(1)
                .ok_or_else(|| format!("line {line}: include without a file"))?;
            out.includes.push(s(&arg.text));
        }
        b"access_log" => {
            let path = stmt
                .get(1)
                .ok_or_else(|| format!("line {line}: access_log without a path"))?;
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

    #[test]
    fn conf_errors_name_lines() {
        let e = scan(b"http {\n log_format x '$status;\n}\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        assert!(e.contains("unterminated"), "{e}");
        let e = scan(b"http {\n log_format x '$status'\n}\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = scan(b"http {\n").unwrap_err();
        assert!(e.contains("end of file"), "{e}");
        let e = scan(b"}\n").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
        let e = scan(b"log_format x escape=xml '$status';").unwrap_err();
        assert!(e.contains("escape"), "{e}");
        let e = scan(b"\n\nlog_format x;").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(scan(b"").unwrap().log_formats.is_empty());
        let _ = scan(b"a \"\\");
        let _ = scan(b"a '\\");
    }
}
