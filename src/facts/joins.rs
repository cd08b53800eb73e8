//! Grouping TLS sessions, HTTP requests and certificate files once they are joined to their
//! connections.
//!
//! Until conn.log has streamed by, each such record waits as a [`Waiting`]: the id of its
//! shape (everything it shares with others: server, port, names, certificates, ...) and only
//! what its join needs: own ts, uids, 4-tuple and place. Once every connection time is known,
//! [`group`] gives each record its time (RULES.md §1: its connection's ts, else its own) and
//! folds the records of one shape whose times fall in one name epoch into one group, with the
//! count, the earliest and latest ts and the first occurrence (the earliest (ts, place), as
//! [`crate::alert::Evidence::occurrence`] keeps it). Rules then see one fact per group, which is
//! what they would have made of the records one by one: the same host (one epoch, one name), the
//! same evidence counts, times and first occurrence.

use super::{FastMap, Tuple};
use crate::alert::Occurrence;
use crate::model::Location;
use crate::resolve::Resolver;
use std::net::IpAddr;

/// One record waiting for its connection's time.
#[derive(Debug)]
pub(super) struct Waiting {
    pub shape: u32,
    pub ts: Option<f64>,
    /// Slots of its uids (see `FactsBuilder::want_uid`), the first named in its occurrence.
    pub uids: Box<[u32]>,
    pub uid: Option<Box<str>>,
    pub tuple: Option<Tuple>,
    pub location: Location,
}

impl Waiting {
    pub fn new(
        shape: u32,
        ts: Option<f64>,
        uids: impl IntoIterator<Item = u32>,
        uid: Option<&str>,
        tuple: Option<Tuple>,
        location: &Location,
    ) -> Waiting {
        Waiting {
            shape,
            ts,
            uids: uids.into_iter().collect(),
            uid: uid.map(Box::from),
            tuple,
            location: location.clone(),
        }
    }
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

/// Whether a record at (`ts`, `location`, `uid`) comes before the group's first occurrence
/// (whose ts is `first_ts`): the order of [`Occurrence`], without building one.
fn earlier(
    (ts, location, uid): (Option<f64>, &Location, Option<&str>),
    first_ts: Option<f64>,
    first: &Occurrence,
) -> bool {
    match (ts, first_ts) {
        (Some(a), Some(b)) if a != b => a < b,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        _ => (location, uid) < (&first.location, first.uid.as_deref()),
    }
}

/// Groups `records`: `time` gives a record its time, `server` the server address of a shape.
pub(super) fn group(
    records: Vec<Waiting>,
    time: impl Fn(&Waiting) -> f64,
    server: impl Fn(u32) -> Option<IpAddr>,
    resolver: &Resolver,
) -> Vec<Group> {
    let mut index: FastMap<(u32, u32), usize> = FastMap::default();
    let mut groups: Vec<Group> = Vec::new();
    for w in records {
        let t = time(&w);
        let epoch = server(w.shape).map_or(0, |ip| resolver.epoch(ip, t));
        // The occurrence (a copy of the uid) is made only for a group's first record.
        let occ = |w: Waiting| Occurrence {
            location: w.location,
            uid: w.uid.map(String::from),
        };
        let ts = w.ts;
        match index
            .get(&(w.shape, epoch))
            .and_then(|&i| groups.get_mut(i))
        {
            Some(g) => {
                g.count += 1;
                if earlier((ts, &w.location, w.uid.as_deref()), g.first_ts, &g.first) {
                    g.first = occ(w);
                    g.t = t;
                }
                if let Some(ts) = ts {
                    g.first_ts = Some(g.first_ts.map_or(ts, |f| f.min(ts)));
                    g.last_ts = Some(g.last_ts.map_or(ts, |l| l.max(ts)));
                }
            }
            None => {
                index.insert((w.shape, epoch), groups.len());
                groups.push(Group {
                    shape: w.shape,
                    t,
                    count: 1,
                    first_ts: ts,
                    last_ts: ts,
                    first: occ(w),
                });
            }
        }
    }
    groups
}
