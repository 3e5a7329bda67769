//! Command-line interface (clap derive). Values are parsed into types here, at the edge.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use crate::units::parse_duration_s;

pub mod values;
pub use values::{
    BucketWidth, ColorChoice, Duration, FormatChoice, Partition, Rule, TimeBound, TzChoice,
};

pub const EXAMPLES: &str = "\
Examples:
  gatelog analyze /var/log/nginx/ /var/log/php8.2-fpm.log
  gatelog analyze samples/incident --json > report.json
  gatelog analyze 'access.log*' --format nginx-access --nginx-conf /etc/nginx/nginx.conf
  zcat access.log.2.gz | gatelog analyze - --since 2026-11-23T10:00:00Z --bucket 10s
  gatelog detect /var/log/haproxy.log
  gatelog formats";

#[derive(Parser, Debug)]
#[command(
    name = "gatelog",
    version,
    about = "Gateway error forensics: when did the 502/503/504s happen, which upstream produced them, and why",
    long_about = "gatelog reads load-balancer, nginx and php-fpm logs (plain, gzip or zstd), builds a \
timeline of requests and errors, finds incidents where the 5xx rate rose above its baseline, and names \
the probable cause of each with the exact log lines as evidence.",
    after_help = EXAMPLES
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Analyse logs and print a report (text, or JSON with --json)
    #[command(after_help = EXAMPLES)]
    Analyze(AnalyzeArgs),
    /// Follow logs and show the 5xx rate, latency and probable cause as it happens
    #[command(after_help = LIVE_EXAMPLES)]
    Live(LiveArgs),
    /// List the supported formats with an example line each
    Formats,
    /// Print the detected format of each input and why
    Detect(DetectArgs),
}

#[derive(Args, Debug, Clone)]
pub struct FormatArgs {
    /// Force a format for every input (FMT) or for one (PATH=FMT); see `gatelog formats`
    #[arg(long = "format", value_name = "FMT|PATH=FMT", value_parser = FormatChoice::parse)]
    pub format: Vec<FormatChoice>,
    /// Read every log_format directive from an nginx configuration (includes followed)
    #[arg(long, value_name = "FILE")]
    pub nginx_conf: Vec<PathBuf>,
    /// An nginx log_format string (or a php-fpm access.format with --format fpm-access)
    #[arg(long, value_name = "STRING")]
    pub log_format: Vec<String>,
    /// Longest line accepted, in bytes; longer lines are rejected with their location
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_line: usize,
}

/// Options `analyze` and `live` share beyond the format options: how times are read and
/// what counts as an incident.
#[derive(Args, Debug, Clone)]
pub struct ReadArgs {
    /// Time zone for timestamps that carry none (nginx error, php-fpm): UTC, +08:00, Asia/Shanghai, local
    #[arg(long, value_name = "ZONE", value_parser = TzChoice::parse, allow_hyphen_values = true)]
    pub tz: Option<TzChoice>,
    /// Fewest errors an incident needs
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub min_errors: u64,
}

#[derive(Args, Debug, Clone)]
pub struct AnalyzeArgs {
    /// Files, directories (recursed), globs, or - for stdin
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Only records at or after T (RFC 3339, or relative to now such as 2h, 30m)
    #[arg(long, value_name = "T", value_parser = TimeBound::parse)]
    pub since: Option<TimeBound>,
    /// Only records before T (RFC 3339, or relative to now)
    #[arg(long, value_name = "T", value_parser = TimeBound::parse)]
    pub until: Option<TimeBound>,
    /// Timeline resolution (1s, 10s, 1m, ...; auto chooses from the span)
    #[arg(long, value_name = "DUR", default_value = "auto", value_parser = BucketWidth::parse)]
    pub bucket: BucketWidth,
    /// Print the JSON report on stdout instead of text
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML report
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Also write Parquet tables into DIR
    #[arg(long, value_name = "DIR")]
    pub parquet: Option<PathBuf>,
    /// With --parquet: Hive-style directories by date, host, or date,host
    #[arg(
        long,
        value_name = "KEY",
        value_delimiter = ',',
        requires = "parquet",
        value_parser = values::partition_key
    )]
    pub partition: Vec<Partition>,
    /// Host name for --partition host (default: the directory holding each input)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Also write timeline.csv and incidents.csv into DIR
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Incremental mode: resume after the bytes already analysed
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Exit with status 3 when a rule holds, e.g. 'rate(5xx) > 5% for 5m', 'count(504) > 100'
    #[arg(long, value_name = "RULE", value_parser = crate::analysis::rules::parse)]
    pub fail_on: Vec<Rule>,
    /// Exit with status 2 if any line could not be parsed
    #[arg(long)]
    pub strict: bool,
    /// Worker threads (default: all cores)
    #[arg(long, short = 'j', value_name = "N")]
    pub threads: Option<usize>,
    /// No progress or notices on stderr
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Colour: auto (terminal and no NO_COLOR), always, never
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

