//! A classic BPF interpreter for libpcap-compiled filters, so that AF_XDP
//! capture, which has no socket filter, applies `--filter` exactly as the
//! AF_PACKET backend does: same compiler, same program, run on the frame
//! in user space. Loads outside the frame reject it, as in the kernel.

/// A checked classic BPF program.
#[derive(Debug, Clone)]
pub struct Filter {
    insns: Vec<libc::sock_filter>,
}

// instruction classes and fields (linux/filter.h, linux/bpf_common.h)
const LD: u16 = 0x00;
const LDX: u16 = 0x01;
const ST: u16 = 0x02;
const STX: u16 = 0x03;
const ALU: u16 = 0x04;
const JMP: u16 = 0x05;
const RET: u16 = 0x06;

const W: u16 = 0x00;
const H: u16 = 0x08;
const B: u16 = 0x10;

const IMM: u16 = 0x00;
const ABS: u16 = 0x20;
const MEM: u16 = 0x60;
const LEN: u16 = 0x80;

const X: u16 = 0x08;
const A: u16 = 0x10;

const MEMWORDS: usize = 16;

/// Loads at these offsets (as negative `i32`) and above read relative to
/// the network header (`SKF_NET_OFF`) and the link-layer header
/// (`SKF_LL_OFF`) instead of the packet's start.
const SKF_NET_OFF: u32 = (-0x10_0000i32) as u32;
const SKF_LL_OFF: u32 = (-0x20_0000i32) as u32;

/// Every opcode of classic BPF, as the kernel's `bpf_check_classic`
/// allows them: bits outside an instruction's fields (a return with a
/// mode, a code wider than a byte) make another, refused opcode.
#[rustfmt::skip]
const OPCODES: [u16; 49] = [
    // ALU: ADD SUB MUL DIV OR AND LSH RSH MOD XOR with K and with X, NEG
    0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3c, 0x44, 0x4c,
    0x54, 0x5c, 0x64, 0x6c, 0x74, 0x7c, 0x94, 0x9c, 0xa4, 0xac, 0x84,
    // LD: W/H/B ABS, W/H/B IND, W LEN, IMM, MEM
    0x20, 0x28, 0x30, 0x40, 0x48, 0x50, 0x80, 0x00, 0x60,
    // LDX: W LEN, B MSH, IMM, MEM
    0x81, 0xb1, 0x01, 0x61,
    // ST, STX
    0x02, 0x03,
    // MISC: TAX, TXA
    0x07, 0x87,
    // RET K, RET A
    0x06, 0x16,
    // JA; JEQ, JGT, JGE, JSET with K and with X
    0x05, 0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x4d,
];

