//! MISP event JSON exports: `{"Event": {...}}`, `{"response": [{"Event": ...}]}`, a list of
//! such objects, or a bare event (an object with `Attribute`).
//!
//! Attributes are read from the event and from its objects (`Object[].Attribute`). Types mapped
//! (RULES.md §6): `ip-dst`, `ip-src` (address or CIDR), `domain`, `hostname`, `domain|ip` (both
//! halves), `ip-dst|port` and `ip-src|port` (the address), `x509-fingerprint-sha1`,
//! `x509-fingerprint-sha256`, and `url` (its host). Other attribute types are counted as
//! unsupported; attributes whose `to_ids` is false are skipped and counted. Tags of the event and
//! of the attribute: `tlp:*` gives the TLP, and a tag equal to one of [`KNOWN_TAGS`] becomes an
//! indicator tag (other tags are ignored). Lines come from each attribute's byte offset.

use super::plain::{classify, url_host};
use super::text::{LineIndex, json_kind, raw_line, read_text};
use super::{IntelBuilder, IocType, TypeSpec, source_name};
use crate::model::Location;
use crate::names::parse_addr;
use anyhow::Context;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Tags captriage knows (TinyCheck's tag list plus `watchware`); only `tracker` changes a rule.
pub const KNOWN_TAGS: [&str; 10] = [
    "apt",
    "cybercrime",
    "malicious",
    "pegasus",
    "spyware",
    "stalkerware",
    "suspect",
    "tracker",
    "watchware",
    "malware",
];

/// Loads a MISP export into `b`.
pub fn load(path: &Path, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_reader(source_name(path), BufReader::new(f), b)
}

#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(rename = "Event", borrow)]
    event: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response: Option<Vec<&'a RawValue>>,
    #[serde(rename = "Attribute", borrow, default)]
    attribute: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(rename = "Attribute", borrow, default)]
    attribute: Vec<&'a RawValue>,
    #[serde(rename = "Object", borrow, default)]
    object: Vec<Obj<'a>>,
    #[serde(rename = "Tag", default)]
    tag: Vec<Value>,
}

#[derive(Deserialize)]
struct Obj<'a> {
    #[serde(rename = "Attribute", borrow, default)]
    attribute: Vec<&'a RawValue>,
}

struct Ctx<'t> {
    source: Arc<str>,
    text: &'t str,
    lines: LineIndex,
}

/// Reads a MISP export from `r`; `source` names it in locations.
pub fn parse_reader(source: Arc<str>, r: impl Read, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    let top: &RawValue = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{source}:{}:{}: not JSON: {e}", e.line(), e.column()))?;
    let cx = Ctx {
        source: source.clone(),
        text: &text,
        lines: LineIndex::new(&text),
    };
    let items: Vec<&RawValue> = if top.get().trim_start().starts_with('[') {
        serde_json::from_str(top.get()).unwrap_or_default()
    } else {
        vec![top]
    };
    for item in items {
        wrapper(&cx, item, b);
    }
    Ok(())
}

fn wrapper(cx: &Ctx<'_>, raw: &RawValue, b: &mut IntelBuilder) {
    let line = raw_line(cx.text, &cx.lines, raw);
    let w: Wrapper<'_> = match serde_json::from_str(raw.get()) {
        Ok(w) => w,
        Err(e) => {
            b.invalid(
                Location::line(&cx.source, line),
                format!("not a MISP event: {e}"),
            );
            return;
        }
    };
    if let Some(ev) = w.event {
        event(cx, ev, b);
    } else if let Some(list) = w.response {
        for item in list {
            wrapper(cx, item, b);
        }
    } else if w.attribute.is_some() {
        event(cx, raw, b);
    } else {
        b.invalid(
            Location::line(&cx.source, line),
            "no Event, response or Attribute here",
        );
    }
}

fn tag_names(tags: &[Value]) -> Vec<String> {
    tags.iter()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .map(|s| s.trim().to_lowercase())
        .collect()
}

