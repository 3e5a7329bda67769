//! `--parquet DIR`: `requests`, `events`, `rejected`, `timeline` and `incidents` tables.
//!
//! Row tables come from a [`RowSink`] per pipeline job: it frames and parses the job's lines
//! again with its own parser (the same code path as the analysis, see `pipeline::Worker`) and
//! streams record batches of [`BATCH_ROWS`] rows through an `ArrowWriter` into a part file
//! per (table, partition, job). [`ParquetExport::finish`] then concatenates the parts of each
//! (table, partition) in input order into the final file, shifting the line numbers of later
//! chunks of a split file, so the tables hold the same rows in the same order whatever the
//! thread count. Memory stays flat: at most one batch and one row group per open writer.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::builder::{
    DurationMicrosecondBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
    StringDictionaryBuilder, StructBuilder, TimestampMicrosecondBuilder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use gatelog_parsers::{
    self as parsers, EventKind, Format, Framing, Layer, LineParser, ParseError, Record,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{host_of_path, sanitize_part, Partition, RowSink, RowSinkFactory};
use crate::input::{LineItem, Source};
use crate::pipeline::{Job, RunOptions};
use crate::report::Report;
use crate::tz::{TzChoice, TzResolver};

/// Rows per record batch handed to the writer.
pub const BATCH_ROWS: usize = 32 * 1024;
/// Rows per Parquet row group (bounds what a writer buffers before flushing to disk).
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Hive's name for a partition whose value is null (rejected lines have no date).
const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Table {
    Requests,
    Events,
    Rejected,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Requests => "requests",
            Table::Events => "events",
            Table::Rejected => "rejected",
        }
    }
    fn schema(self) -> SchemaRef {
        match self {
            Table::Requests => requests_schema(),
            Table::Events => events_schema(),
            Table::Rejected => rejected_schema(),
        }
    }
}

fn dict() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}
fn ts_utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}
fn f(name: &str, t: DataType, nullable: bool) -> Field {
    Field::new(name, t, nullable)
}

fn requests_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("ts", ts_utc(), false),
        f("format", dict(), false),
        f("layer", dict(), false),
        f("file", dict(), false),
        f("line", DataType::UInt64, false),
        f("offset", DataType::UInt64, false),
        f("client", DataType::Utf8, true),
        f("method", dict(), true),
        f("http_host", DataType::Utf8, true),
        f("path", DataType::Utf8, true),
        f("protocol", dict(), true),
        f("status", DataType::UInt16, false),
        f("status_class", dict(), false),
        f("bytes_sent", DataType::UInt64, true),
        f(
            "request_time",
            DataType::Duration(TimeUnit::Microsecond),
            true,
        ),
        f(
            "upstream_time",
            DataType::Duration(TimeUnit::Microsecond),
            true,
        ),
        f("upstream", DataType::Utf8, true),
        f("upstream_addr", DataType::Utf8, true),
        f("upstream_status", DataType::Utf8, true),
        f("trace_id", DataType::Utf8, true),
        f("lb_flags", DataType::Utf8, true),
        f("route", DataType::Utf8, true),
        f("referer", DataType::Utf8, true),
        f("user_agent", DataType::Utf8, true),
    ]))
}

fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("ts", ts_utc(), false),
        f("format", dict(), false),
        f("layer", dict(), false),
        f("file", dict(), false),
        f("line", DataType::UInt64, false),
        f("offset", DataType::UInt64, false),
        f("kind", dict(), false),
        f("severity", dict(), false),
        f("pid", DataType::UInt32, true),
        f("tid", DataType::UInt32, true),
        f("conn", DataType::UInt64, true),
        f("message", DataType::Utf8, true),
        f("client", DataType::Utf8, true),
        f("server", DataType::Utf8, true),
        f("request", DataType::Utf8, true),
        f("upstream", DataType::Utf8, true),
        f("http_host", DataType::Utf8, true),
        f("pool", DataType::Utf8, true),
        f("child_pid", DataType::UInt32, true),
        f("number", DataType::Int64, true),
        f("script", DataType::Utf8, true),
        f("frames", DataType::Utf8, true),
    ]))
}

fn rejected_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        f("format", dict(), false),
        f("layer", dict(), false),
        f("file", dict(), false),
        f("line", DataType::UInt64, false),
        f("offset", DataType::UInt64, false),
        f("lines", DataType::UInt64, false),
        f("reason", dict(), false),
        f("bytes", DataType::UInt64, false),
        f("text", DataType::Utf8, true),
    ]))
}

