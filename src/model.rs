//! The records every input produces and every later stage reads.
//!
//! Readers (Zeek TSV/JSON, the native capture decoder) turn their input into [`Record`]s that borrow
//! from the reader's line buffer where they can, so the hot path allocates nothing per row. A
//! missing column or an unset value is `None` (or an empty `Vec`); an empty Zeek set is an empty
//! `Vec`. Values are as the log wrote them: names are normalised later (`crate::names`), protocols
//! and services are lower-cased by the consumer. Nothing here knows about rules or reports.

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Endpoints {
    pub orig_h: Option<IpAddr>,
    pub orig_p: Option<u16>,
    pub resp_h: Option<IpAddr>,
    pub resp_p: Option<u16>,
}

/// One conn.log row (or one flow of a capture).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conn<'a> {
    pub ts: Option<Ts>,
    pub uid: Option<Cow<'a, str>>,
    pub id: Endpoints,
    /// As written (`tcp`, `udp`, `icmp`, `unknown_transport`; hand-edited logs may say `UDP`).
    pub proto: Option<Cow<'a, str>>,
    /// `service`, split on the set separator (JSON: a comma-joined string or an array).
    pub services: Vec<Cow<'a, str>>,
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
#[derive(Clone, Debug, Default, PartialEq)]
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
    pub answers: Vec<Cow<'a, str>>,
    /// `TTLs`, in seconds, parallel to `answers`.
    pub ttls: Vec<f64>,
    pub rejected: Option<bool>,
}

/// How an ssl.log row names its server certificate chain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
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
#[derive(Clone, Debug, Default, PartialEq)]
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
#[derive(Clone, Debug, Default, PartialEq)]
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
#[derive(Clone, Debug, Default, PartialEq)]
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
#[derive(Clone, Debug, Default, PartialEq)]
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
#[derive(Clone, Debug, PartialEq)]
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
}

fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    c.map(|s| Cow::Owned(s.into_owned()))
}

fn own_all(v: Vec<Cow<'_, str>>) -> Vec<Cow<'static, str>> {
    v.into_iter().map(|s| Cow::Owned(s.into_owned())).collect()
}

impl Record<'_> {
    /// The record with every borrowed string copied, for buffering beyond the reader's line.
    pub fn into_owned(self) -> Record<'static> {
        match self {
            Record::Conn(c) => Record::Conn(Conn {
                ts: c.ts,
                uid: own(c.uid),
                id: c.id,
                proto: own(c.proto),
                services: own_all(c.services),
                duration: c.duration,
                orig_bytes: c.orig_bytes,
                resp_bytes: c.resp_bytes,
                conn_state: own(c.conn_state),
                history: own(c.history),
                orig_pkts: c.orig_pkts,
                orig_ip_bytes: c.orig_ip_bytes,
                resp_pkts: c.resp_pkts,
                resp_ip_bytes: c.resp_ip_bytes,
            }),
            Record::Dns(d) => Record::Dns(Dns {
                ts: d.ts,
                uid: own(d.uid),
                id: d.id,
                proto: own(d.proto),
                trans_id: d.trans_id,
                rtt: d.rtt,
                query: own(d.query),
                qclass: d.qclass,
                qtype: d.qtype,
                qtype_name: own(d.qtype_name),
                rcode: d.rcode,
                rcode_name: own(d.rcode_name),
                aa: d.aa,
                tc: d.tc,
                rd: d.rd,
                ra: d.ra,
                answers: own_all(d.answers),
                ttls: d.ttls,
                rejected: d.rejected,
            }),
            Record::Tls(t) => Record::Tls(Tls {
                ts: t.ts,
                uid: own(t.uid),
                id: t.id,
                version: own(t.version),
                cipher: own(t.cipher),
                server_name: own(t.server_name),
                established: t.established,
                validation_status: own(t.validation_status),
                chain_kind: t.chain_kind,
                cert_chain: own_all(t.cert_chain),
                subject: own(t.subject),
                issuer: own(t.issuer),
            }),
            Record::Http(h) => Record::Http(Http {
                ts: h.ts,
                uid: own(h.uid),
                id: h.id,
                trans_depth: h.trans_depth,
                method: own(h.method),
                host: own(h.host),
                uri: own(h.uri),
                version: own(h.version),
                user_agent: own(h.user_agent),
                status_code: h.status_code,
            }),
            Record::File(f) => Record::File(File {
                ts: f.ts,
                fuid: own(f.fuid),
                uids: own_all(f.uids),
                id: f.id,
                tx_hosts: f.tx_hosts,
                rx_hosts: f.rx_hosts,
                is_orig: f.is_orig,
                source: own(f.source),
                mime_type: own(f.mime_type),
                filename: own(f.filename),
                md5: own(f.md5),
                sha1: own(f.sha1),
                sha256: own(f.sha256),
                seen_bytes: f.seen_bytes,
                total_bytes: f.total_bytes,
            }),
            Record::X509(x) => Record::X509(X509 {
                ts: x.ts,
                id: own(x.id),
                fingerprint: own(x.fingerprint),
                sha1: own(x.sha1),
                version: x.version,
                serial: own(x.serial),
                subject: own(x.subject),
                issuer: own(x.issuer),
                not_valid_before: x.not_valid_before,
                not_valid_after: x.not_valid_after,
                key_alg: own(x.key_alg),
                sig_alg: own(x.sig_alg),
                key_type: own(x.key_type),
                key_length: x.key_length,
                san_dns: own_all(x.san_dns),
                basic_constraints_ca: x.basic_constraints_ca,
                host_cert: x.host_cert,
            }),
        }
    }

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
