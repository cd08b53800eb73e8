//! The Zeek columns captriage reads, and the mapping from one row to a model record.
//!
//! Every column the model uses has one canonical Zeek name in [`NAMES`] (`id.orig_h`,
//! `certificate.subject`, ...). The TSV and JSON readers resolve their column names to these once
//! per header block (TSV) or per key (JSON), accepting the renamings Zeek itself can produce: the
//! scope separator `_` or `*` instead of `.` (`id_orig_h`, `Log::default_scope_sep`) and the
//! common `Log::default_field_name_map` of `id.*` to `src`, `src_port`, `dst`, `dst_port`, and
//! ssl.log's `issuer_subject` of Zeek 2.1-2.2 for `issuer`. A
//! canonical name always wins over a renamed one. The readers then expose a row through the
//! [`Row`] trait, and [`map_row`] builds the record for the file's log kind from it; the mapping
//! never sees a position or a Zeek version, only names. Which record a log kind yields follows
//! RULES.md §1; other kinds yield nothing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::sync::OnceLock;

use crate::model::{ChainKind, Conn, Dns, Endpoints, File, Http, LogKind, Record, Tls, Ts, X509};

macro_rules! fields {
    ($($id:ident = $name:literal,)*) => {
        /// A column captriage reads, by canonical Zeek name (see [`NAMES`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub(crate) enum F { $($id,)* }
        /// Canonical Zeek names of the columns in [`F`], in the same order.
        pub(crate) const NAMES: &[&str] = &[$($name,)*];
        /// Every column of [`F`], in the order of [`NAMES`].
        pub(crate) const ALL: &[F] = &[$(F::$id,)*];
    };
}

fields! {
    Path = "_path",
    Ts = "ts",
    Uid = "uid",
    OrigH = "id.orig_h",
    OrigP = "id.orig_p",
    RespH = "id.resp_h",
    RespP = "id.resp_p",
    Proto = "proto",
    Service = "service",
    Duration = "duration",
    OrigBytes = "orig_bytes",
    RespBytes = "resp_bytes",
    ConnState = "conn_state",
    History = "history",
    OrigPkts = "orig_pkts",
    OrigIpBytes = "orig_ip_bytes",
    RespPkts = "resp_pkts",
    RespIpBytes = "resp_ip_bytes",
    TransId = "trans_id",
    Rtt = "rtt",
    Query = "query",
    Qclass = "qclass",
    Qtype = "qtype",
    QtypeName = "qtype_name",
    Rcode = "rcode",
    RcodeName = "rcode_name",
    Aa = "AA",
    Tc = "TC",
    Rd = "RD",
    Ra = "RA",
    Answers = "answers",
    Ttls = "TTLs",
    Rejected = "rejected",
    Version = "version",
    Cipher = "cipher",
    ServerName = "server_name",
    Established = "established",
    ValidationStatus = "validation_status",
    CertChainFuids = "cert_chain_fuids",
    CertChainFps = "cert_chain_fps",
    Subject = "subject",
    Issuer = "issuer",
    TransDepth = "trans_depth",
    Method = "method",
    Host = "host",
    Uri = "uri",
    UserAgent = "user_agent",
    StatusCode = "status_code",
    Fuid = "fuid",
    ConnUids = "conn_uids",
    TxHosts = "tx_hosts",
    RxHosts = "rx_hosts",
    IsOrig = "is_orig",
    Source = "source",
    MimeType = "mime_type",
    Filename = "filename",
    Md5 = "md5",
    Sha1 = "sha1",
    Sha256 = "sha256",
    SeenBytes = "seen_bytes",
    TotalBytes = "total_bytes",
    Id = "id",
    Fingerprint = "fingerprint",
    CertVersion = "certificate.version",
    CertSerial = "certificate.serial",
    CertSubject = "certificate.subject",
    CertIssuer = "certificate.issuer",
    CertNotBefore = "certificate.not_valid_before",
    CertNotAfter = "certificate.not_valid_after",
    CertKeyAlg = "certificate.key_alg",
    CertSigAlg = "certificate.sig_alg",
    CertKeyType = "certificate.key_type",
    CertKeyLength = "certificate.key_length",
    SanDns = "san.dns",
    BasicConstraintsCa = "basic_constraints.ca",
    HostCert = "host_cert",
}

