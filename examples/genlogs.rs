//! Generates realistic Zeek logs for benchmarks: conn, dns, ssl and x509 logs of a chosen size,
//! as Zeek TSV or JSON lines, plain or gzip-compressed, over a fixed set of destinations so that
//! rows grow while distinct destinations stay constant. Deterministic: the same arguments give
//! the same bytes.
//!
//! `cargo run --release --example genlogs -- --rows N [--dests D] [--format tsv|json] [--gzip]
//! [--ssl-every K] [--names-per-dest M] [--out DIR]`
//!
//! conn.log gets N rows, dns.log N/10 (at least one per destination), ssl.log one row for every
//! K-th TLS connection (default 1: every one, as Zeek logs them; 0: no ssl.log), x509.log one
//! certificate per TLS destination (a few of them self-signed), in the Zeek 6 layouts. With
//! `--names-per-dest M` above 1, each DNS row asks one of M names of its destination's address
//! at random, as clients of a CDN do: the names of an address then change from row to row.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

struct Opts {
    rows: u64,
    dests: u64,
    json: bool,
    gzip: bool,
    ssl_every: u64,
    names_per_dest: u64,
    out: PathBuf,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        rows: 100_000,
        dests: 5_000,
        json: false,
        gzip: false,
        ssl_every: 1,
        names_per_dest: 1,
        out: PathBuf::from("target/bench/logs"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => o.rows = args.next().and_then(|v| v.parse().ok()).ok_or("--rows N")?,
            "--dests" => {
                o.dests = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--dests D")?
            }
            "--format" => o.json = args.next().as_deref() == Some("json"),
            "--gzip" => o.gzip = true,
            "--ssl-every" => {
                o.ssl_every = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--ssl-every K")?
            }
            "--names-per-dest" => {
                o.names_per_dest = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--names-per-dest M")?
            }
            "--out" => o.out = args.next().map(PathBuf::from).ok_or("--out DIR")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

fn open(o: &Opts, name: &str) -> io::Result<Box<dyn Write>> {
    let ext = if o.json { "json" } else { "log" };
    let file = if o.gzip {
        format!("{name}.{ext}.gz")
    } else {
        format!("{name}.{ext}")
    };
    let f = std::fs::File::create(o.out.join(file))?;
    Ok(if o.gzip {
        Box::new(BufWriter::with_capacity(
            1 << 18,
            GzEncoder::new(f, Compression::fast()),
        ))
    } else {
        Box::new(BufWriter::with_capacity(1 << 18, f))
    })
}

fn header(w: &mut dyn Write, path: &str, fields: &[(&str, &str)]) -> io::Result<()> {
    writeln!(
        w,
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-"
    )?;
    writeln!(w, "#path\t{path}\n#open\t2024-01-01-00-00-00")?;
    let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
    let types: Vec<&str> = fields.iter().map(|f| f.1).collect();
    writeln!(
        w,
        "#fields\t{}\n#types\t{}",
        names.join("\t"),
        types.join("\t")
    )
}

/// A made-up SHA-256 fingerprint for the certificate of destination `i`.
fn fingerprint(i: u64) -> String {
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!("{x:016x}"));
    }
    out
}

/// One certificate per TLS destination: one in 50 self-signed, one in 10 from Let's Encrypt,
/// the rest from a commercial CA.
fn write_x509(o: &Opts, start: f64) -> io::Result<()> {
    let mut w = open(o, "x509")?;
    if !o.json {
        header(
            &mut *w,
            "x509",
            &[
                ("ts", "time"),
                ("fingerprint", "string"),
                ("certificate.version", "count"),
                ("certificate.serial", "string"),
                ("certificate.subject", "string"),
                ("certificate.issuer", "string"),
                ("certificate.not_valid_before", "time"),
                ("certificate.not_valid_after", "time"),
                ("certificate.key_alg", "string"),
                ("certificate.sig_alg", "string"),
                ("certificate.key_type", "string"),
                ("certificate.key_length", "count"),
                ("certificate.exponent", "string"),
                ("certificate.curve", "string"),
                ("san.dns", "vector[string]"),
                ("san.uri", "vector[string]"),
                ("san.email", "vector[string]"),
                ("san.ip", "vector[addr]"),
                ("basic_constraints.ca", "bool"),
                ("basic_constraints.path_len", "count"),
                ("host_cert", "bool"),
                ("client_cert", "bool"),
            ],
        )?;
    }
    for d in (0..o.dests).filter(|d| d % 6 != 2 && d % 6 != 5) {
        let (name, fp) = (dest_name(d), fingerprint(d));
        let subject = format!("CN={name}");
        let issuer = if d % 50 == 7 {
            subject.clone()
        } else if d % 10 == 3 {
            "CN=R3,O=Let's Encrypt,C=US".to_string()
        } else {
            "CN=DigiCert Global G2 TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US".to_string()
        };
        let ts = start + d as f64;
        if o.json {
            writeln!(
                w,
                r#"{{"ts":{ts:.6},"fingerprint":"{fp}","certificate.version":3,"certificate.serial":"{d:X}","certificate.subject":"{subject}","certificate.issuer":"{issuer}","certificate.not_valid_before":1700000000.0,"certificate.not_valid_after":1710000000.0,"certificate.key_alg":"rsaEncryption","certificate.sig_alg":"sha256WithRSAEncryption","certificate.key_type":"rsa","certificate.key_length":2048,"certificate.exponent":"65537","san.dns":["{name}"],"basic_constraints.ca":false,"host_cert":true,"client_cert":false}}"#
            )?;
        } else {
            writeln!(
                w,
                "{ts:.6}\t{fp}\t3\t{d:X}\t{subject}\t{issuer}\t1700000000.000000\t1710000000.000000\trsaEncryption\tsha256WithRSAEncryption\trsa\t2048\t65537\t-\t{name}\t-\t-\t-\tF\t-\tT\tF"
            )?;
        }
    }
    if !o.json {
        writeln!(w, "#close\t2024-01-02-00-00-00")?;
    }
    w.flush()
}