fn event(cx: &Ctx<'_>, raw: &RawValue, b: &mut IntelBuilder) {
    let line = raw_line(cx.text, &cx.lines, raw);
    let ev: Event<'_> = match serde_json::from_str(raw.get()) {
        Ok(e) => e,
        Err(e) => {
            b.invalid(
                Location::line(&cx.source, line),
                format!("unreadable MISP event: {e}"),
            );
            return;
        }
    };
    let event_tags = tag_names(&ev.tag);
    let attrs = ev
        .attribute
        .iter()
        .chain(ev.object.iter().flat_map(|o| o.attribute.iter()));
    for a in attrs {
        attribute(cx, a, &event_tags, b);
    }
}

fn to_ids(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Bool(x)) => *x,
        Some(Value::String(s)) => !matches!(s.trim(), "0" | "false" | "False"),
        Some(Value::Number(n)) => n.as_u64() != Some(0),
        Some(_) => true,
    }
}

fn attribute(cx: &Ctx<'_>, raw: &RawValue, event_tags: &[String], b: &mut IntelBuilder) {
    let loc = Location::line(&cx.source, raw_line(cx.text, &cx.lines, raw));
    let m = match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(m)) => m,
        Ok(other) => {
            b.invalid(
                loc,
                format!("attribute is {}, not an object", json_kind(&other)),
            );
            return;
        }
        Err(e) => {
            b.invalid(loc, format!("unreadable attribute: {e}"));
            return;
        }
    };
    let (Some(kind), Some(value)) = (
        m.get("type").and_then(Value::as_str),
        m.get("value").and_then(Value::as_str),
    ) else {
        b.invalid(loc, "attribute without text type and value");
        return;
    };
    if !to_ids(m.get("to_ids")) {
        b.unsupported(&cx.source, "MISP attribute with to_ids false (skipped)");
        return;
    }
    let mut tags = event_tags.to_vec();
    if let Some(Value::Array(t)) = m.get("Tag") {
        tags.extend(tag_names(t));
    }
    let tlp = tags
        .iter()
        .find_map(|t| t.strip_prefix("tlp:").map(str::to_string));
    let mut ours: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| KNOWN_TAGS.contains(t))
        .collect();
    ours.sort_unstable();
    ours.dedup();
    let values: Vec<Result<(IocType, String), String>> = match kind {
        "ip-dst" | "ip-src" => vec![address_or_net(value)],
        "ip-dst|port" | "ip-src|port" => {
            vec![address_or_net(value.split('|').next().unwrap_or(""))]
        }
        "domain" | "hostname" => vec![Ok((IocType::Domain, value.to_string()))],
        "domain|ip" => {
            let (d, ip) = value.split_once('|').unwrap_or((value, ""));
            vec![Ok((IocType::Domain, d.to_string())), address_or_net(ip)]
        }
        "x509-fingerprint-sha1" => vec![Ok((IocType::Sha1cert, value.to_string()))],
        "x509-fingerprint-sha256" => vec![Ok((IocType::Sha256cert, value.to_string()))],
        "url" => vec![match classify(url_host(value)) {
            Ok((k @ (IocType::Ip4addr | IocType::Ip6addr | IocType::Domain), h)) => Ok((k, h)),
            _ => Err(format!("no host in url {value:?}")),
        }],
        other => {
            b.unsupported(&cx.source, &format!("MISP attribute type {other}"));
            return;
        }
    };
    for v in values {
        match v {
            Ok((k, v)) => {
                let start = b.rejected().len();
                if ours.is_empty() {
                    b.add(TypeSpec::Known(k), &v, None, tlp.as_deref(), loc.clone());
                }
                for t in &ours {
                    b.add(TypeSpec::Known(k), &v, Some(t), tlp.as_deref(), loc.clone());
                }
                b.annotate_rejected(start, kind);
            }
            Err(msg) => b.invalid(loc.clone(), format!("{kind}: {msg}")),
        }
    }
}

