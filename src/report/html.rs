//! The HTML report: one self-contained page for people, with a verdict, the alerts and charts.
//!
//! The page has inline CSS and inline SVG only: no script, no font, no image, no link, and a
//! Content-Security-Policy that forbids loading anything, so it opens offline and makes no
//! request. It reads without JavaScript and prints. Every value goes through [`esc`] (names, SNI
//! and Host values come off the wire and are hostile), after the table writer's escaping of
//! control characters. Charts are drawn from the report's counts, destinations and timeline with
//! integer coordinates, so the same report gives the same bytes.

use super::json::iso8601;
use super::table::clean;
use super::{DestinationStatus, DestinationSummary, Report};
use crate::alert::{Alert, Level};
use crate::model::Ts;
use std::fmt::Write as _;
use std::io;

/// At most this many bars in the connections-over-time chart; buckets are merged beyond it.
pub const MAX_TIME_BARS: usize = 120;
/// Destinations shown in the top-by-bytes chart.
pub const TOP_DESTINATIONS: usize = 10;
/// Rows per communications table; the rest is counted.
pub const MAX_TABLE_ROWS: usize = 500;

const CSS: &str = "\
:root{--high:#b3261e;--moderate:#b26a00;--low:#1f5f99;--clean:#2e7d32;--fg:#1b1b1b;--muted:#5f6368;\
--line:#d9d9d9;--bg:#fafafa}\
*{box-sizing:border-box}\
body{margin:0;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);\
background:var(--bg)}\
main{max-width:1100px;margin:0 auto;padding:1rem 1.25rem 3rem}\
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.2rem;margin:2rem 0 .6rem;border-bottom:1px solid var(--line)}\
h3{font-size:1rem;margin:1.2rem 0 .4rem}\
.verdict{color:#fff;padding:1rem 1.25rem;border-radius:6px;margin:1rem 0}\
.verdict p{margin:.2rem 0 0}\
.v-high{background:var(--high)}.v-moderate{background:var(--moderate)}.v-low{background:var(--low)}\
.v-clean{background:var(--clean)}\
.counts{display:flex;gap:.75rem;flex-wrap:wrap;margin:.5rem 0}\
.count{background:#fff;border:1px solid var(--line);border-left:6px solid;border-radius:4px;\
padding:.4rem .9rem;min-width:8rem}\
.count b{display:block;font-size:1.5rem}\
.c-high{border-left-color:var(--high)}.c-moderate{border-left-color:var(--moderate)}\
.c-low{border-left-color:var(--low)}.c-other{border-left-color:var(--muted)}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(400px,1fr));gap:1rem}\
figure{margin:0;background:#fff;border:1px solid var(--line);border-radius:4px;padding:.6rem}\
figcaption{font-weight:600;margin-bottom:.3rem}.wide{grid-column:1/-1}\
svg{width:100%;height:auto}.f-high{fill:var(--high)}.f-moderate{fill:var(--moderate)}\
.f-low{fill:var(--low)}.f-clean{fill:var(--clean)}svg text{font:11px system-ui,sans-serif;fill:var(--fg)}\
.alert{background:#fff;border:1px solid var(--line);border-left:6px solid;border-radius:4px;\
padding:.6rem .9rem;margin:.6rem 0;break-inside:avoid}\
.a-high{border-left-color:var(--high)}.a-moderate{border-left-color:var(--moderate)}\
.a-low{border-left-color:var(--low)}\
.alert h4{margin:0 0 .3rem;font-size:1rem}.rid{font-family:ui-monospace,monospace;margin-right:.5rem}\
.alert dl{display:grid;grid-template-columns:max-content 1fr;gap:.15rem .8rem;margin:.4rem 0 0}\
.alert dt{color:var(--muted)}.alert dd{margin:0}\
.mono,td.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}\
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px}\
th,td{border:1px solid var(--line);padding:.25rem .45rem;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}.nw{white-space:nowrap}\
ul.plain{margin:.2rem 0;padding-left:1.1rem}\
.muted{color:var(--muted)}footer{margin-top:2rem;color:var(--muted);font-size:12px}\
@media print{body{background:#fff}.alert,figure{border-color:#999}}";

/// `s` escaped for HTML text and attribute values, control characters shown escaped.
pub fn esc(s: &str) -> String {
    let s = clean(s);
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

fn level_class(level: Option<Level>) -> &'static str {
    level.map_or("clean", Level::name)
}

