//! Zeek's JSON-lines log format (`LogAscii::use_json=T`, the json-streaming-logs package).
//!
//! One object per line. Keys are Zeek's dotted names (`"id.orig_h"`); nested objects
//! (`{"id":{"orig_h":...}}`) are flattened to the same names, and the renamings of
//! [`super::fields`] apply. Only the keys captriage reads are kept, as borrowed raw JSON text, so
//! a line costs no allocation beyond strings that carry JSON escapes. A missing key or `null` is
//! unset; sets and vectors are arrays (a comma-joined string is accepted too). Time values may be
//! epoch seconds, epoch milliseconds (integers beyond 1e11, `JSON::TS_MILLIS`) or ISO 8601 text
//! (`JSON::TS_ISO8601`, json-streaming-logs); numbers are parsed from their text, so they are
//! the same `f64` as the TSV log of the same run. Zeek writes bytes that are not UTF-8 as `\\xNN`
//! text inside strings; that text is kept as it is. A line that is not valid UTF-8 at all is
//! reported by the caller and read again with U+FFFD replacements.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::fields::{self, BadValue, F, Match, N, Row, Ty};
use crate::model::Ts;

/// Bound on object nesting followed when flattening (Zeek writes at most a few levels).
const MAX_DEPTH: usize = 8;

/// The keys captriage reads from one JSON line, as raw JSON text borrowed from the line.
pub(crate) struct JsonRow<'a> {
    vals: [Option<(&'a RawValue, Match)>; N],
    pub bad: Option<BadValue>,
}

/// Parses one line holding a JSON object.
pub(crate) fn parse_line(line: &[u8]) -> Result<JsonRow<'_>, serde_json::Error> {
    let mut row = JsonRow {
        vals: [None; N],
        bad: None,
    };
    let mut de = serde_json::Deserializer::from_slice(line);
    de.deserialize_map(ObjVisitor {
        vals: &mut row.vals,
        prefix: "",
        depth: 0,
    })?;
    de.end()?;
    Ok(row)
}

/// A map key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

struct ObjVisitor<'r, 'a> {
    vals: &'r mut [Option<(&'a RawValue, Match)>; N],
    prefix: &'r str,
    depth: usize,
}

impl<'de> Visitor<'de> for ObjVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            let v: &'de RawValue = map.next_value()?;
            let full: Cow<str> = if self.prefix.is_empty() {
                key
            } else {
                Cow::Owned(format!("{}.{}", self.prefix, key))
            };
            if v.get().starts_with('{') {
                // A nested record (`"id":{"orig_h":...}`): flatten it to dotted names.
                if self.depth < MAX_DEPTH {
                    let mut de = serde_json::Deserializer::from_str(v.get());
                    de.deserialize_map(ObjVisitor {
                        vals: &mut *self.vals,
                        prefix: &full,
                        depth: self.depth + 1,
                    })
                    .map_err(de::Error::custom)?;
                }
                continue;
            }
            if let Some((f, m)) = fields::lookup(&full)
                && let Some(slot) = self.vals.get_mut(f as usize)
            {
                let better = match slot {
                    None => true,
                    Some((_, old)) => m == Match::Exact && *old == Match::Alias,
                };
                if better {
                    *slot = Some((v, m));
                }
            }
        }
        Ok(())
    }
}

/// A string value, borrowed when it has no escapes; `Err` for arrays and objects.
fn string_of(raw: &RawValue) -> Result<Option<Cow<'_, str>>, ()> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => Ok(None),
        Some(b'"') => match serde_json::from_str::<&str>(text) {
            Ok(s) => Ok(Some(Cow::Borrowed(s))),
            Err(_) => serde_json::from_str::<String>(text)
                .map(|s| Some(Cow::Owned(s)))
                .map_err(|_| ()),
        },
        Some(b'[' | b'{') | None => Err(()),
        // Numbers and booleans where text is expected: their JSON text.
        Some(_) => Ok(Some(Cow::Borrowed(text))),
    }
}

