//! Flow state: TCP, UDP, ICMP and other IP protocols keyed by their 5-tuple (3-tuple), oriented
//! the way Zeek orients connections (the SYN sender originates; a flow that starts with a reply
//! from a likely server port, a SYN-ACK, or a DNS response is flipped), with packet and IP-byte
//! counts, payload bytes, history, conn_state, and the first bytes of each TCP stream reassembled
//! for the application parsers (DNS, TLS, HTTP). Every buffer and table is bounded. The parsers
//! themselves are pure and live beside this module; this module decides what to feed them.

use crate::FastMap;
use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use super::dns;
use super::http;
use super::tls::{self, TlsNeed};

/// Client bytes kept for the ClientHello (post-quantum hellos span two segments).
const CLIENT_TLS_CAP: usize = 16 * 1024;
/// Server bytes kept for ServerHello + Certificate.
const SERVER_TLS_CAP: usize = 64 * 1024;
/// Bytes searched for the start of TLS inside another protocol (STARTTLS, MySQL).
const TLS_SEARCH_WINDOW: u64 = 16 * 1024;
/// DTLS datagrams held per direction.
const MAX_DTLS_DATAGRAMS: usize = 32;
/// Bytes of a DNS-over-TCP or HTTP stream buffered before the parser gives up on it.
const STREAM_CAP: usize = 64 * 1024;
/// Out-of-order TCP segments held per direction.
const MAX_OOO_SEGMENTS: usize = 64;
/// Records one flow may produce.
const MAX_RECORDS_PER_FLOW: usize = 1000;
/// DNS queries waiting for a reply per flow.
const MAX_PENDING_DNS: usize = 256;
/// Flows tracked at once (a flow takes about 1 KB, more while its parsers buffer); beyond this
/// the least recently active flows are finished early, `EVICT_BATCH` at a time.
pub const MAX_FLOWS: usize = 131_072;
/// Flows finished at once when the table is full (so that eviction costs O(1) per new flow).
const EVICT_BATCH: usize = MAX_FLOWS / 16;

/// Zeek's inactivity timeouts.
const TCP_TIMEOUT: f64 = 300.0;
const UDP_TIMEOUT: f64 = 60.0;
const ICMP_TIMEOUT: f64 = 60.0;
const OTHER_TIMEOUT: f64 = 60.0;
const DNS_SESSION_TIMEOUT: f64 = 10.0;

/// Ports Zeek considers likely servers (analyzer ports of the default scripts).
fn likely_server_port(proto: u8, port: u16) -> bool {
    match proto {
        6 => matches!(
            port,
            21 | 22
                | 23
                | 25
                | 53
                | 80
                | 81
                | 88
                | 110
                | 111
                | 135
                | 139
                | 143
                | 389
                | 443
                | 445
                | 502
                | 563
                | 585
                | 587
                | 614
                | 636
                | 989
                | 990
                | 992
                | 993
                | 995
                | 1080
                | 1883
                | 2811
                | 3128
                | 3306
                | 3389
                | 5060
                | 5222
                | 5223
                | 5269
                | 5432
                | 6379
                | 6666
                | 6667
                | 6668
                | 6669
                | 8000
                | 8080
                | 8888
        ),
        17 => matches!(
            port,
            53 | 67
                | 68
                | 69
                | 88
                | 111
                | 123
                | 137
                | 161
                | 162
                | 443
                | 500
                | 514
                | 1812
                | 1813
                | 2123
                | 2152
                | 3478
                | 3544
                | 4500
                | 4789
                | 5060
                | 5353
                | 5355
                | 6081
        ),
        _ => false,
    }
}

/// A canonical (direction-free) flow key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    proto: u8,
}

impl Key {
    fn new(a: (IpAddr, u16), b: (IpAddr, u16), proto: u8) -> Key {
        if a <= b {
            Key {
                lo: a,
                hi: b,
                proto,
            }
        } else {
            Key {
                lo: b,
                hi: a,
                proto,
            }
        }
    }
}

/// One packet's transport view, as the decoder hands it over.
pub struct Packet<'a> {
    pub number: u64,
    pub ts: f64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub ip_len: u64,
    pub transport: Transport<'a>,
    /// A tunnel (Teredo) was found inside: the flow gets that service, its payload no parser.
    pub tunnel: bool,
}

pub enum Transport<'a> {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        syn: bool,
        ack_flag: bool,
        fin: bool,
        rst: bool,
        payload: &'a [u8],
        /// Payload length the IP header announces (more than `payload` when truncated).
        seg_len: u64,
    },
    Udp {
        sport: u16,
        dport: u16,
        payload: &'a [u8],
    },
    Icmp {
        v6: bool,
        icmp_type: u8,
        code: u8,
        payload_len: u64,
    },
    Other,
}

/// A finished flow with its application records, ready for output.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub first_packet: u64,
    /// Creation order of the flow in its capture: orders flows that began in the same packet
    /// (a tunnel and the flow inside it), so that output never depends on hash order.
    pub seq: u64,
    pub start: f64,
    pub last: f64,
    pub orig: (IpAddr, u16),
    pub resp: (IpAddr, u16),
    pub proto: u8,
    pub services: Vec<&'static str>,
    pub orig_pkts: u64,
    pub resp_pkts: u64,
    pub orig_ip_bytes: u64,
    pub resp_ip_bytes: u64,
    pub orig_bytes: u64,
    pub resp_bytes: u64,
    pub conn_state: &'static str,
    pub history: String,
    pub dns: Vec<DnsRow>,
    pub tls: Vec<TlsRow>,
    pub http: Vec<HttpRow>,
}

/// One dns.log row in the making.
#[derive(Debug, Clone, Default)]
pub struct DnsRow {
    pub packet: u64,
    pub ts: f64,
    pub trans_id: u16,
    pub rtt: Option<f64>,
    pub query: Option<String>,
    pub qclass: Option<u16>,
    pub qtype: Option<u16>,
    pub rcode: Option<u16>,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: u8,
    pub answers: Vec<(String, u32)>,
    pub rejected: bool,
    pub opcode: u8,
}

/// One ssl.log row in the making (and its certificates for x509.log).
#[derive(Debug, Clone, Default)]
pub struct TlsRow {
    pub packet: u64,
    pub ts: f64,
    pub version: Option<String>,
    pub server_name: Option<String>,
    pub certs: Vec<Cert>,
    pub client_done: bool,
    pub server_done: bool,
}

/// A certificate from a server's flight (the tls helper's `CertInfo`, owned here).
#[derive(Debug, Clone, Default)]
pub struct Cert {
    pub der_sha1: String,
    pub der_sha256: String,
    pub subject: String,
    pub issuer: String,
    pub not_before: Option<f64>,
    pub not_after: Option<f64>,
    pub serial: String,
    pub san_dns: Vec<String>,
    pub version: u64,
    pub key_alg: String,
    pub sig_alg: String,
    pub key_type: Option<String>,
    pub key_length: Option<u64>,
    pub basic_constraints_ca: Option<bool>,
}

