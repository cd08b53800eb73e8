//! Reading one log on two threads with the same result as reading it on one: a reader thread
//! splits and parses the lines, and the caller's thread feeds the records to its sink in reading
//! order.
//!
//! This is for dns.log and ssl.log, read before conn.log, whose records build state that depends
//! on their order, so they cannot be spread over workers as conn rows are. The reader thread
//! packs what the sink would get into chunks: a DNS row as the few columns the analysis reads
//! and a TLS row whole, their strings copied into one text buffer per chunk (no allocation per
//! row: memory allocated on one thread and freed on another made a run with owned records more
//! than twice as slow as one thread), any other record as an owned record, and diagnostics, in
//! the order they came. The caller unpacks each chunk into borrowed records for its sink.
//! Memory is bounded by the channel: a few chunks are in flight, and emptied chunks go back to
//! the reader thread to be filled again.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use super::{Columns, FileStats, read_file_with};
use crate::model::{
    ChainKind, Diagnostic, Dns, Endpoints, Location, LogKind, Pos, Record, Sink, Tls, Ts,
};

/// Items per chunk before it is handed over.
pub const CHUNK_ITEMS: usize = 4096;
/// Bytes of packed text per chunk before it is handed over.
const CHUNK_TEXT: usize = 256 << 10;

/// Start and end of a string in [`Packed::text`].
type Span = (usize, usize);

/// The columns of a dns.log row that [`Columns::ANALYSIS`] reads.
struct DnsRow {
    pos: Pos,
    ts: Option<Ts>,
    uid: Option<Span>,
    query: Option<Span>,
    qtype: Option<u64>,
    qtype_name: Option<Span>,
    /// Range of [`Packed::lists`].
    answers: (usize, usize),
}

/// Every column of an ssl.log row.
struct TlsRow {
    pos: Pos,
    ts: Option<Ts>,
    uid: Option<Span>,
    id: Endpoints,
    version: Option<Span>,
    cipher: Option<Span>,
    server_name: Option<Span>,
    established: Option<bool>,
    validation_status: Option<Span>,
    chain_kind: ChainKind,
    /// Range of [`Packed::lists`].
    cert_chain: (usize, usize),
    subject: Option<Span>,
    issuer: Option<Span>,
}

enum Item {
    Dns(DnsRow),
    Tls(TlsRow),
    Other(Box<(Record<'static>, Location)>),
    Diagnostic(Diagnostic),
}

/// Records and diagnostics of one file, in reading order.
#[derive(Default)]
struct Chunk {
    source: Option<Arc<str>>,
    packed: Packed,
    items: Vec<Item>,
}

impl Chunk {
    fn clear(&mut self) {
        self.source = None;
        self.packed.text.clear();
        self.packed.lists.clear();
        self.items.clear();
    }
}

/// The strings of a chunk's packed rows, and the members of their lists (DNS answers, TLS
/// certificate chains).
#[derive(Default)]
struct Packed {
    text: String,
    lists: Vec<Span>,
}

impl Packed {
    fn push_str(&mut self, s: &str) -> Span {
        let start = self.text.len();
        self.text.push_str(s);
        (start, self.text.len())
    }

    fn push_opt(&mut self, s: &Option<Cow<'_, str>>) -> Option<Span> {
        s.as_deref().map(|s| self.push_str(s))
    }

    fn str(&self, span: Span) -> &str {
        self.text.get(span.0..span.1).unwrap_or_default()
    }

    fn cow(&self, span: Option<Span>) -> Option<Cow<'_, str>> {
        span.map(|s| Cow::Borrowed(self.str(s)))
    }

    /// The DNS record `row` stands for, borrowing from these strings.
    fn dns(&self, row: &DnsRow) -> Dns<'_> {
        Dns {
            ts: row.ts,
            uid: self.cow(row.uid),
            query: self.cow(row.query),
            qtype: row.qtype,
            qtype_name: self.cow(row.qtype_name),
            answers: self.list(row.answers),
            ..Dns::default()
        }
    }

