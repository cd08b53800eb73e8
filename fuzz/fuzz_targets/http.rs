//! The HTTP request-head parser of the capture decoder.

#![no_main]

use captriage::input::pcap::http;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(http::looks_like_request(data));
    std::hint::black_box(http::parse_request(data));
});
