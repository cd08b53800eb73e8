//! Passive DNS in the Common Output Format (draft-dulaunoy-dnsop-passive-dns-cof), as NDJSON.
//!
//! [`parse_reader`] and [`load`] read COF lines as CIRCL's service and the D4 passive DNS server
//! write them: `rrtype` as a mnemonic or a number, `rdata` as a string or an array (one record per
//! element), times and counts as numbers or numeric strings, unknown fields ignored; every bad
//! line becomes a `file:line` diagnostic and reading goes on. [`PdnsCollector`] turns DNS
//! transactions (`crate::model::Dns`) into one record per (rrname, rrtype, rdata), merging repeats
//! (first and last seen, count), and [`write_records`] writes records as sorted, deterministic
//! NDJSON. Names are normalised (`crate::names`); addresses are written in canonical form. Which
//! records feed name resolution or the store is decided by the callers.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Diagnostic, Dns, Location, Ts};
use crate::names::{normalize_name, parse_addr, valid_label};

/// Longest COF line read; longer lines are reported and skipped.
const MAX_LINE: usize = 1 << 20;
/// Most `rdata` array elements taken from one line.
const MAX_RDATA: usize = 4096;

/// One passive DNS record.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CofRecord {
    /// Owner name, normalised (lower case, no trailing dot).
    pub rrname: String,
    /// Record type mnemonic (`A`, `AAAA`, `CNAME`, `NS`, `PTR`, `MX`, or `TYPEnnn`).
    pub rrtype: String,
    /// Record data: an address in canonical form, a normalised name, or the text as read.
    pub rdata: String,
    /// First seen, seconds since the epoch.
    pub time_first: u64,
    /// Last seen, seconds since the epoch.
    pub time_last: u64,
    /// How many times it was seen.
    pub count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bailiwick: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl CofRecord {
    /// Folds `other` (same rrname, rrtype and rdata) into `self`: widest time span, summed count.
    pub fn merge(&mut self, other: &CofRecord) {
        self.time_first = self.time_first.min(other.time_first);
        self.time_last = self.time_last.max(other.time_last);
        self.count = self.count.saturating_add(other.count);
    }

    /// The identity of a record: (rrname, rrtype, rdata).
    pub fn key(&self) -> (&str, &str, &str) {
        (&self.rrname, &self.rrtype, &self.rdata)
    }
}

/// Reads COF NDJSON from a file; bad lines become diagnostics.
pub fn load(path: &Path, diags: &mut Vec<Diagnostic>) -> anyhow::Result<Vec<CofRecord>> {
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let source: Arc<str> = Arc::from(path.display().to_string());
    Ok(parse_reader(source, BufReader::new(file), diags))
}

/// Reads COF NDJSON lines from `r`. `source` names the input in diagnostics. Blank lines are
/// skipped; a line that is not a COF object is reported as `source:line` and skipped.
pub fn parse_reader(
    source: Arc<str>,
    mut r: impl BufRead,
    diags: &mut Vec<Diagnostic>,
) -> Vec<CofRecord> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        line_no += 1;
        let loc = || Location::line(&source, line_no);
        match io::Read::take(&mut r, MAX_LINE as u64 + 1).read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                diags.push(Diagnostic {
                    location: loc(),
                    message: format!("read error: {e}"),
                });
                break;
            }
        }
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            diags.push(Diagnostic {
                location: loc(),
                message: format!("line longer than {MAX_LINE} bytes, skipped"),
            });
            // Skip the rest of the long line.
            let mut rest = Vec::new();
            if r.read_until(b'\n', &mut rest).is_err() {
                break;
            }
            continue;
        }
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim(),
            Err(_) => {
                diags.push(Diagnostic {
                    location: loc(),
                    message: "not UTF-8".to_string(),
                });
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        if let Err(message) = parse_line(text, &mut out) {
            diags.push(Diagnostic {
                location: loc(),
                message,
            });
        }
    }
    out
}

