//! Indicators and whitelist: the store every rule queries, and the builder loaders feed.
//!
//! Loaders (one file per format, e.g. [`tinycheck`]) parse their files and call
//! [`IntelBuilder::add`] / [`WhitelistBuilder::add`] with raw values and their place; the builders
//! validate and normalise (RULES.md §2, §6), key indicators by (type, value) keeping every (tag,
//! source) pair, apply `to_delete` once everything is loaded, and build immutable stores whose
//! lookups cost O(labels) hash probes for names and one probe per prefix length for networks.
//! Invalid entries become `file:line: reason` diagnostics; nothing here is fatal. Builders filled
//! on different threads combine with [`IntelBuilder::merge`] into the store sequential loading
//! gives; indicators are indexed by position (hash tables of positions, no second copy of each
//! value), so big lists cost one value string and one provenance list per indicator.

pub mod csvlist;
pub mod defaults;
pub mod echap;
pub mod export;
pub mod formats;
pub mod misp;
pub mod plain;
pub mod prefix;
pub mod stix;
pub mod text;
pub mod tinycheck;
pub mod zeek;

pub use export::{ExportFormat, ExportSummary, export, stats};
pub use formats::{IocFormat, IocInput, Loaded, load_all, load_any, load_inputs, parse_any};

use crate::FastMap;
use crate::model::{Diagnostic, Location};
use crate::names::{self, normalize_name, parse_addr, valid_domain, valid_label};
use hashbrown::HashTable;
use ipnetwork::IpNetwork;
use prefix::PrefixTable;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;

/// The indicator types of RULES.md §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IocType {
    Ip4addr,
    Ip6addr,
    Cidr,
    Domain,
    Freedns,
    Tld,
    Ns,
    Sha1cert,
    Sha256cert,
    Snort,
}

impl IocType {
    /// Every type, in display order.
    pub const ALL: [IocType; 10] = [
        IocType::Ip4addr,
        IocType::Ip6addr,
        IocType::Cidr,
        IocType::Domain,
        IocType::Freedns,
        IocType::Tld,
        IocType::Ns,
        IocType::Sha1cert,
        IocType::Sha256cert,
        IocType::Snort,
    ];

    /// TinyCheck's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            IocType::Ip4addr => "ip4addr",
            IocType::Ip6addr => "ip6addr",
            IocType::Cidr => "cidr",
            IocType::Domain => "domain",
            IocType::Freedns => "freedns",
            IocType::Tld => "tld",
            IocType::Ns => "ns",
            IocType::Sha1cert => "sha1cert",
            IocType::Sha256cert => "sha256cert",
            IocType::Snort => "snort",
        }
    }

    /// Parses a TinyCheck type name (case-insensitive). `unknown` is not a type: see
    /// [`TypeSpec`].
    pub fn from_name(s: &str) -> Option<IocType> {
        IocType::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for IocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The type a loader gives an entry: a definite type, or `unknown` (inferred, §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeSpec {
    Known(IocType),
    Unknown,
}

impl TypeSpec {
    /// Parses a type name, accepting `unknown`.
    pub fn from_name(s: &str) -> Option<TypeSpec> {
        if s.trim().eq_ignore_ascii_case("unknown") {
            Some(TypeSpec::Unknown)
        } else {
            IocType::from_name(s).map(TypeSpec::Known)
        }
    }
}

/// One (tag, source) pair of an indicator.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Provenance {
    /// Lower-cased tag, empty when missing.
    pub tag: String,
    /// Where the entry was read.
    pub location: Location,
    /// TLP or other metadata kept as text, when given.
    pub tlp: Option<String>,
}

/// One indicator: a (type, value) key and every place it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indicator {
    pub kind: IocType,
    /// Normalised value: a canonical address, a CIDR, a name, a TLD without its dot, lower-case
    /// hex, or snort rule text.
    pub value: String,
    pub provenance: Vec<Provenance>,
}

impl Indicator {
    /// True when `tracker` is the only tag (RULES.md §6).
    pub fn tracker_only(&self) -> bool {
        !self.provenance.is_empty() && self.provenance.iter().all(|p| p.tag == "tracker")
    }

    /// True when some provenance is tagged `tracker`.
    pub fn has_tracker(&self) -> bool {
        self.provenance.iter().any(|p| p.tag == "tracker")
    }

    /// True when some provenance has a tag other than `tracker`.
    pub fn has_non_tracker(&self) -> bool {
        self.provenance.iter().any(|p| p.tag != "tracker")
    }

    /// Distinct tags, sorted.
    pub fn tags(&self) -> Vec<&str> {
        let mut t: Vec<&str> = self.provenance.iter().map(|p| p.tag.as_str()).collect();
        t.sort_unstable();
        t.dedup();
        t
    }
}

