//! Alerts: identity, level, evidence, merging and the fixed output order (RULES.md §8).
//!
//! Rules push [`Contribution`]s into the [`Collector`]; it keeps one [`Alert`] per (rule id,
//! host), raises the level to the highest contributed, merges evidence, and hands out the alerts
//! sorted by level, rule id and host. Rules decide *whether* to alert; this module decides how
//! alerts combine. Whitelisting happens before a contribution is made.

use crate::FastMap;
use crate::model::{Location, Ts};
use std::borrow::Borrow;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// Alert level. The derived order puts `High` first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    High,
    Moderate,
    Low,
}

impl Level {
    /// Every level, highest first.
    pub const ALL: [Level; 3] = [Level::High, Level::Moderate, Level::Low];

    /// `high`, `moderate` or `low`.
    pub fn name(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Moderate => "moderate",
            Level::Low => "low",
        }
    }

    /// Parses `high`, `moderate` or `low` (case-insensitive).
    pub fn from_name(s: &str) -> Option<Level> {
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An indicator that matched, as evidence.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MatchedIndicator {
    /// Indicator type (`domain`, `ip4addr`, ...).
    pub kind: String,
    /// Indicator value.
    pub value: String,
    /// The observed name, address or hash that matched it.
    pub matched: String,
    /// Distinct tags, sorted.
    pub tags: Vec<String>,
    /// Every place the indicator was read (`file:line`), sorted.
    pub sources: Vec<String>,
}

/// The first record that contributed to an alert.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Occurrence {
    pub location: Location,
    pub uid: Option<String>,
}

/// Everything known about why an alert fired.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    pub server_ips: BTreeSet<IpAddr>,
    pub server_ports: BTreeSet<u16>,
    pub indicators: BTreeSet<MatchedIndicator>,
    /// Names considered for the destination, each with its sources (`dns`, `pdns:FILE`).
    pub names: BTreeMap<String, BTreeSet<String>>,
    /// Rule-specific facts (`issuer: CN=R3,O=Let's Encrypt,C=US`, `sni: x.org`, ...), sorted.
    pub details: BTreeSet<String>,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    /// Contributing records per kind: `connections`, `dns_transactions`, `tls_sessions`,
    /// `http_requests`, `certificate_files`, `alerts` (ADV-01).
    pub counts: BTreeMap<&'static str, u64>,
    /// The earliest contributing record (by ts, then location).
    pub first: Option<(Option<Ts>, Occurrence)>,
}

impl Evidence {
    /// Records one (or `count`) contributing records of `kind` seen between `first` and `last`.
    pub fn seen(&mut self, kind: &'static str, count: u64, first: Option<Ts>, last: Option<Ts>) {
        *self.counts.entry(kind).or_default() += count;
        self.first_ts = min_ts(self.first_ts, first);
        self.last_ts = max_ts(self.last_ts, last);
    }

    /// Offers an occurrence; the earliest (ts, location) is kept.
    pub fn occurrence(&mut self, ts: Option<Ts>, occ: Occurrence) {
        let better = match &self.first {
            None => true,
            Some((old_ts, old)) => match (ts, old_ts) {
                (Some(a), Some(b)) if a != *b => a < *b,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                _ => occ < *old,
            },
        };
        if better {
            self.first = Some((ts, occ));
        }
    }

    /// Merges `other` into `self`.
    pub fn merge(&mut self, other: Evidence) {
        self.server_ips.extend(other.server_ips);
        self.server_ports.extend(other.server_ports);
        self.indicators.extend(other.indicators);
        for (name, sources) in other.names {
            self.names.entry(name).or_default().extend(sources);
        }
        self.details.extend(other.details);
        self.first_ts = min_ts(self.first_ts, other.first_ts);
        self.last_ts = max_ts(self.last_ts, other.last_ts);
        for (k, v) in other.counts {
            *self.counts.entry(k).or_default() += v;
        }
        if let Some((ts, occ)) = other.first {
            self.occurrence(ts, occ);
        }
    }
}

fn min_ts(a: Option<Ts>, b: Option<Ts>) -> Option<Ts> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_ts(a: Option<Ts>, b: Option<Ts>) -> Option<Ts> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// One alert: one per (rule id, host).
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub id: &'static str,
    pub level: Level,
    /// A normalised name or a canonical address.
    pub host: String,
    pub title: &'static str,
    pub description: String,
    pub evidence: Evidence,
}

/// What a rule contributes for one record or aggregate.
#[derive(Clone, Debug)]
pub struct Contribution {
    pub id: &'static str,
    pub level: Level,
    pub host: String,
    pub title: &'static str,
    pub description: String,
    pub evidence: Evidence,
}