/// One http.log row in the making.
#[derive(Debug, Clone, Default)]
pub struct HttpRow {
    pub packet: u64,
    pub ts: f64,
    pub trans_depth: u64,
    pub method: String,
    pub uri: String,
    pub version: String,
    pub host: Option<String>,
    pub user_agent: Option<String>,
}

/// A problem the flow layer met in one packet (the caller turns it into a Diagnostic).
pub struct Problem {
    pub kind: &'static str,
    pub message: String,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum TcpState {
    #[default]
    Inactive,
    SynSent,
    SynAckSent,
    Partial,
    Established,
    Closed,
    Reset,
}

/// One direction of a TCP stream: sequence tracking and in-order delivery of its first bytes.
#[derive(Default)]
struct Stream {
    /// Sequence number of the first stream byte (ISN + 1), once known.
    base: Option<u32>,
    /// First sequence number seen when no SYN was.
    first_seq: Option<u32>,
    /// Highest relative end of data seen.
    max_end: i64,
    /// Next relative offset to deliver in order.
    delivered: u64,
    /// Segments that arrived ahead of `delivered`.
    ooo: BTreeMap<u64, Vec<u8>>,
    state: TcpState,
    /// Delivery has stopped (enough seen, or the parsers are done).
    closed_for_apps: bool,
}

impl Stream {
    fn rel(&self, seq: u32) -> Option<i64> {
        let base = self.base.or(self.first_seq)?;
        Some(i64::from(seq.wrapping_sub(base) as i32))
    }

    fn size(&self) -> u64 {
        u64::try_from(self.max_end).unwrap_or(0)
    }
}

/// Application state of one flow.
#[derive(Default)]
struct Apps {
    dns_seen: bool,
    dns_pending: BTreeMap<u16, VecDeque<DnsRow>>,
    dns_rows: Vec<DnsRow>,
    dns_tcp: [Vec<u8>; 2],
    dns_failed: bool,
    tls_bufs: [Vec<u8>; 2],
    /// Stream offset where TLS starts in each direction (None: not found yet).
    tls_start: [Option<u64>; 2],
    tls_given_up: [bool; 2],
    tls: Option<TlsRow>,
    tls_rows: Vec<TlsRow>,
    dtls: bool,
    /// DTLS datagrams per direction, in capture order (bounded by count and bytes).
    dtls_dgrams: [Vec<Vec<u8>>; 2],
    http_buf: Vec<u8>,
    http_given_up: bool,
    /// Unfinished FTP control lines per direction.
    ftp_lines: [Vec<u8>; 2],
    http_rows: Vec<HttpRow>,
    http_resp_seen: bool,
    services: Vec<&'static str>,
}

struct Flow {
    first_packet: u64,
    seq: u64,
    start: f64,
    last: f64,
    /// Time of the latest packet (`last` stops moving once a TCP connection is closed).
    last_packet: f64,
    orig: (IpAddr, u16),
    resp: (IpAddr, u16),
    proto: u8,
    pkts: [u64; 2],
    ip_bytes: [u64; 2],
    payload_bytes: [u64; 2],
    history: String,
    hist_seen: u32,
    streams: [Stream; 2],
    apps: Apps,
    records: usize,
    /// DNS queries waiting for their reply, over all transaction ids.
    pending_dns: usize,
    /// FTP data-connection endpoints announced on this (control) flow, not yet handed over.
    expect: Vec<(IpAddr, u16)>,
}

/// The flow table.
#[derive(Default)]
pub struct Flows {
    /// foldhash, randomly seeded: fast, and no crafted capture can make its keys collide; the
    /// order flows leave it in is restored by sorting on (first packet, creation).
    table: FastMap<Key, Flow>,
    finished: Vec<FlowRecord>,
    /// Endpoints FTP control connections announced for data connections (bounded).
    ftp_data: Vec<(IpAddr, u16)>,
    /// Flows created so far (numbers `Flow::seq`).
    created: u64,
}

/// FTP data-connection endpoints remembered at once.
const MAX_FTP_EXPECTED: usize = 1024;

impl Flows {
    /// Accounts one packet; problems met in its payload are returned for reporting.
    pub fn packet(&mut self, p: &Packet<'_>, problems: &mut Vec<Problem>) {
        let (sport, dport) = match &p.transport {
            Transport::Tcp { sport, dport, .. } | Transport::Udp { sport, dport, .. } => {
                (*sport, *dport)
            }
            Transport::Icmp {
                v6,
                icmp_type,
                code,
                ..
            } => icmp_ports(*v6, *icmp_type, *code),
            Transport::Other => (0, 0),
        };
        let key = Key::new((p.src, sport), (p.dst, dport), p.proto);
        let timeout = match p.proto {
            6 => TCP_TIMEOUT,
            17 => UDP_TIMEOUT,
            1 | 58 => ICMP_TIMEOUT,
            _ => OTHER_TIMEOUT,
        };
        // The common case, a packet of a live flow, costs one lookup.
        let expired = match self.table.get_mut(&key) {
            Some(f) if !f.expired(p, timeout) => {
                f.update(p, sport, problems);
                take_expected(f, &mut self.ftp_data);
                return;
            }
            Some(_) => true,
            None => false,
        };
        if expired && let Some(old) = self.table.remove(&key) {
            self.finished.push(old.finish());
        }
        if !self.table.contains_key(&key) && self.table.len() >= MAX_FLOWS {
            self.evict_oldest(EVICT_BATCH);
            problems.push(Problem {
                kind: "flows",
                message: format!(
                    "more than {MAX_FLOWS} flows at once: the {EVICT_BATCH} least recently active were finished early"
                ),
            });
        }
        let ftp_data = &mut self.ftp_data;
        let seq = self.created;
        let mut new = false;
        let flow = self.table.entry(key).or_insert_with(|| {
            new = true;
            let mut f = Flow::new(p, sport, dport, seq);
            if p.proto == 6
                && let Some(i) = ftp_data.iter().position(|e| *e == f.resp || *e == f.orig)
            {
                ftp_data.swap_remove(i);
                f.add_service("ftp-data");
            }
            f
        });
        self.created += u64::from(new);
        flow.update(p, sport, problems);
        take_expected(flow, ftp_data);
    }

    /// Finishes the `n` least recently active flows (ties: the older flow first).
    fn evict_oldest(&mut self, n: usize) {
        let mut by_age: Vec<(f64, u64, Key)> = self
            .table
            .iter()
            .map(|(k, f)| (f.last_packet, f.seq, *k))
            .collect();
        let n = n.clamp(1, by_age.len().max(1));
        let order =
            |a: &(f64, u64, Key), b: &(f64, u64, Key)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if n < by_age.len() {
            by_age.select_nth_unstable_by(n - 1, order);
            by_age.truncate(n);
        }
        for (_, _, k) in by_age {
            if let Some(f) = self.table.remove(&k) {
                self.finished.push(f.finish());
            }
        }
    }

