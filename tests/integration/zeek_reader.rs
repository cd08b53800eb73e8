//! The Zeek reader and input discovery on real Zeek logs (tests/data/zeek: the version ladder,
//! the ASCII writer's edge cases, a slice of the zed sample data) and on broken variants of them
//! made here. Issue 2, "Zeek reader".

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use captriage::input::zeek::{self, FileStats};
use captriage::input::{self, CaptureFormat, InputKind, LogFormat};
use captriage::model::{ChainKind, Diagnostic, Location, LogKind, Record, Sink};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/zeek")
        .join(rel)
}

#[derive(Default)]
struct Collect {
    records: Vec<Record<'static>>,
    locations: Vec<String>,
    diags: Vec<String>,
}

impl Sink for Collect {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        self.records.push(record.into_owned());
        self.locations.push(location.to_string());
    }
    fn diagnostic(&mut self, d: Diagnostic) {
        self.diags.push(d.to_string());
    }
}

fn read(rel: &str) -> (FileStats, Collect) {
    let mut c = Collect::default();
    let stats = match zeek::read_file(&data(rel), &mut c) {
        Ok(s) => s,
        Err(e) => panic!("{rel}: {e}"),
    };
    (stats, c)
}

fn read_bytes(name: &str, bytes: &[u8]) -> (FileStats, Collect) {
    let mut c = Collect::default();
    let stats = zeek::read_reader(Arc::from(name), bytes, name, &mut c);
    (stats, c)
}

fn gunzip_all(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let r = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out);
        assert!(r.is_ok(), "{r:?}");
        out
    } else {
        bytes.to_vec()
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let w = e.write_all(bytes);
    assert!(w.is_ok());
    e.finish().unwrap_or_default()
}

/// The independent row count: non-blank lines that are not meta lines (`#...`, and the
/// `PREFIX<>` meta prefix of two edge cases). Deliberately simpler than the reader.
fn data_lines(path: &Path) -> u64 {
    let bytes = gunzip_all(&std::fs::read(path).unwrap_or_default());
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .filter(|l| !l.starts_with(b"#") && !l.starts_with(b"PREFIX<>"))
        .count() as u64
}

/// Files that are broken or unusual on purpose, with their expected (rows, errors) and why.
const EXPECTED_EXCEPTIONS: &[(&str, u64, u64)] = &[
    // LogAscii::include_meta = F: five data lines and no header at all.
    ("edge-cases/ascii-options/ssh.log", 0, 5),
    // The writer's tsv mode: its first line names the columns and is not a row.
    ("edge-cases/ascii-tsv/ssh-filtered.log", 5, 0),
];

#[test]
fn every_fixture_is_discovered_and_reads_with_the_independent_row_count() {
    let (files, problems) = input::discover(&[data("")]);
    assert!(problems.is_empty(), "{problems:?}");
    let mut zeek_files = 0;
    let mut captures = 0;
    for f in &files {
        let InputKind::Zeek { kind, format } = &f.kind else {
            captures += 1;
            continue;
        };
        zeek_files += 1;
        let rel = f
            .path
            .strip_prefix(data(""))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut c = Collect::default();
        let stats = match zeek::read_file(&f.path, &mut c) {
            Ok(s) => s,
            Err(e) => panic!("{rel}: {e}"),
        };
        assert_eq!(
            &stats.kind, kind,
            "{rel}: discovery and reader disagree on the kind"
        );
        assert_eq!(stats.format, *format, "{rel}");
        assert_eq!(stats.compressed, f.compressed, "{rel}");
        if let Some(&(_, rows, errors)) = EXPECTED_EXCEPTIONS.iter().find(|e| e.0 == rel) {
            assert_eq!(
                (stats.rows, stats.errors),
                (rows, errors),
                "{rel}: {:?}",
                c.diags
            );
            continue;
        }
        assert_eq!(stats.errors, 0, "{rel}: {:?}", c.diags);
        assert!(c.diags.is_empty(), "{rel}: {:?}", c.diags);
        assert_eq!(stats.rows, data_lines(&f.path), "{rel}");
        let mapped = matches!(
            stats.kind,
            LogKind::Conn
                | LogKind::Dns
                | LogKind::Ssl
                | LogKind::Http
                | LogKind::Files
                | LogKind::X509
        );
        let expected_records = if mapped { stats.rows } else { 0 };
        assert_eq!(c.records.len() as u64, expected_records, "{rel}");
    }
    // 69 ladder logs, 41 edge-case logs (all but origin.txt, README.md, the licence and
    // `output`), 12 zed slices; no capture.
    assert_eq!((zeek_files, captures), (69 + 41 + 12, 0));
}