fn props() -> WriterProperties {
    let level = ZstdLevel::try_new(3).unwrap_or_default();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("gatelog {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Empty → null.
fn opt_str(bld: &mut StringBuilder, b: &[u8]) {
    if b.is_empty() {
        bld.append_null();
    } else {
        bld.append_value(lossy(b));
    }
}

fn opt_dict(bld: &mut StringDictionaryBuilder<Int32Type>, b: &[u8]) {
    if b.is_empty() {
        bld.append_null();
    } else {
        bld.append_value(lossy(b));
    }
}

/// Columns of one table under construction.
trait Rows: Send {
    fn len(&self) -> usize;
    fn finish(&mut self) -> Result<RecordBatch, String>;
}

struct ReqRows {
    ts: TimestampMicrosecondBuilder,
    format: StringDictionaryBuilder<Int32Type>,
    layer: StringDictionaryBuilder<Int32Type>,
    file: StringDictionaryBuilder<Int32Type>,
    line: UInt64Builder,
    offset: UInt64Builder,
    client: StringBuilder,
    method: StringDictionaryBuilder<Int32Type>,
    http_host: StringBuilder,
    path: StringBuilder,
    protocol: StringDictionaryBuilder<Int32Type>,
    status: UInt16Builder,
    status_class: StringDictionaryBuilder<Int32Type>,
    bytes_sent: UInt64Builder,
    request_time: DurationMicrosecondBuilder,
    upstream_time: DurationMicrosecondBuilder,
    upstream: StringBuilder,
    upstream_addr: StringBuilder,
    upstream_status: StringBuilder,
    trace_id: StringBuilder,
    lb_flags: StringBuilder,
    route: StringBuilder,
    referer: StringBuilder,
    user_agent: StringBuilder,
    n: usize,
}

impl ReqRows {
    fn new() -> Self {
        ReqRows {
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            format: StringDictionaryBuilder::new(),
            layer: StringDictionaryBuilder::new(),
            file: StringDictionaryBuilder::new(),
            line: UInt64Builder::new(),
            offset: UInt64Builder::new(),
            client: StringBuilder::new(),
            method: StringDictionaryBuilder::new(),
            http_host: StringBuilder::new(),
            path: StringBuilder::new(),
            protocol: StringDictionaryBuilder::new(),
            status: UInt16Builder::new(),
            status_class: StringDictionaryBuilder::new(),
            bytes_sent: UInt64Builder::new(),
            request_time: DurationMicrosecondBuilder::new(),
            upstream_time: DurationMicrosecondBuilder::new(),
            upstream: StringBuilder::new(),
            upstream_addr: StringBuilder::new(),
            upstream_status: StringBuilder::new(),
            trace_id: StringBuilder::new(),
            lb_flags: StringBuilder::new(),
            route: StringBuilder::new(),
            referer: StringBuilder::new(),
            user_agent: StringBuilder::new(),
            n: 0,
        }
    }
}

const STATUS_CLASS: [&str; 6] = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];

impl Rows for ReqRows {
    fn len(&self) -> usize {
        self.n
    }
    fn finish(&mut self) -> Result<RecordBatch, String> {
        self.n = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.format.finish()),
            Arc::new(self.layer.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.client.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.http_host.finish()),
            Arc::new(self.path.finish()),
            Arc::new(self.protocol.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.status_class.finish()),
            Arc::new(self.bytes_sent.finish()),
            Arc::new(self.request_time.finish()),
            Arc::new(self.upstream_time.finish()),
            Arc::new(self.upstream.finish()),
            Arc::new(self.upstream_addr.finish()),
            Arc::new(self.upstream_status.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.lb_flags.finish()),
            Arc::new(self.route.finish()),
            Arc::new(self.referer.finish()),
            Arc::new(self.user_agent.finish()),
        ];
        RecordBatch::try_new(requests_schema(), cols).map_err(|e| e.to_string())
    }
}

struct EvRows {
    ts: TimestampMicrosecondBuilder,
    format: StringDictionaryBuilder<Int32Type>,
    layer: StringDictionaryBuilder<Int32Type>,
    file: StringDictionaryBuilder<Int32Type>,
    line: UInt64Builder,
    offset: UInt64Builder,
    kind: StringDictionaryBuilder<Int32Type>,
    severity: StringDictionaryBuilder<Int32Type>,
    pid: UInt32Builder,
    tid: UInt32Builder,
    conn: UInt64Builder,
    message: StringBuilder,
    client: StringBuilder,
    server: StringBuilder,
    request: StringBuilder,
    upstream: StringBuilder,
    http_host: StringBuilder,
    pool: StringBuilder,
    child_pid: UInt32Builder,
    number: Int64Builder,
    script: StringBuilder,
    frames: StringBuilder,
    n: usize,
}

impl EvRows {
    fn new() -> Self {
        EvRows {
            ts: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            format: StringDictionaryBuilder::new(),
            layer: StringDictionaryBuilder::new(),
            file: StringDictionaryBuilder::new(),
            line: UInt64Builder::new(),
            offset: UInt64Builder::new(),
            kind: StringDictionaryBuilder::new(),
            severity: StringDictionaryBuilder::new(),
            pid: UInt32Builder::new(),
            tid: UInt32Builder::new(),
            conn: UInt64Builder::new(),
            message: StringBuilder::new(),
            client: StringBuilder::new(),
            server: StringBuilder::new(),
            request: StringBuilder::new(),
            upstream: StringBuilder::new(),
            http_host: StringBuilder::new(),
            pool: StringBuilder::new(),
            child_pid: UInt32Builder::new(),
            number: Int64Builder::new(),
            script: StringBuilder::new(),
            frames: StringBuilder::new(),
            n: 0,
        }
    }
}

impl Rows for EvRows {
    fn len(&self) -> usize {
        self.n
    }
    fn finish(&mut self) -> Result<RecordBatch, String> {
        self.n = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.format.finish()),
            Arc::new(self.layer.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.severity.finish()),
            Arc::new(self.pid.finish()),
            Arc::new(self.tid.finish()),
            Arc::new(self.conn.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.client.finish()),
            Arc::new(self.server.finish()),
            Arc::new(self.request.finish()),
            Arc::new(self.upstream.finish()),
            Arc::new(self.http_host.finish()),
            Arc::new(self.pool.finish()),
            Arc::new(self.child_pid.finish()),
            Arc::new(self.number.finish()),
            Arc::new(self.script.finish()),
            Arc::new(self.frames.finish()),
        ];
        RecordBatch::try_new(events_schema(), cols).map_err(|e| e.to_string())
    }
}

struct RejRows {
    format: StringDictionaryBuilder<Int32Type>,
    layer: StringDictionaryBuilder<Int32Type>,
    file: StringDictionaryBuilder<Int32Type>,
    line: UInt64Builder,
    offset: UInt64Builder,
    lines: UInt64Builder,
    reason: StringDictionaryBuilder<Int32Type>,
    bytes: UInt64Builder,
    text: StringBuilder,
    n: usize,
}