    /// Finishes the flows idle past their timeout at time `now` and moves every flow finished
    /// so far into `out` (emptied first), in order of their first packet (called now and then to
    /// keep memory bounded). Both vectors keep their capacity from sweep to sweep.
    pub fn sweep(&mut self, now: f64, out: &mut Vec<FlowRecord>) {
        let expired: Vec<Key> = self
            .table
            .iter()
            .filter(|(_, f)| {
                let idle = now - f.last_packet;
                let timeout = match f.proto {
                    6 => TCP_TIMEOUT,
                    17 if f.apps.dns_seen => DNS_SESSION_TIMEOUT,
                    17 => UDP_TIMEOUT,
                    1 | 58 => ICMP_TIMEOUT,
                    _ => OTHER_TIMEOUT,
                };
                idle > timeout || f.close_delay().is_some_and(|d| idle > d)
            })
            .map(|(k, _)| *k)
            .collect();
        for k in expired {
            if let Some(f) = self.table.remove(&k) {
                self.finished.push(f.finish());
            }
        }
        out.clear();
        out.append(&mut self.finished);
        out.sort_unstable_by_key(|f| (f.first_packet, f.seq));
    }

    /// Finishes every flow and returns them in order of their first packet.
    pub fn finish(mut self) -> Vec<FlowRecord> {
        let mut out = std::mem::take(&mut self.finished);
        out.extend(self.table.into_values().map(Flow::finish));
        out.sort_unstable_by_key(|f| (f.first_packet, f.seq));
        out
    }
}

/// Hands the FTP data-connection endpoints `flow` announced over to the table's list (bounded).
fn take_expected(flow: &mut Flow, ftp_data: &mut Vec<(IpAddr, u16)>) {
    for e in flow.expect.drain(..) {
        if ftp_data.len() >= MAX_FTP_EXPECTED {
            ftp_data.remove(0);
        }
        ftp_data.push(e);
    }
}

/// Zeek's ICMP "ports": the type, and the counterpart type of request/reply pairs (else the code).
fn icmp_ports(v6: bool, t: u8, code: u8) -> (u16, u16) {
    let counterpart = if v6 {
        match t {
            128 => Some(129),
            129 => Some(128),
            133 => Some(134),
            134 => Some(133),
            135 => Some(136),
            136 => Some(135),
            130 => Some(131),
            131 => Some(130),
            139 => Some(140),
            140 => Some(139),
            144 => Some(145),
            145 => Some(144),
            _ => None,
        }
    } else {
        match t {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            17 => Some(18),
            18 => Some(17),
            10 => Some(9),
            9 => Some(10),
            _ => None,
        }
    };
    (u16::from(t), u16::from(counterpart.unwrap_or(code)))
}

impl Flow {
    fn new(p: &Packet<'_>, sport: u16, dport: u16, seq: u64) -> Flow {
        let a = (p.src, sport);
        let b = (p.dst, dport);
        let flip = match &p.transport {
            Transport::Tcp { syn, ack_flag, .. } => {
                if *syn && !*ack_flag {
                    false
                } else if likely_server_port(6, sport) {
                    if likely_server_port(6, dport) {
                        !*syn && sport < dport
                    } else {
                        true
                    }
                } else {
                    false
                }
            }
            Transport::Udp { .. } => {
                likely_server_port(17, sport) && !likely_server_port(17, dport)
            }
            _ => false,
        };
        let (orig, resp) = if flip { (b, a) } else { (a, b) };
        Flow {
            first_packet: p.number,
            seq,
            start: p.ts,
            last: p.ts,
            last_packet: p.ts,
            orig,
            resp,
            proto: p.proto,
            pkts: [0; 2],
            ip_bytes: [0; 2],
            payload_bytes: [0; 2],
            history: if flip { "^".to_string() } else { String::new() },
            hist_seen: 0,
            streams: [Stream::default(), Stream::default()],
            apps: Apps::default(),
            records: 0,
            pending_dns: 0,
            expect: Vec::new(),
        }
    }

    /// Whether packet `p` comes after this flow ended (`timeout` is its protocol's inactivity
    /// timeout), so that it starts a new flow.
    fn expired(&self, p: &Packet<'_>, timeout: f64) -> bool {
        let idle = p.ts - self.last_packet;
        // Zeek's dns_session_timeout shortens the life of a DNS-over-UDP flow.
        let timeout = if self.proto == 17 && self.apps.dns_seen {
            DNS_SESSION_TIMEOUT
        } else {
            timeout
        };
        idle > timeout
            || self.close_delay().is_some_and(|delay| idle > delay)
            || matches!(&p.transport, Transport::Tcp { syn: true, ack_flag: false, .. }
                if self.tcp_closed())
    }

    /// Zeek removes a closing TCP connection after a delay; a later packet starts a new one:
    /// `tcp_close_delay` and `tcp_reset_delay` (5 s), `tcp_partial_close_delay` (3 s).
    fn close_delay(&self) -> Option<f64> {
        if self.proto != 6 {
            return None;
        }
        let states = [self.streams[0].state, self.streams[1].state];
        let closed = |s: TcpState| matches!(s, TcpState::Closed);
        let inactive = |s: TcpState| matches!(s, TcpState::Inactive | TcpState::Partial);
        if states.contains(&TcpState::Reset) || states.iter().all(|&s| closed(s)) {
            Some(5.0)
        } else if (closed(states[0]) && inactive(states[1]))
            || (closed(states[1]) && inactive(states[0]))
        {
            Some(3.0)
        } else {
            None
        }
    }

    fn tcp_closed(&self) -> bool {
        self.proto == 6
            && self
                .streams
                .iter()
                .any(|s| matches!(s.state, TcpState::Reset))
            || self
                .streams
                .iter()
                .all(|s| matches!(s.state, TcpState::Closed))
    }

    /// Adds a history letter once per flow (upper case for the originator).
    fn hist(&mut self, letter: char, orig: bool) {
        let c = if orig {
            letter.to_ascii_uppercase()
        } else {
            letter.to_ascii_lowercase()
        };
        let bit = match letter.to_ascii_lowercase() {
            's' => 0,
            'h' => 1,
            'a' => 2,
            'd' => 3,
            'f' => 4,
            'r' => 5,
            't' => 6,
            _ => 7,
        } + if orig { 0 } else { 8 };
        if self.hist_seen & (1 << bit) == 0 {
            self.hist_seen |= 1 << bit;
            self.history.push(c);
        }
    }

