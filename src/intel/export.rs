//! `captriage intel stats` and `captriage intel export`: writers over a built [`Intel`], generic
//! over `io::Write`, deterministic (indicators sorted by type and value, tags sorted).
//!
//! Export forms:
//! - `zeek`: a Zeek Intel framework file (`#fields indicator indicator_type meta.source
//!   meta.desc`), one row per (indicator, tag), `meta.source` = the tag (`captriage` when it has
//!   none), `meta.desc` = the source files and lines. ip4addr/ip6addr -> `Intel::ADDR`, cidr ->
//!   `Intel::SUBNET`, domain -> `Intel::DOMAIN` (Zeek matches it exactly, without subdomains),
//!   sha1cert/sha256cert -> `Intel::CERT_HASH`. freedns, tld, ns and snort have no Zeek
//!   equivalent and are skipped (counted in the returned [`ExportSummary`]). It reads back
//!   through [`super::zeek`] to the same indicators.
//! - `json`: TinyCheck IOC JSON, one entry per (indicator, tag) and line, with a `sources` list.
//! - `csv`: `type,value,tags,tlp,sources`, one row per indicator, tags joined with `;`.

use super::{Indicator, Intel, IocType};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

/// The export forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Zeek,
    Json,
    Csv,
}

impl ExportFormat {
    /// Every form.
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Zeek, ExportFormat::Json, ExportFormat::Csv];

    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Zeek => "zeek",
            ExportFormat::Json => "json",
            ExportFormat::Csv => "csv",
        }
    }

    /// Parses a form name (case-insensitive).
    pub fn from_name(s: &str) -> Option<ExportFormat> {
        ExportFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an export wrote and left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Indicators written.
    pub written: u64,
    /// Indicators of types the form cannot express, per type.
    pub skipped: BTreeMap<IocType, u64>,
}

fn zeek_type(kind: IocType) -> Option<&'static str> {
    match kind {
        IocType::Ip4addr | IocType::Ip6addr => Some("Intel::ADDR"),
        IocType::Cidr => Some("Intel::SUBNET"),
        IocType::Domain => Some("Intel::DOMAIN"),
        IocType::Sha1cert | IocType::Sha256cert => Some("Intel::CERT_HASH"),
        IocType::Freedns | IocType::Tld | IocType::Ns | IocType::Snort => None,
    }
}

/// Zeek fields cannot hold tabs or newlines.
fn zeek_field(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if t.is_empty() { "-".into() } else { t }
}

fn sources(ind: &Indicator, tag: Option<&str>) -> Vec<String> {
    let mut s: Vec<String> = ind
        .provenance
        .iter()
        .filter(|p| tag.is_none_or(|t| p.tag == t))
        .map(|p| p.location.to_string())
        .collect();
    s.dedup();
    s
}

fn tlp(ind: &Indicator, tag: &str) -> Option<String> {
    ind.provenance
        .iter()
        .filter(|p| p.tag == tag)
        .find_map(|p| p.tlp.clone())
}

/// Writes the merged indicator set in `format`.
pub fn export(
    intel: &Intel,
    format: ExportFormat,
    out: &mut dyn Write,
) -> anyhow::Result<ExportSummary> {
    let mut sum = ExportSummary::default();
    match format {
        ExportFormat::Zeek => {
            writeln!(
                out,
                "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
            )?;
            for ind in intel.indicators() {
                let Some(zt) = zeek_type(ind.kind) else {
                    *sum.skipped.entry(ind.kind).or_default() += 1;
                    continue;
                };
                for tag in ind.tags() {
                    let source = if tag.is_empty() { "captriage" } else { tag };
                    let desc = format!(
                        "captriage {} from {}",
                        ind.kind,
                        sources(ind, Some(tag)).join(" ")
                    );
                    writeln!(
                        out,
                        "{}\t{zt}\t{}\t{}",
                        zeek_field(&ind.value),
                        zeek_field(source),
                        zeek_field(&desc)
                    )?;
                }
                sum.written += 1;
            }
        }
        ExportFormat::Json => {
            writeln!(out, "{{\"iocs\": [")?;
            let mut first = true;
            for ind in intel.indicators() {
                for tag in ind.tags() {
                    let entry = serde_json::json!({
                        "type": ind.kind.name(),
                        "tag": tag,
                        "tlp": tlp(ind, tag),
                        "value": ind.value,
                        "sources": sources(ind, Some(tag)),
                    });
                    if !first {
                        writeln!(out, ",")?;
                    }
                    first = false;
                    write!(out, "{entry}")?;
                }
                sum.written += 1;
            }
            writeln!(out, "\n]}}")?;
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(["type", "value", "tags", "tlp", "sources"])?;
            for ind in intel.indicators() {
                let tags = ind.tags().join(";");
                let tlp = ind
                    .provenance
                    .iter()
                    .find_map(|p| p.tlp.clone())
                    .unwrap_or_default();
                let src = sources(ind, None).join(" ");
                w.write_record([ind.kind.name(), &ind.value, &tags, &tlp, &src])?;
                sum.written += 1;
            }
            w.flush()?;
        }
    }
    Ok(sum)
}