fn ts(t: Option<Ts>) -> String {
    t.and_then(iso8601).unwrap_or_else(|| "–".into())
}

/// `1.2 MB`-style sizes with one decimal (powers of 1000).
fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    match UNITS.get(u) {
        Some(unit) if u == 0 => format!("{n} {unit}"),
        Some(unit) => format!("{v:.1} {unit}"),
        None => format!("{n} B"),
    }
}

/// Writes `report` as one HTML page.
pub fn write(report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    page(report, &mut h);
    out.write_all(h.as_bytes())
}

fn page(r: &Report, h: &mut String) {
    let highest = r.highest();
    let verdict = match highest {
        Some(l) => format!("{} risk", l.name().to_uppercase()),
        None => "No alert".to_string(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>captriage report: {}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        esc(&verdict)
    );
    let _ = writeln!(h, "<h1>captriage report</h1>");
    banner(r, highest, &verdict, h);
    counts(r, h);
    charts(r, h);
    alerts(r, h);
    communications(r, h);
    inputs(r, h);
    intel(r, h);
    problems(r, h);
    let _ = write!(
        h,
        "<footer>Written by {} {}; JSON report schema version {}. This page loads nothing and \
         runs no script.</footer>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
        super::json::SCHEMA_VERSION
    );
}

fn banner(r: &Report, highest: Option<Level>, verdict: &str, h: &mut String) {
    let detail = match highest {
        Some(_) => format!(
            "{} high, {} moderate and {} low alerts.",
            r.count(Level::High),
            r.count(Level::Moderate),
            r.count(Level::Low)
        ),
        None => "Nothing in this input matched a rule.".to_string(),
    };
    let _ = write!(
        h,
        "<section class=\"verdict v-{}\" role=\"status\"><strong>Verdict: {}</strong><p>{}</p>",
        level_class(highest),
        esc(verdict),
        esc(&detail)
    );
    if r.incomplete() {
        let _ = write!(
            h,
            "<p><strong>Incomplete:</strong> {} input(s) could not be read; the verdict covers \
             only what was read.</p>",
            r.unreadable.len()
        );
    }
    h.push_str("</section>\n");
}

fn counts(r: &Report, h: &mut String) {
    let rows = r.inputs.iter().fold(0u64, |s, i| s.saturating_add(i.rows));
    let errors = r
        .inputs
        .iter()
        .fold(0u64, |s, i| s.saturating_add(i.errors));
    h.push_str("<div class=\"counts\">");
    for l in Level::ALL {
        let _ = write!(
            h,
            "<div class=\"count c-{0}\"><b>{1}</b>{0}</div>",
            l.name(),
            r.count(l)
        );
    }
    let _ = writeln!(
        h,
        "<div class=\"count c-other\"><b>{}</b>whitelisted destinations</div>\
         <div class=\"count c-other\"><b>{rows}</b>rows read</div>\
         <div class=\"count c-other\"><b>{errors}</b>errors</div></div>",
        r.whitelisted.len()
    );
}

fn charts(r: &Report, h: &mut String) {
    h.push_str("<h2>Charts</h2>\n<div class=\"charts\">\n");
    chart_levels(r, h);
    chart_top(r, h);
    chart_timeline(r, h);
    h.push_str("</div>\n");
}

fn chart_levels(r: &Report, h: &mut String) {
    let counts: Vec<(Level, usize)> = Level::ALL.iter().map(|&l| (l, r.count(l))).collect();
    let max = counts.iter().map(|c| c.1).max().unwrap_or(0).max(1);
    h.push_str(
        "<figure><figcaption>Alerts per level</figcaption>\
         <svg viewBox=\"0 0 320 150\" role=\"img\" aria-label=\"Alerts per level\">",
    );
    for (i, (l, n)) in counts.iter().enumerate() {
        let bh = n * 100 / max;
        let x = 30 + i * 95;
        let _ = write!(
            h,
            "<rect x=\"{x}\" y=\"{}\" width=\"70\" height=\"{bh}\" class=\"f-{}\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{n}</text>\
             <text x=\"{}\" y=\"142\" text-anchor=\"middle\">{}</text>",
            120 - bh,
            l.name(),
            x + 35,
            115 - bh,
            x + 35,
            l.name()
        );
    }
    h.push_str(
        "<line x1=\"20\" y1=\"120\" x2=\"310\" y2=\"120\" stroke=\"#999\"/></svg></figure>\n",
    );
}

/// Merges the timeline into at most [`MAX_TIME_BARS`] bars of equal bucket count.
fn time_bars(timeline: &[(i64, u64)]) -> Vec<(i64, u64)> {
    let per = timeline.len().div_ceil(MAX_TIME_BARS).max(1);
    timeline
        .chunks(per)
        .filter_map(|c| {
            let start = c.first()?.0;
            Some((start, c.iter().fold(0u64, |s, b| s.saturating_add(b.1))))
        })
        .collect()
}

fn chart_timeline(r: &Report, h: &mut String) {
    h.push_str("<figure class=\"wide\"><figcaption>Connections over time</figcaption>");
    let bars = time_bars(&r.timeline);
    if bars.is_empty() {
        h.push_str("<p class=\"muted\">No timed connections.</p></figure>\n");
        return;
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let width = 960usize;
    let step = (width / bars.len()).max(1);
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 {} 150\" role=\"img\" aria-label=\"Connections over time\">",
        width + 20
    );
    for (i, (start, n)) in bars.iter().enumerate() {
        let bh = n.saturating_mul(110) / max;
        let _ = write!(
            h,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{bh}\" class=\"f-low\">\
             <title>{}: {n} connections</title></rect>",
            10 + i * step,
            120 - bh,
            step.saturating_sub(1).max(1),
            esc(&ts(Some(*start as f64)))
        );
    }
    let first = bars.first().map(|b| b.0);
    let last = r.timeline.last().map(|b| b.0);
    let _ = writeln!(
        h,
        "<line x1=\"10\" y1=\"120\" x2=\"{}\" y2=\"120\" stroke=\"#999\"/>\
         <text x=\"10\" y=\"138\">{}</text><text x=\"{}\" y=\"138\" text-anchor=\"end\">{}</text>\
         <text x=\"10\" y=\"12\">max {max}</text></svg></figure>",
        width + 10,
        esc(&ts(first.map(|t| t as f64))),
        width + 10,
        esc(&ts(last.map(|t| t as f64)))
    );
}

fn chart_top(r: &Report, h: &mut String) {
    h.push_str(
        "<figure><figcaption>Top destinations by bytes <span class=\"muted\">(red suspect, \
         blue other, green whitelisted)</span></figcaption>",
    );
    let mut top: Vec<&DestinationSummary> = r.destinations.iter().collect();
    top.sort_by(|a, b| {
        b.bytes
            .cmp(&a.bytes)
            .then_with(|| a.host.as_bytes().cmp(b.host.as_bytes()))
            .then_with(|| a.ip.cmp(&b.ip))
            .then_with(|| a.port.cmp(&b.port))
    });
    top.truncate(TOP_DESTINATIONS);
    if top.is_empty() {
        h.push_str("<p class=\"muted\">No destinations.</p></figure>\n");
        return;
    }
    let max = top.iter().map(|d| d.bytes).max().unwrap_or(0).max(1);
    let _ = write!(
        h,
        "<svg viewBox=\"0 0 420 {}\" role=\"img\" aria-label=\"Top destinations by bytes\">",
        top.len() * 22 + 6
    );
    for (i, d) in top.iter().enumerate() {
        let y = 4 + i * 22;
        let w = d.bytes.saturating_mul(200) / max;
        let mut label: String = d.host.chars().take(28).collect();
        if d.host.chars().nth(28).is_some() {
            label.push('…');
        }
        let colour = match d.status {
            DestinationStatus::Suspect => "f-high",
            DestinationStatus::Other => "f-low",
            DestinationStatus::Whitelisted => "f-clean",
        };
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"180\" y=\"{y}\" width=\"{}\" height=\"16\" \
             class=\"{colour}\"><title>{}</title></rect><text x=\"{}\" y=\"{}\">{}</text>",
            y + 12,
            esc(&label),
            w.max(1),
            esc(&d.host),
            185 + w,
            y + 12,
            esc(&bytes(d.bytes))
        );
    }
    h.push_str("</svg></figure>\n");
}

