//! Enrichment (issue 5): passive DNS export and import on real Zeek dns.log files, the state store,
//! the domain answer and its HTTP API.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use captriage::enrich::pdns::{self, CofRecord, PdnsCollector};
use captriage::model::Dns;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/enrich")
        .join(rel)
}

/// Every dns.log fixture, sorted.
fn dns_logs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![data("zeek")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "dns.log") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A test-only Zeek TSV splitter for dns.log: columns by `#fields` name, `-` unset,
/// `(empty)` empty, sets split on `,`. The real reader lives in `captriage::input`.
fn read_dns_log(text: &str) -> Vec<Dns<'_>> {
    let mut fields: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#fields\t") {
            fields = rest.split('\t').collect();
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        let get = |name: &str| {
            fields
                .iter()
                .position(|f| *f == name)
                .and_then(|i| cols.get(i).copied())
                .filter(|v| *v != "-")
        };
        out.push(Dns {
            ts: get("ts").and_then(|v| v.parse().ok()),
            query: get("query").map(Cow::Borrowed),
            qtype: get("qtype").and_then(|v| v.parse().ok()),
            qtype_name: get("qtype_name").map(Cow::Borrowed),
            answers: get("answers")
                .filter(|v| *v != "(empty)")
                .map(|v| v.split(',').map(Cow::Borrowed).collect())
                .unwrap_or_default(),
            ..Dns::default()
        });
    }
    out
}

fn collect(path: &Path) -> PdnsCollector {
    let text = std::fs::read_to_string(path).unwrap();
    let mut c = PdnsCollector::new();
    for dns in read_dns_log(&text) {
        c.add(&dns);
    }
    c
}

fn read_back(bytes: &[u8]) -> Vec<CofRecord> {
    let mut diags = Vec::new();
    let recs = pdns::parse_reader(Arc::from("export"), bytes, &mut diags);
    assert!(diags.is_empty(), "{diags:?}");
    recs
}

#[test]
fn every_corpus_dns_log_exports_and_reads_back() {
    let logs = dns_logs();
    assert_eq!(logs.len(), 21);
    let mut total = 0;
    for log in &logs {
        let c = collect(log);
        let mut out = Vec::new();
        c.write(&mut out, Some("sensor-1"), Some("captriage"))
            .unwrap();
        let back = read_back(&out);
        assert_eq!(
            back,
            c.records(Some("sensor-1"), Some("captriage")),
            "{log:?}"
        );
        // Deterministic: a second export is byte-identical.
        let mut again = Vec::new();
        c.write(&mut again, Some("sensor-1"), Some("captriage"))
            .unwrap();
        assert_eq!(out, again);
        total += back.len();
    }
    assert_eq!(total, 30);
}

#[test]
fn real_answers_become_typed_records() {
    // Zeek 3.2 log with real timestamps and no qtype: eight addresses for one name.
    let c = collect(&data("zeek/dns-reply-first-flip/baseline-zeek3.2/dns.log"));
    let recs = c.records(None, None);
    assert_eq!(recs.len(), 8);
    assert!(recs.iter().all(|r| r.rrname == "us.v27.distributed.net"
        && r.rrtype == "A"
        && r.time_first == 964953086
        && r.count == 1));
    assert_eq!(recs[0].rdata, "128.104.18.148");

    // CNAME target and address in one A transaction; RRSIG entries ignored.
    let c = collect(&data("zeek/dns-dnssec-rrsig/baseline-zeek3.2/dns.log"));
    let keys: Vec<(String, String, String, u64)> = c
        .records(None, None)
        .into_iter()
        .map(|r| (r.rrname, r.rrtype, r.rdata, r.count))
        .collect();
    let own = |a: &str, b: &str, c: &str, n: u64| (a.to_string(), b.to_string(), c.to_string(), n);
    assert_eq!(
        keys,
        [
            own("virgo.sas.upenn.edu", "A", "128.91.234.142", 2),
            own("workfamily.sas.upenn.edu", "A", "128.91.234.145", 1),
            own(
                "workfamily.sas.upenn.edu",
                "CNAME",
                "quasar.sas.upenn.edu",
                1
            ),
        ]
    );

    // HEAD baselines mask ts: records still export, with unknown times written as 0.
    let c = collect(&data("zeek/wikipedia-default/baseline/dns.log"));
    let recs = c.records(None, None);
    assert!(
        recs.iter()
            .any(|r| r.rrname == "upload.wikimedia.org" && r.rdata == "208.80.152.3")
    );
    assert!(recs.iter().all(|r| r.time_first == 0 && r.time_last == 0));
}

