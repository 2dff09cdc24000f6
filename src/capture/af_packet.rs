//! AF_PACKET capture: one TPACKET_V3 ring per worker and interface, joined
//! to one fanout group per interface, with the filter attached before bind,
//! and the loop a worker runs over its rings.

use super::stats::SocketCounters;
use super::{CaptureError, Frame, FrameSink, Iface};
use crate::config::{Direction, Fanout};
use crate::parse::{Decap, LinkType};
use crate::sys::af_packet::{PacketSocket, RingPacket, RingParams, RxRing};
use crate::sys::{self, SysError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The kernel's `PACKET_FANOUT_*` mode for a fanout setting.
fn fanout_mode(f: Fanout) -> u16 {
    match f {
        Fanout::Inner => 6,
        Fanout::Hash => 0,
        Fanout::Lb => 1,
        Fanout::Cpu => 2,
        Fanout::Qm => 5,
    }
}

/// Socket settings shared by every ring.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    pub ring: RingParams,
    /// The fanout group's mode; `None` when each interface has a single
    /// socket, where a group would only add a hash to every packet in the
    /// kernel. The group never asks for `PACKET_FANOUT_FLAG_DEFRAG`: every
    /// fragment reaches a ring as it was on the wire, so the counts do not
    /// depend on the worker count, and the kernel keeps no fragments on
    /// the monitor's behalf.
    pub fanout: Option<Fanout>,
    /// The tunnels the workers open, which `Fanout::Inner` spreads by.
    pub decap: Decap,
    pub promisc: bool,
    pub direction: Direction,
}

/// Opens one worker's ring on `iface`: socket, filter, ring, bind, fanout
/// (with more than one worker),
/// promiscuous membership, in that order so that no unfiltered packet
/// arrives.
pub fn open_ring(
    iface: &Iface,
    prog: &[libc::sock_filter],
    cfg: &SocketConfig,
) -> Result<RxRing, CaptureError> {
    let sock_err = |source: SysError| CaptureError::Socket {
        iface: iface.name.clone(),
        source,
    };
    let sock = packet_socket(iface, iface.dgram)?;
    sock.set_tpacket_v3().map_err(sock_err)?;
    if cfg.direction == Direction::In {
        sock.ignore_outgoing().map_err(sock_err)?;
    }
    sock.attach_filter(prog).map_err(sock_err)?;
    // GRO merges a TCP stream's frames before a packet socket sees them;
    // the virtio header says how many they were. A kernel that refuses it
    // (or a cooked socket, which cannot have it) leaves merged packets
    // counted as one, which `vnet()` tells.
    let vnet = !iface.dgram && sock.set_vnet_hdr().is_ok();
    let ring_err = |source| CaptureError::Ring {
        iface: iface.name.clone(),
        block_size: cfg.ring.block_size,
        block_count: cfg.ring.block_count,
        frame_size: cfg.ring.frame_size,
        source,
    };
    sock.set_rx_ring(&cfg.ring).map_err(ring_err)?;
    let ring = RxRing::map(sock, &cfg.ring, vnet).map_err(ring_err)?;
    let sock = ring.socket();
    sock.bind(iface.ifindex, true).map_err(sock_err)?;
    if let Some(fanout) = cfg.fanout {
        sock.join_fanout(iface.fanout_id, fanout_mode(fanout))
            .map_err(sock_err)?;
        if fanout == Fanout::Inner {
            // the group's program; each member sets the same one
            sock.set_fanout_program(&super::spread::fanout_program(&cfg.decap))
                .map_err(sock_err)?;
        }
    }
    if cfg.promisc {
        sock.add_promisc(iface.ifindex).map_err(sock_err)?;
    }
    Ok(ring)
}

/// A packet socket on `iface`; lacking CAP_NET_RAW is said as such.
fn packet_socket(iface: &Iface, dgram: bool) -> Result<PacketSocket, CaptureError> {
    PacketSocket::new(dgram).map_err(|source| {
        if source.is_permission() {
            CaptureError::NoRawCapability(source)
        } else {
            CaptureError::Socket {
                iface: iface.name.clone(),
                source,
            }
        }
    })
}

