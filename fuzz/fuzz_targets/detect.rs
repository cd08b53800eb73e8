//! Input detection on arbitrary first bytes: `input::identify` under log, capture, JSON and
//! other names, found in a directory and named as an input. Naming a file never loses what its
//! content says it is.

#![no_main]

use captriage::input::identify;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in [
        "conn.log",
        "dns.json",
        "trace.pcap",
        "conn.log.zst",
        "notes.txt",
        "",
    ] {
        let found = identify(data, name, false);
        let named = identify(data, name, true);
        if let Ok(Some(kind)) = &found {
            assert_eq!(named.as_ref().ok(), Some(&Some(kind.clone())), "{name}");
        }
        let _ = std::hint::black_box((found, named));
    }
});
