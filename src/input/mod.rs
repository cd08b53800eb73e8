//! Finds the inputs under the paths a user named and tells what each one is.
//!
//! A path is a file or a directory (walked recursively in name order, hidden entries skipped).
//! What a file is comes from its content, never from its name: gzip (`1f 8b`, possibly several
//! members) is looked through; then pcap (any of its four magic numbers) or pcapng is a capture,
//! a `#separator` header (or another meta prefix, or the header-less `tsv` column line) is a Zeek
//! TSV log, and a first data line beginning with `{` is a Zeek JSON log. The log kind comes from
//! `#path`, else `_path` of the first JSON object, else the file name. A file named like a log
//! (`.log`, `.json`, `.ndjson`, `.gz`) whose content says nothing is still taken as a Zeek TSV
//! log so that the reader can say what is wrong with it; other unrecognised files found in a
//! directory (README, `.txt`) are skipped silently, and a named one is reported. Reading the
//! logs is [`zeek`]'s job, decoding captures [`pcap`]'s.

pub mod pcap;
pub mod spill;
pub mod zeek;
pub mod zeek_runner;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::LogKind;

/// Buffer size for reading inputs.
pub const BUFFER: usize = 256 * 1024;
/// The first two bytes of a gzip member.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// How much of a file detection looks at.
const SNIFF: u64 = 64 * 1024;
/// Bound on directory depth (guards against symlink loops).
const MAX_DEPTH: usize = 32;
/// Default cap on the decompressed size of one gzip file: 64 GiB.
pub const DEFAULT_MAX_DECOMPRESSED: u64 = 64 << 30;

/// Cap on the decompressed size of one gzip file (a defence against gzip bombs); process-wide,
/// set once from the command line by [`set_max_decompressed`].
pub static MAX_DECOMPRESSED: AtomicU64 = AtomicU64::new(DEFAULT_MAX_DECOMPRESSED);

/// Sets the cap on the decompressed size of each gzip file read from now on.
pub fn set_max_decompressed(bytes: u64) {
    MAX_DECOMPRESSED.store(bytes, Ordering::Relaxed);
}

/// The cap on the decompressed size of one gzip file in force.
pub fn max_decompressed() -> u64 {
    MAX_DECOMPRESSED.load(Ordering::Relaxed)
}

/// The two encodings of Zeek logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogFormat {
    Tsv,
    Json,
}

impl LogFormat {
    /// `tsv` or `json`.
    pub fn name(self) -> &'static str {
        match self {
            LogFormat::Tsv => "tsv",
            LogFormat::Json => "json",
        }
    }
}

/// The two capture file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CaptureFormat {
    Pcap,
    Pcapng,
}

/// What an input file holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    Zeek { kind: LogKind, format: LogFormat },
    Capture(CaptureFormat),
}

/// One input file found by [`discover`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputFile {
    pub path: PathBuf,
    pub kind: InputKind,
    /// Whether the file is gzip (it is read through [`open`] either way).
    pub compressed: bool,
}

/// Finds the inputs under `paths`, in a deterministic order (the paths in the order given;
/// directory entries sorted by name). The second vector holds `path: reason` for every path or
/// file that could not be read or is not an input, and for every directory named in `paths`
/// under which nothing was found (nothing read is not a clean capture).
pub fn discover(paths: &[PathBuf]) -> (Vec<InputFile>, Vec<String>) {
    discover_in(paths, true)
}

/// The logs Zeek wrote into `dir`, as [`discover`] finds them, except that finding none is no
/// problem: a capture can hold nothing Zeek logs.
pub fn discover_output(dir: &Path) -> (Vec<InputFile>, Vec<String>) {
    discover_in(&[dir.to_path_buf()], false)
}

fn discover_in(paths: &[PathBuf], report_empty: bool) -> (Vec<InputFile>, Vec<String>) {
    let mut w = Walk::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let before = (w.found.len(), w.problems.len());
                if w.walk(path, 0) && report_empty && before == (w.found.len(), w.problems.len()) {
                    w.problems.push(format!(
                        "{}: no Zeek log or capture in this directory or below it",
                        path.display()
                    ));
                }
            }
            Ok(m) if !m.is_file() => w.problems.push(not_regular(path)),
            Ok(_) => {
                if !w.first_visit(path) {
                    continue;
                }
                match detect(path, true) {
                    Ok(Some(f)) => w.found.push(f),
                    Ok(None) => w.problems.push(format!(
                        "{}: not a Zeek log or a capture (unrecognised content)",
                        path.display()
                    )),
                    Err(e) => w.problems.push(format!("{}: {e}", path.display())),
                }
            }
            Err(e) => w.problems.push(format!("{}: {e}", path.display())),
        }
    }
    (w.found, w.problems)
}