#[test]
fn d4_server_rdata_as_string_reads() {
    let mut diags = Vec::new();
    let recs = pdns::load(&data("cof/d4-query.ndjson"), &mut diags).unwrap();
    assert!(diags.is_empty(), "{diags:?}");
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].rrname, "www.example.org");
    assert_eq!(recs[1].rrtype, "AAAA");
    assert_eq!(recs[1].rdata, "2001:db8:0:8::53");
    assert_eq!(
        (recs[1].time_first, recs[1].time_last, recs[1].count),
        (1657878929, 1657879929, 7)
    );
    assert_eq!(recs[1].origin.as_deref(), Some("origin not configured"));
}

// --- State store: concurrency and crashes -------------------------------------------------------

use captriage::enrich::state::{Store, StoreOptions};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Names written by batch `b` of writer `w`: 100 per batch, committed together.
fn batch_names(w: &str, b: u64) -> Vec<(String, u64)> {
    (0..100)
        .map(|j| (format!("{w}-{b}-{j}.example"), b))
        .collect()
}

/// Not a test on its own: the child process of the tests below. It writes batches into the store
/// named by `CAPTRIAGE_TEST_STATE_DIR` until `CAPTRIAGE_TEST_STATE_BATCHES` (0: forever).
#[test]
fn state_child_writer() {
    let Ok(dir) = std::env::var("CAPTRIAGE_TEST_STATE_DIR") else {
        return;
    };
    let who = std::env::var("CAPTRIAGE_TEST_STATE_WHO").unwrap();
    let batches: u64 = std::env::var("CAPTRIAGE_TEST_STATE_BATCHES")
        .unwrap()
        .parse()
        .unwrap();
    let store = Store::open(Path::new(&dir)).unwrap();
    let mut b = 0;
    while batches == 0 || b < batches {
        store.record_domains(batch_names(&who, b)).unwrap();
        b += 1;
        if b == 1 {
            // Tell the parent the first commit is done.
            std::fs::write(Path::new(&dir).join(format!("{who}.started")), b"").unwrap();
        }
    }
}

fn child(dir: &Path, who: &str, batches: u64) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "enrich::state_child_writer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CAPTRIAGE_TEST_STATE_DIR", dir)
        .env("CAPTRIAGE_TEST_STATE_WHO", who)
        .env("CAPTRIAGE_TEST_STATE_BATCHES", batches.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Batches of `who` present in full, checking that no batch is present in part and that they
/// form a prefix 0..n.
fn whole_batches(store: &Store, who: &str) -> u64 {
    let mut n = 0;
    loop {
        let present = batch_names(who, n)
            .iter()
            .filter(|(name, _)| store.domain_info(name).unwrap().is_some())
            .count();
        match present {
            100 => n += 1,
            0 => break,
            k => panic!("batch {n} of {who} is torn: {k} of 100 names"),
        }
    }
    assert!(
        store
            .domain_info(&batch_names(who, n + 1)[0].0)
            .unwrap()
            .is_none()
    );
    n
}

#[test]
fn two_processes_write_one_store_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = child(dir.path(), "a", 40);
    let mut b = child(dir.path(), "b", 40);
    assert!(a.wait().unwrap().success());
    assert!(b.wait().unwrap().success());
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(whole_batches(&store, "a"), 40);
    assert_eq!(whole_batches(&store, "b"), 40);
    assert_eq!(store.stats().unwrap().domains, 8000);
}

