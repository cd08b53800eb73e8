//! Reads one Zeek log file, TSV or JSON lines, plain or gzip, into model records.
//!
//! The format is decided line by line: meta lines (`#...`) drive the TSV header state
//! (`tsv`); a data line is TSV when a `#fields` schema is in force, JSON when it begins with
//! `{` and no schema is, and otherwise a header-less line that is reported and skipped. The log
//! kind comes from `#path` (per header block), else from `_path` of the first JSON object, else
//! from the file name. Rows of conn, dns, ssl, http, files and x509 logs become records
//! (`fields::map_row`); rows of other logs are counted only.
//!
//! Counting: `rows` is the number of data lines that were read as rows (including rows with a
//! bad value); `errors` the number of lines with a problem. Every problem is a diagnostic
//! `file:line: message` and reading goes on:
//! - a TSV line whose field count differs from `#fields`, a line over 1 MiB, a JSON line that is
//!   not an object, a data line before any header: skipped (not a row);
//! - a value that does not parse as its column's type (an address, a count, a time, ...): the row
//!   is still yielded with that field unset;
//! - a line with raw invalid UTF-8: the row is yielded with U+FFFD in place of the bad bytes;
//! - a read error (truncated or corrupt gzip): reported once; rows before it are kept.
//!
//! Zeek's test baselines mask times as `XXXXXXXXXX.XXXXXX`, also as a bare JSON value; such a
//! time is read as unknown without a diagnostic.
//!
//! One line buffer is reused for the whole file; records borrow from it.

mod fields;
mod json;
mod lexical;
mod parallel;
mod pipeline;
pub(crate) mod tsv;

pub use fields::Columns;
pub use parallel::{DEFAULT_BATCH_BYTES, ParallelOptions, read_files_parallel};
pub use pipeline::{CHUNK_ITEMS, read_file_chunked, read_file_pipelined};

use std::io::BufRead;
use std::path::Path;
use std::sync::Arc;

use crate::input::LogFormat;
use crate::model::{Diagnostic, Location, LogKind, Sink};

/// Longest line read; longer lines are reported and skipped.
pub const MAX_LINE: usize = 1 << 20;

/// What reading one file gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStats {
    /// From `#path`, `_path` or the file name.
    pub kind: LogKind,
    /// Tsv unless the first data row was JSON.
    pub format: LogFormat,
    /// Whether the file was gzip.
    pub compressed: bool,
    /// Data lines read as rows.
    pub rows: u64,
    /// Lines with a problem (each reported as a diagnostic).
    pub errors: u64,
}

/// Reads the log at `path` (gzip or not, whatever its name) into `sink`. `Err` only when the
/// file cannot be opened; every later problem is a diagnostic.
pub fn read_file(path: &Path, sink: &mut dyn Sink) -> std::io::Result<FileStats> {
    read_file_counted(path, sink, &|_| {})
}

/// Like [`read_file`], telling `on_read` how many bytes of the file were read so far (in steps).
pub fn read_file_counted(
    path: &Path,
    sink: &mut dyn Sink,
    on_read: &(dyn Fn(u64) + Sync),
) -> std::io::Result<FileStats> {
    read_file_with(path, sink, on_read, false)
}

/// Like [`read_file_counted`]; with `read_ahead`, a gzip file is decompressed on a thread of
/// its own while this one parses.
pub fn read_file_with(
    path: &Path,
    sink: &mut dyn Sink,
    on_read: &(dyn Fn(u64) + Sync),
    read_ahead: bool,
) -> std::io::Result<FileStats> {
    let file = std::fs::File::open(path)?;
    let (reader, compressed) =
        crate::input::open_reader(crate::input::Counted::new(file, on_read))?;
    let source: Arc<str> = Arc::from(path.display().to_string());
    let hint = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut stats = if compressed && read_ahead {
        crate::input::read_ahead(reader, |r| read_lines(source, r, &hint, sink))
    } else {
        read_lines(source, reader, &hint, sink)
    };
    stats.compressed = compressed;
    Ok(stats)
}

/// Reads a log from `reader` (gzip is detected by its magic bytes), naming it `source` in
/// locations; `name_hint` is the file name, used for the log kind when the content has none.
pub fn read_reader(
    source: Arc<str>,
    mut reader: impl BufRead,
    name_hint: &str,
    sink: &mut dyn Sink,
) -> FileStats {
    let gzip = matches!(reader.fill_buf(), Ok(b) if b.starts_with(&crate::input::GZIP_MAGIC));
    if gzip {
        let inner = std::io::BufReader::with_capacity(
            crate::input::BUFFER,
            crate::input::Capped::new(
                flate2::bufread::MultiGzDecoder::new(reader),
                crate::input::max_decompressed(),
            ),
        );
        let mut stats = read_lines(source, inner, name_hint, sink);
        stats.compressed = true;
        stats
    } else {
        read_lines(source, reader, name_hint, sink)
    }
}

