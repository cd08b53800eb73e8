//! The JSON report: a versioned schema with its own serde types, so the schema is a contract.
//!
//! The types here mirror docs/report-json.md field for field; [`SCHEMA_VERSION`] changes whenever
//! a field changes meaning or goes away (adding a field does not). The writer borrows from the
//! [`Report`] and adds nothing that varies between runs: every map is a `BTreeMap`, every list
//! keeps the report's order, and no clock is read. Timestamps are written twice, as epoch seconds
//! (a number, exactly as read) and as ISO 8601 UTC text. The [`Baseline`] reader goes the other
//! way: it reads back only the `(id, host)` pairs of an earlier report, for `--baseline` gating.

use super::{DestinationSummary, Report};
use crate::alert::{Alert, Evidence, Level, MatchedIndicator};
use crate::model::{Pos, Ts};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// Version of the JSON report schema; bumped when a field changes meaning or is removed.
pub const SCHEMA_VERSION: u32 = 1;

/// At most this many diagnostics are listed; `diagnostics.count` gives them all.
pub const DIAGNOSTICS_CAP: usize = 100;

/// The whole document.
#[derive(Serialize)]
pub(crate) struct JsonReport<'a> {
    pub schema_version: u32,
    pub tool: Tool,
    pub inputs: Vec<JsonInput<'a>>,
    pub summary: Summary,
    pub alerts: Lazy<'a, Alert, JsonAlert<'a>>,
    pub whitelisted: Vec<JsonWhitelisted<'a>>,
    pub destinations: Lazy<'a, DestinationSummary, JsonDestination<'a>>,
    pub timeline: Vec<JsonBucket>,
    pub intel: JsonIntel<'a>,
    pub active_sources: &'a [String],
    pub diagnostics: JsonDiagnostics,
    pub unreadable: &'a [String],
    pub limitations: &'a [String],
}

/// A list written one element at a time, each converted to its JSON form as it is written: a
/// report with hundreds of thousands of alerts or destinations never holds them all twice.
pub(crate) struct Lazy<'a, T, J> {
    items: &'a [T],
    convert: fn(&'a T) -> J,
}

impl<T, J: Serialize> Serialize for Lazy<'_, T, J> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.items.iter().map(self.convert))
    }
}

#[derive(Serialize)]
pub(crate) struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

#[derive(Serialize)]
pub(crate) struct JsonInput<'a> {
    pub path: &'a str,
    pub log_type: &'a str,
    pub format: &'a str,
    pub compressed: bool,
    pub rows: u64,
    pub errors: u64,
}

#[derive(Serialize)]
pub(crate) struct Summary {
    pub verdict: &'static str,
    pub highest: Option<&'static str>,
    pub high: usize,
    pub moderate: usize,
    pub low: usize,
    pub total: usize,
    pub whitelisted: usize,
    pub whitelisted_connections: u64,
    pub inputs: usize,
    pub rows: u64,
    pub errors: u64,
    pub rows_per_log_type: BTreeMap<String, u64>,
    pub diagnostics: usize,
    pub unreadable: usize,
    pub incomplete: bool,
}

#[derive(Serialize)]
pub(crate) struct JsonAlert<'a> {
    pub id: &'a str,
    pub level: &'static str,
    pub host: &'a str,
    pub ips: Vec<String>,
    pub title: &'a str,
    pub description: &'a str,
    pub evidence: JsonEvidence<'a>,
}

#[derive(Serialize)]
pub(crate) struct JsonEvidence<'a> {
    pub server_ips: Vec<String>,
    pub server_ports: Vec<u16>,
    pub indicators: Vec<JsonIndicator<'a>>,
    pub names: Vec<JsonName<'a>>,
    pub details: Vec<&'a str>,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub counts: BTreeMap<&'a str, u64>,
    pub first_occurrence: Option<JsonOccurrence<'a>>,
}

#[derive(Serialize)]
pub(crate) struct JsonIndicator<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub value: &'a str,
    pub matched: &'a str,
    pub tags: &'a [String],
    pub sources: &'a [String],
}

