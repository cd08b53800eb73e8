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

// ---- Issue 3: every format on real files -------------------------------------------------

use captriage::intel::{ExportFormat, Intel, IocFormat, export, load_any, stats};
use std::collections::BTreeSet;

fn load_one(rel: &str, want: IocFormat) -> (Intel, Vec<String>) {
    let mut b = IntelBuilder::new();
    let got = load_any(&data(rel), None, &mut b).unwrap();
    assert_eq!(got, want, "{rel}");
    let diags = b.rejected().iter().map(|d| d.to_string()).collect();
    (b.build(), diags)
}

fn keys(intel: &Intel) -> BTreeSet<(IocType, String)> {
    intel
        .indicators()
        .iter()
        .map(|i| (i.kind, i.value.clone()))
        .collect()
}

fn text(rel: &str) -> String {
    std::fs::read_to_string(data(rel)).unwrap()
}

#[test]
fn zeek_intel_feeds() {
    let (intel, diags) = load_one("zeek-intel/stalkerware-excerpt.intel", IocFormat::Zeek);
    assert!(diags.is_empty(), "{diags:?}");
    let st = intel.stats();
    assert_eq!(st.per_type.get(&IocType::Ip4addr), Some(&10));
    // Lines 13 and 14 repeat 97.logger.mobi: one indicator.
    assert_eq!(st.per_type.get(&IocType::Domain), Some(&4));
    assert_eq!(intel.domains("97.logger.mobi")[0].provenance.len(), 2);
    // 64-hex FILE_HASH rows load as sha256cert (matched against certificate hashes only).
    assert_eq!(st.per_type.get(&IocType::Sha256cert), Some(&5));
    let ip = intel.addr("104.18.54.129".parse().unwrap());
    assert_eq!(ip[0].tags(), vec!["cps-cti-stalkerware"]);
    assert!(
        ip[0].provenance[0]
            .location
            .to_string()
            .ends_with("stalkerware-excerpt.intel:2")
    );

    let (intel, diags) = load_one("zeek-intel/amnesty-excerpt.intel", IocFormat::Zeek);
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(intel.indicators().len(), 3);
    assert!(!intel.domains("14-tracking.com").is_empty());
    let unsupported: u64 = intel
        .stats()
        .unsupported
        .iter()
        .filter(|((_, what), _)| what == "Intel::EMAIL")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(unsupported, 3);
}

/// Zeek's `seen.where` values in the e2e baselines and the captriage rule that covers each.
const WHERE_TO_RULE: [(&str, &str); 2] = [
    ("DNS::IN_REQUEST", "IOC-03"),
    ("HTTP::IN_HOST_HEADER", "IOC-08"),
];

/// (seen.indicator, seen.indicator_type, seen.where) of every row of an intel.log baseline.
fn seen(rel: &str) -> Vec<(String, String, String)> {
    let t = text(rel);
    let mut cols: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    for line in t.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            cols = f.split('\t').map(str::to_string).collect();
        } else if !line.starts_with('#') && !cols.is_empty() {
            let v: Vec<&str> = line.split('\t').collect();
            let get = |name: &str| v[cols.iter().position(|c| c == name).unwrap()].to_string();
            rows.push((
                get("seen.indicator"),
                get("seen.indicator_type"),
                get("seen.where"),
            ));
        }
    }
    rows
}

#[test]
fn zeek_btest_intel_e2e_indicators() {
    // domain-whitelist-wikipedia: intel.dat has two Intel::DOMAIN rows; whitelist.dat marks
    // meta.wikimedia.org with meta.whitelist = T, which removes it (Zeek's semantics).
    let case = "zeek-btest-intel-e2e/domain-whitelist-wikipedia";
    let mut b = IntelBuilder::new();
    assert_eq!(
        load_any(&data(&format!("{case}/intel.dat")), None, &mut b).unwrap(),
        IocFormat::Zeek
    );
    load_any(&data(&format!("{case}/whitelist.dat")), None, &mut b).unwrap();
    assert!(b.rejected().is_empty());
    let intel = b.build();
    let want: BTreeSet<(IocType, String)> =
        [(IocType::Domain, "upload.wikimedia.org".to_string())].into();
    assert_eq!(keys(&intel), want);
    assert_eq!(intel.stats().deleted, 1);
    let rows = seen(&format!("{case}/expected-intel.log"));
    assert_eq!(rows.len(), 20);
    for (indicator, kind, place) in &rows {
        assert_eq!(kind, "Intel::DOMAIN");
        // Every indicator Zeek saw is loaded, and the rule named for its place covers it.
        assert!(!intel.domains(indicator).is_empty(), "{indicator}");
        assert!(
            WHERE_TO_RULE.iter().any(|(w, _)| w == place),
            "no rule mapped for {place}"
        );
    }
    assert_eq!(rows.iter().filter(|r| r.2 == "DNS::IN_REQUEST").count(), 8);

    // smtp-email: Intel::EMAIL only. captriage has no e-mail indicator type: the six rows are
    // read and counted as unsupported, nothing is loaded, so no rule can fire on that case.
    let case = "zeek-btest-intel-e2e/smtp-email";
    let mut b = IntelBuilder::new();
    load_any(&data(&format!("{case}/intel.dat")), None, &mut b).unwrap();
    let intel = b.build();
    assert!(intel.indicators().is_empty());
    assert_eq!(intel.stats().unsupported.values().sum::<u64>(), 6);
    assert!(
        seen(&format!("{case}/expected-intel.log"))
            .iter()
            .all(|r| r.1 == "Intel::EMAIL")
    );
}

