//! The `bpf()` system call for what AF_XDP capture needs: an XSKMAP, an XDP
//! program assembled from instructions in Rust, a BPF link that attaches it
//! (and detaches it when the last descriptor closes, so also when ringflow
//! is killed), program info, and `BPF_PROG_RUN` with live frames for the
//! generator. No libbpf, no clang.

use super::{SysError, check_len, owned};
use std::ffi::CStr;
use std::os::fd::{AsRawFd, OwnedFd};

const BPF_MAP_CREATE: u64 = 0;
const BPF_MAP_LOOKUP_ELEM: u64 = 1;
const BPF_MAP_UPDATE_ELEM: u64 = 2;
const BPF_PROG_LOAD: u64 = 5;
const BPF_PROG_TEST_RUN: u64 = 10;
const BPF_PROG_GET_FD_BY_ID: u64 = 13;
const BPF_OBJ_GET_INFO_BY_FD: u64 = 15;
const BPF_LINK_CREATE: u64 = 28;
const BPF_MAP_UPDATE_BATCH: u64 = 26;

pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
pub const BPF_MAP_TYPE_XSKMAP: u32 = 17;
const BPF_PROG_TYPE_XDP: u32 = 6;
/// `enum bpf_attach_type` value of XDP.
const BPF_XDP: u32 = 37;

pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
pub const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;

/// `union bpf_attr` as bytes: each command fills the fields it uses at
/// their offsets in `linux/bpf.h`; the rest must be zero.
#[repr(C, align(8))]
struct Attr([u8; 144]);

impl Attr {
    fn new() -> Attr {
        Attr([0; 144])
    }
    fn u32(mut self, off: usize, v: u32) -> Attr {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn u64(mut self, off: usize, v: u64) -> Attr {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
        self
    }
    fn name(mut self, off: usize, name: &str) -> Attr {
        // BPF_OBJ_NAME_LEN is 16 with the NUL; letters, digits, '_' and '.'
        let b = name.as_bytes();
        let n = b.len().min(15);
        self.0[off..off + n].copy_from_slice(&b[..n]);
        self
    }
}

fn bpf(cmd: u64, attr: &mut Attr, call: &'static str) -> Result<i64, SysError> {
    // SAFETY: `attr` is a live, writable union bpf_attr of the size passed;
    // every pointer stored in it points to memory that outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.0.as_mut_ptr(),
            std::mem::size_of::<Attr>(),
        )
    };
    check_len(call, ret as isize).map(|n| n as i64)
}

fn bpf_fd(cmd: u64, mut attr: Attr, call: &'static str) -> Result<OwnedFd, SysError> {
    let fd = bpf(cmd, &mut attr, call)?;
    Ok(owned(fd as libc::c_int))
}

/// A BPF map.
pub struct Map {
    fd: OwnedFd,
}

impl Map {
    pub fn create(
        map_type: u32,
        key_size: u32,
        value_size: u32,
        max_entries: u32,
        name: &str,
    ) -> Result<Map, SysError> {
        let attr = Attr::new()
            .u32(0, map_type)
            .u32(4, key_size)
            .u32(8, value_size)
            .u32(12, max_entries)
            .name(28, name);
        Ok(Map {
            fd: bpf_fd(BPF_MAP_CREATE, attr, "bpf(BPF_MAP_CREATE)")?,
        })
    }

    /// Sets `key` to `value` (both as raw bytes of the map's sizes).
    pub fn update(&self, key: &[u8], value: &[u8]) -> Result<(), SysError> {
        let mut attr = Attr::new()
            .u32(0, self.fd.as_raw_fd() as u32)
            .u64(8, key.as_ptr() as u64)
            .u64(16, value.as_ptr() as u64);
        bpf(BPF_MAP_UPDATE_ELEM, &mut attr, "bpf(BPF_MAP_UPDATE_ELEM)").map(|_| ())
    }

    /// Reads `key` into `value` (both as raw bytes of the map's sizes).
    pub fn lookup(&self, key: &[u8], value: &mut [u8]) -> Result<(), SysError> {
        let mut attr = Attr::new()
            .u32(0, self.fd.as_raw_fd() as u32)
            .u64(8, key.as_ptr() as u64)
            .u64(16, value.as_mut_ptr() as u64);
        bpf(BPF_MAP_LOOKUP_ELEM, &mut attr, "bpf(BPF_MAP_LOOKUP_ELEM)").map(|_| ())
    }

