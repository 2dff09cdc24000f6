//! AF_PACKET sockets: TPACKET_V3 receive rings and batched sending.
//!
//! Ring protocol (packet(7), Documentation/networking/packet_mmap.rst): the
//! ring is a sequence of blocks. The kernel fills a block and then sets its
//! `block_status` to `TP_STATUS_USER`; user space reads it and hands it back
//! by storing `TP_STATUS_KERNEL`. While a block is the user's, the kernel
//! does not touch it.

use super::{Mmap, SysError, check_len, check_ret, getsockopt, owned, raw, setsockopt};
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

pub const TP_STATUS_KERNEL: u32 = 0;
pub const TP_STATUS_USER: u32 = 1;
pub const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then
/// `struct tpacket_hdr_v1`).
mod block {
    pub const STATUS: usize = 8;
    pub const NUM_PKTS: usize = 12;
    pub const FIRST_PKT: usize = 16;
}

/// Offsets in `struct tpacket3_hdr`.
mod pkt {
    pub const NEXT_OFFSET: usize = 0;
    pub const SEC: usize = 4;
    pub const NSEC: usize = 8;
    pub const SNAPLEN: usize = 12;
    pub const LEN: usize = 16;
    pub const STATUS: usize = 20;
    pub const MAC: usize = 24;
    pub const VLAN_TCI: usize = 32;
    pub const VLAN_TPID: usize = 36;
    pub const HEADER_LEN: usize = 48;
}

/// Ring geometry (`struct tpacket_req3`).
#[derive(Debug, Clone, Copy)]
pub struct RingParams {
    pub block_size: u32,
    pub block_count: u32,
    pub frame_size: u32,
    pub block_timeout_ms: u32,
}

impl RingParams {
    pub fn bytes(&self) -> usize {
        self.block_size as usize * self.block_count as usize
    }
}

/// An AF_PACKET socket.
pub struct PacketSocket {
    fd: OwnedFd,
}

impl PacketSocket {
    /// A raw (`SOCK_RAW`: frames from the link header) or cooked
    /// (`SOCK_DGRAM`: from the network header) packet socket that receives
    /// nothing until it is bound.
    pub fn new(dgram: bool) -> Result<PacketSocket, SysError> {
        let ty = if dgram {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_RAW
        };
        // Protocol 0: no packets are queued before bind, so none arrive
        // before the filter is attached.
        // SAFETY: plain socket creation.
        let fd = unsafe { libc::socket(libc::AF_PACKET, ty | libc::SOCK_CLOEXEC, 0) };
        Ok(PacketSocket {
            fd: owned(check_ret("socket(AF_PACKET)", fd)?),
        })
    }

    pub fn fd(&self) -> RawFd {
        raw(&self.fd)
    }

