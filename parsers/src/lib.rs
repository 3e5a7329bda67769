//! Streaming, zero-copy parsers for the logs a web request leaves behind: load balancers
//! (AWS ALB/ELB, Alibaba SLB, HAProxy, Envoy, Traefik), nginx access and error logs, and
//! php-fpm error, slow and access logs.
//!
//! This crate knows bytes and formats, nothing about files, threads or output. A parser takes
//! one record (`&[u8]`, one physical line, or several for multi-line formats, without the
//! trailing newline) and returns a [`Record`] borrowing those bytes, or a [`ParseError`] that
//! names the field that failed and where.
//!
//! Field values are kept as they appear in the log (still escaped, e.g. nginx `\x22` or JSON
//! `\"`); sinks unescape or escape for display. Numbers and timestamps are decoded.

pub mod caddy;
pub mod detect;
pub mod fastfind;
pub mod fields;
pub mod fpm;
pub mod fpm_access;
pub mod fpm_infer;
pub mod fpm_slow;
pub mod grammar;
pub mod infer;
pub mod kernel;
pub mod lb;
pub mod nginx_access;
pub mod nginx_conf;
pub mod nginx_error;
pub mod php_error;
pub mod time;
pub mod wrap;

/// Helpers shared by the parsers' unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    /// Deterministic token soup: concatenations of pieces that matter to the parser.
    pub(crate) fn soup(tokens: &[&[u8]], n: usize, mut f: impl FnMut(&[u8])) {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut buf = Vec::new();
        for _ in 0..n {
            buf.clear();
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 59) as usize + 1;
            for _ in 0..len {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let t = tokens[(x >> 33) as usize % tokens.len()];
                buf.extend_from_slice(t);
            }
            f(&buf);
        }
    }
}

use std::fmt;

pub use time::Ts;

/// Every format gatelog reads. The ids (see [`Format::id`]) are the SPEC's stable names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    NginxAccess,
    NginxError,
    FpmError,
    FpmSlow,
    FpmAccess,
    Alb,
    Elb,
    Slb,
    Haproxy,
    Envoy,
    Traefik,
    PhpError,
    Caddy,
    Kernel,
}

impl Format {
    pub const ALL: [Format; 14] = [
        Format::NginxAccess,
        Format::NginxError,
        Format::FpmError,
        Format::FpmSlow,
        Format::FpmAccess,
        Format::Alb,
        Format::Elb,
        Format::Slb,
        Format::Haproxy,
        Format::Envoy,
        Format::Traefik,
        Format::PhpError,
        Format::Caddy,
        Format::Kernel,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Format::NginxAccess => "nginx-access",
            Format::NginxError => "nginx-error",
            Format::FpmError => "fpm-error",
            Format::FpmSlow => "fpm-slow",
            Format::FpmAccess => "fpm-access",
            Format::Alb => "alb",
            Format::Elb => "elb",
            Format::Slb => "slb",
            Format::Haproxy => "haproxy",
            Format::Envoy => "envoy",
            Format::Traefik => "traefik",
            Format::PhpError => "php-error",
            Format::Caddy => "caddy",
            Format::Kernel => "kernel",
        }
    }

    pub fn from_id(s: &str) -> Option<Format> {
        Format::ALL.iter().copied().find(|f| f.id() == s)
    }

    /// The layer a format's records come from.
    pub fn layer(self) -> Layer {
        match self {
            Format::NginxAccess | Format::NginxError | Format::Caddy => Layer::Proxy,
            Format::FpmError | Format::FpmSlow | Format::FpmAccess | Format::PhpError => Layer::App,
            Format::Kernel => Layer::Host,
            Format::Alb
            | Format::Elb
            | Format::Slb
            | Format::Haproxy
            | Format::Envoy
            | Format::Traefik => Layer::Lb,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Which layer of the request path wrote a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Lb,
    Proxy,
    App,
    /// The machine under the servers (kernel lines): events only, never requests, so the
    /// per-layer request arrays (indexed `Lb`, `Proxy`, `App`) need no slot for it.
    Host,
}

impl Layer {
    pub fn id(self) -> &'static str {
        match self {
            Layer::Lb => "lb",
            Layer::Proxy => "proxy",
            Layer::App => "app",
            Layer::Host => "host",
        }
    }
}

