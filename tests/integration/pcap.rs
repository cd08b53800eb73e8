//! Issue 4: the native capture decoder against Zeek's own logs. Every (trace, baseline) pair of
//! tests/data/zeek-traces (copied from zeek/zeek's btest suite, see MANIFEST.md there) is run
//! through `extract`, and the written logs are compared with Zeek's baseline field by field on
//! the comparable fields (never uids; `ts` is masked in the baselines). Also: no panic on any
//! prefix, on byte-flipped copies, on empty and wrong-magic files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use captriage::input::pcap::{Collect, decode_reader, extract};
use captriage::model::Location;

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/zeek-traces")
}

fn pairs() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for entry in fs::read_dir(traces_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let trace = ["trace.pcap", "trace.pcapng"]
            .iter()
            .map(|t| dir.join(t))
            .find(|p| p.exists())
            .unwrap();
        out.push((name, trace));
    }
    out.sort();
    out
}

/// One Zeek TSV log: column names and rows (values as written).
struct Log {
    fields: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Log {
    fn read(path: &Path) -> Option<Log> {
        let text = fs::read_to_string(path).ok()?;
        let mut fields: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        for line in text.lines() {
            if line.starts_with("###") || line.is_empty() {
                continue;
            }
            if let Some(f) = line.strip_prefix("#fields\t") {
                fields = Some(f.split('\t').map(String::from).collect());
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            if fields.is_none() {
                // zeek-cut column-subset baseline: the first line names the columns.
                fields = Some(line.split('\t').map(String::from).collect());
                continue;
            }
            rows.push(line.split('\t').map(String::from).collect());
        }
        Some(Log {
            fields: fields?,
            rows,
        })
    }

    fn col(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f == name)
    }

    fn get<'a>(&self, row: &'a [String], name: &str) -> Option<&'a str> {
        self.col(name).and_then(|i| row.get(i)).map(String::as_str)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Exact,
    Set,
    Float,
}

/// Comparable fields per log (issue 4, "Done when" 1) and the row key used to pair rows.
fn spec(log: &str) -> (&'static [&'static str], &'static [(&'static str, Kind)]) {
    match log {
        "conn" => (
            &["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto"],
            &[
                ("orig_pkts", Kind::Exact),
                ("orig_ip_bytes", Kind::Exact),
                ("resp_pkts", Kind::Exact),
                ("resp_ip_bytes", Kind::Exact),
                ("duration", Kind::Float),
                ("orig_bytes", Kind::Exact),
                ("resp_bytes", Kind::Exact),
                ("service", Kind::Set),
            ],
        ),
        "dns" => (
            &[
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "trans_id",
            ],
            &[
                ("query", Kind::Exact),
                ("qtype", Kind::Exact),
                ("rcode", Kind::Exact),
                ("answers", Kind::Exact),
                ("TTLs", Kind::Exact),
            ],
        ),
        "ssl" => (
            &["id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p"],
            &[
                ("server_name", Kind::Exact),
                ("version", Kind::Exact),
                ("cert_chain_fps", Kind::Exact),
            ],
        ),
        "x509" => (
            &["fingerprint"],
            &[
                ("certificate.subject", Kind::Exact),
                ("certificate.issuer", Kind::Exact),
                ("certificate.not_valid_before", Kind::Float),
                ("certificate.not_valid_after", Kind::Float),
            ],
        ),
        "http" => (
            &[
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "trans_depth",
            ],
            &[
                ("method", Kind::Exact),
                ("host", Kind::Exact),
                ("uri", Kind::Exact),
            ],
        ),
        _ => (&[], &[]),
    }
}

fn same(kind: Kind, a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => match kind {
            Kind::Exact => a == b,
            Kind::Set => {
                let set = |s: &str| -> BTreeSet<String> {
                    if s == "-" || s == "(empty)" {
                        BTreeSet::new()
                    } else {
                        s.split(',').map(String::from).collect()
                    }
                };
                set(a) == set(b)
            }
            Kind::Float => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => (x - y).abs() <= 1e-6 + 1e-12 * x.abs(),
                _ => a == b,
            },
        },
        (None, None) => true,
        _ => false,
    }
}

#[derive(Default)]
struct Tally {
    total: u64,
    matched: u64,
    /// (log.field) -> (mismatches, first example)
    misses: BTreeMap<String, (u64, String)>,
}

