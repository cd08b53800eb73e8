//! The embedded state store under `--state DIR`: domain history, tags, passive DNS and a lookup
//! cache, in one redb file (`DIR/captriage.redb`), with no server.
//!
//! [`Store`] keeps, per registrable domain, when it was first and last seen
//! ([`Store::record_domains`], which also tells which domains were first contacts); tags preloaded
//! with [`Store::import`] (domains that should never count as first contact, like domain_stats'
//! top-1m import); passive DNS records merged across runs ([`Store::add_pdns`],
//! [`Store::query_pdns`]); and cached online lookups ([`Store::cache_get`], [`Store::cache_put`]).
//!
//! Concurrency and crashes: the file is opened in redb's multi-writer mode, so several captriage
//! processes (two `analyze` runs, `serve` beside `analyze`) can hold it at once; write
//! transactions are serialised by redb's byte-range locks, and a writer that finds the lock taken
//! reports it once through [`StoreOptions::notice`] and waits up to [`StoreOptions::lock_wait`]
//! before failing with a message naming the store. Every method that writes commits one atomic
//! transaction (imports commit in batches), so a run killed mid-write leaves the store as of its
//! last commit. Opening waits for a write transaction in progress elsewhere (they are short: one
//! batch each), so open the store when it is needed and drop it when done. What the rules make of this history (DOM-02) is decided elsewhere.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use redb::{
    ConcurrencyMode, Database, DatabaseError, MultimapTableDefinition, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, ReadableTableMetadata, TableDefinition, TransactionError,
    WriteTransaction,
};
use serde::Serialize;

use crate::enrich::pdns::CofRecord;
use crate::model::{Diagnostic, Location};
use crate::names::{normalize_name, parse_addr, valid_domain};

/// The database file inside the state directory.
pub const DB_FILE: &str = "captriage.redb";

/// Registrable domain -> (first seen, last seen), seconds since the epoch.
const DOMAINS: TableDefinition<&str, (u64, u64)> = TableDefinition::new("domains");
/// Name -> tags.
const TAGS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("tags");
/// (rrname, rrtype, rdata) -> (time_first, time_last, count).
const PDNS: TableDefinition<(&str, &str, &str), (u64, u64, u64)> = TableDefinition::new("pdns");
/// (rdata, rrname, rrtype): the index for lookups by address.
const PDNS_BY_RDATA: TableDefinition<(&str, &str, &str), ()> =
    TableDefinition::new("pdns_by_rdata");
/// Lookup key -> (fetched, value).
const CACHE: TableDefinition<&str, (u64, &str)> = TableDefinition::new("cache");

/// Lines an import commits at once.
const IMPORT_BATCH: usize = 50_000;
/// Most records one [`Store::query_pdns`] returns.
const MAX_QUERY: usize = 100_000;

/// How a store is opened.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// How long to wait for another process's lock before giving up.
    pub lock_wait: Duration,
    /// Called once when an open or a write has to wait for another process.
    pub notice: Option<fn(&str)>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            lock_wait: Duration::from_secs(60),
            notice: None,
        }
    }
}

/// What the store knows of one name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DomainInfo {
    /// First seen in a capture, seconds since the epoch (none for a name only imported).
    pub first_seen: Option<u64>,
    /// Last seen in a capture.
    pub last_seen: Option<u64>,
    /// Tags from imports, sorted.
    pub tags: Vec<String>,
}

/// Counts for `captriage state stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    pub path: String,
    /// Domains seen in captures.
    pub domains: u64,
    /// Names carrying at least one tag, and names per tag.
    pub tagged: u64,
    pub tags: BTreeMap<String, u64>,
    pub pdns_records: u64,
    pub cache_entries: u64,
}

/// A cached online lookup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheEntry {
    pub value: String,
    /// When it was fetched, seconds since the epoch.
    pub fetched: u64,
}