fn alerts(r: &Report, h: &mut String) {
    h.push_str("<h2>Alerts</h2>\n");
    if r.alerts.is_empty() {
        h.push_str("<p>No alerts.</p>\n");
    }
    for l in Level::ALL {
        let group: Vec<&Alert> = r.alerts.iter().filter(|a| a.level == l).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            h,
            "<h3 id=\"level-{0}\">{1} ({2})</h3>",
            l.name(),
            l.name().to_uppercase(),
            group.len()
        );
        for a in group {
            alert(a, h);
        }
    }
}

fn list(items: impl Iterator<Item = String>, h: &mut String) {
    h.push_str("<ul class=\"plain\">");
    for i in items {
        let _ = write!(h, "<li>{i}</li>");
    }
    h.push_str("</ul>");
}

fn alert(a: &Alert, h: &mut String) {
    let e = &a.evidence;
    let _ = write!(
        h,
        "<article class=\"alert a-{}\"><h4><span class=\"rid\">{}</span><span class=\"mono\">{}\
         </span> · {}</h4><p>{}</p><dl>",
        a.level.name(),
        esc(a.id),
        esc(&a.host),
        esc(a.title),
        esc(&a.description)
    );
    if !e.server_ips.is_empty() {
        let ips: Vec<String> = e.server_ips.iter().map(|i| i.to_string()).collect();
        let _ = write!(
            h,
            "<dt>Servers</dt><dd class=\"mono\">{}</dd>",
            esc(&ips.join(", "))
        );
    }
    if !e.server_ports.is_empty() {
        let ports: Vec<String> = e.server_ports.iter().map(|p| p.to_string()).collect();
        let _ = write!(
            h,
            "<dt>Ports</dt><dd class=\"mono\">{}</dd>",
            ports.join(", ")
        );
    }
    if !e.indicators.is_empty() {
        h.push_str(
            "<dt>Indicators</dt><dd><table><tr><th>type</th><th>value</th><th>matched</th>\
             <th>tags</th><th>sources</th></tr>",
        );
        for i in &e.indicators {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td>{}</td>\
                 <td class=\"mono\">{}</td></tr>",
                esc(&i.kind),
                esc(&i.value),
                esc(&i.matched),
                esc(&i.tags.join(", ")),
                i.sources
                    .iter()
                    .map(|s| esc(s))
                    .collect::<Vec<_>>()
                    .join("<br>")
            );
        }
        h.push_str("</table></dd>");
    }
    if !e.names.is_empty() {
        h.push_str("<dt>Names</dt><dd>");
        list(
            e.names.iter().map(|(n, s)| {
                let s: Vec<&str> = s.iter().map(String::as_str).collect();
                format!(
                    "<span class=\"mono\">{}</span> <span class=\"muted\">({})</span>",
                    esc(n),
                    esc(&s.join(", "))
                )
            }),
            h,
        );
        h.push_str("</dd>");
    }
    if !e.details.is_empty() {
        h.push_str("<dt>Details</dt><dd>");
        list(e.details.iter().map(|d| esc(d)), h);
        h.push_str("</dd>");
    }
    if e.first_ts.is_some() || e.last_ts.is_some() {
        let _ = write!(
            h,
            "<dt>Seen</dt><dd>{} – {}</dd>",
            esc(&ts(e.first_ts)),
            esc(&ts(e.last_ts))
        );
    }
    if !e.counts.is_empty() {
        let c: Vec<String> = e
            .counts
            .iter()
            .map(|(k, v)| format!("{}: {v}", k.replace('_', " ")))
            .collect();
        let _ = write!(h, "<dt>Records</dt><dd>{}</dd>", esc(&c.join(", ")));
    }
    if let Some((_, o)) = &e.first {
        let uid = o
            .uid
            .as_deref()
            .map(|u| format!(" (uid {})", esc(u)))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<dt>First record</dt><dd class=\"mono\">{}{uid}</dd>",
            esc(&o.location.to_string())
        );
    }
    h.push_str("</dl></article>\n");
}