impl Tally {
    fn add(&mut self, field: &str, ok: bool, example: impl FnOnce() -> String) {
        self.total += 1;
        if ok {
            self.matched += 1;
        } else {
            let e = self
                .misses
                .entry(field.to_string())
                .or_insert((0, String::new()));
            if e.0 == 0 {
                e.1 = example();
            }
            e.0 += 1;
        }
    }
}

/// Compares one of our logs with Zeek's baseline; adds to `tally`.
fn compare_log(name: &str, base: &Log, ours: &Log, tally: &mut Tally) {
    let (key, fields) = spec(name);
    let key: Vec<&str> = key
        .iter()
        .copied()
        .filter(|k| base.col(k).is_some())
        .collect();
    let fields: Vec<(&str, Kind)> = fields
        .iter()
        .copied()
        .filter(|(f, _)| base.col(f).is_some())
        .collect();
    let key_of = |log: &Log, row: &[String]| -> Vec<String> {
        key.iter()
            .map(|k| log.get(row, k).unwrap_or("-").to_string())
            .collect()
    };
    let mut used = vec![false; ours.rows.len()];
    for brow in &base.rows {
        let bkey = key_of(base, brow);
        // Best unused row of ours with the same key.
        let mut best: Option<(usize, usize)> = None;
        for (i, orow) in ours.rows.iter().enumerate() {
            if (used[i] && name != "x509") || key_of(ours, orow) != bkey {
                continue;
            }
            let score = fields
                .iter()
                .filter(|(f, k)| same(*k, base.get(brow, f), ours.get(orow, f)))
                .count();
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((i, score));
            }
        }
        if !key.is_empty() {
            tally.add(&format!("{name}.<row>"), best.is_some(), || {
                format!("no row for {}", bkey.join(" "))
            });
        }
        for (f, kind) in &fields {
            let ours_v = best.and_then(|(i, _)| ours.get(&ours.rows[i], f));
            let base_v = base.get(brow, f);
            tally.add(&format!("{name}.{f}"), same(*kind, base_v, ours_v), || {
                format!(
                    "{}: zeek {:?} ours {:?}",
                    bkey.join(" "),
                    base_v.unwrap_or("?"),
                    ours_v.unwrap_or("(no row)")
                )
            });
        }
        // A certificate is the same whichever session carried it: x509 rows may be matched
        // again (Zeek logs repeats when run with X509::relog_known_certificates_after=0).
        if let Some((i, _)) = best
            && name != "x509"
        {
            used[i] = true;
        }
    }
    // Rows Zeek did not log count against us too (only where the baseline has a key).
    if !key.is_empty() {
        for (i, orow) in ours.rows.iter().enumerate() {
            if !used[i] {
                let k = key_of(ours, orow);
                let dup_of_matched =
                    name == "x509" && base.rows.iter().any(|b| key_of(base, b) == k);
                if !dup_of_matched {
                    tally.add(&format!("{name}.<extra row>"), false, || k.join(" "));
                }
            }
        }
    }
}

#[test]
fn extract_matches_zeek_baselines() {
    let mut overall = Tally::default();
    let mut field_misses: BTreeMap<String, u64> = BTreeMap::new();
    println!("pair                                 fields  matched   rate");
    for (pair, trace) in pairs() {
        let out =
            std::env::temp_dir().join(format!("captriage-pcap-{}-{pair}", std::process::id()));
        let stats = extract(&trace, &out, false).unwrap();
        assert!(stats.capture.packets > 0, "{pair}: no packets");
        let mut tally = Tally::default();
        let base_dir = trace.parent().unwrap().join("baseline");
        for log in ["conn", "dns", "ssl", "x509", "http"] {
            let Some(base) = Log::read(&base_dir.join(format!("{log}.log"))) else {
                continue;
            };
            let ours = Log::read(&out.join(format!("{log}.log"))).unwrap();
            compare_log(log, &base, &ours, &mut tally);
        }
        let _ = fs::remove_dir_all(&out);
        let rate = if tally.total == 0 {
            1.0
        } else {
            tally.matched as f64 / tally.total as f64
        };
        println!(
            "{pair:<36} {:>6} {:>8} {:>6.1}%",
            tally.total,
            tally.matched,
            rate * 100.0
        );
        for (field, (n, example)) in &tally.misses {
            println!("    {field}: {n} off, e.g. {example}");
            *field_misses.entry(field.clone()).or_insert(0) += n;
        }
        overall.total += tally.total;
        overall.matched += tally.matched;
    }
    let rate = overall.matched as f64 / overall.total as f64;
    println!(
        "overall: {} of {} comparable fields match ({:.2}%)",
        overall.matched,
        overall.total,
        rate * 100.0
    );
    for (field, n) in &field_misses {
        println!("  {field}: {n} mismatches");
    }
    assert!(rate >= 0.95, "match rate {:.2}% is below 95%", rate * 100.0);
}

