//! The records every input produces and every later stage reads.
//!
//! Readers (Zeek TSV/JSON, the native capture decoder) turn their input into [`Record`]s that borrow
//! from the reader's line buffer where they can, so the hot path allocates nothing per row. A
//! missing column or an unset value is `None` (or an empty `Vec`); an empty Zeek set is an empty
//! `Vec`. Values are as the log wrote them: names are normalised later (`crate::names`), protocols
//! and services are lower-cased by the consumer. Nothing here knows about rules or reports.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// Seconds since the Unix epoch, as Zeek writes `time` values.
pub type Ts = f64;

/// Where a record was read: a log file and line, or a capture and packet number (first is 1).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// The input file as the user named it (or as found under a named directory).
    pub source: Arc<str>,
    /// Line or packet within `source`.
    pub pos: Pos,
}

/// A position within one input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Pos {
    /// 1-based line of a log file.
    Line(u64),
    /// 1-based packet number of a capture.
    Packet(u64),
    /// The file as a whole (for messages that concern no single line).
    File,
}

impl Location {
    /// A location at `line` of `source`.
    pub fn line(source: &Arc<str>, line: u64) -> Location {
        Location {
            source: Arc::clone(source),
            pos: Pos::Line(line),
        }
    }

    /// A location at `packet` of `source`.
    pub fn packet(source: &Arc<str>, packet: u64) -> Location {
        Location {
            source: Arc::clone(source),
            pos: Pos::Packet(packet),
        }
    }

    /// The file `source` as a whole.
    pub fn file(source: &Arc<str>) -> Location {
        Location {
            source: Arc::clone(source),
            pos: Pos::File,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Pos::Line(n) => write!(f, "{}:{}", self.source, n),
            Pos::Packet(n) => write!(f, "{} packet {}", self.source, n),
            Pos::File => write!(f, "{}", self.source),
        }
    }
}

/// The `id.*` columns of a Zeek log: originator (client) and responder (server).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Endpoints {
    pub orig_h: Option<IpAddr>,
    pub orig_p: Option<u16>,
    pub resp_h: Option<IpAddr>,
    pub resp_p: Option<u16>,
}

/// The services of a connection: nearly always none, one or two.
pub type Services<'a> = smallvec::SmallVec<[Cow<'a, str>; 2]>;

/// The answers of a DNS response, kept inline up to two (a name's CNAME and address, or one
/// address), so that most rows need no allocation for them.
pub type Answers<'a> = smallvec::SmallVec<[Cow<'a, str>; 2]>;

/// One conn.log row (or one flow of a capture).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Conn<'a> {
    pub ts: Option<Ts>,
    pub uid: Option<Cow<'a, str>>,
    pub id: Endpoints,
    /// As written (`tcp`, `udp`, `icmp`, `unknown_transport`; hand-edited logs may say `UDP`).
    pub proto: Option<Cow<'a, str>>,
    /// `service`, split on the set separator (JSON: a comma-joined string or an array); kept
    /// inline up to two services, so a row needs no allocation for them.
    pub services: Services<'a>,
    pub duration: Option<f64>,
    pub orig_bytes: Option<u64>,
    pub resp_bytes: Option<u64>,
    pub conn_state: Option<Cow<'a, str>>,
    pub history: Option<Cow<'a, str>>,
    pub orig_pkts: Option<u64>,
    pub orig_ip_bytes: Option<u64>,
    pub resp_pkts: Option<u64>,
    pub resp_ip_bytes: Option<u64>,
}

