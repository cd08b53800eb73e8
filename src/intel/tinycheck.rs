//! TinyCheck's IOC and whitelist JSON formats (RULES.md §6).
//!
//! Indicators: `{"iocs":[{"type","tag","tlp","value"}],"to_delete":[{"value"}]}` or a bare list
//! of entries; whitelist: `{"elements":[{"type","element"}],"to_delete":[{"element"}]}` or a bare
//! list. The Echap stalkerware feed (`indicators-for-tinycheck.json`) uses the indicator form.
//! `id` and other extra keys are ignored; `tlp` is kept as metadata whatever its value.
//!
//! Only a file that cannot be read or is not JSON at all is an error (with serde_json's
//! line:column). Every bad entry (not an object, missing or unknown type, missing value, a value
//! the builder rejects) becomes a builder diagnostic `file:LINE: iocs[N]: reason`, where LINE is
//! the line the entry starts on (found from the entry's byte offset, so it is right for
//! pretty-printed files) and `iocs[N]` its 0-based index (which names it in single-line feeds).
//! Validation and normalisation of values belong to the builders in [`crate::intel`].

use super::text::{LineIndex, json_kind, raw_line, read_text};
use super::{IntelBuilder, TypeSpec, WhitelistBuilder, source_name};
use crate::model::Location;
use anyhow::Context;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Loads a TinyCheck IOC file into `b`.
pub fn load_iocs(path: &Path, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_iocs(source_name(path), BufReader::new(f), b)
}

/// Reads a TinyCheck IOC document from `r`; `source` names it in locations.
pub fn parse_iocs(source: Arc<str>, r: impl Read, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    parse_iocs_str(&source, &text, b)
}

/// Reads a TinyCheck IOC document held in memory.
pub fn parse_iocs_str(source: &Arc<str>, text: &str, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let doc = split_document(source, text, "iocs")?;
    for (line, msg) in &doc.problems {
        b.invalid(Location::line(source, *line), msg.clone());
    }
    for (i, raw) in doc.main.iter().enumerate() {
        let line = raw_line(text, &doc.lines, raw);
        let loc = Location::line(source, line);
        let ctx = format!("{}[{i}]", doc.main_name);
        match ioc_entry(raw) {
            Ok(e) => {
                let start = b.rejected().len();
                b.add(e.spec, &e.value, e.tag.as_deref(), e.tlp.as_deref(), loc);
                b.annotate_rejected(start, &ctx);
            }
            Err(msg) => b.invalid(loc, format!("{ctx}: {msg}")),
        }
    }
    for (i, raw) in doc.to_delete.iter().enumerate() {
        match delete_entry(raw, "value") {
            Ok(v) => b.delete(&v),
            Err(msg) => {
                let line = raw_line(text, &doc.lines, raw);
                b.invalid(
                    Location::line(source, line),
                    format!("to_delete[{i}]: {msg}"),
                );
            }
        }
    }
    Ok(())
}

/// Loads a TinyCheck whitelist file into `b`.
pub fn load_whitelist(path: &Path, b: &mut WhitelistBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_whitelist(source_name(path), BufReader::new(f), b)
}

/// Reads a TinyCheck whitelist document from `r`; `source` names it in locations.
pub fn parse_whitelist(
    source: Arc<str>,
    r: impl Read,
    b: &mut WhitelistBuilder,
) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    parse_whitelist_str(&source, &text, b)
}

/// Reads a TinyCheck whitelist document held in memory.
pub fn parse_whitelist_str(
    source: &Arc<str>,
    text: &str,
    b: &mut WhitelistBuilder,
) -> anyhow::Result<()> {
    let doc = split_document(source, text, "elements")?;
    for (line, msg) in &doc.problems {
        b.invalid(Location::line(source, *line), msg.clone());
    }
    for (i, raw) in doc.main.iter().enumerate() {
        let line = raw_line(text, &doc.lines, raw);
        let loc = Location::line(source, line);
        let ctx = format!("{}[{i}]", doc.main_name);
        match whitelist_entry(raw) {
            Ok((spec, value)) => {
                let start = b.rejected().len();
                b.add(spec, &value, loc);
                b.annotate_rejected(start, &ctx);
            }
            Err(msg) => b.invalid(loc, format!("{ctx}: {msg}")),
        }
    }
    for (i, raw) in doc.to_delete.iter().enumerate() {
        match delete_entry(raw, "element") {
            Ok(v) => b.delete(&v),
            Err(msg) => {
                let line = raw_line(text, &doc.lines, raw);
                b.invalid(
                    Location::line(source, line),
                    format!("to_delete[{i}]: {msg}"),
                );
            }
        }
    }
    Ok(())
}