struct Reader<'s> {
    source: Arc<str>,
    /// The location handed to the sink with each record: `source` at the current line (kept
    /// here so that no row clones the `Arc`, which threads reading one file would share).
    here: Location,
    sink: &'s mut dyn Sink,
    /// The columns the sink reads.
    columns: Columns,
    stats: FileStats,
    /// Kind from the file name, for blocks without `#path`.
    hint_kind: LogKind,
    /// Whether `stats.kind` came from the content.
    kind_known: bool,
    /// Whether a data row has been seen (the format is then fixed).
    format_known: bool,
    /// Kind of the JSON rows, from the first object.
    json_kind: Option<LogKind>,
    header: tsv::Header,
    block_kind: LogKind,
    cols: Vec<(usize, usize)>,
    /// How many leading fields of a row hold the columns read, for the schema and kind of the
    /// current block (worked out at its first row).
    fields_read: Option<usize>,
    headerless_reported: bool,
    /// Line at which the format was fixed.
    format_line: u64,
    /// In a parallel read: where data rows go instead of being mapped here.
    dispatch: Option<parallel::Dispatch>,
    /// In a parallel read, a read error is kept here (line, error) to be reported once every
    /// row is counted.
    read_error: Option<(u64, String)>,
}

impl<'s> Reader<'s> {
    fn diag(&mut self, line: u64, message: String) {
        self.stats.errors += 1;
        self.sink.diagnostic(Diagnostic {
            location: Location::line(&self.source, line),
            message,
        });
    }

    fn set_format(&mut self, no: u64, format: LogFormat) {
        if !self.format_known {
            self.format_known = true;
            self.format_line = no;
            self.stats.format = format;
        }
    }

