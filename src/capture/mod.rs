//! Capture: where frames come from. Each backend opens its sockets and
//! owns its per-queue loop, which hands batches of [`Frame`]s to a
//! [`FrameSink`] (the worker) and keeps the socket's counters in
//! [`stats`]. Shared here: the frame, the sink, interfaces, setup errors
//! and the filter every socket gets.

pub mod af_packet;
pub mod af_xdp;
pub mod cbpf;
pub mod pcap_file;
pub mod spread;
pub mod stats;

use crate::config::Direction;
use crate::parse::LinkType;
use crate::sys::{self, SysError, filter};

/// One captured frame, borrowed from a ring or a batch buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub link: LinkType,
    /// The captured bytes (possibly cut at the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire, which is what bytes count.
    pub orig_len: u32,
    /// Capture time, ns since the Unix epoch.
    pub ts_ns: u64,
    /// VLAN id of a tag the capture took off the frame (0: none); used when
    /// the frame itself carries no tag.
    pub vlan: u16,
    /// The capture interface's number ([`Iface::number`]; 0 in a replay).
    pub iface: u8,
    /// A packet merged from segments of this payload size (GRO; GSO on a
    /// packet this host sends, before the NIC splits it): it counts as
    /// the segments it was or will be on the wire. 0: one frame.
    pub gso_size: u16,
}

/// What a capture loop hands its frames to: a worker.
pub trait FrameSink {
    /// Which worker this is (0 logs for all of them).
    fn id(&self) -> usize;
    /// Counts a batch of frames.
    fn process_batch<'a, I>(&mut self, frames: I)
    where
        I: IntoIterator<Item = Frame<'a>>;
    /// Called when a round brought no frames, so that the sink can still
    /// hand its counts over when asked.
    fn idle(&mut self);
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "capturing needs the CAP_NET_RAW capability: run as root or `setcap cap_net_raw,cap_net_admin+ep` on the binary ({0})"
    )]
    NoRawCapability(SysError),
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
    #[error(
        "{what} needs {missing}, which this process does not have: run ringflow as root, or grant it (AmbientCapabilities= in its systemd unit, `setpriv --ambient-caps`, or `setcap` on the binary)"
    )]
    MissingCapabilities { what: &'static str, missing: String },
    #[error(
        "the AF_XDP UMEM ({umem_mib} MiB) is more than RLIMIT_MEMLOCK lets this process lock ({limit_mib} MiB): raise the limit (LimitMEMLOCK= in the systemd unit, `ulimit -l`), grant CAP_IPC_LOCK, or lower --xdp-frames"
    )]
    UmemOverMemlock { umem_mib: u64, limit_mib: u64 },
}

/// Checks, before anything is opened, that this process holds the
/// capabilities the backend needs, and for AF_XDP that it may lock
/// `umem_bytes` (the kernel charges every UMEM to RLIMIT_MEMLOCK unless the
/// process has CAP_IPC_LOCK), so a missing one is named in one line rather
/// than met as the EPERM or ENOBUFS of some later call.
///
/// - CAP_NET_RAW: packet sockets (AF_PACKET rings, promiscuous membership)
///   and AF_XDP sockets.
/// - CAP_NET_ADMIN: creating the XSKMAP and attaching the XDP program.
/// - CAP_BPF (or CAP_SYS_ADMIN, which implies it): loading the program and
///   creating the map.
pub fn check_privileges(xdp: bool, umem_bytes: usize) -> Result<(), CaptureError> {
    use crate::sys::caps::{self, Cap};
    let Some(set) = caps::effective() else {
        return Ok(());
    };
    let mut need = vec![Cap::NetRaw];
    if xdp {
        need.push(Cap::NetAdmin);
        if !caps::holds(set, Cap::SysAdmin) {
            need.push(Cap::Bpf);
        }
    }
    let missing: Vec<&str> = need
        .into_iter()
        .filter(|&c| !caps::holds(set, c))
        .map(Cap::name)
        .collect();
    if !missing.is_empty() {
        return Err(CaptureError::MissingCapabilities {
            what: if xdp {
                "AF_XDP capture"
            } else {
                "AF_PACKET capture"
            },
            missing: missing.join(" and "),
        });
    }
    if xdp
        && !caps::holds(set, Cap::IpcLock)
        && let Some(limit) = caps::memlock_limit()
        && umem_bytes as u64 > limit
    {
        return Err(CaptureError::UmemOverMemlock {
            umem_mib: (umem_bytes as u64).div_ceil(1 << 20),
            limit_mib: limit >> 20,
        });
    }
    Ok(())
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
    /// Its place among the capture interfaces, at most
    /// [`MAX_IFACE_NUMBER`]: it is part of a flow's key, so that flow
    /// export can say which interface a flow was seen on.
    pub number: u8,
}

/// The highest interface number a flow key holds (4 bits): the 16th
/// capture interface and those after it share it.
pub const MAX_IFACE_NUMBER: u8 = 15;

/// Interface number `number` came back as index `now` (it was `was`):
/// the table of indexes by number says so, unless its entry stands for
/// several interfaces (then it is 0, none in particular).
pub fn new_index(indexes: &[std::sync::atomic::AtomicU32], number: u8, was: u32, now: u32) {
    use std::sync::atomic::Ordering::Relaxed;
    if let Some(i) = indexes.get(usize::from(number)) {
        let _ = i.compare_exchange(was, now, Relaxed, Relaxed);
    }
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
            number: 0,
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
pub fn filter_program(
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