impl RejRows {
    fn new() -> Self {
        RejRows {
            format: StringDictionaryBuilder::new(),
            layer: StringDictionaryBuilder::new(),
            file: StringDictionaryBuilder::new(),
            line: UInt64Builder::new(),
            offset: UInt64Builder::new(),
            lines: UInt64Builder::new(),
            reason: StringDictionaryBuilder::new(),
            bytes: UInt64Builder::new(),
            text: StringBuilder::new(),
            n: 0,
        }
    }
}

impl Rows for RejRows {
    fn len(&self) -> usize {
        self.n
    }
    fn finish(&mut self) -> Result<RecordBatch, String> {
        self.n = 0;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.format.finish()),
            Arc::new(self.layer.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.lines.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.text.finish()),
        ];
        RecordBatch::try_new(rejected_schema(), cols).map_err(|e| e.to_string())
    }
}

/// One part file being written: a batch under construction and its writer.
struct Part<R: Rows> {
    rows: R,
    writer: Option<ArrowWriter<File>>,
    path: PathBuf,
    written: u64,
    /// Order of the part within its job (a partition left and re-entered gets a new part).
    seq: u64,
}

/// What a finished job left behind.
#[derive(Debug)]
struct PartFile {
    table: Table,
    partition: String,
    /// (input id, first byte) orders parts like the jobs in input order.
    key: (usize, u64),
    seq: u64,
    path: PathBuf,
}

#[derive(Debug, Default)]
struct Shared {
    parts: Vec<PartFile>,
    /// (key, input id, physical lines) of every job, for the line-number shift of chunks.
    jobs: Vec<((usize, u64), usize, u64)>,
    errors: Vec<String>,
    seq: u64,
}

/// The `--parquet` export of one run.
#[derive(Debug)]
pub struct ParquetExport {
    dir: PathBuf,
    tmp: PathBuf,
    partition: Vec<Partition>,
    host: Option<String>,
    shared: Arc<Mutex<Shared>>,
}

/// What [`ParquetExport::finish`] wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// table → rows
    pub rows: BTreeMap<String, u64>,
    pub files: Vec<PathBuf>,
}

impl ParquetExport {
    /// Prepare `dir` (created if missing). `host` is `--host NAME`.
    pub fn new(
        dir: &Path,
        partition: Vec<Partition>,
        host: Option<String>,
    ) -> Result<Arc<Self>, String> {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "--parquet {}: cannot create the directory: {e}; check the path and permissions",
                dir.display()
            )
        })?;
        let tmp = dir.join(format!(".gatelog-parts-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).map_err(|e| {
            format!(
                "--parquet {}: cannot write in the directory: {e}; check the path and permissions",
                dir.display()
            )
        })?;
        Ok(Arc::new(ParquetExport {
            dir: dir.to_path_buf(),
            tmp,
            partition,
            host: host.map(|h| sanitize_part(&h)),
            shared: Arc::new(Mutex::new(Shared::default())),
        }))
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        match self.shared.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn run_host(&self, report: &Report) -> String {
        if let Some(h) = &self.host {
            return h.clone();
        }
        let mut hosts: Vec<String> = report
            .inputs
            .iter()
            .map(|i| host_of_path(&i.path))
            .collect();
        hosts.sort();
        hosts.dedup();
        match hosts.as_slice() {
            [one] => one.clone(),
            _ => "multiple".into(),
        }
    }

    /// Merge the part files in input order into the final tables, write `timeline` and
    /// `incidents` from the report, and remove the scratch directory.
    pub fn finish(&self, report: &Report) -> Result<Written, String> {
        let r = self.finish_inner(report);
        let _ = std::fs::remove_dir_all(&self.tmp);
        r
    }

    fn finish_inner(&self, report: &Report) -> Result<Written, String> {
        let (parts, jobs, errors) = {
            let mut g = self.lock();
            (
                std::mem::take(&mut g.parts),
                std::mem::take(&mut g.jobs),
                std::mem::take(&mut g.errors),
            )
        };
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        // line shift of each job: lines of the earlier jobs of the same input
        let mut jobs = jobs;
        jobs.sort_by_key(|j| j.0);
        let mut seen: HashMap<usize, u64> = HashMap::new();
        let mut shift: HashMap<(usize, u64), u64> = HashMap::new();
        for (key, input, lines) in jobs {
            let s = seen.entry(input).or_insert(0);
            shift.insert(key, *s);
            *s += lines;
        }
        let mut groups: BTreeMap<(Table, String), Vec<PartFile>> = BTreeMap::new();
        for p in parts {
            groups
                .entry((p.table, p.partition.clone()))
                .or_default()
                .push(p);
        }
        let mut out = Written::default();
        for t in [Table::Requests, Table::Events, Table::Rejected] {
            out.rows.insert(t.name().into(), 0);
            if self.partition.is_empty() && !groups.keys().any(|k| k.0 == t) {
                groups.insert((t, String::new()), Vec::new());
            }
        }
        for ((table, partition), mut ps) in groups {
            ps.sort_by_key(|p| (p.key, p.seq));
            let target = self.target(table.name(), &partition)?;
            let n = merge(&target, table, &ps, &shift)?;
            *out.rows.entry(table.name().into()).or_insert(0) += n;
            out.files.push(target);
        }
        let host = self.run_host(report);
        for (name, parts) in [
            (
                "timeline",
                timeline_batches(report, &self.partition, &host)?,
            ),
            (
                "incidents",
                incidents_batches(report, &self.partition, &host)?,
            ),
        ] {
            let mut total = 0;
            for (partition, batch) in parts {
                let target = self.target(name, &partition)?;
                total += batch.num_rows() as u64;
                write_one(&target, &batch)?;
                out.files.push(target);
            }
            out.rows.insert(name.into(), total);
        }
        Ok(out)
    }

    /// `DIR/<table>.parquet`, or `DIR/<table>/<partition>/part-<n>.parquet` with the first
    /// unused `n` (a nightly run adds a part; it never overwrites an earlier night's).
    fn target(&self, table: &str, partition: &str) -> Result<PathBuf, String> {
        if self.partition.is_empty() {
            return Ok(self.dir.join(format!("{table}.parquet")));
        }
        let d = self.dir.join(table).join(partition);
        std::fs::create_dir_all(&d)
            .map_err(|e| format!("{}: cannot create the directory: {e}", d.display()))?;
        let mut n = 0;
        loop {
            let p = d.join(format!("part-{n}.parquet"));
            if !p.exists() {
                return Ok(p);
            }
            n += 1;
        }
    }
}