/// Parses one COF object into one record per rdata value.
fn parse_line(text: &str, out: &mut Vec<CofRecord>) -> Result<(), String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(obj) = value else {
        return Err("not a JSON object".to_string());
    };
    let rrname = match obj.get("rrname") {
        Some(Value::String(s)) => normalize_name(s).ok_or_else(|| "empty rrname".to_string())?,
        Some(_) => return Err("rrname is not a string".to_string()),
        None => return Err("missing rrname".to_string()),
    };
    let rrtype = match obj.get("rrtype") {
        Some(Value::String(s)) if !s.trim().is_empty() => canonical_rrtype(s.trim()),
        Some(Value::Number(n)) => match n.as_u64().and_then(|v| u16::try_from(v).ok()) {
            Some(v) => rrtype_name(v),
            None => return Err(format!("rrtype {n} out of range")),
        },
        Some(_) => return Err("rrtype is neither a name nor a number".to_string()),
        None => return Err("missing rrtype".to_string()),
    };
    let time_first = epoch(obj.get("time_first")).ok_or("missing or bad time_first")?;
    let time_last = epoch(obj.get("time_last")).ok_or("missing or bad time_last")?;
    if time_last < time_first {
        return Err(format!(
            "time_last {time_last} before time_first {time_first}"
        ));
    }
    let count = match obj.get("count") {
        None | Some(Value::Null) => 1,
        v => epoch(v).ok_or("bad count")?,
    };
    let text_field = |k: &str| match obj.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let rdatas: Vec<&str> = match obj.get("rdata") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => {
            let mut v = Vec::new();
            for item in items.iter().take(MAX_RDATA) {
                match item {
                    Value::String(s) => v.push(s.as_str()),
                    _ => return Err("rdata array holds a non-string".to_string()),
                }
            }
            if v.is_empty() {
                return Err("empty rdata array".to_string());
            }
            v
        }
        Some(_) => return Err("rdata is neither a string nor an array".to_string()),
        None => return Err("missing rdata".to_string()),
    };
    for rdata in rdatas {
        out.push(CofRecord {
            rrname: rrname.clone(),
            rdata: canonical_rdata(&rrtype, rdata),
            rrtype: rrtype.clone(),
            time_first,
            time_last,
            count,
            bailiwick: text_field("bailiwick"),
            sensor_id: text_field("sensor_id"),
            origin: text_field("origin"),
        });
    }
    Ok(())
}

/// A time or count: a non-negative integer, a float (truncated), or a numeric string.
fn epoch(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(float_secs)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(float_secs))
        }
        _ => None,
    }
}

/// Whole seconds of a non-negative finite float.
fn float_secs(f: f64) -> Option<u64> {
    (0.0..1.8e19).contains(&f).then_some(f as u64)
}

/// Upper-cased mnemonic; a numeric string becomes its mnemonic.
fn canonical_rrtype(s: &str) -> String {
    match s.parse::<u16>() {
        Ok(v) => rrtype_name(v),
        Err(_) => s.to_ascii_uppercase(),
    }
}

/// The mnemonic of a numeric record type (RFC 3597 `TYPEnnn` for others).
pub fn rrtype_name(v: u16) -> String {
    let name = match v {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        39 => "DNAME",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        _ => return format!("TYPE{v}"),
    };
    name.to_string()
}

/// Addresses in canonical form; names for name-valued types normalised; other data as read.
fn canonical_rdata(rrtype: &str, rdata: &str) -> String {
    if let Some(ip) = parse_addr(rdata) {
        return ip.to_string();
    }
    match rrtype {
        "CNAME" | "NS" | "PTR" | "MX" | "DNAME" => {
            normalize_name(rdata).unwrap_or_else(|| rdata.to_string())
        }
        _ => rdata.to_string(),
    }
}

