//! Capture input (pcap and pcapng): decoded natively into model records. Owned by the capture
//! decoder work; this placeholder only reserves the module.
