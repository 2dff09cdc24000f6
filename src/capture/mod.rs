//! Packet sources: one module per source.

pub mod pcap_file;
