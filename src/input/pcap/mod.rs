//! Native capture decoding: turns a pcap or pcapng file (optionally gzip-compressed) into the same
//! records Zeek's logs give (one `Conn` per flow, `Dns` per transaction, `Tls` per session with
//! its certificates as `X509`, `Http` per request), and writes them as Zeek TSV logs for
//! `captriage extract`. The layers live in their own modules: `capture` (file framing), `link`
//! (layer 2), `ip` (layer 3 and fragments), `tunnel` (GRE, IP in IP, Teredo), `flow` (flows, TCP
//! streams, which parser sees what), the pure parsers `dns`, `tls`, `http`, and `zeek_log` (the
//! writer). Records are emitted when their flow ends (idle flows are swept every 65536 packets,
//! the rest when the capture ends), each batch ordered by first packet (flows that begin in the
//! same packet, a tunnel and the flow inside it, in the order they were created), so the order
//! depends only on the input; each record's location is the packet number (first packet is 1) of
//! its first packet. Checksums are not verified (like `zeek -C`). Bad packets become diagnostics
//! naming the packet, capped per kind with a final count.

pub mod capture;
pub mod dns;
pub mod flow;
pub mod http;
pub mod ip;
pub mod link;
pub mod tls;
pub mod tunnel;
pub mod zeek_log;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use etherparse::{TcpSlice, UdpSlice};

use crate::model::{
    ChainKind, Conn, Diagnostic, Dns, Endpoints, Http, Location, Record, Sink, Tls, X509,
};
use flow::{FlowRecord, Flows, Packet, Problem, Transport};
use ip::{IpOutcome, Reassembler};
use link::Net;

/// Diagnostics of one kind shown before the rest are only counted.
const DIAGNOSTICS_PER_KIND: u64 = 20;

/// What a capture held.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CaptureStats {
    /// `pcap` or `pcapng` (`unknown` when the file is neither).
    pub format: &'static str,
    pub compressed: bool,
    pub packets: u64,
    /// Packets (or framing problems) that could not be decoded.
    pub errors: u64,
    /// Link types seen, by libpcap name.
    pub link_types: Vec<String>,
}

/// What `extract` wrote.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExtractStats {
    pub capture: CaptureStats,
    pub conn: usize,
    pub dns: usize,
    pub ssl: usize,
    pub x509: usize,
    pub http: usize,
    pub diagnostics: Vec<Diagnostic>,
}

/// Decodes the capture at `path` into `sink`. Only opening the file can fail; everything after
/// that is reported through diagnostics and `CaptureStats::errors`.
pub fn decode_file(path: &Path, sink: &mut dyn Sink) -> io::Result<CaptureStats> {
    let file = File::open(path)?;
    let source: Arc<str> = Arc::from(path.display().to_string());
    Ok(decode_reader(source, file, sink))
}

/// Decodes a capture read from `r`; `source` names it in locations.
pub fn decode_reader(source: Arc<str>, r: impl Read + Send, sink: &mut dyn Sink) -> CaptureStats {
    decode_flows(&source, r, sink)
}

/// Decodes the capture at `capture` and writes conn, dns, ssl, x509 and http logs into
/// `out_dir` (created if missing) as records are decoded, keeping none of them. Certificates are
/// written once per fingerprint, as Zeek does. A log of the same name already in `out_dir` is
/// an error unless `overwrite`; the capture itself never is overwritten.
pub fn extract(capture: &Path, out_dir: &Path, overwrite: bool) -> anyhow::Result<ExtractStats> {
    for path in zeek_log::log_paths(out_dir) {
        if crate::input::same_file(capture, &path) {
            anyhow::bail!(
                "{} is the capture: extracting into {} would overwrite it",
                path.display(),
                out_dir.display()
            );
        }
        if !overwrite && path.exists() {
            anyhow::bail!(
                "{} exists; extract writes conn.log, dns.log, ssl.log, x509.log and http.log \
                 into {}: give --force to overwrite them, or another directory",
                path.display(),
                out_dir.display()
            );
        }
    }
    let out = zeek_log::LogWriters::create(out_dir)
        .with_context(|| format!("cannot write logs into {}", out_dir.display()))?;
    let mut sink = ExtractSink {
        out,
        seen: HashSet::new(),
        diagnostics: Vec::new(),
    };
    let stats = decode_file(capture, &mut sink)
        .with_context(|| format!("cannot read capture {}", capture.display()))?;
    let counts = sink
        .out
        .finish()
        .with_context(|| format!("cannot write logs into {}", out_dir.display()))?;
    Ok(ExtractStats {
        capture: stats,
        conn: counts[0],
        dns: counts[1],
        ssl: counts[2],
        x509: counts[3],
        http: counts[4],
        diagnostics: sink.diagnostics,
    })
}

