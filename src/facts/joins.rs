//! Joining TLS sessions, HTTP requests and certificate files to their connections, and grouping
//! them once joined.
//!
//! Until conn.log has streamed by, each such record waits as a [`Waiting`] of 32 bytes: the id
//! of its shape (everything it shares with others: server, port, names, certificates, ...), its
//! own ts, its place (an interned source and a position) and the slots of its first uid and of
//! its 4-tuple. Uids and 4-tuples are interned once in [`Joins`]; the rare records with several
//! uids (old files.log `conn_uids`) keep the others in a side table. The conn phase looks every
//! connection's uid and 4-tuple up in those tables and [`Hits`] keeps, per uid slot, the order
//! and time of its first connection and, per 4-tuple slot, those of its first connections (the
//! first inline, the others in an overflow map). Past a budget of records ([`DEFAULT_BUDGET`]),
//! the state moves to temporary files and only Bloom filters of the uids and 4-tuples waited for
//! stay in memory: see [`Joins`].
//!
//! Once every connection time is known, each record gets its time (RULES.md §1: its
//! connection's ts by uid, else that of the connection with the same 4-tuple nearest its own ts
//! among the first 1024 by order, else its own ts), and [`GroupAgg`] folds the records of one
//! shape whose times fall in one name epoch into one [`Group`], with the count, the earliest and
//! latest ts and the first occurrence (the earliest (ts, place), as
//! [`crate::alert::Evidence::occurrence`] keeps it). Ties are broken by arrival, and groups are
//! listed in the order of their first record's arrival, so records may be folded in any order
//! and give what folding them one by one in arrival order gives. Rules then see one fact per
//! group, which is what they would have made of the records one by one: the same host (one
//! epoch, one name), the same evidence counts, times and first occurrence.

use super::Tuple;
use super::joinspill::{Chunked, Filters, PARTS, part};
use crate::FastMap;
use crate::alert::Occurrence;
use crate::model::{Diagnostic, Location, Pos};
use crate::resolve::Resolver;
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// No slot.
const NONE: u32 = u32::MAX;

/// Most connection times kept per wanted 4-tuple (the first by order).
pub(super) const MAX_TUPLE_TIMES: usize = 1024;

/// The kinds of records joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Tls = 0,
    Http = 1,
    Cert = 2,
}

const KINDS: usize = 3;

/// Hashing shared by every table and thread (the same key always hashes alike).
fn hasher() -> foldhash::fast::FixedState {
    foldhash::fast::FixedState::with_seed(0x6a6f_696e_735f_7631)
}

/// Keys interned to dense slots (`u32`), looked up by a borrowed form.
#[derive(Debug)]
pub(super) struct Interner<K> {
    keys: Vec<K>,
    table: hashbrown::HashTable<u32>,
}

impl<K> Default for Interner<K> {
    fn default() -> Self {
        Interner {
            keys: Vec::new(),
            table: hashbrown::HashTable::new(),
        }
    }
}

impl<K> Interner<K> {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn key(&self, slot: u32) -> Option<&K> {
        self.keys.get(slot as usize)
    }

    pub fn find<Q>(&self, q: &Q) -> Option<u32>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let h = hasher().hash_one(q);
        self.table
            .find(h, |&i| {
                self.keys.get(i as usize).is_some_and(|k| k.borrow() == q)
            })
            .copied()
    }

    /// The slot of `q`, interned (as `make(q)`) if new; [`NONE`] past `u32` slots.
    pub fn intern<Q>(&mut self, q: &Q, make: impl FnOnce(&Q) -> K) -> u32
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(slot) = self.find(q) {
            return slot;
        }
        let Ok(slot) = u32::try_from(self.keys.len()) else {
            return NONE;
        };
        if slot == NONE {
            return NONE;
        }
        let st = hasher();
        let keys = &self.keys;
        self.table.insert_unique(st.hash_one(q), slot, |&i| {
            keys.get(i as usize).map_or(0, |k| st.hash_one(k.borrow()))
        });
        self.keys.push(make(q));
        slot
    }
}

/// Sources of the records' places, interned (there are few).
#[derive(Debug, Default)]
pub(super) struct Sources(Vec<Arc<str>>);

impl Sources {
    pub fn index(&mut self, source: &Arc<str>) -> u32 {
        let found = self
            .0
            .iter()
            .rposition(|s| Arc::ptr_eq(s, source) || **s == **source);
        let i = found.unwrap_or_else(|| {
            self.0.push(Arc::clone(source));
            self.0.len() - 1
        });
        u32::try_from(i).unwrap_or(NONE)
    }
}

/// A [`Pos`] in one word: the kind in the top two bits.
fn pack_pos(p: Pos) -> u64 {
    const MAX: u64 = (1 << 62) - 1;
    match p {
        Pos::Line(n) => n.min(MAX),
        Pos::Packet(n) => (1 << 62) | n.min(MAX),
        Pos::File => 2 << 62,
    }
}