/// The elements of an array value (or of a comma-joined string).
fn elements_of(raw: &RawValue) -> Result<Vec<&RawValue>, ()> {
    serde_json::from_str::<Vec<&RawValue>>(raw.get()).map_err(|_| ())
}

/// The text to parse a scalar from: a number's text or a string's content.
fn scalar_of(raw: &RawValue) -> Result<Option<Cow<'_, str>>, ()> {
    string_of(raw)
}

impl<'a> JsonRow<'a> {
    fn raw(&self, f: F) -> Option<&'a RawValue> {
        self.vals.get(f as usize).copied().flatten().map(|(v, _)| v)
    }

    fn flag(&mut self, f: F, ty: Ty, raw: &RawValue) {
        if self.bad.is_none() {
            self.bad = Some(BadValue {
                column: f,
                ty,
                value: raw.get().to_string(),
            });
        }
    }

    fn scalar<T>(&mut self, f: F, ty: Ty, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
        let raw = self.raw(f)?;
        match scalar_of(raw) {
            Ok(None) => None,
            Ok(Some(s)) => {
                let v = parse(&s);
                if v.is_none() {
                    self.flag(f, ty, raw);
                }
                v
            }
            Err(()) => {
                self.flag(f, ty, raw);
                None
            }
        }
    }

    fn list<T>(&mut self, f: F, ty: Ty, parse: impl Fn(&'a RawValue) -> Option<T>) -> Vec<T> {
        let Some(raw) = self.raw(f) else {
            return Vec::new();
        };
        let Ok(items) = elements_of(raw) else {
            if raw.get() != "null" {
                self.flag(f, ty, raw);
            }
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match parse(item) {
                Some(v) => out.push(v),
                None => self.flag(f, ty, item),
            }
        }
        out
    }
}

fn parse_time(raw: &RawValue) -> Option<Ts> {
    let text = raw.get();
    if text.starts_with('"') {
        let s = serde_json::from_str::<Cow<str>>(text).ok()?;
        fields::epoch_iso(&s).or_else(|| fields::epoch_number(&s))
    } else {
        fields::epoch_number(text)
    }
}