    pub fn set_tpacket_v3(&self) -> Result<(), SysError> {
        let v: libc::c_int = 2; // TPACKET_V3
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &v,
            "setsockopt(PACKET_VERSION)",
        )
    }

    /// Asks the kernel to leave out packets this host sends.
    pub fn ignore_outgoing(&self) -> Result<(), SysError> {
        let v: libc::c_int = 1;
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            23,
            &v,
            "setsockopt(PACKET_IGNORE_OUTGOING)",
        )
    }

    pub fn set_rx_ring(&self, p: &RingParams) -> Result<(), SysError> {
        let req = libc::tpacket_req3 {
            tp_block_size: p.block_size,
            tp_block_nr: p.block_count,
            tp_frame_size: p.frame_size,
            tp_frame_nr: (p.bytes() / p.frame_size as usize) as u32,
            tp_retire_blk_tov: p.block_timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req,
            "setsockopt(PACKET_RX_RING)",
        )
    }

    /// Attaches a classic BPF program.
    pub fn attach_filter(&self, prog: &[libc::sock_filter]) -> Result<(), SysError> {
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr().cast_mut(),
        };
        setsockopt(
            self.fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog,
            "setsockopt(SO_ATTACH_FILTER)",
        )
    }

    /// Binds to interface `ifindex`, receiving every protocol if `receive`
    /// (a socket that only sends receives nothing).
    pub fn bind(&self, ifindex: u32, receive: bool) -> Result<(), SysError> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = if receive {
            (libc::ETH_P_ALL as u16).to_be()
        } else {
            0
        };
        sa.sll_ifindex = ifindex as i32;
        // SAFETY: `sa` is a valid sockaddr_ll and its size is passed.
        let ret = unsafe {
            libc::bind(
                self.fd(),
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        check_ret("bind(AF_PACKET)", ret).map(|_| ())
    }

    /// Joins fanout group `id` with mode and flags (`PACKET_FANOUT_*`).
    pub fn join_fanout(&self, id: u16, mode_and_flags: u16) -> Result<(), SysError> {
        let arg: libc::c_int = i32::from(id) | (i32::from(mode_and_flags) << 16);
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            libc::PACKET_FANOUT,
            &arg,
            "setsockopt(PACKET_FANOUT)",
        )
    }

    /// Promiscuous mode on `ifindex` for as long as this socket lives: the
    /// kernel drops the membership when the socket closes, however the
    /// process ends.
    pub fn add_promisc(&self, ifindex: u32) -> Result<(), SysError> {
        let mreq = libc::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq,
            "setsockopt(PACKET_ADD_MEMBERSHIP)",
        )
    }

    /// Sends with `dev_queue_xmit` bypassing the qdisc layer.
    pub fn set_qdisc_bypass(&self) -> Result<(), SysError> {
        let v: libc::c_int = 1;
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            20,
            &v,
            "setsockopt(PACKET_QDISC_BYPASS)",
        )
    }

    /// Packets, drops and queue freezes since the last call (the kernel
    /// resets its counters on every read).
    pub fn take_stats(&self) -> Result<(u64, u64, u64), SysError> {
        let s: TpacketStatsV3 = getsockopt(
            self.fd(),
            libc::SOL_PACKET,
            libc::PACKET_STATISTICS,
            "getsockopt(PACKET_STATISTICS)",
        )?;
        // tp_packets counts drops too
        Ok((
            u64::from(s.tp_packets.saturating_sub(s.tp_drops)),
            u64::from(s.tp_drops),
            u64::from(s.tp_freeze_q_cnt),
        ))
    }

    /// Clears and returns a pending socket error (ENETDOWN when the
    /// interface went down or away).
    pub fn take_error(&self) -> Option<i32> {
        let e: libc::c_int = getsockopt(
            self.fd(),
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            "getsockopt(SO_ERROR)",
        )
        .ok()?;
        (e != 0).then_some(e)
    }

    /// Sends each frame as one packet with one `sendmmsg` call, reusing
    /// `buf`'s arrays. Returns how many were accepted (the rest may be retried).
    pub fn send_batch(&self, frames: &[&[u8]], buf: &mut SendBuf) -> Result<usize, SysError> {
        buf.iovs.clear();
        buf.iovs.extend(frames.iter().map(|f| libc::iovec {
            iov_base: f.as_ptr().cast_mut().cast(),
            iov_len: f.len(),
        }));
        buf.msgs.clear();
        for iov in buf.iovs.iter_mut() {
            // SAFETY: msghdr is plain data; all-zero is valid.
            let mut h: libc::msghdr = unsafe { std::mem::zeroed() };
            h.msg_iov = iov;
            h.msg_iovlen = 1;
            buf.msgs.push(libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            });
        }
        // SAFETY: `buf.msgs` holds valid headers whose iovecs (in `buf.iovs`,
        // not touched meanwhile) point into `frames`, all alive for the
        // call; the kernel only reads them.
        let ret =
            unsafe { libc::sendmmsg(self.fd(), buf.msgs.as_mut_ptr(), buf.msgs.len() as u32, 0) };
        check_len("sendmmsg", ret as isize)
    }
}

/// The message arrays of [`PacketSocket::send_batch`], kept between calls
/// so that sending allocates nothing once they have grown.
#[derive(Default)]
pub struct SendBuf {
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
}

#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

