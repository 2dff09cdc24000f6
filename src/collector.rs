//! The collector thread: every refresh it raises the epoch, merges the
//! shards the workers hand over, decides who opened each conversation,
//! classifies what it has not seen before, keeps the top series by recent
//! bytes and folds the rest, and publishes an immutable [`Snapshot`] that
//! scrapes read without touching a worker.
//!
//! Classification happens once per collector entry (a host pair, service
//! and direction), never per packet: an entry remembers its class and the
//! per-IP counters its two sides count into.

use crate::flow::map::FlowMap;
use crate::flow::{FastState, FlowKey, FlowStats};
use crate::netset::{Class, Networks};
use crate::parse::{self, ERROR_KINDS, ParseError, PortKind, icmp, tcp};
use crate::worker::{Handoff, Shard, Worker, new_batch_histogram};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Exposition families of the tools ringflow replaces, exported beside
/// its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compat {
    pub promflow: bool,
    pub trafficmonitor: bool,
}

/// What the collector classifies, how much it keeps and for how long.
/// Everything here can change while running (SIGHUP).
#[derive(Debug, Clone)]
pub struct Accounting {
    pub networks: Networks,
    /// Flow series exported; the rest are folded into one per class.
    pub max_flow_series: usize,
    /// Per-IP series exported; the rest are folded into `ip="other"`.
    pub max_hosts: usize,
    /// Entries the collector keeps at most, of each kind: flow entries,
    /// conversations, hosts. This is what bounds its memory.
    pub max_entries: usize,
    /// Series are ranked by their bytes over this window.
    pub flow_window: Duration,
    /// Entries, conversations and hosts unseen this long are forgotten.
    pub flow_idle: Duration,
    pub compat: Compat,
}

impl Default for Accounting {
    fn default() -> Self {
        Accounting {
            networks: Networks::default(),
            max_flow_series: 10_000,
            max_hosts: 10_000,
            max_entries: 250_000,
            flow_window: Duration::from_secs(300),
            flow_idle: Duration::from_secs(600),
            compat: Compat::default(),
        }
    }
}

impl Accounting {
    /// The settings as TOML lines.
    pub fn describe(&self) -> String {
        let nets = |v: &[crate::netset::Cidr]| {
            let q: Vec<String> = v.iter().map(|c| format!("\"{c}\"")).collect();
            format!("[{}]", q.join(", "))
        };
        let n = &self.networks;
        let mut compat = Vec::new();
        if self.compat.promflow {
            compat.push("\"promflow\"");
        }
        if self.compat.trafficmonitor {
            compat.push("\"trafficmonitor\"");
        }
        [
            format!("local-networks = {}", nets(n.local.networks())),
            format!("monitor-subnets = {}", nets(n.monitor.networks())),
            format!("exclude-subnets = {}", nets(n.exclude.networks())),
            format!("max-flow-series = {}", self.max_flow_series),
            format!("max-hosts = {}", self.max_hosts),
            format!("max-entries = {}", self.max_entries),
            format!("flow-window = \"{}s\"", self.flow_window.as_secs_f64()),
            format!("flow-idle = \"{}s\"", self.flow_idle.as_secs_f64()),
            format!("compat = [{}]", compat.join(", ")),
        ]
        .join("\n")
    }
}

/// Sizes of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub workers: usize,
    /// Flows each worker table holds per refresh interval.
    pub table_capacity: usize,
    pub refresh: Duration,
    pub accounting: Accounting,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 1,
            table_capacity: 200_000,
            refresh: Duration::from_secs(1),
            accounting: Accounting::default(),
        }
    }
}

/// Builds `cfg.workers` workers and the collector that serves them. Each
/// worker starts with one shard and the collector holds its spare.
pub fn pipeline(cfg: &PipelineConfig) -> (Vec<Worker>, Collector) {
    let n = cfg.workers.max(1);
    let epoch = Arc::new(AtomicU64::new(0));
    // At most two messages per worker are ever in flight (a shard and
    // Done), so sends never block.
    let (tx, rx) = crossbeam_channel::bounded(2 * n + 2);
    let mut workers = Vec::with_capacity(n);
    let mut returns = Vec::with_capacity(n);
    for id in 0..n {
        let (ret_tx, ret_rx) = crossbeam_channel::bounded(2);
        let spare = Box::new(Shard::new(cfg.table_capacity));
        ret_tx.send(spare).expect("fresh channel has room");
        workers.push(Worker::new(
            id,
            Box::new(Shard::new(cfg.table_capacity)),
            epoch.clone(),
            tx.clone(),
            ret_rx,
        ));
        returns.push(ret_tx);
    }
    let refresh = cfg.refresh.max(Duration::from_millis(10));
    // each worker has one shard in use and one spare
    let memory_bytes = workers.iter().map(Worker::memory_bytes).sum::<usize>() * 2;
    let (reload_tx, reload_rx) = crossbeam_channel::unbounded();
    let collector = Collector {
        rx,
        returns,
        epoch,
        refresh,
        state: State::new(n, refresh, cfg.accounting.clone()),
        published: Arc::new(Published::new(Snapshot::empty(n))),
        memory_bytes,
        reload_rx,
        reload_tx,
    };
    (workers, collector)
}

/// The latest snapshot, shared with the HTTP server.
pub struct Published {
    current: Mutex<Arc<Snapshot>>,
}

impl Published {
    fn new(s: Snapshot) -> Published {
        Published {
            current: Mutex::new(Arc::new(s)),
        }
    }

    /// The latest snapshot. Holds the lock only to clone an `Arc`.
    pub fn get(&self) -> Arc<Snapshot> {
        match self.current.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, s: Arc<Snapshot>) {
        match self.current.lock() {
            Ok(mut g) => *g = s,
            Err(poisoned) => *poisoned.into_inner() = s,
        }
    }
}

