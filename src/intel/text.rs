//! Shared helpers for the intel loaders: reading a whole file as text with a file-naming error,
//! mapping byte offsets to 1-based line numbers, and locating the JSON values that serde_json
//! hands back as borrowed [`RawValue`]s (their offset in the text gives their line).
//!
//! serde_json reports no position for an array element, so the JSON loaders deserialize lists
//! as `Vec<&RawValue>`: each element borrows its bytes from the file text, and the pointer
//! difference is its offset. Nothing here knows an indicator format.

use anyhow::Context;
use serde_json::value::RawValue;
use std::io::Read;

/// Line starts of a text, for offset -> line lookups in O(log lines).
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes `text`.
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> u64 {
        let idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i.saturating_sub(1),
        };
        idx as u64 + 1
    }
}

/// Byte offset of `part` inside `whole`, when `part` borrows from it.
pub fn offset_in(whole: &str, part: &str) -> Option<usize> {
    let start = whole.as_ptr() as usize;
    let p = part.as_ptr() as usize;
    let off = p.checked_sub(start)?;
    (off.checked_add(part.len())? <= whole.len()).then_some(off)
}

/// The 1-based line where `raw` (borrowed from `text`) begins, skipping leading whitespace.
pub fn raw_line(text: &str, lines: &LineIndex, raw: &RawValue) -> u64 {
    let s = raw.get();
    let lead = s.len() - s.trim_start().len();
    offset_in(text, s)
        .map(|o| lines.line(o.saturating_add(lead)))
        .unwrap_or(1)
}

/// Reads all of `r` as UTF-8 text; `what` names the input in the error.
pub fn read_text(mut r: impl Read, what: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes)
        .with_context(|| format!("{what}: cannot read"))?;
    let bytes = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => rest.to_vec(),
        None => bytes,
    };
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let line =
            memchr::memchr_iter(b'\n', e.as_bytes().get(..good).unwrap_or_default()).count() + 1;
        anyhow::anyhow!("{what}:{line}: not UTF-8 text")
    })
}

/// A JSON value's kind, for messages.
pub fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "a list",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_raw_values() {
        let text = "{\"a\": [\n  1,\n  {\"x\": 2}\n]}";
        let top: std::collections::BTreeMap<String, &RawValue> =
            serde_json::from_str(text).unwrap();
        let items: Vec<&RawValue> = serde_json::from_str(top["a"].get()).unwrap();
        let li = LineIndex::new(text);
        assert_eq!(raw_line(text, &li, items[0]), 2);
        assert_eq!(raw_line(text, &li, items[1]), 3);
        assert_eq!(raw_line(text, &li, top["a"]), 1);
    }

    #[test]
    fn bad_utf8_names_the_line() {
        let err = read_text(&b"ok\n\xff"[..], "f.json").unwrap_err();
        assert_eq!(err.to_string(), "f.json:2: not UTF-8 text");
    }
}