fn unpack_pos(p: u64) -> Pos {
    let n = p & ((1 << 62) - 1);
    match p >> 62 {
        0 => Pos::Line(n),
        1 => Pos::Packet(n),
        _ => Pos::File,
    }
}

/// Own ts in one word: NaN for unknown (readers only give finite times).
fn pack_ts(ts: Option<f64>) -> f64 {
    ts.unwrap_or(f64::NAN)
}

fn unpack_ts(ts: f64) -> Option<f64> {
    (!ts.is_nan()).then_some(ts)
}

/// One record waiting for its connection's time.
#[derive(Clone, Copy, Debug)]
pub(super) struct Waiting {
    shape: u32,
    source: u32,
    /// Slot of its first uid (the one its occurrence names), [`NONE`] without.
    uid: u32,
    /// Slot of its 4-tuple, [`NONE`] without.
    tuple: u32,
    ts: f64,
    pos: u64,
}

/// Records of one shape whose times fall in one name epoch.
#[derive(Debug)]
pub(super) struct Group {
    pub shape: u32,
    /// The time of the first occurrence's record.
    pub t: f64,
    pub count: u64,
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    pub first: Occurrence,
}

/// One record as [`GroupAgg::add`] takes it.
pub(super) struct Joined<'a> {
    pub shape: u32,
    /// Its time (its connection's, else its own).
    pub t: f64,
    pub ts: Option<f64>,
    /// Arrival rank among the records of its kind.
    pub seq: u64,
    pub source: &'a Arc<str>,
    pub pos: Pos,
    pub uid: Option<&'a str>,
}

/// Groups being folded, in any order (see the module documentation).
#[derive(Debug, Default)]
pub(super) struct GroupAgg {
    index: FastMap<(u32, u32), usize>,
    /// Each group with the arrival rank of its first record and of its first occurrence's.
    groups: Vec<(Group, u64, u64)>,
}

impl GroupAgg {
    /// Folds one record; `epoch` is the name epoch of its time.
    pub fn add(&mut self, r: Joined<'_>, epoch: u32) {
        let occ = |r: &Joined<'_>| Occurrence {
            location: Location {
                source: Arc::clone(r.source),
                pos: r.pos,
            },
            uid: r.uid.map(String::from),
        };
        match self
            .index
            .get(&(r.shape, epoch))
            .and_then(|&i| self.groups.get_mut(i))
        {
            Some((g, min_seq, first_seq)) => {
                g.count += 1;
                *min_seq = (*min_seq).min(r.seq);
                let earlier = match (r.ts, g.first_ts) {
                    (Some(a), Some(b)) if a != b => a < b,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    _ => {
                        let mine = ((&**r.source, r.pos), r.uid, r.seq);
                        let first = (
                            (&*g.first.location.source, g.first.location.pos),
                            g.first.uid.as_deref(),
                            *first_seq,
                        );
                        mine < first
                    }
                };
                if earlier {
                    g.first = occ(&r);
                    g.t = r.t;
                    *first_seq = r.seq;
                }
                if let Some(ts) = r.ts {
                    g.first_ts = Some(g.first_ts.map_or(ts, |f| f.min(ts)));
                    g.last_ts = Some(g.last_ts.map_or(ts, |l| l.max(ts)));
                }
            }
            None => {
                self.index.insert((r.shape, epoch), self.groups.len());
                let g = Group {
                    shape: r.shape,
                    t: r.t,
                    count: 1,
                    first_ts: r.ts,
                    last_ts: r.ts,
                    first: occ(&r),
                };
                self.groups.push((g, r.seq, r.seq));
            }
        }
    }

    /// The groups, in the order of their first record's arrival.
    pub fn finish(self) -> Vec<Group> {
        let mut groups = self.groups;
        groups.sort_by_key(|(_, min_seq, _)| *min_seq);
        groups.into_iter().map(|(g, _, _)| g).collect()
    }
}

/// Keys the first Bloom filter of a spill holds (1.5 MB); one twice as large follows when it
/// is full. A filter per key would cost a cache miss per lookup more.
const FILTER_KEYS: usize = 1 << 20;

/// Records kept in memory before the joins spill to disk (see [`Joins`]).
pub(super) const DEFAULT_BUDGET: usize = 1 << 17;

