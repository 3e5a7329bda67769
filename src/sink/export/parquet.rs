//! `--parquet DIR`: `requests`, `events`, `rejected`, `timeline` and `incidents` tables.
//!
//! Row tables come from a [`RowSink`] per pipeline job, fed by push from the pipeline's one
//! parse (`pipeline::Worker` hands each record it keeps, see `export::sink`): nothing is framed
//! or parsed twice. Each sink streams record batches of [`BATCH_ROWS`] rows through an
//! `ArrowWriter` into a part file per (table, partition, job). [`ParquetExport::finish`] then
//! joins the parts of each (table, partition) in input order by splicing their encoded row
//! groups (re-encoding only the shifted `line` column of later chunks of a split file, and
//! small row groups gathered together), so the tables hold the same rows in the same order
//! whatever the thread count. Memory stays flat: at most one batch and one row group per open
//! writer.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::builder::{
    Float64Builder, Int64Builder, ListBuilder, StringBuilder, StringDictionaryBuilder,
    StructBuilder, TimestampMicrosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::types::{
    DurationMicrosecondType, Int32Type, Int64Type, TimestampMicrosecondType, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, UInt64Array};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use gatelog_parsers::{Event, EventKind, Request};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory,
};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

use super::{host_of_path, sanitize_part, Partition, RowAt, RowSink, RowSinkFactory};
use crate::analysis::report::Report;
use crate::ingest::pipeline::{Job, RunOptions};
use crate::ingest::tz::TzChoice;
use crate::read::input::Source;
use cols::{Dict, Prim, Text};
use dictcol::DictChunk;

mod cols;
mod dictcol;

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

/// zstd level of every table. Level 1 is a tenth cheaper than 3 for files within 1% of
/// the size; negative levels were measured (issue 13, 32 MB slice of the incident log: the
/// export costs 935 M instructions at 1, 916 M at -1, 896 M at -3, 885 M at -5) for files
/// 25%, 41% and 57% larger: not worth it.
const ZSTD_LEVEL: i32 = 1;

