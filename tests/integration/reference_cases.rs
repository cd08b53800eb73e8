//! Issue 2: every TinyCheck reference case (tests/data/reference-cases, copied from
//! ../shared/reference-cases with its README) gives exactly the (rule id, host) pairs that
//! RULES.md §11 lists for captriage, including the deviations it cites.

use captriage::alert::Level;
use captriage::app;
use captriage::cli::{Cli, Command};
use captriage::config::AnalyzeConfig;
use captriage::report::Report;
use clap::Parser;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const CASES: &str = "tests/data/reference-cases";

/// Maps a path from a case's inputs.json (relative to ../shared/reference-cases/<case>) onto the
/// copies under tests/data/intel.
fn corpus_path(rel: &str) -> PathBuf {
    match rel.strip_prefix("../../corpus/iocs/") {
        Some(rest) => PathBuf::from("tests/data/intel").join(rest.replace("/generated/", "/")),
        None => PathBuf::from(rel),
    }
}

/// Runs `analyze` on a case the way a user would: its logs, its intel files, its config, and no
/// shipped defaults.
pub fn run_case(case: &str, extra: &[&str]) -> Report {
    let dir = Path::new(CASES).join(case);
    let mut argv: Vec<String> = vec!["captriage".into(), "analyze".into()];
    argv.push(dir.display().to_string());
    argv.push("--no-default-intel".into());
    let inputs = dir.join("inputs.json");
    if inputs.exists() {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&inputs).unwrap()).unwrap();
        for f in v["iocs"].as_array().unwrap() {
            argv.push("--iocs".into());
            argv.push(corpus_path(f.as_str().unwrap()).display().to_string());
        }
        for f in v["whitelist"].as_array().unwrap() {
            argv.push("--whitelist".into());
            argv.push(corpus_path(f.as_str().unwrap()).display().to_string());
        }
    } else {
        argv.push("--iocs".into());
        argv.push(dir.join("iocs.json").display().to_string());
        argv.push("--whitelist".into());
        argv.push(dir.join("whitelist.json").display().to_string());
    }
    if !extra.contains(&"--config") {
        argv.push("--config".into());
        argv.push(dir.join("config.json").display().to_string());
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli = Cli::try_parse_from(&argv).unwrap();
    let Command::Analyze(args) = cli.command else {
        panic!("not analyze")
    };
    let cfg = AnalyzeConfig::from_args(*args).unwrap();
    app::analyze(&cfg, &mut |_| {}).unwrap()
}

pub fn pairs(r: &Report) -> BTreeSet<(String, String)> {
    r.alerts
        .iter()
        .map(|a| (a.id.to_string(), a.host.clone()))
        .collect()
}

