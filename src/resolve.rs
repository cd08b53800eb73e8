//! Names of an address (RULES.md §3): which names the capture's DNS answers (and side files) gave
//! each IP, and the `pick` / `display` choice among them at a given time.
//!
//! Associations are stored per address as *runs*: maximal stretches of time in which the same
//! (name, rank) was answered for that address, so repeated lookups of one name cost nothing and
//! state grows with distinct (address, name) changes, not with DNS rows. For input in time order
//! (as Zeek writes it) `pick` is exact; an association that arrives out of order inside another
//! name's run is kept as its own run and `pick` treats runs as covering their whole span.
//! An address whose names are asked in turn (a CDN's) has a run per turn, so nothing per
//! record may cost its runs: the distinct names of an address are kept beside them, and `pick`
//! looks back from the time asked only as far as a run could still match.
//! `epoch`, asked once per connection, reads a compact copy of the runs' starts (built once
//! enough lookups have been made since the last change) rather than the runs themselves.
//! Nothing here knows about rules or files.

use crate::FastMap;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Rank of a name for an address: the query name (0) or a CNAME target in the answers (1).
pub type Rank = u8;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Run {
    first: f64,
    last: f64,
    name: u32,
    rank: Rank,
}

/// The capture's associations of one address.
#[derive(Debug, Default)]
struct Runs {
    /// Sorted by `first`.
    runs: Vec<Run>,
    /// The distinct names of `runs` (ids, sorted), so that the names of an address cost its
    /// names, not its runs: an address shared by names asked in turn (a CDN's) has a run per
    /// turn.
    names: Vec<u32>,
    /// Element i: the latest `last` among `runs[..=i]`, which bounds how far back `pick` must
    /// look. Worked out at the first `pick` after a change.
    reach: OnceLock<Vec<f64>>,
}

impl Runs {
    fn reach(&self) -> &[f64] {
        self.reach.get_or_init(|| {
            let mut latest = f64::NEG_INFINITY;
            self.runs
                .iter()
                .map(|r| {
                    latest = latest.max(r.last);
                    latest
                })
                .collect()
        })
    }
}

/// The starts of every address's runs in one small table, for [`Resolver::epoch`]: a connection
/// log asks it once per row, and the runs themselves are spread over the heap (two cache misses
/// a row, a third of the time of reading conn rows).
#[derive(Debug, Default)]
struct Starts {
    /// Address -> offset and number of its starts in `firsts`.
    at: FastMap<IpAddr, (u32, u32)>,
    /// Each address's run starts, sorted, one address after another.
    firsts: Vec<f64>,
}

impl Starts {
    fn of(runs: &FastMap<IpAddr, Runs>) -> Option<Starts> {
        let mut s = Starts {
            at: HashMap::with_capacity_and_hasher(runs.len(), Default::default()),
            firsts: Vec::with_capacity(runs.values().map(|a| a.runs.len()).sum()),
        };
        for (ip, a) in runs {
            let off = u32::try_from(s.firsts.len()).ok()?;
            let len = u32::try_from(a.runs.len()).ok()?;
            s.firsts.extend(a.runs.iter().map(|r| r.first));
            s.at.insert(*ip, (off, len));
        }
        Some(s)
    }

    fn span(&self, ip: IpAddr, t: f64) -> Span {
        let firsts = self.at.get(&ip).and_then(|&(off, len)| {
            let (off, len) = (off as usize, len as usize);
            self.firsts.get(off..off + len)
        });
        span_of(firsts.unwrap_or_default(), |&first| first, t)
    }
}

/// A name epoch and the times it spans: every time in `from..until` has epoch `epoch`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub epoch: u32,
    pub from: f64,
    pub until: f64,
}

/// The [`Span`] holding `t` among the sorted run starts `first` reads from `items`.
fn span_of<T>(items: &[T], first: impl Fn(&T) -> f64, t: f64) -> Span {
    let n = items.partition_point(|i| first(i) <= t);
    Span {
        epoch: u32::try_from(n).unwrap_or(u32::MAX),
        from: n
            .checked_sub(1)
            .and_then(|i| items.get(i))
            .map_or(f64::NEG_INFINITY, &first),
        until: items.get(n).map_or(f64::INFINITY, &first),
    }
}

