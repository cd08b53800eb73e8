//! The aggregated, normalised view of everything read: what the rules evaluate.
//!
//! [`FactsBuilder`] is the [`Sink`] every reader feeds. Files must arrive in phase order (DNS,
//! then x509 and files, then ssl and http, then conn: `crate::input` sorts them) so that names
//! are known when connections are aggregated and the uids that TLS, HTTP and certificate records
//! join on are known when conn.log streams by. Connections are aggregated per (server address,
//! port, protocol, services, name epoch) and DNS transactions per distinct (query, CNAME targets),
//! so state grows with distinct destinations and names, not with rows. TLS sessions, HTTP
//! requests and certificate files wait per record until the joins are done: 32 bytes each in
//! memory, on disk past a budget (see `joins`). [`Facts`] is the immutable result; rules never
//! see files or Zeek layouts.

mod conns;
mod joins;
mod joinspill;

pub use conns::{ConnPartial, PartialFacts, order_of};

use crate::alert::Occurrence;
use crate::input::zeek::Columns;
use crate::model::{
    ChainKind, Conn, Diagnostic, Dns, Endpoints, File, Http, Location, Record, Sink, Tls, X509,
};
use crate::names::{self, HostValue, normalize_host, normalize_name};
use crate::resolve::Resolver;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// Most diagnostics kept for the report; the rest are only counted.
pub const MAX_DIAGNOSTICS: usize = 10_000;

/// Most connection aggregates (distinct destinations per name epoch) tracked; connections to
/// further new destinations are counted in [`Facts::dropped_connections`] only.
pub const MAX_DESTINATIONS: usize = 2_000_000;

/// Most distinct HTTP requests (server, port, Host, method and URI) kept whole. URIs differ
/// from request to request, so past this many a new request is kept by its server, port and
/// Host only (its evidence names no request), and memory stays in proportion to destinations.
pub const MAX_HTTP_REQUESTS: usize = 1 << 14;

/// One aggregate of connections to a destination within one name epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnFact {
    pub server: IpAddr,
    pub port: Option<u16>,
    /// Lower-cased protocol (`tcp`, `udp`, `icmp`, ...), empty when unknown.
    pub proto: String,
    /// Lower-cased services, sorted.
    pub services: Vec<String>,
    /// A time inside the aggregate's name epoch, for `pick` (negative infinity when unknown).
    pub t: f64,
    pub count: u64,
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    pub bytes: u64,
    pub first: Occurrence,
}

/// One distinct DNS transaction shape: query and CNAME targets.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsFact {
    pub query: Option<String>,
    /// CNAME targets in answer order (A/AAAA transactions only).
    pub cnames: Vec<String>,
    pub qtype: String,
    pub count: u64,
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    /// Addresses answered (at most 16 kept).
    pub addrs: BTreeSet<IpAddr>,
    pub first: Occurrence,
}

/// One certificate of a server chain, as far as it is known.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ChainCert {
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub san_dns: Vec<String>,
}

/// TLS sessions with the same server, port and content whose connections fall in one name
/// epoch, with their joins done.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsFact {
    pub server: Option<IpAddr>,
    pub port: Option<u16>,
    /// The ts of the first session's connection, else its own (for `display`).
    pub t: f64,
    /// Earliest and latest ts of the sessions.
    pub ts: Option<f64>,
    pub last_ts: Option<f64>,
    /// Sessions in the group.
    pub count: u64,
    pub sni: Option<String>,
    pub version: Option<String>,
    pub validation_status: Option<String>,
    /// Leaf subject and issuer: ssl.log wins over x509.log.
    pub leaf_subject: Option<String>,
    pub leaf_issuer: Option<String>,
    /// DNS names of the leaf: subject CN when it is a valid name, then SAN DNS entries.
    pub leaf_names: Vec<String>,
    pub chain: Vec<ChainCert>,
    pub first: Occurrence,
}

impl TlsFact {
    /// True when nothing about the server certificate is known.
    pub fn no_certificate_data(&self) -> bool {
        self.leaf_subject.is_none()
            && self.leaf_issuer.is_none()
            && self
                .chain
                .iter()
                .all(|c| c.sha1.is_none() && c.sha256.is_none())
    }
}

/// HTTP requests with the same server, port, Host, method and URI whose connections fall in one
/// name epoch, with their joins done.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpFact {
    pub server: Option<IpAddr>,
    pub port: Option<u16>,
    pub t: f64,
    /// Earliest and latest ts of the requests.
    pub ts: Option<f64>,
    pub last_ts: Option<f64>,
    /// Requests in the group.
    pub count: u64,
    pub host: Option<HostValue>,
    pub method: Option<String>,
    pub uri: Option<String>,
    pub first: Occurrence,
}

/// Certificate files (files.log rows of an X.509 MIME type) with the same server and hashes
/// whose connections fall in one name epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct CertFileFact {
    pub server: Option<IpAddr>,
    pub t: f64,
    /// Earliest and latest ts of the files.
    pub ts: Option<f64>,
    pub last_ts: Option<f64>,
    /// Files in the group.
    pub count: u64,
    pub sha1: Option<String>,
    pub sha256: Option<String>,
    pub first: Occurrence,
}

/// Everything the rules read.
#[derive(Debug, Default)]
pub struct Facts {
    pub resolver: Resolver,
    /// Sorted by server, port, proto, services, t.
    pub conns: Vec<ConnFact>,
    /// Sorted by query, CNAME targets.
    pub dns: Vec<DnsFact>,
    pub tls: Vec<TlsFact>,
    pub http: Vec<HttpFact>,
    pub cert_files: Vec<CertFileFact>,
    /// Zone -> nameserver -> sources (`dns`, `pdns:FILE`).
    pub nameservers: HashMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Smallest ts among all records read.
    pub capture_start: Option<f64>,
    /// Diagnostics kept (at most [`MAX_DIAGNOSTICS`]) and how many there were in all.
    pub diagnostics: Vec<Diagnostic>,
    pub diagnostics_total: u64,
    /// Connections per minute (bucket start, epoch seconds), at most [`MAX_TIMELINE`] buckets.
    pub timeline: BTreeMap<i64, u64>,
    /// Connections to new destinations past the cap on destinations tracked (not aggregated).
    pub dropped_connections: u64,
    /// HTTP requests past [`MAX_HTTP_REQUESTS`] distinct ones, kept without their method and URI.
    pub http_requests_without_uri: u64,
}

/// Sets the budget of TLS, HTTP and certificate-file records kept in memory for the joins by
/// the builders made on the calling thread from now on (`None`: the default), so that tests can
/// make every join spill to disk through the whole pipeline.
#[doc(hidden)]
pub fn override_join_budget(n: Option<usize>) {
    joins::BUDGET.set(n);
}

/// Most one-minute buckets kept for the connections timeline.
pub const MAX_TIMELINE: usize = 100_000;

type Tuple = (IpAddr, u16, IpAddr, u16);

/// The certificate side of a TLS shape.
#[derive(Clone, Debug)]
struct TlsContent {
    chain: Vec<ChainCert>,
    leaf_subject: Option<String>,
    leaf_issuer: Option<String>,
    leaf_names: Vec<String>,
}

/// What TLS sessions of one group share (everything but their time, uid and place).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct TlsShape {
    server: Option<IpAddr>,
    port: Option<u16>,
    sni: Option<String>,
    version: Option<String>,
    status: Option<String>,
    chain_kind: ChainKind,
    chain: Vec<String>,
    subject: Option<String>,
    issuer: Option<String>,
}

/// What HTTP requests of one group share.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct HttpShape {
    server: Option<IpAddr>,
    port: Option<u16>,
    host: Option<HostValue>,
    method: Option<String>,
    uri: Option<String>,
}

/// What certificate files of one group share.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CertShape {
    server: Option<IpAddr>,
    sha1: Option<String>,
    sha256: Option<String>,
}