thread_local! {
    /// A budget for the builders made on this thread, for tests (see
    /// [`super::override_join_budget`]).
    pub(super) static BUDGET: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// A record as spilled to disk.
#[derive(Debug, Serialize, Deserialize)]
struct Rec {
    kind: u8,
    /// Arrival rank among the records of its kind.
    seq: u64,
    shape: u32,
    source: u32,
    pos: Pos,
    ts: Option<f64>,
    /// The generation it came in (see `Joins::generation`).
    generation: u32,
    uid: Option<Box<str>>,
    tuple: Option<Tuple>,
}

/// The join state past the budget: filters of what records wait for, the records partitioned on
/// disk.
#[derive(Debug)]
struct Spilled {
    uid_filter: Filters,
    tuple_filter: Filters,
    /// Records with one uid, by uid hash.
    records: Chunked,
    /// Records without a uid, by 4-tuple hash (partition 0 without one); at the end, those
    /// whose uid found no connection.
    by_tuple: Chunked,
    /// The 4-tuples waited for, each with its generation, by 4-tuple hash.
    wants: Chunked,
    /// Records with several uids (rare) stay in memory, with their uids but the first.
    multi: Vec<(Rec, Vec<Box<str>>)>,
}

/// Everything the records of the TLS, HTTP and certificate-file phases wait with.
///
/// Up to a budget of records, the state is in memory (see the module documentation). Past it,
/// [`Joins::spill`] moves it to disk: every record is written to a partition of its uid's hash
/// (or, without a uid, of its 4-tuple's), and in memory remain only Bloom filters of the uids
/// and 4-tuples waited for; the conn phase writes the connections whose uid or 4-tuple passes a
/// filter to partitions of their own ([`Hits`]), and [`Joins::finish`] joins one partition at a
/// time: by uid first, then the records still without a time by 4-tuple. Records with several
/// uids stay in memory. A record fed after some connections must not take their times (in
/// memory, a connection is looked up only against what waits at that moment): each record and
/// connection carries a generation, which grows whenever records come after connections, and a
/// connection counts for a uid or 4-tuple only if it is of a generation at or after the first
/// record that waited for it.
#[derive(Debug)]
pub(super) struct Joins {
    sources: Sources,
    /// Uids that records wait for.
    uids: Interner<Box<str>>,
    /// 4-tuples of the records, and per slot whether one waits for it (a certificate file with
    /// uids carries its 4-tuple without waiting for it).
    tuples: Interner<Tuple>,
    tuple_wanted: Vec<bool>,
    /// Uids that records wait for but their first: (kind, record index) -> slots.
    more_uids: FastMap<(u8, u32), Box<[u32]>>,
    records: [Vec<Waiting>; KINDS],
    /// Records of each kind so far.
    seq: [u64; KINDS],
    budget: usize,
    dir: Option<PathBuf>,
    generation: u32,
    /// Whether connections were looked up since the last record came.
    conns_seen: AtomicBool,
    spilled: Option<Box<Spilled>>,
    /// Problems with the temporary files.
    problems: Vec<String>,
    /// Filters that let every key through (for tests of what the exact checks behind them do).
    filters_off: bool,
}

impl Default for Joins {
    fn default() -> Self {
        Joins {
            sources: Sources::default(),
            uids: Interner::default(),
            tuples: Interner::default(),
            tuple_wanted: Vec::new(),
            more_uids: FastMap::default(),
            records: Default::default(),
            seq: [0; KINDS],
            budget: BUDGET.get().unwrap_or(DEFAULT_BUDGET),
            dir: None,
            generation: 0,
            conns_seen: AtomicBool::new(false),
            spilled: None,
            problems: Vec::new(),
            filters_off: false,
        }
    }
}

/// What a conn-phase reader looks uids and 4-tuples up in.
pub(super) type Wants<'a> = &'a Joins;

fn kind_of(k: usize) -> Kind {
    match k {
        0 => Kind::Tls,
        1 => Kind::Http,
        _ => Kind::Cert,
    }
}

fn hash<T: Hash + ?Sized>(x: &T) -> u64 {
    hasher().hash_one(x)
}

/// The time nearest `mine` among `times` (the earlier of two as near).
fn nearest(times: impl Iterator<Item = f64>, mine: f64) -> Option<f64> {
    times.min_by(|a, b| {
        let da = (a - mine).abs();
        let db = (b - mine).abs();
        da.total_cmp(&db).then(a.total_cmp(b))
    })
}

impl Joins {
    /// Sets the budget of records kept in memory (0: everything spills).
    pub fn set_budget(&mut self, n: usize) {
        self.budget = n;
    }

    /// Makes the filters of a spill let every key through.
    #[cfg(test)]
    pub fn set_filters_off(&mut self) {
        self.filters_off = true;
    }

    /// Sets the directory of the temporary files (default: the system's).
    pub fn set_dir(&mut self, dir: Option<PathBuf>) {
        self.dir = dir;
    }

    /// Notes that connections are being looked up (records coming after this are of a new
    /// generation).
    pub fn conns_begin(&self) {
        self.conns_seen.store(true, Ordering::Relaxed);
    }

    /// Adds a record of `kind` waiting for the connection of `uids` (the first named in its
    /// occurrence) or of `tuple`; `want_tuple` says whether connections of its 4-tuple are to
    /// be gathered for it (else it joins by 4-tuple only if another record wants that one).
    #[allow(clippy::too_many_arguments)]
    pub fn add<'u>(
        &mut self,
        kind: Kind,
        shape: u32,
        ts: Option<f64>,
        uids: impl IntoIterator<Item = &'u str>,
        tuple: Option<Tuple>,
        want_tuple: bool,
        location: &Location,
    ) {
        if std::mem::take(self.conns_seen.get_mut()) {
            self.generation = self.generation.saturating_add(1);
        }
        let Some(seq) = self.seq.get_mut(kind as usize) else {
            return;
        };
        let rank = *seq;
        *seq += 1;
        let source = self.sources.index(&location.source);
        if self.spilled.is_some() {
            let mut uids = uids.into_iter();
            let rec = Rec {
                kind: kind as u8,
                seq: rank,
                shape,
                source,
                pos: location.pos,
                ts,
                generation: self.generation,
                uid: uids.next().map(Box::from),
                tuple,
            };
            let more: Vec<Box<str>> = uids.map(Box::from).collect();
            self.spill_record(rec, more, want_tuple);
            return;
        }
        let mut uids = uids.into_iter();
        let first = uids.next().map_or(NONE, |u| self.want_uid(u));
        let more: Vec<u32> = uids.map(|u| self.want_uid(u)).collect();
        let tuple = tuple.map_or(NONE, |t| {
            let slot = self.tuples.intern(&t, |t| *t);
            if let Some(w) = self.tuple_wanted.get_mut(slot as usize) {
                *w |= want_tuple;
            } else if slot != NONE {
                self.tuple_wanted.push(want_tuple);
            }
            slot
        });
        let w = Waiting {
            shape,
            source,
            uid: first,
            tuple,
            ts: pack_ts(ts),
            pos: pack_pos(location.pos),
        };
        let Some(records) = self.records.get_mut(kind as usize) else {
            return;
        };
        if !more.is_empty()
            && let Ok(i) = u32::try_from(records.len())
        {
            self.more_uids
                .insert((kind as u8, i), more.into_boxed_slice());
        }
        records.push(w);
    }

    fn want_uid(&mut self, uid: &str) -> u32 {
        self.uids.intern(uid, |u| Box::from(u))
    }

    /// Whether more records wait in memory than the budget allows.
    pub fn over_budget(&self) -> bool {
        self.spilled.is_none() && self.records.iter().map(Vec::len).sum::<usize>() > self.budget
    }

    /// Moves the join state to disk, with the connection times gathered so far (`hits`, of
    /// the builder's own aggregation). If the temporary file cannot be made, everything stays in
    /// memory and a problem is noted.
    pub fn spill(&mut self, hits: &mut Hits) {
        let open = |eager| Chunked::new(self.dir.as_deref(), eager);
        let made = open(true).and_then(|r| Ok((r, open(false)?, open(false)?)));
        let (records, by_tuple, wants) = match made {
            Ok(c) => c,
            Err(e) => {
                self.problems.push(format!(
                    "join state kept in memory: cannot make a temporary file: {e}"
                ));
                self.budget = usize::MAX;
                return;
            }
        };
        let first = FILTER_KEYS;
        let mut spilled = Spilled {
            uid_filter: Filters::new(self.filters_off),
            tuple_filter: Filters::new(self.filters_off),
            records,
            by_tuple,
            wants,
            multi: Vec::new(),
        };
        // What waited in memory waited before any connection since: generation 0.
        for (slot, t) in self.tuples.keys.iter().enumerate() {
            if self.tuple_wanted.get(slot).copied().unwrap_or(false) {
                let h = hash(t);
                spilled.tuple_filter.insert(h, first);
                spilled.wants.put(part(h), &(t, 0u32));
            }
        }
        for u in &self.uids.keys {
            spilled.uid_filter.insert(hash(&**u), first);
        }
        let records = std::mem::take(&mut self.records);
        let more_uids = std::mem::take(&mut self.more_uids);
        self.spilled = Some(Box::new(spilled));
        for (k, list) in records.into_iter().enumerate() {
            for (i, w) in list.into_iter().enumerate() {
                let uid = |slot: u32| self.uids.key(slot).cloned();
                let rec = Rec {
                    kind: k as u8,
                    seq: i as u64,
                    shape: w.shape,
                    source: w.source,
                    pos: unpack_pos(w.pos),
                    ts: unpack_ts(w.ts),
                    generation: 0,
                    uid: uid(w.uid),
                    tuple: self.tuples.key(w.tuple).copied(),
                };
                let more: Vec<Box<str>> = u32::try_from(i)
                    .ok()
                    .and_then(|i| more_uids.get(&(k as u8, i)))
                    .map(|m| m.iter().filter_map(|&s| uid(s)).collect())
                    .unwrap_or_default();
                self.file_record(rec, more);
            }
        }
        hits.spill_memory(self);
        self.uids = Interner::default();
        self.tuples = Interner::default();
        self.tuple_wanted = Vec::new();
    }

    /// Writes a record that came past the budget, noting what it waits for.
    fn spill_record(&mut self, rec: Rec, more: Vec<Box<str>>, want_tuple: bool) {
        let first = FILTER_KEYS;
        let Some(s) = self.spilled.as_deref_mut() else {
            return;
        };
        for u in rec.uid.iter().chain(&more) {
            s.uid_filter.insert(hash(&**u), first);
        }
        if want_tuple && let Some(t) = &rec.tuple {
            let h = hash(t);
            s.tuple_filter.insert(h, first);
            s.wants.put(part(h), &(t, rec.generation));
        }
        self.file_record(rec, more);
    }

    /// Puts a spilled record where the uid round of [`Joins::finish`] will find it.
    fn file_record(&mut self, rec: Rec, more: Vec<Box<str>>) {
        let Some(s) = self.spilled.as_deref_mut() else {
            return;
        };
        if !more.is_empty() {
            s.multi.push((rec, more));
        } else if let Some(u) = &rec.uid {
            s.records.put(part(hash(&**u)), &rec);
        } else {
            let p = rec.tuple.as_ref().map_or(0, |t| part(hash(t)));
            s.by_tuple.put(p, &rec);
        }
    }

    /// Whether any record waits for connections by 4-tuple (or may, once spilled): otherwise a
    /// connection's 4-tuple is never looked up.
    pub fn wants_tuples(&self) -> bool {
        self.spilled.is_some() || !self.tuples.is_empty()
    }

    /// The uid slot a connection's uid fills, if any record waits for it.
    pub fn uid_slot(&self, uid: &str) -> Option<u32> {
        if self.uids.is_empty() {
            return None;
        }
        self.uids.find(uid)
    }

    /// The 4-tuple slot a connection fills, if any record waits for its 4-tuple.
    pub fn tuple_slot(&self, t: &Tuple) -> Option<u32> {
        if self.tuples.is_empty() {
            return None;
        }
        self.tuples
            .find(t)
            .filter(|&s| self.tuple_wanted.get(s as usize).copied().unwrap_or(false))
    }

    pub fn uid_slots(&self) -> usize {
        self.uids.len()
    }

    pub fn tuple_slots(&self) -> usize {
        self.tuples.len()
    }

    /// Joins every record to its connection's time as gathered in `hits` and groups the records
    /// of each kind; `server` gives the server address of a kind's shape. Also returns the
    /// problems met with temporary files, as diagnostics on the first source.
    pub fn finish(
        mut self,
        mut hits: Hits,
        server: impl Fn(Kind, u32) -> Option<IpAddr>,
        resolver: &Resolver,
    ) -> ([Vec<Group>; KINDS], Vec<Diagnostic>) {
        let mut aggs: [GroupAgg; KINDS] = Default::default();
        let sources: Vec<Arc<str>> = std::mem::take(&mut self.sources.0);
        let empty: Arc<str> = Arc::from("");
        let source = |i: u32| sources.get(i as usize).unwrap_or(&empty);
        let fold = |aggs: &mut [GroupAgg; KINDS], kind: usize, r: Joined<'_>| {
            let epoch = server(kind_of(kind), r.shape).map_or(0, |ip| resolver.epoch(ip, r.t));
            if let Some(a) = aggs.get_mut(kind) {
                a.add(r, epoch);
            }
        };
        hits.settle();
        for (k, records) in std::mem::take(&mut self.records).into_iter().enumerate() {
            for (i, w) in records.into_iter().enumerate() {
                let ts = unpack_ts(w.ts);
                let more = u32::try_from(i)
                    .ok()
                    .and_then(|i| self.more_uids.get(&(k as u8, i)));
                let by_uid = std::iter::once(w.uid)
                    .chain(more.into_iter().flat_map(|m| m.iter().copied()))
                    .find_map(|s| hits.uid_time(s));
                let t = by_uid
                    .or_else(|| hits.tuple_time(w.tuple, super::time(ts)))
                    .unwrap_or(super::time(ts));
                let joined = Joined {
                    shape: w.shape,
                    t,
                    ts,
                    seq: i as u64,
                    source: source(w.source),
                    pos: unpack_pos(w.pos),
                    uid: self.uids.key(w.uid).map(|u| &**u),
                };
                fold(&mut aggs, k, joined);
            }
        }
        let mut problems = std::mem::take(&mut self.problems);
        if let Some(s) = self.spilled.take() {
            let mut hs = hits.spill.take().unwrap_or_default();
            Self::join_spilled(
                *s,
                &mut hs,
                &mut |k, r: &Rec, t| {
                    let joined = Joined {
                        shape: r.shape,
                        t,
                        ts: r.ts,
                        seq: r.seq,
                        source: source(r.source),
                        pos: r.pos,
                        uid: r.uid.as_deref(),
                    };
                    fold(&mut aggs, k, joined);
                },
                &mut problems,
            );
        }
        let at = sources
            .first()
            .cloned()
            .unwrap_or_else(|| Arc::from("join state"));
        let problems = problems
            .into_iter()
            .map(|message| Diagnostic {
                location: Location::file(&at),
                message,
            })
            .collect();
        (aggs.map(GroupAgg::finish), problems)
    }

    /// The rounds of the joins past the budget (see [`Joins`]): `fold` takes each record of
    /// `kind` with its time.
    fn join_spilled(
        mut s: Spilled,
        hits: &mut HitSpill,
        fold: &mut dyn FnMut(usize, &Rec, f64),
        problems: &mut Vec<String>,
    ) {
        s.records.close();
        s.wants.close();
        for c in hits.uids.iter_mut().chain(hits.tuples.iter_mut()) {
            c.close();
        }
        let own = |r: &Rec| super::time(r.ts);
        // Per multi-uid record, the time of each of its uids.
        let mut multi_times: Vec<Vec<Option<f64>>> = s
            .multi
            .iter()
            .map(|(_, more)| vec![None; 1 + more.len()])
            .collect();
        for p in 0..PARTS {
            let mut recs: Vec<Rec> = Vec::new();
            s.records.read(p, |e| {
                postcard::from_bytes::<Rec>(e).map(|r| recs.push(r)).is_ok()
            });
            // Per uid: the first generation that waited for it, then the order and time of its
            // first connection since.
            type Times<'a> = FastMap<&'a str, (u32, u64, f64)>;
            fn wait<'a>(times: &mut Times<'a>, u: &'a str, generation: u32) {
                let e = times
                    .entry(u)
                    .or_insert((generation, u64::MAX, f64::NEG_INFINITY));
                e.0 = e.0.min(generation);
            }
            let mut times: Times<'_> = FastMap::default();
            for r in &recs {
                if let Some(u) = &r.uid {
                    wait(&mut times, u, r.generation);
                }
            }
            for (r, more) in &s.multi {
                for u in r.uid.iter().chain(more) {
                    if part(hash(&**u)) == p {
                        wait(&mut times, u, r.generation);
                    }
                }
            }
            for c in &mut hits.uids {
                c.read(p, |e| {
                    let Ok((u, order, t, generation)) =
                        postcard::from_bytes::<(&str, u64, f64, u32)>(e)
                    else {
                        return false;
                    };
                    if let Some(w) = times.get_mut(u)
                        && generation >= w.0
                        && order < w.1
                    {
                        w.1 = order;
                        w.2 = t;
                    }
                    true
                });
            }
            let time_of = |u: &str| times.get(u).filter(|w| w.1 != u64::MAX).map(|w| w.2);
            for ((r, more), mt) in s.multi.iter().zip(&mut multi_times) {
                for (u, slot) in r.uid.iter().chain(more).zip(mt.iter_mut()) {
                    if part(hash(&**u)) == p {
                        *slot = time_of(u);
                    }
                }
            }
            for r in &recs {
                match (r.uid.as_deref().and_then(time_of), &r.tuple) {
                    (Some(t), _) => fold(usize::from(r.kind), r, t),
                    (None, Some(t)) => s.by_tuple.put(part(hash(t)), r),
                    (None, None) => fold(usize::from(r.kind), r, own(r)),
                }
            }
        }
        for ((r, _), mt) in s.multi.iter().zip(multi_times) {
            match (mt.into_iter().flatten().next(), &r.tuple) {
                (Some(t), _) => fold(usize::from(r.kind), r, t),
                (None, Some(t)) => s.by_tuple.put(part(hash(t)), r),
                (None, None) => fold(usize::from(r.kind), r, own(r)),
            }
        }
        s.by_tuple.close();
        for p in 0..PARTS {
            let mut recs: Vec<Rec> = Vec::new();
            s.by_tuple.read(p, |e| {
                postcard::from_bytes::<Rec>(e).map(|r| recs.push(r)).is_ok()
            });
            if recs.is_empty() {
                continue;
            }
            // Per 4-tuple of these records: the first generation that waited for it, then the
            // orders and times of its connections since.
            type Times = FastMap<Tuple, (Option<u32>, Vec<(u64, f64)>)>;
            let mut times: Times = recs
                .iter()
                .filter_map(|r| Some((r.tuple?, (None, Vec::new()))))
                .collect();
            s.wants.read(p, |e| {
                let Ok((t, generation)) = postcard::from_bytes::<(Tuple, u32)>(e) else {
                    return false;
                };
                if let Some((g, _)) = times.get_mut(&t) {
                    *g = Some(g.map_or(generation, |g| g.min(generation)));
                }
                true
            });
            for c in &mut hits.tuples {
                c.read(p, |e| {
                    let Ok((t, order, time, generation)) =
                        postcard::from_bytes::<(Tuple, u64, f64, u32)>(e)
                    else {
                        return false;
                    };
                    if let Some((Some(g), v)) = times.get_mut(&t)
                        && generation >= *g
                    {
                        bound(v, MAX_TUPLE_TIMES);
                        v.push((order, time));
                    }
                    true
                });
            }
            for (_, v) in times.values_mut() {
                v.sort_by_key(|(o, _)| *o);
                v.truncate(MAX_TUPLE_TIMES);
            }
            for r in &recs {
                let mine = own(r);
                let t = r
                    .tuple
                    .and_then(|tp| times.get(&tp))
                    .and_then(|(_, v)| nearest(v.iter().map(|(_, t)| *t), mine))
                    .unwrap_or(mine);
                fold(usize::from(r.kind), r, t);
            }
        }
        for (what, c) in [
            ("waiting TLS, HTTP or certificate-file records", &s.records),
            ("waiting TLS, HTTP or certificate-file records", &s.by_tuple),
            ("4-tuples waited for", &s.wants),
        ]
        .into_iter()
        .chain(hits.uids.iter().map(|c| ("connection times of uids", c)))
        .chain(
            hits.tuples
                .iter()
                .map(|c| ("connection times of 4-tuples", c)),
        ) {
            if let Some((e, lost)) = c.problem() {
                problems.push(format!("{lost} {what} lost: temporary file: {e}"));
            }
        }
    }
}