/// Every line of `rel` that is a bare path is reported at its own line, and nothing else is.
fn assert_paths_rejected(rel: &str, diags: &[String]) {
    let t = text(rel);
    let want: Vec<String> = t
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with('/'))
        .map(|(i, l)| format!("{}:{}: {:?} is no", data(rel).display(), i + 1, l.trim()))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(diags.len(), want.len(), "{diags:?}");
    for (d, w) in diags.iter().zip(&want) {
        assert!(d.starts_with(w), "{d} / {w}");
    }
}

#[test]
fn maltrail_trails() {
    // Leading-dot-free domains, and the onion suffixes of onion.txt.
    let (intel, diags) = load_one(
        "maltrail/trails/static/suspicious/onion.txt",
        IocFormat::Plain,
    );
    assert!(diags.is_empty(), "{diags:?}");
    assert!(!intel.domains("x.onion.gq").is_empty());

    // URLs reduce to their host: caldera_c2.txt lists `http://IP` trails.
    let rel = "maltrail/trails/static/malicious/caldera_c2.txt";
    let (intel, diags) = load_one(rel, IocFormat::Plain);
    assert!(diags.is_empty(), "{diags:?}");
    let t = text(rel);
    let hosts: BTreeSet<&str> = t
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let rest = l.trim().split_once("://").map_or(l.trim(), |(_, r)| r);
            rest.split(['/', ':']).next().unwrap()
        })
        .collect();
    assert_eq!(intel.indicators().len(), hosts.len());
    assert_eq!(intel.addr("142.93.1.57".parse().unwrap()).len(), 1);

    // ip:port trails keep the address.
    let rel = "maltrail/trails/static/malicious/georgeginx.txt";
    let (intel, diags) = load_one(rel, IocFormat::Plain);
    assert_paths_rejected(rel, &diags);
    assert_eq!(intel.addr("103.179.142.242".parse().unwrap()).len(), 1);

    // Bare paths are no indicator: each is reported with its own line.
    let rel = "maltrail/trails/static/suspicious/web_shells.txt";
    let (_, diags) = load_one(rel, IocFormat::Plain);
    assert_paths_rejected(rel, &diags);

    // The malformed `182.86.133:8880` of connectwise.txt (upstream line 805).
    let (intel, diags) = load_one("maltrail/connectwise-lines-800-810.txt", IocFormat::Plain);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert!(diags[0].contains("connectwise-lines-800-810.txt:6: \"182.86.133:8880\""));
    assert_eq!(intel.indicators().len(), 5);
}

