//! Issue 7: reading conn-phase logs on several threads, and DNS and TLS logs parsed on a thread
//! of their own beside the one building names and joins from them, gives exactly the report of
//! reading them on one.
//! Every fixture directory of Zeek logs under tests/data, and a directory of damaged and
//! oddly shaped logs built here (several header blocks with different column orders, over-long
//! lines, wrong field counts, bad UTF-8, header-less lines, JSON, truncated gzip), is analysed
//! with `--threads 1` and with several threads and batches as small as one row; the JSON reports
//! (alerts, evidence with first occurrences, inputs with row and error counts, diagnostics in
//! order) must be byte-identical.

use captriage::report::{Format, Report};
use clap::Parser;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The reference case's own indicators and whitelist, instead of the default intel.
pub(crate) const ALL_RULES_INTEL: &[&str] = &[
    "--no-default-intel",
    "--iocs",
    "tests/data/reference-cases/all_rules/iocs.json",
    "--whitelist",
    "tests/data/reference-cases/all_rules/whitelist.json",
];

/// Batches of one row, of a few rows and of the default size, on 2 to 4 threads.
const ALL_SPLITS: &[(&str, &str)] = &[("2", "1"), ("3", "1"), ("4", "300"), ("2", "262144")];

/// `captriage analyze PATH --quiet --engine native EXTRA...`, in process.
pub(crate) fn analyze(path: &Path, extra: &[&str]) -> Report {
    let mut argv: Vec<String> = vec![
        "captriage".into(),
        "analyze".into(),
        path.display().to_string(),
    ];
    argv.extend(["--quiet", "--engine", "native"].map(String::from));
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cli = captriage::cli::Cli::try_parse_from(&argv).unwrap();
    let captriage::cli::Command::Analyze(a) = cli.command else {
        panic!("not analyze")
    };
    let cfg = captriage::config::AnalyzeConfig::from_args(*a).unwrap();
    captriage::app::analyze(&cfg, &mut |_| {}).unwrap()
}

/// The JSON report of `r`.
pub(crate) fn json(r: &Report) -> String {
    let mut out = Vec::new();
    captriage::report::write(r, Format::Json, false, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Asserts that `dir` gives the same report on one thread and on each (threads, batch bytes)
/// of `splits`.
fn same_on_any_threads(dir: &Path, extra: &[&str], splits: &[(&str, &str)]) -> Report {
    let mut one = vec!["--threads", "1"];
    one.extend_from_slice(extra);
    let seq = analyze(dir, &one);
    let want = json(&seq);
    for &(threads, batch) in splits {
        let mut args = vec!["--threads", threads, "--batch-bytes", batch];
        args.extend_from_slice(extra);
        let got = json(&analyze(dir, &args));
        assert!(
            got == want,
            "{}: --threads {threads} --batch-bytes {batch} differs from --threads 1",
            dir.display()
        );
    }
    seq
}

/// Directories under `dir` holding a conn log, recursively.
fn log_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    if entries.iter().any(|p| {
        p.is_file()
            && p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("conn"))
    }) {
        out.push(dir.to_path_buf());
    }
    for p in entries {
        if p.is_dir() {
            log_dirs(&p, out);
        }
    }
}

#[test]
fn every_fixture_gives_the_same_report_on_one_thread_and_many() {
    let mut dirs = Vec::new();
    log_dirs(Path::new("tests/data"), &mut dirs);
    // Reference cases, the version ladder, Zeek's edge cases and trace baselines.
    assert!(dirs.len() >= 40, "{} directories", dirs.len());
    let mut rows = 0;
    for dir in &dirs {
        let r = same_on_any_threads(dir, &[], &[("2", "1"), ("3", "300")]);
        rows += r.inputs.iter().map(|i| i.rows).sum::<u64>();
    }
    assert!(rows > 1000, "{rows} rows");
}

#[test]
fn reference_case_with_its_intel_gives_the_same_alerts_on_many_threads() {
    let case = Path::new("tests/data/reference-cases/all_rules");
    let r = same_on_any_threads(case, ALL_RULES_INTEL, ALL_SPLITS);
    assert!(r.alerts.len() >= 10, "{} alerts", r.alerts.len());
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Splits a Zeek TSV log into its header lines and its data lines (each with its newline).
fn split_log(log: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut header = Vec::new();
    let mut data = Vec::new();
    for l in log.split_inclusive(|b| *b == b'\n') {
        if l.starts_with(b"#") {
            if !l.starts_with(b"#close") {
                header.extend_from_slice(l);
            }
        } else if !l.trim_ascii().is_empty() {
            data.push(l.to_vec());
        }
    }
    (header, data)
}

/// A TSV line (a `#fields` or `#types` line, or a row) with its columns in reverse order.
fn reversed(line: &[u8]) -> Vec<u8> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let (prefix, cols): (&[u8], &[u8]) = match body.strip_prefix(b"#fields\t") {
        Some(rest) => (b"#fields\t", rest),
        None => match body.strip_prefix(b"#types\t") {
            Some(rest) => (b"#types\t", rest),
            None => (b"", body),
        },
    };
    let mut parts: Vec<&[u8]> = cols.split(|b| *b == b'\t').collect();
    parts.reverse();
    let mut out = prefix.to_vec();
    out.extend_from_slice(&parts.join(&b'\t'));
    out.push(b'\n');
    out
}