/// Normalises and validates a value for a definite type; the error is the reason to report.
pub fn normalize_value(kind: IocType, raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("missing value".into());
    }
    normalized(kind, raw).ok_or_else(|| match kind {
        IocType::Ip4addr => format!("invalid IPv4 address {raw:?}"),
        IocType::Ip6addr => format!("invalid IPv6 address {raw:?}"),
        IocType::Cidr => format!("invalid CIDR {raw:?}"),
        IocType::Sha1cert | IocType::Sha256cert => {
            let want = if kind == IocType::Sha1cert { 40 } else { 64 };
            format!("invalid {} {raw:?} (want {want} hex digits)", kind.name())
        }
        _ => format!("invalid {} {raw:?}", kind.name()),
    })
}

/// [`normalize_value`] without the reason (no allocation for a value that does not fit), for
/// type inference over large lists. `raw` is trimmed and not empty.
fn normalized(kind: IocType, raw: &str) -> Option<String> {
    // Cheap shape checks first: type inference tries every type on every untyped value.
    let b = raw.as_bytes();
    let ipv4_chars = || b.iter().all(|c| c.is_ascii_digit() || *c == b'.');
    match kind {
        IocType::Ip4addr if !ipv4_chars() && !b.contains(&b':') => return None,
        IocType::Ip6addr if !b.contains(&b':') => return None,
        IocType::Cidr if !b.contains(&b'/') && !b.contains(&b':') && !ipv4_chars() => {
            return None;
        }
        _ => {}
    }
    match kind {
        IocType::Ip4addr => match parse_addr(raw) {
            Some(ip @ IpAddr::V4(_)) => Some(ip.to_string()),
            _ => None,
        },
        IocType::Ip6addr => match parse_addr(raw) {
            Some(ip @ IpAddr::V6(_)) => Some(ip.to_string()),
            _ => None,
        },
        IocType::Cidr => parse_cidr(raw).map(|n| n.to_string()),
        IocType::Domain | IocType::Freedns | IocType::Ns => {
            let n = normalize_name(raw)?;
            let n = match n.strip_prefix("*.") {
                Some(rest) => rest.to_string(),
                None => n,
            };
            valid_domain(&n).then_some(n)
        }
        IocType::Tld => {
            let n = normalize_name(raw)?;
            let n = match n.strip_prefix('.') {
                Some(rest) => rest.to_string(),
                None => n,
            };
            valid_label(&n).then_some(n)
        }
        IocType::Sha1cert | IocType::Sha256cert => {
            let want = if kind == IocType::Sha1cert { 40 } else { 64 };
            let digits = raw.bytes().filter(|b| *b != b':').count();
            if digits != want || !raw.bytes().all(|b| b == b':' || b.is_ascii_hexdigit()) {
                return None;
            }
            Some(
                raw.bytes()
                    .filter(|b| *b != b':')
                    .map(|b| char::from(b.to_ascii_lowercase()))
                    .collect(),
            )
        }
        IocType::Snort => Some(raw.to_string()),
    }
}

/// Parses a CIDR or a bare address (as /32 or /128), host bits masked off, IPv4-mapped folded.
pub fn parse_cidr(raw: &str) -> Option<IpNetwork> {
    let raw = raw.trim();
    let net = match raw.split_once('/') {
        Some((addr, len)) => {
            let ip = parse_addr(addr)?;
            let len: u8 = len.trim().parse().ok()?;
            let len = match (ip, addr.contains(':')) {
                (IpAddr::V4(_), true) => len.checked_sub(96)?,
                _ => len,
            };
            IpNetwork::new(ip, len).ok()?
        }
        None => IpNetwork::from(parse_addr(raw)?),
    };
    IpNetwork::new(net.network(), net.prefix()).ok()
}

/// Infers the type of an `unknown` entry: the first of ip4addr, ip6addr, cidr, sha1cert,
/// sha256cert, domain that the value fits.
pub fn infer_type(raw: &str) -> Option<IocType> {
    [
        IocType::Ip4addr,
        IocType::Ip6addr,
        IocType::Cidr,
        IocType::Sha1cert,
        IocType::Sha256cert,
        IocType::Domain,
    ]
    .into_iter()
    .find(|t| {
        let raw = raw.trim();
        !raw.is_empty() && normalized(*t, raw).is_some()
    })
}

/// Like [`infer_type`], also returning the normalised value (one normalisation per value).
pub fn infer_normalized(raw: &str) -> Option<(IocType, String)> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    [
        IocType::Ip4addr,
        IocType::Ip6addr,
        IocType::Cidr,
        IocType::Sha1cert,
        IocType::Sha256cert,
        IocType::Domain,
    ]
    .into_iter()
    .find_map(|t| normalized(t, raw).map(|v| (t, v)))
}