#[test]
fn echap_yaml_matches_its_generated_csv() {
    // network.csv is generated upstream from ioc.yaml's stalkerware C2s: both must load to the
    // same indicators, and the APK signing certificates must not become certificate IOCs.
    let (yaml, ydiags) = load_one("stalkerware-indicators/ioc.yaml", IocFormat::Echap);
    let (csv, cdiags) = load_one("stalkerware-indicators/network.csv", IocFormat::Csv);
    // The generator typed an address and two URLs of `distribution` as domains: the CSV rejects
    // all three; the YAML reader loads the address as an address and rejects the URLs.
    assert_eq!(cdiags.len(), 3, "{cdiags:?}");
    assert!(cdiags[0].ends_with("network.csv:242: invalid domain \"178.63.71.15\""));
    assert_eq!(ydiags.len(), 2, "{ydiags:?}");
    assert!(ydiags[0].ends_with(
        "ioc.yaml:4093: distribution URL \"https://github.com/earthshakira/android_hack\" is not a host; skipped"
    ), "{ydiags:?}");
    let (y, c) = (keys(&yaml), keys(&csv));
    assert!(c.is_subset(&y));
    let only_yaml: Vec<_> = y.difference(&c).collect();
    assert_eq!(
        only_yaml,
        vec![&(IocType::Ip4addr, "178.63.71.15".to_string())]
    );
    assert_eq!(yaml.stats().per_type.get(&IocType::Sha1cert), None);
    let certs = text("stalkerware-indicators/ioc.yaml")
        .lines()
        .filter(|l| {
            let t = l.trim_start_matches([' ', '-']);
            t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .count() as u64;
    assert!(certs > 100);
    assert_eq!(yaml.stats().unsupported.values().sum::<u64>(), certs);
    let ip = yaml.addr("69.64.74.239".parse().unwrap());
    assert!(
        ip[0].provenance[0]
            .location
            .to_string()
            .ends_with("ioc.yaml:80")
    );
    assert_eq!(ip[0].tags(), vec!["stalkerware"]);
    let c = csv.addr("69.64.74.239".parse().unwrap());
    assert_eq!(c[0].tags(), vec!["thetruthspy"]);

    let (watch, _) = load_one("stalkerware-indicators/watchware.yaml", IocFormat::Echap);
    assert!(
        watch
            .indicators()
            .iter()
            .all(|i| i.tags() == vec!["watchware"])
    );

    // The hosts list is a plain list of the same C2 domains.
    let (hosts, hdiags) = load_one("stalkerware-indicators/hosts", IocFormat::Plain);
    assert!(hdiags.is_empty(), "{hdiags:?}");
    let lines = text("stalkerware-indicators/hosts")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count();
    assert_eq!(hosts.indicators().len(), lines);
}

#[test]
fn export_reads_back_on_real_bundles() {
    let mut b = IntelBuilder::new();
    for rel in [
        "tinycheck/iocs.json",
        "stalkerware-indicators/indicators-for-tinycheck.json",
        "zeek-intel/stalkerware-excerpt.intel",
        "stalkerware-indicators/network.csv",
    ] {
        load_any(&data(rel), None, &mut b).unwrap();
    }
    let intel = b.build();
    for (fmt, reader) in [
        (ExportFormat::Zeek, IocFormat::Zeek),
        (ExportFormat::Json, IocFormat::Tinycheck),
        (ExportFormat::Csv, IocFormat::Csv),
    ] {
        let mut out = Vec::new();
        let sum = export(&intel, fmt, &mut out).unwrap();
        let mut b = IntelBuilder::new();
        let got =
            captriage::intel::parse_any(std::sync::Arc::from("export"), &out[..], None, &mut b)
                .unwrap();
        assert_eq!(got, reader);
        assert!(b.rejected().is_empty(), "{fmt}: {:?}", b.rejected());
        let back = b.build();
        let mut want = keys(&intel);
        if fmt == ExportFormat::Zeek {
            // freedns, tld, ns and snort have no Zeek type.
            want.retain(|(k, _)| {
                !matches!(
                    k,
                    IocType::Freedns | IocType::Tld | IocType::Ns | IocType::Snort
                )
            });
            assert_eq!(
                sum.skipped.values().sum::<u64>() as usize,
                keys(&intel).len() - want.len()
            );
        }
        assert_eq!(keys(&back), want, "{fmt}");
        // Tags survive too (Zeek: meta.source; untagged rows read back as `captriage`).
        for ind in back.indicators() {
            let orig = intel
                .indicators()
                .iter()
                .find(|i| i.kind == ind.kind && i.value == ind.value)
                .unwrap();
            let orig_tags: Vec<&str> = orig
                .tags()
                .into_iter()
                .map(|t| if t.is_empty() { "captriage" } else { t })
                .collect();
            let back_tags: Vec<&str> = ind
                .tags()
                .into_iter()
                .map(|t| if t.is_empty() { "captriage" } else { t })
                .collect();
            assert_eq!(back_tags, orig_tags, "{fmt} {}", ind.value);
        }
    }
}

#[test]
fn stats_on_real_bundles_lists_rejected_entries() {
    let mut b = IntelBuilder::new();
    load_any(
        &data("stalkerware-indicators/indicators-for-tinycheck.json"),
        None,
        &mut b,
    )
    .unwrap();
    load_any(&data("zeek-intel/amnesty-excerpt.intel"), None, &mut b).unwrap();
    let intel = b.build();
    let mut out = Vec::new();
    stats(&intel, &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("rejected entries: 3\n"), "{s}");
    assert!(
        s.contains("indicators-for-tinycheck.json:1: iocs[1635]: invalid domain"),
        "{s}"
    );
    assert!(s.contains("Intel::EMAIL  3\n"), "{s}");
    assert!(s.contains("  stalkerware  "), "{s}");
}

#[test]
fn every_prefix_of_small_fixtures_parses_without_panic() {
    // STYLE habit 7: truncated input never panics, whatever reader it is forced through.
    for rel in [
        "reference-cases/all_rules/iocs.json",
        "zeek-intel/amnesty-excerpt.intel",
        "maltrail/connectwise-lines-800-810.txt",
    ] {
        let bytes = std::fs::read(data(rel)).unwrap();
        for end in 0..=bytes.len() {
            for fmt in IocFormat::ALL {
                let mut b = IntelBuilder::new();
                let src = std::sync::Arc::from(rel);
                let _ = captriage::intel::parse_any(src, &bytes[..end], Some(fmt), &mut b);
            }
        }
    }
    let bytes = std::fs::read(data("reference-cases/all_rules/whitelist.json")).unwrap();
    for end in 0..=bytes.len() {
        let mut w = WhitelistBuilder::new();
        let src = std::sync::Arc::from("w");
        let _ = captriage::intel::tinycheck::parse_whitelist(src, &bytes[..end], &mut w);
    }
    let text = text("tinycheck/config.yaml");
    for end in (0..=text.len()).filter(|&e| text.is_char_boundary(e)) {
        let _ = settings::parse(&text[..end], "config.yaml");
    }
}

/// Every indicator file under tests/data/intel, in path order (licence notes, logs, configs and
/// whitelists left out).
fn all_indicator_fixtures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let skip = name.ends_with(".md")
                || name.ends_with(".log")
                || name.starts_with("LICENSE")
                || name.starts_with("NOTICE")
                || name.starts_with("whitelist.")
                || matches!(
                    name,
                    "origin.txt"
                        | "config.json"
                        | "config.yaml"
                        | "inputs.json"
                        | "zeek-COPYING.txt"
                );
            if !skip {
                out.push(p);
            }
        }
    }
    let mut v = Vec::new();
    walk(&data(""), &mut v);
    v.sort();
    v
}