/// Key of one collector entry and flow series: a host pair, protocol,
/// service port and direction. The derived order is the exposition order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// The key packed as a flow key, for the entry index: the service port
    /// in the destination port, the direction in the source port.
    fn index_key(&self) -> FlowKey {
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

/// A host's address packed as a flow key, for the host index.
fn host_key(version: u8, addr: [u8; 16]) -> FlowKey {
    FlowKey::new(version, addr, [0; 16], 0, PortKind::None, 0, 0, 0)
}

/// Grows `v`'s capacity to `n` items and writes all of it once, so its
/// pages are the process's from now on (`fill` is overwritten before it
/// is ever read).
fn reserve_written<T: Copy>(v: &mut Vec<T>, n: usize, fill: T) {
    if n > v.capacity() {
        let len = v.len();
        v.reserve_exact(n - len);
        v.resize(n, fill);
        v.truncate(len);
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
    fn add(&mut self, packets: u64, bytes: u64) {
        self.packets += packets;
        self.bytes += bytes;
    }
}

/// Per-IP counters: what a monitored host sent and received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCounts {
    pub tx: Count,
    pub rx: Count,
}

impl HostCounts {
    fn minus(self, o: HostCounts) -> HostCounts {
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
    /// (ethertype label, packets), sorted.
    pub non_ip: Vec<(String, u64)>,
    pub overflow_packets: u64,
    pub overflow_bytes: u64,
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
    pub compat: Compat,
    pub batches: Vec<BatchRow>,
    /// Conversations the collector remembers the opener of.
    pub conversations: usize,
    /// Memory the worker shards hold, in bytes.
    pub shard_memory_bytes: usize,
    /// Memory of the collector's conversations, entries and hosts.
    pub collector_memory_bytes: usize,
    /// True once every worker has stopped and the last shard is merged.
    pub complete: bool,
}

impl Snapshot {
    pub fn empty(workers: usize) -> Snapshot {
        Snapshot {
            packets: 0,
            bytes: 0,
            parse_errors: ERROR_KINDS.iter().map(|e| (*e, 0)).collect(),
            non_ip: Vec::new(),
            overflow_packets: 0,
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
            compat: Compat::default(),
            batches: (0..workers)
                .map(|w| batch_row(w, &new_batch_histogram(), 0))
                .collect(),
            conversations: 0,
            shard_memory_bytes: 0,
            collector_memory_bytes: 0,
            complete: false,
        }
    }
}

fn batch_row(worker: usize, h: &Histogram<u64>, sum_ns: u64) -> BatchRow {
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

/// Ethertype label: `0x0806`; `802.3` for LLC frames; `other` for what did
/// not fit a shard's ethertype table.
pub fn ethertype_label(et: Option<u16>) -> String {
    match et {
        Some(0) => "802.3".to_string(),
        Some(et) => format!("0x{et:04x}"),
        None => "other".to_string(),
    }
}

/// Protocol label: the name for the four the parser reads, else the number.
pub fn proto_label(proto: u8) -> String {
    match proto {
        parse::proto::TCP => "tcp".into(),
        parse::proto::UDP => "udp".into(),
        parse::proto::ICMP => "icmp".into(),
        parse::proto::ICMPV6 => "icmpv6".into(),
        n => n.to_string(),
    }
}

/// No series index cached yet.
const NO_SERIES: u32 = u32::MAX;

/// Who opened a conversation and on which service port, and the series
/// its two directions count into.
#[derive(Debug, Clone, Copy, Default)]
struct Conversation {
    client: [u8; 16],
    client_port: u16,
    service: Option<u16>,
    last_tick: u64,
    /// Indices into the series arena: [request, reply].
    series: [u32; 2],
}

impl Conversation {
    /// Decides from the first packet seen of a conversation (`k` is its
    /// flow, `flags` its TCP flags):
    /// - TCP SYN without ACK, or any first UDP packet: the sender opened
    ///   it and the service port is the destination port;
    /// - TCP first seen mid-stream: the lower port if below 1024, else the
    ///   destination port of that first packet;
    /// - ICMP: the sender of the first packet, unless it is a reply type;
    /// - other protocols: the sender of the first packet.
    fn decide(k: &FlowKey, flags: u8, tick: u64) -> Conversation {
        let (src, dst) = (k.src(), k.dst());
        let (sp, dp) = (k.src_port(), k.dst_port());
        let from_src = |service| Conversation {
            client: src,
            client_port: sp,
            service,
            last_tick: tick,
            series: [NO_SERIES; 2],
        };
        match k.port_kind() {
            PortKind::Ports => {
                let is_tcp = k.proto() == parse::proto::TCP;
                let syn = flags & (tcp::flags::SYN | tcp::flags::ACK) == tcp::flags::SYN;
                let low = sp.min(dp);
                if !is_tcp || syn || low >= 1024 || dp == low {
                    from_src(Some(dp))
                } else {
                    // TCP mid-stream, and the low port is the sender's: this
                    // is the server answering.
                    Conversation {
                        client: dst,
                        client_port: dp,
                        service: Some(low),
                        last_tick: tick,
                        series: [NO_SERIES; 2],
                    }
                }
            }
            PortKind::Icmp => {
                if icmp::is_reply_type(k.version() == 6, sp as u8) {
                    Conversation {
                        client: dst,
                        client_port: 0,
                        service: None,
                        last_tick: tick,
                        series: [NO_SERIES; 2],
                    }
                } else {
                    from_src(None)
                }
            }
            PortKind::None => from_src(None),
        }
    }

    /// Is `k` a packet from the opening side?
    fn is_request(&self, k: &FlowKey) -> bool {
        match self.service {
            Some(_) => k.src() == self.client && k.src_port() == self.client_port,
            None => k.src() == self.client,
        }
    }
}

/// The earliest flow of a not yet decided conversation within one shard.
#[derive(Clone, Copy)]
struct Opener {
    key: FlowKey,
    first_ns: u64,
    first_seq: u32,
    flags: u8,
}

/// Buckets of a ranking window.
const BUCKETS: usize = 5;

/// Bytes over the last `BUCKETS` buckets of the ranking window, cleared
/// lazily: a bucket is zeroed when the entry is next written after its
/// time has passed.
#[derive(Debug, Clone, Copy, Default)]
struct Window {
    bytes: [u64; BUCKETS],
    /// Number of the bucket last written.
    last: u64,
}

impl Window {
    fn at(now: u64) -> Window {
        Window {
            bytes: [0; BUCKETS],
            last: now,
        }
    }

    #[inline]
    fn add(&mut self, now: u64, bytes: u64) {
        if now != self.last {
            if now < self.last || now - self.last >= BUCKETS as u64 {
                self.bytes = [0; BUCKETS];
            } else {
                for b in self.last + 1..=now {
                    self.bytes[b as usize % BUCKETS] = 0;
                }
            }
            self.last = now;
        }
        self.bytes[now as usize % BUCKETS] += bytes;
    }

    /// Bytes in the buckets still inside the window at bucket `now`.
    fn sum(&self, now: u64) -> u64 {
        let age = now.saturating_sub(self.last) as usize;
        (0..BUCKETS.saturating_sub(age))
            .map(|j| self.bytes[(self.last as usize + BUCKETS - j) % BUCKETS])
            .sum()
    }
}

/// Not a monitored side: no per-IP counter.
const HOST_NONE: u32 = u32::MAX;
/// A monitored side whose host is not (or no longer) linked: look it up.
const HOST_LOOKUP: u32 = u32::MAX - 1;

/// One host pair, service and direction.
#[derive(Debug, Clone, Copy)]
struct Entry {
    key: SeriesKey,
    class: Class,
    alive: bool,
    exported: bool,
    /// Per-IP counters of the source and destination: an index into the
    /// hosts, [`HOST_NONE`] or [`HOST_LOOKUP`].
    hosts: [u32; 2],
    total: Count,
    /// `total` when the series was last exported from scratch: what it
    /// shows is `total - base`. A folded entry's base follows its total at
    /// every publication, as its counts are in "other".
    base: Count,
    window: Window,
    last_tick: u64,
    first_ns: u64,
    macs: [u8; 12],
}

const NO_COUNT: Count = Count {
    packets: 0,
    bytes: 0,
};
const NO_HOST_COUNTS: HostCounts = HostCounts {
    tx: NO_COUNT,
    rx: NO_COUNT,
};
const NO_WINDOW: Window = Window {
    bytes: [0; BUCKETS],
    last: 0,
};

/// What fills an entry slot that was reserved but not yet used.
const VACANT_ENTRY: Entry = Entry {
    key: SeriesKey {
        version: 0,
        src: [0; 16],
        dst: [0; 16],
        proto: 0,
        port: None,
        reply: false,
    },
    class: Class::Transit,
    alive: false,
    exported: false,
    hosts: [HOST_NONE; 2],
    total: NO_COUNT,
    base: NO_COUNT,
    window: NO_WINDOW,
    last_tick: 0,
    first_ns: 0,
    macs: [0; 12],
};

/// One monitored IP.
#[derive(Debug, Clone, Copy)]
struct Host {
    version: u8,
    addr: [u8; 16],
    alive: bool,
    exported: bool,
    total: HostCounts,
    base: HostCounts,
    window: Window,
    last_tick: u64,
}

/// What fills a host slot that was reserved but not yet used.
const VACANT_HOST: Host = Host {
    version: 0,
    addr: [0; 16],
    alive: false,
    exported: false,
    total: NO_HOST_COUNTS,
    base: NO_HOST_COUNTS,
    window: NO_WINDOW,
    last_tick: 0,
};

/// Entries or hosts, in a `Vec` with a free list, so a cached index stays
/// cheap to check (the slot still holds the same key) and a forgotten
/// item's slot is used again, and found by key through an index.
struct Arena<T> {
    items: Vec<T>,
    /// Item of each [`Ranked::index_key`].
    index: FlowMap<u32>,
    free: Vec<u32>,
}

impl<T: Ranked + Copy> Arena<T> {
    fn new() -> Arena<T> {
        Arena {
            items: Vec::new(),
            index: FlowMap::default(),
            free: Vec::new(),
        }
    }

    fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// Room for `n` items, written once now (see [`reserve_written`]).
    fn reserve(&mut self, n: usize, vacant: T) {
        self.index.reserve(n);
        reserve_written(&mut self.items, n, vacant);
    }

    /// Bytes the items and the index hold.
    fn memory_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>() + self.index.memory_bytes()
    }

    /// Starts loading the index slot of `key`.
    #[inline]
    fn touch_key(&self, key: &FlowKey) {
        self.index.touch(self.index.hash(key));
    }

    /// The index of the item of `key`; if there is none and fewer than
    /// `limit` are live, of a new one `make` builds; else `None`.
    fn get_or_add(&mut self, key: FlowKey, limit: usize, make: impl FnOnce() -> T) -> Option<u32> {
        let h = self.index.hash(&key);
        if let Some(&mut i) = self.index.get_mut(&key, h) {
            return Some(i);
        }
        if self.live() >= limit {
            return None;
        }
        let item = make();
        let i = match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = item;
                i
            }
            None => {
                self.items.push(item);
                (self.items.len() - 1) as u32
            }
        };
        self.index.insert(key, h, i);
        Some(i)
    }

    /// Forgets every live item `gone` picks. Returns whether any went.
    fn forget_where(&mut self, mut gone: impl FnMut(&T) -> bool) -> bool {
        let mut any = false;
        for (i, x) in self.items.iter_mut().enumerate() {
            if x.alive() && gone(x) {
                x.forget();
                let k = x.index_key();
                self.index.remove(&k, self.index.hash(&k));
                self.free.push(i as u32);
                any = true;
            }
        }
        any
    }
}