impl<'a> Row<'a> for JsonRow<'a> {
    fn text(&mut self, f: F) -> Option<Cow<'a, str>> {
        let raw = self.raw(f)?;
        match string_of(raw) {
            Ok(v) => v,
            Err(()) => {
                self.flag(f, Ty::Text, raw);
                None
            }
        }
    }

    fn texts<C: Default + Extend<Cow<'a, str>>>(&mut self, f: F) -> C {
        let mut out = C::default();
        if let Some(raw) = self.raw(f)
            && raw.get().starts_with('"')
        {
            // A comma-joined string (`"service":"dns,http"` in some exports).
            match string_of(raw) {
                Ok(Some(Cow::Borrowed(s))) => {
                    out.extend(s.split(',').filter(|e| !e.is_empty()).map(Cow::Borrowed));
                }
                Ok(Some(Cow::Owned(s))) => out.extend(
                    s.split(',')
                        .filter(|e| !e.is_empty())
                        .map(|e| Cow::Owned(e.to_string())),
                ),
                _ => {}
            }
            return out;
        }
        out.extend(self.list(f, Ty::Text, |item| string_of(item).ok().flatten()));
        out
    }

    fn count(&mut self, f: F) -> Option<u64> {
        self.scalar(f, Ty::Count, |s| s.parse().ok())
    }

    fn real(&mut self, f: F) -> Option<f64> {
        self.scalar(f, Ty::Real, |s| {
            s.parse::<f64>().ok().filter(|v| v.is_finite())
        })
    }

    fn reals(&mut self, f: F) -> Vec<f64> {
        self.list(f, Ty::Real, |item| {
            scalar_of(item)
                .ok()
                .flatten()
                .and_then(|s| s.parse::<f64>().ok())
        })
    }

    fn time(&mut self, f: F) -> Option<Ts> {
        let raw = self.raw(f)?;
        if raw.get() == "null" {
            return None;
        }
        let v = parse_time(raw);
        if v.is_none() {
            self.flag(f, Ty::Time, raw);
        }
        v
    }

    fn boolean(&mut self, f: F) -> Option<bool> {
        self.scalar(f, Ty::Bool, |s| match s {
            "true" | "T" => Some(true),
            "false" | "F" => Some(false),
            _ => None,
        })
    }

    fn addr(&mut self, f: F) -> Option<IpAddr> {
        self.scalar(f, Ty::Addr, crate::names::parse_addr)
    }

    fn addrs(&mut self, f: F) -> Vec<IpAddr> {
        self.list(f, Ty::Addr, |item| {
            string_of(item)
                .ok()
                .flatten()
                .and_then(|s| crate::names::parse_addr(&s))
        })
    }

    fn port(&mut self, f: F) -> Option<u16> {
        self.scalar(f, Ty::Port, |s| s.parse().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(line: &str) -> JsonRow<'_> {
        match parse_line(line.as_bytes()) {
            Ok(r) => r,
            Err(e) => panic!("{line}: {e}"),
        }
    }

    #[test]
    fn dotted_and_nested_keys() {
        let mut r = row(r#"{"id.orig_h":"10.0.0.1","id":{"resp_h":"10.0.0.2","resp_p":443}}"#);
        assert_eq!(r.addr(F::OrigH), "10.0.0.1".parse().ok());
        assert_eq!(r.addr(F::RespH), "10.0.0.2".parse().ok());
        assert_eq!(r.port(F::RespP), Some(443));
        assert!(r.bad.is_none());
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let mut r = row(r#"{"query":"example.com","server_name":"a\"b"}"#);
        assert!(matches!(
            r.text(F::Query),
            Some(Cow::Borrowed("example.com"))
        ));
        assert_eq!(r.text(F::ServerName).as_deref(), Some("a\"b"));
    }

    #[test]
    fn null_and_missing_are_unset() {
        // LogAscii::json_include_unset_fields=T writes null (ascii-json-optional).
        let mut r = row(r#"{"ts":null,"msg":"Testing 1 2 3 "}"#);
        assert_eq!(r.time(F::Ts), None);
        assert_eq!(r.text(F::Uid), None);
        assert!(r.texts::<Vec<_>>(F::Answers).is_empty());
        assert!(r.bad.is_none());
    }

    #[test]
    fn time_forms() {
        assert_eq!(
            row(r#"{"ts":-315619200.0}"#).time(F::Ts),
            Some(-315619200.0)
        );
        assert_eq!(
            row(r#"{"ts":-315619200000}"#).time(F::Ts),
            Some(-315619200.0)
        );
        assert_eq!(
            row(r#"{"ts":"1960-01-01T00:00:00.000000Z"}"#).time(F::Ts),
            Some(-315619200.0)
        );
        let mut r = row(r#"{"ts":"soon"}"#);
        assert_eq!(r.time(F::Ts), None);
        assert!(r.bad.is_some());
    }

    #[test]
    fn arrays_and_joined_strings() {
        let mut r =
            row(r#"{"answers":["a.example","1.2.3.4"],"TTLs":[60.0,30],"service":"dns,http"}"#);
        assert_eq!(r.texts::<Vec<_>>(F::Answers), vec!["a.example", "1.2.3.4"]);
        assert_eq!(r.reals(F::Ttls), vec![60.0, 30.0]);
        assert_eq!(r.texts::<Vec<_>>(F::Service), vec!["dns", "http"]);
    }

    #[test]
    fn bad_values_are_flagged() {
        let mut r = row(r#"{"id.orig_h":"not-an-ip","orig_bytes":"x"}"#);
        assert_eq!(r.addr(F::OrigH), None);
        assert_eq!(r.count(F::OrigBytes), None);
        assert_eq!(r.bad.as_ref().map(|b| b.column), Some(F::OrigH));
    }

    #[test]
    fn not_an_object() {
        assert!(parse_line(b"[1,2]").is_err());
        assert!(parse_line(b"{\"a\":1} trailing").is_err());
        assert!(parse_line(b"{\"a\":").is_err());
    }
}
