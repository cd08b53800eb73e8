//! Indicator rules IOC-01..10 (RULES.md §7.1, §7.2): indicator addresses and networks on
//! connections, indicator, tracker, dynamic-DNS and TLD names on destinations and DNS lookups,
//! indicator certificates, and the same name checks on HTTP Host values. [`name_rule`] is the
//! shared two-path evaluation of §7.2 that the ACT rules reuse.

use super::{Context, Rule, conn_evidence, contribution, domain_level, matched, record_evidence};
use crate::alert::{Collector, Evidence, Level, MatchedIndicator};
use crate::facts::HttpFact;
use crate::names::HostValue;
use crate::settings::Settings;

/// IOC-01: indicator address.
pub struct Ioc01;
/// IOC-02: address in an indicator network.
pub struct Ioc02;
/// IOC-03: indicator domain.
pub struct Ioc03;
/// IOC-04: tracker domain.
pub struct Ioc04;
/// IOC-05: dynamic-DNS name.
pub struct Ioc05;
/// IOC-06: suspicious TLD.
pub struct Ioc06;
/// IOC-07: indicator certificate.
pub struct Ioc07;
/// IOC-08: indicator domain in HTTP Host.
pub struct Ioc08;
/// IOC-09: dynamic-DNS name in HTTP Host.
pub struct Ioc09;
/// IOC-10: suspicious TLD in HTTP Host.
pub struct Ioc10;

/// What a name rule found for one name: the evidence entries and extra details.
pub type NameMatch = (Vec<MatchedIndicator>, Vec<String>);

/// A name rule's fixed parts.
pub struct NameRule<'r> {
    pub id: &'static str,
    pub level: Level,
    pub title: &'static str,
    /// Explains the finding for a host.
    pub describe: &'r dyn Fn(&str) -> String,
    /// Tests one normalised name; `None` when it does not match.
    pub test: &'r dyn Fn(&str) -> Option<NameMatch>,
}

/// Evaluates a name rule on destinations (every name of every connection's server) and on DNS
/// transactions (query name and CNAME targets), RULES.md §7.2.
pub fn name_rule(ctx: &Context<'_>, rule: &NameRule<'_>, out: &mut Collector) {
    // The names of a server do not change with time, and `conns` is sorted by server: the
    // matches are worked out once per server, not once per aggregate (an address shared by
    // many names has an aggregate per turn of its names).
    let mut server_hits: Option<(std::net::IpAddr, Vec<(&str, NameMatch)>)> = None;
    for (c, hidden) in ctx.conns() {
        if hidden.is_some() {
            continue;
        }
        let hits = match &mut server_hits {
            Some((ip, hits)) if *ip == c.server => hits,
            slot => {
                let hits = ctx
                    .facts
                    .resolver
                    .name_list(c.server)
                    .into_iter()
                    .filter_map(|n| (rule.test)(n).map(|m| (n, m)))
                    .collect();
                &mut slot.insert((c.server, hits)).1
            }
        };
        if hits.is_empty() {
            continue;
        }
        let is_hit = |n: &str| hits.iter().any(|(h, _)| *h == n);
        let display = ctx.facts.resolver.display(c.server, c.t);
        let host = match display {
            Some(d) if is_hit(d) => d.to_string(),
            _ => match ctx.facts.resolver.pick(c.server, c.t, is_hit) {
                Some(n) => n.to_string(),
                None => continue,
            },
        };
        let mut ev = conn_evidence(c);
        for (_, (inds, details)) in hits.iter().filter(|(n, _)| *n == host) {
            ev.indicators.extend(inds.iter().cloned());
            ev.details.extend(details.iter().cloned());
        }
        out.add(contribution(
            rule.id,
            rule.level,
            rule.title,
            host.clone(),
            (rule.describe)(&host),
            ev,
        ));
    }
    for (d, hidden) in ctx.dns() {
        if hidden {
            continue;
        }
        let found = d
            .query
            .iter()
            .chain(d.cnames.iter())
            .find_map(|n| (rule.test)(n).map(|m| (n, m)));
        let Some((host, (inds, details))) = found else {
            continue;
        };
        let mut ev = Evidence::default();
        ev.indicators.extend(inds);
        ev.details.extend(details);
        ev.details.insert(format!(
            "looked up: {} ({})",
            d.query.as_deref().unwrap_or("-"),
            if d.qtype.is_empty() { "-" } else { &d.qtype }
        ));
        ev.seen("dns_transactions", d.count, d.first_ts, d.last_ts);
        ev.occurrence(d.first_ts, d.first.clone());
        out.add(contribution(
            rule.id,
            rule.level,
            rule.title,
            host.clone(),
            (rule.describe)(host),
            ev,
        ));
    }
}