fn props() -> WriterProperties {
    use parquet::basic::Encoding;
    use parquet::file::properties::EnabledStatistics;
    use parquet::schema::types::ColumnPath;
    // level 1: a tenth cheaper than 3 on access logs, for files within 1% of the size
    // (most columns are dictionary-encoded before zstd sees them); see ZSTD_LEVEL
    let level = ZstdLevel::try_new(ZSTD_LEVEL).unwrap_or_default();
    let mut b = WriterProperties::builder();
    // times, line numbers and offsets climb row by row: delta-encoded they are a fifth of
    // the requests file smaller and cheaper to write than through a dictionary
    for c in ["ts", "line", "offset"] {
        b = b
            .set_column_dictionary_enabled(ColumnPath::from(c), false)
            .set_column_encoding(ColumnPath::from(c), Encoding::DELTA_BINARY_PACKED);
    }
    // free text and values unique to a row (client, path, trace id): their dictionary
    // overflows its page and falls back to plain encoding anyway, after hashing every
    // value; written plain from the start (zstd still finds their repeats)
    for c in [
        "client", "path", "trace_id", "request", "message", "frames", "text",
    ] {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    // min/max statistics cost two comparisons per value and a column: kept where they
    // prune (ts, numbers, file, status_class), off on free text and on tiny domains
    for c in [
        "path",
        "user_agent",
        "referer",
        "message",
        "request",
        "frames",
        "text",
        "client",
        "http_host",
        "upstream",
        "upstream_addr",
        "upstream_status",
        "trace_id",
        "lb_flags",
        "route",
        "format",
        "layer",
        "method",
        "protocol",
    ] {
        b = b.set_column_statistics_enabled(ColumnPath::from(c), EnabledStatistics::None);
    }
    b.set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("gatelog {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Columns of one table under construction.
trait Rows: Send {
    fn len(&self) -> usize;
    /// A text column is at [`cols::TEXT_BATCH_BYTES`]: the batch ends here.
    fn full(&self) -> bool;
    fn finish(&mut self) -> Result<RecordBatch, String>;
}

/// Where a row's line is: the columns every table has (after `ts`, which requests and events
/// start with and rejected lines lack), filled and finished in one place.
#[derive(Default)]
struct Place {
    format: Dict,
    layer: Dict,
    file: Dict,
    line: Prim<UInt64Type>,
    offset: Prim<UInt64Type>,
}

impl Place {
    fn append(&mut self, at: &RowAt, file: &str) {
        self.format.append_stable(at.format.id());
        self.layer.append_stable(at.format.layer().id());
        self.file.append_stable(file);
        self.line.append_value(at.line);
        self.offset.append_value(at.offset);
    }

    /// format, layer, file, line, offset: the schemas' order.
    fn finish(&mut self) -> [ArrayRef; 5] {
        [
            Arc::new(self.format.finish()),
            Arc::new(self.layer.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.offset.finish()),
        ]
    }
}

struct ReqRows {
    ts: Prim<TimestampMicrosecondType>,
    place: Place,
    client: Text,
    method: Dict,
    http_host: Text,
    path: Text,
    protocol: Dict,
    status: Prim<UInt16Type>,
    status_class: Dict,
    bytes_sent: Prim<UInt64Type>,
    request_time: Prim<DurationMicrosecondType>,
    upstream_time: Prim<DurationMicrosecondType>,
    upstream: Text,
    upstream_addr: Text,
    upstream_status: Text,
    trace_id: Text,
    lb_flags: Text,
    route: Text,
    referer: Text,
    user_agent: Text,
    n: usize,
}

impl ReqRows {
    fn new() -> Self {
        ReqRows {
            ts: Prim::default(),
            place: Place::default(),
            client: Text::default(),
            method: Dict::default(),
            http_host: Text::default(),
            path: Text::default(),
            protocol: Dict::default(),
            status: Prim::default(),
            status_class: Dict::default(),
            bytes_sent: Prim::default(),
            request_time: Prim::default(),
            upstream_time: Prim::default(),
            upstream: Text::default(),
            upstream_addr: Text::default(),
            upstream_status: Text::default(),
            trace_id: Text::default(),
            lb_flags: Text::default(),
            route: Text::default(),
            referer: Text::default(),
            user_agent: Text::default(),
            n: 0,
        }
    }
}

const STATUS_CLASS: [&str; 6] = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"];

impl Rows for ReqRows {
    fn len(&self) -> usize {
        self.n
    }
    fn full(&self) -> bool {
        self.client.full()
            || self.http_host.full()
            || self.path.full()
            || self.upstream.full()
            || self.upstream_addr.full()
            || self.upstream_status.full()
            || self.trace_id.full()
            || self.lb_flags.full()
            || self.route.full()
            || self.referer.full()
            || self.user_agent.full()
    }
    fn finish(&mut self) -> Result<RecordBatch, String> {
        self.n = 0;
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.ts.finish().with_timezone("UTC"))];
        cols.extend(self.place.finish());
        cols.extend::<[ArrayRef; _]>([
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
        ]);
        RecordBatch::try_new(requests_schema(), cols).map_err(|e| e.to_string())
    }
}

struct EvRows {
    ts: Prim<TimestampMicrosecondType>,
    place: Place,
    kind: Dict,
    severity: Dict,
    pid: Prim<UInt32Type>,
    tid: Prim<UInt32Type>,
    conn: Prim<UInt64Type>,
    message: Text,
    client: Text,
    server: Text,
    request: Text,
    upstream: Text,
    http_host: Text,
    pool: Text,
    child_pid: Prim<UInt32Type>,
    number: Prim<Int64Type>,
    script: Text,
    frames: Text,
    n: usize,
}

impl EvRows {
    fn new() -> Self {
        EvRows {
            ts: Prim::default(),
            place: Place::default(),
            kind: Dict::default(),
            severity: Dict::default(),
            pid: Prim::default(),
            tid: Prim::default(),
            conn: Prim::default(),
            message: Text::default(),
            client: Text::default(),
            server: Text::default(),
            request: Text::default(),
            upstream: Text::default(),
            http_host: Text::default(),
            pool: Text::default(),
            child_pid: Prim::default(),
            number: Prim::default(),
            script: Text::default(),
            frames: Text::default(),
            n: 0,
        }
    }
}

impl Rows for EvRows {
    fn len(&self) -> usize {
        self.n
    }
    fn full(&self) -> bool {
        self.message.full()
            || self.client.full()
            || self.server.full()
            || self.request.full()
            || self.upstream.full()
            || self.http_host.full()
            || self.pool.full()
            || self.script.full()
            || self.frames.full()
    }
    fn finish(&mut self) -> Result<RecordBatch, String> {
        self.n = 0;
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.ts.finish().with_timezone("UTC"))];
        cols.extend(self.place.finish());
        cols.extend::<[ArrayRef; _]>([
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
        ]);
        RecordBatch::try_new(events_schema(), cols).map_err(|e| e.to_string())
    }
}

