//! Inputs other than the Zeek-log readers: the native capture decoder (`pcap`) and the runner
//! that hands a capture to an installed Zeek (`zeek_runner`).

pub mod pcap;
pub mod zeek_runner;
