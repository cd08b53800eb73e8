//! The rules of RULES.md §7 behind one small trait, and the context they all read.
//!
//! Every rule reads the same immutable [`Context`] (settings, indicators, whitelist, facts) and
//! pushes contributions into a [`Collector`]. Rules skip whitelisted subjects (§5) and the
//! heuristic ones skip local server addresses (§4). [`run`] evaluates every enabled rule of
//! [`RULES`] (on several threads when asked, with the same result, as each rule contributes
//! under its own id), then ADV-01 over the result. Adding a rule is one struct in its
//! family's file and one line in [`RULES`].

pub mod act;
pub mod adv;
pub mod dom;
pub mod ioc;
pub mod proto;
pub mod ssl;

use crate::FastMap;
use crate::alert::{Collector, Contribution, Evidence, Level, MatchedIndicator, Occurrence};
use crate::facts::{ConnFact, DnsFact, Facts};
use crate::intel::prefix::PrefixTable;
use crate::intel::{Indicator, Intel, Whitelist, WhitelistEntry};
use crate::settings::Settings;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// Registration dates of names, for ACT-02 (from a side file or online lookups).
pub trait RegistrationDates: Sync {
    /// The registration date of `name` (or its nearest parent), as epoch seconds, with its
    /// source.
    fn created(&self, name: &str) -> Option<(f64, String)>;
}

/// What decides whether a TLS session or HTTP request is whitelisted: its server and its own
/// name (SNI or Host).
type RecordSubject = (Option<IpAddr>, Option<String>);

/// What every rule reads.
pub struct Context<'a> {
    pub settings: &'a Settings,
    pub intel: &'a Intel,
    /// `None` when the whitelist is switched off.
    pub whitelist: Option<&'a Whitelist>,
    pub facts: &'a Facts,
    /// Registration dates for ACT-02, when a source was given.
    pub registration: Option<&'a dyn RegistrationDates>,
    /// Registrable domains the state store had never seen (DOM-02), when a store is in use.
    pub first_contacts: Option<&'a BTreeSet<String>>,
    /// Whether DOM-01 runs (`--random-domains`).
    pub random_domains: bool,
    local: PrefixTable<()>,
    /// [`Context::destination_whitelisted`] of each connection aggregate's server, by its index
    /// in `facts.conns`: every connection rule asks it of every aggregate, and the answer (over
    /// all names of the address) never changes, so it is worked out once, for [`Context::conns`].
    conns_whitelisted: OnceLock<Vec<Option<&'a WhitelistEntry>>>,
    /// Whether each DNS transaction, by its index in `facts.dns`, is whitelisted: worked out
    /// once for the name rules, as [`Context::dns`].
    dns_whitelisted: OnceLock<Vec<bool>>,
    /// [`Context::destination_whitelisted`] per address asked outside [`Context::conns`].
    whitelisted_dests: Mutex<FastMap<IpAddr, Option<&'a WhitelistEntry>>>,
    /// [`Context::record_whitelisted`] per (server, the record's own name).
    whitelisted_records: Mutex<FastMap<RecordSubject, bool>>,
}

impl<'a> Context<'a> {
    /// Builds the context; `local_nets` come from the settings.
    pub fn new(
        settings: &'a Settings,
        intel: &'a Intel,
        whitelist: Option<&'a Whitelist>,
        facts: &'a Facts,
        registration: Option<&'a dyn RegistrationDates>,
    ) -> Self {
        let mut local = PrefixTable::new();
        for net in &settings.local_nets {
            local.insert(*net, ());
        }
        Context {
            settings,
            intel,
            whitelist: if settings.whitelist { whitelist } else { None },
            facts,
            registration,
            first_contacts: None,
            random_domains: false,
            local,
            conns_whitelisted: OnceLock::new(),
            dns_whitelisted: OnceLock::new(),
            whitelisted_dests: Default::default(),
            whitelisted_records: Default::default(),
        }
    }

    /// True when `ip` is in `local_nets`.
    pub fn is_local(&self, ip: IpAddr) -> bool {
        self.local.contains(ip)
    }

