//! What the collector publishes: an immutable [`Snapshot`] of everything
//! counted so far, in the rows the exposition renders, and the keys and
//! counts those rows are made of.

use crate::config::Accounting;
use crate::detect::DetectionView;
use crate::flow::FlowKey;
use crate::netset::Class;
use crate::parse::{ERROR_KINDS, Encap, ParseError, PortKind};
use crate::worker::new_batch_histogram;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::Duration;

/// Key of one collector entry and flow series: a host pair, protocol,
/// service port and direction. Its order ([`SeriesKey::conversation_order`])
/// is the exposition order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SeriesKey {
    pub version: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub proto: u8,
    /// The conversation's service port, for protocols with ports.
    pub port: Option<u16>,
    /// From the answering side of the conversation.
    pub reply: bool,
}

impl SeriesKey {
    /// The side that opened the conversation, and the side that answered.
    pub fn client_server(&self) -> ([u8; 16], [u8; 16]) {
        if self.reply {
            (self.dst, self.src)
        } else {
            (self.src, self.dst)
        }
    }

    /// What keys sort by: IP version, client, server, protocol, service
    /// port, then the request before its reply. So the series of one host
    /// pair are next to each other, and those of one conversation too:
    /// the exposition reads as conversations, and the API adds up a pair's
    /// traffic in one pass.
    /// Packed into integers, so a comparison is a few instructions: the
    /// protocol, whether there is a port, the port and the direction in
    /// one word, in that order (no port sorts before any port).
    #[inline]
    fn conversation_order(&self) -> (u8, u128, u128, u32) {
        let (client, server) = self.client_server();
        let port = match self.port {
            Some(p) => 1 << 16 | u32::from(p),
            None => 0,
        };
        (
            self.version,
            u128::from_be_bytes(client),
            u128::from_be_bytes(server),
            u32::from(self.proto) << 24 | port << 1 | u32::from(self.reply),
        )
    }
    /// The IP version and the first 56 bits of the client: a number in
    /// the keys' order (a smaller prefix, a smaller key).
    pub(super) fn prefix(&self) -> u64 {
        let (client, _) = self.client_server();
        u64::from(self.version) << 56 | (u128::from_be_bytes(client) >> 72) as u64
    }

    /// The key packed as a flow key, for the entry index: the service port
    /// in the destination port, the direction in the source port.
    pub(super) fn index_key(&self) -> FlowKey {
        let (kind, port) = match self.port {
            Some(p) => (PortKind::Ports, p),
            None => (PortKind::None, 0),
        };
        let reply = u16::from(self.reply);
        FlowKey::new(
            self.version,
            self.src,
            self.dst,
            self.proto,
            kind,
            reply,
            port,
            0,
        )
    }
}

impl Ord for SeriesKey {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.conversation_order().cmp(&o.conversation_order())
    }
}

impl PartialOrd for SeriesKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// One exported flow series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRow {
    pub key: SeriesKey,
    pub class: Class,
    /// Counted since the series was last (re)exported.
    pub packets: u64,
    pub bytes: u64,
    /// Capture time of the entry's first packet, ns since the Unix epoch.
    pub first_ns: u64,
    /// Source and destination MAC of that packet (zero when unknown).
    pub macs: [u8; 12],
}

/// Counts of one side of traffic: packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub packets: u64,
    pub bytes: u64,
}

impl Count {
    pub fn add(&mut self, packets: u64, bytes: u64) {
        self.packets += packets;
        self.bytes += bytes;
    }

    /// Adds what `o` counted.
    pub fn add_count(&mut self, o: Count) {
        self.add(o.packets, o.bytes);
    }
}

/// Per-IP counters: what a monitored host sent and received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCounts {
    pub tx: Count,
    pub rx: Count,
}

impl HostCounts {
    /// Sent and received together.
    pub fn total(&self) -> Count {
        Count {
            packets: self.tx.packets + self.rx.packets,
            bytes: self.tx.bytes + self.rx.bytes,
        }
    }

    pub(super) fn minus(self, o: HostCounts) -> HostCounts {
        HostCounts {
            tx: Count {
                packets: self.tx.packets - o.tx.packets,
                bytes: self.tx.bytes - o.tx.bytes,
            },
            rx: Count {
                packets: self.rx.packets - o.rx.packets,
                bytes: self.rx.bytes - o.rx.bytes,
            },
        }
    }
}

/// One exported per-IP series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRow {
    pub version: u8,
    pub addr: [u8; 16],
    pub counts: HostCounts,
}

/// Batch timing of one worker, as histogram buckets in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRow {
    pub worker: usize,
    /// (upper bound in seconds, count in this bucket alone); the last
    /// bound is infinity.
    pub buckets: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

/// Upper bounds of the batch-time histogram, in seconds.
pub const BATCH_BUCKETS: [f64; 16] = [
    1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2,
    0.1, 1.0,
];