/// Collects contributions into alerts.
#[derive(Debug, Default)]
pub struct Collector {
    alerts: BTreeMap<(&'static str, String), Alert>,
    /// Alerts whose evidence lists only [`MAX_EVIDENCE_NAMES`] of their servers' names.
    pub names_cut: u64,
}

/// Most names an alert's evidence lists. An address a CDN serves may have thousands of names,
/// and every alert on one of them would list them all: past this many, the alert's own host
/// and the first others (sorted) are listed, and the report's limitations say how many alerts
/// were cut.
pub const MAX_EVIDENCE_NAMES: usize = 100;

impl Collector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a contribution, merging with an existing alert of the same (rule id, host).
    pub fn add(&mut self, c: Contribution) {
        match self.alerts.entry((c.id, c.host)) {
            Entry::Occupied(mut o) => {
                let a = o.get_mut();
                a.level = a.level.min(c.level);
                a.evidence.merge(c.evidence);
            }
            Entry::Vacant(v) => {
                let host = v.key().1.clone();
                v.insert(Alert {
                    id: c.id,
                    level: c.level,
                    host,
                    title: c.title,
                    description: c.description,
                    evidence: c.evidence,
                });
            }
        }
    }

    /// Adds every alert of `other`, merging as [`Collector::add`] does.
    pub fn absorb(&mut self, other: Collector) {
        self.names_cut += other.names_cut;
        if self.alerts.is_empty() {
            self.alerts = other.alerts;
            return;
        }
        for a in other.alerts.into_values() {
            self.add(Contribution {
                id: a.id,
                level: a.level,
                host: a.host,
                title: a.title,
                description: a.description,
                evidence: a.evidence,
            });
        }
    }

    /// Adds to each alert's evidence the names of its server addresses (`names(ip)`, with
    /// their sources), at most [`MAX_EVIDENCE_NAMES`] of them. Rules leave them out of each
    /// contribution and this adds them once per alert: an address with many names would
    /// otherwise copy them all into every aggregate that contributes.
    pub fn add_server_names<K, S>(&mut self, names: impl Fn(IpAddr) -> BTreeMap<K, BTreeSet<S>>)
    where
        K: Ord + Borrow<str>,
        S: AsRef<str>,
    {
        const CAP: usize = MAX_EVIDENCE_NAMES;
        let mut of_ip: FastMap<IpAddr, BTreeMap<K, BTreeSet<S>>> = FastMap::default();
        for a in self.alerts.values_mut() {
            let ev = &mut a.evidence;
            let mut cut = false;
            // The first CAP names of the union are among the first CAP of each address (all
            // sorted), so no more are copied, and each kept name gets its sources from every
            // address that has it.
            for &ip in &ev.server_ips {
                let all = of_ip.entry(ip).or_insert_with(|| names(ip));
                cut |= all.len() > CAP;
                let own = all.get_key_value(a.host.as_str());
                for (name, sources) in all.iter().take(CAP).chain(own) {
                    ev.names
                        .entry(name.borrow().to_string())
                        .or_default()
                        .extend(sources.iter().map(|s| s.as_ref().to_string()));
                }
            }
            if ev.names.len() > CAP || cut {
                let own = ev.names.remove_entry(&a.host);
                let others = CAP - usize::from(own.is_some());
                cut |= ev.names.len() > others;
                if cut {
                    self.names_cut += 1;
                    ev.names = std::mem::take(&mut ev.names)
                        .into_iter()
                        .take(others)
                        .collect();
                }
                ev.names.extend(own);
            }
        }
    }

    /// The alerts so far, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// The alerts in the fixed order: level, rule id, host (byte-wise).
    pub fn into_sorted(self) -> Vec<Alert> {
        let mut v: Vec<Alert> = self.alerts.into_values().collect();
        v.sort_by(|a, b| {
            (a.level, a.id, a.host.as_bytes()).cmp(&(b.level, b.id, b.host.as_bytes()))
        });
        v
    }
}

