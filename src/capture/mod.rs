//! Capture sources: AF_PACKET rings, AF_XDP sockets, capture files.

pub mod af_packet;
pub mod af_xdp;
pub mod cbpf;
pub mod pcap_file;
