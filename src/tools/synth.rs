//! Building frames and pcap files from a description: for tests, benches,
//! the sample capture, and traffic generation. Nothing here parses; what a
//! frame contains is known from how it was built.

use std::io::{self, Write};

/// Locally administered MACs, never a real interface's.
pub const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x21, 0x30, 0x01];
pub const DST_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x21, 0x30, 0x02];

pub mod tcp_flags {
    pub const SYN: u8 = 0x02;
    pub const ACK: u8 = 0x10;
    pub const PSH_ACK: u8 = 0x18;
    pub const SYN_ACK: u8 = 0x12;
}

/// Internet checksum over `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet II frame with optional VLAN tags, given as (TPID, VID),
/// outermost first.
pub fn ethernet(tags: &[(u16, u16)], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + 4 * tags.len() + payload.len());
    f.extend_from_slice(&DST_MAC);
    f.extend_from_slice(&SRC_MAC);
    for (tpid, vid) in tags {
        f.extend_from_slice(&tpid.to_be_bytes());
        f.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An IPv4 packet. `frag` is (more fragments, offset in 8-byte units).
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, frag: (bool, u16), payload: &[u8]) -> Vec<u8> {
    ipv4_with_id(src, dst, proto, 0x1234, frag, payload)
}

/// [`ipv4`] with the given identification field.
pub fn ipv4_with_id(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    id: u16,
    frag: (bool, u16),
    payload: &[u8],
) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let flags_frag = (u16::from(frag.0) << 13) | (frag.1 & 0x1fff);
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&flags_frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let c = checksum(&p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 packet; `ext` is the extension header bytes, `next` the first
/// next-header value.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], next: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((ext.len() + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(ext);
    p.extend_from_slice(payload);
    p
}

/// A TCP segment with `payload_len` zero bytes of data.
pub fn tcp(sp: u16, dp: u16, flags: u8, payload_len: usize) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload_len);
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.resize(20 + payload_len, 0);
    t
}

/// A UDP datagram with `payload_len` zero bytes of data.
pub fn udp(sp: u16, dp: u16, payload_len: usize) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload_len);
    u.extend_from_slice(&sp.to_be_bytes());
    u.extend_from_slice(&dp.to_be_bytes());
    u.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.resize(8 + payload_len, 0);
    u
}

/// An ICMP or ICMPv6 message with `payload_len` bytes after the 8-byte header.
pub fn icmp(msg_type: u8, code: u8, payload_len: usize) -> Vec<u8> {
    let mut m = vec![msg_type, code, 0, 0, 0, 1, 0, 1];
    m.resize(8 + payload_len, 0);
    let c = checksum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An MPLS label stack (bottom-of-stack set on the last label) before `payload`.
pub fn mpls(labels: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let bos = u32::from(i + 1 == labels.len());
        m.extend_from_slice(&((l << 12) | (bos << 8) | 64).to_be_bytes());
    }
    m.extend_from_slice(payload);
    m
}

