//! Counters a capture keeps about itself, read at scrape time: damaged
//! capture-file records, and per socket (interface and queue) the kernel's
//! packet, drop and freeze counts (AF_PACKET) or packets and drop reasons
//! (AF_XDP).

use crate::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The drop reasons of an AF_XDP socket (`struct xdp_statistics`), as
/// exported in `ringflow_capture_drops_total{reason}`.
pub const XDP_DROP_REASONS: [&str; 4] = [
    "rx_dropped",
    "rx_invalid_descs",
    "rx_ring_full",
    "rx_fill_ring_empty_descs",
];

/// What kind of socket the counters belong to.
#[derive(Debug, Default)]
pub enum SocketKind {
    #[default]
    AfPacket,
    AfXdp {
        /// How the XDP program is attached: native or skb.
        mode: &'static str,
        /// How the socket is bound: zero-copy or copy.
        bind: &'static str,
        /// Per reason, in [`XDP_DROP_REASONS`] order.
        drops: [AtomicU64; 4],
    },
}

impl SocketKind {
    /// (backend, how the XDP program is attached, how the socket is
    /// bound), as `ringflow_capture_info` and the API name them.
    pub fn labels(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            SocketKind::AfPacket => ("af-packet", "tpacket-v3", "copy"),
            SocketKind::AfXdp { mode, bind, .. } => ("af-xdp", mode, bind),
        }
    }
}

/// The kernel's counters for one capture socket, accumulated by its worker
/// once per refresh (never on the packet path).
#[derive(Debug, Default)]
pub struct SocketCounters {
    pub iface: String,
    pub queue: usize,
    pub kind: SocketKind,
    packets: AtomicU64,
    drops: AtomicU64,
    freezes: AtomicU64,
    /// AF_PACKET: ring packets merged from segments (GRO, or GSO not yet
    /// done), each counted as the segments it was.
    merged: AtomicU64,
    /// AF_PACKET: ring packets longer than the interface's MTU allows that
    /// came without a segment size (merged where the kernel cannot tell:
    /// hardware LRO, a kernel without the virtio header): counted as one.
    unsplit: AtomicU64,
}

impl SocketCounters {
    pub fn new(iface: &str, queue: usize) -> SocketCounters {
        SocketCounters {
            iface: iface.to_string(),
            queue,
            ..SocketCounters::default()
        }
    }

    /// Adds to the AF_XDP drop counters, in [`XDP_DROP_REASONS`] order.
    pub fn add_xdp_drops(&self, by_reason: [u64; 4]) {
        if let SocketKind::AfXdp { drops, .. } = &self.kind {
            for (c, n) in drops.iter().zip(by_reason) {
                c.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    /// The AF_XDP drop counters, in [`XDP_DROP_REASONS`] order.
    pub fn xdp_drops(&self) -> Option<[u64; 4]> {
        match &self.kind {
            SocketKind::AfXdp { drops, .. } => {
                Some(drops.each_ref().map(|c| c.load(Ordering::Relaxed)))
            }
            SocketKind::AfPacket => None,
        }
    }

    pub fn add(&self, packets: u64, drops: u64, freezes: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.drops.fetch_add(drops, Ordering::Relaxed);
        self.freezes.fetch_add(freezes, Ordering::Relaxed);
    }

    /// Adds to the merged and unsplit counts (AF_PACKET).
    pub fn add_merged(&self, merged: u64, unsplit: u64) {
        self.merged.fetch_add(merged, Ordering::Relaxed);
        self.unsplit.fetch_add(unsplit, Ordering::Relaxed);
    }

    /// (merged, unsplit) ring packets.
    pub fn merged(&self) -> (u64, u64) {
        (
            self.merged.load(Ordering::Relaxed),
            self.unsplit.load(Ordering::Relaxed),
        )
    }

    /// (packets, drops, freezes)
    pub fn get(&self) -> (u64, u64, u64) {
        (
            self.packets.load(Ordering::Relaxed),
            self.drops.load(Ordering::Relaxed),
            self.freezes.load(Ordering::Relaxed),
        )
    }
}

#[derive(Debug, Default)]
pub struct CaptureStats {
    damaged_records: AtomicU64,
    sockets: Mutex<Vec<Arc<SocketCounters>>>,
    ifaces: Mutex<Vec<String>>,
    /// What the capture found at start that makes its counts less than
    /// exact (one line each): said in the log, and in the API's status.
    notes: Mutex<Vec<String>>,
    /// A live capture's rings or UMEM, in bytes; 0 in a replay. With the
    /// collector's and the flow tables' figures, the snapshot's, it makes
    /// the one memory figure (`live::Memory`).
    capture_bytes: AtomicU64,
}

impl CaptureStats {
    pub fn add_damaged_record(&self) {
        self.damaged_records.fetch_add(1, Ordering::Relaxed);
    }

    pub fn damaged_records(&self) -> u64 {
        self.damaged_records.load(Ordering::Relaxed)
    }

    /// Registers an AF_PACKET socket's counters for export.
    pub fn socket(&self, iface: &str, queue: usize) -> Arc<SocketCounters> {
        let c = Arc::new(SocketCounters::new(iface, queue));
        lock(&self.sockets).push(c.clone());
        c
    }

    /// Registers an AF_XDP socket's counters for export.
    pub fn xdp_socket(
        &self,
        iface: &str,
        queue: usize,
        mode: &'static str,
        bind: &'static str,
    ) -> Arc<SocketCounters> {
        let c = Arc::new(SocketCounters {
            kind: SocketKind::AfXdp {
                mode,
                bind,
                drops: Default::default(),
            },
            ..SocketCounters::new(iface, queue)
        });
        lock(&self.sockets).push(c.clone());
        c
    }

    pub fn sockets(&self) -> Vec<Arc<SocketCounters>> {
        lock(&self.sockets).clone()
    }

    /// Names an interface whose NIC counters are exported.
    pub fn add_iface(&self, name: &str) {
        let mut v = lock(&self.ifaces);
        if !v.iter().any(|n| n == name) {
            v.push(name.to_string());
        }
    }

    pub fn ifaces(&self) -> Vec<String> {
        lock(&self.ifaces).clone()
    }

    /// A live capture's rings or UMEM, in bytes.
    pub fn set_capture_bytes(&self, bytes: usize) {
        self.capture_bytes.store(bytes as u64, Ordering::Relaxed);
    }

    /// A live capture's rings or UMEM (0 in a replay): the part of the
    /// memory figure the collector does not know.
    pub fn capture_bytes(&self) -> u64 {
        self.capture_bytes.load(Ordering::Relaxed)
    }

    /// Keeps a note (once, however often it is given).
    pub fn add_note(&self, note: String) {
        let mut v = lock(&self.notes);
        if !v.contains(&note) {
            v.push(note);
        }
    }

    pub fn notes(&self) -> Vec<String> {
        lock(&self.notes).clone()
    }
}
