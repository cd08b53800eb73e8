//! DNS messages: a pure, bounded parser from one message's bytes to what Zeek's dns.log shows
//! (header flags, the first question, answer-section records rendered as Zeek renders them, with
//! their TTLs). Names, including compression pointers, are read by hickory-proto; record framing
//! and rendering are here so a message that breaks off mid-record still yields what came before
//! (Zeek logs such partial answers too). Pairing queries with responses is the flow layer's job.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// Answer records kept per message.
const MAX_ANSWERS: usize = 256;
/// Records of any section walked per message.
const MAX_RECORDS: usize = 1024;
/// Bytes of one rendered answer.
const MAX_ANSWER_TEXT: usize = 4096;

/// The first question of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    /// Lower-cased as Zeek logs `query`.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// One DNS message as far as it could be parsed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
    pub id: u16,
    pub response: bool,
    pub opcode: u8,
    pub aa: bool,
    pub tc: bool,
    pub rd: bool,
    pub ra: bool,
    pub z: u8,
    pub rcode: u16,
    pub question: Option<Question>,
    /// Owner name of the first answer record (mDNS responses carry no question).
    pub first_answer_name: Option<String>,
    /// Answer-section records, in wire order, rendered as Zeek does, with TTLs.
    pub answers: Vec<(String, u32)>,
    /// The message broke off (or was corrupt) after the header; what precedes was kept.
    pub partial: bool,
}

/// Why a message could not be parsed at all.
pub type DnsError = &'static str;

/// Parses one DNS message (UDP payload, or one TCP frame without its length prefix).
/// `netbios` decodes first-level NetBIOS names (port 137) the way Zeek does.
pub fn parse_message(buf: &[u8], netbios: bool) -> Result<Message, DnsError> {
    let h = buf.get(..12).ok_or("truncated DNS header")?;
    let flags = u16::from_be_bytes([h[2], h[3]]);
    let count = |i: usize| usize::from(u16::from_be_bytes([h[i], h[i + 1]]));
    let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
    let mut msg = Message {
        id: u16::from_be_bytes([h[0], h[1]]),
        response: flags & 0x8000 != 0,
        opcode: ((flags >> 11) & 0xf) as u8,
        aa: flags & 0x0400 != 0,
        tc: flags & 0x0200 != 0,
        rd: flags & 0x0100 != 0,
        ra: flags & 0x0080 != 0,
        z: ((flags >> 4) & 0x7) as u8,
        rcode: flags & 0xf,
        ..Message::default()
    };
    let mut dec = BinDecoder::new(buf);
    if dec.read_slice(12).is_err() {
        return Err("truncated DNS header");
    }
    for i in 0..qd.min(MAX_RECORDS) {
        let Ok(name) = Name::read(&mut dec) else {
            msg.partial = true;
            return Ok(msg);
        };
        let (Some(qtype), Some(qclass)) = (read_u16(&mut dec), read_u16(&mut dec)) else {
            msg.partial = true;
            return Ok(msg);
        };
        if i == 0 {
            let mut text = name_text(&name);
            if netbios {
                text = netbios_name(&text);
            } else {
                text.make_ascii_lowercase();
            }
            msg.question = Some(Question {
                name: text,
                qtype,
                qclass,
            });
        }
    }
    let total = an.saturating_add(ns).saturating_add(ar).min(MAX_RECORDS);
    for i in 0..total {
        let Ok(owner) = Name::read(&mut dec) else {
            msg.partial = true;
            break;
        };
        let (Some(rtype), Some(class), Some(ttl_hi), Some(ttl_lo), Some(rdlen)) = (
            read_u16(&mut dec),
            read_u16(&mut dec),
            read_u16(&mut dec),
            read_u16(&mut dec),
            read_u16(&mut dec),
        ) else {
            msg.partial = true;
            break;
        };
        let ttl = (u32::from(ttl_hi) << 16) | u32::from(ttl_lo);
        let start = dec.index();
        let rdlen = usize::from(rdlen);
        let Ok(rdata) = dec.read_slice(rdlen) else {
            msg.partial = true;
            break;
        };
        let rdata = rdata.unverified();
        if msg.opcode == 5 && i < an.saturating_add(ns) {
            // DNS UPDATE (RFC 2136): prerequisites, then updates, rendered as Zeek 8.1+ does.
            if i == 0 || msg.first_answer_name.is_none() {
                msg.first_answer_name = Some(name_text(&owner));
            }
            if msg.answers.len() < MAX_ANSWERS {
                let text = update_entry(buf, start, i < an, rtype, class, rdata, &owner);
                msg.answers.push((text, ttl));
            }
            continue;
        }
        if i < an {
            if i == 0 {
                msg.first_answer_name = Some(name_text(&owner));
            }
            // TKEY, TSIG and OPT are protocol machinery, not answers (Zeek leaves them out).
            if msg.answers.len() < MAX_ANSWERS && !matches!(rtype, 41 | 249 | 250) {
                let mut text = render(buf, start, rtype, rdata, &owner);
                truncate_text(&mut text, MAX_ANSWER_TEXT);
                msg.answers.push((text, ttl));
            }
        }
    }
    Ok(msg)
}

