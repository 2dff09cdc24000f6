//! A mirror port's capture, as a switch and a cloud mirror deliver it:
//! conversations raw, in every tunnel the parser opens (over IPv4 and
//! IPv6, with VLAN, QinQ or MPLS outside), nested, and copied, with the
//! truth per inner directed host pair computed while writing.

use super::{PerPair, Rec, synth};
use ringflow::parse::Encap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use synth::tunnel::{Outer, Wrap, set_ttl};
use synth::{FlowDesc, Rng};

/// Every way a packet is delivered, raw first.
pub fn deliveries() -> Vec<Option<Wrap>> {
    std::iter::once(None)
        .chain(synth::tunnel::every_wrap().into_iter().map(Some))
        .collect()
}

/// What a capture holds and what counting it must give.
#[derive(Default)]
pub struct MirrorCapture {
    pub recs: Vec<Rec>,
    /// Every copy counted.
    pub all: PerPair,
    /// The inner IP packets' bytes per pair, every copy counted.
    pub ip_bytes: std::collections::BTreeMap<(String, String), u64>,
    /// Copies within the window counted once.
    pub dedup: PerPair,
    /// Per tunnel kind ([`Encap::ALL`] order): packets through one and the
    /// bytes it took, every copy counted.
    pub decap: [(u64, u64); Encap::COUNT],
    /// Copies a dedup window of 1 ms drops.
    pub copies: u64,
    /// Packets delivered raw, in one tunnel, in two.
    pub by_depth: [u64; 3],
}

fn addr(v6: bool, a: [u8; 16]) -> String {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(a)).to_string()
    } else {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])).to_string()
    }
}

/// The link-layer length of an untagged or tagged inner frame.
fn l2_len(frame: &[u8]) -> usize {
    let mut at = 12;
    while matches!(frame.get(at..at + 2), Some([0x81, 0x00] | [0x88, 0xa8])) {
        at += 4;
    }
    at + 2
}

/// Makes a frame of a flow unique: its IPv4 id, and a counter in its
/// transport header (TCP sequence number, or the UDP payload).
fn stamp(frame: &mut [u8], f: &FlowDesc, n: u32) {
    let ip = l2_len(frame);
    let l4 = if f.v6 {
        ip + 40
    } else {
        frame[ip + 4..ip + 6].copy_from_slice(&(n as u16).to_be_bytes());
        ip + 20
    };
    let at = if f.udp { l4 + 8 } else { l4 + 4 };
    frame[at..at + 4].copy_from_slice(&n.to_be_bytes());
    set_ttl(&mut frame[ip..], 64);
}

/// The outer endpoints and tags of the `i`-th session: IPv4 or IPv6,
/// untagged, tagged or QinQ.
fn outer(i: u64) -> Outer {
    const TAGS: [&[(u16, u16)]; 3] = [&[], &[(0x8100, 100)], &[(0x88a8, 10), (0x8100, 20)]];
    let v6 = i % 2 == 1;
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    if v6 {
        src[..4].copy_from_slice(&[0xfd, 0x00, 0x02, 0x13]);
        src[15] = 1 + (i % 3) as u8;
        dst[..4].copy_from_slice(&[0xfd, 0x00, 0x02, 0x13]);
        dst[15] = 200;
    } else {
        src.copy_from_slice(&[0; 16]);
        src[..4].copy_from_slice(&[192, 0, 2, 1 + (i % 3) as u8]);
        dst[..4].copy_from_slice(&[192, 0, 2, 200]);
    }
    Outer {
        v6,
        src,
        dst,
        tags: TAGS[(i / 2 % 3) as usize],
        ttl: 60,
    }
}

/// One delivery of `raw`: the frame on the wire, what it counts for, and
/// what its tunnels took (kind, bytes), outermost first.
struct Delivered {
    frame: Vec<u8>,
    counted: u64,
    /// The inner IP packet's length.
    ip: u64,
    stripped: Vec<(Encap, u64)>,
}