#[derive(Serialize)]
pub(crate) struct JsonName<'a> {
    pub name: &'a str,
    pub sources: Vec<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct JsonOccurrence<'a> {
    pub location: String,
    pub file: &'a str,
    pub line: Option<u64>,
    pub packet: Option<u64>,
    pub uid: Option<&'a str>,
    pub ts: Option<Ts>,
}

#[derive(Serialize)]
pub(crate) struct JsonWhitelisted<'a> {
    pub host: &'a str,
    pub ip: Option<String>,
    pub entry: &'a str,
    pub entry_source: &'a str,
    pub connections: u64,
}

#[derive(Serialize)]
pub(crate) struct JsonDestination<'a> {
    pub host: &'a str,
    pub ip: Option<String>,
    pub proto: &'a str,
    pub port: Option<u16>,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub connections: u64,
    pub bytes: u64,
    pub status: &'static str,
}

#[derive(Serialize)]
pub(crate) struct JsonBucket {
    pub start: i64,
    pub start_iso: Option<String>,
    pub connections: u64,
}

#[derive(Serialize)]
pub(crate) struct JsonIntel<'a> {
    pub per_type: &'a BTreeMap<String, u64>,
    pub per_source: Vec<JsonSourceCount<'a>>,
    pub invalid: &'a [String],
    pub snort_rules: u64,
    pub whitelist_entries: u64,
    pub whitelist_invalid: &'a [String],
}

#[derive(Serialize)]
pub(crate) struct JsonSourceCount<'a> {
    pub source: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub entries: u64,
}

#[derive(Serialize)]
pub(crate) struct JsonDiagnostics {
    pub count: usize,
    pub truncated: bool,
    pub first: Vec<JsonDiagnostic>,
}

#[derive(Serialize)]
pub(crate) struct JsonDiagnostic {
    pub location: String,
    pub message: String,
}

/// The verdict word for the highest level present.
pub(crate) fn verdict(highest: Option<Level>) -> &'static str {
    match highest {
        Some(Level::High) => "high",
        Some(Level::Moderate) => "moderate",
        Some(Level::Low) => "low",
        None => "clean",
    }
}

/// Epoch seconds as ISO 8601 UTC text (`2009-11-18T08:34:14.132Z`, milliseconds when the value
/// has a fraction), or `None` when the value is not a finite time within years 0..=9999.
pub fn iso8601(ts: Ts) -> Option<String> {
    if !ts.is_finite() || !(-62_167_219_200.0..253_402_300_800.0).contains(&ts) {
        return None;
    }
    let millis_total = (ts * 1000.0).round() as i64;
    let secs = millis_total.div_euclid(1000);
    let millis = millis_total.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if !(0..=9999).contains(&y) {
        // Only a time rounded up past the last millisecond of year 9999 gets here.
        return Some(if millis == 0 {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
        });
    }
    // Written digit by digit: a report has two times per destination and per evidence, and
    // `format!` made them a sixth of writing a report of 5,000 destinations.
    let mut out = String::with_capacity(24);
    let mut digits = |n: i64, width: u32, sep: char| {
        for k in (0..width).rev() {
            let digit = n / 10_i64.pow(k) % 10;
            out.push(char::from(b'0' + digit.unsigned_abs() as u8));
        }
        out.push(sep);
    };
    digits(y, 4, '-');
    digits(i64::from(m), 2, '-');
    digits(i64::from(d), 2, 'T');
    digits(hh, 2, ':');
    digits(mm, 2, ':');
    if millis == 0 {
        digits(ss, 2, 'Z');
    } else {
        digits(ss, 2, '.');
        digits(millis, 3, 'Z');
    }
    Some(out)
}

/// Howard Hinnant's days-since-epoch to proleptic Gregorian (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn indicator(m: &MatchedIndicator) -> JsonIndicator<'_> {
    JsonIndicator {
        kind: &m.kind,
        value: &m.value,
        matched: &m.matched,
        tags: &m.tags,
        sources: &m.sources,
    }
}