/// A packet socket that holds `iface` in promiscuous mode while it is
/// open (a membership, which the kernel drops with the socket, even if
/// ringflow is killed; it needs CAP_NET_RAW only), for a capture that
/// reads the frames elsewhere (AF_XDP).
pub fn hold_promiscuous(iface: &Iface) -> Result<PacketSocket, CaptureError> {
    let sock = packet_socket(iface, false)?;
    sock.add_promisc(iface.ifindex)
        .map_err(|source| CaptureError::Socket {
            iface: iface.name.clone(),
            source,
        })?;
    Ok(sock)
}

/// A ring packet as a worker frame: a VLAN tag the kernel stripped counts
/// in the frame's length and gives the packet its VLAN id, as on the wire.
#[inline]
pub fn frame<'a>(link: LinkType, iface: u8, p: &RingPacket<'a>) -> Frame<'a> {
    let (extra, vlan) = match p.stripped_tag {
        Some((_, tci)) => (4, tci & 0x0fff),
        None => (0, 0),
    };
    Frame {
        link,
        data: p.data,
        orig_len: p.len + extra,
        ts_ns: p.ts_ns,
        vlan,
        iface,
        gso_size: p.gso_size,
    }
}

/// One worker's ring on one interface, and what it takes to open it
/// again when the interface comes back.
pub struct QueueRing {
    pub iface: Iface,
    /// The capture interfaces' indexes by number, for flow export: a new
    /// index goes there when the interface comes back.
    pub indexes: Arc<Vec<std::sync::atomic::AtomicU32>>,
    pub prog: Arc<Vec<libc::sock_filter>>,
    /// None while the interface is gone.
    pub ring: Option<RxRing>,
    pub counters: Arc<SocketCounters>,
    /// The longest frame the interface's MTU allows ([`max_frame`]): a
    /// longer one without a segment size was merged where the kernel
    /// could not tell. Read again once a second.
    pub max_frame: u32,
    /// Merged and unsplit ring packets since the counters were last
    /// added to (once a second).
    pub merged: u64,
    pub unsplit: u64,
}

/// What makes a capture on `iface` count merged packets short, one line
/// each (for the start line and the API's status): a ring without the
/// virtio header (`vnet` false on a raw socket), and LRO on, whose merged
/// packets carry a segment size only if the driver gives one.
pub fn exactness_notes(iface: &Iface, vnet: bool) -> Vec<String> {
    let name = &iface.name;
    let mut notes = Vec::new();
    if !vnet && !iface.dgram {
        notes.push(format!(
            "{name}: the kernel refused the virtio header (PACKET_VNET_HDR), so packets GRO merges count as one: turn GRO off (ethtool -K {name} gro off) or capture with --backend af-xdp"
        ));
    }
    if sys::ethtool::lro_on(name) == Some(true) {
        notes.push(format!(
            "{name}: LRO is on: the NIC merges TCP segments, and where its driver does not say their size a merged packet counts as one (ringflow_capture_unsplit_packets_total): turn it off with ethtool -K {name} lro off"
        ));
    }
    notes
}

/// The longest frame `iface`'s MTU allows, with room to spare: its link
/// header (none on a cooked socket), the MTU and 32 bytes for tags, MPLS
/// labels or a PPPoE header some links carry beyond it (a merged packet
/// is at least two segments long, far beyond); `u32::MAX` if unknown.
pub fn max_frame(iface: &Iface) -> u32 {
    let mtu = std::fs::read_to_string(format!("/sys/class/net/{}/mtu", iface.name))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok());
    match mtu {
        Some(m) if iface.dgram => m + 32,
        Some(m) => m + 14 + 32,
        None => u32::MAX,
    }
}

impl QueueRing {
    fn take_stats(&mut self) {
        if let Some(r) = &self.ring
            && let Ok((p, d, f)) = r.socket().take_stats()
        {
            self.counters.add(p, d, f);
        }
        self.counters.add_merged(self.merged, self.unsplit);
        (self.merged, self.unsplit) = (0, 0);
    }
}