/// Number of columns in [`F`].
pub(crate) const N: usize = NAMES.len();

const _: () = assert!(N <= 128, "a Mask holds at most 128 columns");

/// A set of columns of [`F`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mask(u128);

impl Mask {
    /// Every column.
    pub(crate) const ALL: Mask = Mask(u128::MAX);

    /// Every column but `skip`.
    const fn without(skip: &[F]) -> Mask {
        let mut bits = u128::MAX;
        let mut i = 0;
        while i < skip.len() {
            bits &= !(1u128 << skip[i] as usize);
            i += 1;
        }
        Mask(bits)
    }

    /// Whether `f` is in the set.
    #[inline]
    pub(crate) fn has(self, f: F) -> bool {
        self.has_index(f as usize)
    }

    /// Whether the column of index `i` in [`F`] is in the set.
    #[inline]
    pub(crate) fn has_index(self, i: usize) -> bool {
        i < N && self.0 >> i & 1 == 1
    }
}

/// Which columns of conn.log and dns.log rows a reader parses and checks; the other logs are
/// always read whole. A column left out reads as absent: its field of the record is unset (or
/// empty), and a bad value in it is not reported, because nothing looks at it. Conn and DNS rows
/// are nearly all the rows of a capture, and parsing columns nobody reads was an eighth of the
/// time of a conn row and a quarter of a DNS row (see [`crate::model::Sink::columns`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns {
    conn: Mask,
    dns: Mask,
}

impl Columns {
    /// Every column: records carry every field of the model.
    pub const ALL: Columns = Columns {
        conn: Mask::ALL,
        dns: Mask::ALL,
    };

    /// The columns the analysis reads (connection aggregates, names, DNS facts, passive DNS):
    /// conn.log rows without `duration`, `conn_state`, `history` and the packet and IP byte
    /// counts; dns.log rows with only `ts`, `uid`, `query`, `qtype`, `qtype_name` and `answers`.
    pub const ANALYSIS: Columns = Columns {
        conn: Mask::without(&[
            F::Duration,
            F::ConnState,
            F::History,
            F::OrigPkts,
            F::OrigIpBytes,
            F::RespPkts,
            F::RespIpBytes,
        ]),
        dns: Mask::without(&[
            F::OrigH,
            F::OrigP,
            F::RespH,
            F::RespP,
            F::Proto,
            F::TransId,
            F::Rtt,
            F::Qclass,
            F::Rcode,
            F::RcodeName,
            F::Aa,
            F::Tc,
            F::Rd,
            F::Ra,
            F::Ttls,
            F::Rejected,
        ]),
    };

    /// These columns without conn.log's `id.orig_h` and `id.orig_p`, which only 4-tuple joins
    /// read: for a reader whose connections no record waits for by 4-tuple.
    pub const fn without_originator(self) -> Columns {
        Columns {
            conn: Mask(self.conn.0 & Mask::without(&[F::OrigH, F::OrigP]).0),
            dns: self.dns,
        }
    }

    /// The columns of rows of `kind`.
    #[inline]
    pub(crate) fn of(&self, kind: &LogKind) -> Mask {
        match kind {
            LogKind::Conn => self.conn,
            LogKind::Dns => self.dns,
            _ => Mask::ALL,
        }
    }
}

/// How well a column name matched: canonical names beat renamings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Match {
    Alias,
    Exact,
}

