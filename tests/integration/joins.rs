//! Issue 7: the joins of TLS sessions, HTTP requests and certificate files to their connections
//! give the same report whether their state stays in memory or, past its budget, goes to
//! temporary files. Every fixture directory of Zeek logs and every capture under tests/data, and
//! the reference case with its intel, are analysed with the default budget and with a budget of
//! 0 and 1 record (everything spills), on one thread and on two; the JSON reports must be
//! byte-identical. A session whose uid names no connection joins by its 4-tuple in both modes
//! (on the logs of a real trace), a temporary directory that cannot be written to gives a
//! diagnostic, not a panic, and `--temp-dir` decides where the joins and a capture's decoded
//! records go.

use super::parallel::json;
use captriage::facts::{Facts, FactsBuilder, override_join_budget};
use captriage::report::Report;
use std::path::{Path, PathBuf};

fn analyze(path: &Path, extra: &[&str], budget: Option<usize>) -> Report {
    // The builder is made on this thread: the override reaches it and no other test.
    override_join_budget(budget);
    let r = super::parallel::analyze(path, extra);
    override_join_budget(None);
    r
}

/// Asserts that `input` gives the same report with every join spilled (budget 0 on one thread and
/// on two, budget 1 on two) as in memory; returns the report.
fn same_spilled_or_not(input: &Path, extra: &[&str]) -> Report {
    let run = |threads: &str, budget| {
        let mut args = vec!["--threads", threads];
        args.extend_from_slice(extra);
        analyze(input, &args, budget)
    };
    let report = run("1", None);
    let want = json(&report);
    for (threads, budget) in [("1", Some(0)), ("2", Some(0)), ("2", Some(1))] {
        let got = json(&run(threads, budget));
        assert!(
            got == want,
            "{}: budget {budget:?} on {threads} threads differs from the joins in memory",
            input.display()
        );
    }
    report
}

/// Directories under `dir` holding a conn log and a log of records that join to connections
/// (ssl, http, files), and capture files, recursively.
fn inputs(dir: &Path, logs: &mut Vec<PathBuf>, captures: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    let name = |p: &Path| {
        p.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string()
    };
    let has = |prefix: &str| {
        entries
            .iter()
            .any(|p| p.is_file() && name(p).starts_with(prefix))
    };
    if has("conn") && (has("ssl") || has("http") || has("files")) {
        logs.push(dir.to_path_buf());
    }
    for p in entries {
        if p.is_dir() {
            inputs(&p, logs, captures);
        } else if name(&p).ends_with(".pcap") || name(&p).ends_with(".pcapng") {
            captures.push(p);
        }
    }
}

#[test]
fn every_fixture_gives_the_same_report_with_the_joins_spilled() {
    let (mut logs, mut captures) = (Vec::new(), Vec::new());
    inputs(Path::new("tests/data"), &mut logs, &mut captures);
    assert!(logs.len() >= 15, "{} directories", logs.len());
    assert!(captures.len() >= 40, "{} captures", captures.len());
    let mut tls = 0;
    for input in logs.iter().chain(&captures) {
        let r = same_spilled_or_not(input, &[]);
        tls += r.inputs.iter().filter(|i| i.log_type == "ssl").count();
    }
    assert!(tls >= 10, "{tls} ssl logs");
}

#[test]
fn reference_case_with_its_intel_gives_the_same_alerts_with_the_joins_spilled() {
    let case = Path::new("tests/data/reference-cases/all_rules");
    let r = same_spilled_or_not(case, super::parallel::ALL_RULES_INTEL);
    assert!(r.alerts.len() >= 10, "{} alerts", r.alerts.len());
}

/// Reads ssl.log then conn.log of `dir` into a builder with join budget `budget`.
fn facts_of(dir: &Path, budget: Option<usize>, join_dir: Option<PathBuf>) -> Facts {
    let mut b = FactsBuilder::new();
    if let Some(n) = budget {
        b.set_join_budget(n);
    }
    b.set_join_dir(join_dir);
    for log in ["ssl.log", "conn.log"] {
        let path = dir.join(log);
        if path.exists() {
            captriage::input::zeek::read_file(&path, &mut b).unwrap();
        }
    }
    b.finish()
}

/// The first data row of a Zeek TSV log, split on tabs.
fn first_row(log: &str) -> Vec<String> {
    let line = log.lines().find(|l| !l.starts_with('#')).unwrap();
    line.split('\t').map(String::from).collect()
}