/// State of one discovery: what was found, what went wrong, and the files and directories
/// already visited (by canonical path), so that a file named twice or reached through a
/// symbolic link is read once and link loops end.
#[derive(Default)]
struct Walk {
    found: Vec<InputFile>,
    problems: Vec<String>,
    seen: std::collections::HashSet<PathBuf>,
}

impl Walk {
    fn first_visit(&mut self, path: &Path) -> bool {
        match std::fs::canonicalize(path) {
            Ok(c) => self.seen.insert(c),
            Err(_) => true,
        }
    }

    /// Walks `dir` unless it was visited already (then returns false).
    fn walk(&mut self, dir: &Path, depth: usize) -> bool {
        if !self.first_visit(dir) {
            return false;
        }
        if depth > MAX_DEPTH {
            self.problems.push(format!(
                "{}: directories nested deeper than {MAX_DEPTH}; not searched",
                dir.display()
            ));
            return true;
        }
        let mut subdirs_and_files = Vec::new();
        list_dir(dir, &mut subdirs_and_files, &mut self.problems);
        for (path, is_dir) in subdirs_and_files {
            if is_dir {
                self.walk(&path, depth + 1);
                continue;
            }
            if !self.first_visit(&path) {
                continue;
            }
            match detect(&path, false) {
                Ok(Some(f)) => self.found.push(f),
                Ok(None) => {
                    if known_log_name(&path) {
                        self.problems.push(format!(
                            "{}: not a Zeek log or a capture (unrecognised content)",
                            path.display()
                        ));
                    }
                }
                Err(e) => self.problems.push(format!("{}: {e}", path.display())),
            }
        }
        true
    }
}

/// The visible entries of `dir` in name order, each with whether it is a directory; other
/// entries than files and directories (sockets, pipes, broken links) are left out, and reported
/// when named like a log.
fn list_dir(dir: &Path, out: &mut Vec<(PathBuf, bool)>, problems: &mut Vec<String>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(format!("{}: {e}", dir.display()));
            return;
        }
    };
    let mut paths = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                if !e.file_name().to_string_lossy().starts_with('.') {
                    paths.push(e.path());
                }
            }
            Err(e) => problems.push(format!("{}: {e}", dir.display())),
        }
    }
    paths.sort();
    for path in paths {
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => out.push((path, true)),
            Ok(m) if m.is_file() => out.push((path, false)),
            Ok(_) if known_log_name(&path) => problems.push(not_regular(&path)),
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e}", path.display())),
        }
    }
}

/// Why a path that is neither a file nor a directory is not read: its content could be read
/// only once, and captriage reads an input's first bytes to tell what it is, then the input.
fn not_regular(path: &Path) -> String {
    format!(
        "{}: not a regular file (a pipe, such as `<(zcat conn.log.gz)`, or a device); captriage \
         reads files and directories: write it to a file first",
        path.display()
    )
}

/// Whether a file name says "log or capture" (so that unrecognised content is worth a word).
fn looks_like_log_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [
        ".log", ".json", ".ndjson", ".gz", ".pcap", ".pcapng", ".cap",
    ]
    .iter()
    .any(|ext| name.ends_with(ext) || name.contains(&format!("{ext}.")))
}

/// Whether a file whose content says nothing should still go to the Zeek reader (so that it can
/// say what is wrong): a `.log` name, or a JSON name (`.json`, `.ndjson`) of a log kind captriage
/// reads. Other JSON documents in a log directory (indicator lists, configs, reports) are not logs.
fn known_log_name(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    looks_like_log_name(path)
        && (!json_document_name(&name)
            || !matches!(zeek::kind_from_file_name(&name), LogKind::Other(_)))
}

/// A capture file name: `.pcap`, `.pcapng` or `.cap` (possibly compressed).
fn capture_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [".pcap", ".pcapng", ".cap"]
        .iter()
        .any(|ext| name.ends_with(ext) || name.contains(&format!("{ext}.")))
}

