//! STIX 2.1 bundles (`{"type": "bundle", "objects": [...]}`, a list of objects, or one object):
//! the `indicator` objects whose `pattern` (STIX patterning) is a comparison, or an OR of
//! comparisons, on a supported path. Other objects are ignored; other patterns are counted as
//! unsupported.
//!
//! Supported comparisons (`=` only, string literal with `\'` and `\\` escapes):
//! `ipv4-addr:value` and `ipv6-addr:value` (address or CIDR), `domain-name:value`, `url:value`
//! (its host), `x509-certificate:hashes.'SHA-1'` and `x509-certificate:hashes.'SHA-256'`.
//! Accepted shapes: `[a = 'x' OR b = 'y']` and `[a = 'x'] OR [b = 'y']`. Anything else (AND,
//! other operators, qualifiers such as `WITHIN`, other object paths) makes the whole pattern
//! unsupported, since loading part of it would change its meaning. The parser is bounded
//! (pattern length and comparison count). `labels` equal to a known tag become tags; the
//! standard TLP marking definitions give the TLP. Lines come from each object's byte offset.

use super::misp::KNOWN_TAGS;
use super::plain::{classify, url_host};
use super::text::{LineIndex, raw_line, read_text};
use super::{IntelBuilder, IocType, TypeSpec, source_name};
use crate::model::Location;
use anyhow::Context;
use serde_json::Value;
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

const MAX_PATTERN: usize = 64 * 1024;
const MAX_COMPARISONS: usize = 4096;

/// Loads a STIX 2.1 bundle into `b`.
pub fn load(path: &Path, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_reader(source_name(path), BufReader::new(f), b)
}

/// Reads a STIX 2.1 bundle from `r`; `source` names it in locations.
pub fn parse_reader(source: Arc<str>, r: impl Read, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    let top: &RawValue = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{source}:{}:{}: not JSON: {e}", e.line(), e.column()))?;
    let lines = LineIndex::new(&text);
    let objects: Vec<&RawValue> = if top.get().trim_start().starts_with('[') {
        serde_json::from_str(top.get()).unwrap_or_default()
    } else {
        #[derive(serde::Deserialize)]
        struct Bundle<'a> {
            #[serde(borrow)]
            objects: Option<Vec<&'a RawValue>>,
        }
        match serde_json::from_str::<Bundle<'_>>(top.get()) {
            Ok(Bundle { objects: Some(o) }) => o,
            _ => vec![top],
        }
    };
    for raw in objects {
        let loc = Location::line(&source, raw_line(&text, &lines, raw));
        let Ok(Value::Object(m)) = serde_json::from_str::<Value>(raw.get()) else {
            b.invalid(loc, "STIX object is not a JSON object");
            continue;
        };
        if m.get("type").and_then(Value::as_str) != Some("indicator") {
            continue;
        }
        if let Some(pt) = m.get("pattern_type").and_then(Value::as_str)
            && pt != "stix"
        {
            b.unsupported(&source, &format!("STIX pattern_type {pt}"));
            continue;
        }
        let Some(pattern) = m.get("pattern").and_then(Value::as_str) else {
            b.invalid(loc, "indicator without a pattern");
            continue;
        };
        let comparisons = match parse_pattern(pattern) {
            Some(c) => c,
            None => {
                b.unsupported(&source, "STIX pattern other than an OR of = comparisons");
                continue;
            }
        };
        let mut tags: Vec<String> = m
            .get("labels")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_lowercase)
                    .filter(|t| KNOWN_TAGS.contains(&t.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        tags.sort();
        tags.dedup();
        let tlp = m
            .get("object_marking_refs")
            .and_then(Value::as_array)
            .and_then(|refs| refs.iter().filter_map(Value::as_str).find_map(tlp_of));
        for (path, value) in comparisons {
            let typed = match path {
                Path2::Ip => match crate::names::parse_addr(&value) {
                    Some(ip) if ip.is_ipv4() => Ok((IocType::Ip4addr, value)),
                    Some(_) => Ok((IocType::Ip6addr, value)),
                    None => Ok((IocType::Cidr, value)),
                },
                Path2::Domain => Ok((IocType::Domain, value)),
                Path2::Url => match classify(url_host(&value)) {
                    Ok((k @ (IocType::Ip4addr | IocType::Ip6addr | IocType::Domain), h)) => {
                        Ok((k, h))
                    }
                    _ => Err(format!("no host in url {value:?}")),
                },
                Path2::Sha1 => Ok((IocType::Sha1cert, value)),
                Path2::Sha256 => Ok((IocType::Sha256cert, value)),
            };
            match typed {
                Ok((k, v)) => {
                    if tags.is_empty() {
                        b.add(TypeSpec::Known(k), &v, None, tlp, loc.clone());
                    }
                    for t in &tags {
                        b.add(TypeSpec::Known(k), &v, Some(t), tlp, loc.clone());
                    }
                }
                Err(msg) => b.invalid(loc.clone(), msg),
            }
        }
    }
    Ok(())
}

fn tlp_of(marking: &str) -> Option<&'static str> {
    match marking {
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9" => Some("white"),
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da" => Some("green"),
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82" => Some("amber"),
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed" => Some("red"),
        _ => None,
    }
}

/// The object paths captriage loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path2 {
    Ip,
    Domain,
    Url,
    Sha1,
    Sha256,
}

#[derive(Debug, PartialEq)]
enum Tok {
    Open,
    Close,
    Eq,
    Or,
    Str(String),
    Word(String),
}