/// FNV-1a: column names are short and trusted to be few, and this lookup runs for every JSON
/// key of every row, where SipHash showed up as a quarter of the reading time.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Table = HashMap<String, (F, Match), BuildHasherDefault<Fnv>>;

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut m = Table::default();
        for (&name, &f) in NAMES.iter().zip(ALL) {
            m.insert(name.to_string(), (f, Match::Exact));
        }
        for (&name, &f) in NAMES.iter().zip(ALL) {
            if name.contains('.') {
                for sep in ["_", "*"] {
                    m.entry(name.replace('.', sep)).or_insert((f, Match::Alias));
                }
            }
        }
        for (alias, f) in [
            ("src", F::OrigH),
            ("src_port", F::OrigP),
            ("dst", F::RespH),
            ("dst_port", F::RespP),
            // ssl.log of Zeek 2.1-2.2 named the leaf's issuer `issuer_subject`.
            ("issuer_subject", F::Issuer),
        ] {
            m.entry(alias.to_string()).or_insert((f, Match::Alias));
        }
        m
    })
}

/// The column a Zeek field name stands for, and how it matched; `None` for columns not read.
pub(crate) fn lookup(name: &str) -> Option<(F, Match)> {
    table().get(name).copied()
}

/// The expected type of a column, for diagnostics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Count,
    Real,
    Time,
    Bool,
    Addr,
    Port,
    Text,
}

impl Ty {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Ty::Count => "count",
            Ty::Real => "double",
            Ty::Time => "time",
            Ty::Bool => "bool",
            Ty::Addr => "addr",
            Ty::Port => "port",
            Ty::Text => "string",
        }
    }
}

/// The first bad value of a row: which column, what type was expected, and the value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BadValue {
    pub column: F,
    pub ty: Ty,
    pub value: String,
}

/// One data row, seen through canonical columns. A getter returns `None` (or an empty `Vec`)
/// for an absent column or an unset value; a value that does not parse as the type asked for is
/// also `None` and is remembered as the row's [`BadValue`].
pub(crate) trait Row<'a> {
    fn text(&mut self, f: F) -> Option<Cow<'a, str>>;
    /// The elements of a set or vector column, into any collection (a `Vec`, or the inline
    /// [`crate::model::Services`]).
    fn texts<C: Default + Extend<Cow<'a, str>>>(&mut self, f: F) -> C;
    fn count(&mut self, f: F) -> Option<u64>;
    fn real(&mut self, f: F) -> Option<f64>;
    fn reals(&mut self, f: F) -> Vec<f64>;
    fn time(&mut self, f: F) -> Option<Ts>;
    fn boolean(&mut self, f: F) -> Option<bool>;
    fn addr(&mut self, f: F) -> Option<IpAddr>;
    fn addrs(&mut self, f: F) -> Vec<IpAddr>;
    fn port(&mut self, f: F) -> Option<u16>;
}

/// The value of column `F::$f` of row `$r` by `$r.$get`, or nothing when `$mask` leaves the
/// column out.
macro_rules! col {
    ($r:ident, $mask:ident, $get:ident, $f:ident) => {
        if $mask.has(F::$f) {
            $r.$get(F::$f)
        } else {
            Default::default()
        }
    };
}

fn endpoints<'a>(r: &mut impl Row<'a>, mask: Mask) -> Endpoints {
    Endpoints {
        orig_h: col!(r, mask, addr, OrigH),
        orig_p: col!(r, mask, port, OrigP),
        resp_h: col!(r, mask, addr, RespH),
        resp_p: col!(r, mask, port, RespP),
    }
}

