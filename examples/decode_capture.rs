//! Decodes one capture with the native decoder and prints how many records of each kind it gave,
//! nothing else: the decoder alone, for timing and memory measurements
//! (`cargo run --release --example decode_capture -- CAPTURE`). With `--spill` the records go
//! through the phase spill of `captriage analyze` (`captriage::input::spill::Spill`) first and are
//! counted as it replays them, phase by phase; `--spill --facts` replays them into the
//! `FactsBuilder` instead (what `analyze` does before the rules).

use captriage::input::spill::Spill;
use captriage::model::{Diagnostic, Location, Record, Sink};

#[derive(Default)]
struct Count {
    per_phase: [u64; 6],
    diagnostics: u64,
}

impl Sink for Count {
    fn record(&mut self, record: Record<'_>, _location: &Location) {
        if let Some(n) = self.per_phase.get_mut(usize::from(record.phase())) {
            *n += 1;
        }
    }
    fn diagnostic(&mut self, _diagnostic: Diagnostic) {
        self.diagnostics += 1;
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let spill = args.iter().any(|a| a == "--spill");
    let facts = args.iter().any(|a| a == "--facts");
    let Some(path) = args.iter().find(|a| !a.to_string_lossy().starts_with("--")) else {
        eprintln!("usage: decode_capture [--spill] [--facts] CAPTURE");
        std::process::exit(2);
    };
    let mut count = Count::default();
    let stats = if spill {
        let mut s = Spill::new();
        let stats = captriage::input::pcap::decode_file(path.as_ref(), &mut s)?;
        let mut builder = captriage::facts::FactsBuilder::new();
        for phase in 0..=6 {
            match facts {
                true => s.replay(phase, &mut builder),
                false => s.replay(phase, &mut count),
            }
        }
        if facts {
            let f = builder.finish();
            println!(
                "facts: {} conns {} dns {} tls {} http",
                f.conns.len(),
                f.dns.len(),
                f.tls.len(),
                f.http.len()
            );
        }
        for d in s.diagnostics {
            count.diagnostic(d);
        }
        stats
    } else {
        captriage::input::pcap::decode_file(path.as_ref(), &mut count)?
    };
    let [dns, x509, files, ssl, http, conn] = count.per_phase;
    println!(
        "packets {} errors {} conn {conn} dns {dns} ssl {ssl} x509 {x509} http {http} files {files} diagnostics {}",
        stats.packets, stats.errors, count.diagnostics
    );
    Ok(())
}