/// Partition directory for a row (`date=2026-11-23/host=web01`), empty without
/// `--partition`.
fn partition_dir(partition: &[Partition], day: Option<i64>, host: &str) -> String {
    let mut s = String::new();
    for p in partition {
        if !s.is_empty() {
            s.push('/');
        }
        match p {
            Partition::Date => {
                s.push_str("date=");
                match day.and_then(|d| chrono::DateTime::from_timestamp(d * 86400, 0)) {
                    Some(t) => s.push_str(&t.format("%Y-%m-%d").to_string()),
                    None => s.push_str(NULL_PARTITION),
                }
            }
            Partition::Host => {
                s.push_str("host=");
                s.push_str(host);
            }
        }
    }
    s
}

impl Drop for ParquetExport {
    fn drop(&mut self) {
        // the scratch directory of part files, also when the run ended early
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

fn day_of(us: i64) -> i64 {
    us.div_euclid(86_400_000_000)
}

fn io_err(p: &Path, e: impl std::fmt::Display) -> String {
    format!(
        "{}: cannot write Parquet: {e}; check free space and permissions",
        p.display()
    )
}

fn write_one(target: &Path, batch: &RecordBatch) -> Result<(), String> {
    let tmp = target.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    let mut w =
        ArrowWriter::try_new(file, batch.schema(), Some(props())).map_err(|e| io_err(&tmp, e))?;
    w.write(batch).map_err(|e| io_err(&tmp, e))?;
    w.close().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, target).map_err(|e| io_err(target, e))
}

/// Concatenate part files (in order) into `target`, shifting `line` by each part's job shift.
fn merge(
    target: &Path,
    table: Table,
    parts: &[PartFile],
    shift: &HashMap<(usize, u64), u64>,
) -> Result<u64, String> {
    let tmp = target.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    let schema = table.schema();
    let line_col = schema.index_of("line").ok();
    let mut w =
        ArrowWriter::try_new(file, schema.clone(), Some(props())).map_err(|e| io_err(&tmp, e))?;
    let mut rows = 0u64;
    for p in parts {
        let by = shift.get(&p.key).copied().unwrap_or(0);
        let f = File::open(&p.path).map_err(|e| io_err(&p.path, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| io_err(&p.path, e))?
            .with_batch_size(BATCH_ROWS)
            .build()
            .map_err(|e| io_err(&p.path, e))?;
        for b in reader {
            let mut b = b.map_err(|e| io_err(&p.path, e))?;
            if let (true, Some(i)) = (by > 0, line_col) {
                let lines = b
                    .column(i)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .map(|a| a.iter().map(|v| v.map(|v| v + by)).collect::<UInt64Array>());
                if let Some(lines) = lines {
                    let mut cols = b.columns().to_vec();
                    if let Some(c) = cols.get_mut(i) {
                        *c = Arc::new(lines);
                    }
                    b = RecordBatch::try_new(schema.clone(), cols)
                        .map_err(|e| io_err(&p.path, e))?;
                }
            }
            rows += b.num_rows() as u64;
            w.write(&b).map_err(|e| io_err(&tmp, e))?;
        }
        let _ = std::fs::remove_file(&p.path);
    }
    w.close().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, target).map_err(|e| io_err(target, e))?;
    Ok(rows)
}

impl RowSinkFactory for ParquetExport {
    fn open(&self, job: &Job, opts: &RunOptions, tz: &TzChoice) -> Box<dyn RowSink> {
        let host = match &self.host {
            Some(h) => h.clone(),
            None => match &job.input.source {
                Source::Stdin => "stdin".into(),
                Source::File(_) => host_of_path(&job.input.name),
            },
        };
        let parser = parsers::build(job.format, &opts.parser_opts).ok();
        let multiline = parser
            .as_ref()
            .is_some_and(|p| p.framing() == Framing::MultiLine);
        Box::new(JobSink {
            shared: self.shared.clone(),
            tmp: self.tmp.clone(),
            partition: self.partition.clone(),
            key: (job.input.id, job.range.map(|r| r.0).unwrap_or(0)),
            input: job.input.id,
            name: job.input.name.clone(),
            format: job.format,
            layer: job.format.layer(),
            parser,
            multiline,
            tz: tz.resolver(),
            since: opts.since_us,
            until: opts.until_us,
            max_line: opts.max_line,
            host,
            pending: Vec::new(),
            pending_line: 0,
            pending_offset: 0,
            pending_lines: 0,
            lines: 0,
            day: (i64::MIN, String::new()),
            req: HashMap::new(),
            ev: HashMap::new(),
            rej: HashMap::new(),
            error: None,
        })
    }
}

struct JobSink {
    shared: Arc<Mutex<Shared>>,
    tmp: PathBuf,
    partition: Vec<Partition>,
    key: (usize, u64),
    input: usize,
    name: String,
    format: Format,
    layer: Layer,
    parser: Option<Box<dyn LineParser>>,
    multiline: bool,
    tz: TzResolver,
    since: Option<i64>,
    until: Option<i64>,
    max_line: usize,
    host: String,
    pending: Vec<u8>,
    pending_line: u64,
    pending_offset: u64,
    pending_lines: u64,
    /// Physical lines seen (as counted by the analysis).
    lines: u64,
    /// Cached partition of the last day seen.
    day: (i64, String),
    req: HashMap<String, Part<ReqRows>>,
    ev: HashMap<String, Part<EvRows>>,
    rej: HashMap<String, Part<RejRows>>,
    error: Option<String>,
}

impl RowSink for JobSink {
    fn duplicate(&mut self, item: &LineItem<'_>) {
        // only line-framed inputs are deduplicated: one physical line, no pending record
        if let LineItem::Line { .. } = item {
            self.lines += 1;
        }
    }