fn tokens(p: &str) -> Option<Vec<Tok>> {
    let mut out = Vec::new();
    let mut it = p.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '[' => {
                it.next();
                out.push(Tok::Open);
            }
            ']' => {
                it.next();
                out.push(Tok::Close);
            }
            '=' => {
                it.next();
                out.push(Tok::Eq);
            }
            '\'' => {
                it.next();
                let mut s = String::new();
                loop {
                    match it.next()?.1 {
                        '\\' => s.push(it.next()?.1),
                        '\'' => break,
                        ch => s.push(ch),
                    }
                }
                out.push(Tok::Str(s));
            }
            _ => {
                // A word: an object path (with quoted hash names inside) or a keyword.
                let mut end = i;
                let mut quoted = false;
                for (j, ch) in p.get(i..)?.char_indices() {
                    if ch == '\'' && j > 0 && p.get(i..i + j)?.ends_with('.') {
                        quoted = true;
                    } else if ch == '\'' && quoted {
                        quoted = false;
                    } else if !quoted && (ch.is_whitespace() || "[]=!<>()".contains(ch)) {
                        break;
                    }
                    end = i + j + ch.len_utf8();
                }
                if end == i {
                    return None;
                }
                while it.peek().is_some_and(|&(j, _)| j < end) {
                    it.next();
                }
                let w = p.get(i..end)?;
                out.push(if w == "OR" {
                    Tok::Or
                } else {
                    Tok::Word(w.to_string())
                });
            }
        }
        if out.len() > 4 * MAX_COMPARISONS {
            return None;
        }
    }
    Some(out)
}

fn path_of(w: &str) -> Option<Path2> {
    let norm: String = w.chars().filter(|c| *c != '"' && *c != '\'').collect();
    match norm.as_str() {
        "ipv4-addr:value" | "ipv6-addr:value" => Some(Path2::Ip),
        "domain-name:value" => Some(Path2::Domain),
        "url:value" => Some(Path2::Url),
        "x509-certificate:hashes.SHA-1" | "x509-certificate:hashes.SHA1" => Some(Path2::Sha1),
        "x509-certificate:hashes.SHA-256" | "x509-certificate:hashes.SHA256" => Some(Path2::Sha256),
        _ => None,
    }
}

/// The comparisons of a supported pattern, or `None` when the pattern is outside the subset.
fn parse_pattern(p: &str) -> Option<Vec<(Path2, String)>> {
    if p.len() > MAX_PATTERN {
        return None;
    }
    let toks = tokens(p)?;
    let mut out = Vec::new();
    let mut i = 0;
    let mut inside = false;
    let mut want_operand = true;
    while let Some(t) = toks.get(i) {
        match (t, inside, want_operand) {
            (Tok::Open, false, true) => inside = true,
            (Tok::Close, true, false) => inside = false,
            (Tok::Or, _, false) => want_operand = true,
            (Tok::Word(w), true, true) => {
                let path = path_of(w)?;
                let (Some(Tok::Eq), Some(Tok::Str(v))) = (toks.get(i + 1), toks.get(i + 2)) else {
                    return None;
                };
                out.push((path, v.clone()));
                if out.len() > MAX_COMPARISONS {
                    return None;
                }
                i += 2;
                want_operand = false;
            }
            _ => return None,
        }
        i += 1;
    }
    (!inside && !want_operand && !out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_subset() {
        assert_eq!(
            parse_pattern("[domain-name:value = 'evil.example' OR ipv4-addr:value = '1.2.3.4']"),
            Some(vec![
                (Path2::Domain, "evil.example".into()),
                (Path2::Ip, "1.2.3.4".into())
            ])
        );
        assert_eq!(
            parse_pattern(
                "[x509-certificate:hashes.'SHA-256' = 'ab'] OR [url:value = 'http://x.example/it\\'s']"
            ),
            Some(vec![
                (Path2::Sha256, "ab".into()),
                (Path2::Url, "http://x.example/it's".into())
            ])
        );
        for bad in [
            "[domain-name:value = 'a.example' AND ipv4-addr:value = '1.2.3.4']",
            "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
            "[ipv4-addr:value != '1.2.3.4']",
            "[domain-name:value = 'a.example'] WITHIN 5 SECONDS",
            "[domain-name:value = 'a.example'",
            "[domain-name:value = 'unterminated]",
            "",
        ] {
            assert_eq!(parse_pattern(bad), None, "{bad}");
        }
    }

    #[test]
    fn bundle_indicators() {
        let text = r#"{"type": "bundle", "id": "bundle--1", "objects": [
  {"type": "identity", "id": "identity--1", "name": "x"},
  {"type": "indicator", "id": "indicator--1", "pattern_type": "stix",
   "labels": ["Stalkerware", "other"],
   "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
   "pattern": "[domain-name:value = 'evil.example' OR ipv4-addr:value = '198.51.100.0/24']"},
  {"type": "indicator", "id": "indicator--2", "pattern_type": "stix",
   "pattern": "[file:hashes.'SHA-256' = 'aa']"},
  {"type": "indicator", "id": "indicator--3", "pattern_type": "stix",
   "pattern": "[domain-name:value = 'not a domain']"}
]}"#;
        let mut b = IntelBuilder::new();
        parse_reader(Arc::from("s.json"), text.as_bytes(), &mut b).unwrap();
        let diags: Vec<String> = b.rejected().iter().map(|d| d.to_string()).collect();
        assert_eq!(diags, vec!["s.json:9: invalid domain \"not a domain\""]);
        let intel = b.build();
        let d = intel.domains("evil.example");
        assert_eq!(d[0].tags(), vec!["stalkerware"]);
        assert_eq!(d[0].provenance[0].tlp.as_deref(), Some("green"));
        assert_eq!(d[0].provenance[0].location.to_string(), "s.json:3");
        assert_eq!(intel.networks("198.51.100.9".parse().unwrap()).len(), 1);
        assert_eq!(intel.stats().unsupported.values().sum::<u64>(), 1);
    }
}
