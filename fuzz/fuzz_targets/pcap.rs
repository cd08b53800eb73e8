//! The whole native capture decoder on one capture file's bytes (pcap, pcapng or gzip of
//! either): framing, link layers, IP and fragments, flows, DNS, TLS and HTTP.

#![no_main]

use captriage::model::{Diagnostic, Location, Record, Sink};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

struct Count(u64);

impl Sink for Count {
    fn record(&mut self, _: Record<'_>, _: &Location) {
        self.0 += 1;
    }
    fn diagnostic(&mut self, _: Diagnostic) {
        self.0 += 1;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut sink = Count(0);
    let stats = captriage::input::pcap::decode_reader(Arc::from("fuzz.pcap"), data, &mut sink);
    std::hint::black_box((stats, sink.0));
});
