//! The shipped default indicators and whitelist (`iocs/`, `whitelists/` at the repository root),
//! compiled into the binary so it works from any directory.
//!
//! The files are TinyCheck JSON with one entry per line, built by
//! `scripts/build-default-intel.py` from the corpus snapshot; `iocs/README.md` and
//! `whitelists/README.md` say what came from where, under which licence and as of which commit.
//! Locations read `iocs/tinycheck.json:LINE`. Whether the defaults are used (`--no-default-intel`)
//! is the caller's decision.

use super::formats::{IocFormat, IocInput};
use super::tinycheck::{parse_iocs_str, parse_whitelist_str};
use super::{IntelBuilder, WhitelistBuilder};
use std::sync::Arc;

/// The shipped indicator files: (name used in locations, content).
pub const IOC_FILES: [(&str, &str); 4] = [
    (
        "iocs/tinycheck.json",
        include_str!("../../iocs/tinycheck.json"),
    ),
    (
        "iocs/stalkerware.json",
        include_str!("../../iocs/stalkerware.json"),
    ),
    (
        "iocs/maltrail-freedns.json",
        include_str!("../../iocs/maltrail-freedns.json"),
    ),
    (
        "iocs/maltrail-tld.json",
        include_str!("../../iocs/maltrail-tld.json"),
    ),
];

/// The shipped whitelist files: (name used in locations, content).
pub const WHITELIST_FILES: [(&str, &str); 2] = [
    (
        "whitelists/tinycheck.json",
        include_str!("../../whitelists/tinycheck.json"),
    ),
    (
        "whitelists/ipv6.json",
        include_str!("../../whitelists/ipv6.json"),
    ),
];

/// Adds the shipped indicators to `ib` and the shipped whitelist to `wb`.
pub fn load_defaults(ib: &mut IntelBuilder, wb: &mut WhitelistBuilder) -> anyhow::Result<()> {
    for (name, text) in IOC_FILES {
        parse_iocs_str(&Arc::from(name), text, ib)?;
    }
    load_default_whitelist(wb)
}

/// The shipped indicator files as inputs for [`super::formats::load_inputs`], which loads them
/// beside the user's files.
pub fn ioc_inputs<'a>() -> impl Iterator<Item = IocInput<'a>> {
    IOC_FILES.into_iter().map(|(name, text)| IocInput::Text {
        name,
        text,
        format: IocFormat::Tinycheck,
    })
}

/// Adds the shipped whitelist to `wb`.
pub fn load_default_whitelist(wb: &mut WhitelistBuilder) -> anyhow::Result<()> {
    for (name, text) in WHITELIST_FILES {
        parse_whitelist_str(&Arc::from(name), text, wb)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intel::IocType;

    #[test]
    fn defaults_load_cleanly_without_trackers() {
        let mut ib = IntelBuilder::new();
        let mut wb = WhitelistBuilder::new();
        load_defaults(&mut ib, &mut wb).unwrap();
        assert!(ib.rejected().is_empty(), "{:?}", ib.rejected());
        assert!(wb.rejected().is_empty(), "{:?}", wb.rejected());
        let intel = ib.build();
        let wl = wb.build();
        assert!(intel.indicators().iter().all(|i| !i.has_tracker()));
        // Echap stalkerware domain, also in TinyCheck's bundle: both sources kept.
        let copy9 = intel.domains("copy9.com");
        assert_eq!(copy9.len(), 1);
        let sources: Vec<String> = copy9[0]
            .provenance
            .iter()
            .map(|p| p.location.source.to_string())
            .collect();
        assert!(sources.contains(&"iocs/tinycheck.json".to_string()));
        assert!(sources.contains(&"iocs/stalkerware.json".to_string()));
        assert!(!intel.freedns("x.duckdns.org").is_empty());
        assert!(!intel.tlds("shop.something.xyz").is_empty());
        assert!(
            intel
                .stats()
                .per_type
                .get(&IocType::Ns)
                .copied()
                .unwrap_or(0)
                > 0
        );
        for ip in ["ff02::fb", "fe80::1", "fd00::5", "192.168.1.1"] {
            assert!(wl.ip(ip.parse().unwrap()).is_some(), "{ip}");
        }
        assert!(wl.name("gateway.icloud.com").is_some());
    }
}