/// Counts the summary shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntelStats {
    /// (source file, type) -> number of entries loaded from that source.
    pub per_source: BTreeMap<(String, IocType), u64>,
    /// type -> distinct indicators after merging and `to_delete`.
    pub per_type: BTreeMap<IocType, u64>,
    /// Entries rejected, with their place and reason.
    pub invalid: Vec<Diagnostic>,
    /// Values removed by `to_delete`.
    pub deleted: u64,
    /// (source file, what) -> entries read but not loaded because captriage has no matching
    /// indicator type (a Zeek `Intel::EMAIL`, a STIX pattern on a file hash, ...).
    pub unsupported: BTreeMap<(String, String), u64>,
}

/// Collects indicator entries from any number of files.
#[derive(Debug, Default)]
pub struct IntelBuilder {
    /// The (source, type) run being counted, flushed into `stats.per_source` when it changes
    /// (files load one after another, so this avoids a map lookup per entry).
    run: Option<(Arc<str>, IocType, u64)>,
    /// Per type (indexed by `IocType as usize`): positions in `indicators`, hashed by value.
    /// These become the store's lookup tables in [`IntelBuilder::build`] without rehashing.
    index: [ValueIndex; IocType::ALL.len()],
    indicators: Vec<Indicator>,
    /// Per indicator: its type and the first 8 bytes of its value, the sort key `build` uses
    /// (taken while the value is in cache, so sorting never walks the values).
    keys: Vec<(IocType, u64)>,
    to_delete: Vec<String>,
    stats: IntelStats,
}

/// The first 8 bytes of a value as a big-endian integer (zero-padded): ordering by it agrees
/// with ordering the values, up to ties.
fn sort_prefix(v: &str) -> u64 {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(v.bytes()) {
        *d = s;
    }
    u64::from_be_bytes(b)
}