/// The distinct shapes of records of one kind (the records themselves wait in
/// [`joins::Joins`]). Each shape is stored once: the table holds indexes into `shapes`.
#[derive(Debug)]
struct Joining<S> {
    shapes: Vec<S>,
    ids: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl<S> Default for Joining<S> {
    fn default() -> Self {
        Joining {
            shapes: Vec::new(),
            ids: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<S: std::hash::Hash + Eq> Joining<S> {
    fn hash(&self, s: &S) -> u64 {
        std::hash::BuildHasher::hash_one(&self.hasher, s)
    }

    /// The id of shape `s`, if it was seen.
    fn find(&self, s: &S) -> Option<u32> {
        let shapes = &self.shapes;
        let same = |&i: &u32| shapes.get(i as usize) == Some(s);
        self.ids.find(self.hash(s), same).copied()
    }

    /// The id of shape `s`, made if it is new.
    fn shape(&mut self, s: S) -> u32 {
        if let Some(id) = self.find(&s) {
            return id;
        }
        let id = u32::try_from(self.shapes.len()).unwrap_or(u32::MAX);
        let hash = self.hash(&s);
        let (shapes, hasher) = (&self.shapes, &self.hasher);
        let rehash = |&i: &u32| {
            shapes
                .get(i as usize)
                .map_or(0, |s| std::hash::BuildHasher::hash_one(hasher, s))
        };
        self.ids.insert_unique(hash, id, rehash);
        self.shapes.push(s);
        id
    }
}

#[derive(Clone, Debug, Default)]
struct CertData {
    sha1: Option<String>,
    sha256: Option<String>,
    subject: Option<String>,
    issuer: Option<String>,
    san_dns: Vec<String>,
}

/// Most DNS row shapes [`DnsMemo`] remembers; past it, it starts over (a cache: only the time
/// it saves depends on it).
const MAX_DNS_SHAPES: usize = 1 << 14;

/// Longest shape key and most resolver additions [`DnsMemo`] keeps for one shape, so that
/// its memory stays under about 14 MB whatever the rows (a row may be 1 MiB long): rows of
/// longer shapes take the full path every time.
const MAX_DNS_SHAPE_KEY: usize = 256;
const MAX_DNS_SHAPE_ADDS: usize = 16;

/// What [`FactsBuilder::dns`] worked out for each recent DNS row shape (its query, type and
/// answers, all that decides it besides the row's time, uid and place), so that a row of a
/// shape seen before only replays it: the resolver additions, by name id, and the count into
/// the transaction's fact. The other effects of a first row (the fact's addresses, name
/// servers) change nothing when repeated. A day of a site's DNS log repeats a few thousand
/// shapes; normalising and interning each row's names, and finding its fact, was most of the
/// time of the DNS phase.
#[derive(Debug, Default)]
struct DnsMemo {
    shapes: crate::FastMap<Box<[u8]>, DnsShape>,
    /// The key of the row at hand, reused.
    key: Vec<u8>,
    /// Only in tests: remember nothing, to compare with.
    #[cfg(test)]
    off: bool,
    /// Only in tests: rows that replayed a remembered shape.
    #[cfg(test)]
    replayed: u64,
}

#[derive(Debug, Default)]
struct DnsShape {
    /// Resolver additions, in order: address, name id, rank.
    adds: smallvec::SmallVec<[(IpAddr, u32, crate::resolve::Rank); 2]>,
    /// The transaction fact the row counts into; none for a row with no query or CNAME.
    fact: Option<usize>,
}

impl DnsMemo {
    /// Sets `key` to the shape of `d`: each part with its length, so that parts cannot run
    /// into each other.
    fn key_of(&mut self, d: &Dns<'_>) {
        fn text(out: &mut Vec<u8>, s: Option<&str>) {
            match s {
                Some(s) => {
                    out.extend_from_slice(&(s.len() as u64 + 1).to_le_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
                None => out.extend_from_slice(&0u64.to_le_bytes()),
            }
        }
        let k = &mut self.key;
        k.clear();
        text(k, d.qtype_name.as_deref());
        match d.qtype {
            Some(n) => {
                k.push(1);
                k.extend_from_slice(&n.to_le_bytes());
            }
            None => k.push(0),
        }
        text(k, d.query.as_deref());
        for a in &d.answers {
            text(k, Some(a));
        }
    }

    fn remember(&mut self, shape: DnsShape) {
        #[cfg(test)]
        if self.off {
            return;
        }
        if self.key.len() > MAX_DNS_SHAPE_KEY || shape.adds.len() > MAX_DNS_SHAPE_ADDS {
            return;
        }
        if self.shapes.len() >= MAX_DNS_SHAPES {
            self.shapes.clear();
        }
        self.shapes.insert(self.key.as_slice().into(), shape);
    }
}

/// Counts a DNS row into the transaction fact `f` it belongs to.
fn count_dns(f: &mut DnsFact, d: &Dns<'_>, location: &Location) {
    if d.ts
        .is_some_and(|t| f.first_ts.is_none_or(|first| t < first))
    {
        f.first = occurrence(location, d.uid.as_deref());
    }
    merge_times(&mut f.first_ts, &mut f.last_ts, d.ts);
    f.count += 1;
}

/// Builds [`Facts`] from records; see the module documentation for the order files must come in.
#[derive(Debug, Default)]
pub struct FactsBuilder {
    facts: Facts,
    agg: conns::ConnAgg,
    /// Conn records fed directly so far (their order, after every parallel one).
    arrivals: u64,
    /// Distinct DNS transaction shapes, found through `dns_index` by (query, CNAMEs, qtype).
    dns: Vec<DnsFact>,
    dns_index: hashbrown::HashTable<usize>,
    dns_hasher: foldhash::fast::RandomState,
    /// What recent DNS rows of each shape worked out, so that a repeated shape skips it.
    dns_memo: DnsMemo,
    x509_by_id: HashMap<String, CertData>,
    x509_by_fp: HashMap<String, CertData>,
    files_by_fuid: HashMap<String, (Option<String>, Option<String>)>,
    tls: Joining<TlsShape>,
    http: Joining<HttpShape>,
    cert_files: Joining<CertShape>,
    /// TLS, HTTP and certificate-file records waiting for their connections.
    joins: joins::Joins,
    /// Cap on `conns.len()`; 0 stands for [`MAX_DESTINATIONS`].
    max_destinations: usize,
    /// Cap on distinct HTTP request shapes kept with their method and URI; 0 stands for
    /// [`MAX_HTTP_REQUESTS`].
    max_http_requests: usize,
    /// Where the first HTTP request past that cap was read.
    first_uri_dropped: Option<Location>,
}

fn owned(c: &Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    c.as_deref().map(str::to_string)
}

fn hex(c: &Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    c.as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
}

fn tuple(id: &Endpoints) -> Option<Tuple> {
    Some((id.orig_h?, id.orig_p?, id.resp_h?, id.resp_p?))
}

fn time(ts: Option<f64>) -> f64 {
    ts.unwrap_or(f64::NEG_INFINITY)
}

fn occurrence(location: &Location, uid: Option<&str>) -> Occurrence {
    Occurrence {
        location: location.clone(),
        uid: uid.map(str::to_string),
    }
}

/// The mnemonic Zeek uses for a DNS qtype number, for the types the rules care about.
fn qtype_mnemonic(n: u64) -> String {
    match n {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "*".into(),
        other => format!("TYPE{other}"),
    }
}

/// The value of attribute `attr` (e.g. `CN`, `O`) in an RFC 4514 DN as Zeek writes it: split on
/// unescaped `,` and `+`, compare the type case-insensitively, remove escapes.
pub fn dn_attribute(dn: &str, attr: &str) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push('\\');
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            ',' | '+' => parts.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    parts.push(cur);
    parts.iter().find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(attr)
            .then(|| unescape_dn_value(v.trim()))
    })
}

fn unescape_dn_value(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(n) = chars.next() else { break };
        if n.is_ascii_hexdigit()
            && let Some(&m) = chars.peek()
            && m.is_ascii_hexdigit()
        {
            chars.next();
            let byte = n.to_digit(16).unwrap_or(0) * 16 + m.to_digit(16).unwrap_or(0);
            out.push(char::from_u32(byte).unwrap_or('?'));
        } else {
            out.push(n);
        }
    }
    out
}

impl FactsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty builder tracking at most `n` connection aggregates (see [`MAX_DESTINATIONS`]).
    pub fn with_max_destinations(n: usize) -> Self {
        FactsBuilder {
            max_destinations: n.max(1),
            ..Self::default()
        }
    }

    fn seen_ts(&mut self, ts: Option<f64>) {
        if let Some(t) = ts.filter(|t| t.is_finite()) {
            self.facts.capture_start = Some(match self.facts.capture_start {
                Some(s) if s <= t => s,
                _ => t,
            });
        }
    }

    /// The smallest ts among the records read so far.
    pub fn capture_start(&self) -> Option<f64> {
        match (self.facts.capture_start, self.agg.capture_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Adds a passive-DNS A/AAAA association (no time) from a side file.
    pub fn add_side_name(&mut self, ip: IpAddr, name: &str, source: &str) {
        if let Some(n) = normalize_name(name) {
            self.facts.resolver.add_side(ip, &n, source);
        }
    }

    /// Adds nameserver data for `zone` from a side file.
    pub fn add_nameserver(&mut self, zone: &str, ns: &str, source: &str) {
        if let (Some(z), Some(n)) = (normalize_name(zone), normalize_name(ns)) {
            self.facts
                .nameservers
                .entry(z)
                .or_default()
                .entry(n)
                .or_default()
                .insert(source.to_string());
        }
    }

    fn dns(&mut self, d: &Dns<'_>, location: &Location) {
        self.seen_ts(d.ts);
        self.dns_memo.key_of(d);
        if let Some(shape) = self.dns_memo.shapes.get(self.dns_memo.key.as_slice()) {
            for &(ip, id, rank) in &shape.adds {
                self.facts.resolver.add_id(ip, id, rank, d.ts);
            }
            if let Some(f) = shape.fact.and_then(|i| self.dns.get_mut(i)) {
                count_dns(f, d, location);
            }
            #[cfg(test)]
            {
                self.dns_memo.replayed += 1;
            }
            return;
        }
        let mut shape = DnsShape::default();
        // Names are borrowed from the record when already normal (as Zeek writes nearly all),
        // so a row allocates only for a new shape.
        let qtype: Cow<'_, str> = match (&d.qtype_name, d.qtype) {
            (Some(n), _) => {
                let t = n.trim();
                if t.bytes().any(|b| b.is_ascii_lowercase()) {
                    Cow::Owned(t.to_ascii_uppercase())
                } else {
                    Cow::Borrowed(t)
                }
            }
            (None, Some(n)) => Cow::Owned(qtype_mnemonic(n)),
            (None, None) => Cow::Borrowed(""),
        };
        let query = d.query.as_deref().and_then(names::normalize_name_cow);
        let addr_query = qtype == "A" || qtype == "AAAA";
        // Answers are a few per row: kept inline, so a row allocates nothing for them.
        let mut cnames: smallvec::SmallVec<[Cow<'_, str>; 4]> = smallvec::SmallVec::new();
        let mut addrs: smallvec::SmallVec<[IpAddr; 4]> = smallvec::SmallVec::new();
        for a in &d.answers {
            if let Some(ip) = names::parse_addr(a) {
                addrs.push(ip);
            } else if let Some(n) = names::normalize_name_cow(a).filter(|n| names::valid_domain(n))
            {
                if addr_query {
                    if !cnames.contains(&n) {
                        cnames.push(n);
                    }
                } else if qtype == "NS"
                    && let Some(zone) = &query
                {
                    self.facts
                        .nameservers
                        .entry(zone.to_string())
                        .or_default()
                        .entry(n.into_owned())
                        .or_default()
                        .insert(crate::resolve::CAPTURE_SOURCE.to_string());
                }
            }
        }
        if addr_query && !addrs.is_empty() {
            let resolver = &mut self.facts.resolver;
            let query = query.as_deref().map(|q| resolver.name_id(q));
            let cnames: smallvec::SmallVec<[u32; 4]> =
                cnames.iter().map(|c| resolver.name_id(c)).collect();
            for &ip in &addrs {
                if let Some(q) = query {
                    shape.adds.push((ip, q, 0));
                }
                for &c in &cnames {
                    shape.adds.push((ip, c, 1));
                }
            }
            for &(ip, id, rank) in &shape.adds {
                resolver.add_id(ip, id, rank, d.ts);
            }
        }
        if query.is_none() && cnames.is_empty() {
            self.dns_memo.remember(shape);
            return;
        }
        let hash = {
            use std::hash::{BuildHasher, Hash, Hasher};
            let mut h = self.dns_hasher.build_hasher();
            query.as_deref().hash(&mut h);
            cnames.len().hash(&mut h);
            for c in &cnames {
                c.as_ref().hash(&mut h);
            }
            qtype.as_ref().hash(&mut h);
            h.finish()
        };
        let facts = &mut self.dns;
        let same = |&i: &usize| {
            facts.get(i).is_some_and(|f: &DnsFact| {
                f.query.as_deref() == query.as_deref()
                    && f.qtype == qtype
                    && f.cnames.len() == cnames.len()
                    && f.cnames.iter().zip(&cnames).all(|(a, b)| a == b)
            })
        };
        let found = self.dns_index.find(hash, same).copied();
        let at = match found {
            Some(i) => {
                if let Some(f) = facts.get_mut(i) {
                    count_dns(f, d, location);
                }
                i
            }
            None => {
                let i = facts.len();
                facts.push(DnsFact {
                    query: query.map(Cow::into_owned),
                    cnames: cnames.into_iter().map(Cow::into_owned).collect(),
                    qtype: qtype.into_owned(),
                    count: 1,
                    first_ts: d.ts,
                    last_ts: d.ts,
                    addrs: BTreeSet::new(),
                    first: occurrence(location, d.uid.as_deref()),
                });
                let hasher = &self.dns_hasher;
                self.dns_index.insert_unique(hash, i, |&j| {
                    use std::hash::{BuildHasher, Hash, Hasher};
                    let mut h = hasher.build_hasher();
                    if let Some(f) = facts.get(j) {
                        f.query.as_deref().hash(&mut h);
                        f.cnames.len().hash(&mut h);
                        for c in &f.cnames {
                            c.as_str().hash(&mut h);
                        }
                        f.qtype.as_str().hash(&mut h);
                    }
                    h.finish()
                });
                i
            }
        };
        shape.fact = Some(at);
        self.dns_memo.remember(shape);
        let Some(fact) = facts.get_mut(at) else {
            return;
        };
        for ip in addrs {
            if fact.addrs.len() < 16 {
                fact.addrs.insert(ip);
            }
        }
    }

    fn x509(&mut self, x: &X509<'_>) {
        self.seen_ts(x.ts);
        let data = CertData {
            sha1: hex(&x.sha1),
            sha256: hex(&x.fingerprint).filter(|f| f.len() == 64),
            subject: owned(&x.subject),
            issuer: owned(&x.issuer),
            san_dns: x.san_dns.iter().map(|s| s.to_string()).collect(),
        };
        if let Some(id) = x.id.as_deref() {
            self.x509_by_id.insert(id.to_string(), data.clone());
        }
        if let Some(fp) = hex(&x.fingerprint) {
            let mut data = data;
            if fp.len() == 40 {
                data.sha1 = Some(fp.clone());
            }
            self.x509_by_fp.insert(fp, data);
        }
    }

    fn file(&mut self, f: &File<'_>, location: &Location) {
        self.seen_ts(f.ts);
        let mime = f.mime_type.as_deref().unwrap_or("").trim();
        if mime != "application/x-x509-user-cert" && mime != "application/x-x509-ca-cert" {
            return;
        }
        let sha1 = hex(&f.sha1);
        let sha256 = hex(&f.sha256);
        if let Some(fuid) = f.fuid.as_deref() {
            self.files_by_fuid
                .insert(fuid.to_string(), (sha1.clone(), sha256.clone()));
        }
        let server = f.id.resp_h.or_else(|| {
            if f.is_orig == Some(true) {
                f.rx_hosts.first().copied()
            } else {
                f.tx_hosts.first().copied()
            }
        });
        let shape = self.cert_files.shape(CertShape {
            server,
            sha1,
            sha256,
        });
        self.joined(
            joins::Kind::Cert,
            shape,
            f.ts,
            f.uids.iter().map(|u| u.as_ref()),
            tuple(&f.id),
            f.uids.is_empty(),
            location,
        );
    }

    fn tls(&mut self, t: &Tls<'_>, location: &Location) {
        self.seen_ts(t.ts);
        let shape = self.tls.shape(TlsShape {
            server: t.id.resp_h,
            port: t.id.resp_p,
            sni: t.server_name.as_deref().and_then(normalize_name),
            version: owned(&t.version),
            status: owned(&t.validation_status),
            chain_kind: t.chain_kind,
            chain: t.cert_chain.iter().map(|c| c.trim().to_string()).collect(),
            subject: owned(&t.subject),
            issuer: owned(&t.issuer),
        });
        self.joined(
            joins::Kind::Tls,
            shape,
            t.ts,
            t.uid.as_deref(),
            tuple(&t.id),
            true,
            location,
        );
    }

    fn http(&mut self, h: &Http<'_>, location: &Location) {
        self.seen_ts(h.ts);
        let mut request = HttpShape {
            server: h.id.resp_h,
            port: h.id.resp_p,
            host: h.host.as_deref().and_then(normalize_host),
            method: owned(&h.method),
            uri: owned(&h.uri),
        };
        if self.http.shapes.len() >= self.http_cap()
            && self.http.find(&request).is_none()
            && (request.method.is_some() || request.uri.is_some())
        {
            request.method = None;
            request.uri = None;
            self.facts.http_requests_without_uri += 1;
            if self.first_uri_dropped.is_none() {
                self.first_uri_dropped = Some(location.clone());
            }
        }
        let shape = self.http.shape(request);
        self.joined(
            joins::Kind::Http,
            shape,
            h.ts,
            h.uid.as_deref(),
            tuple(&h.id),
            true,
            location,
        );
    }

    /// Adds a record to the joins (see [`joins::Joins::add`]), moving them to disk past their
    /// budget.
    #[allow(clippy::too_many_arguments)]
    fn joined<'u>(
        &mut self,
        kind: joins::Kind,
        shape: u32,
        ts: Option<f64>,
        uids: impl IntoIterator<Item = &'u str>,
        tuple: Option<Tuple>,
        want_tuple: bool,
        location: &Location,
    ) {
        self.joins
            .add(kind, shape, ts, uids, tuple, want_tuple, location);
        if self.joins.over_budget() {
            self.joins.spill(self.agg.hits_mut());
        }
    }

    /// Sets how many TLS, HTTP and certificate-file records wait in memory for their
    /// connections before the joins move to temporary files (0: from the first).
    #[doc(hidden)]
    pub fn set_join_budget(&mut self, n: usize) {
        self.joins.set_budget(n);
    }

    fn http_cap(&self) -> usize {
        match self.max_http_requests {
            0 => MAX_HTTP_REQUESTS,
            n => n,
        }
    }

    /// Sets how many distinct HTTP requests are kept with their method and URI (see
    /// [`MAX_HTTP_REQUESTS`]), for tests.
    #[doc(hidden)]
    pub fn set_max_http_requests(&mut self, n: usize) {
        self.max_http_requests = n.max(1);
    }

    /// Sets the directory of the joins' temporary files (default: the system's).
    pub fn set_join_dir(&mut self, dir: Option<std::path::PathBuf>) {
        self.joins.set_dir(dir);
    }

    fn conn_ctx(&self) -> conns::ConnCtx<'_> {
        self.joins.conns_begin();
        conns::ConnCtx {
            resolver: &self.facts.resolver,
            joins: &self.joins,
            cap: conns::cap(self.max_destinations),
        }
    }

    fn conn(&mut self, c: &Conn<'_>, location: &Location) {
        let order = conns::SEQUENTIAL_BASE + self.arrivals;
        self.arrivals += 1;
        self.joins.conns_begin();
        let ctx = conns::ConnCtx {
            resolver: &self.facts.resolver,
            joins: &self.joins,
            cap: conns::cap(self.max_destinations),
        };
        if let Some(d) = self.agg.add(c, location, order, &ctx) {
            self.diagnostic(d);
        }
    }

    /// A sink for one thread reading conn-phase logs against this builder (DNS, TLS, HTTP and
    /// certificate records must all have been fed already). Fold what it gathered back in with
    /// [`FactsBuilder::merge`].
    pub fn partial(&self) -> ConnPartial<'_> {
        ConnPartial::new(self.conn_ctx())
    }

