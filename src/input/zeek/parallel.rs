//! Reading many large logs on several threads, with the same result as reading them in order.
//!
//! One reader thread per file (up to the thread count at once) reads and, for `.gz`, decompresses
//! it, and keeps the order-sensitive state: header blocks, the log kind, the first JSON object,
//! over-long lines, read errors. Data rows are copied into batches of about
//! [`DEFAULT_BATCH_BYTES`] with a snapshot of the header state they were read under, and handed
//! through a bounded channel to worker threads, which parse and map them into their own
//! [`RankedSink`]. Under a TSV header, the reader thread copies a read buffer's runs of rows (from
//! its first line and after each meta line, up to the next meta line) whole and only counts
//! their newlines; the workers split them into lines. Other lines (JSON, meta lines, the ends of
//! a buffer) it looks at one by one. Every record and diagnostic keeps its file (by rank, the
//! file's index in the list) and line, so the caller can merge what the sinks gathered back into
//! reading order. Memory is bounded by the channel: at most a few batches per thread are in
//! flight.

use super::{FileStats, Reader, scan_lines, tsv};
use crate::input::LogFormat;
use crate::model::{Diagnostic, Location, LogKind, RankedSink};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

/// Bytes of data rows per batch handed to a worker.
pub const DEFAULT_BATCH_BYTES: usize = 256 << 10;

/// How a parallel read is split.
#[derive(Clone, Copy, Debug)]
pub struct ParallelOptions {
    /// Worker threads parsing rows, and most files read at once (at least 1).
    pub threads: usize,
    /// Bytes of rows per batch (at least 1).
    pub batch_bytes: usize,
}

impl Default for ParallelOptions {
    fn default() -> Self {
        ParallelOptions {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch_bytes: DEFAULT_BATCH_BYTES,
        }
    }
}

/// The header state data rows were read under.
pub(super) struct BlockState {
    pub hint_kind: LogKind,
    pub block_kind: LogKind,
    pub json_kind: Option<LogKind>,
    pub header: tsv::Header,
}

/// Data rows of one file, with the state they were read under.
pub(super) struct Batch {
    rank: usize,
    source: Arc<str>,
    state: Arc<BlockState>,
    buf: Vec<u8>,
    /// The rows, in reading order.
    pieces: Vec<Piece>,
}

/// Rows of a batch: where they are in its buffer and the line number of the first.
#[derive(Clone, Copy)]
enum Piece {
    /// One row, as the reader thread prepared it (without a carriage return).
    Line { no: u64, start: usize, end: usize },
    /// A run of lines as read, separated by newlines, none of them a meta line.
    Block { no: u64, start: usize, end: usize },
}

/// Emptied batch buffers the workers hand back for the reader threads to fill again, so that a
/// batch does not allocate, and fault in, a fresh buffer of its own.
#[derive(Clone, Default)]
pub(super) struct Spare(Arc<Mutex<Vec<Vec<u8>>>>);

/// Most buffers [`Spare`] keeps (the channel holds at most two batches per thread).
const MAX_SPARE: usize = 16;

impl Spare {
    /// A buffer to fill, emptied, holding at least `capacity` bytes.
    fn take(&self, capacity: usize) -> Vec<u8> {
        let spare = self.0.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut buf = spare.unwrap_or_default();
        buf.reserve(capacity);
        buf
    }

    /// Keeps `buf` (emptied) for a later batch, unless enough are kept.
    fn give(&self, mut buf: Vec<u8>) {
        buf.clear();
        let mut spare = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if spare.len() < MAX_SPARE {
            spare.push(buf);
        }
    }
}

/// The reader thread's side of a parallel read of one file.
pub(super) struct Dispatch {
    rank: usize,
    tx: SyncSender<Batch>,
    spare: Spare,
    batch_bytes: usize,
    /// The snapshot rows are batched under; `None` after anything that may change the state.
    state: Option<Arc<BlockState>>,
    cur: Option<Batch>,
}