/// A deterministic xorshift generator for the corruption tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn decode_bytes(bytes: &[u8]) -> Collect {
    let mut sink = Collect::default();
    let _ = decode_reader(Arc::from("fuzz.pcap"), bytes, &mut sink);
    sink
}

#[test]
fn no_panic_on_any_prefix() {
    for (_, trace) in pairs() {
        let bytes = fs::read(&trace).unwrap();
        // Every byte of the first 256 bytes, then strided: about 60 more decodes per capture.
        let stride = (bytes.len() / 60).max(1);
        let mut n = 0;
        while n <= bytes.len() {
            decode_bytes(&bytes[..n]);
            n += if n < 256 { 1 } else { stride };
        }
    }
}

#[test]
fn no_panic_on_byte_flipped_copies() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for (_, trace) in pairs() {
        let bytes = fs::read(&trace).unwrap();
        for _ in 0..20 {
            let mut copy = bytes.clone();
            let flips = 1 + (rng.next() % 16) as usize;
            for _ in 0..flips {
                // Keep the file header mostly intact so the packets get decoded.
                let i = 24 + (rng.next() as usize) % copy.len().saturating_sub(24).max(1);
                if let Some(b) = copy.get_mut(i) {
                    *b ^= 1 << (rng.next() % 8);
                }
            }
            decode_bytes(&copy);
        }
    }
}

#[test]
fn empty_and_wrong_magic_files_are_diagnosed() {
    let sink = decode_bytes(b"");
    assert_eq!(sink.records.len(), 0);
    assert!(sink.diagnostics.iter().any(|d| d.message.contains("empty")));
    let sink = decode_bytes(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(sink.records.len(), 0);
    assert!(
        sink.diagnostics
            .iter()
            .any(|d| d.message.contains("unknown magic")),
        "{:?}",
        sink.diagnostics
    );
}

#[test]
fn gzip_compressed_capture_decodes_like_the_original() {
    let trace = traces_dir().join("wikipedia-default/trace.pcap");
    let bytes = fs::read(&trace).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let mut plain = Collect::default();
    let s1 = decode_reader(Arc::from("t.pcap"), &bytes[..], &mut plain);
    let mut packed = Collect::default();
    let s2 = decode_reader(Arc::from("t.pcap.gz"), &gz[..], &mut packed);
    assert!(!s1.compressed && s2.compressed);
    assert_eq!(s1.packets, 136);
    assert_eq!(s2.packets, 136);
    assert_eq!(plain.records, packed.records);
}

#[test]
fn pcapng_with_two_interfaces_is_read() {
    let trace = traces_dir().join("pcapng-multi-interface/trace.pcapng");
    let mut sink = Collect::default();
    let stats = decode_reader(Arc::from("t"), &fs::read(trace).unwrap()[..], &mut sink);
    assert_eq!(stats.format, "pcapng");
    assert_eq!(stats.packets, 6);
    let conns = sink
        .records
        .iter()
        .filter(|r| matches!(r, captriage::model::Record::Conn(_)))
        .count();
    assert_eq!(conns, 3);
}

/// A one-packet pcap: Ethernet, IPv4 10.0.0.2 -> 10.0.0.1, UDP 5353 -> 53, then `payload`.
fn udp_pcap(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0u8; 12];
    frame.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    frame.extend_from_slice(&[
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
    frame.extend_from_slice(&[10, 0, 0, 2, 10, 0, 0, 1]);
    let ulen = (8 + payload.len()) as u16;
    frame.extend_from_slice(&[0x14, 0xe9, 0, 53, (ulen >> 8) as u8, ulen as u8, 0, 0]);
    frame.extend_from_slice(payload);
    let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    pcap.extend_from_slice(&[0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    pcap.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    pcap.extend_from_slice(&0u32.to_le_bytes());
    pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    pcap.extend_from_slice(&frame);
    pcap
}

#[test]
fn truncated_dns_message_is_a_diagnostic_naming_the_packet() {
    // Response for a.example: one CNAME answer, the second (A) answer cut short.
    let mut dns = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
    dns.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
    dns.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'b', 0xc0, 14]);
    dns.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0]);
    let sink = decode_bytes(&udp_pcap(&dns));
    let d = sink
        .diagnostics
        .iter()
        .find(|d| d.message.contains("truncated DNS message"))
        .expect("a diagnostic");
    assert_eq!(
        d.to_string(),
        "fuzz.pcap packet 1: 10.0.0.2:5353 -> 10.0.0.1:53: truncated DNS message"
    );
    // What came before the cut is still a DNS record.
    let dns_rows: Vec<_> = sink
        .records
        .iter()
        .filter_map(|r| match r {
            captriage::model::Record::Dns(d) => Some(d),
            _ => None,
        })
        .collect();
    assert_eq!(dns_rows.len(), 1);
    assert_eq!(dns_rows[0].answers.as_slice(), ["b.example"]);
    assert_eq!(dns_rows[0].trans_id, Some(0x1234));
}