impl IntelBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one entry. An invalid value is recorded as a diagnostic at `location` and returns
    /// false.
    pub fn add(
        &mut self,
        spec: TypeSpec,
        raw_value: &str,
        tag: Option<&str>,
        tlp: Option<&str>,
        location: Location,
    ) -> bool {
        let kind = match spec {
            TypeSpec::Known(k) => k,
            TypeSpec::Unknown => match infer_type(raw_value) {
                Some(k) => k,
                None => {
                    self.invalid(
                        location,
                        format!("value {raw_value:?} fits no indicator type"),
                    );
                    return false;
                }
            },
        };
        let value = match normalize_value(kind, raw_value) {
            Ok(v) => v,
            Err(reason) => {
                self.invalid(location, reason);
                return false;
            }
        };
        self.add_normalized(kind, value, tag, tlp, location)
    }

    /// [`IntelBuilder::add`] for a value already normalised by [`normalize_value`] (or
    /// [`infer_normalized`]) for `kind`: loaders of large untyped lists use it to normalise once.
    pub(crate) fn add_normalized(
        &mut self,
        kind: IocType,
        value: String,
        tag: Option<&str>,
        tlp: Option<&str>,
        location: Location,
    ) -> bool {
        match &mut self.run {
            Some((src, k, n)) if *k == kind && Arc::ptr_eq(src, &location.source) => *n += 1,
            _ => {
                self.flush_run();
                self.run = Some((Arc::clone(&location.source), kind, 1));
            }
        }
        let prov = Provenance {
            tag: tag.unwrap_or("").trim().to_lowercase(),
            location,
            tlp: tlp
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty()),
        };
        let Some(index) = self.index.get_mut(kind as usize) else {
            return false;
        };
        match index.find(&self.indicators, &value) {
            Some(i) => {
                if let Some(ind) = self.indicators.get_mut(i) {
                    ind.provenance.push(prov);
                }
            }
            None => {
                index.insert(&value, self.indicators.len());
                self.keys.push((kind, sort_prefix(&value)));
                self.indicators.push(Indicator {
                    kind,
                    value,
                    provenance: vec![prov],
                });
            }
        }
        true
    }

    /// Takes in everything `later` collected, as if its files had been loaded into `self` after
    /// the ones already here: rejected entries keep that order, and the built store is the same
    /// as sequential loading gives (indicators and their provenance are sorted by `build`). The
    /// smaller side's indicators are re-inserted into the larger side's maps.
    pub fn merge(&mut self, mut later: IntelBuilder) {
        self.flush_run();
        later.flush_run();
        let later_is_larger = later.indicators.len() > self.indicators.len();
        if later_is_larger {
            std::mem::swap(self, &mut later);
        }
        let mut other = later;
        // Every builder hashes values alike, so the other side's hashes are reused and a new
        // value is never compared as a string.
        for (kind, index) in IocType::ALL.into_iter().zip(&other.index) {
            for &(h, pos) in index.table.iter() {
                if let Some(ind) = other.indicators.get_mut(pos) {
                    let ind = Indicator {
                        kind,
                        value: std::mem::take(&mut ind.value),
                        provenance: std::mem::take(&mut ind.provenance),
                    };
                    self.insert_indicator(h, ind);
                }
            }
        }
        self.to_delete.extend(other.to_delete);
        let IntelStats {
            per_source,
            mut invalid,
            deleted,
            unsupported,
            ..
        } = other.stats;
        for (k, n) in per_source {
            *self.stats.per_source.entry(k).or_default() += n;
        }
        for (k, n) in unsupported {
            *self.stats.unsupported.entry(k).or_default() += n;
        }
        self.stats.deleted += deleted;
        if later_is_larger {
            invalid.append(&mut self.stats.invalid);
            self.stats.invalid = invalid;
        } else {
            self.stats.invalid.append(&mut invalid);
        }
    }

    /// Adds a whole indicator whose value hashes to `h` (its provenance appended when the key
    /// is already known).
    fn insert_indicator(&mut self, h: u64, ind: Indicator) {
        let Some(index) = self.index.get_mut(ind.kind as usize) else {
            return;
        };
        match index.find_hashed(&self.indicators, h, &ind.value) {
            Some(i) => {
                if let Some(have) = self.indicators.get_mut(i) {
                    have.provenance.extend(ind.provenance);
                }
            }
            None => {
                index.insert_hashed(h, self.indicators.len());
                self.keys.push((ind.kind, sort_prefix(&ind.value)));
                self.indicators.push(ind);
            }
        }
    }

    /// Records a rejected entry.
    pub fn invalid(&mut self, location: Location, message: impl Into<String>) {
        self.stats.invalid.push(Diagnostic {
            location,
            message: message.into(),
        });
    }

    /// Schedules `value` for removal, whatever its type, once every file is loaded.
    pub fn delete(&mut self, value: &str) {
        self.to_delete.push(value.trim().to_string());
    }

    fn flush_run(&mut self) {
        if let Some((src, kind, n)) = self.run.take() {
            *self
                .stats
                .per_source
                .entry((src.to_string(), kind))
                .or_default() += n;
        }
    }

    /// Reserves room for about `n` more indicators, mostly of type `kind` (loaders of large
    /// files call it once, which saves rehashing while the maps grow).
    pub fn reserve(&mut self, kind: IocType, n: usize) {
        self.indicators.reserve(n);
        self.keys.reserve(n);
        if let Some(m) = self.index.get_mut(kind as usize) {
            m.reserve(n);
        }
    }

    /// Counts an entry of `source` that was read but has no captriage indicator type.
    pub fn unsupported(&mut self, source: &str, what: &str) {
        *self
            .stats
            .unsupported
            .entry((source.to_string(), what.to_string()))
            .or_default() += 1;
    }

    /// The entries rejected so far.
    pub fn rejected(&self) -> &[Diagnostic] {
        &self.stats.invalid
    }

    /// Prefixes `context: ` to the messages of the entries rejected since the count was `start`
    /// (loaders use it to name the entry within a line, e.g. `iocs[12]`).
    pub fn annotate_rejected(&mut self, start: usize, context: &str) {
        for d in self.stats.invalid.iter_mut().skip(start) {
            d.message = format!("{context}: {}", d.message);
        }
    }

    /// Applies `to_delete` and builds the lookup structures.
    pub fn build(mut self) -> Intel {
        self.flush_run();
        let mut doomed: Vec<String> = Vec::new();
        for raw in &self.to_delete {
            doomed.push(raw.clone());
            for kind in IocType::ALL {
                if let Ok(v) = normalize_value(kind, raw) {
                    doomed.push(v);
                }
            }
        }
        doomed.sort();
        doomed.dedup();
        // A deleted value goes whatever its type.
        let mut deleted = vec![false; self.indicators.len()];
        for d in &doomed {
            for index in &self.index {
                if let Some(slot) = index
                    .find(&self.indicators, d)
                    .and_then(|i| deleted.get_mut(i))
                {
                    *slot = true;
                }
            }
        }
        let inds = &self.indicators;
        // Sort keys that compare without touching the heap in most cases: the type, then the
        // first 8 bytes of the value as a big-endian integer, then the whole value.
        let keyed: Vec<(IocType, u64, usize)> = self
            .keys
            .iter()
            .zip(&deleted)
            .enumerate()
            .filter(|(_, (_, gone))| !**gone)
            .map(|(i, (&(k, p), _))| (k, p, i))
            .collect();
        self.stats.deleted = (inds.len() - keyed.len()) as u64;
        let cmp = |a: &(IocType, u64, usize), b: &(IocType, u64, usize)| {
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| match (inds.get(a.2), inds.get(b.2)) {
                    (Some(x), Some(y)) => x.value.cmp(&y.value),
                    _ => a.2.cmp(&b.2),
                })
        };
        let order = sorted_positions(keyed, cmp);
        let mut rank = vec![usize::MAX; inds.len()];
        for (r, &i) in order.iter().enumerate() {
            if let Some(slot) = rank.get_mut(i) {
                *slot = r;
            }
        }
        let mut intel = Intel {
            stats: self.stats,
            ..Intel::default()
        };
        // The builder's tables become the lookup tables: only their positions change.
        intel.index = self.index.map(|mut t| {
            t.remap(&rank);
            t
        });
        let mut per_type = [0u64; IocType::ALL.len()];
        let mut sorted = Vec::with_capacity(order.len());
        for &i in &order {
            let Some(ind) = self.indicators.get_mut(i) else {
                continue;
            };
            let mut ind = Indicator {
                kind: ind.kind,
                value: std::mem::take(&mut ind.value),
                provenance: std::mem::take(&mut ind.provenance),
            };
            if ind.provenance.len() > 1 {
                ind.provenance.sort();
                ind.provenance.dedup();
            }
            if let Some(n) = per_type.get_mut(ind.kind as usize) {
                *n += 1;
            }
            let r = sorted.len();
            match ind.kind {
                IocType::Ip4addr | IocType::Ip6addr => {
                    if let Some(ip) = parse_addr(&ind.value) {
                        intel.addrs.insert(ip, r);
                    }
                }
                IocType::Cidr => {
                    if let Some(net) = parse_cidr(&ind.value) {
                        intel.nets.insert(net, r);
                    }
                }
                _ => {}
            }
            sorted.push(ind);
        }
        for (k, n) in IocType::ALL.into_iter().zip(per_type) {
            if n > 0 {
                intel.stats.per_type.insert(k, n);
            }
        }
        intel.indicators = sorted;
        intel
    }
}

