//! Registrable domains from the public suffix list (the `psl` crate, ICANN and private sections).
//!
//! [`registrable`] normalises a name (`crate::names::normalize_name`) and returns its registrable
//! domain: one label above its public suffix (`api.evil.co.uk` -> `evil.co.uk`, `x.duckdns.org`
//! -> `x.duckdns.org` because `duckdns.org` is a private-section suffix). IP literals, bare public
//! suffixes and malformed names have none. Names under a top-level domain the list does not know
//! follow the list's default rule `*` (the last label is the suffix). No state, no I/O.

use crate::names::{normalize_name, parse_addr};

/// The registrable domain of `name`, normalised, or `None` for IP literals, public suffixes and
/// names with empty labels.
pub fn registrable(name: &str) -> Option<String> {
    let raw = name.trim();
    let inner = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    if parse_addr(inner).is_some() {
        return None;
    }
    let n = normalize_name(raw)?;
    if n.len() > 253 || n.split('.').any(str::is_empty) || parse_addr(&n).is_some() {
        return None;
    }
    ::psl::domain_str(&n).map(str::to_string)
}

/// The public suffix of `name` (normalised), `None` for IP literals and malformed names.
pub fn public_suffix(name: &str) -> Option<String> {
    let n = normalize_name(name)?;
    if n.split('.').any(str::is_empty) || parse_addr(&n).is_some() {
        return None;
    }
    ::psl::suffix_str(&n).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icann_and_private_sections() {
        assert_eq!(registrable("www.google.com").as_deref(), Some("google.com"));
        assert_eq!(
            registrable("API.Evil.CO.UK.").as_deref(),
            Some("evil.co.uk")
        );
        // Private section: duckdns.org, blogspot.com and github.io are suffixes.
        assert_eq!(
            registrable("a.x.duckdns.org").as_deref(),
            Some("x.duckdns.org")
        );
        assert_eq!(registrable("me.github.io").as_deref(), Some("me.github.io"));
        assert_eq!(public_suffix("me.github.io").as_deref(), Some("github.io"));
        assert_eq!(registrable("duckdns.org"), None);
        assert_eq!(registrable("co.uk"), None);
        assert_eq!(registrable("com"), None);
    }

    #[test]
    fn ip_literals_and_garbage_rejected() {
        for bad in [
            "192.0.2.1",
            "2001:db8::1",
            "[2001:db8::1]",
            "::ffff:10.0.0.1",
            "fe80::1%eth0",
            "",
            " ",
            ".",
            "a..com",
            ".com",
        ] {
            assert_eq!(registrable(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn idna_and_unknown_tld() {
        assert_eq!(
            registrable("www.Bücher.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(
            registrable("host.corp.internal-tld").as_deref(),
            Some("corp.internal-tld")
        );
    }
}