/// Writes each record to its log as it is decoded; certificates once per fingerprint.
struct ExtractSink {
    out: zeek_log::LogWriters,
    seen: HashSet<Option<String>>,
    diagnostics: Vec<Diagnostic>,
}

impl Sink for ExtractSink {
    fn record(&mut self, record: Record<'_>, _location: &Location) {
        if let Record::X509(x) = &record
            && !self
                .seen
                .insert(x.fingerprint.as_deref().map(str::to_string))
        {
            return;
        }
        self.out.write(&record);
    }
    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

/// A sink that keeps everything (used by `extract` and tests).
#[derive(Default)]
pub struct Collect {
    pub records: Vec<Record<'static>>,
    pub locations: Vec<Location>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Sink for Collect {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        self.records.push(record.into_owned());
        self.locations.push(location.clone());
    }
    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

/// Caps diagnostics per kind and counts the rest.
struct Diagnostics<'s> {
    source: &'s Arc<str>,
    shown: BTreeMap<&'static str, u64>,
    suppressed: BTreeMap<&'static str, u64>,
}

impl Diagnostics<'_> {
    fn report(&mut self, sink: &mut dyn Sink, packet: u64, kind: &'static str, message: String) {
        let n = self.shown.entry(kind).or_insert(0);
        if *n < DIAGNOSTICS_PER_KIND {
            *n += 1;
            sink.diagnostic(Diagnostic {
                location: Location::packet(self.source, packet),
                message,
            });
        } else {
            *self.suppressed.entry(kind).or_insert(0) += 1;
        }
    }

    fn close(self, sink: &mut dyn Sink) {
        for (kind, n) in self.suppressed {
            sink.diagnostic(Diagnostic {
                location: Location::file(self.source),
                message: format!("{n} more {kind} problems not shown"),
            });
        }
    }
}

fn endpoint(addr: IpAddr, port: Option<u16>) -> String {
    match (addr, port) {
        (IpAddr::V6(a), Some(p)) => format!("[{a}]:{p}"),
        (a, Some(p)) => format!("{a}:{p}"),
        (a, None) => a.to_string(),
    }
}

/// Per-capture decoding state: everything below the flow table.
struct Decoder<'s> {
    source: &'s Arc<str>,
    flows: Flows,
    /// Flows emitted so far (numbers their uids).
    emitted: u64,
    /// Latest packet time, and the packet count at the last sweep of idle flows.
    now: f64,
    swept_at: u64,
    reasm: Reassembler,
    diags: Diagnostics<'s>,
    errors: u64,
    problems: Vec<Problem>,
    /// Flows finished at the latest sweep (kept for its capacity).
    done: Vec<FlowRecord>,
}

/// Packets between sweeps of idle flows (their records are emitted then).
const SWEEP_EVERY: u64 = 65_536;

/// How deep tunnels (GRE, Teredo) are followed.
const MAX_TUNNEL_DEPTH: u8 = 2;