#[test]
fn hard_coded_row_counts() {
    // Verified with `zcat FILE | grep -vc '^#'`.
    for (rel, rows) in [
        ("zed/zeek-3.0.0/tsv/ssl.log.gz", 150),
        ("zed/zeek-6.2.0/json/x509.json.gz", 150),
        ("ladder/vlan-mpls-http/v2.0/conn.log", 3),
        ("ladder/teredo/HEAD/conn.log", 21),
        ("ladder/smtp-attachment-files/v5.1.0/files.log", 4),
        ("ladder/ssl-basic-default/HEAD/x509.log", 2),
        ("edge-cases/field-name-map/zeek3.2/conn.log", 34),
    ] {
        let (s, c) = read(rel);
        assert_eq!((s.rows, s.errors), (rows, 0), "{rel}: {:?}", c.diags);
    }
}

fn tls(rel: &str) -> Vec<captriage::model::Tls<'static>> {
    read(rel)
        .1
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Tls(t) => Some(t),
            _ => None,
        })
        .collect()
}

#[test]
fn ssl_layouts_along_the_ladder() {
    let leaf_subject = "CN=*.gstatic.com,O=Google Inc,L=Mountain View,ST=California,C=US";
    let issuer = "CN=Google Internet Authority,O=Google Inc,C=US";
    // 2.1: no chain column; subject and `issuer_subject`.
    let t = tls("ladder/ssl-basic-default/v2.1/ssl.log");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].chain_kind, ChainKind::None);
    assert_eq!(t[0].subject.as_deref(), Some(leaf_subject));
    assert_eq!(t[0].issuer.as_deref(), Some(issuer));
    assert_eq!(t[0].server_name.as_deref(), Some("ssl.gstatic.com"));
    // 2.3 to 4.0: file ids and the leaf's subject/issuer.
    for v in ["v2.3", "v2.6", "v3.0.0", "v4.0.0"] {
        let t = tls(&format!("ladder/ssl-basic-default/{v}/ssl.log"));
        assert_eq!(t.len(), 1, "{v}");
        assert_eq!(t[0].chain_kind, ChainKind::Fuids, "{v}");
        assert_eq!(t[0].cert_chain.len(), 2, "{v}");
        assert!(t[0].cert_chain.iter().all(|f| f.starts_with('F')), "{v}");
        assert_eq!(t[0].subject.as_deref(), Some(leaf_subject), "{v}");
        assert_eq!(t[0].issuer.as_deref(), Some(issuer), "{v}");
        assert_eq!(t[0].established, Some(true), "{v}");
    }
    // 4.1 on: SHA-256 fingerprints, no subject/issuer.
    for v in ["v4.1.0", "v5.0.0", "HEAD"] {
        let t = tls(&format!("ladder/ssl-basic-default/{v}/ssl.log"));
        assert_eq!(t.len(), 1, "{v}");
        assert_eq!(t[0].chain_kind, ChainKind::Fingerprints, "{v}");
        assert_eq!(
            t[0].cert_chain.first().map(|c| c.as_ref()),
            Some("a580247a25324adf4add5af648de4ac5798030dfd622f26a5f2280d7528ae244"),
            "{v}"
        );
        assert_eq!(t[0].subject, None, "{v}");
        assert_eq!(t[0].version.as_deref(), Some("TLSv10"), "{v}");
        assert_eq!(t[0].id.resp_h, "74.125.224.79".parse().ok(), "{v}");
        assert_eq!(t[0].id.resp_p, Some(443), "{v}");
    }
}