/// Writes records as COF NDJSON, one object per line, in the order given.
pub fn write_records<'r>(
    out: &mut dyn Write,
    records: impl IntoIterator<Item = &'r CofRecord>,
) -> io::Result<()> {
    for rec in records {
        serde_json::to_writer(&mut *out, rec)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// First and last seen (when any record had a time) and count of one (rrname, rrtype, rdata).
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    first: Option<u64>,
    last: Option<u64>,
    count: u64,
}

/// Aggregates DNS transactions into passive DNS records: one per (rrname, rrtype, rdata), with
/// first and last seen and a count. State grows with distinct records, not with rows.
#[derive(Clone, Debug, Default)]
pub struct PdnsCollector {
    /// rrname -> rrtype -> rdata -> seen.
    map: BTreeMap<String, BTreeMap<Cow<'static, str>, BTreeMap<String, Seen>>>,
}

/// How a transaction's name answers are recorded, by its query type.
fn name_answer_type(qtype: &str) -> Option<&'static str> {
    match qtype {
        "A" | "AAAA" | "CNAME" => Some("CNAME"),
        "NS" => Some("NS"),
        "PTR" => Some("PTR"),
        "MX" => Some("MX"),
        _ => None,
    }
}

/// A DNS name as an answer may hold one: labels of letters, digits, `-`, `_`.
fn answer_name(s: &str) -> Option<String> {
    let n = normalize_name(s)?;
    (n.len() <= 253 && n.split('.').all(valid_label) && parse_addr(&n).is_none()).then_some(n)
}

impl PdnsCollector {
    /// An empty collector.
    pub fn new() -> PdnsCollector {
        PdnsCollector::default()
    }

    /// Adds the answers of one DNS transaction. Addresses become `A`/`AAAA` records in any
    /// transaction; names become `CNAME` records in A, AAAA and CNAME transactions, `NS`, `PTR`
    /// and `MX` records in NS, PTR and MX transactions; other answers (`TXT 12 ...`) are ignored.
    /// The owner of every record is the query name. A transaction without ts still counts; its
    /// times stay unknown (written as 0 when no transaction of that record had a ts).
    pub fn add(&mut self, dns: &Dns<'_>) {
        if dns.answers.is_empty() {
            return;
        }
        let Some(rrname) = dns.query.as_deref().and_then(normalize_name) else {
            return;
        };
        let qtype = match (&dns.qtype_name, dns.qtype) {
            (Some(name), _) => name.trim().to_ascii_uppercase(),
            (None, Some(v)) => u16::try_from(v).map(rrtype_name).unwrap_or_default(),
            (None, None) => String::new(),
        };
        let names_as = name_answer_type(&qtype);
        let ts = dns.ts.and_then(ts_secs);
        for answer in &dns.answers {
            let (rrtype, rdata) = match parse_addr(answer) {
                Some(IpAddr::V4(v4)) => ("A", v4.to_string()),
                Some(IpAddr::V6(v6)) => ("AAAA", v6.to_string()),
                None => match (names_as, answer_name(answer)) {
                    (Some(t), Some(n)) => (t, n),
                    _ => continue,
                },
            };
            self.observe(&rrname, rrtype, &rdata, ts, 1);
        }
    }

    /// Adds already-built records (for example read from a COF file).
    pub fn add_record(&mut self, rec: &CofRecord) {
        let ts_first = (rec.time_first != 0).then_some(rec.time_first);
        let ts_last = (rec.time_last != 0).then_some(rec.time_last);
        self.observe(&rec.rrname, &rec.rrtype, &rec.rdata, ts_first, 0);
        self.observe(&rec.rrname, &rec.rrtype, &rec.rdata, ts_last, rec.count);
    }

    fn observe(&mut self, rrname: &str, rrtype: &str, rdata: &str, ts: Option<u64>, n: u64) {
        let types = match self.map.get_mut(rrname) {
            Some(t) => t,
            None => self.map.entry(rrname.to_string()).or_default(),
        };
        let datas = match types.get_mut(rrtype) {
            Some(d) => d,
            None => types.entry(intern_rrtype(rrtype)).or_default(),
        };
        let seen = match datas.get_mut(rdata) {
            Some(s) => s,
            None => datas.entry(rdata.to_string()).or_default(),
        };
        if let Some(t) = ts {
            seen.first = Some(seen.first.map_or(t, |f| f.min(t)));
            seen.last = Some(seen.last.map_or(t, |l| l.max(t)));
        }
        seen.count = seen.count.saturating_add(n);
    }

    /// Number of distinct records.
    pub fn len(&self) -> usize {
        self.map
            .values()
            .flat_map(|t| t.values())
            .map(BTreeMap::len)
            .sum()
    }