    fn flip(&mut self) {
        std::mem::swap(&mut self.orig, &mut self.resp);
        self.pkts.swap(0, 1);
        self.ip_bytes.swap(0, 1);
        self.payload_bytes.swap(0, 1);
        self.streams.swap(0, 1);
        self.apps.dns_tcp.swap(0, 1);
        self.apps.tls_bufs.swap(0, 1);
        self.apps.tls_start.swap(0, 1);
        self.apps.tls_given_up.swap(0, 1);
        self.apps.dtls_dgrams.swap(0, 1);
        self.apps.ftp_lines.swap(0, 1);
        let mut h = String::with_capacity(self.history.len() + 1);
        h.push('^');
        for c in self.history.chars().filter(|&c| c != '^') {
            h.push(if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            });
        }
        self.history = h;
        let lo = self.hist_seen & 0xff;
        let hi = (self.hist_seen >> 8) & 0xff;
        self.hist_seen = (lo << 8) | hi;
    }

    fn update(&mut self, p: &Packet<'_>, sport: u16, problems: &mut Vec<Problem>) {
        // Same address and port on both sides: the direction is undecidable; count as orig.
        let is_orig = self.orig == self.resp || (p.src, sport) == self.orig;
        let d = usize::from(!is_orig);
        let both_closed = self.proto == 6
            && self
                .streams
                .iter()
                .all(|s| matches!(s.state, TcpState::Closed | TcpState::Reset));
        if !both_closed {
            self.last = self.last.max(p.ts);
        }
        self.last_packet = self.last_packet.max(p.ts);
        self.pkts[d] += 1;
        self.ip_bytes[d] += p.ip_len;
        match &p.transport {
            Transport::Tcp {
                seq,
                ack,
                syn,
                ack_flag,
                fin,
                rst,
                payload,
                seg_len,
                ..
            } => self.tcp(
                p, is_orig, *seq, *ack, *syn, *ack_flag, *fin, *rst, payload, *seg_len, problems,
            ),
            Transport::Udp { payload, .. } => {
                self.payload_bytes[d] += payload.len() as u64;
                self.hist('d', is_orig);
                if p.tunnel {
                    self.add_service("teredo");
                } else {
                    self.udp(p, is_orig, payload, problems);
                }
            }
            Transport::Icmp { payload_len, .. } => {
                self.payload_bytes[d] += payload_len;
            }
            Transport::Other => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        p: &Packet<'_>,
        is_orig: bool,
        seq: u32,
        ack: u32,
        syn: bool,
        ack_flag: bool,
        fin: bool,
        rst: bool,
        payload: &[u8],
        seg_len: u64,
        problems: &mut Vec<Problem>,
    ) {
        let d = usize::from(!is_orig);
        if syn {
            self.hist(if ack_flag { 'h' } else { 's' }, is_orig);
            let s = &mut self.streams[d];
            if s.base.is_none() {
                s.base = Some(seq.wrapping_add(1));
                s.first_seq = None;
                s.max_end = 0;
            }
            if s.state == TcpState::Inactive || s.state == TcpState::Partial {
                s.state = if ack_flag {
                    TcpState::SynAckSent
                } else {
                    TcpState::SynSent
                };
            }
            if ack_flag {
                // The SYN-ACK tells where the other side's stream starts.
                let o = &mut self.streams[1 - d];
                if o.base.is_none() {
                    o.base = Some(ack);
                    o.first_seq = None;
                }
            }
        }
        if fin {
            self.hist('f', is_orig);
        }
        if rst {
            self.hist('r', is_orig);
        }
        if seg_len > 0 {
            self.hist('d', is_orig);
        } else if ack_flag && !syn && !fin && !rst {
            self.hist('a', is_orig);
        }
        {
            let s = &mut self.streams[d];
            if s.base.is_none() && s.first_seq.is_none() {
                s.first_seq = Some(seq);
            }
            if !syn
                && seg_len > 0
                && let Some(rel) = s.rel(seq)
            {
                let end = rel.saturating_add(i64::try_from(seg_len).unwrap_or(0));
                if end > s.max_end {
                    s.max_end = end;
                }
            }
            if rst {
                s.state = TcpState::Reset;
            } else if fin {
                if s.state != TcpState::Reset {
                    s.state = TcpState::Closed;
                }
            } else if s.state == TcpState::Inactive {
                s.state = TcpState::Partial;
            }
        }
        // Establishment: both sides have sent a SYN and the originator acknowledges.
        if ack_flag && !syn {
            let both_syn = matches!(
                self.streams[0].state,
                TcpState::SynSent | TcpState::SynAckSent
            ) || matches!(
                self.streams[1].state,
                TcpState::SynSent | TcpState::SynAckSent
            );
            if both_syn {
                for s in &mut self.streams {
                    if matches!(s.state, TcpState::SynSent | TcpState::SynAckSent) {
                        s.state = TcpState::Established;
                    }
                }
            }
        }
        if !payload.is_empty() && !syn {
            self.deliver(p, is_orig, seq, payload, problems);
        }
    }

    /// Feeds in-order stream bytes to the application parsers.
    fn deliver(
        &mut self,
        p: &Packet<'_>,
        is_orig: bool,
        seq: u32,
        payload: &[u8],
        problems: &mut Vec<Problem>,
    ) {
        let d = usize::from(!is_orig);
        let s = &mut self.streams[d];
        if s.closed_for_apps || s.base.is_none() {
            return;
        }
        let Some(rel) = s.rel(seq) else { return };
        if rel < 0 {
            return;
        }
        let rel = rel as u64;
        if rel > s.delivered {
            // Hold a segment that arrived early, unless it lies far beyond what parsers read.
            if s.ooo.len() < MAX_OOO_SEGMENTS && rel - s.delivered <= STREAM_CAP as u64 {
                s.ooo.entry(rel).or_insert_with(|| payload.to_vec());
            }
            return;
        }
        // The in-order part of this segment is read in place; held segments it reaches are
        // taken out of the hold (no copy). Delivery state advances before any parser runs.
        let skip = usize::try_from(s.delivered - rel).unwrap_or(usize::MAX);
        let mut first: Option<(u64, &[u8])> = None;
        if let Some(fresh) = payload.get(skip..)
            && !fresh.is_empty()
        {
            first = Some((s.delivered, fresh));
            s.delivered += fresh.len() as u64;
        }
        let mut held: Vec<(u64, usize, Vec<u8>)> = Vec::new();
        while let Some((&off, _)) = s.ooo.first_key_value() {
            if off > s.delivered {
                break;
            }
            let Some((off, data)) = s.ooo.pop_first() else {
                break;
            };
            let skip = usize::try_from(s.delivered - off).unwrap_or(usize::MAX);
            if let Some(fresh) = data.get(skip..)
                && !fresh.is_empty()
            {
                let at = s.delivered;
                s.delivered += fresh.len() as u64;
                held.push((at, skip, data));
            }
        }
        if let Some((off, chunk)) = first {
            self.stream_data(p, is_orig, off, chunk, problems);
        }
        for (off, skip, data) in held {
            let chunk = data.get(skip..).unwrap_or_default();
            self.stream_data(p, is_orig, off, chunk, problems);
        }
    }

    fn add_service(&mut self, s: &'static str) {
        if !self.apps.services.contains(&s) {
            self.apps.services.push(s);
        }
    }

    fn room_for_record(&mut self) -> bool {
        if self.records >= MAX_RECORDS_PER_FLOW {
            return false;
        }
        self.records += 1;
        true
    }

    /// In-order TCP payload at stream offset `off`.
    fn stream_data(
        &mut self,
        p: &Packet<'_>,
        is_orig: bool,
        off: u64,
        data: &[u8],
        problems: &mut Vec<Problem>,
    ) {
        let d = usize::from(!is_orig);
        if off == 0
            && let Some(service) = greeting_service(is_orig, data)
        {
            self.add_service(service);
            // Zeek's GridFTP script marks FTP servers that announce themselves as GridFTP.
            if service == "ftp" && memchr::memmem::find(data, b"GridFTP").is_some() {
                self.add_service("gridftp");
            }
        }
        if self.apps.services.contains(&"ftp") {
            self.ftp_control(p, is_orig, data);
        }
        let dns_port = self.resp.1 == 53 || self.orig.1 == 53 || self.resp.1 == 5353;
        if dns_port && !self.apps.dns_failed {
            self.dns_tcp(p, is_orig, data, problems);
        }
        // TLS: starts at the first segment that opens a handshake record.
        if !self.apps.tls_given_up[d] {
            if self.apps.tls_start[d].is_none() {
                if looks_like_tls_record(data) {
                    self.apps.tls_start[d] = Some(off);
                } else if off + data.len() as u64 > TLS_SEARCH_WINDOW {
                    self.apps.tls_given_up[d] = true;
                }
            }
            if self.apps.tls_start[d].is_some() {
                let cap = if is_orig {
                    CLIENT_TLS_CAP
                } else {
                    SERVER_TLS_CAP
                };
                let buf = &mut self.apps.tls_bufs[d];
                let room = cap.saturating_sub(buf.len());
                buf.extend_from_slice(data.get(..room.min(data.len())).unwrap_or_default());
                self.tls_progress(p, is_orig, false);
            }
        }
        // HTTP: the client's stream, requests one after another.
        if is_orig && !self.apps.http_given_up {
            if self.apps.http_buf.len() + data.len() > STREAM_CAP {
                self.apps.http_given_up = true;
                self.apps.http_buf = Vec::new();
            } else {
                self.apps.http_buf.extend_from_slice(data);
                self.http_progress(p);
            }
        }
        // Any reply to a parsed request confirms HTTP (HTTP/0.9 replies carry no status line).
        if !is_orig && !self.apps.http_rows.is_empty() && !self.apps.http_resp_seen {
            self.apps.http_resp_seen = true;
            self.add_service("http");
        }
        let done = self.apps.tls_given_up[d]
            && (self.apps.http_given_up || !is_orig)
            && (!dns_port || self.apps.dns_failed);
        if done {
            self.streams[d].closed_for_apps = true;
            self.streams[d].ooo.clear();
        }
    }

    /// Follows an FTP control stream line by line: remembers data-connection endpoints from
    /// PORT/EPRT (client) and 227/229 (server), and feeds the TLS records GridFTP carries
    /// base64-encoded in `ADAT` commands and `335`/`235 ADAT=` replies to the TLS parsers.
    fn ftp_control(&mut self, p: &Packet<'_>, is_orig: bool, data: &[u8]) {
        let d = usize::from(!is_orig);
        let buf = &mut self.apps.ftp_lines[d];
        if buf.len() + data.len() > STREAM_CAP {
            buf.clear();
            return;
        }
        buf.extend_from_slice(data);
        let Some(last_nl) = buf.iter().rposition(|&b| b == b'\n') else {
            return;
        };
        let complete: Vec<u8> = buf.drain(..=last_nl).collect();
        for line in complete.split(|&b| b == b'\n').take(1024) {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let line = line.trim_end();
            let adat = if is_orig {
                line.strip_prefix("ADAT ")
            } else {
                line.strip_prefix("335 ADAT=")
                    .or_else(|| line.strip_prefix("235 ADAT="))
            };
            if let Some(b64) = adat {
                self.adat(p, is_orig, b64.trim());
                continue;
            }
            let found = if is_orig {
                if let Some(arg) = line.strip_prefix("PORT ") {
                    port_tuple(arg)
                } else if let Some(arg) = line.strip_prefix("EPRT ") {
                    eprt(arg)
                } else {
                    None
                }
            } else if line.starts_with("227") {
                line.split_once('(')
                    .and_then(|(_, rest)| rest.split_once(')'))
                    .and_then(|(inner, _)| port_tuple(inner))
            } else if line.starts_with("229") {
                line.split_once("(|||")
                    .and_then(|(_, rest)| rest.split_once('|'))
                    .and_then(|(port, _)| port.parse().ok())
                    .map(|port| (self.resp.0, port))
            } else {
                None
            };
            if let Some(e) = found
                && self.expect.len() < 16
            {
                self.expect.push(e);
            }
        }
    }

    /// One base64 ADAT token: TLS records for the GSSAPI (GridFTP) handshake.
    fn adat(&mut self, p: &Packet<'_>, is_orig: bool, b64: &str) {
        use base64::Engine as _;
        let d = usize::from(!is_orig);
        if self.apps.tls_given_up[d] {
            return;
        }
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return;
        };
        if self.apps.tls_start[d].is_none() {
            if !looks_like_tls_record(&bytes) {
                return;
            }
            self.apps.tls_start[d] = Some(0);
        }
        let cap = if is_orig {
            CLIENT_TLS_CAP
        } else {
            SERVER_TLS_CAP
        };
        let buf = &mut self.apps.tls_bufs[d];
        let room = cap.saturating_sub(buf.len());
        buf.extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
        self.tls_progress(p, is_orig, false);
    }

