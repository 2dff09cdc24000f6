//! AF_PACKET capture: one TPACKET_V3 ring per worker and interface, joined
//! to one fanout group per interface, with the filter attached before bind.

use super::{CaptureError, Frame, Iface};
use crate::parse::LinkType;
use crate::sys::SysError;
use crate::sys::af_packet::{PacketSocket, RingPacket, RingParams, RxRing};

/// How the kernel spreads packets over the sockets of a fanout group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fanout {
    /// By flow hash (symmetric): a flow stays on one worker.
    Hash,
    /// By the CPU that received the packet.
    Cpu,
    /// By the NIC queue the packet came in on.
    Qm,
    /// Round robin.
    Lb,
}

impl Fanout {
    fn mode(self) -> u16 {
        match self {
            Fanout::Hash => 0,
            Fanout::Lb => 1,
            Fanout::Cpu => 2,
            Fanout::Qm => 5,
        }
    }
}

/// Which packets to capture relative to this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Both,
    /// Received packets only.
    In,
    /// Packets this host sends only.
    Out,
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
    let sock = PacketSocket::new(iface.dgram).map_err(|e| {
        if e.is_permission() {
            CaptureError::NoRawCapability(e)
        } else {
            sock_err(e)
        }
    })?;
    sock.set_tpacket_v3().map_err(sock_err)?;
    if cfg.direction == Direction::In {
        sock.ignore_outgoing().map_err(sock_err)?;
    }
    sock.attach_filter(prog).map_err(sock_err)?;
    let ring_err = |source| CaptureError::Ring {
        iface: iface.name.clone(),
        block_size: cfg.ring.block_size,
        block_count: cfg.ring.block_count,
        frame_size: cfg.ring.frame_size,
        source,
    };
    sock.set_rx_ring(&cfg.ring).map_err(ring_err)?;
    let ring = RxRing::map(sock, &cfg.ring).map_err(ring_err)?;
    let sock = ring.socket();
    sock.bind(iface.ifindex, true).map_err(sock_err)?;
    if let Some(fanout) = cfg.fanout {
        sock.join_fanout(iface.fanout_id, fanout.mode())
            .map_err(sock_err)?;
    }
    if cfg.promisc {
        sock.add_promisc(iface.ifindex).map_err(|source| {
            if source.is_permission() {
                CaptureError::NoAdminCapability {
                    iface: iface.name.clone(),
                    source,
                }
            } else {
                sock_err(source)
            }
        })?;
    }
    Ok(ring)
}

/// A ring packet as a worker frame: a VLAN tag the kernel stripped counts
/// in the frame's length and gives the packet its VLAN id, as on the wire.
#[inline]
pub fn frame<'a>(link: LinkType, p: &RingPacket<'a>) -> Frame<'a> {
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
    }
}