pub(crate) fn evidence(e: &Evidence) -> JsonEvidence<'_> {
    JsonEvidence {
        server_ips: e.server_ips.iter().map(|ip| ip.to_string()).collect(),
        server_ports: e.server_ports.iter().copied().collect(),
        indicators: e.indicators.iter().map(indicator).collect(),
        names: e
            .names
            .iter()
            .map(|(name, sources)| JsonName {
                name,
                sources: sources.iter().map(String::as_str).collect(),
            })
            .collect(),
        details: e.details.iter().map(String::as_str).collect(),
        first_ts: e.first_ts.filter(|t| t.is_finite()),
        last_ts: e.last_ts.filter(|t| t.is_finite()),
        first_seen: e.first_ts.and_then(iso8601),
        last_seen: e.last_ts.and_then(iso8601),
        counts: e.counts.iter().map(|(k, v)| (*k, *v)).collect(),
        first_occurrence: e.first.as_ref().map(|(ts, occ)| JsonOccurrence {
            location: occ.location.to_string(),
            file: &occ.location.source,
            line: match occ.location.pos {
                Pos::Line(n) => Some(n),
                _ => None,
            },
            packet: match occ.location.pos {
                Pos::Packet(n) => Some(n),
                _ => None,
            },
            uid: occ.uid.as_deref(),
            ts: ts.filter(|t| t.is_finite()),
        }),
    }
}

fn alert(a: &Alert) -> JsonAlert<'_> {
    JsonAlert {
        id: a.id,
        level: a.level.name(),
        host: &a.host,
        ips: a
            .evidence
            .server_ips
            .iter()
            .map(|ip| ip.to_string())
            .collect(),
        title: a.title,
        description: &a.description,
        evidence: evidence(&a.evidence),
    }
}

fn destination(d: &DestinationSummary) -> JsonDestination<'_> {
    JsonDestination {
        host: &d.host,
        ip: d.ip.map(|ip| ip.to_string()),
        proto: &d.proto,
        port: d.port,
        first_ts: d.first_ts.filter(|t| t.is_finite()),
        last_ts: d.last_ts.filter(|t| t.is_finite()),
        first_seen: d.first_ts.and_then(iso8601),
        last_seen: d.last_ts.and_then(iso8601),
        connections: d.connections,
        bytes: d.bytes,
        status: d.status.name(),
    }
}

/// The summary block, shared with the other writers.
pub(crate) fn summary(report: &Report) -> Summary {
    let mut rows_per_log_type = BTreeMap::new();
    for i in &report.inputs {
        let e: &mut u64 = rows_per_log_type.entry(i.log_type.clone()).or_default();
        *e = e.saturating_add(i.rows);
    }
    let highest = report.highest();
    Summary {
        verdict: verdict(highest),
        highest: highest.map(Level::name),
        high: report.count(Level::High),
        moderate: report.count(Level::Moderate),
        low: report.count(Level::Low),
        total: report.alerts.len(),
        whitelisted: report.whitelisted.len(),
        whitelisted_connections: report
            .whitelisted
            .iter()
            .fold(0u64, |s, w| s.saturating_add(w.connections)),
        inputs: report.inputs.len(),
        rows: report
            .inputs
            .iter()
            .fold(0u64, |s, i| s.saturating_add(i.rows)),
        errors: report
            .inputs
            .iter()
            .fold(0u64, |s, i| s.saturating_add(i.errors)),
        rows_per_log_type,
        diagnostics: report.diagnostics.len(),
        unreadable: report.unreadable.len(),
        incomplete: report.incomplete(),
    }
}