fn indicator_test(hits: Vec<&crate::intel::Indicator>, name: &str) -> Option<NameMatch> {
    (!hits.is_empty()).then(|| (hits.iter().map(|i| matched(i, name)).collect(), Vec::new()))
}

impl Rule for Ioc01 {
    fn id(&self) -> &'static str {
        "IOC-01"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for (c, hidden) in ctx.conns() {
            let hits = ctx.intel.addr(c.server);
            if hits.is_empty() || hidden.is_some() {
                continue;
            }
            let host = ctx.host(c.server, c.t);
            let mut ev = conn_evidence(c);
            for i in &hits {
                ev.indicators.insert(matched(i, &c.server.to_string()));
            }
            out.add(contribution(
                "IOC-01",
                Level::High,
                "Indicator address",
                host.clone(),
                format!("{host} is at an address listed as an indicator of compromise."),
                ev,
            ));
        }
    }
}

impl Rule for Ioc02 {
    fn id(&self) -> &'static str {
        "IOC-02"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for (c, hidden) in ctx.conns() {
            let hits = ctx.intel.networks(c.server);
            if hits.is_empty() || hidden.is_some() {
                continue;
            }
            let host = ctx.host(c.server, c.t);
            let mut ev = conn_evidence(c);
            for i in &hits {
                ev.indicators.insert(matched(i, &c.server.to_string()));
            }
            out.add(contribution(
                "IOC-02",
                Level::Moderate,
                "Address in an indicator network",
                host.clone(),
                format!("{host} is inside a network listed as an indicator of compromise."),
                ev,
            ));
        }
    }
}

impl Rule for Ioc03 {
    fn id(&self) -> &'static str {
        "IOC-03"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let test = |n: &str| {
            let hits: Vec<_> = ctx
                .intel
                .domains(n)
                .into_iter()
                .filter(|i| i.has_non_tracker())
                .collect();
            indicator_test(hits, n)
        };
        let describe = |h: &str| {
            format!(
                "{h} matches a domain indicator: the device talked to, or looked up, known malicious infrastructure."
            )
        };
        name_rule(
            ctx,
            &NameRule {
                id: "IOC-03",
                level: Level::High,
                title: "Indicator domain",
                describe: &describe,
                test: &test,
            },
            out,
        );
    }
}

impl Rule for Ioc04 {
    fn id(&self) -> &'static str {
        "IOC-04"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let test = |n: &str| {
            let hits: Vec<_> = ctx
                .intel
                .domains(n)
                .into_iter()
                .filter(|i| i.has_tracker())
                .collect();
            indicator_test(hits, n)
        };
        let describe =
            |h: &str| format!("{h} belongs to a known tracking or location-reporting service.");
        name_rule(
            ctx,
            &NameRule {
                id: "IOC-04",
                level: Level::Moderate,
                title: "Tracker domain",
                describe: &describe,
                test: &test,
            },
            out,
        );
    }
}

impl Rule for Ioc05 {
    fn id(&self) -> &'static str {
        "IOC-05"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let test = |n: &str| indicator_test(ctx.intel.freedns(n), n);
        let describe = |h: &str| {
            format!(
                "{h} is a name at a free dynamic-DNS provider, often used to point at home-run or short-lived servers."
            )
        };
        name_rule(
            ctx,
            &NameRule {
                id: "IOC-05",
                level: Level::Moderate,
                title: "Dynamic-DNS name",
                describe: &describe,
                test: &test,
            },
            out,
        );
    }
}

impl Rule for Ioc06 {
    fn id(&self) -> &'static str {
        "IOC-06"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let test = |n: &str| indicator_test(ctx.intel.tlds(n), n);
        let describe = |h: &str| {
            format!(
                "{h} is under a top-level domain that is cheap and heavily abused for malicious sites."
            )
        };
        name_rule(
            ctx,
            &NameRule {
                id: "IOC-06",
                level: Level::Low,
                title: "Suspicious TLD",
                describe: &describe,
                test: &test,
            },
            out,
        );
    }
}

