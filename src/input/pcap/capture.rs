//! Capture file framing: pcap (both byte orders, micro- and nanosecond) and pcapng (SHB, IDB, EPB,
//! SPB, several interfaces and sections), optionally gzip-compressed, read by `pcap-parser` as a
//! stream. Hands every frame to a callback with its packet number, time and link type; knows
//! nothing about what is inside the frames.

use std::io::{BufRead, BufReader, Read};

use flate2::read::MultiGzDecoder;
use pcap_parser::pcapng::Block;
use pcap_parser::{PcapBlockOwned, PcapError, create_reader};

/// Initial size of the reader's window; it doubles when a block does not fit, up to
/// `MAX_WINDOW` (a block larger than that is a framing error).
const WINDOW: usize = 64 * 1024;
const MAX_WINDOW: usize = 16 << 20;

/// One frame of the capture.
pub struct Frame<'a> {
    /// 1-based packet number, counting every packet block.
    pub number: u64,
    /// Seconds since the epoch.
    pub ts: f64,
    /// The LINKTYPE_ value of its interface.
    pub linktype: i32,
    pub data: &'a [u8],
}

/// What the framing layer saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FramingStats {
    pub format: &'static str,
    pub compressed: bool,
    pub packets: u64,
    /// Set when the file ended inside a block or a block could not be parsed.
    pub error: Option<String>,
    /// LINKTYPE_ values seen, in order of first appearance.
    pub linktypes: Vec<i32>,
}

#[derive(Clone, Copy)]
struct Interface {
    linktype: i32,
    resolution: u64,
    offset: i64,
}

