//! Pure TLS and DTLS handshake parsers for the native capture decoder.
//!
//! The flow decoder hands over the first bytes each side sent (TCP) or the first datagrams (UDP);
//! these functions find the ClientHello (SNI, versions) and the server's first flight (negotiated
//! version, certificate chain up to TLS 1.2) and describe each certificate the way Zeek's x509.log
//! does. Record framing and handshake messages are parsed by `tls-parser`, certificates by
//! `x509-parser`; this module only reassembles handshake messages split across records or DTLS
//! fragments and renders names, serials and algorithms in Zeek's (OpenSSL's) spelling. Flow state,
//! buffering and logging stay with the caller. Every loop and buffer is bounded; a truncated buffer
//! yields [`TlsNeed::NeedMore`], garbage yields [`TlsNeed::NotTls`], nothing panics. The one
//! piece of state is a bounded per-thread memo of [`cert_info`] by the certificate's SHA-256: the
//! same server certificates come back in session after session, and parsing them again costs
//! more than the rest of the decoder (the function stays pure as seen from outside).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha1::Sha1;
use sha2::{Digest, Sha256};
use tls_parser::{
    DTLSMessage, DTLSMessageHandshakeBody, TlsExtension, TlsMessage, TlsMessageHandshake,
    TlsRecordType, parse_dtls_message_handshake, parse_dtls_record_header,
    parse_tls_client_hello_extensions, parse_tls_message_handshake, parse_tls_raw_record,
    parse_tls_server_hello_extensions,
};
use x509_parser::asn1_rs::ToDer;
use x509_parser::der_parser::ber::BerObjectContent;
use x509_parser::der_parser::der::parse_der_sequence;
use x509_parser::oid_registry::Oid;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// Largest handshake message accepted (a ClientHello or a certificate chain); larger means garbage.
const MAX_HANDSHAKE_MSG: usize = 1 << 18;
/// Most input bytes looked at: the caller caps its buffers at 64 KiB, this is the backstop.
const MAX_INPUT: usize = 1 << 18;
/// Most DTLS handshake messages gathered from one server flight.
const MAX_DTLS_MESSAGES: usize = 64;
/// Most fragments per DTLS handshake message.
const MAX_DTLS_FRAGMENTS: usize = 256;
/// Most bytes allocated for reassembling one side's DTLS handshake messages.
const MAX_DTLS_BYTES: usize = 1 << 19;
/// Most certificates taken from one Certificate message.
const MAX_CERTS: usize = 32;
/// Zeek reads printed names into a 2 KiB buffer (`BIO_gets`), so longer names are cut there.
const MAX_NAME_LEN: usize = 2047;

/// The outcome of looking at the bytes seen so far.
#[derive(Clone, Debug, PartialEq)]
pub enum TlsNeed<T> {
    /// Parsed.
    Done(T),
    /// So far consistent with (D)TLS, but the message is not complete yet.
    NeedMore,
    /// Not (D)TLS, or corrupt beyond use.
    NotTls,
}

/// What a ClientHello tells: server name and offered versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    /// The first host_name of the server_name extension (Zeek's `server_name`).
    pub sni: Option<String>,
    /// `legacy_version` of the ClientHello.
    pub version: u16,
    /// The supported_versions extension as sent (GREASE included), empty when absent.
    pub supported_versions: Vec<u16>,
}

/// What the server's first flight tells.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerFlight {
    /// Negotiated version: the supported_versions extension of the ServerHello if present, else
    /// ServerHello.version (as Zeek logs it). `None` when no ServerHello was seen (e.g. an alert).
    pub version: Option<u16>,
    /// The server certificate chain, leaf first (TLS <= 1.2 only: 1.3 encrypts it). Certificates
    /// `x509-parser` cannot read are left out, as Zeek logs no x509 row for them.
    pub certificates: Vec<CertInfo>,
}

/// One certificate as Zeek's x509.log describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct CertInfo {
    /// SHA-1 of the DER certificate, lower-case hex.
    pub der_sha1: String,
    /// SHA-256 of the DER certificate, lower-case hex (Zeek's `fingerprint`).
    pub der_sha256: String,
    /// RFC 4514 order, most specific RDN first, OpenSSL `XN_FLAG_RFC2253` escaping.
    pub subject: String,
    pub issuer: String,
    /// Epoch seconds.
    pub not_before: Option<f64>,
    pub not_after: Option<f64>,
    /// Upper-case hex as OpenSSL's `i2a_ASN1_INTEGER` prints it (`-` prefix when negative).
    pub serial: String,
    pub san_dns: Vec<String>,
    /// 1 for v1, 3 for v3.
    pub version: u64,
    /// OpenSSL long names (`rsaEncryption`, `sha256WithRSAEncryption`), else the dotted OID.
    pub key_alg: String,
    pub sig_alg: String,
    /// `rsa`, `dsa` or `ecdsa` like Zeek, `ML-DSA-44/65/87` like Zeek on OpenSSL >= 3.5;
    /// `None` for other key types.
    pub key_type: Option<String>,
    /// RSA modulus bits, DSA p bits, EC group order bits, ML-DSA public key bits.
    pub key_length: Option<u64>,
    /// basicConstraints cA, when the extension is present.
    pub basic_constraints_ca: Option<bool>,
}

/// Zeek's name for a TLS/DTLS version number (`SSL::version_strings` and its default).
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 => "SSLv2".into(),
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv10".into(),
        0x0302 => "TLSv11".into(),
        0x0303 => "TLSv12".into(),
        0x0304 => "TLSv13".into(),
        0xFEFF => "DTLSv10".into(),
        0xFEFD => "DTLSv12".into(),
        0xFEFC => "DTLSv13".into(),
        _ if v / 0xFF == 0x7F => format!("TLSv13-draft{}", v % 0x7F),
        _ => format!("unknown-{v}"),
    }
}