/// One dns.log row: a query with its response, or an unpaired message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dns<'a> {
    pub ts: Option<Ts>,
    pub uid: Option<Cow<'a, str>>,
    pub id: Endpoints,
    pub proto: Option<Cow<'a, str>>,
    pub trans_id: Option<u64>,
    pub rtt: Option<f64>,
    pub query: Option<Cow<'a, str>>,
    pub qclass: Option<u64>,
    pub qtype: Option<u64>,
    pub qtype_name: Option<Cow<'a, str>>,
    pub rcode: Option<u64>,
    pub rcode_name: Option<Cow<'a, str>>,
    pub aa: Option<bool>,
    pub tc: Option<bool>,
    pub rd: Option<bool>,
    pub ra: Option<bool>,
    /// `answers` in wire order, as Zeek renders them (addresses, names, `TXT 12 ...`).
    pub answers: Answers<'a>,
    /// `TTLs`, in seconds, parallel to `answers`.
    pub ttls: Vec<f64>,
    pub rejected: Option<bool>,
}

/// How an ssl.log row names its server certificate chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChainKind {
    /// No chain column in this file.
    #[default]
    None,
    /// Zeek 2.3-4.0 `cert_chain_fuids`: file ids, joined to x509.log `id` and files.log `fuid`.
    Fuids,
    /// Zeek >= 4.1 `cert_chain_fps`, and the native decoder: SHA-256 (64 hex) or SHA-1 (40 hex).
    Fingerprints,
}

/// One ssl.log row (or one TLS session of a capture).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tls<'a> {
    pub ts: Option<Ts>,
    pub uid: Option<Cow<'a, str>>,
    pub id: Endpoints,
    pub version: Option<Cow<'a, str>>,
    pub cipher: Option<Cow<'a, str>>,
    pub server_name: Option<Cow<'a, str>>,
    pub established: Option<bool>,
    pub validation_status: Option<Cow<'a, str>>,
    pub chain_kind: ChainKind,
    /// Server chain, leaf first: file ids or fingerprints according to `chain_kind`.
    pub cert_chain: Vec<Cow<'a, str>>,
    /// Leaf subject and issuer when ssl.log carries them.
    pub subject: Option<Cow<'a, str>>,
    pub issuer: Option<Cow<'a, str>>,
}

/// One http.log row (one request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Http<'a> {
    pub ts: Option<Ts>,
    pub uid: Option<Cow<'a, str>>,
    pub id: Endpoints,
    pub trans_depth: Option<u64>,
    pub method: Option<Cow<'a, str>>,
    pub host: Option<Cow<'a, str>>,
    pub uri: Option<Cow<'a, str>>,
    pub version: Option<Cow<'a, str>>,
    pub user_agent: Option<Cow<'a, str>>,
    pub status_code: Option<u64>,
}

/// One files.log row, in either layout (before Zeek 5.1: `tx_hosts rx_hosts conn_uids`; after:
/// `uid id.*`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct File<'a> {
    pub ts: Option<Ts>,
    pub fuid: Option<Cow<'a, str>>,
    /// `uid` (new layout) or `conn_uids` (old layout).
    pub uids: Vec<Cow<'a, str>>,
    /// `id.*` in the new layout.
    pub id: Endpoints,
    pub tx_hosts: Vec<IpAddr>,
    pub rx_hosts: Vec<IpAddr>,
    pub is_orig: Option<bool>,
    pub source: Option<Cow<'a, str>>,
    pub mime_type: Option<Cow<'a, str>>,
    pub filename: Option<Cow<'a, str>>,
    pub md5: Option<Cow<'a, str>>,
    pub sha1: Option<Cow<'a, str>>,
    pub sha256: Option<Cow<'a, str>>,
    pub seen_bytes: Option<u64>,
    pub total_bytes: Option<u64>,
}

/// One x509.log row (or one certificate a capture carried).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct X509<'a> {
    pub ts: Option<Ts>,
    /// Zeek 2.3-4.0: the file id.
    pub id: Option<Cow<'a, str>>,
    /// Zeek >= 4.1 and native: SHA-256 of the DER certificate (or SHA-1 under another
    /// `X509::hash_function`).
    pub fingerprint: Option<Cow<'a, str>>,
    /// SHA-1 of the DER certificate, when known (native decoder).
    pub sha1: Option<Cow<'a, str>>,
    pub version: Option<u64>,
    pub serial: Option<Cow<'a, str>>,
    pub subject: Option<Cow<'a, str>>,
    pub issuer: Option<Cow<'a, str>>,
    pub not_valid_before: Option<Ts>,
    pub not_valid_after: Option<Ts>,
    pub key_alg: Option<Cow<'a, str>>,
    pub sig_alg: Option<Cow<'a, str>>,
    pub key_type: Option<Cow<'a, str>>,
    pub key_length: Option<u64>,
    pub san_dns: Vec<Cow<'a, str>>,
    pub basic_constraints_ca: Option<bool>,
    pub host_cert: Option<bool>,
}