impl Decoder<'_> {
    fn emit(&mut self, flows: &[FlowRecord], sink: &mut dyn Sink) {
        emit_records(self.source, self.emitted, flows, sink);
        self.emitted += flows.len() as u64;
    }

    fn frame(&mut self, frame: &capture::Frame<'_>, sink: &mut dyn Sink) {
        self.now = self.now.max(frame.ts);
        if frame.number - self.swept_at >= SWEEP_EVERY {
            self.swept_at = frame.number;
            let mut done = std::mem::take(&mut self.done);
            self.flows.sweep(self.now, &mut done);
            self.emit(&done, sink);
            done.clear();
            self.done = done;
        }
        let net = match link::network_layer(frame.linktype, frame.data) {
            Ok(n) => n,
            Err(e) => {
                self.errors += 1;
                self.diags.report(sink, frame.number, "link", e.to_string());
                return;
            }
        };
        if let Net::Ipv4(d) | Net::Ipv6(d) = net {
            self.ip(frame.number, frame.ts, d, 0, sink);
        }
    }

    fn fail(&mut self, sink: &mut dyn Sink, packet: u64, kind: &'static str, message: String) {
        self.errors += 1;
        self.diags.report(sink, packet, kind, message);
    }

    /// One IP datagram (from the link layer, or from inside a tunnel at `depth` > 0).
    fn ip(&mut self, number: u64, ts: f64, data: &[u8], depth: u8, sink: &mut dyn Sink) {
        let dg = match self.reasm.packet(data, ts) {
            IpOutcome::Datagram(dg) => dg,
            IpOutcome::Pending => return,
            IpOutcome::Error(e) => return self.fail(sink, number, "ip", e.to_string()),
        };
        let payload: &[u8] = &dg.payload;
        let between = || format!("{} -> {}", endpoint(dg.src, None), endpoint(dg.dst, None));
        if matches!(dg.proto, 4 | 41) && depth < MAX_TUNNEL_DEPTH {
            // IP in IP (IPv4 or IPv6 inside IPv4 or IPv6).
            return self.ip(number, ts, payload, depth + 1, sink);
        }
        if dg.proto == 47 && depth < MAX_TUNNEL_DEPTH {
            // GRE (plain and PPTP's enhanced GRE): the inner packet is the flow Zeek logs.
            match tunnel::gre_inner(payload) {
                Some(inner) => self.ip(number, ts, inner, depth + 1, sink),
                None => self.fail(
                    sink,
                    number,
                    "gre",
                    format!("{}: undecodable GRE", between()),
                ),
            }
            return;
        }
        let transport = match dg.proto {
            6 => match TcpSlice::from_slice(payload) {
                Ok(t) => {
                    let hdr = u64::from(t.data_offset()) * 4;
                    let seg_len = if dg.truncated {
                        dg.l4_len.saturating_sub(hdr)
                    } else {
                        t.payload().len() as u64
                    };
                    Transport::Tcp {
                        sport: t.source_port(),
                        dport: t.destination_port(),
                        seq: t.sequence_number(),
                        ack: t.acknowledgment_number(),
                        syn: t.syn(),
                        ack_flag: t.ack(),
                        fin: t.fin(),
                        rst: t.rst(),
                        payload: t.payload(),
                        seg_len,
                    }
                }
                Err(_) => {
                    let msg = format!("{}: truncated TCP header", between());
                    return self.fail(sink, number, "tcp", msg);
                }
            },
            17 => match UdpSlice::from_slice_lax(payload) {
                Ok(u) => Transport::Udp {
                    sport: u.source_port(),
                    dport: u.destination_port(),
                    payload: u.payload(),
                },
                Err(_) => {
                    let msg = format!("{}: truncated UDP header", between());
                    return self.fail(sink, number, "udp", msg);
                }
            },
            1 | 58 => match payload.get(..2) {
                Some(h) => Transport::Icmp {
                    v6: dg.proto == 58,
                    icmp_type: h[0],
                    code: h[1],
                    payload_len: dg.l4_len.saturating_sub(8),
                },
                None => {
                    let msg = format!("{}: truncated ICMP header", between());
                    return self.fail(sink, number, "icmp", msg);
                }
            },
            // IPv6 "no next header" (Teredo bubbles): nothing to log.
            59 => return,
            _ => Transport::Other,
        };
        let ports = match &transport {
            Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport, .. } => {
                (Some(*sport), Some(*dport))
            }
            _ => (None, None),
        };
        let teredo = match &transport {
            Transport::Udp {
                sport,
                dport,
                payload,
            } if depth < MAX_TUNNEL_DEPTH => {
                tunnel::teredo_inner(payload, *sport == 3544 || *dport == 3544)
            }
            _ => None,
        };
        let p = Packet {
            number,
            ts,
            src: dg.src,
            dst: dg.dst,
            proto: dg.proto,
            ip_len: dg.ip_len,
            transport,
            tunnel: teredo.is_some(),
        };
        self.problems.clear();
        self.flows.packet(&p, &mut self.problems);
        let problems = std::mem::take(&mut self.problems);
        for pr in &problems {
            let msg = format!(
                "{} -> {}: {}",
                endpoint(dg.src, ports.0),
                endpoint(dg.dst, ports.1),
                pr.message
            );
            self.fail(sink, number, pr.kind, msg);
        }
        self.problems = problems;
        if let Some(inner) = teredo {
            self.ip(number, ts, inner, depth + 1, sink);
        }
    }
}

