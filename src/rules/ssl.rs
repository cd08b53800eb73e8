//! TLS rules SSL-01..04 (RULES.md §7.1, §7.3): unusual TLS ports, free-CA and self-signed
//! certificates, and indicator domains in the SNI or the leaf certificate's names. They read TLS
//! session facts, whose chain and leaf data were joined from x509.log, files.log or the capture.

use super::{Context, Rule, contribution, domain_level, matched, record_evidence};
use crate::alert::{Collector, Evidence, Level};
use crate::facts::{TlsFact, dn_attribute};
use crate::settings::Settings;

/// SSL-01: TLS on an unusual port.
pub struct Ssl01;
/// SSL-02: certificate from a free CA.
pub struct Ssl02;
/// SSL-03: self-signed certificate.
pub struct Ssl03;
/// SSL-04: indicator domain in the SNI or the certificate.
pub struct Ssl04;

/// The host of a TLS session: display name of its server, else the address, else the SNI.
fn tls_host(ctx: &Context<'_>, t: &TlsFact) -> String {
    match t.server {
        Some(ip) => ctx.host(ip, t.t),
        None => t.sni.clone().unwrap_or_else(|| "-".to_string()),
    }
}

fn tls_whitelisted(ctx: &Context<'_>, t: &TlsFact) -> bool {
    ctx.record_whitelisted(t.server, t.sni.as_deref())
}

fn tls_evidence(t: &TlsFact) -> Evidence {
    let mut ev = record_evidence(
        "tls_sessions",
        t.server,
        t.port,
        (t.count, t.ts, t.last_ts),
        &t.first,
    );
    if let Some(s) = &t.sni {
        ev.details.insert(format!("sni: {s}"));
    }
    if let Some(v) = &t.version {
        ev.details.insert(format!("version: {v}"));
    }
    ev
}

/// Every TLS session that is not whitelisted (and, for heuristics, not to a local server).
fn sessions<'c>(ctx: &'c Context<'_>, heuristic: bool) -> impl Iterator<Item = &'c TlsFact> + 'c {
    ctx.facts.tls.iter().filter(move |t| {
        let local = heuristic && t.server.is_some_and(|ip| ctx.is_local(ip));
        !local && !tls_whitelisted(ctx, t)
    })
}

impl Rule for Ssl01 {
    fn id(&self) -> &'static str {
        "SSL-01"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for t in sessions(ctx, true) {
            let Some(port) = t.port else { continue };
            if ctx.settings.ssl_default_ports.contains(&port) {
                continue;
            }
            let host = tls_host(ctx, t);
            out.add(contribution(
                "SSL-01",
                Level::Moderate,
                "TLS on an unusual port",
                host.clone(),
                format!(
                    "{host} accepted TLS on a port that no common TLS service uses. Custom ports are common for command-and-control servers."
                ),
                tls_evidence(t),
            ));
        }
    }
}

impl Rule for Ssl02 {
    fn id(&self) -> &'static str {
        "SSL-02"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for t in sessions(ctx, true) {
            let Some(issuer) = t.leaf_issuer.as_deref() else {
                continue;
            };
            let exact = ctx.settings.free_issuers.iter().any(|f| f == issuer);
            let org = dn_attribute(issuer, "O");
            let by_org = org.as_deref().is_some_and(|o| {
                ctx.settings
                    .free_issuer_orgs
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(o))
            });
            if !exact && !by_org {
                continue;
            }
            let host = tls_host(ctx, t);
            let mut ev = tls_evidence(t);
            ev.details.insert(format!("issuer: {issuer}"));
            out.add(contribution(
                "SSL-02",
                Level::Moderate,
                "Certificate from a free CA",
                host.clone(),
                format!(
                    "{host} presented a certificate from a free, automated certificate authority. Legitimate sites use them too, but so does most short-lived malicious infrastructure."
                ),
                ev,
            ));
        }
    }
}

/// True when a validation status says the chain or leaf is self-signed.
pub fn self_signed_status(status: &str) -> bool {
    let s = status.to_ascii_lowercase();
    s.contains("self signed certificate") || s.contains("self-signed certificate")
}

impl Rule for Ssl03 {
    fn id(&self) -> &'static str {
        "SSL-03"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for t in sessions(ctx, true) {
            let detail = match t.validation_status.as_deref() {
                Some(status) if self_signed_status(status) => {
                    format!("validation status: {status}")
                }
                Some(_) => continue,
                None => match (&t.leaf_subject, &t.leaf_issuer) {
                    (Some(s), Some(i)) if s == i => format!("subject equals issuer: {s}"),
                    _ => continue,
                },
            };
            let host = tls_host(ctx, t);
            let mut ev = tls_evidence(t);
            ev.details.insert(detail);
            out.add(contribution(
                "SSL-03",
                Level::Moderate,
                "Self-signed certificate",
                host.clone(),
                format!(
                    "{host} presented a self-signed certificate: nobody vouches for the server's identity, a common trait of improvised or malicious servers."
                ),
                ev,
            ));
        }
    }
}

impl Rule for Ssl04 {
    fn id(&self) -> &'static str {
        "SSL-04"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.iocs
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for t in sessions(ctx, false) {
            let sni_hits = t
                .sni
                .as_deref()
                .map(|s| ctx.intel.domains(s))
                .unwrap_or_default();
            let (host, hits, source) = if !sni_hits.is_empty() {
                (t.sni.clone().unwrap_or_default(), sni_hits, "sni")
            } else {
                match t
                    .leaf_names
                    .iter()
                    .map(|n| (n, ctx.intel.domains(n)))
                    .find(|(_, h)| !h.is_empty())
                {
                    Some((n, h)) => (n.clone(), h, "certificate"),
                    None => continue,
                }
            };
            let mut ev = tls_evidence(t);
            for ind in &hits {
                ev.indicators.insert(matched(ind, &host));
            }
            ev.details.insert(format!("matched in: {source}"));
            out.add(contribution(
                "SSL-04",
                domain_level(&hits),
                "Indicator domain in TLS SNI or certificate",
                host.clone(),
                format!(
                    "A TLS session named {host}, which matches a domain indicator, in its server name or certificate."
                ),
                ev,
            ));
        }
    }
}