/// Any record a reader yields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record<'a> {
    Conn(Conn<'a>),
    Dns(Dns<'a>),
    Tls(Tls<'a>),
    Http(Http<'a>),
    File(File<'a>),
    X509(X509<'a>),
}

/// The kind of log a file holds, from `#path`, `_path` or the file name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogKind {
    Conn,
    Dns,
    Ssl,
    Http,
    Files,
    X509,
    /// Any other Zeek log (`weird`, `notice`, ...): read and counted, no record used.
    Other(String),
}

impl LogKind {
    /// The kind named by a Zeek `#path` value or file-name stem.
    pub fn from_path_name(name: &str) -> LogKind {
        match name {
            "conn" => LogKind::Conn,
            "dns" => LogKind::Dns,
            "ssl" => LogKind::Ssl,
            "http" => LogKind::Http,
            "files" => LogKind::Files,
            "x509" => LogKind::X509,
            other => LogKind::Other(other.to_string()),
        }
    }

    /// The Zeek `#path` name of this kind.
    pub fn name(&self) -> &str {
        match self {
            LogKind::Conn => "conn",
            LogKind::Dns => "dns",
            LogKind::Ssl => "ssl",
            LogKind::Http => "http",
            LogKind::Files => "files",
            LogKind::X509 => "x509",
            LogKind::Other(s) => s,
        }
    }
}

/// A problem met while reading input: always carries its place, never stops the run.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub location: Location,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Where readers deliver what they read. The pipeline implements it; tests collect into vectors.
pub trait Sink {
    /// One record and the place it was read.
    fn record(&mut self, record: Record<'_>, location: &Location);
    /// One problem; the reader goes on.
    fn diagnostic(&mut self, diagnostic: Diagnostic);
    /// The columns of conn.log and dns.log rows this sink looks at: a Zeek log reader parses
    /// only those, and leaves the other fields of the records unset. Every column unless the
    /// sink says otherwise.
    fn columns(&self) -> crate::input::zeek::Columns {
        crate::input::zeek::Columns::ALL
    }
}

/// A [`Sink`] one thread of a parallel read fills: it is told which file the records that follow
/// come from (by rank: the file's index in the reading order), so that what several threads
/// gathered can be put back in reading order.
pub trait RankedSink: Sink + Send {
    /// Records and diagnostics that follow come from the file of rank `rank`.
    fn begin_file(&mut self, rank: usize);
}

fn own(s: Cow<'_, str>) -> Cow<'static, str> {
    Cow::Owned(s.into_owned())
}

fn own_opt(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    s.map(own)
}

fn own_vec<'a, C: FromIterator<Cow<'static, str>>>(v: impl IntoIterator<Item = Cow<'a, str>>) -> C {
    v.into_iter().map(own).collect()
}

impl Record<'_> {
    /// The same record owning its strings, for keeping it past the reader's line buffer.
    pub fn into_owned(self) -> Record<'static> {
        match self {
            Record::Conn(c) => Record::Conn(Conn {
                uid: own_opt(c.uid),
                proto: own_opt(c.proto),
                services: c.services.into_iter().map(own).collect(),
                conn_state: own_opt(c.conn_state),
                history: own_opt(c.history),
                ts: c.ts,
                id: c.id,
                duration: c.duration,
                orig_bytes: c.orig_bytes,
                resp_bytes: c.resp_bytes,
                orig_pkts: c.orig_pkts,
                orig_ip_bytes: c.orig_ip_bytes,
                resp_pkts: c.resp_pkts,
                resp_ip_bytes: c.resp_ip_bytes,
            }),
            Record::Dns(d) => Record::Dns(Dns {
                uid: own_opt(d.uid),
                proto: own_opt(d.proto),
                query: own_opt(d.query),
                qtype_name: own_opt(d.qtype_name),
                rcode_name: own_opt(d.rcode_name),
                answers: own_vec(d.answers),
                ts: d.ts,
                id: d.id,
                trans_id: d.trans_id,
                rtt: d.rtt,
                qclass: d.qclass,
                qtype: d.qtype,
                rcode: d.rcode,
                aa: d.aa,
                tc: d.tc,
                rd: d.rd,
                ra: d.ra,
                ttls: d.ttls,
                rejected: d.rejected,
            }),
            Record::Tls(t) => Record::Tls(Tls {
                uid: own_opt(t.uid),
                version: own_opt(t.version),
                cipher: own_opt(t.cipher),
                server_name: own_opt(t.server_name),
                validation_status: own_opt(t.validation_status),
                cert_chain: own_vec(t.cert_chain),
                subject: own_opt(t.subject),
                issuer: own_opt(t.issuer),
                ts: t.ts,
                id: t.id,
                established: t.established,
                chain_kind: t.chain_kind,
            }),
            Record::Http(h) => Record::Http(Http {
                uid: own_opt(h.uid),
                method: own_opt(h.method),
                host: own_opt(h.host),
                uri: own_opt(h.uri),
                version: own_opt(h.version),
                user_agent: own_opt(h.user_agent),
                ts: h.ts,
                id: h.id,
                trans_depth: h.trans_depth,
                status_code: h.status_code,
            }),
            Record::File(f) => Record::File(File {
                fuid: own_opt(f.fuid),
                uids: own_vec(f.uids),
                source: own_opt(f.source),
                mime_type: own_opt(f.mime_type),
                filename: own_opt(f.filename),
                md5: own_opt(f.md5),
                sha1: own_opt(f.sha1),
                sha256: own_opt(f.sha256),
                ts: f.ts,
                id: f.id,
                tx_hosts: f.tx_hosts,
                rx_hosts: f.rx_hosts,
                is_orig: f.is_orig,
                seen_bytes: f.seen_bytes,
                total_bytes: f.total_bytes,
            }),
            Record::X509(x) => Record::X509(X509 {
                id: own_opt(x.id),
                fingerprint: own_opt(x.fingerprint),
                sha1: own_opt(x.sha1),
                serial: own_opt(x.serial),
                subject: own_opt(x.subject),
                issuer: own_opt(x.issuer),
                key_alg: own_opt(x.key_alg),
                sig_alg: own_opt(x.sig_alg),
                key_type: own_opt(x.key_type),
                san_dns: own_vec(x.san_dns),
                ts: x.ts,
                version: x.version,
                not_valid_before: x.not_valid_before,
                not_valid_after: x.not_valid_after,
                key_length: x.key_length,
                basic_constraints_ca: x.basic_constraints_ca,
                host_cert: x.host_cert,
            }),
        }
    }
}

impl Record<'_> {
    /// The reading phase of this record (see [`LogKind::phase`]).
    pub fn phase(&self) -> u8 {
        match self {
            Record::Dns(_) => 0,
            Record::X509(_) => 1,
            Record::File(_) => 2,
            Record::Tls(_) => 3,
            Record::Http(_) => 4,
            Record::Conn(_) => 5,
        }
    }
}

impl LogKind {
    /// The order in which logs must be read so that names and joins are known when needed:
    /// dns, x509, files, ssl, http, conn, then everything else.
    pub fn phase(&self) -> u8 {
        match self {
            LogKind::Dns => 0,
            LogKind::X509 => 1,
            LogKind::Files => 2,
            LogKind::Ssl => 3,
            LogKind::Http => 4,
            LogKind::Conn => 5,
            LogKind::Other(_) => 6,
        }
    }
}