/// Sorts `keyed` (whose keys are all distinct, so any sort gives one order) and returns the
/// positions it carries. Large lists are sorted in two halves on two threads and merged.
fn sorted_positions<F>(mut keyed: Vec<(IocType, u64, usize)>, cmp: F) -> Vec<usize>
where
    F: Fn(&(IocType, u64, usize), &(IocType, u64, usize)) -> std::cmp::Ordering + Sync,
{
    let parallel =
        keyed.len() >= 100_000 && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    if !parallel {
        keyed.sort_unstable_by(&cmp);
        return keyed.into_iter().map(|k| k.2).collect();
    }
    let mid = keyed.len() / 2;
    let (left, right) = keyed.split_at_mut(mid);
    std::thread::scope(|s| {
        s.spawn(|| left.sort_unstable_by(&cmp));
        right.sort_unstable_by(&cmp);
    });
    let (left, right) = keyed.split_at(mid);
    let mut out = Vec::with_capacity(keyed.len());
    let (mut l, mut r) = (left.iter().peekable(), right.iter().peekable());
    loop {
        let next = match (l.peek(), r.peek()) {
            (Some(a), Some(b)) => {
                if cmp(a, b).is_le() {
                    l.next()
                } else {
                    r.next()
                }
            }
            (Some(_), None) => l.next(),
            (None, Some(_)) => r.next(),
            (None, None) => break,
        };
        if let Some(k) = next {
            out.push(k.2);
        }
    }
    out
}

/// Positions in an indicator list, hashed by the indicator's value: a value -> position map
/// that keeps no copy of the value (the indicator holds it), only its hash, so growing the table
/// or merging builders never reads the values again. Every method takes the list the positions
/// point into.
#[derive(Debug)]
struct ValueIndex {
    /// (hash of the value, position).
    table: HashTable<(u64, usize)>,
    hasher: foldhash::fast::FixedState,
}

impl Default for ValueIndex {
    fn default() -> Self {
        // One seed per process, random: every index hashes alike (merges reuse hashes), and
        // crafted lists cannot aim at one.
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed =
            SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64));
        ValueIndex {
            table: HashTable::new(),
            hasher: foldhash::fast::FixedState::with_seed(*seed),
        }
    }
}

impl ValueIndex {
    fn hash(&self, value: &str) -> u64 {
        self.hasher.hash_one(value)
    }

    /// The position of `value`.
    fn find(&self, inds: &[Indicator], value: &str) -> Option<usize> {
        self.find_hashed(inds, self.hash(value), value)
    }

