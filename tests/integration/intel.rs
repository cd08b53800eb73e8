//! Indicator, whitelist and settings loaders on real files: the reference cases' inputs
//! (tests/data/intel/reference-cases, see its ORIGIN.md) and the real TinyCheck and Echap
//! bundles (tests/data/intel/tinycheck, tests/data/intel/stalkerware-indicators, with their
//! ORIGIN/LICENSE/NOTICE files).

use captriage::intel::tinycheck::{load_iocs, load_whitelist};
use captriage::intel::{IntelBuilder, IocType, WhitelistBuilder};
use captriage::settings::{self, Settings};
use std::path::{Path, PathBuf};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/intel")
        .join(rel)
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data("reference-cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    assert_eq!(v.len(), 21);
    v
}

#[test]
fn every_reference_case_intel_loads_cleanly() {
    for case in cases() {
        let mut ib = IntelBuilder::new();
        let mut wb = WhitelistBuilder::new();
        if case.join("iocs.json").exists() {
            load_iocs(&case.join("iocs.json"), &mut ib).unwrap();
            load_whitelist(&case.join("whitelist.json"), &mut wb).unwrap();
        }
        // ff00::/8, rejected by TinyCheck's ingestion in bug_ipv6_whitelist_cidr_rejected, loads.
        assert!(ib.rejected().is_empty(), "{case:?}: {:?}", ib.rejected());
        assert!(wb.rejected().is_empty(), "{case:?}: {:?}", wb.rejected());
    }
}

#[test]
fn issue_2_unknown_ipv4_is_an_address() {
    // D22, bug_unknown_type_ipv4_becomes_cidr.
    let mut ib = IntelBuilder::new();
    load_iocs(
        &data("reference-cases/bug_unknown_type_ipv4_becomes_cidr/iocs.json"),
        &mut ib,
    )
    .unwrap();
    let intel = ib.build();
    let hit = intel.addr("203.0.113.66".parse().unwrap());
    assert_eq!(hit.len(), 1);
    assert_eq!(hit[0].kind, IocType::Ip4addr);
    assert!(intel.networks("203.0.113.66".parse().unwrap()).is_empty());
    let p = &hit[0].provenance[0];
    assert!(
        p.location.to_string().ends_with("iocs.json:3"),
        "{}",
        p.location
    );
}

#[test]
fn issue_2_ipv6_whitelist_cidr_is_accepted() {
    let mut wb = WhitelistBuilder::new();
    load_whitelist(
        &data("reference-cases/bug_ipv6_whitelist_cidr_rejected/whitelist.json"),
        &mut wb,
    )
    .unwrap();
    let wl = wb.build();
    let e = wl.ip("ff02::fb".parse().unwrap()).unwrap();
    assert_eq!(e.value, "ff00::/8");
    assert!(
        e.location.to_string().ends_with("whitelist.json:27"),
        "{}",
        e.location
    );
}

#[test]
fn all_rules_indicator_types_and_lines() {
    let mut ib = IntelBuilder::new();
    load_iocs(&data("reference-cases/all_rules/iocs.json"), &mut ib).unwrap();
    let intel = ib.build();
    let ev = intel.domains("api.evil-c2.com");
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].value, "evil-c2.com");
    assert!(
        ev[0].provenance[0]
            .location
            .to_string()
            .ends_with("iocs.json:15")
    );
    assert!(intel.domains("notevil-c2.com").is_empty());
    assert_eq!(intel.networks("198.51.100.7".parse().unwrap()).len(), 1);
    assert_eq!(intel.freedns("myhost.duckdns.org").len(), 1);
    assert_eq!(intel.tlds("shop.something.xyz").len(), 1);
    assert_eq!(intel.tlds("foo.top").len(), 1);
    assert!(intel.domains("tracking.geo-tracker.net")[0].tracker_only());
}

#[test]
fn real_bundles_smoke_inputs() {
    // RULES.md §11 note 6: the three invalid feed entries are reported with file:line and
    // skipped; values in both bundles keep both sources (D22).
    let tc = data("tinycheck/iocs.json");
    let feed = data("stalkerware-indicators/indicators-for-tinycheck.json");
    let mut ib = IntelBuilder::new();
    load_iocs(&tc, &mut ib).unwrap();
    load_iocs(&feed, &mut ib).unwrap();
    let diags: Vec<String> = ib.rejected().iter().map(|d| d.to_string()).collect();
    let f = feed.display().to_string();
    assert_eq!(
        diags,
        vec![
            format!("{f}:1: iocs[290]: invalid domain \"178.63.71.15\""),
            format!(
                "{f}:1: iocs[1634]: invalid domain \"https://github.com/earthshakira/android_hack\""
            ),
            format!("{f}:1: iocs[1635]: invalid domain \"https://github.com/karma9874/AndroRAT\""),
        ]
    );
    let intel = ib.build();
    let copy9 = intel.domains("copy9.com");
    assert_eq!(copy9.len(), 1);
    let mut sources: Vec<String> = copy9[0]
        .provenance
        .iter()
        .map(|p| p.location.source.to_string())
        .collect();
    sources.sort();
    sources.dedup();
    let mut want = vec![tc.display().to_string(), f.clone()];
    want.sort();
    assert_eq!(sources, want);
    // The destinations of the case.
    assert_eq!(intel.addr("172.67.81.216".parse().unwrap()).len(), 1);
    assert!(!intel.domains("accountsections.com").is_empty());
    assert!(intel.domains("api.smartechmetrics.com")[0].tracker_only());
    assert!(!intel.freedns("victim.hicam.net").is_empty());
    assert_eq!(intel.snort_rules(), 81);
    let stats = intel.stats();
    assert_eq!(
        stats.per_source.get(&(f.clone(), IocType::Ip4addr)),
        Some(&65)
    );
    assert_eq!(
        stats.per_source.get(&(f.clone(), IocType::Domain)),
        Some(&1590)
    );

    let mut wb = WhitelistBuilder::new();
    load_whitelist(&data("tinycheck/whitelist.json"), &mut wb).unwrap();
    let wl = wb.build();
    assert!(wl.invalid().is_empty(), "{:?}", wl.invalid());
    assert_eq!(wl.entries().len(), 1531);
    assert_eq!(wl.name("gateway.icloud.com").unwrap().value, "icloud.com");
    assert!(wl.ip("ff02::fb".parse().unwrap()).is_some());
}

#[test]
fn tinycheck_config_yaml_and_reference_configs() {
    let (s, w) = settings::load(&data("tinycheck/config.yaml")).unwrap();
    assert!(w.is_empty(), "{w:?}");
    // Used as given: active on, TinyCheck's ports without 853.
    assert!(s.active);
    assert_eq!(
        s.ssl_default_ports,
        vec![443, 465, 636, 989, 990, 993, 995, 5223]
    );
    assert_eq!(s.free_issuers, Settings::default().free_issuers);
    assert_eq!(s.max_ports, 1024);
    assert_eq!(s.local_nets, Settings::default().local_nets);

    for case in cases() {
        let (s, w) = settings::load(&case.join("config.json")).unwrap();
        assert!(w.is_empty(), "{case:?}: {w:?}");
        let name = case.file_name().unwrap().to_string_lossy().to_string();
        let active = name.starts_with("all_rules");
        assert_eq!(s.active, active, "{name}");
        assert_eq!(
            Settings { active: false, ..s },
            Settings::default(),
            "{name}"
        );
    }
}