/// Address -> names, from the capture's DNS answers and from passive-DNS side files.
#[derive(Debug, Default)]
pub struct Resolver {
    names: Vec<String>,
    ids: FastMap<String, u32>,
    runs: FastMap<IpAddr, Runs>,
    /// Side-file names per address, with their source (`pdns:FILE`).
    side: FastMap<IpAddr, BTreeMap<String, BTreeSet<String>>>,
    /// The runs' starts for `epoch`, built once `epoch` was asked more often since the last
    /// change than there are runs (so a log that mixes DNS and conn rows never rebuilds it per
    /// row: the building is paid for by the lookups before it); `None` inside when there are too
    /// many runs to index with `u32`.
    starts: OnceLock<Option<Starts>>,
    /// Runs of all addresses.
    run_count: usize,
    /// `epoch` lookups made on the runs since the last change.
    unindexed: AtomicUsize,
    /// How many runs were made, so that callers can tell when spans they kept are stale.
    generation: u64,
}

/// The names of an address, as [`Resolver::name_list`] gives them.
pub type NameList<'r> = smallvec::SmallVec<[&'r str; 4]>;

/// Where a name of an address came from.
pub const CAPTURE_SOURCE: &str = "dns";

impl Resolver {
    /// An empty resolver.
    pub fn new() -> Self {
        Self::default()
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    fn name(&self, id: u32) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// Associates `ip` with the normalised `name` at `ts` (unknown ts sorts before every time).
    ///
    /// The association extends the latest run of the same (name, rank) when no run of another
    /// name started after that run's end and at or before `ts`: answers given in one
    /// transaction (a query name and its CNAME targets share a ts) never split each other's
    /// runs, so repeated lookups keep the state per address constant.
    pub fn add(&mut self, ip: IpAddr, name: &str, rank: Rank, ts: Option<f64>) {
        let id = self.intern(name);
        self.add_id(ip, id, rank, ts);
    }

    /// The id [`Resolver::add_id`] knows `name` by.
    pub(crate) fn name_id(&mut self, name: &str) -> u32 {
        self.intern(name)
    }

    /// [`Resolver::add`] for a name by its [`Resolver::name_id`].
    pub(crate) fn add_id(&mut self, ip: IpAddr, id: u32, rank: Rank, ts: Option<f64>) {
        let ts = ts.unwrap_or(f64::NEG_INFINITY);
        let addr = self.runs.entry(ip).or_default();
        addr.reach = OnceLock::new();
        let runs = &mut addr.runs;
        let known = addr.names.binary_search(&id);
        if known.is_ok()
            && let Some(pos) = runs.iter().rposition(|r| r.name == id && r.rank == rank)
        {
            let (start, end) = match runs.get(pos) {
                Some(r) => (r.first, r.last),
                None => (ts, ts),
            };
            if start <= ts && ts <= end {
                return;
            }
            let intervening = runs
                .iter()
                .rev()
                .take_while(|r| r.first > end)
                .any(|r| r.name != id && r.first <= ts);
            if ts > end
                && !intervening
                && let Some(r) = runs.get_mut(pos)
            {
                r.last = ts;
                return;
            }
        }
        if let Err(i) = known {
            addr.names.insert(i, id);
        }
        let run = Run {
            first: ts,
            last: ts,
            name: id,
            rank,
        };
        let at = runs.partition_point(|r| r.first <= ts);
        runs.insert(at, run);
        // Only a new run changes the starts (an extended one changes its end, which epochs and
        // spans do not read).
        self.run_count += 1;
        self.generation += 1;
        *self.unindexed.get_mut() = 0;
        if self.starts.get().is_some() {
            self.starts = OnceLock::new();
        }
    }

    /// Adds a side-file name for `ip` (no time), with its source.
    pub fn add_side(&mut self, ip: IpAddr, name: &str, source: &str) {
        self.side
            .entry(ip)
            .or_default()
            .entry(name.to_string())
            .or_default()
            .insert(source.to_string());
    }

    /// Every name associated with `ip`, with its sources, sorted.
    pub fn names(&self, ip: IpAddr) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        if let Some(addr) = self.runs.get(&ip) {
            for &id in &addr.names {
                out.entry(self.name(id)).or_default().insert(CAPTURE_SOURCE);
            }
        }
        if let Some(side) = self.side.get(&ip) {
            for (n, sources) in side {
                out.entry(n.as_str())
                    .or_default()
                    .extend(sources.iter().map(String::as_str));
            }
        }
        out
    }