impl Dispatch {
    /// The dispatch of the file of `rank`: batches of about `batch_bytes` (at least 1) go to
    /// `tx`, in buffers taken from `spare`.
    fn new(rank: usize, tx: SyncSender<Batch>, spare: Spare, batch_bytes: usize) -> Self {
        Dispatch {
            rank,
            tx,
            spare,
            batch_bytes: batch_bytes.max(1),
            state: None,
            cur: None,
        }
    }

    /// Sends the batch being filled.
    pub fn flush(&mut self) {
        if let Some(b) = self.cur.take()
            && !b.pieces.is_empty()
        {
            // The workers only stop once every sender is gone, so this cannot fail while a
            // worker is alive; if none is, there is nobody to give the rows to anyway.
            let _ = self.tx.send(b);
        }
    }

    /// Sends the batch being filled and forgets the state snapshot.
    fn invalidate(&mut self) {
        self.flush();
        self.state = None;
    }
}

impl Reader<'_> {
    /// In a parallel read: hands a data row to the workers and returns true, or prepares for the
    /// line to be handled here (meta lines, header-less lines, the first JSON object) and
    /// returns false.
    pub(super) fn dispatched(&mut self, no: u64, line: &[u8]) -> bool {
        let Some(d) = self.dispatch.as_mut() else {
            return false;
        };
        // With a schema, or for a JSON object, `is_meta` changes nothing (a custom meta prefix
        // is only looked for before any schema, on lines that are not JSON).
        let data = (self.header.schema.is_some()
            || (line.first() == Some(&b'{') && self.json_kind.is_some()))
            && !self.header.is_meta(line);
        if !data {
            d.invalidate();
            return false;
        }
        let Some(b) = self.batch() else {
            return false;
        };
        let start = b.buf.len();
        b.buf.extend_from_slice(line);
        let end = b.buf.len();
        b.pieces.push(Piece::Line { no, start, end });
        self.flush_if_full();
        true
    }

    /// In a parallel read under a TSV header with the `#` meta prefix: hands the workers, as one
    /// piece, the lines of `data` (its first one numbered `no`) up to the last newline, the
    /// first meta line or [`MAX_LINE`](super::MAX_LINE) bytes, whichever comes first. Returns
    /// the bytes taken (with their newlines) and the lines in them; `(0, 0)` when none.
    ///
    /// The reader thread then neither looks at each line nor copies it on its own: at 7 M conn
    /// rows that per-line work was nearly a third of the conn phase's CPU time.
    pub(super) fn dispatched_block(&mut self, no: u64, data: &[u8]) -> (usize, u64) {
        if self.dispatch.is_none()
            || self.header.schema.is_none()
            || self.header.meta.prefix.as_slice() != b"#"
            || data.first() == Some(&b'#')
        {
            return (0, 0);
        }
        let data = data.get(..super::MAX_LINE).unwrap_or(data);
        let Some(last) = memchr::memrchr(b'\n', data) else {
            return (0, 0);
        };
        let mut taken = data.get(..=last).unwrap_or_default();
        if let Some(meta) = memchr::memmem::find(taken, b"\n#") {
            taken = taken.get(..=meta).unwrap_or_default();
        }
        let lines = memchr::memchr_iter(b'\n', taken).count() as u64;
        let Some(b) = self.batch() else {
            return (0, 0);
        };
        let start = b.buf.len();
        b.buf
            .extend_from_slice(taken.strip_suffix(b"\n").unwrap_or(taken));
        let end = b.buf.len();
        b.pieces.push(Piece::Block { no, start, end });
        self.flush_if_full();
        (taken.len(), lines)
    }

    /// The batch being filled, begun (under a snapshot of the header state) if there is none.
    fn batch(&mut self) -> Option<&mut Batch> {
        let d = self.dispatch.as_mut()?;
        if d.cur.is_none() {
            let state = match &d.state {
                Some(s) => Arc::clone(s),
                None => {
                    let s = Arc::new(BlockState {
                        hint_kind: self.hint_kind.clone(),
                        block_kind: self.block_kind.clone(),
                        json_kind: self.json_kind.clone(),
                        header: self.header.clone(),
                    });
                    d.state = Some(Arc::clone(&s));
                    s
                }
            };
            d.cur = Some(Batch {
                rank: d.rank,
                source: Arc::clone(&self.source),
                state,
                buf: d.spare.take(d.batch_bytes + 4096),
                pieces: Vec::new(),
            });
        }
        d.cur.as_mut()
    }

    /// Sends the batch being filled once it holds a batch's worth of bytes.
    fn flush_if_full(&mut self) {
        if let Some(d) = self.dispatch.as_mut()
            && d.cur.as_ref().is_some_and(|b| b.buf.len() >= d.batch_bytes)
        {
            d.flush();
        }
    }
}

