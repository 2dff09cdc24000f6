//! Packet sets shared by the benches.

#![allow(dead_code)]

use ringflow::capture::Frame;
use ringflow::parse::LinkType;
use ringflow::tools::synth::{self, FlowDesc, Rng};

/// Packets laid out back to back in one buffer, in arrival order, the way
/// a capture ring holds them.
pub struct Ring {
    pub data: Vec<u8>,
    pub frame_len: usize,
    pub packets: usize,
}

impl Ring {
    pub fn frames(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = Frame<'_>> {
        let n = self.frame_len;
        range.map(move |i| Frame {
            link: LinkType::Ethernet,
            data: &self.data[i * n..(i + 1) * n],
            orig_len: n as u32,
            ts_ns: 1,
            vlan: 0,
            iface: 0,
        })
    }
}

fn frame_of(i: u32) -> Vec<u8> {
    let mut client = [0u8; 16];
    client[..4].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
    let mut server = [0u8; 16];
    server[..4].copy_from_slice(&[198, 51, 100, (i % 7) as u8]);
    FlowDesc {
        v6: false,
        client,
        server,
        client_port: 1024 + (i % 60000) as u16,
        server_port: 443,
        udp: false,
        vlan: None,
    }
    .frame(true, synth::tcp_flags::PSH_ACK, 64)
}

/// `packets` 64-byte IPv4/TCP frames, each of one of `flows` flows drawn at
/// random.
pub fn ring_64(flows: usize, packets: usize) -> Ring {
    let mut rng = Rng::new(42);
    let mut data = Vec::with_capacity(packets * 64);
    for _ in 0..packets {
        data.extend_from_slice(&frame_of(rng.below(flows as u64) as u32));
    }
    Ring {
        data,
        frame_len: 64,
        packets,
    }
}

/// The IPv4/IPv6/VLAN IMIX mix: 4096 frames of 1024 conversations, few
/// enough to stay in cache, so the benches measure work, not DRAM.
pub fn imix_frames() -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    synth::Mix {
        flows: 1024,
        packets: 1 << 12,
        ipv6_percent: 40,
        vlan_percent: 30,
        udp_percent: 25,
        frame_size: 0,
        seed: 5,
    }
    .for_each_frame(|_, _, f| frames.push(f.to_vec()));
    frames
}
