//! The Zeek log reader on arbitrary bytes (TSV, JSON lines or gzip, as the content says).

#![no_main]

use captriage::input::zeek::read_reader;
use captriage::model::{Diagnostic, Location, Record, Sink};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

struct Discard;

impl Sink for Discard {
    fn record(&mut self, record: Record<'_>, _: &Location) {
        std::hint::black_box(record);
    }
    fn diagnostic(&mut self, d: Diagnostic) {
        std::hint::black_box(d);
    }
}

fuzz_target!(|data: &[u8]| {
    // The name hint decides the log kind when the content has no #path.
    for hint in ["conn.log", "dns.log", "ssl.log"] {
        read_reader(Arc::from("fuzz"), data, hint, &mut Discard);
    }
});