/// A `.json` or `.ndjson` name (possibly compressed).
fn json_document_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [".json", ".ndjson"]
        .iter()
        .any(|ext| name.ends_with(ext) || name.contains(&format!("{ext}.")))
}

/// Opens `path` for reading with a 256 KiB buffer, decompressing gzip (all members) when the
/// content starts with the gzip magic, whatever the name. The flag says whether it was gzip.
pub fn open(path: &Path) -> std::io::Result<(Box<dyn BufRead + Send>, bool)> {
    open_reader(std::fs::File::open(path)?)
}

/// Like [`open`] for any byte source (a file wrapped to count progress, a test buffer).
pub fn open_reader<'a, R: Read + Send + 'a>(
    raw: R,
) -> std::io::Result<(Box<dyn BufRead + Send + 'a>, bool)> {
    let mut file = BufReader::with_capacity(BUFFER, raw);
    let gzip = file.fill_buf()?.starts_with(&GZIP_MAGIC);
    if gzip {
        let gz = Capped::new(
            flate2::bufread::MultiGzDecoder::new(file),
            max_decompressed(),
        );
        Ok((Box::new(BufReader::with_capacity(BUFFER, gz)), true))
    } else {
        Ok((Box::new(file), false))
    }
}

/// A reader that fails with [`std::io::ErrorKind::InvalidData`] once more than `cap` bytes have
/// come out of it: wraps a decompressor so that a gzip bomb stops with a clear message.
pub struct Capped<R> {
    inner: R,
    cap: u64,
    total: u64,
}

impl<R> Capped<R> {
    /// Wraps `inner`, allowing at most `cap` bytes out of it.
    pub fn new(inner: R, cap: u64) -> Self {
        Capped {
            inner,
            cap,
            total: 0,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.total > self.cap {
            return Err(cap_error(self.cap));
        }
        // Ask for at most one byte past the cap, so that passing it is seen without reading on.
        let room = self.cap.saturating_sub(self.total).saturating_add(1);
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        self.total = self.total.saturating_add(n as u64);
        if self.total > self.cap {
            return Err(cap_error(self.cap));
        }
        Ok(n)
    }
}

fn cap_error(cap: u64) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("decompressed size exceeds the cap of {cap} bytes (--max-decompressed)"),
    )
}

/// A reader that reports how many raw bytes it has read, for progress display.
pub struct Counted<'a, R> {
    inner: R,
    on_read: &'a (dyn Fn(u64) + Sync),
}

impl<'a, R> Counted<'a, R> {
    /// Wraps `inner`; `on_read` receives each read's byte count.
    pub fn new(inner: R, on_read: &'a (dyn Fn(u64) + Sync)) -> Self {
        Counted { inner, on_read }
    }
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n as u64);
        Ok(n)
    }
}

/// Runs `f` over `reader` read on a thread of its own (for a gzip input: decompression beside
/// parsing). The thread reads ahead up to four blocks of [`BUFFER`] bytes; a read error reaches
/// `f` in its place, after the bytes before it.
pub fn read_ahead<R: Read + Send, T>(reader: R, f: impl FnOnce(&mut dyn BufRead) -> T) -> T {
    let (tx, rx) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(4);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut reader = reader;
            loop {
                let mut block = vec![0u8; BUFFER];
                let mut filled = 0;
                let mut failed = None;
                while filled < block.len() {
                    match block.get_mut(filled..).map(|b| reader.read(b)) {
                        Some(Ok(0)) | None => break,
                        Some(Ok(n)) => filled += n,
                        Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Some(Err(e)) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                block.truncate(filled);
                // A send fails only once the consumer is gone: then stop.
                if filled > 0 && tx.send(Ok(block)).is_err() {
                    return;
                }
                if let Some(e) = failed {
                    let _ = tx.send(Err(e));
                    return;
                }
                if filled == 0 {
                    return;
                }
            }
        });
        let mut ahead = ReadAhead {
            rx,
            block: Vec::new(),
            pos: 0,
            done: false,
        };
        f(&mut ahead)
    })
}

/// The consuming side of [`read_ahead`].
struct ReadAhead {
    rx: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    block: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(buf.len());
            if let (Some(dst), Some(src)) = (buf.get_mut(..n), avail.get(..n)) {
                dst.copy_from_slice(src);
            }
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.pos >= self.block.len() && !self.done {
            match self.rx.recv() {
                Ok(Ok(block)) => {
                    self.block = block;
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => self.done = true,
            }
        }
        Ok(self.block.get(self.pos..).unwrap_or_default())
    }