    /// Folds the partials of a parallel read into the builder: connection aggregates merge, the
    /// diagnostics are added in reading order, and the other records are returned in reading
    /// order for the caller to feed (they are rare in conn-phase logs).
    pub fn merge(&mut self, parts: Vec<PartialFacts>) -> Vec<(Record<'static>, Location)> {
        let cap = conns::cap(self.max_destinations);
        let mut diagnostics = Vec::new();
        let mut others = Vec::new();
        let mut uncounted = 0;
        for p in parts {
            self.agg.merge(p.agg, cap);
            uncounted += p
                .diagnostics_total
                .saturating_sub(p.diagnostics.len() as u64);
            diagnostics.extend(p.diagnostics);
            others.extend(p.others);
        }
        diagnostics.sort_by_key(|(o, _)| *o);
        for (_, d) in diagnostics {
            self.diagnostic(d);
        }
        self.facts.diagnostics_total += uncounted;
        others.sort_by_key(|(o, _, _)| *o);
        others.into_iter().map(|(_, r, l)| (r, l)).collect()
    }

    fn chain_cert(&self, kind: ChainKind, entry: &str) -> ChainCert {
        let mut cert = ChainCert::default();
        let data = match kind {
            ChainKind::Fingerprints => {
                let fp = entry.to_ascii_lowercase();
                match fp.len() {
                    64 => cert.sha256 = Some(fp.clone()),
                    40 => cert.sha1 = Some(fp.clone()),
                    _ => {}
                }
                self.x509_by_fp.get(&fp)
            }
            ChainKind::Fuids => {
                if let Some((s1, s256)) = self.files_by_fuid.get(entry) {
                    cert.sha1 = s1.clone();
                    cert.sha256 = s256.clone();
                }
                self.x509_by_id.get(entry)
            }
            ChainKind::None => None,
        };
        if let Some(d) = data {
            cert.sha1 = cert.sha1.or_else(|| d.sha1.clone());
            cert.sha256 = cert.sha256.or_else(|| d.sha256.clone());
            cert.subject = d.subject.clone();
            cert.issuer = d.issuer.clone();
            cert.san_dns = d.san_dns.clone();
        }
        cert
    }

