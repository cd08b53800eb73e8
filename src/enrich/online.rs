//! Opt-in online lookups (`--online`): nameservers (ACT-01), PTR names of unresolved addresses
//! (PROTO-05 evidence), DNS blocklists and RDAP registration dates (ACT-02).
//!
//! An [`Online`] is built only when the user asked for `--online`; nothing else in the crate
//! touches the network. DNS goes through hickory-resolver to the one nameserver the
//! configuration names (no system configuration is read); RDAP through ureq. Every lookup has its
//! own timeout and all of them share one budget: once the budget is spent, lookups fail at once
//! with [`LookupError::Budget`] and are not attempted. Answers (including "nothing") are cached in
//! the state store when one is given, under keys `ns:`, `ptr:`, `dnsbl:ZONE:` and `rdap:`, and
//! reused while younger than `cache_ttl`; failures are not cached. [`Online::attempted`] counts
//! lookups that went to the network. Which rule uses which answer is decided by the callers.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::{Deserialize, Serialize};

use crate::enrich::domain::parse_date;
use crate::enrich::psl::registrable;
use crate::enrich::state::Store;
use crate::names::normalize_name;

/// Largest RDAP answer read.
const MAX_RDAP_BYTES: u64 = 1 << 20;

/// One DNS blocklist zone and what its answers mean.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblZone {
    pub zone: String,
    /// Answer address -> meaning. Answers in 127.255.255.0/24 are the operator's error codes
    /// (refused query, rate limit) and never count as listings.
    pub meanings: BTreeMap<Ipv4Addr, String>,
}

impl DnsblZone {
    /// Spamhaus ZEN and its return codes (<https://docs.spamhaus.com>, "DNSBL return codes").
    pub fn spamhaus_zen() -> DnsblZone {
        let m = [
            ([127, 0, 0, 2], "SBL: Spamhaus SBL data"),
            ([127, 0, 0, 3], "SBL: Spamhaus SBL CSS data"),
            ([127, 0, 0, 4], "XBL: CBL data (exploited host)"),
            ([127, 0, 0, 5], "XBL: exploited host"),
            ([127, 0, 0, 6], "XBL: exploited host"),
            ([127, 0, 0, 7], "XBL: exploited host"),
            ([127, 0, 0, 9], "SBL: Spamhaus DROP/EDROP data"),
            ([127, 0, 0, 10], "PBL: ISP maintained"),
            ([127, 0, 0, 11], "PBL: Spamhaus maintained"),
        ];
        DnsblZone {
            zone: "zen.spamhaus.org".to_string(),
            meanings: m
                .into_iter()
                .map(|(a, s)| (Ipv4Addr::from(a), s.to_string()))
                .collect(),
        }
    }
}

/// Settings of the online lookups.
#[derive(Clone, Debug)]
pub struct OnlineConfig {
    /// The nameserver every DNS lookup goes to.
    pub nameserver: SocketAddr,
    /// Timeout of one lookup.
    pub timeout: Duration,
    /// Total time all lookups of a run may take.
    pub budget: Duration,
    pub dnsbl_zones: Vec<DnsblZone>,
    /// RDAP base URL; the registrable domain is appended (`https://rdap.org/domain/`).
    pub rdap_base: String,
    /// How long a cached answer is reused.
    pub cache_ttl: Duration,
}

impl OnlineConfig {
    /// Defaults around the given nameserver: 3 s per lookup, 60 s in all, Spamhaus ZEN, rdap.org,
    /// one day of cache.
    pub fn new(nameserver: SocketAddr) -> OnlineConfig {
        OnlineConfig {
            nameserver,
            timeout: Duration::from_secs(3),
            budget: Duration::from_secs(60),
            dnsbl_zones: vec![DnsblZone::spamhaus_zen()],
            rdap_base: "https://rdap.org/domain/".to_string(),
            cache_ttl: Duration::from_secs(86_400),
        }
    }
}

/// Why a lookup gave no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The per-lookup timeout passed.
    Timeout,
    /// The run's lookup budget is spent; nothing was attempted.
    Budget,
    /// The name cannot be looked up (IP literal, malformed).
    BadInput(String),
    /// The server answered with something unusable, or the transport failed.
    Failed(String),
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LookupError::Timeout => write!(f, "timed out"),
            LookupError::Budget => write!(f, "online lookup budget spent"),
            LookupError::BadInput(s) => write!(f, "cannot look up {s:?}"),
            LookupError::Failed(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for LookupError {}

/// A blocklist listing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsblHit {
    pub zone: String,
    pub answer: Ipv4Addr,
    /// The configured meaning, or `listed` for an answer the configuration does not name.
    pub meaning: String,
}

/// The online lookups of one run.
pub struct Online<'s> {
    cfg: OnlineConfig,
    store: Option<&'s Store>,
    rt: tokio::runtime::Runtime,
    resolver: TokioResolver,
    http: ureq::Agent,
    deadline: Instant,
    attempted: u64,
}

type Answer<T> = Result<T, LookupError>;

