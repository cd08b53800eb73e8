//! Every indicator format, forced and detected, and the TinyCheck whitelist, on the same bytes.

#![no_main]

use captriage::intel::{IntelBuilder, IocFormat, WhitelistBuilder, parse_any, tinycheck};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    for format in IocFormat::ALL.map(Some).into_iter().chain([None]) {
        let mut b = IntelBuilder::new();
        if parse_any(Arc::from("fuzz"), data, format, &mut b).is_ok() {
            std::hint::black_box(b.build());
        }
    }
    let mut w = WhitelistBuilder::new();
    let _ = tinycheck::parse_whitelist(Arc::from("fuzz"), data, &mut w);
});
