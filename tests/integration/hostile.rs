//! Issue 7: hostile input. Each case writes a damaged input into a temporary directory, runs the
//! real pipeline on it (`app::analyze`, configured through the CLI parser) and checks that it does
//! not panic, that a message names the file and the line (or packet), and that the rest of the
//! input is still processed. The inputs are built from the TinyCheck reference case `all_rules`
//! (tests/data/reference-cases, see its README) so that good lines give known alerts.
//!
//! The last test parses every prefix and many byte-flipped variants of every fixture under
//! tests/data/reference-cases through the Zeek reader and every indicator loader.

use captriage::app;
use captriage::cli::{Cli, Command};
use captriage::config::AnalyzeConfig;
use captriage::input::zeek::read_reader;
use captriage::intel::{IntelBuilder, IocFormat, WhitelistBuilder, parse_any, tinycheck};
use captriage::model::{Diagnostic, Location, Record, Sink};
use captriage::report::{Format, Report};
use clap::Parser;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const CASE: &str = "tests/data/reference-cases/all_rules";
const CONN_FIELDS: usize = 21;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(CASE).join(name)).unwrap()
}

/// Runs `captriage analyze PATHS --no-default-intel --iocs all_rules/iocs.json --engine native`.
fn analyze(paths: &[&Path]) -> Report {
    analyze_with(paths, &[])
}

/// [`analyze`] with `extra` arguments.
fn analyze_with(paths: &[&Path], extra: &[&str]) -> Report {
    let mut argv: Vec<String> = vec!["captriage".into(), "analyze".into()];
    argv.extend(paths.iter().map(|p| p.display().to_string()));
    argv.extend(extra.iter().map(|a| a.to_string()));
    for a in [
        "--no-default-intel",
        "--iocs",
        "tests/data/reference-cases/all_rules/iocs.json",
        "--engine",
        "native",
        "--quiet",
    ] {
        argv.push(a.into());
    }
    let cli = Cli::try_parse_from(&argv).unwrap();
    let Command::Analyze(args) = cli.command else {
        panic!("not analyze")
    };
    let cfg = AnalyzeConfig::from_args(*args).unwrap();
    app::analyze(&cfg, &mut |_| {}).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn alerts(r: &Report) -> BTreeSet<(String, String)> {
    r.alerts
        .iter()
        .map(|a| (a.id.to_string(), a.host.clone()))
        .collect()
}

fn diags(r: &Report) -> Vec<String> {
    r.diagnostics.iter().map(|d| d.to_string()).collect()
}

/// The rows read from the one input of `r`.
fn rows(r: &Report) -> u64 {
    assert_eq!(r.inputs.len(), 1, "{:?} {:?}", r.inputs, r.unreadable);
    r.inputs[0].rows
}

/// The lines of `bytes`, each with its newline.
fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').collect()
}

fn is_data(line: &[u8]) -> bool {
    !line.starts_with(b"#") && !line.iter().all(u8::is_ascii_whitespace)
}

/// all_rules/conn.log with `edit` applied to its lines (index 0 is line 1).
fn edited_conn(edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    let conn = fixture("conn.log");
    let mut v: Vec<Vec<u8>> = lines(&conn).into_iter().map(<[u8]>::to_vec).collect();
    edit(&mut v);
    v.concat()
}

/// Line number (1-based) of the first data line of all_rules/conn.log.
fn first_data_line() -> usize {
    lines(&fixture("conn.log"))
        .iter()
        .position(|l| is_data(l))
        .unwrap()
        + 1
}

fn baseline_conn() -> Report {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "conn.log", &fixture("conn.log"));
    analyze(&[&p])
}

#[test]
fn conn_log_truncated_at_every_line_and_mid_line() {
    let base = baseline_conn();
    assert!(!base.alerts.is_empty(), "the fixture gives alerts");
    let conn = fixture("conn.log");
    let ls = lines(&conn);
    let dir = tempfile::tempdir().unwrap();
    for k in 0..=ls.len() {
        let whole = ls[..k].concat();
        let complete = ls[..k].iter().filter(|l| is_data(l)).count() as u64;
        let p = write(dir.path(), "conn.log", &whole);
        let r = analyze(&[&p]);
        if k > 0 {
            assert_eq!(rows(&r), complete, "cut after line {k}");
            assert!(alerts(&r).is_subset(&alerts(&base)), "cut after line {k}");
            assert!(r.diagnostics.is_empty(), "{:?}", diags(&r));
        }
        let Some(next) = ls.get(k) else { continue };
        let mut cut = whole.clone();
        cut.extend_from_slice(&next[..next.len() / 2]);
        let p = write(dir.path(), "conn.log", &cut);
        let r = analyze(&[&p]);
        assert!(
            r.inputs.len() + r.unreadable.len() == 1,
            "cut in line {}",
            k + 1
        );
        if is_data(next) && k > 0 {
            assert_eq!(rows(&r), complete, "cut in line {}", k + 1);
            let want = format!("{}:{}: expected {CONN_FIELDS} fields", p.display(), k + 1);
            assert!(
                diags(&r).iter().any(|d| d.starts_with(&want)),
                "{want}: {:?}",
                diags(&r)
            );
        }
    }
}

