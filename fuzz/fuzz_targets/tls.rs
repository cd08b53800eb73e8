//! The TLS and DTLS parsers of the capture decoder: ClientHello, server flight (complete and so
//! far), DTLS datagrams (the input split on a marker) and certificate details.

#![no_main]

use captriage::input::pcap::tls;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    std::hint::black_box(tls::parse_client_hello(data));
    std::hint::black_box(tls::parse_server_flight(data));
    std::hint::black_box(tls::server_flight_so_far(data));
    std::hint::black_box(tls::parse_dtls_client_hello(data));
    let datagrams: Vec<&[u8]> = data.split(|&b| b == 0xA5).collect();
    std::hint::black_box(tls::parse_dtls_client_hello_datagrams(&datagrams));
    std::hint::black_box(tls::parse_dtls_server_flight(&datagrams));
    std::hint::black_box(tls::cert_info(data));
});