fn decode_flows(source: &Arc<str>, r: impl Read + Send, sink: &mut dyn Sink) -> CaptureStats {
    let mut dec = Decoder {
        source,
        flows: Flows::default(),
        emitted: 0,
        now: f64::MIN,
        swept_at: 0,
        reasm: Reassembler::default(),
        diags: Diagnostics {
            source,
            shown: BTreeMap::new(),
            suppressed: BTreeMap::new(),
        },
        errors: 0,
        problems: Vec::new(),
        done: Vec::new(),
    };
    let framing = capture::read_frames(r, &mut |frame| dec.frame(frame, sink));
    if let Some(e) = &framing.error {
        dec.errors += 1;
        sink.diagnostic(Diagnostic {
            location: Location::file(source),
            message: e.clone(),
        });
    }
    let flows = std::mem::take(&mut dec.flows).finish();
    dec.emit(&flows, sink);
    let Decoder { diags, errors, .. } = dec;
    diags.close(sink);
    CaptureStats {
        format: framing.format,
        compressed: framing.compressed,
        packets: framing.packets,
        errors,
        link_types: framing
            .linktypes
            .iter()
            .map(|&l| capture::linktype_name(l))
            .collect(),
    }
}

/// A deterministic Zeek-style uid (`C` + 17 base62 characters) for the n-th flow, written into
/// `buf` (no allocation per flow).
fn uid(n: u64, buf: &mut [u8; 18]) -> &str {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut x = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    buf[0] = b'C';
    for slot in buf.iter_mut().skip(1) {
        // splitmix64 step
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        *slot = ALPHABET[(z % 62) as usize];
    }
    // Every byte is ASCII from the alphabet.
    std::str::from_utf8(buf).unwrap_or("C")
}

fn proto_name(proto: u8) -> &'static str {
    match proto {
        6 => "tcp",
        17 => "udp",
        1 | 58 => "icmp",
        _ => "unknown_transport",
    }
}