    /// The position of `value`, whose hash is `h`.
    fn find_hashed(&self, inds: &[Indicator], h: u64, value: &str) -> Option<usize> {
        self.table
            .find(h, |&(eh, i)| {
                eh == h && inds.get(i).is_some_and(|x| x.value == value)
            })
            .map(|&(_, i)| i)
    }

    /// Records `pos` (the position `value` will have) for a value not yet present.
    fn insert(&mut self, value: &str, pos: usize) {
        self.insert_hashed(self.hash(value), pos);
    }

    /// [`ValueIndex::insert`] for a value whose hash is `h`.
    fn insert_hashed(&mut self, h: u64, pos: usize) {
        self.table.insert_unique(h, (h, pos), |&(eh, _)| eh);
    }

    /// Makes room for `n` more values.
    fn reserve(&mut self, n: usize) {
        self.table.reserve(n, |&(eh, _)| eh);
    }

    /// Moves every position `p` to `rank[p]`, dropping those ranked `usize::MAX`.
    fn remap(&mut self, rank: &[usize]) {
        self.table.retain(|(_, v)| match rank.get(*v) {
            Some(&r) if r != usize::MAX => {
                *v = r;
                true
            }
            _ => false,
        });
    }
}

/// The immutable indicator store.
#[derive(Debug, Default)]
pub struct Intel {
    indicators: Vec<Indicator>,
    addrs: FastMap<IpAddr, usize>,
    nets: PrefixTable<usize>,
    /// Per type (indexed by `IocType as usize`): positions in `indicators` by value (the
    /// address and network types are looked up through `addrs` and `nets` instead).
    index: [ValueIndex; IocType::ALL.len()],
    stats: IntelStats,
}

impl Intel {
    /// Every indicator, sorted by (type, value).
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// Load counts and rejected entries.
    pub fn stats(&self) -> &IntelStats {
        &self.stats
    }

    fn get(&self, idx: &usize) -> impl Iterator<Item = &Indicator> {
        self.indicators.get(*idx).into_iter()
    }

    /// The indicator of type `kind` whose value is `value`.
    fn find(&self, kind: IocType, value: &str) -> Option<&Indicator> {
        self.index
            .get(kind as usize)?
            .find(&self.indicators, value)
            .and_then(|i| self.indicators.get(i))
    }

    /// Indicators of type `kind` whose value is `name` or one of its parent domains (only the
    /// strict parents unless `include_self`), most specific first.
    fn suffix_hits(&self, kind: IocType, name: &str, include_self: bool) -> Vec<&Indicator> {
        names::suffixes(name)
            .filter(|s| include_self || s.len() != name.len())
            .filter_map(|s| self.find(kind, s))
            .collect()
    }

    /// ip4addr/ip6addr indicators equal to `ip` (IOC-01).
    pub fn addr(&self, ip: IpAddr) -> Vec<&Indicator> {
        self.addrs
            .get(&ip)
            .map(|v| self.get(v).collect())
            .unwrap_or_default()
    }

    /// cidr indicators containing `ip` (IOC-02), most specific first.
    pub fn networks(&self, ip: IpAddr) -> Vec<&Indicator> {
        self.nets
            .matches(ip)
            .into_iter()
            .filter_map(|&i| self.indicators.get(i))
            .collect()
    }

    /// domain indicators that cover `name` (IOC-03/04, SSL-04, IOC-08).
    pub fn domains(&self, name: &str) -> Vec<&Indicator> {
        self.suffix_hits(IocType::Domain, name, true)
    }

    /// freedns indicators that `name` is strictly under (IOC-05, IOC-09).
    pub fn freedns(&self, name: &str) -> Vec<&Indicator> {
        self.suffix_hits(IocType::Freedns, name, false)
    }

    /// tld indicators for `name`'s last label, when it has more than one (IOC-06, IOC-10).
    pub fn tlds(&self, name: &str) -> Vec<&Indicator> {
        match name.rsplit_once('.') {
            Some((_, tld)) => self.find(IocType::Tld, tld).into_iter().collect(),
            None => Vec::new(),
        }
    }

    /// ns indicators that the nameserver `name` is strictly under (ACT-01).
    pub fn ns(&self, name: &str) -> Vec<&Indicator> {
        self.suffix_hits(IocType::Ns, name, false)
    }

    /// sha1cert/sha256cert indicators equal to `hex` (IOC-07); the length picks the type.
    pub fn cert(&self, hex: &str) -> Vec<&Indicator> {
        let h = hex.trim().to_ascii_lowercase();
        [IocType::Sha1cert, IocType::Sha256cert]
            .into_iter()
            .filter_map(|k| self.find(k, &h))
            .collect()
    }