    fn item(&mut self, item: &LineItem<'_>) {
        match *item {
            LineItem::Line {
                bytes,
                line_no,
                offset,
            } => {
                if self.multiline {
                    self.frame(bytes, line_no, offset);
                } else {
                    self.lines += 1;
                    self.record(bytes, 1, line_no, offset);
                }
            }
            LineItem::TooLong {
                line_no,
                offset,
                len,
            } => {
                if self.multiline {
                    self.flush();
                }
                self.lines += 1;
                let reason = format!("line longer than --max-line ({} bytes)", self.max_line);
                self.reject(line_no, offset, 1, &reason, len, None);
            }
        }
    }
}

/// Get or open the part of `table` for `partition`.
fn part_for<'a, R: Rows>(
    map: &'a mut HashMap<String, Part<R>>,
    partition: &str,
    make: impl FnOnce() -> R,
) -> &'a mut Part<R> {
    if !map.contains_key(partition) {
        map.insert(
            partition.to_string(),
            Part {
                rows: make(),
                writer: None,
                path: PathBuf::new(),
                written: 0,
                seq: 0,
            },
        );
    }
    match map.get_mut(partition) {
        Some(p) => p,
        None => unreachable!("inserted above"),
    }
}

impl JobSink {
    // Same framing as pipeline::Worker::frame/flush.
    fn frame(&mut self, line: &[u8], line_no: u64, offset: u64) {
        self.lines += 1;
        if self.pending_lines > 0 && self.parser.as_ref().is_some_and(|p| !p.starts_record(line)) {
            if self.pending.len() < self.max_line {
                self.pending.push(b'\n');
                self.pending
                    .extend_from_slice(&line[..line.len().min(self.max_line)]);
            }
            self.pending_lines += 1;
            return;
        }
        self.flush();
        self.pending.clear();
        self.pending.extend_from_slice(line);
        self.pending_line = line_no;
        self.pending_offset = offset;
        self.pending_lines = 1;
    }

    fn flush(&mut self) {
        if self.pending_lines == 0 {
            return;
        }
        let rec = std::mem::take(&mut self.pending);
        let n = self.pending_lines;
        self.pending_lines = 0;
        self.record(&rec, n, self.pending_line, self.pending_offset);
        self.pending = rec;
        self.pending.clear();
    }

    /// Enter the day of `utc`: a cold path taken when the day changes. Parts of other
    /// partitions are closed once two are open, so a long log spread over many days keeps at
    /// most two writers per table open (a later return to a day opens a new part).
    fn enter_day(&mut self, utc: i64) {
        let d = day_of(utc);
        if self.day.0 == d {
            return;
        }
        self.day = (d, partition_dir(&self.partition, Some(d), &self.host));
        let keep = self.day.1.clone();
        let r = retire(
            &mut self.req,
            &keep,
            Table::Requests,
            &self.tmp,
            &self.shared,
            self.key,
        );
        keep_err(&mut self.error, r);
        let r = retire(
            &mut self.ev,
            &keep,
            Table::Events,
            &self.tmp,
            &self.shared,
            self.key,
        );
        keep_err(&mut self.error, r);
    }