struct RejRows {
    place: Place,
    lines: Prim<UInt64Type>,
    reason: Dict,
    bytes: Prim<UInt64Type>,
    text: Text,
    n: usize,
}

impl RejRows {
    fn new() -> Self {
        RejRows {
            place: Place::default(),
            lines: Prim::default(),
            reason: Dict::default(),
            bytes: Prim::default(),
            text: Text::default(),
            n: 0,
        }
    }
}

impl Rows for RejRows {
    fn len(&self) -> usize {
        self.n
    }
    fn full(&self) -> bool {
        self.text.full()
    }
    fn finish(&mut self) -> Result<RecordBatch, String> {
        self.n = 0;
        let mut cols: Vec<ArrayRef> = self.place.finish().into();
        cols.extend::<[ArrayRef; _]>([
            Arc::new(self.lines.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.text.finish()),
        ]);
        RecordBatch::try_new(rejected_schema(), cols).map_err(|e| e.to_string())
    }
}

/// One part file being written: a batch under construction and its writer.
struct Part<R: Rows> {
    rows: R,
    writer: Option<PartWriter>,
    path: PathBuf,
    written: u64,
    /// Order of the part within its job (a partition left and re-entered gets a new part).
    seq: u64,
}

/// The row group under construction of a Parquet file: the Arrow writer's column writers
/// for most columns, and a [`DictChunk`] for each dictionary-encoded one (written from its
/// keys, not interned again row by row: see `dictcol`). Used by the part writers and by
/// [`merge`]'s gathering of small row groups, so a row group is encoded the same way
/// whichever wrote it (the tables are the same bytes whatever the thread count).
struct GroupEncoder {
    /// The current row group's column writers (`None` between row groups).
    writers: Option<Vec<ArrowColumnWriter>>,
    /// For each column: the chunk of a dictionary column, with its nullability.
    dicts: Vec<Option<(DictChunk, bool)>>,
    /// For each column: statistics wanted.
    stats: Vec<bool>,
    compression: Compression,
    rows: usize,
}

impl GroupEncoder {
    fn new(schema: &SchemaRef) -> Self {
        use parquet::file::properties::EnabledStatistics;
        use parquet::schema::types::ColumnPath;
        let props = props();
        let stats = schema
            .fields()
            .iter()
            .map(|f| {
                props.statistics_enabled(&ColumnPath::from(f.name().as_str()))
                    != EnabledStatistics::None
            })
            .collect();
        let dicts = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Dictionary(_, _) => Some((DictChunk::default(), f.is_nullable())),
                _ => None,
            })
            .collect();
        GroupEncoder {
            writers: None,
            dicts,
            stats,
            compression: props.compression(&parquet::schema::types::ColumnPath::from("ts")),
            rows: 0,
        }
    }

    /// Add `batch` to the row group numbered `row_group`.
    fn write(
        &mut self,
        factory: &ArrowRowGroupWriterFactory,
        row_group: usize,
        schema: &SchemaRef,
        batch: &RecordBatch,
    ) -> Result<(), parquet::errors::ParquetError> {
        use parquet::errors::ParquetError;
        let writers = match self.writers.as_mut() {
            Some(w) => w,
            None => self
                .writers
                .insert(factory.create_column_writers(row_group)?),
        };
        for (ci, (field, col)) in schema.fields().iter().zip(batch.columns()).enumerate() {
            if let Some(Some((d, nullable))) = self.dicts.get_mut(ci) {
                let a = col
                    .as_any()
                    .downcast_ref::<arrow_array::DictionaryArray<Int32Type>>()
                    .ok_or_else(|| ParquetError::General("not an Int32 dictionary".into()))?;
                d.push(a, *nullable)?;
                continue;
            }
            let w = writers
                .get_mut(ci)
                .ok_or_else(|| ParquetError::General("more columns than writers".into()))?;
            for leaf in compute_leaves(field, col)? {
                w.write(&leaf)?;
            }
        }
        self.rows += batch.num_rows();
        Ok(())
    }

    /// Write the row group (if it has rows) as the next of `fw`; true when it did.
    fn flush(
        &mut self,
        fw: &mut SerializedFileWriter<File>,
    ) -> Result<bool, parquet::errors::ParquetError> {
        let Some(writers) = self.writers.take() else {
            return Ok(false);
        };
        self.rows = 0;
        let level = match self.compression {
            Compression::ZSTD(l) => l.compression_level(),
            _ => ZSTD_LEVEL,
        };
        let descrs: Vec<_> = (0..writers.len())
            .map(|i| fw.schema_descr().column(i))
            .collect();
        let mut rgw = fw.next_row_group()?;
        for ((ci, w), descr) in writers.into_iter().enumerate().zip(descrs) {
            match self.dicts.get_mut(ci) {
                Some(Some((d, _))) => {
                    let stats = self.stats.get(ci).copied().unwrap_or(true);
                    let (bytes, close) = d.finish(descr, self.compression, level, stats)?;
                    rgw.append_column(&bytes, close)?;
                }
                _ => w.close()?.append_to_row_group(&mut rgw)?,
            }
        }
        rgw.close()?;
        Ok(true)
    }
}

