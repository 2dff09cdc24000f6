//! AF_XDP sockets (Documentation/networking/af_xdp.rst): a UMEM of frames
//! we own, registered with the socket, and three single-producer,
//! single-consumer rings mapped from the socket: the fill ring (we produce
//! free frames, the kernel consumes them), the RX ring (the kernel
//! produces received descriptors, we consume them) and the completion ring
//! (required by bind; unused, as ringflow never transmits).
//!
//! Index protocol, as in the kernel's `xsk_queue.h`:
//!
//! ```text
//!  producer                          consumer
//!  if (LOAD ->consumer)    (A)       LOAD.acquire ->producer  (C)
//!     STORE entries                  LOAD entries
//!     STORE.release ->producer (B)   STORE.release ->consumer (D)
//! ```
//!
//! Our producer index stores (fill ring) are releases that pair with the
//! kernel's acquire (C) in `xskq_cons_peek`; our producer index loads (RX
//! ring) are acquires that pair with the kernel's release (B) in
//! `xskq_prod_submit`; our consumer index stores (RX ring) are releases
//! that order our reads of the descriptors and frames before the kernel
//! reuses them (its load (A)).

use super::{Mmap, SysError, check_len, check_ret, getsockopt, map_at, owned, raw, setsockopt};
use std::os::fd::{OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// Geometry of one socket's UMEM and rings. Ring sizes are powers of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XskParams {
    /// Bytes per UMEM frame: 2048 or 4096.
    pub frame_size: u32,
    pub frame_count: u32,
    pub fill_size: u32,
    pub rx_size: u32,
    /// UMEM from the hugetlbfs pool (else transparent huge pages where
    /// the kernel has them).
    pub huge_pages: bool,
}

impl XskParams {
    pub fn umem_bytes(&self) -> usize {
        self.frame_size as usize * self.frame_count as usize
    }
}

/// How the socket is bound to the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindMode {
    ZeroCopy,
    Copy,
}

/// The kernel's drop counters for one socket (`struct xdp_statistics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C)]
pub struct XdpStats {
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty_descs: u64,
    pub tx_ring_empty_descs: u64,
}

impl XdpStats {
    /// Received frames the socket lost. The reasons overlap: in copy mode
    /// the kernel counts a frame that finds the fill ring empty in
    /// `rx_dropped` as well as in `rx_fill_ring_empty_descs`, so the latter
    /// is not added.
    pub fn rx_lost(&self) -> u64 {
        self.rx_dropped + self.rx_invalid_descs + self.rx_ring_full
    }
}

/// The offsets of one ring in its mapping (`struct xdp_ring_offset`).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct RingOffset {
    producer: u64,
    consumer: u64,
    desc: u64,
    flags: u64,
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct MmapOffsets {
    rx: RingOffset,
    tx: RingOffset,
    fr: RingOffset,
    cr: RingOffset,
}

/// One mapped ring: its indices and its entries.
struct Ring {
    map: Mmap,
    off: RingOffset,
    mask: u32,
    /// Our copy of the index we own, ahead of what the kernel has seen
    /// until it is stored.
    local: u32,
    /// The last value read of the kernel's index.
    cached: u32,
}

impl Ring {
    fn map(
        fd: RawFd,
        off: RingOffset,
        size: u32,
        entry: usize,
        pgoff: u64,
    ) -> Result<Ring, SysError> {
        let len = off.desc as usize + size as usize * entry;
        let map = map_at(len, libc::MAP_SHARED | libc::MAP_POPULATE, fd, pgoff as i64)?;
        Ok(Ring {
            map,
            off,
            mask: size - 1,
            local: 0,
            cached: 0,
        })
    }

    fn index(&self, at: u64) -> &AtomicU32 {
        // SAFETY: the kernel placed a naturally aligned u32 index at this
        // offset inside the mapping (XDP_MMAP_OFFSETS), which lives as long
        // as `self`; the kernel and we access it only atomically.
        unsafe { &*self.map.as_ptr().add(at as usize).cast::<AtomicU32>() }
    }

