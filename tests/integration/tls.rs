//! Issue 4: the native decoder's TLS and HTTP parsers against Zeek's own baselines.
//!
//! Each fixture under tests/data/tls/<pair>/ is a zeek/zeek btest trace with its baseline logs.
//! A test-only helper splits the trace into per-direction TCP byte streams (in-order segments,
//! retransmissions dropped) or UDP datagrams, the parsers under test read them, and the results are
//! compared field by field with ssl.log, x509.log and http.log.

use std::collections::BTreeMap;
use std::path::PathBuf;

use captriage::input::pcap::http::{looks_like_request, parse_request};
use captriage::input::pcap::tls::{
    CertInfo, TlsNeed, cert_info, parse_client_hello, parse_dtls_client_hello,
    parse_dtls_client_hello_datagrams, parse_dtls_server_flight, parse_server_flight,
    server_flight_so_far, version_name,
};

fn data(pair: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/tls")
        .join(pair)
        .join(file)
}

type Endpoint = (Vec<u8>, u16);

/// One transport flow of a trace, oriented by its first packet (or the SYN sender).
#[derive(Default, Debug)]
struct Flow {
    orig: Option<Endpoint>,
    udp: bool,
    orig_bytes: Vec<u8>,
    resp_bytes: Vec<u8>,
    orig_next: Option<u32>,
    resp_next: Option<u32>,
    orig_dgrams: Vec<Vec<u8>>,
    resp_dgrams: Vec<Vec<u8>>,
}

impl Flow {
    fn orig_port(&self) -> u16 {
        self.orig.as_ref().map(|o| o.1).unwrap_or(0)
    }
}

/// Source address, destination address, IP protocol, transport bytes.
type L4<'a> = (Vec<u8>, Vec<u8>, u8, &'a [u8]);

/// Strip link layer, VLAN/MPLS and IP.
fn l4(linktype: i32, pkt: &[u8]) -> Option<L4<'_>> {
    let mut p = match linktype {
        1 => {
            let mut ethertype = u16::from_be_bytes([*pkt.get(12)?, *pkt.get(13)?]);
            let mut off = 14;
            while ethertype == 0x8100 || ethertype == 0x88a8 {
                ethertype = u16::from_be_bytes([*pkt.get(off + 2)?, *pkt.get(off + 3)?]);
                off += 4;
            }
            if ethertype == 0x8847 {
                loop {
                    let bos = pkt.get(off + 2)? & 1;
                    off += 4;
                    if bos == 1 {
                        break;
                    }
                }
            }
            pkt.get(off..)?
        }
        0 => pkt.get(4..)?,
        113 => pkt.get(16..)?,
        101 | 12 => pkt,
        _ => return None,
    };
    if p.first()? >> 4 == 4 {
        let ihl = usize::from(p.first()? & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
        let proto = *p.get(9)?;
        let src = p.get(12..16)?.to_vec();
        let dst = p.get(16..20)?.to_vec();
        p = p.get(ihl..total.min(p.len()))?;
        Some((src, dst, proto, p))
    } else if p.first()? >> 4 == 6 {
        let len = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
        let proto = *p.get(6)?;
        let src = p.get(8..24)?.to_vec();
        let dst = p.get(24..40)?.to_vec();
        Some((src, dst, proto, p.get(40..40 + len)?))
    } else {
        None
    }
}