#[test]
fn two_threads_with_their_own_handles() {
    let dir = tempfile::tempdir().unwrap();
    std::thread::scope(|s| {
        for who in ["t1", "t2"] {
            let path = dir.path();
            s.spawn(move || {
                let store = Store::open(path).unwrap();
                for b in 0..20 {
                    store.record_domains(batch_names(who, b)).unwrap();
                }
            });
        }
    });
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(whole_batches(&store, "t1"), 20);
    assert_eq!(whole_batches(&store, "t2"), 20);
}

#[test]
fn a_run_killed_mid_write_leaves_a_usable_store() {
    let dir = tempfile::tempdir().unwrap();
    // First run: a few whole commits.
    {
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store.record_domains([("before.example", 1)]).unwrap().len(),
            1
        );
    }
    for round in 0..3 {
        let who = format!("k{round}");
        let mut c = child(dir.path(), &who, 0);
        let start = Instant::now();
        let marker = dir.path().join(format!("{who}.started"));
        while !marker.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "child never committed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(30 + 40 * round));
        c.kill().unwrap();
        c.wait().unwrap();
        // Reopen: every batch is whole, earlier data is intact, and the store takes writes.
        let store = Store::open(dir.path()).unwrap();
        let n = whole_batches(&store, &who);
        assert!(n >= 1, "round {round}");
        assert!(store.domain_info("before.example").unwrap().is_some());
        assert_eq!(
            store
                .record_domains([("before.example", 2), ("after.example", 3)])
                .unwrap(),
            if round == 0 {
                vec!["after.example".to_string()]
            } else {
                vec![]
            }
        );
        let stats = store.stats().unwrap();
        assert!(stats.domains >= 2 + 100 * n, "{stats:?}");
    }
}

#[test]
fn a_held_lock_is_waited_for_then_reported_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Hold the write lock from another process: a child that writes forever.
    let mut c = child(dir.path(), "holder", 0);
    let start = Instant::now();
    while !dir.path().join("holder.started").exists() {
        assert!(start.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(5));
    }
    // Writes still get through between the child's commits.
    assert_eq!(
        store.record_domains([("mine.example", 1)]).unwrap().len(),
        1
    );
    c.kill().unwrap();
    c.wait().unwrap();

    // A lock that is never released: a write transaction held open through a raw handle.
    drop(store);
    let raw = redb::Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .create(dir.path().join(captriage::enrich::state::DB_FILE))
        .unwrap();
    static NOTICES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let quick = StoreOptions {
        lock_wait: Duration::from_millis(300),
        notice: Some(|msg| {
            assert!(
                msg.contains("in use by another captriage run; waiting"),
                "{msg}"
            );
            NOTICES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }),
    };
    let other = Store::open_with(dir.path(), quick).unwrap();
    let held = raw.begin_write().unwrap();
    let t0 = Instant::now();
    let err = other.record_domains([("blocked.example", 1)]).unwrap_err();
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let msg = format!("{err:#}");
    assert!(msg.contains("locked by another captriage run"), "{msg}");
    assert!(msg.contains("captriage.redb"), "{msg}");
    assert_eq!(NOTICES.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Once released, the same store works.
    drop(held);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store
            .record_domains([("blocked.example", 1)])
            .unwrap()
            .len(),
        1
    );
}

// --- Domain answer ------------------------------------------------------------------------------

use captriage::enrich::domain::{DomainSettings, assess};