fn deliver(raw: &[u8], how: Option<Wrap>, nested: bool, session: u64, seq: u32) -> Delivered {
    let o = outer(session);
    let kind = |w: Wrap| Encap::from_name(w.kind()).expect("a kind");
    let mpls = session % 7 == 3;
    let finish = |mut frame: Vec<u8>| {
        if mpls {
            // MPLS outside: the label stack between Ethernet and IP
            let at = l2_len(&frame);
            let ip = frame.split_off(at);
            frame.truncate(at - 2);
            frame.extend_from_slice(&0x8847u16.to_be_bytes());
            frame.extend_from_slice(&synth::mpls(&[1000, 2000], &ip));
        }
        frame
    };
    let Some(w) = how else {
        return Delivered {
            frame: raw.to_vec(),
            counted: raw.len() as u64,
            ip: (raw.len() - l2_len(raw)) as u64,
            stripped: Vec::new(),
        };
    };
    let counted = if w.carries_ethernet() {
        raw.len()
    } else {
        raw.len() - l2_len(raw)
    } as u64;
    if nested && w.carries_ethernet() {
        // an ERSPAN session carrying a cloud mirror's VXLAN
        let vx = outer(session + 1).wrap(
            Wrap::Vxlan {
                vni: 42,
                port: 4789,
            },
            raw,
            seq,
        );
        let frame = finish(o.wrap(w, &vx, seq));
        let stripped = vec![
            (kind(w), (frame.len() - vx.len()) as u64),
            (Encap::Vxlan, (vx.len() - raw.len()) as u64),
        ];
        return Delivered {
            frame,
            counted,
            ip: (raw.len() - l2_len(raw)) as u64,
            stripped,
        };
    }
    let frame = finish(o.wrap(w, raw, seq));
    let stripped = vec![(kind(w), frame.len() as u64 - counted)];
    Delivered {
        frame,
        counted,
        ip: (raw.len() - l2_len(raw)) as u64,
        stripped,
    }
}

impl MirrorCapture {
    fn count(&mut self, f: &FlowDesc, from_client: bool, d: &Delivered, copy: bool) {
        let (s, t) = if from_client {
            (f.client, f.server)
        } else {
            (f.server, f.client)
        };
        let key = (addr(f.v6, s), addr(f.v6, t));
        let e = self.all.entry(key.clone()).or_default();
        e.0 += 1;
        e.1 += d.counted;
        *self.ip_bytes.entry(key.clone()).or_default() += d.ip;
        if copy {
            self.copies += 1;
        } else {
            let e = self.dedup.entry(key).or_default();
            e.0 += 1;
            e.1 += d.counted;
        }
        for (k, n) in &d.stripped {
            self.decap[*k as usize].0 += 1;
            self.decap[*k as usize].1 += n;
        }
        self.by_depth[d.stripped.len()] += 1;
    }
}