/// The header of a log with its columns in reverse order.
fn reversed_header(header: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in header.split_inclusive(|b| *b == b'\n') {
        if l.starts_with(b"#fields") || l.starts_with(b"#types") {
            out.extend(reversed(l));
        } else {
            out.extend_from_slice(l);
        }
    }
    out
}

#[test]
fn damaged_and_oddly_shaped_logs_give_the_same_report_on_many_threads() {
    let case = Path::new("tests/data/reference-cases/all_rules");
    let conn = std::fs::read(case.join("conn.log")).unwrap();
    let (header, data) = split_log(&conn);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(case.join("dns.log"), dir.path().join("dns.log")).unwrap();
    // A DNS log read before the connections, gzip cut short (decompressed on a thread of its
    // own when several threads are allowed).
    let dns = std::fs::read(case.join("dns.log")).unwrap().repeat(200);
    let dns_gz = gzip(&dns);
    std::fs::write(
        dir.path().join("dns.2.log.gz"),
        &dns_gz[..dns_gz.len() * 3 / 4],
    )
    .unwrap();

    // Several header blocks; the second one lists the columns in reverse order.
    let mut blocks = Vec::new();
    for round in 0..40 {
        blocks.extend_from_slice(&header);
        for (i, l) in data.iter().enumerate() {
            match (round + i) % 17 {
                3 => blocks.extend_from_slice(b"too\tfew\tfields\n"),
                5 => {
                    // In the uid column, which is read as text.
                    let mut bad = l.clone();
                    let tab = bad.iter().position(|b| *b == b'\t').unwrap();
                    bad.insert(tab + 1, 0xff);
                    blocks.extend_from_slice(&bad);
                }
                7 => blocks.extend(std::iter::repeat_n(b'x', (1 << 20) + 5).chain(*b"\n")),
                _ => blocks.extend_from_slice(l),
            }
        }
        blocks.extend(reversed_header(&header));
        for l in &data {
            blocks.extend(reversed(l));
        }
    }
    std::fs::write(dir.path().join("conn.log"), &blocks).unwrap();

    // Header-less rows before the header, then a gzip copy cut short.
    let mut headerless = b"1.0\tC1\t10.0.0.1\t1\t10.0.0.2\t80\ttcp\n".repeat(3);
    headerless.extend_from_slice(&blocks);
    let gz = gzip(&headerless);
    std::fs::write(dir.path().join("conn.2.log.gz"), &gz[..gz.len() * 2 / 3]).unwrap();

    // The same rows as JSON lines, one of them not JSON.
    let mut ndjson = Vec::new();
    for (i, l) in data.iter().enumerate() {
        let body = String::from_utf8_lossy(l.strip_suffix(b"\n").unwrap());
        let f: Vec<&str> = body.split('\t').collect();
        if i == 4 {
            ndjson.extend_from_slice(b"{\"ts\": broken\n");
        }
        writeln!(
            ndjson,
            "{{\"_path\":\"conn\",\"ts\":{},\"uid\":\"{}\",\"id.orig_h\":\"{}\",\"id.orig_p\":{},\
             \"id.resp_h\":\"{}\",\"id.resp_p\":{},\"proto\":\"{}\"}}",
            f[0], f[1], f[2], f[3], f[4], f[5], f[6]
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("conn.3.json"), ndjson.repeat(50)).unwrap();

    let r = same_on_any_threads(dir.path(), &[], ALL_SPLITS);
    let conn_inputs: Vec<_> = r.inputs.iter().filter(|i| i.log_type == "conn").collect();
    assert_eq!(conn_inputs.len(), 3, "{:?}", r.inputs);
    assert!(
        r.inputs
            .iter()
            .any(|i| i.log_type == "dns" && i.compressed && i.errors == 1)
    );
    assert!(conn_inputs.iter().all(|i| i.rows > 0 && i.errors > 0));
    let diags: Vec<String> = r.diagnostics.iter().map(|d| d.to_string()).collect();
    for want in [
        "expected 21 fields, found 3",
        "line longer than 1048576 bytes",
        "invalid UTF-8",
        "data line before any #fields header",
        "read error after",
        "invalid JSON",
    ] {
        assert!(diags.iter().any(|d| d.contains(want)), "{want}: {diags:?}");
    }
    assert!(!r.alerts.is_empty());
}

/// Collects records and diagnostics as text, with the ranks it was told about.
#[derive(Default)]
struct Collect {
    records: Vec<String>,
    diagnostics: Vec<String>,
}

impl captriage::model::Sink for Collect {
    fn record(
        &mut self,
        record: captriage::model::Record<'_>,
        location: &captriage::model::Location,
    ) {
        self.records.push(format!("{location} {record:?}"));
    }
    fn diagnostic(&mut self, d: captriage::model::Diagnostic) {
        self.diagnostics.push(d.to_string());
    }
}

impl captriage::model::RankedSink for Collect {
    fn begin_file(&mut self, _rank: usize) {}
}

#[test]
fn the_parallel_reader_hands_every_row_to_the_workers_and_loses_none() {
    use captriage::input::zeek::{ParallelOptions, read_file, read_files_parallel};
    let path = Path::new("tests/data/reference-cases/all_rules/conn.log");
    let mut seq = Collect::default();
    let want = read_file(path, &mut seq).unwrap();
    let opts = ParallelOptions {
        threads: 3,
        batch_bytes: 1,
    };
    let (results, sinks) = read_files_parallel(&[path], 0, opts, Collect::default, &|_| {});
    assert_eq!(results.len(), 1);
    assert_eq!(results.into_iter().next().unwrap().unwrap(), want);
    // One reader and three workers (in that order); every data row went to a worker.
    assert_eq!(sinks.len(), 4);
    assert!(sinks[0].records.is_empty());
    let mut got: Vec<String> = sinks.iter().flat_map(|s| s.records.clone()).collect();
    got.sort();
    seq.records.sort();
    assert_eq!(got, seq.records);
    assert!(want.rows > 10);
}

/// Records and diagnostics of reading `path` on one thread, and on three with batches of
/// `batch_bytes`, each sorted (workers take batches in any order).
fn sequential_and_parallel(path: &Path, batch_bytes: usize) -> [(Vec<String>, Vec<String>); 2] {
    use captriage::input::zeek::{ParallelOptions, read_file, read_files_parallel};
    let mut seq = Collect::default();
    let want = read_file(path, &mut seq).unwrap();
    let opts = ParallelOptions {
        threads: 3,
        batch_bytes,
    };
    let (results, sinks) = read_files_parallel(&[path], 0, opts, Collect::default, &|_| {});
    assert_eq!(results.into_iter().next().unwrap().unwrap(), want);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    [
        (sorted(seq.records), sorted(seq.diagnostics)),
        (
            sorted(sinks.iter().flat_map(|s| s.records.clone()).collect()),
            sorted(sinks.iter().flat_map(|s| s.diagnostics.clone()).collect()),
        ),
    ]
}

#[test]
fn runs_of_rows_handed_over_whole_keep_their_line_numbers_and_line_endings() {
    // The reader thread hands the workers each buffer's run of data rows whole, up to a meta
    // line; the workers split it. Rows with CRLF and doubled CR endings, escaped bytes, blank
    // and whitespace-only lines, headers changing the column order mid-file (one of them at the
    // very start of a 256 KiB buffer) after a #close, over several buffers and rows cut across
    // them, must give the records (with their line numbers) and diagnostics of reading on one
    // thread.
    let conn = std::fs::read("tests/data/reference-cases/all_rules/conn.log").unwrap();
    let (header, data) = split_log(&conn);
    let headers = [header.clone(), reversed_header(&header)];
    let mut log = header.clone();
    let mut order = 0;
    let mut padded = false;
    for round in 0..800 {
        for (i, l) in data.iter().enumerate() {
            let mut l = l.clone();
            if (round + i) % 11 == 5 {
                // An escaped byte in the uid, which must be unescaped.
                let tab = l.iter().position(|b| *b == b'\t').unwrap();
                l.splice(tab + 1..tab + 1, *b"\\x41");
            }
            let l = if order == 0 { l } else { reversed(&l) };
            let body = l.strip_suffix(b"\n").unwrap();
            match (round + i) % 11 {
                1 => {
                    log.extend_from_slice(body);
                    log.extend_from_slice(b"\r\n");
                }
                2 => {
                    log.extend_from_slice(body);
                    log.extend_from_slice(b"\r\r\n");
                }
                3 => log.extend_from_slice(b"\n \t \r\n\r\n"),
                4 => log.extend_from_slice(b"too\tfew\r\n"),
                _ => log.extend_from_slice(&l),
            }
        }
        let switch = if !padded && log.len() > (1 << 18) - 4096 {
            // This switch begins exactly at the second buffer, after a blank line.
            padded = true;
            log.extend(std::iter::repeat_n(b' ', (1 << 18) - log.len() - 1));
            log.push(b'\n');
            true
        } else if round % 150 == 75 {
            log.extend_from_slice(b"#close\t2024-01-01-00-00-00\n");
            true
        } else {
            false
        };
        if switch {
            order = 1 - order;
            log.extend_from_slice(&headers[order]);
        }
    }
    assert!(log.len() > 1 << 20, "{} bytes", log.len());
    assert_eq!(log[1 << 18], b'#');
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("conn.log");
    std::fs::write(&path, &log).unwrap();
    for batch in [1, 4096, 1 << 18] {
        let [seq, par] = sequential_and_parallel(&path, batch);
        assert!(seq.0.len() > 5000, "{} records", seq.0.len());
        assert!(
            seq.1
                .iter()
                .any(|d| d.contains("expected 21 fields, found 2")),
            "{:?}",
            seq.1
        );
        assert_eq!(par, seq, "batches of {batch} bytes");
    }
}
