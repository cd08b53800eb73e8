//! The DNS message parser of the capture decoder (names, compression pointers, every RR type),
//! with and without NetBIOS name decoding.

#![no_main]

use captriage::input::pcap::dns;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(dns::parse_message(data, false).ok());
    std::hint::black_box(dns::parse_message(data, true).ok());
});