/// Connection times gathered for the uids and 4-tuples records wait for, mergeable across
/// threads (see `conns`): the first by order wins. Past the budget, connections whose uid or
/// 4-tuple passes the filters go to temporary files instead.
#[derive(Debug, Default)]
pub(super) struct Hits {
    /// Per uid slot, the order and time of its first connection (`u64::MAX`: none).
    uid_times: Vec<(u64, f64)>,
    /// Per 4-tuple slot, the order and time of its first connection (`u64::MAX`: none).
    tuple_first: Vec<(u64, f64)>,
    /// Per 4-tuple slot with more than one connection, the others.
    tuple_more: FastMap<u32, Vec<(u64, f64)>>,
    spill: Option<HitSpill>,
}

/// Connections written to disk: (uid, order, time, generation) by uid hash and (4-tuple,
/// order, time, generation) by 4-tuple hash; the first of each list is written to, the others
/// were merged in.
#[derive(Debug, Default)]
struct HitSpill {
    uids: Vec<Chunked>,
    tuples: Vec<Chunked>,
}

const NO_HIT: (u64, f64) = (u64::MAX, f64::NEG_INFINITY);

/// Keeps the first by order of `v` once it has twice as many as needed.
fn bound(v: &mut Vec<(u64, f64)>, keep: usize) {
    if v.len() >= 2 * keep {
        v.sort_by_key(|(o, _)| *o);
        v.truncate(keep);
    }
}