#[test]
fn x509_by_file_id_and_by_fingerprint() {
    let x = |rel: &str| -> Vec<captriage::model::X509<'static>> {
        read(rel)
            .1
            .records
            .into_iter()
            .filter_map(|r| match r {
                Record::X509(x) => Some(x),
                _ => None,
            })
            .collect()
    };
    let old = x("ladder/ssl-basic-default/v2.3/x509.log");
    let new = x("ladder/ssl-basic-default/HEAD/x509.log");
    assert_eq!((old.len(), new.len()), (2, 2));
    assert!(old[0].id.as_deref().is_some_and(|i| i.starts_with('F')));
    assert_eq!(old[0].fingerprint, None);
    assert_eq!(new[0].id, None);
    assert_eq!(
        new[0].fingerprint.as_deref(),
        Some("a580247a25324adf4add5af648de4ac5798030dfd622f26a5f2280d7528ae244")
    );
    assert_eq!(new[0].host_cert, Some(true));
    assert_eq!(new[1].host_cert, Some(false));
    for v in [&old, &new] {
        assert_eq!(
            v[0].subject.as_deref(),
            Some("CN=*.gstatic.com,O=Google Inc,L=Mountain View,ST=California,C=US")
        );
        assert_eq!(v[0].not_valid_before, Some(1334102677.0));
        assert_eq!(
            v[0].san_dns,
            vec!["*.gstatic.com", "gstatic.com", "*.metric.gstatic.com"]
        );
        assert_eq!(v[0].basic_constraints_ca, None);
        assert_eq!(v[1].basic_constraints_ca, Some(true));
        assert_eq!(v[0].key_length, Some(1024));
    }
}

#[test]
fn files_log_before_and_after_zeek_5_1() {
    let files = |rel: &str| -> Vec<captriage::model::File<'static>> {
        read(rel)
            .1
            .records
            .into_iter()
            .filter_map(|r| match r {
                Record::File(f) => Some(f),
                _ => None,
            })
            .collect()
    };
    let old = files("ladder/smtp-attachment-files/v5.0.0/files.log");
    let new = files("ladder/smtp-attachment-files/v5.1.0/files.log");
    assert_eq!((old.len(), new.len()), (4, 4));
    for (o, n) in old.iter().zip(&new) {
        assert_eq!(o.fuid, n.fuid);
        assert_eq!(o.uids, n.uids);
        assert_eq!(o.mime_type, n.mime_type);
        assert_eq!(o.seen_bytes, n.seen_bytes);
        // Old layout: the sender is tx_hosts; new layout: id.* of the connection.
        assert_eq!(o.tx_hosts.first().copied(), n.id.orig_h);
        assert_eq!(o.rx_hosts.first().copied(), n.id.resp_h);
        assert_eq!(o.id.resp_h, None);
        assert!(n.tx_hosts.is_empty());
    }
    assert_eq!(new[2].filename.as_deref(), Some("NEWS.txt"));
    assert_eq!(new[0].uids, vec!["CHhAvVGS1DHFjwGM9"]);
    assert_eq!(new[0].id.resp_p, Some(25));
}

#[test]
fn conn_with_extension_renamed_and_scope_separated_columns() {
    // The same wikipedia trace through Zeek 9.1 with extra `_write_ts...` columns, with id.*
    // renamed to src/dst, and with `_` or `*` as scope separator: the same records.
    let base = read("edge-cases/field-extension/conn.log").1.records;
    assert_eq!(base.len(), 34);
    for rel in [
        "edge-cases/field-extension-optional/conn.log",
        "edge-cases/field-name-map/conn.log",
        "edge-cases/scope_sep/conn.log",
        "edge-cases/scope_sep_and_field_name_map/conn.log",
    ] {
        assert_eq!(read(rel).1.records, base, "{rel}");
    }
    let Some(Record::Conn(c)) = base.get(1) else {
        panic!("no conn record");
    };
    assert_eq!(c.id.orig_h, "141.142.220.118".parse().ok());
    assert_eq!(c.id.resp_p, Some(53));
    assert_eq!(c.proto.as_deref(), Some("udp"));
    assert_eq!(c.duration, Some(0.000317));
    assert_eq!((c.orig_bytes, c.resp_bytes), (Some(38), Some(89)));
}

#[test]
fn starttls_services_as_a_set() {
    for v in ["v2.6", "v3.0.0", "v4.0.0", "HEAD"] {
        let rel = format!("ladder/starttls-imap/{v}/conn.log");
        let recs = read(&rel).1.records;
        let Some(Record::Conn(c)) = recs.first() else {
            panic!("{rel}");
        };
        let mut s: Vec<&str> = c.services.iter().map(|s| s.as_ref()).collect();
        s.sort_unstable();
        assert_eq!(s, vec!["imap", "ssl"], "{rel}");
    }
}

