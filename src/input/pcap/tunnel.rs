//! Tunnels the corpus shows: GRE (RFC 2784/2890 and PPTP's enhanced GRE carrying PPP) and
//! Teredo (IPv6 in UDP/3544). Pure functions from the outer payload to the inner IP packet.

/// The IP packet inside a GRE payload, if it carries IPv4 or IPv6 (directly or in PPP).
pub fn gre_inner(gre: &[u8]) -> Option<&[u8]> {
    let flags = *gre.first()?;
    let version = gre.get(1)? & 0x7;
    let proto = u16::from_be_bytes([*gre.get(2)?, *gre.get(3)?]);
    let mut len = 4;
    let checksum = flags & 0x80 != 0;
    let key = flags & 0x20 != 0;
    let seq = flags & 0x10 != 0;
    if version == 0 {
        if checksum {
            len += 4;
        }
        if key {
            len += 4;
        }
        if seq {
            len += 4;
        }
    } else if version == 1 {
        // Enhanced GRE: key (payload length + call id) always present; ack flag in byte 1.
        len += 4;
        if seq {
            len += 4;
        }
        if gre.get(1)? & 0x80 != 0 {
            len += 4;
        }
    } else {
        return None;
    }
    let inner = gre.get(len..)?;
    match proto {
        0x0800 | 0x86dd => Some(inner),
        0x880b => {
            let ppp = if inner.get(..2) == Some(&[0xff, 0x03]) {
                inner.get(2..)?
            } else {
                inner
            };
            // PPP protocol field, possibly compressed to one byte.
            let (p, rest) = if ppp.first()? & 1 == 1 {
                (u16::from(*ppp.first()?), ppp.get(1..)?)
            } else {
                (
                    u16::from_be_bytes([*ppp.first()?, *ppp.get(1)?]),
                    ppp.get(2..)?,
                )
            };
            matches!(p, 0x0021 | 0x0057).then_some(rest)
        }
        _ => None,
    }
}

/// The IPv6 packet inside a Teredo UDP payload (after optional authentication and origin
/// indication headers). Off the Teredo port (`on_port` false) the packet must fill the payload
/// exactly and involve a Teredo (2001:0::/32) address.
pub fn teredo_inner(mut p: &[u8], on_port: bool) -> Option<&[u8]> {
    for _ in 0..2 {
        match p.get(..2)? {
            [0, 1] => {
                let id_len = usize::from(*p.get(2)?);
                let auth_len = usize::from(*p.get(3)?);
                p = p.get(4 + id_len + auth_len + 9..)?;
            }
            [0, 0] => p = p.get(8..)?,
            _ => break,
        }
    }
    let version = p.first()? >> 4;
    let payload_len = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
    if version != 6 || p.len() < 40 || 40 + payload_len > p.len() {
        return None;
    }
    let teredo_addr = |a: &[u8]| a.get(..4) == Some(&[0x20, 0x01, 0, 0]);
    if on_port
        || (40 + payload_len == p.len()
            && (teredo_addr(p.get(8..24)?) || teredo_addr(p.get(24..40)?)))
    {
        Some(p)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pptp_gre_with_ppp_ipv4() {
        // flags: K+S, version 1, proto 0x880b, key(4), seq(4), then PPP ff03 0021, then IP.
        let g = [
            0x30, 0x01, 0x88, 0x0b, 0, 5, 0, 1, 0, 0, 0, 7, 0xff, 0x03, 0x00, 0x21, 0x45,
        ];
        assert_eq!(gre_inner(&g), Some(&[0x45][..]));
    }

    #[test]
    fn teredo_origin_indication_then_ipv6() {
        let mut p = vec![0, 0, 1, 2, 3, 4, 5, 6];
        let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 59, 64];
        v6.extend_from_slice(&[0u8; 32]);
        p.extend_from_slice(&v6);
        assert_eq!(teredo_inner(&p, true), Some(&v6[..]));
        assert_eq!(teredo_inner(&p, false), None);
        assert_eq!(teredo_inner(&p[..20], true), None);
    }
}