    /// The names of `ip`, sorted and each once: the keys of [`Resolver::names`], without
    /// gathering their sources (the rules ask this of every destination, several times; most
    /// addresses have a name or two, kept inline).
    pub fn name_list(&self, ip: IpAddr) -> NameList<'_> {
        let mut out: NameList<'_> = self
            .runs
            .get(&ip)
            .map(|a| a.names.iter().map(|&id| self.name(id)).collect())
            .unwrap_or_default();
        if let Some(side) = self.side.get(&ip) {
            out.extend(side.keys().map(String::as_str));
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// True when `ip` has at least one name.
    pub fn has_names(&self, ip: IpAddr) -> bool {
        self.runs.contains_key(&ip) || self.side.contains_key(&ip)
    }

    /// pick(ip, t, S) of RULES.md §3, S given as a predicate on names.
    ///
    /// A run counts at min(its last association, t) if it began by t, else at its first
    /// association. Runs are sorted by their first association, so the runs begun by t are a
    /// prefix, looked at from its end: once the latest end among the runs left (`Runs::reach`)
    /// is below the best time found, none of them can match or beat it. The runs begun after t
    /// count only if none in S began by t, and the first of them in S is the earliest.
    pub fn pick(&self, ip: IpAddr, t: f64, in_s: impl Fn(&str) -> bool) -> Option<&str> {
        let addr = self.runs.get(&ip);
        let runs = addr.map_or(&[][..], |a| a.runs.as_slice());
        let reach = addr.map_or(&[][..], Runs::reach);
        let begun = runs.partition_point(|r| r.first <= t);
        let mut best: Option<(f64, Rank, &str)> = None;
        for i in (0..begun).rev() {
            let (Some(r), Some(&latest)) = (runs.get(i), reach.get(i)) else {
                break;
            };
            if best.is_some_and(|(bt, _, _)| latest < bt) {
                break;
            }
            let name = self.name(r.name);
            if !in_s(name) {
                continue;
            }
            let eff = if r.last < t { r.last } else { t };
            let better = match best {
                None => true,
                Some((bt, br, bn)) => {
                    eff > bt || (eff == bt && (r.rank, name.as_bytes()) < (br, bn.as_bytes()))
                }
            };
            if better {
                best = Some((eff, r.rank, name));
            }
        }
        if best.is_none() {
            for r in runs.get(begun..).unwrap_or_default() {
                let name = self.name(r.name);
                if best.is_some_and(|(at, _, _)| r.first > at) {
                    break;
                }
                if !in_s(name) {
                    continue;
                }
                let better = match best {
                    None => true,
                    Some((_, ar, an)) => (r.rank, name.as_bytes()) < (ar, an.as_bytes()),
                };
                if better {
                    best = Some((r.first, r.rank, name));
                }
            }
        }
        if let Some((_, _, n)) = best {
            return Some(n);
        }
        self.side
            .get(&ip)
            .and_then(|m| m.keys().find(|n| in_s(n)))
            .map(String::as_str)
    }

    /// display(ip, t): pick among all names of `ip`.
    pub fn display(&self, ip: IpAddr, t: f64) -> Option<&str> {
        self.pick(ip, t, |_| true)
    }

    /// The host of a record with server `ip` at `t`: its display name, else the address.
    pub fn host(&self, ip: IpAddr, t: f64) -> String {
        match self.display(ip, t) {
            Some(n) => n.to_string(),
            None => ip.to_string(),
        }
    }

    /// An index that is equal for two times exactly when every `pick` for `ip` answers the same
    /// at both (for input in time order): the number of runs started at or before `t`.
    pub fn epoch(&self, ip: IpAddr, t: f64) -> u32 {
        self.span(ip, t).epoch
    }

    /// The epoch of `ip` at `t` and the times around `t` that share it.
    pub fn span(&self, ip: IpAddr, t: f64) -> Span {
        let indexed = match self.starts.get() {
            Some(s) => s.as_ref(),
            None if self.unindexed.fetch_add(1, Ordering::Relaxed) < self.run_count => None,
            None => self.starts.get_or_init(|| Starts::of(&self.runs)).as_ref(),
        };
        match indexed {
            Some(s) => s.span(ip, t),
            None => {
                let runs = self.runs.get(&ip).map_or(&[][..], |a| a.runs.as_slice());
                span_of(runs, |r| r.first, t)
            }
        }
    }

    /// Runs made so far: spans taken at one generation hold until the next.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn latest_before_else_earliest_after() {
        let mut r = Resolver::new();
        let a = ip("104.16.0.1");
        r.add(a, "api.evil-c2.com", 0, Some(10.0));
        r.add(a, "www.apple.com", 0, Some(20.0));
        r.add(a, "www.apple.com", 0, Some(30.0));
        assert_eq!(r.display(a, 25.0), Some("www.apple.com"));
        assert_eq!(r.display(a, 15.0), Some("api.evil-c2.com"));
        assert_eq!(r.display(a, 5.0), Some("api.evil-c2.com"));
        assert_eq!(
            r.pick(a, 25.0, |n| n == "api.evil-c2.com"),
            Some("api.evil-c2.com")
        );
        assert_eq!(r.host(ip("1.2.3.4"), 0.0), "1.2.3.4");
        assert_eq!(r.epoch(a, 25.0), r.epoch(a, 35.0));
        assert_ne!(r.epoch(a, 15.0), r.epoch(a, 25.0));
    }

