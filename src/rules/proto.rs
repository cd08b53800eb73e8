//! Heuristic connection rules PROTO-01..05 (RULES.md §7.1): UDP/ICMP to the Internet, high
//! ports, cleartext HTTP, HTTP on odd ports, addresses never resolved. They read connection
//! aggregates only, and skip local and whitelisted servers.

use super::{Context, Rule, contribution, for_each_conn};
use crate::alert::{Collector, Level};
use crate::settings::Settings;

/// PROTO-01: UDP or ICMP to the Internet.
pub struct Proto01;
/// PROTO-02: high destination port.
pub struct Proto02;
/// PROTO-03: cleartext HTTP on the default port.
pub struct Proto03;
/// PROTO-04: HTTP on an unusual port.
pub struct Proto04;
/// PROTO-05: address never resolved.
pub struct Proto05;

impl Rule for Proto01 {
    fn id(&self) -> &'static str {
        "PROTO-01"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for_each_conn(
            ctx,
            true,
            |c| {
                let exempt = c.proto == "udp"
                    && c.port
                        .is_some_and(|p| ctx.settings.udp_exempt_ports.contains(&p));
                ((c.proto == "udp" || c.proto == "icmp") && !exempt)
                    .then(|| (Level::Moderate, vec![format!("protocol: {}", c.proto)]))
            },
            |_, level, host, ev| {
                out.add(contribution(
                    "PROTO-01",
                    level,
                    "UDP/ICMP to the Internet",
                    host.clone(),
                    format!(
                        "{host} received UDP or ICMP traffic from the network. Apart from DNS, NTP and QUIC, such traffic to the Internet is unusual for a phone or workstation and can carry tunnels or exfiltration."
                    ),
                    ev,
                ))
            },
        );
    }
}

impl Rule for Proto02 {
    fn id(&self) -> &'static str {
        "PROTO-02"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let max = ctx.settings.max_ports;
        for_each_conn(
            ctx,
            true,
            |c| {
                ((c.proto == "tcp" || c.proto == "udp") && c.port.is_some_and(|p| p >= max))
                    .then(|| (Level::Low, Vec::new()))
            },
            |_, level, host, ev| {
                out.add(contribution(
                    "PROTO-02",
                    level,
                    "High destination port",
                    host.clone(),
                    format!(
                        "{host} was contacted on a destination port at or above {max}. Ordinary services listen on well-known ports; command-and-control servers often do not."
                    ),
                    ev,
                ))
            },
        );
    }
}

impl Rule for Proto03 {
    fn id(&self) -> &'static str {
        "PROTO-03"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let port = ctx.settings.http_default_port;
        for_each_conn(
            ctx,
            true,
            |c| {
                (c.services.iter().any(|s| s == "http") && c.port == Some(port))
                    .then(|| (Level::Low, Vec::new()))
            },
            |_, level, host, ev| {
                out.add(contribution(
                    "PROTO-03",
                    level,
                    "Cleartext HTTP",
                    host.clone(),
                    format!(
                        "{host} was reached over unencrypted HTTP: anything sent, including credentials or collected data, was readable on the network."
                    ),
                    ev,
                ))
            },
        );
    }
}

impl Rule for Proto04 {
    fn id(&self) -> &'static str {
        "PROTO-04"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        let port = ctx.settings.http_default_port;
        for_each_conn(
            ctx,
            true,
            |c| {
                (c.services.iter().any(|s| s == "http") && c.port != Some(port))
                    .then(|| (Level::Moderate, Vec::new()))
            },
            |_, level, host, ev| {
                out.add(contribution(
                    "PROTO-04",
                    level,
                    "HTTP on an unusual port",
                    host.clone(),
                    format!(
                        "{host} spoke HTTP on a port other than {port}. Malware panels and proxies often serve HTTP on non-standard ports."
                    ),
                    ev,
                ))
            },
        );
    }
}

impl Rule for Proto05 {
    fn id(&self) -> &'static str {
        "PROTO-05"
    }
    fn enabled(&self, s: &Settings) -> bool {
        s.heuristics
    }
    fn check(&self, ctx: &Context<'_>, out: &mut Collector) {
        for_each_conn(
            ctx,
            true,
            |c| (!ctx.facts.resolver.has_names(c.server)).then(|| (Level::Low, Vec::new())),
            |c, level, _, ev| {
                let host = c.server.to_string();
                out.add(contribution(
                    "PROTO-05",
                    level,
                    "Address never resolved",
                    host.clone(),
                    format!(
                        "{host} was contacted although no DNS answer in the capture named it. Hard-coded addresses are typical of malware and of traffic that avoids DNS-based filtering."
                    ),
                    ev,
                ))
            },
        );
    }
}