    /// The TLS record `row` stands for, borrowing from these strings.
    fn tls(&self, row: &TlsRow) -> Tls<'_> {
        Tls {
            ts: row.ts,
            uid: self.cow(row.uid),
            id: row.id,
            version: self.cow(row.version),
            cipher: self.cow(row.cipher),
            server_name: self.cow(row.server_name),
            established: row.established,
            validation_status: self.cow(row.validation_status),
            chain_kind: row.chain_kind,
            cert_chain: self.list(row.cert_chain),
            subject: self.cow(row.subject),
            issuer: self.cow(row.issuer),
        }
    }

    fn push_list(&mut self, items: &[Cow<'_, str>]) -> (usize, usize) {
        let first = self.lists.len();
        for item in items {
            let span = self.push_str(item);
            self.lists.push(span);
        }
        (first, self.lists.len())
    }

    fn list<'s, C: FromIterator<Cow<'s, str>>>(&'s self, range: (usize, usize)) -> C {
        self.lists
            .get(range.0..range.1)
            .unwrap_or_default()
            .iter()
            .map(|&s| Cow::Borrowed(self.str(s)))
            .collect()
    }
}

/// The reader thread's sink: packs what it gets into chunks and sends them.
struct Packer {
    tx: SyncSender<Chunk>,
    spare: Receiver<Chunk>,
    columns: Columns,
    /// Whether the sink reads exactly the DNS columns a [`DnsRow`] keeps.
    pack_dns: bool,
    cur: Chunk,
    items: usize,
}

impl Packer {
    fn flush(&mut self) {
        if self.cur.items.is_empty() {
            return;
        }
        let mut next = self.spare.try_recv().unwrap_or_default();
        next.clear();
        let full = std::mem::replace(&mut self.cur, next);
        // A send fails only once the caller's thread is gone; the rows have nowhere to go then.
        let _ = self.tx.send(full);
    }

    /// Makes the chunk being filled one of `location`'s file (packed rows keep only their line;
    /// owned records and diagnostics carry their own location, so a chunk holding only those
    /// takes any file).
    fn source(&mut self, location: &Location) {
        match &self.cur.source {
            Some(s) if Arc::ptr_eq(s, &location.source) => return,
            Some(_) => self.flush(),
            None => {}
        }
        self.cur.source = Some(Arc::clone(&location.source));
    }

    fn push(&mut self, item: Item) {
        self.cur.items.push(item);
        if self.cur.items.len() >= self.items || self.cur.packed.text.len() >= CHUNK_TEXT {
            self.flush();
        }
    }
}

impl Sink for Packer {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        // A DNS row is packed as the columns of `Columns::ANALYSIS` when the sink reads no
        // more (else it goes as an owned record), a TLS row whole.
        match record {
            Record::Dns(d) if self.pack_dns => {
                self.source(location);
                let c = &mut self.cur.packed;
                let row = DnsRow {
                    pos: location.pos,
                    ts: d.ts,
                    uid: c.push_opt(&d.uid),
                    query: c.push_opt(&d.query),
                    qtype: d.qtype,
                    qtype_name: c.push_opt(&d.qtype_name),
                    answers: c.push_list(&d.answers),
                };
                self.push(Item::Dns(row));
            }
            Record::Tls(t) => {
                self.source(location);
                let c = &mut self.cur.packed;
                let row = TlsRow {
                    pos: location.pos,
                    ts: t.ts,
                    uid: c.push_opt(&t.uid),
                    id: t.id,
                    version: c.push_opt(&t.version),
                    cipher: c.push_opt(&t.cipher),
                    server_name: c.push_opt(&t.server_name),
                    established: t.established,
                    validation_status: c.push_opt(&t.validation_status),
                    chain_kind: t.chain_kind,
                    cert_chain: c.push_list(&t.cert_chain),
                    subject: c.push_opt(&t.subject),
                    issuer: c.push_opt(&t.issuer),
                };
                self.push(Item::Tls(row));
            }
            other => {
                let item = Item::Other(Box::new((other.into_owned(), location.clone())));
                self.push(item);
            }
        }
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.push(Item::Diagnostic(diagnostic));
    }

    fn columns(&self) -> Columns {
        self.columns
    }
}

