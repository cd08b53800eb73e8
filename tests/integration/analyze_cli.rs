//! End-to-end behaviour of the pipeline around the rules: state across runs (issue 5), live
//! lookups only with --online (issue 5), GeoIP annotation (issue 5), exit codes and determinism
//! (issue 2), captures against Zeek's own logs of them (issue 4), and the Zeek runner driven by
//! `analyze --engine zeek` with a stand-in `zeek` (issue 4).

use super::reference_cases::{pairs, run_case};
use captriage::app;
use captriage::cli::{Cli, Command};
use captriage::config::AnalyzeConfig;
use captriage::report::Report;
use clap::Parser;
use std::net::UdpSocket;
use std::path::Path;
use std::time::Duration;

fn analyze(args: &[&str]) -> Report {
    let mut argv = vec!["captriage", "analyze"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).unwrap();
    let Command::Analyze(a) = cli.command else {
        panic!("not analyze")
    };
    let cfg = AnalyzeConfig::from_args(*a).unwrap();
    app::analyze(&cfg, &mut |_| {}).unwrap()
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_captriage")
}

#[test]
fn first_contact_across_two_runs_on_one_store() {
    let state = tempfile::tempdir().unwrap();
    let s = state.path().to_str().unwrap();
    let first = run_case("all_rules", &["--state", s]);
    let dom02: Vec<&str> = first
        .alerts
        .iter()
        .filter(|a| a.id == "DOM-02")
        .map(|a| a.host.as_str())
        .collect();
    assert!(dom02.contains(&"evil-c2.com"), "{dom02:?}");
    // duckdns.org is a public suffix (private section): the registrable domain is the host's.
    assert!(dom02.contains(&"myhost.duckdns.org"), "{dom02:?}");
    // google.com is whitelisted: no first-contact alert for it.
    assert!(!dom02.contains(&"google.com"));
    let second = run_case("all_rules", &["--state", s]);
    assert!(second.alerts.iter().all(|a| a.id != "DOM-02"));
    // Without DOM alerts, the second run is C22 exactly.
    assert_eq!(
        pairs(&second),
        pairs(&run_case("all_rules", &[])),
        "DOM-02 never counts toward ADV-01"
    );
    // The capture's DNS answers were stored as passive DNS.
    let out = std::process::Command::new(bin())
        .args(["pdns", "query", "203.0.113.66", "--state", s])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#""rrname":"api.evil-c2.com""#), "{text}");
}

#[test]
fn no_lookup_without_online_and_lookups_with_it() {
    // A DNS "server" on loopback that only counts what reaches it.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let addr = sock.local_addr().unwrap().to_string();
    let quiet = run_case("all_rules", &["--nameserver", &addr]);
    let mut buf = [0u8; 512];
    assert!(
        sock.recv_from(&mut buf).is_err(),
        "a lookup was sent without --online"
    );
    assert_eq!(pairs(&quiet), pairs(&run_case("all_rules", &[])));
    // With --online (and all_rules' `active: true`) the NS lookups go to that server; it never
    // answers, so they time out within the budget and the run still completes.
    let r = run_case(
        "all_rules",
        &[
            "--online",
            "--nameserver",
            &addr,
            "--online-budget",
            "2",
            "--rdap-base",
            "http://127.0.0.1:9/",
        ],
    );
    assert!(sock.recv_from(&mut buf).is_ok(), "no lookup with --online");
    assert!(r.alerts.iter().any(|a| a.id == "IOC-01"));
}

#[test]
fn geoip_adds_country_and_as() {
    let r = run_case(
        "all_rules",
        &["--geoip", "tests/data/enrich/geoip/test.mmdb"],
    );
    let ioc02 = r
        .alerts
        .iter()
        .find(|a| a.id == "IOC-02" && a.host == "198.51.100.7")
        .unwrap();
    assert!(
        ioc02
            .evidence
            .details
            .iter()
            .any(|d| d == "geoip 198.51.100.7: AS64501, Doc Net"),
        "{:?}",
        ioc02.evidence.details
    );
    let proto03 = r.alerts.iter().find(|a| a.id == "PROTO-03").unwrap();
    assert!(
        proto03
            .evidence
            .details
            .iter()
            .any(|d| d.starts_with("geoip 192.0.2.40: country FR, AS64500")),
        "{:?}",
        proto03.evidence.details
    );
}

