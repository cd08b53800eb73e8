//! Name and address normalisation and the domain tests of RULES.md §2.
//!
//! Every name from a log, a capture, an indicator, the whitelist, the config or a side file goes
//! through [`normalize_name`] (HTTP Host values through [`normalize_host`]) before it is compared
//! or shown; addresses go through [`parse_addr`]. The domain tests [`covers`], [`under`] and
//! [`in_tld`] work on normalised names only. This module holds no state.

use std::net::{IpAddr, Ipv6Addr};

/// Normalises a name: trim, lower-case, drop one trailing dot, IDNA A-labels (UTS #46,
/// non-transitional). A name that fails the conversion keeps its lower-cased form. Returns `None`
/// when nothing is left.
pub fn normalize_name(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.is_ascii() {
        return Some(trimmed.to_ascii_lowercase());
    }
    let lower = trimmed.to_lowercase();
    match idna::domain_to_ascii(&lower) {
        Ok(ascii) if !ascii.is_empty() => Some(ascii),
        _ => Some(lower),
    }
}

/// [`normalize_name`], borrowing `raw` when it is already normal (ASCII, no upper case, no
/// surrounding white space or trailing dot), as names in Zeek's logs nearly always are.
pub fn normalize_name_cow(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    let trimmed = raw.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if !trimmed.is_empty()
        && trimmed
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        return Some(std::borrow::Cow::Borrowed(trimmed));
    }
    normalize_name(raw).map(std::borrow::Cow::Owned)
}

/// Like [`normalize_name`] for bytes that may not be UTF-8: invalid UTF-8 keeps its lossy,
/// lower-cased form and only ever matches literally.
pub fn normalize_name_bytes(raw: &[u8]) -> Option<String> {
    match std::str::from_utf8(raw) {
        Ok(s) => normalize_name(s),
        Err(_) => {
            let lossy = String::from_utf8_lossy(raw);
            let t = lossy.trim();
            let t = t.strip_suffix('.').unwrap_or(t);
            (!t.is_empty()).then(|| t.to_lowercase())
        }
    }
}

/// What an HTTP `Host` header names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum HostValue {
    /// An IPv4 literal or bracketed IPv6 literal, with or without `:port`.
    Addr(IpAddr),
    /// A normalised name (a trailing `:digits` dropped).
    Name(String),
}

/// Normalises an HTTP `Host` value (RULES.md §2 step 1). `None` when nothing is left.
pub fn normalize_host(raw: &str) -> Option<HostValue> {
    let t = raw.trim();
    if let Some(rest) = t.strip_prefix('[')
        && let Some((inner, after)) = rest.split_once(']')
        && (after.is_empty() || is_port_suffix(after))
        && let Some(ip) = parse_addr(inner)
    {
        return Some(HostValue::Addr(ip));
    }
    let without_port = match t.rfind(':') {
        Some(i) if is_port_suffix(&t[i..]) && !t[..i].contains(':') => &t[..i],
        _ => t,
    };
    if let Ok(v4) = without_port.parse::<std::net::Ipv4Addr>() {
        return Some(HostValue::Addr(IpAddr::V4(v4)));
    }
    if let Ok(v6) = t.parse::<Ipv6Addr>() {
        return Some(HostValue::Addr(canonical_ip(IpAddr::V6(v6))));
    }
    normalize_name(without_port).map(HostValue::Name)
}

fn is_port_suffix(s: &str) -> bool {
    s.strip_prefix(':')
        .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Parses an address: trims, drops a `%zone` suffix, maps `::ffff:a.b.c.d` to IPv4.
pub fn parse_addr(raw: &str) -> Option<IpAddr> {
    // Most addresses in logs are plain dotted quads.
    if let Some(v4) = dotted_quad(raw.as_bytes()) {
        return Some(IpAddr::V4(v4));
    }
    let t = raw.trim();
    // Addresses are short: a plain scan costs less than starting a vector search.
    let t = match t.bytes().position(|b| b == b'%') {
        Some(i) => t.get(..i)?,
        None => t,
    };
    if !t.bytes().any(|b| b == b':') {
        // Without a colon only an IPv4 address can parse, which `dotted_quad` decides exactly
        // (names, the common case here, are refused without the standard parser's attempt at
        // IPv6).
        return dotted_quad(t.as_bytes()).map(IpAddr::V4);
    }
    t.parse::<IpAddr>().ok().map(canonical_ip)
}

/// `raw` as an IPv4 address when it is what `Ipv4Addr::from_str` accepts: four decimal octets
/// of one to three digits, each at most 255, without leading zeros, separated by dots.
fn dotted_quad(raw: &[u8]) -> Option<std::net::Ipv4Addr> {
    if raw.len() < 7 || raw.len() > 15 {
        return None;
    }
    let digit = |i: usize| {
        raw.get(i)
            .map(|b| b.wrapping_sub(b'0'))
            .filter(|d| *d <= 9)
            .map(u32::from)
    };
    let mut octets = [0u8; 4];
    let mut i = 0;
    // Octet by octet, unrolled: a loop over the bytes with a state per byte cost twice as much.
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if raw.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut v = digit(i)?;
        i += 1;
        if let Some(d) = digit(i) {
            // No digit after a leading zero.
            if v == 0 {
                return None;
            }
            v = v * 10 + d;
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + d;
                i += 1;
            }
        }
        *octet = u8::try_from(v).ok()?;
    }
    (i == raw.len()).then(|| std::net::Ipv4Addr::from(octets))
}

