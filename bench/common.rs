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
            // 3.3 Mpps: the pace of a busy capture core
            ts_ns: 1 + i as u64 * 300,
            vlan: 0,
            iface: 0,
            gso_size: 0,
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
/// random, and each a packet of its own (its IP id and TCP sequence
/// number are its place in the ring), as on a wire.
pub fn ring_64(flows: usize, packets: usize) -> Ring {
    let mut rng = Rng::new(42);
    let mut data = Vec::with_capacity(packets * 64);
    for i in 0..packets {
        let mut f = frame_of(rng.below(flows as u64) as u32);
        f[18..20].copy_from_slice(&(i as u16).to_be_bytes());
        f[38..42].copy_from_slice(&(i as u32).to_be_bytes());
        data.extend_from_slice(&f);
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

/// The IMIX mix as mirror sessions deliver it: each frame in one of
/// ERSPAN II, ERSPAN III, VXLAN, GENEVE, GRE or IP-in-IP, or ERSPAN
/// carrying VXLAN, in turn.
pub fn tunnelled_frames() -> Vec<Vec<u8>> {
    use synth::tunnel::{Outer, Wrap};
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src[..4].copy_from_slice(&[192, 0, 2, 1]);
    dst[..4].copy_from_slice(&[192, 0, 2, 2]);
    let o = Outer {
        v6: false,
        src,
        dst,
        tags: &[(0x8100, 10)],
        ttl: 64,
    };
    let wraps = [
        Wrap::ErspanII {
            vlan: 0,
            session: 1,
        },
        Wrap::ErspanIII {
            session: 1,
            subheader: true,
        },
        Wrap::Vxlan { vni: 1, port: 4789 },
        Wrap::Geneve {
            vni: 1,
            option_words: 2,
        },
        Wrap::GreTeb {
            key: Some(1),
            seq: None,
            checksum: false,
        },
        Wrap::Ipip,
    ];
    imix_frames()
        .iter()
        .enumerate()
        .map(|(i, f)| match i % (wraps.len() + 1) {
            n if n < wraps.len() => o.wrap(wraps[n], f, i as u32),
            _ => o.wrap(wraps[0], &o.wrap(wraps[2], f, i as u32), i as u32),
        })
        .collect()
}
