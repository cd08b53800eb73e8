//! The one integration-test binary: each module covers one area, on fixtures under tests/data
//! (copied from ../shared with their licence notes).
mod pcap;
mod tls;