#[test]
fn exit_codes_and_byte_identical_reports() {
    let case = "tests/data/reference-cases/all_rules";
    let run = |extra: &[&str]| {
        let mut args = vec!["analyze", case, "--format", "json", "--quiet"];
        args.extend_from_slice(extra);
        std::process::Command::new(bin())
            .args(&args)
            .output()
            .unwrap()
    };
    let a = run(&[]);
    let b = run(&[]);
    assert_eq!(a.status.code(), Some(0));
    assert_eq!(a.stdout, b.stdout, "two runs give byte-identical JSON");
    assert_eq!(run(&["--fail-on", "high"]).status.code(), Some(1));
    assert_eq!(run(&["--fail-on", "low"]).status.code(), Some(1));
    // A path that does not exist: exit 2, and the report still says what was read.
    let c = run(&["/nonexistent/conn.log"]);
    assert_eq!(c.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&c.stdout).unwrap();
    assert_eq!(v["summary"]["incomplete"], true);
    assert!(!v["alerts"].as_array().unwrap().is_empty());
    // A wrong argument: exit 2.
    assert_eq!(run(&["--fail-on", "critical"]).status.code(), Some(2));
}

#[test]
fn a_directory_with_nothing_to_read_is_an_error_not_a_clean_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Nothing that is a log: an empty directory, and one holding a directory named like a log
    // and notes.
    std::fs::create_dir_all(d.join("empty")).unwrap();
    std::fs::create_dir_all(d.join("odd/conn.log")).unwrap();
    std::fs::write(d.join("odd/README"), "notes\n").unwrap();
    // Logs one level down, beside an empty directory: found, and the empty one is no problem.
    std::fs::create_dir_all(d.join("nested/day1")).unwrap();
    std::fs::create_dir_all(d.join("nested/day2")).unwrap();
    let case = Path::new("tests/data/reference-cases/all_rules");
    std::fs::copy(case.join("conn.log"), d.join("nested/day1/conn.log")).unwrap();
    let run = |paths: &[&Path]| {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["analyze", "--format", "json"]).args(paths);
        cmd.output().unwrap()
    };
    for sub in ["empty", "odd"] {
        let p = d.join(sub);
        let out = run(&[&p]);
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let msg = format!(
            "{}: no Zeek log or capture in this directory or below it",
            p.display()
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&msg), "{sub}: {stderr}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["summary"]["incomplete"], true, "{sub}");
        assert_eq!(v["unreadable"], serde_json::json!([msg]), "{sub}");
    }
    let out = run(&[&d.join("nested")]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["incomplete"], false);
    assert_eq!(v["summary"]["inputs"], 1);
    // The same empty directory named twice is reported once; beside logs it still is.
    let out = run(&[&d.join("empty"), &d.join("empty"), &d.join("nested")]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["unreadable"].as_array().map(Vec::len), Some(1));
    assert_eq!(v["summary"]["inputs"], 1);
}

/// A pipe (`<(zcat conn.log.gz)`) or another entry that is not a regular file used to be read
/// after its first bytes had gone to input detection: nothing was left, and the report said
/// "complete". A Unix socket stands in for a pipe here: neither a file nor a directory.
#[cfg(unix)]
#[test]
fn an_input_that_is_not_a_regular_file_is_an_error_not_a_clean_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let case = Path::new("tests/data/reference-cases/all_rules");
    std::fs::copy(case.join("dns.log"), d.join("dns.log")).unwrap();
    let _conn = std::os::unix::net::UnixListener::bind(d.join("conn.log")).unwrap();
    // Not named like a log: skipped, as other files are.
    let _other = std::os::unix::net::UnixListener::bind(d.join("agent.sock")).unwrap();
    let run = |path: &Path| {
        std::process::Command::new(bin())
            .args(["analyze", "--format", "json"])
            .arg(path)
            .output()
            .unwrap()
    };
    let msg = |p: &Path| {
        format!(
            "{}: not a regular file (a pipe, such as `<(zcat conn.log.gz)`, or a device); \
             captriage reads files and directories: write it to a file first",
            p.display()
        )
    };
    // In a directory: reported, and the rest is read.
    let out = run(d);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["unreadable"],
        serde_json::json!([msg(&d.join("conn.log"))])
    );
    assert_eq!(v["summary"]["inputs"], 1);
    assert_eq!(v["summary"]["rows_per_log_type"]["dns"], 10);
    // Named as an input, whatever its name.
    for p in [d.join("conn.log"), d.join("agent.sock")] {
        let out = run(&p);
        assert_eq!(out.status.code(), Some(2));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["unreadable"], serde_json::json!([msg(&p)]));
        assert!(String::from_utf8_lossy(&out.stderr).contains(&msg(&p)));
    }
}

