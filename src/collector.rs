//! The collector thread: every refresh it raises the epoch, merges the
//! shards the workers hand over, decides who opened each conversation, and
//! publishes an immutable [`Snapshot`] that scrapes read without touching a
//! worker.

use crate::flow::map::FlowMap;
use crate::flow::{FastState, FlowKey, FlowStats, to_ip};
use crate::parse::{self, ERROR_KINDS, ParseError, PortKind, icmp, tcp};
use crate::worker::{Handoff, Shard, Worker, new_batch_histogram};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sizes of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub workers: usize,
    /// Flows each worker table holds per refresh interval.
    pub table_capacity: usize,
    pub refresh: Duration,
    /// A conversation unseen for this long is forgotten: its next packet
    /// is treated as a new conversation (whose opener is decided again).
    pub conversation_idle: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 1,
            table_capacity: 200_000,
            refresh: Duration::from_secs(1),
            conversation_idle: Duration::from_secs(600),
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
    let idle_ticks = cfg
        .conversation_idle
        .as_nanos()
        .div_ceil(refresh.as_nanos()) as u64;
    // each worker has one shard in use and one spare
    let memory_bytes = workers.iter().map(Worker::memory_bytes).sum::<usize>() * 2;
    let collector = Collector {
        rx,
        returns,
        epoch,
        refresh,
        state: State::new(n, idle_ticks.max(1)),
        published: Arc::new(Published::new(Snapshot::empty(n))),
        memory_bytes,
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

/// Labels of one flow series, formatted once when the series is created.
#[derive(Debug, PartialEq, Eq)]
pub struct FlowLabels {
    pub src: String,
    pub dst: String,
    pub proto: String,
    pub port: String,
    pub direction: &'static str,
}

#[derive(Debug, Clone)]
pub struct FlowRow {
    pub labels: Arc<FlowLabels>,
    pub packets: u64,
    pub bytes: u64,
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
    /// Sorted by source, destination, protocol, port, direction.
    pub flows: Vec<FlowRow>,
    pub batches: Vec<BatchRow>,
    /// Conversations the collector remembers the opener of.
    pub conversations: usize,
    /// Memory the worker shards hold, in bytes.
    pub shard_memory_bytes: usize,
    /// True once every worker has stopped and the last shard is merged.
    pub complete: bool,
}

impl Snapshot {
    fn empty(workers: usize) -> Snapshot {
        Snapshot {
            packets: 0,
            bytes: 0,
            parse_errors: ERROR_KINDS.iter().map(|e| (*e, 0)).collect(),
            non_ip: Vec::new(),
            overflow_packets: 0,
            overflow_bytes: 0,
            flows: Vec::new(),
            batches: (0..workers)
                .map(|w| batch_row(w, &new_batch_histogram(), 0))
                .collect(),
            conversations: 0,
            shard_memory_bytes: 0,
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

/// Key of one exported flow series. The derived order is the exposition
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct SeriesKey {
    version: u8,
    src: [u8; 16],
    dst: [u8; 16],
    proto: u8,
    port: Option<u16>,
    reply: bool,
}

struct SeriesValue {
    key: SeriesKey,
    labels: Arc<FlowLabels>,
    packets: u64,
    bytes: u64,
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

/// The collector's state: the totals and what it knows of every
/// conversation and series. Public for benchmarks; the collector thread
/// owns one.
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
    /// The series, in order of creation; `series_index` finds them by key.
    series: Vec<SeriesValue>,
    series_index: HashMap<SeriesKey, u32, FastState>,
    /// Indices of `series` in exposition order; rebuilt when a series is added.
    order: Vec<u32>,
    order_stale: bool,
    batches: Vec<(Histogram<u64>, u64)>,
    tick: u64,
    idle_ticks: u64,
    dirty: bool,
    /// Flows of new conversations, waiting for their opener to be decided.
    pending: Vec<(FlowKey, FlowStats)>,
    /// A drained shard's flows.
    scratch: Vec<(FlowKey, FlowStats)>,
    openers: HashMap<FlowKey, Opener, FastState>,
}

impl State {
    pub fn new(workers: usize, idle_ticks: u64) -> State {
        State {
            packets: 0,
            bytes: 0,
            parse_errors: [0; ParseError::INDEX_COUNT],
            non_ip: BTreeMap::new(),
            non_ip_other: 0,
            overflow_packets: 0,
            overflow_bytes: 0,
            conversations: FlowMap::default(),
            series: Vec::new(),
            series_index: HashMap::default(),
            order: Vec::new(),
            order_stale: false,
            batches: (0..workers).map(|_| (new_batch_histogram(), 0)).collect(),
            tick: 0,
            idle_ticks,
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
        // up, touch their series, then add, so the cache misses overlap.
        let tick = self.tick;
        let mut flows = std::mem::take(&mut self.scratch);
        flows.clear();
        let (op, ob) = shard.table.drain(|k, s| flows.push((*k, *s)));
        self.overflow_packets += op;
        self.overflow_bytes += ob;
        shard.clear();

        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        const STAGE: usize = 16;
        for stage in flows.chunks(STAGE) {
            let mut keys = [(FlowKey::default(), 0u64); STAGE];
            for ((k, _), slot) in stage.iter().zip(keys.iter_mut()) {
                let ck = k.conversation();
                let h = self.conversations.hash(&ck);
                self.conversations.touch(h);
                *slot = (ck, h);
            }
            let mut idxs = [NO_SERIES; STAGE];
            for (((k, s), (ck, h)), idx) in stage.iter().zip(keys).zip(idxs.iter_mut()) {
                match self.conversations.get_mut(&ck, h) {
                    Some(c) => {
                        c.last_tick = tick;
                        *idx = series_of(
                            &mut self.series,
                            &mut self.series_index,
                            &mut self.order_stale,
                            c,
                            k,
                        );
                        if let Some(v) = self.series.get(*idx as usize) {
                            crate::capture::sys::prefetch(v);
                        }
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
            for ((_, s), idx) in stage.iter().zip(idxs) {
                if idx != NO_SERIES {
                    let v = &mut self.series[idx as usize];
                    v.packets += s.packets;
                    v.bytes += s.bytes;
                }
            }
        }
        self.scratch = flows;

        for (ck, o) in self.openers.drain() {
            let h = self.conversations.hash(&ck);
            self.conversations
                .insert(ck, h, Conversation::decide(&o.key, o.flags, tick));
        }
        for (k, s) in &pending {
            let ck = k.conversation();
            let h = self.conversations.hash(&ck);
            let Some(c) = self.conversations.get_mut(&ck, h) else {
                continue; // decided just above; cannot be missing
            };
            let idx = series_of(
                &mut self.series,
                &mut self.series_index,
                &mut self.order_stale,
                c,
                k,
            );
            let v = &mut self.series[idx as usize];
            v.packets += s.packets;
            v.bytes += s.bytes;
        }
        self.pending = pending;
    }

    /// Forgets conversations idle for longer than the idle limit.
    pub fn expire(&mut self) {
        let (tick, idle) = (self.tick, self.idle_ticks);
        self.conversations
            .retain(|_, c| tick.saturating_sub(c.last_tick) <= idle);
    }

    pub fn snapshot(&mut self, shard_memory_bytes: usize, complete: bool) -> Snapshot {
        if self.order_stale {
            let series = &self.series;
            self.order = (0..series.len() as u32).collect();
            self.order.sort_unstable_by_key(|&i| series[i as usize].key);
            self.order_stale = false;
        }
        let mut non_ip: Vec<(String, u64)> = self
            .non_ip
            .iter()
            .map(|(et, n)| (ethertype_label(Some(*et)), *n))
            .collect();
        if self.non_ip_other > 0 {
            non_ip.push((ethertype_label(None), self.non_ip_other));
        }
        Snapshot {
            packets: self.packets,
            bytes: self.bytes,
            parse_errors: ERROR_KINDS
                .iter()
                .map(|e| (*e, self.parse_errors[e.index()]))
                .collect(),
            non_ip,
            overflow_packets: self.overflow_packets,
            overflow_bytes: self.overflow_bytes,
            flows: self
                .order
                .iter()
                .map(|&i| {
                    let v = &self.series[i as usize];
                    FlowRow {
                        labels: v.labels.clone(),
                        packets: v.packets,
                        bytes: v.bytes,
                    }
                })
                .collect(),
            batches: self
                .batches
                .iter()
                .enumerate()
                .map(|(w, (h, sum))| batch_row(w, h, *sum))
                .collect(),
            conversations: self.conversations.len(),
            shard_memory_bytes,
            complete,
        }
    }
}

/// The series flow `k` of conversation `c` counts into, created on first
/// use; the index is cached on the conversation.
fn series_of(
    series: &mut Vec<SeriesValue>,
    index: &mut HashMap<SeriesKey, u32, FastState>,
    order_stale: &mut bool,
    c: &mut Conversation,
    k: &FlowKey,
) -> u32 {
    let reply = !c.is_request(k);
    let cached = c.series[usize::from(reply)];
    if cached != NO_SERIES {
        return cached;
    }
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
    let idx = *index.entry(key).or_insert_with(|| {
        *order_stale = true;
        series.push(SeriesValue {
            key,
            labels: Arc::new(FlowLabels {
                src: to_ip(key.version, key.src).to_string(),
                dst: to_ip(key.version, key.dst).to_string(),
                proto: proto_label(key.proto),
                port: key.port.map(|p| p.to_string()).unwrap_or_default(),
                direction: if reply { "reply" } else { "request" },
            }),
            packets: 0,
            bytes: 0,
        });
        (series.len() - 1) as u32
    });
    c.series[usize::from(reply)] = idx;
    idx
}

pub struct Collector {
    rx: Receiver<Handoff>,
    returns: Vec<Sender<Box<Shard>>>,
    epoch: Arc<AtomicU64>,
    refresh: Duration,
    state: State,
    published: Arc<Published>,
    memory_bytes: usize,
}

impl Collector {
    /// Where the latest snapshot is published.
    pub fn published(&self) -> Arc<Published> {
        self.published.clone()
    }

    /// Memory all worker shards (two per worker) hold, in bytes.
    pub fn shard_memory_bytes(&self) -> usize {
        self.memory_bytes
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
                    self.state.tick += 1;
                    self.state.expire();
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
    use crate::flow::v4_addr;

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