fn read_u16(dec: &mut BinDecoder<'_>) -> Option<u16> {
    dec.read_u16().ok().map(|v| v.unverified())
}

/// A name as Zeek writes it: labels joined by dots, no trailing dot, bytes as they were.
fn name_text(name: &Name) -> String {
    let mut out = String::new();
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&String::from_utf8_lossy(label));
    }
    out
}

/// Decodes a NetBIOS first-level encoded name (`EBFC...` -> `BRW...`), as Zeek does on port 137.
fn netbios_name(text: &str) -> String {
    let label = text.split('.').next().unwrap_or_default().as_bytes();
    if label.len() != 32 {
        return text.to_string();
    }
    let mut out = Vec::with_capacity(16);
    for pair in label.chunks_exact(2) {
        let hi = pair[0].to_ascii_uppercase().wrapping_sub(b'A');
        let lo = pair[1].to_ascii_uppercase().wrapping_sub(b'A');
        if hi > 15 || lo > 15 {
            return text.to_string();
        }
        out.push((hi << 4) | lo);
    }
    // The 16th byte is the NetBIOS suffix; trailing spaces pad the name.
    out.truncate(15);
    while matches!(out.last(), Some(b' ') | Some(0)) {
        out.pop();
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn truncate_text(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// A name inside RDATA at `offset` of the message (compression pointers allowed).
fn name_at(msg: &[u8], offset: usize) -> Option<String> {
    let mut dec = BinDecoder::new(msg);
    dec.read_slice(offset).ok()?;
    Name::read(&mut dec).ok().map(|n| name_text(&n))
}

/// Renders one answer record as Zeek's dns.log `answers` does.
fn render(msg: &[u8], start: usize, rtype: u16, rdata: &[u8], owner: &Name) -> String {
    let name_at_rdata = |skip: usize| name_at(msg, start + skip);
    let rendered = match rtype {
        1 => rdata
            .get(..4)
            .map(|b| Ipv4Addr::new(b[0], b[1], b[2], b[3]).to_string()),
        28 => rdata.get(..16).map(|b| {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Ipv6Addr::from(a).to_string()
        }),
        // CNAME, PTR, NS, DNAME, SOA (MNAME)
        2 | 5 | 12 | 39 | 6 => name_at_rdata(0).map(|n| n.to_ascii_lowercase()),
        // MX, and the other preference + name types
        15 | 18 | 21 | 36 => name_at_rdata(2).map(|n| n.to_ascii_lowercase()),
        // SRV: priority, weight, port, target
        33 => name_at_rdata(6).map(|n| n.to_ascii_lowercase()),
        16 | 99 => {
            let tag = if rtype == 16 { "TXT" } else { "SPF" };
            Some(character_strings(rdata, tag))
        }
        // RRSIG: type covered, ..., signer name at offset 18
        46 => rdata.get(..2).map(|b| {
            let covered = u16::from_be_bytes([b[0], b[1]]);
            let signer = name_at_rdata(18).unwrap_or_default();
            let signer = if signer.is_empty() {
                "<Root>".to_string()
            } else {
                signer
            };
            format!("RRSIG {covered} {signer}")
        }),
        // DNSKEY: flags, protocol, algorithm
        48 => rdata.get(3).map(|alg| format!("DNSKEY {alg}")),
        47 => {
            let next = name_at_rdata(0).unwrap_or_default();
            Some(format!("NSEC {} {}", name_text(owner), next))
        }
        // LOC: Zeek writes size, horizontal and vertical precision (after an empty field).
        29 => rdata
            .get(1..4)
            .map(|b| format!("LOC:  {} {} {}", b[0], b[1], b[2])),
        50 => Some("NSEC3".to_string()),
        51 => Some("NSEC3PARAM".to_string()),
        43 => rdata.get(2).map(|alg| format!("DS {alg}")),
        44 => rdata.get(2..).map(|fp| format!("SSHFP: {}", hex_lower(fp))),
        257 => {
            let flags = rdata.first().copied().unwrap_or_default();
            let tag_len = usize::from(rdata.get(1).copied().unwrap_or_default());
            let tag = rdata.get(2..2 + tag_len).unwrap_or_default();
            let value = rdata.get(2 + tag_len..).unwrap_or_default();
            Some(format!(
                "CAA {} {} {}",
                flags,
                String::from_utf8_lossy(tag),
                String::from_utf8_lossy(value)
            ))
        }
        _ => None,
    };
    rendered.unwrap_or_else(|| format!("<unknown type={rtype}>"))
}

/// One prerequisite (`pre: ...`) or update (`add: ...`, `del: ...`) of a DNS UPDATE message.
fn update_entry(
    msg: &[u8],
    start: usize,
    prerequisite: bool,
    rtype: u16,
    class: u16,
    rdata: &[u8],
    owner: &Name,
) -> String {
    let t = qtype_name(rtype);
    let name = name_text(owner).to_ascii_lowercase();
    match (prerequisite, class, rdata.is_empty()) {
        (true, 254, true) => format!("pre: NoRRSet {t} {name}"),
        (true, 255, true) if rtype == 255 => format!("pre: NameInUse {name}"),
        (true, 255, true) => format!("pre: RRSet {t} {name}"),
        (true, 254, _) if rtype == 255 => format!("pre: NameNotInUse {name}"),
        (true, ..) => format!(
            "pre: RR {t} {name} {}",
            render(msg, start, rtype, rdata, owner)
        ),
        (false, 255, _) if rtype == 255 => format!("del: Name {name}"),
        (false, 255, _) => format!("del: RRSet {t}"),
        (false, 254, _) => format!(
            "del: RR {t} {name} {}",
            render(msg, start, rtype, rdata, owner)
        ),
        (false, ..) => format!(
            "add: {t} {name} {}",
            render(msg, start, rtype, rdata, owner)
        ),
    }
}

/// `TXT 12 hello world` per character-string, joined by spaces (Zeek's rendering).
fn character_strings(rdata: &[u8], tag: &str) -> String {
    let mut out = String::new();
    let mut rest = rdata;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        let s = tail.get(..len).unwrap_or(tail);
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("{tag} {} {}", s.len(), String::from_utf8_lossy(s)));
        rest = tail.get(len..).unwrap_or_default();
        if out.len() > MAX_ANSWER_TEXT {
            break;
        }
    }
    if out.is_empty() {
        out = format!("{tag} 0 ");
    }
    out
}

fn hex_lower(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// Zeek's name of a query type (IANA mnemonics; 255 is `*`).
pub fn qtype_name(t: u16) -> Cow<'static, str> {
    let name = match t {
        1 => "A",
        2 => "NS",
        3 => "MD",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAP-PTR",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        31 => "EID",
        32 => "NIMLOC",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        40 => "SINK",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        53 => "SMIMEA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDNSKEY",
        61 => "OPENPGPKEY",
        62 => "CSYNC",
        63 => "ZONEMD",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        253 => "MAILB",
        254 => "MAILA",
        255 => "*",
        256 => "URI",
        257 => "CAA",
        32768 => "TA",
        32769 => "DLV",
        _ => return Cow::Owned(format!("query-{t}")),
    };
    Cow::Borrowed(name)
}

/// Zeek's name of a response code.
pub fn rcode_name(r: u16) -> Cow<'static, str> {
    let name = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        23 => "BADCOOKIE",
        _ => return Cow::Owned(format!("rcode-{r}")),
    };
    Cow::Borrowed(name)
}

