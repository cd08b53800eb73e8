//! GeoIP: country and autonomous system of an address from MaxMind DB files (`--geoip FILE.mmdb`,
//! repeatable), read with the maxminddb crate.
//!
//! Any database in the GeoLite2/GeoIP2 Country, City or ASN shape works, and so does one that
//! carries both (`country.iso_code`, `autonomous_system_number`, `autonomous_system_organization`);
//! with several files, the first that knows a field wins. Lookups are offline and never fail a
//! run: an address no file covers, or a record that does not decode, has no answer. Showing the
//! answer beside destinations is left to the reports.

use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// What the GeoIP files say of one address.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GeoInfo {
    /// ISO 3166-1 alpha-2 country code.
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub as_org: Option<String>,
}

impl GeoInfo {
    fn is_empty(&self) -> bool {
        self.country.is_none() && self.asn.is_none() && self.as_org.is_none()
    }
}

#[derive(Deserialize)]
struct RawCountry {
    iso_code: Option<String>,
}

#[derive(Deserialize)]
struct RawRecord {
    country: Option<RawCountry>,
    registered_country: Option<RawCountry>,
    autonomous_system_number: Option<u32>,
    autonomous_system_organization: Option<String>,
}

/// One or more opened MaxMind DB files.
pub struct GeoIp {
    readers: Vec<maxminddb::Reader<Vec<u8>>>,
}

impl GeoIp {
    /// Opens every file; fails naming the file that is not a MaxMind DB.
    pub fn open<P: AsRef<Path>>(paths: &[P]) -> anyhow::Result<GeoIp> {
        let mut readers = Vec::new();
        for p in paths {
            let p = p.as_ref();
            let r = maxminddb::Reader::open_readfile(p)
                .with_context(|| format!("{}: not a readable MaxMind DB", p.display()))?;
            readers.push(r);
        }
        Ok(GeoIp { readers })
    }

    /// Opens a database held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> anyhow::Result<GeoIp> {
        let r = maxminddb::Reader::from_source(bytes).context("not a MaxMind DB")?;
        Ok(GeoIp { readers: vec![r] })
    }

    /// Country and AS of `ip` (IPv4-mapped IPv6 looked up as IPv4), or `None` when no file
    /// knows it.
    pub fn lookup(&self, ip: IpAddr) -> Option<GeoInfo> {
        let ip = crate::names::canonical_ip(ip);
        let mut info = GeoInfo::default();
        for r in &self.readers {
            let Ok(found) = r.lookup(ip) else {
                continue;
            };
            let Ok(Some(rec)) = found.decode::<RawRecord>() else {
                continue;
            };
            if info.country.is_none() {
                info.country = rec
                    .country
                    .and_then(|c| c.iso_code)
                    .or_else(|| rec.registered_country.and_then(|c| c.iso_code));
            }
            if info.asn.is_none() {
                info.asn = rec.autonomous_system_number;
            }
            if info.as_org.is_none() {
                info.as_org = rec.autonomous_system_organization;
            }
        }
        (!info.is_empty()).then_some(info)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_an_error() {
        assert!(GeoIp::from_bytes(b"not an mmdb".to_vec()).is_err());
        assert!(GeoIp::from_bytes(Vec::new()).is_err());
    }
}