/// Every vector of ../shared/corpus/freq/VECTORS.md, through the domain answer's JSON.
#[test]
fn domain_json_freq_scores_match_every_vector() {
    let vectors: &[(&str, &str)] = &[
        ("betterme-magazine.com", "[9.3769,6.832]"),
        ("google.com", "[6.6009,5.0887]"),
        ("Google.COM", "[6.6009,5.0887]"),
        ("www.google.com", "[4.6231,4.3346]"),
        ("microsoft.com", "[6.2764,5.9115]"),
        ("kaspersky.com", "[6.838,7.7354]"),
        ("facebook.com", "[6.5809,4.4762]"),
        ("example.co.uk", "[5.2854,3.6278]"),
        (
            "thisisaverylongdomainnamewithwords.com",
            "[11.2742,10.4233]",
        ),
        ("xjwqpzkvbr.net", "[1.5968,3.4029]"),
        ("qwxzv.ru", "[0.3546,1.1066]"),
        ("kq3v9z0x7w.com", "[2.0149,5.8688]"),
        ("a1b2c3d4e5.info", "[3.6674,4.9661]"),
        ("asdfjkl.top", "[2.6458,4.5683]"),
        ("api.snoopza.com", "[3.863,3.1953]"),
        ("x.duckdns.org", "[2.5654,3.599]"),
        ("duckdns.org", "[2.8952,3.6779]"),
        ("cdn-77.example.net", "[4.0377,3.264]"),
        ("xn--80ak6aa92e.com", "[2.7273,2.1606]"),
        ("0123456789.biz", "[3.4892,0.9692]"),
        ("a.b", "[0.0812,0.1366]"),
        ("ab", "[1.8516,1.8498]"),
        ("a", "[0.0,0.0]"),
        ("", "[0.0,0.0]"),
    ];
    let settings = DomainSettings::default();
    for (input, want) in vectors {
        let report = assess(input, None, None, &settings, 0).unwrap();
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["freq_score"].to_string(), *want, "{input:?}");
    }
}

// --- HTTP API -----------------------------------------------------------------------------------

use captriage::enrich::serve::{ServeOptions, Server};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn get(agent: &ureq::Agent, url: &str) -> (u16, String, String) {
    let mut resp = agent.get(url).call().unwrap();
    let status = resp.status().as_u16();
    let ctype = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.body_mut().read_to_string().unwrap();
    (status, ctype, body)
}

#[test]
fn serve_answers_query_and_domain_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Fill it from a real dns.log and from the D4-shaped file.
    let c = collect(&data("zeek/dns-dnssec-rrsig/baseline-zeek3.2/dns.log"));
    store.add_pdns(&c.records(None, None)).unwrap();
    let mut diags = Vec::new();
    let d4 = pdns::load(&data("cof/d4-query.ndjson"), &mut diags).unwrap();
    store.add_pdns(&d4).unwrap();
    store
        .record_domains([("upenn.edu", 1_600_000_000)])
        .unwrap();

    let server = Server::bind(
        Arc::new(store),
        "127.0.0.1:0".parse().unwrap(),
        ServeOptions::default(),
    )
    .unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    let stop = server.stop_handle();
    let handle = std::thread::spawn(move || server.run());
    let base = format!("http://{addr}");
    let a = agent();

    // By name: COF NDJSON, as the D4 server answers.
    let (status, ctype, body) = get(&a, &format!("{base}/query/WorkFamily.sas.upenn.edu"));
    assert_eq!((status, ctype.as_str()), (200, "application/x-ndjson"));
    let recs = read_back(body.as_bytes());
    let keys: Vec<(&str, &str)> = recs
        .iter()
        .map(|r| (r.rrtype.as_str(), r.rdata.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("A", "128.91.234.145"), ("CNAME", "quasar.sas.upenn.edu")]
    );
    assert_eq!(recs[0].time_first, 1_533_309_959);

    // By address (IPv6, as in the D4 README's example query).
    let (status, _, body) = get(&a, &format!("{base}/query/2001:db8:0:8::53"));
    assert_eq!(status, 200);
    let names: Vec<String> = read_back(body.as_bytes())
        .into_iter()
        .map(|r| r.rrname)
        .collect();
    assert_eq!(names, ["media.example.se", "www.example.org"]);

    // Nothing known: empty body.
    assert_eq!(
        get(&a, &format!("{base}/query/198.51.100.7")),
        (200, "application/x-ndjson".into(), String::new())
    );

    // The domain answer.
    let (status, ctype, body) = get(&a, &format!("{base}/domain/virgo.sas.upenn.edu"));
    assert_eq!((status, ctype.as_str()), (200, "application/json"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["domain"], "virgo.sas.upenn.edu");
    assert_eq!(v["registrable"], "upenn.edu");
    assert_eq!(v["seen_by_you"], "2020-09-13");
    assert_eq!(v["alerts"], serde_json::json!([]));
    let (_, _, body) = get(&a, &format!("{base}/domain/xjwqpzkvbr.net"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["freq_score"], serde_json::json!([1.5968, 3.4029]));
    assert_eq!(v["alerts"], serde_json::json!(["DOM-01", "DOM-02"]));

    // Errors: JSON bodies with 400/404/405.
    for (path, want) in [
        ("/", 404),
        ("/nothing/here", 404),
        ("/query/", 400),
        ("/domain/not%20a%20name", 400),
        ("/domain/a/b", 400),
    ] {
        let (status, ctype, body) = get(&a, &format!("{base}{path}"));
        assert_eq!(status, want, "{path}");
        assert_eq!(ctype, "application/json", "{path}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(v["error"].is_string(), "{path}");
    }
    let resp = a
        .post(&format!("{base}/query/example.com"))
        .send("x")
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);

    stop.stop();
    handle.join().unwrap();
}

// --- Online lookups against loopback servers ----------------------------------------------------

use captriage::enrich::online::{DnsblZone, LookupError, Online, OnlineConfig};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, NS, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};