/// Zeek's name of a query class.
pub fn qclass_name(c: u16) -> String {
    match c {
        1 => "C_INTERNET".into(),
        2 => "C_CSNET".into(),
        3 => "C_CHAOS".into(),
        4 => "C_HESIOD".into(),
        254 => "C_NONE".into(),
        255 => "C_ANY".into(),
        32769 => "C_INTERNET".into(),
        other => format!("qclass-{other}"),
    }
}

/// Zeek's name of an opcode.
pub fn opcode_name(op: u8) -> String {
    match op {
        0 => "query".into(),
        1 => "iquery".into(),
        2 => "status".into(),
        4 => "notify".into(),
        5 => "dynamic-update".into(),
        other => format!("opcode-{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for `a.example` with a CNAME then an A record, the second name compressed.
    fn cname_then_a() -> Vec<u8> {
        let mut m = vec![
            0x12, 0x34, // id
            0x81, 0x80, // response, RD, RA, NOERROR
            0, 1, 0, 2, 0, 0, 0, 0, // 1 question, 2 answers
        ];
        m.extend_from_slice(b"\x01A\x07example\x00\x00\x01\x00\x01"); // question at 12
        // answer 1: owner = pointer to 12, CNAME, IN, ttl 60, rdata "b" + pointer to "example"
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, b'b', 0xc0, 14]);
        // answer 2: owner = pointer to 12, A, IN, ttl 30, 10.0.0.1
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]);
        m
    }

    #[test]
    fn answers_in_wire_order_with_compressed_names() {
        let msg = parse_message(&cname_then_a(), false).unwrap();
        assert_eq!(msg.id, 0x1234);
        assert!(msg.response && msg.rd && msg.ra);
        assert_eq!(msg.question.unwrap().name, "a.example");
        assert_eq!(
            msg.answers,
            vec![("b.example".to_string(), 60), ("10.0.0.1".to_string(), 30)]
        );
        assert!(!msg.partial);
    }

    #[test]
    fn truncated_second_answer_keeps_the_first() {
        let m = cname_then_a();
        let msg = parse_message(&m[..m.len() - 3], false).unwrap();
        assert_eq!(msg.answers.len(), 1);
        assert!(msg.partial);
    }

    #[test]
    fn compression_pointer_loop_is_bounded() {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0];
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]); // name points at itself
        let msg = parse_message(&m, false).unwrap();
        assert!(msg.partial && msg.question.is_none());
    }

    #[test]
    fn txt_strings_rendered_like_zeek() {
        assert_eq!(
            character_strings(b"\x02hi\x03you", "TXT"),
            "TXT 2 hi TXT 3 you"
        );
    }

    #[test]
    fn netbios_names_are_decoded() {
        // "WORKGROUP" padded with spaces, suffix 0x00.
        let enc = "FHEPFCELEHFCEPFFFACACACACACACAAA";
        assert_eq!(netbios_name(enc), "WORKGROUP");
    }

    #[test]
    fn every_prefix_parses_without_panic() {
        let m = cname_then_a();
        for n in 0..m.len() {
            let _ = parse_message(&m[..n], false);
        }
    }
}
