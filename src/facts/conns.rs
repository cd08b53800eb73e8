//! Connection aggregation, built by one thread and mergeable with others built in parallel.
//!
//! A [`ConnAgg`] aggregates conn records per (server, port, protocol, services, name epoch). Every
//! record carries its *order*: its position in the sequential reading order (file rank and line
//! for logs read in parallel, an arrival counter for records fed to the builder itself). Each
//! order-sensitive choice is made by order, not by arrival, so aggregates built by several
//! threads over parts of the input merge into exactly what one thread reading everything in order
//! would have built: the first occurrence of a destination is the one with the smallest (ts,
//! order), the time of a wanted uid is that of its first connection by order, and the times of a
//! wanted 4-tuple are the first 1024 by order. Only past the caps (destinations tracked,
//! timeline buckets) does the choice of what is kept depend on how the work was split.
//!
//! [`ConnPartial`] is the [`Sink`] a reading thread fills: conn records are aggregated, anything
//! else (rare in conn-phase files) is kept with its order for replay, diagnostics are kept with
//! their order. [`super::FactsBuilder::merge`] folds partials into the builder.

use super::joins::{Hits, Wants};
use super::{ConnFact, MAX_DESTINATIONS, MAX_DIAGNOSTICS, MAX_TIMELINE, occurrence, time, tuple};
use crate::FastMap;
use crate::input::zeek::Columns;
use crate::model::{Conn, Diagnostic, Location, Pos, RankedSink, Record, Sink};
use crate::resolve::Resolver;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Key of one aggregate: server, port, interned protocol, interned services, name epoch.
type ConnKey = (IpAddr, Option<u16>, u32, u32, u32);

/// A destination: an aggregate's key without the name epoch.
type DestKey = (IpAddr, Option<u16>, u32, u32);

/// The aggregate a destination's latest connection went to, the times whose connections go to
/// the same one (those of its name epoch), and what its connections since added to it: nearly
/// every row then touches this alone, not the aggregate, whose counts are brought up to date by
/// [`ConnAgg::settle`] before anything reads them. It is kept to 48 bytes (80 with its key), as
/// one is read for nearly every row and a thread holds one per destination: times are plain
/// `f64`s, and connections whose time is known but not finite do not go through it.
#[derive(Clone, Copy, Debug)]
struct Latest {
    from: f64,
    until: f64,
    /// The aggregate's first time (+∞ when unknown): a connection later than it cannot come
    /// before the aggregate's first, and only one that is not is compared with it in full.
    first_ts: f64,
    /// The latest time counted here, −∞ when none.
    last_ts: f64,
    /// Connections counted here and not yet in the aggregate, and their bytes.
    bytes: u64,
    count: u32,
    entry: u32,
}

/// Connections a [`Latest`] counts before it settles into its aggregate (tests settle after a
/// few, so that every test goes through the path).
const LATEST_COUNT_MAX: u32 = if cfg!(test) { 3 } else { u32::MAX };

impl Latest {
    /// Moves what was counted here into the aggregate `e`.
    fn settle(&mut self, e: &mut Entry) {
        let last = std::mem::replace(&mut self.last_ts, f64::NEG_INFINITY);
        count_into(
            &mut e.fact,
            u64::from(std::mem::take(&mut self.count)),
            std::mem::take(&mut self.bytes),
            (last > f64::NEG_INFINITY).then_some(last),
        );
    }
}

/// Adds `count` connections with `bytes` and latest time `last_ts` to the aggregate `f`.
fn count_into(f: &mut ConnFact, count: u64, bytes: u64, last_ts: Option<f64>) {
    f.count += count;
    f.bytes = f.bytes.saturating_add(bytes);
    if let Some(l) = last_ts
        && f.last_ts.is_none_or(|m| l > m)
    {
        f.last_ts = Some(l);
    }
}

/// Orders of records fed to the builder directly start here, after every parallel order.
pub(super) const SEQUENTIAL_BASE: u64 = 1 << 63;

/// The order of a record at line or packet `pos` of the file of rank `rank` (its index in the
/// reading order of its phase).
pub fn order_of(rank: usize, pos: Pos) -> u64 {
    let n = match pos {
        Pos::Line(n) | Pos::Packet(n) => n.min((1 << 40) - 1),
        Pos::File => (1 << 40) - 1,
    };
    ((rank as u64).min((1 << 23) - 1) << 40) | n
}