#[test]
fn repeated_diagnostics_are_capped_with_a_count() {
    let one = udp_pcap(&[0x12, 0x34, 0x81]);
    let record = &one[24..];
    let mut pcap = one.clone();
    for i in 0..99u16 {
        // Another client port each time: another flow, so every packet is tried.
        let mut r = record.to_vec();
        r[50..52].copy_from_slice(&(20_000 + i).to_be_bytes());
        pcap.extend_from_slice(&r);
    }
    let sink = decode_bytes(&pcap);
    let per_packet = sink
        .diagnostics
        .iter()
        .filter(|d| d.message.ends_with("truncated DNS header"))
        .count();
    assert_eq!(per_packet, 20);
    assert!(
        sink.diagnostics
            .iter()
            .any(|d| d.message == "80 more dns problems not shown"),
        "{:?}",
        sink.diagnostics.last()
    );
}

#[test]
fn records_join_by_uid_and_locations_are_packet_numbers() {
    use captriage::model::{ChainKind, Pos, Record};
    let trace = traces_dir().join("tls11/trace.pcap");
    let mut sink = Collect::default();
    decode_reader(
        Arc::from("tls11.pcap"),
        &fs::read(trace).unwrap()[..],
        &mut sink,
    );
    let conn_uids: BTreeSet<String> = sink
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Conn(c) => c.uid.as_deref().map(String::from),
            _ => None,
        })
        .collect();
    let (tls, loc) = sink
        .records
        .iter()
        .zip(&sink.locations)
        .find_map(|(r, l)| match r {
            Record::Tls(t) => Some((t, l)),
            _ => None,
        })
        .unwrap();
    assert!(conn_uids.contains(tls.uid.as_deref().unwrap()));
    assert!(matches!(loc.pos, Pos::Packet(n) if n >= 1));
    assert_eq!(tls.chain_kind, ChainKind::Fingerprints);
    assert_eq!(tls.version.as_deref(), Some("TLSv11"));
    let x509_fps: Vec<&str> = sink
        .records
        .iter()
        .filter_map(|r| match r {
            Record::X509(x) => x.fingerprint.as_deref(),
            _ => None,
        })
        .collect();
    let chain: Vec<&str> = tls.cert_chain.iter().map(|c| c.as_ref()).collect();
    assert_eq!(chain.len(), 3);
    assert_eq!(chain, x509_fps);
    // Locations never go backwards within one flow's records, and every one names a packet.
    assert!(
        sink.locations
            .iter()
            .all(|l| matches!(l.pos, Pos::Packet(n) if n >= 1))
    );
}

/// Rewrites a little-endian microsecond pcap as big-endian with nanosecond timestamps.
fn to_big_endian_nanos(le: &[u8]) -> Vec<u8> {
    let u32le = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    let u16le = |b: &[u8], at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap());
    let mut out = Vec::with_capacity(le.len());
    out.extend_from_slice(&0xa1b2_3c4du32.to_be_bytes());
    out.extend_from_slice(&u16le(le, 4).to_be_bytes());
    out.extend_from_slice(&u16le(le, 6).to_be_bytes());
    for at in [8, 12, 16, 20] {
        out.extend_from_slice(&u32le(le, at).to_be_bytes());
    }
    let mut off = 24;
    while off + 16 <= le.len() {
        let caplen = u32le(le, off + 8) as usize;
        out.extend_from_slice(&u32le(le, off).to_be_bytes());
        out.extend_from_slice(&(u32le(le, off + 4) * 1000).to_be_bytes());
        out.extend_from_slice(&u32le(le, off + 8).to_be_bytes());
        out.extend_from_slice(&u32le(le, off + 12).to_be_bytes());
        out.extend_from_slice(&le[off + 16..off + 16 + caplen]);
        off += 16 + caplen;
    }
    out
}