/// A UDP DNS responder on 127.0.0.1 for the names below; counts the queries it receives.
fn dns_server() -> (SocketAddr, Arc<AtomicU64>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                return;
            };
            seen.fetch_add(1, Ordering::SeqCst);
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(query) = q.queries.first().cloned() else {
                continue;
            };
            let qname = query.name().to_ascii().to_ascii_lowercase();
            let mut resp = Message::response(q.metadata.id, q.metadata.op_code);
            resp.metadata.recursion_desired = q.metadata.recursion_desired;
            resp.metadata.recursion_available = true;
            resp.add_query(query.clone());
            let owner = query.name().clone();
            let name = |s: &str| Name::from_ascii(s).unwrap();
            let rec = |data: RData| Record::from_rdata(owner.clone(), 300, data);
            match (qname.as_str(), query.query_type()) {
                ("example.com.", RecordType::NS) => {
                    resp.add_answer(rec(RData::NS(NS(name("ns2.example.net.")))));
                    resp.add_answer(rec(RData::NS(NS(name("NS1.example.net.")))));
                }
                ("1.2.0.192.in-addr.arpa.", RecordType::PTR) => {
                    resp.add_answer(rec(RData::PTR(PTR(name("host.example.com.")))));
                }
                ("2.0.0.127.zen.test.", RecordType::A) => {
                    resp.add_answer(rec(RData::A(A(Ipv4Addr::new(127, 0, 0, 4)))));
                    resp.add_answer(rec(RData::A(A(Ipv4Addr::new(127, 0, 0, 2)))));
                }
                ("9.9.9.9.zen.test.", RecordType::A) => {
                    // Spamhaus' "query via public resolver refused" code: not a listing.
                    resp.add_answer(rec(RData::A(A(Ipv4Addr::new(127, 255, 255, 254)))));
                }
                ("slow.example.", _) => continue,
                ("garbage.example.", _) => {
                    let mut junk = q.metadata.id.to_be_bytes().to_vec();
                    junk.extend_from_slice(b"\x81\x80\x00\x01\x00\x05garbage");
                    let _ = sock.send_to(&junk, peer);
                    continue;
                }
                ("wrong-id.example.", _) => {
                    resp.metadata.id = q.metadata.id.wrapping_add(1);
                    resp.add_answer(rec(RData::NS(NS(name("evil.example.")))));
                }
                _ => resp.metadata.response_code = ResponseCode::NXDomain,
            }
            let _ = sock.send_to(&resp.to_vec().unwrap(), peer);
        }
    });
    (addr, count)
}