/// Maps an IPv4-mapped IPv6 address to its IPv4 address; other addresses unchanged.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// `n = e`, or `n` ends with `.` + `e`.
pub fn covers(e: &str, n: &str) -> bool {
    n == e || under(e, n)
}

/// `n` ends with `.` + `e` (strictly below `e`).
pub fn under(e: &str, n: &str) -> bool {
    n.len() > e.len() + 1
        && n.ends_with(e)
        && n.as_bytes().get(n.len() - e.len() - 1) == Some(&b'.')
}

/// `n` ends with `.` + `t`, `t` given without its dot.
pub fn in_tld(t: &str, n: &str) -> bool {
    under(t, n)
}

/// The suffixes of a name that [`covers`] could match, longest first: `a.b.c`, `b.c`, `c`.
pub fn suffixes(n: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(n);
    std::iter::from_fn(move || {
        let cur = next?;
        next = cur.find('.').map(|i| &cur[i + 1..]);
        Some(cur)
    })
}

/// One label as RULES.md §6 allows: 1-63 lower-case letters, digits, `-` or `_`.
pub fn valid_label(label: &str) -> bool {
    !label.is_empty() && label.len() <= 63 && label.bytes().all(label_byte)
}

/// A byte a label may hold: a lower-case letter, a digit, `-` or `_`.
fn label_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
}

/// A valid domain indicator value (RULES.md §6): two labels or more, each valid, at most 253
/// characters, not an IP literal. Expects a normalised name.
///
/// One pass over the bytes: a name made of such labels has no `:`, so the only IP literal it
/// can be is a dotted quad, which `dotted_quad` decides exactly as the standard parser.
pub fn valid_domain(n: &str) -> bool {
    if n.len() > 253 {
        return false;
    }
    let (mut label, mut dots) = (0usize, 0usize);
    for b in n.bytes() {
        if b == b'.' {
            if label == 0 {
                return false;
            }
            dots += 1;
            label = 0;
        } else if label_byte(b) {
            label += 1;
            if label > 63 {
                return false;
            }
        } else {
            return false;
        }
    }
    dots > 0 && label > 0 && dotted_quad(n.as_bytes()).is_none()
}

