//! The CSV report: one row per alert with its evidence flattened, for spreadsheets and SIEMs.
//!
//! Columns are fixed ([`COLUMNS`], documented in docs/report-json.md); lists are joined with `;`.
//! Quoting is the `csv` crate's. Text cells that a spreadsheet would evaluate as a formula (first
//! character `=`, `+`, `-`, `@`, tab or carriage return) get a leading `'`, since names come off
//! the wire. Rows keep the report's alert order, so output is deterministic.

use super::Report;
use super::json::iso8601;
use crate::alert::Alert;
use crate::model::Ts;
use std::io;

/// The header row.
pub const COLUMNS: [&str; 19] = [
    "id",
    "level",
    "host",
    "title",
    "description",
    "server_ips",
    "server_ports",
    "indicators",
    "indicator_tags",
    "indicator_sources",
    "names",
    "details",
    "first_ts",
    "last_ts",
    "first_seen",
    "last_seen",
    "counts",
    "first_occurrence",
    "uid",
];

/// Writes one header row and one row per alert.
pub fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let mut w = ::csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for a in &report.alerts {
        w.write_record(row(a))?;
    }
    w.flush()
}

fn ts_text(ts: Option<Ts>) -> String {
    ts.filter(|t| t.is_finite())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn row(a: &Alert) -> [String; 19] {
    let e = &a.evidence;
    let mut tags: Vec<&str> = e
        .indicators
        .iter()
        .flat_map(|i| i.tags.iter().map(String::as_str))
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let mut sources: Vec<&str> = e
        .indicators
        .iter()
        .flat_map(|i| i.sources.iter().map(String::as_str))
        .collect();
    sources.sort_unstable();
    sources.dedup();
    let join = |v: Vec<String>| v.join(";");
    [
        text(a.id),
        text(a.level.name()),
        text(&a.host),
        text(a.title),
        text(&a.description),
        join(e.server_ips.iter().map(|i| i.to_string()).collect()),
        join(e.server_ports.iter().map(|p| p.to_string()).collect()),
        text(&join(
            e.indicators
                .iter()
                .map(|i| format!("{}:{}={}", i.kind, i.value, i.matched))
                .collect(),
        )),
        text(&tags.join(";")),
        text(&sources.join(";")),
        text(&join(
            e.names
                .iter()
                .map(|(n, s)| {
                    let s: Vec<&str> = s.iter().map(String::as_str).collect();
                    format!("{n}[{}]", s.join(","))
                })
                .collect(),
        )),
        text(&join(e.details.iter().cloned().collect())),
        ts_text(e.first_ts),
        ts_text(e.last_ts),
        e.first_ts.and_then(iso8601).unwrap_or_default(),
        e.last_ts.and_then(iso8601).unwrap_or_default(),
        join(e.counts.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        e.first
            .as_ref()
            .map(|(_, o)| text(&o.location.to_string()))
            .unwrap_or_default(),
        e.first
            .as_ref()
            .and_then(|(_, o)| o.uid.as_deref())
            .map(text)
            .unwrap_or_default(),
    ]
}

/// `s`, with a leading `'` when a spreadsheet would read it as a formula.
fn text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    fn render(report: &Report) -> Vec<u8> {
        let mut out = Vec::new();
        write(report, &mut out).unwrap();
        out
    }

    #[test]
    fn one_row_per_alert_with_flattened_evidence() {
        let out = render(&sample::report());
        let mut r = ::csv::Reader::from_reader(out.as_slice());
        assert_eq!(r.headers().unwrap(), COLUMNS.as_slice());
        let rows: Vec<::csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 3);
        let get = |row: &::csv::StringRecord, col: &str| {
            let i = COLUMNS.iter().position(|c| *c == col).unwrap();
            row.get(i).unwrap().to_string()
        };
        let high = &rows[0];
        assert_eq!(get(high, "id"), "IOC-03");
        assert_eq!(get(high, "level"), "high");
        assert_eq!(get(high, "server_ips"), "198.51.100.7;2001:db8::1");
        assert_eq!(get(high, "server_ports"), "443;8443");
        assert_eq!(
            get(high, "indicators"),
            "domain:evil-c2.com=api.evil-c2.com"
        );
        assert_eq!(get(high, "indicator_tags"), "stalkerware");
        assert_eq!(
            get(high, "indicator_sources"),
            "iocs/a.json:3;iocs/b.json:7"
        );
        assert_eq!(
            get(high, "names"),
            "api.evil-c2.com[dns];cdn.example.net[dns,pdns:pdns.json]"
        );
        assert_eq!(get(high, "first_ts"), "1258535650.5");
        assert_eq!(get(high, "first_seen"), "2009-11-18T09:14:10.500Z");
        assert_eq!(get(high, "counts"), "connections=3;dns_transactions=2");
        assert_eq!(get(high, "first_occurrence"), "logs/dns.log:12");
        assert_eq!(get(high, "uid"), "CHhAvVGS1DHFjwGM9");
        assert_eq!(get(&rows[1], "host"), sample::HOSTILE);
        assert_eq!(get(&rows[2], "first_ts"), "");
    }

    #[test]
    fn formulas_are_defused_and_output_is_deterministic() {
        assert_eq!(text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text("-1"), "'-1");
        assert_eq!(text("a=b"), "a=b");
        assert_eq!(render(&sample::report()), render(&sample::report()));
    }
}