#[test]
fn a_session_whose_uid_names_no_connection_joins_by_its_four_tuple() {
    // Zeek 2.6 logs of a STARTTLS IMAP trace: the session is logged 0.76 s after its
    // connection began.
    let real = Path::new("tests/data/zeek/ladder/starttls-imap/v2.6");
    let ssl = std::fs::read_to_string(real.join("ssl.log")).unwrap();
    let conn = std::fs::read_to_string(real.join("conn.log")).unwrap();
    let (s, c) = (first_row(&ssl), first_row(&conn));
    assert_eq!(s[1], c[1], "the session's uid is its connection's");
    assert_eq!(s[2..6], c[2..6], "and so is its 4-tuple");
    let (own, conn_ts): (f64, f64) = (s[0].parse().unwrap(), c[0].parse().unwrap());
    assert!(own > conn_ts);

    // The session now names a uid no connection has.
    let tmp = tempfile::tempdir().unwrap();
    let by_tuple = tmp.path().join("by-tuple");
    std::fs::create_dir(&by_tuple).unwrap();
    std::fs::write(
        by_tuple.join("ssl.log"),
        ssl.replace(&s[1], "CnoSuchConnection1"),
    )
    .unwrap();
    std::fs::write(by_tuple.join("conn.log"), &conn).unwrap();
    // And without its connection at all, only its own time is left.
    let alone = tmp.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    std::fs::write(
        alone.join("ssl.log"),
        ssl.replace(&s[1], "CnoSuchConnection1"),
    )
    .unwrap();

    for budget in [None, Some(0)] {
        let f = facts_of(&by_tuple, budget, None);
        assert_eq!(f.tls.len(), 1);
        let t = &f.tls[0];
        assert_eq!(t.first.uid.as_deref(), Some("CnoSuchConnection1"));
        assert_eq!((t.t, t.ts), (conn_ts, Some(own)), "budget {budget:?}");
        let f = facts_of(&alone, budget, None);
        assert_eq!(
            (f.tls[0].t, f.tls[0].ts),
            (own, Some(own)),
            "budget {budget:?}"
        );
    }
    let (a, b) = (
        json(&analyze(&by_tuple, &["--threads", "2"], None)),
        json(&analyze(&by_tuple, &["--threads", "2"], Some(0))),
    );
    assert_eq!(a, b);
    same_spilled_or_not(&by_tuple, &[]);
}

#[test]
fn an_unwritable_temporary_directory_is_a_diagnostic_and_the_joins_stay_in_memory() {
    let real = Path::new("tests/data/zeek/ladder/starttls-imap/v2.6");
    let want = facts_of(real, None, None);
    let tmp = tempfile::tempdir().unwrap();
    let got = facts_of(real, Some(0), Some(tmp.path().join("no-such-dir")));
    assert_eq!(got.tls, want.tls);
    let msgs: Vec<String> = got.diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].contains("join state kept in memory: cannot make a temporary file"),
        "{msgs:?}"
    );
    assert!(msgs[0].contains("ssl.log"), "{msgs:?}");
}

#[test]
fn the_temp_dir_option_decides_where_the_spills_go() {
    // A directory where no file can be made shows where the temporary files went: the joins
    // (everything spilled) and the records decoded from a capture report the failure there and
    // stay in memory, while a writable directory gives the same report as the system's
    // temporary directory.
    let logs = Path::new("tests/data/zeek/ladder/starttls-imap/v2.6");
    // A capture with alerts, its records in three phases (DNS, HTTP, conn).
    let capture = Path::new("tests/data/zeek-traces/wikipedia-default/trace.pcap");
    let writable = tempfile::tempdir().unwrap();
    let dir = writable.path().to_str().unwrap();
    for input in [logs, capture] {
        let want = json(&analyze(input, &[], Some(0)));
        let got = json(&analyze(input, &["--temp-dir", dir], Some(0)));
        assert_eq!(got, want, "{}", input.display());
    }
    let messages =
        |r: &Report| -> Vec<String> { r.diagnostics.iter().map(|d| d.to_string()).collect() };
    let bad = analyze(logs, &["--temp-dir", "/proc"], Some(0));
    let msgs = messages(&bad);
    assert!(
        msgs.iter()
            .any(|m| m.contains("join state kept in memory: cannot make a temporary file")),
        "{msgs:?}"
    );
    assert_eq!(
        bad.alerts.len(),
        analyze(logs, &[], None).alerts.len(),
        "the joins stay in memory"
    );
    // The capture's records stay in memory too: the same alerts, and a diagnostic per phase.
    let bad = analyze(capture, &["--temp-dir", "/proc"], None);
    let good = analyze(capture, &[], None);
    assert_eq!(good.alerts.len(), 6);
    assert_eq!(
        json_alerts(&bad),
        json_alerts(&good),
        "the capture's records are kept in memory"
    );
    let msgs = messages(&bad);
    let kept: Vec<&String> = msgs
        .iter()
        .filter(|m| m.contains("trace.pcap") && m.contains("kept in memory: temporary file"))
        .collect();
    assert!(!kept.is_empty(), "{msgs:?}");
    assert_eq!(msgs.len(), messages(&good).len() + kept.len(), "{msgs:?}");
}

/// The alerts of `r`'s JSON report.
fn json_alerts(r: &Report) -> String {
    let v: serde_json::Value = serde_json::from_str(&json(r)).unwrap();
    v["alerts"].to_string()
}

#[test]
fn a_temp_dir_that_is_not_a_directory_is_refused_before_reading() {
    let argv = [
        "captriage",
        "analyze",
        "tests/data/zeek/ladder/starttls-imap/v2.6",
        "--temp-dir",
        "tests/data/zeek/ladder/starttls-imap/v2.6/conn.log",
    ];
    let cli = <captriage::cli::Cli as clap::Parser>::try_parse_from(argv).unwrap();
    let captriage::cli::Command::Analyze(a) = cli.command else {
        panic!("not analyze")
    };
    let err = captriage::config::AnalyzeConfig::from_args(*a).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--temp-dir tests/data/zeek/ladder/starttls-imap/v2.6/conn.log: not an existing directory"
    );
}