/// An immutable view of everything counted so far.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub packets: u64,
    pub bytes: u64,
    /// Every (layer, reason) in [`ERROR_KINDS`] order.
    pub parse_errors: Vec<(ParseError, u64)>,
    /// (ethertype, packets) by ethertype, then what did not fit a
    /// shard's ethertype table (`None`).
    pub non_ip: Vec<(Option<u16>, u64)>,
    /// Per kind of tunnel ([`Encap::ALL`] order): packets that came
    /// through one and the bytes it took.
    pub decap_packets: [u64; Encap::COUNT],
    pub decap_bytes: [u64; Encap::COUNT],
    /// Packets not counted as copies of one seen just before (`--dedup`).
    pub dedup_dropped: u64,
    pub overflow_packets: u64,
    pub overflow_bytes: u64,
    /// Flows in the workers' tables at their last hand-overs, per family
    /// (IPv4, IPv6), and the slots those tables have.
    pub table_flows: [u64; 2],
    pub table_slots: [u64; 2],
    /// Flows the workers' tables let go since the start (idle, or the
    /// idle for a refresh when a table lacked room).
    pub table_expired: u64,
    /// The exported flow series, sorted by key.
    pub flows: Vec<FlowRow>,
    /// Per class (in [`Class::ALL`] order): what is in no exported flow
    /// series, so that the exported series and these add up to `traffic`.
    pub flows_other: [Count; 4],
    /// Per class and IP version (4, 6): every flow counted.
    pub traffic: [[Count; 2]; 4],
    /// The exported per-IP series, sorted by version and address.
    pub hosts: Vec<HostRow>,
    /// Monitored hosts' traffic in no exported per-IP series.
    pub hosts_other: HostCounts,
    /// Collector entries kept but folded into `flows_other`.
    pub flows_folded: usize,
    /// Flow entries the collector keeps.
    pub entries: usize,
    /// Hosts the collector keeps.
    pub host_entries: usize,
    /// Flows the collector had no room for: counted in `traffic` and the
    /// "other" series only.
    pub untracked: Count,
    pub batches: Vec<BatchRow>,
    /// Conversations the collector remembers the opener of.
    pub conversations: usize,
    /// Memory the worker shards hold, in bytes.
    pub shard_memory_bytes: usize,
    /// Memory of the collector's conversations, entries and hosts.
    pub collector_memory_bytes: usize,
    /// True once every worker has stopped and the last shard is merged.
    pub complete: bool,
    /// Alerts started, active and suppressed.
    pub detection: DetectionView,
    /// When the counts are as of, ns since the Unix epoch: the clock at
    /// publication (live), or the capture time of the last interval
    /// boundary every worker reached (replay).
    pub at_ns: u64,
    /// The accounting settings in force.
    pub settings: Arc<Accounting>,
    /// How often the collector publishes.
    pub refresh: Duration,
    /// Flow export's counts per collector, read when the snapshot is
    /// rendered (`None` without flow export).
    pub flow_export: Option<Arc<super::export::ExportCounts>>,
}

impl Snapshot {
    pub fn empty(workers: usize) -> Snapshot {
        Snapshot {
            packets: 0,
            bytes: 0,
            parse_errors: ERROR_KINDS.iter().map(|e| (*e, 0)).collect(),
            non_ip: Vec::new(),
            decap_packets: [0; Encap::COUNT],
            decap_bytes: [0; Encap::COUNT],
            dedup_dropped: 0,
            overflow_packets: 0,
            table_flows: [0; 2],
            table_slots: [0; 2],
            table_expired: 0,
            overflow_bytes: 0,
            flows: Vec::new(),
            flows_other: [Count::default(); 4],
            traffic: [[Count::default(); 2]; 4],
            hosts: Vec::new(),
            hosts_other: HostCounts::default(),
            flows_folded: 0,
            entries: 0,
            host_entries: 0,
            untracked: Count::default(),
            batches: (0..workers)
                .map(|w| batch_row(w, &new_batch_histogram(), 0))
                .collect(),
            conversations: 0,
            shard_memory_bytes: 0,
            collector_memory_bytes: 0,
            complete: false,
            detection: DetectionView::default(),
            at_ns: 0,
            settings: Arc::default(),
            refresh: Duration::ZERO,
            flow_export: None,
        }
    }
}

pub(super) fn batch_row(worker: usize, h: &Histogram<u64>, sum_ns: u64) -> BatchRow {
    // Per-bucket (not cumulative) counts, as the encoder wants them; values
    // are stored at 2 significant digits and go to the first bound at or
    // above their bucket.
    let mut buckets: Vec<(f64, u64)> = BATCH_BUCKETS.iter().map(|&le| (le, 0)).collect();
    buckets.push((f64::INFINITY, 0));
    for v in h.iter_recorded() {
        let secs = v.value_iterated_to() as f64 / 1e9;
        let i = BATCH_BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BATCH_BUCKETS.len());
        buckets[i].1 += v.count_at_value();
    }
    BatchRow {
        worker,
        buckets,
        sum_seconds: sum_ns as f64 / 1e9,
        count: h.len(),
    }
}