/// Reads every frame of `r` (gzip-compressed or not) and calls `on_frame` for each.
pub fn read_frames(r: impl Read + Send, on_frame: &mut dyn FnMut(&Frame<'_>)) -> FramingStats {
    let mut buffered = BufReader::with_capacity(64 * 1024, r);
    let gz = matches!(buffered.fill_buf(), Ok(b) if b.starts_with(&[0x1f, 0x8b]));
    if gz {
        let mut stats = read_plain(BufReader::new(MultiGzDecoder::new(buffered)), on_frame);
        stats.compressed = true;
        stats
    } else {
        read_plain(buffered, on_frame)
    }
}

fn read_plain(r: impl Read + Send, on_frame: &mut dyn FnMut(&Frame<'_>)) -> FramingStats {
    let mut stats = FramingStats {
        format: "unknown",
        ..FramingStats::default()
    };
    let mut reader = match create_reader(WINDOW, r) {
        Ok(reader) => reader,
        Err(PcapError::Eof) => {
            stats.error = Some("empty file".to_string());
            return stats;
        }
        Err(PcapError::HeaderNotRecognized) => {
            stats.error = Some("not a pcap or pcapng capture (unknown magic)".to_string());
            return stats;
        }
        Err(e) => {
            stats.error = Some(format!("cannot read capture header: {e}"));
            return stats;
        }
    };
    let mut legacy = Interface {
        linktype: 1,
        resolution: 1_000_000,
        offset: 0,
    };
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut window = WINDOW;
    // Byte order of the current pcapng section, from its header block.
    let mut big_endian = false;
    loop {
        if stats.format == "pcapng"
            && let Some(len) = short_block(reader.data(), big_endian)
        {
            stats.error = Some(format!(
                "corrupt block after packet {}: total length {len}, less than the 12 bytes \
                 of a block's type and lengths",
                stats.packets
            ));
            break;
        }
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        stats.format = "pcap";
                        legacy.linktype = h.network.0;
                        legacy.resolution = if h.is_nanosecond_precision() {
                            1_000_000_000
                        } else {
                            1_000_000
                        };
                        note_linktype(&mut stats, legacy.linktype);
                    }
                    PcapBlockOwned::Legacy(b) => {
                        stats.packets += 1;
                        let ts =
                            f64::from(b.ts_sec) + f64::from(b.ts_usec) / legacy.resolution as f64;
                        on_frame(&Frame {
                            number: stats.packets,
                            ts,
                            linktype: legacy.linktype,
                            data: b.data,
                        });
                    }
                    PcapBlockOwned::NG(block) => {
                        stats.format = "pcapng";
                        match block {
                            Block::SectionHeader(shb) => {
                                interfaces.clear();
                                big_endian = shb.big_endian();
                            }
                            Block::InterfaceDescription(idb) => {
                                let iface = Interface {
                                    linktype: idb.linktype.0,
                                    resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                                    offset: idb.ts_offset(),
                                };
                                note_linktype(&mut stats, iface.linktype);
                                if interfaces.len() < 1024 {
                                    interfaces.push(iface);
                                }
                            }
                            Block::EnhancedPacket(epb) => {
                                stats.packets += 1;
                                let iface = usize::try_from(epb.if_id)
                                    .ok()
                                    .and_then(|i| interfaces.get(i))
                                    .copied();
                                if let Some(iface) = iface {
                                    let raw =
                                        (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                                    let ts =
                                        raw as f64 / iface.resolution as f64 + iface.offset as f64;
                                    let len = usize::try_from(epb.caplen)
                                        .unwrap_or(usize::MAX)
                                        .min(epb.data.len());
                                    on_frame(&Frame {
                                        number: stats.packets,
                                        ts,
                                        linktype: iface.linktype,
                                        data: epb.data.get(..len).unwrap_or(epb.data),
                                    });
                                }
                            }
                            Block::SimplePacket(spb) => {
                                stats.packets += 1;
                                if let Some(iface) = interfaces.first().copied() {
                                    on_frame(&Frame {
                                        number: stats.packets,
                                        ts: 0.0,
                                        linktype: iface.linktype,
                                        data: spb.data,
                                    });
                                }
                            }
                            _ => {}
                        }
                    }
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) | Err(PcapError::BufferTooSmall) => {
                if reader.reader_exhausted() {
                    stats.error = Some("capture ends inside a block (truncated file)".into());
                    break;
                }
                let before = reader.data().len();
                if reader.refill().is_err() {
                    stats.error = Some("read error".to_string());
                    break;
                }
                if reader.data().len() == before && !reader.reader_exhausted() {
                    window = window.saturating_mul(2);
                    if window > MAX_WINDOW || !reader.grow(window) {
                        stats.error = Some("block larger than 16 MiB".to_string());
                        break;
                    }
                }
            }
            Err(e) => {
                stats.error = Some(format!("corrupt block: {e}"));
                break;
            }
        }
    }
    stats
}

/// The total length of the pcapng block `data` begins with, when it is less than the 12 bytes
/// of its type and two lengths (section headers aside, which carry their own byte order).
/// `pcap-parser` 0.17 subtracts 12 from it unchecked for a process information block, whose
/// minimum it takes to be 4: that overflows (a panic in a build with overflow checks).
fn short_block(data: &[u8], big_endian: bool) -> Option<u32> {
    let [t0, t1, t2, t3, l0, l1, l2, l3] = *data.first_chunk::<8>()?;
    if [t0, t1, t2, t3] == [0x0a, 0x0d, 0x0d, 0x0a] {
        return None;
    }
    let bytes = [l0, l1, l2, l3];
    let len = if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    };
    (len < 12).then_some(len)
}

fn note_linktype(stats: &mut FramingStats, linktype: i32) {
    if !stats.linktypes.contains(&linktype) && stats.linktypes.len() < 64 {
        stats.linktypes.push(linktype);
    }
}