fn flows(pair: &str) -> Vec<Flow> {
    let raw = std::fs::read(data(pair, "trace.pcap")).unwrap();
    let (_, cap) = pcap_parser::pcap::parse_pcap(&raw).unwrap();
    let lt = cap.header.network.0;
    let mut map: BTreeMap<(Endpoint, Endpoint, bool), Flow> = BTreeMap::new();
    for b in &cap.blocks {
        let Some((src, dst, proto, seg)) = l4(lt, b.data) else {
            continue;
        };
        if proto != 6 && proto != 17 {
            continue;
        }
        let sp = u16::from_be_bytes([seg[0], seg[1]]);
        let dp = u16::from_be_bytes([seg[2], seg[3]]);
        let (a, b2) = ((src, sp), (dst, dp));
        let key = if a <= b2 {
            (a.clone(), b2.clone(), proto == 17)
        } else {
            (b2.clone(), a.clone(), proto == 17)
        };
        let f = map.entry(key).or_default();
        f.udp = proto == 17;
        if proto == 17 {
            if f.orig.is_none() {
                f.orig = Some(a.clone());
            }
            let payload = seg.get(8..).unwrap_or_default().to_vec();
            if f.orig.as_ref() == Some(&a) {
                f.orig_dgrams.push(payload);
            } else {
                f.resp_dgrams.push(payload);
            }
            continue;
        }
        let flags = seg[13];
        let seq = u32::from_be_bytes([seg[4], seg[5], seg[6], seg[7]]);
        let off = usize::from(seg[12] >> 4) * 4;
        let payload = seg.get(off..).unwrap_or_default();
        if f.orig.is_none() || (flags & 0x12 == 0x02) {
            f.orig = Some(a.clone());
        }
        let from_orig = f.orig.as_ref() == Some(&a);
        let (next, bytes) = if from_orig {
            (&mut f.orig_next, &mut f.orig_bytes)
        } else {
            (&mut f.resp_next, &mut f.resp_bytes)
        };
        let syn = flags & 0x02 != 0;
        if syn {
            *next = Some(seq.wrapping_add(1));
            continue;
        }
        let expected = *next.get_or_insert(seq);
        if payload.is_empty() {
            continue;
        }
        if seq == expected {
            bytes.extend_from_slice(payload);
            *next = Some(seq.wrapping_add(payload.len() as u32));
        } else if seq.wrapping_sub(expected) < 0x8000_0000 {
            panic!("{pair}: gap in TCP stream (test helper keeps in-order segments only)");
        }
    }
    map.into_values().collect()
}

/// A Zeek TSV log as rows of field name -> value.
fn log(pair: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(data(pair, name)).unwrap();
    let mut fields = Vec::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        if let Some(f) = line.strip_prefix("#fields\t") {
            fields = f.split('\t').map(str::to_string).collect();
        } else if !line.starts_with('#') && !line.is_empty() {
            rows.push(
                fields
                    .iter()
                    .cloned()
                    .zip(line.split('\t').map(str::to_string))
                    .collect(),
            );
        }
    }
    rows
}

/// Certificate chains in a TLS byte stream, found independently of the code under test.
fn certificate_chains(stream: &[u8]) -> Vec<Vec<Vec<u8>>> {
    use tls_parser::{TlsMessage, TlsMessageHandshake, TlsRecordType};
    let mut hs = Vec::new();
    let mut rest = stream;
    while let Ok((r, rec)) = tls_parser::parse_tls_raw_record(rest) {
        if rec.hdr.record_type == TlsRecordType::Handshake {
            hs.extend_from_slice(rec.data);
        }
        if rec.hdr.record_type == TlsRecordType::ChangeCipherSpec {
            break;
        }
        rest = r;
    }
    let mut out = Vec::new();
    let mut rest = hs.as_slice();
    while let Ok((r, msg)) = tls_parser::parse_tls_message_handshake(rest) {
        if let TlsMessage::Handshake(TlsMessageHandshake::Certificate(c)) = msg {
            out.push(c.cert_chain.iter().map(|c| c.data.to_vec()).collect());
        }
        rest = r;
    }
    out
}

fn fmt_time(t: Option<f64>) -> String {
    t.map(|t| format!("{t:.6}")).unwrap_or("-".into())
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or("-".into())
}

fn bool_str(b: Option<bool>) -> String {
    match b {
        Some(true) => "T".into(),
        Some(false) => "F".into(),
        None => "-".into(),
    }
}

/// Compare one certificate with its x509.log row; returns the number of fields compared.
fn check_cert(pair: &str, c: &CertInfo, row: &BTreeMap<String, String>) -> usize {
    let san = if c.san_dns.is_empty() {
        "-".to_string()
    } else {
        c.san_dns.join(",")
    };
    let ours = [
        ("fingerprint", c.der_sha256.clone()),
        ("certificate.version", c.version.to_string()),
        ("certificate.serial", c.serial.clone()),
        ("certificate.subject", c.subject.clone()),
        ("certificate.issuer", c.issuer.clone()),
        ("certificate.not_valid_before", fmt_time(c.not_before)),
        ("certificate.not_valid_after", fmt_time(c.not_after)),
        ("certificate.key_alg", c.key_alg.clone()),
        ("certificate.sig_alg", c.sig_alg.clone()),
        ("certificate.key_type", opt(&c.key_type)),
        (
            "certificate.key_length",
            c.key_length.map(|l| l.to_string()).unwrap_or("-".into()),
        ),
        ("san.dns", san),
        ("basic_constraints.ca", bool_str(c.basic_constraints_ca)),
    ];
    for (field, value) in &ours {
        assert_eq!(
            row.get(*field).map(String::as_str),
            Some(value.as_str()),
            "{pair}: x509 {field} of {}",
            c.der_sha256
        );
    }
    assert_eq!(c.der_sha1.len(), 40);
    ours.len()
}