/// Exported entries and hosts are re-ranked each publication; the rest
/// are folded.
struct Book {
    acc: Accounting,
    idle_ticks: u64,
    bucket_ticks: u64,
    entries: Arena<Entry>,
    hosts: Arena<Host>,
    /// Per class and IP version.
    traffic: [[Count; 2]; 4],
    /// All monitored hosts together.
    host_total: HostCounts,
    untracked: Count,
    /// Ranking scratch: (window bytes, index).
    rank: Vec<(u64, u32)>,
}

/// Ticks (refresh intervals) in `d`, at least one.
fn ticks(d: Duration, refresh: Duration) -> u64 {
    (d.as_nanos().div_ceil(refresh.as_nanos().max(1)) as u64).max(1)
}

impl Book {
    fn new(refresh: Duration, acc: Accounting) -> Book {
        let mut b = Book {
            acc,
            idle_ticks: 1,
            bucket_ticks: 1,
            entries: Arena::new(),
            hosts: Arena::new(),
            traffic: [[Count::default(); 2]; 4],
            host_total: HostCounts::default(),
            untracked: Count::default(),
            rank: Vec::new(),
        };
        b.set_times(refresh);
        b.reserve();
        b
    }

    /// Makes room for `max_entries` entries and hosts, in memory written
    /// once now: counting a new flow then never allocates, copies a table
    /// or waits for the kernel to find a page, and the memory the collector
    /// will use is taken (and known) at start.
    fn reserve(&mut self) {
        let n = self.acc.max_entries;
        self.entries.reserve(n, VACANT_ENTRY);
        self.hosts.reserve(n, VACANT_HOST);
    }

    /// Bytes its entries, hosts and their indices hold.
    fn memory_bytes(&self) -> usize {
        self.entries.memory_bytes() + self.hosts.memory_bytes()
    }

    fn set_times(&mut self, refresh: Duration) {
        self.idle_ticks = ticks(self.acc.flow_idle, refresh);
        self.bucket_ticks = ticks(self.acc.flow_window, refresh)
            .div_ceil(BUCKETS as u64)
            .max(1);
    }

    fn bucket(&self, tick: u64) -> u64 {
        tick / self.bucket_ticks
    }

    /// Starts loading what counting `key` at `idx` will read first: the
    /// entry if `idx` is one, else the index slot and the host index slots
    /// a new entry looks up.
    #[inline]
    fn touch(&self, idx: u32, key: &SeriesKey) {
        if let Some(e) = self.entries.items.get(idx as usize) {
            // an entry spans three or four lines, and counting writes most
            crate::sys::prefetch_all(e);
            return;
        }
        self.entries.touch_key(&key.index_key());
        for addr in [key.src, key.dst] {
            self.hosts.touch_key(&host_key(key.version, addr));
        }
    }

    #[inline]
    fn holds(&self, idx: u32, key: &SeriesKey) -> bool {
        self.entries
            .items
            .get(idx as usize)
            .is_some_and(|e| e.alive && e.key == *key)
    }

    /// The entry of `key`, made if there is room; `NO_SERIES` if not.
    fn entry_for(&mut self, key: &SeriesKey, s: &FlowStats, tick: u64) -> u32 {
        let n = &self.acc.networks;
        let window = Window::at(self.bucket(tick));
        let side = |addr| {
            if n.is_monitored(key.version, addr) {
                HOST_LOOKUP
            } else {
                HOST_NONE
            }
        };
        let make = || Entry {
            key: *key,
            class: n.class(key.version, &key.src, &key.dst),
            alive: true,
            exported: false,
            hosts: [side(&key.src), side(&key.dst)],
            total: Count::default(),
            base: Count::default(),
            window,
            last_tick: tick,
            first_ns: s.first_ns,
            macs: s.macs,
        };
        self.entries
            .get_or_add(key.index_key(), self.acc.max_entries, make)
            .unwrap_or(NO_SERIES)
    }

    /// The host of `addr`, made if there is room; [`HOST_LOOKUP`] if not.
    fn host_for(&mut self, version: u8, addr: [u8; 16], tick: u64) -> u32 {
        let window = Window::at(self.bucket(tick));
        let make = || Host {
            version,
            addr,
            alive: true,
            exported: false,
            total: HostCounts::default(),
            base: HostCounts::default(),
            window,
            last_tick: tick,
        };
        self.hosts
            .get_or_add(host_key(version, addr), self.acc.max_entries, make)
            .unwrap_or(HOST_LOOKUP)
    }

    /// Counts `s` for the host of `addr` (its `side`: 0 sent, 1 received).
    fn count_host(
        &mut self,
        link: u32,
        version: u8,
        addr: [u8; 16],
        side: usize,
        s: &FlowStats,
        tick: u64,
    ) -> u32 {
        let valid = self
            .hosts
            .items
            .get(link as usize)
            .is_some_and(|h| h.alive && h.addr == addr && h.version == version);
        let link = if valid {
            link
        } else {
            self.host_for(version, addr, tick)
        };
        let (packets, bytes) = (s.packets, s.bytes);
        let bucket = self.bucket(tick);
        let total = &mut self.host_total;
        if side == 0 {
            total.tx.add(packets, bytes);
        } else {
            total.rx.add(packets, bytes);
        }
        if let Some(h) = self.hosts.items.get_mut(link as usize) {
            if side == 0 {
                h.total.tx.add(packets, bytes);
            } else {
                h.total.rx.add(packets, bytes);
            }
            h.window.add(bucket, bytes);
            h.last_tick = tick;
        }
        link
    }

    /// Counts flow `s` under `key`, whose entry is probably `idx` (a cached
    /// index, or `NO_SERIES`). Returns the entry's index now.
    #[inline]
    fn count(&mut self, idx: u32, key: &SeriesKey, s: &FlowStats, tick: u64) -> u32 {
        let idx = if self.holds(idx, key) {
            idx
        } else {
            self.entry_for(key, s, tick)
        };
        let v6 = usize::from(key.version == 6);
        let bucket = self.bucket(tick);
        let Some(e) = self.entries.items.get_mut(idx as usize) else {
            // no room: the flow counts in its class and hosts, not in an entry
            self.untracked.add(s.packets, s.bytes);
            let n = &self.acc.networks;
            let class = n.class(key.version, &key.src, &key.dst);
            let sides = [
                n.is_monitored(key.version, &key.src),
                n.is_monitored(key.version, &key.dst),
            ];
            self.traffic[class.index()][v6].add(s.packets, s.bytes);
            for (side, (monitored, addr)) in sides.into_iter().zip([key.src, key.dst]).enumerate() {
                if monitored {
                    self.count_host(HOST_LOOKUP, key.version, addr, side, s, tick);
                }
            }
            return NO_SERIES;
        };
        e.total.add(s.packets, s.bytes);
        e.window.add(bucket, s.bytes);
        e.last_tick = tick;
        let (class, hosts) = (e.class, e.hosts);
        self.traffic[class.index()][v6].add(s.packets, s.bytes);
        for (side, (link, addr)) in hosts.into_iter().zip([key.src, key.dst]).enumerate() {
            if link != HOST_NONE {
                let now = self.count_host(link, key.version, addr, side, s, tick);
                if now != link {
                    self.entries.items[idx as usize].hosts[side] = now;
                }
            }
        }
        idx
    }