/// `packets` originals over `flows` conversations, one every 100 µs from
/// `start_ns`; about a quarter copied once or twice 5 to 40 µs later (TTL
/// one lower, other tags, raw and tunnelled); decoys that are not copies:
/// the same packet with another IPv4 id 10 µs later, and the same packet
/// again 2 ms later.
pub fn mirror_capture(flows: u32, packets: u32, seed: u64, start_ns: u64) -> MirrorCapture {
    let mut rng = Rng::new(seed);
    let descs: Vec<FlowDesc> = (0..flows)
        .map(|i| {
            let v6 = i % 3 == 2;
            let mut c = [0u8; 16];
            let mut s = [0u8; 16];
            if v6 {
                c[..2].copy_from_slice(&[0xfd, 0x0a]);
                c[14..].copy_from_slice(&(i as u16).to_be_bytes());
                s[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                s[15] = (i % 5) as u8 + 1;
            } else {
                c[..4].copy_from_slice(&[10, 20, (i >> 8) as u8, i as u8]);
                s[..4].copy_from_slice(&[198, 51, 100, (i % 5) as u8 + 1]);
            }
            FlowDesc {
                v6,
                client: c,
                server: s,
                client_port: 40000 + i as u16,
                server_port: [443, 53, 22][i as usize % 3],
                udp: i % 3 == 1,
                vlan: (i % 4 == 0).then_some(300 + i as u16),
            }
        })
        .collect();
    let ways = deliveries();
    let mut cap = MirrorCapture::default();
    let mut seq = 0u32;
    for n in 0..packets {
        let ts = start_ns + u64::from(n) * 100_000;
        let f = descs[rng.below(u64::from(flows)) as usize];
        let from_client = rng.below(2) == 0;
        let len = 100 + rng.below(1200) as usize;
        let mut raw = f.frame(from_client, synth::tcp_flags::ACK, len);
        seq += 1;
        stamp(&mut raw, &f, seq);
        let how = ways[rng.below(ways.len() as u64) as usize];
        let nested = rng.below(4) == 0;
        let session = rng.below(6);
        let d = deliver(&raw, how, nested, session, seq);
        cap.count(&f, from_client, &d, false);
        cap.recs.push(Rec {
            ts_ns: ts,
            frame: d.frame,
            caplen: None,
        });
        match rng.below(8) {
            // copies: TTL one lower at each further port, another way
            0 | 1 => {
                let copies = 1 + rng.below(2);
                let mut lower = raw.clone();
                for c in 0..copies {
                    let ip = l2_len(&lower);
                    let ttl = 63 - c as u8;
                    set_ttl(&mut lower[ip..], ttl);
                    // raw with another tag, or in another tunnel
                    let how = if rng.below(2) == 0 {
                        None
                    } else {
                        ways[1 + rng.below(ways.len() as u64 - 1) as usize]
                    };
                    let mut frame = lower.clone();
                    if how.is_none() && f.vlan.is_none() {
                        // tagged on this port
                        let et = u16::from_be_bytes([lower[12], lower[13]]);
                        frame = synth::ethernet(&[(0x8100, 7)], et, &lower[14..]);
                    }
                    let d = deliver(&frame, how, false, session + 1 + c, seq);
                    cap.count(&f, from_client, &d, true);
                    cap.recs.push(Rec {
                        ts_ns: ts + 5_000 + rng.below(35_000),
                        frame: d.frame,
                        caplen: None,
                    });
                }
            }
            // the same payload with another IPv4 id: not a copy
            2 if !f.v6 => {
                let mut other = raw.clone();
                let ip = l2_len(&other);
                other[ip + 4] ^= 0x80;
                set_ttl(&mut other[ip..], 64);
                let d = deliver(&other, how, false, session, seq);
                cap.count(&f, from_client, &d, false);
                cap.recs.push(Rec {
                    ts_ns: ts + 10_000,
                    frame: d.frame,
                    caplen: None,
                });
            }
            // the same packet after the window: counted again
            3 => {
                let d = deliver(&raw, how, false, session, seq);
                cap.count(&f, from_client, &d, false);
                cap.recs.push(Rec {
                    ts_ns: ts + 2_000_000,
                    frame: d.frame,
                    caplen: None,
                });
            }
            _ => {}
        }
    }
    cap.recs.sort_by_key(|r| r.ts_ns);
    cap
}

/// Tunnels that must not be opened (broken headers, PPTP's GRE, a nest
/// too deep), each counted as the packet that carried it: the outer
/// pair's truth, and the parse errors (layer, reason) they must add.
/// The capture of [`broken_capture`] and what it must give.
pub struct Broken {
    pub recs: Vec<Rec>,
    pub truth: PerPair,
    /// (layer, reason) of each parse error it must add, once each.
    pub errors: Vec<(String, String)>,
}

/// A frame, and the parse error (layer, reason) it must add.
type Case = (Vec<u8>, Option<(&'static str, &'static str)>);

pub fn broken_capture(start_ns: u64) -> Broken {
    let f = FlowDesc {
        v6: false,
        client: {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[10, 77, 0, 1]);
            a
        },
        server: {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[10, 77, 0, 2]);
            a
        },
        client_port: 1234,
        server_port: 80,
        udp: false,
        vlan: None,
    };
    let raw = f.frame(true, synth::tcp_flags::ACK, 200);
    let o = outer(0);
    let mut frames: Vec<Case> = Vec::new();
    frames.push((
        o.frame(47, &[0x20, 0x00, 0x65, 0x58, 0], 1),
        Some(("gre", "truncated")),
    ));
    frames.push((o.frame(47, &[0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0], 2), None));
    let (_, mut g) = synth::tunnel::payload(
        Wrap::ErspanII {
            vlan: 0,
            session: 1,
        },
        &raw,
        false,
        1,
    );
    g[8] = 0x20;
    frames.push((o.frame(47, &g, 3), Some(("erspan", "bad_version"))));
    let mut opts = vec![0x3f, 0, 0x65, 0x58, 0, 0, 1, 0];
    opts.extend_from_slice(&[0; 20]);
    frames.push((
        o.frame(17, &synth::tunnel::with_udp(1, 6081, &opts), 4),
        Some(("geneve", "truncated")),
    ));
    let (_, mut v) = synth::tunnel::payload(Wrap::Vxlan { vni: 1, port: 4789 }, &raw, false, 1);
    v.truncate(8 + 8 + 14 + 10);
    frames.push((o.frame(17, &v, 5), Some(("vxlan", "bad_inner"))));
    // four tunnels deep
    let mut deep = raw.clone();
    for s in 0..4 {
        deep = o.wrap(
            Wrap::GreTeb {
                key: None,
                seq: None,
                checksum: false,
            },
            &deep,
            s,
        );
    }
    frames.push((deep, Some(("tunnel", "too_deep"))));
    let mut truth = PerPair::new();
    let mut errors = Vec::new();
    let mut recs = Vec::new();
    for (i, (frame, err)) in frames.into_iter().enumerate() {
        let e = truth
            .entry((addr(false, o.src), addr(false, o.dst)))
            .or_default();
        e.0 += 1;
        e.1 += frame.len() as u64;
        if let Some((l, r)) = err {
            errors.push((l.to_string(), r.to_string()));
        }
        recs.push(Rec {
            ts_ns: start_ns + i as u64 * 1000,
            frame,
            caplen: None,
        });
    }
    Broken {
        recs,
        truth,
        errors,
    }
}