/// A worker's capture loop: takes every filled block of its rings as one
/// batch after a `poll()`, reopens rings of interfaces that come back,
/// reads the kernel's counters once a second, and once `stop` is raised
/// drains what the kernel still hands over (partly filled blocks come
/// after the block timeout). Dropping the sink at the end hands its last
/// counts over.
pub fn capture_loop<S: FrameSink>(
    mut w: S,
    mut queues: Vec<QueueRing>,
    socket: &SocketConfig,
    stop: &AtomicBool,
) {
    let block_timeout = Duration::from_millis(u64::from(socket.ring.block_timeout_ms));
    let mut pollset = sys::PollSet::default();
    let mut fds = Vec::new();
    let mut next_check = Instant::now() + Duration::from_secs(1);
    let mut deadline: Option<Instant> = None;
    loop {
        let mut blocks = 0;
        for s in queues.iter_mut() {
            let (link, number, max) = (s.iface.link, s.iface.number, s.max_frame);
            let (merged, unsplit) = (&mut s.merged, &mut s.unsplit);
            if let Some(ring) = s.ring.as_mut() {
                while let Some(b) = ring.next_block() {
                    w.process_batch(b.packets().map(|p| {
                        if p.gso_size != 0 {
                            *merged += 1;
                        } else if p.len > max {
                            *unsplit += 1;
                        }
                        frame(link, number, &p)
                    }));
                    blocks += 1;
                }
            }
        }
        let now = Instant::now();
        if stop.load(Ordering::Relaxed) {
            // Partly filled blocks are handed over after the block timeout:
            // wait that long (and a little) for them, then stop.
            let d = *deadline.get_or_insert(now + block_timeout * 2 + Duration::from_millis(20));
            if now >= d && blocks == 0 {
                break;
            }
        }
        if blocks == 0 {
            fds.clear();
            fds.extend(
                queues
                    .iter()
                    .filter_map(|s| s.ring.as_ref().map(|r| r.socket().fd())),
            );
            if fds.is_empty() {
                std::thread::sleep(Duration::from_millis(100));
            } else if pollset.wait(&fds, 50).is_ok() {
                let mut k = 0;
                for s in queues.iter_mut() {
                    if s.ring.is_some() {
                        if pollset.failed(k) {
                            check_gone(s, w.id());
                        }
                        k += 1;
                    }
                }
            }
            w.idle();
        }
        if now >= next_check {
            next_check = now + Duration::from_secs(1);
            for s in queues.iter_mut() {
                s.take_stats();
                if s.ring.is_none() {
                    reopen(s, socket, w.id());
                } else {
                    s.max_frame = max_frame(&s.iface);
                }
            }
        }
    }
    for s in queues.iter_mut() {
        s.take_stats();
    }
    // Dropping the worker hands its last shard to the collector.
    drop(w);
}

/// After a socket error: if the interface is gone (or is a new one under
/// the same name), closes the ring until it comes back.
fn check_gone(s: &mut QueueRing, worker: usize) {
    if let Some(r) = &s.ring {
        let _ = r.socket().take_error();
    }
    let now = Iface::lookup(&s.iface.name);
    if now.as_ref().map(|i| i.ifindex) != Some(s.iface.ifindex) {
        s.take_stats();
        s.ring = None;
        if worker == 0 {
            crate::log!(
                "ringflow: interface {} disappeared; capturing again when it comes back",
                s.iface.name
            );
        }
    }
}

fn reopen(s: &mut QueueRing, socket: &SocketConfig, worker: usize) {
    let Some(iface) = Iface::lookup(&s.iface.name) else {
        return;
    };
    match open_ring(&iface, &s.prog, socket) {
        Ok(ring) => {
            if worker == 0 {
                crate::log!(
                    "ringflow: interface {} is back; capturing again",
                    iface.name
                );
            }
            super::new_index(&s.indexes, s.iface.number, s.iface.ifindex, iface.ifindex);
            s.iface = Iface {
                number: s.iface.number,
                ..iface
            };
            s.ring = Some(ring);
        }
        Err(e) => {
            if worker == 0 {
                crate::log!(
                    "ringflow: interface {} is back but cannot be captured yet: {e}",
                    iface.name
                );
            }
        }
    }
}