    /// The certificate side of a TLS shape: its chain joined to x509.log and files.log, and the
    /// leaf's subject, issuer and DNS names.
    fn tls_content(&self, p: &TlsShape) -> TlsContent {
        let chain: Vec<ChainCert> = p
            .chain
            .iter()
            .map(|e| self.chain_cert(p.chain_kind, e))
            .collect();
        let leaf = chain.first();
        let leaf_subject = p
            .subject
            .clone()
            .or_else(|| leaf.and_then(|c| c.subject.clone()));
        let leaf_issuer = p
            .issuer
            .clone()
            .or_else(|| leaf.and_then(|c| c.issuer.clone()));
        let mut leaf_names: Vec<String> = Vec::new();
        if let Some(cn) = leaf_subject
            .as_deref()
            .and_then(|s| dn_attribute(s, "CN"))
            .and_then(|cn| normalize_name(&cn))
            .filter(|n| names::valid_domain(n.strip_prefix("*.").unwrap_or(n)))
        {
            leaf_names.push(cn.strip_prefix("*.").unwrap_or(&cn).to_string());
        }
        for san in leaf.map(|c| c.san_dns.as_slice()).unwrap_or(&[]) {
            if let Some(n) = normalize_name(san) {
                let n = n.strip_prefix("*.").unwrap_or(&n).to_string();
                if names::valid_domain(&n) && !leaf_names.contains(&n) {
                    leaf_names.push(n);
                }
            }
        }
        TlsContent {
            chain,
            leaf_subject,
            leaf_issuer,
            leaf_names,
        }
    }

    /// One fact per group of a kind, made from its shape (and the shape's index).
    fn facts_of<S, T>(
        shapes: &[S],
        groups: Vec<joins::Group>,
        mut make: impl FnMut(usize, &S, joins::Group) -> T,
    ) -> Vec<T> {
        groups
            .into_iter()
            .filter_map(|g| {
                let i = g.shape as usize;
                shapes.get(i).map(|shape| make(i, shape, g))
            })
            .collect()
    }

