//! Loads every indicator file under the given directories (format detected per file, files
//! parsed in parallel as `analyze` does), builds the store and prints the time taken, per-format
//! file counts and the `intel stats` summary head. Used to measure loading speed:
//! `cargo run --release --example intel_load -- DIR...` (`SEQUENTIAL=1`: one file after another;
//! `LOAD_ONLY=1`: stop after loading).

use captriage::intel::{IntelBuilder, IocInput, load_any, load_inputs};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let skip = name.ends_with(".md")
                || name.ends_with(".pcap")
                || name.ends_with(".log")
                || name.ends_with(".rules")
                || matches!(
                    name,
                    "LICENSE"
                        | "LICENSE.txt"
                        | "NOTICE.txt"
                        | "origin.txt"
                        | "config.yaml"
                        | "whitelist.json"
                        | "whitelist.dat"
                );
            if !skip {
                out.push(p);
            }
        }
    }
}

fn main() {
    let mut files = Vec::new();
    for d in std::env::args().skip(1) {
        walk(Path::new(&d), &mut files);
    }
    files.sort();
    let start = Instant::now();
    let mut b = IntelBuilder::new();
    let mut per_format: BTreeMap<String, u64> = BTreeMap::new();
    let results = if std::env::var_os("SEQUENTIAL").is_some() {
        files.iter().map(|f| load_any(f, None, &mut b)).collect()
    } else {
        let inputs: Vec<IocInput<'_>> = files.iter().map(|f| IocInput::Path(f)).collect();
        load_inputs(&inputs, None, &mut b)
    };
    for r in results {
        match r {
            Ok(fmt) => *per_format.entry(fmt.to_string()).or_default() += 1,
            Err(e) => eprintln!("{e:#}"),
        }
    }
    println!("load: {:.3} s", start.elapsed().as_secs_f64());
    let t = Instant::now();
    let intel = b.build();
    println!("build: {:.3} s", t.elapsed().as_secs_f64());
    let elapsed = start.elapsed();
    println!(
        "{} files, {} indicators, {} rejected entries, loaded and built in {:.3} s",
        files.len(),
        intel.indicators().len(),
        intel.stats().invalid.len(),
        elapsed.as_secs_f64()
    );
    println!("files per format: {per_format:?}");
    if std::env::var_os("LOAD_ONLY").is_some() {
        let t = Instant::now();
        drop(intel);
        println!("drop: {:.3} s", t.elapsed().as_secs_f64());
        return;
    }
    let t = Instant::now();
    let mut hits = 0usize;
    for i in 0..1_000_000u32 {
        let name = format!("host{}.sub.example{}.com", i % 1000, i % 7);
        hits += intel.domains(&name).len() + intel.freedns(&name).len();
        hits += intel
            .networks(std::net::IpAddr::from(i.to_be_bytes()))
            .len();
    }
    println!(
        "1M domain+freedns+CIDR lookups in {:.3} s ({hits} hits)",
        t.elapsed().as_secs_f64()
    );
    let mut out = Vec::new();
    let _ = captriage::intel::stats(&intel, &mut out);
    let text = String::from_utf8_lossy(&out);
    for line in text.lines().take(40) {
        println!("{line}");
    }
}
