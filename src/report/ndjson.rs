//! The NDJSON report: one alert per line, with field names close to the Elastic Common Schema.
//!
//! Meant for SIEM ingestion: each line is a complete event (`event.kind: alert`) with the ECS
//! fields that fit (`@timestamp`, `event.*`, `rule.*`, `destination.*`, `threat.indicator.*`,
//! `tags`) and the rest of the evidence under `captriage.*`. Absent values are omitted. The
//! serde types below are the contract, documented in docs/report-json.md; lines keep the
//! report's alert order, so output is deterministic.

use super::Report;
use super::json::iso8601;
use crate::alert::{Alert, Level};
use crate::model::Ts;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;

#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "@timestamp", skip_serializing_if = "Option::is_none")]
    timestamp: Option<String>,
    event: EventField,
    rule: RuleField<'a>,
    destination: DestinationField<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    threat: Option<ThreatField<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    captriage: Extra<'a>,
}

#[derive(Serialize)]
struct EventField {
    kind: &'static str,
    category: [&'static str; 1],
    module: &'static str,
    severity: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    start: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
}

#[derive(Serialize)]
struct RuleField<'a> {
    id: &'a str,
    name: &'a str,
    description: &'a str,
}

#[derive(Serialize)]
struct DestinationField<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

#[derive(Serialize)]
struct ThreatField<'a> {
    indicator: IndicatorField<'a>,
}

#[derive(Serialize)]
struct IndicatorField<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
}

#[derive(Serialize)]
struct Extra<'a> {
    level: &'static str,
    host: &'a str,
    server_ips: Vec<String>,
    server_ports: Vec<u16>,
    indicators: Vec<super::json::JsonIndicator<'a>>,
    names: Vec<super::json::JsonName<'a>>,
    details: Vec<&'a str>,
    counts: BTreeMap<&'a str, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_occurrence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
}

fn severity(level: Level) -> u8 {
    match level {
        Level::High => 3,
        Level::Moderate => 2,
        Level::Low => 1,
    }
}

/// The file part of a `file:line` source.
fn provider(source: &str) -> &str {
    match source.rsplit_once(':') {
        Some((file, line)) if !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit()) => file,
        _ => source,
    }
}

fn iso(ts: Option<Ts>) -> Option<String> {
    ts.and_then(iso8601)
}

fn event(a: &Alert) -> Event<'_> {
    let e = &a.evidence;
    let host_ip: Option<IpAddr> = a.host.parse().ok();
    let json = super::json::evidence(e);
    let first_indicator = e.indicators.iter().next();
    let mut tags: Vec<&str> = e
        .indicators
        .iter()
        .flat_map(|i| i.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    Event {
        timestamp: iso(e.first_ts),
        event: EventField {
            kind: "alert",
            category: ["network"],
            module: "captriage",
            severity: severity(a.level),
            start: iso(e.first_ts),
            end: iso(e.last_ts),
        },
        rule: RuleField {
            id: a.id,
            name: a.title,
            description: &a.description,
        },
        destination: DestinationField {
            domain: if host_ip.is_none() {
                Some(&a.host)
            } else {
                None
            },
            ip: host_ip
                .or_else(|| e.server_ips.iter().next().copied())
                .map(|ip| ip.to_string()),
            port: e.server_ports.iter().next().copied(),
        },
        threat: first_indicator.map(|i| ThreatField {
            indicator: IndicatorField {
                kind: &i.kind,
                name: &i.value,
                provider: i.sources.first().map(|s| provider(s)),
            },
        }),
        tags,
        captriage: Extra {
            level: a.level.name(),
            host: &a.host,
            server_ips: json.server_ips,
            server_ports: json.server_ports,
            indicators: json.indicators,
            names: json.names,
            details: json.details,
            counts: json.counts,
            first_occurrence: e.first.as_ref().map(|(_, o)| o.location.to_string()),
            uid: e.first.as_ref().and_then(|(_, o)| o.uid.as_deref()),
        },
    }
}

/// Writes one JSON object per alert, each on its own line.
pub fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    for a in &report.alerts {
        serde_json::to_writer(&mut out, &event(a)).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;
    use serde_json::{Value, json};

    fn render(report: &Report) -> Vec<u8> {
        let mut out = Vec::new();
        write(report, &mut out).unwrap();
        out
    }

    #[test]
    fn one_ecs_event_per_line() {
        let out = render(&sample::report());
        let text = std::str::from_utf8(&out).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        let v = &lines[0];
        assert_eq!(v["@timestamp"], "2009-11-18T09:14:10.500Z");
        assert_eq!(
            v["event"],
            json!({"kind": "alert", "category": ["network"], "module": "captriage",
                "severity": 3, "start": "2009-11-18T09:14:10.500Z",
                "end": "2009-11-18T09:15:00Z"})
        );
        assert_eq!(v["rule"]["id"], "IOC-03");
        assert_eq!(v["rule"]["name"], "A domain indicator matched");
        assert_eq!(
            v["destination"],
            json!({"domain": "api.evil-c2.com", "ip": "198.51.100.7", "port": 443})
        );
        assert_eq!(
            v["threat"]["indicator"],
            json!({"type": "domain", "name": "evil-c2.com", "provider": "iocs/a.json"})
        );
        assert_eq!(v["tags"], json!(["stalkerware"]));
        assert_eq!(v["captriage"]["level"], "high");
        assert_eq!(v["captriage"]["first_occurrence"], "logs/dns.log:12");
        assert_eq!(v["captriage"]["uid"], "CHhAvVGS1DHFjwGM9");
        assert_eq!(lines[1]["captriage"]["host"], sample::HOSTILE);
        let low = &lines[2];
        assert_eq!(low["event"]["severity"], 1);
        assert!(low.get("@timestamp").is_none());
        assert!(low.get("threat").is_none());
        assert!(low["destination"].get("ip").is_none());
    }

    #[test]
    fn an_address_host_is_destination_ip_and_output_is_deterministic() {
        let mut r = sample::report();
        r.alerts[2].host = "203.0.113.66".into();
        let out = render(&r);
        let last: Value =
            serde_json::from_str(std::str::from_utf8(&out).unwrap().lines().last().unwrap())
                .unwrap();
        assert_eq!(last["destination"], json!({"ip": "203.0.113.66"}));
        assert_eq!(render(&r), render(&r));
        assert!(render(&Report::default()).is_empty());
        assert_eq!(provider("iocs/a.json:3"), "iocs/a.json");
        assert_eq!(provider("C:\\x"), "C:\\x");
    }
}
