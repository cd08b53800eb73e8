//! Differential target: the parallel reader (tiny batches, two threads) must give exactly what
//! the sequential reader gives on the same file: the same records at the same lines, the same
//! diagnostics and the same per-file counts.

#![no_main]

use captriage::input::zeek::{ParallelOptions, read_file, read_files_parallel};
use captriage::model::{Diagnostic, Location, RankedSink, Record, Sink};
use libfuzzer_sys::fuzz_target;

#[path = "temp_log.rs"]
mod temp_log;

#[derive(Default)]
struct Collect {
    records: Vec<String>,
    diagnostics: Vec<String>,
}

impl Sink for Collect {
    fn record(&mut self, record: Record<'_>, location: &Location) {
        self.records.push(format!("{location} {record:?}"));
    }
    fn diagnostic(&mut self, d: Diagnostic) {
        self.diagnostics.push(d.to_string());
    }
}

impl RankedSink for Collect {
    fn begin_file(&mut self, _rank: usize) {}
}


fuzz_target!(|data: &[u8]| {
    let Some(path) = temp_log::write("conn.log", data) else {
        return;
    };
    let mut seq = Collect::default();
    let Ok(want) = read_file(&path, &mut seq) else {
        return;
    };
    let opts = ParallelOptions {
        threads: 2,
        batch_bytes: 1 + data.len() % 97,
    };
    let (mut results, sinks) =
        read_files_parallel(&[path.as_path()], 0, opts, Collect::default, &|_| {});
    let got = match results.pop() {
        Some(Ok(stats)) => stats,
        other => panic!("parallel read failed: {other:?}"),
    };
    assert_eq!(got, want);
    let mut records: Vec<String> = sinks
        .iter()
        .flat_map(|s| s.records.iter().cloned())
        .collect();
    let mut diagnostics: Vec<String> = sinks
        .iter()
        .flat_map(|s| s.diagnostics.iter().cloned())
        .collect();
    records.sort();
    diagnostics.sort();
    seq.records.sort();
    seq.diagnostics.sort();
    assert_eq!(records, seq.records);
    assert_eq!(diagnostics, seq.diagnostics);
});
