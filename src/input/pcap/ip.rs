//! IPv4 and IPv6: header parsing (etherparse, lax so that snap-length-truncated packets still
//! yield their addresses) and bounded fragment reassembly. Yields addresses, the transport
//! protocol number, the datagram length the header states and the transport bytes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use etherparse::{LaxIpSlice, LenSource};

/// One IP datagram, reassembled when it came in fragments.
#[derive(Debug)]
pub struct Datagram<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    /// Length of the datagram as its header states it (IPv6: payload length + 40).
    pub ip_len: u64,
    /// Length of the transport header and payload as the IP header states it.
    pub l4_len: u64,
    /// Transport header and payload, as captured.
    pub payload: Cow<'a, [u8]>,
    /// The capture holds less than the header announces.
    pub truncated: bool,
}

/// What became of one network-layer packet.
#[derive(Debug)]
pub enum IpOutcome<'a> {
    Datagram(Datagram<'a>),
    /// A fragment was stored; the datagram is not complete yet.
    Pending,
    Error(&'static str),
}

/// Bounds of the fragment store.
const MAX_PENDING: usize = 256;
const MAX_DATAGRAM: usize = 65_535;
const MAX_FRAGMENTS: usize = 64;
const FRAGMENT_TIMEOUT: f64 = 30.0;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
}

struct Pending {
    first_seen: f64,
    header_len: u64,
    pieces: Vec<(usize, Vec<u8>)>,
    total: Option<usize>,
}

/// Fragment reassembly state; everything else in this module is pure.
#[derive(Default)]
pub struct Reassembler {
    pending: HashMap<FragKey, Pending>,
}