    #[test]
    fn repeated_answers_with_cnames_keep_one_run_per_name() {
        // Issue 2 benchmark: a query name and its CNAME target answered together, again and
        // again, must not grow the state.
        let mut r = Resolver::new();
        let a = ip("203.0.113.9");
        for i in 0..1000 {
            let t = Some(f64::from(i));
            r.add(a, "www.example.org", 0, t);
            r.add(a, "edge.cdn.net", 1, t);
        }
        assert_eq!(r.runs.get(&a).map(|a| a.runs.len()), Some(2));
        assert_eq!(r.display(a, 500.5), Some("www.example.org"));
        // A change of name in between does split.
        r.add(a, "other.example.org", 0, Some(2000.0));
        r.add(a, "www.example.org", 0, Some(3000.0));
        assert_eq!(r.display(a, 2500.0), Some("other.example.org"));
        assert_eq!(r.display(a, 3500.0), Some("www.example.org"));
    }

    #[test]
    fn ties_prefer_query_name_then_smallest() {
        let mut r = Resolver::new();
        let a = ip("192.0.2.1");
        r.add(a, "z.cdn.net", 1, Some(10.0));
        r.add(a, "www.b.org", 0, Some(10.0));
        r.add(a, "www.a.org", 0, Some(10.0));
        assert_eq!(r.display(a, 11.0), Some("www.a.org"));
    }

    /// pick as RULES.md §3 words it, over every run of the address.
    fn pick_by_scan(r: &Resolver, ip: IpAddr, t: f64, in_s: impl Fn(&str) -> bool) -> Option<&str> {
        let runs = r.runs.get(&ip).map_or(&[][..], |a| a.runs.as_slice());
        let key = |eff: f64, run: &Run| (eff, run.rank, r.name(run.name));
        let before = runs
            .iter()
            .filter(|run| run.first <= t && in_s(r.name(run.name)))
            .map(|run| key(run.last.min(t), run))
            .min_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        let after = runs
            .iter()
            .filter(|run| run.first > t && in_s(r.name(run.name)))
            .map(|run| key(run.first, run))
            .min_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        before.or(after).map(|(_, _, n)| n)
    }