/// The libpcap name of a LINKTYPE_ value (as `tcpdump -L` prints it, lower-cased).
pub fn linktype_name(linktype: i32) -> String {
    match linktype {
        0 => "null".into(),
        1 => "ether".into(),
        9 => "ppp".into(),
        12 | 14 | 101 => "raw".into(),
        50 => "ppp_hdlc".into(),
        105 => "ieee802_11".into(),
        108 => "loop".into(),
        113 => "linux_sll".into(),
        127 => "ieee802_11_radio".into(),
        228 => "ipv4".into(),
        229 => "ipv6".into(),
        276 => "linux_sll2".into(),
        other => format!("linktype {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn frames_of(bytes: &[u8]) -> (FramingStats, u64) {
        let mut seen = 0;
        let stats = read_frames(bytes, &mut |_| seen += 1);
        (stats, seen)
    }

    /// `v` in the byte order of a section.
    fn u32_in(big_endian: bool, v: u32) -> [u8; 4] {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    /// A section header of 28 bytes in either byte order, with no options.
    fn section_header(big_endian: bool) -> Vec<u8> {
        let u32b = |v| u32_in(big_endian, v);
        let mut b = vec![0x0a, 0x0d, 0x0d, 0x0a];
        b.extend_from_slice(&u32b(28));
        b.extend_from_slice(&u32b(0x1a2b_3c4d));
        b.extend_from_slice(&if big_endian {
            [0, 1, 0, 0]
        } else {
            [1, 0, 0, 0]
        });
        b.extend_from_slice(&[0xff; 8]);
        b.extend_from_slice(&u32b(28));
        b
    }

    #[test]
    fn the_fuzzed_capture_with_a_four_byte_block_is_reported_not_a_panic() {
        // The input the pcap fuzz target crashed on (crash-b95e8e6d…, 2026-12-07): a Wireshark
        // section header, then a process information block (0x80000001) whose total length is
        // 4. pcap-parser 0.17 computed 4 - 12 and, with overflow checks on (as in tests),
        // panicked.
        let bytes = unhex(
            "0a0d0d0a840000004d3c2b1a01000000ffffffffffffffff030016004c696e757820362e782e302d\
             39302d67656e010000000000000443004d65726765636170202857617265736861726b2920342e32\
             2e3220284769742076342e322e32207061636b6167656420617320352e322e322d312e316275696c\
             643329000000000084000000010000800400000044007f030016004c696e0065d8000000",
        );
        assert_eq!(bytes.len(), 156);
        let (stats, frames) = frames_of(&bytes);
        assert_eq!((stats.format, stats.packets, frames), ("pcapng", 0, 0));
        let error = stats.error.unwrap_or_default();
        assert!(error.contains("after packet 0: total length 4"), "{error}");
    }

    #[test]
    fn a_short_block_is_caught_in_the_byte_order_of_its_section() {
        for big_endian in [false, true] {
            let u32b = |v| u32_in(big_endian, v);
            let mut b = section_header(big_endian);
            // An interface (Ethernet) and one simple packet of 4 bytes.
            for v in [1, 20, 1, 0, 20] {
                b.extend_from_slice(&u32b(v));
            }
            for v in [3, 20, 4] {
                b.extend_from_slice(&u32b(v));
            }
            b.extend_from_slice(&[1, 2, 3, 4]);
            b.extend_from_slice(&u32b(20));
            // Then blocks of every length under 12, each its own capture.
            for len in 0..12 {
                let mut c = b.clone();
                c.extend_from_slice(&u32b(0x8000_0001));
                c.extend_from_slice(&u32b(len));
                c.extend_from_slice(&[0; 16]);
                let (stats, frames) = frames_of(&c);
                assert_eq!((stats.packets, frames), (1, 1), "length {len}");
                let error = stats.error.unwrap_or_default();
                let want = format!("after packet 1: total length {len}");
                assert!(error.contains(&want), "{big_endian} {error}");
            }
            // A process information block of 16 bytes (its process id and no option) is well
            // formed: the capture reads to its end.
            let mut c = b.clone();
            for v in [0x8000_0001, 16, 7, 16] {
                c.extend_from_slice(&u32b(v));
            }
            let (stats, frames) = frames_of(&c);
            assert_eq!(
                (stats.packets, frames, stats.error),
                (1, 1, None),
                "{big_endian}"
            );
        }
    }
}