    /// Finishes the joins and returns the facts, sorted deterministically.
    pub fn finish(mut self) -> Facts {
        let hits = self.agg.take_hits();
        if let Some(d) = self.agg.cap_diagnostic() {
            self.diagnostic(d);
        }
        self.facts.dropped_connections = self.agg.dropped;
        if let Some(location) = self.first_uri_dropped.take() {
            let cap = self.http_cap();
            self.diagnostic(Diagnostic {
                location,
                message: format!(
                    "more than {cap} distinct HTTP requests: further new requests are kept \
                     without their method and URI"
                ),
            });
        }
        self.facts.timeline = self.agg.timeline();
        self.seen_ts(self.agg.capture_start);
        let ([tls_groups, http_groups, cert_groups], problems) = std::mem::take(&mut self.joins)
            .finish(
                hits,
                |kind, i| {
                    let i = i as usize;
                    match kind {
                        joins::Kind::Tls => self.tls.shapes.get(i).and_then(|s| s.server),
                        joins::Kind::Http => self.http.shapes.get(i).and_then(|s| s.server),
                        joins::Kind::Cert => self.cert_files.shapes.get(i).and_then(|s| s.server),
                    }
                },
                &self.facts.resolver,
            );
        for d in problems {
            self.diagnostic(d);
        }
        let tls_shapes = std::mem::take(&mut self.tls);
        let mut content: Vec<Option<TlsContent>> = vec![None; tls_shapes.shapes.len()];
        let mut tls = Self::facts_of(&tls_shapes.shapes, tls_groups, |i, shape, g| {
            let c = match content.get_mut(i) {
                Some(Some(c)) => c.clone(),
                Some(slot) => slot.insert(self.tls_content(shape)).clone(),
                None => self.tls_content(shape),
            };
            TlsFact {
                server: shape.server,
                port: shape.port,
                t: g.t,
                ts: g.first_ts,
                last_ts: g.last_ts,
                count: g.count,
                sni: shape.sni.clone(),
                version: shape.version.clone(),
                validation_status: shape.status.clone(),
                leaf_subject: c.leaf_subject,
                leaf_issuer: c.leaf_issuer,
                leaf_names: c.leaf_names,
                chain: c.chain,
                first: g.first,
            }
        });
        let http_shapes = std::mem::take(&mut self.http);
        let mut http = Self::facts_of(&http_shapes.shapes, http_groups, |_, shape, g| HttpFact {
            server: shape.server,
            port: shape.port,
            t: g.t,
            ts: g.first_ts,
            last_ts: g.last_ts,
            count: g.count,
            host: shape.host.clone(),
            method: shape.method.clone(),
            uri: shape.uri.clone(),
            first: g.first,
        });
        let cert_shapes = std::mem::take(&mut self.cert_files);
        let mut cert_files = Self::facts_of(&cert_shapes.shapes, cert_groups, |_, shape, g| {
            CertFileFact {
                server: shape.server,
                t: g.t,
                ts: g.first_ts,
                last_ts: g.last_ts,
                count: g.count,
                sha1: shape.sha1.clone(),
                sha256: shape.sha256.clone(),
                first: g.first,
            }
        });
        let conns = std::mem::take(&mut self.agg).into_facts();
        let mut dns: Vec<DnsFact> = self.dns;
        dns.sort_by(|a, b| (&a.query, &a.cnames, &a.qtype).cmp(&(&b.query, &b.cnames, &b.qtype)));
        tls.sort_by(|a, b| a.first.cmp(&b.first));
        http.sort_by(|a, b| a.first.cmp(&b.first));
        cert_files.sort_by(|a, b| a.first.cmp(&b.first));
        self.facts.conns = conns;
        self.facts.dns = dns;
        self.facts.tls = tls;
        self.facts.http = http;
        self.facts.cert_files = cert_files;
        self.facts
    }

    /// Records a problem met while reading.
    pub fn diagnostic(&mut self, d: Diagnostic) {
        self.facts.diagnostics_total += 1;
        if self.facts.diagnostics.len() < MAX_DIAGNOSTICS {
            self.facts.diagnostics.push(d);
        }
    }
}

/// Widens (`first_ts`, `last_ts`) to take in `ts`.
fn merge_times(first_ts: &mut Option<f64>, last_ts: &mut Option<f64>, ts: Option<f64>) {
    if let Some(t) = ts {
        if first_ts.is_none_or(|f| t < f) {
            *first_ts = Some(t);
        }
        if last_ts.is_none_or(|l| t > l) {
            *last_ts = Some(t);
        }
    }
}