/// What the reader thread of one file found.
struct FileOutcome {
    stats: FileStats,
    format: Option<(u64, LogFormat)>,
    read_error: Option<(u64, String)>,
    source: Arc<str>,
}

/// Per-file counts a worker gathered.
#[derive(Default)]
struct WorkerFile {
    rows: u64,
    errors: u64,
    format: Option<(u64, LogFormat)>,
}

fn earliest(a: Option<(u64, LogFormat)>, b: Option<(u64, LogFormat)>) -> Option<(u64, LogFormat)> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if y.0 < x.0 { y } else { x }),
        (x, y) => x.or(y),
    }
}

fn read_one<S: RankedSink>(
    rank: usize,
    path: &Path,
    sink: &mut S,
    tx: &SyncSender<Batch>,
    spare: &Spare,
    opts: ParallelOptions,
    on_read: &(dyn Fn(u64) + Sync),
) -> std::io::Result<FileOutcome> {
    let file = std::fs::File::open(path)?;
    let (mut reader, compressed) =
        crate::input::open_reader(crate::input::Counted::new(file, on_read))?;
    let source: Arc<str> = Arc::from(path.display().to_string());
    let hint = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    sink.begin_file(rank);
    let mut r = super::new_reader(Arc::clone(&source), &hint, sink);
    r.dispatch = Some(Dispatch::new(
        rank,
        tx.clone(),
        spare.clone(),
        opts.batch_bytes,
    ));
    scan_lines(&mut reader, &mut r);
    let format = r.format_known.then_some((r.format_line, r.stats.format));
    let mut stats = r.stats;
    stats.compressed = compressed;
    Ok(FileOutcome {
        stats,
        format,
        read_error: r.read_error,
        source,
    })
}