/// The writer of a part file, a row group of [`ROW_GROUP_ROWS`] rows at a time (fewer when
/// a batch was cut short by a large text column).
struct PartWriter {
    fw: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    enc: GroupEncoder,
    row_groups: usize,
}

impl PartWriter {
    fn new(file: File, schema: SchemaRef) -> Result<Self, parquet::errors::ParquetError> {
        let w = ArrowWriter::try_new(file, schema.clone(), Some(props()))?;
        let (fw, factory) = w.into_serialized_writer()?;
        Ok(PartWriter {
            fw,
            factory,
            enc: GroupEncoder::new(&schema),
            schema,
            row_groups: 0,
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), parquet::errors::ParquetError> {
        self.enc
            .write(&self.factory, self.row_groups, &self.schema, batch)?;
        if self.enc.rows >= ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), parquet::errors::ParquetError> {
        if self.enc.flush(&mut self.fw)? {
            self.row_groups += 1;
        }
        Ok(())
    }

    fn close(mut self) -> Result<(), parquet::errors::ParquetError> {
        self.flush()?;
        self.fw.close()?;
        Ok(())
    }
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

/// Row groups smaller than this are decoded and gathered with their neighbours into one row
/// group (many small inputs or chunks would otherwise leave many tiny row groups); larger
/// ones are copied as encoded, page by page.
const MIN_COPY_ROWS: usize = 8 * 1024;

/// Concatenate part files (in order) into `target`, shifting `line` by each part's job shift.
///
/// The parts were encoded (and compressed) once, in parallel, by the jobs that wrote them:
/// their row groups are spliced into the target as they are (`append_column`), so the rows
/// are never decoded and encoded again. Only two things are re-encoded: the `line` column of
/// a later chunk of a split file (its numbers continue the earlier chunks'), and row groups
/// under [`MIN_COPY_ROWS`], gathered into row groups of up to [`ROW_GROUP_ROWS`].
fn merge(
    target: &Path,
    table: Table,
    parts: &[PartFile],
    shift: &HashMap<(usize, u64), u64>,
) -> Result<u64, String> {
    let by = |p: &PartFile| shift.get(&p.key).copied().unwrap_or(0);
    if let [p] = parts {
        if by(p) == 0 {
            // one part with nothing to shift: it is the table
            let f = File::open(&p.path).map_err(|e| io_err(&p.path, e))?;
            let meta = ParquetMetaDataReader::new()
                .parse_and_finish(&f)
                .map_err(|e| io_err(&p.path, e))?;
            std::fs::rename(&p.path, target).map_err(|e| io_err(target, e))?;
            return Ok(meta.file_metadata().num_rows() as u64);
        }
    }
    let tmp = target.with_extension("parquet.tmp");
    let file = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    let schema = table.schema();
    let line_col = schema.index_of("line").ok();
    let w =
        ArrowWriter::try_new(file, schema.clone(), Some(props())).map_err(|e| io_err(&tmp, e))?;
    let (mut fw, factory) = w.into_serialized_writer().map_err(|e| io_err(&tmp, e))?;
    let mut m = Merger {
        fw: &mut fw,
        factory: &factory,
        schema: &schema,
        row_groups: 0,
        pending: GroupEncoder::new(&schema),
    };
    let mut rows = 0u64;
    for p in parts {
        let by = by(p);
        let f = File::open(&p.path).map_err(|e| io_err(&p.path, e))?;
        let meta = ParquetMetaDataReader::new()
            .with_page_index_policy(PageIndexPolicy::Optional)
            .parse_and_finish(&f)
            .map_err(|e| io_err(&p.path, e))?;
        for (ri, rg) in meta.row_groups().iter().enumerate() {
            let n = rg.num_rows() as usize;
            rows += n as u64;
            if n < MIN_COPY_ROWS {
                // small: decoded, gathered with its neighbours
                let reader = ParquetRecordBatchReaderBuilder::try_new(
                    f.try_clone().map_err(|e| io_err(&p.path, e))?,
                )
                .map_err(|e| io_err(&p.path, e))?
                .with_batch_size(BATCH_ROWS)
                .with_row_groups(vec![ri])
                .build()
                .map_err(|e| io_err(&p.path, e))?;
                for b in reader {
                    let b = b.map_err(|e| io_err(&p.path, e))?;
                    let b = shift_lines(b, line_col, by).map_err(|e| io_err(&p.path, e))?;
                    m.push(b).map_err(|e| io_err(&tmp, e))?;
                }
                continue;
            }
            m.flush().map_err(|e| io_err(&tmp, e))?;
            // large: spliced as encoded; a shifted `line` column is encoded anew
            let mut line_chunk = match (line_col, by) {
                (Some(i), by) if by > 0 => Some(
                    m.shifted_column(&f, ri, i, by)
                        .map_err(|e| io_err(&p.path, e))?,
                ),
                _ => None,
            };
            let page_index = meta.page_index();
            let mut rgw = m.fw.next_row_group().map_err(|e| io_err(&tmp, e))?;
            for (ci, col) in rg.columns().iter().enumerate() {
                if Some(ci) == line_col {
                    if let Some(c) = line_chunk.take() {
                        c.append_to_row_group(&mut rgw)
                            .map_err(|e| io_err(&tmp, e))?;
                        continue;
                    }
                }
                let result = ColumnCloseResult {
                    bytes_written: col.compressed_size() as _,
                    rows_written: n as _,
                    metadata: col.clone(),
                    bloom_filter: None,
                    column_index: page_index.and_then(|pi| pi.column_index(ri, ci)).cloned(),
                    offset_index: page_index.and_then(|pi| pi.offset_index(ri, ci)).cloned(),
                };
                rgw.append_column(&f, result).map_err(|e| io_err(&tmp, e))?;
            }
            rgw.close().map_err(|e| io_err(&tmp, e))?;
            m.row_groups += 1;
        }
        drop(f);
        let _ = std::fs::remove_file(&p.path);
    }
    m.flush().map_err(|e| io_err(&tmp, e))?;
    fw.close().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, target).map_err(|e| io_err(target, e))?;
    Ok(rows)
}

/// `b` with `by` added to its `line` column.
fn shift_lines(
    b: RecordBatch,
    line_col: Option<usize>,
    by: u64,
) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let Some(i) = line_col.filter(|_| by > 0) else {
        return Ok(b);
    };
    let Some(lines) = b.column(i).as_any().downcast_ref::<UInt64Array>() else {
        return Ok(b);
    };
    let lines: UInt64Array = lines.iter().map(|v| v.map(|v| v + by)).collect();
    let mut cols = b.columns().to_vec();
    if let Some(c) = cols.get_mut(i) {
        *c = Arc::new(lines);
    }
    RecordBatch::try_new(b.schema(), cols)
}

/// The target file of [`merge`] and the small row groups being gathered.
struct Merger<'a> {
    fw: &'a mut SerializedFileWriter<File>,
    factory: &'a ArrowRowGroupWriterFactory,
    schema: &'a SchemaRef,
    row_groups: usize,
    pending: GroupEncoder,
}