impl Sink for FactsBuilder {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        match &record {
            Record::Conn(c) => self.conn(c, location),
            Record::Dns(d) => self.dns(d, location),
            Record::Tls(t) => self.tls(t, location),
            Record::Http(h) => self.http(h, location),
            Record::File(f) => self.file(f, location),
            Record::X509(x) => self.x509(x),
        }
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        FactsBuilder::diagnostic(self, diagnostic);
    }

    fn columns(&self) -> Columns {
        conns::columns(&self.joins)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Pos;

    /// A conn record to 10.0.0.1:443 at `ts`.
    fn conn_at(ts: f64) -> Record<'static> {
        Record::Conn(Conn {
            ts: Some(ts),
            id: Endpoints {
                resp_h: "10.0.0.1".parse().ok(),
                resp_p: Some(443),
                ..Endpoints::default()
            },
            proto: Some("tcp".into()),
            ..Conn::default()
        })
    }

    #[test]
    fn the_dns_memo_starts_over_past_its_cap() {
        let source: std::sync::Arc<str> = std::sync::Arc::from("dns.log");
        let mut b = FactsBuilder::default();
        for i in 0..MAX_DNS_SHAPES + 10 {
            let row = Dns {
                ts: Some(i as f64),
                query: Some(format!("h{i}.example").into()),
                qtype_name: Some("A".into()),
                answers: smallvec::smallvec![format!("10.{}.{}.1", i / 256 % 256, i % 256).into()],
                ..Dns::default()
            };
            b.record(Record::Dns(row), &Location::line(&source, i as u64 + 1));
        }
        assert_eq!(b.dns_memo.shapes.len(), 10);
        assert_eq!(b.dns.len(), MAX_DNS_SHAPES + 10);
    }

    #[test]
    fn a_dns_row_of_a_shape_seen_before_replays_what_the_first_one_worked_out() {
        // (query, qtype name, qtype, answers): addresses shared between names, CNAME chains
        // with a repeated target, names in other case and with a final dot, a name-server
        // answer, no query, no answer, a type by number only, more addresses than a fact keeps.
        let many: Vec<String> = (1..=30).map(|i| format!("10.9.0.{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        // Two answer sets of one name, together more addresses than its fact keeps.
        let more: Vec<String> = (1..=18).map(|i| format!("10.8.0.{i}")).collect();
        let more: Vec<&str> = more.iter().map(String::as_str).collect();
        let (more, rest) = (more[..10].to_vec(), more[8..].to_vec());
        type Shape<'a> = (Option<&'a str>, Option<&'a str>, Option<u64>, Vec<&'a str>);
        let shapes: Vec<Shape<'_>> = vec![
            (
                Some("a.example"),
                Some("A"),
                Some(1),
                vec!["10.0.0.1", "10.0.0.2"],
            ),
            (Some("b.example"), Some("A"), Some(1), vec!["10.0.0.1"]),
            (
                Some("WWW.Example.COM."),
                Some("a"),
                None,
                vec!["edge.cdn.net", "Edge.CDN.net", "e2.cdn.net", "10.0.0.3"],
            ),
            (
                Some("v6.example"),
                Some("AAAA"),
                Some(28),
                vec!["2001:db8::1"],
            ),
            (
                Some("example.org"),
                Some("NS"),
                Some(2),
                vec!["ns1.example.org"],
            ),
            (None, Some("A"), Some(1), vec!["alias.example", "10.0.0.2"]),
            (Some("nx.example"), Some("A"), Some(1), vec![]),
            (Some("num.example"), None, Some(1), vec!["10.0.0.4"]),
            (
                Some("txt.example"),
                Some("TXT"),
                Some(16),
                vec!["TXT 5 hello"],
            ),
            (Some("many.example"), Some("A"), Some(1), many),
            (Some("more.example"), Some("A"), Some(1), more),
            (Some("more.example"), Some("A"), Some(1), rest),
            (Some("a.example"), Some("A"), Some(1), vec!["10.0.0.2"]),
            // The first shape's query and answers, as another type and with its number only.
            (
                Some("a.example"),
                Some("MX"),
                Some(15),
                vec!["10.0.0.1", "10.0.0.2"],
            ),
            (
                Some("a.example"),
                None,
                Some(15),
                vec!["10.0.0.1", "10.0.0.2"],
            ),
            (
                Some("a.example"),
                None,
                Some(1),
                vec!["10.0.0.1", "10.0.0.2"],
            ),
        ];
        let source: std::sync::Arc<str> = std::sync::Arc::from("dns.log");
        let build = |off: bool| {
            let mut b = FactsBuilder::default();
            b.dns_memo.off = off;
            for i in 0..700u32 {
                let (query, name, qtype, answers) = &shapes[(i as usize * 11) % shapes.len()];
                // Mostly in time order, some late, some without a time.
                let ts = match i % 13 {
                    0 => Some(f64::from(i) - 50.0),
                    5 => None,
                    _ => Some(f64::from(i)),
                };
                let row = Dns {
                    ts,
                    uid: Some(format!("C{i}").into()),
                    query: query.map(Into::into),
                    qtype_name: name.map(Into::into),
                    qtype: *qtype,
                    answers: answers.iter().map(|&a| a.into()).collect(),
                    ..Dns::default()
                };
                b.record(Record::Dns(row), &Location::line(&source, u64::from(i) + 1));
            }
            b
        };
        let (memo, plain) = (build(false), build(true));
        // Every shape but the longest (its key is over the limit) is remembered.
        assert_eq!(memo.dns_memo.shapes.len(), shapes.len() - 1);
        assert!(plain.dns_memo.shapes.is_empty() && plain.dns_memo.replayed == 0);
        // All rows but each shape's first and the rows of the shape too long to keep.
        let long = 700 / shapes.len() as u64 + 1;
        assert!(memo.dns_memo.replayed >= 700 - shapes.len() as u64 - long);
        assert_eq!(memo.dns, plain.dns);
        let full = |name: &str| {
            memo.dns
                .iter()
                .any(|f| f.query.as_deref() == Some(name) && f.count >= 40 && f.addrs.len() == 16)
        };
        assert!(full("many.example") && full("more.example"));
        let (r, p) = (&memo.facts.resolver, &plain.facts.resolver);
        assert_eq!(r.generation(), p.generation());
        assert_eq!(
            format!("{:?}", memo.facts.nameservers),
            format!("{:?}", plain.facts.nameservers)
        );
        for ip in [
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "10.0.0.4",
            "2001:db8::1",
            "10.9.0.20",
            "10.8.0.18",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(r.names(ip), p.names(ip), "{ip}");
            for t in (-100..800).step_by(7) {
                let t = f64::from(t);
                assert_eq!(r.span(ip, t), p.span(ip, t), "{ip} at {t}");
                assert_eq!(r.display(ip, t), p.display(ip, t), "{ip} at {t}");
            }
        }
    }

    #[test]
    fn protocols_and_services_written_in_any_form_aggregate_as_their_normal_form() {
        // More distinct texts than the builder remembers, coming back after others pushed them
        // out: each row must land in the aggregate of its lower-cased, trimmed, sorted form.
        let rows: [(&str, &[&str]); 12] = [
            ("tcp", &["ssl"]),
            ("TCP", &["SSL"]),
            ("udp", &["dns"]),
            ("Udp", &[" dns "]),
            ("tcp", &["quic", "ssl"]),
            ("tcp", &["ssl", "quic"]),
            ("tcp", &["SSL", "quic", "ssl"]),
            ("icmp", &[]),
            ("tcp", &["http"]),
            ("tcp", &["ssl"]),
            ("udp", &["dns"]),
            ("TCP", &["SSL"]),
        ];
        let source: std::sync::Arc<str> = std::sync::Arc::from("conn.log");
        let mut b = FactsBuilder::new();
        for (i, (proto, services)) in rows.iter().enumerate() {
            let conn = Conn {
                ts: Some(i as f64),
                id: Endpoints {
                    resp_h: "10.0.0.1".parse().ok(),
                    resp_p: Some(443),
                    ..Endpoints::default()
                },
                proto: Some((*proto).into()),
                services: services.iter().map(|s| Cow::Borrowed(*s)).collect(),
                ..Conn::default()
            };
            b.record(Record::Conn(conn), &Location::line(&source, i as u64 + 1));
        }
        let got: BTreeMap<(String, String), u64> = b
            .finish()
            .conns
            .iter()
            .map(|c| ((c.proto.clone(), c.services.join(",")), c.count))
            .collect();
        let want: BTreeMap<(String, String), u64> = [
            (("icmp", ""), 1),
            (("tcp", "http"), 1),
            (("tcp", "quic,ssl"), 3),
            (("tcp", "ssl"), 4),
            (("udp", "dns"), 3),
        ]
        .into_iter()
        .map(|((p, s), n)| ((p.to_string(), s.to_string()), n))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn timeline_counts_every_connection_per_minute_read_alone_or_in_parts() {
        // Minutes 0, 60 and 120, with minute 0 coming back after 60 (out of order), the last
        // row alone in its minute, and a row without a time.
        let times = [1.0, 2.0, 59.9, 60.0, 61.0, 3.0, 4.0, 90.0, 125.0];
        let want: BTreeMap<i64, u64> = [(0, 5), (60, 3), (120, 1)].into_iter().collect();
        let source: std::sync::Arc<str> = std::sync::Arc::from("conn.log");

        let mut b = FactsBuilder::new();
        for (i, &t) in times.iter().enumerate() {
            b.record(conn_at(t), &Location::line(&source, i as u64 + 1));
        }
        b.record(
            Record::Conn(Conn {
                ts: None,
                ..Conn::default()
            }),
            &Location::line(&source, 99),
        );
        assert_eq!(b.finish().timeline, want);

        // The same rows split over two partials, each ending inside a minute, merged.
        let b = FactsBuilder::new();
        let mut parts = Vec::new();
        for half in times.chunks(4) {
            let mut p = b.partial();
            for (i, &t) in half.iter().enumerate() {
                p.record(conn_at(t), &Location::line(&source, i as u64 + 1));
            }
            parts.push(p.finish());
        }
        let mut b = b;
        b.merge(parts);
        assert_eq!(b.finish().timeline, want);
    }

    #[test]
    fn destinations_past_the_cap_are_counted_once_reported() {
        let mut b = FactsBuilder::with_max_destinations(2);
        let source: std::sync::Arc<str> = std::sync::Arc::from("conn.log");
        for (i, host) in ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.4"]
            .iter()
            .enumerate()
        {
            let conn = Conn {
                ts: Some(i as f64),
                id: Endpoints {
                    resp_h: host.parse().ok(),
                    resp_p: Some(443),
                    ..Endpoints::default()
                },
                proto: Some("tcp".into()),
                ..Conn::default()
            };
            b.record(Record::Conn(conn), &Location::line(&source, i as u64 + 1));
        }
        let facts = b.finish();
        assert_eq!(facts.conns.len(), 2);
        assert_eq!(facts.conns.iter().map(|c| c.count).sum::<u64>(), 3);
        assert_eq!(facts.dropped_connections, 2);
        let msgs: Vec<String> = facts.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "conn.log:3: more than 2 distinct destinations: further new destinations are \
                 counted but not tracked"
            ]
        );
    }

    #[test]
    fn http_requests_past_the_cap_are_kept_without_their_method_and_uri() {
        let mut b = FactsBuilder::new();
        b.set_max_http_requests(2);
        let source: std::sync::Arc<str> = std::sync::Arc::from("http.log");
        let server: IpAddr = "192.0.2.80".parse().unwrap();
        // Two requests fill the cap; a repeat of the first still finds its shape; the next
        // two new ones (one to another host) lose their method and URI; a request without
        // either is no loss.
        let requests = [
            ("a.example", Some("/1")),
            ("a.example", Some("/2")),
            ("a.example", Some("/1")),
            ("a.example", Some("/3")),
            ("b.example", Some("/4")),
            ("b.example", None),
        ];
        for (i, (host, uri)) in requests.iter().enumerate() {
            let http = Http {
                ts: Some(i as f64),
                id: Endpoints {
                    resp_h: Some(server),
                    resp_p: Some(80),
                    ..Endpoints::default()
                },
                method: uri.map(|_| "GET".into()),
                host: Some((*host).into()),
                uri: uri.map(Into::into),
                ..Http::default()
            };
            b.record(Record::Http(http), &Location::line(&source, i as u64 + 1));
        }
        let facts = b.finish();
        assert_eq!(facts.http_requests_without_uri, 2);
        let mut got: Vec<(String, Option<String>, u64)> = facts
            .http
            .iter()
            .map(|h| {
                let host = match &h.host {
                    Some(HostValue::Name(n)) => n.clone(),
                    other => format!("{other:?}"),
                };
                (host, h.uri.clone(), h.count)
            })
            .collect();
        got.sort();
        let want = [
            ("a.example", None, 1),
            ("a.example", Some("/1"), 2),
            ("a.example", Some("/2"), 1),
            ("b.example", None, 2),
        ];
        let want: Vec<(String, Option<String>, u64)> = want
            .iter()
            .map(|(h, u, n)| (h.to_string(), u.map(str::to_string), *n))
            .collect();
        assert_eq!(got, want);
        let msgs: Vec<String> = facts.diagnostics.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            msgs,
            vec![
                "http.log:4: more than 2 distinct HTTP requests: further new requests are kept \
                 without their method and URI"
            ]
        );
    }

    #[test]
    fn a_name_answered_between_connections_starts_a_new_aggregate_for_later_ones() {
        // One reader sees conn and DNS rows in turn (a log holding both, read on one thread):
        // the aggregate a destination's connections went to must not outlive a change of its
        // names, even for a connection at a time seen before.
        let src: std::sync::Arc<str> = std::sync::Arc::from("mixed.log");
        let dns = |ts: f64, name: &str| {
            Record::Dns(Dns {
                ts: Some(ts),
                query: Some(name.to_string().into()),
                qtype_name: Some("A".into()),
                answers: smallvec::smallvec!["10.0.0.1".into()],
                ..Dns::default()
            })
        };
        let conn = conn_at;
        let mut b = FactsBuilder::new();
        let rows = [
            dns(0.0, "a.example"),
            conn(10.0),
            // Before the first, in the same epoch: it becomes the first.
            conn(3.0),
            conn(20.0),
            // Late: b.example was asked at 5 s, so connections from then on are its epoch.
            dns(5.0, "b.example"),
            conn(10.0),
            conn(20.0),
            dns(30.0, "c.example"),
            conn(40.0),
            // Earlier again (not before the first), and on both sides of the start of
            // c.example's epoch.
            conn(4.0),
            conn(29.0),
            conn(30.0),
        ];
        for (i, r) in rows.into_iter().enumerate() {
            b.record(r, &Location::line(&src, i as u64 + 1));
        }
        let facts = b.finish();
        // Per epoch: the three before b.example was known and the one at 4 s; the two after
        // and the one at 29 s; those at 40 s and 30 s. Each first is its earliest connection.
        let got: Vec<(f64, u64, String)> = facts
            .conns
            .iter()
            .map(|c| (c.t, c.count, c.first.location.to_string()))
            .collect();
        let want = [(3.0, 4, 3), (10.0, 3, 6), (30.0, 2, 12)];
        let want: Vec<(f64, u64, String)> = want
            .iter()
            .map(|&(t, n, line)| (t, n, format!("mixed.log:{line}")))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn unknown_and_non_finite_times_count_and_pick_the_first_as_the_order_says() {
        /// Port, count, bytes, first and last time, and first line of each aggregate of
        /// connections to 10.0.0.1 at (port, time), the n-th carrying 2^n bytes.
        type Agg = (Option<u16>, u64, u64, Option<f64>, Option<f64>, String);
        fn aggregate(rows: &[(u16, Option<f64>)]) -> Vec<Agg> {
            let src: std::sync::Arc<str> = std::sync::Arc::from("conn.log");
            let mut b = FactsBuilder::new();
            for (i, &(port, ts)) in rows.iter().enumerate() {
                if let Record::Conn(mut c) = conn_at(0.0) {
                    (c.ts, c.id.resp_p, c.orig_bytes) = (ts, Some(port), Some(1 << i));
                    b.record(Record::Conn(c), &Location::line(&src, i as u64 + 1));
                }
            }
            let facts = b.finish();
            let line = |c: &ConnFact| c.first.location.to_string();
            facts
                .conns
                .iter()
                .map(|c| (c.port, c.count, c.bytes, c.first_ts, c.last_ts, line(c)))
                .collect()
        }
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        let at = |ts: &[Option<f64>]| ts.iter().map(|&t| (443, t)).collect::<Vec<_>>();

        // One destination, connections at times of every kind: a known time beats an unknown
        // one, then the earlier time (−∞ included), then the earlier line; NaN is never earlier.
        let times = [
            Some(10.0),
            None,
            Some(inf),
            Some(5.0),
            Some(-inf),
            Some(20.0),
            Some(5.0),
            Some(nan),
            Some(7.0),
            None,
        ];
        let want = (
            Some(443),
            10,
            1023,
            Some(-inf),
            Some(inf),
            "conn.log:5".into(),
        );
        assert_eq!(aggregate(&at(&times)), vec![want]);

        // A destination whose first connection has no time: the first known time takes its
        // place, and a last time of −∞ is a last time; one with no time at all has none.
        let rows = [
            (80, None),
            (80, Some(-inf)),
            (8080, None),
            (8080, None),
            (8080, Some(4.0)),
            (8080, Some(6.0)),
            (9090, None),
            (9090, None),
        ];
        let want = vec![
            (Some(80), 2, 3, Some(-inf), Some(-inf), "conn.log:2".into()),
            (Some(8080), 4, 60, Some(4.0), Some(6.0), "conn.log:5".into()),
            (Some(9090), 2, 192, None, None, "conn.log:7".into()),
        ];
        assert_eq!(aggregate(&rows), want);

        // Known times only, out of order, with ties: the first is the earliest, the earliest
        // line among equals; the last the latest.
        let times = [8.0, 9.0, 3.0, 12.0, 3.0, 2.5, 2.5, 30.0, 1.0, 29.0, 1.0].map(Some);
        let want = (
            Some(443),
            11,
            2047,
            Some(1.0),
            Some(30.0),
            "conn.log:9".into(),
        );
        assert_eq!(aggregate(&at(&times)), vec![want]);
    }

    #[test]
    fn tls_sessions_group_per_shape_and_name_epoch_with_their_connection_times() {
        let mut b = FactsBuilder::new();
        let src: std::sync::Arc<str> = std::sync::Arc::from("x.log");
        let server: IpAddr = "192.0.2.7".parse().unwrap();
        let dns = |ts: f64, name: &str| Dns {
            ts: Some(ts),
            query: Some(name.to_string().into()),
            qtype_name: Some("A".into()),
            answers: smallvec::smallvec!["192.0.2.7".into()],
            ..Dns::default()
        };
        b.record(
            Record::Dns(dns(10.0, "a.example")),
            &Location::line(&src, 1),
        );
        b.record(
            Record::Dns(dns(100.0, "b.example")),
            &Location::line(&src, 2),
        );
        let tls = |ts: f64, uid: &str, line: u64| {
            (
                Record::Tls(Tls {
                    ts: Some(ts),
                    uid: Some(uid.to_string().into()),
                    id: Endpoints {
                        orig_h: "10.0.0.1".parse().ok(),
                        orig_p: Some(40000 + line as u16),
                        resp_h: Some(server),
                        resp_p: Some(443),
                    },
                    server_name: Some("a.example".into()),
                    ..Tls::default()
                }),
                Location::line(&src, line),
            )
        };
        // Sessions logged at 120 s, 130 s, 140 s; the first two belong to connections that
        // began at 50 s and 60 s (before b.example was answered), the third to one at 135 s.
        for (ts, uid, line) in [(130.0, "C2", 11), (120.0, "C1", 10), (140.0, "C3", 12)] {
            let (r, l) = tls(ts, uid, line);
            b.record(r, &l);
        }
        for (ts, uid, line) in [(50.0, "C1", 20), (60.0, "C2", 21), (135.0, "C3", 22)] {
            let conn = Conn {
                ts: Some(ts),
                uid: Some(uid.to_string().into()),
                id: Endpoints {
                    resp_h: Some(server),
                    resp_p: Some(443),
                    ..Endpoints::default()
                },
                proto: Some("tcp".into()),
                ..Conn::default()
            };
            b.record(Record::Conn(conn), &Location::line(&src, line));
        }
        let facts = b.finish();
        type Seen = (f64, u64, Option<f64>, Option<f64>, Pos);
        let got: Vec<Seen> = facts
            .tls
            .iter()
            .map(|t| (t.t, t.count, t.ts, t.last_ts, t.first.location.pos))
            .collect();
        assert_eq!(
            got,
            vec![
                (50.0, 2, Some(120.0), Some(130.0), Pos::Line(10)),
                (135.0, 1, Some(140.0), Some(140.0), Pos::Line(12)),
            ]
        );
        assert_eq!(facts.resolver.display(server, 50.0), Some("a.example"));
        assert_eq!(facts.resolver.display(server, 135.0), Some("b.example"));
    }

    /// Feeds a mix of TLS sessions, HTTP requests and certificate files (one uid, several
    /// uids, none; 4-tuples waited for or only carried), connections joining them by uid, by
    /// 4-tuple (several per 4-tuple) or not at all, and records coming after connections, to a
    /// builder; `threads` > 0 reads the connections through that many partials.
    fn join_mix(budget: Option<usize>, threads: usize, filters_off: bool) -> Facts {
        let mut b = FactsBuilder::new();
        if let Some(n) = budget {
            b.set_join_budget(n);
        }
        if filters_off {
            b.joins.set_filters_off();
        }
        let src: std::sync::Arc<str> = std::sync::Arc::from("mix.log");
        let mut line = 0u64;
        let mut at = || {
            line += 1;
            Location::line(&src, line)
        };
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let server = |i: u64| -> IpAddr { format!("192.0.2.{}", i % 7 + 1).parse().unwrap() };
        for i in 0..40u64 {
            let dns = Dns {
                ts: Some(i as f64 * 25.0),
                query: Some(format!("n{}.example", i % 5).into()),
                qtype_name: Some("A".into()),
                answers: smallvec::smallvec![server(i).to_string().into()],
                ..Dns::default()
            };
            b.record(Record::Dns(dns), &at());
        }
        // Clients .1 and .2: 4-tuples of .2 are mostly only carried by certificate files.
        let ends_of = |c: u8, i: u64| Endpoints {
            orig_h: Some(IpAddr::from([10, 0, 0, c])),
            orig_p: Some(40000 + (i % 97) as u16),
            resp_h: Some(server(i)),
            resp_p: Some(443),
        };
        let ends = |i: u64| ends_of(1, i);
        let mut records = |b: &mut FactsBuilder,
                           from: u64,
                           to: u64,
                           fresh: u64,
                           rnd: &mut dyn FnMut(u64) -> u64| {
            // Uids from `fresh` on were waited for by no earlier record.
            let uid = |i: u64| format!("C{}", fresh + i % 150);
            for i in from..to {
                let ts = (rnd(4) != 0).then(|| rnd(1000) as f64);
                let loc = at();
                let r = match rnd(6) {
                    0 | 1 => Record::Tls(Tls {
                        ts,
                        uid: (rnd(5) != 0).then(|| uid(i).into()),
                        id: ends_of(1 + u8::from(rnd(10) == 0), i),
                        server_name: Some(format!("s{}.example", rnd(3)).into()),
                        ..Tls::default()
                    }),
                    2 => Record::Http(Http {
                        ts,
                        uid: (rnd(4) != 0).then(|| uid(i).into()),
                        id: ends(i),
                        host: Some(format!("h{}.example", rnd(2)).into()),
                        uri: Some("/".into()),
                        ..Http::default()
                    }),
                    3 => Record::File(File {
                        ts,
                        uids: vec![uid(i).into(), uid(i + 7).into()],
                        tx_hosts: vec![server(i)],
                        mime_type: Some("application/x-x509-user-cert".into()),
                        sha1: Some(format!("{:040x}", rnd(3)).into()),
                        ..File::default()
                    }),
                    4 => Record::File(File {
                        ts,
                        uids: vec![format!("D{}", i % 60).into()],
                        id: ends_of(2, i + rnd(2)),
                        mime_type: Some("application/x-x509-ca-cert".into()),
                        sha1: Some(format!("{:040x}", rnd(3)).into()),
                        ..File::default()
                    }),
                    _ => Record::File(File {
                        ts,
                        id: ends(i),
                        mime_type: Some("application/x-x509-user-cert".into()),
                        sha256: Some(format!("{:064x}", rnd(2)).into()),
                        ..File::default()
                    }),
                };
                b.record(r, &loc);
            }
        };
        let conns = |from: u64, to: u64, rnd: &mut dyn FnMut(u64) -> u64| -> Vec<Conn<'static>> {
            (from..to)
                .map(|i| Conn {
                    ts: (rnd(9) != 0).then(|| rnd(1000) as f64),
                    uid: match rnd(7) {
                        0 | 1 => None,
                        2 => Some(format!("D{}", rnd(400)).into()),
                        _ => Some(format!("C{}", rnd(200)).into()),
                    },
                    id: ends_of(1 + u8::from(rnd(3) == 0), i + rnd(3)),
                    proto: Some("tcp".into()),
                    ..Conn::default()
                })
                .collect()
        };
        let feed = |b: &mut FactsBuilder, cs: Vec<Conn<'static>>, base: u64| {
            if threads == 0 {
                for (j, c) in cs.into_iter().enumerate() {
                    b.record(Record::Conn(c), &Location::line(&src, base + j as u64));
                }
                return;
            }
            let mut parts: Vec<ConnPartial<'_>> = (0..threads).map(|_| b.partial()).collect();
            for (j, c) in cs.into_iter().enumerate() {
                if let Some(p) = parts.get_mut(j % threads) {
                    p.record(Record::Conn(c), &Location::line(&src, base + j as u64));
                }
            }
            let parts: Vec<PartialFacts> = parts.into_iter().map(ConnPartial::finish).collect();
            b.merge(parts);
        };
        records(&mut b, 0, 400, 0, &mut rnd);
        let cs = conns(0, 600, &mut rnd);
        feed(&mut b, cs, 100_000);
        // Records after connections, then more connections.
        records(&mut b, 400, 500, 150, &mut rnd);
        let cs = conns(600, 800, &mut rnd);
        feed(&mut b, cs, 200_000);
        b.finish()
    }

    #[test]
    fn joins_past_the_budget_give_what_joins_in_memory_give() {
        for (threads, off) in [(0, false), (2, false), (0, true), (2, true)] {
            let want = join_mix(None, threads, false);
            assert!(want.tls.len() > 20 && want.http.len() > 10 && want.cert_files.len() > 10);
            assert!(want.diagnostics.is_empty(), "{:?}", want.diagnostics);
            // Filters that let everything through stand for their false positives.
            for budget in [0, 1, 7, 450] {
                let got = join_mix(Some(budget), threads, off);
                assert_eq!(got.tls, want.tls, "budget {budget}, threads {threads}");
                assert_eq!(got.http, want.http, "budget {budget}, threads {threads}");
                assert_eq!(got.cert_files, want.cert_files, "budget {budget}");
                assert_eq!(got.conns, want.conns);
                assert!(got.diagnostics.is_empty(), "{:?}", got.diagnostics);
            }
        }
        // Reading connections on threads changes nothing either.
        assert_eq!(
            join_mix(None, 0, false).tls,
            join_mix(Some(0), 3, false).tls
        );
    }

    #[test]
    fn dn_attributes_with_escapes() {
        let dn = r"CN=R3,O=Let's Encrypt,C=US";
        assert_eq!(dn_attribute(dn, "o").as_deref(), Some("Let's Encrypt"));
        assert_eq!(dn_attribute(dn, "CN").as_deref(), Some("R3"));
        let dn = r"CN=a\,b+O=Foo\2C Inc,C=US";
        assert_eq!(dn_attribute(dn, "CN").as_deref(), Some("a,b"));
        assert_eq!(dn_attribute(dn, "O").as_deref(), Some("Foo, Inc"));
        assert_eq!(dn_attribute("garbage", "O"), None);
    }
}