    /// Forgets entries and hosts unseen for longer than the idle limit.
    /// Returns whether it forgot any.
    fn expire(&mut self, tick: u64) -> bool {
        let idle = self.idle_ticks;
        let entries = self
            .entries
            .forget_where(|e| tick.saturating_sub(e.last_tick) > idle);
        let hosts = self
            .hosts
            .forget_where(|h| tick.saturating_sub(h.last_tick) > idle);
        entries || hosts
    }

    /// Chooses the exported entries and hosts: the top ones by bytes over
    /// the window, ties broken by key. A newly exported series starts from
    /// what it counted since the last publication (before that, its counts
    /// were in "other", which never goes down); a folded one hands all it
    /// showed to "other".
    fn rank(&mut self, tick: u64) {
        let now = self.bucket(tick);
        rank_into(
            &mut self.entries.items,
            &mut self.rank,
            now,
            self.acc.max_flow_series,
        );
        rank_into(
            &mut self.hosts.items,
            &mut self.rank,
            now,
            self.acc.max_hosts,
        );
    }

    /// Applies new settings: classes and monitored sides are decided again
    /// for every entry. An exported series whose class changed starts
    /// again from zero under its new class (its old counts go to "other"
    /// of the old class); a host no longer monitored is dropped the same
    /// way. Totals are never touched, so no counter goes down or loses a
    /// packet.
    fn reconfigure(&mut self, acc: Accounting, refresh: Duration, tick: u64) {
        let old_bucket = self.bucket_ticks;
        self.acc = acc;
        self.set_times(refresh);
        self.reserve();
        let now = self.bucket(tick);
        let fresh_windows = old_bucket != self.bucket_ticks;
        let n = &self.acc.networks;
        for e in self.entries.items.iter_mut().filter(|e| e.alive) {
            let k = e.key;
            let class = n.class(k.version, &k.src, &k.dst);
            if class != e.class {
                e.class = class;
                e.base = e.total;
            }
            for (side, addr) in [k.src, k.dst].iter().enumerate() {
                let m = n.is_monitored(k.version, addr);
                if !m {
                    e.hosts[side] = HOST_NONE;
                } else if e.hosts[side] == HOST_NONE {
                    e.hosts[side] = HOST_LOOKUP;
                }
            }
            if fresh_windows {
                e.window = Window::at(now);
            }
        }
        self.hosts
            .forget_where(|h| !n.is_monitored(h.version, &h.addr));
        if fresh_windows {
            for h in self.hosts.items.iter_mut().filter(|h| h.alive) {
                h.window = Window::at(now);
            }
        }
    }

    /// The exported rows and what the folded rest adds up to.
    fn publish(&self, s: &mut Snapshot) {
        let mut flows: Vec<FlowRow> = self
            .entries
            .items
            .iter()
            .filter(|e| e.alive && e.exported)
            .map(|e| FlowRow {
                key: e.key,
                class: e.class,
                packets: e.total.packets - e.base.packets,
                bytes: e.total.bytes - e.base.bytes,
                first_ns: e.first_ns,
                macs: e.macs,
            })
            .collect();
        flows.sort_unstable_by_key(|r| r.key);
        let mut other = [Count::default(); 4];
        for (c, o) in other.iter_mut().enumerate() {
            for v in &self.traffic[c] {
                o.add(v.packets, v.bytes);
            }
        }
        for r in &flows {
            let o = &mut other[r.class.index()];
            o.packets -= r.packets;
            o.bytes -= r.bytes;
        }
        let mut hosts: Vec<HostRow> = self
            .hosts
            .items
            .iter()
            .filter(|h| h.alive && h.exported)
            .map(|h| HostRow {
                version: h.version,
                addr: h.addr,
                counts: h.total.minus(h.base),
            })
            .collect();
        hosts.sort_unstable_by_key(|h| (h.version, h.addr));
        let mut hosts_other = self.host_total;
        for h in &hosts {
            hosts_other = hosts_other.minus(h.counts);
        }
        s.flows_folded = self.entries.live() - flows.len();
        s.flows = flows;
        s.flows_other = other;
        s.traffic = self.traffic;
        s.hosts = hosts;
        s.hosts_other = hosts_other;
        s.entries = self.entries.live();
        s.host_entries = self.hosts.live();
        s.untracked = self.untracked;
        s.compat = self.acc.compat;
    }
}

/// What ranking and the arenas need of an entry or a host.
trait Ranked {
    type Key: Ord;
    fn alive(&self) -> bool;
    /// Marks it dead and not exported.
    fn forget(&mut self);
    /// Its key packed as a flow key, for the arena's index.
    fn index_key(&self) -> FlowKey;
    fn window(&self) -> &Window;
    fn key(&self) -> Self::Key;
    /// Exports it or folds it; a folded one's base follows its total.
    fn set_exported(&mut self, exported: bool);
}

impl Ranked for Entry {
    type Key = SeriesKey;
    fn alive(&self) -> bool {
        self.alive
    }
    fn forget(&mut self) {
        self.alive = false;
        self.exported = false;
    }
    fn index_key(&self) -> FlowKey {
        self.key.index_key()
    }
    fn window(&self) -> &Window {
        &self.window
    }
    fn key(&self) -> SeriesKey {
        self.key
    }
    fn set_exported(&mut self, exported: bool) {
        self.exported = exported;
        if !exported {
            self.base = self.total;
        }
    }
}

impl Ranked for Host {
    type Key = (u8, [u8; 16]);
    fn alive(&self) -> bool {
        self.alive
    }
    fn forget(&mut self) {
        self.alive = false;
        self.exported = false;
    }
    fn index_key(&self) -> FlowKey {
        host_key(self.version, self.addr)
    }
    fn window(&self) -> &Window {
        &self.window
    }
    fn key(&self) -> (u8, [u8; 16]) {
        (self.version, self.addr)
    }
    fn set_exported(&mut self, exported: bool) {
        self.exported = exported;
        if !exported {
            self.base = self.total;
        }
    }
}

/// Exports the `n` live items with the most window bytes at bucket `now`
/// (ties: smallest key first) and folds the others. `rank` is scratch.
fn rank_into<T: Ranked>(items: &mut [T], rank: &mut Vec<(u64, u32)>, now: u64, n: usize) {
    rank.clear();
    rank.extend(
        items
            .iter()
            .enumerate()
            .filter(|(_, x)| x.alive())
            .map(|(i, x)| (x.window().sum(now), i as u32)),
    );
    if rank.len() > n {
        if n > 0 {
            rank.select_nth_unstable_by(n - 1, |a, b| {
                b.0.cmp(&a.0)
                    .then_with(|| items[a.1 as usize].key().cmp(&items[b.1 as usize].key()))
            });
        }
        rank.truncate(n);
    }
    // walk the items and the chosen indices in step
    rank.sort_unstable_by_key(|r| r.1);
    let mut chosen = rank.iter().map(|r| r.1 as usize).peekable();
    for (i, x) in items.iter_mut().enumerate() {
        let sel = chosen.next_if_eq(&i).is_some();
        if x.alive() {
            x.set_exported(sel);
        }
    }
}

/// Flows a merge looks up together, so that their cache misses overlap.
const STAGE: usize = 16;