    /// Whether no record was collected.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The records, sorted by rrname, rrtype and rdata.
    pub fn records(&self, sensor_id: Option<&str>, origin: Option<&str>) -> Vec<CofRecord> {
        let mut out = Vec::new();
        for (rrname, types) in &self.map {
            for (rrtype, datas) in types {
                for (rdata, seen) in datas {
                    out.push(CofRecord {
                        rrname: rrname.clone(),
                        rrtype: (*rrtype).to_string(),
                        rdata: rdata.clone(),
                        time_first: seen.first.unwrap_or(0),
                        time_last: seen.last.unwrap_or(0),
                        count: seen.count,
                        bailiwick: None,
                        sensor_id: sensor_id.map(str::to_string),
                        origin: origin.map(str::to_string),
                    });
                }
            }
        }
        out
    }

    /// Writes the records as COF NDJSON, sorted by rrname, rrtype and rdata.
    pub fn write(
        &self,
        out: &mut dyn Write,
        sensor_id: Option<&str>,
        origin: Option<&str>,
    ) -> io::Result<()> {
        write_records(out, &self.records(sensor_id, origin))
    }
}

/// A record type as a map key: the common mnemonics borrowed, others owned.
fn intern_rrtype(s: &str) -> Cow<'static, str> {
    const KNOWN: &[&str] = &["A", "AAAA", "CNAME", "NS", "PTR", "MX"];
    match KNOWN.iter().find(|k| **k == s) {
        Some(k) => Cow::Borrowed(k),
        None => Cow::Owned(s.to_string()),
    }
}

