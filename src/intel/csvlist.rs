//! CSV indicator lists with a header row naming the columns (read with the `csv` crate).
//!
//! The value column is the first of `value`, `indicator`, `ioc`, `element`, `observable`; the
//! type column `type`, `indicator_type` or `ioc_type`; the tag column `tag`, `tags`, `app`,
//! `category`, `family` or `threat` (several tags separated by `;` or `|`); `tlp` is kept.
//! Header names are matched case-insensitively. Type names are TinyCheck's plus common aliases
//! (`ipv4`, `ip`, `ipv6`, `hostname`, `url`, `sha1`, `sha256`, MISP's and Zeek's names); an
//! empty or `unknown` type is inferred as for plain lists ([`super::plain::classify`]). The
//! Echap `network.csv` (`type,indicator,app`) reads as is, as does `intel export --format csv`.

use super::plain::{classify, url_host};
use super::text::read_text;
use super::{IntelBuilder, IocType, TypeSpec, source_name};
use crate::model::Location;
use anyhow::Context;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Loads a CSV list into `b`.
pub fn load(path: &Path, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_reader(source_name(path), BufReader::new(f), b)
}

/// True when `header` (a first line) names a value column: used to detect the format.
pub fn looks_like_header(header: &str) -> bool {
    header.contains(',')
        && header
            .split(',')
            .any(|h| VALUE_COLS.contains(&h.trim().trim_matches('"').to_ascii_lowercase().as_str()))
}

const VALUE_COLS: [&str; 5] = ["value", "indicator", "ioc", "element", "observable"];
const TYPE_COLS: [&str; 3] = ["type", "indicator_type", "ioc_type"];
const TAG_COLS: [&str; 6] = ["tag", "tags", "app", "category", "family", "threat"];

/// Reads a CSV list from `r`; `source` names it in locations.
pub fn parse_reader(source: Arc<str>, r: impl Read, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        Err(e) => anyhow::bail!("{source}: unreadable CSV header: {e}"),
    };
    let find = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.iter().position(|h| h == n))
    };
    let Some(value_col) = find(&VALUE_COLS) else {
        b.invalid(
            Location::line(&source, 1),
            format!("no value column in the header (want one of {VALUE_COLS:?}); file skipped"),
        );
        return Ok(());
    };
    let type_col = find(&TYPE_COLS);
    let tag_col = find(&TAG_COLS);
    let tlp_col = find(&["tlp"]);
    let mut record = csv::StringRecord::new();
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let at = e.position().map(|p| p.line()).unwrap_or(line);
                b.invalid(
                    Location::line(&source, at),
                    format!("unreadable CSV row: {e}"),
                );
                continue;
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line);
        let loc = Location::line(&source, line);
        let get = |c: Option<usize>| c.and_then(|i| record.get(i)).map(str::trim);
        let value = get(Some(value_col)).unwrap_or("");
        if value.is_empty() {
            b.invalid(loc, "missing value");
            continue;
        }
        let typed = match get(type_col).filter(|t| !t.is_empty()) {
            None => classify(value),
            Some(t) => typed(t, value),
        };
        let (kind, v) = match typed {
            Ok(x) => x,
            Err(msg) => {
                b.invalid(loc, msg);
                continue;
            }
        };
        let tlp = get(tlp_col).filter(|t| !t.is_empty());
        let tags: Vec<&str> = get(tag_col)
            .unwrap_or("")
            .split([';', '|'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        if tags.is_empty() {
            b.add(TypeSpec::Known(kind), &v, None, tlp, loc);
        } else {
            for tag in tags {
                b.add(TypeSpec::Known(kind), &v, Some(tag), tlp, loc.clone());
            }
        }
    }
    Ok(())
}

/// Maps a type name and value to a captriage type (the builder validates the value).
fn typed(name: &str, value: &str) -> Result<(IocType, String), String> {
    let lower = name.to_ascii_lowercase();
    let v = value.to_string();
    let kind = match lower.as_str() {
        "unknown" => return classify(value),
        "ip" | "ipv4" | "ip4" | "ipv6" | "ip6" | "ip-dst" | "ip-src" | "address" | "addr"
        | "intel::addr" => {
            return match crate::names::parse_addr(value) {
                Some(ip) if ip.is_ipv4() => Ok((IocType::Ip4addr, v)),
                Some(_) => Ok((IocType::Ip6addr, v)),
                None if value.contains('/') => Ok((IocType::Cidr, v)),
                None => Err(format!("invalid address {value:?}")),
            };
        }
        "subnet" | "network" | "intel::subnet" => IocType::Cidr,
        "hostname" | "fqdn" | "host" | "domain-name" | "intel::domain" => IocType::Domain,
        "url" | "uri" | "link" => {
            let host = url_host(value);
            return match classify(host) {
                Ok((k @ (IocType::Ip4addr | IocType::Ip6addr | IocType::Domain), h)) => Ok((k, h)),
                _ => Err(format!("no host in URL {value:?}")),
            };
        }
        "sha1" | "x509-fingerprint-sha1" => IocType::Sha1cert,
        "sha256" | "x509-fingerprint-sha256" => IocType::Sha256cert,
        other => IocType::from_name(other).ok_or_else(|| format!("unknown type {name:?}"))?,
    };
    Ok((kind, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_types_tags_and_bad_rows() {
        let text = "Type,Indicator,App\ndomain,copy9.com,TheTruthSpy\nipv4,69.64.74.239,TheTruthSpy\n\"url\",\"https://x.example/a\",\"A;B\"\nbogus,y.example,C\nipv4,999.1.1.1,D\n,,\n";
        let mut b = IntelBuilder::new();
        parse_reader(Arc::from("n.csv"), text.as_bytes(), &mut b).unwrap();
        let diags: Vec<String> = b.rejected().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            diags,
            vec![
                "n.csv:5: unknown type \"bogus\"",
                "n.csv:6: invalid address \"999.1.1.1\"",
                "n.csv:7: missing value",
            ]
        );
        let intel = b.build();
        assert_eq!(intel.domains("copy9.com")[0].tags(), vec!["thetruthspy"]);
        assert_eq!(intel.domains("x.example")[0].tags(), vec!["a", "b"]);
        assert_eq!(intel.addr("69.64.74.239".parse().unwrap()).len(), 1);
        assert!(looks_like_header("type,indicator,app"));
        assert!(!looks_like_header("evil.example"));
    }

    #[test]
    fn no_value_column() {
        let mut b = IntelBuilder::new();
        parse_reader(Arc::from("n.csv"), &b"a,b\n1,2\n"[..], &mut b).unwrap();
        assert_eq!(b.rejected().len(), 1);
    }
}