    /// Sets the `u32` keys `keys` to the `u32` values `values` (of an
    /// array map of u32 values), many per call.
    pub fn update_u32s(&self, keys: &[u32], values: &[u32]) -> Result<(), SysError> {
        for (k, v) in keys.chunks(1 << 16).zip(values.chunks(1 << 16)) {
            let n = k.len().min(v.len());
            let mut attr = Attr::new()
                .u64(16, k.as_ptr() as u64)
                .u64(24, v.as_ptr() as u64)
                .u32(32, n as u32)
                .u32(36, self.fd.as_raw_fd() as u32);
            bpf(BPF_MAP_UPDATE_BATCH, &mut attr, "bpf(BPF_MAP_UPDATE_BATCH)")?;
        }
        Ok(())
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// One eBPF instruction as the kernel reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// dst register in the low nibble, src in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// `code dst, src, off, imm`.
pub fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | src << 4,
        off,
        imm,
    }
}

/// The eBPF opcodes ringflow's programs use (linux/bpf_common.h, bpf.h).
pub mod op {
    /// `dst = *(u32 *)(src + off)`
    pub const LDX_W: u8 = 0x61;
    /// `dst = *(u64 *)(src + off)`
    pub const LDX_DW: u8 = 0x79;
    /// `*(u8 *)(dst + off) = src`
    pub const STX_B: u8 = 0x73;
    /// `*(u32 *)(dst + off) = src`
    pub const STX_W: u8 = 0x63;
    /// `*(u16 *)(dst + off) = src`
    pub const STX_H: u8 = 0x6b;
    /// `*(u64 *)(dst + off) = src`
    pub const STX_DW: u8 = 0x7b;
    /// `*(u32 *)(dst + off) = imm`
    pub const ST_W: u8 = 0x62;
    /// `dst = imm64` over two instructions; src 1 makes imm a map fd
    pub const LD_IMM64: u8 = 0x18;
    pub const PSEUDO_MAP_FD: u8 = 1;
    pub const MOV_IMM: u8 = 0xb7;
    pub const MOV_REG: u8 = 0xbf;
    pub const ADD_IMM: u8 = 0x07;
    pub const ADD_REG: u8 = 0x0f;
    pub const AND_IMM: u8 = 0x57;
    pub const XOR_IMM: u8 = 0xa7;
    pub const RSH_IMM: u8 = 0x77;
    pub const MUL_IMM: u8 = 0x27;
    pub const SUB_REG: u8 = 0x1f;
    pub const MOD_IMM: u8 = 0x97;
    /// to big endian, imm bits (32-bit ALU class)
    pub const TO_BE: u8 = 0xdc;
    /// `if dst == imm goto +off`
    pub const JEQ_IMM: u8 = 0x15;
    /// `if dst > src goto +off`
    pub const JGT_REG: u8 = 0x2d;
    /// `if dst >= src goto +off`
    pub const JGE_REG: u8 = 0x3d;
    pub const CALL: u8 = 0x85;
    pub const EXIT: u8 = 0x95;

    pub const FUNC_MAP_LOOKUP_ELEM: i32 = 1;
    /// `bpf_ktime_get_ns`: CLOCK_MONOTONIC
    pub const FUNC_KTIME_GET_NS: i32 = 5;
    pub const FUNC_REDIRECT_MAP: i32 = 51;

    pub const XDP_DROP: i32 = 1;
    pub const XDP_PASS: i32 = 2;
    pub const XDP_TX: i32 = 3;
}

/// A loaded XDP program.
pub struct Program {
    fd: OwnedFd,
}