impl Hits {
    /// Notes a connection with `uid` and 4-tuple `tuple`, at `order`, with time `t`.
    pub fn add(
        &mut self,
        wants: Wants<'_>,
        uid: Option<&str>,
        tuple: Option<Tuple>,
        order: u64,
        t: f64,
    ) {
        if let Some(s) = wants.spilled.as_deref() {
            let generation = wants.generation;
            if let Some(u) = uid {
                let h = hash(u);
                if s.uid_filter.contains(h) {
                    let c = self.spill_files(wants, |h| &mut h.uids);
                    if let Some(c) = c {
                        c.put(part(h), &(u, order, t, generation));
                    }
                }
            }
            if let Some(tp) = tuple {
                let h = hash(&tp);
                if s.tuple_filter.contains(h) {
                    let c = self.spill_files(wants, |h| &mut h.tuples);
                    if let Some(c) = c {
                        c.put(part(h), &(tp, order, t, generation));
                    }
                }
            }
            return;
        }
        if let Some(slot) = uid.and_then(|u| wants.uid_slot(u)) {
            if self.uid_times.len() < wants.uid_slots() {
                self.uid_times.resize(wants.uid_slots(), NO_HIT);
            }
            if let Some(e) = self.uid_times.get_mut(slot as usize)
                && order < e.0
            {
                *e = (order, t);
            }
        }
        if let Some(slot) = tuple.and_then(|tp| wants.tuple_slot(&tp)) {
            if self.tuple_first.len() < wants.tuple_slots() {
                self.tuple_first.resize(wants.tuple_slots(), NO_HIT);
            }
            self.add_tuple(slot, (order, t));
        }
    }

