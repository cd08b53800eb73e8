//! Zeek Intel framework files: TSV with a `#fields indicator indicator_type meta.source ...`
//! header (Zeek's input framework format), read by column name.
//!
//! Mapping onto captriage's types (RULES.md §6):
//! - `Intel::ADDR` -> ip4addr / ip6addr; `Intel::SUBNET` -> cidr;
//! - `Intel::DOMAIN` -> domain. Zeek matches DOMAIN exactly; a captriage domain indicator also
//!   covers every subdomain (§2 `covers`), so captriage alerts on at least what Zeek reports;
//! - `Intel::CERT_HASH` and `Intel::FILE_HASH` -> sha1cert (40 hex) / sha256cert (64 hex),
//!   matched against certificate hashes only (IOC-07); an MD5 FILE_HASH is unsupported;
//! - every other type (`Intel::EMAIL`, `Intel::URL`, `Intel::SOFTWARE`, ...) is read and counted
//!   as unsupported ([`IntelBuilder::unsupported`]).
//!
//! `meta.source` becomes the tag. A row whose `meta.whitelist` is `T` suppresses that indicator
//! (Zeek's whitelist semantics): its value is scheduled for deletion. Bad rows are diagnostics
//! `file:line: reason`; a file with no `#fields` header gets one diagnostic and loads nothing.

use super::text::read_text;
use super::{IntelBuilder, IocType, TypeSpec, source_name};
use crate::model::Location;
use crate::names::parse_addr;
use anyhow::Context;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Loads a Zeek intel file into `b`.
pub fn load(path: &Path, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_reader(source_name(path), BufReader::new(f), b)
}

/// Reads a Zeek intel file from `r`; `source` names it in locations.
pub fn parse_reader(source: Arc<str>, r: impl Read, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    parse_str(&source, &text, b);
    Ok(())
}

struct Columns {
    indicator: usize,
    kind: usize,
    source: Option<usize>,
    whitelist: Option<usize>,
}

/// Reads Zeek intel text held in memory.
pub fn parse_str(source: &Arc<str>, text: &str, b: &mut IntelBuilder) {
    let mut sep = "\t".to_string();
    let mut cols: Option<Columns> = None;
    let mut saw_fields = false;
    for (n, line) in text.lines().enumerate() {
        let lineno = n as u64 + 1;
        let loc = || Location::line(source, lineno);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(rest) = line.strip_prefix("#separator") {
            sep = unescape_separator(rest.trim());
            continue;
        }
        if let Some(rest) = line.strip_prefix("#fields") {
            saw_fields = true;
            let names: Vec<&str> = rest
                .trim_start_matches(|c: char| sep.starts_with(c) || c == ' ')
                .split(sep.as_str())
                .collect();
            let pos = |want: &str| names.iter().position(|f| f.trim() == want);
            cols = match (pos("indicator"), pos("indicator_type")) {
                (Some(indicator), Some(kind)) => Some(Columns {
                    indicator,
                    kind,
                    source: pos("meta.source"),
                    whitelist: pos("meta.whitelist"),
                }),
                _ => {
                    b.invalid(
                        loc(),
                        "#fields lacks indicator or indicator_type; rows skipped",
                    );
                    None
                }
            };
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some(c) = &cols else {
            if !saw_fields {
                saw_fields = true;
                b.invalid(
                    loc(),
                    "no #fields header before the first row; rows skipped",
                );
            }
            continue;
        };
        let fields: Vec<&str> = line.split(sep.as_str()).collect();
        let get = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .map(|s| s.trim())
                .filter(|s| !s.is_empty() && *s != "-")
        };
        let (Some(value), Some(kind)) = (get(Some(c.indicator)), get(Some(c.kind))) else {
            b.invalid(loc(), "missing indicator or indicator_type");
            continue;
        };
        if get(c.whitelist) == Some("T") {
            b.delete(value);
            continue;
        }
        let tag = get(c.source);
        match map_type(kind, value) {
            Mapped::Type(t) => {
                b.add(TypeSpec::Known(t), value, tag, None, loc());
            }
            Mapped::Unsupported(what) => b.unsupported(source, &what),
            Mapped::Invalid(msg) => b.invalid(loc(), msg),
        }
    }
}

enum Mapped {
    Type(IocType),
    Unsupported(String),
    Invalid(String),
}