    /// Same accounting as pipeline::Worker::record: a record is parsed when one of its
    /// records parsed, skipped when all fell outside --since/--until, else rejected.
    fn record(&mut self, rec: &[u8], n_lines: u64, line_no: u64, offset: u64) {
        let Some(mut parser) = self.parser.take() else {
            return;
        };
        let (mut ok, mut skipped, mut failed): (u32, u32, Option<ParseError>) = (0, 0, None);
        parser.parse_each(rec, &mut |res| match res {
            Ok(Record::Request(r)) => {
                let off = match r.ts.offset {
                    Some(o) => o,
                    None => self.tz.offset(r.ts.wall_us),
                };
                let utc = r.ts.wall_us - off as i64 * 1_000_000;
                if self.since.is_some_and(|s| utc < s) || self.until.is_some_and(|u| utc >= u) {
                    skipped += 1;
                    return;
                }
                ok += 1;
                let up_us = if r.upstream_response_time.is_empty() {
                    None
                } else {
                    gatelog_parsers::lb::upstream_time_us(self.format, r.upstream_response_time)
                };
                self.enter_day(utc);
                let (format, layer, name) = (self.format, self.layer, &self.name);
                let p = part_for(&mut self.req, &self.day.1, ReqRows::new);
                let b = &mut p.rows;
                b.ts.append_value(utc);
                b.format.append_value(format.id());
                b.layer.append_value(layer.id());
                b.file.append_value(name);
                b.line.append_value(line_no);
                b.offset.append_value(offset);
                opt_str(&mut b.client, r.client);
                opt_dict(&mut b.method, r.method);
                opt_str(&mut b.http_host, r.host);
                opt_str(
                    &mut b.path,
                    if r.path.is_empty() {
                        r.request_line
                    } else {
                        r.path
                    },
                );
                opt_dict(&mut b.protocol, r.protocol);
                b.status.append_value(r.status);
                let class = (r.status / 100) as usize;
                b.status_class
                    .append_value(STATUS_CLASS.get(class).copied().unwrap_or("other"));
                b.bytes_sent.append_option(r.bytes_sent);
                b.request_time
                    .append_option(r.request_time_us.map(|v| v.min(i64::MAX as u64) as i64));
                b.upstream_time
                    .append_option(up_us.map(|v| v.min(i64::MAX as u64) as i64));
                let last = gatelog_parsers::fields::upstream_last(r.upstream_addr);
                if last == b"-" {
                    b.upstream.append_null();
                } else {
                    opt_str(&mut b.upstream, last);
                }
                opt_str(&mut b.upstream_addr, r.upstream_addr);
                opt_str(&mut b.upstream_status, r.upstream_status);
                opt_str(&mut b.trace_id, r.trace_id);
                opt_str(&mut b.lb_flags, r.lb_flags);
                opt_str(&mut b.route, r.route);
                opt_str(&mut b.referer, r.referer);
                opt_str(&mut b.user_agent, r.user_agent);
                b.n += 1;
                if b.n >= BATCH_ROWS {
                    let r = flush_part(p, &self.tmp, Table::Requests, &self.shared);
                    keep_err(&mut self.error, r);
                }
            }
            Ok(Record::Event(e)) => {
                let off = match e.ts.offset {
                    Some(o) => o,
                    None => self.tz.offset(e.ts.wall_us),
                };
                let utc = e.ts.wall_us - off as i64 * 1_000_000;
                if self.since.is_some_and(|s| utc < s) || self.until.is_some_and(|u| utc >= u) {
                    skipped += 1;
                    return;
                }
                ok += 1;
                self.enter_day(utc);
                let (format, layer, name) = (self.format, self.layer, &self.name);
                let p = part_for(&mut self.ev, &self.day.1, EvRows::new);
                let b = &mut p.rows;
                b.ts.append_value(utc);
                b.format.append_value(format.id());
                b.layer.append_value(layer.id());
                b.file.append_value(name);
                b.line.append_value(line_no);
                b.offset.append_value(offset);
                b.kind.append_value(e.kind.id());
                b.severity.append_value(e.severity.id());
                b.pid.append_option(e.pid);
                b.tid.append_option(e.tid);
                b.conn.append_option(e.conn);
                opt_str(&mut b.message, e.message);
                opt_str(&mut b.client, e.client);
                opt_str(&mut b.server, e.server);
                opt_str(&mut b.request, e.request);
                opt_str(&mut b.upstream, e.upstream);
                opt_str(&mut b.http_host, e.host);
                opt_str(&mut b.pool, e.pool);
                b.child_pid.append_option(e.child_pid);
                b.number.append_option(e.number);
                opt_str(&mut b.script, e.script);
                opt_str(&mut b.frames, e.frames);
                b.n += 1;
                if b.n >= BATCH_ROWS {
                    let r = flush_part(p, &self.tmp, Table::Events, &self.shared);
                    keep_err(&mut self.error, r);
                }
            }
            Ok(Record::Ignored) => ok += 1,
            Err(e) => {
                if failed.is_none() {
                    failed = Some(e.clone());
                }
            }
        });
        self.parser = Some(parser);
        if ok == 0 && skipped == 0 {
            let e = failed.unwrap_or_else(|| ParseError::not_this_format(0));
            self.reject(
                line_no,
                offset,
                n_lines,
                &e.reason(),
                rec.len() as u64,
                Some(rec),
            );
        }
    }

    fn reject(
        &mut self,
        line_no: u64,
        offset: u64,
        n_lines: u64,
        reason: &str,
        len: u64,
        text: Option<&[u8]>,
    ) {
        let part = partition_dir(&self.partition, None, &self.host);
        let (format, layer, name) = (self.format, self.layer, &self.name);
        let p = part_for(&mut self.rej, &part, RejRows::new);
        let b = &mut p.rows;
        b.format.append_value(format.id());
        b.layer.append_value(layer.id());
        b.file.append_value(name);
        b.line.append_value(line_no);
        b.offset.append_value(offset);
        b.lines.append_value(n_lines);
        b.reason.append_value(reason);
        b.bytes.append_value(len);
        match text {
            Some(t) => b.text.append_value(lossy(t)),
            None => b.text.append_null(),
        }
        b.n += 1;
        if b.n >= BATCH_ROWS {
            let r = flush_part(p, &self.tmp, Table::Rejected, &self.shared);
            keep_err(&mut self.error, r);
        }
    }

    fn close_all(&mut self) -> Result<(), String> {
        let (tmp, shared, key) = (&self.tmp, &self.shared, self.key);
        retire(&mut self.req, ALL, Table::Requests, tmp, shared, key)?;
        retire(&mut self.ev, ALL, Table::Events, tmp, shared, key)?;
        retire(&mut self.rej, ALL, Table::Rejected, tmp, shared, key)?;
        Ok(())
    }
}

/// `keep` value of [`retire`] that closes every part.
const ALL: &str = "\0all";