/// How the walk over TLS records ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamEnd {
    /// The buffer ends inside (or right after) a record.
    Incomplete,
    /// A record of another content type follows the handshake records.
    Other(u8),
    /// Bytes that are not a TLS record follow.
    Garbage,
}

/// Is `b` a plausible start of a TLS record header (content type, major version 3)?
fn plausible_tls_header(b: &[u8]) -> bool {
    let ct_ok = b.first().is_none_or(|&t| (20..=26).contains(&t));
    let major_ok = b.get(1).is_none_or(|&m| m == 3);
    let minor_ok = b.get(2).is_none_or(|&m| m <= 4);
    ct_ok && major_ok && minor_ok
}

/// Concatenate the payloads of the leading handshake records of `buf`.
/// `Err(())` when the first record is not a TLS handshake record.
fn tls_handshake_stream(buf: &[u8]) -> Result<(Vec<u8>, StreamEnd), ()> {
    let mut rest = buf.get(..MAX_INPUT).unwrap_or(buf);
    let mut hs = Vec::new();
    let mut first = true;
    while !rest.is_empty() {
        if !plausible_tls_header(rest) {
            return if first {
                Err(())
            } else {
                Ok((hs, StreamEnd::Garbage))
            };
        }
        let ct = rest.first().copied().unwrap_or(0);
        if first && ct != u8::from(TlsRecordType::Handshake) && ct != 21 {
            return Err(());
        }
        match parse_tls_raw_record(rest) {
            Ok((r, rec)) => {
                if rec.hdr.record_type != TlsRecordType::Handshake {
                    return Ok((hs, StreamEnd::Other(ct)));
                }
                if hs.len() + rec.data.len() > MAX_HANDSHAKE_MSG + 4 {
                    return Ok((hs, StreamEnd::Garbage));
                }
                hs.extend_from_slice(rec.data);
                rest = r;
            }
            Err(tls_parser::Err::Incomplete(_)) => return Ok((hs, StreamEnd::Incomplete)),
            Err(_) => {
                return if first {
                    Err(())
                } else {
                    Ok((hs, StreamEnd::Garbage))
                };
            }
        }
        first = false;
    }
    Ok((hs, StreamEnd::Incomplete))
}

/// Length of the handshake message at the start of `hs` (type byte, u24 length), if known.
fn handshake_len(hs: &[u8]) -> Option<usize> {
    let b = hs.get(1..4)?;
    Some(usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]))
}

/// The ClientHello at the start of the client's byte stream, reassembled across records.
pub fn parse_client_hello(buf: &[u8]) -> TlsNeed<ClientHello> {
    let Ok((hs, end)) = tls_handshake_stream(buf) else {
        return TlsNeed::NotTls;
    };
    if buf.first() == Some(&21) {
        return TlsNeed::NotTls;
    }
    if hs.first().is_some_and(|&t| t != 1) {
        return TlsNeed::NotTls;
    }
    let need_more = if end == StreamEnd::Incomplete {
        TlsNeed::NeedMore
    } else {
        TlsNeed::NotTls
    };
    let Some(len) = handshake_len(&hs) else {
        return need_more;
    };
    if len > MAX_HANDSHAKE_MSG {
        return TlsNeed::NotTls;
    }
    let Some(msg) = hs.get(..4 + len) else {
        return need_more;
    };
    match parse_tls_message_handshake(msg) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)))) => {
            TlsNeed::Done(client_hello_info(ch.version.0, ch.ext))
        }
        _ => TlsNeed::NotTls,
    }
}

fn client_hello_info(version: u16, ext: Option<&[u8]>) -> ClientHello {
    let mut out = ClientHello {
        sni: None,
        version,
        supported_versions: Vec::new(),
    };
    let exts = ext
        .and_then(|e| parse_tls_client_hello_extensions(e).ok())
        .map(|(_, v)| v)
        .unwrap_or_default();
    for e in exts {
        match e {
            TlsExtension::SNI(names) if out.sni.is_none() => {
                out.sni = names
                    .iter()
                    .find(|(t, _)| t.0 == 0)
                    .map(|(_, n)| escape_bytes(n));
            }
            TlsExtension::SupportedVersions(vs) if out.supported_versions.is_empty() => {
                out.supported_versions = vs.iter().map(|v| v.0).collect();
            }
            _ => {}
        }
    }
    out
}

/// Text of a wire name: UTF-8 as is, other bytes and controls as Zeek's `\xNN`.
fn escape_bytes(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if !s.contains('\u{FFFD}') && !s.chars().any(char::is_control) {
        return s.into_owned();
    }
    let mut out = String::with_capacity(b.len());
    for &c in b {
        if (0x20..0x7F).contains(&c) {
            out.push(char::from(c));
        } else {
            let _ = write!(out, "\\x{c:02x}");
        }
    }
    out
}

/// The version a ServerHello body negotiates: supported_versions if present, else its version.
fn server_hello_version(legacy: u16, ext: Option<&[u8]>) -> u16 {
    let exts = ext
        .and_then(|e| parse_tls_server_hello_extensions(e).ok())
        .map(|(_, v)| v)
        .unwrap_or_default();
    for e in exts {
        if let TlsExtension::SupportedVersions(vs) = e
            && let [v] = vs.as_slice()
        {
            return v.0;
        }
    }
    legacy
}