/// `YYYY-MM-DD` of an epoch time (UTC).
pub fn iso_date(ts: Ts) -> String {
    let days = (ts / 86_400.0).floor() as i64;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's days-from-civil inverse: days since 1970-01-01 to (year, month, day).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_lists_the_host_and_the_first_names_of_its_servers_up_to_the_cap() {
        // 10.0.0.1 has n000..n149, 10.0.0.2 has n100..n159 (from a pdns file too), 10.0.0.3
        // has n000..n049 and 10.0.0.4 n040..n089: 90 names together.
        let names = |ip: IpAddr| -> BTreeMap<String, BTreeSet<String>> {
            let (range, source) = match ip.to_string().as_str() {
                "10.0.0.1" => (0..150, "dns"),
                "10.0.0.2" => (100..160, "pdns:f"),
                "10.0.0.3" => (0..50, "dns"),
                _ => (40..90, "dns"),
            };
            range
                .map(|i| (format!("n{i:03}"), [source.to_string()].into()))
                .collect()
        };
        let mut out = Collector::new();
        for (host, ips) in [
            ("n120", &["10.0.0.1"][..]),
            ("n155", &["10.0.0.1", "10.0.0.2"][..]),
            ("n045", &["10.0.0.3", "10.0.0.4"][..]),
        ] {
            let mut contribution = c("PROTO-03", Level::Low, host);
            contribution.evidence.server_ips = ips.iter().map(|i| i.parse().unwrap()).collect();
            out.add(contribution);
        }
        out.add_server_names(names);
        assert_eq!(out.names_cut, 2);
        let listed = |host: &str| -> Vec<String> {
            out.iter()
                .find(|a| a.host == host)
                .map(|a| a.evidence.names.keys().cloned().collect())
                .unwrap()
        };
        let first = |n: usize, host: &str| -> Vec<String> {
            let mut v: Vec<String> = (0..n).map(|i| format!("n{i:03}")).collect();
            v.push(host.to_string());
            v.sort();
            v
        };
        assert_eq!(listed("n120"), first(MAX_EVIDENCE_NAMES - 1, "n120"));
        assert_eq!(listed("n155"), first(MAX_EVIDENCE_NAMES - 1, "n155"));
        assert_eq!(listed("n045").len(), 90);
        let sources = out
            .iter()
            .find(|a| a.host == "n155")
            .and_then(|a| a.evidence.names.get("n155"))
            .cloned();
        assert_eq!(sources, Some(["pdns:f".to_string()].into()));
    }

    fn c(id: &'static str, level: Level, host: &str) -> Contribution {
        Contribution {
            id,
            level,
            host: host.into(),
            title: "t",
            description: String::new(),
            evidence: Evidence::default(),
        }
    }

    #[test]
    fn absorbing_a_collector_gives_what_adding_its_contributions_in_turn_gives() {
        let with = |level, port: u16, ts: f64, detail: &str| {
            let mut x = c("PROTO-02", level, "a.org");
            x.evidence.server_ports.insert(port);
            x.evidence.details.insert(detail.to_string());
            x.evidence.seen("connections", 2, Some(ts), Some(ts + 1.0));
            x
        };
        let contributions = [
            with(Level::Low, 8443, 10.0, "one"),
            c("IOC-06", Level::Low, "b.xyz"),
            with(Level::Moderate, 9000, 5.0, "two"),
            with(Level::Low, 8443, 20.0, "three"),
            c("IOC-06", Level::Low, "c.xyz"),
        ];
        let mut sequential = Collector::new();
        for x in contributions.iter().cloned() {
            sequential.add(x);
        }
        // Split unevenly, one alert in both parts.
        let (mut first, mut second) = (Collector::new(), Collector::new());
        for (i, x) in contributions.iter().cloned().enumerate() {
            if i < 2 { &mut first } else { &mut second }.add(x);
        }
        first.names_cut = 1;
        second.names_cut = 2;
        let mut merged = Collector::new();
        merged.absorb(first);
        merged.absorb(second);
        assert_eq!(merged.names_cut, 3);
        let (merged, sequential) = (merged.into_sorted(), sequential.into_sorted());
        assert_eq!(merged, sequential);
        let a = merged.iter().find(|a| a.id == "PROTO-02").unwrap();
        assert_eq!(a.level, Level::Moderate);
        assert_eq!(a.evidence.counts.get("connections"), Some(&6));
        assert_eq!(a.evidence.first_ts, Some(5.0));
        assert_eq!(a.evidence.server_ports.len(), 2);
        assert_eq!(merged.len(), 3);
    }

    #[test]
    fn merges_per_rule_and_host_keeping_the_highest_level() {
        let mut col = Collector::new();
        col.add(c("SSL-04", Level::Moderate, "a.org"));
        col.add(c("SSL-04", Level::High, "a.org"));
        col.add(c("PROTO-02", Level::Low, "b.org"));
        col.add(c("IOC-01", Level::High, "b.org"));
        let out = col.into_sorted();
        let ids: Vec<_> = out
            .iter()
            .map(|a| (a.id, a.level, a.host.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("IOC-01", Level::High, "b.org"),
                ("SSL-04", Level::High, "a.org"),
                ("PROTO-02", Level::Low, "b.org")
            ]
        );
    }
}