    /// The file connections go to (made on first use).
    fn spill_files(
        &mut self,
        wants: Wants<'_>,
        which: impl Fn(&mut HitSpill) -> &mut Vec<Chunked>,
    ) -> Option<&mut Chunked> {
        let list = which(self.spill.get_or_insert_with(HitSpill::default));
        if list.is_empty() {
            // Made lazily; a failure shows when the first chunk is written.
            list.push(Chunked::new(wants.dir.as_deref(), false).ok()?);
        }
        list.first_mut()
    }

    /// Moves what was gathered in memory to the temporary files of `wants` (now spilled).
    fn spill_memory(&mut self, wants: &Joins) {
        let uid_times = std::mem::take(&mut self.uid_times);
        let tuple_first = std::mem::take(&mut self.tuple_first);
        let tuple_more = std::mem::take(&mut self.tuple_more);
        for (slot, (order, t)) in uid_times.into_iter().enumerate() {
            if order != u64::MAX
                && let Some(u) = u32::try_from(slot).ok().and_then(|s| wants.uids.key(s))
                && let Some(c) = self.spill_files(wants, |h| &mut h.uids)
            {
                c.put(part(hash(&**u)), &(&**u, order, t, 0u32));
            }
        }
        let more = tuple_more
            .into_iter()
            .flat_map(|(slot, v)| v.into_iter().map(move |hit| (slot, hit)));
        let first = tuple_first
            .into_iter()
            .enumerate()
            .map(|(slot, hit)| (slot as u32, hit));
        for (slot, (order, t)) in first.chain(more) {
            if order != u64::MAX
                && let Some(tp) = wants.tuples.key(slot)
                && let Some(c) = self.spill_files(wants, |h| &mut h.tuples)
            {
                c.put(part(hash(tp)), &(tp, order, t, 0u32));
            }
        }
    }

