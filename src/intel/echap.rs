//! The Echap stalkerware indicators' `ioc.yaml` (and `watchware.yaml`): a YAML list of apps,
//! each with `name`, `type`, `packages`, `certificates`, `websites` and `c2: {ips, domains}`.
//!
//! Loaded, tagged with the app's `type` (`stalkerware`, `watchware`): `c2.ips` (ip4addr/ip6addr),
//! `c2.domains` (domain) and `distribution` (the download hosts, as upstream's own generated
//! feeds include them; an entry that is a URL is reported and skipped rather than reduced to its
//! host, which is a code-hosting site). The `certificates` are SHA-1 fingerprints of APK signing
//! certificates, not TLS certificates: they are counted as unsupported, never loaded as
//! sha1cert. `websites` are the vendors' own sites and are not loaded.
//!
//! serde_norway parses the YAML; it reports no positions for values, so each indicator's line is
//! found by scanning the app's block (from one top-level `- ` item to the next) for the
//! `c2:` key and then for the value's list item, in document order. When that scan fails (odd
//! quoting or layout) the app's first line is used.

use super::text::{LineIndex, read_text};
use super::{IntelBuilder, IocType, TypeSpec, source_name};
use crate::model::Location;
use anyhow::Context;
use serde_norway::Value;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Loads an Echap `ioc.yaml` into `b`.
pub fn load(path: &Path, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_reader(source_name(path), BufReader::new(f), b)
}

/// True when `text` looks like an Echap app list (used to detect the format).
pub fn looks_like(text: &str) -> bool {
    text.lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("- name:"))
}

/// Reads an Echap app list from `r`; `source` names it in locations.
pub fn parse_reader(source: Arc<str>, r: impl Read, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    let doc: Value = serde_norway::from_str(&text).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!("{source}:{}:{}: not YAML: {e}", l.line(), l.column()),
        None => anyhow::anyhow!("{source}: not YAML: {e}"),
    })?;
    let Value::Sequence(apps) = doc else {
        b.invalid(Location::line(&source, 1), "expected a list of apps");
        return Ok(());
    };
    let lines = LineIndex::new(&text);
    let starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1))
        .filter(|&o| text.get(o..).is_some_and(|r| r.starts_with("- ")))
        .collect();
    let blocks_known = starts.len() == apps.len();
    for (i, app) in apps.iter().enumerate() {
        let (from, to) = if blocks_known {
            let from = starts.get(i).copied().unwrap_or(0);
            (from, starts.get(i + 1).copied().unwrap_or(text.len()))
        } else {
            (0, 0)
        };
        let block = text.get(from..to).unwrap_or("");
        let app_line = if blocks_known { lines.line(from) } else { 1 };
        let Value::Mapping(m) = app else {
            b.invalid(
                Location::line(&source, app_line),
                format!("app {i} is not a mapping"),
            );
            continue;
        };
        let tag = m
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("stalkerware");
        if let Some(Value::Sequence(certs)) = m.get("certificates") {
            for _ in certs {
                b.unsupported(&source, "APK signing certificate (not a TLS certificate)");
            }
        }
        let mut lists: Vec<(&str, &Value, usize)> = Vec::new();
        if let Some(d) = m.get("distribution") {
            let at = block.find("\n  distribution:").map(|o| o + 1).unwrap_or(0);
            lists.push(("distribution", d, at));
        }
        if let Some(c2) = m.get("c2") {
            let at = block.find("\n  c2:").map(|o| o + 1).unwrap_or(0);
            for key in ["ips", "domains"] {
                if let Some(list) = c2.get(key) {
                    let at = block
                        .get(at..)
                        .and_then(|r| r.find(&format!("{key}:")))
                        .map_or(at, |o| at + o);
                    lists.push((key, list, at));
                }
            }
        }
        for (key, list, start) in lists {
            let Value::Sequence(items) = list else {
                b.invalid(
                    Location::line(&source, app_line),
                    format!("{key} of app {i} is not a list"),
                );
                continue;
            };
            let mut cursor = start;
            for item in items {
                let Some(value) = item.as_str() else {
                    b.invalid(
                        Location::line(&source, app_line),
                        format!("{key} of app {i}: an entry is not text"),
                    );
                    continue;
                };
                let line = match block
                    .get(cursor..)
                    .and_then(|r| r.find(&format!("- {value}")))
                {
                    Some(o) => {
                        cursor += o;
                        lines.line(from + cursor)
                    }
                    None => app_line,
                };
                let loc = Location::line(&source, line);
                let kind = match crate::names::parse_addr(value) {
                    Some(ip) if ip.is_ipv6() => IocType::Ip6addr,
                    Some(_) => IocType::Ip4addr,
                    None if key == "ips" => IocType::Ip4addr,
                    None if key == "distribution" && value.contains('/') => {
                        b.invalid(
                            loc,
                            format!("distribution URL {value:?} is not a host; skipped"),
                        );
                        continue;
                    }
                    None => IocType::Domain,
                };
                b.add(TypeSpec::Known(kind), value, Some(tag), None, loc);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c2_only_with_lines() {
        let text = "- name: A\n  type: stalkerware\n  certificates:\n  - 31A6ECECD97CF39BC4126B8745CD94A7C30BF81C\n  websites:\n  - a.example\n  c2:\n    ips:\n    - 69.64.74.239\n    - 300.1.1.1\n    domains:\n    - a.example\n- name: B\n  type: watchware\n  c2:\n    domains:\n    - b.example\n";
        assert!(looks_like(text));
        let mut b = IntelBuilder::new();
        parse_reader(Arc::from("ioc.yaml"), text.as_bytes(), &mut b).unwrap();
        let diags: Vec<String> = b.rejected().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            diags,
            vec!["ioc.yaml:10: invalid IPv4 address \"300.1.1.1\""]
        );
        let intel = b.build();
        let a = intel.domains("a.example");
        assert_eq!(a[0].provenance[0].location.to_string(), "ioc.yaml:12");
        assert_eq!(intel.domains("b.example")[0].tags(), vec!["watchware"]);
        assert_eq!(
            intel.addr("69.64.74.239".parse().unwrap())[0].provenance[0]
                .location
                .to_string(),
            "ioc.yaml:9"
        );
        assert!(
            intel
                .cert("31a6ececd97cf39bc4126b8745cd94a7c30bf81c")
                .is_empty()
        );
        assert_eq!(intel.stats().unsupported.values().sum::<u64>(), 1);
    }
}
