//! Packet sources: one module per source.

pub mod af_packet;
pub mod af_xdp;
pub mod cbpf;
pub mod pcap_file;
pub mod sys;