/// The collector's state: the totals, what it knows of every conversation,
/// and the book of entries and hosts. Public for benchmarks; the collector
/// thread owns one.
#[doc(hidden)]
pub struct State {
    packets: u64,
    bytes: u64,
    parse_errors: [u64; ParseError::INDEX_COUNT],
    non_ip: BTreeMap<u16, u64>,
    non_ip_other: u64,
    overflow_packets: u64,
    overflow_bytes: u64,
    conversations: FlowMap<Conversation>,
    book: Book,
    refresh: Duration,
    batches: Vec<(Histogram<u64>, u64)>,
    tick: u64,
    dirty: bool,
    /// Flows of new conversations, waiting for their opener to be decided.
    pending: Vec<(FlowKey, FlowStats)>,
    /// A drained shard's flows.
    scratch: Vec<(FlowKey, FlowStats)>,
    openers: HashMap<FlowKey, Opener, FastState>,
}

impl State {
    pub fn new(workers: usize, refresh: Duration, acc: Accounting) -> State {
        State {
            packets: 0,
            bytes: 0,
            parse_errors: [0; ParseError::INDEX_COUNT],
            non_ip: BTreeMap::new(),
            non_ip_other: 0,
            overflow_packets: 0,
            overflow_bytes: 0,
            conversations: FlowMap::with_capacity(acc.max_entries),
            book: Book::new(refresh, acc),
            refresh,
            batches: (0..workers).map(|_| (new_batch_histogram(), 0)).collect(),
            tick: 0,
            dirty: true,
            pending: Vec::new(),
            scratch: Vec::new(),
            openers: HashMap::default(),
        }
    }

    /// Adds one shard to the totals and leaves it empty.
    pub fn merge(&mut self, worker: usize, shard: &mut Shard) {
        self.dirty = true;
        self.packets += shard.packets;
        self.bytes += shard.bytes;
        for (total, n) in self.parse_errors.iter_mut().zip(shard.parse_errors.iter()) {
            *total += n;
        }
        for (et, n) in shard.non_ip.iter() {
            *self.non_ip.entry(et).or_default() += n;
        }
        self.non_ip_other += shard.non_ip.other;
        if let Some((h, sum)) = self.batches.get_mut(worker) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = h.add(&shard.batch_ns);
            *sum += shard.batch_ns_sum;
        }

        // Flows of known conversations count at once; the others wait
        // until the earliest flow of each new conversation is known. Work
        // goes in stages: hash and touch a stage's conversations, look them
        // up, touch their entries, then count, so the cache misses overlap.
        let tick = self.tick;
        let mut flows = std::mem::take(&mut self.scratch);
        flows.clear();
        let (op, ob) = shard.table.drain(|k, s| flows.push((*k, *s)));
        self.overflow_packets += op;
        self.overflow_bytes += ob;
        shard.clear();

        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        for stage in flows.chunks(STAGE) {
            let keys = self.touch_conversations(stage);
            let mut found = [(SeriesKey::default(), NO_SERIES, None); STAGE];
            for (((k, s), (ck, h)), f) in stage.iter().zip(keys).zip(found.iter_mut()) {
                match self.conversations.get_mut(&ck, h) {
                    Some(c) => {
                        c.last_tick = tick;
                        let (key, reply) = series_key(c, k);
                        let idx = c.series[usize::from(reply)];
                        self.book.touch(idx, &key);
                        *f = (key, idx, Some((ck, h, reply)));
                    }
                    None => {
                        let cand = Opener {
                            key: *k,
                            first_ns: s.first_ns,
                            first_seq: s.first_seq,
                            flags: s.first_tcp_flags,
                        };
                        self.openers
                            .entry(ck)
                            .and_modify(|o| {
                                if (cand.first_ns, cand.first_seq) < (o.first_ns, o.first_seq) {
                                    *o = cand;
                                }
                            })
                            .or_insert(cand);
                        pending.push((*k, *s));
                    }
                }
            }
            for ((_, s), (key, idx, conv)) in stage.iter().zip(found) {
                let Some((ck, h, reply)) = conv else { continue };
                let now = self.book.count(idx, &key, s, tick);
                if now != idx
                    && let Some(c) = self.conversations.get_mut(&ck, h)
                {
                    c.series[usize::from(reply)] = now;
                }
            }
        }
        self.scratch = flows;

        // New conversations are remembered while there is room; beyond it
        // each is decided again from what each shard shows of it.
        let room = self.book.acc.max_entries;
        let mut unremembered: HashMap<FlowKey, Conversation, FastState> = HashMap::default();
        let mut openers = self.openers.drain();
        loop {
            // staged too: touch a stage's slots, then insert
            let mut stage = [(FlowKey::default(), 0u64, Conversation::default()); STAGE];
            let mut n = 0;
            // the stage first: zip must not take an opener it has no room for
            for (slot, (ck, o)) in stage.iter_mut().zip(openers.by_ref()) {
                let h = self.conversations.hash(&ck);
                self.conversations.touch(h);
                *slot = (ck, h, Conversation::decide(&o.key, o.flags, tick));
                n += 1;
            }
            if n == 0 {
                break;
            }
            for &(ck, h, c) in &stage[..n] {
                if self.conversations.len() < room {
                    self.conversations.insert(ck, h, c);
                } else {
                    unremembered.insert(ck, c);
                }
            }
        }
        drop(openers);
        // The same stages for the flows of the new conversations.
        for stage in pending.chunks(STAGE) {
            let keys = self.touch_conversations(stage);
            let mut found = [(SeriesKey::default(), NO_SERIES, false); STAGE];
            for ((k, _), ((ck, h), f)) in stage.iter().zip(keys.iter().zip(found.iter_mut())) {
                let c = match self.conversations.get_mut(ck, *h) {
                    Some(c) => *c,
                    // decided just above, so one of the two has it
                    None => unremembered.get(ck).copied().unwrap_or_default(),
                };
                let (key, reply) = series_key(&c, k);
                let idx = c.series[usize::from(reply)];
                self.book.touch(idx, &key);
                *f = (key, idx, reply);
            }
            for ((_, s), ((ck, h), (key, idx, reply))) in stage.iter().zip(keys.iter().zip(found)) {
                let now = self.book.count(idx, &key, s, tick);
                let c = match self.conversations.get_mut(ck, *h) {
                    Some(c) => Some(c),
                    None => unremembered.get_mut(ck),
                };
                if let Some(c) = c {
                    c.series[usize::from(reply)] = now;
                }
            }
        }
        self.pending = pending;
    }

    /// The conversation key of each flow of a stage (at most [`STAGE`]) and
    /// its hash, with its home slot starting to load.
    #[inline]
    fn touch_conversations(&self, stage: &[(FlowKey, FlowStats)]) -> [(FlowKey, u64); STAGE] {
        let mut keys = [(FlowKey::default(), 0u64); STAGE];
        for ((k, _), slot) in stage.iter().zip(keys.iter_mut()) {
            let ck = k.conversation();
            let h = self.conversations.hash(&ck);
            self.conversations.touch(h);
            *slot = (ck, h);
        }
        keys
    }

    /// Moves on one refresh interval, and every eighth of the idle limit
    /// sweeps out the conversations, entries and hosts idle for longer than
    /// it: one is forgotten at most 1/8 of the limit late, and the tables
    /// are not walked every second.
    pub fn tick(&mut self) {
        self.tick += 1;
        let (tick, idle) = (self.tick, self.book.idle_ticks);
        if tick % (idle / 8).max(1) != 0 {
            return;
        }
        let before = self.conversations.len();
        self.conversations
            .retain(|_, c| tick.saturating_sub(c.last_tick) <= idle);
        if self.book.expire(tick) || self.conversations.len() != before {
            self.dirty = true;
        }
    }

    /// Applies reloaded settings (see [`Book::reconfigure`]).
    pub fn reconfigure(&mut self, acc: Accounting) {
        self.conversations.reserve(acc.max_entries);
        self.book.reconfigure(acc, self.refresh, self.tick);
        self.dirty = true;
    }

    /// Bytes its conversations, entries and hosts hold: reserved at start
    /// for `--max-entries` of each.
    pub fn memory_bytes(&self) -> usize {
        self.conversations.memory_bytes() + self.book.memory_bytes()
    }

    /// Ranks the series and publishes everything as a snapshot.
    pub fn snapshot(&mut self, shard_memory_bytes: usize, complete: bool) -> Snapshot {
        self.book.rank(self.tick);
        let mut non_ip: Vec<(String, u64)> = self
            .non_ip
            .iter()
            .map(|(et, n)| (ethertype_label(Some(*et)), *n))
            .collect();
        if self.non_ip_other > 0 {
            non_ip.push((ethertype_label(None), self.non_ip_other));
        }
        let mut s = Snapshot::empty(0);
        s.packets = self.packets;
        s.bytes = self.bytes;
        s.parse_errors = ERROR_KINDS
            .iter()
            .map(|e| (*e, self.parse_errors[e.index()]))
            .collect();
        s.non_ip = non_ip;
        s.overflow_packets = self.overflow_packets;
        s.overflow_bytes = self.overflow_bytes;
        self.book.publish(&mut s);
        s.batches = self
            .batches
            .iter()
            .enumerate()
            .map(|(w, (h, sum))| batch_row(w, h, *sum))
            .collect();
        s.conversations = self.conversations.len();
        s.shard_memory_bytes = shard_memory_bytes;
        s.collector_memory_bytes = self.memory_bytes();
        s.complete = complete;
        s
    }
}