#[test]
fn an_output_that_is_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let case = Path::new("tests/data/reference-cases/all_rules");
    std::fs::create_dir_all(d.join("logs")).unwrap();
    for f in ["conn.log", "dns.log", "iocs.json"] {
        let to = if f.ends_with(".log") {
            d.join("logs").join(f)
        } else {
            d.join(f)
        };
        std::fs::copy(case.join(f), to).unwrap();
    }
    let before = |p: &Path| std::fs::read(p).unwrap();
    let run = |out: &Path| {
        std::process::Command::new(bin())
            .arg("analyze")
            .arg(d.join("logs"))
            .arg("--iocs")
            .arg(d.join("iocs.json"))
            .arg("-o")
            .arg(out)
            .output()
            .unwrap()
    };
    // A log found in the directory (named another way), and an indicator file.
    for (out, kept, what) in [
        (
            d.join("logs/../logs/dns.log"),
            d.join("logs/dns.log"),
            "an input",
        ),
        (d.join("iocs.json"), d.join("iocs.json"), "an --iocs file"),
    ] {
        let was = before(&kept);
        let o = run(&out);
        assert_eq!(o.status.code(), Some(2), "{}", out.display());
        let stderr = String::from_utf8_lossy(&o.stderr);
        let want = format!("--output {} is {what} (", out.display());
        assert!(stderr.contains(&want), "{stderr}");
        assert!(stderr.contains("the report would overwrite it"), "{stderr}");
        assert_eq!(before(&kept), was, "{} was overwritten", kept.display());
    }
    // Beside the inputs, under a name of its own: written.
    let o = run(&d.join("logs/report.json"));
    assert_eq!(o.status.code(), Some(0));
    assert!(d.join("logs/report.json").is_file());
}