    fn http_progress(&mut self, p: &Packet<'_>) {
        loop {
            let buf = &self.apps.http_buf;
            if buf.is_empty() {
                return;
            }
            if !starts_like_http_request(buf) {
                self.apps.http_given_up = true;
                self.apps.http_buf = Vec::new();
                return;
            }
            let Some(end) = header_end(buf) else {
                return;
            };
            let head = buf.get(..end).unwrap_or_default();
            let body = content_length(head).unwrap_or(0);
            let Some(req) = http::parse_request(head) else {
                self.apps.http_given_up = true;
                self.apps.http_buf = Vec::new();
                return;
            };
            if self.room_for_record() {
                let depth = self.apps.http_rows.len() as u64 + 1;
                self.apps.http_rows.push(HttpRow {
                    packet: p.number,
                    ts: p.ts,
                    trans_depth: depth,
                    method: req.method,
                    uri: unescape_uri(&req.uri),
                    version: req.version,
                    host: req.host,
                    user_agent: req.user_agent,
                });
            }
            let consumed = end.saturating_add(body);
            if consumed >= self.apps.http_buf.len() {
                // The body runs past what we hold: stop following this stream.
                if consumed > self.apps.http_buf.len() {
                    self.apps.http_given_up = true;
                }
                self.apps.http_buf.clear();
                return;
            }
            self.apps.http_buf.drain(..consumed);
        }
    }