/// Builds the serialisable document for `report`.
pub(crate) fn document(report: &Report) -> JsonReport<'_> {
    JsonReport {
        schema_version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        inputs: report
            .inputs
            .iter()
            .map(|i| JsonInput {
                path: &i.path,
                log_type: &i.log_type,
                format: &i.format,
                compressed: i.compressed,
                rows: i.rows,
                errors: i.errors,
            })
            .collect(),
        summary: summary(report),
        alerts: Lazy {
            items: &report.alerts,
            convert: alert,
        },
        whitelisted: report
            .whitelisted
            .iter()
            .map(|w| JsonWhitelisted {
                host: &w.host,
                ip: w.ip.map(|ip| ip.to_string()),
                entry: &w.entry,
                entry_source: &w.entry_source,
                connections: w.connections,
            })
            .collect(),
        destinations: Lazy {
            items: &report.destinations,
            convert: destination,
        },
        timeline: report
            .timeline
            .iter()
            .map(|&(start, connections)| JsonBucket {
                start,
                start_iso: iso8601(start as f64),
                connections,
            })
            .collect(),
        intel: JsonIntel {
            per_type: &report.intel.per_type,
            per_source: report
                .intel
                .per_source
                .iter()
                .map(|((source, kind), entries)| JsonSourceCount {
                    source,
                    kind,
                    entries: *entries,
                })
                .collect(),
            invalid: &report.intel.invalid,
            snort_rules: report.intel.snort_rules,
            whitelist_entries: report.intel.whitelist_entries,
            whitelist_invalid: &report.intel.whitelist_invalid,
        },
        active_sources: &report.active_sources,
        diagnostics: JsonDiagnostics {
            count: report.diagnostics.len(),
            truncated: report.diagnostics.len() > DIAGNOSTICS_CAP,
            first: report
                .diagnostics
                .iter()
                .take(DIAGNOSTICS_CAP)
                .map(|d| JsonDiagnostic {
                    location: d.location.to_string(),
                    message: d.message.clone(),
                })
                .collect(),
        },
        unreadable: &report.unreadable,
        limitations: &report.limitations,
    }
}

/// Writes `report` as pretty-printed JSON followed by a newline.
pub fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let mut out = io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, &document(report)).map_err(io::Error::from)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// The part of an earlier JSON report that `--baseline` reads: the alerts' `(id, host)` pairs.
#[derive(Debug, Deserialize)]
pub struct Baseline {
    pub schema_version: u32,
    pub alerts: Vec<BaselineAlert>,
}

/// One alert of an earlier report; other fields are ignored.
#[derive(Debug, Deserialize)]
pub struct BaselineAlert {
    pub id: String,
    pub host: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;
    use serde_json::Value;

    fn render(report: &Report) -> Vec<u8> {
        let mut out = Vec::new();
        write(report, &mut out).unwrap();
        out
    }