/// A PPPoE session frame body carrying `ppp_proto`.
pub fn pppoe(session: u16, ppp_proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x11, 0x00];
    p.extend_from_slice(&session.to_be_bytes());
    p.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    p.extend_from_slice(&ppp_proto.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// A Linux cooked v1 header before `payload`.
pub fn sll(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0, 0, 0, 1, 0, 6];
    h.extend_from_slice(&SRC_MAC);
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(&protocol.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// A Linux cooked v2 header before `payload`.
pub fn sll2(protocol: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = protocol.to_be_bytes().to_vec();
    h.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
    h.extend_from_slice(&SRC_MAC);
    h.extend_from_slice(&[0, 0]);
    h.extend_from_slice(payload);
    h
}

/// Writes a classic pcap file.
pub struct PcapWriter<W: Write> {
    w: W,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header for `linktype`, with nanosecond timestamps if
    /// `nanos`.
    pub fn new(mut w: W, linktype: u32, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        w.write_all(&magic.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        w.write_all(&[0; 8])?;
        w.write_all(&262_144u32.to_le_bytes())?;
        w.write_all(&linktype.to_le_bytes())?;
        Ok(PcapWriter { w, nanos })
    }

    /// Writes one record; `snaplen` cuts the stored bytes, the original
    /// length stays the frame's.
    pub fn write(&mut self, ts_ns: u64, frame: &[u8], snaplen: usize) -> io::Result<()> {
        let cap = frame.len().min(snaplen);
        let sec = (ts_ns / 1_000_000_000) as u32;
        let frac = (ts_ns % 1_000_000_000) as u32;
        let frac = if self.nanos { frac } else { frac / 1000 };
        self.w.write_all(&sec.to_le_bytes())?;
        self.w.write_all(&frac.to_le_bytes())?;
        self.w.write_all(&(cap as u32).to_le_bytes())?;
        self.w.write_all(&(frame.len() as u32).to_le_bytes())?;
        self.w.write_all(&frame[..cap])
    }

    pub fn into_inner(self) -> W {
        self.w
    }
}

/// `ringflow synth`: writes the mix `args` describes as a classic pcap
/// file, one packet per microsecond; errors name the file.
pub fn write_capture(args: &crate::config::SynthArgs) -> Result<(), String> {
    let mix = Mix {
        flows: args.flows,
        packets: args.packets,
        ipv6_percent: args.ipv6_percent,
        vlan_percent: args.vlan_percent,
        udp_percent: args.udp_percent,
        frame_size: args.frame_size,
        seed: args.seed,
    };
    let fail = |e: io::Error| format!("cannot write {}: {e}", args.out);
    let file =
        std::fs::File::create(&args.out).map_err(|e| format!("cannot create {}: {e}", args.out))?;
    let mut w = PcapWriter::new(io::BufWriter::new(file), 1, false).map_err(fail)?;
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut err = None;
    mix.for_each_frame(|_, _, frame| {
        if err.is_none() {
            err = w.write(ts, frame, usize::MAX).err();
        }
        ts += 1000;
    });
    if let Some(e) = err {
        return Err(fail(e));
    }
    w.into_inner().flush().map_err(fail)
}

/// A small xorshift generator: reproducible traffic from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// A traffic mix: `flows` client/server conversations, IPv4 and IPv6,
/// some VLAN-tagged, TCP (opened with a SYN) and UDP, `packets` frames in
/// all, both directions.
#[derive(Debug, Clone)]
pub struct Mix {
    pub flows: u32,
    pub packets: u64,
    /// Percent of flows over IPv6.
    pub ipv6_percent: u8,
    /// Percent of flows with an 802.1Q tag.
    pub vlan_percent: u8,
    /// Percent of flows over UDP; the others are TCP.
    pub udp_percent: u8,
    /// Frame size for data packets; 0 picks sizes from an IMIX (64, 576, 1500 in 7:4:1).
    pub frame_size: usize,
    pub seed: u64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            flows: 100,
            packets: 10_000,
            ipv6_percent: 25,
            vlan_percent: 10,
            udp_percent: 25,
            frame_size: 0,
            seed: 1,
        }
    }
}

/// One generated conversation.
#[derive(Debug, Clone, Copy)]
pub struct FlowDesc {
    pub v6: bool,
    pub client: [u8; 16],
    pub server: [u8; 16],
    pub client_port: u16,
    pub server_port: u16,
    pub udp: bool,
    pub vlan: Option<u16>,
}

impl FlowDesc {
    /// Builds one frame of this conversation, `len` bytes long when `len`
    /// is large enough for the headers.
    pub fn frame(&self, from_client: bool, tcp_flags: u8, len: usize) -> Vec<u8> {
        let (s, d, sp, dp) = if from_client {
            (self.client, self.server, self.client_port, self.server_port)
        } else {
            (self.server, self.client, self.server_port, self.client_port)
        };
        let l2 = 14 + if self.vlan.is_some() { 4 } else { 0 };
        let l3 = if self.v6 { 40 } else { 20 };
        let l4 = if self.udp { 8 } else { 20 };
        let data = len.saturating_sub(l2 + l3 + l4);
        let seg = if self.udp {
            udp(sp, dp, data)
        } else {
            tcp(sp, dp, tcp_flags, data)
        };
        let proto = if self.udp { 17 } else { 6 };
        let (et, ip) = if self.v6 {
            (0x86dd, ipv6(s, d, proto, &[], &seg))
        } else {
            let v4 = |a: [u8; 16]| [a[0], a[1], a[2], a[3]];
            (0x0800, ipv4(v4(s), v4(d), proto, (false, 0), &seg))
        };
        let tags: Vec<(u16, u16)> = self.vlan.map(|v| (0x8100, v)).into_iter().collect();
        ethernet(&tags, et, &ip)
    }
}

/// Largest IP payload of one fragment [`FlowDesc::fragments`] builds.
pub const FRAGMENT_PAYLOAD: usize = 512;

impl FlowDesc {
    /// One UDP datagram of this conversation, as large as a `len`-byte
    /// frame would carry (with at least 8 bytes of data), sent as IP
    /// fragments: IPv4 with the more-fragments flag and offsets, IPv6 with
    /// a Fragment header. The UDP header and data are cut into at least
    /// two pieces of at most [`FRAGMENT_PAYLOAD`] bytes (multiples of 8
    /// but the last); only the first carries the UDP header, so only the
    /// first has ports. `id` is the datagram's identification.
    pub fn fragments(&self, from_client: bool, len: usize, id: u32) -> Vec<Vec<u8>> {
        let (s, d, sp, dp) = if from_client {
            (self.client, self.server, self.client_port, self.server_port)
        } else {
            (self.server, self.client, self.server_port, self.client_port)
        };
        let l2 = 14 + if self.vlan.is_some() { 4 } else { 0 };
        let l3 = if self.v6 { 40 + 8 } else { 20 };
        let data = len.saturating_sub(l2 + l3 + 8).max(8);
        let datagram = udp(sp, dp, data);
        let pieces = datagram.len().div_ceil(FRAGMENT_PAYLOAD).max(2);
        let chunk = datagram.len().div_ceil(pieces).next_multiple_of(8);
        let tags: Vec<(u16, u16)> = self.vlan.map(|v| (0x8100, v)).into_iter().collect();
        let last = datagram.len().div_ceil(chunk) - 1;
        datagram
            .chunks(chunk)
            .enumerate()
            .map(|(i, piece)| {
                let offset = (i * chunk / 8) as u16;
                let more = i < last;
                if self.v6 {
                    let mut ext = vec![17, 0];
                    ext.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
                    ext.extend_from_slice(&id.to_be_bytes());
                    ethernet(&tags, 0x86dd, &ipv6(s, d, 44, &ext, piece))
                } else {
                    let v4 = |a: [u8; 16]| [a[0], a[1], a[2], a[3]];
                    let ip = ipv4_with_id(v4(s), v4(d), 17, id as u16, (more, offset), piece);
                    ethernet(&tags, 0x0800, &ip)
                }
            })
            .collect()
    }
}

impl Mix {
    /// The conversations of this mix.
    pub fn flow_descs(&self) -> Vec<FlowDesc> {
        let mut rng = Rng::new(self.seed);
        (0..self.flows.max(1))
            .map(|i| {
                let v6 = rng.below(100) < u64::from(self.ipv6_percent);
                let mut client = [0u8; 16];
                let mut server = [0u8; 16];
                if v6 {
                    client[..8].copy_from_slice(&[0xfd, 0, 0x02, 0x13, 0, 0, 0, 0]);
                    client[8..12].copy_from_slice(&i.to_be_bytes());
                    client[15] = 1;
                    server[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                    server[12..16].copy_from_slice(&(rng.next_u64() as u32).to_be_bytes());
                } else {
                    client[..4].copy_from_slice(&[10, 213, (i >> 8) as u8, i as u8]);
                    let r = rng.next_u64();
                    server[..4].copy_from_slice(&[198, 51, (r >> 8) as u8, r as u8]);
                }
                let udp = rng.below(100) < u64::from(self.udp_percent);
                let services: [u16; 6] = [443, 80, 53, 22, 8080, 5201];
                FlowDesc {
                    v6,
                    client,
                    server,
                    client_port: 32768 + (i % 28000) as u16,
                    server_port: services[rng.below(services.len() as u64) as usize],
                    udp,
                    vlan: (rng.below(100) < u64::from(self.vlan_percent))
                        .then(|| 100 + rng.below(10) as u16),
                }
            })
            .collect()
    }

    /// Calls `f(flow index, from_client, frame)` for every frame of the mix,
    /// in order. Each conversation starts with a client packet (a SYN for
    /// TCP); after that directions alternate 2:1.
    pub fn for_each_frame(&self, mut f: impl FnMut(usize, bool, &[u8])) {
        let flows = self.flow_descs();
        let mut rng = Rng::new(self.seed ^ 0xabcd);
        let mut started = vec![false; flows.len()];
        for n in 0..self.packets {
            let i = (n % flows.len() as u64) as usize;
            let fd = &flows[i];
            let (from_client, flags) = if !started[i] {
                started[i] = true;
                (true, tcp_flags::SYN)
            } else {
                (rng.below(3) != 0, tcp_flags::PSH_ACK)
            };
            let len = match self.frame_size {
                0 => match rng.below(12) {
                    0..=6 => 64,
                    7..=10 => 576,
                    _ => 1500,
                },
                s => s,
            };
            f(i, from_client, &fd.frame(from_client, flags, len));
        }
    }

    /// The whole mix as a classic pcap file in memory, one packet per
    /// microsecond from `start_ns`.
    pub fn to_pcap(&self, start_ns: u64) -> Vec<u8> {
        let mut w = PcapWriter::new(Vec::new(), 1, false).expect("writing to memory");
        let mut ts = start_ns;
        self.for_each_frame(|_, _, frame| {
            w.write(ts, frame, usize::MAX).expect("writing to memory");
            ts += 1000;
        });
        w.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 17, (false, 0), &udp(1, 2, 0));
        assert_eq!(checksum(&p[..20]), 0);
        assert_eq!(p.len(), 28);
    }

    #[test]
    fn frames_have_the_asked_length() {
        let m = Mix {
            flows: 20,
            packets: 200,
            ipv6_percent: 0,
            vlan_percent: 0,
            ..Mix::default()
        };
        let mut sizes = std::collections::BTreeSet::new();
        m.for_each_frame(|_, _, f| {
            sizes.insert(f.len());
        });
        assert_eq!(
            sizes.into_iter().collect::<Vec<_>>(),
            vec![64, 576, 1500],
            "IMIX sizes"
        );
    }

    #[test]
    fn fragments_carry_one_datagram() {
        let mut d = Mix {
            flows: 1,
            ..Mix::default()
        }
        .flow_descs()[0];
        d.udp = true;
        for (v6, vlan, len, pieces) in [
            (false, None, 64, 2),
            (true, None, 64, 2),
            (false, Some(7), 1500, 3),
            (true, None, 1500, 3),
        ] {
            d.v6 = v6;
            d.vlan = vlan;
            let frags = d.fragments(true, len, 0x0102_0304);
            assert_eq!(frags.len(), pieces, "{v6} {len}");
            let l2 = if vlan.is_some() { 18 } else { 14 };
            let mut next = 0;
            let mut total = 0;
            for (i, f) in frags.iter().enumerate() {
                let ip = &f[l2..];
                let (offset, more, payload) = if v6 {
                    assert_eq!(ip[6], 44, "next header: fragment");
                    assert_eq!(ip[40], 17, "then UDP");
                    assert_eq!(ip[44..48], [1, 2, 3, 4], "identification");
                    let w = u16::from_be_bytes([ip[42], ip[43]]);
                    (usize::from(w >> 3) * 8, w & 1 == 1, &ip[48..])
                } else {
                    assert_eq!(checksum(&ip[..20]), 0);
                    assert_eq!(ip[4..6], [3, 4], "identification");
                    let w = u16::from_be_bytes([ip[6], ip[7]]);
                    (usize::from(w & 0x1fff) * 8, w & 0x2000 != 0, &ip[20..])
                };
                assert_eq!(offset, next, "fragment {i}");
                assert_eq!(more, i + 1 < frags.len(), "fragment {i}");
                assert!(payload.len() <= FRAGMENT_PAYLOAD);
                next += payload.len();
                total += payload.len();
            }
            // the UDP length field covers exactly what the fragments carry
            let first = &frags[0][l2 + if v6 { 48 } else { 20 }..];
            assert_eq!(usize::from(u16::from_be_bytes([first[4], first[5]])), total);
        }
    }

    #[test]
    fn mix_is_reproducible() {
        let m = Mix::default();
        assert_eq!(m.to_pcap(0), m.to_pcap(0));
    }
}

/// Tunnels around a frame or packet, as mirror sessions, cloud traffic
/// mirroring and router links send them: for tests, benches and the
/// synthetic capture of every encapsulation the parser opens.
pub mod tunnel {
    use super::{ethernet, ipv4_with_id, ipv6, udp};

    /// How a mirrored or routed packet is wrapped.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Wrap {
        /// ERSPAN type I: GRE 0x88BE without a sequence number.
        ErspanI,
        /// ERSPAN type II (GRE with a sequence number, 8-byte header).
        ErspanII {
            vlan: u16,
            session: u16,
        },
        /// ERSPAN type III, with or without the platform sub-header.
        ErspanIII {
            session: u16,
            subheader: bool,
        },
        Vxlan {
            vni: u32,
            port: u16,
        },
        /// GENEVE with this many 4-byte words of options, carrying Ethernet.
        Geneve {
            vni: u32,
            option_words: u8,
        },
        /// GENEVE carrying the IP packet directly.
        GeneveIp {
            vni: u32,
        },
        /// GRE carrying Ethernet (0x6558), with the optional fields given.
        GreTeb {
            key: Option<u32>,
            seq: Option<u32>,
            checksum: bool,
        },
        /// GRE carrying the IP packet.
        GreIp {
            key: Option<u32>,
        },
        /// IPv4 or IPv6 directly in IP (protocol 4 or 41).
        Ipip,
    }

    impl Wrap {
        /// Whether what it carries is an Ethernet frame (else the IP packet).
        pub fn carries_ethernet(self) -> bool {
            !matches!(
                self,
                Wrap::GreIp { .. } | Wrap::Ipip | Wrap::GeneveIp { .. }
            )
        }

        /// The name of its kind in `--decap`.
        pub fn kind(self) -> &'static str {
            match self {
                Wrap::ErspanI | Wrap::ErspanII { .. } | Wrap::ErspanIII { .. } => "erspan",
                Wrap::Vxlan { .. } => "vxlan",
                Wrap::Geneve { .. } | Wrap::GeneveIp { .. } => "geneve",
                Wrap::GreTeb { .. } | Wrap::GreIp { .. } => "gre",
                Wrap::Ipip => "ipip",
            }
        }
    }

    /// One of each way a packet is wrapped, with the variants the parser
    /// must tell apart (ERSPAN III with and without its sub-header, GENEVE
    /// with and without options, GRE with and without its optional fields
    /// or key): what the tests run every tunnel through.
    pub fn every_wrap() -> Vec<Wrap> {
        vec![
            Wrap::ErspanI,
            Wrap::ErspanII {
                vlan: 10,
                session: 5,
            },
            Wrap::ErspanIII {
                session: 6,
                subheader: false,
            },
            Wrap::ErspanIII {
                session: 7,
                subheader: true,
            },
            Wrap::Vxlan {
                vni: 77,
                port: 4789,
            },
            Wrap::Geneve {
                vni: 9,
                option_words: 0,
            },
            Wrap::Geneve {
                vni: 9,
                option_words: 3,
            },
            Wrap::GeneveIp { vni: 11 },
            Wrap::GreTeb {
                key: Some(1),
                seq: Some(2),
                checksum: true,
            },
            Wrap::GreTeb {
                key: None,
                seq: None,
                checksum: false,
            },
            Wrap::GreIp { key: None },
            Wrap::GreIp { key: Some(5) },
            Wrap::Ipip,
        ]
    }

    /// A GRE header (version 0) with the optional fields given, then `payload`.
    pub fn gre(
        protocol: u16,
        checksum: bool,
        key: Option<u32>,
        seq: Option<u32>,
        payload: &[u8],
    ) -> Vec<u8> {
        let flags: u16 = (u16::from(checksum) << 15)
            | (u16::from(key.is_some()) << 13)
            | (u16::from(seq.is_some()) << 12);
        let mut g = flags.to_be_bytes().to_vec();
        g.extend_from_slice(&protocol.to_be_bytes());
        if checksum {
            g.extend_from_slice(&[0; 4]);
        }
        if let Some(k) = key {
            g.extend_from_slice(&k.to_be_bytes());
        }
        if let Some(s) = seq {
            g.extend_from_slice(&s.to_be_bytes());
        }
        g.extend_from_slice(payload);
        if checksum {
            let c = super::checksum(&g);
            g[4..6].copy_from_slice(&c.to_be_bytes());
        }
        g
    }

    /// The IP payload (protocol, bytes) that wraps `inner`: an Ethernet
    /// frame when [`Wrap::carries_ethernet`], else an IP packet of version
    /// `inner_v6`'s.
    pub fn payload(wrap: Wrap, inner: &[u8], inner_v6: bool, seq: u32) -> (u8, Vec<u8>) {
        let ip_proto: u16 = if inner_v6 { 0x86dd } else { 0x0800 };
        match wrap {
            Wrap::ErspanI => (47, gre(0x88be, false, None, None, inner)),
            Wrap::ErspanII { vlan, session } => {
                let mut h = vec![0x10 | (vlan >> 8) as u8 & 0x0f, vlan as u8];
                h.extend_from_slice(&(session & 0x3ff).to_be_bytes());
                h.extend_from_slice(&[0, 0, 0, 7]);
                h.extend_from_slice(inner);
                (47, gre(0x88be, false, None, Some(seq), &h))
            }
            Wrap::ErspanIII { session, subheader } => {
                let mut h = vec![0x20, 0];
                h.extend_from_slice(&(session & 0x3ff).to_be_bytes());
                h.extend_from_slice(&seq.to_be_bytes()); // timestamp
                h.extend_from_slice(&[0, 0, 0, u8::from(subheader)]);
                if subheader {
                    h.extend_from_slice(&[0x0a, 0, 0, 0, 0, 0, 0, 1]);
                }
                h.extend_from_slice(inner);
                (47, gre(0x22eb, false, None, Some(seq), &h))
            }
            Wrap::Vxlan { vni, port } => {
                let mut v = vec![0x08, 0, 0, 0];
                v.extend_from_slice(&(vni << 8).to_be_bytes());
                v.extend_from_slice(inner);
                (17, with_udp(49152 + (seq % 1000) as u16, port, &v))
            }
            Wrap::Geneve { vni, option_words } => {
                let mut g = vec![option_words & 0x3f, 0, 0x65, 0x58];
                g.extend_from_slice(&(vni << 8).to_be_bytes());
                for w in 0..option_words {
                    g.extend_from_slice(&[0x01, 0x02, 0x80, w]);
                }
                g.extend_from_slice(inner);
                (17, with_udp(50000, 6081, &g))
            }
            Wrap::GeneveIp { vni } => {
                let mut g = vec![0, 0];
                g.extend_from_slice(&ip_proto.to_be_bytes());
                g.extend_from_slice(&(vni << 8).to_be_bytes());
                g.extend_from_slice(inner);
                (17, with_udp(50001, 6081, &g))
            }
            Wrap::GreTeb {
                key,
                seq: s,
                checksum,
            } => (47, gre(0x6558, checksum, key, s, inner)),
            Wrap::GreIp { key } => (47, gre(ip_proto, false, key, None, inner)),
            Wrap::Ipip => (if inner_v6 { 41 } else { 4 }, inner.to_vec()),
        }
    }

    /// A UDP datagram carrying `payload`.
    pub fn with_udp(sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = udp(sp, dp, 0);
        u.extend_from_slice(payload);
        let len = u.len() as u16;
        u[4..6].copy_from_slice(&len.to_be_bytes());
        u
    }

    /// The outer endpoints of a tunnel: a switch or VTEP and the monitor.
    #[derive(Debug, Clone, Copy)]
    pub struct Outer {
        pub v6: bool,
        pub src: [u8; 16],
        pub dst: [u8; 16],
        /// VLAN tags around the outer IP header, outermost first.
        pub tags: &'static [(u16, u16)],
        pub ttl: u8,
    }

    impl Outer {
        /// A switch and a monitor: 192.0.2.1 to 192.0.2.2, or fd13::1 to
        /// fd13::2, behind `tags`.
        pub fn example(v6: bool, tags: &'static [(u16, u16)]) -> Outer {
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            if v6 {
                src[..2].copy_from_slice(&[0xfd, 0x13]);
                src[15] = 1;
                dst[..2].copy_from_slice(&[0xfd, 0x13]);
                dst[15] = 2;
            } else {
                src[..4].copy_from_slice(&[192, 0, 2, 1]);
                dst[..4].copy_from_slice(&[192, 0, 2, 2]);
            }
            Outer {
                v6,
                src,
                dst,
                tags,
                ttl: 64,
            }
        }

        /// An outer Ethernet frame around `ip_payload` of protocol `proto`.
        pub fn frame(&self, proto: u8, ip_payload: &[u8], id: u16) -> Vec<u8> {
            let (et, mut ip) = if self.v6 {
                (0x86dd, ipv6(self.src, self.dst, proto, &[], ip_payload))
            } else {
                let v4 = |a: [u8; 16]| [a[0], a[1], a[2], a[3]];
                (
                    0x0800,
                    ipv4_with_id(
                        v4(self.src),
                        v4(self.dst),
                        proto,
                        id,
                        (false, 0),
                        ip_payload,
                    ),
                )
            };
            set_ttl(&mut ip, self.ttl);
            ethernet(self.tags, et, &ip)
        }

        /// `inner_frame` (an untagged Ethernet frame carrying IP) wrapped as
        /// `wrap` says, in this outer frame.
        pub fn wrap(&self, wrap: Wrap, inner_frame: &[u8], seq: u32) -> Vec<u8> {
            // the IP packet after the inner frame's tags
            let mut at = 12;
            while matches!(
                inner_frame.get(at..at + 2),
                Some([0x81, 0x00] | [0x88, 0xa8])
            ) {
                at += 4;
            }
            let inner_v6 = inner_frame.get(at..at + 2) == Some(&[0x86, 0xdd][..]);
            let inner: &[u8] = if wrap.carries_ethernet() {
                inner_frame
            } else {
                &inner_frame[at + 2..]
            };
            let (proto, p) = payload(wrap, inner, inner_v6, seq);
            self.frame(proto, &p, seq as u16)
        }
    }

    /// Sets the TTL (IPv4, its checksum made again) or hop limit (IPv6) of
    /// the IP packet `ip`.
    pub fn set_ttl(ip: &mut [u8], ttl: u8) {
        match ip.first().map(|b| b >> 4) {
            Some(4) if ip.len() >= 20 => {
                ip[8] = ttl;
                ip[10..12].copy_from_slice(&[0, 0]);
                let hl = usize::from(ip[0] & 0x0f) * 4;
                let c = super::checksum(&ip[..hl.min(ip.len())]);
                ip[10..12].copy_from_slice(&c.to_be_bytes());
            }
            Some(6) if ip.len() >= 40 => ip[7] = ttl,
            _ => {}
        }
    }
}