impl Merger<'_> {
    fn push(&mut self, b: RecordBatch) -> Result<(), parquet::errors::ParquetError> {
        self.pending
            .write(self.factory, self.row_groups, self.schema, &b)?;
        if self.pending.rows >= ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Write the gathered batches as one row group.
    fn flush(&mut self) -> Result<(), parquet::errors::ParquetError> {
        if self.pending.flush(self.fw)? {
            self.row_groups += 1;
        }
        Ok(())
    }

    /// Column `col` (a flat UInt64 column: `line`) of row group `rg` of `f`, plus `by`,
    /// encoded for the next row group of the target.
    fn shifted_column(
        &self,
        f: &File,
        rg: usize,
        col: usize,
        by: u64,
    ) -> Result<ArrowColumnChunk, parquet::errors::ParquetError> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(f.try_clone()?)?;
        let mask = ProjectionMask::leaves(builder.parquet_schema(), [col]);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .with_row_groups(vec![rg])
            .build()?;
        let mut writers = self.factory.create_column_writers(self.row_groups)?;
        if col >= writers.len() {
            return Err(parquet::errors::ParquetError::General(
                "no writer for the line column".into(),
            ));
        }
        let mut w = writers.swap_remove(col);
        let field = self.schema.field(col);
        for b in reader {
            let b = b?;
            let shifted = shift_lines(b, Some(0), by)?;
            for leaf in compute_leaves(field, shifted.column(0))? {
                w.write(&leaf)?;
            }
        }
        w.close()
    }
}