    fn producer(&self) -> &AtomicU32 {
        self.index(self.off.producer)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.index(self.off.consumer)
    }

    fn flags(&self) -> u32 {
        self.index(self.off.flags).load(Ordering::Relaxed)
    }

    fn entry_ptr(&self, i: u32, size: usize) -> *mut u8 {
        let at = self.off.desc as usize + (i & self.mask) as usize * size;
        debug_assert!(at + size <= self.map.len());
        // SAFETY: `i & mask` < ring size, so the entry lies inside the mapping.
        unsafe { self.map.as_ptr().add(at) }
    }
}

/// A received frame's place in the UMEM (`struct xdp_desc`).
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct Desc {
    addr: u64,
    len: u32,
    options: u32,
}

/// An AF_XDP socket bound to one queue, with its own UMEM.
pub struct XskSocket {
    fill: Ring,
    rx: Ring,
    _completion: Ring,
    umem: Mmap,
    params: XskParams,
    /// Frames that are ours and wait for room in the fill ring (allocated
    /// once for every frame of the UMEM).
    free: Vec<u64>,
    fd: OwnedFd,
}

const SO_PREFER_BUSY_POLL: libc::c_int = 69;
const SO_BUSY_POLL_BUDGET: libc::c_int = 70;

impl XskSocket {
    /// Creates the socket, registers a UMEM, sets up and maps the rings,
    /// fills the fill ring, and binds to `queue` of `ifindex`.
    pub fn open(
        ifindex: u32,
        queue: u32,
        p: &XskParams,
        mode: BindMode,
    ) -> Result<XskSocket, SysError> {
        // SAFETY: plain socket creation.
        let fd = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        let fd = owned(check_ret("socket(AF_XDP)", fd)?);
        // Without the hugetlbfs pool the UMEM is still advised for
        // transparent huge pages (the kernel faults them in when it pins
        // the UMEM at registration): frames lie 2 KiB apart, so with small
        // pages nearly every other frame costs a TLB miss, and under
        // virtualisation a page walk is dear (AF_XDP at 1000 flows here:
        // 1.43 Mpps on small pages, 1.84 on transparent and 1.98 on
        // hugetlbfs huge pages, each in one run of bench/live.sh).
        let umem = if p.huge_pages {
            Mmap::anonymous(p.umem_bytes(), true)?
        } else {
            Mmap::anonymous_huge(p.umem_bytes())?
        };
        let reg = libc::xdp_umem_reg {
            addr: umem.as_ptr() as u64,
            len: p.umem_bytes() as u64,
            chunk_size: p.frame_size,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(
            raw(&fd),
            libc::SOL_XDP,
            libc::XDP_UMEM_REG,
            &reg,
            "setsockopt(XDP_UMEM_REG)",
        )?;
        let s = raw(&fd);
        setsockopt(
            s,
            libc::SOL_XDP,
            libc::XDP_UMEM_FILL_RING,
            &p.fill_size,
            "setsockopt(XDP_UMEM_FILL_RING)",
        )?;
        // bind needs a completion ring even when nothing is sent
        let comp_size: u32 = 64;
        setsockopt(
            s,
            libc::SOL_XDP,
            libc::XDP_UMEM_COMPLETION_RING,
            &comp_size,
            "setsockopt(XDP_UMEM_COMPLETION_RING)",
        )?;
        setsockopt(
            s,
            libc::SOL_XDP,
            libc::XDP_RX_RING,
            &p.rx_size,
            "setsockopt(XDP_RX_RING)",
        )?;
        let off: MmapOffsets = getsockopt(
            s,
            libc::SOL_XDP,
            libc::XDP_MMAP_OFFSETS,
            "getsockopt(XDP_MMAP_OFFSETS)",
        )?;
        let mut fill = Ring::map(s, off.fr, p.fill_size, 8, libc::XDP_UMEM_PGOFF_FILL_RING)?;
        let completion = Ring::map(
            s,
            off.cr,
            comp_size,
            8,
            libc::XDP_UMEM_PGOFF_COMPLETION_RING,
        )?;
        let rx = Ring::map(
            s,
            off.rx,
            p.rx_size,
            std::mem::size_of::<Desc>(),
            libc::XDP_PGOFF_RX_RING as u64,
        )?;

        // Every frame starts free; as many as the fill ring holds go to the
        // kernel now, and frames go back as soon as they are accounted.
        let mut free: Vec<u64> = Vec::with_capacity(p.frame_count as usize);
        free.extend(
            (0..u64::from(p.frame_count))
                .rev()
                .map(|i| i * u64::from(p.frame_size)),
        );
        fill_from(&mut fill, &mut free);

        let flags = libc::XDP_USE_NEED_WAKEUP
            | match mode {
                BindMode::ZeroCopy => libc::XDP_ZEROCOPY,
                BindMode::Copy => libc::XDP_COPY,
            };
        let addr = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: flags,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: queue,
            sxdp_shared_umem_fd: 0,
        };
        // SAFETY: `addr` is a valid sockaddr_xdp of the size passed.
        let ret = unsafe {
            libc::bind(
                s,
                (&addr as *const libc::sockaddr_xdp).cast(),
                std::mem::size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
            )
        };
        check_ret("bind(AF_XDP)", ret)?;
        Ok(XskSocket {
            fill,
            rx,
            _completion: completion,
            umem,
            params: *p,
            free,
            fd,
        })
    }