impl Rule for Ioc07 {
    fn id(&self) -> &'static str {
        "IOC-07"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let describe = |h: &str| {
            format!(
                "{h} presented a certificate whose fingerprint is listed as an indicator of compromise."
            )
        };
        for t in &ctx.facts.tls {
            let mut ev: Option<Evidence> = None;
            for cert in &t.chain {
                for h in cert.sha1.iter().chain(cert.sha256.iter()) {
                    for ind in ctx.intel.cert(h) {
                        ev.get_or_insert_with(|| {
                            record_evidence(
                                "tls_sessions",
                                t.server,
                                t.port,
                                (t.count, t.ts, t.last_ts),
                                &t.first,
                            )
                        })
                        .indicators
                        .insert(matched(ind, h));
                    }
                }
            }
            let Some(ev) = ev else { continue };
            if ctx.record_whitelisted(t.server, t.sni.as_deref()) {
                continue;
            }
            let host = match t.server {
                Some(ip) => ctx.host(ip, t.t),
                None => t.sni.clone().unwrap_or_else(|| "-".into()),
            };
            out.add(contribution(
                "IOC-07",
                Level::High,
                "Indicator certificate",
                host.clone(),
                describe(&host),
                ev,
            ));
        }
        for f in &ctx.facts.cert_files {
            let mut ev: Option<Evidence> = None;
            for h in f.sha1.iter().chain(f.sha256.iter()) {
                for ind in ctx.intel.cert(h) {
                    ev.get_or_insert_with(|| {
                        record_evidence(
                            "certificate_files",
                            f.server,
                            None,
                            (f.count, f.ts, f.last_ts),
                            &f.first,
                        )
                    })
                    .indicators
                    .insert(matched(ind, h));
                }
            }
            let Some(ev) = ev else { continue };
            if let Some(ip) = f.server
                && ctx.destination_whitelisted(ip).is_some()
            {
                continue;
            }
            let host = match f.server {
                Some(ip) => ctx.host(ip, f.t),
                None => "-".into(),
            };
            out.add(contribution(
                "IOC-07",
                Level::High,
                "Indicator certificate",
                host.clone(),
                describe(&host),
                ev,
            ));
        }
    }
}

/// The non-whitelisted HTTP requests whose Host is a name, with that name.
fn http_names<'c>(ctx: &'c Context<'_>) -> impl Iterator<Item = (&'c HttpFact, &'c str)> + 'c {
    ctx.facts.http.iter().filter_map(move |h| {
        let Some(HostValue::Name(name)) = &h.host else {
            return None;
        };
        if ctx.record_whitelisted(h.server, Some(name)) {
            return None;
        }
        Some((h, name.as_str()))
    })
}

fn http_evidence(h: &HttpFact) -> Evidence {
    let mut ev = record_evidence(
        "http_requests",
        h.server,
        h.port,
        (h.count, h.ts, h.last_ts),
        &h.first,
    );
    if let (Some(m), Some(u)) = (&h.method, &h.uri) {
        ev.details.insert(format!("request: {m} {u}"));
    }
    ev
}

/// The Host rules IOC-08..10: one indicator lookup on every HTTP Host name that is not
/// whitelisted; `level` picks the level from the matching indicators.
fn host_rule<'a>(
    ctx: &Context<'a>,
    out: &mut Collector,
    (id, title): (&'static str, &'static str),
    lookup: impl Fn(&str) -> Vec<&'a crate::intel::Indicator>,
    level: impl Fn(&[&crate::intel::Indicator]) -> Level,
    describe: impl Fn(&str) -> String,
) {
    for (h, name) in http_names(ctx) {
        let hits = lookup(name);
        if hits.is_empty() {
            continue;
        }
        let mut ev = http_evidence(h);
        for i in &hits {
            ev.indicators.insert(matched(i, name));
        }
        out.add(contribution(
            id,
            level(&hits),
            title,
            name.to_string(),
            describe(name),
            ev,
        ));
    }
}

impl Rule for Ioc08 {
    fn id(&self) -> &'static str {
        "IOC-08"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        host_rule(
            ctx,
            out,
            ("IOC-08", "Indicator domain in HTTP Host"),
            |n| ctx.intel.domains(n),
            domain_level,
            |n| format!("An HTTP request was sent to {n}, which matches a domain indicator."),
        );
    }
}

impl Rule for Ioc09 {
    fn id(&self) -> &'static str {
        "IOC-09"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        host_rule(
            ctx,
            out,
            ("IOC-09", "Dynamic-DNS name in HTTP Host"),
            |n| ctx.intel.freedns(n),
            |_| Level::Moderate,
            |n| format!("An HTTP request was sent to {n}, a name at a free dynamic-DNS provider."),
        );
    }
}

impl Rule for Ioc10 {
    fn id(&self) -> &'static str {
        "IOC-10"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        host_rule(
            ctx,
            out,
            ("IOC-10", "Suspicious TLD in HTTP Host"),
            |n| ctx.intel.tlds(n),
            |_| Level::Low,
            |n| {
                format!("An HTTP request was sent to {n}, under a heavily abused top-level domain.")
            },
        );
    }
}
