//! A hand-built [`Report`] that sets every field, with hostile strings, for the writers' tests.

use super::*;
use crate::alert::{Evidence, MatchedIndicator, Occurrence};
use crate::model::{Location, Pos};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// A name as it might come off the wire.
pub const HOSTILE: &str = "<script>alert(\"x\")</script>&'\u{1b}[31m\u{202e}.evil.org";

fn occ(source: &str, pos: Pos, uid: Option<&str>) -> Occurrence {
    Occurrence {
        location: Location {
            source: Arc::from(source),
            pos,
        },
        uid: uid.map(String::from),
    }
}

/// A report with one alert per level, a hostile host, every optional field set somewhere.
pub fn report() -> Report {
    let mut ev = Evidence::default();
    ev.server_ips.insert("198.51.100.7".parse().unwrap());
    ev.server_ips.insert("2001:db8::1".parse().unwrap());
    ev.server_ports.extend([443, 8443]);
    ev.indicators.insert(MatchedIndicator {
        kind: "domain".into(),
        value: "evil-c2.com".into(),
        matched: "api.evil-c2.com".into(),
        tags: vec!["stalkerware".into()],
        sources: vec!["iocs/a.json:3".into(), "iocs/b.json:7".into()],
    });
    ev.names.insert(
        "api.evil-c2.com".into(),
        BTreeSet::from(["dns".to_string()]),
    );
    ev.names.insert(
        "cdn.example.net".into(),
        BTreeSet::from(["dns".to_string(), "pdns:pdns.json".to_string()]),
    );
    ev.details.insert("sni: api.evil-c2.com".into());
    ev.seen(
        "connections",
        3,
        Some(1_258_535_654.132),
        Some(1_258_535_700.0),
    );
    ev.seen("dns_transactions", 2, Some(1_258_535_650.5), None);
    ev.occurrence(
        Some(1_258_535_650.5),
        occ("logs/dns.log", Pos::Line(12), Some("CHhAvVGS1DHFjwGM9")),
    );
    let high = Alert {
        id: "IOC-03",
        level: Level::High,
        host: "api.evil-c2.com".into(),
        title: "A domain indicator matched",
        description: "The name api.evil-c2.com matches the indicator evil-c2.com.".into(),
        evidence: ev,
    };

    let mut ev = Evidence::default();
    ev.server_ips.insert("192.0.2.60".parse().unwrap());
    ev.server_ports.insert(443);
    ev.details.insert(format!("sni: {HOSTILE}"));
    ev.seen(
        "tls_sessions",
        1,
        Some(1_258_535_660.0),
        Some(1_258_535_660.0),
    );
    ev.occurrence(None, occ("cap.pcap", Pos::Packet(4711), None));
    let moderate = Alert {
        id: "SSL-03",
        level: Level::Moderate,
        host: HOSTILE.into(),
        title: "Self-signed certificate",
        description: format!("The server {HOSTILE} presented a self-signed certificate."),
        evidence: ev,
    };

    let low = Alert {
        id: "PROTO-02",
        level: Level::Low,
        host: "alt.example.org".into(),
        title: "Non-standard port",
        description: "Traffic to a port above 1024.".into(),
        evidence: Evidence::default(),
    };

    Report {
        inputs: vec![
            InputSummary {
                path: "logs/conn.log.gz".into(),
                log_type: "conn".into(),
                format: "tsv".into(),
                compressed: true,
                rows: 100,
                errors: 2,
            },
            InputSummary {
                path: "logs/dns.log".into(),
                log_type: "dns".into(),
                format: "json".into(),
                compressed: false,
                rows: 40,
                errors: 0,
            },
        ],
        alerts: vec![high, moderate, low],
        whitelisted: vec![WhitelistedDestination {
            host: "www.apple.com".into(),
            ip: Some("17.1.1.1".parse().unwrap()),
            entry: "apple.com".into(),
            entry_source: "whitelists/default.json:4".into(),
            connections: 9,
        }],
        intel: IntelSummary {
            per_type: BTreeMap::from([("domain".into(), 10), ("ip4addr".into(), 3)]),
            per_source: BTreeMap::from([
                (("iocs/a.json".into(), "domain".into()), 8),
                (("iocs/b.json".into(), "ip4addr".into()), 3),
            ]),
            invalid: vec!["iocs/b.json:9: not a domain: http://x".into()],
            snort_rules: 4,
            whitelist_entries: 12,
            whitelist_invalid: vec!["whitelists/w.json:2: empty value".into()],
        },
        diagnostics: (1..=105)
            .map(|n| Diagnostic {
                location: Location {
                    source: Arc::from("logs/conn.log.gz"),
                    pos: Pos::Line(n),
                },
                message: format!("bad field \"ts\" {n}"),
            })
            .collect(),
        unreadable: vec!["logs/ssl.log: permission denied".into()],
        limitations: vec!["TLS 1.3 hides server certificates".into()],
        active_sources: vec!["pdns:pdns.json".into()],
        destinations: vec![
            DestinationSummary {
                host: "api.evil-c2.com".into(),
                ip: Some("198.51.100.7".parse().unwrap()),
                proto: "tcp".into(),
                port: Some(443),
                first_ts: Some(1_258_535_654.132),
                last_ts: Some(1_258_535_700.0),
                connections: 3,
                bytes: 123_456,
                status: DestinationStatus::Suspect,
            },
            DestinationSummary {
                host: HOSTILE.into(),
                ip: Some("192.0.2.60".parse().unwrap()),
                proto: "tcp".into(),
                port: Some(443),
                first_ts: Some(1_258_535_660.0),
                last_ts: Some(1_258_535_660.0),
                connections: 1,
                bytes: 999,
                status: DestinationStatus::Other,
            },
            DestinationSummary {
                host: "www.apple.com".into(),
                ip: Some("17.1.1.1".parse().unwrap()),
                proto: "udp".into(),
                port: None,
                first_ts: None,
                last_ts: None,
                connections: 9,
                bytes: 10,
                status: DestinationStatus::Whitelisted,
            },
        ],
        timeline: vec![(1_258_535_640, 4), (1_258_535_700, 9)],
    }
}