/// Fallback when `tls-parser` does not know a ServerHello layout (TLS 1.3 drafts): its version.
fn raw_version(body: &[u8]) -> Option<u16> {
    let b = body.get(..2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// Builder for a server flight from handshake messages in order.
#[derive(Default)]
struct FlightState {
    version: Option<u16>,
    /// The Certificate message body; certificates are only decoded once the flight is returned.
    certificate_msg: Option<Vec<u8>>,
    saw_server_hello: bool,
    done: bool,
}

impl FlightState {
    /// Take one complete handshake message (`ty`, `body`); `server_hello` parses the ServerHello
    /// in the record flavour at hand.
    fn take(&mut self, ty: u8, body: &[u8], server_hello: impl Fn(&[u8]) -> Option<u16>) {
        match ty {
            2 if !self.saw_server_hello => {
                self.saw_server_hello = true;
                self.version = server_hello(body).or_else(|| raw_version(body));
                // TLS 1.3 (and its drafts) encrypt everything after the ServerHello.
                if self
                    .version
                    .is_some_and(|v| v == 0x0304 || v == 0xFEFC || v >> 8 == 0x7F)
                {
                    self.done = true;
                }
            }
            11 if self.certificate_msg.is_none() => {
                let mut msg = Vec::with_capacity(body.len() + 4);
                msg.push(11);
                msg.extend_from_slice(&u24(body.len()));
                msg.extend_from_slice(body);
                self.certificate_msg = Some(msg);
            }
            14 => self.done = true,
            _ => {}
        }
    }

    fn flight(self) -> ServerFlight {
        let mut certificates = Vec::new();
        if let Some(msg) = &self.certificate_msg
            && let Ok((_, TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)))) =
                parse_tls_message_handshake(msg)
        {
            certificates = c
                .cert_chain
                .iter()
                .take(MAX_CERTS)
                .filter_map(|rc| cert_info(rc.data))
                .collect();
        }
        ServerFlight {
            version: self.version,
            certificates,
        }
    }
}

fn u24(n: usize) -> [u8; 3] {
    let b = (n as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn tls_server_hello(body: &[u8]) -> Option<u16> {
    let mut msg = Vec::with_capacity(body.len() + 4);
    msg.push(2);
    msg.extend_from_slice(&u24(body.len()));
    msg.extend_from_slice(body);
    match parse_tls_message_handshake(&msg) {
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHello(sh)))) => {
            Some(server_hello_version(sh.version.0, sh.ext))
        }
        Ok((_, TlsMessage::Handshake(TlsMessageHandshake::ServerHelloV13Draft18(sh)))) => {
            Some(server_hello_version(sh.version.0, sh.ext))
        }
        _ => None,
    }
}

/// Walk the server's handshake stream; `complete` is whether the flight is known to be over.
fn walk_server_flight(buf: &[u8]) -> Option<(FlightState, bool, StreamEnd)> {
    if buf.first() == Some(&21) {
        // A lone alert (e.g. handshake_failure): TLS, but nothing negotiated.
        if !plausible_tls_header(buf) {
            return None;
        }
        return match parse_tls_raw_record(buf) {
            Ok(_) => Some((FlightState::default(), true, StreamEnd::Other(21))),
            Err(tls_parser::Err::Incomplete(_)) => {
                Some((FlightState::default(), false, StreamEnd::Incomplete))
            }
            Err(_) => None,
        };
    }
    let (hs, end) = tls_handshake_stream(buf).ok()?;
    let mut st = FlightState::default();
    let mut rest = hs.as_slice();
    while !st.done {
        let Some(&ty) = rest.first() else { break };
        if !matches!(ty, 0..=24) {
            return None;
        }
        let Some(len) = handshake_len(rest) else {
            break;
        };
        if len > MAX_HANDSHAKE_MSG {
            return None;
        }
        let Some(body) = rest.get(4..4 + len) else {
            break;
        };
        st.take(ty, body, tls_server_hello);
        rest = rest.get(4 + len..).unwrap_or_default();
    }
    let complete = st.done || (end != StreamEnd::Incomplete && st.saw_server_hello);
    Some((st, complete, end))
}

/// The server's first flight (ServerHello, Certificate, ... ServerHelloDone), reassembled across
/// records. `Done` once the flight is over: ServerHelloDone, a non-handshake record, TLS 1.3
/// negotiated, or an alert.
pub fn parse_server_flight(buf: &[u8]) -> TlsNeed<ServerFlight> {
    match walk_server_flight(buf) {
        None => TlsNeed::NotTls,
        Some((st, true, _)) => TlsNeed::Done(st.flight()),
        Some((st, false, end)) => {
            if st.saw_server_hello || end == StreamEnd::Incomplete {
                TlsNeed::NeedMore
            } else {
                TlsNeed::NotTls
            }
        }
    }
}

/// What the server flight gave so far, complete or not (for a flow that ends or hits its buffer
/// cap mid-flight): `None` when no ServerHello was parsed.
pub fn server_flight_so_far(buf: &[u8]) -> Option<ServerFlight> {
    let (st, _, _) = walk_server_flight(buf)?;
    st.saw_server_hello.then(|| st.flight())
}

/// One DTLS handshake fragment header (RFC 6347 4.2.2).
struct DtlsFragment<'a> {
    ty: u8,
    length: usize,
    seq: u16,
    offset: usize,
    body: &'a [u8],
}

/// Split the handshake messages of one DTLS record payload (fixed 12-byte headers).
fn dtls_fragments<'a>(mut data: &'a [u8], out: &mut Vec<DtlsFragment<'a>>) -> bool {
    let be24 = |b: &[u8]| usize::from(b[0]) << 16 | usize::from(b[1]) << 8 | usize::from(b[2]);
    while !data.is_empty() {
        let Some(h) = data.get(..12) else {
            return false;
        };
        let length = be24(&h[1..4]);
        let offset = be24(&h[6..9]);
        let frag_len = be24(&h[9..12]);
        let Some(body) = data.get(12..12 + frag_len) else {
            return false;
        };
        if length > MAX_HANDSHAKE_MSG || offset.saturating_add(frag_len) > length {
            return false;
        }
        if out.len() >= MAX_DTLS_FRAGMENTS * 4 {
            return false;
        }
        out.push(DtlsFragment {
            ty: h[0],
            length,
            seq: u16::from_be_bytes([h[4], h[5]]),
            offset,
            body,
        });
        data = data.get(12 + frag_len..).unwrap_or_default();
    }
    true
}