/// The lists of a TinyCheck document, each element still raw (borrowed from the text).
struct Document<'a> {
    main: Vec<&'a RawValue>,
    /// `iocs`/`elements`, or empty for a bare list (so entries read `[3]`).
    main_name: &'static str,
    to_delete: Vec<&'a RawValue>,
    /// Document-level problems: (line, message).
    problems: Vec<(u64, String)>,
    lines: LineIndex,
}

fn split_document<'a>(
    source: &str,
    text: &'a str,
    main_key: &'static str,
) -> anyhow::Result<Document<'a>> {
    let top: &RawValue = serde_json::from_str(text)
        .map_err(|e| anyhow::anyhow!("{source}:{}:{}: not JSON: {e}", e.line(), e.column()))?;
    let lines = LineIndex::new(text);
    let mut doc = Document {
        main: Vec::new(),
        main_name: main_key,
        to_delete: Vec::new(),
        problems: Vec::new(),
        lines,
    };
    let body = top.get().trim_start();
    if body.starts_with('[') {
        doc.main_name = "";
        doc.main = serde_json::from_str(top.get())
            .map_err(|e| anyhow::anyhow!("{source}: not JSON: {e}"))?;
        return Ok(doc);
    }
    let first_line = raw_line(text, &doc.lines, top);
    if !body.starts_with('{') {
        doc.problems.push((
            first_line,
            format!("expected an object with {main_key:?} or a list of entries"),
        ));
        return Ok(doc);
    }
    let map: BTreeMap<String, &'a RawValue> =
        serde_json::from_str(top.get()).map_err(|e| anyhow::anyhow!("{source}: not JSON: {e}"))?;
    if !map.contains_key(main_key) && !map.contains_key("to_delete") {
        doc.problems.push((
            first_line,
            format!("no {main_key:?} or \"to_delete\" list in this object"),
        ));
    }
    for (key, raw) in map {
        let line = raw_line(text, &doc.lines, raw);
        let slot = if key == main_key {
            &mut doc.main
        } else if key == "to_delete" {
            &mut doc.to_delete
        } else {
            doc.problems
                .push((line, format!("unknown key {key:?} ignored")));
            continue;
        };
        if raw.get().trim() == "null" {
            continue;
        }
        match serde_json::from_str::<Vec<&'a RawValue>>(raw.get()) {
            Ok(items) => *slot = items,
            Err(_) => doc
                .problems
                .push((line, format!("{key:?} is not a list; ignored"))),
        }
    }
    doc.problems.sort();
    Ok(doc)
}

struct IocEntry {
    spec: TypeSpec,
    value: String,
    tag: Option<String>,
    tlp: Option<String>,
}

fn object(raw: &RawValue) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(format!("entry is {}, not an object", json_kind(&other))),
        Err(e) => Err(format!("unreadable entry: {e}")),
    }
}

/// A string field: `Ok(None)` when missing or null.
fn text_field(m: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} is {}, not a string", json_kind(other))),
    }
}

fn type_field(m: &Map<String, Value>) -> Result<TypeSpec, String> {
    let name = text_field(m, "type")?.ok_or("missing type")?;
    TypeSpec::from_name(&name).ok_or_else(|| format!("unknown type {name:?}"))
}

fn ioc_entry(raw: &RawValue) -> Result<IocEntry, String> {
    let m = object(raw)?;
    let spec = type_field(&m)?;
    let value = text_field(&m, "value")?.ok_or("missing value")?;
    Ok(IocEntry {
        spec,
        value,
        tag: text_field(&m, "tag")?,
        tlp: text_field(&m, "tlp")?,
    })
}

fn whitelist_entry(raw: &RawValue) -> Result<(TypeSpec, String), String> {
    let m = object(raw)?;
    let spec = type_field(&m)?;
    let value = text_field(&m, "element")?.ok_or("missing element")?;
    Ok((spec, value))
}