fn work<S: RankedSink>(
    rx: &Mutex<Receiver<Batch>>,
    spare: &Spare,
    sink: &mut S,
) -> Vec<WorkerFile> {
    let mut files: Vec<WorkerFile> = Vec::new();
    let mut snapshot: Option<Arc<BlockState>> = None;
    let mut header = tsv::Header::default();
    let mut cols = Vec::new();
    let mut source: Option<(usize, Arc<str>)> = None;
    loop {
        let next = {
            let guard = rx.lock().unwrap_or_else(|e| e.into_inner());
            guard.recv()
        };
        let Ok(batch) = next else { break };
        // A source of the worker's own, so that locations do not share one reference count
        // across threads.
        let src = match &source {
            Some((rank, s)) if *rank == batch.rank => Arc::clone(s),
            _ => {
                let s: Arc<str> = Arc::from(&*batch.source);
                source = Some((batch.rank, Arc::clone(&s)));
                s
            }
        };
        if !snapshot
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &batch.state))
        {
            header = batch.state.header.clone();
            snapshot = Some(Arc::clone(&batch.state));
        }
        sink.begin_file(batch.rank);
        let mut r = Reader::for_rows(
            src,
            sink,
            &batch.state,
            std::mem::take(&mut header),
            std::mem::take(&mut cols),
        );
        for &piece in &batch.pieces {
            match piece {
                Piece::Line { no, start, end } => {
                    if let Some(line) = batch.buf.get(start..end) {
                        r.line(no, line);
                    }
                }
                Piece::Block { no, start, end } => {
                    let block = batch.buf.get(start..end).unwrap_or_default();
                    // The run's text checked once, not row by row.
                    let text = simdutf8::basic::from_utf8(block).ok();
                    let plain = memchr::memchr(b'\\', block).is_none();
                    let mut from = 0;
                    for (i, nl) in memchr::memchr_iter(b'\n', block)
                        .chain(std::iter::once(block.len()))
                        .enumerate()
                    {
                        if let Some(line) = block.get(from..nl).and_then(super::content) {
                            let known = super::tsv::Known {
                                text: text.and_then(|t| t.get(from..from + line.len())),
                                plain,
                            };
                            r.known_line(no + i as u64, line, known);
                        }
                        from = nl + 1;
                    }
                }
            }
        }
        let format = r.format_known.then_some((r.format_line, r.stats.format));
        let (rows, errors) = (r.stats.rows, r.stats.errors);
        header = r.header;
        cols = r.cols;
        if files.len() <= batch.rank {
            files.resize_with(batch.rank + 1, WorkerFile::default);
        }
        if let Some(f) = files.get_mut(batch.rank) {
            f.rows += rows;
            f.errors += errors;
            f.format = earliest(f.format, format);
        }
        spare.give(batch.buf);
    }
    files
}