fn communications(r: &Report, h: &mut String) {
    h.push_str("<h2>Communications</h2>\n");
    for (status, title) in [
        (DestinationStatus::Suspect, "Suspect communications"),
        (DestinationStatus::Other, "Other communications"),
        (DestinationStatus::Whitelisted, "Whitelisted communications"),
    ] {
        let rows: Vec<&DestinationSummary> = r
            .destinations
            .iter()
            .filter(|d| d.status == status)
            .collect();
        let _ = writeln!(h, "<h3>{title} ({})</h3>", rows.len());
        let entries_follow = status == DestinationStatus::Whitelisted && !r.whitelisted.is_empty();
        if rows.is_empty() && !entries_follow {
            h.push_str("<p class=\"muted\">None.</p>\n");
        } else if !rows.is_empty() {
            h.push_str(
                "<table><tr><th>protocol</th><th>name</th><th>IP</th><th>port</th>\
                 <th>first seen</th><th>last seen</th><th>connections</th><th>bytes</th></tr>\n",
            );
            for d in rows.iter().take(MAX_TABLE_ROWS) {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono nw\">{}</td>\
                     <td class=\"n\">{}</td><td class=\"nw\">{}</td><td class=\"nw\">{}</td>\
                     <td class=\"n\">{}</td><td class=\"n nw\" title=\"{} bytes\">{}</td></tr>",
                    esc(&d.proto),
                    esc(&d.host),
                    d.ip.map(|i| esc(&i.to_string())).unwrap_or_default(),
                    d.port.map(|p| p.to_string()).unwrap_or_default(),
                    esc(&ts(d.first_ts)),
                    esc(&ts(d.last_ts)),
                    d.connections,
                    d.bytes,
                    esc(&bytes(d.bytes))
                );
            }
            h.push_str("</table>\n");
            if rows.len() > MAX_TABLE_ROWS {
                let _ = writeln!(
                    h,
                    "<p class=\"muted\">{} more not shown; the JSON report lists them all.</p>",
                    rows.len() - MAX_TABLE_ROWS
                );
            }
        }
        if status == DestinationStatus::Whitelisted && !r.whitelisted.is_empty() {
            h.push_str(
                "<table><tr><th>name</th><th>IP</th><th>whitelist entry</th><th>read from</th>\
                 <th>hidden</th></tr>\n",
            );
            for w in &r.whitelisted {
                let _ = writeln!(
                    h,
                    "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td>\
                     <td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(&w.host),
                    w.ip.map(|i| esc(&i.to_string())).unwrap_or_default(),
                    esc(&w.entry),
                    esc(&w.entry_source),
                    w.connections
                );
            }
            h.push_str("</table>\n");
        }
    }
}