    fn consume(&mut self, amt: usize) {
        self.pos = self.pos.saturating_add(amt).min(self.block.len());
    }
}

/// Whether `a` and `b` name the same existing file (through links and relative paths).
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// What the file at `path` is; `None` when its content is not recognised. `named`: the file was
/// named as an input (not found in a directory), so that what it holds instead of a log or a
/// capture is worth saying whatever its name.
pub fn detect(path: &Path, named: bool) -> std::io::Result<Option<InputFile>> {
    let (reader, compressed) = open(path)?;
    let mut head = Vec::new();
    // A truncated gzip member still gives what it decoded before the break.
    if let Err(e) = reader.take(SNIFF).read_to_end(&mut head)
        && head.is_empty()
    {
        return Err(e);
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = identify(&head, &name, named)
        .map_err(|why| std::io::Error::new(std::io::ErrorKind::InvalidData, why))?;
    Ok(kind.map(|kind| InputFile {
        path: path.to_path_buf(),
        kind,
        compressed,
    }))
}

/// What a file whose first bytes (decompressed) are `head` and whose name is `name` is, as
/// [`detect`] decides it without reading: the input kind, `None` when the content is not
/// recognised, or why it is an input captriage cannot read.
pub fn identify(head: &[u8], name: &str, named: bool) -> Result<Option<InputKind>, String> {
    let log_name = known_log_name(Path::new(name));
    match sniff(head, name) {
        Some(k) => Ok(Some(k)),
        // An input in a form captriage does not read: say which (rather than "unrecognised
        // content").
        None if let Some(why) = other_form(head, name, named || log_name || capture_name(name)) => {
            Err(why)
        }
        // Named like one of the logs we read and text (no NUL byte): let the reader say what
        // is wrong with it. A file named like a capture that is not one (empty, cut in its
        // magic number) is reported as unrecognised instead.
        None if log_name && !capture_name(name) && memchr::memchr(0, head).is_none() => {
            Ok(Some(InputKind::Zeek {
                kind: zeek::kind_from_file_name(name),
                format: LogFormat::Tsv,
            }))
        }
        None => Ok(None),
    }
}

/// What `head` (a file's first bytes that [`sniff`] did not recognise) holds instead of a log or
/// a capture, when captriage can tell and the file is an input (`input`: by its name, or by
/// being named): UTF-16 text, another compression than gzip, an archive. UTF-16 text that reads
/// as a Zeek log is named whatever the file's name.
fn other_form(head: &[u8], name: &str, input: bool) -> Option<String> {
    if let Some(text) = utf16_text(head)
        && (input || sniff(text.as_bytes(), name).is_some())
    {
        return Some(
            "UTF-16 text (as Windows PowerShell's `>` writes it); captriage reads logs in UTF-8: \
             convert it first, e.g. `iconv -f UTF-16 -t UTF-8`"
                .into(),
        );
    }
    if !input {
        return None;
    }
    if let Some((format, tool)) = other_compression(head) {
        return Some(format!(
            "{format}-compressed; captriage reads plain and gzip-compressed files: decompress it \
             first (`{tool}`)"
        ));
    }
    let (format, tool) = archive(head)?;
    Some(format!(
        "a {format} archive; captriage reads logs and captures, not archives: extract it first \
         (`{tool}`) and name the directory"
    ))
}

/// The archive format `head` (decompressed) begins with, and the command that extracts it.
fn archive(head: &[u8]) -> Option<(&'static str, &'static str)> {
    if head.get(257..262) == Some(b"ustar") {
        return Some(("tar", "tar -xf FILE"));
    }
    match head {
        [b'P', b'K', 3, 4, ..] => Some(("zip", "unzip FILE")),
        [b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c, ..] => Some(("7z", "7z x FILE")),
        _ => None,
    }
}

/// The compression format `head` begins with, among those captriage does not read, and the
/// command that undoes it.
fn other_compression(head: &[u8]) -> Option<(&'static str, &'static str)> {
    match head {
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(("zstd", "zstd -d FILE")),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some(("xz", "xz -d FILE")),
        [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some(("bzip2", "bzip2 -d FILE")),
        [0x04, 0x22, 0x4d, 0x18, ..] => Some(("lz4", "lz4 -d FILE")),
        _ => None,
    }
}

/// `head` as text when it begins with a UTF-16 byte order mark (either byte order).
fn utf16_text(head: &[u8]) -> Option<String> {
    let (rest, little) = match head {
        [0xff, 0xfe, rest @ ..] => (rest, true),
        [0xfe, 0xff, rest @ ..] => (rest, false),
        _ => return None,
    };
    let units: Vec<u16> = rest
        .chunks_exact(2)
        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
        .map(|c| match little {
            true => u16::from_le_bytes(c),
            false => u16::from_be_bytes(c),
        })
        .collect();
    Some(String::from_utf16_lossy(&units))
}

/// Tells what `head` (the first bytes of a file, decompressed) holds; `name` is the file name.
pub fn sniff(head: &[u8], name: &str) -> Option<InputKind> {
    match head.get(..4) {
        Some([0xa1, 0xb2, 0xc3, 0xd4] | [0xd4, 0xc3, 0xb2, 0xa1])
        | Some([0xa1, 0xb2, 0x3c, 0x4d] | [0x4d, 0x3c, 0xb2, 0xa1]) => {
            return Some(InputKind::Capture(CaptureFormat::Pcap));
        }
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => return Some(InputKind::Capture(CaptureFormat::Pcapng)),
        _ => {}
    }
    let head = head.strip_prefix(zeek::BOM).unwrap_or(head);
    let fallback = || zeek::kind_from_file_name(name);
    let mut header = zeek::tsv::Header::default();
    let tsv = |header: zeek::tsv::Header| InputKind::Zeek {
        kind: header
            .meta
            .path
            .map(|p| LogKind::from_path_name(&p))
            .unwrap_or_else(fallback),
        format: LogFormat::Tsv,
    };
    for raw in head.split(|&b| b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if header.is_meta(line) {
            header.meta_line(line);
            continue;
        }
        if header.seen_meta {
            return Some(tsv(header));
        }
        if line.first() == Some(&b'{') {
            // A Zeek JSON log: its first object has `ts` or `_path`, or the file is named like
            // one (a first line cut short still reads, with a diagnostic). Other JSON documents
            // (indicator lists, configs, reports) are not logs.
            let kind = match json_object_keys(line) {
                Some((path, has_ts)) if path.is_some() || has_ts => path
                    .map(|p| LogKind::from_path_name(&p))
                    .unwrap_or_else(fallback),
                _ => match fallback() {
                    LogKind::Other(_) if json_document_name(name) => return None,
                    k => k,
                },
            };
            return Some(InputKind::Zeek {
                kind,
                format: LogFormat::Json,
            });
        }
        if header.names_line(line) {
            return Some(tsv(header));
        }
        return None;
    }
    header.seen_meta.then(|| tsv(header))
}

/// `_path` of a JSON object line and whether it has `ts`; `None` when it is not an object.
fn json_object_keys(line: &[u8]) -> Option<(Option<String>, bool)> {
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line).ok()?;
    let path = v.get("_path").and_then(|p| p.as_str()).map(str::to_string);
    Some((path, v.contains_key("ts")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn read_ahead_gives_the_bytes_then_the_error_in_place() {
        let text: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &text).unwrap();
        let gz = gz.finish().unwrap();
        // Whole: the same bytes.
        let (r, compressed) = open_reader(std::io::Cursor::new(gz.clone())).unwrap();
        assert!(compressed);
        let got = read_ahead(r, |r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).map(|_| v)
        })
        .unwrap();
        assert_eq!(got, text);
        // Cut: what decoded before the break, then the error.
        let (r, _) = open_reader(std::io::Cursor::new(gz[..gz.len() / 2].to_vec())).unwrap();
        let (lines, err) = read_ahead(r, |r| {
            let mut n = 0;
            let mut line = Vec::new();
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) => return (n, None),
                    Ok(_) => n += 1,
                    Err(e) => return (n, Some(e)),
                }
            }
        });
        assert!(lines > 1000 && lines < 200_000, "{lines}");
        assert!(err.is_some());
        // A consumer that stops early does not hang the reading thread.
        let (r, _) = open_reader(std::io::Cursor::new(gz)).unwrap();
        let first = read_ahead(r, |r| {
            let mut line = String::new();
            r.read_line(&mut line).map(|_| line)
        })
        .unwrap();
        assert_eq!(first, "line 0\n");
    }

    use super::*;

    #[test]
    fn capped_reader_stops_past_the_cap() {
        let data = vec![7u8; 1000];
        let mut out = Vec::new();
        let e = Capped::new(data.as_slice(), 999)
            .read_to_end(&mut out)
            .err()
            .map(|e| (e.kind(), e.to_string()));
        assert_eq!(
            e,
            Some((
                std::io::ErrorKind::InvalidData,
                "decompressed size exceeds the cap of 999 bytes (--max-decompressed)".into()
            ))
        );
        assert!(out.len() <= 999, "{}", out.len());
        let mut out = Vec::new();
        assert_eq!(
            Capped::new(data.as_slice(), 1000)
                .read_to_end(&mut out)
                .ok(),
            Some(1000)
        );
    }

    #[test]
    fn a_utf16_log_is_named_as_such_and_other_utf16_text_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let utf16 = |text: &str, le: bool| -> Vec<u8> {
            let mut out: Vec<u8> = if le {
                vec![0xff, 0xfe]
            } else {
                vec![0xfe, 0xff]
            };
            for u in text.encode_utf16() {
                out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
            }
            out
        };
        let tsv = "#separator \\x09\n#path\tconn\n#fields\tts\tuid\n1.5\tC1\n";
        let json = "{\"_path\":\"dns\",\"ts\":1.5,\"query\":\"example.com\"}\n";
        let cases = [
            ("conn.log", utf16(tsv, true), true),
            ("export.txt", utf16(tsv, false), true),
            ("dns-export.txt", utf16(json, true), true),
            // A log's name is enough, whatever the text.
            ("http.log", utf16("some words\n", true), true),
            // Other UTF-16 text in a log directory is not an input, as in UTF-8.
            ("notes.txt", utf16("some words\n", true), false),
        ];
        for (name, bytes, is_log) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            match detect(&p, false) {
                Err(e) if is_log => {
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{name}");
                    assert!(e.to_string().starts_with("UTF-16 text"), "{name}: {e}");
                }
                Ok(None) if !is_log => {}
                other => panic!("{name}: {other:?}"),
            }
        }
        // Named as an input, any UTF-16 text is said to be one.
        let notes = dir.path().join("notes.txt");
        let e = detect(&notes, true).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.starts_with("UTF-16 text")));
        // Without the mark, the same log in UTF-8 is found.
        let p = dir.path().join("plain.txt");
        std::fs::write(&p, tsv).unwrap();
        assert!(matches!(detect(&p, false), Ok(Some(_))));
    }

    #[test]
    fn a_log_compressed_in_another_format_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        // The first bytes of a frame of each format, as its tool writes them.
        let cases: [(&[u8], &str); 4] = [
            (b"\x28\xb5\x2f\xfd\x24\x00\x01", "zstd"),
            (b"\xfd7zXZ\x00\x00\x04\xe6", "xz"),
            (b"BZh91AY&SY", "bzip2"),
            (b"\x04\x22\x4d\x18\x64\x40", "lz4"),
        ];
        for (head, format) in cases {
            for name in ["conn.log.x", "dns.log", "trace.pcap.x"] {
                let p = dir.path().join(name);
                std::fs::write(&p, head).unwrap();
                let e = detect(&p, false).err().map(|e| (e.kind(), e.to_string()));
                let want = format!("{format}-compressed; captriage reads plain and gzip");
                assert!(
                    e.as_ref().is_some_and(
                        |(k, m)| *k == std::io::ErrorKind::InvalidData && m.starts_with(&want)
                    ),
                    "{name} {format}: {e:?}"
                );
            }
            // Under a name that is not a log's, it is skipped like any other file.
            let p = dir.path().join("backup.bin");
            std::fs::write(&p, head).unwrap();
            assert!(matches!(detect(&p, false), Ok(None)), "{format}");
        }
        // "BZh" followed by anything but a block size is not bzip2.
        let p = dir.path().join("conn.log");
        std::fs::write(&p, b"BZhx\n").unwrap();
        assert!(matches!(detect(&p, false), Ok(Some(_))));
    }

    #[test]
    fn an_archive_of_logs_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        // A tar archive's first member header: the member's name, then "ustar" at byte 257.
        let mut tar = vec![0u8; 512];
        tar[..8].copy_from_slice(b"conn.log");
        tar[257..263].copy_from_slice(b"ustar\0");
        let mut tar_gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut tar_gz, &tar).unwrap();
        let tar_gz = tar_gz.finish().unwrap();
        let zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00conn.log".to_vec();
        let seven = b"7z\xbc\xaf\x27\x1c\x00\x04".to_vec();
        let cases = [
            ("logs.tar.gz", tar_gz, "a tar archive", "tar -xf FILE"),
            ("logs.tar", tar, "a tar archive", "tar -xf FILE"),
            ("logs.zip", zip, "a zip archive", "unzip FILE"),
            ("logs.7z", seven, "a 7z archive", "7z x FILE"),
        ];
        for (name, bytes, what, tool) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            // Named as an input: said whatever the name.
            let e = detect(&p, true)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.starts_with(what) && e.contains(tool), "{name}: {e}");
            // Found in a directory: said when the name is a log's (`.gz`), skipped otherwise.
            let found = detect(&p, false).map_err(|e| e.to_string());
            match name.ends_with(".gz") {
                true => assert!(found.is_err_and(|e| e.starts_with(what)), "{name}"),
                false => assert!(matches!(found, Ok(None)), "{name}: {found:?}"),
            }
        }
        // A log whose text holds "ustar" at byte 257 is a log.
        let mut log = b"#separator \\x09\n#path\tdns\n#fields\tts\tquery\n".to_vec();
        log.resize(257, b'a');
        log.extend_from_slice(b"ustar\n1.5\tustar.example\n");
        let p = dir.path().join("dns.log");
        std::fs::write(&p, &log).unwrap();
        assert!(matches!(detect(&p, true), Ok(Some(_))));
    }

    fn zeek(kind: LogKind, format: LogFormat) -> Option<InputKind> {
        Some(InputKind::Zeek { kind, format })
    }

    #[test]
    fn capture_magics() {
        // pcap microsecond (both byte orders), nanosecond (both), pcapng section header.
        for m in [
            [0xa1, 0xb2, 0xc3, 0xd4],
            [0xd4, 0xc3, 0xb2, 0xa1],
            [0xa1, 0xb2, 0x3c, 0x4d],
            [0x4d, 0x3c, 0xb2, 0xa1],
        ] {
            assert_eq!(
                sniff(&m, "x"),
                Some(InputKind::Capture(CaptureFormat::Pcap))
            );
        }
        assert_eq!(
            sniff(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0], "x"),
            Some(InputKind::Capture(CaptureFormat::Pcapng))
        );
    }

    #[test]
    fn tsv_kind_from_path_header() {
        let head = b"#separator \\x09\n#set_separator\t,\n#path\tssl\n#fields\tts\n";
        assert_eq!(
            sniff(head, "whatever.log"),
            zeek(LogKind::Ssl, LogFormat::Tsv)
        );
        // Without #path: the file name.
        let head = b"#separator \\x09\n#fields\tts\n1\n";
        assert_eq!(
            sniff(head, "conn.00:00:00-01:00:00.log"),
            zeek(LogKind::Conn, LogFormat::Tsv)
        );
    }

    #[test]
    fn tsv_behind_btest_comment_and_custom_prefix() {
        let head = b"### BTest baseline\nPREFIX<>separator |\nPREFIX<>path|ssh\nPREFIX<>fields|t\n";
        assert_eq!(
            sniff(head, "ssh-filtered.log"),
            zeek(LogKind::Other("ssh".into()), LogFormat::Tsv)
        );
    }

    #[test]
    fn json_kind_from_path_key_or_name() {
        assert_eq!(
            sniff(b"{\"_path\":\"dns\",\"ts\":1}\n", "x.json"),
            zeek(LogKind::Dns, LogFormat::Json)
        );
        assert_eq!(
            sniff(b"### BTest\n{\"ts\":1}\n", "dns.ndjson"),
            zeek(LogKind::Dns, LogFormat::Json)
        );
    }

    #[test]
    fn headerless_tsv_mode_and_unknown_text() {
        assert_eq!(
            sniff(b"ts\tid.orig_h\n1\t1.2.3.4\n", "conn.log"),
            zeek(LogKind::Conn, LogFormat::Tsv)
        );
        assert_eq!(sniff(b"# captriage\nSome readme text\n", "README"), None);
        assert_eq!(sniff(b"", "README"), None);
    }
}
