//! The terminal table: alerts grouped by level, then one summary line.
//!
//! Each level present gets a header line and a comfy-table with the columns id, host, title and a
//! short key evidence (first indicator or detail, first server address, record counts). The table
//! is laid out for a fixed width ([`DEFAULT_WIDTH`] unless the caller passes another), so the
//! output does not depend on the terminal. Colour is the caller's decision ([`color_wanted`]);
//! without it no escape sequence is written. Values that came off the wire are shown with their
//! control and bidirectional-override characters escaped, so a hostile name cannot drive the
//! terminal.

use super::Report;
use crate::alert::{Alert, Level};
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Table};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io;

/// The width the table is laid out for unless the caller passes one.
pub const DEFAULT_WIDTH: u16 = 80;

/// Whether to colour: only on a terminal, and never when `NO_COLOR` is set to a non-empty value.
pub fn color_wanted(is_terminal: bool) -> bool {
    color_wanted_with(is_terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// [`color_wanted`] with the value of `NO_COLOR` given.
pub fn color_wanted_with(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

/// Writes `report` as tables at [`DEFAULT_WIDTH`] columns.
pub fn write(report: &Report, color: bool, out: &mut dyn io::Write) -> io::Result<()> {
    write_width(report, color, DEFAULT_WIDTH, out)
}

/// Writes `report` as tables laid out for `width` columns.
pub fn write_width(
    report: &Report,
    color: bool,
    width: u16,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    let mut text = String::new();
    if report.alerts.is_empty() {
        text.push_str("No alerts.\n");
    }
    for level in Level::ALL {
        let alerts: Vec<&Alert> = report.alerts.iter().filter(|a| a.level == level).collect();
        if alerts.is_empty() {
            continue;
        }
        let noun = if alerts.len() == 1 { "alert" } else { "alerts" };
        let head = format!("{} ({} {noun})", level.name().to_uppercase(), alerts.len());
        if color {
            let _ = writeln!(text, "{}{head}\x1b[0m", ansi(level));
        } else {
            let _ = writeln!(text, "{head}");
        }
        let _ = writeln!(text, "{}\n", level_table(&alerts, color, width));
    }
    let _ = writeln!(text, "{}", summary_line(report));
    for u in &report.unreadable {
        let _ = writeln!(text, "Incomplete: could not read {}", clean(u));
    }
    for l in &report.limitations {
        let _ = writeln!(text, "Limitation: {}", clean(l));
    }
    let invalid = report.intel.invalid.len() + report.intel.whitelist_invalid.len();
    if invalid > 0 {
        let _ = writeln!(text, "Intel: {invalid} invalid entries skipped");
    }
    out.write_all(text.as_bytes())
}

fn ansi(level: Level) -> &'static str {
    match level {
        Level::High => "\x1b[1;31m",
        Level::Moderate => "\x1b[1;33m",
        Level::Low => "\x1b[1;36m",
    }
}

fn color_of(level: Level) -> Color {
    match level {
        Level::High => Color::Red,
        Level::Moderate => Color::Yellow,
        Level::Low => Color::Cyan,
    }
}

fn level_table(alerts: &[&Alert], color: bool, width: u16) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED.with_rounded_corners())
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(width);
    if color {
        t.enforce_styling();
    } else {
        t.force_no_tty();
    }
    let header = ["id", "host", "title", "key evidence"];
    if color {
        t.set_header(header.map(|h| Cell::new(h).add_attribute(Attribute::Bold)));
    } else {
        t.set_header(header);
    }
    for a in alerts {
        let id = Cell::new(a.id);
        let id = if color { id.fg(color_of(a.level)) } else { id };
        t.add_row(vec![
            id,
            Cell::new(clean(&a.host)),
            Cell::new(clean(a.title)),
            Cell::new(key_evidence(a)),
        ]);
    }
    t
}

/// A few short lines: the first indicator (or detail), the first server endpoint, the counts.
fn key_evidence(a: &Alert) -> String {
    let e = &a.evidence;
    let mut lines = Vec::new();
    let more = |n: usize| {
        if n > 1 {
            format!(" (+{})", n - 1)
        } else {
            String::new()
        }
    };
    if let Some(i) = e.indicators.iter().next() {
        lines.push(format!(
            "{} {}{}",
            clean(&i.kind),
            clean(&i.value),
            more(e.indicators.len())
        ));
    } else if let Some(d) = e.details.iter().next() {
        lines.push(format!("{}{}", clean(d), more(e.details.len())));
    }
    if let Some(ip) = e.server_ips.iter().next() {
        let port = match e.server_ports.iter().next() {
            Some(p) if e.server_ports.len() == 1 => format!(" port {p}"),
            Some(_) => format!(" {} ports", e.server_ports.len()),
            None => String::new(),
        };
        lines.push(format!("{ip}{}{port}", more(e.server_ips.len())));
    }
    let counts: Vec<String> = e
        .counts
        .iter()
        .map(|(k, v)| format!("{v} {}", short_kind(k)))
        .collect();
    if !counts.is_empty() {
        lines.push(counts.join(", "));
    }
    lines.join("\n")
}