impl Filter {
    /// Checks `insns` as the kernel's `bpf_check_classic` does, in one
    /// pass (jumps only go forward): known opcodes, jumps inside the
    /// program, scratch memory in range and never loaded before a store to
    /// it on every path that reaches the load (`check_load_and_stores`:
    /// such a load would read whatever was there), no division by or shift
    /// past the width by a constant, a return at the end. The message says
    /// what is wrong.
    pub fn new(insns: &[libc::sock_filter]) -> Result<Filter, String> {
        if insns.is_empty() || insns.len() > 4096 {
            return Err(format!("filter has {} instructions", insns.len()));
        }
        let n = insns.len();
        // the scratch cells (a bit each) stored on every path into each
        // instruction, and into the current one
        let mut stored_into = vec![u16::MAX; n];
        let mut stored: u16 = 0;
        for (pc, i) in insns.iter().enumerate() {
            let bad = || {
                format!(
                    "filter instruction {pc} (code {:#x}) is not supported",
                    i.code
                )
            };
            if !OPCODES.contains(&i.code) {
                return Err(bad());
            }
            stored &= stored_into[pc];
            let (class, op, constant) = (i.code & 0x07, i.code & 0xf0, i.code & X == 0);
            let cell = i.k as usize;
            match class {
                ST | STX if cell >= MEMWORDS => return Err(bad()),
                ST | STX => stored |= 1 << cell,
                LD | LDX if i.code & 0xe0 == MEM => {
                    if cell >= MEMWORDS {
                        return Err(bad());
                    }
                    if stored & (1 << cell) == 0 {
                        return Err(format!(
                            "filter instruction {pc} loads scratch memory {cell} before any store to it"
                        ));
                    }
                }
                // a division by a constant zero, a constant shift by the
                // width or more
                ALU if constant && matches!(op, 0x30 | 0x90) && i.k == 0 => return Err(bad()),
                ALU if constant && matches!(op, 0x60 | 0x70) && i.k >= 32 => return Err(bad()),
                JMP => {
                    let targets: &[usize] = if i.code == JMP {
                        &[i.k as usize]
                    } else {
                        &[usize::from(i.jt), usize::from(i.jf)]
                    };
                    for &t in targets {
                        let to = pc + 1 + t;
                        if to >= n {
                            return Err(format!(
                                "filter instruction {pc} jumps out of the program"
                            ));
                        }
                        stored_into[to] &= stored;
                    }
                    // what follows is reached only by jumps
                    stored = u16::MAX;
                }
                _ => {}
            }
        }
        if insns[n - 1].code & 0x07 != RET {
            return Err("filter does not end with a return".into());
        }
        Ok(Filter {
            insns: insns.to_vec(),
        })
    }

    /// Runs the filter on `frame` (whose length on the wire is `wire_len`):
    /// true when the packet is accepted (a non-zero return).
    pub fn accepts(&self, frame: &[u8], wire_len: u32) -> bool {
        self.run(frame, wire_len, None) != 0
    }