fn dest_ip(i: u64) -> String {
    format!(
        "{}.{}.{}.{}",
        23 + (i >> 16) % 150,
        (i >> 8) & 255,
        i & 255,
        1 + i % 250
    )
}

fn dest_name(i: u64) -> String {
    const TLDS: [&str; 6] = ["com", "net", "org", "io", "xyz", "de"];
    format!("host{i}.example{}.{}", i % 97, TLDS[(i % 6) as usize])
}

fn main() -> io::Result<()> {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("genlogs: {e}");
            std::process::exit(2);
        }
    };
    std::fs::create_dir_all(&o.out)?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = 1_704_067_200.0f64;
    let dns_rows = (o.rows / 10).max(o.dests.min(o.rows));
    let span = 86_400.0;

    let mut dns = open(&o, "dns")?;
    if !o.json {
        header(
            &mut *dns,
            "dns",
            &[
                ("ts", "time"),
                ("uid", "string"),
                ("id.orig_h", "addr"),
                ("id.orig_p", "port"),
                ("id.resp_h", "addr"),
                ("id.resp_p", "port"),
                ("proto", "enum"),
                ("trans_id", "count"),
                ("rtt", "interval"),
                ("query", "string"),
                ("qclass", "count"),
                ("qclass_name", "string"),
                ("qtype", "count"),
                ("qtype_name", "string"),
                ("rcode", "count"),
                ("rcode_name", "string"),
                ("AA", "bool"),
                ("TC", "bool"),
                ("RD", "bool"),
                ("RA", "bool"),
                ("Z", "count"),
                ("answers", "vector[string]"),
                ("TTLs", "vector[interval]"),
                ("rejected", "bool"),
            ],
        )?;
    }
    for r in 0..dns_rows {
        let d = if r < o.dests { r } else { rng.below(o.dests) };
        let ts = start + span * (r as f64) / (dns_rows as f64);
        let client = format!("10.0.{}.{}", rng.below(4), 2 + rng.below(200));
        let port = 1024 + rng.below(60000);
        let uid = format!("C{:016x}", rng.next());
        let (mut name, ip) = (dest_name(d), dest_ip(d));
        if o.names_per_dest > 1 {
            name = format!("n{}.{name}", rng.below(o.names_per_dest));
        }
        let cname = format!("edge{}.cdn{}.net", d % 31, d % 7);
        if o.json {
            writeln!(
                dns,
                r#"{{"ts":{ts:.6},"uid":"{uid}","id.orig_h":"{client}","id.orig_p":{port},"id.resp_h":"10.0.0.1","id.resp_p":53,"proto":"udp","trans_id":{},"rtt":0.012,"query":"{name}","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":0,"answers":["{cname}","{ip}"],"TTLs":[300.0,60.0],"rejected":false}}"#,
                rng.below(65536)
            )?;
        } else {
            writeln!(
                dns,
                "{ts:.6}\t{uid}\t{client}\t{port}\t10.0.0.1\t53\tudp\t{}\t0.012000\t{name}\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t{cname},{ip}\t300.000000,60.000000\tF",
                rng.below(65536)
            )?;
        }
    }
    if !o.json {
        writeln!(dns, "#close\t2024-01-02-00-00-00")?;
    }
    dns.flush()?;
    drop(dns);

    let mut conn = open(&o, "conn")?;
    if !o.json {
        header(
            &mut *conn,
            "conn",
            &[
                ("ts", "time"),
                ("uid", "string"),
                ("id.orig_h", "addr"),
                ("id.orig_p", "port"),
                ("id.resp_h", "addr"),
                ("id.resp_p", "port"),
                ("proto", "enum"),
                ("service", "string"),
                ("duration", "interval"),
                ("orig_bytes", "count"),
                ("resp_bytes", "count"),
                ("conn_state", "string"),
                ("local_orig", "bool"),
                ("local_resp", "bool"),
                ("missed_bytes", "count"),
                ("history", "string"),
                ("orig_pkts", "count"),
                ("orig_ip_bytes", "count"),
                ("resp_pkts", "count"),
                ("resp_ip_bytes", "count"),
                ("tunnel_parents", "set[string]"),
                ("ip_proto", "count"),
            ],
        )?;
    }
    let mut ssl = match o.ssl_every {
        0 => None,
        _ => Some(open(&o, "ssl")?),
    };
    if let (Some(w), false) = (ssl.as_mut(), o.json) {
        header(
            &mut **w,
            "ssl",
            &[
                ("ts", "time"),
                ("uid", "string"),
                ("id.orig_h", "addr"),
                ("id.orig_p", "port"),
                ("id.resp_h", "addr"),
                ("id.resp_p", "port"),
                ("version", "string"),
                ("cipher", "string"),
                ("curve", "string"),
                ("server_name", "string"),
                ("resumed", "bool"),
                ("last_alert", "string"),
                ("next_protocol", "string"),
                ("established", "bool"),
                ("ssl_history", "string"),
                ("cert_chain_fps", "vector[string]"),
                ("client_cert_chain_fps", "vector[string]"),
                ("sni_matches_cert", "bool"),
            ],
        )?;
    }
    let mut tls_seen: u64 = 0;
    const PORTS: [(u16, &str, &str); 6] = [
        (443, "tcp", "ssl"),
        (443, "tcp", "ssl"),
        (80, "tcp", "http"),
        (443, "udp", "quic,ssl"),
        (8443, "tcp", "ssl"),
        (5228, "tcp", "-"),
    ];
    for r in 0..o.rows {
        let d = rng.below(o.dests);
        let ts = start + span * (r as f64) / (o.rows as f64);
        let client = format!("10.0.{}.{}", rng.below(4), 2 + rng.below(200));
        let cport = 1024 + rng.below(60000);
        let uid = format!("C{:016x}", rng.next());
        let (port, proto, service) = PORTS[(d % 6) as usize];
        let ob = rng.below(5000);
        let rb = rng.below(200_000);
        let dur = (rng.below(30_000_000) as f64) / 1e6;
        let ip = dest_ip(d);
        let ipp = if proto == "tcp" { 6 } else { 17 };
        if service.contains("ssl")
            && let Some(w) = ssl.as_mut()
        {
            tls_seen += 1;
            if tls_seen.is_multiple_of(o.ssl_every) {
                let (name, fp) = (dest_name(d), fingerprint(d));
                let version = if d.is_multiple_of(3) {
                    "TLSv12"
                } else {
                    "TLSv13"
                };
                if o.json {
                    writeln!(
                        w,
                        r#"{{"ts":{ts:.6},"uid":"{uid}","id.orig_h":"{client}","id.orig_p":{cport},"id.resp_h":"{ip}","id.resp_p":{port},"version":"{version}","cipher":"TLS_AES_128_GCM_SHA256","curve":"x25519","server_name":"{name}","resumed":false,"next_protocol":"h2","established":true,"ssl_history":"CsiI","cert_chain_fps":["{fp}"],"sni_matches_cert":true}}"#
                    )?;
                } else {
                    writeln!(
                        w,
                        "{ts:.6}\t{uid}\t{client}\t{cport}\t{ip}\t{port}\t{version}\tTLS_AES_128_GCM_SHA256\tx25519\t{name}\tF\t-\th2\tT\tCsiI\t{fp}\t(empty)\tT"
                    )?;
                }
            }
        }
        if o.json {
            let svc = if service == "-" {
                String::new()
            } else {
                format!(r#""service":"{service}","#)
            };
            writeln!(
                conn,
                r#"{{"ts":{ts:.6},"uid":"{uid}","id.orig_h":"{client}","id.orig_p":{cport},"id.resp_h":"{ip}","id.resp_p":{port},"proto":"{proto}",{svc}"duration":{dur:.6},"orig_bytes":{ob},"resp_bytes":{rb},"conn_state":"SF","local_orig":true,"local_resp":false,"missed_bytes":0,"history":"ShADadFf","orig_pkts":12,"orig_ip_bytes":{},"resp_pkts":14,"resp_ip_bytes":{},"ip_proto":{ipp}}}"#,
                ob + 600,
                rb + 700
            )?;
        } else {
            writeln!(
                conn,
                "{ts:.6}\t{uid}\t{client}\t{cport}\t{ip}\t{port}\t{proto}\t{service}\t{dur:.6}\t{ob}\t{rb}\tSF\tT\tF\t0\tShADadFf\t12\t{}\t14\t{}\t-\t{ipp}",
                ob + 600,
                rb + 700
            )?;
        }
    }
    if !o.json {
        writeln!(conn, "#close\t2024-01-02-00-00-00")?;
    }
    conn.flush()?;
    if let Some(mut w) = ssl {
        if !o.json {
            writeln!(w, "#close\t2024-01-02-00-00-00")?;
        }
        w.flush()?;
        write_x509(&o, start)?;
    }
    eprintln!(
        "genlogs: {} conn rows, {dns_rows} dns rows, {} destinations in {}",
        o.rows,
        o.dests,
        o.out.display()
    );
    Ok(())
}