/// One received packet, borrowed from a block.
#[derive(Debug, Clone, Copy)]
pub struct RingPacket<'a> {
    pub data: &'a [u8],
    /// Length on the wire as the kernel saw it (a stripped VLAN tag not included).
    pub len: u32,
    pub ts_ns: u64,
    /// (TPID, TCI) of a VLAN tag the kernel or the NIC took off the frame.
    pub stripped_tag: Option<(u16, u16)>,
}

/// A TPACKET_V3 receive ring mapped from its socket.
pub struct RxRing {
    sock: PacketSocket,
    map: Mmap,
    block_size: usize,
    blocks: usize,
    next: usize,
}

impl RxRing {
    /// Maps the ring set up on `sock` with `p`.
    pub fn map(sock: PacketSocket, p: &RingParams) -> Result<RxRing, SysError> {
        let map = Mmap::shared(sock.fd(), p.bytes())?;
        Ok(RxRing {
            sock,
            map,
            block_size: p.block_size as usize,
            blocks: p.block_count as usize,
            next: 0,
        })
    }

    pub fn socket(&self) -> &PacketSocket {
        &self.sock
    }

    fn block_status(&self, b: usize) -> &AtomicU32 {
        let off = b * self.block_size + block::STATUS;
        // SAFETY: `off` lies inside the mapping (b < blocks) and is 4-byte
        // aligned (blocks are page-aligned, STATUS is 8); the kernel writes
        // this word concurrently, which is why it is only ever accessed
        // through an atomic.
        unsafe { &*(self.map.as_ptr().add(off) as *const AtomicU32) }
    }

    /// The next block if the kernel has handed it over.
    pub fn next_block(&mut self) -> Option<Block<'_>> {
        let b = self.next;
        // Acquire pairs with the kernel's smp_wmb() before it sets
        // TP_STATUS_USER in prb_close_block(): the packets are visible.
        let status = self.block_status(b).load(Ordering::Acquire);
        if status & TP_STATUS_USER == 0 {
            return None;
        }
        // SAFETY: the block is ours until we store TP_STATUS_KERNEL (in
        // Block::drop); the kernel does not write it meanwhile.
        let bytes = unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(b * self.block_size), self.block_size)
        };
        Some(Block { ring: self, bytes })
    }

    fn release(&mut self) {
        let b = self.next;
        // Release: our reads of the block happen before the kernel may
        // reuse it (it checks the status with smp_rmb()).
        self.block_status(b)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.next = (b + 1) % self.blocks;
    }
}

/// A block of packets owned by user space; handed back on drop.
pub struct Block<'r> {
    ring: &'r mut RxRing,
    bytes: &'r [u8],
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .map(|s| u16::from_ne_bytes([s[0], s[1]]))
        .unwrap_or(0)
}

impl Block<'_> {
    pub fn num_packets(&self) -> u32 {
        u32_at(self.bytes, block::NUM_PKTS)
    }

    /// The packets of the block. Offsets come from the kernel and are
    /// checked against the block anyway: a bad one ends the iteration.
    pub fn packets(&self) -> impl Iterator<Item = RingPacket<'_>> {
        let b = self.bytes;
        let n = self.num_packets();
        let mut off = u32_at(b, block::FIRST_PKT) as usize;
        (0..n).map_while(move |_| {
            let h = b.get(off..off + pkt::HEADER_LEN)?;
            let snap = u32_at(h, pkt::SNAPLEN) as usize;
            let mac = usize::from(u16_at(h, pkt::MAC));
            let data = b.get(off + mac..off + mac + snap)?;
            let status = u32_at(h, pkt::STATUS);
            let stripped_tag = (status & TP_STATUS_VLAN_VALID != 0).then(|| {
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    u16_at(h, pkt::VLAN_TPID)
                } else {
                    0x8100
                };
                (tpid, u32_at(h, pkt::VLAN_TCI) as u16)
            });
            let p = RingPacket {
                data,
                len: u32_at(h, pkt::LEN),
                ts_ns: u64::from(u32_at(h, pkt::SEC)) * 1_000_000_000
                    + u64::from(u32_at(h, pkt::NSEC)),
                stripped_tag,
            };
            let next = u32_at(h, pkt::NEXT_OFFSET) as usize;
            off += next;
            Some(p)
        })
    }
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        self.ring.release();
    }
}