/// Rounds what the TSV writer prints with 6 decimals (JSON keeps full precision).
fn micro(records: &mut [Record<'static>]) {
    let r = |v: &mut f64| *v = (*v * 1e6).round() / 1e6;
    for rec in records {
        if let Record::Dns(d) = rec {
            if let Some(v) = d.rtt.as_mut() {
                r(v);
            }
            d.ttls.iter_mut().for_each(r);
        }
    }
}

#[test]
fn zed_tsv_and_json_of_the_same_run_give_the_same_records() {
    for (tsv, json) in [
        (
            "zed/zeek-3.0.0/tsv/ssl.log.gz",
            "zed/zeek-3.0.0/ndjson/ssl.ndjson.gz",
        ),
        (
            "zed/zeek-3.0.0/tsv/dns.log.gz",
            "zed/zeek-3.0.0/ndjson/dns.ndjson.gz",
        ),
        (
            "zed/zeek-6.2.0/tsv/ssl.log.gz",
            "zed/zeek-6.2.0/json/ssl.json.gz",
        ),
        (
            "zed/zeek-6.2.0/tsv/dns.log.gz",
            "zed/zeek-6.2.0/json/dns.json.gz",
        ),
        (
            "zed/zeek-6.2.0/tsv/x509.log.gz",
            "zed/zeek-6.2.0/json/x509.json.gz",
        ),
    ] {
        let (st, mut t) = read(tsv);
        let (sj, mut j) = read(json);
        assert_eq!((st.format, sj.format), (LogFormat::Tsv, LogFormat::Json));
        assert_eq!(st.kind, sj.kind, "{tsv}");
        assert_eq!((st.rows, sj.rows), (150, 150), "{tsv}");
        micro(&mut t.records);
        micro(&mut j.records);
        assert_eq!(t.records, j.records, "{tsv} vs {json}");
    }
    // Zeek 3.0's TSV wrote far-future certificate times as `2.385642e+09` (six digits): the
    // JSON of the same run has the exact time, so only those values may differ, by < 1000 s.
    let (_, t) = read("zed/zeek-3.0.0/tsv/x509.log.gz");
    let (_, j) = read("zed/zeek-3.0.0/ndjson/x509.ndjson.gz");
    assert_eq!(t.records.len(), 150);
    for (a, b) in t.records.iter().zip(&j.records) {
        let (Record::X509(a), Record::X509(b)) = (a, b) else {
            panic!("not x509");
        };
        let mut a = a.clone();
        if let (Some(x), Some(y)) = (a.not_valid_after, b.not_valid_after)
            && (x - y).abs() < 1000.0
        {
            a.not_valid_after = b.not_valid_after;
        }
        assert_eq!(&a, b);
    }
}

#[test]
fn zed_content_spot_checks() {
    let (_, c) = read("zed/zeek-6.2.0/json/ssl.json.gz");
    let Some(Record::Tls(t)) = c.records.first() else {
        panic!("no tls");
    };
    assert_eq!(t.ts, Some(1521911720.615923));
    assert_eq!(t.uid.as_deref(), Some("CmC9kY1X0u9nP78KZc"));
    assert_eq!(
        t.validation_status.as_deref(),
        Some("unable to get local issuer certificate")
    );
    assert_eq!(t.chain_kind, ChainKind::Fingerprints);
    // An escaped comma in a certificate subject (TSV `\\,` is JSON `\,`).
    let (_, c) = read("zed/zeek-3.0.0/tsv/x509.log.gz");
    let Some(Record::X509(x)) = c.records.first() else {
        panic!("no x509");
    };
    assert!(
        x.subject
            .as_deref()
            .is_some_and(|s| s.contains("O=VMware\\, Inc"))
    );
    assert_eq!(x.id.as_deref(), Some("FYNFkU3KccxXgIuUg5"));
}

#[test]
fn plain_gzip_and_multi_member_gzip_give_the_same_records() {
    for rel in [
        "ladder/starttls-imap/HEAD/conn.log",
        "ladder/ssl-basic-default/v2.3/ssl.log",
        "ladder/smtp-attachment-files/v2.4/files.log",
        "edge-cases/ascii-json-optional/testing.log",
    ] {
        let plain = std::fs::read(data(rel)).unwrap_or_default();
        let (sp, p) = read_bytes("x.log", &plain);
        let (sg, g) = read_bytes("x.log", &gzip(&plain));
        // Two members, split in the middle of a line, as concatenated rotations produce.
        let mid = plain.len() / 2;
        let mut two = gzip(&plain[..mid]);
        two.extend(gzip(&plain[mid..]));
        let (sm, m) = read_bytes("x.log", &two);
        assert!(!sp.compressed && sg.compressed && sm.compressed);
        assert_eq!((sp.rows, sp.errors), (sg.rows, sg.errors), "{rel}");
        assert_eq!((sp.rows, sp.errors), (sm.rows, sm.errors), "{rel}");
        assert_eq!(p.records, g.records, "{rel}");
        assert_eq!(p.records, m.records, "{rel}");
        assert_eq!(p.locations, m.locations, "{rel}");
    }
}

#[test]
fn concatenated_rotations_each_bring_their_header() {
    // Zeek 2.0 and 9.x conn.logs of one trace, concatenated: two header blocks, two layouts.
    let a = std::fs::read(data("ladder/vlan-mpls-http/v2.0/conn.log")).unwrap_or_default();
    let b = std::fs::read(data("ladder/vlan-mpls-http/HEAD/conn.log")).unwrap_or_default();
    let (sa, ra) = read_bytes("conn.log", &a);
    let (sb, rb) = read_bytes("conn.log", &b);
    let both = [a, b].concat();
    let (s, r) = read_bytes("conn.log", &both);
    assert_eq!((s.rows, s.errors), (sa.rows + sb.rows, 0), "{:?}", r.diags);
    assert_eq!(r.records, [ra.records, rb.records].concat());
}

#[test]
fn json_time_forms_on_zeek_output() {
    // The same negative time written as epoch, millis, unsigned millis and ISO 8601; read
    // through the conn mapping (the file name decides the kind when the content has no _path).
    for f in ["ts_epoch", "ts_millis", "ts_millis_unsigned", "ts_iso8601"] {
        let bytes = std::fs::read(data(&format!("edge-cases/ascii-negative-ts/test.log.{f}")))
            .unwrap_or_default();
        let (s, c) = read_bytes("conn.log", &bytes);
        assert_eq!((s.rows, s.errors, s.format), (1, 0, LogFormat::Json), "{f}");
        let Some(Record::Conn(conn)) = c.records.first() else {
            panic!("{f}");
        };
        assert_eq!(conn.ts, Some(-315619200.0), "{f}");
    }
    // `null` for unset fields (json_include_unset_fields).
    let bytes = std::fs::read(data(
        "edge-cases/ascii-json-optional/testing_nullfields.log",
    ))
    .unwrap_or_default();
    let (s, c) = read_bytes("conn.log", &bytes);
    assert_eq!((s.rows, s.errors), (1, 0));
    assert!(matches!(c.records.first(), Some(Record::Conn(conn)) if conn.ts.is_none()));
}

#[test]
fn truncated_gzip_keeps_rows_before_the_break() {
    let gz = std::fs::read(data("zed/zeek-3.0.0/tsv/dns.log.gz")).unwrap_or_default();
    let cut = gz.get(..gz.len() * 6 / 10).unwrap_or_default();
    let (s, c) = read_bytes("dns.log.gz", cut);
    assert!(s.compressed);
    assert!(s.rows > 10 && s.rows < 150, "{}", s.rows);
    assert_eq!(s.errors, 1);
    assert_eq!(c.diags.len(), 1);
    assert!(
        c.diags[0].starts_with("dns.log.gz:") && c.diags[0].contains("read error after"),
        "{:?}",
        c.diags
    );
    assert_eq!(c.records.len() as u64, s.rows);
    // Through the file API too: the diagnostic names the file.
    let dir = tempfile::tempdir().ok();
    let Some(dir) = dir else { return };
    let path = dir.path().join("dns.log.gz");
    assert!(std::fs::write(&path, cut).is_ok());
    let mut c = Collect::default();
    let s2 = zeek::read_file(&path, &mut c).ok();
    assert_eq!(s2.map(|s| (s.rows, s.errors)), Some((s.rows, 1)));
    assert!(c.diags[0].starts_with(&format!("{}:", path.display())));
}

/// The starttls conn.log of HEAD with `edit` applied to its lines.
fn edited(edit: impl Fn(usize, &str) -> String) -> Vec<u8> {
    let text =
        std::fs::read_to_string(data("ladder/starttls-imap/HEAD/conn.log")).unwrap_or_default();
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        out.push_str(&edit(i + 1, line));
        out.push('\n');
    }
    out.into_bytes()
}