    /// Number of snort rules loaded (accepted, never evaluated).
    pub fn snort_rules(&self) -> u64 {
        self.stats
            .per_type
            .get(&IocType::Snort)
            .copied()
            .unwrap_or(0)
    }
}

/// One whitelist entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WhitelistEntry {
    /// The normalised entry as shown in reports (`8.8.8.8`, `192.168.0.0/16`, `google.com`).
    pub value: String,
    pub location: Location,
}

#[derive(Clone, Debug)]
enum WlKind {
    Addr(IpAddr),
    Net(IpNetwork),
    Domain(String),
}

/// Collects whitelist entries from any number of files.
#[derive(Debug, Default)]
pub struct WhitelistBuilder {
    entries: Vec<(WlKind, WhitelistEntry)>,
    to_delete: Vec<String>,
    invalid: Vec<Diagnostic>,
}

impl WhitelistBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one entry of type ip4addr, ip6addr, cidr, domain or unknown. Invalid entries become
    /// diagnostics and return false.
    pub fn add(&mut self, spec: TypeSpec, raw: &str, location: Location) -> bool {
        let kind = match spec {
            TypeSpec::Known(k) => Some(k),
            TypeSpec::Unknown => infer_type(raw).filter(|k| {
                matches!(
                    k,
                    IocType::Ip4addr | IocType::Ip6addr | IocType::Cidr | IocType::Domain
                )
            }),
        };
        let parsed = match kind {
            Some(IocType::Ip4addr | IocType::Ip6addr) => {
                normalize_value(kind.unwrap_or(IocType::Ip4addr), raw)
                    .ok()
                    .and_then(|v| parse_addr(&v))
                    .map(WlKind::Addr)
            }
            Some(IocType::Cidr) => parse_cidr(raw).map(WlKind::Net),
            Some(IocType::Domain) => normalize_value(IocType::Domain, raw)
                .ok()
                .map(WlKind::Domain),
            _ => None,
        };
        match parsed {
            Some(k) => {
                let value = match &k {
                    WlKind::Addr(a) => a.to_string(),
                    WlKind::Net(n) => n.to_string(),
                    WlKind::Domain(d) => d.clone(),
                };
                self.entries.push((k, WhitelistEntry { value, location }));
                true
            }
            None => {
                self.invalid.push(Diagnostic {
                    location,
                    message: format!(
                        "invalid whitelist entry {raw:?}{}",
                        kind.map(|k| format!(" of type {k}")).unwrap_or_default()
                    ),
                });
                false
            }
        }
    }

    /// Records a rejected entry.
    pub fn invalid(&mut self, location: Location, message: impl Into<String>) {
        self.invalid.push(Diagnostic {
            location,
            message: message.into(),
        });
    }

    /// Schedules `value` for removal once every file is loaded.
    pub fn delete(&mut self, value: &str) {
        self.to_delete.push(value.trim().to_string());
    }

    /// The entries rejected so far.
    pub fn rejected(&self) -> &[Diagnostic] {
        &self.invalid
    }

    /// Prefixes `context: ` to the messages of the entries rejected since the count was `start`.
    pub fn annotate_rejected(&mut self, start: usize, context: &str) {
        for d in self.invalid.iter_mut().skip(start) {
            d.message = format!("{context}: {}", d.message);
        }
    }

    /// Applies `to_delete` and builds the lookup structures.
    pub fn build(self) -> Whitelist {
        let mut doomed: Vec<String> = Vec::new();
        for raw in &self.to_delete {
            doomed.push(raw.to_lowercase());
            for kind in [
                IocType::Ip4addr,
                IocType::Ip6addr,
                IocType::Cidr,
                IocType::Domain,
            ] {
                if let Ok(v) = normalize_value(kind, raw) {
                    doomed.push(v);
                }
            }
        }
        let mut wl = Whitelist {
            invalid: self.invalid,
            ..Whitelist::default()
        };
        let mut entries = self.entries;
        entries.retain(|(_, e)| !doomed.contains(&e.value));
        entries.sort_by(|a, b| a.1.cmp(&b.1));
        for (kind, entry) in entries {
            let i = wl.entries.len();
            match kind {
                WlKind::Addr(a) => {
                    wl.addrs.entry(a).or_insert(i);
                }
                WlKind::Net(n) => wl.nets.insert(n, i),
                WlKind::Domain(d) => {
                    wl.domains.entry(d).or_insert(i);
                }
            }
            wl.entries.push(entry);
        }
        wl
    }
}

/// The immutable whitelist.
#[derive(Debug, Default)]
pub struct Whitelist {
    entries: Vec<WhitelistEntry>,
    addrs: HashMap<IpAddr, usize>,
    nets: PrefixTable<usize>,
    domains: HashMap<String, usize>,
    invalid: Vec<Diagnostic>,
}