/// The series key flow `k` of conversation `c` counts under, and whether
/// it is the reply direction.
#[inline]
fn series_key(c: &Conversation, k: &FlowKey) -> (SeriesKey, bool) {
    let reply = !c.is_request(k);
    let key = SeriesKey {
        version: k.version(),
        src: k.src(),
        dst: k.dst(),
        proto: k.proto(),
        port: if k.port_kind() == PortKind::Ports {
            c.service
        } else {
            None
        },
        reply,
    };
    (key, reply)
}

pub struct Collector {
    rx: Receiver<Handoff>,
    returns: Vec<Sender<Box<Shard>>>,
    epoch: Arc<AtomicU64>,
    refresh: Duration,
    state: State,
    published: Arc<Published>,
    memory_bytes: usize,
    reload_rx: Receiver<Accounting>,
    reload_tx: Sender<Accounting>,
}

impl Collector {
    /// Where the latest snapshot is published.
    pub fn published(&self) -> Arc<Published> {
        self.published.clone()
    }

    /// Where to send new settings; they apply at the next refresh.
    pub fn reloader(&self) -> Sender<Accounting> {
        self.reload_tx.clone()
    }

    /// Memory all worker shards (two per worker) hold, in bytes.
    pub fn shard_memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// Bytes the collector's own tables hold (see [`State::memory_bytes`]).
    pub fn table_memory_bytes(&self) -> usize {
        self.state.memory_bytes()
    }

