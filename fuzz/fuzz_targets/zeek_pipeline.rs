//! Differential target: the pipelined reader (parsing on a thread of its own, chunks of 1 to 7
//! items) must give exactly what the direct reader gives on the same file, in the same order:
//! the same records at the same lines, the same diagnostics and the same counts, both for a sink
//! reading the analysis columns (whose DNS rows are packed) and for one reading every column
//! (TLS rows, from a `#path ssl` block, are packed for both).

#![no_main]

use captriage::input::zeek::{Columns, read_file_chunked, read_file_with};
use captriage::model::{Diagnostic, Location, Record, Sink};
use libfuzzer_sys::fuzz_target;

#[path = "temp_log.rs"]
mod temp_log;

struct Collect(Vec<String>, Columns);

impl Sink for Collect {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        self.0.push(format!("{location} {record:?}"));
    }
    fn diagnostic(&mut self, d: Diagnostic) {
        self.0.push(format!("diagnostic {d}"));
    }
    fn columns(&self) -> Columns {
        self.1
    }
}


fuzz_target!(|data: &[u8]| {
    let Some(path) = temp_log::write("dns.log", data) else {
        return;
    };
    let columns = if data.len() % 2 == 0 {
        Columns::ANALYSIS
    } else {
        Columns::ALL
    };
    let mut direct = Collect(Vec::new(), columns);
    let Ok(want) = read_file_with(&path, &mut direct, &|_| {}, false) else {
        return;
    };
    let mut piped = Collect(Vec::new(), columns);
    let got = read_file_chunked(&path, &mut piped, &|_| {}, true, 1 + data.len() % 7);
    match got {
        Ok(stats) => assert_eq!(stats, want),
        Err(e) => panic!("pipelined read failed: {e}"),
    }
    assert_eq!(piped.0, direct.0);
});
