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

    /// Asks the kernel to put a `struct virtio_net_hdr` before each frame
    /// (PACKET_VNET_HDR; before the ring is set up, raw sockets only): it
    /// tells a packet GRO merged (or GSO has yet to split) from one that
    /// was one frame on the wire, and the size of its segments.
    pub fn set_vnet_hdr(&self) -> Result<(), SysError> {
        let v: libc::c_int = 1;
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            libc::PACKET_VNET_HDR,
            &v,
            "setsockopt(PACKET_VNET_HDR)",
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

    /// The classic BPF program of a `PACKET_FANOUT_CBPF` group this socket
    /// joined: its value, modulo the members, picks the socket a packet
    /// goes to. Classic BPF needs no capability beyond the socket's.
    pub fn set_fanout_program(&self, prog: &[libc::sock_filter]) -> Result<(), SysError> {
        let fprog = libc::sock_fprog {
            len: prog.len() as u16,
            filter: prog.as_ptr().cast_mut(),
        };
        setsockopt(
            self.fd(),
            libc::SOL_PACKET,
            libc::PACKET_FANOUT_DATA,
            &fprog,
            "setsockopt(PACKET_FANOUT_DATA)",
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
    /// For a packet merged from TCP or UDP segments (GRO, or GSO not yet
    /// done on a packet this host sends), the segments' payload size; 0
    /// for one frame as it was on the wire (and on a ring without the
    /// virtio header).
    pub gso_size: u16,
}

/// The virtio header's size, and its `gso_type` values that name
/// segments of a known payload size (`VIRTIO_NET_HDR_GSO_*`: TCPV4,
/// UDP, TCPV6, UDP_L4; bit 7 is ECN).
const VNET_HDR_LEN: usize = 10;
const fn is_segmented(gso_type: u8) -> bool {
    matches!(gso_type & 0x7f, 1 | 3 | 4 | 5)
}

/// A TPACKET_V3 receive ring mapped from its socket.
pub struct RxRing {
    sock: PacketSocket,
    map: Mmap,
    /// The socket puts a virtio header before each frame.
    vnet: bool,
    block_size: usize,
    blocks: usize,
    next: usize,
}

impl RxRing {
    /// Maps the ring set up on `sock` with `p`; `vnet`: the socket was
    /// given [`PacketSocket::set_vnet_hdr`].
    pub fn map(sock: PacketSocket, p: &RingParams, vnet: bool) -> Result<RxRing, SysError> {
        let map = Mmap::shared(sock.fd(), p.bytes())?;
        Ok(RxRing {
            sock,
            map,
            vnet,
            block_size: p.block_size as usize,
            blocks: p.block_count as usize,
            next: 0,
        })
    }

    pub fn socket(&self) -> &PacketSocket {
        &self.sock
    }

    /// Whether each frame comes with the virtio header (and merged packets
    /// with their segment size).
    pub fn vnet(&self) -> bool {
        self.vnet
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

    /// The packets of the block (see [`block_packets`]).
    pub fn packets(&self) -> impl Iterator<Item = RingPacket<'_>> {
        block_packets(self.bytes, self.ring.vnet)
    }
}

/// Walks the packets of a TPACKET_V3 block (`struct tpacket_block_desc`,
/// then `num_pkts` packets, each a `struct tpacket3_hdr` whose
/// `tp_next_offset` leads to the next). Offsets come from the kernel and
/// are checked against the block anyway: a bad one, or a zero offset
/// before the count is reached, ends the walk. With `vnet`, each frame
/// has a `struct virtio_net_hdr` just before it (packet(7),
/// PACKET_VNET_HDR), read for its `gso_type` and `gso_size`.
pub fn block_packets(b: &[u8], vnet: bool) -> impl Iterator<Item = RingPacket<'_>> {
    let n = u32_at(b, block::NUM_PKTS);
    let mut at = Some(u32_at(b, block::FIRST_PKT) as usize);
    (0..n).map_while(move |_| {
        let off = at?;
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
        let gso_size = match vnet {
            // flags, gso_type, hdr_len, gso_size, in the host's order
            // (a little-endian virtio header on the hosts we build for)
            true => b
                .get(off + mac - VNET_HDR_LEN..off + mac)
                .filter(|v| is_segmented(v[1]))
                .map_or(0, |v| u16::from_le_bytes([v[4], v[5]])),
            false => 0,
        };
        let p = RingPacket {
            data,
            len: u32_at(h, pkt::LEN),
            ts_ns: u64::from(u32_at(h, pkt::SEC)) * 1_000_000_000 + u64::from(u32_at(h, pkt::NSEC)),
            stripped_tag,
            gso_size,
        };
        // the last packet has no next one; a count that says otherwise
        // ends here rather than reading this packet again
        let next = u32_at(h, pkt::NEXT_OFFSET) as usize;
        at = (next != 0).then(|| off + next);
        Some(p)
    })
}

impl Drop for Block<'_> {
    fn drop(&mut self) {
        self.ring.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block laid out as the kernel lays out a TPACKET_V3 block in the
    /// ring: the descriptor, then each packet's header and its bytes at
    /// `tp_mac`, 16-byte aligned, chained by `tp_next_offset`.
    struct BlockBuilder {
        bytes: Vec<u8>,
        last: Option<usize>,
        count: u32,
    }

    impl BlockBuilder {
        fn new(size: usize) -> BlockBuilder {
            let mut bytes = vec![0u8; size];
            bytes[block::FIRST_PKT..block::FIRST_PKT + 4].copy_from_slice(&48u32.to_ne_bytes());
            BlockBuilder {
                bytes,
                last: None,
                count: 0,
            }
        }

        fn put(&mut self, off: usize, v: u32) {
            self.bytes[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        }

        /// Adds a packet: `data` captured of `len` on the wire, at
        /// `ts` (seconds, nanoseconds), with `status` and the VLAN words
        /// (TCI, TPID).
        fn packet(&mut self, data: &[u8], len: u32, ts: (u32, u32), status: u32, vlan: (u32, u16)) {
            let ((sec, nsec), (tci, tpid)) = (ts, vlan);
            let off = match self.last {
                None => 48,
                Some(prev) => {
                    let prev_len = u32_at(&self.bytes, prev + pkt::SNAPLEN) as usize;
                    let next = (prev + 80 + prev_len).next_multiple_of(16);
                    self.put(prev + pkt::NEXT_OFFSET, (next - prev) as u32);
                    next
                }
            };
            self.put(off + pkt::SEC, sec);
            self.put(off + pkt::NSEC, nsec);
            self.put(off + pkt::SNAPLEN, data.len() as u32);
            self.put(off + pkt::LEN, len);
            self.put(off + pkt::STATUS, status);
            self.bytes[off + pkt::MAC..off + pkt::MAC + 2].copy_from_slice(&80u16.to_ne_bytes());
            self.put(off + pkt::VLAN_TCI, tci);
            self.bytes[off + pkt::VLAN_TPID..off + pkt::VLAN_TPID + 2]
                .copy_from_slice(&tpid.to_ne_bytes());
            self.bytes[off + 80..off + 80 + data.len()].copy_from_slice(data);
            self.last = Some(off);
            self.count += 1;
            self.put(block::NUM_PKTS, self.count);
        }
    }

    #[test]
    fn walks_every_packet_of_a_block() {
        let mut b = BlockBuilder::new(4096);
        b.packet(&[1; 60], 60, (10, 5), TP_STATUS_USER, (0, 0));
        // cut at the snap length: the wire length is kept
        b.packet(&[2; 100], 1500, (11, 999_999_999), TP_STATUS_USER, (0, 0));
        // a stripped 802.1ad tag, and a stripped tag without a TPID
        let tpid_valid = TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID;
        b.packet(&[3; 64], 64, (12, 0), tpid_valid, (0x2007, 0x88a8));
        b.packet(&[4; 64], 64, (12, 1), TP_STATUS_VLAN_VALID, (42, 0));
        let got: Vec<RingPacket<'_>> = block_packets(&b.bytes, false).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(
            (got[0].data, got[0].len, got[0].ts_ns),
            (&[1u8; 60][..], 60, 10_000_000_005)
        );
        assert_eq!((got[1].data.len(), got[1].len), (100, 1500));
        assert_eq!(got[1].ts_ns, 11_999_999_999);
        assert_eq!(got[0].stripped_tag, None);
        assert_eq!(got[2].stripped_tag, Some((0x88a8, 0x2007)));
        assert_eq!(got[3].stripped_tag, Some((0x8100, 42)));
        assert!(got[3].data.iter().all(|&x| x == 4));
    }

    #[test]
    fn reads_the_segment_size_from_the_virtio_header() {
        let mut b = BlockBuilder::new(8192);
        b.packet(&[1; 64], 9000, (0, 0), TP_STATUS_USER, (0, 0));
        b.packet(&[2; 64], 1514, (0, 0), TP_STATUS_USER, (0, 0));
        b.packet(&[3; 64], 3000, (0, 0), TP_STATUS_USER, (0, 0));
        b.packet(&[4; 64], 3000, (0, 0), TP_STATUS_USER, (0, 0));
        let offs: Vec<usize> = {
            let mut v = vec![48];
            let mut at = 48;
            for _ in 0..3 {
                at += u32_at(&b.bytes, at + pkt::NEXT_OFFSET) as usize;
                v.push(at);
            }
            v
        };
        // TCPV4 with ECN, 1448; NONE; TCPV6, 1428; SCTP (2, not a
        // segment size ringflow can use)
        for (&off, (ty, size)) in offs.iter().zip([(0x81, 1448), (0, 0), (4, 1428), (2, 500)]) {
            let v = off + 80 - VNET_HDR_LEN;
            b.bytes[v + 1] = ty;
            b.bytes[v + 4..v + 6].copy_from_slice(&(size as u16).to_le_bytes());
        }
        let sizes: Vec<u16> = block_packets(&b.bytes, true).map(|p| p.gso_size).collect();
        assert_eq!(sizes, [1448, 0, 1428, 0]);
        // without the header the bytes before a frame mean nothing
        assert!(block_packets(&b.bytes, false).all(|p| p.gso_size == 0));
    }

    #[test]
    fn a_bad_offset_or_length_ends_the_walk() {
        let mut b = BlockBuilder::new(1024);
        b.packet(&[1; 60], 60, (0, 0), TP_STATUS_USER, (0, 0));
        b.packet(&[2; 60], 60, (0, 0), TP_STATUS_USER, (0, 0));
        // the second packet claims more bytes than the block has
        let second = b.last.unwrap();
        b.put(second + pkt::SNAPLEN, 5000);
        assert_eq!(block_packets(&b.bytes, false).count(), 1);
        // the first points outside the block
        b.put(48 + pkt::NEXT_OFFSET, 1 << 20);
        assert_eq!(block_packets(&b.bytes, false).count(), 1);
        // a count larger than what is there stops at what is there
        let mut c = BlockBuilder::new(512);
        c.packet(&[1; 60], 60, (0, 0), TP_STATUS_USER, (0, 0));
        c.put(block::NUM_PKTS, 9);
        assert_eq!(block_packets(&c.bytes, false).count(), 1);
        // an empty block, and one too short for its descriptor
        assert_eq!(
            block_packets(&BlockBuilder::new(64).bytes, false).count(),
            0
        );
        assert_eq!(block_packets(&[0u8; 8], false).count(), 0);
    }
}