impl Reassembler {
    /// Parses one IP packet at time `ts`; fragments are stored until their datagram is whole.
    pub fn packet<'a>(&mut self, data: &'a [u8], ts: f64) -> IpOutcome<'a> {
        let (slice, _ext_err) = match LaxIpSlice::from_slice(data) {
            Ok(s) => s,
            Err(_) => return IpOutcome::Error("malformed IP header"),
        };
        let src = slice.source_addr();
        let dst = slice.destination_addr();
        let payload = slice.payload();
        let proto = payload.ip_number.0;
        let truncated = payload.incomplete || payload.len_source == LenSource::Slice;
        let (header_len, ip_len) = match &slice {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                (u64::from(h.ihl()) * 4, u64::from(h.total_len()))
            }
            LaxIpSlice::Ipv6(v6) => {
                let h = v6.header();
                let ext = v6.extensions().slice().len() as u64;
                (40 + ext, 40 + u64::from(h.payload_length()))
            }
        };
        if !payload.fragmented {
            return IpOutcome::Datagram(Datagram {
                src,
                dst,
                proto,
                ip_len,
                l4_len: ip_len.saturating_sub(header_len),
                payload: Cow::Borrowed(payload.payload),
                truncated,
            });
        }
        let (id, offset, more) = match &slice {
            LaxIpSlice::Ipv4(v4) => {
                let h = v4.header();
                (
                    u32::from(h.identification()),
                    usize::from(h.fragments_offset().value()) * 8,
                    h.more_fragments(),
                )
            }
            LaxIpSlice::Ipv6(v6) => {
                let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                    etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                    _ => None,
                });
                match frag {
                    Some(f) => (
                        f.identification(),
                        usize::from(f.fragment_offset().value()) * 8,
                        f.more_fragments(),
                    ),
                    None => return IpOutcome::Error("IPv6 fragment without fragment header"),
                }
            }
        };
        if truncated {
            return IpOutcome::Error("truncated IP fragment");
        }
        self.fragment(
            FragKey {
                src,
                dst,
                id,
                proto,
            },
            header_len,
            offset,
            more,
            payload.payload,
            ts,
        )
    }

    fn fragment<'a>(
        &mut self,
        key: FragKey,
        header_len: u64,
        offset: usize,
        more: bool,
        bytes: &[u8],
        ts: f64,
    ) -> IpOutcome<'a> {
        let end = match offset.checked_add(bytes.len()) {
            Some(e) if e <= MAX_DATAGRAM => e,
            _ => return IpOutcome::Error("IP fragment beyond 64 KiB"),
        };
        if !self.pending.contains_key(&key) {
            self.pending
                .retain(|_, p| ts - p.first_seen <= FRAGMENT_TIMEOUT && p.first_seen <= ts);
            if self.pending.len() >= MAX_PENDING {
                return IpOutcome::Error("too many incomplete fragmented datagrams");
            }
        }
        let entry = self.pending.entry(key).or_insert_with(|| Pending {
            first_seen: ts,
            header_len,
            pieces: Vec::new(),
            total: None,
        });
        if offset == 0 {
            entry.header_len = header_len;
        }
        if !more {
            entry.total = Some(end);
        }
        if entry.pieces.len() >= MAX_FRAGMENTS {
            self.pending.remove(&key);
            return IpOutcome::Error("too many fragments for one datagram");
        }
        entry.pieces.push((offset, bytes.to_vec()));
        let Some(total) = entry.total else {
            return IpOutcome::Pending;
        };
        entry.pieces.sort_by_key(|p| p.0);
        let mut covered = 0usize;
        for (off, b) in &entry.pieces {
            if *off > covered {
                return IpOutcome::Pending;
            }
            covered = covered.max(off + b.len());
        }
        if covered < total {
            return IpOutcome::Pending;
        }
        let Some(done) = self.pending.remove(&key) else {
            return IpOutcome::Pending;
        };
        let mut buf = vec![0u8; total];
        for (off, b) in &done.pieces {
            let end = (off + b.len()).min(total);
            if let (Some(dst), Some(src)) = (buf.get_mut(*off..end), b.get(..end - off)) {
                dst.copy_from_slice(src);
            }
        }
        IpOutcome::Datagram(Datagram {
            src: key.src,
            dst: key.dst,
            proto: key.proto,
            ip_len: done.header_len + total as u64,
            l4_len: total as u64,
            payload: Cow::Owned(buf),
            truncated: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 header (no options) for UDP from 10.0.0.1 to 10.0.0.2 with id 7.
    fn v4(total_len: u16, more: bool, offset8: u16, payload: &[u8]) -> Vec<u8> {
        let flags = (u16::from(more) << 13) | offset8;
        let mut h = vec![
            0x45, 0, 0, 0, 0, 7, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h[2..4].copy_from_slice(&total_len.to_be_bytes());
        h[6..8].copy_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    #[test]
    fn two_fragments_out_of_order_reassemble() {
        let mut r = Reassembler::default();
        let second = v4(28, false, 1, &[8, 9, 10, 11, 12, 13, 14, 15]);
        let first = v4(28, true, 0, &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert!(matches!(r.packet(&second, 1.0), IpOutcome::Pending));
        match r.packet(&first, 1.1) {
            IpOutcome::Datagram(d) => {
                assert_eq!(d.proto, 17);
                assert_eq!(&d.payload[..], &(0u8..16).collect::<Vec<_>>()[..]);
                assert_eq!(d.ip_len, 36);
            }
            other => panic!("{other:?}"),
        }
        assert!(r.pending.is_empty());
    }

    #[test]
    fn fragment_store_is_bounded() {
        let mut r = Reassembler::default();
        for id in 0..(MAX_PENDING as u16 + 10) {
            let mut f = v4(28, true, 0, &[0; 8]);
            f[4..6].copy_from_slice(&id.to_be_bytes());
            let _ = r.packet(&f, 1.0);
        }
        assert!(r.pending.len() <= MAX_PENDING);
        // A fragment beyond 64 KiB is refused, not buffered.
        let far = v4(28, true, 8191, &[0; 8]);
        assert!(matches!(r.packet(&far, 1.0), IpOutcome::Error(_)));
    }
}