/// How records are framed into physical lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// One record per line.
    Line,
    /// A record starts at a line for which [`LineParser::starts_record`] is true; the lines
    /// after it that do not start a record belong to it (nginx `FastCGI sent in stderr` stack
    /// traces, php-fpm `catch_workers_output`, slowlog stack frames).
    MultiLine,
}

/// A parser for one format, compiled once (for format strings) and used for many records.
/// `&mut self` lets a parser keep caches (the last parsed second) and scratch space.
pub trait LineParser: Send {
    fn format(&self) -> Format;

    /// Parse one record (without its line terminator).
    fn parse<'a>(&mut self, rec: &'a [u8]) -> Result<Record<'a>, ParseError>;

    fn framing(&self) -> Framing {
        Framing::Line
    }

    /// For [`Framing::MultiLine`]: whether this physical line begins a new record.
    fn starts_record(&self, _line: &[u8]) -> bool {
        true
    }

    /// A fresh parser with the same configuration (for another thread).
    fn clone_box(&self) -> Box<dyn LineParser>;

    /// Parse a record that may hold several records (a one-line JSON array of Alibaba SLB
    /// records): `out` is called once per record, in order (with a reference: the record is
    /// not moved on its way). The default calls
    /// [`LineParser::parse`] once, so only formats that can pack several records into one
    /// line override it.
    fn parse_each<'a>(
        &mut self,
        rec: &'a [u8],
        out: &mut dyn FnMut(&Result<Record<'a>, ParseError>),
    ) {
        out(&self.parse(rec))
    }

    /// The time of the request or event [`LineParser::parse`] reads from `rec`, for callers
    /// that only need the instants of a sample (the input's time span): `Some(None)` when it
    /// reads none (an error, an ignored line). `None` (the default): not known without the
    /// whole parse, call `parse_each`. A parser answers only when it is cheaper and the same.
    fn instant(&mut self, _rec: &[u8]) -> Option<Option<Ts>> {
        None
    }
}

/// What a record turned out to be.
#[derive(Debug, Clone)]
pub enum Record<'a> {
    Request(Request<'a>),
    Event(Event<'a>),
    /// A well-formed line that carries nothing to analyse (comment, blank line, a TCP-mode
    /// HAProxy line without HTTP data...). Counted as parsed.
    Ignored,
}

/// A request seen by some layer: an access-log line.
///
/// Byte fields are empty when the format does not log them (or logs `-`). Durations are in
/// microseconds; `None` means not logged or not measured (`-`, `-1`).
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    pub ts: Ts,
    pub client: &'a [u8],
    pub method: &'a [u8],
    /// Request target (path and query) as logged.
    pub path: &'a [u8],
    pub protocol: &'a [u8],
    /// The whole request line (`GET /x HTTP/1.1`) when the format logs it as one field.
    pub request_line: &'a [u8],
    pub host: &'a [u8],
    /// Status sent to the client by this layer (ALB `elb_status_code`, HAProxy status...).
    pub status: u16,
    pub bytes_sent: Option<u64>,
    pub referer: &'a [u8],
    pub user_agent: &'a [u8],
    /// Total time this layer spent on the request (nginx `$request_time`, HAProxy `Ta`, ALB
    /// request+target+response processing time, php-fpm `%d`).
    pub request_time_us: Option<u64>,
    /// Raw `$upstream_addr`-style list (`, ` and ` : ` separated); for an LB, the target.
    pub upstream_addr: &'a [u8],
    /// Raw `$upstream_status` list; for an LB, the target's status (`target_status_code`).
    pub upstream_status: &'a [u8],
    /// Raw `$upstream_connect_time` list (seconds, as logged).
    pub upstream_connect_time: &'a [u8],
    /// Raw `$upstream_header_time` list.
    pub upstream_header_time: &'a [u8],
    /// Raw `$upstream_response_time` list; for an LB, the target processing time.
    pub upstream_response_time: &'a [u8],
    /// Trace or request id (ALB `trace_id`, `$request_id`, HAProxy unique-id, Envoy
    /// `x-request-id`...).
    pub trace_id: &'a [u8],
    /// LB-specific verdict: ALB `error_reason`, HAProxy termination state, Envoy response
    /// flags, SLB/Traefik equivalents.
    pub lb_flags: &'a [u8],
    /// LB frontend/router/listener name, HAProxy `frontend backend/server`, Traefik router.
    pub route: &'a [u8],
    /// php-fpm pool or script where logged.
    pub script: &'a [u8],
    pub pid: Option<u32>,
    /// The `X-Forwarded-For` chain as logged (nginx `$http_x_forwarded_for`), `, `-separated;
    /// empty when not logged. Behind a load balancer `client` is the balancer and the last
    /// entry is the address it saw ([`Request::origin_client`]).
    pub forwarded_for: &'a [u8],
}