fn inputs(r: &Report, h: &mut String) {
    let _ = writeln!(h, "<h2>Inputs ({})</h2>", r.inputs.len());
    if r.inputs.is_empty() {
        h.push_str("<p class=\"muted\">None.</p>\n");
        return;
    }
    h.push_str(
        "<table><tr><th>path</th><th>log type</th><th>format</th><th>rows</th><th>errors</th>\
         </tr>\n",
    );
    for i in &r.inputs {
        let _ = writeln!(
            h,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td>{}{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td></tr>",
            esc(&i.path),
            esc(&i.log_type),
            esc(&i.format),
            if i.compressed { " (gzip)" } else { "" },
            i.rows,
            i.errors
        );
    }
    h.push_str("</table>\n");
}

fn intel(r: &Report, h: &mut String) {
    let i = &r.intel;
    h.push_str("<h2>Intel</h2>\n");
    let per_type: Vec<String> = i
        .per_type
        .iter()
        .map(|(k, v)| format!("{v} {}", esc(k)))
        .collect();
    let _ = writeln!(
        h,
        "<p>Indicators: {}. Whitelist entries: {}. Snort rules accepted, not evaluated: {}.</p>",
        if per_type.is_empty() {
            "none".to_string()
        } else {
            per_type.join(", ")
        },
        i.whitelist_entries,
        i.snort_rules
    );
    if !i.per_source.is_empty() {
        h.push_str("<table><tr><th>source</th><th>type</th><th>entries</th></tr>\n");
        for ((source, kind), n) in &i.per_source {
            let _ = writeln!(
                h,
                "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"n\">{n}</td></tr>",
                esc(source),
                esc(kind)
            );
        }
        h.push_str("</table>\n");
    }
    if !r.active_sources.is_empty() {
        h.push_str("<p>Sources of the active rules:</p>");
        list(r.active_sources.iter().map(|s| esc(s)), h);
        h.push('\n');
    }
    let invalid: Vec<&String> = i.invalid.iter().chain(&i.whitelist_invalid).collect();
    if !invalid.is_empty() {
        let _ = write!(h, "<h3>Invalid entries skipped ({})</h3>", invalid.len());
        list(invalid.iter().map(|s| esc(s)), h);
        h.push('\n');
    }
}

fn problems(r: &Report, h: &mut String) {
    if r.unreadable.is_empty() && r.limitations.is_empty() && r.diagnostics.is_empty() {
        return;
    }
    h.push_str("<h2>Problems and limitations</h2>\n");
    if !r.unreadable.is_empty() {
        h.push_str("<h3>Inputs that could not be read</h3>");
        list(r.unreadable.iter().map(|s| esc(s)), h);
        h.push('\n');
    }
    if !r.limitations.is_empty() {
        h.push_str("<h3>Limitations</h3>");
        list(r.limitations.iter().map(|s| esc(s)), h);
        h.push('\n');
    }
    if !r.diagnostics.is_empty() {
        let cap = super::json::DIAGNOSTICS_CAP;
        let _ = write!(h, "<h3>Diagnostics ({})</h3>", r.diagnostics.len());
        list(
            r.diagnostics
                .iter()
                .take(cap)
                .map(|d| format!("<span class=\"mono\">{}</span>", esc(&d.to_string()))),
            h,
        );
        if r.diagnostics.len() > cap {
            let _ = write!(
                h,
                "<p class=\"muted\">{} more not shown.</p>",
                r.diagnostics.len() - cap
            );
        }
        h.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sample;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        write(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_every_special_character() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>\u{1b}"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\\x1b"
        );
    }

    #[test]
    fn the_page_is_self_contained_and_hostile_names_are_text() {
        let page = render(&sample::report());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.ends_with("</html>\n"));
        let lower = page.to_lowercase();
        for banned in [
            "<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import",
        ] {
            assert!(!lower.contains(banned), "{banned} in page");
        }
        assert!(page.contains(
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;\\x1b[31m\\u{202e}.evil.org"
        ));
        assert!(!page.contains('\u{1b}'));
        assert!(page.contains("Verdict: HIGH risk"));
        assert!(page.contains("class=\"verdict v-high\""));
        assert!(page.contains("<strong>Incomplete:</strong>"));
    }

    #[test]
    fn shows_alerts_by_level_with_evidence_and_communications() {
        let page = render(&sample::report());
        let high = page.find("id=\"level-high\"").unwrap();
        let moderate = page.find("id=\"level-moderate\"").unwrap();
        let low = page.find("id=\"level-low\"").unwrap();
        assert!(high < moderate && moderate < low);
        assert!(page.contains("iocs/a.json:3<br>iocs/b.json:7"));
        assert!(page.contains("(uid CHhAvVGS1DHFjwGM9)"));
        assert!(page.contains("2009-11-18T09:14:10.500Z – 2009-11-18T09:15:00Z"));
        assert!(page.contains("Suspect communications (1)"));
        assert!(page.contains("Other communications (1)"));
        assert!(page.contains("Whitelisted communications (1)"));
        assert!(page.contains("whitelists/default.json:4"));
        assert!(page.contains("123.5 kB"));
        assert_eq!(page.matches("<figure").count(), 3);
        assert_eq!(page.matches("<svg ").count(), 3);
        assert!(page.contains("Diagnostics (105)"));
        assert!(page.contains("5 more not shown."));
    }

    #[test]
    fn copes_with_an_empty_report_and_is_deterministic() {
        let page = render(&Report::default());
        assert!(page.contains("Verdict: No alert"));
        assert!(page.contains("No timed connections."));
        assert!(page.contains("No destinations."));
        assert_eq!(render(&sample::report()), render(&sample::report()));
    }

    #[test]
    fn long_timelines_are_merged_into_a_bounded_number_of_bars() {
        let timeline: Vec<(i64, u64)> = (0..1000).map(|i| (i * 60, 1)).collect();
        let bars = time_bars(&timeline);
        assert!(bars.len() <= MAX_TIME_BARS);
        assert_eq!(bars.iter().map(|b| b.1).sum::<u64>(), 1000);
        assert_eq!(bars.first().map(|b| b.0), Some(0));
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(bytes(u64::MAX), "18446.7 PB");
    }
}