/// The record a row of `kind` yields; `None` for kinds captriage does not use. Of conn and DNS
/// rows only the columns of `columns` are read (see [`Columns`]).
pub(crate) fn map_row<'a>(
    kind: &LogKind,
    r: &mut impl Row<'a>,
    columns: &Columns,
) -> Option<Record<'a>> {
    let mask = columns.of(kind);
    Some(match kind {
        LogKind::Conn => Record::Conn(Conn {
            ts: col!(r, mask, time, Ts),
            uid: col!(r, mask, text, Uid),
            id: endpoints(r, mask),
            proto: col!(r, mask, text, Proto),
            services: col!(r, mask, texts, Service),
            duration: col!(r, mask, real, Duration),
            orig_bytes: col!(r, mask, count, OrigBytes),
            resp_bytes: col!(r, mask, count, RespBytes),
            conn_state: col!(r, mask, text, ConnState),
            history: col!(r, mask, text, History),
            orig_pkts: col!(r, mask, count, OrigPkts),
            orig_ip_bytes: col!(r, mask, count, OrigIpBytes),
            resp_pkts: col!(r, mask, count, RespPkts),
            resp_ip_bytes: col!(r, mask, count, RespIpBytes),
        }),
        LogKind::Dns => Record::Dns(Dns {
            ts: col!(r, mask, time, Ts),
            uid: col!(r, mask, text, Uid),
            id: endpoints(r, mask),
            proto: col!(r, mask, text, Proto),
            trans_id: col!(r, mask, count, TransId),
            rtt: col!(r, mask, real, Rtt),
            query: col!(r, mask, text, Query),
            qclass: col!(r, mask, count, Qclass),
            qtype: col!(r, mask, count, Qtype),
            qtype_name: col!(r, mask, text, QtypeName),
            rcode: col!(r, mask, count, Rcode),
            rcode_name: col!(r, mask, text, RcodeName),
            aa: col!(r, mask, boolean, Aa),
            tc: col!(r, mask, boolean, Tc),
            rd: col!(r, mask, boolean, Rd),
            ra: col!(r, mask, boolean, Ra),
            answers: col!(r, mask, texts, Answers),
            ttls: col!(r, mask, reals, Ttls),
            rejected: col!(r, mask, boolean, Rejected),
        }),
        LogKind::Ssl => {
            let fps: Vec<_> = r.texts(F::CertChainFps);
            let fuids: Vec<_> = r.texts(F::CertChainFuids);
            let (chain_kind, cert_chain) = if !fps.is_empty() {
                (ChainKind::Fingerprints, fps)
            } else if !fuids.is_empty() {
                (ChainKind::Fuids, fuids)
            } else {
                (ChainKind::None, Vec::new())
            };
            Record::Tls(Tls {
                ts: r.time(F::Ts),
                uid: r.text(F::Uid),
                id: endpoints(r, Mask::ALL),
                version: r.text(F::Version),
                cipher: r.text(F::Cipher),
                server_name: r.text(F::ServerName),
                established: r.boolean(F::Established),
                validation_status: r.text(F::ValidationStatus),
                chain_kind,
                cert_chain,
                subject: r.text(F::Subject),
                issuer: r.text(F::Issuer),
            })
        }
        LogKind::Http => Record::Http(Http {
            ts: r.time(F::Ts),
            uid: r.text(F::Uid),
            id: endpoints(r, Mask::ALL),
            trans_depth: r.count(F::TransDepth),
            method: r.text(F::Method),
            host: r.text(F::Host),
            uri: r.text(F::Uri),
            version: r.text(F::Version),
            user_agent: r.text(F::UserAgent),
            status_code: r.count(F::StatusCode),
        }),
        LogKind::Files => {
            let mut uids: Vec<_> = r.texts(F::ConnUids);
            if let Some(uid) = r.text(F::Uid) {
                uids.insert(0, uid);
            }
            Record::File(File {
                ts: r.time(F::Ts),
                fuid: r.text(F::Fuid),
                uids,
                id: endpoints(r, Mask::ALL),
                tx_hosts: r.addrs(F::TxHosts),
                rx_hosts: r.addrs(F::RxHosts),
                is_orig: r.boolean(F::IsOrig),
                source: r.text(F::Source),
                mime_type: r.text(F::MimeType),
                filename: r.text(F::Filename),
                md5: r.text(F::Md5),
                sha1: r.text(F::Sha1),
                sha256: r.text(F::Sha256),
                seen_bytes: r.count(F::SeenBytes),
                total_bytes: r.count(F::TotalBytes),
            })
        }
        LogKind::X509 => Record::X509(X509 {
            ts: r.time(F::Ts),
            id: r.text(F::Id),
            fingerprint: r.text(F::Fingerprint),
            sha1: None,
            version: r.count(F::CertVersion),
            serial: r.text(F::CertSerial),
            subject: r.text(F::CertSubject),
            issuer: r.text(F::CertIssuer),
            not_valid_before: r.time(F::CertNotBefore),
            not_valid_after: r.time(F::CertNotAfter),
            key_alg: r.text(F::CertKeyAlg),
            sig_alg: r.text(F::CertSigAlg),
            key_type: r.text(F::CertKeyType),
            key_length: r.count(F::CertKeyLength),
            san_dns: r.texts(F::SanDns),
            basic_constraints_ca: r.boolean(F::BasicConstraintsCa),
            host_cert: r.boolean(F::HostCert),
        }),
        LogKind::Other(_) => return None,
    })
}