impl<'a> Request<'a> {
    /// The client as the outermost proxy in front saw it: the last `X-Forwarded-For` entry
    /// when one is logged (the one that proxy appended; earlier entries are whatever the
    /// client sent, and may be forged), else `client`.
    #[inline]
    pub fn origin_client(&self) -> &'a [u8] {
        if self.forwarded_for.is_empty() {
            return self.client;
        }
        let last = match memchr::memrchr(b',', self.forwarded_for) {
            Some(i) => self.forwarded_for.get(i + 1..).unwrap_or_default(),
            None => self.forwarded_for,
        };
        let last = last.trim_ascii();
        if last.is_empty() || last == b"unknown" {
            self.client
        } else {
            last
        }
    }
}

/// An error or life-cycle event from an error log (nginx, php-fpm, slowlog, LB health checks).
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub ts: Ts,
    pub kind: EventKind,
    pub severity: Severity,
    /// Process id of the writer (nginx worker PID, php-fpm master).
    pub pid: Option<u32>,
    pub tid: Option<u32>,
    /// nginx `*N` connection number.
    pub conn: Option<u64>,
    /// The message proper, without prefix and without the `, client: ...` tail.
    pub message: &'a [u8],
    pub client: &'a [u8],
    pub server: &'a [u8],
    /// Request line from nginx `request: "..."`, or the URI from php-fpm.
    pub request: &'a [u8],
    pub upstream: &'a [u8],
    pub host: &'a [u8],
    /// php-fpm pool name (`[pool www]`), or an LB backend name.
    pub pool: &'a [u8],
    /// php-fpm child pid (`child 1234 ...`), slowlog `pid N`.
    pub child_pid: Option<u32>,
    /// Signal number or exit code (`exited on signal 11`, `exited with code 255`), or the
    /// `max_children` setting, or the timeout in seconds (`execution timed out (30 sec)`).
    pub number: Option<i64>,
    /// php-fpm script (`executing too slow` script, slowlog `script_filename`), or nginx
    /// `FastCGI sent in stderr` PHP message.
    pub script: &'a [u8],
    /// Slowlog stack frames (raw lines, newline separated, innermost first).
    pub frames: &'a [u8],
}

/// Error/life-cycle event kinds. Ids (see [`EventKind::id`]) are stable and appear in
/// reports and exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum EventKind {
    // nginx: upstream timed out (110) while ...
    UpstreamTimeoutConnect,
    UpstreamTimeoutSend,
    UpstreamTimeoutHeader,
    UpstreamTimeoutRead,
    UpstreamTimeoutOther,
    // nginx: connect() failed (errno: ...)
    ConnectRefused,  // 111
    ConnectNoSocket, // 2: No such file or directory (unix socket)
    ConnectAgain,    // 11: Resource temporarily unavailable (backlog full)
    ConnectNoRoute,  // 113: No route to host
    ConnectFailedOther,
    RecvReset, // recv() failed (104: Connection reset by peer)
    UpstreamPrematureClose,
    NoLiveUpstreams,
    UpstreamHeaderTooBig,
    LimitingRequests,
    LimitingConnections,
    DelayingRequest,
    /// FastCGI sent in stderr with a PHP Fatal error (or Parse error / uncaught exception).
    FastcgiPhpFatal,
    /// FastCGI sent in stderr with anything else (warnings, notices).
    FastcgiStderr,
    WorkerConnectionsNotEnough,
    // php-fpm master log
    FpmMaxChildren,
    FpmSeemsBusy,
    FpmExecutingTooSlow,
    FpmExecutionTimedOut,
    FpmChildSignal,
    FpmChildExitCode,
    FpmChildStarted,
    FpmStarting,
    FpmReady,
    FpmReloading,
    FpmTerminating,
    // php-fpm slowlog record
    FpmSlowTrace,
    // LB health checks and server state (HAProxy "Server b/s is DOWN", "no server available")
    LbServerDown,
    LbServerUp,
    LbNoServer,
    // nginx: the proxy's own resources and life cycle
    /// `(24: Too many open files)` (or 23, the system-wide table) in any call: `accept4()`,
    /// `connect()`, `open()`.
    TooManyOpenFiles,
    /// `connect() failed (99: Cannot assign requested address)`: no free local port.
    ConnectNoLocalAddress,
    /// `connect() failed (101: Network is unreachable)`.
    ConnectNetUnreachable,
    /// `client intended to send too large header`, `client sent too long header line`,
    /// `client sent too large request` (400/494).
    ClientHeaderTooBig,
    /// nginx `signal process started` (`nginx -s reload|stop|quit` was run).
    NginxSignal,
    /// nginx master `reconfiguring` (a reload).
    NginxReconfiguring,
    /// nginx worker `gracefully shutting down` (old workers after a reload, or a stop).
    NginxShuttingDown,
    // kernel (host)
    /// `Out of memory: Killed process N (name) ...` / `Memory cgroup out of memory: Killed
    /// process ...`: `child_pid` is the victim, `script` its command name.
    KernelOomKill,
    /// `TCP: request_sock_TCP: Possible SYN flooding on port N. Sending cookies.`
    SynFlood,
    /// `nf_conntrack: table full, dropping packet`.
    ConntrackFull,
    // PHP's own error_log (php-error)
    /// `PHP Fatal error:  Allowed memory size of N bytes exhausted`: `number` is N.
    PhpMemoryExhausted,
    /// `PHP Fatal error:  Maximum execution time of N seconds exceeded`: `number` is N.
    PhpMaxExecutionTime,
    #[default]
    Other,
}

