//! Native capture decoding: pure, bounded application-layer parsers used by the flow decoder.

pub mod http;
pub mod tls;