    fn tls_progress(&mut self, p: &Packet<'_>, is_orig: bool, datagram: bool) {
        let d = usize::from(!is_orig);
        if self.apps.tls.is_none() {
            if !is_orig {
                return;
            }
            let hello = if datagram {
                let refs: Vec<&[u8]> = self.apps.dtls_dgrams[0].iter().map(Vec::as_slice).collect();
                tls::parse_dtls_client_hello_datagrams(&refs)
            } else {
                tls::parse_client_hello(&self.apps.tls_bufs[0])
            };
            match hello {
                TlsNeed::Done(h) => {
                    self.add_service(if datagram { "dtls" } else { "ssl" });
                    self.apps.tls = Some(TlsRow {
                        packet: p.number,
                        ts: p.ts,
                        server_name: h.sni,
                        client_done: true,
                        ..TlsRow::default()
                    });
                    if !self.room_for_record() {
                        self.apps.tls_given_up = [true, true];
                    }
                    self.apps.tls_bufs[0] = Vec::new();
                    self.apps.dtls_dgrams[0] = Vec::new();
                    self.apps.tls_given_up[0] = true;
                    if !self.apps.tls_bufs[1].is_empty() || !self.apps.dtls_dgrams[1].is_empty() {
                        self.tls_progress(p, false, datagram);
                    }
                }
                TlsNeed::NeedMore => {
                    if self.apps.tls_bufs[0].len() >= CLIENT_TLS_CAP
                        || self.apps.dtls_dgrams[0].len() >= MAX_DTLS_DATAGRAMS
                    {
                        self.apps.tls_given_up[0] = true;
                    }
                }
                TlsNeed::NotTls => {
                    // Not a hello here: look for TLS starting later in the stream.
                    self.apps.tls_bufs[0].clear();
                    self.apps.tls_start[0] = None;
                    if datagram {
                        self.apps.tls_given_up[0] = true;
                        self.apps.dtls_dgrams[0] = Vec::new();
                    }
                }
            }
            return;
        }
        if is_orig {
            return;
        }
        let flight = if datagram {
            let refs: Vec<&[u8]> = self.apps.dtls_dgrams[d].iter().map(Vec::as_slice).collect();
            tls::parse_dtls_server_flight(&refs)
        } else {
            tls::parse_server_flight(&self.apps.tls_bufs[d])
        };
        let finished = match flight {
            TlsNeed::Done(f) => {
                if let Some(row) = self.apps.tls.as_mut() {
                    row.version = f.version.map(tls::version_name);
                    row.certs = f.certificates.into_iter().map(Cert::from).collect();
                    row.server_done = true;
                }
                true
            }
            TlsNeed::NeedMore => {
                self.apps.tls_bufs[d].len() >= SERVER_TLS_CAP
                    || self.apps.dtls_dgrams[d].len() >= MAX_DTLS_DATAGRAMS
            }
            TlsNeed::NotTls => {
                self.apps.tls_bufs[d].clear();
                self.apps.tls_start[d] = None;
                datagram
            }
        };
        if finished {
            self.apps.tls_given_up[d] = true;
            self.apps.tls_bufs[d] = Vec::new();
            self.apps.dtls_dgrams[d] = Vec::new();
            if let Some(row) = self.apps.tls.take() {
                self.apps.tls_rows.push(row);
            }
        }
    }

    fn udp(&mut self, p: &Packet<'_>, is_orig: bool, payload: &[u8], problems: &mut Vec<Problem>) {
        let ports = [self.orig.1, self.resp.1];
        let dns_port = ports
            .iter()
            .any(|&port| matches!(port, 53 | 137 | 5353 | 5355));
        if dns_port && !self.apps.dns_failed {
            self.dns_message(p, is_orig, payload, "udp", problems);
            return;
        }
        if ports.contains(&67)
            && ports.contains(&68)
            && payload.get(236..240) == Some(&[99, 130, 83, 99])
        {
            self.add_service("dhcp");
            return;
        }
        // DTLS: a handshake record (content type 22, version 0xfeXX).
        let d = usize::from(!is_orig);
        if !self.apps.tls_given_up[d]
            && (self.apps.dtls || payload.first() == Some(&22))
            && payload.get(1) == Some(&0xfe)
        {
            self.apps.dtls = true;
            let held: usize = self.apps.dtls_dgrams[d].iter().map(Vec::len).sum();
            if held + payload.len() <= SERVER_TLS_CAP
                && self.apps.dtls_dgrams[d].len() < MAX_DTLS_DATAGRAMS
            {
                self.apps.dtls_dgrams[d].push(payload.to_vec());
            }
            self.tls_progress(p, is_orig, true);
        }
    }