impl<'s> Online<'s> {
    /// Prepares the lookups; nothing is sent yet. The budget starts now.
    pub fn new(cfg: OnlineConfig, store: Option<&'s Store>) -> anyhow::Result<Online<'s>> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut conn = ConnectionConfig::udp();
        conn.port = cfg.nameserver.port();
        let ns = NameServerConfig::new(cfg.nameserver.ip(), true, vec![conn]);
        let resolver = {
            let _guard = rt.enter();
            let mut builder = TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            );
            let opts = builder.options_mut();
            opts.timeout = cfg.timeout;
            opts.attempts = 1;
            opts.cache_size = 0;
            builder.build()?
        };
        let http: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(cfg.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let deadline = Instant::now() + cfg.budget;
        Ok(Online {
            cfg,
            store,
            rt,
            resolver,
            http,
            deadline,
            attempted: 0,
        })
    }

    /// Lookups that went to the network so far.
    pub fn attempted(&self) -> u64 {
        self.attempted
    }

    /// The time this lookup may take, or `Budget` when none is left.
    fn slot(&mut self) -> Answer<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(LookupError::Budget);
        }
        self.attempted += 1;
        Ok(left.min(self.cfg.timeout))
    }

    /// A cached answer younger than `cache_ttl`.
    fn cached<T: for<'de> Deserialize<'de>>(&self, key: &str) -> Option<T> {
        let entry = self.store?.cache_get(key).ok()??;
        let age = now_secs().saturating_sub(entry.fetched);
        if age > self.cfg.cache_ttl.as_secs() {
            return None;
        }
        serde_json::from_str(&entry.value).ok()
    }

    fn remember<T: Serialize>(&self, key: &str, value: &T) {
        if let (Some(store), Ok(text)) = (self.store, serde_json::to_string(value)) {
            // A cache that cannot be written only costs a repeated lookup.
            let _ = store.cache_put(key, &text, now_secs());
        }
    }

    /// Records of `rtype` for `name`: an empty list for NXDOMAIN or no data.
    fn dns(&mut self, name: &str, rtype: RecordType) -> Answer<Vec<RData>> {
        let fqdn = if name.ends_with('.') {
            name.to_string()
        } else {
            format!("{name}.")
        };
        let qname =
            Name::from_ascii(&fqdn).map_err(|e| LookupError::BadInput(format!("{name}: {e}")))?;
        let wait = self.slot()?;
        let resolver = &self.resolver;
        let res = self
            .rt
            .block_on(async { tokio::time::timeout(wait, resolver.lookup(qname, rtype)).await });
        match res {
            Err(_) => Err(LookupError::Timeout),
            Ok(Ok(lookup)) => Ok(lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == rtype)
                .map(|r| r.data.clone())
                .collect()),
            Ok(Err(e)) if e.is_no_records_found() || e.is_nx_domain() => Ok(Vec::new()),
            Ok(Err(e)) => {
                let msg = e.to_string();
                if msg.contains("timed out") || msg.contains("timeout") {
                    Err(LookupError::Timeout)
                } else {
                    Err(LookupError::Failed(msg))
                }
            }
        }
    }

    /// Nameservers of the registrable domain of `name`, sorted (ACT-01).
    pub fn ns(&mut self, name: &str) -> Answer<Vec<String>> {
        let reg = registrable(name).ok_or_else(|| LookupError::BadInput(name.to_string()))?;
        let key = format!("ns:{reg}");
        if let Some(v) = self.cached(&key) {
            return Ok(v);
        }
        let mut out: Vec<String> = self
            .dns(&reg, RecordType::NS)?
            .into_iter()
            .filter_map(|d| match d {
                RData::NS(ns) => normalize_name(&ns.0.to_ascii()),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        self.remember(&key, &out);
        Ok(out)
    }

    /// PTR names of an address, sorted.
    pub fn ptr(&mut self, ip: IpAddr) -> Answer<Vec<String>> {
        let key = format!("ptr:{ip}");
        if let Some(v) = self.cached(&key) {
            return Ok(v);
        }
        let name = Name::from(ip).to_ascii();
        let mut out: Vec<String> = self
            .dns(&name, RecordType::PTR)?
            .into_iter()
            .filter_map(|d| match d {
                RData::PTR(p) => normalize_name(&p.0.to_ascii()),
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        self.remember(&key, &out);
        Ok(out)
    }

    /// Listings of an IPv4 address in every configured zone (IPv6 is not looked up: the common
    /// zones list IPv4 only). A zone that fails is reported as the error of the whole call only
    /// when no zone answered.
    pub fn dnsbl(&mut self, ip: IpAddr) -> Answer<Vec<DnsblHit>> {
        let IpAddr::V4(v4) = ip else {
            return Ok(Vec::new());
        };
        let o = v4.octets();
        let mut hits = Vec::new();
        let mut last_err = None;
        let mut answered = false;
        for zone in self.cfg.dnsbl_zones.clone() {
            let key = format!("dnsbl:{}:{v4}", zone.zone);
            let zone_hits: Vec<DnsblHit> = match self.cached(&key) {
                Some(v) => v,
                None => {
                    let q = format!("{}.{}.{}.{}.{}", o[3], o[2], o[1], o[0], zone.zone);
                    match self.dns(&q, RecordType::A) {
                        Ok(data) => {
                            let mut zh: Vec<DnsblHit> = data
                                .into_iter()
                                .filter_map(|d| match d {
                                    RData::A(a) => Some(a.0),
                                    _ => None,
                                })
                                .filter(|a| !matches!(a.octets(), [127, 255, 255, _]))
                                .map(|a| DnsblHit {
                                    zone: zone.zone.clone(),
                                    answer: a,
                                    meaning: zone
                                        .meanings
                                        .get(&a)
                                        .cloned()
                                        .unwrap_or_else(|| "listed".to_string()),
                                })
                                .collect();
                            zh.sort_by_key(|h| h.answer);
                            self.remember(&key, &zh);
                            zh
                        }
                        Err(e) => {
                            last_err = Some(e);
                            continue;
                        }
                    }
                }
            };
            answered = true;
            hits.extend(zone_hits);
        }
        match (answered, last_err) {
            (false, Some(e)) => Err(e),
            _ => Ok(hits),
        }
    }

    /// The RDAP registration date (seconds since the epoch) of the registrable domain of
    /// `name`; `None` when the server has no record (404) or no registration event (ACT-02).
    pub fn rdap_created(&mut self, name: &str) -> Answer<Option<i64>> {
        let reg = registrable(name).ok_or_else(|| LookupError::BadInput(name.to_string()))?;
        let key = format!("rdap:{reg}");
        if let Some(v) = self.cached(&key) {
            return Ok(v);
        }
        let wait = self.slot()?;
        let url = format!("{}{}", self.cfg.rdap_base, reg);
        let res = self
            .http
            .get(&url)
            .header("Accept", "application/rdap+json, application/json")
            .config()
            .timeout_global(Some(wait))
            .build()
            .call();
        let mut resp = match res {
            Ok(r) => r,
            Err(ureq::Error::Timeout(_)) => return Err(LookupError::Timeout),
            Err(e) => return Err(LookupError::Failed(format!("{url}: {e}"))),
        };
        let status = resp.status().as_u16();
        if status == 404 {
            self.remember(&key, &None::<i64>);
            return Ok(None);
        }
        if status != 200 {
            return Err(LookupError::Failed(format!("{url}: HTTP {status}")));
        }
        let body = match resp
            .body_mut()
            .with_config()
            .limit(MAX_RDAP_BYTES)
            .read_to_vec()
        {
            Ok(b) => b,
            Err(ureq::Error::Timeout(_)) => return Err(LookupError::Timeout),
            Err(e) => return Err(LookupError::Failed(format!("{url}: {e}"))),
        };
        let created = parse_rdap(&body).map_err(|e| LookupError::Failed(format!("{url}: {e}")))?;
        self.remember(&key, &created);
        Ok(created)
    }
}

#[derive(Deserialize)]
struct RdapDomain {
    #[serde(default)]
    events: Vec<RdapEvent>,
}

#[derive(Deserialize)]
struct RdapEvent {
    #[serde(rename = "eventAction")]
    action: Option<String>,
    #[serde(rename = "eventDate")]
    date: Option<String>,
}

/// The `registration` event of an RDAP domain object (RFC 9083 §4.5).
fn parse_rdap(body: &[u8]) -> Result<Option<i64>, String> {
    let d: RdapDomain =
        serde_json::from_slice(body).map_err(|e| format!("not an RDAP domain object: {e}"))?;
    for ev in d.events {
        if ev.action.as_deref() == Some("registration") {
            let date = ev.date.unwrap_or_default();
            return parse_date(&date)
                .map(Some)
                .ok_or_else(|| format!("bad registration date {date:?}"));
        }
    }
    Ok(None)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdap_registration_event() {
        let body = br#"{"objectClassName":"domain","ldhName":"EXAMPLE.COM","events":[{"eventAction":"last changed","eventDate":"2024-08-14T07:01:34Z"},{"eventAction":"registration","eventDate":"1995-08-14T04:00:00Z"}]}"#;
        assert_eq!(parse_rdap(body), Ok(Some(808372800)));
        assert_eq!(parse_rdap(br#"{"events":[]}"#), Ok(None));
        assert_eq!(parse_rdap(br#"{}"#), Ok(None));
        assert!(parse_rdap(b"<html>").is_err());
        assert!(
            parse_rdap(br#"{"events":[{"eventAction":"registration","eventDate":"soon"}]}"#)
                .is_err()
        );
    }

    #[test]
    fn zen_meanings() {
        let z = DnsblZone::spamhaus_zen();
        assert_eq!(z.zone, "zen.spamhaus.org");
        assert!(z.meanings[&Ipv4Addr::new(127, 0, 0, 2)].starts_with("SBL"));
        assert!(z.meanings[&Ipv4Addr::new(127, 0, 0, 10)].starts_with("PBL"));
    }
}
