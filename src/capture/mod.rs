//! Packet sources: one module per source.

pub mod af_packet;
pub mod pcap_file;
pub mod sys;