    /// A new Reader for the data rows of one batch of a parallel read.
    fn for_rows(
        source: Arc<str>,
        sink: &'s mut dyn Sink,
        state: &parallel::BlockState,
        header: tsv::Header,
        cols: Vec<(usize, usize)>,
    ) -> Reader<'s> {
        Reader {
            here: Location::line(&source, 0),
            source,
            columns: sink.columns(),
            sink,
            stats: FileStats {
                kind: state.hint_kind.clone(),
                format: LogFormat::Tsv,
                compressed: false,
                rows: 0,
                errors: 0,
            },
            hint_kind: state.hint_kind.clone(),
            kind_known: true,
            format_known: false,
            json_kind: state.json_kind.clone(),
            header,
            block_kind: state.block_kind.clone(),
            cols,
            fields_read: None,
            headerless_reported: false,
            format_line: 0,
            dispatch: None,
            read_error: None,
        }
    }

    fn read_error(&mut self, no: u64, e: &std::io::Error) {
        if self.dispatch.is_some() {
            self.read_error = Some((no, e.to_string()));
            return;
        }
        let rows = self.stats.rows;
        self.diag(
            no,
            format!("read error after {rows} rows: {e}; rest of file skipped"),
        );
    }

    /// One line as read (without its newline): whitespace-only lines are skipped, and a UTF-8
    /// byte order mark before the first line (an editor's or PowerShell's) is dropped.
    fn text_line(&mut self, no: u64, line: &[u8]) {
        let line = match no {
            1 => line.strip_prefix(BOM).unwrap_or(line),
            _ => line,
        };
        let Some(line) = content(line) else {
            return;
        };
        if self.dispatch.is_some() && self.dispatched(no, line) {
            return;
        }
        self.line(no, line);
    }

    /// A line not handed to the workers: a meta line, a row parsed here, or a line before any
    /// header.
    fn line(&mut self, no: u64, line: &[u8]) {
        self.known_line(no, line, tsv::Known::default());
    }

    /// [`Reader::line`] with what is `known` of the line's text.
    fn known_line(&mut self, no: u64, line: &[u8], known: tsv::Known<'_>) {
        if self.header.is_meta(line) {
            self.headerless_reported = false;
            self.fields_read = None;
            match self.header.meta_line(line) {
                tsv::MetaEvent::Comment => {}
                tsv::MetaEvent::Separator => self.block_kind = self.hint_kind.clone(),
                tsv::MetaEvent::Path => {
                    let name = self.header.meta.path.as_deref().unwrap_or_default();
                    self.block_kind = LogKind::from_path_name(name);
                    if !self.kind_known {
                        self.kind_known = true;
                        self.stats.kind = self.block_kind.clone();
                    }
                }
                tsv::MetaEvent::Fields(dups) => {
                    for d in dups {
                        self.diag(
                            no,
                            format!("duplicate column {d:?} (the first one is used)"),
                        );
                    }
                }
                tsv::MetaEvent::Bad(msg) => self.diag(no, msg),
            }
            return;
        }
        if self.header.schema.is_some() {
            self.tsv_row(no, line, known);
        } else if line.first() == Some(&b'{') {
            self.json_row(no, line);
        } else if self.header.names_line(line) {
            self.block_kind = self.hint_kind.clone();
            self.fields_read = None;
        } else if !self.headerless_reported {
            self.headerless_reported = true;
            self.diag(
                no,
                "data line before any #fields header (a header-less log?); skipped until a header"
                    .to_string(),
            );
        } else {
            self.stats.errors += 1;
        }
    }

    fn tsv_row(&mut self, no: u64, line: &[u8], known: tsv::Known<'_>) {
        let Some(schema) = self.header.schema.as_ref() else {
            return;
        };
        let ncols = schema.ncols;
        let want = *self
            .fields_read
            .get_or_insert_with(|| schema.fields_for(self.columns.of(&self.block_kind)));
        let found = tsv::split_ranges(line, &self.header.meta.sep, want, &mut self.cols);
        if found != ncols {
            let msg = format!("expected {ncols} fields, found {found}; line skipped");
            self.diag(no, msg);
            return;
        }
        self.set_format(no, LogFormat::Tsv);
        self.stats.rows += 1;
        let Some(schema) = self.header.schema.as_ref() else {
            return;
        };
        let mut row = tsv::TsvRow::new(line, &self.cols, schema, &self.header.meta, known);
        let record = fields::map_row(&self.block_kind, &mut row, &self.columns);
        let (bad, bad_utf8) = (row.bad.take(), row.bad_utf8);
        if let Some(record) = record {
            self.here.pos = crate::model::Pos::Line(no);
            self.sink.record(record, &self.here);
        }
        if let Some(b) = bad {
            self.diag(no, bad_value_message(&b));
        } else if bad_utf8 {
            self.diag(no, "invalid UTF-8 (replaced with U+FFFD)".to_string());
        }
    }

    // Kept out of `line`: inlined there, its locals made `line`'s frame larger than a page, so
    // that every TSV row's call into `line` probed a new stack page.
    #[inline(never)]
    fn json_row(&mut self, no: u64, line: &[u8]) {
        match json::parse_line(line) {
            Ok(row) => self.json_record(no, row, None),
            Err(e) if memchr::memmem::find(line, tsv::BTEST_TIME_MASK).is_some() => {
                // btest masks times in JSON baselines too (`"t":XXXXXXXXXX.XXXXXX`), which
                // is not JSON: read the mask as an unknown time, silently, as in TSV.
                let unmasked = unmask_json_times(line);
                match json::parse_line(&unmasked) {
                    Ok(row) => self.json_record(no, row, None),
                    Err(_) => self.diag(no, format!("invalid JSON: {e}; line skipped")),
                }
            }
            Err(e) if std::str::from_utf8(line).is_err() => {
                let lossy = String::from_utf8_lossy(line);
                match json::parse_line(lossy.as_bytes()) {
                    Ok(row) => self.json_record(
                        no,
                        row,
                        Some("invalid UTF-8 (replaced with U+FFFD)".to_string()),
                    ),
                    Err(_) => self.diag(no, format!("invalid JSON: {e}; line skipped")),
                }
            }
            Err(e) => self.diag(no, format!("invalid JSON: {e}; line skipped")),
        }
    }

    fn json_record(&mut self, no: u64, mut row: json::JsonRow<'_>, problem: Option<String>) {
        use fields::Row;
        self.set_format(no, LogFormat::Json);
        self.stats.rows += 1;
        if self.json_kind.is_none() {
            let kind = match row.text(fields::F::Path) {
                Some(p) => {
                    let k = LogKind::from_path_name(&p);
                    if !self.kind_known {
                        self.kind_known = true;
                        self.stats.kind = k.clone();
                    }
                    k
                }
                None => self.hint_kind.clone(),
            };
            row.bad = None;
            self.json_kind = Some(kind);
        }
        let kind = self
            .json_kind
            .clone()
            .unwrap_or(LogKind::Other(String::new()));
        let record = fields::map_row(&kind, &mut row, &self.columns);
        let bad = row.bad.take();
        if let Some(record) = record {
            self.here.pos = crate::model::Pos::Line(no);
            self.sink.record(record, &self.here);
        }
        if let Some(b) = bad {
            self.diag(no, bad_value_message(&b));
        } else if let Some(p) = problem {
            self.diag(no, p);
        }
    }
}

