//! Exports: Parquet tables, a self-contained HTML report and CSV.
//!
//! Every sink renders the same [`crate::analysis::report::Report`], so they cannot disagree. The
//! Parquet `requests`, `events` and `rejected` tables need every row, which the report does
//! not hold: for those the pipeline pushes each record it parses to a [`RowSink`] (only when
//! `--parquet` is given; see [`sink`]), which streams record batches into part files joined
//! in input order at the end.

pub mod csv;
pub mod html;
pub mod parquet;

pub mod sink;

pub use sink::{RowAt, RowSink, RowSinkFactory};

/// Hive-style partition keys of `--partition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    Date,
    Host,
}

/// Parse `--partition` values (`date`, `host`, or both, repeated or comma separated).
pub fn parse_partition(values: &[String]) -> Result<Vec<Partition>, String> {
    let mut out = Vec::new();
    for v in values.iter().flat_map(|v| v.split(',')) {
        let p = match v.trim() {
            "date" => Partition::Date,
            "host" => Partition::Host,
            other => {
                return Err(format!(
                    "invalid --partition '{other}': use date, host or date,host"
                ))
            }
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    // date first, then host, whatever the order given: one layout per table
    out.sort_by_key(|p| *p as u8);
    Ok(out)
}

/// A partition value safe as one directory name: letters, digits, `.`, `-`, `_` kept, anything
/// else `_`; never empty, `.` or `..` (no input can make gatelog write outside `--parquet DIR`).
pub fn sanitize_part(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(100)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.chars().all(|c| c == '.') {
        out = format!("_{out}");
    }
    out
}

/// The host of an input for `--partition host` without `--host`: the name of the directory
/// holding it (`fleet/web01/access.log` → `web01`), `stdin` for standard input.
pub fn host_of_path(name: &str) -> String {
    if name == "-" {
        return "stdin".into();
    }
    let p = std::path::Path::new(name);
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.to_path_buf())
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let dir = parent
        .canonicalize()
        .ok()
        .and_then(|c| c.file_name().map(|f| f.to_string_lossy().to_string()))
        .or_else(|| parent.file_name().map(|f| f.to_string_lossy().to_string()))
        .unwrap_or_else(|| "unknown".into());
    sanitize_part(&dir)
}

/// HTML text escaping for everything log-derived (SPEC "Security").
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_parse_and_sanitize() {
        assert_eq!(
            parse_partition(&["host,date".into()]),
            Ok(vec![Partition::Date, Partition::Host])
        );
        assert!(parse_partition(&["month".into()]).is_err());
        assert_eq!(sanitize_part("../etc"), ".._etc");
        assert_eq!(sanitize_part(".."), "_..");
        assert_eq!(sanitize_part(""), "_");
        assert_eq!(sanitize_part("web-01.example"), "web-01.example");
        assert_eq!(sanitize_part("a/b=c"), "a_b_c");
        assert_eq!(host_of_path("-"), "stdin");
        assert_eq!(
            host_of_path("/nonexistent-gatelog/web01/access.log"),
            "web01"
        );
    }

    #[test]
    fn html_escaping() {
        assert_eq!(
            escape_html("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