/// The state store. Cheap to share behind an `Arc`; every method is one transaction.
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
    options: StoreOptions,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `dir` with default options.
    pub fn open(dir: &Path) -> anyhow::Result<Store> {
        Store::open_with(dir, StoreOptions::default())
    }

    /// Opens (creating if needed) the store in `dir`.
    pub fn open_with(dir: &Path, options: StoreOptions) -> anyhow::Result<Store> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create state directory {}", dir.display()))?;
        let path = dir.join(DB_FILE);
        let start = Instant::now();
        let mut noticed = false;
        let db = loop {
            let res = Database::builder()
                .set_concurrency_mode(ConcurrencyMode::MultiWriter)
                .create(&path);
            match res {
                Ok(db) => break db,
                Err(DatabaseError::DatabaseAlreadyOpen) => {
                    wait_turn(&path, &options, start, &mut noticed)?;
                }
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot open state store {}", path.display()));
                }
            }
        };
        let store = Store {
            db: Arc::new(db),
            path,
            options,
        };
        let txn = store.begin_write()?;
        {
            txn.open_table(DOMAINS)?;
            txn.open_multimap_table(TAGS)?;
            txn.open_table(PDNS)?;
            txn.open_table(PDNS_BY_RDATA)?;
            txn.open_table(CACHE)?;
        }
        txn.commit()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A write transaction, waiting (with one notice) while another process holds the lock. The
    /// wait queues on the lock itself (in a helper thread, so that it can time out), so a busy
    /// writer cannot starve this one.
    fn begin_write(&self) -> anyhow::Result<WriteTransaction> {
        match self.db.try_begin_write() {
            Ok(txn) => return Ok(txn),
            Err(TransactionError::WouldBlock) => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot write state store {}", self.path.display()));
            }
        }
        if let Some(notice) = self.options.notice {
            notice(&busy_notice(&self.path));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let db = Arc::clone(&self.db);
        std::thread::spawn(move || {
            // If nobody waits any more the transaction is dropped, which aborts it.
            let _ = tx.send(db.begin_write());
        });
        match rx.recv_timeout(self.options.lock_wait) {
            Ok(Ok(txn)) => Ok(txn),
            Ok(Err(e)) => {
                Err(e).with_context(|| format!("cannot write state store {}", self.path.display()))
            }
            Err(_) => Err(gave_up(&self.path, &self.options)),
        }
    }

    /// Records that each (registrable domain, seconds) was seen, and returns the domains the
    /// store had never seen and that carry no tag (first contacts), sorted. Names are normalised;
    /// repeats are merged. One transaction.
    pub fn record_domains<S: AsRef<str>>(
        &self,
        seen: impl IntoIterator<Item = (S, u64)>,
    ) -> anyhow::Result<Vec<String>> {
        let mut batch: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        for (name, ts) in seen {
            let Some(n) = normalize_name(name.as_ref()) else {
                continue;
            };
            let e = batch.entry(n).or_insert((ts, ts));
            e.0 = e.0.min(ts);
            e.1 = e.1.max(ts);
        }
        let mut first = Vec::new();
        let txn = self.begin_write()?;
        {
            let mut domains = txn.open_table(DOMAINS)?;
            let tags = txn.open_multimap_table(TAGS)?;
            for (name, (lo, hi)) in &batch {
                let old = domains.get(name.as_str())?.map(|g| g.value());
                let merged = match old {
                    Some((f, l)) => (f.min(*lo), l.max(*hi)),
                    None => {
                        if tags.get(name.as_str())?.next().is_none() {
                            first.push(name.clone());
                        }
                        (*lo, *hi)
                    }
                };
                domains.insert(name.as_str(), merged)?;
            }
        }
        txn.commit()?;
        Ok(first)
    }

    /// What the store knows of `name` (normalised), or `None` when it never saw or imported it.
    pub fn domain_info(&self, name: &str) -> anyhow::Result<Option<DomainInfo>> {
        let Some(n) = normalize_name(name) else {
            return Ok(None);
        };
        let txn = self.db.begin_read()?;
        let domains = txn.open_table(DOMAINS)?;
        let tags = txn.open_multimap_table(TAGS)?;
        let seen = domains.get(n.as_str())?.map(|g| g.value());
        let mut tag_list = Vec::new();
        for t in tags.get(n.as_str())? {
            tag_list.push(t?.value().to_string());
        }
        if seen.is_none() && tag_list.is_empty() {
            return Ok(None);
        }
        Ok(Some(DomainInfo {
            first_seen: seen.map(|s| s.0),
            last_seen: seen.map(|s| s.1),
            tags: tag_list,
        }))
    }

    /// Tags every name of a list file with `tag`: one name per line, `#` comments, or a top-1m
    /// CSV (`rank,domain`). Bad lines become diagnostics. Returns the number of names tagged.
    pub fn import(
        &self,
        path: &Path,
        tag: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> anyhow::Result<u64> {
        let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
        let source: Arc<str> = Arc::from(path.display().to_string());
        self.import_reader(source, BufReader::new(file), tag, diags)
    }

    /// [`Store::import`] from any reader; `source` names it in diagnostics.
    pub fn import_reader(
        &self,
        source: Arc<str>,
        mut r: impl BufRead,
        tag: &str,
        diags: &mut Vec<Diagnostic>,
    ) -> anyhow::Result<u64> {
        let tag = tag.trim();
        if tag.is_empty() {
            bail!("empty tag");
        }
        let mut total = 0u64;
        let mut batch: Vec<String> = Vec::new();
        let mut line = Vec::new();
        let mut line_no = 0u64;
        loop {
            line.clear();
            line_no += 1;
            if r.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let field = match text.split_once(',') {
                Some((rank, rest)) if rank.trim().bytes().all(|b| b.is_ascii_digit()) => {
                    rest.split(',').next().unwrap_or("")
                }
                Some((name, _)) => name,
                None => text,
            };
            match normalize_name(field).filter(|n| valid_domain(n)) {
                Some(n) => batch.push(n),
                None => diags.push(Diagnostic {
                    location: Location::line(&source, line_no),
                    message: format!("not a domain name: {field:?}"),
                }),
            }
            if batch.len() >= IMPORT_BATCH {
                total += self.tag_batch(&batch, tag)?;
                batch.clear();
            }
        }
        total += self.tag_batch(&batch, tag)?;
        Ok(total)
    }

    fn tag_batch(&self, names: &[String], tag: &str) -> anyhow::Result<u64> {
        if names.is_empty() {
            return Ok(0);
        }
        let txn = self.begin_write()?;
        {
            let mut tags = txn.open_multimap_table(TAGS)?;
            for n in names {
                tags.insert(n.as_str(), tag)?;
            }
        }
        txn.commit()?;
        Ok(names.len() as u64)
    }

    /// Merges passive DNS records into the store (earliest first, latest last, counts summed).
    /// Returns how many were new.
    pub fn add_pdns<'r>(
        &self,
        records: impl IntoIterator<Item = &'r CofRecord>,
    ) -> anyhow::Result<u64> {
        let mut new = 0u64;
        let txn = self.begin_write()?;
        {
            let mut pdns = txn.open_table(PDNS)?;
            let mut by_rdata = txn.open_table(PDNS_BY_RDATA)?;
            for rec in records {
                let key = (rec.rrname.as_str(), rec.rrtype.as_str(), rec.rdata.as_str());
                let old = pdns.get(key)?.map(|g| g.value());
                let merged = match old {
                    Some((f, l, c)) => (
                        f.min(rec.time_first),
                        l.max(rec.time_last),
                        c.saturating_add(rec.count),
                    ),
                    None => {
                        new += 1;
                        by_rdata.insert(
                            (rec.rdata.as_str(), rec.rrname.as_str(), rec.rrtype.as_str()),
                            (),
                        )?;
                        (rec.time_first, rec.time_last, rec.count)
                    }
                };
                pdns.insert(key, merged)?;
            }
        }
        txn.commit()?;
        Ok(new)
    }

    /// Passive DNS records for an address (by rdata) or a name (by rrname), sorted by rrname,
    /// rrtype and rdata.
    pub fn query_pdns(&self, name_or_ip: &str) -> anyhow::Result<Vec<CofRecord>> {
        let txn = self.db.begin_read()?;
        let pdns = txn.open_table(PDNS)?;
        let mut out = Vec::new();
        let record = |k: (&str, &str, &str), v: (u64, u64, u64)| CofRecord {
            rrname: k.0.to_string(),
            rrtype: k.1.to_string(),
            rdata: k.2.to_string(),
            time_first: v.0,
            time_last: v.1,
            count: v.2,
            bailiwick: None,
            sensor_id: None,
            origin: None,
        };
        if let Some(ip) = parse_addr(name_or_ip) {
            let ip = ip.to_string();
            let index = txn.open_table(PDNS_BY_RDATA)?;
            for entry in index.range((ip.as_str(), "", "")..)?.take(MAX_QUERY) {
                let (k, _) = entry?;
                let (rdata, rrname, rrtype) = k.value();
                if rdata != ip {
                    break;
                }
                if let Some(v) = pdns.get((rrname, rrtype, rdata))? {
                    out.push(record((rrname, rrtype, rdata), v.value()));
                }
            }
        } else if let Some(n) = normalize_name(name_or_ip) {
            for entry in pdns.range((n.as_str(), "", "")..)?.take(MAX_QUERY) {
                let (k, v) = entry?;
                let key = k.value();
                if key.0 != n {
                    break;
                }
                out.push(record(key, v.value()));
            }
        }
        out.sort();
        Ok(out)
    }

    /// A cached lookup result.
    pub fn cache_get(&self, key: &str) -> anyhow::Result<Option<CacheEntry>> {
        let txn = self.db.begin_read()?;
        let cache = txn.open_table(CACHE)?;
        Ok(cache.get(key)?.map(|g| {
            let (fetched, value) = g.value();
            CacheEntry {
                value: value.to_string(),
                fetched,
            }
        }))
    }

    /// Stores a lookup result fetched at `fetched` (seconds since the epoch).
    pub fn cache_put(&self, key: &str, value: &str, fetched: u64) -> anyhow::Result<()> {
        let txn = self.begin_write()?;
        {
            let mut cache = txn.open_table(CACHE)?;
            cache.insert(key, (fetched, value))?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Counts of everything stored.
    pub fn stats(&self) -> anyhow::Result<StoreStats> {
        let txn = self.db.begin_read()?;
        let tags = txn.open_multimap_table(TAGS)?;
        let mut per_tag: BTreeMap<String, u64> = BTreeMap::new();
        let mut tagged = 0u64;
        for entry in tags.iter()? {
            let (_, values) = entry?;
            tagged += 1;
            for v in values {
                *per_tag.entry(v?.value().to_string()).or_default() += 1;
            }
        }
        Ok(StoreStats {
            path: self.path.display().to_string(),
            domains: txn.open_table(DOMAINS)?.len()?,
            tagged,
            tags: per_tag,
            pdns_records: txn.open_table(PDNS)?.len()?,
            cache_entries: txn.open_table(CACHE)?.len()?,
        })
    }
}

/// Sleeps a little while another process holds the store; notices once; fails after the wait.
fn wait_turn(
    path: &Path,
    options: &StoreOptions,
    start: Instant,
    noticed: &mut bool,
) -> anyhow::Result<()> {
    if start.elapsed() >= options.lock_wait {
        return Err(gave_up(path, options));
    }
    if !*noticed {
        *noticed = true;
        if let Some(notice) = options.notice {
            notice(&busy_notice(path));
        }
    }
    std::thread::sleep(Duration::from_millis(20));
    Ok(())
}

fn busy_notice(path: &Path) -> String {
    format!(
        "state store {} is in use by another captriage run; waiting",
        path.display()
    )
}

fn gave_up(path: &Path, options: &StoreOptions) -> anyhow::Error {
    anyhow::anyhow!(
        "state store {} is locked by another captriage run; gave up after {:.1} s",
        path.display(),
        options.lock_wait.as_secs_f64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(rrname: &str, rrtype: &str, rdata: &str, f: u64, l: u64, c: u64) -> CofRecord {
        CofRecord {
            rrname: rrname.into(),
            rrtype: rrtype.into(),
            rdata: rdata.into(),
            time_first: f,
            time_last: l,
            count: c,
            bailiwick: None,
            sensor_id: None,
            origin: None,
        }
    }

    #[test]
    fn first_contact_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            let first = s
                .record_domains([
                    ("example.com", 100),
                    ("Evil.NET.", 50),
                    ("example.com", 200),
                ])
                .unwrap();
            assert_eq!(first, ["evil.net", "example.com"]);
        }
        let s = Store::open(dir.path()).unwrap();
        let first = s
            .record_domains([("example.com", 10), ("new.org", 300)])
            .unwrap();
        assert_eq!(first, ["new.org"]);
        let info = s.domain_info("EXAMPLE.com").unwrap().unwrap();
        assert_eq!((info.first_seen, info.last_seen), (Some(10), Some(200)));
        assert_eq!(s.domain_info("never.example").unwrap(), None);
    }

    #[test]
    fn import_tags_suppress_first_contact() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let list =
            b"# top sites\n1,google.com\n2,Facebook.com\n\nkaspersky.com\nnot a domain\n3,\n";
        let mut diags = Vec::new();
        let n = s
            .import_reader(Arc::from("top.csv"), &list[..], "top1m", &mut diags)
            .unwrap();
        assert_eq!(n, 3);
        let places: Vec<String> = diags.iter().map(|d| d.location.to_string()).collect();
        assert_eq!(places, ["top.csv:6", "top.csv:7"]);
        let first = s
            .record_domains([("google.com", 5), ("other.com", 5)])
            .unwrap();
        assert_eq!(first, ["other.com"]);
        let info = s.domain_info("facebook.com").unwrap().unwrap();
        assert_eq!(info.tags, ["top1m"]);
        assert_eq!(info.first_seen, None);
        let st = s.stats().unwrap();
        assert_eq!((st.domains, st.tagged), (2, 3));
        assert_eq!(st.tags.get("top1m"), Some(&3));
    }

    #[test]
    fn pdns_merges_and_queries_by_name_and_address() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let n = s
            .add_pdns(&[
                rec("a.example", "A", "192.0.2.1", 10, 20, 2),
                rec("b.example", "A", "192.0.2.1", 5, 5, 1),
                rec("a.example", "CNAME", "c.example", 10, 10, 1),
                rec("a.examplf", "A", "192.0.2.2", 1, 1, 1),
            ])
            .unwrap();
        assert_eq!(n, 4);
        let n = s
            .add_pdns(&[rec("a.example", "A", "192.0.2.1", 3, 30, 5)])
            .unwrap();
        assert_eq!(n, 0);
        let by_name = s.query_pdns("A.Example.").unwrap();
        assert_eq!(
            by_name,
            [
                rec("a.example", "A", "192.0.2.1", 3, 30, 7),
                rec("a.example", "CNAME", "c.example", 10, 10, 1),
            ]
        );
        let by_ip = s.query_pdns("::ffff:192.0.2.1").unwrap();
        assert_eq!(by_ip.len(), 2);
        assert_eq!(by_ip[1].rrname, "b.example");
        assert!(s.query_pdns("nothing.example").unwrap().is_empty());
        assert!(s.query_pdns("").unwrap().is_empty());
    }

    #[test]
    fn cache_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(s.cache_get("ns:example.com").unwrap(), None);
        s.cache_put("ns:example.com", "a.iana-servers.net", 77)
            .unwrap();
        s.cache_put("ns:example.com", "b.iana-servers.net", 78)
            .unwrap();
        assert_eq!(
            s.cache_get("ns:example.com").unwrap(),
            Some(CacheEntry {
                value: "b.iana-servers.net".into(),
                fetched: 78
            })
        );
        assert_eq!(s.stats().unwrap().cache_entries, 1);
    }

    #[test]
    fn garbage_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(DB_FILE),
            b"this is not a redb file at all, sorry",
        )
        .unwrap();
        let err = Store::open(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("captriage.redb"), "{err:#}");
    }
}