    /// Runs until every worker has stopped, then publishes and returns the
    /// final snapshot.
    pub fn run(mut self) -> Arc<Snapshot> {
        let workers = self.returns.len();
        let mut done = 0;
        self.publish(false);
        let mut next_tick = Instant::now() + self.refresh;
        loop {
            match self.rx.recv_deadline(next_tick) {
                Ok(Handoff::Shard { worker, mut shard }) => {
                    self.state.merge(worker, &mut shard);
                    if let Some(ret) = self.returns.get(worker) {
                        // A stopped worker no longer takes spares back.
                        let _ = ret.try_send(shard);
                    }
                }
                Ok(Handoff::Done { .. }) => {
                    done += 1;
                    if done == workers {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Release pairs with nothing in particular: workers read
                    // the epoch relaxed; the shard travels through the channel.
                    self.epoch.fetch_add(1, Ordering::Release);
                    while let Ok(acc) = self.reload_rx.try_recv() {
                        self.state.reconfigure(acc);
                    }
                    self.state.tick();
                    if self.state.dirty {
                        self.publish(false);
                    }
                    next_tick += self.refresh;
                    let now = Instant::now();
                    if next_tick < now {
                        next_tick = now + self.refresh;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.publish(true)
    }

    fn publish(&mut self, complete: bool) -> Arc<Snapshot> {
        let s = Arc::new(self.state.snapshot(self.memory_bytes, complete));
        self.published.set(s.clone());
        self.state.dirty = false;
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netset::Networks;
    use crate::parse::v4_addr;

    fn tcp_key(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> FlowKey {
        FlowKey::new(4, v4_addr(src), v4_addr(dst), 6, PortKind::Ports, sp, dp, 0)
    }

    #[test]
    fn syn_opens_the_conversation() {
        let k = tcp_key([10, 0, 0, 1], 40000, [1, 1, 1, 1], 8443);
        let c = Conversation::decide(&k, tcp::flags::SYN, 0);
        assert_eq!(c.service, Some(8443));
        assert!(c.is_request(&k));
        assert!(!c.is_request(&k.reversed()));
    }

    #[test]
    fn mid_stream_tcp_takes_the_low_port() {
        // first seen: the server's answer from port 22
        let k = tcp_key([1, 1, 1, 1], 22, [10, 0, 0, 1], 50000);
        let c = Conversation::decide(&k, tcp::flags::ACK, 0);
        assert_eq!(c.service, Some(22));
        assert!(!c.is_request(&k));
        assert!(c.is_request(&k.reversed()));
        // both ports high: the destination of the first packet
        let k = tcp_key([1, 1, 1, 1], 5000, [10, 0, 0, 1], 6000);
        let c = Conversation::decide(&k, tcp::flags::ACK, 0);
        assert_eq!(c.service, Some(6000));
        assert!(c.is_request(&k));
        // a SYN+ACK is not an opener
        let k = tcp_key([1, 1, 1, 1], 443, [10, 0, 0, 1], 50000);
        let c = Conversation::decide(&k, tcp::flags::SYN | tcp::flags::ACK, 0);
        assert_eq!(c.service, Some(443));
        assert!(c.is_request(&k.reversed()));
    }

    #[test]
    fn first_udp_packet_opens() {
        let k = FlowKey::new(
            4,
            v4_addr([1; 4]),
            v4_addr([2; 4]),
            17,
            PortKind::Ports,
            53,
            40000,
            0,
        );
        let c = Conversation::decide(&k, 0, 0);
        assert_eq!(c.service, Some(40000));
        assert!(c.is_request(&k));
    }

    #[test]
    fn icmp_echo_reply_first_makes_the_other_side_the_client() {
        let reply = FlowKey::new(
            4,
            v4_addr([1; 4]),
            v4_addr([2; 4]),
            1,
            PortKind::Icmp,
            0,
            0,
            0,
        );
        let c = Conversation::decide(&reply, 0, 0);
        assert_eq!(c.service, None);
        assert!(!c.is_request(&reply));
        let echo = FlowKey::new(
            4,
            v4_addr([2; 4]),
            v4_addr([1; 4]),
            1,
            PortKind::Icmp,
            8,
            0,
            0,
        );
        assert!(c.is_request(&echo));
    }

    fn v4(s: &str) -> [u8; 16] {
        v4_addr(s.parse::<std::net::Ipv4Addr>().unwrap().octets())
    }

    fn v6(s: &str) -> [u8; 16] {
        s.parse::<std::net::Ipv6Addr>().unwrap().octets()
    }

    /// A UDP flow from `src` to `dst` (addresses as text) with `packets`
    /// packets of `size` bytes, first seen at `t`.
    fn udp(src: &str, dst: &str, dport: u16) -> FlowKey {
        let (version, s, d) = if src.contains(':') {
            (6, v6(src), v6(dst))
        } else {
            (4, v4(src), v4(dst))
        };
        FlowKey::new(version, s, d, 17, PortKind::Ports, 40000, dport, 0)
    }

    /// Merges one interval holding `flows` as (key, packets, bytes each),
    /// then ticks and publishes.
    fn interval(st: &mut State, flows: &[(FlowKey, u64, u64)]) -> Snapshot {
        let mut shard = Shard::new(flows.len().max(16));
        let mut seq = 0;
        for (k, packets, size) in flows {
            for _ in 0..*packets {
                seq += 1;
                assert!(
                    shard
                        .table
                        .account(k, *size, 1_700_000_000_000_000_000, seq, 0)
                );
            }
        }
        st.merge(0, &mut shard);
        st.tick();
        st.snapshot(0, false)
    }

    fn count(packets: u64, bytes: u64) -> Count {
        Count { packets, bytes }
    }

    fn state(acc: Accounting) -> State {
        State::new(1, Duration::from_secs(1), acc)
    }

    fn host(s: &Snapshot, ip: &str) -> HostCounts {
        let (version, addr) = if ip.contains(':') {
            (6, v6(ip))
        } else {
            (4, v4(ip))
        };
        s.hosts
            .iter()
            .find(|h| h.version == version && h.addr == addr)
            .map(|h| h.counts)
            .unwrap_or_default()
    }

    /// Every class: exported rows plus "other" add up to the class total.
    fn assert_sums(s: &Snapshot) {
        for c in Class::ALL {
            let mut sum = s.flows_other[c.index()];
            for r in s.flows.iter().filter(|r| r.class == c) {
                sum.add(r.packets, r.bytes);
            }
            let mut total = Count::default();
            for v in &s.traffic[c.index()] {
                total.add(v.packets, v.bytes);
            }
            assert_eq!(sum, total, "{c:?}");
        }
    }

    #[test]
    fn classes_and_hosts_are_exact() {
        let mut st = state(Accounting::default());
        let s = interval(
            &mut st,
            &[
                (udp("10.0.0.1", "93.184.216.34", 53), 3, 100),
                (udp("93.184.216.34", "10.0.0.1", 53), 2, 200),
                // two different local networks: internal, not internet
                (udp("10.0.0.1", "192.168.1.1", 123), 5, 90),
                (udp("8.8.8.8", "1.1.1.1", 443), 7, 80),
                (udp("fd00::1", "2001:db8::1", 443), 11, 120),
                (udp("2001:db8::1", "fd00::1", 443), 13, 130),
            ],
        );
        let t = |c: Class, v: usize| s.traffic[c.index()][v];
        assert_eq!(t(Class::Outgoing, 0), count(3, 300));
        assert_eq!(t(Class::Incoming, 0), count(2, 400));
        assert_eq!(t(Class::Internal, 0), count(5, 450));
        assert_eq!(t(Class::Transit, 0), count(7, 560));
        assert_eq!(t(Class::Outgoing, 1), count(11, 1320));
        assert_eq!(t(Class::Incoming, 1), count(13, 1690));
        assert_eq!(t(Class::Internal, 1), Count::default());
        // Monitored (the local networks by default): a monitored host
        // talking to another is tx for one and rx for the other.
        let h = host(&s, "10.0.0.1");
        assert_eq!(h.tx, count(8, 750));
        assert_eq!(h.rx, count(2, 400));
        let h = host(&s, "192.168.1.1");
        assert_eq!((h.tx, h.rx), (Count::default(), count(5, 450)));
        let h = host(&s, "fd00::1");
        assert_eq!(h.tx, count(11, 1320));
        assert_eq!(h.rx, count(13, 1690));
        assert_eq!(s.hosts.len(), 3, "public addresses are not monitored");
        assert_eq!(s.hosts_other, HostCounts::default());
        assert_eq!(s.flows.len(), 6);
        assert_eq!(s.flows_other, [Count::default(); 4]);
        let row = s.flows.iter().find(|r| r.key.src == v4("8.8.8.8")).unwrap();
        assert_eq!((row.class, row.key.port), (Class::Transit, Some(443)));
        assert_sums(&s);
    }

    #[test]
    fn monitor_and_exclude_subnets_choose_the_hosts() {
        let nets = |l: &[&str]| crate::netset::parse_list(l).unwrap();
        let acc = Accounting {
            networks: Networks::new(
                &nets(&crate::netset::DEFAULT_LOCAL),
                &nets(&["192.168.1.0/24", "198.51.100.0/24"]),
                &nets(&["192.168.1.128/25"]),
            ),
            ..Accounting::default()
        };
        let mut st = state(acc);
        let s = interval(
            &mut st,
            &[
                (udp("192.168.1.5", "198.51.100.7", 80), 1, 100),
                (udp("192.168.1.200", "192.168.1.5", 80), 1, 60),
                (udp("10.0.0.1", "192.168.1.5", 80), 1, 70),
            ],
        );
        assert_eq!(host(&s, "192.168.1.5").tx.bytes, 100);
        assert_eq!(host(&s, "192.168.1.5").rx.bytes, 130);
        assert_eq!(
            host(&s, "198.51.100.7").rx.bytes,
            100,
            "a public monitored subnet"
        );
        assert_eq!(
            s.hosts.len(),
            2,
            "excluded and unmonitored hosts have no series"
        );
    }

    #[test]
    fn folding_keeps_sums_exact_and_counters_monotonic() {
        let acc = Accounting {
            max_flow_series: 3,
            max_hosts: 2,
            ..Accounting::default()
        };
        let mut st = state(acc);
        let dst = |i: u32| format!("203.0.113.{i}");
        // ten flows, flow i sending i packets of 100 bytes
        let flows: Vec<_> = (1..=10)
            .map(|i| (udp(&format!("10.0.0.{i}"), &dst(i), 53), u64::from(i), 100))
            .collect();
        let s1 = interval(&mut st, &flows);
        assert_eq!(s1.flows.len(), 3);
        let top: Vec<u8> = s1.flows.iter().map(|r| r.key.src[3]).collect();
        assert_eq!(top, vec![8, 9, 10]);
        assert_eq!(s1.flows_folded, 7);
        assert_eq!(s1.flows_other[Class::Outgoing.index()].packets, 28);
        assert_eq!(s1.hosts.len(), 2);
        assert_eq!(s1.hosts_other.tx.packets, 55 - 19);
        assert_sums(&s1);

        // flow 1 now sends the most and takes flow 8's place: it starts
        // from what it sent since the last publication, flow 8's counts
        // go to "other", and "other" never goes down
        let s2 = interval(&mut st, &[(flows[0].0, 50, 100)]);
        let top: Vec<u8> = s2.flows.iter().map(|r| r.key.src[3]).collect();
        assert_eq!(top, vec![1, 9, 10]);
        let one = s2.flows.iter().find(|r| r.key.src[3] == 1).unwrap();
        assert_eq!(one.packets, 50);
        let (o1, o2) = (
            s1.flows_other[Class::Outgoing.index()],
            s2.flows_other[Class::Outgoing.index()],
        );
        assert!(o2.packets >= o1.packets && o2.bytes >= o1.bytes);
        // flows 2 to 7, flow 8 (folded now) and the packet flow 1 sent
        // while it was folded
        assert_eq!(o2.packets, 27 + 8 + 1);
        assert_sums(&s2);
        // exported series never go down while exported
        for r in &s2.flows {
            if let Some(p) = s1.flows.iter().find(|p| p.key == r.key) {
                assert!(r.packets >= p.packets);
            }
        }
        assert_eq!(host(&s2, "10.0.0.1").tx.packets, 50, "host 1 re-ranked too");
    }

    #[test]
    fn idle_entries_leave_the_exposition() {
        let acc = Accounting {
            flow_idle: Duration::from_secs(3),
            ..Accounting::default()
        };
        let mut st = state(acc);
        let a = udp("10.0.0.1", "203.0.113.1", 53);
        let b = udp("10.0.0.2", "203.0.113.2", 53);
        let s = interval(&mut st, &[(a, 4, 100), (b, 1, 100)]);
        assert_eq!((s.flows.len(), s.entries, s.host_entries), (2, 2, 2));
        let mut last = s;
        for _ in 0..4 {
            last = interval(&mut st, &[(a, 1, 100)]);
        }
        assert_eq!(last.flows.len(), 1, "b idle for 4 s > 3 s");
        assert_eq!(last.flows[0].key.src, v4("10.0.0.1"));
        assert_eq!((last.entries, last.host_entries), (1, 1));
        assert_eq!(last.flows_other[Class::Outgoing.index()].packets, 1);
        assert_eq!(last.hosts_other.tx.packets, 1);
        assert_eq!(last.conversations, 1);
        assert_sums(&last);
        // b comes back: a new entry, counted from its return
        let s = interval(&mut st, &[(b, 2, 100)]);
        let row = s
            .flows
            .iter()
            .find(|r| r.key.src == v4("10.0.0.2"))
            .unwrap();
        assert_eq!(row.packets, 2);
        assert_sums(&s);
    }

    /// Far more new conversations in one merge than a stage holds: every
    /// one is decided (the high-port side is the client of a TCP service
    /// first seen mid-stream) and both its directions are counted.
    #[test]
    fn every_new_conversation_of_a_merge_is_decided_and_counted() {
        let mut st = state(Accounting::default());
        let n = 1000u16;
        let mut flows = Vec::new();
        for i in 0..n {
            let c = v4(&format!("10.0.{}.{}", i / 250, i % 250));
            let srv = v4(&format!("203.0.113.{}", i % 250));
            let req = FlowKey::new(4, c, srv, 6, PortKind::Ports, 40000 + i, 443, 0);
            flows.push((req, 2, 100));
            flows.push((req.reversed(), 3, 1000));
        }
        // replies first for half of them: the order must not matter
        flows[..1000].reverse();
        let s = interval(&mut st, &flows);
        assert_eq!((s.flows.len(), s.conversations), (2000, 1000));
        for r in &s.flows {
            assert_eq!(r.key.port, Some(443));
            let from_client = r.key.src[0] == 10;
            assert_eq!(r.key.reply, !from_client);
            let want = if from_client { (2, 200) } else { (3, 3000) };
            assert_eq!((r.packets, r.bytes), want);
        }
        assert_sums(&s);
    }

    /// The tables are taken at start for `max_entries` and never grow:
    /// filling them to the limit, and past it, leaves the memory as it was.
    #[test]
    fn tables_are_reserved_at_start_and_never_grow() {
        let acc = Accounting {
            max_entries: 1000,
            ..Accounting::default()
        };
        let mut st = state(acc);
        let at_start = st.memory_bytes();
        assert!(
            at_start >= 1000 * (2 * std::mem::size_of::<Entry>()),
            "{at_start}"
        );
        let flows: Vec<_> = (0..1500u16)
            .map(|i| {
                let c = v4(&format!("10.1.{}.{}", i / 250, i % 250));
                (
                    FlowKey::new(4, c, v4("203.0.113.9"), 17, PortKind::Ports, 40000, 53, 0),
                    1,
                    100,
                )
            })
            .collect();
        let s = interval(&mut st, &flows);
        assert_eq!((s.entries, s.host_entries), (1000, 1000));
        assert_eq!(s.collector_memory_bytes, at_start);
        assert_eq!(st.memory_bytes(), at_start);
    }

    /// With a long idle limit the sweep runs every eighth of it: an idle
    /// entry stays until the first sweep after the limit, never longer.
    #[test]
    fn idle_sweep_is_at_most_an_eighth_of_the_limit_late() {
        let acc = Accounting {
            flow_idle: Duration::from_secs(16),
            ..Accounting::default()
        };
        let mut st = state(acc);
        let a = udp("10.0.0.1", "203.0.113.1", 53);
        let b = udp("10.0.0.2", "203.0.113.2", 53);
        // both seen in tick 0; b is idle from then on
        interval(&mut st, &[(a, 1, 100), (b, 1, 100)]);
        let mut entries = Vec::new();
        for _ in 2..=20 {
            entries.push(interval(&mut st, &[(a, 1, 100)]).entries);
        }
        // snapshots after ticks 2..=20: b is over the limit from tick 17,
        // and the first sweep after that (every 2 ticks) is at tick 18
        assert_eq!(entries[..16], [2; 16]);
        assert_eq!(entries[16..], [1; 3]);
        assert_eq!(st.conversations.len(), 1);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_sources() {
        let acc = Accounting {
            max_entries: 1000,
            max_flow_series: 100,
            ..Accounting::default()
        };
        let mut st = state(acc);
        let mut rng = crate::synth::Rng::new(3);
        let mut sent = Count::default();
        for _ in 0..5 {
            let flows: Vec<_> = (0..20_000)
                .map(|_| {
                    let src = v4_addr((rng.next_u64() as u32 | 0x0100_0000).to_be_bytes());
                    let k = FlowKey::new(4, src, v4("10.0.0.1"), 6, PortKind::Ports, 1234, 80, 0);
                    (k, 1, 60)
                })
                .collect();
            sent.add(20_000, 20_000 * 60);
            let s = interval(&mut st, &flows);
            assert!(s.entries <= 1000 && s.conversations <= 1000 && s.host_entries <= 1000);
            assert_eq!(s.flows.len(), 100);
            assert_sums(&s);
        }
        let s = st.snapshot(0, true);
        let mut all = Count::default();
        for c in &s.traffic {
            for v in c {
                all.add(v.packets, v.bytes);
            }
        }
        assert_eq!(all, sent, "every flow counted, kept or not");
        assert!(s.untracked.packets >= 100_000 - 1000);
        assert_eq!(
            host(&s, "10.0.0.1").rx,
            sent,
            "the target's host counter is exact"
        );
        assert!(st.book.entries.items.len() <= 1000 && st.book.hosts.items.len() <= 1000);
    }

    #[test]
    fn reload_moves_classes_without_losing_a_count() {
        let mut st = state(Accounting::default());
        let k = udp("10.0.0.1", "198.51.100.9", 443);
        let s1 = interval(&mut st, &[(k, 10, 100)]);
        assert_eq!(s1.flows[0].class, Class::Outgoing);
        // 198.51.100.0/24 becomes local: the flow is internal from now on
        let nets = crate::netset::parse_list(&["10.0.0.0/8", "198.51.100.0/24"]).unwrap();
        st.reconfigure(Accounting {
            networks: Networks::new(&nets, &[], &[]),
            ..Accounting::default()
        });
        let s2 = interval(&mut st, &[(k, 5, 100)]);
        let t = |s: &Snapshot, c: Class| s.traffic[c.index()][0];
        assert_eq!(t(&s2, Class::Outgoing), count(10, 1000));
        assert_eq!(t(&s2, Class::Internal), count(5, 500));
        assert_eq!(s2.flows[0].class, Class::Internal);
        assert_eq!(
            s2.flows[0].packets, 5,
            "the series starts again under its new class"
        );
        assert_eq!(s2.flows_other[Class::Outgoing.index()].packets, 10);
        assert_eq!(host(&s2, "198.51.100.9").rx.packets, 5, "newly monitored");
        assert_eq!(host(&s2, "10.0.0.1").tx.packets, 15);
        assert_sums(&s2);
        let all: u64 = s2.traffic.iter().flatten().map(|c| c.packets).sum();
        assert_eq!(all, 15);
    }

    #[test]
    fn batch_row_buckets() {
        let mut h = new_batch_histogram();
        h.record(500).unwrap(); // 0.5 us
        h.record(30_000).unwrap(); // 30 us
        h.record(2_000_000).unwrap(); // 2 ms
        h.record(3_000_000_000).unwrap(); // 3 s
        let r = batch_row(0, &h, 3_002_030_500);
        assert_eq!(r.count, 4);
        let at = |le: f64| r.buckets.iter().find(|b| b.0 == le).unwrap().1;
        assert_eq!(at(1e-6), 1);
        assert_eq!(at(2.5e-5), 0);
        assert_eq!(at(5e-5), 1);
        assert_eq!(at(2.5e-3), 1);
        assert_eq!(at(1.0), 0);
        assert_eq!(at(f64::INFINITY), 1);
        assert_eq!(r.buckets.iter().map(|b| b.1).sum::<u64>(), 4);
        assert!((r.sum_seconds - 3.0020305).abs() < 1e-9);
    }
}