/// An RDAP server on 127.0.0.1: `/domain/NAME`.
fn rdap_server() -> (String, StopAfter) {
    let http = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let addr = http.server_addr().to_ip().unwrap();
    let h = Arc::clone(&http);
    std::thread::spawn(move || {
        for req in h.incoming_requests() {
            let url = req.url().to_string();
            let (status, body): (u16, String) = match url.as_str() {
                "/domain/young.example" => (
                    200,
                    r#"{"objectClassName":"domain","ldhName":"young.example","events":[{"eventAction":"expiration","eventDate":"2026-01-01T00:00:00Z"},{"eventAction":"registration","eventDate":"2024-05-30T10:00:00Z"}]}"#.into(),
                ),
                "/domain/noevents.example" => (200, r#"{"objectClassName":"domain"}"#.into()),
                "/domain/garbage.example" => (200, "<html>not rdap</html>".into()),
                "/domain/baddate.example" => (
                    200,
                    r#"{"events":[{"eventAction":"registration","eventDate":"yesterday"}]}"#.into(),
                ),
                "/domain/broken.example" => (500, "{}".into()),
                "/domain/slow.example" => {
                    let req = req;
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_secs(3));
                        let _ = req.respond(tiny_http::Response::from_string("{}"));
                    });
                    continue;
                }
                _ => (404, r#"{"errorCode":404}"#.into()),
            };
            let _ = req.respond(tiny_http::Response::from_string(body).with_status_code(status));
        }
    });
    (format!("http://{addr}/domain/"), StopAfter(http))
}

/// Stops a tiny_http server when dropped.
struct StopAfter(Arc<tiny_http::Server>);

impl Drop for StopAfter {
    fn drop(&mut self) {
        self.0.unblock();
    }
}

fn online_config(dns: SocketAddr, rdap: &str) -> OnlineConfig {
    let mut cfg = OnlineConfig::new(dns);
    cfg.timeout = Duration::from_millis(500);
    cfg.budget = Duration::from_secs(30);
    cfg.rdap_base = rdap.to_string();
    let mut zone = DnsblZone::spamhaus_zen();
    zone.zone = "zen.test".into();
    cfg.dnsbl_zones = vec![zone];
    cfg
}

#[test]
fn online_lookups_against_loopback_servers() {
    let (dns, queries) = dns_server();
    let (rdap, _stop) = rdap_server();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut online = Online::new(online_config(dns, &rdap), Some(&store)).unwrap();
    assert_eq!(queries.load(Ordering::SeqCst), 0, "building sends nothing");

    // NS of the registrable domain, sorted and normalised.
    assert_eq!(
        online.ns("www.Example.COM").unwrap(),
        ["ns1.example.net", "ns2.example.net"]
    );
    // PTR.
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    assert_eq!(online.ptr(ip).unwrap(), ["host.example.com"]);
    assert_eq!(
        online.ptr("192.0.2.99".parse().unwrap()).unwrap(),
        Vec::<String>::new()
    );
    // DNSBL with meanings; error codes are not listings; NXDOMAIN is "not listed".
    let hits = online.dnsbl("127.0.0.2".parse().unwrap()).unwrap();
    let got: Vec<(String, String)> = hits
        .iter()
        .map(|h| (h.answer.to_string(), h.meaning.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "127.0.0.2".to_string(),
                "SBL: Spamhaus SBL data".to_string()
            ),
            (
                "127.0.0.4".to_string(),
                "XBL: CBL data (exploited host)".to_string()
            ),
        ]
    );
    assert!(online.dnsbl("9.9.9.9".parse().unwrap()).unwrap().is_empty());
    assert!(online.dnsbl(ip).unwrap().is_empty());
    // NXDOMAIN for NS is an empty answer.
    assert!(online.ns("unknown.example").unwrap().is_empty());

    // Cached: asking again sends nothing.
    let before = queries.load(Ordering::SeqCst);
    let attempted = online.attempted();
    assert_eq!(online.ns("example.com").unwrap().len(), 2);
    assert_eq!(online.ptr(ip).unwrap().len(), 1);
    assert_eq!(queries.load(Ordering::SeqCst), before);
    assert_eq!(online.attempted(), attempted);
    // ...also for a new run on the same store.
    let mut again = Online::new(online_config(dns, &rdap), Some(&store)).unwrap();
    assert_eq!(again.ns("example.com").unwrap().len(), 2);
    assert_eq!(again.attempted(), 0);

    // Timeouts, garbage and spoofed ids fail within the per-lookup timeout.
    for bad in ["slow.example", "garbage.example", "wrong-id.example"] {
        let t = Instant::now();
        let err = online.ns(bad).unwrap_err();
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "{bad}: {:?}",
            t.elapsed()
        );
        assert!(
            matches!(err, LookupError::Timeout | LookupError::Failed(_)),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(online.ns("slow.example").unwrap_err(), LookupError::Timeout);
    // Failures are not cached.
    assert_eq!(store.cache_get("ns:slow.example").unwrap(), None);
    // IP literals are refused without a lookup.
    let n = online.attempted();
    assert!(matches!(
        online.ns("192.0.2.1"),
        Err(LookupError::BadInput(_))
    ));
    assert_eq!(online.attempted(), n);

    // RDAP.
    let young = captriage::enrich::domain::parse_date("2024-05-30T10:00:00Z").unwrap();
    assert_eq!(
        online.rdap_created("www.young.example").unwrap(),
        Some(young)
    );
    assert_eq!(online.rdap_created("noevents.example").unwrap(), None);
    assert_eq!(online.rdap_created("missing.example").unwrap(), None);
    for bad in ["garbage.example", "baddate.example", "broken.example"] {
        assert!(
            matches!(online.rdap_created(bad), Err(LookupError::Failed(_))),
            "{bad}"
        );
    }
    let t = Instant::now();
    assert_eq!(
        online.rdap_created("slow.example").unwrap_err(),
        LookupError::Timeout
    );
    assert!(t.elapsed() < Duration::from_secs(2));
}