pub const LIVE_EXAMPLES: &str = "\
Examples:
  gatelog live /var/log/nginx/ /var/log/php8.2-fpm.log
  tail -F /var/log/nginx/access.log /var/log/nginx/error.log | gatelog live -
  gatelog live /var/log/nginx/access.log --alert 'rate(5xx) > 5% for 1m' --on-alert ./page.sh
  gatelog live /var/log/nginx/ --metrics 127.0.0.1:9464 > live.jsonl

Keys: q quits, p pauses, 1 / 5 / f show the last 1, 5 or 15 minutes, Ctrl-Z suspends
(fg resumes).
Not on a terminal (or with --json): one JSON line per --interval.";

#[derive(Args, Debug, Clone)]
pub struct LiveArgs {
    /// Files or directories to follow (tail -F semantics), or - for stdin (tail -F headers understood)
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub fmt: FormatArgs,
    #[command(flatten)]
    pub read: ReadArgs,
    /// Refresh (and JSON line) interval: 1s, 5s, ...
    #[arg(long, value_name = "DUR", default_value = "1s", value_parser = Duration::parse)]
    pub interval: Duration,
    /// Window for latency, incidents and causes: 1m, 5m or 15m (keys 1, 5, f switch it)
    #[arg(long, value_name = "DUR", default_value = "5m", value_parser = values::live_window)]
    pub window: Duration,
    /// Read what the files already hold before following them (default: only new lines)
    #[arg(long)]
    pub from_start: bool,
    /// Print an alert line when a rule starts to hold and when it clears (the --fail-on grammar)
    #[arg(long, value_name = "RULE", value_parser = values::alert_rule)]
    pub alert: Vec<Rule>,
    /// Run this command (with sh -c) on each alert; details are in GATELOG_ALERT_* variables
    #[arg(long, value_name = "CMD")]
    pub on_alert: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (a bare port listens on 127.0.0.1)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
    /// JSON lines on stdout even on a terminal
    #[arg(long)]
    pub json: bool,
    /// No notices on stderr
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DetectArgs {
    /// Files, directories (recursed), globs, or - for stdin
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<String>,
    #[command(flatten)]
    pub fmt: FormatArgs,
}

/// Print a usage error and give the exit status: 0 for `--help` and `--version`, else 1
/// (SPEC: 2 is reserved for --strict). A value its parser refused (`--bucket 10x`, a
/// `--fail-on` rule) is one line like every other gatelog error, `gatelog: error: invalid
/// value 'V' for '--FLAG <X>': why`; other usage errors print as clap writes them.
pub fn usage_error(e: &clap::Error) -> i32 {
    if !e.use_stderr() {
        let _ = e.print();
        return 0;
    }
    if e.kind() == clap::error::ErrorKind::ValueValidation {
        let text = e.render().to_string();
        if let Some(line) = text.lines().find(|l| !l.trim().is_empty()) {
            let line = line.trim_end();
            eprintln!(
                "gatelog: error: {}",
                line.strip_prefix("error: ").unwrap_or(line)
            );
            return 1;
        }
    }
    let _ = e.print();
    1
}

/// Parse `--since/--until`: RFC 3339, a date-time without zone (UTC), or relative to now.
pub fn parse_time_us(s: &str, now_us: i64) -> Result<i64, String> {
    TimeBound::parse(s).map(|b| b.resolve_us(now_us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration_s("10s"), Ok(10));
        assert_eq!(parse_duration_s("5m"), Ok(300));
        assert!(parse_duration_s("5x").is_err());
        assert!(parse_duration_s("0s").is_err());
        assert_eq!(
            parse_time_us("2h", 10_000_000_000),
            Ok(10_000_000_000 - 7_200_000_000)
        );
        assert_eq!(parse_time_us("1970-01-01T00:00:10Z", 0), Ok(10_000_000));
        assert_eq!(
            parse_time_us("1970-01-01T01:00:10+01:00", 0),
            Ok(10_000_000)
        );
        assert!(parse_time_us("yesterday", 0).is_err());
    }
}