/// The TLS start in a stream that may carry another protocol first (MySQL, STARTTLS).
fn tls_start(stream: &[u8]) -> usize {
    (0..stream.len())
        .find(|&i| matches!(parse_client_hello(&stream[i..]), TlsNeed::Done(_)))
        .unwrap_or(0)
}

fn server_tls_start(stream: &[u8]) -> usize {
    (0..stream.len())
        .find(|&i| server_flight_so_far(&stream[i..]).is_some())
        .unwrap_or(0)
}

/// Check every TLS-over-TCP connection of a pair against ssl.log and x509.log.
fn check_tls_pair(pair: &str, skip_search: bool, skip_ports: &[u16]) -> (usize, usize) {
    let ssl = log(pair, "ssl.log");
    let x509: Vec<_> = if data(pair, "x509.log").exists() {
        log(pair, "x509.log")
    } else {
        Vec::new()
    };
    let mut conns = 0;
    let mut compared = 0;
    for f in flows(pair).iter().filter(|f| !f.udp) {
        let port = f.orig_port().to_string();
        let Some(row) = ssl.iter().find(|r| r["id.orig_p"] == port) else {
            continue;
        };
        if skip_ports.contains(&f.orig_port()) {
            continue;
        }
        conns += 1;
        let (c0, s0) = if skip_search {
            (0, 0)
        } else {
            (tls_start(&f.orig_bytes), server_tls_start(&f.resp_bytes))
        };
        let client = &f.orig_bytes[c0..];
        let server = &f.resp_bytes[s0..];
        let TlsNeed::Done(ch) = parse_client_hello(client) else {
            panic!("{pair}:{port}: no ClientHello");
        };
        assert_eq!(
            opt(&ch.sni),
            row["server_name"],
            "{pair}:{port} server_name"
        );
        let flight = match parse_server_flight(server) {
            TlsNeed::Done(fl) => fl,
            other => panic!("{pair}:{port}: server flight {other:?}"),
        };
        let version = flight.version.map(version_name).unwrap_or("-".into());
        assert_eq!(version, row["version"], "{pair}:{port} version");
        let fps: Vec<_> = flight
            .certificates
            .iter()
            .map(|c| c.der_sha256.clone())
            .collect();
        let fps = if fps.is_empty() {
            if row["cert_chain_fps"] == "(empty)" {
                "(empty)".to_string()
            } else {
                "-".to_string()
            }
        } else {
            fps.join(",")
        };
        assert_eq!(fps, row["cert_chain_fps"], "{pair}:{port} cert_chain_fps");
        compared += 3;
        for c in &flight.certificates {
            if let Some(xrow) = x509.iter().find(|r| r["fingerprint"] == c.der_sha256) {
                compared += check_cert(pair, c, xrow);
            }
        }
        // Client certificates (client_cert_chain_fps) via the independent finder + cert_info.
        if let Some(client_fps) = row.get("client_cert_chain_fps")
            && client_fps != "(empty)"
            && client_fps != "-"
        {
            let chains = certificate_chains(client);
            let ders = chains.first().expect("client Certificate message");
            let infos: Vec<CertInfo> = ders.iter().map(|d| cert_info(d).unwrap()).collect();
            let got: Vec<_> = infos.iter().map(|c| c.der_sha256.clone()).collect();
            assert_eq!(
                &got.join(","),
                client_fps,
                "{pair}:{port} client_cert_chain_fps"
            );
            compared += 1;
            for c in &infos {
                let xrow = x509
                    .iter()
                    .find(|r| r["fingerprint"] == c.der_sha256)
                    .unwrap();
                compared += check_cert(pair, c, xrow);
            }
        }
    }
    (conns, compared)
}

#[test]
fn tls11_three_cert_chain() {
    assert_eq!(check_tls_pair("tls11", true, &[]), (1, 3 + 3 * 13));
}

#[test]
fn tls12_ecdsa_cert() {
    assert_eq!(
        check_tls_pair("tls12-ecdsa-cert", true, &[]),
        (1, 3 + 2 * 13)
    );
}