fn address_or_net(v: &str) -> Result<(IocType, String), String> {
    match parse_addr(v) {
        Some(ip) if ip.is_ipv4() => Ok((IocType::Ip4addr, v.to_string())),
        Some(_) => Ok((IocType::Ip6addr, v.to_string())),
        None if v.contains('/') => Ok((IocType::Cidr, v.to_string())),
        None => Err(format!("invalid address {v:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_objects_tags_and_to_ids() {
        let text = r#"{"Event": {
  "info": "x",
  "Tag": [{"name": "tlp:amber"}, {"name": "stalkerware"}],
  "Attribute": [
    {"type": "ip-dst", "value": "198.51.100.7", "to_ids": true},
    {"type": "domain|ip", "value": "evil.example|203.0.113.5", "to_ids": true,
     "Tag": [{"name": "tracker"}]},
    {"type": "ip-dst|port", "value": "192.0.2.1|443", "to_ids": false},
    {"type": "email-src", "value": "a@b.example", "to_ids": true},
    {"type": "domain", "value": "http://not.a.domain/", "to_ids": true}
  ],
  "Object": [{"name": "x509", "Attribute": [
    {"type": "x509-fingerprint-sha1", "value": "31A6ECECD97CF39BC4126B8745CD94A7C30BF81C", "to_ids": true},
    {"type": "url", "value": "https://panel.example:8443/login", "to_ids": "1"}
  ]}]
}}"#;
        let mut b = IntelBuilder::new();
        parse_reader(Arc::from("m.json"), text.as_bytes(), &mut b).unwrap();
        let diags: Vec<String> = b.rejected().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            diags,
            vec!["m.json:10: domain: invalid domain \"http://not.a.domain/\""]
        );
        let intel = b.build();
        let ip = intel.addr("198.51.100.7".parse().unwrap());
        assert_eq!(ip[0].tags(), vec!["stalkerware"]);
        assert_eq!(ip[0].provenance[0].tlp.as_deref(), Some("amber"));
        assert_eq!(ip[0].provenance[0].location.to_string(), "m.json:5");
        assert_eq!(
            intel.domains("evil.example")[0].tags(),
            vec!["stalkerware", "tracker"]
        );
        assert_eq!(intel.addr("203.0.113.5".parse().unwrap()).len(), 1);
        assert!(intel.addr("192.0.2.1".parse().unwrap()).is_empty());
        assert_eq!(
            intel.cert("31a6ececd97cf39bc4126b8745cd94a7c30bf81c").len(),
            1
        );
        assert_eq!(intel.domains("panel.example").len(), 1);
        assert_eq!(intel.stats().unsupported.values().sum::<u64>(), 2);
    }

    #[test]
    fn broken_documents() {
        let mut b = IntelBuilder::new();
        let err = parse_reader(
            Arc::from("m.json"),
            &b"{\"Event\": {\n  \"Attribute\": [,]}}"[..],
            &mut b,
        )
        .unwrap_err();
        assert!(
            err.to_string().starts_with("m.json:2:17: not JSON"),
            "{err}"
        );
        let text = "{\"Event\": {\"Attribute\": [\n {\"type\": \"ip-dst\", \"value\": \"10.0.0.0/33\"},\n {\"type\": \"ip-src\", \"value\": \"999.0.0.1\"},\n {\"type\": 5, \"value\": \"x\"},\n 7\n]}}";
        parse_reader(Arc::from("m.json"), text.as_bytes(), &mut b).unwrap();
        let diags: Vec<String> = b.rejected().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            diags,
            vec![
                "m.json:2: ip-dst: invalid CIDR \"10.0.0.0/33\"",
                "m.json:3: ip-src: invalid address \"999.0.0.1\"",
                "m.json:4: attribute without text type and value",
                "m.json:5: attribute is a number, not an object",
            ]
        );
    }
}