/// Runs `cmd` with its standard output a pipe whose reader has gone before anything is written
/// (`captriage ... | head`); standard error is captured.
fn with_reader_gone(cmd: &mut std::process::Command) -> std::process::Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_reader_that_stops_early_keeps_the_exit_code_and_a_failed_write_names_its_file() {
    let case = "tests/data/reference-cases/all_rules";
    // Standard error goes to the same closed pipe (`2>&1 | head`), where a warning or an error
    // used to panic.
    for format in ["table", "json", "csv", "ndjson", "html"] {
        let o = with_reader_gone(
            std::process::Command::new("sh")
                .arg("-c")
                .arg(r#"exec "$0" analyze "$1" --fail-on low --format "$2" 2>&1"#)
                .args([bin(), case, format]),
        );
        assert_eq!(
            o.status.code(),
            Some(1),
            "{format}: the verdict, not a broken-pipe error or a panic"
        );
    }
    // A warning for every bad line, and an unreadable input, on a closed standard error: the
    // run still ends with its own exit code (2: an input could not be read).
    let d = tempfile::tempdir().unwrap();
    let mut conn = std::fs::read(Path::new(case).join("conn.log")).unwrap();
    conn.extend_from_slice(b"not\ta\tconn\trow\n".repeat(50).as_slice());
    std::fs::write(d.path().join("conn.log"), conn).unwrap();
    let o = with_reader_gone(
        std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" analyze "$1" "$1/missing" 2>&1"#)
            .args([bin(), d.path().to_str().unwrap()]),
    );
    assert_eq!(o.status.code(), Some(2), "a panic would be 101");
    // pdns with an unreadable input: a reader gone does not hide it (exit 2, not 0).
    let o = with_reader_gone(std::process::Command::new(bin()).args([
        "pdns",
        "tests/data",
        "/missing/captriage",
    ]));
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A command with nothing else to report exits 0 and says nothing.
    let o = with_reader_gone(
        std::process::Command::new(bin()).args(["intel", "export", "--format", "csv"]),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A device that refuses the write: exit 2 and a message naming it; the device is no
    // regular file and is left alone.
    if Path::new("/dev/full").exists() {
        for args in [
            &["analyze", case, "--quiet", "-o", "/dev/full"][..],
            &["intel", "export", "-o", "/dev/full"][..],
            &["pdns", "tests/data", "-o", "/dev/full"][..],
        ] {
            let o = std::process::Command::new(bin())
                .args(args)
                .stdout(std::process::Stdio::null())
                .output()
                .unwrap();
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(stderr.contains("cannot write /dev/full: "), "{stderr}");
            assert!(Path::new("/dev/full").exists());
        }
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" analyze "$1" --quiet --format json > /dev/full"#)
            .args([bin(), case])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.contains("cannot write to standard output: "),
            "{stderr}"
        );
    }
}

#[test]
fn same_data_as_tsv_json_and_gzip_gives_identical_reports() {
    // The generated-logs leg of issue 2: genlogs-style data written three ways by this test.
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("tsv");
    let js = dir.path().join("json");
    let gz = dir.path().join("gz");
    for d in [&tsv, &js, &gz] {
        std::fs::create_dir_all(d).unwrap();
    }
    let case = Path::new("tests/data/reference-cases");
    for f in ["conn.log", "dns.log"] {
        std::fs::copy(case.join("all_rules").join(f), tsv.join(f)).unwrap();
        let bytes = std::fs::read(case.join("all_rules").join(f)).unwrap();
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, &bytes).unwrap();
        std::fs::write(gz.join(format!("{f}.gz")), enc.finish().unwrap()).unwrap();
    }
    for f in ["conn.log", "dns.log"] {
        std::fs::copy(case.join("json_logs_strict").join(f), js.join(f)).unwrap();
    }
    let json_of = |p: &Path| {
        let out = std::process::Command::new(bin())
            .args(["analyze", p.to_str().unwrap(), "--format", "json", "-q"])
            .output()
            .unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // Paths, formats and row positions differ by construction; compare alerts.
        v["alerts"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .for_each(|a| {
                a["evidence"]["first_occurrence"] = serde_json::Value::Null;
            });
        v["alerts"].clone()
    };
    assert_eq!(json_of(&tsv), json_of(&gz));
    let tsv_case = json_of(&case.join("json_logs_converted"));
    assert_eq!(
        tsv_case,
        json_of(&js),
        "json_logs_converted (TSV) vs json_logs_strict (JSON)"
    );
}

/// Pairs whose baseline has every log the capture's rules need, with real or masked ts.
const CAPTURE_PAIRS: &[&str] = &[
    "wikipedia-default",
    "starttls-irc-selfsigned-sll",
    "http-ethernet-padding-default",
    "vlan-mpls-http",
    "dns-udp2152-not-gtp-default",
    "tcp-missing-syn",
    "ftp-ipv6",
];

#[test]
fn capture_gives_the_same_alerts_as_zeeks_logs_of_it() {
    let root = Path::new("tests/data/zeek-traces");
    for pair in CAPTURE_PAIRS {
        let dir = root.join(pair);
        let trace = ["trace.pcap", "trace.pcapng"]
            .iter()
            .map(|t| dir.join(t))
            .find(|p| p.exists())
            .unwrap();
        let baseline = dir.join("baseline");
        let native = analyze(&[trace.to_str().unwrap(), "--engine", "native"]);
        let zeek = analyze(&[baseline.to_str().unwrap()]);
        assert!(
            native.unreadable.is_empty(),
            "{pair}: {:?}",
            native.unreadable
        );
        assert_eq!(pairs(&native), pairs(&zeek), "{pair}");
    }
}

#[test]
fn engine_zeek_runs_zeek_without_a_shell_and_reads_its_logs() {
    let tmp = tempfile::tempdir().unwrap();
    // A stand-in zeek: records its arguments, writes the logs of a known run into its cwd.
    let logs = std::fs::canonicalize("tests/data/reference-cases/all_rules").unwrap();
    let record = tmp.path().join("args.txt");
    let script = tmp.path().join("zeek");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\ncp '{}'/*.log .\n",
            record.display(),
            logs.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    // A capture path full of shell metacharacters.
    let nasty = tmp.path().join("a b;$(touch pwned)'\"&|*.pcap");
    std::fs::copy(
        "tests/data/zeek-traces/wikipedia-default/trace.pcap",
        &nasty,
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        tmp.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(bin())
        .env("PATH", path)
        .current_dir(tmp.path())
        .args([
            "analyze",
            nasty.to_str().unwrap(),
            "--engine",
            "zeek",
            "--format",
            "json",
            "-q",
            "--iocs",
            logs.join("iocs.json").to_str().unwrap(),
            "--no-default-intel",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let args = std::fs::read_to_string(&record).unwrap();
    assert!(args.lines().any(|l| l == "-r"), "{args}");
    assert!(args.contains("a b;$(touch pwned)'\"&|*.pcap"), "{args}");
    assert!(
        !tmp.path().join("pwned").exists(),
        "the path went through a shell"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"IOC-01"), "{ids:?}");
}

#[test]
fn extract_writes_zeek_logs_that_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(bin())
        .args([
            "extract",
            "tests/data/zeek-traces/wikipedia-default/trace.pcap",
            "-o",
            tmp.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let extracted = analyze(&[tmp.path().to_str().unwrap()]);
    let native = analyze(&["tests/data/zeek-traces/wikipedia-default/trace.pcap"]);
    assert_eq!(pairs(&extracted), pairs(&native));
    assert!(
        extracted
            .inputs
            .iter()
            .any(|i| i.log_type == "dns" && i.rows > 0)
    );
}

#[test]
fn extract_keeps_existing_logs_unless_forced_and_never_overwrites_the_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let trace = "tests/data/zeek-traces/wikipedia-default/trace.pcap";
    let extract = |capture: &Path, extra: &[&str]| {
        std::process::Command::new(bin())
            .arg("extract")
            .arg(capture)
            .arg("-o")
            .arg(d)
            .args(extra)
            .output()
            .unwrap()
    };
    std::fs::write(d.join("dns.log"), "an analyst's notes\n").unwrap();
    let out = extract(Path::new(trace), &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!("{} exists;", d.join("dns.log").display());
    assert!(stderr.contains(&want), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(d.join("dns.log")).unwrap(),
        "an analyst's notes\n"
    );
    assert!(
        !d.join("conn.log").exists(),
        "nothing is written when refused"
    );
    // With --force the logs are written, and read back as the capture does.
    assert_eq!(
        extract(Path::new(trace), &["--force"]).status.code(),
        Some(0)
    );
    assert_eq!(
        pairs(&analyze(&[d.to_str().unwrap()])),
        pairs(&analyze(&[trace]))
    );
    // A capture in the output directory under a log's name is never overwritten.
    let capture = d.join("conn.log");
    std::fs::copy(trace, &capture).unwrap();
    let out = extract(&capture, &["--force"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is the capture"));
    assert_eq!(
        std::fs::read(&capture).unwrap(),
        std::fs::read(trace).unwrap()
    );
}

#[test]
fn a_dns_transaction_is_whitelisted_only_when_its_query_and_every_cname_target_are() {
    // all_rules/dns.log's header, then two lookups under a suspicious TLD (IOC-06): one with no
    // CNAME, one whose answer goes through a CNAME to another domain.
    let fixture = std::fs::read_to_string("tests/data/reference-cases/all_rules/dns.log").unwrap();
    let header: String = fixture
        .lines()
        .take_while(|l| l.starts_with('#') && !l.starts_with("#close"))
        .map(|l| format!("{l}\n"))
        .collect();
    let row = |uid: &str, query: &str, answers: &str, ttls: &str| {
        format!(
            "1704103204.000000\t{uid}\t192.168.100.10\t40004\t192.168.100.1\t53\tudp\t1004\t\
             0.010000\t{query}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{answers}\t\
             {ttls}\tF\n"
        )
    };
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("dns.log");
    std::fs::write(
        &log,
        header
            + &row("C1", "shop.something.xyz", "192.0.2.30", "300.000000")
            + &row(
                "C2",
                "www.something.xyz",
                "edge.cdn-host.xyz,192.0.2.31",
                "300.000000,300.000000",
            ),
    )
    .unwrap();
    let run = |whitelist: &str| {
        let wl = tmp.path().join("whitelist.txt");
        std::fs::write(&wl, whitelist).unwrap();
        let report = analyze(&[
            log.to_str().unwrap(),
            "--no-default-intel",
            "--iocs",
            "tests/data/reference-cases/all_rules/iocs.json",
            "--whitelist",
            wl.to_str().unwrap(),
        ]);
        pairs(&report)
    };
    let pair = |host: &str| ("IOC-06".to_string(), host.to_string());
    assert_eq!(
        run(""),
        [pair("shop.something.xyz"), pair("www.something.xyz")].into()
    );
    // The CNAME target is not covered: the second lookup still alerts, by its query name.
    assert_eq!(run("something.xyz\n"), [pair("www.something.xyz")].into());
    assert!(run("something.xyz\ncdn-host.xyz\n").is_empty());
}