impl RowSinkFactory for ParquetExport {
    fn open(&self, job: &Job, _opts: &RunOptions, _tz: &TzChoice) -> Box<dyn RowSink> {
        let host = match &self.host {
            Some(h) => h.clone(),
            None => match &job.input.source {
                Source::Stdin => "stdin".into(),
                Source::File(_) => host_of_path(&job.input.name),
            },
        };
        Box::new(JobSink {
            rej_part: partition_dir(&self.partition, None, &host),
            shared: self.shared.clone(),
            tmp: self.tmp.clone(),
            partition: self.partition.clone(),
            key: (job.input.id, job.range.map(|r| r.0).unwrap_or(0)),
            input: job.input.id,
            name: job.input.name.clone(),
            host,
            lines: 0,
            day: (i64::MIN, String::new()),
            req: Vec::new(),
            ev: Vec::new(),
            rej: Vec::new(),
            error: None,
        })
    }
}

/// The rows of one job: the pipeline's worker pushes each record it reads (`RowSink`).
struct JobSink {
    shared: Arc<Mutex<Shared>>,
    tmp: PathBuf,
    partition: Vec<Partition>,
    key: (usize, u64),
    input: usize,
    name: String,
    host: String,
    /// Physical lines the job read (set at its end).
    lines: u64,
    /// Cached partition of the last day seen.
    day: (i64, String),
    /// The partition of rejected lines (they have no date).
    rej_part: String,
    req: Parts<ReqRows>,
    ev: Parts<EvRows>,
    rej: Parts<RejRows>,
    error: Option<String>,
}

impl RowSink for JobSink {
    fn request(&mut self, at: RowAt, utc: i64, r: &Request<'_>, up_us: Option<u64>) {
        self.enter_day(utc);
        let name = &self.name;
        let p = part_for(&mut self.req, &self.day.1, ReqRows::new);
        let b = &mut p.rows;
        b.ts.append_value(utc);
        b.place.append(&at, name);
        b.client.opt(r.client);
        b.method.opt(r.method);
        b.http_host.opt(r.host);
        b.path.opt(if r.path.is_empty() {
            r.request_line
        } else {
            r.path
        });
        b.protocol.opt(r.protocol);
        b.status.append_value(r.status);
        let class = (r.status / 100) as usize;
        b.status_class
            .append_stable(STATUS_CLASS.get(class).copied().unwrap_or("other"));
        b.bytes_sent.append_option(r.bytes_sent);
        b.request_time
            .append_option(r.request_time_us.map(|v| v.min(i64::MAX as u64) as i64));
        b.upstream_time
            .append_option(up_us.map(|v| v.min(i64::MAX as u64) as i64));
        let last = gatelog_parsers::fields::upstream_last(r.upstream_addr);
        if last == b"-" {
            b.upstream.append_null();
        } else {
            b.upstream.opt(last);
        }
        b.upstream_addr.opt(r.upstream_addr);
        b.upstream_status.opt(r.upstream_status);
        b.trace_id.opt(r.trace_id);
        b.lb_flags.opt(r.lb_flags);
        b.route.opt(r.route);
        b.referer.opt(r.referer);
        b.user_agent.opt(r.user_agent);
        b.n += 1;
        if b.n >= BATCH_ROWS || b.full() {
            let r = flush_part(p, &self.tmp, Table::Requests, &self.shared);
            keep_err(&mut self.error, r);
        }
    }