/// The short name of a record kind of `Evidence::counts`.
fn short_kind(kind: &str) -> String {
    match kind {
        "connections" => "conn".into(),
        "dns_transactions" => "dns".into(),
        "tls_sessions" => "tls".into(),
        "http_requests" => "http".into(),
        "certificate_files" => "cert".into(),
        other => clean(other).replace('_', " "),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `Summary: 1 high, 2 moderate, 0 low · 3 whitelisted destinations · 120 rows read from 4 inputs · 1 error · complete`
fn summary_line(report: &Report) -> String {
    let rows = report
        .inputs
        .iter()
        .fold(0u64, |s, i| s.saturating_add(i.rows));
    let errors = report
        .inputs
        .iter()
        .fold(0u64, |s, i| s.saturating_add(i.errors));
    let incomplete = if report.incomplete() {
        format!(
            "INCOMPLETE: {} unreadable",
            plural(report.unreadable.len(), "input", "inputs")
        )
    } else {
        "complete".to_string()
    };
    format!(
        "Summary: {} high, {} moderate, {} low · {} · {rows} rows read from {} · {} · {incomplete}",
        report.count(Level::High),
        report.count(Level::Moderate),
        report.count(Level::Low),
        plural(
            report.whitelisted.len(),
            "whitelisted destination",
            "whitelisted destinations"
        ),
        plural(report.inputs.len(), "input", "inputs"),
        plural(
            usize::try_from(errors).unwrap_or(usize::MAX),
            "error",
            "errors"
        ),
    )
}

/// `s` with control and bidirectional-override characters escaped (`\x1b`, `\u{202e}`).
pub(crate) fn clean(s: &str) -> String {
    if !s.chars().any(hostile) {
        return s.to_string();
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hostile(c) {
            if (c as u32) < 0x80 {
                let _ = write!(o, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
        } else {
            o.push(c);
        }
    }
    o
}

fn hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    fn render(report: &Report, color: bool) -> String {
        let mut out = Vec::new();
        write(report, color, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn groups_by_level_with_a_summary_line() {
        let text = render(&sample::report(), false);
        let high = text.find("HIGH (1 alert)").unwrap();
        let moderate = text.find("MODERATE (1 alert)").unwrap();
        let low = text.find("LOW (1 alert)").unwrap();
        assert!(high < moderate && moderate < low);
        assert!(text.contains("IOC-03"));
        assert!(text.contains("domain evil-c2.com"));
        assert!(text.contains("3 conn, 2 dns"), "{text}");
        assert!(text.contains(
            "Summary: 1 high, 1 moderate, 1 low · 1 whitelisted destination · 140 rows read from \
             2 inputs · 2 errors · INCOMPLETE: 1 input unreadable"
        ));
        assert!(text.contains("Incomplete: could not read logs/ssl.log: permission denied"));
        assert!(text.contains("Limitation: TLS 1.3 hides server certificates"));
    }

    #[test]
    fn fits_in_80_columns_without_colour() {
        let text = render(&sample::report(), false);
        for line in text.lines().filter(|l| !l.starts_with("Summary:")) {
            assert!(line.chars().count() <= 80, "too wide: {line}");
        }
        assert!(!text.contains('\u{1b}'), "escape sequence without colour");
    }

    #[test]
    fn hostile_names_cannot_drive_the_terminal() {
        for color in [false, true] {
            let text = render(&sample::report(), color);
            assert!(!text.contains('\u{202e}'));
            assert!(text.contains("\\x1b[31m"), "{text}");
            if !color {
                assert!(!text.contains('\u{1b}'));
            }
        }
    }

    #[test]
    fn colour_only_when_asked() {
        let text = render(&sample::report(), true);
        assert!(text.contains("\u{1b}[1;31mHIGH"));
        assert_eq!(
            render(&sample::report(), false),
            render(&sample::report(), false)
        );
    }

    #[test]
    fn no_color_is_honoured() {
        assert!(color_wanted_with(true, None));
        assert!(color_wanted_with(true, Some(OsStr::new(""))));
        assert!(!color_wanted_with(true, Some(OsStr::new("1"))));
        assert!(!color_wanted_with(false, None));
    }

    #[test]
    fn an_empty_report_says_so() {
        let text = render(&Report::default(), false);
        assert!(text.starts_with("No alerts.\n"));
        assert!(text.contains("· complete"));
    }
}