/// Before a third partition of `map` opens, close every open part but the one for `keep`
/// (every part when `keep` is [`ALL`]), and hand the finished files to the export.
fn retire<R: Rows>(
    map: &mut HashMap<String, Part<R>>,
    keep: &str,
    table: Table,
    tmp: &Path,
    shared: &Mutex<Shared>,
    key: (usize, u64),
) -> Result<(), String> {
    if keep != ALL && (map.len() < 2 || map.contains_key(keep)) {
        return Ok(());
    }
    let names: Vec<String> = map.keys().filter(|k| k.as_str() != keep).cloned().collect();
    for name in names {
        let Some(mut p) = map.remove(&name) else {
            continue;
        };
        close_part(&mut p, tmp, table, shared)?;
        if p.written > 0 {
            let mut g = match shared.lock() {
                Ok(g) => g,
                Err(e) => e.into_inner(),
            };
            g.parts.push(PartFile {
                table,
                partition: name,
                key,
                seq: p.seq,
                path: p.path,
            });
        }
    }
    Ok(())
}

fn keep_err(slot: &mut Option<String>, r: Result<(), String>) {
    if let Err(e) = r {
        if slot.is_none() {
            *slot = Some(e);
        }
    }
}

/// Write the batch under construction to the part's writer (opening it on first use).
fn flush_part<R: Rows>(
    p: &mut Part<R>,
    tmp: &Path,
    table: Table,
    shared: &Mutex<Shared>,
) -> Result<(), String> {
    if p.rows.len() == 0 {
        return Ok(());
    }
    let batch = p.rows.finish()?;
    if p.writer.is_none() {
        let seq = {
            let mut g = match shared.lock() {
                Ok(g) => g,
                Err(e) => e.into_inner(),
            };
            g.seq += 1;
            g.seq
        };
        p.seq = seq;
        p.path = tmp.join(format!("{}-{seq}.parquet", table.name()));
        let file = File::create(&p.path).map_err(|e| io_err(&p.path, e))?;
        p.writer = Some(
            ArrowWriter::try_new(file, table.schema(), Some(props()))
                .map_err(|e| io_err(&p.path, e))?,
        );
    }
    if let Some(w) = p.writer.as_mut() {
        w.write(&batch).map_err(|e| io_err(&p.path, e))?;
        p.written += batch.num_rows() as u64;
    }
    Ok(())
}

fn close_part<R: Rows>(
    p: &mut Part<R>,
    tmp: &Path,
    table: Table,
    shared: &Mutex<Shared>,
) -> Result<(), String> {
    flush_part(p, tmp, table, shared)?;
    if let Some(w) = p.writer.take() {
        w.close().map_err(|e| io_err(&p.path, e))?;
    }
    Ok(())
}

impl Drop for JobSink {
    fn drop(&mut self) {
        if self.multiline {
            self.flush();
        }
        let r = self.close_all();
        let mut g = match self.shared.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.jobs.push((self.key, self.input, self.lines));
        if let Some(e) = self.error.take() {
            g.errors.push(e);
        }
        if let Err(e) = r {
            g.errors.push(e);
        }
    }
}

// ---- timeline and incidents, from the report ----

fn timeline_batches(
    report: &Report,
    partition: &[Partition],
    host: &str,
) -> Result<Vec<(String, RecordBatch)>, String> {
    let kinds = EventKind::ALL;
    let mut fields = vec![
        f("start", ts_utc(), false),
        f("bucket_seconds", DataType::Int64, false),
        f("requests", DataType::UInt64, false),
        f("status_1xx", DataType::UInt64, false),
        f("status_2xx", DataType::UInt64, false),
        f("status_3xx", DataType::UInt64, false),
        f("status_4xx", DataType::UInt64, false),
        f("status_5xx", DataType::UInt64, false),
    ];
    for c in crate::acc::STATUS_TRACKED {
        fields.push(f(&format!("status_{c}"), DataType::UInt64, false));
    }
    for q in ["p50", "p95", "p99"] {
        fields.push(f(&format!("latency_{q}"), DataType::Float64, true));
    }
    for q in ["p50", "p95", "p99"] {
        fields.push(f(&format!("upstream_latency_{q}"), DataType::Float64, true));
    }
    fields.push(f("incident", DataType::UInt32, true));
    fields.push(f("upstreams_5xx", DataType::Utf8, true));
    for k in kinds {
        fields.push(f(&format!("events_{}", k.id()), DataType::UInt64, false));
    }
    let schema = Arc::new(Schema::new(fields));
    let mut groups: BTreeMap<String, Vec<&crate::report::TimelineRow>> = BTreeMap::new();
    for r in &report.timeline.rows {
        groups
            .entry(partition_dir(partition, Some(day_of(r.start_us)), host))
            .or_default()
            .push(r);
    }
    if groups.is_empty() && partition.is_empty() {
        groups.insert(String::new(), Vec::new());
    }
    let mut out = Vec::new();
    for (part, rows) in groups {
        let mut cols: Vec<ArrayRef> = Vec::new();
        let mut ts = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        for r in &rows {
            ts.append_value(r.start_us);
        }
        cols.push(Arc::new(ts.finish()));
        let u64col = |g: &dyn Fn(&crate::report::TimelineRow) -> u64| -> ArrayRef {
            Arc::new(rows.iter().map(|r| Some(g(r))).collect::<UInt64Array>())
        };
        let mut bs = Int64Builder::new();
        for _ in &rows {
            bs.append_value(report.timeline.bucket_seconds);
        }
        cols.push(Arc::new(bs.finish()));
        cols.push(u64col(&|r| r.requests));
        for c in ["1xx", "2xx", "3xx", "4xx", "5xx"] {
            cols.push(u64col(&|r| r.status_class.get(c).copied().unwrap_or(0)));
        }
        for c in crate::acc::STATUS_TRACKED {
            let k = c.to_string();
            cols.push(u64col(&|r| r.status.get(&k).copied().unwrap_or(0)));
        }
        for up in [false, true] {
            for q in 0..3 {
                let mut b = Float64Builder::new();
                for r in &rows {
                    let qs = if up { &r.upstream_latency } else { &r.latency };
                    b.append_option(match q {
                        0 => qs.p50,
                        1 => qs.p95,
                        _ => qs.p99,
                    });
                }
                cols.push(Arc::new(b.finish()));
            }
        }
        let mut inc = UInt32Builder::new();
        let mut ups = StringBuilder::new();
        for r in &rows {
            inc.append_option(r.in_incident.map(|i| i as u32));
            if r.upstreams_5xx.is_empty() {
                ups.append_null();
            } else {
                let s: Vec<String> = r
                    .upstreams_5xx
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                ups.append_value(s.join(" "));
            }
        }
        cols.push(Arc::new(inc.finish()));
        cols.push(Arc::new(ups.finish()));
        for k in kinds {
            let id = k.id();
            cols.push(u64col(&|r| r.events.get(id).copied().unwrap_or(0)));
        }
        let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string())?;
        out.push((part, batch));
    }
    Ok(out)
}