    fn event(&mut self, at: RowAt, utc: i64, e: &Event<'_>) {
        self.enter_day(utc);
        let name = &self.name;
        let p = part_for(&mut self.ev, &self.day.1, EvRows::new);
        let b = &mut p.rows;
        b.ts.append_value(utc);
        b.place.append(&at, name);
        b.kind.append_stable(e.kind.id());
        b.severity.append_stable(e.severity.id());
        b.pid.append_option(e.pid);
        b.tid.append_option(e.tid);
        b.conn.append_option(e.conn);
        b.message.opt(e.message);
        b.client.opt(e.client);
        b.server.opt(e.server);
        b.request.opt(e.request);
        b.upstream.opt(e.upstream);
        b.http_host.opt(e.host);
        b.pool.opt(e.pool);
        b.child_pid.append_option(e.child_pid);
        b.number.append_option(e.number);
        b.script.opt(e.script);
        b.frames.opt(e.frames);
        b.n += 1;
        if b.n >= BATCH_ROWS || b.full() {
            let r = flush_part(p, &self.tmp, Table::Events, &self.shared);
            keep_err(&mut self.error, r);
        }
    }

    fn reject(&mut self, at: RowAt, n_lines: u64, reason: &str, len: u64, text: Option<&[u8]>) {
        let name = &self.name;
        let p = part_for(&mut self.rej, &self.rej_part, RejRows::new);
        let b = &mut p.rows;
        b.place.append(&at, name);
        b.lines.append_value(n_lines);
        b.reason.append_value(reason);
        b.bytes.append_value(len);
        match text {
            Some(t) => b.text.append_bytes(t),
            None => b.text.append_null(),
        }
        b.n += 1;
        if b.n >= BATCH_ROWS || b.full() {
            let r = flush_part(p, &self.tmp, Table::Rejected, &self.shared);
            keep_err(&mut self.error, r);
        }
    }

    fn end(&mut self, lines: u64) {
        self.lines = lines;
    }
}

/// The open parts of one table, by partition: at most two (see [`retire`]), so a linear
/// search (no hashing per row).
type Parts<R> = Vec<(String, Part<R>)>;

/// Get or open the part of `table` for `partition`.
#[inline]
fn part_for<'a, R: Rows>(
    map: &'a mut Parts<R>,
    partition: &str,
    make: impl FnOnce() -> R,
) -> &'a mut Part<R> {
    let i = match map.iter().position(|(k, _)| k == partition) {
        Some(i) => i,
        None => {
            map.push((
                partition.to_string(),
                Part {
                    rows: make(),
                    writer: None,
                    path: PathBuf::new(),
                    written: 0,
                    seq: 0,
                },
            ));
            map.len() - 1
        }
    };
    &mut map[i].1
}

impl JobSink {
    /// Enter the day of `utc`: a cold path taken when the day changes. Parts of other
    /// partitions are closed once two are open, so a long log spread over many days keeps at
    /// most two writers per table open (a later return to a day opens a new part).
    #[inline]
    fn enter_day(&mut self, utc: i64) {
        let d = day_of(utc);
        if self.day.0 == d {
            return;
        }
        self.new_day(d);
    }