/// The epoch-0 records of one datagram: (content type, payload). `None` if the first record is
/// not plausibly DTLS.
fn dtls_records(datagram: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while !rest.is_empty() && out.len() < 64 {
        let (r, hdr) = match parse_dtls_record_header(rest) {
            Ok(x) => x,
            Err(_) => break,
        };
        let ct = u8::from(hdr.content_type);
        let plausible = (20..=26).contains(&ct) && hdr.version.0 >> 8 == 0xFE;
        if !plausible {
            if out.is_empty() {
                return None;
            }
            break;
        }
        let Some(payload) = r.get(..usize::from(hdr.length)) else {
            break;
        };
        if hdr.epoch == 0 {
            out.push((ct, payload));
        } else {
            out.push((0, &[][..]));
        }
        rest = r.get(usize::from(hdr.length)..).unwrap_or_default();
    }
    if out.is_empty() {
        // A header cut short: still plausible if its first bytes fit DTLS.
        let ct_ok = datagram.first().is_none_or(|t| (20..=26).contains(t));
        let v_ok = datagram.get(1).is_none_or(|&m| m == 0xFE);
        return (ct_ok && v_ok).then_some(out);
    }
    Some(out)
}

/// Rebuild an unfragmented DTLS handshake message so `tls-parser` can read its body.
fn dtls_message(ty: u8, seq: u16, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(body.len() + 12);
    m.push(ty);
    m.extend_from_slice(&u24(body.len()));
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&[0, 0, 0]);
    m.extend_from_slice(&u24(body.len()));
    m.extend_from_slice(body);
    m
}

/// The ClientHello of one DTLS 1.0/1.2 datagram. A ClientHello fragmented over several
/// datagrams gives `NeedMore` here: use [`parse_dtls_client_hello_datagrams`].
pub fn parse_dtls_client_hello(datagram: &[u8]) -> TlsNeed<ClientHello> {
    parse_dtls_client_hello_datagrams(&[datagram])
}

/// The first ClientHello among the client's datagrams (in capture order), reassembled from its
/// fragments.
pub fn parse_dtls_client_hello_datagrams(datagrams: &[&[u8]]) -> TlsNeed<ClientHello> {
    let Some(g) = gather_dtls(datagrams) else {
        return TlsNeed::NotTls;
    };
    let Some(((seq, ty), m)) = g.msgs.iter().next() else {
        return if g.records_other_than_handshake {
            TlsNeed::NotTls
        } else {
            TlsNeed::NeedMore
        };
    };
    if *ty != 1 {
        return TlsNeed::NotTls;
    }
    if !m.complete() {
        return TlsNeed::NeedMore;
    }
    match parse_dtls_message_handshake(&dtls_message(1, *seq, &m.body)) {
        Ok((_, DTLSMessage::Handshake(h))) => match h.body {
            DTLSMessageHandshakeBody::ClientHello(ch) => {
                TlsNeed::Done(client_hello_info(ch.version.0, ch.ext))
            }
            _ => TlsNeed::NotTls,
        },
        _ => TlsNeed::NotTls,
    }
}

/// One DTLS handshake message being reassembled from fragments.
struct Reassembly {
    length: usize,
    body: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Reassembly {
    fn add(&mut self, offset: usize, data: &[u8]) {
        if self.ranges.len() >= MAX_DTLS_FRAGMENTS {
            return;
        }
        let end = offset + data.len();
        if let Some(dst) = self.body.get_mut(offset..end) {
            dst.copy_from_slice(data);
            self.ranges.push((offset, end));
        }
    }

    fn complete(&self) -> bool {
        let mut r = self.ranges.clone();
        r.sort_unstable();
        let mut covered = 0;
        for (s, e) in r {
            if s > covered {
                return false;
            }
            covered = covered.max(e);
        }
        covered >= self.length
    }
}

/// The epoch-0 handshake messages of one side's datagrams, keyed by (message_seq, type).
#[derive(Default)]
struct DtlsGather {
    msgs: BTreeMap<(u16, u8), Reassembly>,
    /// A ChangeCipherSpec, application data or encrypted (epoch > 0) record was seen.
    after_handshake: bool,
    /// An alert came before any handshake message.
    alert_first: bool,
    /// Some record was not a handshake record.
    records_other_than_handshake: bool,
}

/// Gather one side's DTLS handshake; `None` when the first datagram is not DTLS.
fn gather_dtls(datagrams: &[&[u8]]) -> Option<DtlsGather> {
    let mut g = DtlsGather::default();
    let mut budget = MAX_DTLS_BYTES;
    for (i, dg) in datagrams.iter().enumerate() {
        let Some(records) = dtls_records(dg) else {
            if i == 0 {
                return None;
            }
            continue;
        };
        for (ct, payload) in records {
            if ct != 22 {
                g.records_other_than_handshake = true;
            }
            match ct {
                22 => {
                    let mut frags = Vec::new();
                    if !dtls_fragments(payload, &mut frags) && i == 0 && g.msgs.is_empty() {
                        return None;
                    }
                    for f in frags {
                        let key = (f.seq, f.ty);
                        if !g.msgs.contains_key(&key) {
                            if g.msgs.len() >= MAX_DTLS_MESSAGES || f.length > budget {
                                continue;
                            }
                            budget -= f.length;
                        }
                        let m = g.msgs.entry(key).or_insert_with(|| Reassembly {
                            length: f.length,
                            body: vec![0; f.length],
                            ranges: Vec::new(),
                        });
                        if m.length == f.length {
                            m.add(f.offset, f.body);
                        }
                    }
                }
                21 if g.msgs.is_empty() => g.alert_first = true,
                0 | 20 | 23 => g.after_handshake = true,
                _ => {}
            }
        }
    }
    Some(g)
}

fn dtls_server_hello(body: &[u8]) -> Option<u16> {
    match parse_dtls_message_handshake(&dtls_message(2, 0, body)) {
        Ok((_, DTLSMessage::Handshake(h))) => match h.body {
            DTLSMessageHandshakeBody::ServerHello(sh) => {
                Some(server_hello_version(sh.version.0, sh.ext))
            }
            _ => None,
        },
        _ => None,
    }
}

/// The server's first DTLS flight from its datagrams in capture order (HelloVerifyRequest is
/// skipped; fragmented and retransmitted handshake messages are reassembled).
pub fn parse_dtls_server_flight(datagrams: &[&[u8]]) -> TlsNeed<ServerFlight> {
    let Some(g) = gather_dtls(datagrams) else {
        return TlsNeed::NotTls;
    };
    let mut st = FlightState::default();
    for ((_, ty), m) in &g.msgs {
        if st.done || !m.complete() {
            break;
        }
        st.take(*ty, &m.body, dtls_server_hello);
    }
    if st.done || (st.saw_server_hello && g.after_handshake) || (g.alert_first && g.msgs.is_empty())
    {
        TlsNeed::Done(st.flight())
    } else {
        TlsNeed::NeedMore
    }
}

/// Lower-case hex of a digest.
fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Describe one DER certificate as Zeek's x509.log does; `None` if it does not parse.
/// Certificates remembered by [`cert_info`] per thread; the memo is emptied when full.
const CERT_MEMO: usize = 1024;

thread_local! {
    static CERT_INFO: std::cell::RefCell<std::collections::HashMap<[u8; 32], Option<CertInfo>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Describes the DER certificate `der` as x509.log does; `None` when `x509-parser` cannot read
/// it. Remembers the last `CERT_MEMO` answers by SHA-256 of `der`.
pub fn cert_info(der: &[u8]) -> Option<CertInfo> {
    let sha256: [u8; 32] = Sha256::digest(der).into();
    if let Some(hit) = CERT_INFO.with(|m| m.borrow().get(&sha256).cloned()) {
        return hit;
    }
    let info = parse_cert_info(der, &sha256);
    CERT_INFO.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= CERT_MEMO {
            m.clear();
        }
        m.insert(sha256, info.clone());
    });
    info
}