fn incidents_batches(
    report: &Report,
    partition: &[Partition],
    host: &str,
) -> Result<Vec<(String, RecordBatch)>, String> {
    let ev_fields = Fields::from(vec![
        f("path", DataType::Utf8, false),
        f("line", DataType::UInt64, false),
        f("text", DataType::Utf8, false),
    ]);
    let schema = Arc::new(Schema::new(vec![
        f("incident", DataType::UInt32, false),
        f("start", ts_utc(), false),
        f("end", ts_utc(), false),
        f("requests", DataType::UInt64, false),
        f("errors", DataType::UInt64, false),
        f("error_rate", DataType::Float64, false),
        f("baseline_rate", DataType::Float64, false),
        f("explained_5xx", DataType::UInt64, false),
        f("total_5xx", DataType::UInt64, false),
        f("rank", DataType::UInt32, true),
        f("cause", dict(), true),
        f("confidence", DataType::Float64, true),
        f("summary", DataType::Utf8, true),
        f(
            "evidence",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(ev_fields.clone()),
                true,
            ))),
            true,
        ),
    ]));
    let mut groups: BTreeMap<String, Vec<&crate::report::Incident>> = BTreeMap::new();
    for i in &report.incidents {
        groups
            .entry(partition_dir(partition, Some(day_of(i.start_us)), host))
            .or_default()
            .push(i);
    }
    if groups.is_empty() && partition.is_empty() {
        groups.insert(String::new(), Vec::new());
    }
    let mut out = Vec::new();
    for (part, incs) in groups {
        let mut id = UInt32Builder::new();
        let mut start = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut end = TimestampMicrosecondBuilder::new().with_timezone("UTC");
        let mut requests = UInt64Builder::new();
        let mut errors = UInt64Builder::new();
        let mut rate = Float64Builder::new();
        let mut base = Float64Builder::new();
        let mut expl = UInt64Builder::new();
        let mut tot = UInt64Builder::new();
        let mut rank = UInt32Builder::new();
        let mut cause = StringDictionaryBuilder::<Int32Type>::new();
        let mut conf = Float64Builder::new();
        let mut summary = StringBuilder::new();
        let mut evidence = ListBuilder::new(StructBuilder::from_fields(ev_fields.clone(), 0))
            .with_field(Arc::new(Field::new(
                "item",
                DataType::Struct(ev_fields.clone()),
                true,
            )));
        for inc in incs {
            let causes: Vec<Option<(usize, &crate::report::Cause)>> = if inc.causes.is_empty() {
                vec![None]
            } else {
                inc.causes.iter().enumerate().map(Some).collect()
            };
            for c in causes {
                id.append_value(inc.id as u32);
                start.append_value(inc.start_us);
                end.append_value(inc.end_us);
                requests.append_value(inc.requests);
                errors.append_value(inc.errors);
                rate.append_value(inc.error_rate);
                base.append_value(inc.baseline_rate);
                expl.append_value(inc.joins.explained);
                tot.append_value(inc.joins.total_5xx);
                match c {
                    Some((n, c)) => {
                        rank.append_value(n as u32 + 1);
                        cause.append_value(&c.cause);
                        conf.append_value(c.confidence);
                        summary.append_value(&c.summary);
                        let sb = evidence.values();
                        for e in &c.evidence {
                            if let Some(b) = sb.field_builder::<StringBuilder>(0) {
                                b.append_value(&e.path);
                            }
                            if let Some(b) = sb.field_builder::<UInt64Builder>(1) {
                                b.append_value(e.line);
                            }
                            if let Some(b) = sb.field_builder::<StringBuilder>(2) {
                                b.append_value(&e.text);
                            }
                            sb.append(true);
                        }
                        evidence.append(true);
                    }
                    None => {
                        rank.append_null();
                        cause.append_null();
                        conf.append_null();
                        summary.append_null();
                        evidence.append(false);
                    }
                }
            }
        }
        let cols: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            Arc::new(start.finish()),
            Arc::new(end.finish()),
            Arc::new(requests.finish()),
            Arc::new(errors.finish()),
            Arc::new(rate.finish()),
            Arc::new(base.finish()),
            Arc::new(expl.finish()),
            Arc::new(tot.finish()),
            Arc::new(rank.finish()),
            Arc::new(cause.finish()),
            Arc::new(conf.finish()),
            Arc::new(summary.finish()),
            Arc::new(evidence.finish()),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).map_err(|e| e.to_string())?;
        out.push((part, batch));
    }
    Ok(out)
}