    #[test]
    fn every_field_is_written_under_its_documented_name() {
        let out = render(&sample::report());
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["schema_version"], 1);
        assert_eq!(v["tool"]["name"], "captriage");
        assert_eq!(v["tool"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(
            v["inputs"][0],
            serde_json::json!({"path": "logs/conn.log.gz", "log_type": "conn", "format": "tsv",
                "compressed": true, "rows": 100, "errors": 2})
        );
        let s = &v["summary"];
        assert_eq!(
            (&s["high"], &s["moderate"], &s["low"], &s["total"]),
            (
                &Value::from(1),
                &Value::from(1),
                &Value::from(1),
                &Value::from(3)
            )
        );
        assert_eq!(s["verdict"], "high");
        assert_eq!(s["highest"], "high");
        assert_eq!(s["whitelisted"], 1);
        assert_eq!(s["whitelisted_connections"], 9);
        assert_eq!(s["rows"], 140);
        assert_eq!(s["errors"], 2);
        assert_eq!(
            s["rows_per_log_type"],
            serde_json::json!({"conn": 100, "dns": 40})
        );
        assert_eq!(s["diagnostics"], 105);
        assert_eq!(s["unreadable"], 1);
        assert_eq!(s["incomplete"], true);

        let levels: Vec<&str> = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["level"].as_str().unwrap())
            .collect();
        assert_eq!(levels, ["high", "moderate", "low"]);
        let a = &v["alerts"][0];
        assert_eq!(a["id"], "IOC-03");
        assert_eq!(a["host"], "api.evil-c2.com");
        assert_eq!(a["ips"], serde_json::json!(["198.51.100.7", "2001:db8::1"]));
        assert_eq!(a["title"], "A domain indicator matched");
        let e = &a["evidence"];
        assert_eq!(e["server_ports"], serde_json::json!([443, 8443]));
        assert_eq!(
            e["indicators"][0],
            serde_json::json!({"type": "domain", "value": "evil-c2.com",
                "matched": "api.evil-c2.com", "tags": ["stalkerware"],
                "sources": ["iocs/a.json:3", "iocs/b.json:7"]})
        );
        assert_eq!(
            e["names"][1],
            serde_json::json!({"name": "cdn.example.net", "sources": ["dns", "pdns:pdns.json"]})
        );
        assert_eq!(e["details"], serde_json::json!(["sni: api.evil-c2.com"]));
        assert_eq!(e["first_ts"], 1_258_535_650.5);
        assert_eq!(e["last_ts"], 1_258_535_700.0);
        assert_eq!(e["first_seen"], "2009-11-18T09:14:10.500Z");
        assert_eq!(e["last_seen"], "2009-11-18T09:15:00Z");
        assert_eq!(
            e["counts"],
            serde_json::json!({"connections": 3, "dns_transactions": 2})
        );
        assert_eq!(
            e["first_occurrence"],
            serde_json::json!({"location": "logs/dns.log:12", "file": "logs/dns.log",
                "line": 12, "packet": null, "uid": "CHhAvVGS1DHFjwGM9", "ts": 1_258_535_650.5})
        );
        let occ = &v["alerts"][1]["evidence"]["first_occurrence"];
        assert_eq!(occ["location"], "cap.pcap packet 4711");
        assert_eq!(occ["packet"], 4711);
        assert_eq!(occ["ts"], Value::Null);
        let empty = &v["alerts"][2]["evidence"];
        assert_eq!(empty["first_ts"], Value::Null);
        assert_eq!(empty["first_occurrence"], Value::Null);

        assert_eq!(
            v["whitelisted"][0],
            serde_json::json!({"host": "www.apple.com", "ip": "17.1.1.1", "entry": "apple.com",
                "entry_source": "whitelists/default.json:4", "connections": 9})
        );
        assert_eq!(v["destinations"][0]["status"], "suspect");
        assert_eq!(v["destinations"][0]["bytes"], 123_456);
        assert_eq!(v["destinations"][2]["port"], Value::Null);
        assert_eq!(
            v["timeline"][0],
            serde_json::json!({"start": 1_258_535_640, "start_iso": "2009-11-18T09:14:00Z",
                "connections": 4})
        );
        let i = &v["intel"];
        assert_eq!(
            i["per_type"],
            serde_json::json!({"domain": 10, "ip4addr": 3})
        );
        assert_eq!(
            i["per_source"][1],
            serde_json::json!({"source": "iocs/b.json", "type": "ip4addr", "entries": 3})
        );
        assert_eq!(i["invalid"][0], "iocs/b.json:9: not a domain: http://x");
        assert_eq!(i["snort_rules"], 4);
        assert_eq!(i["whitelist_entries"], 12);
        assert_eq!(
            i["whitelist_invalid"][0],
            "whitelists/w.json:2: empty value"
        );
        assert_eq!(v["active_sources"], serde_json::json!(["pdns:pdns.json"]));
        let d = &v["diagnostics"];
        assert_eq!(d["count"], 105);
        assert_eq!(d["truncated"], true);
        assert_eq!(d["first"].as_array().unwrap().len(), DIAGNOSTICS_CAP);
        assert_eq!(
            d["first"][0],
            serde_json::json!({"location": "logs/conn.log.gz:1", "message": "bad field \"ts\" 1"})
        );
        assert_eq!(v["unreadable"][0], "logs/ssl.log: permission denied");
        assert_eq!(v["limitations"][0], "TLS 1.3 hides server certificates");
    }

    #[test]
    fn output_is_pretty_deterministic_and_ends_with_a_newline() {
        let a = render(&sample::report());
        let b = render(&sample::report());
        assert_eq!(a, b);
        assert!(a.ends_with(b"}\n"));
        assert!(a.starts_with(b"{\n  \"schema_version\": 1,\n"));
    }