/// `line` with every bare btest time mask (after a `:` or `,`/`[` in an array) made `null`.
fn unmask_json_times(line: &[u8]) -> Vec<u8> {
    let mask = tsv::BTEST_TIME_MASK;
    let mut out = Vec::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = memchr::memmem::find(rest, mask) {
        let (before, after) = rest.split_at(i);
        out.extend_from_slice(before);
        if matches!(before.last(), Some(b':' | b',' | b'[')) {
            out.extend_from_slice(b"null");
        } else {
            out.extend_from_slice(mask);
        }
        rest = after.get(mask.len()..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    out
}

fn bad_value_message(b: &fields::BadValue) -> String {
    let mut value = b.value.clone();
    if value.len() > 80 {
        let mut end = 80;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
        value.push_str("...");
    }
    format!(
        "bad {} value {:?} in column {}; field left unset",
        b.ty.name(),
        value,
        fields::NAMES.get(b.column as usize).copied().unwrap_or("?")
    )
}

/// The log kind a file name suggests: the part before the first dot (`conn.log.gz`,
/// `conn.00:00:00-01:00:00.log.gz`, `dns.ndjson.gz` all name their kind first).
pub fn kind_from_file_name(name: &str) -> LogKind {
    let stem = name.split('.').next().unwrap_or_default();
    LogKind::from_path_name(stem)
}

fn new_reader<'s>(source: Arc<str>, name_hint: &str, sink: &'s mut dyn Sink) -> Reader<'s> {
    let hint_kind = kind_from_file_name(name_hint);
    Reader {
        here: Location::line(&source, 0),
        source,
        columns: sink.columns(),
        sink,
        stats: FileStats {
            kind: hint_kind.clone(),
            format: LogFormat::Tsv,
            compressed: false,
            rows: 0,
            errors: 0,
        },
        block_kind: hint_kind.clone(),
        hint_kind,
        kind_known: false,
        format_known: false,
        json_kind: None,
        header: tsv::Header::default(),
        cols: Vec::new(),
        fields_read: None,
        headerless_reported: false,
        format_line: 0,
        dispatch: None,
        read_error: None,
    }
}

fn read_lines(
    source: Arc<str>,
    mut reader: impl BufRead,
    name_hint: &str,
    sink: &mut dyn Sink,
) -> FileStats {
    let mut r = new_reader(source, name_hint, sink);
    scan_lines(&mut reader, &mut r);
    r.stats
}

/// Feeds every line of `reader` to `r`, straight from the reader's buffer when a line lies
/// within it. Lines longer than [`MAX_LINE`] are reported and skipped; a read error ends the file.
/// In a parallel read, the runs of data rows of each buffer (from its first line, and after
/// each meta line) go to the workers whole ([`Reader::dispatched_block`]); only the lines
/// around them are looked at one by one here.
fn scan_lines(reader: &mut impl BufRead, r: &mut Reader<'_>) {
    let mut carry: Vec<u8> = Vec::new();
    let mut no: u64 = 0;
    // Inside a line over MAX_LINE (already reported), until its newline.
    let mut skipping = false;
    loop {
        let avail = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                r.read_error(no + 1, &e);
                break;
            }
        };
        if avail.is_empty() {
            if !carry.is_empty() && !skipping {
                r.text_line(no + 1, &carry);
            }
            break;
        }
        let mut start = 0;
        // At the first line that begins in the buffer and after each meta line: the run of
        // data rows from there may go to the workers whole.
        let mut block_tried = false;
        while let Some(at) = memchr::memchr(b'\n', avail.get(start..).unwrap_or_default()) {
            if !block_tried && carry.is_empty() && !skipping {
                block_tried = true;
                let (bytes, lines) =
                    r.dispatched_block(no + 1, avail.get(start..).unwrap_or_default());
                if bytes > 0 {
                    start += bytes;
                    no += lines;
                    continue;
                }
            }
            let piece = avail.get(start..start + at).unwrap_or_default();
            start += at + 1;
            no += 1;
            if skipping {
                skipping = false;
                continue;
            }
            if carry.is_empty() {
                if piece.len() > MAX_LINE {
                    r.diag(no, format!("line longer than {MAX_LINE} bytes; skipped"));
                } else {
                    r.text_line(no, piece);
                    block_tried &= piece.first() != Some(&b'#');
                }
            } else {
                carry.extend_from_slice(piece);
                if carry.len() > MAX_LINE {
                    r.diag(no, format!("line longer than {MAX_LINE} bytes; skipped"));
                } else {
                    r.text_line(no, &carry);
                    block_tried &= carry.first() != Some(&b'#');
                }
                carry.clear();
            }
        }
        let rest = avail.get(start..).unwrap_or_default();
        if !skipping {
            if carry.len() + rest.len() > MAX_LINE {
                r.diag(
                    no + 1,
                    format!("line longer than {MAX_LINE} bytes; skipped"),
                );
                carry.clear();
                skipping = true;
            } else {
                carry.extend_from_slice(rest);
            }
        }
        let n = avail.len();
        reader.consume(n);
    }
    if let Some(d) = r.dispatch.as_mut() {
        d.flush();
    }
}