    /// The whitelist entry that hides a subject (§5): its address matches, or it has at least
    /// one name and every name is covered by a domain entry.
    pub fn whitelisted<'n>(
        &self,
        ip: Option<IpAddr>,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Option<&'a WhitelistEntry> {
        let wl = self.whitelist?;
        if let Some(e) = ip.and_then(|ip| wl.ip(ip)) {
            return Some(e);
        }
        let mut first = None;
        for n in names {
            match wl.name(n) {
                Some(e) => {
                    first.get_or_insert(e);
                }
                None => return None,
            }
        }
        first
    }

    /// The whitelist entry hiding a destination address (server IP plus all its names).
    pub fn destination_whitelisted(&self, ip: IpAddr) -> Option<&'a WhitelistEntry> {
        match self.whitelisted_dests.lock() {
            Ok(mut memo) => *memo
                .entry(ip)
                .or_insert_with(|| self.destination_lookup(ip)),
            Err(_) => self.destination_lookup(ip),
        }
    }

    fn destination_lookup(&self, ip: IpAddr) -> Option<&'a WhitelistEntry> {
        // Without a whitelist the address's names are not even gathered.
        self.whitelist?;
        self.whitelisted(Some(ip), self.facts.resolver.name_list(ip))
    }

    /// Every connection aggregate, in order, with the whitelist entry hiding its server
    /// ([`Context::destination_whitelisted`]), worked out once for all rules.
    pub fn conns(&self) -> impl Iterator<Item = (&'a ConnFact, Option<&'a WhitelistEntry>)> {
        let facts: &'a Facts = self.facts;
        let hidden = self.conns_whitelisted.get_or_init(|| {
            // `conns` is sorted by server: an address's aggregates are asked about once.
            let mut last: Option<(IpAddr, Option<&'a WhitelistEntry>)> = None;
            facts
                .conns
                .iter()
                .map(|c| match last {
                    Some((ip, e)) if ip == c.server => e,
                    _ => {
                        let e = self.destination_lookup(c.server);
                        last = Some((c.server, e));
                        e
                    }
                })
                .collect()
        });
        facts.conns.iter().zip(hidden.iter().copied())
    }

    /// Every DNS transaction, in order, with whether it is whitelisted: its query name and
    /// CNAME targets are all covered by the whitelist (§5). Worked out once for all rules.
    pub fn dns(&self) -> impl Iterator<Item = (&'a DnsFact, bool)> {
        let facts: &'a Facts = self.facts;
        let hidden = self.dns_whitelisted.get_or_init(|| {
            facts
                .dns
                .iter()
                .map(|d| {
                    let subject = d.query.iter().chain(d.cnames.iter()).map(String::as_str);
                    self.whitelisted(None, subject).is_some()
                })
                .collect()
        });
        facts.dns.iter().zip(hidden.iter().copied())
    }

    /// Whether a TLS session or HTTP request is whitelisted (§5): its subject is the server
    /// address with all its names plus the name the record itself carries (SNI or Host).
    /// Remembered per (server, name): records of one server and name come in many groups
    /// when the server's names are asked in turn, and a server may have thousands of names.
    pub fn record_whitelisted(&self, server: Option<IpAddr>, own_name: Option<&str>) -> bool {
        let lookup = || {
            let names = server
                .map(|ip| self.facts.resolver.name_list(ip))
                .unwrap_or_default();
            self.whitelisted(server, names.into_iter().chain(own_name))
                .is_some()
        };
        match self.whitelisted_records.lock() {
            Ok(mut memo) => *memo
                .entry((server, own_name.map(str::to_string)))
                .or_insert_with(lookup),
            Err(_) => lookup(),
        }
    }

    /// The host of a record with server `ip` at `t` (§3).
    pub fn host(&self, ip: IpAddr, t: f64) -> String {
        self.facts.resolver.host(ip, t)
    }
}