/// Seconds since the epoch from an integer or decimal text: values beyond 1e11 in magnitude
/// (the year 5138 in seconds) are taken as milliseconds, as Zeek's `JSON::TS_MILLIS` writes them.
pub(crate) fn epoch_number(text: &str) -> Option<Ts> {
    let v: f64 = if let Ok(i) = text.parse::<i64>() {
        if i.unsigned_abs() > 100_000_000_000 {
            return Some(i as f64 / 1e3);
        }
        i as f64
    } else if let Ok(u) = text.parse::<u64>() {
        // `JSON::TS_MILLIS_UNSIGNED` before Zeek 8.0 wrote negative times as their two's
        // complement: undo it.
        return Some(u.cast_signed() as f64 / 1e3);
    } else {
        text.parse::<f64>().ok()?
    };
    if !v.is_finite() {
        return None;
    }
    Some(if v.abs() > 1e11 { v / 1e3 } else { v })
}

/// Seconds since the epoch from RFC 3339 / ISO 8601 text (`2018-03-24T17:15:20.615923Z`).
/// Microsecond values give exactly the `f64` that parsing Zeek's TSV `1521911720.615923` gives.
pub(crate) fn epoch_iso(text: &str) -> Option<Ts> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let nanos = t.unix_timestamp_nanos();
    if nanos % 1000 == 0 {
        let micros = i64::try_from(nanos / 1000).ok()?;
        Some(micros as f64 / 1e6)
    } else {
        Some(nanos as f64 / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_fields_agree() {
        for (i, name) in NAMES.iter().enumerate() {
            let (f, m) = lookup(name).unwrap_or((F::Path, Match::Alias));
            assert_eq!(f as usize, i, "{name}");
            assert_eq!(m, Match::Exact);
        }
    }

    #[test]
    fn renamed_columns() {
        // Log::default_scope_sep = "_" and "*", and the field_name_map of the edge cases.
        assert_eq!(lookup("id_orig_h"), Some((F::OrigH, Match::Alias)));
        assert_eq!(lookup("id*resp_p"), Some((F::RespP, Match::Alias)));
        assert_eq!(lookup("src"), Some((F::OrigH, Match::Alias)));
        assert_eq!(lookup("dst_port"), Some((F::RespP, Match::Alias)));
        assert_eq!(
            lookup("certificate_subject"),
            Some((F::CertSubject, Match::Alias))
        );
        assert_eq!(lookup("local_orig"), None);
    }

    #[test]
    fn epoch_forms() {
        assert_eq!(epoch_number("1517422326.539915"), Some(1517422326.539915));
        assert_eq!(epoch_number("-315619200.0"), Some(-315619200.0));
        // JSON::TS_MILLIS
        assert_eq!(epoch_number("-315619200000"), Some(-315619200.0));
        assert_eq!(epoch_number("1517422326539"), Some(1517422326.539));
        // JSON::TS_MILLIS_UNSIGNED of a negative time
        assert_eq!(epoch_number("18446743758090351616"), Some(-315619200.0));
        assert_eq!(epoch_number("nan"), None);
        assert_eq!(epoch_number("x"), None);
        assert_eq!(
            epoch_iso("2018-03-24T17:15:20.615923Z"),
            Some("1521911720.615923".parse().unwrap_or(0.0))
        );
        assert_eq!(epoch_iso("1960-01-01T00:00:00.000000Z"), Some(-315619200.0));
        assert_eq!(epoch_iso("yesterday"), None);
    }
}