/// The UTF-8 byte order mark.
pub(crate) const BOM: &[u8] = b"\xef\xbb\xbf";

/// A line without a trailing carriage return, or `None` for a line of only whitespace (skipped).
fn content(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Record;

    #[derive(Default)]
    struct Collect {
        records: Vec<String>,
        diags: Vec<String>,
    }

    impl Sink for Collect {
        fn record(&mut self, record: crate::model::Record<'_>, location: &Location) {
            self.records.push(format!("{location} {record:?}"));
        }
        fn diagnostic(&mut self, d: Diagnostic) {
            self.diags.push(d.to_string());
        }
    }

    fn read(name: &str, data: &[u8]) -> (FileStats, Collect) {
        let mut c = Collect::default();
        let stats = read_reader(Arc::from(name), data, name, &mut c);
        (stats, c)
    }

    /// Reads `data` and returns the typed records (owned, for comparison).
    fn records(data: &[u8]) -> Vec<Record<'static>> {
        struct Own(Vec<Record<'static>>);
        impl Sink for Own {
            fn record(&mut self, r: Record<'_>, _: &Location) {
                self.0.push(r.into_owned());
            }
            fn diagnostic(&mut self, _: Diagnostic) {}
        }
        let mut o = Own(Vec::new());
        read_reader(Arc::from("t"), data, "t", &mut o);
        o.0
    }

    const CONN_HEADER: &[u8] = b"#separator \\x09\n\
#set_separator\t,\n\
#empty_field\t(empty)\n\
#unset_field\t-\n\
#path\tconn\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\n";

    #[test]
    fn tsv_conn_by_name() {
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(b"1.5\tC1\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\tdns\n");
        let recs = records(&data);
        let Some(Record::Conn(c)) = recs.first() else {
            panic!("no conn record: {recs:?}");
        };
        assert_eq!(c.ts, Some(1.5));
        assert_eq!(c.uid.as_deref(), Some("C1"));
        assert_eq!(c.id.resp_h, "8.8.8.8".parse().ok());
        assert_eq!(c.id.resp_p, Some(53));
        assert_eq!(c.services.as_slice(), ["dns"]);
    }

    #[test]
    fn a_byte_order_mark_before_the_first_line_is_dropped() {
        let row = b"1.5\tC1\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\tdns\n";
        let json = b"{\"_path\":\"conn\",\"ts\":1.5,\"uid\":\"C1\",\"id.resp_h\":\"8.8.8.8\"}\n";
        let mut tsv = CONN_HEADER.to_vec();
        tsv.extend_from_slice(row);
        for plain in [tsv, json.to_vec()] {
            let mut marked = BOM.to_vec();
            marked.extend_from_slice(&plain);
            let (stats, c) = read("conn.log", &marked);
            let (want_stats, want) = read("conn.log", &plain);
            assert_eq!(c.diags, Vec::<String>::new());
            assert_eq!((stats.rows, stats.errors), (1, 0));
            assert_eq!(
                (stats.kind, stats.format),
                (want_stats.kind, want_stats.format)
            );
            assert_eq!(c.records, want.records);
        }
        // Only before the first line: elsewhere it is a field's text like any other.
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(BOM);
        data.extend_from_slice(row);
        let (stats, c) = read("conn.log", &data);
        assert_eq!((stats.rows, stats.errors), (1, 1));
        assert_eq!(c.diags.len(), 1);
        assert!(
            c.diags.iter().all(|d| d.contains("conn.log:8")),
            "{:?}",
            c.diags
        );
        assert!(
            c.records.iter().all(|r| r.contains("ts: None")),
            "{:?}",
            c.records
        );
    }

    /// Collects records and diagnostics like [`Collect`], reading only the analysis columns.
    #[derive(Default)]
    struct Analysis(Collect);

    impl Sink for Analysis {
        fn record(&mut self, record: Record<'_>, location: &Location) {
            self.0.record(record, location);
        }
        fn diagnostic(&mut self, d: Diagnostic) {
            self.0.diagnostic(d);
        }
        fn columns(&self) -> Columns {
            Columns::ANALYSIS
        }
    }

    #[test]
    fn columns_a_sink_does_not_read_are_neither_parsed_nor_reported() {
        // A conn row with bad values in `duration` and `orig_pkts` (left out of the analysis)
        // and a DNS row, as TSV and as JSON, with bad `TTLs`, `rcode` and `id.orig_h`.
        let conn = b"#separator \\x09\n#path\tconn\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\t\
orig_bytes\tresp_bytes\tconn_state\thistory\torig_pkts\n\
1.5\tC1\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\tdns\tlong\t10\t20\tSF\tDd\tmany\n";
        let dns_tsv = b"#separator \\x09\n#path\tdns\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype\t\
qtype_name\trcode\tanswers\tTTLs\n\
2.5\tC2\tnowhere\t5001\t10.0.0.53\t53\tudp\texample.com\t1\tA\tzero\t1.2.3.4\tlong\n";
        let dns_json = br#"{"_path":"dns","ts":2.5,"uid":"C2","id.orig_h":"nowhere","id.orig_p":5001,"id.resp_h":"10.0.0.53","id.resp_p":53,"proto":"udp","query":"example.com","qtype":1,"qtype_name":"A","rcode":"zero","answers":["1.2.3.4"],"TTLs":["long"]}"#;
        for data in [&conn[..], &dns_tsv[..], &dns_json[..]] {
            let mut all = Collect::default();
            read_reader(Arc::from("t"), data, "t", &mut all);
            let mut some = Analysis::default();
            read_reader(Arc::from("t"), data, "t", &mut some);
            assert_eq!(all.records.len(), 1, "{:?}", all.diags);
            assert_eq!(all.diags.len(), 1, "{:?}", all.diags);
            assert!(all.diags[0].contains("field left unset"), "{:?}", all.diags);
            assert_eq!(some.0.records.len(), 1);
            assert_eq!(some.0.diags, Vec::<String>::new());
        }
        let read_with = |data: &[u8], columns: Columns| {
            struct Own(Vec<Record<'static>>, Columns);
            impl Sink for Own {
                fn record(&mut self, r: Record<'_>, _: &Location) {
                    self.0.push(r.into_owned());
                }
                fn diagnostic(&mut self, _: Diagnostic) {}
                fn columns(&self) -> Columns {
                    self.1
                }
            }
            let mut o = Own(Vec::new(), columns);
            read_reader(Arc::from("t"), data, "t", &mut o);
            o.0
        };
        // The columns the analysis reads are the same either way; the others are unset.
        let (full, part) = (
            read_with(conn, Columns::ALL),
            read_with(conn, Columns::ANALYSIS),
        );
        let (Some(Record::Conn(f)), Some(Record::Conn(p))) = (full.first(), part.first()) else {
            panic!("no conn records: {full:?} {part:?}");
        };
        assert_eq!(f.conn_state.as_deref(), Some("SF"));
        assert_eq!(f.history.as_deref(), Some("Dd"));
        assert_eq!(
            (p.conn_state.as_deref(), p.history.as_deref()),
            (None, None)
        );
        assert_eq!(p.duration, None);
        let used = |c: &crate::model::Conn<'_>| {
            format!(
                "{:?}",
                (
                    c.ts,
                    &c.uid,
                    &c.id,
                    &c.proto,
                    &c.services,
                    c.orig_bytes,
                    c.resp_bytes
                )
            )
        };
        assert_eq!(used(f), used(p));
        assert_eq!(p.orig_bytes, Some(10));
        for dns in [&dns_tsv[..], &dns_json[..]] {
            let (full, part) = (
                read_with(dns, Columns::ALL),
                read_with(dns, Columns::ANALYSIS),
            );
            let (Some(Record::Dns(f)), Some(Record::Dns(p))) = (full.first(), part.first()) else {
                panic!("no dns records: {full:?} {part:?}");
            };
            assert_eq!(f.id.resp_h, "10.0.0.53".parse().ok());
            assert_eq!(p.id, crate::model::Endpoints::default());
            assert_eq!(
                (p.proto.as_deref(), p.rcode, &p.ttls),
                (None, None, &vec![])
            );
            let used = |d: &crate::model::Dns<'_>| {
                format!(
                    "{:?}",
                    (d.ts, &d.uid, &d.query, d.qtype, &d.qtype_name, &d.answers)
                )
            };
            assert_eq!(used(f), used(p));
            assert_eq!(p.answers.as_slice(), ["1.2.3.4"]);
        }
    }

    #[test]
    fn columns_found_by_name_not_position() {
        // Same data, columns in another order, plus an unknown column (ignored).
        let data = b"#separator \\x09\n#path\tconn\n\
#fields\tproto\textra\tid.resp_p\tid.resp_h\tid.orig_p\tid.orig_h\tuid\tts\tservice\n\
udp\tzzz\t53\t8.8.8.8\t5000\t10.0.0.1\tC1\t1.5\tdns\n";
        let mut data2 = CONN_HEADER.to_vec();
        data2.extend_from_slice(b"1.5\tC1\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\tdns\n");
        assert_eq!(records(data), records(&data2));
    }

    #[test]
    fn unset_empty_and_escapes() {
        // `-` unset, `(empty)` empty set, `\x2d` a literal dash, `\x2c` a comma in a set element.
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(b"-\t\\x2d\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\t(empty)\n");
        data.extend_from_slice(b"1\tC2\t10.0.0.1\t5000\t8.8.8.8\t53\t-\ta\\x2cb,c\n");
        let recs = records(&data);
        let [Record::Conn(a), Record::Conn(b)] = recs.as_slice() else {
            panic!("{recs:?}");
        };
        assert_eq!(a.ts, None);
        assert_eq!(a.uid.as_deref(), Some("-"));
        assert!(a.services.is_empty());
        assert_eq!(b.proto, None);
        assert_eq!(b.services.as_slice(), ["a,b", "c"]);
    }

    #[test]
    fn data_line_beginning_with_escaped_hash() {
        let data = b"#separator \\x09\n#path\ttest\n#fields\tdata\tc\nTest1\t42\n\\x23Kaputt\t42\n";
        let (s, c) = read("test.log", data);
        assert_eq!((s.rows, s.errors), (2, 0), "{:?}", c.diags);
    }

    #[test]
    fn btest_masked_time_is_unknown_and_silent() {
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(b"XXXXXXXXXX.XXXXXX\tC1\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\t-\n");
        let (s, c) = read("conn.log", &data);
        assert_eq!((s.rows, s.errors), (1, 0), "{:?}", c.diags);
        assert!(c.records[0].contains("ts: None"));
    }

    #[test]
    fn wrong_field_count_is_skipped_with_diagnostic() {
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(b"1\tC1\t10.0.0.1\t5000\n");
        data.extend_from_slice(b"1\tC2\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\t-\n");
        let (s, c) = read("conn.log", &data);
        assert_eq!((s.rows, s.errors), (1, 1));
        assert_eq!(
            c.diags,
            vec!["conn.log:8: expected 8 fields, found 4; line skipped"]
        );
        assert_eq!(c.records.len(), 1);
    }

    #[test]
    fn bad_typed_value_keeps_row_with_field_unset() {
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(b"1\tC1\tnot-an-ip\t5000\t8.8.8.8\t99999\tudp\t-\n");
        let (s, c) = read("conn.log", &data);
        assert_eq!((s.rows, s.errors), (1, 1));
        assert_eq!(
            c.diags,
            vec!["conn.log:8: bad addr value \"not-an-ip\" in column id.orig_h; field left unset"]
        );
        assert!(c.records[0].contains("orig_h: None"));
        assert!(c.records[0].contains("resp_p: None"));
    }

    #[test]
    fn raw_invalid_utf8_is_reported() {
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(b"1\tC\xff1\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\t-\n");
        let (s, c) = read("conn.log", &data);
        assert_eq!((s.rows, s.errors), (1, 1));
        assert_eq!(
            c.diags,
            vec!["conn.log:8: invalid UTF-8 (replaced with U+FFFD)"]
        );
        assert!(c.records[0].contains("C\u{fffd}1"));
    }

    #[test]
    fn duplicate_columns_first_wins() {
        let data = b"#separator \\x09\n#path\tconn\n#fields\tuid\tuid\nC1\tC2\n";
        let (s, c) = read("conn.log", data);
        assert_eq!((s.rows, s.errors), (1, 1));
        assert_eq!(
            c.diags,
            vec!["conn.log:3: duplicate column \"uid\" (the first one is used)"]
        );
        assert!(c.records[0].contains("\"C1\""));
    }

    #[test]
    fn headerless_file_gives_one_clear_diagnostic() {
        // LogAscii::include_meta = F with separator `|` (ascii-options): no header at all.
        let data = b"XXXXXXXXXX.XXXXXX|1.2.3.4|1234|2.3.4.5|80|success|unknown\n\
XXXXXXXXXX.XXXXXX|1.2.3.4|1234|2.3.4.5|80|failure|US\n";
        let (s, c) = read("ssh.log", data);
        assert_eq!((s.rows, s.errors), (0, 2));
        assert_eq!(c.diags.len(), 1);
        assert!(c.diags[0].starts_with("ssh.log:1: data line before any #fields header"));
    }

    #[test]
    fn tsv_mode_names_line() {
        // The writer's `tsv` mode: one plain line of column names (ascii-tsv).
        let data = b"t\tid.orig_h\tstatus\nXXXXXXXXXX.XXXXXX\t1.2.3.4\tsuccess\n";
        let (s, c) = read("ssh.log", data);
        assert_eq!((s.rows, s.errors), (1, 0), "{:?}", c.diags);
    }

    #[test]
    fn several_header_blocks_each_reset_the_schema() {
        let data = b"#separator \\x09\n#path\tdns\n#fields\tquery\tts\nexample.com\t1\n\
#close\tx\n#separator \\x09\n#path\tdns\n#fields\tts\tquery\n2\texample.org\n";
        let recs = records(data);
        let q: Vec<_> = recs
            .iter()
            .map(|r| match r {
                Record::Dns(d) => (d.ts, d.query.as_deref().map(str::to_string)),
                _ => (None, None),
            })
            .collect();
        assert_eq!(
            q,
            vec![
                (Some(1.0), Some("example.com".to_string())),
                (Some(2.0), Some("example.org".to_string()))
            ]
        );
    }

    #[test]
    fn custom_separators() {
        // ascii-escape: `||` separator, `|` escaped inside values.
        let data = b"#separator ||\n#set_separator||,\n#empty_field||(empty)\n#unset_field||-\n\
#path||dns\n#fields||ts||query\n1||fa\\x7c\\x7cure\n";
        let recs = records(data);
        let Some(Record::Dns(d)) = recs.first() else {
            panic!("{recs:?}");
        };
        assert_eq!(d.query.as_deref(), Some("fa||ure"));
    }

    #[test]
    fn json_lines_with_comment_and_blank_lines() {
        let data =
            b"### BTest baseline\n\n{\"_path\":\"dns\",\"ts\":1.0,\"query\":\"a.example\"}\r\n";
        let (s, c) = read("x.log", data);
        assert_eq!((s.rows, s.errors, s.format), (1, 0, LogFormat::Json));
        assert_eq!(s.kind, LogKind::Dns);
        assert!(c.records[0].contains("a.example"));
    }

    #[test]
    fn json_btest_masked_time_is_unknown_and_silent() {
        // ascii-json: `"t":XXXXXXXXXX.XXXXXX` is not JSON; btest wrote it over a real time.
        let data = b"{\"_path\":\"conn\",\"ts\":XXXXXXXXXX.XXXXXX,\"uid\":\"C1\"}\n";
        let (s, c) = read("x.log", data);
        assert_eq!((s.rows, s.errors), (1, 0), "{:?}", c.diags);
        assert!(c.records[0].contains("ts: None"));
    }

    #[test]
    fn json_broken_line() {
        let data = b"{\"ts\":1.0}\n{\"ts\":\n{\"ts\":2.0}\n";
        let (s, c) = read("conn.json", data);
        assert_eq!((s.rows, s.errors), (2, 1));
        assert!(
            c.diags[0].starts_with("conn.json:2: invalid JSON"),
            "{:?}",
            c.diags
        );
    }

    #[test]
    fn json_invalid_utf8_is_read_lossily() {
        let data = b"{\"query\":\"a\xffb\"}\n";
        let (s, c) = read("dns.json", data);
        assert_eq!((s.rows, s.errors), (1, 1));
        assert_eq!(
            c.diags,
            vec!["dns.json:1: invalid UTF-8 (replaced with U+FFFD)"]
        );
        assert!(c.records[0].contains("a\u{fffd}b"));
    }

    #[test]
    fn over_long_line() {
        let mut data = CONN_HEADER.to_vec();
        data.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        data.extend_from_slice(b"\n1\tC2\t10.0.0.1\t5000\t8.8.8.8\t53\tudp\t-\n");
        let (s, c) = read("conn.log", &data);
        assert_eq!((s.rows, s.errors), (1, 1));
        assert_eq!(
            c.diags,
            vec![format!(
                "conn.log:8: line longer than {MAX_LINE} bytes; skipped"
            )]
        );
    }

    #[test]
    fn kind_from_names() {
        assert_eq!(kind_from_file_name("conn.log"), LogKind::Conn);
        assert_eq!(
            kind_from_file_name("conn.00:00:00-01:00:00.log.gz"),
            LogKind::Conn
        );
        assert_eq!(kind_from_file_name("dns.ndjson.gz"), LogKind::Dns);
        assert_eq!(kind_from_file_name("x509.json"), LogKind::X509);
        assert_eq!(
            kind_from_file_name("weird.log"),
            LogKind::Other("weird".into())
        );
    }

    #[test]
    fn every_prefix_of_a_log_reads_without_panic() {
        let mut data = CONN_HEADER.to_vec();
        data.extend_from_slice(b"1\tC\\x2\t10.0.0.1\t5000\t::ffff:8.8.8.8\t53\tudp\ta,b\n");
        data.extend_from_slice(b"{\"ts\":\"2018-03-24T17:15:20Z\",\"id\":{\"orig_h\":1}}\n");
        for end in 0..=data.len() {
            let _ = read("conn.log", &data[..end]);
        }
    }
}
