//! Side sources that enrich an analysis, and what the state store keeps across runs:
//! passive-DNS files (names for unresolved addresses and NS data for ACT-01), registration dates
//! for ACT-02, first contact (DOM-02) and the capture's own DNS observations stored as passive
//! DNS. Everything here is offline; nothing touches the network.

use crate::config::AnalyzeConfig;
use crate::enrich::domain::RegDates;
use crate::enrich::geoip::GeoIp;
use crate::enrich::online::{LookupError, Online, OnlineConfig};
use crate::enrich::pdns::{self, PdnsCollector};
use crate::enrich::psl::registrable;
use crate::enrich::state::Store;
use crate::facts::{Facts, FactsBuilder};
use crate::model::{Diagnostic, Location, Record, Sink};
use crate::names::{HostValue, parse_addr};
use crate::rules::RegistrationDates;
use anyhow::{Context as _, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};

/// A sink that feeds the facts and, when a state store is in use, collects the DNS
/// observations as passive DNS.
pub struct Tee<'a> {
    pub builder: &'a mut FactsBuilder,
    pub pdns: Option<&'a mut PdnsCollector>,
}

impl Sink for Tee<'_> {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        if let (Some(c), Record::Dns(d)) = (self.pdns.as_deref_mut(), &record) {
            c.add(d);
        }
        self.builder.record(record, location);
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.builder.diagnostic(diagnostic);
    }

    /// The builder's columns, which hold every one passive DNS reads.
    fn columns(&self) -> crate::input::zeek::Columns {
        self.builder.columns()
    }
}

/// Adds the names and nameservers of every `--pdns` file (RULES.md §3): A/AAAA records name
/// their address, NS records give nameserver data. Records last seen more than `--pdns-max-age`
/// days before the capture start are ignored.
pub fn add_side_sources(
    cfg: &AnalyzeConfig,
    builder: &mut FactsBuilder,
    warn: &mut dyn FnMut(&str),
) -> Result<()> {
    let start = builder.capture_start();
    for path in &cfg.pdns {
        let mut diags = Vec::new();
        let records = pdns::load(path, &mut diags)
            .with_context(|| format!("cannot read passive DNS {}", path.display()))?;
        for d in &diags {
            warn(&d.to_string());
        }
        let source = format!("pdns:{}", path.display());
        let mut stale = 0u64;
        for r in &records {
            if let (Some(days), Some(start)) = (cfg.pdns_max_age_days, start)
                && (r.time_last as f64) < start - f64::from(days) * 86_400.0
            {
                stale += 1;
                continue;
            }
            match r.rrtype.as_str() {
                "A" | "AAAA" => {
                    if let Some(ip) = parse_addr(&r.rdata) {
                        builder.add_side_name(ip, &r.rrname, &source);
                    }
                }
                "NS" => builder.add_nameserver(&r.rrname, &r.rdata, &source),
                _ => {}
            }
        }
        if stale > 0 {
            warn(&format!(
                "{}: {stale} records older than the --pdns-max-age window ignored",
                path.display()
            ));
        }
    }
    Ok(())
}

/// Registration dates from `--registration-dates`, as ACT-02 reads them.
pub struct FileDates {
    dates: RegDates,
    source: String,
}

impl RegistrationDates for FileDates {
    fn created(&self, name: &str) -> Option<(f64, String)> {
        self.dates
            .lookup(name)
            .map(|t| (t as f64, self.source.clone()))
    }
}

/// The registration-date source for ACT-02, when one was given.
pub fn registration_source(
    cfg: &AnalyzeConfig,
    warn: &mut dyn FnMut(&str),
) -> Result<Option<FileDates>> {
    let Some(path) = &cfg.registration_dates else {
        return Ok(None);
    };
    let mut diags = Vec::new();
    let dates = RegDates::load(path, &mut diags)
        .with_context(|| format!("cannot read registration dates {}", path.display()))?;
    for d in &diags {
        warn(&d.to_string());
    }
    Ok(Some(FileDates {
        dates,
        source: path.display().to_string(),
    }))
}

/// Every registrable domain observed (DNS queries and CNAME targets, names of contacted
/// addresses, TLS SNI, HTTP Host), with the time it was last seen (0 when unknown).
pub fn observed_domains(facts: &Facts) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    let mut add = |name: &str, ts: Option<f64>| {
        if let Some(r) = registrable(name) {
            let t = ts.filter(|t| t.is_finite() && *t >= 0.0).unwrap_or(0.0) as u64;
            let e = out.entry(r).or_insert(t);
            *e = (*e).max(t);
        }
    };
    for d in &facts.dns {
        for n in d.query.iter().chain(d.cnames.iter()) {
            add(n, d.last_ts);
        }
    }
    let mut servers = BTreeSet::new();
    for c in &facts.conns {
        if servers.insert(c.server) {
            for n in facts.resolver.name_list(c.server) {
                add(n, c.last_ts);
            }
        }
    }
    for t in &facts.tls {
        if let Some(s) = &t.sni {
            add(s, t.last_ts);
        }
    }
    for h in &facts.http {
        if let Some(HostValue::Name(n)) = &h.host {
            add(n, h.last_ts);
        }
    }
    out
}

/// What the state store contributed to a run.
#[derive(Debug, Default)]
pub struct StateOutcome {
    /// Registrable domains the store had never seen (first contact, DOM-02).
    pub first_contacts: BTreeSet<String>,
    /// Passive DNS records new to the store.
    pub new_pdns: u64,
}