/// What aggregation reads but never changes: the resolver and the uids and 4-tuples the TLS,
/// HTTP and certificate records of earlier phases wait for.
#[derive(Clone, Copy)]
pub(super) struct ConnCtx<'a> {
    pub resolver: &'a Resolver,
    pub joins: Wants<'a>,
    pub cap: usize,
}

#[derive(Clone, Debug)]
struct Entry {
    fact: ConnFact,
    /// Order of the record that gave `fact.first`.
    first_order: u64,
}

/// The bytes a conn record counts: both directions' payload.
fn bytes_of(c: &Conn<'_>) -> u64 {
    c.orig_bytes
        .unwrap_or(0)
        .saturating_add(c.resp_bytes.unwrap_or(0))
}

/// Whether a record with (`ts`, `order`) comes before the current first (`cur_ts`, `cur_order`):
/// a known time beats an unknown one, then the earlier time, then the earlier order.
fn earlier(ts: Option<f64>, order: u64, cur_ts: Option<f64>, cur_order: u64) -> bool {
    match (ts, cur_ts) {
        (Some(t), Some(c)) => t < c || (t == c && order < cur_order),
        (Some(_), None) => true,
        (None, Some(_)) => false,
        (None, None) => order < cur_order,
    }
}

/// Connection aggregates with everything needed to merge them; see the module documentation.
#[derive(Debug, Default)]
pub(super) struct ConnAgg {
    strings: Vec<String>,
    /// [`short_key`] of each string.
    keys: Vec<Option<(u64, usize)>>,
    string_ids: FastMap<String, u32>,
    /// Reused buffer for [`ConnAgg::intern_set`].
    scratch: String,
    /// Ids of the protocol and service texts of recent rows, as they were written.
    protos: Recent,
    services: Recent,
    /// The aggregates, in the order they were made, and where each key's is.
    entries: Vec<(ConnKey, Entry)>,
    conns: FastMap<ConnKey, u32>,
    /// Per destination, its latest aggregate: a connection in the same name epoch (nearly all,
    /// as logs are in time order) finds its aggregate with one lookup and no resolver lookup.
    latest: FastMap<DestKey, Latest>,
    /// The resolver generation `latest` was filled under.
    latest_of: u64,
    timeline: FastMap<i64, u64>,
    /// The minute of the latest connections and how many there were, not yet in `timeline`:
    /// logs are in time order, so most rows count into the same minute as the row before.
    minute: Option<(i64, u64)>,
    pub capture_start: Option<f64>,
    pub dropped: u64,
    /// Order and location of the first connection not tracked because of the cap.
    first_drop: Option<(u64, Location)>,
    /// Connection times of the uids and 4-tuples that records wait for.
    hits: Hits,
}

/// How many texts [`Recent`] remembers.
const RECENT: usize = 4;

/// The last few distinct texts (a protocol, or the members of a service set) interned from rows,
/// as written, with their ids: a log has few of them, mostly repeated row after row, so most
/// rows find theirs here without lower-casing, trimming or hashing.
#[derive(Debug, Default)]
struct Recent {
    entries: Vec<(Vec<String>, u32)>,
    /// The entry the next new text replaces once all are taken.
    next: usize,
}

impl Recent {
    fn find<S: AsRef<str>>(&self, items: &[S]) -> Option<u32> {
        self.entries.iter().find_map(|(texts, id)| {
            (texts.len() == items.len()
                && texts
                    .iter()
                    .zip(items)
                    .all(|(t, i)| same_short(t.as_bytes(), i.as_ref().as_bytes())))
            .then_some(*id)
        })
    }

    fn remember<S: AsRef<str>>(&mut self, items: &[S], id: u32) {
        let texts = items.iter().map(|i| i.as_ref().to_string()).collect();
        if self.entries.len() < RECENT {
            self.entries.push((texts, id));
        } else if let Some(e) = self.entries.get_mut(self.next) {
            *e = (texts, id);
            self.next = (self.next + 1) % RECENT;
        }
    }
}