    /// Runs the program and returns its value. With `net`, the frame's
    /// network header is at that offset, and loads at `SKF_NET_OFF` and
    /// above read from there, as the kernel's do; without it they fail.
    pub fn run(&self, frame: &[u8], wire_len: u32, net: Option<usize>) -> u32 {
        let mut a: u32 = 0;
        let mut x: u32 = 0;
        let mut mem = [0u32; MEMWORDS];
        let mut pc = 0usize;
        let load = |off: u32, size: u16| -> Option<u32> {
            let off = match (off.checked_sub(SKF_NET_OFF), net) {
                (Some(rel), Some(n)) => n.checked_add(rel as usize)?,
                (Some(_), None) => return None,
                (None, _) if off >= SKF_LL_OFF => return None,
                (None, _) => off as usize,
            };
            match size {
                W => frame
                    .get(off..off.checked_add(4)?)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                H => frame
                    .get(off..off.checked_add(2)?)
                    .map(|b| u32::from(u16::from_be_bytes([b[0], b[1]]))),
                _ => frame.get(off).map(|&b| u32::from(b)),
            }
        };
        while let Some(i) = self.insns.get(pc) {
            pc += 1;
            let k = i.k;
            match i.code & 0x07 {
                LD => {
                    let size = i.code & 0x18;
                    a = match i.code & 0xe0 {
                        IMM => k,
                        LEN => wire_len,
                        MEM => mem[k as usize % MEMWORDS],
                        ABS => match load(k, size) {
                            Some(v) => v,
                            None => return 0,
                        },
                        // X + k past 32 bits is outside the frame, as
                        // libpcap has it (the kernel would wrap it to a
                        // small offset; no compiled filter, nor the
                        // fanout program, ever asks for one)
                        _ => match x.checked_add(k).and_then(|o| load(o, size)) {
                            Some(v) => v,
                            None => return 0,
                        },
                    }
                }
                LDX => {
                    x = match i.code & 0xe0 {
                        IMM => k,
                        LEN => wire_len,
                        MEM => mem[k as usize % MEMWORDS],
                        _ => match load(k, B) {
                            Some(v) => (v & 0x0f) * 4,
                            None => return 0,
                        },
                    }
                }
                ST => mem[k as usize % MEMWORDS] = a,
                STX => mem[k as usize % MEMWORDS] = x,
                ALU => {
                    let v = if i.code & X != 0 { x } else { k };
                    a = match i.code & 0xf0 {
                        0x00 => a.wrapping_add(v),
                        0x10 => a.wrapping_sub(v),
                        0x20 => a.wrapping_mul(v),
                        0x30 => match a.checked_div(v) {
                            Some(r) => r,
                            None => return 0,
                        },
                        0x40 => a | v,
                        0x50 => a & v,
                        // the kernel shifts by X modulo 32, as x86 does
                        0x60 => a.wrapping_shl(v),
                        0x70 => a.wrapping_shr(v),
                        0x80 => a.wrapping_neg(),
                        0x90 => match a.checked_rem(v) {
                            Some(r) => r,
                            None => return 0,
                        },
                        _ => a ^ v,
                    }
                }
                JMP => {
                    let v = if i.code & X != 0 { x } else { k };
                    let taken = match i.code & 0xf0 {
                        0x00 => {
                            pc += k as usize;
                            continue;
                        }
                        0x10 => a == v,
                        0x20 => a > v,
                        0x30 => a >= v,
                        _ => a & v != 0,
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                RET => {
                    return if i.code & 0x18 == A { a } else { k };
                }
                _ => {
                    if i.code & 0x80 != 0 {
                        a = x;
                    } else {
                        x = a;
                    }
                }
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::filter::compile;
    use crate::tools::synth;

    fn filter(expr: &str) -> Filter {
        Filter::new(&compile(expr, 1, 256).unwrap()).unwrap()
    }

    fn udp4(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> Vec<u8> {
        synth::ethernet(
            &[],
            0x0800,
            &synth::ipv4(src, dst, 17, (false, 0), &synth::udp(sp, dp, 10)),
        )
    }

    #[test]
    fn agrees_with_what_the_expression_means() {
        let dns = udp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, 53);
        let other = udp4([10, 0, 0, 1], [192, 0, 2, 9], 40000, 5201);
        let cases = [
            ("udp port 53", true, false),
            ("host 192.0.2.9", false, true),
            ("udp and not port 53", false, true),
            ("ip[9] == 17 and udp[2:2] > 1024", false, true),
            ("tcp", false, false),
            ("ip6", false, false),
            ("len > 40", true, true),
            ("net 10.0.0.0/24", true, true),
        ];
        for (expr, want_dns, want_other) in cases {
            let f = filter(expr);
            assert_eq!(f.accepts(&dns, dns.len() as u32), want_dns, "{expr} on dns");
            assert_eq!(
                f.accepts(&other, other.len() as u32),
                want_other,
                "{expr} on the other packet"
            );
        }
    }

    #[test]
    fn vlan_tagged_and_ipv6_frames() {
        let inner = synth::ipv4(
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            6,
            (false, 0),
            &synth::tcp(1234, 443, 0x02, 0),
        );
        let tagged = synth::ethernet(&[(0x8100, 7)], 0x0800, &inner);
        assert!(filter("vlan 7 and tcp port 443").accepts(&tagged, tagged.len() as u32));
        assert!(!filter("vlan 8").accepts(&tagged, tagged.len() as u32));
        let v6 = synth::ethernet(
            &[],
            0x86dd,
            &synth::ipv6([0xfd; 16], [0xfe; 16], 17, &[], &synth::udp(1, 123, 0)),
        );
        assert!(filter("ip6 and udp port 123").accepts(&v6, v6.len() as u32));
        assert!(!filter("ip").accepts(&v6, v6.len() as u32));
    }

    #[test]
    fn loads_past_the_end_reject() {
        let f = filter("udp port 53");
        assert!(!f.accepts(&[0u8; 13], 13));
        let dns = udp4([10, 0, 0, 1], [10, 0, 0, 2], 40000, 53);
        assert!(!f.accepts(&dns[..30], dns.len() as u32));
    }

    /// From the fuzz target against libpcap: an indexed load whose X + k
    /// passes 32 bits (k = -7 after `ldx 4*([14]&0xf)`) is outside the
    /// frame, not a wrapped small offset.
    #[test]
    fn an_indexed_load_past_32_bits_rejects() {
        let ins = |code, k| libc::sock_filter {
            code,
            jt: 0,
            jf: 0,
            k,
        };
        let f = Filter::new(&[
            ins(0xb1, 14),          // ldx 4*([14]&0xf)
            ins(0x50, 0xffff_fff9), // ldb [x - 7]
            ins(0x06, 1),
        ])
        .unwrap();
        let mut frame = [0u8; 26];
        frame[14] = 0x45;
        assert!(!f.accepts(&frame, 26));
        // within 32 bits it reads as ever
        let g = Filter::new(&[ins(0xb1, 14), ins(0x50, 1), ins(0x16, 0)]).unwrap();
        frame[21] = 9;
        assert_eq!(g.run(&frame, 26, None), 9);
    }

    #[test]
    fn refuses_programs_the_kernel_would() {
        let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
        assert!(Filter::new(&[]).is_err());
        // jump past the end
        assert!(Filter::new(&[ins(0x15, 5, 0, 1), ins(0x06, 0, 0, 1)]).is_err());
        // no return at the end
        assert!(Filter::new(&[ins(0x06, 0, 0, 1), ins(0x00, 0, 0, 1)]).is_err());
        // division by constant zero
        assert!(Filter::new(&[ins(0x34, 0, 0, 0), ins(0x06, 0, 0, 1)]).is_err());
        // scratch memory out of range
        assert!(Filter::new(&[ins(0x02, 0, 0, 16), ins(0x06, 0, 0, 1)]).is_err());
        // opcodes wider than a byte (from the fuzz target against
        // libpcap: a return and a jset with high bits set)
        assert!(Filter::new(&[ins(0x106, 0, 0, 1)]).is_err());
        assert!(Filter::new(&[ins(0x245, 0, 0, 1), ins(0x06, 0, 0, 1)]).is_err());
        // a return with mode bits (0xa8) beside its class and source
        assert!(Filter::new(&[ins(0xae, 0, 0, 14)]).is_err());
        // a constant shift by 32 or more
        assert!(Filter::new(&[ins(0x64, 0, 0, 32), ins(0x16, 0, 0, 0)]).is_err());
        // a shift by X is taken modulo 32, as the kernel does
        let shift_by_x = [
            ins(0x01, 0, 0, 33), // ldx #33
            ins(0x00, 0, 0, 1),  // ld #1
            ins(0x6c, 0, 0, 0),  // lsh x
            ins(0x16, 0, 0, 0),  // ret a
        ];
        assert!(Filter::new(&shift_by_x).unwrap().accepts(&[], 0));
        // scratch memory loaded before any store to it, on one path
        assert!(Filter::new(&[ins(0x60, 0, 0, 6), ins(0x06, 0, 0, 1)]).is_err());
        let maybe_stored = [
            ins(0x15, 0, 1, 1), // jeq #1: store only when A is 1
            ins(0x02, 0, 0, 3), // st M[3]
            ins(0x60, 0, 0, 3), // ld M[3]
            ins(0x16, 0, 0, 0),
        ];
        assert!(Filter::new(&maybe_stored).is_err());
        let stored = [
            ins(0x02, 0, 0, 3),
            ins(0x15, 0, 0, 1),
            ins(0x60, 0, 0, 3),
            ins(0x16, 0, 0, 0),
        ];
        assert!(Filter::new(&stored).is_ok());
        // ALU and return of A
        let f = Filter::new(&[ins(0x80, 0, 0, 0), ins(0x04, 0, 0, 1), ins(0x16, 0, 0, 0)]).unwrap();
        assert!(f.accepts(&[0; 3], 3));
        assert!(
            !Filter::new(&[ins(0x00, 0, 0, 0), ins(0x16, 0, 0, 0)])
                .unwrap()
                .accepts(&[], 0)
        );
    }
}