    fn dns_tcp(&mut self, p: &Packet<'_>, is_orig: bool, data: &[u8], problems: &mut Vec<Problem>) {
        let d = usize::from(!is_orig);
        if self.apps.dns_tcp[d].len() + data.len() > STREAM_CAP {
            self.apps.dns_tcp[d] = Vec::new();
            self.apps.dns_failed = true;
            return;
        }
        self.apps.dns_tcp[d].extend_from_slice(data);
        loop {
            let buf = &self.apps.dns_tcp[usize::from(!is_orig)];
            let Some(len) = buf
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                return;
            };
            let Some(msg) = buf.get(2..2 + len) else {
                return;
            };
            let msg = msg.to_vec();
            // A flip inside dns_message swaps the buffers: remember which one we read.
            let idx = usize::from(!is_orig);
            self.dns_message(p, is_orig, &msg, "tcp", problems);
            let idx_now = if self.apps.dns_tcp[idx].len() >= 2 + len {
                idx
            } else {
                1 - idx
            };
            self.apps.dns_tcp[idx_now].drain(..(2 + len).min(self.apps.dns_tcp[idx_now].len()));
            if self.apps.dns_failed {
                return;
            }
        }
    }

    fn dns_message(
        &mut self,
        p: &Packet<'_>,
        mut is_orig: bool,
        payload: &[u8],
        _proto: &str,
        problems: &mut Vec<Problem>,
    ) {
        let netbios = self.resp.1 == 137 || self.orig.1 == 137;
        let msg = match dns::parse_message(payload, netbios) {
            Ok(m) => m,
            Err(e) => {
                problems.push(Problem {
                    kind: "dns",
                    message: e.to_string(),
                });
                if !self.apps.dns_seen {
                    self.apps.dns_failed = true;
                }
                return;
            }
        };
        if msg.partial {
            problems.push(Problem {
                kind: "dns",
                message: "truncated DNS message".to_string(),
            });
        }
        if !self.apps.dns_seen {
            self.apps.dns_seen = true;
            self.add_service("dns");
            if msg.response && is_orig && !is_multicast(self.resp.0) {
                self.flip();
                is_orig = false;
            }
        }
        let _ = is_orig;
        let mdns = self.resp.1 == 5353 || self.orig.1 == 5353;
        if !msg.response {
            // An UPDATE names the zone in its question; Zeek logs the updated name instead.
            let update = msg.opcode == 5;
            let q = msg.question.as_ref().filter(|_| !update);
            let row = DnsRow {
                packet: p.number,
                ts: p.ts,
                trans_id: msg.id,
                query: if update {
                    msg.first_answer_name
                        .as_ref()
                        .map(|n| n.to_ascii_lowercase())
                } else {
                    q.map(|q| q.name.clone())
                },
                answers: if update {
                    msg.answers.clone()
                } else {
                    Vec::new()
                },
                qclass: q.map(|q| q.qclass),
                qtype: q.map(|q| q.qtype),
                rd: msg.rd,
                tc: msg.tc,
                z: msg.z,
                opcode: msg.opcode,
                ..DnsRow::default()
            };
            if mdns {
                self.push_dns(row);
            } else {
                if self.pending_dns >= MAX_PENDING_DNS {
                    let mut evicted = None;
                    if let Some(mut first) = self.apps.dns_pending.first_entry() {
                        evicted = first.get_mut().pop_front();
                        if first.get().is_empty() {
                            first.remove();
                        }
                    }
                    if let Some(old) = evicted {
                        self.pending_dns -= 1;
                        self.push_dns(old);
                    }
                }
                self.apps
                    .dns_pending
                    .entry(msg.id)
                    .or_default()
                    .push_back(row);
                self.pending_dns += 1;
            }
            return;
        }
        let pending = if mdns {
            None
        } else {
            let queue = self.apps.dns_pending.get_mut(&msg.id);
            let row = queue.and_then(VecDeque::pop_front);
            if row.is_some() {
                self.pending_dns -= 1;
            }
            if self
                .apps
                .dns_pending
                .get(&msg.id)
                .is_some_and(VecDeque::is_empty)
            {
                self.apps.dns_pending.remove(&msg.id);
            }
            row
        };
        let mut row = pending.unwrap_or_else(|| DnsRow {
            packet: p.number,
            ts: p.ts,
            trans_id: msg.id,
            rd: msg.rd,
            opcode: msg.opcode,
            ..DnsRow::default()
        });
        if row.query.is_none() {
            // Zeek takes a reply's query name from its first answer, not from its question.
            row.query = msg
                .first_answer_name
                .clone()
                .map(|n| n.to_ascii_lowercase());
        }
        row.rcode = Some(msg.rcode);
        row.aa = msg.aa;
        row.tc = msg.tc;
        row.z = msg.z;
        if !msg.answers.is_empty() {
            row.ra = msg.ra;
            row.rtt = Some(p.ts - row.ts);
        }
        row.rejected = msg.rcode != 0 && msg.answers.is_empty() && msg.opcode == 4;
        if !(msg.opcode == 5 && msg.answers.is_empty()) {
            row.answers = msg.answers;
        }
        self.push_dns(row);
    }

    fn push_dns(&mut self, row: DnsRow) {
        if self.room_for_record() {
            self.apps.dns_rows.push(row);
        }
    }

    fn finish(mut self) -> FlowRecord {
        let pending = std::mem::take(&mut self.apps.dns_pending);
        for row in pending.into_values().flatten() {
            self.push_dns(row);
        }
        if let Some(mut row) = self.apps.tls.take() {
            if let Some(f) = tls::server_flight_so_far(&self.apps.tls_bufs[1]) {
                row.version = f.version.map(tls::version_name);
                row.certs = f.certificates.into_iter().map(Cert::from).collect();
            }
            self.apps.tls_rows.push(row);
        }
        // Zeek confirms a Teredo tunnel only once both sides have spoken.
        if self.pkts.contains(&0) {
            self.apps.services.retain(|s| *s != "teredo");
        }
        let conn_state = self.conn_state();
        let (orig_bytes, resp_bytes) = if self.proto == 6 {
            (self.streams[0].size(), self.streams[1].size())
        } else {
            (self.payload_bytes[0], self.payload_bytes[1])
        };
        let history = if matches!(self.proto, 6 | 17) {
            self.history
        } else {
            String::new()
        };
        let mut dns = self.apps.dns_rows;
        dns.sort_by_key(|r| r.packet);
        FlowRecord {
            first_packet: self.first_packet,
            seq: self.seq,
            start: self.start,
            last: self.last,
            orig: self.orig,
            resp: self.resp,
            proto: self.proto,
            services: self.apps.services,
            orig_pkts: self.pkts[0],
            resp_pkts: self.pkts[1],
            orig_ip_bytes: self.ip_bytes[0],
            resp_ip_bytes: self.ip_bytes[1],
            orig_bytes,
            resp_bytes,
            conn_state,
            history,
            dns,
            tls: self.apps.tls_rows,
            http: self.apps.http_rows,
        }
    }

    fn conn_state(&self) -> &'static str {
        match self.proto {
            6 => {
                let os = self.streams[0].state;
                let rs = self.streams[1].state;
                let inactive = |s: TcpState| matches!(s, TcpState::Inactive | TcpState::Partial);
                let (o_inactive, r_inactive) = (inactive(os), inactive(rs));
                if rs == TcpState::Reset {
                    if matches!(os, TcpState::SynSent | TcpState::SynAckSent)
                        || (os == TcpState::Reset
                            && self.streams[0].size() == 0
                            && self.streams[1].size() == 0)
                    {
                        "REJ"
                    } else if o_inactive {
                        "RSTRH"
                    } else {
                        "RSTR"
                    }
                } else if os == TcpState::Reset {
                    if r_inactive {
                        let h = self.history.trim_start_matches('^');
                        if h.starts_with('S')
                            && h.find('R').is_some_and(|r| {
                                !h.get(..r).unwrap_or_default().contains(['H', 'A', 'F'])
                            })
                        {
                            "RSTOS0"
                        } else {
                            "OTH"
                        }
                    } else {
                        "RSTO"
                    }
                } else if rs == TcpState::Closed && os == TcpState::Closed {
                    "SF"
                } else if os == TcpState::Closed {
                    if r_inactive { "SH" } else { "S2" }
                } else if rs == TcpState::Closed {
                    if o_inactive { "SHR" } else { "S3" }
                } else if os == TcpState::SynSent && rs == TcpState::Inactive {
                    "S0"
                } else if os == TcpState::Established && rs == TcpState::Established {
                    "S1"
                } else {
                    "OTH"
                }
            }
            17 => match (self.pkts[0] > 0, self.pkts[1] > 0) {
                (true, true) => "SF",
                (true, false) => "S0",
                (false, true) => "SHR",
                (false, false) => "OTH",
            },
            _ => "OTH",
        }
    }
}