/// Writes counts per type, tag and source, the unsupported entries and every rejected entry.
pub fn stats(intel: &Intel, out: &mut dyn Write) -> io::Result<()> {
    let st = intel.stats();
    writeln!(out, "indicators: {}", intel.indicators().len())?;
    writeln!(out, "\nper type:")?;
    for (kind, n) in &st.per_type {
        writeln!(out, "  {:<12} {n}", kind.name())?;
    }
    let mut per_tag: BTreeMap<&str, u64> = BTreeMap::new();
    for ind in intel.indicators() {
        for t in ind.tags() {
            *per_tag.entry(t).or_default() += 1;
        }
    }
    writeln!(out, "\nper tag (indicators):")?;
    for (tag, n) in &per_tag {
        let tag = if tag.is_empty() { "(none)" } else { tag };
        writeln!(out, "  {tag:<12} {n}")?;
    }
    writeln!(out, "\nper source (entries loaded):")?;
    for ((src, kind), n) in &st.per_source {
        writeln!(out, "  {src}  {:<12} {n}", kind.name())?;
    }
    if !st.unsupported.is_empty() {
        writeln!(out, "\nread but unsupported:")?;
        for ((src, what), n) in &st.unsupported {
            writeln!(out, "  {src}  {what}  {n}")?;
        }
    }
    writeln!(out, "\nremoved by to_delete: {}", st.deleted)?;
    writeln!(out, "snort rules (not evaluated): {}", intel.snort_rules())?;
    writeln!(out, "rejected entries: {}", st.invalid.len())?;
    for d in &st.invalid {
        writeln!(out, "  {d}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::{IntelBuilder, TypeSpec, zeek};
    use crate::model::Location;
    use std::sync::Arc;

    fn sample() -> Intel {
        let src: Arc<str> = Arc::from("a.json");
        let mut b = IntelBuilder::new();
        let mut add = |t, v: &str, tag: Option<&str>, line| {
            b.add(
                TypeSpec::Known(t),
                v,
                tag,
                Some("green"),
                Location::line(&src, line),
            );
        };
        add(IocType::Domain, "evil.example", Some("stalkerware"), 1);
        add(IocType::Domain, "evil.example", Some("tracker"), 2);
        add(IocType::Ip6addr, "2001:db8::1", None, 3);
        add(IocType::Cidr, "10.0.0.0/8", Some("x"), 4);
        add(IocType::Sha1cert, &"a".repeat(40), Some("x"), 5);
        add(IocType::Tld, "xyz", Some("suspect"), 6);
        b.build()
    }

    #[test]
    fn zeek_round_trip() {
        let intel = sample();
        let mut out = Vec::new();
        let sum = export(&intel, ExportFormat::Zeek, &mut out).unwrap();
        assert_eq!(sum.written, 4);
        assert_eq!(sum.skipped.get(&IocType::Tld), Some(&1));
        let mut b = IntelBuilder::new();
        zeek::parse_reader(Arc::from("x.intel"), &out[..], &mut b).unwrap();
        assert!(b.rejected().is_empty());
        let back = b.build();
        let key = |i: &Intel| -> Vec<(IocType, String, Vec<String>)> {
            i.indicators()
                .iter()
                .map(|x| {
                    let tags = x
                        .tags()
                        .iter()
                        .map(|t| if t.is_empty() { "captriage" } else { t }.to_string())
                        .collect();
                    (x.kind, x.value.clone(), tags)
                })
                .filter(|k| zeek_type(k.0).is_some())
                .collect()
        };
        assert_eq!(key(&back), key(&intel));
    }

    #[test]
    fn json_and_csv_read_back() {
        let intel = sample();
        for (fmt, reader) in [
            (
                ExportFormat::Json,
                crate::intel::formats::IocFormat::Tinycheck,
            ),
            (ExportFormat::Csv, crate::intel::formats::IocFormat::Csv),
        ] {
            let mut out = Vec::new();
            export(&intel, fmt, &mut out).unwrap();
            let text = String::from_utf8(out).unwrap();
            assert_eq!(crate::intel::formats::detect(&text), reader, "{text}");
            let mut b = IntelBuilder::new();
            crate::intel::formats::parse_any(Arc::from("e"), text.as_bytes(), None, &mut b)
                .unwrap();
            assert!(b.rejected().is_empty(), "{:?}", b.rejected());
            let back = b.build();
            let key = |i: &Intel| -> Vec<(IocType, String, Vec<String>)> {
                i.indicators()
                    .iter()
                    .map(|x| {
                        (
                            x.kind,
                            x.value.clone(),
                            x.tags().iter().map(|t| t.to_string()).collect(),
                        )
                    })
                    .collect()
            };
            assert_eq!(key(&back), key(&intel), "{fmt}");
        }
    }

    #[test]
    fn stats_lists_everything() {
        let intel = sample();
        let mut out = Vec::new();
        stats(&intel, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("indicators: 5\n"), "{text}");
        assert!(text.contains("  a.json  domain       2\n"), "{text}");
        assert!(text.contains("  tracker      1\n"), "{text}");
    }
}
