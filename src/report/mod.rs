//! The finished result of a run and the writers that render it.
//!
//! [`Report`] is what the pipeline hands over: alerts already sorted, the inputs with their row
//! and error counts, whitelisted destinations, the intel summary, diagnostics and what could not
//! be read. Each output format is one module writing to any `io::Write`; [`write()`] dispatches on
//! [`Format`]. Writers add nothing that varies between runs (no clock, no random ids).

pub mod baseline;
pub mod csv;
pub mod docs;
pub mod html;
pub mod json;
pub mod ndjson;
#[cfg(test)]
mod sample;
pub mod table;

use crate::alert::{Alert, Level};
use crate::model::{Diagnostic, Ts};
use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;

/// One input file as read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InputSummary {
    /// The path as found.
    pub path: String,
    /// Zeek log type (`conn`, `dns`, ...) or `capture`.
    pub log_type: String,
    /// `tsv`, `json`, `pcap` or `pcapng`.
    pub format: String,
    /// Whether the file was gzip-compressed.
    pub compressed: bool,
    /// Data rows (or packets) read.
    pub rows: u64,
    /// Rows (or packets) that could not be used, each reported as a diagnostic.
    pub errors: u64,
}

/// A destination whose traffic the whitelist hid.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WhitelistedDestination {
    /// Display name, or the address when it has none.
    pub host: String,
    pub ip: Option<IpAddr>,
    /// The matching whitelist entry and where it was read (`file:line`).
    pub entry: String,
    pub entry_source: String,
    /// Connections (or, for lookups, DNS transactions) hidden.
    pub connections: u64,
}

/// What was loaded as intel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntelSummary {
    /// Indicator type -> distinct indicators.
    pub per_type: BTreeMap<String, u64>,
    /// (source file, indicator type) -> entries read.
    pub per_source: BTreeMap<(String, String), u64>,
    /// Rejected indicator entries (`file:line: reason`).
    pub invalid: Vec<String>,
    /// Snort rules accepted and not evaluated.
    pub snort_rules: u64,
    /// Whitelist entries loaded.
    pub whitelist_entries: u64,
    /// Rejected whitelist entries.
    pub whitelist_invalid: Vec<String>,
}

/// How a destination came out of triage.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DestinationStatus {
    /// Some alert names this destination.
    Suspect,
    /// Neither alerted on nor whitelisted.
    #[default]
    Other,
    /// Hidden by the whitelist.
    Whitelisted,
}

impl DestinationStatus {
    /// `suspect`, `other` or `whitelisted`.
    pub fn name(self) -> &'static str {
        match self {
            DestinationStatus::Suspect => "suspect",
            DestinationStatus::Other => "other",
            DestinationStatus::Whitelisted => "whitelisted",
        }
    }
}

/// Traffic to one destination (host, address, protocol, port), for the communications tables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DestinationSummary {
    /// Display name, or the address when it has none.
    pub host: String,
    pub ip: Option<IpAddr>,
    /// Transport protocol, lower-case (`tcp`, `udp`, `icmp`).
    pub proto: String,
    pub port: Option<u16>,
    pub first_ts: Option<Ts>,
    pub last_ts: Option<Ts>,
    pub connections: u64,
    /// Bytes both ways.
    pub bytes: u64,
    pub status: DestinationStatus,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub inputs: Vec<InputSummary>,
    /// Sorted by level, rule id, host.
    pub alerts: Vec<Alert>,
    pub whitelisted: Vec<WhitelistedDestination>,
    pub intel: IntelSummary,
    /// Every problem met while reading input, in input order.
    pub diagnostics: Vec<Diagnostic>,
    /// Inputs that could not be read at all (`path: reason`): the report is incomplete.
    pub unreadable: Vec<String>,
    /// Limitations that applied to this input (for example TLS 1.3 hides certificates).
    pub limitations: Vec<String>,
    /// Sources the ACT rules had (empty when `active` is off).
    pub active_sources: Vec<String>,
    /// Every destination with its traffic, sorted by status, host, ip, proto, port (may be empty).
    pub destinations: Vec<DestinationSummary>,
    /// Connections per time bucket: (bucket start, epoch seconds; connections), ascending.
    pub timeline: Vec<(i64, u64)>,
}

impl Report {
    /// Alerts at `level`.
    pub fn count(&self, level: Level) -> usize {
        self.alerts.iter().filter(|a| a.level == level).count()
    }

    /// True when some input could not be read.
    pub fn incomplete(&self) -> bool {
        !self.unreadable.is_empty()
    }

    /// The highest level present.
    pub fn highest(&self) -> Option<Level> {
        self.alerts.iter().map(|a| a.level).min()
    }
}

/// Output formats (a `clap::ValueEnum`, so the CLI can take `--format` as this type).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Html,
    Csv,
    Ndjson,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 5] = [
        Format::Table,
        Format::Json,
        Format::Html,
        Format::Csv,
        Format::Ndjson,
    ];

    /// `table`, `json`, `html`, `csv` or `ndjson`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }

    /// Parses a format name (case-insensitive).
    pub fn from_name(s: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
    }
}

/// The JSON Schema (draft 2020-12) of the JSON report, as `captriage schema` prints it.
pub fn json_schema() -> String {
    include_str!("../../docs/report.schema.json").to_string()
}

/// Renders `report` as `format`. `color` asks the table writer for ANSI colour; the other
/// formats ignore it.
pub fn write(
    report: &Report,
    format: Format,
    color: bool,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    match format {
        Format::Table => table::write(report, color, out),
        Format::Json => json::write(report, out),
        Format::Html => html::write(report, out),
        Format::Csv => csv::write(report, out),
        Format::Ndjson => ndjson::write(report, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn format_names_match_the_clap_values() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
            let v = f.to_possible_value().unwrap();
            assert_eq!(v.get_name(), f.name());
        }
        assert_eq!(Format::from_name("NDJSON"), Some(Format::Ndjson));
        assert_eq!(Format::from_name("xml"), None);
    }

    #[test]
    fn every_format_copes_with_an_empty_report() {
        for f in Format::ALL {
            let mut out = Vec::new();
            write(&Report::default(), f, false, &mut out).unwrap();
            if f != Format::Ndjson {
                assert!(!out.is_empty(), "{f:?}");
            }
        }
    }
}
