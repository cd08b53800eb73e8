//! Issues 2, 3, 5, 6: the same data as TSV, JSON lines and gzip gives identical alerts on every
//! rung of the version ladder; Zeek's intel end-to-end cases alert where Zeek's intel.log says
//! the indicators were seen; the passive-DNS age window; CLI-level baseline gating and schema
//! validation of pipeline reports.

use super::reference_cases::{pairs, run_case};
use captriage::report::Report;
use clap::Parser;
use std::path::{Path, PathBuf};

fn analyze(args: &[&str]) -> Report {
    let mut argv = vec!["captriage", "analyze"];
    argv.extend_from_slice(args);
    let cli = captriage::cli::Cli::try_parse_from(&argv).unwrap();
    let captriage::cli::Command::Analyze(a) = cli.command else {
        panic!("not analyze")
    };
    let cfg = captriage::config::AnalyzeConfig::from_args(*a).unwrap();
    captriage::app::analyze(&cfg, &mut |_| {}).unwrap()
}

/// Converts one Zeek TSV log into Zeek JSON lines, typed by its `#types` header, the way Zeek's
/// JSON writer renders each type (unset fields left out).
fn tsv_to_json(tsv: &str) -> String {
    let mut fields: Vec<String> = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let mut path = String::new();
    let mut out = String::new();
    for line in tsv.lines() {
        if let Some(rest) = line.strip_prefix("#fields\t") {
            fields = rest.split('\t').map(str::to_string).collect();
        } else if let Some(rest) = line.strip_prefix("#types\t") {
            types = rest.split('\t').map(str::to_string).collect();
        } else if let Some(rest) = line.strip_prefix("#path\t") {
            path = rest.to_string();
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else {
            let mut obj = serde_json::Map::new();
            obj.insert("_path".into(), path.clone().into());
            for ((name, ty), value) in fields.iter().zip(&types).zip(line.split('\t')) {
                // Unset, or masked by btest (the TSV reader reads the mask as an unknown time).
                if value == "-" || value.starts_with("XXXXXXXXXX") {
                    continue;
                }
                let scalar = |v: &str, t: &str| -> serde_json::Value {
                    match t {
                        "time" | "interval" | "double" => v
                            .parse::<f64>()
                            .map(serde_json::Value::from)
                            .unwrap_or_else(|_| v.into()),
                        "count" | "int" | "port" => v
                            .parse::<i64>()
                            .map(serde_json::Value::from)
                            .unwrap_or_else(|_| v.into()),
                        "bool" => (v == "T").into(),
                        _ => v.into(),
                    }
                };
                let v = if let Some(inner) = ty
                    .strip_prefix("set[")
                    .or_else(|| ty.strip_prefix("vector["))
                {
                    let inner = inner.trim_end_matches(']');
                    if value == "(empty)" {
                        serde_json::Value::Array(vec![])
                    } else {
                        value.split(',').map(|x| scalar(x, inner)).collect()
                    }
                } else if value == "(empty)" {
                    "".into()
                } else {
                    scalar(value, ty)
                };
                obj.insert(name.clone(), v);
            }
            out.push_str(&serde_json::Value::Object(obj).to_string());
            out.push('\n');
        }
    }
    out
}

fn alerts_without_locations(r: &Report) -> Vec<(String, String, String, Vec<String>)> {
    r.alerts
        .iter()
        .map(|a| {
            (
                a.id.to_string(),
                a.host.clone(),
                a.level.to_string(),
                a.evidence
                    .server_ips
                    .iter()
                    .map(|i| i.to_string())
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn every_ladder_rung_gives_the_same_alerts_as_tsv_json_and_gzip() {
    let ladder = Path::new("tests/data/zeek/ladder");
    let tmp = tempfile::tempdir().unwrap();
    let mut rungs = 0;
    for trace in std::fs::read_dir(ladder).unwrap().flatten() {
        if !trace.path().is_dir() {
            continue;
        }
        for rung in std::fs::read_dir(trace.path()).unwrap().flatten() {
            let logs: Vec<_> = std::fs::read_dir(rung.path())
                .unwrap()
                .flatten()
                .filter(|f| f.path().extension().is_some_and(|e| e == "log"))
                .collect();
            if logs.is_empty() {
                continue;
            }
            let name = format!(
                "{}-{}",
                trace.file_name().to_string_lossy(),
                rung.file_name().to_string_lossy()
            );
            let (js, gz) = (
                tmp.path().join(format!("{name}-json")),
                tmp.path().join(format!("{name}-gz")),
            );
            std::fs::create_dir_all(&js).unwrap();
            std::fs::create_dir_all(&gz).unwrap();
            for f in &logs {
                let text = std::fs::read_to_string(f.path()).unwrap();
                let stem = f.path().file_stem().unwrap().to_string_lossy().to_string();
                std::fs::write(js.join(format!("{stem}.json")), tsv_to_json(&text)).unwrap();
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                std::io::Write::write_all(&mut enc, text.as_bytes()).unwrap();
                std::fs::write(gz.join(format!("{stem}.log.gz")), enc.finish().unwrap()).unwrap();
            }
            let a = analyze(&[rung.path().to_str().unwrap(), "-q"]);
            let b = analyze(&[js.to_str().unwrap(), "-q"]);
            let c = analyze(&[gz.to_str().unwrap(), "-q"]);
            assert!(a.diagnostics.is_empty(), "{name}: {:?}", a.diagnostics);
            assert!(b.diagnostics.is_empty(), "{name} json: {:?}", b.diagnostics);
            assert_eq!(
                alerts_without_locations(&a),
                alerts_without_locations(&b),
                "{name}: TSV vs JSON"
            );
            assert_eq!(
                alerts_without_locations(&a),
                alerts_without_locations(&c),
                "{name}: TSV vs gzip"
            );
            let rows = |r: &Report| r.inputs.iter().map(|i| i.rows).sum::<u64>();
            assert_eq!(rows(&a), rows(&b), "{name}");
            assert_eq!(rows(&a), rows(&c), "{name}");
            rungs += 1;
        }
    }
    assert!(rungs >= 30, "{rungs} rungs");
}

#[test]
fn zeek_intel_e2e_wikipedia_alerts_where_zeek_saw_the_indicator() {
    // ../shared/corpus/iocs/zeek-btest-intel-e2e/domain-whitelist-wikipedia: Zeek's intel.log
    // shows upload.wikimedia.org seen in DNS::IN_REQUEST (8 rows) and HTTP::IN_HOST_HEADER (12
    // rows), and nothing for meta.wikimedia.org (whitelisted by whitelist.dat). Its pcap is
    // byte-identical to zeek-traces/wikipedia-default/trace.pcap.
    let case = "tests/data/intel/zeek-btest-intel-e2e/domain-whitelist-wikipedia";
    let r = analyze(&[
        "tests/data/zeek-traces/wikipedia-default/trace.pcap",
        "--engine",
        "native",
        "--no-default-intel",
        "--iocs",
        &format!("{case}/intel.dat"),
        "--iocs",
        &format!("{case}/whitelist.dat"),
    ]);
    let got = pairs(&r);
    // DNS::IN_REQUEST -> IOC-03 (a lookup of an indicator domain, RULES.md §7.2 path 2, and the
    // destination path for the connections that followed).
    assert!(
        got.contains(&("IOC-03".into(), "upload.wikimedia.org".into())),
        "{got:?}"
    );
    // HTTP::IN_HOST_HEADER -> IOC-08 (indicator domain in HTTP Host).
    assert!(
        got.contains(&("IOC-08".into(), "upload.wikimedia.org".into())),
        "{got:?}"
    );
    let ioc08 = r.alerts.iter().find(|a| a.id == "IOC-08").unwrap();
    assert_eq!(
        ioc08.evidence.counts.get("http_requests"),
        Some(&12),
        "Zeek saw 12 Host headers"
    );
    // whitelist.dat is Zeek's intel whitelist: it removes the indicator, so no indicator rule
    // fires for meta.wikimedia.org (heuristics such as PROTO-03 still may).
    assert!(
        got.iter()
            .all(|(id, h)| !(id.starts_with("IOC") && h == "meta.wikimedia.org")),
        "{got:?}"
    );
    // The same on Zeek's own logs of the trace.
    let logs = analyze(&[
        "tests/data/zeek-traces/wikipedia-default/baseline",
        "--no-default-intel",
        "--iocs",
        &format!("{case}/intel.dat"),
        "--iocs",
        &format!("{case}/whitelist.dat"),
    ]);
    assert_eq!(pairs(&logs), got);
}

#[test]
fn zeek_intel_e2e_smtp_email_indicators_are_counted_as_unsupported() {
    // smtp-email holds only Intel::EMAIL indicators: captriage has no rule on e-mail addresses,
    // so they are read, counted as unsupported, and raise nothing.
    let r = analyze(&[
        "tests/data/reference-cases/all_rules",
        "--no-default-intel",
        "--iocs",
        "tests/data/intel/zeek-btest-intel-e2e/smtp-email/intel.dat",
    ]);
    assert!(r.intel.per_type.is_empty(), "{:?}", r.intel.per_type);
    assert!(r.alerts.iter().all(|a| a.evidence.indicators.is_empty()));
}

#[test]
fn pdns_age_window_drops_stale_names() {
    // 198.51.100.7 is never resolved in all_rules (PROTO-05). A passive-DNS name for it makes
    // PROTO-05 disappear and renames its alerts, unless the record is older than the window.
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("old.ndjson");
    // Last seen 2023-01-01, a year before the capture.
    std::fs::write(
        &f,
        r#"{"rrname":"legacy.example.net","rrtype":"A","rdata":"198.51.100.7","time_first":1672531200,"time_last":1672531200,"count":3}
"#,
    )
    .unwrap();
    let p = f.to_str().unwrap();
    let with = run_case("all_rules", &["--pdns", p]);
    let hosts = pairs(&with);
    assert!(!hosts.contains(&("PROTO-05".into(), "198.51.100.7".into())));
    assert!(
        hosts.contains(&("IOC-02".into(), "legacy.example.net".into())),
        "{hosts:?}"
    );
    let names = &with
        .alerts
        .iter()
        .find(|a| a.id == "IOC-02")
        .unwrap()
        .evidence
        .names;
    assert!(
        names["legacy.example.net"]
            .iter()
            .any(|s| s.starts_with("pdns:"))
    );
    let windowed = run_case("all_rules", &["--pdns", p, "--pdns-max-age", "30"]);
    assert_eq!(pairs(&windowed), pairs(&run_case("all_rules", &[])));
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_captriage")
}

#[test]
fn baseline_gates_on_an_added_indicator_not_a_removed_one() {
    let dir = tempfile::tempdir().unwrap();
    let case = "tests/data/reference-cases/all_rules";
    let base = dir.path().join("base.json");
    let extra = dir.path().join("extra.json");
    std::fs::write(
        &extra,
        r#"{"iocs":[{"type":"domain","tag":"apt","tlp":"white","value":"example.org"}]}"#,
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut a = vec!["analyze", case, "--no-default-intel", "-q"];
        a.extend_from_slice(args);
        std::process::Command::new(bin()).args(&a).output().unwrap()
    };
    let iocs = format!("{case}/iocs.json");
    let out = run(&[
        "--iocs",
        &iocs,
        "--format",
        "json",
        "-o",
        base.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    // Same intel: nothing new, the gate passes.
    let same = run(&[
        "--iocs",
        &iocs,
        "--baseline",
        base.to_str().unwrap(),
        "--fail-on",
        "low",
    ]);
    assert_eq!(same.status.code(), Some(0));
    // An added indicator: new IOC-03 alerts, the gate fails.
    let added = run(&[
        "--iocs",
        &iocs,
        "--iocs",
        extra.to_str().unwrap(),
        "--baseline",
        base.to_str().unwrap(),
        "--fail-on",
        "high",
        "--format",
        "json",
    ]);
    assert_eq!(added.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    let hosts: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["host"].as_str().unwrap())
        .collect();
    assert!(
        hosts.iter().all(|h| h.ends_with("example.org")),
        "{hosts:?}"
    );
    // A removed indicator (no intel at all): fewer alerts, the gate passes.
    let removed = run(&["--baseline", base.to_str().unwrap(), "--fail-on", "low"]);
    assert_eq!(removed.status.code(), Some(0));
}

#[test]
fn every_format_is_byte_identical_and_json_validates_against_the_schema() {
    let schema: serde_json::Value =
        serde_json::from_str(&captriage::report::json_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    for format in ["table", "json", "html", "csv", "ndjson"] {
        let run = || {
            std::process::Command::new(bin())
                .args([
                    "analyze",
                    "tests/data/reference-cases/all_rules",
                    "samples/zeek",
                    "--format",
                    format,
                    "-q",
                ])
                .output()
                .unwrap()
        };
        let (a, b) = (run(), run());
        assert_eq!(a.stdout, b.stdout, "{format}");
        assert!(!a.stdout.is_empty(), "{format}");
        if format == "json" {
            let v: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
            let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
    }
}

/// Columns of conn.log and dns.log that the analysis does not read (`Columns::ANALYSIS`).
const UNREAD: &[(&str, &[&str])] = &[
    (
        "conn",
        &[
            "duration",
            "conn_state",
            "history",
            "orig_pkts",
            "orig_ip_bytes",
            "resp_pkts",
            "resp_ip_bytes",
        ],
    ),
    (
        "dns",
        &[
            "id.orig_h",
            "id.orig_p",
            "id.resp_h",
            "id.resp_p",
            "proto",
            "trans_id",
            "rtt",
            "qclass",
            "rcode",
            "rcode_name",
            "AA",
            "TC",
            "RD",
            "RA",
            "TTLs",
            "rejected",
        ],
    ),
];

/// A copy of the logs of `dir` (gzip ones decompressed) in `out`, with every value of the
/// columns `garble` names for a log's `#path` replaced by text no Zeek type parses.
fn copy_garbled(dir: &Path, out: &Path, garble: &[(&str, &[&str])]) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name
            .strip_suffix(".log.gz")
            .or_else(|| name.strip_suffix(".log"))
        else {
            continue;
        };
        let raw = std::fs::read(&path).unwrap();
        let text = if name.ends_with(".gz") {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut flate2::read::MultiGzDecoder::new(&raw[..]), &mut s)
                .unwrap();
            s
        } else {
            String::from_utf8(raw).unwrap()
        };
        let mut path_name = String::new();
        let mut hit: Vec<usize> = Vec::new();
        let mut lines = Vec::new();
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("#path\t") {
                path_name = p.to_string();
            }
            if let Some(f) = line.strip_prefix("#fields\t") {
                let names = garble
                    .iter()
                    .find(|(p, _)| *p == path_name)
                    .map_or(&[][..], |(_, n)| *n);
                hit = f
                    .split('\t')
                    .enumerate()
                    .filter(|(_, c)| names.contains(c))
                    .map(|(i, _)| i)
                    .collect();
            }
            if line.starts_with('#') || hit.is_empty() {
                lines.push(line.to_string());
                continue;
            }
            let cols: Vec<String> = line
                .split('\t')
                .enumerate()
                .map(|(i, v)| match hit.contains(&i) {
                    true => "?garbled?".to_string(),
                    false => v.to_string(),
                })
                .collect();
            lines.push(cols.join("\t"));
        }
        std::fs::write(out.join(format!("{stem}.log")), lines.join("\n") + "\n").unwrap();
    }
}

/// Copies of the logs of `dir` in a new temporary directory: `plain` as they are, `garbled` with
/// the columns `garble` names garbled (see [`copy_garbled`]).
fn plain_and_garbled(
    dir: &Path,
    garble: &[(&str, &[&str])],
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, garbled) = (tmp.path().join("plain"), tmp.path().join("garbled"));
    std::fs::create_dir(&plain).unwrap();
    std::fs::create_dir(&garbled).unwrap();
    copy_garbled(dir, &plain, &[]);
    copy_garbled(dir, &garbled, garble);
    (tmp, plain, garbled)
}

/// The JSON report of `dir`, with `dir` itself written as `DIR`.
fn report_of(dir: &Path) -> String {
    report_with(dir, &[])
}

/// [`report_of`] with more command-line arguments.
fn report_with(dir: &Path, extra: &[&str]) -> String {
    let shown = dir.display().to_string();
    let mut args = vec![shown.as_str()];
    args.extend_from_slice(extra);
    let r = analyze(&args);
    let mut out = Vec::new();
    captriage::report::json::write(&r, &mut out).unwrap();
    String::from_utf8(out).unwrap().replace(&shown, "DIR")
}

#[test]
fn the_analysis_reads_no_column_it_leaves_out() {
    // Real logs with conn and DNS rows: every value of a column the analysis leaves out is
    // garbled; the report (alerts, destinations, names, timeline, problems) stays the same.
    let dirs = [
        "samples/zeek/wikipedia",
        "samples/zeek/http-odd-port",
        "samples/zeek/irc-starttls-selfsigned",
        "tests/data/zeek/zed/zeek-3.0.0/tsv",
        "tests/data/zeek/zed/zeek-6.2.0/tsv",
        "tests/data/zeek/ladder/vlan-mpls-http/HEAD",
        "tests/data/zeek/ladder/teredo/v2.1",
    ];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut garbled_rows = 0;
    for d in dirs {
        let (_tmp, plain, garbled) = plain_and_garbled(&root.join(d), UNREAD);
        garbled_rows += std::fs::read_to_string(garbled.join("conn.log"))
            .into_iter()
            .chain(std::fs::read_to_string(garbled.join("dns.log")))
            .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
            .filter(|l| l.contains("?garbled?"))
            .count();
        let (a, b) = (report_of(&plain), report_of(&garbled));
        assert!(a.contains("\"alerts\""), "{d}: {a}");
        assert_eq!(
            a, b,
            "{d}: a column left out of the analysis changed its report"
        );
    }
    assert!(garbled_rows > 100, "only {garbled_rows} rows were garbled");

    // The check can fail: garbling a column the analysis reads changes the report.
    let d = root.join("samples/zeek/wikipedia");
    let (_tmp, plain, garbled) = plain_and_garbled(&d, &[("dns", &["answers"])]);
    assert_ne!(report_of(&plain), report_of(&garbled));
}

#[test]
fn the_originator_is_read_only_when_records_wait_for_connections_by_4_tuple() {
    // conn.log's id.orig_h and id.orig_p serve only to join TLS and HTTP records to their
    // connections by 4-tuple: without such records they are not read, on one thread or several.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let originator: &[(&str, &[&str])] = &[("conn", &["id.orig_h", "id.orig_p"])];
    let d = root.join("samples/zeek/wikipedia");
    let (_tmp, plain, garbled) = plain_and_garbled(&d, originator);
    let garbled_rows = std::fs::read_to_string(garbled.join("conn.log"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("?garbled?"))
        .count();
    assert!(garbled_rows > 10, "only {garbled_rows} rows were garbled");
    // With its http.log, records wait by 4-tuple: the garbled addresses are read and reported.
    assert_ne!(report_of(&plain), report_of(&garbled));
    // Without it, nothing waits: the report is the same, whatever the thread count.
    std::fs::remove_file(plain.join("http.log")).unwrap();
    std::fs::remove_file(garbled.join("http.log")).unwrap();
    for threads in ["1", "2"] {
        let args = ["--threads", threads];
        let (a, b) = (report_with(&plain, &args), report_with(&garbled, &args));
        assert!(a.contains("\"alerts\""), "{a}");
        assert_eq!(
            a, b,
            "--threads {threads}: the originator's columns were read"
        );
    }
}
