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
    loop {
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
                            Block::SectionHeader(_) => interfaces.clear(),
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
