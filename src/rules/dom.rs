//! Domain rules DOM-01 (random-looking registrable domain, by Mark Baggett's character-pair
//! frequency scores) and DOM-02 (first contact: a registrable domain the state store never saw).
//! Both are low, both are opt-in (DOM-01 with `--random-domains`, DOM-02 with `--state`), both
//! report the registrable domain as host, and neither counts toward ADV-01 on its own: they
//! describe novelty, not maliciousness.

use super::{Context, Rule, contribution};
use crate::alert::{Collector, Evidence, Level};
use crate::enrich::freq::{FreqTable, is_low};
use crate::enrich::psl::registrable;
use crate::names::HostValue;
use crate::settings::Settings;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// DOM-01 thresholds: both scores below these.
pub const FREQ_THRESHOLDS: (f64, f64) = (5.0, 4.0);
/// DOM-01 looks only at registrable domains whose first label has at least this many characters.
pub const MIN_LABEL: usize = 6;

/// DOM-01: random-looking domain.
pub struct Dom01;
/// DOM-02: first contact.
pub struct Dom02;

/// Notes `name` (if it is not whitelisted and has a registrable domain) under its domain: a
/// detail, and `count` records of `kind` seen between `first` and `last`.
fn note(
    ctx: &Context<'_>,
    out: &mut BTreeMap<String, Evidence>,
    name: &str,
    kind: &'static str,
    count: u64,
    first: Option<f64>,
    last: Option<f64>,
) {
    if ctx.whitelisted(None, [name]).is_some() {
        return;
    }
    if let Some(r) = registrable(name) {
        let ev = out.entry(r).or_default();
        ev.details.insert(format!("name: {name}"));
        ev.seen(kind, count, first, last);
    }
}

/// Every observed name that is not whitelisted, grouped by registrable domain, with evidence.
fn by_registrable(ctx: &Context<'_>) -> BTreeMap<String, Evidence> {
    let mut out: BTreeMap<String, Evidence> = BTreeMap::new();
    for d in &ctx.facts.dns {
        for n in d.query.iter().chain(d.cnames.iter()) {
            note(
                ctx,
                &mut out,
                n,
                "dns_transactions",
                d.count,
                d.first_ts,
                d.last_ts,
            );
        }
    }
    // Every name of a connection's server counts the connection. `conns` is sorted by server,
    // and a server may have thousands of names and an aggregate per turn of them (a CDN's
    // address): its names are looked at once, and each aggregate then counts once per
    // registrable domain, times the server's names under it.
    let mut server: Option<(IpAddr, Vec<(String, u64)>)> = None;
    for (c, hidden) in ctx.conns() {
        if hidden.is_some() {
            continue;
        }
        let domains = match &mut server {
            Some((ip, domains)) if *ip == c.server => domains,
            slot => {
                let mut domains: BTreeMap<String, u64> = BTreeMap::new();
                for n in ctx.facts.resolver.name_list(c.server) {
                    if ctx.whitelisted(None, [n]).is_some() {
                        continue;
                    }
                    if let Some(r) = registrable(n) {
                        let ev = out.entry(r.clone()).or_default();
                        ev.details.insert(format!("name: {n}"));
                        *domains.entry(r).or_default() += 1;
                    }
                }
                &mut slot.insert((c.server, domains.into_iter().collect())).1
            }
        };
        for (r, names) in domains.iter() {
            let count = c.count.saturating_mul(*names);
            out.entry(r.clone())
                .or_default()
                .seen("connections", count, c.first_ts, c.last_ts);
        }
    }
    for t in &ctx.facts.tls {
        if let Some(s) = &t.sni {
            note(ctx, &mut out, s, "tls_sessions", t.count, t.ts, t.last_ts);
        }
    }
    for h in &ctx.facts.http {
        if let Some(HostValue::Name(n)) = &h.host {
            note(ctx, &mut out, n, "http_requests", h.count, h.ts, h.last_ts);
        }
    }
    out
}

impl Rule for Dom01 {
    fn id(&self) -> &'static str {
        "DOM-01"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        if !ctx.random_domains {
            return;
        }
        let table = FreqTable::embedded();
        for (reg, mut ev) in by_registrable(ctx) {
            let first_label = reg.split('.').next().unwrap_or("");
            if first_label.chars().count() < MIN_LABEL {
                continue;
            }
            let scores = table.score(&reg);
            if !is_low(scores, FREQ_THRESHOLDS) {
                continue;
            }
            ev.details.insert(format!(
                "frequency scores: {:.4}, {:.4}",
                scores.0, scores.1
            ));
            out.add(contribution(
                "DOM-01",
                Level::Low,
                "Random-looking domain",
                reg.clone(),
                format!(
                    "{reg} looks machine-generated (its character pairs are rare in real domain names), as domains from domain-generation algorithms do."
                ),
                ev,
            ));
        }
    }
}

impl Rule for Dom02 {
    fn id(&self) -> &'static str {
        "DOM-02"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let Some(first) = ctx.first_contacts else {
            return;
        };
        for (reg, ev) in by_registrable(ctx) {
            if !first.contains(&reg) {
                continue;
            }
            out.add(contribution(
                "DOM-02",
                Level::Low,
                "First contact",
                reg.clone(),
                format!("{reg} had never been seen before in this state store."),
                ev,
            ));
        }
    }
}