#[test]
fn broken_variants_of_a_real_log() {
    let (s0, orig) = read_bytes("conn.log", &edited(|_, l| l.to_string()));
    assert_eq!((s0.rows, s0.errors), (1, 0));
    let data_line = 10; // line 10 is the only data row (after the btest line and 8 meta lines)

    // A field missing.
    let (s, c) = read_bytes(
        "conn.log",
        &edited(|i, l| {
            if i == data_line {
                l.rsplit_once('\t')
                    .map(|(a, _)| a.to_string())
                    .unwrap_or_default()
            } else {
                l.to_string()
            }
        }),
    );
    assert_eq!((s.rows, s.errors), (0, 1));
    assert_eq!(
        c.diags,
        vec!["conn.log:10: expected 22 fields, found 21; line skipped"]
    );

    // An unknown column, with a value in every row: ignored.
    let (s, c) = read_bytes(
        "conn.log",
        &edited(|i, l| match (i, l) {
            (_, l) if l.starts_with("#fields") => format!("{l}\tmy_extra"),
            (_, l) if l.starts_with("#types") => format!("{l}\tstring"),
            (i, l) if i == data_line => format!("{l}\thello"),
            (_, l) => l.to_string(),
        }),
    );
    assert_eq!((s.rows, s.errors), (1, 0), "{:?}", c.diags);
    assert_eq!(c.records, orig.records);

    // A duplicated column: reported at the header, the first one used.
    let (s, c) = read_bytes(
        "conn.log",
        &edited(|i, l| match (i, l) {
            (_, l) if l.starts_with("#fields") => format!("{l}\tuid"),
            (_, l) if l.starts_with("#types") => format!("{l}\tstring"),
            (i, l) if i == data_line => format!("{l}\tCsecond"),
            (_, l) => l.to_string(),
        }),
    );
    assert_eq!((s.rows, s.errors), (1, 1));
    assert_eq!(
        c.diags,
        vec!["conn.log:8: duplicate column \"uid\" (the first one is used)"]
    );
    assert_eq!(c.records, orig.records);

    // Raw invalid UTF-8 in the history column.
    let mut bytes = edited(|_, l| l.to_string());
    let pos = bytes
        .windows(9)
        .position(|w| w == b"ShAdDafFr")
        .unwrap_or_default();
    if let Some(b) = bytes.get_mut(pos + 2) {
        *b = 0xff;
    }
    let (s, c) = read_bytes("conn.log", &bytes);
    assert_eq!((s.rows, s.errors), (1, 1));
    assert_eq!(
        c.diags,
        vec!["conn.log:10: invalid UTF-8 (replaced with U+FFFD)"]
    );
    assert!(matches!(c.records.first(),
        Some(Record::Conn(conn)) if conn.history.as_deref() == Some("Sh\u{fffd}dDafFr")));

    // A bad address: the row stays, the field is unset.
    let (s, c) = read_bytes(
        "conn.log",
        &edited(|i, l| {
            if i == data_line {
                l.replace("212.227.17.186", "212.227.17")
            } else {
                l.to_string()
            }
        }),
    );
    assert_eq!((s.rows, s.errors), (1, 1));
    assert_eq!(
        c.diags,
        vec!["conn.log:10: bad addr value \"212.227.17\" in column id.resp_h; field left unset"]
    );
    assert!(matches!(c.records.first(), Some(Record::Conn(conn)) if conn.id.resp_h.is_none()));
}