    pub fn fd(&self) -> RawFd {
        raw(&self.fd)
    }

    /// Busy polling: the socket's poll runs the driver's NAPI for up to
    /// `usecs` with up to `budget` packets, preferred over interrupts.
    pub fn set_busy_poll(&self, usecs: u32, budget: u32) -> Result<(), SysError> {
        let one: libc::c_int = 1;
        let s = self.fd();
        setsockopt(
            s,
            libc::SOL_SOCKET,
            SO_PREFER_BUSY_POLL,
            &one,
            "setsockopt(SO_PREFER_BUSY_POLL)",
        )?;
        setsockopt(
            s,
            libc::SOL_SOCKET,
            libc::SO_BUSY_POLL,
            &(usecs as libc::c_int),
            "setsockopt(SO_BUSY_POLL)",
        )?;
        setsockopt(
            s,
            libc::SOL_SOCKET,
            SO_BUSY_POLL_BUDGET,
            &(budget as libc::c_int),
            "setsockopt(SO_BUSY_POLL_BUDGET)",
        )
    }

    /// The kernel's drop counters (cumulative since the socket was bound).
    pub fn stats(&self) -> Result<XdpStats, SysError> {
        getsockopt(
            self.fd(),
            libc::SOL_XDP,
            libc::XDP_STATISTICS,
            "getsockopt(XDP_STATISTICS)",
        )
    }

    /// Takes up to `max` received frames from the RX ring. They go back to
    /// the fill ring when the batch is dropped.
    pub fn receive(&mut self, max: u32) -> RxBatch<'_> {
        // (C): acquire, pairs with the kernel's release of the producer.
        let available = self
            .rx
            .producer()
            .load(Ordering::Acquire)
            .wrapping_sub(self.rx.local);
        let n = available.min(max);
        RxBatch {
            start: self.rx.local,
            n,
            sock: self,
        }
    }

    fn desc(&self, i: u32) -> Desc {
        // SAFETY: callers pass indices the kernel published (below its
        // producer index, acquired) and we have not released: the entry is
        // ours to read.
        unsafe { self.rx.entry_ptr(i, 16).cast::<Desc>().read() }
    }

    /// Whether the kernel asks for a syscall before it uses the fill ring
    /// again (XDP_USE_NEED_WAKEUP).
    pub fn needs_wakeup(&self) -> bool {
        self.fill.flags() & libc::XDP_RING_NEED_WAKEUP != 0
    }

    /// The syscall that wakes the kernel's receive path.
    pub fn wakeup(&self) {
        // SAFETY: a zero-length non-blocking receive on our socket.
        let ret = unsafe {
            libc::recvfrom(
                self.fd(),
                std::ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let _ = check_len("recvfrom", ret);
    }
}

/// Frames taken from the RX ring; dropping the batch returns them to the
/// fill ring and releases their RX descriptors.
pub struct RxBatch<'a> {
    sock: &'a mut XskSocket,
    start: u32,
    n: u32,
}