impl Program {
    /// Loads an XDP program. When the verifier refuses it, its log is in the
    /// error.
    pub fn load_xdp(insns: &[Insn], name: &str) -> Result<Program, SysError> {
        const LICENSE: &CStr = c"GPL";
        let mut log = vec![0u8; 64 * 1024];
        let attr = |log_level: u32, log: &mut [u8]| {
            Attr::new()
                .u32(0, BPF_PROG_TYPE_XDP)
                .u32(4, insns.len() as u32)
                .u64(8, insns.as_ptr() as u64)
                .u64(16, LICENSE.as_ptr() as u64)
                .u32(24, log_level)
                .u32(28, if log_level > 0 { log.len() as u32 } else { 0 })
                .u64(
                    32,
                    if log_level > 0 {
                        log.as_mut_ptr() as u64
                    } else {
                        0
                    },
                )
                .name(48, name)
                .u32(68, BPF_XDP)
        };
        match bpf_fd(BPF_PROG_LOAD, attr(0, &mut log), "bpf(BPF_PROG_LOAD)") {
            Ok(fd) => Ok(Program { fd }),
            Err(e) if e.errno() == Some(libc::EACCES) || e.errno() == Some(libc::EINVAL) => {
                // again with the verifier's log, to say why
                let second = bpf_fd(BPF_PROG_LOAD, attr(1, &mut log), "bpf(BPF_PROG_LOAD)");
                let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
                let text = String::from_utf8_lossy(&log[..end]);
                let last = text.lines().rev().find(|l| !l.trim().is_empty());
                match second {
                    Ok(fd) => Ok(Program { fd }),
                    Err(_) => Err(SysError {
                        call: "bpf(BPF_PROG_LOAD)",
                        source: std::io::Error::new(
                            e.source.kind(),
                            format!("{} (verifier: {})", e.source, last.unwrap_or("no log")),
                        ),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub fn fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    /// Attaches the program to `ifindex` with a BPF link; the program stays
    /// attached exactly as long as the link's descriptor is open.
    pub fn attach_xdp(&self, ifindex: u32, flags: u32) -> Result<Link, SysError> {
        let attr = Attr::new()
            .u32(0, self.fd() as u32)
            .u32(4, ifindex)
            .u32(8, BPF_XDP)
            .u32(12, flags);
        Ok(Link {
            _fd: bpf_fd(BPF_LINK_CREATE, attr, "bpf(BPF_LINK_CREATE)")?,
        })
    }

    /// Runs the program once on a copy of `frame` without side effects;
    /// returns its return code and the frame as it left it.
    pub fn test_run(&self, frame: &[u8]) -> Result<(u32, Vec<u8>), SysError> {
        let mut out = vec![0u8; frame.len() + 256];
        let mut attr = Attr::new()
            .u32(0, self.fd() as u32)
            .u32(8, frame.len() as u32)
            .u32(12, out.len() as u32)
            .u64(16, frame.as_ptr() as u64)
            .u64(24, out.as_mut_ptr() as u64)
            .u32(32, 1);
        bpf(BPF_PROG_TEST_RUN, &mut attr, "bpf(BPF_PROG_TEST_RUN)")?;
        let word = |at: usize| u32::from_ne_bytes(attr.0[at..at + 4].try_into().unwrap_or([0; 4]));
        out.truncate(word(12) as usize);
        Ok((word(4), out))
    }

    /// Runs the program `repeat` times on `frame` with live frames: what it
    /// returns (XDP_TX) is really transmitted on the interface the frame is
    /// given on (`ifindex` through the xdp_md context).
    pub fn run_live(
        &self,
        frame: &[u8],
        ifindex: u32,
        repeat: u32,
        batch: u32,
    ) -> Result<(), SysError> {
        // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex
        let mut ctx = [0u32; 6];
        ctx[1] = frame.len() as u32;
        ctx[3] = ifindex;
        let mut attr = Attr::new()
            .u32(0, self.fd() as u32)
            .u32(8, frame.len() as u32)
            .u64(16, frame.as_ptr() as u64)
            .u32(32, repeat)
            .u32(40, std::mem::size_of_val(&ctx) as u32)
            .u64(48, ctx.as_ptr() as u64)
            .u32(64, BPF_F_TEST_XDP_LIVE_FRAMES)
            .u32(72, batch);
        bpf(BPF_PROG_TEST_RUN, &mut attr, "bpf(BPF_PROG_RUN)").map(|_| ())
    }
}

impl Program {
    /// Runs the program with live frames (as [`run_live`](Self::run_live))
    /// until `done` says so, asked every millisecond from another thread:
    /// one call of the kernel's loop, which a signal ends between two
    /// batches. The program itself decides which runs send (it may pace
    /// them by the clock and drop the others): a call costs the kernel the
    /// setup and teardown of a page pool, far too much to pace by calls.
    pub fn run_live_until(
        &self,
        frame: &[u8],
        ifindex: u32,
        batch: u32,
        done: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), SysError> {
        use nix::sys::signal::Signal;
        use std::sync::atomic::{AtomicBool, Ordering};
        install_wake_handler();
        let me = nix::sys::pthread::pthread_self();
        let returned = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                // until the call has returned: a signal sent just before
                // it started is sent again
                while !returned.load(Ordering::Acquire) {
                    if done() {
                        let _ = nix::sys::pthread::pthread_kill(me, Signal::SIGUSR2);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            });
            let r = self.run_live(frame, ifindex, u32::MAX, batch);
            returned.store(true, Ordering::Release);
            match r {
                Err(e) if e.errno() == Some(libc::EINTR) => Ok(()),
                r => r,
            }
        })
    }
}

/// SIGUSR2 with a handler that does nothing and without `SA_RESTART`: it
/// ends a system call that checks for signals ([`Program::run_live_until`]).
fn install_wake_handler() {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn wake(_: libc::c_int) {}
    ONCE.call_once(|| {
        let act = SigAction::new(SigHandler::Handler(wake), SaFlags::empty(), SigSet::empty());
        // SAFETY: the handler does nothing, so it is async-signal-safe;
        // SIGUSR2 has no other use in ringflow.
        let _ = unsafe { sigaction(Signal::SIGUSR2, &act) };
    });
}

/// An attached BPF link: closing it detaches the program.
pub struct Link {
    _fd: OwnedFd,
}

/// The name of the loaded program with `id`, if it can be read.
pub fn program_name(id: u32) -> Option<String> {
    let fd = bpf_fd(
        BPF_PROG_GET_FD_BY_ID,
        Attr::new().u32(0, id),
        "bpf(BPF_PROG_GET_FD_BY_ID)",
    )
    .ok()?;
    // struct bpf_prog_info is 232 bytes here; the name is at 64, 16 bytes.
    let mut info = [0u64; 232 / 8];
    let mut attr = Attr::new()
        .u32(0, fd.as_raw_fd() as u32)
        .u32(4, std::mem::size_of_val(&info) as u32)
        .u64(8, info.as_mut_ptr() as u64);
    bpf(
        BPF_OBJ_GET_INFO_BY_FD,
        &mut attr,
        "bpf(BPF_OBJ_GET_INFO_BY_FD)",
    )
    .ok()?;
    let bytes: Vec<u8> = info.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let name = &bytes[64..80];
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    Some(String::from_utf8_lossy(&name[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The instruction as the kernel reads it: 8 bytes, little endian.
    fn bytes(i: Insn) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = i.code;
        b[1] = i.regs;
        b[2..4].copy_from_slice(&i.off.to_le_bytes());
        b[4..8].copy_from_slice(&i.imm.to_le_bytes());
        b
    }

    #[test]
    fn instructions_encode_as_the_kernel_reads_them() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        // what `llvm-objdump -d` shows for the same instructions
        assert_eq!(
            bytes(insn(op::MOV_IMM, 0, 0, 0, 2)),
            [0xb7, 0, 0, 0, 2, 0, 0, 0]
        );
        assert_eq!(
            bytes(insn(op::EXIT, 0, 0, 0, 0)),
            [0x95, 0, 0, 0, 0, 0, 0, 0]
        );
        // r2 = r10: dst in the low nibble, src in the high one
        assert_eq!(
            bytes(insn(op::MOV_REG, 2, 10, 0, 0)),
            [0xbf, 0xa2, 0, 0, 0, 0, 0, 0]
        );
        // r2 += -4
        assert_eq!(
            bytes(insn(op::ADD_IMM, 2, 0, 0, -4)),
            [0x07, 0x02, 0, 0, 0xfc, 0xff, 0xff, 0xff]
        );
        // r2 = *(u32 *)(r6 + 16)
        assert_eq!(
            bytes(insn(op::LDX_W, 2, 6, 16, 0)),
            [0x61, 0x62, 16, 0, 0, 0, 0, 0]
        );
        // if r0 == 0 goto +28
        assert_eq!(
            bytes(insn(op::JEQ_IMM, 0, 0, 28, 0)),
            [0x15, 0, 28, 0, 0, 0, 0, 0]
        );
        // r1 = map fd 7: src 1 marks the immediate as a map's fd
        assert_eq!(
            bytes(insn(op::LD_IMM64, 1, op::PSEUDO_MAP_FD, 0, 7)),
            [0x18, 0x11, 0, 0, 7, 0, 0, 0]
        );
    }
}