/// Whole seconds of a Zeek time value.
fn ts_secs(ts: Ts) -> Option<u64> {
    float_secs(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src() -> Arc<str> {
        Arc::from("test.ndjson")
    }

    fn dns<'a>(ts: f64, query: &'a str, qtype: &'a str, answers: &[&'a str]) -> Dns<'a> {
        Dns {
            ts: Some(ts),
            query: Some(Cow::Borrowed(query)),
            qtype_name: Some(Cow::Borrowed(qtype)),
            answers: answers.iter().map(|a| Cow::Borrowed(*a)).collect(),
            ..Dns::default()
        }
    }

    #[test]
    fn reads_string_and_array_rdata_numeric_rrtype_unknown_fields() {
        let input = br#"{"rrname":"Example.COM.","rrtype":"A","rdata":"192.0.2.1","time_first":1500000000,"time_last":1500000100,"count":3,"zone":"x"}
{"rrname":"example.com","rrtype":28,"rdata":["2001:DB8::1","::ffff:192.0.2.9"],"time_first":"1","time_last":2.5}

{"rrname":"example.com","rrtype":"ns","rdata":"NS1.Example.com.","time_first":1,"time_last":1,"count":1,"sensor_id":"s1","origin":"o"}
"#;
        let mut diags = Vec::new();
        let recs = parse_reader(src(), &input[..], &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[0].rrname, "example.com");
        assert_eq!(recs[0].count, 3);
        assert_eq!(recs[1].rrtype, "AAAA");
        assert_eq!(recs[1].rdata, "2001:db8::1");
        assert_eq!(recs[2].rdata, "192.0.2.9");
        assert_eq!(
            (recs[2].time_first, recs[2].time_last, recs[2].count),
            (1, 2, 1)
        );
        assert_eq!(recs[3].rrtype, "NS");
        assert_eq!(recs[3].rdata, "ns1.example.com");
        assert_eq!(recs[3].sensor_id.as_deref(), Some("s1"));
        assert_eq!(recs[3].origin.as_deref(), Some("o"));
    }

    #[test]
    fn bad_lines_become_diagnostics_and_reading_goes_on() {
        let input = b"{not json\n[1,2]\n{\"rrname\":\"a.com\"}\n{\"rrname\":\"a.com\",\"rrtype\":\"A\",\"rdata\":5,\"time_first\":1,\"time_last\":1}\n{\"rrname\":\"a.com\",\"rrtype\":70000,\"rdata\":\"x\",\"time_first\":1,\"time_last\":1}\n{\"rrname\":\"a.com\",\"rrtype\":\"A\",\"rdata\":\"192.0.2.1\",\"time_first\":5,\"time_last\":1}\n\xff\xfe\n{\"rrname\":\"ok.com\",\"rrtype\":\"A\",\"rdata\":\"192.0.2.1\",\"time_first\":1,\"time_last\":1}";
        let mut diags = Vec::new();
        let recs = parse_reader(src(), &input[..], &mut diags);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].rrname, "ok.com");
        let places: Vec<String> = diags.iter().map(|d| d.location.to_string()).collect();
        assert_eq!(
            places,
            [
                "test.ndjson:1",
                "test.ndjson:2",
                "test.ndjson:3",
                "test.ndjson:4",
                "test.ndjson:5",
                "test.ndjson:6",
                "test.ndjson:7"
            ]
        );
    }

    #[test]
    fn collector_merges_and_types_answers() {
        let mut c = PdnsCollector::new();
        c.add(&dns(
            100.5,
            "www.Example.com",
            "A",
            &["edge.example.net", "192.0.2.1", "TXT 3 abc"],
        ));
        c.add(&dns(50.0, "www.example.com.", "A", &["192.0.2.1"]));
        c.add(&dns(70.0, "example.com", "NS", &["ns1.example.com"]));
        c.add(&dns(
            70.0,
            "1.2.0.192.in-addr.arpa",
            "PTR",
            &["host.example.com"],
        ));
        c.add(&dns(80.0, "v6.example.com", "AAAA", &["2001:db8::1"]));
        c.add(&dns(80.0, "t.example.com", "TXT", &["some-text"]));
        let recs = c.records(Some("sensor"), None);
        let keys: Vec<(&str, &str, &str)> = recs.iter().map(CofRecord::key).collect();
        assert_eq!(
            keys,
            [
                ("1.2.0.192.in-addr.arpa", "PTR", "host.example.com"),
                ("example.com", "NS", "ns1.example.com"),
                ("v6.example.com", "AAAA", "2001:db8::1"),
                ("www.example.com", "A", "192.0.2.1"),
                ("www.example.com", "CNAME", "edge.example.net"),
            ]
        );
        let a = &recs[3];
        assert_eq!((a.time_first, a.time_last, a.count), (50, 100, 2));
        assert_eq!(a.sensor_id.as_deref(), Some("sensor"));
    }

    #[test]
    fn export_reads_back_to_same_records() {
        let mut c = PdnsCollector::new();
        c.add(&dns(1.0, "a.example", "A", &["192.0.2.1", "192.0.2.2"]));
        c.add(&dns(9.0, "a.example", "A", &["192.0.2.1"]));
        let mut out = Vec::new();
        c.write(&mut out, Some("s"), Some("captriage")).unwrap();
        let mut diags = Vec::new();
        let back = parse_reader(src(), &out[..], &mut diags);
        assert!(diags.is_empty());
        assert_eq!(back, c.records(Some("s"), Some("captriage")));
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","time_first":1,"time_last":9,"count":2,"sensor_id":"s","origin":"captriage"}"#
        );
    }

    #[test]
    fn add_record_merges_across_sources() {
        let mut c = PdnsCollector::new();
        c.add(&dns(10.0, "a.example", "A", &["192.0.2.1"]));
        let mut diags = Vec::new();
        let old = parse_reader(
            src(),
            &br#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","time_first":3,"time_last":5,"count":4}"#[..],
            &mut diags,
        );
        c.add_record(&old[0]);
        let recs = c.records(None, None);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            (recs[0].time_first, recs[0].time_last, recs[0].count),
            (3, 10, 5)
        );
    }

    #[test]
    fn every_prefix_of_a_line_is_safe() {
        let line = br#"{"rrname":"a.example","rrtype":["A"],"rdata":["192.0.2.1",1],"time_first":1e30,"time_last":-1,"count":"x"}"#;
        for i in 0..=line.len() {
            let mut diags = Vec::new();
            let _ = parse_reader(src(), &line[..i], &mut diags);
        }
    }
}
