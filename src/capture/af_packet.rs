//! AF_PACKET capture: one TPACKET_V3 ring per worker and interface, joined
//! to one fanout group per interface, with the filter attached before bind.

use crate::parse::LinkType;
use crate::sys::af_packet::{PacketSocket, RingPacket, RingParams, RxRing};
use crate::sys::{self, SysError, filter};
use crate::worker::Frame;

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

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "capturing needs the CAP_NET_RAW capability: run as root or `setcap cap_net_raw,cap_net_admin+ep` on the binary ({0})"
    )]
    NoRawCapability(SysError),
    #[error("promiscuous mode on {iface} needs the CAP_NET_ADMIN capability ({source})")]
    NoAdminCapability { iface: String, source: SysError },
    #[error(
        "the kernel refused the ring on {iface} (block size {block_size}, {block_count} blocks, frame size {frame_size}): {source}; the block size must be a power-of-two multiple of the page size and of the frame size, and the ring must fit in memory"
    )]
    Ring {
        iface: String,
        block_size: u32,
        block_count: u32,
        frame_size: u32,
        source: SysError,
    },
    #[error("cannot capture on {iface}: {source}")]
    Socket { iface: String, source: SysError },
    #[error("bad filter '{expr}': {msg}")]
    Filter { expr: String, msg: String },
    #[error(
        "AF_XDP needs the CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF (or CAP_SYS_ADMIN) capabilities: run as root ({0})"
    )]
    NoXdpCapability(SysError),
    #[error(
        "{iface} already has an XDP {which} attached; remove it with `ip link set dev {iface} xdp off` (or `bpftool net detach xdp dev {iface}`), or use --backend af-packet"
    )]
    XdpBusy { iface: String, which: String },
    #[error("the driver of {iface} has no native XDP: use --xdp-mode skb (or auto)")]
    XdpNoNative { iface: String },
}

/// An interface as the capture sees it.
#[derive(Debug, Clone)]
pub struct Iface {
    pub name: String,
    pub ifindex: u32,
    /// The link layer its frames start with.
    pub link: LinkType,
    /// Captured cooked (from the network header) because it has no
    /// Ethernet-like link header.
    pub dgram: bool,
    /// The fanout group every worker's socket on it joins.
    pub fanout_id: u16,
}

impl Iface {
    /// Looks `name` up; None if it does not exist (now).
    pub fn lookup(name: &str) -> Option<Iface> {
        let ifindex = sys::ifindex(name)?;
        let hatype: u32 = std::fs::read_to_string(format!("/sys/class/net/{name}/type"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1);
        // ARPHRD_ETHER and ARPHRD_LOOPBACK carry Ethernet headers; anything
        // else (tun, PPP, raw IP, ...) is captured from the network header.
        let dgram = !matches!(hatype, 1 | 772);
        let mut h: u32 = std::process::id();
        for b in name.bytes() {
            h = h.rotate_left(5) ^ u32::from(b);
        }
        Some(Iface {
            name: name.to_string(),
            ifindex,
            link: if dgram {
                LinkType::RawIp
            } else {
                LinkType::Ethernet
            },
            dgram,
            fanout_id: (h ^ (h >> 16)) as u16,
        })
    }

    /// The DLT libpcap compiles filters for on this interface's sockets.
    fn dlt(&self) -> i32 {
        if self.dgram { 12 } else { 1 }
    }
}

/// BPF that drops everything but packets this host sends, placed before
/// the user's filter (`ld [pkttype]; jeq #PACKET_OUTGOING, user, drop`).
fn outgoing_only_prefix() -> [libc::sock_filter; 3] {
    const SKF_AD_PKTTYPE: u32 = 4;
    let skf_ad_off = (-0x1000i32) as u32;
    [
        libc::sock_filter {
            code: 0x30, // ld b abs
            jt: 0,
            jf: 0,
            k: skf_ad_off.wrapping_add(SKF_AD_PKTTYPE),
        },
        libc::sock_filter {
            code: 0x15, // jeq k
            jt: 1,
            jf: 0,
            k: libc::PACKET_OUTGOING as u32,
        },
        libc::sock_filter {
            code: 0x06, // ret k
            jt: 0,
            jf: 0,
            k: 0,
        },
    ]
}

/// The program every socket on `iface` gets: the user's expression (or
/// none) returning `snaplen` bytes, behind the direction prefix.
pub fn program(
    iface: &Iface,
    expr: Option<&str>,
    snaplen: u32,
    direction: Direction,
) -> Result<Vec<libc::sock_filter>, CaptureError> {
    let body = filter::compile(expr.unwrap_or(""), iface.dlt(), snaplen).map_err(|msg| {
        CaptureError::Filter {
            expr: expr.unwrap_or("").to_string(),
            msg,
        }
    })?;
    let mut prog = Vec::with_capacity(body.len() + 3);
    if direction == Direction::Out {
        prog.extend_from_slice(&outgoing_only_prefix());
    }
    prog.extend(body);
    Ok(prog)
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