impl RxBatch<'_> {
    pub fn len(&self) -> u32 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The frames' bytes, in arrival order. The headers of frames a few
    /// places ahead are prefetched: frames lie 2 or 4 KiB apart in the
    /// UMEM, so the hardware prefetcher does not guess them.
    pub fn frames(&self) -> impl Iterator<Item = &[u8]> {
        const AHEAD: u32 = 8;
        let umem = &self.sock.umem;
        for k in 0..AHEAD.min(self.n) {
            self.prefetch_frame(k);
        }
        (0..self.n).filter_map(move |k| {
            if k + AHEAD < self.n {
                self.prefetch_frame(k + AHEAD);
            }
            let d = self.sock.desc(self.start.wrapping_add(k));
            let (at, len) = (d.addr as usize, d.len as usize);
            if at.checked_add(len)? > umem.len() {
                return None;
            }
            // SAFETY: the frame lies inside the UMEM (checked) and the kernel
            // does not write it while its descriptor is ours, which it is
            // until the batch is dropped; the slice borrows the batch.
            Some(unsafe { std::slice::from_raw_parts(umem.as_ptr().add(at), len) })
        })
    }
}

impl RxBatch<'_> {
    fn prefetch_frame(&self, k: u32) {
        let d = self.sock.desc(self.start.wrapping_add(k));
        if let Some(end) = (d.addr as usize).checked_add(64)
            && end <= self.sock.umem.len()
        {
            // SAFETY: the first 64 bytes of the frame lie inside the UMEM
            // (checked); this reference is only used to prefetch the line.
            let head = unsafe {
                &*self
                    .sock
                    .umem
                    .as_ptr()
                    .add(d.addr as usize)
                    .cast::<[u8; 64]>()
            };
            super::prefetch(head);
        }
    }
}

impl Drop for RxBatch<'_> {
    fn drop(&mut self) {
        if self.n == 0 {
            return;
        }
        let s = &mut *self.sock;
        let frame_mask = !(u64::from(s.params.frame_size) - 1);
        for k in 0..self.n {
            let d = s.desc(self.start.wrapping_add(k));
            // `free` has room for every frame of the UMEM: no allocation
            s.free.push(d.addr & frame_mask);
        }
        s.rx.local = self.start.wrapping_add(self.n);
        // (D): release, our reads of the descriptors and frames come first.
        s.rx.consumer().store(s.rx.local, Ordering::Release);
        fill_from(&mut s.fill, &mut s.free);
    }
}

/// Moves as many frames from `free` to the fill ring as it has room for.
fn fill_from(fill: &mut Ring, free: &mut Vec<u64>) {
    let size = fill.mask + 1;
    if fill.local.wrapping_sub(fill.cached) + free.len().min(size as usize) as u32 > size {
        // (A): the kernel's consumer index, to see the room it made
        fill.cached = fill.consumer().load(Ordering::Acquire);
    }
    let room = size - fill.local.wrapping_sub(fill.cached);
    let n = room.min(free.len() as u32);
    if n == 0 {
        return;
    }
    for _ in 0..n {
        let Some(addr) = free.pop() else { break };
        let slot = fill.entry_ptr(fill.local, 8).cast::<u64>();
        // SAFETY: the slot at our producer index is free: fewer than `size`
        // entries lie between the kernel's consumer index and ours.
        unsafe { slot.write(addr) };
        fill.local = fill.local.wrapping_add(1);
    }
    // (B): the frame addresses before the index that publishes them.
    fill.producer().store(fill.local, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_short_of_a_fill_ring_are_lost_once() {
        // what a copy-mode socket reported: 5 frames found the fill ring
        // empty, and the kernel counted each of them in rx_dropped too
        let st = XdpStats {
            rx_dropped: 5,
            rx_fill_ring_empty_descs: 5,
            rx_ring_full: 2,
            rx_invalid_descs: 1,
            ..XdpStats::default()
        };
        assert_eq!(st.rx_lost(), 8);
    }
}