/// A valid host name for rules that need a DNS name (certificate CN): same as [`valid_domain`].
pub fn is_dns_name(n: &str) -> bool {
    valid_domain(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_quads_agree_with_the_standard_library() {
        let mut cases: Vec<String> = [
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.02.3.4",
            "1.2.3.04",
            "1.2.3.0",
            "1.2.3",
            "1.2.3.4.5",
            "1..3.4",
            ".1.2.3",
            "1.2.3.4.",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3.+4",
            "1.2.3.-4",
            "1.2.3.a",
            "1000.2.3.4",
            "10.0.0.1",
            "",
            "::1",
            "1.2.3.٤",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for a in [0u32, 1, 9, 10, 99, 100, 199, 200, 249, 250, 255, 256, 999] {
            cases.push(format!("{a}.{a}.1.{a}"));
            cases.push(format!("0{a}.1.1.1"));
        }
        // Random quads of octets up to 299 (some with a leading zero, some with three or five
        // parts), half of them with one byte then changed to a digit or a dot.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..100_000 {
            let parts = [3, 5, 4, 4, 4, 4, 4, 4][(next() % 8) as usize];
            let mut s: Vec<u8> = Vec::new();
            for p in 0..parts {
                if p > 0 {
                    s.push(b'.');
                }
                let r = next();
                if r % 16 == 0 {
                    s.push(b'0');
                }
                s.extend((r / 16 % 300).to_string().bytes());
            }
            let r = next();
            if r % 2 == 0
                && let Some(c) = s.get_mut((r / 2) as usize % 16)
            {
                *c = b"0123456789.."[(r / 32 % 12) as usize];
            }
            cases.push(String::from_utf8(s).unwrap());
        }
        let mut valid = 0;
        for s in &cases {
            let got = dotted_quad(s.as_bytes());
            assert_eq!(got, s.parse::<std::net::Ipv4Addr>().ok(), "{s:?}");
            valid += usize::from(got.is_some());
        }
        assert!(valid > 20_000, "{valid} valid addresses");
        // parse_addr refuses what has no colon without the standard parser: it must answer as
        // the parser does on the trimmed, zone-less text.
        cases.extend(
            [
                " 10.1.2.3\t",
                "10.1.2.3%eth0",
                "edge0.cdn0.net",
                "TXT 12 hello",
                "1.2.3.4%",
                "%1.2.3.4",
                "fe80::1%eth0",
                "::",
                " ::ffff:10.0.0.1 ",
                "1:2",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        for s in &cases {
            let t = s.trim();
            let t = t.split('%').next().unwrap_or(t);
            let expected = t.parse::<IpAddr>().ok().map(canonical_ip);
            assert_eq!(parse_addr(s), expected, "{s:?}");
        }
    }

    #[test]
    fn normalises_case_dot_and_idna() {
        assert_eq!(
            normalize_name(" API.Evil-C2.com. ").as_deref(),
            Some("api.evil-c2.com")
        );
        assert_eq!(
            normalize_name("bücher.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(normalize_name("."), None);
        assert_eq!(normalize_name(""), None);
    }

    #[test]
    fn host_header_forms() {
        assert_eq!(
            normalize_host("panel.spyhttp.com:8080"),
            Some(HostValue::Name("panel.spyhttp.com".into()))
        );
        assert_eq!(
            normalize_host("1.2.3.4:80"),
            Some(HostValue::Addr("1.2.3.4".parse().unwrap()))
        );
        assert_eq!(
            normalize_host("[2001:DB8::1]:443"),
            Some(HostValue::Addr("2001:db8::1".parse().unwrap()))
        );
        assert_eq!(
            normalize_host("2001:db8::1"),
            Some(HostValue::Addr("2001:db8::1".parse().unwrap()))
        );
    }

    #[test]
    fn addresses_are_canonical() {
        assert_eq!(
            parse_addr("::ffff:1.2.3.4"),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(parse_addr("fe80::1%eth0"), Some("fe80::1".parse().unwrap()));
        assert_eq!(
            parse_addr("2001:DB8:0::1")
                .map(|a| a.to_string())
                .as_deref(),
            Some("2001:db8::1")
        );
    }

    #[test]
    fn label_boundaries() {
        assert!(covers("evil-c2.com", "evil-c2.com"));
        assert!(covers("evil-c2.com", "api.evil-c2.com"));
        assert!(!covers("evil-c2.com", "notevil-c2.com"));
        assert!(under("duckdns.org", "x.duckdns.org"));
        assert!(!under("duckdns.org", "duckdns.org"));
        assert!(!under("duckdns.org", "notduckdns.org"));
        assert!(in_tld("xyz", "shop.something.xyz"));
        assert_eq!(
            suffixes("a.b.c").collect::<Vec<_>>(),
            vec!["a.b.c", "b.c", "c"]
        );
    }

    #[test]
    fn domain_validity() {
        assert!(valid_domain("evil-c2.com"));
        assert!(valid_domain("_dmarc.example.org"));
        assert!(!valid_domain("com"));
        assert!(!valid_domain("1.2.3.4"));
        assert!(!valid_domain("http://x.com/a"));
    }

    /// The definition of RULES.md §6 as written, which [`valid_domain`] computes in one pass.
    fn valid_domain_as_specified(n: &str) -> bool {
        n.len() <= 253
            && n.contains('.')
            && n.split('.').all(valid_label)
            && n.parse::<IpAddr>().is_err()
    }

    #[test]
    fn one_pass_domain_check_agrees_with_the_specification() {
        let label63 = "a".repeat(63);
        let mut cases: Vec<String> = [
            "",
            ".",
            "..",
            "a",
            "a.",
            ".a",
            "a..b",
            "a.b",
            "a.b.",
            "ab.cd.ef",
            "A.b",
            "a b.c",
            "a-b.c_d",
            "-.-",
            "_._",
            "1.2.3.4",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3",
            "256.1.1.1",
            "1.2.3.04",
            "::1",
            "a:b.c",
            "é.com",
            "xn--bcher-kva.de",
            "1.2.3.4a",
            "0.0.0.0",
            "255.255.255.255",
            "host0.example0.com",
            "edge1.cdn1.net",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.push(format!("{label63}.com"));
        cases.push(format!("a{label63}.com"));
        cases.push(format!("com.{label63}"));
        cases.push(format!("com.a{label63}"));
        let long = vec!["abc"; 64].join(".");
        for len in 250..=256 {
            cases.push(
                long.get(..len)
                    .unwrap_or_default()
                    .trim_end_matches('.')
                    .to_string(),
            );
        }
        // Short strings over an alphabet that reaches every branch, from a fixed LCG.
        let alphabet = b"a0123456789.-_:A %";
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..50_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 59) as usize;
            let s: String = (0..len)
                .map(|i| {
                    let k = (x >> (4 * i % 56)) as usize % alphabet.len();
                    char::from(alphabet.get(k).copied().unwrap_or(b'a'))
                })
                .collect();
            cases.push(s);
        }
        for c in &cases {
            assert_eq!(valid_domain(c), valid_domain_as_specified(c), "{c:?}");
        }
    }
}