impl From<tls::CertInfo> for Cert {
    fn from(c: tls::CertInfo) -> Cert {
        Cert {
            der_sha1: c.der_sha1,
            der_sha256: c.der_sha256,
            subject: c.subject,
            issuer: c.issuer,
            not_before: c.not_before,
            not_after: c.not_after,
            serial: c.serial,
            san_dns: c.san_dns,
            version: c.version,
            key_alg: c.key_alg,
            sig_alg: c.sig_alg,
            key_type: c.key_type,
            key_length: c.key_length,
            basic_constraints_ca: c.basic_constraints_ca,
        }
    }
}

fn is_multicast(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_multicast(),
    }
}

/// `h1,h2,h3,h4,p1,p2` of FTP PORT and 227 replies.
fn port_tuple(s: &str) -> Option<(IpAddr, u16)> {
    let n: Vec<u8> = s
        .trim()
        .split(',')
        .map(|x| x.trim().parse::<u8>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [a, b, c, d, hi, lo] = n.as_slice() else {
        return None;
    };
    let addr = IpAddr::from([*a, *b, *c, *d]);
    Some((addr, u16::from(*hi) << 8 | u16::from(*lo)))
}

/// `|proto|address|port|` of an FTP EPRT command.
fn eprt(s: &str) -> Option<(IpAddr, u16)> {
    let s = s.trim();
    let delim = s.chars().next()?;
    let mut parts = s.split(delim).skip(2);
    let addr = parts.next()?.parse().ok()?;
    let port = parts.next()?.parse().ok()?;
    Some((addr, port))
}

/// Services recognised from the first bytes one side sends (Zeek's DPD signatures, simplified):
/// FTP, IMAP and POP3 server greetings, IRC client registration, the MySQL server handshake.
fn greeting_service(is_orig: bool, data: &[u8]) -> Option<&'static str> {
    if is_orig {
        let irc = [&b"NICK "[..], b"CAP LS"];
        return irc.iter().any(|p| data.starts_with(p)).then_some("irc");
    }
    if data.starts_with(b"220 ") || data.starts_with(b"220-") {
        // SMTP greets with 220 too; its banner names the protocol.
        let head = &data[..data.len().min(200)];
        let smtp = memchr::memmem::find(head, b"SMTP").is_some()
            || memchr::memmem::find(head, b"ESMTP").is_some();
        return Some(if smtp { "smtp" } else { "ftp" });
    }
    if data.starts_with(b"* OK") {
        return Some("imap");
    }
    // IRC server lines: `:server.name 001 ...` (a numeric reply).
    if data.first() == Some(&b':') {
        let mut words = data.split(|&b| b == b' ');
        let numeric = words
            .nth(1)
            .is_some_and(|w| w.len() == 3 && w.iter().all(u8::is_ascii_digit));
        if numeric {
            return Some("irc");
        }
    }
    if data.starts_with(b"+OK") {
        return Some("pop3");
    }
    // MySQL: 3-byte little-endian length, sequence 0, protocol version 10.
    if let [l0, l1, l2, 0, 10, ..] = data
        && usize::from(*l0) | usize::from(*l1) << 8 | usize::from(*l2) << 16 == data.len() - 4
    {
        return Some("mysql");
    }
    None
}

/// A TLS handshake record header: type 22, version 3.x (SSLv3 .. TLS 1.3 legacy).
fn looks_like_tls_record(data: &[u8]) -> bool {
    matches!(data, [22, 3, 0..=4, ..])
}

fn starts_like_http_request(buf: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"HEAD ",
        b"PUT ",
        b"DELETE ",
        b"OPTIONS ",
        b"CONNECT ",
        b"PATCH ",
        b"TRACE ",
    ];
    METHODS
        .iter()
        .any(|m| buf.starts_with(m) || (buf.len() < m.len() && m.starts_with(buf)))
}

/// Decodes `%XX` escapes as Zeek's `unescape_URI` does for http.log `uri` (invalid escapes stay).
fn unescape_uri(uri: &str) -> String {
    let b = uri.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|&h| char::from(h).to_digit(16));
        if c == b'%'
            && let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2))
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// End of an HTTP header block (after the blank line; bare LF line ends are accepted).
fn header_end(buf: &[u8]) -> Option<usize> {
    let crlf = memchr::memmem::find(buf, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(buf, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn content_length(head: &[u8]) -> Option<usize> {
    for line in head.split(|&b| b == b'\n') {
        let line = std::str::from_utf8(line).ok()?.trim();
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            return v.trim().parse().ok();
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(n: u64, ts: f64) -> Packet<'static> {
        let host = u32::try_from(n).unwrap_or(u32::MAX);
        Packet {
            number: n,
            ts,
            src: IpAddr::from([10, 0, 0, 1]),
            dst: IpAddr::from((0x0b00_0000u32 | host).to_be_bytes()),
            proto: 17,
            ip_len: 28,
            transport: Transport::Udp {
                sport: 40000,
                dport: 9999,
                payload: &[],
            },
            tunnel: false,
        }
    }

    /// Issue 7: a capture with more concurrent flows than the table holds (a scan) keeps the
    /// table bounded, finishes the least recently active flows in batches, says so, and still
    /// yields every flow once, in order of first packet.
    #[test]
    fn more_concurrent_flows_than_the_cap_are_finished_early_in_batches() {
        let mut flows = Flows::default();
        let mut problems = Vec::new();
        let total = MAX_FLOWS as u64 + 100;
        for n in 1..=total {
            flows.packet(&udp(n, n as f64 * 1e-6), &mut problems);
            assert!(flows.table.len() <= MAX_FLOWS);
        }
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].kind, "flows");
        // The oldest batch went first: flow 1 is finished, the newest are still tracked.
        assert_eq!(flows.finished.len(), EVICT_BATCH);
        assert!(
            flows
                .finished
                .iter()
                .all(|f| f.first_packet <= EVICT_BATCH as u64)
        );
        let all = flows.finish();
        assert_eq!(all.len() as u64, total);
        assert!(
            all.windows(2)
                .all(|w| w[0].first_packet < w[1].first_packet)
        );
    }
}
