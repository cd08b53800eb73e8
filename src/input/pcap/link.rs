//! Link layers: from a captured frame to the IP datagram inside it. Ethernet (with 802.1Q VLAN,
//! Q-in-Q, MPLS label stacks, PPPoE sessions, Cisco FabricPath and 802.3 LLC/SNAP), Linux cooked
//! captures (SLL and SLL2), BSD NULL/loopback, raw IP, PPP and 802.11 (plain and radiotap). Pure
//! functions over byte slices; everything above IP is left to the callers.

/// The network layer a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// Something that is not IP (ARP, LLDP, ...): counted, not decoded.
    Other,
}

/// Why a frame could not be taken apart.
pub type LinkError = &'static str;

/// Bounds the number of stacked tags (VLAN, MPLS) followed in one frame.
const MAX_TAGS: usize = 16;

/// The network layer of `data` captured with link type `linktype`.
pub fn network_layer(linktype: i32, data: &[u8]) -> Result<Net<'_>, LinkError> {
    match linktype {
        1 => ethernet(data),
        0 | 108 => null_loopback(data),
        12 | 14 | 101 => raw_ip(data),
        228 => Ok(Net::Ipv4(data)),
        229 => Ok(Net::Ipv6(data)),
        9 | 50 => ppp(data),
        113 => {
            let proto = be16(data, 14).ok_or("truncated Linux SLL header")?;
            ethertype(
                proto,
                data.get(16..).ok_or("truncated Linux SLL header")?,
                0,
            )
        }
        276 => {
            let proto = be16(data, 0).ok_or("truncated Linux SLL2 header")?;
            ethertype(
                proto,
                data.get(20..).ok_or("truncated Linux SLL2 header")?,
                0,
            )
        }
        105 => ieee80211(data),
        127 => {
            let len = data
                .get(2..4)
                .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
                .ok_or("truncated radiotap header")?;
            ieee80211(data.get(len..).ok_or("truncated radiotap header")?)
        }
        _ => Err("unsupported link type"),
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

fn ethernet(data: &[u8]) -> Result<Net<'_>, LinkError> {
    let proto = be16(data, 12).ok_or("truncated Ethernet header")?;
    let rest = data.get(14..).ok_or("truncated Ethernet header")?;
    ethertype(proto, rest, 0)
}

/// Follows an EtherType (or an 802.3 length) to the network layer.
fn ethertype(proto: u16, data: &[u8], depth: usize) -> Result<Net<'_>, LinkError> {
    if depth > MAX_TAGS {
        return Err("too many stacked link headers");
    }
    match proto {
        0x0800 => Ok(Net::Ipv4(data)),
        0x86dd => Ok(Net::Ipv6(data)),
        0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
            let inner = be16(data, 2).ok_or("truncated VLAN tag")?;
            ethertype(inner, data.get(4..).ok_or("truncated VLAN tag")?, depth + 1)
        }
        0x8847 | 0x8848 => mpls(data),
        0x8864 => {
            let ppp_proto = be16(data, 6).ok_or("truncated PPPoE header")?;
            ppp_protocol(ppp_proto, data.get(8..).ok_or("truncated PPPoE header")?)
        }
        0x8903 => {
            // Cisco FabricPath: a 16-byte outer header, then the original Ethernet frame.
            let inner = data.get(2..).ok_or("truncated FabricPath header")?;
            let proto = be16(inner, 12).ok_or("truncated FabricPath header")?;
            ethertype(proto, inner.get(14..).unwrap_or_default(), depth + 1)
        }
        len if len < 0x0600 => {
            // 802.3 length field: only LLC/SNAP carries an EtherType.
            if data.get(..3) == Some(&[0xaa, 0xaa, 0x03]) {
                let inner = be16(data, 6).ok_or("truncated SNAP header")?;
                ethertype(inner, data.get(8..).unwrap_or_default(), depth + 1)
            } else {
                Ok(Net::Other)
            }
        }
        _ => Ok(Net::Other),
    }
}

fn mpls(mut data: &[u8]) -> Result<Net<'_>, LinkError> {
    for _ in 0..MAX_TAGS {
        let entry = data.get(..4).ok_or("truncated MPLS label")?;
        let bottom = entry[2] & 1 == 1;
        data = data.get(4..).unwrap_or_default();
        if bottom {
            return raw_ip(data);
        }
    }
    Err("too many MPLS labels")
}

