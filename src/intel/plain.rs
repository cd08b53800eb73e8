//! Plain indicator lists: one indicator per line, the way RITA custom feeds, maltrail trails and
//! hosts-style blocklists are written.
//!
//! A line is `value [tag]`: blank lines and lines starting with `#` are skipped, a trailing
//! comment (`#` after whitespace) is dropped, and an optional second column (after whitespace, a
//! tab or a comma) is the tag. A hosts-file line (`0.0.0.0 name`, `127.0.0.1 name`) lists `name`.
//! Values carry no type, so [`classify`] infers it: address, CIDR, SHA-1/SHA-256 (by length),
//! domain; `ip:port` keeps the address; a URL (with or without scheme) reduces to its host; a
//! leading-dot suffix is a tld when it has one label (`.xyz`) and a domain otherwise (`.eu.org`).
//! Anything else (maltrail's bare paths, `182.86.133:8880`) is a `file:line` diagnostic.

use super::text::read_text;
use super::{IntelBuilder, IocType, infer_normalized, normalize_value, source_name};
use crate::model::Location;
use crate::names::parse_addr;
use anyhow::Context;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;

/// Loads a plain list into `b`.
pub fn load(path: &Path, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let f = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    parse_reader(source_name(path), BufReader::new(f), b)
}

/// Reads a plain list from `r`; `source` names it in locations.
pub fn parse_reader(source: Arc<str>, r: impl Read, b: &mut IntelBuilder) -> anyhow::Result<()> {
    let text = read_text(r, &source)?;
    parse_str(&source, &text, b);
    Ok(())
}

/// Reads a plain list held in memory.
pub fn parse_str(source: &Arc<str>, text: &str, b: &mut IntelBuilder) {
    b.reserve(
        IocType::Domain,
        memchr::memchr_iter(b'\n', text.as_bytes()).count(),
    );
    for (n, line) in text.lines().enumerate() {
        let Some((value, tag)) = split_line(line) else {
            continue;
        };
        let loc = Location::line(source, n as u64 + 1);
        match classify(value) {
            Ok((kind, v)) => {
                b.add_normalized(kind, v, tag, None, loc);
            }
            Err(msg) => b.invalid(loc, msg),
        }
    }
}

/// The value and optional tag of a line; `None` for blank and comment lines.
fn split_line(line: &str) -> Option<(&str, Option<&str>)> {
    let mut body = line.trim();
    if body.is_empty() || body.starts_with('#') {
        return None;
    }
    if let Some(i) = body
        .char_indices()
        .find(|&(i, c)| c == '#' && i > 0 && body[..i].ends_with([' ', '\t']))
        .map(|(i, _)| i)
    {
        body = body[..i].trim_end();
    }
    let mut parts = body
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty());
    let first = parts.next()?;
    let second = parts.next();
    if matches!(first, "0.0.0.0" | "127.0.0.1" | "::" | "::1")
        && let Some(name) = second
    {
        return Some((name, None));
    }
    Some((first, second))
}

/// The host part of a URL or `host/path` (scheme, user info, port, path, query dropped).
pub fn url_host(raw: &str) -> &str {
    let t = raw.trim();
    let rest = match t.find("://") {
        Some(i) => t.get(i + 3..).unwrap_or(""),
        None => t,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = rest.get(..end).unwrap_or("");
    let host = auth.rsplit_once('@').map(|(_, h)| h).unwrap_or(auth);
    if let Some(inner) = host.strip_prefix('[') {
        return inner.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') && port.bytes().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Infers the type of an untyped value (see the module doc). Returns the type and the value,
/// normalised for that type.
pub fn classify(raw: &str) -> Result<(IocType, String), String> {
    let t = raw.trim();
    if t.is_empty() {
        return Err("missing value".into());
    }
    if let Some((k, v)) = infer_normalized(t).filter(|(k, v)| plausible(*k, v)) {
        return Ok((k, v));
    }
    if let Some(rest) = t.strip_prefix('.') {
        if let Ok(v) = normalize_value(IocType::Tld, rest) {
            return Ok((IocType::Tld, v));
        }
        if let Some((k, v)) =
            infer_normalized(rest).filter(|(k, v)| *k == IocType::Domain && plausible(*k, v))
        {
            return Ok((k, v));
        }
    }
    let host = url_host(t);
    if host != t && !host.is_empty() {
        if let Some(ip) = parse_addr(host) {
            let k = if ip.is_ipv4() {
                IocType::Ip4addr
            } else {
                IocType::Ip6addr
            };
            return Ok((k, ip.to_string()));
        }
        if let Some((k, v)) =
            infer_normalized(host).filter(|(k, v)| *k == IocType::Domain && plausible(*k, v))
        {
            return Ok((k, v));
        }
    }
    Err(format!("{t:?} is no address, network, hash, domain or URL"))
}

/// A domain whose last label is all digits is a truncated address, not a name.
fn plausible(kind: IocType, value: &str) -> bool {
    kind != IocType::Domain
        || !value
            .trim_end_matches('.')
            .rsplit('.')
            .next()
            .is_some_and(|l| l.bytes().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maltrail_shapes() {
        let ok = |raw: &str, k: IocType, v: &str| {
            assert_eq!(classify(raw), Ok((k, v.to_string())), "{raw}");
        };
        ok("evil.example", IocType::Domain, "evil.example");
        ok("1.2.3.4", IocType::Ip4addr, "1.2.3.4");
        ok("1.2.3.4:8080", IocType::Ip4addr, "1.2.3.4");
        ok("10.0.0.0/8", IocType::Cidr, "10.0.0.0/8");
        ok("http://Bad.example:81/x?y", IocType::Domain, "bad.example");
        ok("bad.example/gate.php", IocType::Domain, "bad.example");
        ok("http://[2001:db8::1]:80/", IocType::Ip6addr, "2001:db8::1");
        ok(".xyz", IocType::Tld, "xyz");
        ok(".eu.org", IocType::Domain, "eu.org");
        ok(&"ab".repeat(32), IocType::Sha256cert, &"ab".repeat(32));
        assert!(classify("/w00tw00t.at.ISC.SANS.DFind:)").is_err());
        assert!(classify("182.86.133:8880").is_err());
    }

    #[test]
    fn lines_comments_tags_and_hosts() {
        let text = "# header\n\nevil.example  # was: other\n1.2.3.4,c2\n0.0.0.0 blocked.example\n/only/a/path\n";
        let mut b = IntelBuilder::new();
        parse_str(&Arc::from("l.txt"), text, &mut b);
        let diags: Vec<String> = b.rejected().iter().map(|d| d.to_string()).collect();
        assert_eq!(
            diags,
            vec!["l.txt:6: \"/only/a/path\" is no address, network, hash, domain or URL"]
        );
        let intel = b.build();
        assert_eq!(
            intel.domains("evil.example")[0].provenance[0]
                .location
                .to_string(),
            "l.txt:3"
        );
        assert_eq!(intel.addr("1.2.3.4".parse().unwrap())[0].tags(), vec!["c2"]);
        assert_eq!(intel.domains("blocked.example").len(), 1);
    }
}