/// Reads `files` (logs of one phase, in reading order) on several threads. Each thread fills
/// its own sink from `make`; every record and diagnostic a sink gets is preceded by
/// [`RankedSink::begin_file`] with the rank of its file: `rank_base` plus its index in `files`. Returns each file's stats (or the error
/// opening it), in the order of `files`, and the sinks.
pub fn read_files_parallel<S, F>(
    files: &[&Path],
    rank_base: usize,
    opts: ParallelOptions,
    make: F,
    on_read: &(dyn Fn(u64) + Sync),
) -> (Vec<std::io::Result<FileStats>>, Vec<S>)
where
    S: RankedSink,
    F: Fn() -> S + Sync,
{
    let threads = opts.threads.max(1);
    let (tx, rx) = sync_channel::<Batch>(2 * threads);
    let rx = Mutex::new(rx);
    let spare = Spare::default();
    let next = AtomicUsize::new(0);
    let readers = threads.min(files.len()).max(1);
    let (outcomes, mut sinks, worker_files) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let (rx, spare) = (&rx, &spare);
                let make = &make;
                scope.spawn(move || {
                    let mut sink = make();
                    let files = work(rx, spare, &mut sink);
                    (sink, files)
                })
            })
            .collect();
        let reader_handles: Vec<_> = (0..readers)
            .map(|_| {
                let tx = tx.clone();
                let (next, make, spare) = (&next, &make, &spare);
                scope.spawn(move || {
                    let mut sink = make();
                    let mut done = Vec::new();
                    loop {
                        let rank = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(rank) else { break };
                        done.push((
                            rank,
                            read_one(rank_base + rank, path, &mut sink, &tx, spare, opts, on_read),
                        ));
                    }
                    (sink, done)
                })
            })
            .collect();
        drop(tx);
        let mut outcomes: Vec<Option<std::io::Result<FileOutcome>>> =
            (0..files.len()).map(|_| None).collect();
        let mut sinks = Vec::new();
        for h in reader_handles {
            let (sink, done) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            sinks.push(sink);
            for (rank, o) in done {
                if let Some(slot) = outcomes.get_mut(rank) {
                    *slot = Some(o);
                }
            }
        }
        let mut worker_files = Vec::new();
        for h in workers {
            let (sink, files) = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            sinks.push(sink);
            worker_files.push(files);
        }
        (outcomes, sinks, worker_files)
    });
    let mut results = Vec::with_capacity(files.len());
    for (rank, o) in outcomes.into_iter().enumerate() {
        let o = o.unwrap_or_else(|| Err(std::io::Error::other("not read")));
        let o = o.map(|mut out| {
            let mut format = out.format;
            for wf in worker_files.iter().filter_map(|w| w.get(rank_base + rank)) {
                out.stats.rows += wf.rows;
                out.stats.errors += wf.errors;
                format = earliest(format, wf.format);
            }
            if let Some((_, f)) = format {
                out.stats.format = f;
            }
            if let Some((no, e)) = out.read_error
                && let Some(sink) = sinks.first_mut()
            {
                let rows = out.stats.rows;
                sink.begin_file(rank_base + rank);
                sink.diagnostic(Diagnostic {
                    location: Location::line(&out.source, no),
                    message: format!("read error after {rows} rows: {e}; rest of file skipped"),
                });
                out.stats.errors += 1;
            }
            out.stats
        });
        results.push(o);
    }
    (results, sinks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Nothing;

    impl crate::model::Sink for Nothing {
        fn record(&mut self, _: crate::model::Record<'_>, _: &Location) {}
        fn diagnostic(&mut self, _: Diagnostic) {}
    }

    const HEADER: &[u8] = b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n\
        #unset_field\t-\n#path\tconn\n#fields\tts\tuid\tid.resp_h\n#types\ttime\tstring\taddr\n";

    /// A dispatch of batches of up to 1 MiB, and where they go.
    fn dispatch() -> (Dispatch, Receiver<Batch>) {
        let (tx, rx) = sync_channel(64);
        (Dispatch::new(0, tx, Spare::default(), 1 << 20), rx)
    }

    /// A reader of `conn.log` handing rows to [`dispatch`], and where its batches go.
    fn dispatching_reader(sink: &mut Nothing) -> (Reader<'_>, Receiver<Batch>) {
        let (dispatch, rx) = dispatch();
        let mut r = super::super::new_reader(Arc::from("conn.log"), "conn.log", sink);
        r.dispatch = Some(dispatch);
        (r, rx)
    }

    /// The pieces of the batches `rx` got, each as (line number, text, whether a block).
    fn pieces(rx: &Receiver<Batch>) -> Vec<(u64, String, bool)> {
        rx.try_iter()
            .flat_map(|b| {
                b.pieces
                    .iter()
                    .map(|&p| {
                        let (no, start, end, block) = match p {
                            Piece::Line { no, start, end } => (no, start, end, false),
                            Piece::Block { no, start, end } => (no, start, end, true),
                        };
                        (
                            no,
                            String::from_utf8_lossy(&b.buf[start..end]).into(),
                            block,
                        )
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn a_run_of_rows_ends_at_the_last_newline_before_any_meta_line_and_never_begins_with_one() {
        let (dispatch, rx) = dispatch();
        let mut sink = Nothing;
        let mut r = super::super::new_reader(Arc::from("conn.log"), "conn.log", &mut sink);
        // Before any header: nothing goes as a run.
        assert_eq!(r.dispatched_block(1, b"1\tC\t10.0.0.1\n"), (0, 0));
        r.dispatch = Some(dispatch);
        assert_eq!(r.dispatched_block(1, b"1\tC\t10.0.0.1\n"), (0, 0));
        for (i, l) in HEADER.split(|b| *b == b'\n').enumerate() {
            r.text_line(i as u64 + 1, l);
        }
        assert_eq!(
            r.dispatched_block(9, b"#close\tx\n1\tC\t10.0.0.1\n"),
            (0, 0)
        );
        assert_eq!(r.dispatched_block(9, b"no newline"), (0, 0));
        assert_eq!(
            r.dispatched_block(
                9,
                b"1\tA\t10.0.0.1\r\n\n2\tB\t10.0.0.2\n#close\tx\n3\tC\t10.0.0.3\n"
            ),
            (28, 3)
        );
        assert_eq!(
            r.dispatched_block(20, b"4\tD\t10.0.0.4\n5\tE\t10.0"),
            (13, 1)
        );
        // Never more than MAX_LINE bytes, so that no line in a run can be over-long.
        let mut long = vec![b'x'; crate::input::zeek::MAX_LINE - 1];
        long.extend_from_slice(b"\nmore\n");
        assert_eq!(
            r.dispatched_block(30, &long),
            (crate::input::zeek::MAX_LINE, 1)
        );
        long[0..2].copy_from_slice(b"\nx");
        long.truncate(crate::input::zeek::MAX_LINE + 1);
        long[crate::input::zeek::MAX_LINE - 1] = b'y';
        assert_eq!(r.dispatched_block(40, &long), (1, 1));
        r.dispatch.as_mut().unwrap().flush();
        let got = pieces(&rx);
        let want: Vec<(u64, String, bool)> = vec![
            (9, "1\tA\t10.0.0.1\r\n\n2\tB\t10.0.0.2".into(), true),
            (20, "4\tD\t10.0.0.4".into(), true),
            (30, "x".repeat(crate::input::zeek::MAX_LINE - 1), true),
            (40, String::new(), true),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn the_rows_after_each_header_go_as_one_run() {
        let mut sink = Nothing;
        let (mut r, rx) = dispatching_reader(&mut sink);
        let mut log = HEADER.to_vec();
        log.extend_from_slice(b"1\tA\t10.0.0.1\n2\tB\t10.0.0.2\n#close\tx\n");
        log.extend_from_slice(HEADER);
        log.extend_from_slice(b"3\tC\t10.0.0.3\n4\tD\t10.0");
        super::super::scan_lines(&mut &log[..], &mut r);
        let want: Vec<(u64, String, bool)> = vec![
            (8, "1\tA\t10.0.0.1\n2\tB\t10.0.0.2".into(), true),
            (18, "3\tC\t10.0.0.3".into(), true),
            (19, "4\tD\t10.0".into(), false),
        ];
        assert_eq!(pieces(&rx), want);
    }

    #[test]
    fn batch_buffers_come_back_emptied_and_only_so_many_are_kept() {
        let spare = Spare::default();
        let first = spare.take(100);
        assert!(first.is_empty() && first.capacity() >= 100);
        let at = first.as_ptr();
        let mut used = first;
        used.extend_from_slice(b"rows");
        spare.give(used);
        let again = spare.take(10);
        assert_eq!((again.as_ptr(), again.len()), (at, 0));
        for _ in 0..MAX_SPARE + 5 {
            spare.give(vec![1; 8]);
        }
        assert_eq!(spare.0.lock().unwrap().len(), MAX_SPARE);
        assert!(spare.take(4096).capacity() >= 4096);
    }

    #[test]
    fn under_a_custom_meta_prefix_rows_go_one_by_one() {
        // LogAscii::meta_prefix = "PREFIX<>": a run could hide a meta line from the reader.
        let mut sink = Nothing;
        let (mut r, rx) = dispatching_reader(&mut sink);
        for (i, l) in [
            &b"PREFIX<>separator |"[..],
            b"PREFIX<>path|conn",
            b"PREFIX<>fields|ts|uid|id.resp_h",
        ]
        .into_iter()
        .enumerate()
        {
            r.text_line(i as u64 + 1, l);
        }
        assert!(r.header.schema.is_some());
        assert_eq!(
            r.dispatched_block(4, b"1|A|10.0.0.1\nPREFIX<>close|x\n"),
            (0, 0)
        );
        r.text_line(4, b"1|A|10.0.0.1");
        r.dispatch.as_mut().unwrap().flush();
        assert_eq!(pieces(&rx), vec![(4, "1|A|10.0.0.1".into(), false)]);
    }
}