#[test]
fn every_prefix_of_every_small_fixture_reads_without_panic() {
    for rel in [
        "ladder/ssl-basic-default/HEAD/x509.log",
        "edge-cases/ascii-escape/ssh.log",
        "edge-cases/ascii-empty/ssh-filtered.log",
        "edge-cases/ascii-json-utf8/ssh.log.pua",
        "edge-cases/ascii-gz/ssh.log",
    ] {
        let bytes = std::fs::read(data(rel)).unwrap_or_default();
        for end in 0..=bytes.len() {
            let _ = read_bytes("x509.log", bytes.get(..end).unwrap_or_default());
        }
    }
    // Cut gzip streams: every cut is a diagnostic at most, never a panic.
    for rel in [
        "zed/zeek-3.0.0/ndjson/dns.ndjson.gz",
        "zed/zeek-6.2.0/tsv/x509.log.gz",
    ] {
        let bytes = std::fs::read(data(rel)).unwrap_or_default();
        for end in (0..=bytes.len()).step_by(211) {
            let (s, _) = read_bytes("dns.log", bytes.get(..end).unwrap_or_default());
            assert!(s.errors <= 1, "{rel} cut at {end}");
        }
    }
}

#[test]
fn discovery_by_content_not_name() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("no temp dir");
    };
    let d = dir.path();
    let put = |rel: &str, bytes: &[u8]| {
        let p = d.join(rel);
        if let Some(parent) = p.parent() {
            assert!(std::fs::create_dir_all(parent).is_ok());
        }
        assert!(std::fs::write(p, bytes).is_ok());
    };
    let conn = std::fs::read(data("ladder/starttls-imap/HEAD/conn.log")).unwrap_or_default();
    let x509 = std::fs::read(data("ladder/ssl-basic-default/HEAD/x509.log")).unwrap_or_default();
    let dns_json =
        gunzip_all(&std::fs::read(data("zed/zeek-6.2.0/json/dns.json.gz")).unwrap_or_default());
    put("a/conn.00:00:00-01:00:00.log.gz", &gzip(&conn));
    put("a/conn.log", &conn);
    put("b/certs.txt", &x509); // #path x509 wins over the name
    put("b/dns.json", &dns_json);
    put("b/renamed.log", &gzip(&dns_json)); // _path dns, gzip under a plain name
    put("c/capture.bin", &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]);
    put("c/ng.pcapng", &[0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0]);
    put("c/README", b"some notes\n");
    put("c/notes.txt", b"some notes\n");
    put("c/.hidden.log", &conn);
    put("c/broken.log.gz", b"\x1f\x8bnot really gzip");
    put("c/archive.log.gz", &gzip(b"binary\0\0\0tar-like content"));
    // Symbolic link loops (to the directory itself, to its parent), a link to a file already
    // found and a link to a directory already walked (like Zeek's `logs/current`): each file
    // is read once.
    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        assert!(symlink(d.join("c"), d.join("c/loop")).is_ok());
        assert!(symlink("..", d.join("c/up")).is_ok());
        assert!(symlink(d.join("a/conn.log"), d.join("c/same.log")).is_ok());
        assert!(symlink("a", d.join("current")).is_ok());
    }
    let (files, problems) =
        input::discover(&[d.to_path_buf(), d.join("missing"), d.join("a/conn.log")]);
    let got: Vec<(String, InputKind, bool)> = files
        .iter()
        .map(|f| {
            let rel = f
                .path
                .strip_prefix(d)
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            (rel, f.kind.clone(), f.compressed)
        })
        .collect();
    let z = |kind, format| InputKind::Zeek { kind, format };
    assert_eq!(
        got,
        vec![
            (
                "a/conn.00:00:00-01:00:00.log.gz".into(),
                z(LogKind::Conn, LogFormat::Tsv),
                true
            ),
            ("a/conn.log".into(), z(LogKind::Conn, LogFormat::Tsv), false),
            (
                "b/certs.txt".into(),
                z(LogKind::X509, LogFormat::Tsv),
                false
            ),
            ("b/dns.json".into(), z(LogKind::Dns, LogFormat::Json), false),
            (
                "b/renamed.log".into(),
                z(LogKind::Dns, LogFormat::Json),
                true
            ),
            (
                "c/capture.bin".into(),
                InputKind::Capture(CaptureFormat::Pcap),
                false
            ),
            (
                "c/ng.pcapng".into(),
                InputKind::Capture(CaptureFormat::Pcapng),
                false
            ),
        ]
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems[0].starts_with(&format!(
        "{}: not a Zeek log",
        d.join("c/archive.log.gz").display()
    )));
    assert!(problems[1].starts_with(&format!("{}:", d.join("c/broken.log.gz").display())));
    assert!(problems[2].starts_with(&format!("{}:", d.join("missing").display())));
    // A named file that is not an input is reported; a named log is taken whatever its name.
    let (files, problems) = input::discover(&[d.join("c/README"), d.join("b/certs.txt")]);
    assert_eq!(files.len(), 1);
    assert_eq!(problems.len(), 1);
    assert!(problems[0].contains("not a Zeek log or a capture"));
}