fn parse_cert_info(der: &[u8], sha256: &[u8; 32]) -> Option<CertInfo> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let tbs = &cert.tbs_certificate;
    let spki = &tbs.subject_pki;
    let key_oid = &spki.algorithm.algorithm;
    let (key_type, key_length) = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => (Some("rsa".to_string()), bit_length(rsa.modulus)),
        Ok(PublicKey::EC(_)) => (
            Some("ecdsa".to_string()),
            spki.algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.clone().oid().ok())
                .and_then(|curve| ec_order_bits(&curve.to_id_string())),
        ),
        Ok(PublicKey::DSA(_)) => (
            Some("dsa".to_string()),
            spki.algorithm
                .parameters
                .as_ref()
                .and_then(|p| dsa_p_bits(p.as_bytes())),
        ),
        Ok(PublicKey::Unknown(raw)) => match oid_long_name(key_oid).as_str() {
            // OpenSSL >= 3.5 names ML-DSA keys and counts their bits as the public key's.
            name @ ("ML-DSA-44" | "ML-DSA-65" | "ML-DSA-87") => {
                (Some(name.to_string()), Some(raw.len() as u64 * 8))
            }
            _ => (None, None),
        },
        _ => (None, None),
    };
    let san_dns = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|g| match g {
                GeneralName::DNSName(n) => Some((*n).to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let basic_constraints_ca = match cert.basic_constraints() {
        Ok(Some(bc)) => Some(bc.value.ca),
        _ => None,
    };
    Some(CertInfo {
        der_sha1: hex_lower(&Sha1::digest(der)),
        der_sha256: hex_lower(sha256),
        subject: format_name(&tbs.subject),
        issuer: format_name(&tbs.issuer),
        not_before: Some(tbs.validity.not_before.timestamp() as f64),
        not_after: Some(tbs.validity.not_after.timestamp() as f64),
        serial: format_serial(tbs.raw_serial()),
        san_dns,
        version: u64::from(tbs.version.0) + 1,
        key_alg: oid_long_name(key_oid),
        sig_alg: oid_long_name(&cert.signature_algorithm.algorithm),
        key_type,
        key_length,
        basic_constraints_ca,
    })
}

/// Number of significant bits of a big-endian unsigned integer (OpenSSL `BN_num_bits`).
fn bit_length(be: &[u8]) -> Option<u64> {
    let start = be.iter().position(|&b| b != 0)?;
    let first = be.get(start)?;
    let bytes = (be.len() - start) as u64;
    Some((bytes - 1) * 8 + u64::from(8 - first.leading_zeros()))
}

/// DSA key length: bits of p in Dss-Parms ::= SEQUENCE { p, q, g } (the parameters' contents).
fn dsa_p_bits(params_content: &[u8]) -> Option<u64> {
    // The parameters' contents are the SEQUENCE body; re-wrap to parse it as a sequence.
    let mut der = vec![0x30];
    let n = params_content.len();
    if n < 0x80 {
        der.push(n as u8);
    } else {
        let len = (n as u32).to_be_bytes();
        let skip = len.iter().position(|&b| b != 0).unwrap_or(3);
        der.push(0x80 | (4 - skip) as u8);
        der.extend_from_slice(len.get(skip..).unwrap_or_default());
    }
    der.extend_from_slice(params_content);
    let (_, seq) = parse_der_sequence(&der).ok()?;
    let BerObjectContent::Sequence(items) = seq.content else {
        return None;
    };
    let p = items.first()?;
    bit_length(p.as_slice().ok()?)
}

/// Group order bits of the named curves OpenSSL knows (what Zeek logs as the EC key length).
fn ec_order_bits(curve_oid: &str) -> Option<u64> {
    Some(match curve_oid {
        "1.2.840.10045.3.1.1" => 192,  // prime192v1
        "1.3.132.0.33" => 224,         // secp224r1
        "1.2.840.10045.3.1.7" => 256,  // prime256v1
        "1.3.132.0.10" => 256,         // secp256k1
        "1.3.132.0.34" => 384,         // secp384r1
        "1.3.132.0.35" => 521,         // secp521r1
        "1.3.36.3.3.2.8.1.1.7" => 256, // brainpoolP256r1
        "1.3.36.3.3.2.8.1.1.11" => 384,
        "1.3.36.3.3.2.8.1.1.13" => 512,
        _ => return None,
    })
}

/// OpenSSL's long name (`OBJ_obj2txt(.., 0)`) for algorithm OIDs seen in certificates.
fn oid_long_name(oid: &Oid) -> String {
    let id = oid.to_id_string();
    let name = match id.as_str() {
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.2" => "md2WithRSAEncryption",
        "1.2.840.113549.1.1.4" => "md5WithRSAEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.10" => "rsassaPss",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption",
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption",
        "1.2.840.113549.1.1.14" => "sha224WithRSAEncryption",
        "1.3.14.3.2.29" => "sha1WithRSA",
        "1.2.840.10040.4.1" => "dsaEncryption",
        "1.2.840.10040.4.3" => "dsaWithSHA1",
        "2.16.840.1.101.3.4.3.1" => "dsa_with_SHA224",
        "2.16.840.1.101.3.4.3.2" => "dsa_with_SHA256",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.112" => "ED25519",
        "1.3.101.113" => "ED448",
        "2.16.840.1.101.3.4.3.17" => "ML-DSA-44",
        "2.16.840.1.101.3.4.3.18" => "ML-DSA-65",
        "2.16.840.1.101.3.4.3.19" => "ML-DSA-87",
        "1.2.643.2.2.19" => "GOST R 34.10-2001",
        "1.2.643.2.2.3" => "GOST R 34.11-94 with GOST R 34.10-2001",
        _ => return id,
    };
    name.to_string()
}

/// OpenSSL's short name for name attribute types (`XN_FLAG_FN_SN`); `None` if unknown to it.
fn attr_short_name(id: &str) -> Option<&'static str> {
    Some(match id {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.18" => "postOfficeBox",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.45" => "x500UniqueIdentifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.97" => "organizationIdentifier",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.2.840.113549.1.9.2" => "unstructuredName",
        "1.2.840.113549.1.9.8" => "unstructuredAddress",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// A distinguished name as OpenSSL prints it with `XN_FLAG_RFC2253` (what Zeek logs): RDNs and
/// the values inside a multi-valued RDN in reverse order, `,` and `+` separators, RFC 2253
/// escaping, bytes above 0x7F as `\XX` of their UTF-8 encoding, unknown attributes as `#` + DER.
fn format_name(name: &X509Name) -> String {
    let mut out = String::new();
    let rdns: Vec<_> = name.iter_rdn().collect();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let atvs: Vec<_> = rdn.iter().collect();
        for (j, atv) in atvs.iter().rev().enumerate() {
            if j > 0 {
                out.push('+');
            }
            format_atv(atv, &mut out);
        }
        if out.len() > MAX_NAME_LEN {
            break;
        }
    }
    if out.len() > MAX_NAME_LEN {
        let mut cut = MAX_NAME_LEN;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

fn format_atv(atv: &AttributeTypeAndValue, out: &mut String) {
    let id = atv.attr_type().to_id_string();
    let known = attr_short_name(&id);
    out.push_str(known.unwrap_or(&id));
    out.push('=');
    let value = atv.attr_value();
    // OpenSSL's tag2nbyte: how wide each character of a string type is; others are dumped.
    let width = match value.tag().0 {
        12 => Some(0),                               // UTF8String: bytes as they are
        18 | 19 | 20 | 22 | 23 | 24 | 26 => Some(1), // Numeric, Printable, T61, IA5, times, Visible
        28 => Some(4),                               // UniversalString
        30 => Some(2),                               // BMPString
        _ => None,
    };
    let data = value.as_bytes();
    match (known, width) {
        (Some(_), Some(w)) => escape_value(data, w, out),
        _ => {
            out.push('#');
            let der = value.to_der_vec().unwrap_or_default();
            for b in der {
                let _ = write!(out, "{b:02X}");
            }
        }
    }
}

/// OpenSSL `do_buf` + `do_esc_char` with `ASN1_STRFLGS_RFC2253`.
fn escape_value(data: &[u8], width: usize, out: &mut String) {
    let chars: Vec<u32> = match width {
        2 => data
            .chunks_exact(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .collect(),
        4 => data
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        _ => data.iter().map(|&b| u32::from(b)).collect(),
    };
    let n = chars.len();
    for (i, &c) in chars.iter().enumerate() {
        let first = i == 0;
        let last = i + 1 == n;
        if width == 0 {
            // UTF8String bytes are taken one by one, not converted.
            esc_char(c, first, last, out);
            continue;
        }
        let Some(ch) = char::from_u32(c) else {
            let _ = write!(out, "\\W{c:08X}");
            continue;
        };
        let mut buf = [0u8; 4];
        let enc = ch.encode_utf8(&mut buf);
        if enc.len() == 1 {
            esc_char(c, first, last, out);
        } else {
            for &b in enc.as_bytes() {
                esc_char(u32::from(b), false, false, out);
            }
        }
    }
}

fn esc_char(c: u32, first: bool, last: bool, out: &mut String) {
    let Ok(b) = u8::try_from(c) else {
        let _ = write!(out, "\\U{c:04X}");
        return;
    };
    let backslash = matches!(b, b',' | b'+' | b'"' | b'\\' | b'<' | b'>' | b';')
        || (first && (b == b'#' || b == b' '))
        || (last && b == b' ');
    if backslash {
        out.push('\\');
        out.push(char::from(b));
    } else if !(0x20..0x7F).contains(&b) {
        let _ = write!(out, "\\{b:02X}");
    } else {
        out.push(char::from(b));
    }
}

/// The serial as OpenSSL's `i2a_ASN1_INTEGER` prints it: upper-case hex of the magnitude,
/// `-` first when negative, `00` for zero.
fn format_serial(raw: &[u8]) -> String {
    let negative = raw.first().is_some_and(|&b| b & 0x80 != 0);
    let mut mag: Vec<u8> = raw.to_vec();
    if negative {
        // Two's complement magnitude.
        for b in mag.iter_mut() {
            *b = !*b;
        }
        for b in mag.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
    }
    let start = mag.iter().position(|&b| b != 0).unwrap_or(mag.len());
    let mag = mag.get(start..).unwrap_or_default();
    let mut s = String::with_capacity(mag.len() * 2 + 1);
    if negative {
        s.push('-');
    }
    if mag.is_empty() {
        s.push_str("00");
    }
    for b in mag {
        let _ = write!(s, "{b:02X}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello handshake message (header included) offering TLS 1.3 and 1.2 with an SNI.
    fn client_hello_msg(sni: &[u8]) -> Vec<u8> {
        let mut body = vec![0x03, 0x03]; // legacy_version TLS 1.2
        body.extend_from_slice(&[0x11; 32]); // random
        body.push(0x00); // session_id: empty
        body.extend_from_slice(&[0x00, 0x02, 0x13, 0x01]); // cipher_suites: TLS_AES_128_GCM_SHA256
        body.extend_from_slice(&[0x01, 0x00]); // compression_methods: null
        let mut ext = vec![0x00, 0x00]; // server_name
        let list_len = sni.len() + 3;
        ext.extend_from_slice(&((list_len + 2) as u16).to_be_bytes()); // extension length
        ext.extend_from_slice(&(list_len as u16).to_be_bytes()); // server_name_list length
        ext.push(0x00); // name_type host_name
        ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        ext.extend_from_slice(sni);
        // supported_versions: 0x0a0a (GREASE), TLS 1.3, TLS 1.2
        ext.extend_from_slice(&[
            0x00, 0x2b, 0x00, 0x07, 0x06, 0x0a, 0x0a, 0x03, 0x04, 0x03, 0x03,
        ]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut msg = vec![0x01]; // handshake type client_hello
        msg.extend_from_slice(&u24(body.len()));
        msg.extend_from_slice(&body);
        msg
    }

    /// Wrap handshake bytes into TLS records of at most `chunk` bytes each.
    fn records(content_type: u8, payload: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for part in payload.chunks(chunk) {
            out.extend_from_slice(&[content_type, 0x03, 0x01]);
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    #[test]
    fn version_names_as_zeek_writes_them() {
        let names: Vec<_> = [
            0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0xFEFF, 0xFEFD, 0xFEFC, 0x7F17, 0x7F1C,
            0x0305, 0x0A0A,
        ]
        .into_iter()
        .map(version_name)
        .collect();
        assert_eq!(
            names,
            [
                "SSLv2",
                "SSLv3",
                "TLSv10",
                "TLSv11",
                "TLSv12",
                "TLSv13",
                "DTLSv10",
                "DTLSv12",
                "DTLSv13",
                "TLSv13-draft23",
                "TLSv13-draft28",
                "unknown-773",
                "unknown-2570"
            ]
        );
    }

    #[test]
    fn client_hello_fragmented_over_records() {
        let msg = client_hello_msg(b"example.com");
        let want = ClientHello {
            sni: Some("example.com".into()),
            version: 0x0303,
            supported_versions: vec![0x0a0a, 0x0304, 0x0303],
        };
        for chunk in [1, 7, 40, msg.len()] {
            let buf = records(22, &msg, chunk);
            assert_eq!(
                parse_client_hello(&buf),
                TlsNeed::Done(want.clone()),
                "chunk {chunk}"
            );
            for n in 0..buf.len() {
                assert_eq!(
                    parse_client_hello(&buf[..n]),
                    TlsNeed::NeedMore,
                    "{chunk} {n}"
                );
            }
        }
    }

    #[test]
    fn sni_with_control_and_invalid_bytes_is_escaped() {
        let buf = records(22, &client_hello_msg(b"a\xff\tb.example"), 512);
        let TlsNeed::Done(ch) = parse_client_hello(&buf) else {
            panic!()
        };
        assert_eq!(ch.sni.as_deref(), Some("a\\xff\\x09b.example"));
    }

    #[test]
    fn not_tls() {
        // HTTP request, SSH banner, an alert first, a server handshake type first, bad version.
        for buf in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"SSH-2.0-OpenSSH_9.6\r\n",
            &[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],
            &[0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00],
            &[0x16, 0x02, 0x00],
        ] {
            assert_eq!(parse_client_hello(buf), TlsNeed::NotTls, "{buf:02x?}");
        }
        // A record type other than handshake before the ClientHello is complete.
        let msg = client_hello_msg(b"x");
        let mut buf = records(22, &msg[..20], 20);
        buf.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x01, 0x00]);
        assert_eq!(parse_client_hello(&buf), TlsNeed::NotTls);
    }

    /// ServerHello body: version, random, session id, cipher, compression, optional extensions.
    fn server_hello(version: u16, ext: &[u8]) -> Vec<u8> {
        let mut body = version.to_be_bytes().to_vec();
        body.extend_from_slice(&[0x22; 32]); // random
        body.push(0x00); // session_id: empty
        body.extend_from_slice(&[0xc0, 0x2f, 0x00]); // cipher, compression null
        if !ext.is_empty() {
            body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
            body.extend_from_slice(ext);
        }
        let mut msg = vec![0x02];
        msg.extend_from_slice(&u24(body.len()));
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn server_flight_tls12_ends_at_server_hello_done() {
        let mut hs = server_hello(0x0303, &[]);
        hs.extend_from_slice(&[0x0e, 0x00, 0x00, 0x00]); // ServerHelloDone
        let buf = records(22, &hs, 9);
        let want = ServerFlight {
            version: Some(0x0303),
            certificates: vec![],
        };
        assert_eq!(parse_server_flight(&buf), TlsNeed::Done(want.clone()));
        for n in 0..buf.len() {
            assert_eq!(
                parse_server_flight(&buf[..n]),
                TlsNeed::NeedMore,
                "prefix {n}"
            );
        }
        // Cut before ServerHelloDone: what is known so far.
        assert_eq!(server_flight_so_far(&buf[..buf.len() - 6]), Some(want));
        assert_eq!(server_flight_so_far(&buf[..10]), None);
    }

    #[test]
    fn server_flight_tls13_from_supported_versions() {
        // supported_versions (0x002b) selecting TLS 1.3; records after it are encrypted.
        let hs = server_hello(0x0303, &[0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]);
        let mut buf = records(22, &hs, 1000);
        buf.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]); // ChangeCipherSpec
        buf.extend_from_slice(&[0x17, 0x03, 0x03, 0x00, 0x02, 0xde, 0xad]); // encrypted
        let want = TlsNeed::Done(ServerFlight {
            version: Some(0x0304),
            certificates: vec![],
        });
        assert_eq!(parse_server_flight(&buf), want);
        assert_eq!(parse_server_flight(&records(22, &hs, 1000)), want);
    }

    #[test]
    fn server_flight_resumed_tls12_ends_at_change_cipher_spec() {
        let mut buf = records(22, &server_hello(0x0301, &[]), 1000);
        assert_eq!(parse_server_flight(&buf), TlsNeed::NeedMore);
        buf.extend_from_slice(&[0x14, 0x03, 0x01, 0x00, 0x01, 0x01]);
        assert_eq!(
            parse_server_flight(&buf),
            TlsNeed::Done(ServerFlight {
                version: Some(0x0301),
                certificates: vec![],
            })
        );
    }

    #[test]
    fn server_alert_only() {
        // Alert record: fatal (2), handshake_failure (40).
        let buf = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];
        let done = TlsNeed::Done(ServerFlight {
            version: None,
            certificates: vec![],
        });
        assert_eq!(parse_server_flight(&buf), done);
        for n in 0..buf.len() {
            assert_eq!(
                parse_server_flight(&buf[..n]),
                TlsNeed::NeedMore,
                "prefix {n}"
            );
        }
    }

    #[test]
    fn serials_as_openssl_prints_them() {
        assert_eq!(format_serial(&[0x00, 0xE8, 0xE4, 0x8E]), "E8E48E");
        assert_eq!(format_serial(&[0x01]), "01");
        assert_eq!(format_serial(&[0x0B, 0x67, 0x71]), "0B6771");
        assert_eq!(format_serial(&[0x00]), "00");
        assert_eq!(format_serial(&[]), "00");
        // Negative serials (high bit set, no padding): two's complement magnitude.
        assert_eq!(format_serial(&[0xFF]), "-01");
        assert_eq!(format_serial(&[0x80, 0x00]), "-8000");
    }

    fn esc(data: &[u8], width: usize) -> String {
        let mut s = String::new();
        escape_value(data, width, &mut s);
        s
    }

    #[test]
    fn rfc2253_escaping_like_openssl() {
        assert_eq!(esc(b"Let's Encrypt", 1), "Let's Encrypt");
        assert_eq!(esc(b"Acme, Inc.", 1), "Acme\\, Inc.");
        assert_eq!(
            esc(b"a+b;c<d>e\"f\\g=h", 1),
            "a\\+b\\;c\\<d\\>e\\\"f\\\\g=h"
        );
        assert_eq!(esc(b" lead and trail ", 1), "\\ lead and trail\\ ");
        assert_eq!(esc(b"#first, not #later", 1), "\\#first\\, not #later");
        assert_eq!(esc(b"tab\there\x7f", 1), "tab\\09here\\7F");
        // UTF8String: bytes above 0x7F escaped one by one.
        assert_eq!(esc("Zürich".as_bytes(), 0), "Z\\C3\\BCrich");
        // T61String (Latin-1 byte 0xFC) is converted to UTF-8 first.
        assert_eq!(esc(b"Z\xfcrich", 1), "Z\\C3\\BCrich");
        // BMPString, two bytes per character.
        assert_eq!(esc(&[0x00, 0x5A, 0x00, 0xFC], 2), "Z\\C3\\BC");
        // UniversalString, four bytes per character.
        assert_eq!(esc(&[0x00, 0x00, 0x00, 0x41], 4), "A");
    }

    #[test]
    fn dtls_client_hello_single_datagram() {
        // DTLS ClientHello body: version, random, session id, cookie, ciphers, compression.
        let mut body = vec![0xfe, 0xfd];
        body.extend_from_slice(&[0x33; 32]);
        body.extend_from_slice(&[0x00, 0x00]); // empty session id, empty cookie
        body.extend_from_slice(&[0x00, 0x02, 0xc0, 0x2b, 0x01, 0x00]);
        let mut hs = vec![0x01];
        hs.extend_from_slice(&u24(body.len())); // length
        hs.extend_from_slice(&[0x00, 0x00]); // message_seq
        hs.extend_from_slice(&[0x00, 0x00, 0x00]); // fragment_offset
        hs.extend_from_slice(&u24(body.len())); // fragment_length
        hs.extend_from_slice(&body);
        let mut dg = vec![0x16, 0xfe, 0xff, 0x00, 0x00, 0, 0, 0, 0, 0, 0];
        dg.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        dg.extend_from_slice(&hs);
        assert_eq!(
            parse_dtls_client_hello(&dg),
            TlsNeed::Done(ClientHello {
                sni: None,
                version: 0xfefd,
                supported_versions: vec![],
            })
        );
        for n in 0..dg.len() {
            assert_eq!(
                parse_dtls_client_hello(&dg[..n]),
                TlsNeed::NeedMore,
                "prefix {n}"
            );
        }
        assert_eq!(
            parse_dtls_client_hello(b"\x16\x03\x01\x00"),
            TlsNeed::NotTls
        );
    }
}