/// Whether `a` and `b` are equal, compared byte by byte in line: they are a protocol or a
/// service name, a few bytes long, for which a call to `memcmp` costs more than the comparison.
#[inline]
fn same_short(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// A string of at most eight bytes as one word and its length, so that interning the few
/// protocols and service sets compares two words per entry instead of calling `memcmp`.
#[inline]
fn short_key(s: &[u8]) -> Option<(u64, usize)> {
    (s.len() <= 8).then(|| {
        let word = s
            .iter()
            .enumerate()
            .fold(0, |w, (i, &c)| w | u64::from(c) << (8 * i));
        (word, s.len())
    })
}

impl ConnAgg {
    fn intern(&mut self, s: &str) -> u32 {
        let key = short_key(s.as_bytes());
        // Protocols and service sets are few: a scan beats hashing the string.
        if self.strings.len() <= 16 {
            let found = match key {
                Some(k) => self.keys.iter().position(|x| *x == Some(k)),
                None => self.strings.iter().position(|x| x == s),
            };
            if let Some(i) = found {
                return i as u32;
            }
        } else if let Some(&id) = self.string_ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.strings.push(s.to_string());
        self.keys.push(key);
        self.string_ids.insert(s.to_string(), id);
        id
    }

    fn intern_lower(&mut self, s: &str) -> u32 {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            let lower = s.to_ascii_lowercase();
            self.intern(&lower)
        } else {
            self.intern(s)
        }
    }

    /// Interns a set of services as its lower-cased, trimmed, sorted and deduplicated members
    /// joined by commas, built in a reused buffer (a set of a few lower-case names, as Zeek
    /// writes them, allocates nothing).
    fn intern_set(&mut self, items: &[std::borrow::Cow<'_, str>]) -> u32 {
        let mut parts: [&str; 8] = [""; 8];
        let mut n = 0;
        let mut simple = items.len() <= parts.len();
        for item in items {
            let t = item.trim();
            if t.bytes().any(|b| b.is_ascii_uppercase()) {
                simple = false;
            }
            if let Some(p) = parts.get_mut(n) {
                *p = t;
                n += 1;
            }
        }
        let mut joined = std::mem::take(&mut self.scratch);
        joined.clear();
        if simple {
            let parts = parts.get_mut(..n).unwrap_or_default();
            parts.sort_unstable();
            let mut last: Option<&str> = None;
            for p in parts.iter().filter(|p| !p.is_empty()) {
                if last != Some(*p) {
                    if last.is_some() {
                        joined.push(',');
                    }
                    joined.push_str(p);
                    last = Some(p);
                }
            }
        } else {
            let mut v: Vec<String> = items
                .iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            v.sort();
            v.dedup();
            joined.push_str(&v.join(","));
        }
        let id = self.intern(&joined);
        self.scratch = joined;
        id
    }

    fn string(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", String::as_str)
    }

    /// Aggregates one conn record; a connection without a responder address is a diagnostic.
    pub fn add(
        &mut self,
        c: &Conn<'_>,
        location: &Location,
        order: u64,
        ctx: &ConnCtx<'_>,
    ) -> Option<Diagnostic> {
        if let Some(t) = c.ts.filter(|t| t.is_finite()) {
            self.capture_start = Some(self.capture_start.map_or(t, |s| s.min(t)));
        }
        self.hits
            .add(ctx.joins, c.uid.as_deref(), tuple(&c.id), order, time(c.ts));
        let Some(server) = c.id.resp_h else {
            return Some(Diagnostic {
                location: location.clone(),
                message: "connection without a responder address (id.resp_h): skipped".into(),
            });
        };
        let proto_text = c.proto.as_deref().unwrap_or("");
        let proto = match self.protos.find(&[proto_text]) {
            Some(id) => id,
            None => {
                let id = self.intern_lower(proto_text);
                self.protos.remember(&[proto_text], id);
                id
            }
        };
        let services = match self.services.find(&c.services) {
            Some(id) => id,
            None => {
                let id = match c.services.len() {
                    0 => self.intern(""),
                    1 => self.intern_lower(c.services.first().map(|s| s.trim()).unwrap_or("")),
                    _ => self.intern_set(&c.services),
                };
                self.services.remember(&c.services, id);
                id
            }
        };
        if let Some(ts) = c.ts.filter(|t| t.is_finite()) {
            let bucket = (ts / 60.0).floor() as i64 * 60;
            match &mut self.minute {
                Some((b, n)) if *b == bucket => *n += 1,
                _ => {
                    self.flush_minute();
                    self.minute = Some((bucket, 1));
                }
            }
        }
        let t = time(c.ts);
        let dest: DestKey = (server, c.id.resp_p, proto, services);
        if self.latest_of != ctx.resolver.generation() {
            self.settle();
            self.latest_of = ctx.resolver.generation();
        }
        let bytes = bytes_of(c);
        // Times that are known but not finite would not survive the plain encoding of
        // `Latest`: their connections go to their aggregate directly.
        let plain = c.ts.is_none_or(f64::is_finite);
        if plain
            && let Some(l) = self.latest.get_mut(&dest)
            && l.from <= t
            && t < l.until
        {
            if l.count == LATEST_COUNT_MAX
                && let Some((_, e)) = self.entries.get_mut(l.entry as usize)
            {
                l.settle(e);
            }
            l.count += 1;
            l.bytes = l.bytes.saturating_add(bytes);
            let ts = c.ts.unwrap_or(f64::INFINITY);
            if c.ts.is_some() && ts > l.last_ts {
                l.last_ts = ts;
            }
            if ts > l.first_ts {
                return None;
            }
            let entry = l.entry;
            if self.first_if_earlier(entry, c, location, order)
                && let Some(l) = self.latest.get_mut(&dest)
            {
                l.first_ts = ts;
            }
            return None;
        }
        let span = ctx.resolver.span(server, t);
        let key: ConnKey = (server, c.id.resp_p, proto, services, span.epoch);
        // A new destination past the cap is counted as dropped, with no diagnostic of its own.
        let entry = match self.conns.get(&key) {
            Some(&entry) => entry,
            None => self.add_new(c, location, order, ctx, key)?,
        };
        self.first_if_earlier(entry, c, location, order);
        if !plain {
            if let Some(mut old) = self.latest.remove(&dest)
                && let Some((_, e)) = self.entries.get_mut(old.entry as usize)
            {
                old.settle(e);
            }
            if let Some((_, e)) = self.entries.get_mut(entry as usize) {
                count_into(&mut e.fact, 1, bytes, c.ts);
            }
            return None;
        }
        let (_, e) = self.entries.get(entry as usize)?;
        let l = Latest {
            from: span.from,
            until: span.until,
            first_ts: e.fact.first_ts.unwrap_or(f64::INFINITY),
            last_ts: c.ts.unwrap_or(f64::NEG_INFINITY),
            bytes,
            count: 1,
            entry,
        };
        if let Some(mut old) = self.latest.insert(dest, l)
            && let Some((_, e)) = self.entries.get_mut(old.entry as usize)
        {
            old.settle(e);
        }
        None
    }

    /// Makes the record at (`location`, `order`) the first of the aggregate at `entry` if it
    /// comes before the aggregate's first; says whether it did.
    fn first_if_earlier(
        &mut self,
        entry: u32,
        c: &Conn<'_>,
        location: &Location,
        order: u64,
    ) -> bool {
        let before = self
            .entries
            .get(entry as usize)
            .is_some_and(|(_, e)| earlier(c.ts, order, e.fact.first_ts, e.first_order));
        if before {
            self.set_first(entry, c, location, order);
        }
        before
    }

    /// Makes the record at (`location`, `order`) the first of the aggregate at `entry`.
    fn set_first(&mut self, entry: u32, c: &Conn<'_>, location: &Location, order: u64) {
        if let Some((_, e)) = self.entries.get_mut(entry as usize) {
            e.fact.first = occurrence(location, c.uid.as_deref());
            e.fact.first_ts = c.ts;
            e.fact.t = time(c.ts);
            e.first_order = order;
        }
    }

    /// Brings every aggregate up to date with what its destination's [`Latest`] counted, and
    /// forgets the latest aggregates.
    fn settle(&mut self) {
        for (_, mut l) in self.latest.drain() {
            if let Some((_, e)) = self.entries.get_mut(l.entry as usize) {
                l.settle(e);
            }
        }
    }

    /// Starts the aggregate `key` with its first record, and returns its index; `None` (the
    /// record counted as dropped) once the cap on destinations is reached.
    fn add_new(
        &mut self,
        c: &Conn<'_>,
        location: &Location,
        order: u64,
        ctx: &ConnCtx<'_>,
        key: ConnKey,
    ) -> Option<u32> {
        if self.entries.len() >= ctx.cap {
            self.dropped += 1;
            if self.first_drop.as_ref().is_none_or(|(o, _)| order < *o) {
                self.first_drop = Some((order, location.clone()));
            }
            return None;
        }
        let (server, port, proto, services, _) = key;
        let fact = ConnFact {
            server,
            port,
            proto: self.string(proto).to_string(),
            services: self
                .string(services)
                .split(',')
                .filter(|x| !x.is_empty())
                .map(str::to_string)
                .collect(),
            t: time(c.ts),
            count: 0,
            first_ts: c.ts,
            last_ts: c.ts,
            bytes: 0,
            first: occurrence(location, c.uid.as_deref()),
        };
        Some(self.insert(
            key,
            Entry {
                fact,
                first_order: order,
            },
        ))
    }

    /// Adds the aggregate `key`, not yet present, and returns its index.
    fn insert(&mut self, key: ConnKey, e: Entry) -> u32 {
        let at = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        self.entries.push((key, e));
        self.conns.insert(key, at);
        at
    }

    /// Counts the pending minute into the timeline (past the cap of buckets, a new minute is
    /// not counted).
    fn flush_minute(&mut self) {
        let Some((bucket, n)) = self.minute.take() else {
            return;
        };
        let room = self.timeline.len() < 4 * MAX_TIMELINE;
        if let Some(m) = self.timeline.get_mut(&bucket) {
            *m += n;
        } else if room {
            self.timeline.insert(bucket, n);
        }
    }

    /// Folds `other` into `self` (see the module documentation for what merging preserves).
    pub fn merge(&mut self, mut other: ConnAgg, cap: usize) {
        self.flush_minute();
        other.flush_minute();
        self.settle();
        other.settle();
        if let Some(t) = other.capture_start {
            self.capture_start = Some(self.capture_start.map_or(t, |s| s.min(t)));
        }
        for (bucket, n) in other.timeline {
            *self.timeline.entry(bucket).or_insert(0) += n;
        }
        self.dropped += other.dropped;
        if let Some((o, loc)) = other.first_drop
            && self.first_drop.as_ref().is_none_or(|(mine, _)| o < *mine)
        {
            self.first_drop = Some((o, loc));
        }
        self.hits.merge(other.hits);
        let mut entries = other.entries;
        entries.sort_by_key(|(_, e)| e.first_order);
        for ((server, port, proto, services, epoch), e) in entries {
            let proto = self.intern(other.strings.get(proto as usize).map_or("", |s| s));
            let services = self.intern(other.strings.get(services as usize).map_or("", |s| s));
            let key = (server, port, proto, services, epoch);
            let at = self.conns.get(&key).copied();
            if let Some((_, mine)) = at.and_then(|i| self.entries.get_mut(i as usize)) {
                let (f, g) = (&mut mine.fact, e.fact);
                count_into(f, g.count, g.bytes, g.last_ts);
                if earlier(g.first_ts, e.first_order, f.first_ts, mine.first_order) {
                    f.first = g.first;
                    f.first_ts = g.first_ts;
                    f.t = g.t;
                    mine.first_order = e.first_order;
                }
            } else if self.entries.len() >= cap {
                self.dropped += e.fact.count;
                let loc = e.fact.first.location.clone();
                if self
                    .first_drop
                    .as_ref()
                    .is_none_or(|(o, _)| e.first_order < *o)
                {
                    self.first_drop = Some((e.first_order, loc));
                }
            } else {
                self.insert(key, e);
            }
        }
    }

    /// The diagnostic for the cap on destinations, when it was reached.
    pub fn cap_diagnostic(&self) -> Option<Diagnostic> {
        let (_, location) = self.first_drop.as_ref()?;
        Some(Diagnostic {
            location: location.clone(),
            message: format!(
                "more than {} distinct destinations: further new destinations are counted but \
                 not tracked",
                self.entries.len()
            ),
        })
    }

    /// The connection times gathered so far for the joins.
    pub fn hits_mut(&mut self) -> &mut Hits {
        &mut self.hits
    }

    /// The connection times gathered for the joins.
    pub fn take_hits(&mut self) -> Hits {
        std::mem::take(&mut self.hits)
    }

    /// The aggregates, sorted by server, port, proto, services, t.
    pub fn into_facts(mut self) -> Vec<ConnFact> {
        self.settle();
        let mut conns: Vec<ConnFact> = self.entries.into_iter().map(|(_, e)| e.fact).collect();
        conns.sort_by(|a, b| {
            (a.server, a.port, &a.proto, &a.services)
                .cmp(&(b.server, b.port, &b.proto, &b.services))
                .then(a.t.total_cmp(&b.t))
        });
        conns
    }

    /// The earliest [`MAX_TIMELINE`] one-minute buckets.
    pub fn timeline(&mut self) -> BTreeMap<i64, u64> {
        self.flush_minute();
        let mut buckets: Vec<(i64, u64)> = self.timeline.iter().map(|(b, n)| (*b, *n)).collect();
        buckets.sort_unstable();
        buckets.truncate(MAX_TIMELINE);
        buckets.into_iter().collect()
    }
}

/// What one reading thread gathered, detached from the builder it read against.
#[derive(Debug, Default)]
pub struct PartialFacts {
    pub(super) agg: ConnAgg,
    pub(super) others: Vec<(u64, Record<'static>, Location)>,
    pub(super) diagnostics: Vec<(u64, Diagnostic)>,
    pub(super) diagnostics_total: u64,
}

/// The [`Sink`] of one reading thread of the conn phase: see the module documentation.
pub struct ConnPartial<'b> {
    ctx: ConnCtx<'b>,
    rank: usize,
    out: PartialFacts,
}

impl<'b> ConnPartial<'b> {
    pub(super) fn new(ctx: ConnCtx<'b>) -> Self {
        ConnPartial {
            ctx,
            rank: 0,
            out: PartialFacts::default(),
        }
    }

    /// What was gathered, free of the builder's borrow.
    pub fn finish(mut self) -> PartialFacts {
        self.out.diagnostics.sort_by_key(|(o, _)| *o);
        self.out.diagnostics.truncate(MAX_DIAGNOSTICS);
        self.out
    }

    fn keep_diagnostic(&mut self, order: u64, d: Diagnostic) {
        self.out.diagnostics_total += 1;
        // Keep the earliest by order (a thread may read several files interleaved).
        let kept = &mut self.out.diagnostics;
        if kept.len() >= 2 * MAX_DIAGNOSTICS {
            kept.sort_by_key(|(o, _)| *o);
            kept.truncate(MAX_DIAGNOSTICS);
        }
        kept.push((order, d));
    }
}

impl Sink for ConnPartial<'_> {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        let order = order_of(self.rank, location.pos);
        // Matched by reference: a record is a few hundred bytes, and moving the conn out of it
        // would copy it for every row.
        if let Record::Conn(c) = &record {
            if let Some(d) = self.out.agg.add(c, location, order, &self.ctx) {
                self.keep_diagnostic(order, d);
            }
            return;
        }
        self.out
            .others
            .push((order, record.into_owned(), location.clone()));
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        let order = order_of(self.rank, diagnostic.location.pos);
        self.keep_diagnostic(order, diagnostic);
    }

    fn columns(&self) -> Columns {
        columns(self.ctx.joins)
    }
}

impl RankedSink for ConnPartial<'_> {
    fn begin_file(&mut self, rank: usize) {
        self.rank = rank;
    }
}

/// The columns a reader of connections reads: the analysis columns, without the originator's
/// address and port when no record waits for connections by 4-tuple as the file is opened. A
/// record read later in the same file (a TLS block inside a conn log) then joins its
/// connections by uid only.
pub(super) fn columns(joins: Wants<'_>) -> Columns {
    if joins.wants_tuples() {
        Columns::ANALYSIS
    } else {
        Columns::ANALYSIS.without_originator()
    }
}

/// The cap on aggregates for a builder setting (0 stands for [`MAX_DESTINATIONS`]).
pub(super) fn cap(max_destinations: usize) -> usize {
    match max_destinations {
        0 => MAX_DESTINATIONS,
        n => n,
    }
}
