//! How packets are spread over the workers: by the innermost host pair.
//!
//! A mirror port delivers a remote session (ERSPAN, VXLAN, GENEVE) as one
//! outer flow, between the switch and the appliance, and the same packet
//! more than once: raw and encapsulated, with other tags. The kernel's
//! flow hash (and a NIC's RSS) sees only the outer headers, so every
//! mirrored packet would land on one worker, and the copies of a packet on
//! different ones, where `--dedup` cannot see them together. So the spread
//! is a hash of the host pair of the innermost packet the parser counts
//! (symmetric: both directions meet), computed in the same way twice:
//!
//! - [`spread_hash`] on a parsed packet (replay, and the tests);
//! - [`fanout_program`], a classic BPF program for
//!   `PACKET_FANOUT_CBPF` (AF_PACKET with `--fanout inner`), which walks the
//!   tunnels `--decap` opens, up to [`MAX_DECAP_DEPTH`] deep, from the
//!   network header. Classic BPF needs only CAP_NET_RAW, as the rest of
//!   AF_PACKET capture does. The kernel takes its return value modulo the
//!   number of sockets in the group.
//!
//! Ports are left out: the copies of a packet share them, but fragments
//! have none, and a hash of addresses is short enough to unroll per level.

use crate::parse::{self, Decap, Encap, MAX_DECAP_DEPTH, Packet};

/// The hash of a packet's host pair (either direction) the workers are
/// spread by: the sum of its addresses' 32-bit words, mixed. A sum, not an
/// XOR: a client and a server that share their last bytes (10.0.0.7 and
/// 198.51.100.7) would cancel them out.
#[inline]
pub fn spread_hash(p: &Packet) -> u32 {
    let word = |a: &[u8; 16], i: usize| {
        u32::from_be_bytes([a[4 * i], a[4 * i + 1], a[4 * i + 2], a[4 * i + 3]])
    };
    let words = if p.version == 4 { 1 } else { 4 };
    let mut x = 0u32;
    for i in 0..words {
        x = x
            .wrapping_add(word(&p.src, i))
            .wrapping_add(word(&p.dst, i));
    }
    mix(x)
}

/// The multipliers of MurmurHash3's 32-bit finalizer.
const M1: u32 = 0x85eb_ca6b;
const M2: u32 = 0xc2b2_ae35;

/// MurmurHash3's finalizer: every input bit reaches every output bit, so
/// the kernel's value modulo the workers is even for addresses that
/// differ in a few bits only.
#[inline]
fn mix(x: u32) -> u32 {
    let mut h = x ^ (x >> 16);
    h = h.wrapping_mul(M1);
    h ^= h >> 13;
    h = h.wrapping_mul(M2);
    h ^ (h >> 16)
}

/// The worker a packet goes to among `workers`, as the kernel picks the
/// socket of a fanout group from [`fanout_program`]'s value.
#[inline]
pub fn worker_of(p: &Packet, workers: usize) -> usize {
    (spread_hash(p) as usize) % workers.max(1)
}

// classic BPF opcodes (linux/bpf_common.h)
const LD_W_IND: u16 = 0x40;
const LD_H_IND: u16 = 0x48;
const LD_B_IND: u16 = 0x50;
const LD_MEM: u16 = 0x60;
const LDX_MEM: u16 = 0x61;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU_ADD_K: u16 = 0x04;
const ALU_MUL_K: u16 = 0x24;
const ALU_AND_K: u16 = 0x54;
const ALU_LSH_K: u16 = 0x64;
const ALU_RSH_K: u16 = 0x74;
const ALU_ADD_X: u16 = 0x0c;
const ALU_XOR_X: u16 = 0xac;
const TAX: u16 = 0x07;
const TXA: u16 = 0x87;
const JA: u16 = 0x05;
const JEQ_K: u16 = 0x15;
const JSET_K: u16 = 0x45;
const RET_A: u16 = 0x16;

/// `SKF_NET_OFF`: loads at this offset and above are relative to the
/// network header, wherever the packet's data starts when the fanout
/// runs.
pub const NET_OFF: u32 = (-0x10_0000i32) as u32;

