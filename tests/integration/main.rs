//! The one integration-test binary: each module covers one area, on fixtures under tests/data
//! (copied from ../shared with their licence notes).

mod analyze_cli;
mod enrich;
mod equivalence;
mod hostile;
mod intel;
mod joins;
mod parallel;
mod pcap;
mod reference_cases;
mod report;
mod tls;
mod zeek_reader;