/// Emits the records of `flows`; `first` numbers the first flow's uid.
fn emit_records(source: &Arc<str>, first: u64, flows: &[FlowRecord], sink: &mut dyn Sink) {
    let mut uid_buf = [0u8; 18];
    for (n, f) in flows.iter().enumerate() {
        let uid = uid(first + n as u64, &mut uid_buf);
        let id = Endpoints {
            orig_h: Some(f.orig.0),
            orig_p: Some(f.orig.1),
            resp_h: Some(f.resp.0),
            resp_p: Some(f.resp.1),
        };
        let duration = f.last - f.start;
        let has_duration = duration > 0.0;
        let conn = Conn {
            ts: Some(f.start),
            uid: Some(Cow::Borrowed(uid)),
            id,
            proto: Some(Cow::Borrowed(proto_name(f.proto))),
            services: f.services.iter().map(|s| Cow::Borrowed(*s)).collect(),
            duration: has_duration.then_some(duration),
            orig_bytes: has_duration.then_some(f.orig_bytes),
            resp_bytes: has_duration.then_some(f.resp_bytes),
            conn_state: Some(Cow::Borrowed(f.conn_state)),
            history: Some(Cow::Borrowed(&f.history)),
            orig_pkts: Some(f.orig_pkts),
            orig_ip_bytes: Some(f.orig_ip_bytes),
            resp_pkts: Some(f.resp_pkts),
            resp_ip_bytes: Some(f.resp_ip_bytes),
        };
        sink.record(
            Record::Conn(conn),
            &Location::packet(source, f.first_packet),
        );
        for d in &f.dns {
            let dns = Dns {
                ts: Some(d.ts),
                uid: Some(Cow::Borrowed(uid)),
                id,
                proto: Some(Cow::Borrowed(proto_name(f.proto))),
                trans_id: Some(u64::from(d.trans_id)),
                rtt: d.rtt,
                query: d.query.as_deref().map(Cow::Borrowed),
                qclass: d.qclass.map(u64::from),
                qtype: d.qtype.map(u64::from),
                qtype_name: d.qtype.map(dns::qtype_name),
                rcode: d.rcode.map(u64::from),
                rcode_name: d.rcode.map(dns::rcode_name),
                aa: Some(d.aa),
                tc: Some(d.tc),
                rd: Some(d.rd),
                ra: Some(d.ra),
                answers: d
                    .answers
                    .iter()
                    .map(|a| Cow::Borrowed(a.0.as_str()))
                    .collect(),
                ttls: d.answers.iter().map(|a| f64::from(a.1)).collect(),
                rejected: Some(d.rejected),
            };
            sink.record(Record::Dns(dns), &Location::packet(source, d.packet));
        }
        for t in &f.tls {
            let leaf = t.certs.first();
            let tls = Tls {
                ts: Some(t.ts),
                uid: Some(Cow::Borrowed(uid)),
                id,
                version: t.version.as_deref().map(Cow::Borrowed),
                cipher: None,
                server_name: t.server_name.as_deref().map(Cow::Borrowed),
                // Handshake completion is not tracked natively.
                established: None,
                validation_status: None,
                chain_kind: ChainKind::Fingerprints,
                cert_chain: t
                    .certs
                    .iter()
                    .map(|c| Cow::Borrowed(c.der_sha256.as_str()))
                    .collect(),
                subject: leaf.map(|c| Cow::Borrowed(c.subject.as_str())),
                issuer: leaf.map(|c| Cow::Borrowed(c.issuer.as_str())),
            };
            let loc = Location::packet(source, t.packet);
            sink.record(Record::Tls(tls), &loc);
            for (i, c) in t.certs.iter().enumerate() {
                let x = X509 {
                    ts: Some(t.ts),
                    id: None,
                    fingerprint: Some(Cow::Borrowed(&c.der_sha256)),
                    sha1: Some(Cow::Borrowed(&c.der_sha1)),
                    version: Some(c.version),
                    serial: Some(Cow::Borrowed(&c.serial)),
                    subject: Some(Cow::Borrowed(&c.subject)),
                    issuer: Some(Cow::Borrowed(&c.issuer)),
                    not_valid_before: c.not_before,
                    not_valid_after: c.not_after,
                    key_alg: Some(Cow::Borrowed(&c.key_alg)),
                    sig_alg: Some(Cow::Borrowed(&c.sig_alg)),
                    key_type: c.key_type.as_deref().map(Cow::Borrowed),
                    key_length: c.key_length,
                    san_dns: c
                        .san_dns
                        .iter()
                        .map(|s| Cow::Borrowed(s.as_str()))
                        .collect(),
                    basic_constraints_ca: c.basic_constraints_ca,
                    host_cert: Some(i == 0),
                };
                sink.record(Record::X509(x), &loc);
            }
        }
        for h in &f.http {
            let http = Http {
                ts: Some(h.ts),
                uid: Some(Cow::Borrowed(uid)),
                id,
                trans_depth: Some(h.trans_depth),
                method: Some(Cow::Borrowed(&h.method)),
                host: h.host.as_deref().map(Cow::Borrowed),
                uri: Some(Cow::Borrowed(&h.uri)),
                version: Some(Cow::Borrowed(&h.version)),
                user_agent: h.user_agent.as_deref().map(Cow::Borrowed),
                status_code: None,
            };
            sink.record(Record::Http(http), &Location::packet(source, h.packet));
        }
    }
}
