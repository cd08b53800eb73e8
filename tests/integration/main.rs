//! The one integration-test binary: each module covers one area, on fixtures under tests/data
//! (copied from ../shared with their licence notes).

mod enrich;
mod hostile;
mod intel;
mod reference_cases;
mod report;
mod tls;
mod zeek_reader;