    #[test]
    fn pick_agrees_with_the_rule_over_every_run() {
        let names = [
            "a.example",
            "b.example",
            "c.example",
            "d.example",
            "e.example",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let a = ip("104.16.0.1");
        for round in 0..300 {
            let mut r = Resolver::new();
            // Mostly in time order, names asked in turn, some answers out of order, at the
            // same time as the one before, or without a time.
            let mut ts = 0.0;
            for _ in 0..(1 + next(60)) {
                ts += [0.0, 1.0, 1.0, 2.5][next(4) as usize];
                let at = match next(10) {
                    0 => None,
                    1 => Some(ts - next(20) as f64),
                    _ => Some(ts),
                };
                let name = names[next(names.len() as u64) as usize];
                r.add(a, name, u8::from(next(4) == 0), at);
                // A pick between two answers must not leave the next picks stale.
                if next(8) == 0 {
                    assert_eq!(r.display(a, ts), pick_by_scan(&r, a, ts, |_| true));
                }
            }
            let sets: [&dyn Fn(&str) -> bool; 4] = [
                &|_| true,
                &|n| n == "a.example",
                &|n| n == "b.example" || n == "e.example",
                &|_| false,
            ];
            for q in 0..80 {
                let t = probe_time(q, ts, &mut next);
                for in_s in sets {
                    assert_eq!(
                        r.pick(a, t, in_s),
                        pick_by_scan(&r, a, t, in_s),
                        "round {round}, t {t}"
                    );
                }
            }
        }
    }

    /// The `q`-th time asked of a history whose answers reached `ts`: both infinities first,
    /// then half seconds from before the first answer to after the last.
    fn probe_time(q: usize, ts: f64, next: &mut impl FnMut(u64) -> u64) -> f64 {
        match q {
            0 => f64::NEG_INFINITY,
            1 => f64::INFINITY,
            _ => next(2 * (ts as u64 + 2)) as f64 / 2.0 - 5.0,
        }
    }

    /// The epoch of RULES.md-order input by its definition: runs of `ip` begun by `t`.
    fn epoch_by_count(r: &Resolver, ip: IpAddr, t: f64) -> u32 {
        let runs = r.runs.get(&ip).map_or(&[][..], |a| a.runs.as_slice());
        runs.iter().filter(|run| run.first <= t).count() as u32
    }

    #[test]
    fn spans_agree_with_the_runs_before_and_after_the_index_and_after_changes() {
        let addrs = [
            ip("104.16.0.1"),
            ip("104.16.0.2"),
            ip("2001:db8::1"),
            ip("10.9.9.9"),
        ];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut r = Resolver::new();
        let mut ts = 0.0;
        let mut indexed_rounds = 0;
        for round in 0..200 {
            // A few answers (some out of order or without a time), then many lookups: the first
            // lookups after a change read the runs, later ones the index built from them.
            for _ in 0..(1 + next(4)) {
                ts += [0.0, 1.0, 2.5][next(3) as usize];
                let at = match next(8) {
                    0 => None,
                    1 => Some(ts - next(10) as f64),
                    _ => Some(ts),
                };
                let a = addrs[next(3) as usize];
                let name = ["a.example", "b.example", "c.example"][next(3) as usize];
                let (before, runs_before) = (r.generation(), r.run_count);
                let t = probe_time(next(40) as usize, ts, &mut next);
                let kept = r.span(a, t);
                r.add(a, name, 0, at);
                // A new generation exactly when a run was made; without one, spans taken
                // before still hold.
                assert_eq!(r.generation() > before, r.run_count > runs_before);
                if r.generation() == before {
                    assert_eq!(r.span(a, t), kept, "{a} at {t} after an answer at {at:?}");
                }
            }
            for q in 0..40 {
                let t = probe_time(q, ts, &mut next);
                for a in addrs {
                    let span = r.span(a, t);
                    let want = epoch_by_count(&r, a, t);
                    assert_eq!(span.epoch, want, "round {round}, {a} at {t}");
                    assert_eq!(r.epoch(a, t), want);
                    assert!(
                        span.from <= t && t < span.until || t == f64::INFINITY,
                        "{span:?}"
                    );
                    // The span's ends: its start has the same epoch, and the time it ends at
                    // a later one.
                    assert_eq!(epoch_by_count(&r, a, span.from), want, "{span:?}");
                    if span.until.is_finite() {
                        assert!(epoch_by_count(&r, a, span.until) > want, "{span:?}");
                    }
                    // No run starts inside it, so every time in it has the same epoch.
                    let runs = r.runs.get(&a).map_or(&[][..], |a| a.runs.as_slice());
                    assert!(
                        runs.iter()
                            .all(|run| run.first <= span.from || run.first >= span.until),
                        "{span:?}"
                    );
                }
            }
            if r.starts.get().is_some() {
                indexed_rounds += 1;
            }
        }
        // Both paths were taken.
        assert!(indexed_rounds > 100, "{indexed_rounds}");
        let mut fresh = Resolver::new();
        fresh.add(addrs[0], "a.example", 0, Some(1.0));
        assert!(fresh.starts.get().is_none());
    }

    #[test]
    fn the_index_is_built_once_there_were_as_many_lookups_as_runs() {
        // Building the index costs the runs; lookups in between changes pay for it, so a log
        // mixing answers and connections (a lookup after each answer) never builds it.
        let mut r = Resolver::new();
        let a = ip("104.16.0.1");
        let name = |i: usize| ["x.example", "y.example"][i % 2];
        for i in 0..1000 {
            r.add(a, name(i), 0, Some(i as f64));
        }
        for i in 1000..1100 {
            r.add(a, name(i), 0, Some(i as f64));
            assert_eq!(r.epoch(a, i as f64), i as u32 + 1);
            assert!(r.starts.get().is_none(), "rebuilt after answer {i}");
        }
        assert_eq!(r.run_count, 1100);
        // One lookup since the last answer, and 1,099 more.
        for _ in 1..1100 {
            assert_eq!(r.epoch(a, 10.5), 11);
        }
        assert!(r.starts.get().is_none());
        assert_eq!(r.epoch(a, 10.5), 11);
        assert!(r.starts.get().is_some());
        assert_eq!(r.epoch(a, 10.5), 11);
        // Answers that only extend the latest run keep the index and the generation.
        let generation = r.generation();
        for i in 1100..1200 {
            r.add(a, name(1099), 0, Some(i as f64));
        }
        assert_eq!(r.generation(), generation);
        assert!(r.starts.get().is_some());
        assert_eq!(r.epoch(a, 1150.0), 1100);
    }

    #[test]
    fn names_of_an_address_asked_in_turn_are_its_distinct_names() {
        let mut r = Resolver::new();
        let a = ip("104.16.0.1");
        for i in 0..10_000 {
            r.add(
                a,
                ["x.example", "y.example", "z.example"][i % 3],
                0,
                Some(i as f64),
            );
        }
        assert_eq!(r.runs.get(&a).map(|a| a.runs.len()), Some(10_000));
        let names: Vec<&str> = r.names(a).into_keys().collect();
        assert_eq!(names, ["x.example", "y.example", "z.example"]);
        assert_eq!(r.display(a, 5000.5), Some("z.example"));
        assert_eq!(r.pick(a, 5000.5, |n| n == "x.example"), Some("x.example"));
    }

    #[test]
    fn side_names_only_when_no_capture_name_fits() {
        let mut r = Resolver::new();
        let a = ip("192.0.2.2");
        r.add_side(a, "x.example", "pdns:f");
        assert_eq!(r.display(a, 0.0), Some("x.example"));
        r.add(a, "y.example", 0, Some(1.0));
        assert_eq!(r.display(a, 0.0), Some("y.example"));
        assert_eq!(r.names(a).len(), 2);
    }

    #[test]
    fn name_list_is_the_sorted_distinct_names_from_answers_and_side_files() {
        let mut r = Resolver::new();
        let a = ip("192.0.2.3");
        assert!(r.name_list(a).is_empty());
        // Interned in another order than the names sort in, one name from both sources, and a
        // name answered in two runs.
        r.add(a, "z.example", 0, Some(1.0));
        r.add(a, "b.example", 1, Some(2.0));
        r.add(a, "z.example", 0, Some(3.0));
        r.add_side(a, "m.example", "pdns:f");
        r.add_side(a, "b.example", "pdns:g");
        let keys: Vec<&str> = r.names(a).into_keys().collect();
        assert_eq!(r.name_list(a).as_slice(), keys);
        assert_eq!(keys, ["b.example", "m.example", "z.example"]);
        let side_only = ip("192.0.2.4");
        r.add_side(side_only, "s.example", "pdns:f");
        assert_eq!(r.name_list(side_only).as_slice(), ["s.example"]);
    }
}