impl Whitelist {
    /// The entry matching an address (equal address, else most specific network).
    pub fn ip(&self, ip: IpAddr) -> Option<&WhitelistEntry> {
        self.addrs
            .get(&ip)
            .or_else(|| self.nets.first(ip))
            .and_then(|&i| self.entries.get(i))
    }

    /// The most specific domain entry covering `name`.
    pub fn name(&self, name: &str) -> Option<&WhitelistEntry> {
        names::suffixes(name)
            .find_map(|s| self.domains.get(s))
            .and_then(|&i| self.entries.get(i))
    }

    /// Every entry, sorted.
    pub fn entries(&self) -> &[WhitelistEntry] {
        &self.entries
    }

    /// Rejected entries.
    pub fn invalid(&self) -> &[Diagnostic] {
        &self.invalid
    }
}

/// Shared handle for a file name used in [`Location`]s.
pub fn source_name(path: &std::path::Path) -> Arc<str> {
    Arc::from(path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(line: u64) -> Location {
        Location::line(&Arc::from("t.json"), line)
    }

    #[test]
    fn unknown_ipv4_is_an_address_not_a_cidr() {
        // D22: TinyCheck typed a bare IPv4 `unknown` entry as cidr.
        assert_eq!(infer_type("203.0.113.66"), Some(IocType::Ip4addr));
        assert_eq!(infer_type("10.0.0.0/8"), Some(IocType::Cidr));
        assert_eq!(infer_type("evil.com"), Some(IocType::Domain));
        assert_eq!(infer_type(&"a".repeat(40)), Some(IocType::Sha1cert));
    }

    #[test]
    fn same_key_merges_sources_and_tags() {
        let mut b = IntelBuilder::new();
        assert!(b.add(
            TypeSpec::Known(IocType::Domain),
            "Evil-C2.com.",
            Some("Stalkerware"),
            None,
            loc(1)
        ));
        assert!(b.add(
            TypeSpec::Known(IocType::Domain),
            "*.evil-c2.com",
            Some("tracker"),
            None,
            loc(2)
        ));
        assert!(!b.add(
            TypeSpec::Known(IocType::Domain),
            "http://x.com/a",
            None,
            None,
            loc(3)
        ));
        let intel = b.build();
        let hits = intel.domains("api.evil-c2.com");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].tags(), vec!["stalkerware", "tracker"]);
        assert!(intel.domains("notevil-c2.com").is_empty());
        assert_eq!(intel.stats().invalid.len(), 1);
        assert_eq!(
            intel.stats().invalid[0].to_string(),
            "t.json:3: invalid domain \"http://x.com/a\""
        );
    }

    #[test]
    fn tld_with_or_without_dot_and_delete() {
        let mut b = IntelBuilder::new();
        b.add(TypeSpec::Known(IocType::Tld), ".xyz", None, None, loc(1));
        b.add(TypeSpec::Known(IocType::Tld), "top", None, None, loc(2));
        b.add(
            TypeSpec::Known(IocType::Ip4addr),
            "1.2.3.4",
            None,
            None,
            loc(3),
        );
        b.delete("1.2.3.4");
        let intel = b.build();
        assert_eq!(intel.tlds("shop.something.xyz").len(), 1);
        assert_eq!(intel.tlds("foo.top").len(), 1);
        assert!(intel.tlds("xyz").is_empty());
        assert!(intel.addr("1.2.3.4".parse().unwrap()).is_empty());
    }

    #[test]
    fn two_thread_sort_matches_one_thread_sort() {
        // Above the parallel threshold; keys distinct, in a scrambled order.
        let n = 150_001usize;
        let kinds = IocType::ALL;
        let keyed: Vec<(IocType, u64, usize)> = (0..n)
            .map(|i| {
                let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (kinds[(x % 10) as usize], x >> 40, i)
            })
            .collect();
        let cmp = |a: &(IocType, u64, usize), b: &(IocType, u64, usize)| a.cmp(b);
        let mut want = keyed.clone();
        want.sort();
        let want: Vec<usize> = want.into_iter().map(|k| k.2).collect();
        assert_eq!(sorted_positions(keyed, cmp), want);
    }

    #[test]
    fn whitelist_ipv6_cidr_and_domains() {
        let mut b = WhitelistBuilder::new();
        b.add(TypeSpec::Known(IocType::Cidr), "ff00::/8", loc(1));
        b.add(TypeSpec::Known(IocType::Domain), "google.com", loc(2));
        let wl = b.build();
        assert!(wl.ip("ff02::fb".parse().unwrap()).is_some());
        assert_eq!(
            wl.name("www.google.com").map(|e| e.value.as_str()),
            Some("google.com")
        );
        assert!(wl.name("notgoogle.com").is_none());
    }
}