fn raw_ip(data: &[u8]) -> Result<Net<'_>, LinkError> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Ok(Net::Ipv4(data)),
        Some(6) => Ok(Net::Ipv6(data)),
        Some(_) => Ok(Net::Other),
        None => Err("empty IP packet"),
    }
}

fn null_loopback(data: &[u8]) -> Result<Net<'_>, LinkError> {
    let family = data.get(..4).ok_or("truncated loopback header")?;
    let le = u32::from_le_bytes([family[0], family[1], family[2], family[3]]);
    let be = u32::from_be_bytes([family[0], family[1], family[2], family[3]]);
    let rest = data.get(4..).unwrap_or_default();
    let af = if le < 0x10000 { le } else { be };
    match af {
        2 => Ok(Net::Ipv4(rest)),
        10 | 24 | 28 | 30 => Ok(Net::Ipv6(rest)),
        _ => Ok(Net::Other),
    }
}

fn ppp(data: &[u8]) -> Result<Net<'_>, LinkError> {
    // Optional HDLC address/control bytes.
    let data = if data.get(..2) == Some(&[0xff, 0x03]) {
        data.get(2..).unwrap_or_default()
    } else {
        data
    };
    let proto = be16(data, 0).ok_or("truncated PPP header")?;
    ppp_protocol(proto, data.get(2..).unwrap_or_default())
}

fn ppp_protocol(proto: u16, data: &[u8]) -> Result<Net<'_>, LinkError> {
    match proto {
        0x0021 => Ok(Net::Ipv4(data)),
        0x0057 => Ok(Net::Ipv6(data)),
        _ => Ok(Net::Other),
    }
}

fn ieee80211(data: &[u8]) -> Result<Net<'_>, LinkError> {
    let fc = data.first().copied().ok_or("truncated 802.11 header")?;
    let flags = data.get(1).copied().ok_or("truncated 802.11 header")?;
    let frame_type = (fc >> 2) & 0x3;
    if frame_type != 2 {
        return Ok(Net::Other);
    }
    let subtype = fc >> 4;
    if subtype & 0x4 != 0 {
        // Null-function data frames carry nothing.
        return Ok(Net::Other);
    }
    let mut len = 24;
    if flags & 0x3 == 0x3 {
        len += 6;
    }
    if subtype & 0x8 != 0 {
        len += 2;
        if flags & 0x80 != 0 {
            len += 4;
        }
    }
    if flags & 0x40 != 0 {
        // Protected frame: encrypted payload.
        return Ok(Net::Other);
    }
    let body = data.get(len..).ok_or("truncated 802.11 header")?;
    if body.get(..3) == Some(&[0xaa, 0xaa, 0x03]) {
        let proto = be16(body, 6).ok_or("truncated SNAP header")?;
        ethertype(proto, body.get(8..).unwrap_or_default(), 1)
    } else {
        Ok(Net::Other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethernet_vlan_qinq_reaches_ipv4() {
        // dst, src, 0x88a8 S-tag, 0x8100 C-tag, 0x0800, then one IPv4 byte.
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[
            0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00, 0x45,
        ]);
        assert_eq!(network_layer(1, &f), Ok(Net::Ipv4(&[0x45])));
    }

    #[test]
    fn mpls_stack_bottom_of_stack_then_ipv6() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x88, 0x47, 0, 0, 0x10, 64, 0, 0, 0x21, 64, 0x60]);
        assert_eq!(network_layer(1, &f), Ok(Net::Ipv6(&[0x60])));
    }

    #[test]
    fn null_loopback_both_byte_orders() {
        assert_eq!(
            network_layer(0, &[2, 0, 0, 0, 0x45]),
            Ok(Net::Ipv4(&[0x45]))
        );
        assert_eq!(
            network_layer(0, &[0, 0, 0, 2, 0x45]),
            Ok(Net::Ipv4(&[0x45]))
        );
        assert_eq!(
            network_layer(0, &[30, 0, 0, 0, 0x60]),
            Ok(Net::Ipv6(&[0x60]))
        );
    }

    #[test]
    fn truncated_headers_are_errors_not_panics() {
        for lt in [0, 1, 9, 101, 105, 113, 127, 276] {
            for n in 0..3 {
                let _ = network_layer(lt, &vec![0x81; n]);
            }
        }
        assert!(network_layer(1, &[0; 13]).is_err());
    }
}