#[test]
fn online_budget_stops_lookups() {
    let (dns, queries) = dns_server();
    let mut cfg = online_config(dns, "http://127.0.0.1:9/domain/");
    cfg.timeout = Duration::from_millis(300);
    cfg.budget = Duration::from_millis(500);
    let mut online = Online::new(cfg, None).unwrap();
    // Two slow lookups spend the budget; the rest are not attempted.
    let _ = online.ns("slow.example");
    let _ = online.ns("slow.example");
    let sent = queries.load(Ordering::SeqCst);
    let t = Instant::now();
    assert_eq!(online.ns("example.com").unwrap_err(), LookupError::Budget);
    assert_eq!(
        online.rdap_created("young.example").unwrap_err(),
        LookupError::Budget
    );
    assert!(t.elapsed() < Duration::from_millis(50));
    assert_eq!(queries.load(Ordering::SeqCst), sent);
    assert_eq!(online.attempted(), 2);
}

// --- GeoIP --------------------------------------------------------------------------------------

use captriage::enrich::geoip::{GeoInfo, GeoIp};

#[test]
fn geoip_country_and_asn_from_a_built_mmdb() {
    let geo = GeoIp::open(&[data("geoip/test.mmdb")]).unwrap();
    assert_eq!(
        geo.lookup("192.0.2.77".parse().unwrap()),
        Some(GeoInfo {
            country: Some("FR".into()),
            asn: Some(64500),
            as_org: Some("Example AS".into()),
        })
    );
    assert_eq!(
        geo.lookup("::ffff:198.51.100.1".parse().unwrap())
            .and_then(|g| g.asn),
        Some(64501)
    );
    let v6 = geo.lookup("2001:db8::1".parse().unwrap()).unwrap();
    assert_eq!((v6.country.as_deref(), v6.asn), (Some("DE"), None));
    assert_eq!(geo.lookup("203.0.113.1".parse().unwrap()), None);
    // Not a database: a clear error naming the file.
    let err = GeoIp::open(&[data("cof/d4-query.ndjson")]).err().unwrap();
    assert!(format!("{err:#}").contains("d4-query.ndjson"));
}

/// Every prefix of every COF and registration-date input parses without panicking.
#[test]
fn every_prefix_of_the_fixtures_is_safe() {
    let cof = std::fs::read(data("cof/d4-query.ndjson")).unwrap();
    for i in 0..=cof.len() {
        let mut diags = Vec::new();
        let recs = pdns::parse_reader(Arc::from("p"), &cof[..i], &mut diags);
        assert!(recs.len() <= 3);
    }
    let reg =
        b"# c\nexample.com 2024-03-01\nevil.example.com 2024-05-30T10:00:00Z\nx.org,2020-01-02\n";
    for i in 0..=reg.len() {
        let mut diags = Vec::new();
        let _ = captriage::enrich::domain::RegDates::parse_reader(
            Arc::from("r"),
            &reg[..i],
            &mut diags,
        );
    }
}
