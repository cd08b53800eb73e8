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

/// DOM-01 thresholds: both scores below these.
pub const FREQ_THRESHOLDS: (f64, f64) = (5.0, 4.0);
/// DOM-01 looks only at registrable domains whose first label has at least this many characters.
pub const MIN_LABEL: usize = 6;

/// DOM-01: random-looking domain.
pub struct Dom01;
/// DOM-02: first contact.
pub struct Dom02;

/// Every observed name that is not whitelisted, grouped by registrable domain, with evidence.
fn by_registrable(ctx: &Context<'_>) -> BTreeMap<String, Evidence> {
    let mut out: BTreeMap<String, Evidence> = BTreeMap::new();
    let mut note =
        |name: &str, kind: &'static str, count: u64, first: Option<f64>, last: Option<f64>| {
            if ctx.whitelisted(None, [name]).is_some() {
                return;
            }
            if let Some(r) = registrable(name) {
                let ev = out.entry(r).or_default();
                ev.details.insert(format!("name: {name}"));
                ev.seen(kind, count, first, last);
            }
        };
    for d in &ctx.facts.dns {
        for n in d.query.iter().chain(d.cnames.iter()) {
            note(n, "dns_transactions", d.count, d.first_ts, d.last_ts);
        }
    }
    for c in &ctx.facts.conns {
        if ctx.destination_whitelisted(c.server).is_some() {
            continue;
        }
        for n in ctx.facts.resolver.names(c.server).keys() {
            note(n, "connections", c.count, c.first_ts, c.last_ts);
        }
    }
    for t in &ctx.facts.tls {
        if let Some(s) = &t.sni {
            note(s, "tls_sessions", t.count, t.ts, t.last_ts);
        }
    }
    for h in &ctx.facts.http {
        if let Some(HostValue::Name(n)) = &h.host {
            note(n, "http_requests", h.count, h.ts, h.last_ts);
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