#[test]
fn big_endian_nanosecond_pcap_decodes_like_the_original() {
    let le = fs::read(traces_dir().join("wikipedia-default/trace.pcap")).unwrap();
    let be = to_big_endian_nanos(&le);
    let a = decode_bytes(&le);
    let b = decode_bytes(&be);
    assert!(!a.records.is_empty());
    assert_eq!(a.records, b.records);
    assert_eq!(a.locations, b.locations);
}

/// The decoder's records of `trace`, in memory, in the order `analyze` reads them: phase by phase
/// (`Record::phase`), decoding order within a phase.
fn in_phase_order(mem: &Collect) -> Vec<(captriage::model::Record<'static>, Location)> {
    let mut out = Vec::new();
    for phase in 0..=6u8 {
        for (r, l) in mem.records.iter().zip(&mem.locations) {
            if r.phase() == phase {
                out.push((r.clone(), l.clone()));
            }
        }
    }
    out
}

/// Issue 7: `analyze` keeps a capture's records on disk per phase (`Spill`) instead of in memory.
/// For every trace, replaying the spill phase by phase gives exactly the records, locations and
/// diagnostics the in-memory buffer gave, in the same order.
#[test]
fn spill_replays_every_trace_like_the_in_memory_buffer() {
    use captriage::input::spill::Spill;
    for (name, trace) in pairs() {
        let bytes = fs::read(&trace).unwrap();
        let source: Arc<str> = Arc::from(trace.display().to_string());
        let mut mem = Collect::default();
        decode_reader(Arc::clone(&source), &bytes[..], &mut mem);
        let mut spill = Spill::new();
        decode_reader(Arc::clone(&source), &bytes[..], &mut spill);
        let mut got = Collect::default();
        for phase in 0..=6u8 {
            spill.replay(phase, &mut got);
        }
        let got_pairs: Vec<_> = got.records.into_iter().zip(got.locations).collect();
        assert!(!got_pairs.is_empty(), "{name}: no records");
        let want = in_phase_order(&mem);
        assert_eq!(got_pairs, want, "{name}");
        assert_eq!(spill.diagnostics, mem.diagnostics, "{name}");
    }
}

/// Issue 7: `analyze --engine native` (records through the spill) reports for a capture the same
/// alerts, evidence and first-occurrence locations (capture and packet number) as the rules give
/// over the decoder's records held in memory and read in phase order, as before the spill.
#[test]
fn analyze_of_a_capture_gives_the_alerts_of_its_records_in_phase_order() {
    use captriage::cli::{Cli, Command};
    use captriage::config::AnalyzeConfig;
    use captriage::facts::FactsBuilder;
    use captriage::model::{Pos, Sink};
    use clap::Parser;
    let mut located = 0;
    for pair in [
        "teredo-ipv6-in-udp",
        "wikipedia-default",
        "fabricpath-ipv4-ipv6-default",
        "dtls12-selfsigned",
        "starttls-irc-selfsigned-sll",
    ] {
        let trace = traces_dir().join(pair).join("trace.pcap");
        let trace = trace.to_str().unwrap();
        let cli =
            Cli::try_parse_from(["captriage", "analyze", trace, "--engine", "native"]).unwrap();
        let Command::Analyze(args) = cli.command else {
            panic!("not analyze")
        };
        let cfg = AnalyzeConfig::from_args(*args).unwrap();
        let report = captriage::app::analyze(&cfg, &mut |_| {}).unwrap();

        let mut mem = Collect::default();
        captriage::input::pcap::decode_file(Path::new(trace), &mut mem).unwrap();
        let mut builder = FactsBuilder::new();
        for (r, l) in in_phase_order(&mem) {
            builder.record(r, &l);
        }
        for d in mem.diagnostics {
            builder.diagnostic(d);
        }
        let facts = builder.finish();
        let ctx = captriage::rules::Context::new(
            &cfg.settings,
            &cfg.intel,
            Some(&cfg.whitelist),
            &facts,
            None,
        );
        let want = captriage::rules::run(&ctx, 1).into_sorted();
        assert!(!want.is_empty(), "{pair}: no alerts to compare");
        assert_eq!(report.alerts, want, "{pair}");
        for a in &report.alerts {
            if let Some((_, occ)) = &a.evidence.first {
                assert_eq!(&*occ.location.source, trace, "{pair}");
                assert!(matches!(occ.location.pos, Pos::Packet(n) if n >= 1));
                located += 1;
            }
        }
    }
    assert!(located > 10, "only {located} alerts name a packet");
}
