//! The "active" rules ACT-01 and ACT-02 (RULES.md §7.4). Both are name rules (§7.2) and off
//! unless `active` is set. ACT-01 tests every nameserver of a name's closest zone with NS data
//! (from the capture's NS answers or a passive-DNS file) against ns indicators; ACT-02 compares
//! a registration date (from a side file or an opt-in lookup) with the capture start. Neither
//! touches the network itself: online sources arrive through the same facts and traits.

use super::ioc::{NameMatch, NameRule, name_rule};
use super::{Context, Rule, matched};
use crate::alert::{Collector, Level};
use crate::names::suffixes;
use crate::settings::Settings;

/// ACT-01: nameserver at a suspicious provider.
pub struct Act01;
/// ACT-02: recently registered domain.
pub struct Act02;

/// The nameservers of `name`: those of the closest zone covering it that has NS data.
pub fn nameservers<'c>(ctx: &'c Context<'_>, name: &str) -> Option<(String, Vec<&'c str>)> {
    suffixes(name).find_map(|zone| {
        ctx.facts
            .nameservers
            .get(zone)
            .map(|m| (zone.to_string(), m.keys().map(String::as_str).collect()))
    })
}

impl Rule for Act01 {
    fn id(&self) -> &'static str {
        "ACT-01"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.active && s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let test = |n: &str| -> Option<NameMatch> {
            let (zone, servers) = nameservers(ctx, n)?;
            let mut inds = Vec::new();
            let mut details = Vec::new();
            for ns in servers {
                let hits = ctx.intel.ns(ns);
                if !hits.is_empty() {
                    details.push(format!("nameserver {ns} of zone {zone}"));
                    inds.extend(hits.iter().map(|i| matched(i, ns)));
                }
            }
            (!inds.is_empty()).then_some((inds, details))
        };
        let describe = |h: &str| {
            format!(
                "{h} is served by a nameserver at a provider favoured by abusive infrastructure."
            )
        };
        name_rule(
            ctx,
            &NameRule {
                id: "ACT-01",
                level: Level::Moderate,
                title: "Nameserver at a suspicious provider",
                describe: &describe,
                test: &test,
            },
            out,
        );
    }
}

impl Rule for Act02 {
    fn id(&self) -> &'static str {
        "ACT-02"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.active
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let (Some(reg), Some(start)) = (ctx.registration, ctx.facts.capture_start) else {
            return;
        };
        let window = f64::from(ctx.settings.new_domain_days) * 86_400.0;
        let test = |n: &str| -> Option<NameMatch> {
            let (created, source) = reg.created(n)?;
            (created > start - window).then(|| {
                (
                    Vec::new(),
                    vec![format!(
                        "registered {} ({source})",
                        crate::alert::iso_date(created)
                    )],
                )
            })
        };
        let days = ctx.settings.new_domain_days;
        let describe = move |h: &str| {
            format!(
                "{h} was registered less than {days} days before the capture started; new domains are typical of phishing and malware campaigns."
            )
        };
        name_rule(
            ctx,
            &NameRule {
                id: "ACT-02",
                level: Level::Moderate,
                title: "Recently registered domain",
                describe: &describe,
                test: &test,
            },
            out,
        );
    }
}
