//! Holds the records of a capture until the pipeline's phase for them comes, on disk rather than
//! in memory. The native decoder yields records of every kind at once (a flow's DNS, TLS and conn
//! records together), while the pipeline reads them phase by phase (`Record::phase`); [`Spill`]
//! is the [`Sink`] between the two: each record goes, postcard-encoded and length-prefixed, into
//! an anonymous temporary file of its phase, and [`Spill::replay`] hands one phase's records back
//! in the order they came, each with its location. Memory stays at a few buffers whatever the
//! capture's size. Diagnostics are few (the decoder caps them per kind) and stay in memory. When
//! a phase's temporary file cannot be made, its records are kept in memory, encoded the same way,
//! and a diagnostic says so; a file that fails later loses its records but never stops the run:
//! that becomes a diagnostic naming the capture and the number of records lost.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Diagnostic, Location, Pos, Record, Sink};

/// Phases a record can belong to (`Record::phase` is 0 for DNS up to 5 for conn).
const PHASES: usize = 6;
/// Buffer size of each spill file, writing and reading.
const BUFFER: usize = 64 * 1024;
/// Largest encoded record accepted when reading back (the decoder bounds what it emits far
/// below this; a larger length means a damaged file).
const MAX_ENTRY: usize = 16 << 20;

/// One record as written: which source (index into `Spill::sources`), where in it, and what.
#[derive(Serialize)]
struct EntryRef<'r, 'a> {
    source: u32,
    pos: Pos,
    record: &'r Record<'a>,
}

/// One record as read back.
#[derive(Deserialize)]
struct Entry {
    source: u32,
    pos: Pos,
    record: Record<'static>,
}

/// The temporary file of one phase.
enum PhaseFile {
    /// Nothing written yet (no file created).
    Empty,
    Writing {
        out: BufWriter<File>,
        count: u64,
    },
    /// No file could be made: the encoded records are kept here, with why.
    Memory {
        data: Vec<u8>,
        count: u64,
        error: String,
    },
    /// The file could not be created or written: records of this phase since then are lost.
    Failed {
        error: String,
        lost: u64,
    },
    /// Already replayed.
    Done,
}

/// A [`Sink`] that keeps records on disk per phase and replays them phase by phase.
pub struct Spill {
    phases: [PhaseFile; PHASES],
    /// Where the files are created (`None`: the system's temporary directory).
    dir: Option<PathBuf>,
    /// Distinct sources of the locations seen (a capture has one).
    sources: Vec<Arc<str>>,
    /// Reused encoding buffer.
    buf: Vec<u8>,
    /// Every diagnostic received, in order, plus any about the spill files themselves.
    pub diagnostics: Vec<Diagnostic>,
}

impl Default for Spill {
    fn default() -> Spill {
        Spill::new()
    }
}

impl Spill {
    /// An empty spill; files are created when a phase's first record comes.
    pub fn new() -> Spill {
        Spill::new_in(None)
    }

    /// An empty spill whose files go to `dir` (`None`: the system's temporary directory).
    pub fn new_in(dir: Option<&Path>) -> Spill {
        Spill {
            phases: std::array::from_fn(|_| PhaseFile::Empty),
            dir: dir.map(Path::to_path_buf),
            sources: Vec::new(),
            buf: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    /// Records held for `phase` (those written so far and not yet replayed).
    pub fn count(&self, phase: u8) -> u64 {
        match self.phases.get(usize::from(phase)) {
            Some(PhaseFile::Writing { count, .. } | PhaseFile::Memory { count, .. }) => *count,
            _ => 0,
        }
    }

    fn source_index(&mut self, source: &Arc<str>) -> u32 {
        let found = self
            .sources
            .iter()
            .rposition(|s| Arc::ptr_eq(s, source) || **s == **source);
        let i = found.unwrap_or_else(|| {
            self.sources.push(Arc::clone(source));
            self.sources.len() - 1
        });
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    /// Delivers the records of `phase` to `sink` in the order they were received, with their
    /// locations, and frees their file. Each phase is delivered once; a later call for the same
    /// phase delivers nothing. Problems reading the file back become diagnostics.
    pub fn replay(&mut self, phase: u8, sink: &mut dyn Sink) {
        let Some(slot) = self.phases.get_mut(usize::from(phase)) else {
            return;
        };
        match std::mem::replace(slot, PhaseFile::Done) {
            PhaseFile::Writing { out, count } => {
                let file = out
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|mut f| {
                        f.seek(SeekFrom::Start(0))?;
                        Ok(f)
                    });
                let read = file
                    .and_then(|f| self.read_back(BufReader::with_capacity(BUFFER, f), count, sink));
                if let Err(e) = read {
                    self.problem(format!("records of phase {phase} lost: {e}"));
                }
            }
            PhaseFile::Memory { data, count, error } => {
                self.problem(format!(
                    "{count} records of phase {phase} kept in memory: temporary file: {error}"
                ));
                if let Err(e) = self.read_back(io::Cursor::new(data), count, sink) {
                    self.problem(format!("records of phase {phase} lost: {e}"));
                }
            }
            PhaseFile::Failed { error, lost } => {
                self.problem(format!(
                    "{lost} records of phase {phase} lost: temporary file: {error}"
                ));
            }
            PhaseFile::Empty | PhaseFile::Done => {}
        }
    }

    /// Delivers the `count` records encoded in `r` to `sink`.
    fn read_back(&mut self, mut r: impl Read, count: u64, sink: &mut dyn Sink) -> io::Result<()> {
        let mut len = [0u8; 4];
        for _ in 0..count {
            r.read_exact(&mut len)?;
            let n = usize::try_from(u32::from_le_bytes(len)).unwrap_or(usize::MAX);
            if n > MAX_ENTRY {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "damaged temporary file",
                ));
            }
            self.buf.resize(n, 0);
            r.read_exact(&mut self.buf)?;
            let e: Entry = postcard::from_bytes(&self.buf)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let source = usize::try_from(e.source)
                .ok()
                .and_then(|i| self.sources.get(i))
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unknown source"))?;
            let location = Location {
                source: Arc::clone(source),
                pos: e.pos,
            };
            sink.record(e.record, &location);
        }
        Ok(())
    }