impl EventKind {
    pub const ALL: [EventKind; 48] = [
        EventKind::UpstreamTimeoutConnect,
        EventKind::UpstreamTimeoutSend,
        EventKind::UpstreamTimeoutHeader,
        EventKind::UpstreamTimeoutRead,
        EventKind::UpstreamTimeoutOther,
        EventKind::ConnectRefused,
        EventKind::ConnectNoSocket,
        EventKind::ConnectAgain,
        EventKind::ConnectNoRoute,
        EventKind::ConnectFailedOther,
        EventKind::RecvReset,
        EventKind::UpstreamPrematureClose,
        EventKind::NoLiveUpstreams,
        EventKind::UpstreamHeaderTooBig,
        EventKind::LimitingRequests,
        EventKind::LimitingConnections,
        EventKind::DelayingRequest,
        EventKind::FastcgiPhpFatal,
        EventKind::FastcgiStderr,
        EventKind::WorkerConnectionsNotEnough,
        EventKind::FpmMaxChildren,
        EventKind::FpmSeemsBusy,
        EventKind::FpmExecutingTooSlow,
        EventKind::FpmExecutionTimedOut,
        EventKind::FpmChildSignal,
        EventKind::FpmChildExitCode,
        EventKind::FpmChildStarted,
        EventKind::FpmStarting,
        EventKind::FpmReady,
        EventKind::FpmReloading,
        EventKind::FpmTerminating,
        EventKind::FpmSlowTrace,
        EventKind::LbServerDown,
        EventKind::LbServerUp,
        EventKind::LbNoServer,
        EventKind::TooManyOpenFiles,
        EventKind::ConnectNoLocalAddress,
        EventKind::ConnectNetUnreachable,
        EventKind::ClientHeaderTooBig,
        EventKind::NginxSignal,
        EventKind::NginxReconfiguring,
        EventKind::NginxShuttingDown,
        EventKind::KernelOomKill,
        EventKind::SynFlood,
        EventKind::ConntrackFull,
        EventKind::PhpMemoryExhausted,
        EventKind::PhpMaxExecutionTime,
        EventKind::Other,
    ];
    pub const COUNT: usize = 48;

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn id(self) -> &'static str {
        use EventKind::*;
        match self {
            UpstreamTimeoutConnect => "upstream_timeout_connect",
            UpstreamTimeoutSend => "upstream_timeout_send",
            UpstreamTimeoutHeader => "upstream_timeout_header",
            UpstreamTimeoutRead => "upstream_timeout_read",
            UpstreamTimeoutOther => "upstream_timeout_other",
            ConnectRefused => "connect_refused",
            ConnectNoSocket => "connect_no_socket",
            ConnectAgain => "connect_eagain",
            ConnectNoRoute => "connect_no_route",
            ConnectFailedOther => "connect_failed",
            RecvReset => "recv_reset",
            UpstreamPrematureClose => "upstream_premature_close",
            NoLiveUpstreams => "no_live_upstreams",
            UpstreamHeaderTooBig => "upstream_header_too_big",
            LimitingRequests => "limiting_requests",
            LimitingConnections => "limiting_connections",
            DelayingRequest => "delaying_request",
            FastcgiPhpFatal => "php_fatal",
            FastcgiStderr => "fastcgi_stderr",
            WorkerConnectionsNotEnough => "worker_connections_not_enough",
            FpmMaxChildren => "fpm_max_children",
            FpmSeemsBusy => "fpm_seems_busy",
            FpmExecutingTooSlow => "fpm_executing_too_slow",
            FpmExecutionTimedOut => "fpm_execution_timed_out",
            FpmChildSignal => "fpm_child_signal",
            FpmChildExitCode => "fpm_child_exit_code",
            FpmChildStarted => "fpm_child_started",
            FpmStarting => "fpm_starting",
            FpmReady => "fpm_ready",
            FpmReloading => "fpm_reloading",
            FpmTerminating => "fpm_terminating",
            FpmSlowTrace => "fpm_slow_trace",
            LbServerDown => "lb_server_down",
            LbServerUp => "lb_server_up",
            LbNoServer => "lb_no_server",
            TooManyOpenFiles => "too_many_open_files",
            ConnectNoLocalAddress => "connect_no_local_address",
            ConnectNetUnreachable => "connect_net_unreachable",
            ClientHeaderTooBig => "client_header_too_big",
            NginxSignal => "nginx_signal",
            NginxReconfiguring => "nginx_reconfiguring",
            NginxShuttingDown => "nginx_shutting_down",
            KernelOomKill => "kernel_oom_kill",
            SynFlood => "syn_flood",
            ConntrackFull => "conntrack_full",
            PhpMemoryExhausted => "php_memory_exhausted",
            PhpMaxExecutionTime => "php_max_execution_time",
            Other => "other",
        }
    }

    /// Whether this kind is an error worth marking on a timeline (as opposed to life-cycle
    /// noise such as `child started`).
    pub fn is_error(self) -> bool {
        use EventKind::*;
        !matches!(
            self,
            FpmChildStarted
                | FpmStarting
                | FpmReady
                | DelayingRequest
                | LbServerUp
                | NginxSignal
                | NginxReconfiguring
                | NginxShuttingDown
                | Other
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Severity {
    Debug,
    Info,
    #[default]
    Notice,
    Warn,
    Error,
    Crit,
    Alert,
    Emerg,
}

impl Severity {
    /// nginx `[level]` and php-fpm `LEVEL:` words.
    pub fn from_bytes(b: &[u8]) -> Option<Severity> {
        Some(match b {
            b"debug" | b"DEBUG" => Severity::Debug,
            b"info" | b"INFO" => Severity::Info,
            b"notice" | b"NOTICE" => Severity::Notice,
            b"warn" | b"WARNING" | b"warning" => Severity::Warn,
            b"error" | b"ERROR" => Severity::Error,
            b"crit" | b"CRIT" | b"CRITICAL" => Severity::Crit,
            b"alert" | b"ALERT" => Severity::Alert,
            b"emerg" | b"EMERG" | b"EMERGENCY" => Severity::Emerg,
            _ => return None,
        })
    }

    pub fn id(self) -> &'static str {
        match self {
            Severity::Debug => "debug",
            Severity::Info => "info",
            Severity::Notice => "notice",
            Severity::Warn => "warn",
            Severity::Error => "error",
            Severity::Crit => "crit",
            Severity::Alert => "alert",
            Severity::Emerg => "emerg",
        }
    }
}

/// Why a record could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub kind: ErrorKind,
    /// The field being read (`"status"`, `"time_local"`, `"request"`...).
    pub field: &'static str,
    /// Byte offset within the record where parsing failed.
    pub pos: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The record ended before this field.
    Truncated,
    /// A literal separator or quote was expected here.
    Expected(&'static str),
    /// The field's bytes are not a valid value (number, timestamp, status...).
    Invalid,
    /// The record does not look like this format at all.
    NotThisFormat,
    /// Bytes left after the last field.
    Trailing,
}

impl ParseError {
    pub fn new(kind: ErrorKind, field: &'static str, pos: usize) -> Self {
        ParseError { kind, field, pos }
    }
    pub fn invalid(field: &'static str, pos: usize) -> Self {
        Self::new(ErrorKind::Invalid, field, pos)
    }
    pub fn truncated(field: &'static str, pos: usize) -> Self {
        Self::new(ErrorKind::Truncated, field, pos)
    }
    pub fn expected(what: &'static str, field: &'static str, pos: usize) -> Self {
        Self::new(ErrorKind::Expected(what), field, pos)
    }
    pub fn not_this_format(pos: usize) -> Self {
        Self::new(ErrorKind::NotThisFormat, "line", pos)
    }
    /// A short stable reason, used to group rejected lines.
    pub fn reason(&self) -> String {
        match self.kind {
            ErrorKind::Truncated => format!("line ends before field {}", self.field),
            ErrorKind::Expected(w) => format!("expected {} at field {}", w, self.field),
            ErrorKind::Invalid => format!("invalid {}", self.field),
            ErrorKind::NotThisFormat => "does not match the format".to_string(),
            ErrorKind::Trailing => "unexpected bytes after the last field".to_string(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (byte {})", self.reason(), self.pos)
    }
}

impl std::error::Error for ParseError {}

/// Options that configure parser construction.
#[derive(Clone, Debug, Default)]
pub struct ParserOptions {
    /// nginx `log_format` (or php-fpm `access.format` for [`Format::FpmAccess`]) strings to
    /// use, in order of preference. Empty: the format's defaults.
    pub log_formats: Vec<String>,
    /// nginx `log_format` strings inferred from inputs that no format matched
    /// ([`infer::infer`]): tried after `log_formats` (or after the built-in defaults). php-fpm
    /// `access.format`s inferred ([`fpm_infer`]; they hold no `$`) go here too: the
    /// fpm-access parser takes those, nginx-access the others.
    pub inferred: Vec<String>,
    /// The year of timestamps written without one (RFC 3164 syslog prefixes), resolved by the
    /// caller per input. `None`: the clock's now ([`time::YearHint::now`]).
    pub year_hint: Option<time::YearHint>,
}

/// Build a parser for `format`. Fails only when a given format string does not compile.
pub fn build(format: Format, opts: &ParserOptions) -> Result<Box<dyn LineParser>, String> {
    match format {
        Format::NginxAccess => build_nginx_access(opts),
        Format::NginxError => Ok(Box::new(nginx_error::NginxErrorParser::new())),
        Format::FpmError => Ok(Box::new(fpm::FpmErrorParser::with_hint(
            opts.year_hint.unwrap_or_else(time::YearHint::now),
        ))),
        Format::FpmSlow => Ok(Box::new(fpm_slow::FpmSlowParser::new())),
        Format::FpmAccess => fpm_access::build_with_inferred(&opts.log_formats, &opts.inferred),
        Format::Alb => Ok(Box::new(lb::alb::AlbParser::new())),
        Format::Elb => Ok(Box::new(lb::elb::ElbParser::new())),
        Format::Slb => Ok(Box::new(lb::slb::SlbParser::new())),
        Format::Haproxy => Ok(Box::new(lb::haproxy::HaproxyParser::with_hint(
            opts.year_hint.unwrap_or_else(time::YearHint::now),
        ))),
        Format::Envoy => Ok(Box::new(lb::envoy::EnvoyParser::new())),
        Format::Traefik => Ok(Box::new(lb::traefik::TraefikParser::new())),
        Format::PhpError => Ok(Box::new(php_error::PhpErrorParser::new())),
        Format::Caddy => Ok(Box::new(caddy::CaddyParser::new())),
        Format::Kernel => Ok(Box::new(kernel::KernelParser::new())),
    }
}

/// The nginx-access parser: the given `log_format`s (else the built-in defaults), then the
/// inferred ones.
fn build_nginx_access(opts: &ParserOptions) -> Result<Box<dyn LineParser>, String> {
    // (php-fpm `access.format`s inferred for other inputs are not nginx's)
    let inferred: Vec<&String> = opts
        .inferred
        .iter()
        .filter(|f| !fpm_access::is_access_format(f))
        .collect();
    if inferred.is_empty() {
        return nginx_access::build(&opts.log_formats);
    }
    let mut formats: Vec<String> = if opts.log_formats.is_empty() {
        nginx_access::DEFAULT_FORMATS
            .iter()
            .map(|(_, f)| f.to_string())
            .collect()
    } else {
        opts.log_formats.clone()
    };
    formats.extend(inferred.into_iter().cloned());
    nginx_access::build(&formats)
}