/// What a store shows: its indicators with provenance, its stats and both JSON and Zeek
/// exports, byte for byte.
fn fingerprint(intel: &Intel) -> (Vec<captriage::intel::Indicator>, String, Vec<u8>, Vec<u8>) {
    let mut s = Vec::new();
    stats(intel, &mut s).unwrap();
    let mut json = Vec::new();
    export(intel, ExportFormat::Json, &mut json).unwrap();
    let mut zeek = Vec::new();
    export(intel, ExportFormat::Zeek, &mut zeek).unwrap();
    (
        intel.indicators().to_vec(),
        String::from_utf8(s).unwrap(),
        json,
        zeek,
    )
}

#[test]
fn issue_3_parallel_loading_builds_the_same_store_as_sequential() {
    use captriage::intel::{IocInput, load_inputs};
    let files = all_indicator_fixtures();
    assert!(files.len() > 30, "{files:?}");
    let mut inputs: Vec<IocInput<'_>> = captriage::intel::defaults::ioc_inputs().collect();
    inputs.extend(files.iter().map(|p| IocInput::Path(p)));

    // One input after another into one builder: the reference.
    let mut seq = IntelBuilder::new();
    let mut seq_formats = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let r = match input {
            IocInput::Path(p) => load_any(p, None, &mut seq),
            IocInput::Text { name, text, format } => captriage::intel::formats::parse_text(
                &std::sync::Arc::from(*name),
                text,
                Some(*format),
                &mut seq,
            ),
        };
        seq_formats.push(r.map_err(|e| format!("{i}: {e:#}")));
    }
    assert!(!seq.rejected().is_empty(), "the fixtures hold bad entries");
    let want = fingerprint(&seq.build());

    // The parallel loader (as many threads as this machine has).
    let mut par = IntelBuilder::new();
    let par_formats: Vec<_> = load_inputs(&inputs, None, &mut par)
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| format!("{i}: {e:#}")))
        .collect();
    assert_eq!(par_formats, seq_formats);
    assert!(fingerprint(&par.build()) == want, "parallel load differs");

    // Two partial builders merged, whatever the cut and whichever side is larger.
    for cut in [1, 4, inputs.len() / 2, inputs.len() - 3, inputs.len() - 1] {
        let (a, b) = inputs.split_at(cut);
        let mut first = IntelBuilder::new();
        let mut second = IntelBuilder::new();
        for (part, builder) in [(a, &mut first), (b, &mut second)] {
            for input in part {
                let _ = load_inputs(std::slice::from_ref(input), None, builder);
            }
        }
        first.merge(second);
        assert!(
            fingerprint(&first.build()) == want,
            "merge at {cut} differs"
        );
    }
}
