//! A prefix table for CIDR lookups: one hash map per prefix length, probed from the longest
//! prefix down, so a lookup costs at most 33 (IPv4) or 129 (IPv6) hash probes whatever the list
//! size. Used by the indicator store, the whitelist and `local_nets`.

use crate::FastMap;
use ipnetwork::IpNetwork;
use std::net::IpAddr;

/// Networks mapped to values; [`PrefixTable::matches`] yields every network containing an address.
#[derive(Clone, Debug, Default)]
pub struct PrefixTable<T> {
    v4: Vec<(u8, FastMap<u32, Vec<T>>)>,
    v6: Vec<(u8, FastMap<u128, Vec<T>>)>,
}

fn mask4(addr: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        addr & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(addr: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        addr & (u128::MAX << (128 - u32::from(len)))
    }
}

impl<T> PrefixTable<T> {
    /// An empty table.
    pub fn new() -> Self {
        PrefixTable {
            v4: Vec::new(),
            v6: Vec::new(),
        }
    }

    /// True when no network was inserted.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Adds `net` (host bits ignored) with `value`.
    pub fn insert(&mut self, net: IpNetwork, value: T) {
        let len = net.prefix();
        match net.ip() {
            IpAddr::V4(a) => {
                let key = mask4(u32::from(a), len);
                let slot = match self.v4.iter().position(|(l, _)| *l == len) {
                    Some(i) => i,
                    None => {
                        self.v4.push((len, FastMap::default()));
                        self.v4.sort_by_key(|e| std::cmp::Reverse(e.0));
                        self.v4.iter().position(|(l, _)| *l == len).unwrap_or(0)
                    }
                };
                if let Some((_, map)) = self.v4.get_mut(slot) {
                    map.entry(key).or_default().push(value);
                }
            }
            IpAddr::V6(a) => {
                let key = mask6(u128::from(a), len);
                let slot = match self.v6.iter().position(|(l, _)| *l == len) {
                    Some(i) => i,
                    None => {
                        self.v6.push((len, FastMap::default()));
                        self.v6.sort_by_key(|e| std::cmp::Reverse(e.0));
                        self.v6.iter().position(|(l, _)| *l == len).unwrap_or(0)
                    }
                };
                if let Some((_, map)) = self.v6.get_mut(slot) {
                    map.entry(key).or_default().push(value);
                }
            }
        }
    }

    /// Every value whose network contains `ip`, most specific network first.
    pub fn matches(&self, ip: IpAddr) -> Vec<&T> {
        let mut out = Vec::new();
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                for (len, map) in &self.v4 {
                    if let Some(v) = map.get(&mask4(a, *len)) {
                        out.extend(v.iter());
                    }
                }
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                for (len, map) in &self.v6 {
                    if let Some(v) = map.get(&mask6(a, *len)) {
                        out.extend(v.iter());
                    }
                }
            }
        }
        out
    }

    /// The value of the most specific network containing `ip`.
    pub fn first(&self, ip: IpAddr) -> Option<&T> {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4
                    .iter()
                    .find_map(|(len, map)| map.get(&mask4(a, *len))?.first())
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6
                    .iter()
                    .find_map(|(len, map)| map.get(&mask6(a, *len))?.first())
            }
        }
    }

    /// True when some network contains `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.first(ip).is_some()
    }

    /// Removes every value for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        for (_, map) in &mut self.v4 {
            for v in map.values_mut() {
                v.retain(&mut keep);
            }
            map.retain(|_, v| !v.is_empty());
        }
        for (_, map) in &mut self.v6 {
            for v in map.values_mut() {
                v.retain(&mut keep);
            }
            map.retain(|_, v| !v.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_first_and_host_bits_ignored() {
        let mut t = PrefixTable::new();
        t.insert("198.51.100.9/24".parse().unwrap(), "a");
        t.insert("198.51.0.0/16".parse().unwrap(), "b");
        t.insert("ff00::/8".parse().unwrap(), "c");
        assert_eq!(t.matches("198.51.100.7".parse().unwrap()), vec![&"a", &"b"]);
        assert_eq!(
            t.matches("198.52.0.1".parse().unwrap()),
            Vec::<&&str>::new()
        );
        assert!(t.contains("ff02::fb".parse().unwrap()));
    }

    #[test]
    fn first_is_the_first_of_the_matches() {
        let mut t = PrefixTable::new();
        t.insert("10.0.0.0/8".parse().unwrap(), 1);
        t.insert("10.1.0.0/16".parse().unwrap(), 2);
        t.insert("10.1.0.0/16".parse().unwrap(), 3);
        t.insert("10.1.2.0/24".parse().unwrap(), 4);
        t.insert("2001:db8::/32".parse().unwrap(), 5);
        t.insert("2001:db8:1::/48".parse().unwrap(), 6);
        t.retain(|v| *v != 4);
        for (addr, want) in [
            ("10.1.2.3", Some(2)),
            ("10.2.0.1", Some(1)),
            ("11.0.0.1", None),
            ("2001:db8:1::1", Some(6)),
            ("2001:db8:2::1", Some(5)),
            ("2001:db9::1", None),
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(t.first(ip), want.as_ref(), "{addr}");
            assert_eq!(t.first(ip), t.matches(ip).first().copied(), "{addr}");
            assert_eq!(t.contains(ip), want.is_some(), "{addr}");
        }
    }
}