#[test]
fn tls12_extensions_sni_and_sans() {
    assert_eq!(
        check_tls_pair("tls12-extensions-default", true, &[]),
        (1, 3 + 2 * 13)
    );
}

#[test]
fn tls_expired_cert_two_connections() {
    assert_eq!(check_tls_pair("tls-expired-cert", true, &[]), (2, 6));
}

#[test]
fn tls_validation_status_three_connections() {
    assert_eq!(check_tls_pair("tls-validation-status", true, &[]), (3, 9));
}

#[test]
fn tls12_handshake_failure_alert_only() {
    assert_eq!(check_tls_pair("tls12-handshake-failure", true, &[]), (1, 3));
}

#[test]
fn tls13_draft23_version_from_supported_versions() {
    assert_eq!(check_tls_pair("tls13-draft23", true, &[]), (1, 3));
}

#[test]
fn tls13_chrome_kyber_client_hello_spans_two_segments() {
    let pair = "tls13-chrome-x25519kyber-sni";
    assert_eq!(check_tls_pair(pair, true, &[]), (1, 3));
    // The ClientHello needs both segments: every shorter prefix asks for more.
    let f = flows(pair).into_iter().find(|f| !f.udp).unwrap();
    let TlsNeed::Done(ch) = parse_client_hello(&f.orig_bytes) else {
        panic!()
    };
    assert!(ch.supported_versions.contains(&0x0304));
    assert_eq!(ch.version, 0x0303);
    let hello_len = 5 + usize::from(u16::from_be_bytes([f.orig_bytes[3], f.orig_bytes[4]]));
    assert!(hello_len > 1500, "ClientHello of {hello_len} bytes");
    for n in [0, 1, 5, 100, 1400, hello_len - 1] {
        assert_eq!(
            parse_client_hello(&f.orig_bytes[..n]),
            TlsNeed::NeedMore,
            "prefix {n}"
        );
    }
}

#[test]
fn mysql_tls_selfsigned_after_mysql_greeting() {
    assert_eq!(
        check_tls_pair("mysql-tls-selfsigned", false, &[]),
        (1, 3 + 13)
    );
}

#[test]
fn gridftp_data_channel_server_and_client_certs() {
    // The control channel carries TLS base64-encoded in ADAT commands (not raw TLS): only the
    // data channel connection is compared.
    let (conns, compared) = check_tls_pair("gridftp-tls-client-certs", true, &[60108]);
    assert_eq!(conns, 1);
    assert_eq!(compared, 3 + 4 * 13 + 1 + 3 * 13);
}

fn check_dtls_pair(pair: &str, client_version: u16) {
    let ssl = log(pair, "ssl.log");
    let x509 = log(pair, "x509.log");
    let f = flows(pair).into_iter().find(|f| f.udp).unwrap();
    let row = &ssl[0];
    let client: Vec<&[u8]> = f.orig_dgrams.iter().map(Vec::as_slice).collect();
    // This ClientHello is fragmented over two datagrams.
    assert_eq!(parse_dtls_client_hello(client[0]), TlsNeed::NeedMore);
    let TlsNeed::Done(ch) = parse_dtls_client_hello_datagrams(&client) else {
        panic!("{pair}: DTLS ClientHello")
    };
    assert_eq!(ch.version, client_version);
    assert_eq!(opt(&ch.sni), row["server_name"]);
    let dgrams: Vec<&[u8]> = f.resp_dgrams.iter().map(Vec::as_slice).collect();
    let TlsNeed::Done(flight) = parse_dtls_server_flight(&dgrams) else {
        panic!("{pair}: DTLS server flight")
    };
    assert_eq!(flight.version.map(version_name).unwrap(), row["version"]);
    let fps: Vec<_> = flight
        .certificates
        .iter()
        .map(|c| c.der_sha256.clone())
        .collect();
    assert_eq!(fps.join(","), row["cert_chain_fps"]);
    assert_eq!(check_cert(pair, &flight.certificates[0], &x509[0]), 13);
    // Each prefix of the flight is incomplete or done, never wrong.
    for n in 0..dgrams.len() {
        match parse_dtls_server_flight(&dgrams[..n]) {
            TlsNeed::NeedMore => {}
            TlsNeed::Done(fl) => assert_eq!(fl, flight),
            TlsNeed::NotTls => panic!("{pair}: prefix of {n} datagrams"),
        }
    }
}

#[test]
fn dtls10_selfsigned() {
    check_dtls_pair("dtls10-selfsigned", 0xFEFF);
}