/// Records this run's domains in the state store (returning the first contacts) and stores
/// the capture's DNS observations as passive DNS.
pub fn update_state(
    store: Option<&Store>,
    facts: &Facts,
    pdns: Option<&PdnsCollector>,
) -> Result<Option<StateOutcome>> {
    let Some(store) = store else {
        return Ok(None);
    };
    let seen = observed_domains(facts);
    let first = store.record_domains(seen.iter().map(|(d, t)| (d.as_str(), *t)))?;
    let new_pdns = match pdns {
        Some(c) => store.add_pdns(c.records(None, None).iter())?,
        None => 0,
    };
    Ok(Some(StateOutcome {
        first_contacts: first.into_iter().collect(),
        new_pdns,
    }))
}

/// The first `nameserver` of /etc/resolv.conf, port 53.
pub fn system_nameserver() -> Option<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        (parts.next() == Some("nameserver"))
            .then(|| parts.next())
            .flatten()
            .and_then(parse_addr)
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// Opt-in live lookups for one run (`--online`): every answer is cached in the state store when
/// one is given, and the whole run shares one time budget.
pub fn online<'s>(cfg: &AnalyzeConfig, store: Option<&'s Store>) -> Result<Option<Online<'s>>> {
    if !cfg.online {
        return Ok(None);
    }
    let ns = cfg
        .nameserver
        .or_else(system_nameserver)
        .context("--online needs a DNS server: give --nameserver ADDR")?;
    let mut oc = OnlineConfig::new(ns);
    oc.rdap_base = cfg.rdap_base.clone();
    oc.budget = cfg.online_budget;
    Ok(Some(Online::new(oc, store)?))
}

/// Nameservers (for ACT-01) and registration dates (for ACT-02) of every registrable domain
/// observed, looked up live. Only with `--online` and `active`.
pub fn online_active(
    online: &mut Online<'_>,
    facts: &mut Facts,
    settings: &crate::settings::Settings,
    warn: &mut dyn FnMut(&str),
) -> HashMap<String, i64> {
    let mut created = HashMap::new();
    if !settings.active {
        return created;
    }
    let mut failures = 0u64;
    for reg in observed_domains(facts).into_keys() {
        if settings.iocs {
            match online.ns(&reg) {
                Ok(servers) => {
                    for s in servers {
                        if let Some(n) = crate::names::normalize_name(&s) {
                            facts
                                .nameservers
                                .entry(reg.clone())
                                .or_default()
                                .entry(n)
                                .or_default()
                                .insert("online:ns".to_string());
                        }
                    }
                }
                Err(LookupError::Budget) => break,
                Err(_) => failures += 1,
            }
        }
        match online.rdap_created(&reg) {
            Ok(Some(t)) => {
                created.insert(reg, t);
            }
            Ok(None) => {}
            Err(LookupError::Budget) => break,
            Err(_) => failures += 1,
        }
    }
    if failures > 0 {
        warn(&format!("{failures} online lookups failed or timed out"));
    }
    created
}

/// Adds what live lookups and GeoIP say about the addresses in alerts: PTR names for addresses
/// never resolved (PROTO-05), DNS-blocklist listings, country and AS.
pub fn annotate_alerts(
    alerts: &mut [crate::alert::Alert],
    mut online: Option<&mut Online<'_>>,
    geoip: Option<&GeoIp>,
) {
    let mut ptr: HashMap<IpAddr, Vec<String>> = HashMap::new();
    let mut dnsbl: HashMap<IpAddr, Vec<String>> = HashMap::new();
    for a in alerts.iter_mut() {
        let ips: Vec<IpAddr> = a.evidence.server_ips.iter().copied().collect();
        for ip in ips {
            if let Some(o) = online.as_deref_mut() {
                if a.id == "PROTO-05" && !ptr.contains_key(&ip) {
                    ptr.insert(ip, o.ptr(ip).unwrap_or_default());
                }
                dnsbl.entry(ip).or_insert_with(|| {
                    o.dnsbl(ip)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|h| format!("dnsbl {}: {} ({}) for {ip}", h.zone, h.answer, h.meaning))
                        .collect()
                });
                if a.id == "PROTO-05" {
                    for n in ptr.get(&ip).into_iter().flatten() {
                        a.evidence.details.insert(format!("ptr {ip}: {n}"));
                    }
                }
                a.evidence
                    .details
                    .extend(dnsbl.get(&ip).into_iter().flatten().cloned());
            }
            if let Some(g) = geoip.and_then(|g| g.lookup(ip)) {
                let mut parts = Vec::new();
                if let Some(c) = g.country {
                    parts.push(format!("country {c}"));
                }
                if let Some(asn) = g.asn {
                    parts.push(format!("AS{asn}"));
                }
                if let Some(org) = g.as_org {
                    parts.push(org);
                }
                if !parts.is_empty() {
                    a.evidence
                        .details
                        .insert(format!("geoip {ip}: {}", parts.join(", ")));
                }
            }
        }
    }
}

/// Registration dates from the side file first, then from RDAP (by registrable domain).
pub struct CombinedDates {
    pub file: Option<FileDates>,
    pub online: HashMap<String, i64>,
}

impl RegistrationDates for CombinedDates {
    fn created(&self, name: &str) -> Option<(f64, String)> {
        if let Some(hit) = self.file.as_ref().and_then(|f| f.created(name)) {
            return Some(hit);
        }
        let reg = registrable(name)?;
        self.online
            .get(&reg)
            .map(|t| (*t as f64, format!("rdap:{reg}")))
    }
}