/// One rule of RULES.md §7.
pub trait Rule: Sync {
    /// The rule id (`PROTO-01`, ...).
    fn id(&self) -> &'static str;
    /// Whether the settings enable it.
    fn enabled(&self, settings: &Settings) -> bool;
    /// Evaluates the rule over the whole context.
    fn check(&self, ctx: &Context<'_>, out: &mut Collector);
}

/// Every rule but ADV-01, in evaluation order.
pub const RULES: &[&dyn Rule] = &[
    &proto::Proto01,
    &proto::Proto02,
    &proto::Proto03,
    &proto::Proto04,
    &proto::Proto05,
    &ssl::Ssl01,
    &ssl::Ssl02,
    &ssl::Ssl03,
    &ssl::Ssl04,
    &ioc::Ioc01,
    &ioc::Ioc02,
    &ioc::Ioc03,
    &ioc::Ioc04,
    &ioc::Ioc05,
    &ioc::Ioc06,
    &ioc::Ioc07,
    &ioc::Ioc08,
    &ioc::Ioc09,
    &ioc::Ioc10,
    &act::Act01,
    &act::Act02,
    &dom::Dom01,
    &dom::Dom02,
];

/// Runs every enabled rule, adds the names of each alert's server addresses to its evidence,
/// then runs ADV-01 (whose evidence names none), and returns the collector.
///
/// With `threads` above 1 the rules are shared out among that many threads, each rule run
/// whole by one of them into a collector of its own; the collectors are merged after. Every
/// rule contributes under its own id, and alerts of different ids never merge, so the alerts
/// are the same whatever the split.
pub fn run(ctx: &Context<'_>, threads: usize) -> Collector {
    let rules: Vec<&dyn Rule> = RULES
        .iter()
        .copied()
        .filter(|r| r.enabled(ctx.settings))
        .collect();
    let mut out = Collector::new();
    let threads = threads.clamp(1, rules.len().max(1));
    if threads == 1 {
        for rule in rules {
            rule.check(ctx, &mut out);
        }
    } else {
        let next = AtomicUsize::new(0);
        let parts = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut part = Collector::new();
                        while let Some(rule) = rules.get(next.fetch_add(1, Ordering::Relaxed)) {
                            rule.check(ctx, &mut part);
                        }
                        part
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join()).collect::<Vec<_>>()
        });
        for part in parts {
            match part {
                Ok(part) => out.absorb(part),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    }
    out.add_server_names(|ip| ctx.facts.resolver.names(ip));
    adv::adv01(ctx.settings, &mut out);
    out
}

/// An indicator as evidence, naming the observed value that matched it.
pub fn matched(ind: &Indicator, observed: &str) -> MatchedIndicator {
    let mut sources: Vec<String> = ind
        .provenance
        .iter()
        .map(|p| p.location.to_string())
        .collect();
    sources.sort();
    sources.dedup();
    MatchedIndicator {
        kind: ind.kind.name().to_string(),
        value: ind.value.clone(),
        matched: observed.to_string(),
        tags: ind.tags().into_iter().map(str::to_string).collect(),
        sources,
    }
}

/// The level of an indicator-domain rule: `high`, or `moderate` when every matching indicator
/// is tracker-only (SSL-04, IOC-08).
pub fn domain_level(hits: &[&Indicator]) -> Level {
    if !hits.is_empty() && hits.iter().all(|i| i.tracker_only()) {
        Level::Moderate
    } else {
        Level::High
    }
}

/// Evidence of one connection aggregate (the names of its server are added per alert, by
/// [`run`]).
pub fn conn_evidence(c: &ConnFact) -> Evidence {
    let mut ev = Evidence::default();
    ev.server_ips.insert(c.server);
    if let Some(p) = c.port {
        ev.server_ports.insert(p);
    }
    ev.seen("connections", c.count, c.first_ts, c.last_ts);
    ev.occurrence(c.first_ts, c.first.clone());
    ev
}

/// Evidence of one record (TLS session, HTTP request, certificate file); the names of its
/// server are added per alert, by [`run`].
pub fn record_evidence(
    kind: &'static str,
    server: Option<IpAddr>,
    port: Option<u16>,
    (count, ts, last): (u64, Option<f64>, Option<f64>),
    first: &Occurrence,
) -> Evidence {
    let mut ev = Evidence::default();
    if let Some(ip) = server {
        ev.server_ips.insert(ip);
    }
    if let Some(p) = port {
        ev.server_ports.insert(p);
    }
    ev.seen(kind, count, ts, last);
    ev.occurrence(ts, first.clone());
    ev
}

/// A contribution with the given parts.
pub fn contribution(
    id: &'static str,
    level: Level,
    title: &'static str,
    host: String,
    description: String,
    evidence: Evidence,
) -> Contribution {
    Contribution {
        id,
        level,
        host,
        title,
        description,
        evidence,
    }
}

/// Applies a connection rule to every connection aggregate whose server is neither local (when
/// `heuristic`) nor whitelisted; `check` returns the level and extra details when it fires.
pub fn for_each_conn(
    ctx: &Context<'_>,
    heuristic: bool,
    mut check: impl FnMut(&ConnFact) -> Option<(Level, Vec<String>)>,
    mut emit: impl FnMut(&ConnFact, Level, String, Evidence),
) {
    for (c, hidden) in ctx.conns() {
        if hidden.is_some() || (heuristic && ctx.is_local(c.server)) {
            continue;
        }
        if let Some((level, details)) = check(c) {
            let host = ctx.host(c.server, c.t);
            let mut ev = conn_evidence(c);
            ev.details.extend(details);
            emit(c, level, host, ev);
        }
    }
}