fn set(items: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// C22: captriage on all_rules (RULES.md §11), with levels.
const C22: &[(&str, &str, Level)] = &[
    ("IOC-01", "api.evil-c2.com", Level::High),
    ("IOC-03", "api.evil-c2.com", Level::High),
    ("IOC-07", "192.0.2.60", Level::High),
    ("IOC-08", "panel.spyhttp.com", Level::High),
    ("SSL-04", "api.evil-c2.com", Level::High),
    ("SSL-04", "cdn.badcert.org", Level::High),
    ("ADV-01", "198.51.100.7", Level::Moderate),
    ("ADV-01", "api.evil-c2.com", Level::Moderate),
    ("IOC-02", "198.51.100.7", Level::Moderate),
    ("IOC-04", "tracking.geo-tracker.net", Level::Moderate),
    ("IOC-05", "myhost.duckdns.org", Level::Moderate),
    ("IOC-09", "x.ddns.net", Level::Moderate),
    ("PROTO-04", "alt.example.org", Level::Moderate),
    ("SSL-01", "198.51.100.7", Level::Moderate),
    ("SSL-02", "api.evil-c2.com", Level::Moderate),
    ("SSL-03", "198.51.100.7", Level::Moderate),
    ("IOC-06", "shop.something.xyz", Level::Low),
    ("IOC-10", "foo.top", Level::Low),
    ("PROTO-02", "198.51.100.7", Level::Low),
    ("PROTO-02", "alt.example.org", Level::Low),
    ("PROTO-03", "plain.example.org", Level::Low),
    ("PROTO-05", "198.51.100.7", Level::Low),
];

fn c22() -> BTreeSet<(String, String)> {
    C22.iter()
        .map(|(i, h, _)| (i.to_string(), h.to_string()))
        .collect()
}

fn c19() -> BTreeSet<(String, String)> {
    let mut s = c22();
    for p in [
        ("IOC-08", "panel.spyhttp.com"),
        ("IOC-09", "x.ddns.net"),
        ("IOC-10", "foo.top"),
    ] {
        s.remove(&(p.0.to_string(), p.1.to_string()));
    }
    s
}

#[test]
fn all_rules_gives_c22_with_levels_in_order() {
    let r = run_case("all_rules", &[]);
    assert_eq!(pairs(&r), c22());
    let got: Vec<(&str, &str, Level)> = r
        .alerts
        .iter()
        .map(|a| (a.id, a.host.as_str(), a.level))
        .collect();
    let want: Vec<(&str, &str, Level)> = C22.to_vec();
    assert_eq!(got, want, "levels and the fixed order of RULES.md §8");
    assert!(r.unreadable.is_empty());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    // www.google.com (142.250.0.1) is whitelisted and listed as such.
    assert!(
        r.whitelisted
            .iter()
            .any(|w| w.host == "www.google.com" && w.entry == "google.com")
    );
    // The snort indicator is accepted and counted, never evaluated.
    assert_eq!(r.intel.snort_rules, 1);
}

#[test]
fn all_rules_pre51_on_head_gives_c22() {
    // D23: the old files.log layout (tx_hosts/rx_hosts/conn_uids) that crashed TinyCheck.
    assert_eq!(pairs(&run_case("all_rules_pre51_on_head", &[])), c22());
}

#[test]
fn all_rules_pre51_rev_ab3f5b5_gives_c22() {
    assert_eq!(pairs(&run_case("all_rules_pre51_rev_ab3f5b5", &[])), c22());
}

#[test]
fn all_rules_rev_513f6b1_gives_c19() {
    assert_eq!(pairs(&run_case("all_rules_rev_513f6b1", &[])), c19());
}

#[test]
fn bug_adv01_counts_ports() {
    // D19, D20: one PROTO-02 per host, and one rule id does not make ADV-01.
    assert_eq!(
        pairs(&run_case("bug_adv01_counts_ports", &[])),
        set(&[("PROTO-02", "game.example.org")])
    );
}

#[test]
fn bug_blank_line_stops_parser() {
    // D23: a blank line is skipped, not the end of the log.
    assert_eq!(
        pairs(&run_case("bug_blank_line_stops_parser", &[])),
        set(&[
            ("PROTO-02", "192.0.2.140"),
            ("PROTO-02", "192.0.2.141"),
            ("PROTO-05", "192.0.2.140"),
            ("PROTO-05", "192.0.2.141"),
        ])
    );
}

#[test]
fn bug_case_sensitive() {
    // D1: names are normalised before matching.
    assert_eq!(
        pairs(&run_case("bug_case_sensitive", &[])),
        set(&[("IOC-03", "api.evil-c2.com")])
    );
}

#[test]
fn bug_dns_only_no_conn() {
    // D5: a lookup without a connection is evidence too.
    assert_eq!(
        pairs(&run_case("bug_dns_only_no_conn", &[])),
        set(&[("IOC-03", "api.evil-c2.com")])
    );
}

#[test]
fn bug_freedns_http_no_dot() {
    // D2 (label boundaries) and D1 (Host with :port).
    assert_eq!(
        pairs(&run_case("bug_freedns_http_no_dot", &[])),
        set(&[("IOC-08", "panel.spyhttp.com")])
    );
}

#[test]
fn bug_ioc03_suffix_no_dot() {
    // D2: notevil-c2.com is not under evil-c2.com.
    assert_eq!(pairs(&run_case("bug_ioc03_suffix_no_dot", &[])), set(&[]));
}

#[test]
fn bug_ipv6_whitelist_cidr_raw() {
    assert_eq!(
        pairs(&run_case("bug_ipv6_whitelist_cidr_raw", &[])),
        set(&[])
    );
}

#[test]
fn bug_ipv6_whitelist_cidr_rejected() {
    // D3: ff00::/8 loads; D7: ff02::fb is local anyway.
    assert_eq!(
        pairs(&run_case("bug_ipv6_whitelist_cidr_rejected", &[])),
        set(&[])
    );
}

#[test]
fn bug_missing_validation_status() {
    // D23 and note 3: the SNI is not a name source, SSL-03 cannot be evaluated.
    assert_eq!(
        pairs(&run_case("bug_missing_validation_status", &[])),
        set(&[("PROTO-05", "192.0.2.130")])
    );
}

#[test]
fn bug_selfsigned_strings() {
    // D13 and note 4.
    assert_eq!(
        pairs(&run_case("bug_selfsigned_strings", &[])),
        set(&[
            ("SSL-03", "a.example.org"),
            ("SSL-03", "b.example.org"),
            ("SSL-03", "c.example.org"),
            ("SSL-03", "d.example.org"),
        ])
    );
}

#[test]
fn bug_shared_ip_first_dns_wins() {
    // D4: every name of a shared address is checked.
    assert_eq!(
        pairs(&run_case("bug_shared_ip_first_dns_wins", &[])),
        set(&[("IOC-03", "api.evil-c2.com")])
    );
}

#[test]
fn bug_shared_ip_ioc_first() {
    // Note 5: the host is the matching name, never the whitelisted display name.
    assert_eq!(
        pairs(&run_case("bug_shared_ip_ioc_first", &[])),
        set(&[("IOC-03", "api.evil-c2.com")])
    );
}

#[test]
fn bug_ssl_substring_host() {
    // D10: 1.2.3.4 is whitelisted; no substring join.
    assert_eq!(
        pairs(&run_case("bug_ssl_substring_host", &[])),
        set(&[("PROTO-05", "11.2.3.44")])
    );
}

#[test]
fn bug_unknown_type_ipv4_becomes_cidr() {
    // D22: an `unknown` IPv4 entry is an address indicator.
    assert_eq!(
        pairs(&run_case("bug_unknown_type_ipv4_becomes_cidr", &[])),
        set(&[("IOC-01", "203.0.113.66"), ("PROTO-05", "203.0.113.66")])
    );
}

fn json_four() -> BTreeSet<(String, String)> {
    set(&[
        ("IOC-01", "api.evil-c2.com"),
        ("IOC-03", "api.evil-c2.com"),
        ("PROTO-02", "192.0.2.150"),
        ("PROTO-05", "192.0.2.150"),
    ])
}

#[test]
fn json_logs_converted() {
    assert_eq!(pairs(&run_case("json_logs_converted", &[])), json_four());
}

#[test]
fn json_logs_strict() {
    // D23: JSON logs are read as they are.
    assert_eq!(pairs(&run_case("json_logs_strict", &[])), json_four());
}

#[test]
fn real_bundles_smoke() {
    let r = run_case("real_bundles_smoke", &[]);
    assert_eq!(
        pairs(&r),
        set(&[
            ("IOC-01", "172.67.81.216"),
            ("IOC-03", "accountsections.com"),
            ("IOC-03", "media-sync-a.copy9.com"),
            ("IOC-04", "api.smartechmetrics.com"),
            ("IOC-05", "victim.hicam.net"),
            ("PROTO-05", "172.67.81.216"),
        ])
    );
    // Note 6: three invalid feed entries, reported with file:line and skipped.
    let feed_invalid: Vec<&String> = r
        .intel
        .invalid
        .iter()
        .filter(|m| m.contains("indicators-for-tinycheck.json:"))
        .collect();
    assert_eq!(feed_invalid.len(), 3, "{:?}", r.intel.invalid);
    // gateway.icloud.com at 17.1.1.1 is listed as whitelisted.
    assert!(
        r.whitelisted
            .iter()
            .any(|w| w.host == "gateway.icloud.com" && w.ip == Some("17.1.1.1".parse().unwrap())),
        "{:?}",
        r.whitelisted
    );
    // Values present in both bundles keep both sources.
    let both = r
        .alerts
        .iter()
        .flat_map(|a| a.evidence.indicators.iter())
        .any(|i| {
            i.sources.iter().any(|s| s.contains("tinycheck/iocs.json"))
                && i.sources
                    .iter()
                    .any(|s| s.contains("indicators-for-tinycheck.json"))
        });
    assert!(
        both,
        "an indicator listed by both bundles keeps both sources"
    );
}

#[test]
fn all_rules_with_offline_active_sources_adds_exactly_act01_and_act02() {
    // RULES.md §11 note 1: a passive-DNS file with the NS record evil-c2.com -> ns1.njalla.no.
    // and a registration-date file dating myhost.duckdns.org 30 days before the capture start
    // (2024-01-01T10:00:01Z) add ACT-01 and ACT-02, with nothing else changing.
    let dir = tempfile::tempdir().unwrap();
    let pdns = dir.path().join("ns.cof.json");
    std::fs::write(
        &pdns,
        r#"{"rrname":"evil-c2.com","rrtype":"NS","rdata":"ns1.njalla.no.","time_first":1703980800,"time_last":1703980800,"count":1}
"#,
    )
    .unwrap();
    let dates = dir.path().join("registered.txt");
    std::fs::write(&dates, "# name date\nmyhost.duckdns.org 2023-12-02\n").unwrap();
    let r = run_case(
        "all_rules",
        &[
            "--pdns",
            pdns.to_str().unwrap(),
            "--registration-dates",
            dates.to_str().unwrap(),
        ],
    );
    let mut want = c22();
    want.insert(("ACT-01".into(), "api.evil-c2.com".into()));
    want.insert(("ACT-02".into(), "myhost.duckdns.org".into()));
    assert_eq!(pairs(&r), want);
    let act01 = r.alerts.iter().find(|a| a.id == "ACT-01").unwrap();
    assert!(
        act01
            .evidence
            .details
            .iter()
            .any(|d| d.contains("ns1.njalla.no") && d.contains("evil-c2.com")),
        "{:?}",
        act01.evidence.details
    );
    assert!(
        r.active_sources
            .iter()
            .any(|s| s.contains("registered.txt"))
    );
}

#[test]
fn active_off_ignores_offline_sources() {
    // `active` is false by default: the same side files add nothing without the config's
    // `active: true` (all_rules' config sets it; an empty analysis mapping does not).
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.yaml");
    std::fs::write(&cfg, "analysis: {}\n").unwrap();
    let dates = dir.path().join("registered.txt");
    std::fs::write(&dates, "myhost.duckdns.org 2023-12-02\n").unwrap();
    let r = run_case(
        "all_rules",
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--registration-dates",
            dates.to_str().unwrap(),
        ],
    );
    assert_eq!(pairs(&r), c22());
}
