//! The Zeek reader on JSON lines: the input is made to start like a JSON object so that every
//! run takes the JSON path, once as a conn log and once as a dns log (by `_path`).

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
    let mut doc = Vec::with_capacity(data.len() + 32);
    if data.first() != Some(&b'{') {
        doc.push(b'{');
    }
    doc.extend_from_slice(data);
    for hint in ["conn.log", "dns.log", "ssl.log", "http.log", "files.log", "x509.log"] {
        read_reader(Arc::from("fuzz"), doc.as_slice(), hint, &mut Discard);
    }
});