    #[cold]
    fn new_day(&mut self, d: i64) {
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
    map: &mut Parts<R>,
    keep: &str,
    table: Table,
    tmp: &Path,
    shared: &Mutex<Shared>,
    key: (usize, u64),
) -> Result<(), String> {
    if keep != ALL && (map.len() < 2 || map.iter().any(|(k, _)| k == keep)) {
        return Ok(());
    }
    let mut first_err = Ok(());
    for (name, mut p) in std::mem::take(map) {
        if name == keep {
            map.push((name, p));
            continue;
        }
        if let Err(e) = close_part(&mut p, tmp, table, shared) {
            if first_err.is_ok() {
                first_err = Err(e);
            }
            continue;
        }
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
    first_err
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
        p.writer = Some(PartWriter::new(file, table.schema()).map_err(|e| io_err(&p.path, e))?);
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
    for c in crate::agg::acc::STATUS_TRACKED {
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
    let mut groups: BTreeMap<String, Vec<&crate::analysis::report::TimelineRow>> = BTreeMap::new();
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
        let u64col = |g: &dyn Fn(&crate::analysis::report::TimelineRow) -> u64| -> ArrayRef {
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
        for c in crate::agg::acc::STATUS_TRACKED {
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
    let mut groups: BTreeMap<String, Vec<&crate::analysis::report::Incident>> = BTreeMap::new();
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
            let causes: Vec<Option<(usize, &crate::analysis::report::Cause)>> =
                if inc.causes.is_empty() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;

    /// Dictionary columns written from their keys (`dictcol`) read back as the same Arrow
    /// dictionary columns, values and nulls, over several batches and row groups, with
    /// statistics where the table wants them.
    #[test]
    fn dictionary_columns_written_from_keys_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rej.parquet");
        let mut w = PartWriter::new(File::create(&path).unwrap(), rejected_schema()).unwrap();
        let mut rows = RejRows::new();
        let mut want: Vec<(String, Option<String>, String)> = Vec::new();
        let total = ROW_GROUP_ROWS + BATCH_ROWS + 123;
        let reasons = ["no timestamp", "bad status", "caf\u{e9} \u{fffd}", ""];
        for i in 0..total {
            let file = if i < 1000 { "/a.log" } else { "/b.log" };
            rows.place.format.append_stable("nginx_combined");
            rows.place.layer.append_stable("nginx");
            rows.place.file.append_stable(file);
            rows.place.line.append_value(i as u64 + 1);
            rows.place.offset.append_value(i as u64 * 10);
            rows.lines.append_value(1);
            // runs and alternations, and (below) a value per row for a while
            let reason = if (5000..5300).contains(&i) {
                format!("reason {i}")
            } else {
                reasons[(i / 7 + i % 3) % reasons.len()].to_string()
            };
            rows.reason.append_value(&reason);
            rows.bytes.append_value(7);
            rows.text.append_null();
            rows.n += 1;
            want.push((file.to_string(), None, reason));
            if rows.len() == BATCH_ROWS {
                w.write(&rows.finish().unwrap()).unwrap();
            }
        }
        w.write(&rows.finish().unwrap()).unwrap();
        w.close().unwrap();

        let f = File::open(&path).unwrap();
        let b = ParquetRecordBatchReaderBuilder::try_new(f.try_clone().unwrap()).unwrap();
        assert_eq!(b.schema().as_ref(), rejected_schema().as_ref());
        let md = b.metadata().clone();
        assert_eq!(md.num_row_groups(), 2);
        let file_stats = md.row_group(1).column(2).statistics().unwrap();
        assert_eq!(file_stats.min_bytes_opt(), Some(&b"/b.log"[..]));
        assert_eq!(file_stats.null_count_opt(), Some(0));
        assert!(
            md.row_group(0).column(0).statistics().is_none(),
            "format: none"
        );
        let mut got = Vec::new();
        for batch in b.build().unwrap() {
            let batch = batch.unwrap();
            let file = batch.column(2).as_dictionary::<Int32Type>();
            let reason = batch.column(6).as_dictionary::<Int32Type>();
            let fv = file.values().as_string::<i32>();
            let rv = reason.values().as_string::<i32>();
            for i in 0..batch.num_rows() {
                got.push((
                    fv.value(file.keys().value(i) as usize).to_string(),
                    None,
                    rv.value(reason.keys().value(i) as usize).to_string(),
                ));
            }
        }
        assert_eq!(got.len(), total);
        assert!(got == want, "rows differ");
    }

    /// A nullable dictionary column (`method`) keeps its nulls.
    #[test]
    fn nullable_dictionary_column_keeps_nulls() {
        use arrow_array::DictionaryArray;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.parquet");
        let schema = Arc::new(Schema::new(vec![f("method", dict(), true)]));
        let mut w = PartWriter::new(File::create(&path).unwrap(), schema.clone()).unwrap();
        let vals: Vec<Option<&str>> = (0..70_000)
            .map(|i| match i % 11 {
                0 | 1 => None,
                2..=6 => Some("GET"),
                _ if i > 40_000 => Some("POST"),
                _ => Some("HEAD"),
            })
            .collect();
        for chunk in vals.chunks(BATCH_ROWS) {
            let a: DictionaryArray<Int32Type> = chunk.iter().copied().collect();
            w.write(&RecordBatch::try_new(schema.clone(), vec![Arc::new(a)]).unwrap())
                .unwrap();
        }
        w.close().unwrap();
        let got: Vec<Option<String>> = read_col(&path);
        assert_eq!(
            got,
            vals.iter().map(|v| v.map(String::from)).collect::<Vec<_>>()
        );
    }

    fn read_col(path: &Path) -> Vec<Option<String>> {
        let f = File::open(path).unwrap();
        let mut out = Vec::new();
        for b in ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .build()
            .unwrap()
        {
            let b = b.unwrap();
            let d = b.column(0).as_dictionary::<Int32Type>();
            let v = d.values().as_string::<i32>();
            for i in 0..b.num_rows() {
                out.push(d.key(i).map(|k| v.value(k).to_string()));
            }
        }
        out
    }
}