#[test]
fn wrong_field_counts_are_reported_and_the_rest_is_read() {
    let base = baseline_conn();
    let first = first_data_line();
    let data = edited_conn(|v| {
        // One line with an extra field, one with a field missing.
        let l = &mut v[first];
        l.splice(l.len() - 1..l.len() - 1, b"\textra".iter().copied());
        v.insert(
            first + 2,
            b"1704103299.000000\tCbad\t10.0.0.1\t1\n".to_vec(),
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "conn.log", &data);
    let r = analyze(&[&p]);
    let d = diags(&r);
    let path = p.display();
    assert!(
        d.contains(&format!(
            "{path}:{}: expected 21 fields, found 22; line skipped",
            first + 1
        )),
        "{d:?}"
    );
    assert!(
        d.contains(&format!(
            "{path}:{}: expected 21 fields, found 4; line skipped",
            first + 3
        )),
        "{d:?}"
    );
    assert_eq!(rows(&r), rows(&base) - 1);
    assert_eq!(r.inputs[0].errors, 2);
    // Only the line with the extra field was lost; its alerts may go, no others.
    assert!(alerts(&r).is_subset(&alerts(&base)));
    assert!(!r.alerts.is_empty());
}

#[test]
fn unknown_and_duplicate_columns() {
    let base = baseline_conn();
    let data = edited_conn(|v| {
        for l in v.iter_mut() {
            let (add, at_end) = if l.starts_with(b"#fields") {
                (&b"\tx_unknown\tid.resp_h"[..], true)
            } else if l.starts_with(b"#types") {
                (&b"\tstring\taddr"[..], true)
            } else if is_data(l) {
                (&b"\tjunk\\x09\t10.9.9.9"[..], true)
            } else {
                (&b""[..], false)
            };
            if at_end {
                l.splice(l.len() - 1..l.len() - 1, add.iter().copied());
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "conn.log", &data);
    let r = analyze(&[&p]);
    let fields_line = lines(&data)
        .iter()
        .position(|l| l.starts_with(b"#fields"))
        .unwrap()
        + 1;
    assert_eq!(
        diags(&r),
        vec![format!(
            "{}:{fields_line}: duplicate column \"id.resp_h\" (the first one is used)",
            p.display()
        )]
    );
    assert_eq!(rows(&r), rows(&base));
    assert_eq!(alerts(&r), alerts(&base));
}

#[test]
fn bad_utf8_in_names_is_reported_and_the_row_kept() {
    let dns = fixture("dns.log");
    let ssl = fixture("ssl.log");
    let dir = tempfile::tempdir().unwrap();
    let base = analyze(&[
        &write(dir.path(), "dns.log", &dns),
        &write(dir.path(), "ssl.log", &ssl),
    ])
    .alerts
    .len();
    // The first query and the first SNI get invalid UTF-8 bytes.
    let spoil = |data: &[u8], name: &[u8]| -> (Vec<u8>, usize) {
        let mut ls: Vec<Vec<u8>> = lines(data).into_iter().map(<[u8]>::to_vec).collect();
        let i = ls
            .iter()
            .position(|l| is_data(l) && memchr::memmem::find(l, name).is_some())
            .unwrap();
        let at = memchr::memmem::find(&ls[i], name).unwrap();
        ls[i].splice(at..at, b"\xff\xfe\xc3(".iter().copied());
        (ls.concat(), i + 1)
    };
    let (dns_bad, dns_line) = spoil(&dns, b"api.evil-c2.com");
    let (ssl_bad, ssl_line) = spoil(&ssl, b"api.evil-c2.com");
    let dir = tempfile::tempdir().unwrap();
    let pd = write(dir.path(), "dns.log", &dns_bad);
    let ps = write(dir.path(), "ssl.log", &ssl_bad);
    let r = analyze(&[&pd, &ps]);
    let d = diags(&r);
    for (p, line) in [(&pd, dns_line), (&ps, ssl_line)] {
        let want = format!(
            "{}:{line}: invalid UTF-8 (replaced with U+FFFD)",
            p.display()
        );
        assert!(d.contains(&want), "{want}: {d:?}");
    }
    let count = |data: &[u8]| lines(data).iter().filter(|l| is_data(l)).count() as u64;
    assert_eq!(r.inputs[0].rows, count(&dns_bad));
    assert_eq!(r.inputs[1].rows, count(&ssl_bad));
    // The other lines naming api.evil-c2.com still alert.
    assert!(
        r.alerts.iter().any(|a| a.host == "api.evil-c2.com"),
        "{:?}",
        alerts(&r)
    );
    assert!(r.alerts.len() + 2 >= base, "{} vs {base}", r.alerts.len());
}

#[test]
fn logs_saved_with_a_byte_order_mark_and_crlf_line_ends_read_like_the_originals() {
    // As a Windows editor or PowerShell's `Out-File` saves them: a UTF-8 byte order mark, then
    // every line ended by CR LF. ssl.log goes under a name that says nothing, found by content.
    let logs = [
        ("conn.log", "conn.log"),
        ("dns.log", "dns.log"),
        ("ssl.log", "ssl-export.txt"),
        ("http.log", "http.log"),
        ("files.log", "files.log"),
    ];
    let plain = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    for (log, renamed) in logs {
        let data = fixture(log);
        write(plain.path(), renamed, &data);
        let mut out = b"\xef\xbb\xbf".to_vec();
        for l in lines(&data) {
            out.extend_from_slice(l.strip_suffix(b"\n").unwrap_or(l));
            out.extend_from_slice(b"\r\n");
        }
        write(saved.path(), renamed, &out);
    }
    let want = analyze(&[plain.path()]);
    let got = analyze(&[saved.path()]);
    assert_eq!(diags(&got), Vec::<String>::new());
    assert_eq!(got.unreadable, Vec::<String>::new());
    let counts = |r: &Report| -> Vec<(String, u64, u64)> {
        r.inputs
            .iter()
            .map(|i| {
                let name = Path::new(&i.path).file_name().unwrap().to_string_lossy();
                (name.to_string(), i.rows, i.errors)
            })
            .collect()
    };
    assert_eq!(counts(&got), counts(&want));
    assert_eq!(got.inputs.len(), logs.len());
    assert_eq!(alerts(&got), alerts(&want));
    assert!(!want.alerts.is_empty());
}

#[test]
fn line_over_one_mebibyte_is_skipped() {
    let base = baseline_conn();
    let first = first_data_line();
    let data = edited_conn(|v| {
        let mut long = b"1704103299.000000\tClong\t10.0.0.1\t1\t".to_vec();
        long.resize(1 << 20 | 1 << 19, b'a');
        long.push(b'\n');
        v.insert(first + 1, long);
    });
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "conn.log", &data);
    let r = analyze(&[&p]);
    assert_eq!(
        diags(&r),
        vec![format!(
            "{}:{}: line longer than 1048576 bytes; skipped",
            p.display(),
            first + 2
        )]
    );
    assert_eq!(rows(&r), rows(&base));
    assert_eq!(alerts(&r), alerts(&base));
}

/// all_rules/conn.log with its data lines repeated `n` times (large enough to be cut).
fn repeated_conn(n: usize) -> (Vec<u8>, u64) {
    let conn = fixture("conn.log");
    let ls = lines(&conn);
    let header: Vec<u8> = ls
        .iter()
        .filter(|l| !is_data(l))
        .copied()
        .collect::<Vec<_>>()
        .concat();
    let data: Vec<&[u8]> = ls.iter().filter(|l| is_data(l)).copied().collect();
    let mut out = header;
    for _ in 0..n {
        for l in &data {
            out.extend_from_slice(l);
        }
    }
    (out, (n * data.len()) as u64)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn truncated_gzip_keeps_the_rows_before_the_break() {
    let (plain, total) = repeated_conn(300);
    let gz = gzip(&plain);
    let dir = tempfile::tempdir().unwrap();
    for cut in [gz.len() / 3, gz.len() / 2, gz.len() - 9, gz.len() - 1] {
        let p = write(dir.path(), "conn.log.gz", &gz[..cut]);
        let r = analyze(&[&p]);
        let got = rows(&r);
        assert!(
            got > 0 && got < total || cut >= gz.len() - 9,
            "{got} of {total}"
        );
        assert!(r.inputs[0].compressed);
        let d = diags(&r);
        let want = format!("{}:", p.display());
        let read_error = format!("read error after {got} rows: ");
        assert!(
            d.iter()
                .any(|m| m.starts_with(&want) && m.contains(&read_error)),
            "cut {cut}: {d:?}"
        );
        assert!(!r.alerts.is_empty());
    }
}

#[test]
fn corrupt_gzip_is_reported_and_never_panics() {
    let (plain, _) = repeated_conn(50);
    let gz = gzip(&plain);
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // Bytes flipped in the middle of the deflate stream, in the CRC, in the length.
    for at in [gz.len() / 2, gz.len() - 6, gz.len() - 2] {
        let mut g = gz.clone();
        g[at] ^= 0x5a;
        cases.push(("flipped.log.gz", g));
    }
    // Gzip magic followed by garbage, and a second member that is broken.
    cases.push(("magic-only.log.gz", b"\x1f\x8b\x08\x00garbage".to_vec()));
    let mut two = gz.clone();
    two.extend_from_slice(&gz[..gz.len() / 2]);
    cases.push(("two-members.log.gz", two));
    for (name, bytes) in cases {
        let p = write(dir.path(), name, &bytes);
        let r = analyze(&[&p]);
        let shown = p.display().to_string();
        let named = r.unreadable.iter().any(|u| u.starts_with(&shown))
            || diags(&r)
                .iter()
                .any(|d| d.starts_with(&format!("{shown}:")));
        assert!(named, "{name}: {:?} {:?}", r.unreadable, diags(&r));
    }
}

/// Serialises the tests that change the process-wide decompression cap, and restores it.
static CAP: Mutex<()> = Mutex::new(());

struct CapGuard(#[allow(dead_code)] std::sync::MutexGuard<'static, ()>);

impl CapGuard {
    fn set(bytes: u64) -> CapGuard {
        let g = CAP.lock().unwrap_or_else(|e| e.into_inner());
        captriage::input::set_max_decompressed(bytes);
        CapGuard(g)
    }
}

impl Drop for CapGuard {
    fn drop(&mut self) {
        captriage::input::set_max_decompressed(captriage::input::DEFAULT_MAX_DECOMPRESSED);
    }
}

#[test]
fn gzip_bomb_stops_at_the_cap_and_keeps_earlier_rows() {
    // 4 MiB: above every other gzip input the tests read (all well under 1 MiB decompressed),
    // so tests running beside this one are not affected.
    const CAP_BYTES: u64 = 4 << 20;
    let (plain, total) = repeated_conn(2);
    // The good log, then 64 members of 1 MiB of newlines each: 64 MiB out of ~70 KiB.
    let mut bomb = gzip(&plain);
    let filler = gzip(&vec![b'\n'; 1 << 20]);
    for _ in 0..64 {
        bomb.extend_from_slice(&filler);
    }
    assert!(bomb.len() < 128 << 10);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "conn.log.gz", &bomb);
    let r = {
        let _cap = CapGuard::set(CAP_BYTES);
        analyze(&[&p])
    };
    assert_eq!(rows(&r), total);
    let d = diags(&r);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(
        d[0].starts_with(&format!("{}:", p.display()))
            && d[0].ends_with(&format!(
                "read error after {total} rows: decompressed size exceeds the cap of {CAP_BYTES} \
                 bytes (--max-decompressed); rest of file skipped"
            )),
        "{d:?}"
    );
    assert!(!r.alerts.is_empty());
}

#[test]
fn destinations_past_the_cap_are_counted_and_the_first_one_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "conn.log", &fixture("conn.log"));
    let full = analyze(&[&p]);
    let connections = |r: &Report| r.destinations.iter().map(|d| d.connections).sum::<u64>();
    assert!(full.destinations.len() > 2, "{:?}", full.destinations);
    assert!(full.limitations.is_empty(), "{:?}", full.limitations);
    let r = analyze_with(&[&p], &["--max-destinations", "2"]);
    assert_eq!(rows(&r), rows(&full));
    assert!(r.destinations.len() <= 2, "{:?}", r.destinations);
    let dropped = connections(&full) - connections(&r);
    assert!(dropped > 0);
    assert_eq!(
        r.limitations,
        [format!(
            "{dropped} connections to destinations beyond the cap of 2 distinct destinations \
             were counted but not evaluated"
        )]
    );
    let d = diags(&r);
    assert_eq!(d.len(), 1, "{d:?}");
    let prefix = format!("{}:", p.display());
    let line = d[0]
        .strip_prefix(&prefix)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(line.is_some_and(|n| n > first_data_line()), "{d:?}");
    assert!(
        d[0].ends_with(
            "more than 2 distinct destinations: further new destinations are counted but not \
             tracked"
        ),
        "{d:?}"
    );
    assert!(alerts(&r).is_subset(&alerts(&full)));

    for (flag, want) in [
        (
            "--max-destinations",
            "--max-destinations must be at least 1",
        ),
        (
            "--max-decompressed",
            "--max-decompressed must be at least 1 (bytes)",
        ),
    ] {
        let argv = ["captriage", "analyze", "x", flag, "0"];
        let Command::Analyze(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("not analyze")
        };
        let err = AnalyzeConfig::from_args(*args).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some(want));
    }
}

#[test]
fn an_address_whose_names_are_asked_in_turn_gives_an_alert_per_name_with_all_its_names() {
    // A CDN address answered for three names in turn, 3,000 times, with a plain HTTP
    // connection after each answer: every connection is under the name answered just before
    // it. Each turn is a run of its own, which made the rules quadratic in the turns.
    let names = ["api.evil-c2.com", "www.example.org", "x.ddns.net"];
    let turns = 3_000;
    let head = |path: &str, fields: &str, types: &str| {
        format!(
            "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
             #path\t{path}\n#fields\t{fields}\n#types\t{types}\n"
        )
    };
    let mut dns = head(
        "dns",
        "ts\tuid\tquery\tqtype\tqtype_name\tanswers",
        "time\tstring\tstring\tcount\tstring\tvector[string]",
    );
    let mut conn = head(
        "conn",
        "ts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice",
        "time\tstring\taddr\tport\taddr\tport\tenum\tstring",
    );
    for i in 0..turns {
        let (t, name) = (1_704_067_200 + 10 * i, names[i % 3]);
        dns.push_str(&format!("{t}.000000\tD{i}\t{name}\t1\tA\t151.101.1.1\n"));
        conn.push_str(&format!(
            "{t}.500000\tC{i}\t10.0.0.2\t40000\t151.101.1.1\t80\ttcp\thttp\n"
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let d = write(dir.path(), "dns.log", dns.as_bytes());
    let c = write(dir.path(), "conn.log", conn.as_bytes());
    let r = analyze(&[&d, &c]);
    let want: BTreeSet<(String, String)> = [
        ("IOC-03", "api.evil-c2.com"),
        ("IOC-05", "x.ddns.net"),
        ("PROTO-03", "api.evil-c2.com"),
        ("PROTO-03", "www.example.org"),
        ("PROTO-03", "x.ddns.net"),
    ]
    .iter()
    .map(|(id, h)| (id.to_string(), h.to_string()))
    .collect();
    let got: BTreeSet<(String, String)> = alerts(&r)
        .into_iter()
        .filter(|(id, _)| id != "ADV-01")
        .collect();
    assert_eq!(got, want);
    // DOM-01 counts a connection once per name of its server under the random-looking
    // domain: two names here.
    let dom = write(
        dir.path(),
        "dns.log",
        dns.replace("www.example.org", "a.zzkqxwvbpt.com")
            .replace("x.ddns.net", "b.zzkqxwvbpt.com")
            .as_bytes(),
    );
    let random = analyze_with(&[&dom, &c], &["--random-domains"]);
    let dom01 = random
        .alerts
        .iter()
        .find(|a| a.id == "DOM-01" && a.host == "zzkqxwvbpt.com")
        .expect("DOM-01 on zzkqxwvbpt.com");
    assert_eq!(
        dom01.evidence.counts.get("connections"),
        Some(&(2 * turns as u64))
    );
    for a in &r.alerts {
        let listed: Vec<&str> = a.evidence.names.keys().map(String::as_str).collect();
        if a.id == "ADV-01" {
            assert!(listed.is_empty(), "{}: {listed:?}", a.host);
            continue;
        }
        assert_eq!(listed, names, "{} {}", a.id, a.host);
        // PROTO-03 names each connection's host; a name rule takes every connection to an
        // address that has the name among its names (RULES.md §3, §7.2).
        let n = if a.id == "PROTO-03" { turns / 3 } else { turns };
        assert_eq!(
            a.evidence.counts.get("connections"),
            Some(&(n as u64)),
            "{} {}",
            a.id,
            a.host
        );
    }
}

#[test]
fn a_whitelisted_host_does_not_hide_another_host_of_the_same_server() {
    // Two requests to one server without DNS names: one whose Host is whitelisted, one whose
    // Host is an indicator. Whether a request is whitelisted is remembered per (server, Host),
    // in either order.
    let http = fixture("http.log");
    let all = lines(&http);
    let (head, rest): (Vec<&[u8]>, Vec<&[u8]>) = all.iter().partition(|l| l.starts_with(b"#"));
    let spy = rest
        .iter()
        .find(|l| l.windows(17).any(|w| w == b"panel.spyhttp.com"))
        .expect("the panel.spyhttp.com request");
    let spy = String::from_utf8(spy.to_vec())
        .unwrap()
        .replace("192.0.2.90", "203.0.113.77");
    let safe = spy.replace("panel.spyhttp.com", "safe.example");
    let (fields, close) = head.split_at(head.len() - 1);
    let dir = tempfile::tempdir().unwrap();
    let conn = write(dir.path(), "conn.log", &fixture("conn.log"));
    let wl = write(dir.path(), "whitelist.txt", b"safe.example\n");
    for rows in [[&safe, &spy], [&spy, &safe]] {
        let mut log = fields.concat();
        for r in rows {
            log.extend_from_slice(r.as_bytes());
        }
        log.extend(close.concat());
        let h = write(dir.path(), "http.log", &log);
        let r = analyze_with(&[&conn, &h], &["--whitelist", &wl.display().to_string()]);
        let hosts: Vec<&str> = r
            .alerts
            .iter()
            .filter(|a| {
                a.evidence
                    .server_ips
                    .contains(&"203.0.113.77".parse().unwrap())
            })
            .map(|a| a.host.as_str())
            .collect();
        assert!(hosts.contains(&"panel.spyhttp.com"), "{hosts:?}");
        assert!(!hosts.contains(&"safe.example"), "{hosts:?}");
    }
}

/// The IOC-08 alert on panel.spyhttp.com and the requests its evidence names.
fn spyhttp_requests(r: &Report) -> Vec<String> {
    let a = r
        .alerts
        .iter()
        .find(|a| a.id == "IOC-08" && a.host == "panel.spyhttp.com")
        .expect("IOC-08 on panel.spyhttp.com");
    a.evidence
        .details
        .iter()
        .filter(|d| d.starts_with("request: "))
        .cloned()
        .collect()
}

#[test]
fn distinct_http_requests_past_the_cap_keep_their_alerts_without_uris() {
    let cap = captriage::facts::MAX_HTTP_REQUESTS;
    let http = fixture("http.log");
    let (head, body): (Vec<&[u8]>, Vec<&[u8]>) =
        lines(&http).into_iter().partition(|l| l.starts_with(b"#"));
    let (fields, close) = head.split_at(head.len() - 1);
    // `cap` requests to the fixture's benign host, each with a URI of its own, fill the cap;
    // the fixture's requests come after them.
    let mut log: Vec<u8> = fields.concat();
    for i in 0..cap {
        log.extend_from_slice(
            format!(
                "1704103200.{i:06}\tCF{i:015}\t192.168.100.10\t40000\t192.0.2.40\t80\t1\tGET\t\
                 plain.example.org\t/item?id={i}\t-\t1.1\tcurl\t-\t0\t10\t200\tOK\t-\t-\t(empty)\t\
                 -\t-\t-\t-\t-\t-\t-\t-\t-\n"
            )
            .as_bytes(),
        );
    }
    let first_late = fields.len() + cap + 1;
    log.extend(body.concat());
    log.extend(close.concat());
    let dir = tempfile::tempdir().unwrap();
    let conn = write(dir.path(), "conn.log", &fixture("conn.log"));
    let plain = write(dir.path(), "http.log", &http);
    let base = analyze(&[&conn, &plain]);
    assert_eq!(spyhttp_requests(&base), ["request: GET /"]);
    assert!(base.limitations.iter().all(|l| !l.contains("HTTP")));

    let filled = write(dir.path(), "http.log", &log);
    let r = analyze(&[&conn, &filled]);
    assert_eq!(alerts(&r), alerts(&base));
    assert_eq!(spyhttp_requests(&r), Vec::<String>::new());
    let n = body.len();
    assert!(
        r.limitations.contains(&format!(
            "{n} HTTP requests beyond {cap} distinct requests (server, port, Host, method, URI) \
             were evaluated without their method and URI: their evidence names no request"
        )),
        "{:?}",
        r.limitations
    );
    assert_eq!(
        diags(&r),
        [format!(
            "{}:{first_late}: more than {cap} distinct HTTP requests: further new requests are \
             kept without their method and URI",
            filled.display()
        )]
    );
}

#[test]
fn shell_and_html_metacharacters_in_names_come_out_as_text() {
    // Lower-case (names are compared lower-cased) and free of tabs and newlines (TSV).
    const QUERY: &str = "$(touch /tmp/x);`id`|&<script>alert(\"q\")</script>'.evil-c2.com";
    const HOST: &str = "<img src=x onerror=alert(1)>&amp;$home;rm -rf ~.spyhttp.com";
    let subst = |data: Vec<u8>, from: &str, to: &str| -> Vec<u8> {
        String::from_utf8(data)
            .unwrap()
            .replace(from, to)
            .into_bytes()
    };
    let dir = tempfile::tempdir().unwrap();
    let dns = write(
        dir.path(),
        "dns.log",
        &subst(fixture("dns.log"), "api.evil-c2.com", QUERY),
    );
    let ssl = write(
        dir.path(),
        "ssl.log",
        &subst(fixture("ssl.log"), "api.evil-c2.com", QUERY),
    );
    let http = write(
        dir.path(),
        "http.log",
        &subst(fixture("http.log"), "panel.spyhttp.com", HOST),
    );
    let conn = write(dir.path(), "conn.log", &fixture("conn.log"));
    let r = analyze(&[&dns, &ssl, &http, &conn]);
    assert!(r.diagnostics.is_empty(), "{:?}", diags(&r));
    let hosts: BTreeSet<&str> = r.alerts.iter().map(|a| a.host.as_str()).collect();
    assert!(hosts.contains(QUERY), "{hosts:?}");
    assert!(hosts.contains(HOST), "{hosts:?}");

    let render = |f: Format| {
        let mut out = Vec::new();
        captriage::report::write(&r, f, false, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    // JSON: valid, the names escaped and read back exactly.
    let json = render(Format::Json);
    assert!(json.contains(r#"alert(\"q\")"#));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut strings = Vec::new();
    collect_strings(&v, &mut strings);
    assert!(strings.iter().any(|s| s == QUERY));
    assert!(strings.iter().any(|s| s == HOST));
    // Table: the names as plain text, nothing interpreted (cells wrap, so the host column is
    // read back without its whitespace).
    let table = render(Format::Table);
    assert!(!table.contains('\u{1b}'));
    let host_column: String = table
        .lines()
        .filter_map(|l| l.split('┆').nth(1))
        .flat_map(|cell| cell.chars().filter(|c| !c.is_whitespace()))
        .collect();
    for name in [QUERY, HOST] {
        let squeezed: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(host_column.contains(&squeezed), "{name} not in\n{table}");
    }
    // HTML: no live markup from the input.
    let html = render(Format::Html);
    assert!(!html.contains("<script>alert"), "raw script in HTML");
    assert!(!html.contains("<img src=x"), "raw img in HTML");
    assert!(html.contains("&lt;script&gt;"));
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// A little-endian microsecond pcap global header.
fn pcap_header(snaplen: u32, linktype: u32) -> Vec<u8> {
    let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    h.extend_from_slice(&[0; 8]);
    h.extend_from_slice(&snaplen.to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

fn pcap_record(out: &mut Vec<u8>, incl: u32, orig: u32, data: &[u8]) {
    out.extend_from_slice(&1_704_103_201u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&incl.to_le_bytes());
    out.extend_from_slice(&orig.to_le_bytes());
    out.extend_from_slice(data);
}

/// Ethernet + IPv4 + UDP 192.168.100.1:53 -> 192.168.100.10:40001 carrying `payload`.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    let total = (20 + 8 + payload.len()) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[192, 168, 100, 1, 192, 168, 100, 10]);
    let ulen = (8 + payload.len()) as u16;
    f.extend_from_slice(&[0, 53, 0x9c, 0x41, (ulen >> 8) as u8, ulen as u8, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// A DNS response whose question name is a compression pointer to itself, and whose answer
/// name points at the question (so both loop).
fn dns_loop() -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 203, 0, 113, 66]);
    m
}

#[test]
fn hostile_captures_are_reported_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let frame = udp_frame(&dns_loop());
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    // A record claiming almost 4 GiB.
    let mut c = pcap_header(65535, 1);
    pcap_record(&mut c, 0xffff_fff0, 0xffff_fff0, &frame);
    cases.push(("absurd-record-length.pcap", c));
    // A snaplen of 4 GiB - 1 and a record longer than it says the packet was.
    let mut c = pcap_header(u32::MAX, 1);
    pcap_record(&mut c, frame.len() as u32, 1, &frame);
    pcap_record(&mut c, frame.len() as u32, u32::MAX, &frame);
    cases.push(("absurd-snaplen.pcap", c));
    // A snaplen of 0 and an unknown link type.
    let mut c = pcap_header(0, 0xfff0);
    pcap_record(&mut c, frame.len() as u32, frame.len() as u32, &frame);
    cases.push(("zero-snaplen.pcap", c));
    // A DNS compression loop in an otherwise good capture.
    let mut c = pcap_header(65535, 1);
    pcap_record(&mut c, frame.len() as u32, frame.len() as u32, &frame);
    cases.push(("dns-compression-loop.pcap", c));
    // A capture cut inside its global header and inside a record header.
    cases.push(("cut-header.pcap", pcap_header(65535, 1)[..10].to_vec()));
    let mut c = pcap_header(65535, 1);
    c.extend_from_slice(&[1, 2, 3]);
    cases.push(("cut-record.pcap", c));
    // A pcapng block whose total length (4) is shorter than its own framing: pcap-parser 0.17
    // subtracted 12 from it unchecked, a panic with overflow checks (found by fuzzing).
    let mut c = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0,
    ];
    c.extend_from_slice(&[0xff; 8]);
    c.extend_from_slice(&[28, 0, 0, 0, 0x01, 0, 0, 0x80, 4, 0, 0, 0]);
    c.extend_from_slice(&[0; 16]);
    cases.push(("short-block.pcapng", c));
    // An empty file and a file with a wrong magic number.
    cases.push(("empty.pcap", Vec::new()));
    cases.push((
        "wrong-magic.pcap",
        b"\0\x01\x02\x03not a capture\0\0".to_vec(),
    ));
    for (name, bytes) in &cases {
        let p = write(dir.path(), name, bytes);
        let r = analyze(&[&p]);
        let shown = p.display().to_string();
        let named = r.unreadable.iter().any(|u| u.starts_with(&shown))
            || diags(&r).iter().any(|d| d.starts_with(&shown));
        assert!(named, "{name}: {:?} {:?}", r.unreadable, diags(&r));
    }
    // All of them at once: each is reported, and the good log beside them is read.
    let paths: Vec<PathBuf> = cases
        .iter()
        .map(|(name, _)| dir.path().join(name))
        .chain([write(dir.path(), "conn.log", &fixture("conn.log"))])
        .collect();
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    let r = analyze(&refs);
    let base = baseline_conn();
    assert_eq!(alerts(&r), alerts(&base));
}

/// Discards records; counts them so that the work is not optimised away.
#[derive(Default)]
struct Count(u64);

impl Sink for Count {
    fn record(&mut self, _: Record<'_>, _: &Location) {
        self.0 += 1;
    }
    fn diagnostic(&mut self, _: Diagnostic) {
        self.0 += 1;
    }
}

/// xorshift64*: a fixed, reproducible sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn every_reader(name: &str, bytes: &[u8]) {
    let mut sink = Count::default();
    read_reader(Arc::from(name), bytes, name, &mut sink);
    for format in IocFormat::ALL.map(Some).into_iter().chain([None]) {
        let mut b = IntelBuilder::new();
        if parse_any(Arc::from(name), bytes, format, &mut b).is_ok() {
            std::hint::black_box(b.build());
        }
    }
    let mut w = WhitelistBuilder::new();
    let _ = tinycheck::parse_whitelist(Arc::from(name), bytes, &mut w);
    std::hint::black_box(sink.0);
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn every_prefix_and_byte_flips_of_reference_fixtures_never_panic() {
    // Bytes that matter to the formats read, and some that do not.
    const INTERESTING: &[u8] = b"\t\n\r#{}[]\",:\\-.0 x\x00\xff\xc3\x1f\x8b";
    // Every prefix of files up to this size; for larger ones the cuts at and just before line
    // ends and evenly spaced cuts, at most `CUTS` of each (the readers cost ~1 ms a call in a
    // debug build).
    const SMALL: usize = 512;
    const CUTS: usize = 64;
    const FLIPS: usize = 24;
    let mut files = Vec::new();
    files_under(Path::new("tests/data/reference-cases"), &mut files);
    let mut seen = BTreeSet::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        if !seen.insert(bytes.clone()) {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let len = bytes.len();
        let mut cuts: BTreeSet<usize> = BTreeSet::new();
        if len <= SMALL {
            cuts.extend(0..=len);
        } else {
            let ends: Vec<usize> = memchr::memchr_iter(b'\n', &bytes).collect();
            let every = ends.len().div_ceil(CUTS).max(1);
            for &e in ends.iter().step_by(every) {
                cuts.extend([e, e + 1]);
            }
            cuts.extend((0..=len).step_by(len.div_ceil(CUTS)));
            cuts.insert(len);
        }
        for end in cuts {
            every_reader(&name, &bytes[..end]);
        }
        let mut v = bytes.clone();
        for _ in 0..FLIPS {
            v.copy_from_slice(&bytes);
            if len == 0 {
                break;
            }
            for _ in 0..=rng.below(4) {
                let at = rng.below(len);
                v[at] = if rng.below(2) == 0 {
                    INTERESTING[rng.below(INTERESTING.len())]
                } else {
                    rng.next() as u8
                };
            }
            every_reader(&name, &v);
        }
        // And gzip of the file, cut short and flipped.
        let gz = gzip(&bytes);
        for end in (0..=gz.len()).step_by((gz.len() / 12).max(1)) {
            every_reader(&name, &gz[..end]);
        }
    }
}