// scratch memory
/// The hash of the innermost host pair found so far: what is returned.
const M_HASH: u32 = 0;
const M_TMP: u32 = 1;
/// The offset of the current level's IP header.
const M_BASE: u32 = 2;
/// The GRE flags, then the protocol a header names.
const M_FLAGS: u32 = 3;
const M_PROTO: u32 = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Block {
    Ip4,
    Ip6,
    Eth,
    Gre,
    Udp,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Label {
    /// A block of a level (part 0), or a place inside it (part 1 on).
    At(Block, usize, u8),
    Done,
}

enum Op {
    Insn(u16, u32),
    /// A conditional jump (`code`, `k`) to `to` when taken; falls through
    /// otherwise.
    If(u16, u32, Label),
    Ja(Label),
    Place(Label),
}

/// A program of forward jumps to labels, laid out at the end.
#[derive(Default)]
struct Asm {
    ops: Vec<Op>,
}

impl Asm {
    fn i(&mut self, code: u16, k: u32) -> &mut Self {
        self.ops.push(Op::Insn(code, k));
        self
    }
    /// Loads `size` bytes at `off` from the level's base (X), relative to
    /// the network header.
    fn ld(&mut self, code: u16, off: u32) -> &mut Self {
        self.i(code, NET_OFF.wrapping_add(off))
    }
    fn when(&mut self, code: u16, k: u32, to: Label) -> &mut Self {
        self.ops.push(Op::If(code, k, to));
        self
    }
    fn ja(&mut self, to: Label) -> &mut Self {
        self.ops.push(Op::Ja(to));
        self
    }
    fn place(&mut self, l: Label) -> &mut Self {
        self.ops.push(Op::Place(l));
        self
    }
    /// X += k.
    fn advance(&mut self, k: u32) -> &mut Self {
        self.i(TXA, 0).i(ALU_ADD_K, k).i(TAX, 0)
    }

    /// A conditional jump is taken to a `ja` just after it, so every jump
    /// reaches however far its label is.
    fn assemble(&self) -> Vec<libc::sock_filter> {
        let f = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
        let mut at = Vec::new();
        let mut pos = 0u32;
        for op in &self.ops {
            match op {
                Op::Insn(..) | Op::Ja(_) => pos += 1,
                Op::If(..) => pos += 2,
                Op::Place(l) => at.push((*l, pos)),
            }
        }
        let target = |l: Label| {
            at.iter()
                .find(|(x, _)| *x == l)
                .map(|(_, p)| *p)
                .unwrap_or_else(|| panic!("label {l:?} is never placed"))
        };
        let mut out = Vec::with_capacity(pos as usize);
        for op in &self.ops {
            match op {
                Op::Insn(code, k) => out.push(f(*code, 0, 0, *k)),
                Op::If(code, k, to) => {
                    out.push(f(*code, 0, 1, *k));
                    let here = out.len() as u32 + 1;
                    out.push(f(JA, 0, 0, target(*to) - here));
                }
                Op::Ja(to) => {
                    let here = out.len() as u32 + 1;
                    out.push(f(JA, 0, 0, target(*to) - here));
                }
                Op::Place(_) => {}
            }
        }
        out
    }
}

/// The `PACKET_FANOUT_CBPF` program that returns [`spread_hash`] of the
/// packet the parser counts, for the tunnels `decap` opens: the same value
/// for a packet and for its copies in any tunnel, with any tags. What it
/// cannot read (not IP at the network header, a broken tunnel) gets the
/// hash of the last host pair it read, or 0.
pub fn fanout_program(decap: &Decap) -> Vec<libc::sock_filter> {
    let mut a = Asm::default();
    use Block::*;
    use Label::{At, Done};
    // nothing read yet
    a.i(0x00, 0).i(ST, M_HASH).i(0x01, 0);
    a.ld(LD_B_IND, 0).i(ALU_AND_K, 0xf0);
    a.when(JEQ_K, 0x40, At(Ip4, 0, 0))
        .when(JEQ_K, 0x60, At(Ip6, 0, 0))
        .ja(Done);
    for level in 0..=MAX_DECAP_DEPTH {
        let inner = level < MAX_DECAP_DEPTH;
        if level > 0 {
            ethernet(&mut a, level);
        }
        ipv4(&mut a, decap, level, inner);
        ipv6(&mut a, decap, level, inner);
        if inner {
            gre(&mut a, decap, level);
            udp(&mut a, decap, level);
        }
    }
    a.place(Done).i(LD_MEM, M_HASH).i(RET_A, 0);
    a.assemble()
}

/// X at an Ethernet header a tunnel carried: up to two VLAN tags, then IP.
fn ethernet(a: &mut Asm, level: usize) {
    use Block::*;
    use Label::{At, Done};
    let (tag, second, ethertype) = (At(Eth, level, 1), At(Eth, level, 2), At(Eth, level, 3));
    a.place(At(Eth, level, 0)).ld(LD_H_IND, 12);
    for tpid in [0x8100, 0x88a8, 0x9100] {
        a.when(JEQ_K, tpid, tag);
    }
    a.ja(ethertype);
    // a tag: the next ethertype is 4 bytes on
    a.place(tag).advance(4).ld(LD_H_IND, 12);
    a.when(JEQ_K, 0x8100, second).ja(ethertype);
    a.place(second).advance(4).ld(LD_H_IND, 12);
    a.place(ethertype)
        .when(JEQ_K, 0x0800, At(Eth, level, 4))
        .when(JEQ_K, 0x86dd, At(Eth, level, 5))
        .ja(Done);
    a.place(At(Eth, level, 4)).advance(14).ja(At(Ip4, level, 0));
    a.place(At(Eth, level, 5)).advance(14).ja(At(Ip6, level, 0));
}

/// The sum of the words at `offs` from the base into A, then the mix, kept
/// as the hash; X is the base again after.
fn hash_words(a: &mut Asm, offs: &[u32]) {
    a.i(STX, M_BASE);
    a.ld(LD_W_IND, offs[0]).i(ST, M_TMP);
    for &o in &offs[1..] {
        a.i(LDX_MEM, M_BASE)
            .ld(LD_W_IND, o)
            .i(LDX_MEM, M_TMP)
            .i(ALU_ADD_X, 0)
            .i(ST, M_TMP);
    }
    // MurmurHash3's finalizer, as `mix`: A ^= A >> k is A stored, shifted,
    // and XORed with the stored value through X
    let xor_shift = |a: &mut Asm, k: u32| {
        a.i(ST, M_TMP)
            .i(ALU_RSH_K, k)
            .i(LDX_MEM, M_TMP)
            .i(ALU_XOR_X, 0);
    };
    xor_shift(a, 16);
    a.i(ALU_MUL_K, M1);
    xor_shift(a, 13);
    a.i(ALU_MUL_K, M2);
    xor_shift(a, 16);
    a.i(ST, M_HASH).i(LDX_MEM, M_BASE);
}

/// X at an IPv4 header.
fn ipv4(a: &mut Asm, decap: &Decap, level: usize, inner: bool) {
    use Block::*;
    use Label::{At, Done};
    a.place(At(Ip4, level, 0));
    a.ld(LD_B_IND, 0).i(ALU_AND_K, 0xf0);
    a.when(JEQ_K, 0x40, At(Ip4, level, 1)).ja(Done);
    a.place(At(Ip4, level, 1));
    hash_words(a, &[12, 16]);
    if !inner {
        a.ja(Done);
        return;
    }
    // a fragment is not opened
    a.ld(LD_H_IND, 6).when(JSET_K, 0x3fff, Done);
    a.ld(LD_B_IND, 9).i(ST, M_PROTO);
    // X past the header
    a.ld(LD_B_IND, 0)
        .i(ALU_AND_K, 0x0f)
        .i(ALU_LSH_K, 2)
        .i(ALU_ADD_X, 0)
        .i(TAX, 0)
        .i(LD_MEM, M_PROTO);
    next_protocol(a, decap, level);
}

/// X at an IPv6 header (extension headers are not walked for tunnels).
fn ipv6(a: &mut Asm, decap: &Decap, level: usize, inner: bool) {
    use Block::*;
    use Label::{At, Done};
    a.place(At(Ip6, level, 0));
    a.ld(LD_B_IND, 0).i(ALU_AND_K, 0xf0);
    a.when(JEQ_K, 0x60, At(Ip6, level, 1)).ja(Done);
    a.place(At(Ip6, level, 1));
    hash_words(a, &[8, 12, 16, 20, 24, 28, 32, 36]);
    if !inner {
        a.ja(Done);
        return;
    }
    a.ld(LD_B_IND, 6)
        .i(ST, M_PROTO)
        .advance(40)
        .i(LD_MEM, M_PROTO);
    next_protocol(a, decap, level);
}

/// A holds an IP protocol, X is past the IP header.
fn next_protocol(a: &mut Asm, decap: &Decap, level: usize) {
    use Block::*;
    use Label::{At, Done};
    if decap.opens(Encap::Ipip) {
        a.when(JEQ_K, u32::from(parse::proto::IPIP), At(Ip4, level + 1, 0))
            .when(JEQ_K, u32::from(parse::proto::IPV6), At(Ip6, level + 1, 0));
    }
    if decap.opens(Encap::Gre) || decap.opens(Encap::Erspan) {
        a.when(JEQ_K, u32::from(parse::proto::GRE), At(Gre, level, 0));
    }
    if decap.opens(Encap::Vxlan) || decap.opens(Encap::Geneve) {
        a.when(JEQ_K, u32::from(parse::proto::UDP), At(Udp, level, 0));
    }
    a.ja(Done);
}

/// X at a GRE header.
fn gre(a: &mut Asm, decap: &Decap, level: usize) {
    use Block::*;
    use Label::{At, Done};
    use parse::gre::{flags, protocol};
    a.place(At(Gre, level, 0));
    a.ld(LD_H_IND, 2).i(ST, M_PROTO);
    a.ld(LD_H_IND, 0).i(ST, M_FLAGS);
    // version 0 without routing only
    a.i(ALU_AND_K, u32::from(flags::VERSION | flags::ROUTING))
        .when(JEQ_K, 0, At(Gre, level, 1))
        .ja(Done);
    a.place(At(Gre, level, 1)).advance(4);
    for (bit, n) in [(flags::CHECKSUM, 1), (flags::KEY, 2), (flags::SEQUENCE, 3)] {
        let skip = At(Gre, level, n + 1);
        let take = At(Gre, level, n + 4);
        a.i(LD_MEM, M_FLAGS)
            .when(JSET_K, u32::from(bit), take)
            .ja(skip);
        a.place(take).advance(4);
        a.place(skip);
    }
    a.i(LD_MEM, M_PROTO);
    if decap.opens(Encap::Gre) {
        a.when(JEQ_K, u32::from(protocol::TEB), At(Eth, level + 1, 0))
            .when(JEQ_K, u32::from(protocol::IPV4), At(Ip4, level + 1, 0))
            .when(JEQ_K, u32::from(protocol::IPV6), At(Ip6, level + 1, 0));
    }
    if decap.opens(Encap::Erspan) {
        let ii = At(Gre, level, 8);
        let iii = At(Gre, level, 9);
        a.when(JEQ_K, u32::from(protocol::ERSPAN_II), ii)
            .when(JEQ_K, u32::from(protocol::ERSPAN_III), iii)
            .ja(Done);
        // type I has no sequence number and no ERSPAN header
        a.place(ii)
            .i(LD_MEM, M_FLAGS)
            .when(JSET_K, u32::from(flags::SEQUENCE), At(Gre, level, 10))
            .ja(At(Eth, level + 1, 0));
        a.place(At(Gre, level, 10))
            .advance(parse::erspan::TYPE_II_LEN as u32)
            .ja(At(Eth, level + 1, 0));
        a.place(iii)
            .ld(LD_B_IND, parse::erspan::field::FLAGS_III as u32);
        a.when(JSET_K, 1, At(Gre, level, 11))
            .advance(parse::erspan::TYPE_III_LEN as u32)
            .ja(At(Eth, level + 1, 0));
        a.place(At(Gre, level, 11))
            .advance((parse::erspan::TYPE_III_LEN + parse::erspan::PLATFORM_SUBHEADER_LEN) as u32)
            .ja(At(Eth, level + 1, 0));
    } else {
        a.ja(Done);
    }
}

/// X at a UDP header.
fn udp(a: &mut Asm, decap: &Decap, level: usize) {
    use Block::*;
    use Label::{At, Done};
    a.place(At(Udp, level, 0));
    a.ld(LD_H_IND, 2);
    let vxlan = At(Udp, level, 1);
    let geneve = At(Udp, level, 2);
    if decap.opens(Encap::Vxlan) {
        for p in decap.vxlan_ports() {
            a.when(JEQ_K, u32::from(p), vxlan);
        }
    }
    if decap.opens(Encap::Geneve) {
        a.when(JEQ_K, u32::from(parse::geneve::PORT), geneve);
    }
    a.ja(Done);
    // the I flag, then past UDP and VXLAN
    a.place(vxlan)
        .ld(LD_B_IND, 8)
        .when(JSET_K, u32::from(parse::vxlan::FLAG_VNI), At(Udp, level, 3))
        .ja(Done);
    a.place(At(Udp, level, 3))
        .advance(16)
        .ja(At(Eth, level + 1, 0));
    // version 0, then past UDP, GENEVE and its options
    a.place(geneve).ld(LD_B_IND, 8).i(ALU_AND_K, 0xc0);
    a.when(JEQ_K, 0, At(Udp, level, 4)).ja(Done);
    a.place(At(Udp, level, 4))
        .ld(LD_H_IND, 10)
        .i(ST, M_PROTO)
        .ld(LD_B_IND, 8)
        .i(ALU_AND_K, 0x3f)
        .i(ALU_LSH_K, 2)
        .i(ALU_ADD_X, 0)
        .i(ALU_ADD_K, 16)
        .i(TAX, 0)
        .i(LD_MEM, M_PROTO);
    a.when(
        JEQ_K,
        u32::from(parse::gre::protocol::TEB),
        At(Eth, level + 1, 0),
    )
    .when(
        JEQ_K,
        u32::from(parse::gre::protocol::IPV4),
        At(Ip4, level + 1, 0),
    )
    .when(
        JEQ_K,
        u32::from(parse::gre::protocol::IPV6),
        At(Ip6, level + 1, 0),
    )
    .ja(Done);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::cbpf::Filter;
    use crate::parse::{LinkType, Outcome, parse};
    use crate::tools::synth::tunnel::{Outer, Wrap, every_wrap};
    use crate::tools::synth::{self, FlowDesc};

    fn flows() -> Vec<FlowDesc> {
        let mut out = Vec::new();
        for i in 0..6u8 {
            let mut c = [0u8; 16];
            let mut s = [0u8; 16];
            let v6 = i % 2 == 1;
            if v6 {
                c[..2].copy_from_slice(&[0xfd, 0]);
                s[..2].copy_from_slice(&[0x20, 0x01]);
                c[15] = i;
                s[15] = 100 + i;
                s[7] = i * 3;
            } else {
                c[..4].copy_from_slice(&[10, 1, i, 2]);
                s[..4].copy_from_slice(&[198, 51, 100, 7 + i]);
            }
            out.push(FlowDesc {
                v6,
                client: c,
                server: s,
                client_port: 40000 + u16::from(i),
                server_port: 443,
                udp: i % 3 == 0,
                vlan: (i == 2).then_some(30),
            });
        }
        out
    }

    fn packet(frame: &[u8]) -> Packet {
        match parse(LinkType::Ethernet, frame, &Decap::default()) {
            Outcome::Ip(p) => p,
            other => panic!("not IP: {other:?}"),
        }
    }

    /// Runs the program as the kernel would on an Ethernet frame: the
    /// network header after the tags, which the kernel has taken off.
    fn run(prog: &Filter, frame: &[u8]) -> u32 {
        let mut net = 14;
        while matches!(frame.get(net - 2..net), Some([0x81, 0x00] | [0x88, 0xa8])) {
            net += 4;
        }
        prog.run(frame, frame.len() as u32, Some(net))
    }

    #[test]
    fn the_program_is_valid_classic_bpf() {
        for decap in [Decap::default(), Decap::NONE] {
            let insns = fanout_program(&decap);
            assert!(insns.len() < 4096, "{} instructions", insns.len());
            Filter::new(&insns).unwrap();
        }
    }

    #[test]
    fn the_program_hashes_the_pair_the_parser_counts() {
        let prog = Filter::new(&fanout_program(&Decap::default())).unwrap();
        let mut checked = 0;
        for f in flows() {
            for from_client in [true, false] {
                let raw = f.frame(from_client, synth::tcp_flags::ACK, 200);
                let want = spread_hash(&packet(&raw));
                assert_eq!(run(&prog, &raw), want, "raw {f:?}");
                for wrap in every_wrap() {
                    for o in [
                        Outer::example(false, &[]),
                        Outer::example(true, &[(0x8100, 99)]),
                    ] {
                        let once = o.wrap(wrap, &raw, 1);
                        let p = packet(&once);
                        assert_eq!(p.tunnels.depth, 1, "{wrap:?}");
                        assert_eq!(spread_hash(&p), want, "{wrap:?}");
                        assert_eq!(run(&prog, &once), want, "{wrap:?} over {o:?}");
                        // ERSPAN carrying VXLAN: two levels
                        let vx = Outer::example(false, &[]).wrap(
                            Wrap::Vxlan { vni: 1, port: 4789 },
                            &raw,
                            2,
                        );
                        let twice = o.wrap(wrap, &vx, 3);
                        if wrap.carries_ethernet() {
                            assert_eq!(packet(&twice).tunnels.depth, 2);
                            assert_eq!(run(&prog, &twice), want, "{wrap:?} in {wrap:?}");
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 100);
        // both directions meet
        let f = flows()[1];
        let there = f.frame(true, synth::tcp_flags::ACK, 100);
        let back = f.frame(false, synth::tcp_flags::ACK, 100);
        assert_eq!(run(&prog, &there), run(&prog, &back));
    }

    #[test]
    fn unopened_or_broken_tunnels_hash_the_outer_pair() {
        let raw = flows()[0].frame(true, synth::tcp_flags::ACK, 200);
        let o = Outer::example(false, &[]);
        let wrapped = o.wrap(Wrap::Vxlan { vni: 1, port: 4789 }, &raw, 1);
        let outer_hash = spread_hash(&packet(&o.frame(17, &[0; 8], 1)));
        // VXLAN not opened: the outer pair
        let only_gre = Decap::new(&[Encap::Gre], &[4789]).unwrap();
        let prog = Filter::new(&fanout_program(&only_gre)).unwrap();
        assert_eq!(run(&prog, &wrapped), outer_hash);
        // the I flag missing: not VXLAN
        let prog = Filter::new(&fanout_program(&Decap::default())).unwrap();
        let mut no_flag = wrapped.clone();
        no_flag[14 + 20 + 8] = 0;
        assert_eq!(run(&prog, &no_flag), outer_hash);
        // non-IP: 0
        let arp = synth::ethernet(&[], 0x0806, &[0; 28]);
        assert_eq!(run(&prog, &arp), 0);
    }

    #[test]
    fn workers_by_the_hash() {
        let p = packet(&flows()[0].frame(true, synth::tcp_flags::ACK, 100));
        assert_eq!(worker_of(&p, 1), 0);
        assert_eq!(worker_of(&p, 3), spread_hash(&p) as usize % 3);
        // many host pairs share 3 workers fairly, each pair both ways on one
        let mut load = [0usize; 3];
        for i in 0..3000u32 {
            let f = FlowDesc {
                client: crate::parse::v4_addr((0x0a00_0000 + i).to_be_bytes()),
                server: crate::parse::v4_addr([198, 51, 100, (i % 200) as u8]),
                ..flows()[0]
            };
            let there = packet(&f.frame(true, synth::tcp_flags::ACK, 100));
            let back = packet(&f.frame(false, synth::tcp_flags::ACK, 100));
            let w = worker_of(&there, 3);
            assert_eq!(w, worker_of(&back, 3));
            load[w] += 1;
        }
        assert!(load.iter().all(|&n| n > 800 && n < 1200), "{load:?}");
    }
}