fn hash_type(kind: &str, value: &str) -> Mapped {
    let hex: String = value.chars().filter(|c| *c != ':').collect();
    match hex.len() {
        40 => Mapped::Type(IocType::Sha1cert),
        64 => Mapped::Type(IocType::Sha256cert),
        32 if hex.bytes().all(|c| c.is_ascii_hexdigit()) => {
            Mapped::Unsupported(format!("{kind} (MD5)"))
        }
        _ => Mapped::Invalid(format!(
            "invalid {kind} {value:?} (want 40 or 64 hex digits)"
        )),
    }
}

fn map_type(kind: &str, value: &str) -> Mapped {
    match kind {
        "Intel::ADDR" => match parse_addr(value) {
            Some(std::net::IpAddr::V4(_)) => Mapped::Type(IocType::Ip4addr),
            Some(std::net::IpAddr::V6(_)) => Mapped::Type(IocType::Ip6addr),
            None => Mapped::Invalid(format!("invalid Intel::ADDR {value:?}")),
        },
        "Intel::SUBNET" => Mapped::Type(IocType::Cidr),
        "Intel::DOMAIN" => Mapped::Type(IocType::Domain),
        "Intel::CERT_HASH" | "Intel::FILE_HASH" => hash_type(kind, value),
        other if other.starts_with("Intel::") => Mapped::Unsupported(other.to_string()),
        other => Mapped::Invalid(format!("unknown indicator_type {other:?}")),
    }
}

/// `#separator \x09` -> a tab; anything unparsable keeps the tab.
fn unescape_separator(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    while !rest.is_empty() {
        if let Some(hex) = rest.strip_prefix("\\x")
            && let Some(h) = hex.get(..2)
            && let Ok(v) = u8::from_str_radix(h, 16)
        {
            out.push(char::from(v));
            rest = hex.get(2..).unwrap_or("");
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    if out.is_empty() { "\t".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_whitelist_and_bad_rows() {
        let text = "#separator \\x09\n#fields\tindicator\tindicator_type\tmeta.source\tmeta.whitelist\n\
            1.2.3.4\tIntel::ADDR\tfeedA\t-\n\
            2001:DB8::1\tIntel::ADDR\tfeedA\t-\n\
            10.0.0.0/8\tIntel::SUBNET\tfeedA\t-\n\
            Evil.example\tIntel::DOMAIN\tfeedB\t-\n\
            a@b.example\tIntel::EMAIL\tfeedB\t-\n\
            d41d8cd98f00b204e9800998ecf8427e\tIntel::FILE_HASH\tx\t-\n\
            not-an-ip\tIntel::ADDR\tfeedA\t-\n\
            x.example\tWHAT\tfeedA\t-\n\
            1.2.3.4\tIntel::ADDR\tfeedW\tT\n\
            only-one-column\n\
            10.0.0.0/33\tIntel::SUBNET\tfeedA\t-\n\
            http://evil.example/x\tIntel::DOMAIN\tfeedA\t-\n";
        let mut b = IntelBuilder::new();
        parse_str(&Arc::from("f.intel"), text, &mut b);
        let diags: Vec<String> = b.rejected().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            diags,
            vec![
                "f.intel:9: invalid Intel::ADDR \"not-an-ip\"",
                "f.intel:10: unknown indicator_type \"WHAT\"",
                "f.intel:12: missing indicator or indicator_type",
                "f.intel:13: invalid CIDR \"10.0.0.0/33\"",
                "f.intel:14: invalid domain \"http://evil.example/x\"",
            ]
        );
        let intel = b.build();
        assert!(intel.addr("1.2.3.4".parse().unwrap()).is_empty());
        assert_eq!(intel.addr("2001:db8::1".parse().unwrap()).len(), 1);
        assert_eq!(intel.networks("10.1.1.1".parse().unwrap()).len(), 1);
        assert_eq!(intel.domains("evil.example")[0].tags(), vec!["feedb"]);
        let u = &intel.stats().unsupported;
        assert_eq!(u.get(&("f.intel".into(), "Intel::EMAIL".into())), Some(&1));
        assert_eq!(
            u.get(&("f.intel".into(), "Intel::FILE_HASH (MD5)".into())),
            Some(&1)
        );
    }

    #[test]
    fn rows_before_fields_are_reported_once() {
        let mut b = IntelBuilder::new();
        parse_str(
            &Arc::from("f"),
            "1.2.3.4\tIntel::ADDR\n5.6.7.8\tIntel::ADDR\n",
            &mut b,
        );
        assert_eq!(b.rejected().len(), 1);
    }
}