    /// A diagnostic about the spill itself, placed at the first source (or nowhere named).
    fn problem(&mut self, message: String) {
        let source = self
            .sources
            .first()
            .cloned()
            .unwrap_or_else(|| Arc::from("capture"));
        self.diagnostics.push(Diagnostic {
            location: Location::file(&source),
            message,
        });
    }

    fn write(&mut self, record: &Record<'_>, location: &Location) -> Result<(), String> {
        let entry = EntryRef {
            source: self.source_index(&location.source),
            pos: location.pos,
            record,
        };
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.extend_from_slice(&[0; 4]);
        let encoded = postcard::to_extend(&entry, buf);
        let mut buf = match encoded {
            Ok(b) => b,
            Err(e) => return Err(e.to_string()),
        };
        let n = u32::try_from(buf.len() - 4).map_err(|_| "record too large".to_string())?;
        if let Some(prefix) = buf.get_mut(..4) {
            prefix.copy_from_slice(&n.to_le_bytes());
        }
        let slot = self
            .phases
            .get_mut(usize::from(record.phase()))
            .ok_or_else(|| "no phase".to_string())?;
        if matches!(slot, PhaseFile::Empty) {
            let file = match &self.dir {
                Some(d) => tempfile::tempfile_in(d),
                None => tempfile::tempfile(),
            };
            *slot = match file {
                Ok(file) => PhaseFile::Writing {
                    out: BufWriter::with_capacity(BUFFER, file),
                    count: 0,
                },
                Err(e) => PhaseFile::Memory {
                    data: Vec::new(),
                    count: 0,
                    error: e.to_string(),
                },
            };
        }
        let result = match slot {
            PhaseFile::Writing { out, count } => {
                let r = out.write_all(&buf).map_err(|e| e.to_string());
                if r.is_ok() {
                    *count += 1;
                }
                r
            }
            PhaseFile::Memory { data, count, .. } => {
                data.extend_from_slice(&buf);
                *count += 1;
                Ok(())
            }
            PhaseFile::Failed { error, .. } => Err(error.clone()),
            PhaseFile::Done => Err("record came after its phase was replayed".to_string()),
            PhaseFile::Empty => Ok(()),
        };
        buf.clear();
        self.buf = buf;
        result
    }
}