    #[test]
    fn reports_validate_against_the_published_schema() {
        let schema: Value = serde_json::from_str(&crate::report::json_schema()).unwrap();
        jsonschema::meta::validate(&schema).unwrap();
        let validator = jsonschema::validator_for(&schema).unwrap();
        for r in [sample::report(), Report::default()] {
            let v: Value = serde_json::from_slice(&render(&r)).unwrap();
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:#?}");
        }
        let mut v: Value = serde_json::from_slice(&render(&sample::report())).unwrap();
        v["alerts"][0]["level"] = "critical".into();
        assert!(!validator.is_valid(&v));
        let mut v: Value = serde_json::from_slice(&render(&sample::report())).unwrap();
        v["summary"]["surprise"] = 1.into();
        assert!(!validator.is_valid(&v), "unknown fields must be rejected");
    }

    #[test]
    fn an_empty_report_is_clean_and_complete() {
        let v: Value = serde_json::from_slice(&render(&Report::default())).unwrap();
        assert_eq!(v["summary"]["verdict"], "clean");
        assert_eq!(v["summary"]["highest"], Value::Null);
        assert_eq!(v["summary"]["incomplete"], false);
        assert_eq!(v["alerts"], serde_json::json!([]));
        assert_eq!(v["diagnostics"]["truncated"], false);
    }

    #[test]
    fn hostile_strings_are_escaped_and_round_trip() {
        let out = render(&sample::report());
        let text = std::str::from_utf8(&out).unwrap();
        assert!(!text.contains('\u{1b}'), "raw ESC written");
        assert!(text.contains("\\u001b[31m"));
        assert!(text.contains("<script>alert(\\\"x\\\")</script>"));
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["alerts"][1]["host"], sample::HOSTILE);
        assert_eq!(
            v["alerts"][1]["evidence"]["details"][0],
            format!("sni: {}", sample::HOSTILE)
        );
    }

    #[test]
    fn iso8601_formats_epoch_seconds_in_utc() {
        assert_eq!(iso8601(0.0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            iso8601(1_258_535_654.132).as_deref(),
            Some("2009-11-18T09:14:14.132Z")
        );
        assert_eq!(
            iso8601(951_782_400.0).as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
        assert_eq!(iso8601(-1.0).as_deref(), Some("1969-12-31T23:59:59Z"));
        assert_eq!(iso8601(f64::NAN), None);
        assert_eq!(iso8601(1e300), None);
    }

    /// The formatting [`iso8601`] does digit by digit, as `format!` writes it.
    fn iso8601_formatted(ts: Ts) -> Option<String> {
        if !ts.is_finite() || !(-62_167_219_200.0..253_402_300_800.0).contains(&ts) {
            return None;
        }
        let millis_total = (ts * 1000.0).round() as i64;
        let (secs, millis) = (millis_total.div_euclid(1000), millis_total.rem_euclid(1000));
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
        Some(if millis == 0 {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
        } else {
            format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{millis:03}Z")
        })
    }

    #[test]
    fn iso8601_digits_agree_with_format() {
        let mut cases = vec![
            -62_167_219_200.0,
            -62_167_219_199.999_5,
            -1.0,
            -0.0005,
            -0.0004,
            0.0,
            0.0004,
            0.0005,
            0.999,
            0.9995,
            1_258_535_654.132,
            1_704_067_200.864,
            253_402_300_799.0,
            253_402_300_799.999,
            253_402_300_799.999_6,
            253_402_300_800.0,
        ];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let span = 253_402_300_800.0 + 62_167_219_200.0;
            cases.push(-62_167_219_200.0 + (x >> 11) as f64 / (1u64 << 53) as f64 * span);
            cases.push((x % 4_000_000_000) as f64 + (x >> 40) as f64 / 1e7);
        }
        for ts in cases {
            assert_eq!(iso8601(ts), iso8601_formatted(ts), "{ts}");
        }
    }
}