/// Whether DNS rows read with `columns` fit a [`DnsRow`].
fn dns_packed(columns: &Columns) -> bool {
    columns.of(&LogKind::Dns) == Columns::ANALYSIS.of(&LogKind::Dns)
}

/// Feeds the items of `chunk` to `sink`, in order, leaving the chunk empty.
fn unpack(chunk: &mut Chunk, sink: &mut dyn Sink) {
    let mut here = chunk.source.as_ref().map(|s| Location::line(s, 0));
    let packed = &chunk.packed;
    for item in chunk.items.drain(..) {
        match item {
            Item::Dns(row) => {
                if let Some(here) = here.as_mut() {
                    here.pos = row.pos;
                    sink.record(Record::Dns(packed.dns(&row)), here);
                }
            }
            Item::Tls(row) => {
                if let Some(here) = here.as_mut() {
                    here.pos = row.pos;
                    sink.record(Record::Tls(packed.tls(&row)), here);
                }
            }
            Item::Other(b) => {
                let (record, location) = *b;
                sink.record(record, &location);
            }
            Item::Diagnostic(d) => sink.diagnostic(d),
        }
    }
    chunk.clear();
}

/// Like [`read_file_with`], with the lines read and parsed on a thread of their own while this
/// one feeds `sink`. `sink` gets the same records, diagnostics and locations in the same order.
pub fn read_file_pipelined(
    path: &Path,
    sink: &mut dyn Sink,
    on_read: &(dyn Fn(u64) + Sync),
    read_ahead: bool,
) -> std::io::Result<FileStats> {
    read_file_chunked(path, sink, on_read, read_ahead, CHUNK_ITEMS)
}