    fn add_tuple(&mut self, slot: u32, hit: (u64, f64)) {
        let Some(first) = self.tuple_first.get_mut(slot as usize) else {
            return;
        };
        if first.0 == u64::MAX {
            *first = hit;
            return;
        }
        let later = if hit.0 < first.0 {
            std::mem::replace(first, hit)
        } else {
            hit
        };
        let v = self.tuple_more.entry(slot).or_default();
        bound(v, MAX_TUPLE_TIMES);
        v.push(later);
    }

    /// Folds `other` in.
    pub fn merge(&mut self, other: Hits) {
        if self.uid_times.len() < other.uid_times.len() {
            self.uid_times.resize(other.uid_times.len(), NO_HIT);
        }
        for (mine, theirs) in self.uid_times.iter_mut().zip(other.uid_times) {
            if theirs.0 < mine.0 {
                *mine = theirs;
            }
        }
        if self.tuple_first.len() < other.tuple_first.len() {
            self.tuple_first.resize(other.tuple_first.len(), NO_HIT);
        }
        for (slot, hit) in other.tuple_first.into_iter().enumerate() {
            if hit.0 != u64::MAX {
                self.add_tuple(slot as u32, hit);
            }
        }
        for (slot, v) in other.tuple_more {
            for hit in v {
                self.add_tuple(slot, hit);
            }
        }
        if let Some(mut theirs) = other.spill {
            for c in theirs.uids.iter_mut().chain(theirs.tuples.iter_mut()) {
                c.close();
            }
            let mine = self.spill.get_or_insert_with(HitSpill::default);
            // Keep writing to our own first file, if any.
            mine.uids.extend(theirs.uids);
            mine.tuples.extend(theirs.tuples);
        }
    }

    /// Keeps only the first [`MAX_TUPLE_TIMES`] by order of every 4-tuple.
    fn settle(&mut self) {
        for v in self.tuple_more.values_mut() {
            v.sort_by_key(|(o, _)| *o);
            v.truncate(MAX_TUPLE_TIMES - 1);
        }
    }

    fn uid_time(&self, slot: u32) -> Option<f64> {
        self.uid_times
            .get(slot as usize)
            .filter(|(o, _)| *o != u64::MAX)
            .map(|(_, t)| *t)
    }

    /// The time of the connection of 4-tuple `slot` nearest `mine` (the earlier of two as near).
    fn tuple_time(&self, slot: u32, mine: f64) -> Option<f64> {
        let first = self
            .tuple_first
            .get(slot as usize)
            .filter(|(o, _)| *o != u64::MAX)?;
        let more = self.tuple_more.get(&slot).map_or(&[][..], |v| v.as_slice());
        nearest(std::iter::once(first).chain(more).map(|(_, t)| *t), mine)
    }
}