/// A `to_delete` entry: `{"value": ...}` (or `{"element": ...}`), or a bare string.
fn delete_entry(raw: &RawValue, key: &str) -> Result<String, String> {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(s)) => Ok(s),
        Ok(Value::Object(m)) => text_field(&m, key)?.ok_or_else(|| format!("missing {key}")),
        Ok(other) => Err(format!("entry is {}, not an object", json_kind(&other))),
        Err(e) => Err(format!("unreadable entry: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::IocType;

    fn src() -> Arc<str> {
        Arc::from("t.json")
    }

    fn iocs(text: &str) -> (crate::intel::Intel, Vec<String>) {
        let mut b = IntelBuilder::new();
        parse_iocs(src(), text.as_bytes(), &mut b).unwrap();
        let diags = b.rejected().iter().map(|d| d.to_string()).collect();
        (b.build(), diags)
    }

    #[test]
    fn pretty_printed_entries_get_their_own_lines() {
        let text = r#"{
 "iocs": [
  {"type": "domain", "tag": "Stalkerware", "tlp": "white", "value": "Evil-C2.com"},
  {"type": "domain", "tag": "stalkerware", "tlp": "white",
   "value": "https://github.com/x/y"},
  {"type": "ip4addr", "tag": "x", "value": "300.1.1.1"},
  {"type": "bogus", "value": "a.com"},
  {"type": "domain"},
  "just a string",
  {"type": "unknown", "tag": "t", "tlp": "chartreuse", "value": "203.0.113.66", "id": 7}
 ],
 "to_delete": [{"value": "gone.example"}, 5]
}"#;
        let (intel, diags) = iocs(text);
        assert_eq!(
            diags,
            vec![
                "t.json:4: iocs[1]: invalid domain \"https://github.com/x/y\"",
                "t.json:6: iocs[2]: invalid IPv4 address \"300.1.1.1\"",
                "t.json:7: iocs[3]: unknown type \"bogus\"",
                "t.json:8: iocs[4]: missing value",
                "t.json:9: iocs[5]: entry is a string, not an object",
                "t.json:12: to_delete[1]: entry is a number, not an object",
            ]
        );
        assert_eq!(intel.domains("api.evil-c2.com").len(), 1);
        let hit = intel.addr("203.0.113.66".parse().unwrap());
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].kind, IocType::Ip4addr);
        assert_eq!(hit[0].provenance[0].tlp.as_deref(), Some("chartreuse"));
        assert_eq!(hit[0].provenance[0].location.to_string(), "t.json:10");
    }

    #[test]
    fn bare_list_and_single_line_feed() {
        let text = r#"[{"type":"domain","tag":"a","value":"a.com"},{"type":"domain","tag":"b","value":"1.2.3.4"}]"#;
        let (intel, diags) = iocs(text);
        assert_eq!(diags, vec!["t.json:1: [1]: invalid domain \"1.2.3.4\""]);
        assert_eq!(intel.indicators().len(), 1);
    }

    #[test]
    fn not_json_is_an_error_with_line_and_column() {
        let mut b = IntelBuilder::new();
        let err = parse_iocs(src(), &b"{\"iocs\": [\n  {\"type\": }\n]}"[..], &mut b).unwrap_err();
        assert!(
            err.to_string().starts_with("t.json:2:12: not JSON"),
            "{err}"
        );
    }

    #[test]
    fn wrong_shapes_are_diagnostics() {
        let (_, diags) = iocs("{\"iocs\": {\"a\": 1}, \"extra\": 1}");
        assert_eq!(
            diags,
            vec![
                "t.json:1: \"iocs\" is not a list; ignored",
                "t.json:1: unknown key \"extra\" ignored"
            ]
        );
        let (_, diags) = iocs("\"hello\"");
        assert_eq!(
            diags,
            vec!["t.json:1: expected an object with \"iocs\" or a list of entries"]
        );
    }

    #[test]
    fn whitelist_elements_and_to_delete() {
        let text = "{\"elements\": [\n{\"type\": \"cidr\", \"element\": \"ff00::/8\"},\n{\"type\": \"domain\", \"element\": \"Google.com\"},\n{\"type\": \"unknown\", \"element\": \"8.8.8.8\"},\n{\"type\": \"freedns\", \"element\": \"x.org\"},\n{\"type\": \"cidr\", \"element\": \"1.2.3.0/33\"}\n],\n\"to_delete\": [{\"element\": \"8.8.8.8\"}]}";
        let mut b = WhitelistBuilder::new();
        parse_whitelist(src(), text.as_bytes(), &mut b).unwrap();
        let wl = b.build();
        let diags: Vec<String> = wl.invalid().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            diags,
            vec![
                "t.json:5: elements[3]: invalid whitelist entry \"x.org\" of type freedns",
                "t.json:6: elements[4]: invalid whitelist entry \"1.2.3.0/33\" of type cidr",
            ]
        );
        assert!(wl.ip("ff02::fb".parse().unwrap()).is_some());
        assert!(wl.name("www.google.com").is_some());
        assert!(wl.ip("8.8.8.8".parse().unwrap()).is_none());
    }

    #[test]
    fn every_prefix_of_a_document_is_handled_without_panic() {
        let text = r#"{"iocs": [{"type": "domain", "tag": "x", "value": "a.com"}], "to_delete": [{"value": "b"}]}"#;
        for end in 0..=text.len() {
            let mut b = IntelBuilder::new();
            let _ = parse_iocs(src(), text.get(..end).unwrap_or("").as_bytes(), &mut b);
            let mut w = WhitelistBuilder::new();
            let _ = parse_whitelist(src(), text.get(..end).unwrap_or("").as_bytes(), &mut w);
        }
    }
}