impl Sink for Spill {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        let phase = usize::from(record.phase());
        if let Err(error) = self.write(&record, location)
            && let Some(slot) = self.phases.get_mut(phase)
        {
            *slot = match std::mem::replace(slot, PhaseFile::Done) {
                PhaseFile::Failed { error, lost } => PhaseFile::Failed {
                    error,
                    lost: lost + 1,
                },
                // What was written before the failure is lost with the file.
                PhaseFile::Writing { count, .. } | PhaseFile::Memory { count, .. } => {
                    PhaseFile::Failed {
                        error,
                        lost: count + 1,
                    }
                }
                PhaseFile::Empty | PhaseFile::Done => PhaseFile::Failed { error, lost: 1 },
            };
        }
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChainKind, Conn, Dns, Endpoints, File as FileRec, Http, Tls, X509};
    use std::borrow::Cow;
    use std::net::IpAddr;

    #[derive(Default)]
    struct Collect {
        got: Vec<(Record<'static>, Location)>,
        diagnostics: Vec<Diagnostic>,
    }

    impl Sink for Collect {
        fn record(&mut self, record: Record<'_>, location: &Location) {
            self.got.push((record.into_owned(), location.clone()));
        }
        fn diagnostic(&mut self, diagnostic: Diagnostic) {
            self.diagnostics.push(diagnostic);
        }
    }

    fn s(v: &'static str) -> Option<Cow<'static, str>> {
        Some(Cow::Borrowed(v))
    }

    fn ip(v: &str) -> IpAddr {
        v.parse().unwrap()
    }

    fn endpoints() -> Endpoints {
        Endpoints {
            orig_h: Some(ip("192.168.1.10")),
            orig_p: Some(49152),
            resp_h: Some(ip("2001:db8::1")),
            resp_p: Some(443),
        }
    }

    /// One record of every kind, every field set (borrowed strings, as the decoder yields them),
    /// plus values an encoding could get wrong: extremes, empty and non-ASCII strings.
    fn every_kind() -> Vec<Record<'static>> {
        vec![
            Record::Dns(Dns {
                ts: Some(1_300_475_168.853_899),
                uid: s("CHhAvVGS1DHFjwGM9"),
                id: endpoints(),
                proto: s("udp"),
                trans_id: Some(65535),
                rtt: Some(0.000_123),
                query: s("bücher.example"),
                qclass: Some(1),
                qtype: Some(28),
                qtype_name: s("AAAA"),
                rcode: Some(0),
                rcode_name: s("NOERROR"),
                aa: Some(false),
                tc: Some(true),
                rd: Some(true),
                ra: Some(false),
                answers: smallvec::smallvec![Cow::Borrowed("2001:db8::2"), Cow::Borrowed("")],
                ttls: vec![300.0, 0.5],
                rejected: Some(false),
            }),
            Record::X509(X509 {
                ts: Some(-1.5),
                id: s("FhT7Ky2uZxYQBrBoFb"),
                fingerprint: Some(Cow::Owned("ab".repeat(32))),
                sha1: Some(Cow::Owned("cd".repeat(20))),
                version: Some(3),
                serial: s("0A1B"),
                subject: s("CN=example.org,O=Ex\tample"),
                issuer: s("CN=R3,O=Let's Encrypt,C=US"),
                not_valid_before: Some(0.0),
                not_valid_after: Some(4_102_444_800.0),
                key_alg: s("rsaEncryption"),
                sig_alg: s("sha256WithRSAEncryption"),
                key_type: s("rsa"),
                key_length: Some(u64::MAX),
                san_dns: vec![Cow::Borrowed("example.org"), Cow::Borrowed("*.example.org")],
                basic_constraints_ca: Some(false),
                host_cert: Some(true),
            }),
            Record::File(FileRec {
                ts: Some(1.0),
                fuid: s("FakeFuid"),
                uids: vec![Cow::Borrowed("C1"), Cow::Borrowed("C2")],
                id: endpoints(),
                tx_hosts: vec![ip("10.0.0.1"), ip("::1")],
                rx_hosts: vec![ip("10.0.0.2")],
                is_orig: Some(false),
                source: s("SSL"),
                mime_type: s("application/x-x509-ca-cert"),
                filename: s("a b.crt"),
                md5: s("d41d8cd98f00b204e9800998ecf8427e"),
                sha1: s("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
                sha256: Some(Cow::Owned("00".repeat(32))),
                seen_bytes: Some(0),
                total_bytes: Some(1 << 40),
            }),
            Record::Tls(Tls {
                ts: Some(2.0),
                uid: s("C3"),
                id: endpoints(),
                version: s("TLSv12"),
                cipher: s("TLS_AES_128_GCM_SHA256"),
                server_name: s("www.example.org"),
                established: Some(true),
                validation_status: s("ok"),
                chain_kind: ChainKind::Fingerprints,
                cert_chain: vec![Cow::Borrowed("ab"), Cow::Borrowed("cd")],
                subject: s("CN=www.example.org"),
                issuer: s("CN=R3"),
            }),
            Record::Http(Http {
                ts: Some(3.0),
                uid: s("C4"),
                id: endpoints(),
                trans_depth: Some(2),
                method: s("GET"),
                host: s("example.org:8080"),
                uri: s("/a?b=c&d=%20"),
                version: s("1.1"),
                user_agent: s("Mozilla/5.0 \"quoted\""),
                status_code: Some(200),
            }),
            Record::Conn(Conn {
                ts: Some(4.0),
                uid: s("C5"),
                id: endpoints(),
                proto: s("tcp"),
                services: [Cow::Borrowed("ssl"), Cow::Borrowed("http")]
                    .into_iter()
                    .collect(),
                duration: Some(12.25),
                orig_bytes: Some(100),
                resp_bytes: Some(0),
                conn_state: s("SF"),
                history: s("ShADadFf"),
                orig_pkts: Some(7),
                orig_ip_bytes: Some(500),
                resp_pkts: Some(6),
                resp_ip_bytes: Some(9000),
            }),
            // Every optional field unset.
            Record::Conn(Conn::default()),
            Record::Dns(Dns::default()),
            Record::Tls(Tls::default()),
            Record::Http(Http::default()),
            Record::File(FileRec::default()),
            Record::X509(X509::default()),
        ]
    }

    #[test]
    fn every_record_kind_comes_back_equal_with_its_location_in_its_phase() {
        let source: Arc<str> = Arc::from("capture.pcap");
        let other: Arc<str> = Arc::from("other.pcap");
        let records = every_kind();
        let mut spill = Spill::new();
        let mut expected: Vec<Vec<(Record<'static>, Location)>> = vec![Vec::new(); PHASES];
        for (n, r) in records.iter().enumerate() {
            let loc = match n % 3 {
                0 => Location::packet(&source, n as u64 + 1),
                1 => Location::packet(&other, u64::MAX - n as u64),
                _ => Location::file(&source),
            };
            spill.record(r.clone(), &loc);
            expected[usize::from(r.phase())].push((r.clone(), loc));
        }
        for phase in 0..=6u8 {
            let mut got = Collect::default();
            spill.replay(phase, &mut got);
            let want = expected
                .get(usize::from(phase))
                .cloned()
                .unwrap_or_default();
            assert_eq!(got.got, want, "phase {phase}");
            assert!(got.got.iter().all(|(r, _)| r.phase() == phase));
        }
        assert_eq!(expected.iter().map(Vec::len).sum::<usize>(), records.len());
        assert!(spill.diagnostics.is_empty(), "{:?}", spill.diagnostics);
    }

    #[test]
    fn without_a_temporary_file_the_records_are_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let source: Arc<str> = Arc::from("capture.pcap");
        let records = every_kind();
        let mut spill = Spill::new_in(Some(&missing));
        for (n, r) in records.iter().enumerate() {
            spill.record(r.clone(), &Location::packet(&source, n as u64 + 1));
        }
        let mut got = Collect::default();
        for phase in 0..PHASES as u8 {
            assert_eq!(
                spill.count(phase),
                records.iter().filter(|r| r.phase() == phase).count() as u64
            );
            spill.replay(phase, &mut got);
        }
        let mut want: Vec<Record<'static>> = records.clone();
        want.sort_by_key(Record::phase);
        let got_records: Vec<Record<'static>> = got.got.into_iter().map(|(r, _)| r).collect();
        assert_eq!(got_records, want);
        let msgs: Vec<String> = spill.diagnostics.iter().map(|d| d.to_string()).collect();
        let phases: std::collections::BTreeSet<u8> = records.iter().map(Record::phase).collect();
        assert_eq!(msgs.len(), phases.len(), "{msgs:?}");
        assert!(
            msgs.iter().all(|m| m.starts_with("capture.pcap: ")
                && m.contains("kept in memory: temporary file:")),
            "{msgs:?}"
        );
    }

    #[test]
    fn a_phase_is_replayed_once_and_diagnostics_are_kept_in_order() {
        let source: Arc<str> = Arc::from("c.pcap");
        let mut spill = Spill::new();
        spill.record(Record::Conn(Conn::default()), &Location::packet(&source, 1));
        let d1 = Diagnostic {
            location: Location::packet(&source, 2),
            message: "truncated TCP header".into(),
        };
        let d2 = Diagnostic {
            location: Location::file(&source),
            message: "3 more tcp problems not shown".into(),
        };
        spill.diagnostic(d1.clone());
        spill.diagnostic(d2.clone());
        assert_eq!(spill.count(5), 1);
        let mut got = Collect::default();
        spill.replay(5, &mut got);
        spill.replay(5, &mut got);
        assert_eq!(got.got.len(), 1);
        assert_eq!(spill.count(5), 0);
        assert_eq!(spill.diagnostics, vec![d1, d2]);
        // Phases without records, and phases past the last, deliver nothing.
        spill.replay(0, &mut got);
        spill.replay(200, &mut got);
        assert_eq!(got.got.len(), 1);
    }

    #[test]
    fn many_records_keep_their_order() {
        let source: Arc<str> = Arc::from("big.pcap");
        let mut spill = Spill::new();
        for n in 1..=20_000u64 {
            let c = Conn {
                orig_pkts: Some(n),
                ..Conn::default()
            };
            spill.record(Record::Conn(c), &Location::packet(&source, n));
        }
        let mut got = Collect::default();
        spill.replay(5, &mut got);
        assert_eq!(got.got.len(), 20_000);
        for (i, (r, loc)) in got.got.iter().enumerate() {
            let n = i as u64 + 1;
            assert_eq!(loc, &Location::packet(&source, n));
            assert!(matches!(r, Record::Conn(c) if c.orig_pkts == Some(n)));
        }
    }
}