/// [`read_file_pipelined`] handing over chunks of at most `items` items (at least 1), so that
/// tests and fuzzing can cross many chunk boundaries with little input.
pub fn read_file_chunked(
    path: &Path,
    sink: &mut dyn Sink,
    on_read: &(dyn Fn(u64) + Sync),
    read_ahead: bool,
    items: usize,
) -> std::io::Result<FileStats> {
    let (tx, rx) = sync_channel::<Chunk>(4);
    let (spare_tx, spare_rx): (Sender<Chunk>, Receiver<Chunk>) = channel();
    let columns = sink.columns();
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut packer = Packer {
                tx,
                spare: spare_rx,
                columns,
                pack_dns: dns_packed(&columns),
                cur: Chunk::default(),
                items: items.max(1),
            };
            let stats = read_file_with(path, &mut packer, on_read, read_ahead);
            packer.flush();
            stats
        });
        for mut chunk in rx {
            unpack(&mut chunk, sink);
            // The reader thread may be done; then the chunk is simply dropped.
            let _ = spare_tx.send(chunk);
        }
        reader
            .join()
            .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything a sink is given, as text.
    struct Log(Vec<String>, Columns);

    impl Sink for Log {
        fn record(&mut self, record: Record<'_>, location: &Location) {
            self.0.push(format!("{location:?} {record:?}"));
        }
        fn diagnostic(&mut self, d: Diagnostic) {
            self.0.push(format!("diag {d:?}"));
        }
        fn columns(&self) -> Columns {
            self.1
        }
    }

    fn logs() -> Vec<std::path::PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        let mut dirs = vec![root.join("tests/data"), root.join("samples")];
        while let Some(d) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(".log") || n.ends_with(".log.gz"))
                {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_pipelined_read_gives_what_a_direct_read_gives() {
        let files = logs();
        for kind in ["dns", "ssl"] {
            let n = files
                .iter()
                .filter(|p| p.to_string_lossy().contains(kind))
                .count();
            assert!(n >= 10, "only {n} {kind} logs found");
        }
        for columns in [Columns::ANALYSIS, Columns::ALL] {
            for p in &files {
                let mut direct = Log(Vec::new(), columns);
                let a = read_file_with(p, &mut direct, &|_| {}, false).map_err(|e| e.to_string());
                for (read_ahead, items) in [(false, CHUNK_ITEMS), (true, CHUNK_ITEMS), (false, 3)] {
                    let mut piped = Log(Vec::new(), columns);
                    let b = read_file_chunked(p, &mut piped, &|_| {}, read_ahead, items)
                        .map_err(|e| e.to_string());
                    assert_eq!(a, b, "{}", p.display());
                    assert_eq!(direct.0, piped.0, "{}", p.display());
                }
            }
        }
    }

    #[test]
    fn analysis_dns_rows_and_tls_rows_are_packed_in_chunks_of_the_size_asked() {
        let source: Arc<str> = Arc::from("dns.log");
        let here = Location::line(&source, 1);
        let cases = [
            (Columns::ANALYSIS, true),
            (Columns::ANALYSIS.without_originator(), true),
            (Columns::ALL, false),
        ];
        for (columns, packs_dns) in cases {
            let (tx, rx) = sync_channel::<Chunk>(64);
            let (_spare_tx, spare) = channel::<Chunk>();
            let mut packer = Packer {
                tx,
                spare,
                columns,
                pack_dns: dns_packed(&columns),
                cur: Chunk::default(),
                items: 3,
            };
            for _ in 0..7 {
                let dns = Dns {
                    query: Some("a.example".into()),
                    answers: smallvec::smallvec!["192.0.2.1".into()],
                    ..Dns::default()
                };
                packer.record(Record::Dns(dns), &here);
                packer.record(Record::Tls(Tls::default()), &here);
            }
            packer.diagnostic(Diagnostic {
                location: here.clone(),
                message: "a problem".into(),
            });
            packer.flush();
            drop(packer);
            let chunks: Vec<Chunk> = rx.into_iter().collect();
            let sizes: Vec<usize> = chunks.iter().map(|c| c.items.len()).collect();
            assert_eq!(chunks.len(), 5, "{sizes:?} {packs_dns}");
            assert!(chunks.iter().all(|c| c.items.len() <= 3));
            let count = |f: fn(&Item) -> bool| {
                chunks
                    .iter()
                    .flat_map(|c| &c.items)
                    .filter(|i| f(i))
                    .count()
            };
            assert_eq!(
                count(|i| matches!(i, Item::Dns(_))),
                if packs_dns { 7 } else { 0 }
            );
            assert_eq!(
                count(|i| matches!(i, Item::Other(_))),
                if packs_dns { 0 } else { 7 }
            );
            assert_eq!(count(|i| matches!(i, Item::Tls(_))), 7);
            assert_eq!(count(|i| matches!(i, Item::Diagnostic(_))), 1);
        }
    }

    #[test]
    fn rows_past_one_chunk_keep_their_order_and_lines() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("dns.log");
        let mut text = String::from(
            "#separator \\x09\n#fields\tts\tuid\tquery\tqtype_name\tanswers\n\
             #types\ttime\tstring\tstring\tstring\tvector[string]\n",
        );
        for i in 0..3 * CHUNK_ITEMS {
            if i % 1000 == 7 {
                text.push_str("broken line\n");
            }
            text.push_str(&format!(
                "{i}.5\tC{i}\th{i}.example.com\tA\tc{i}.example.net,10.0.{}.{}\n",
                i / 256 % 256,
                i % 256
            ));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let mut direct = Log(Vec::new(), Columns::ANALYSIS);
        let a = read_file_with(&path, &mut direct, &|_| {}, false).map_err(|e| e.to_string());
        let mut piped = Log(Vec::new(), Columns::ANALYSIS);
        let b = read_file_pipelined(&path, &mut piped, &|_| {}, false).map_err(|e| e.to_string());
        assert_eq!(a, b);
        assert_eq!(direct.0.len(), 3 * CHUNK_ITEMS + 13);
        assert_eq!(direct.0, piped.0);
    }
}