#[test]
fn dtls12_selfsigned() {
    check_dtls_pair("dtls12-selfsigned", 0xFEFD);
}

#[test]
fn http_requests_match_http_log() {
    let mut versions = Vec::new();
    for pair in ["http-ethernet-padding-default", "vlan-mpls-http"] {
        let http = log(pair, "http.log");
        let mut seen = 0;
        for f in flows(pair).iter().filter(|f| !f.udp) {
            let port = f.orig_port().to_string();
            let Some(row) = http.iter().find(|r| r["id.orig_p"] == port) else {
                assert!(parse_request(&f.orig_bytes).is_none() || f.orig_bytes.is_empty());
                continue;
            };
            assert!(looks_like_request(&f.orig_bytes), "{pair}:{port}");
            let req = parse_request(&f.orig_bytes).expect("request");
            assert_eq!(req.method, row["method"], "{pair}:{port}");
            assert_eq!(req.uri, row["uri"], "{pair}:{port}");
            // http.log's version is the reply's; the request's is checked below.
            versions.push((pair, req.version.clone()));
            assert_eq!(opt(&req.host), row["host"], "{pair}:{port}");
            assert_eq!(opt(&req.user_agent), row["user_agent"], "{pair}:{port}");
            seen += 1;
        }
        assert_eq!(seen, http.len(), "{pair}");
    }
    versions.sort();
    let want = [
        ("http-ethernet-padding-default", "1.0"),
        ("vlan-mpls-http", "0.9"),
        ("vlan-mpls-http", "1.0"),
    ];
    let got: Vec<_> = versions.iter().map(|(p, v)| (*p, v.as_str())).collect();
    assert_eq!(got, want);
}

/// Every prefix and many byte-flipped copies of every fixture stream: no panic, and a prefix of
/// a ClientHello is never mistaken for something that is not TLS.
#[test]
fn prefixes_and_flips_never_panic() {
    let pairs = [
        "tls11",
        "tls12-ecdsa-cert",
        "tls12-extensions-default",
        "tls13-chrome-x25519kyber-sni",
        "tls13-draft23",
        "tls12-handshake-failure",
        "dtls10-selfsigned",
        "dtls12-selfsigned",
        "http-ethernet-padding-default",
    ];
    for pair in pairs {
        for f in flows(pair) {
            if f.udp {
                for d in f.orig_dgrams.iter().chain(&f.resp_dgrams) {
                    for n in 0..=d.len() {
                        let _ = parse_dtls_client_hello(&d[..n]);
                        let _ = parse_dtls_server_flight(&[&d[..n]]);
                    }
                    for i in 0..d.len() {
                        let mut m = d.clone();
                        m[i] ^= 0xff;
                        let _ = parse_dtls_client_hello(&m);
                        let _ = parse_dtls_server_flight(&[&m]);
                    }
                }
                continue;
            }
            for s in [&f.orig_bytes, &f.resp_bytes] {
                let s = &s[..s.len().min(12_000)];
                let full_ch = matches!(parse_client_hello(s), TlsNeed::Done(_));
                for n in 0..=s.len() {
                    let ch = parse_client_hello(&s[..n]);
                    if full_ch {
                        assert_ne!(ch, TlsNeed::NotTls, "{pair}: ClientHello prefix {n}");
                    }
                    let _ = parse_server_flight(&s[..n]);
                    let _ = server_flight_so_far(&s[..n]);
                    let _ = parse_request(&s[..n]);
                    let _ = looks_like_request(&s[..n]);
                }
                let step = (s.len() / 700).max(1);
                for i in (0..s.len()).step_by(step) {
                    for x in [0xff, 0x80, 0x01] {
                        let mut m = s.to_vec();
                        m[i] ^= x;
                        let _ = parse_client_hello(&m);
                        let _ = parse_server_flight(&m);
                        let _ = parse_request(&m);
                    }
                }
            }
        }
    }
}

/// Every certificate of the fixtures, truncated at every length and flipped: no panic.
#[test]
fn cert_info_on_damaged_der_never_panics() {
    let f = flows("tls12-ecdsa-cert").into_iter().next().unwrap();
    let chains = certificate_chains(&f.resp_bytes);
    let der = &chains[0][0];
    assert!(cert_info(der).is_some());
    for n in 0..der.len() {
        assert!(cert_info(&der[..n]).is_none());
    }
    for i in 0..der.len() {
        let mut m = der.clone();
        m[i] ^= 0x55;
        let _ = cert_info(&m);
    }
}
