//! Flow export's meter: the records of every flow in the workers' tables,
//! cut as routers cut them (an idle timeout, an active timeout, the flow
//! leaving its table, shutdown), for the IPFIX exporter
//! ([`crate::export::ipfix`]).
//!
//! It runs inside the merge, on the slots the merge reads anyway: per
//! slot it keeps what the flow counted since its last record (48 bytes,
//! beside the collector's handle), so the records of a flow add up to
//! exactly what its worker counted. Nothing is added per packet beyond
//! what the table keeps for it (the time of the latest packet, the TCP
//! flags, the bytes outside the IP datagram).

use crate::flow::table::unwrap_ms24;
use crate::flow::{FlowKey, TablesView, V4, V6};
use crate::sys::HugeBuf;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// What became of the records, per collector: written by the exporter,
/// read when a snapshot is rendered.
#[derive(Debug, Default)]
pub struct ExportCounts {
    /// Records the exporter's queue had no room for (none of the
    /// collectors got them).
    pub queue_unsent: AtomicU64,
    pub collectors: Vec<CollectorCounts>,
}

/// One collector's counts.
#[derive(Debug, Default)]
pub struct CollectorCounts {
    /// How the collector is named (`udp://host:port`).
    pub label: String,
    /// Records handed to the socket.
    pub sent: AtomicU64,
    /// Records dropped because the socket's buffer was full.
    pub dropped: AtomicU64,
    /// Records not exported to it: it could not be resolved or reached,
    /// or its connection broke with them unsent.
    pub unreachable: AtomicU64,
    /// IPFIX messages sent.
    pub messages: AtomicU64,
    /// Resolved and (TCP) connected.
    pub up: AtomicBool,
}

impl ExportCounts {
    pub fn new(labels: &[String]) -> ExportCounts {
        ExportCounts {
            queue_unsent: AtomicU64::new(0),
            collectors: labels
                .iter()
                .map(|l| CollectorCounts {
                    label: l.clone(),
                    ..CollectorCounts::default()
                })
                .collect(),
        }
    }

    /// Per collector: its label, records sent, dropped (socket buffer
    /// full), not exported (unreachable, or the exporter's queue full),
    /// messages, and whether it is up.
    pub fn rows(&self) -> Vec<(&str, u64, u64, u64, u64, bool)> {
        let queue = self.queue_unsent.load(Relaxed);
        self.collectors
            .iter()
            .map(|c| {
                (
                    c.label.as_str(),
                    c.sent.load(Relaxed),
                    c.dropped.load(Relaxed),
                    c.unreachable.load(Relaxed) + queue,
                    c.messages.load(Relaxed),
                    c.up.load(Relaxed),
                )
            })
            .collect()
    }
}

/// Why a record was cut (IPFIX `flowEndReason`, RFC 5102).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EndReason {
    /// No packet for the idle timeout.
    Idle = 1,
    /// The flow lasted the active timeout since its last record.
    Active = 2,
    /// ringflow stopped, or the capture file ended.
    Forced = 4,
    /// Its worker's table needed the slot for new flows.
    LackOfResources = 5,
}

/// One flow record: a flow (one direction) over a stretch of time.
#[derive(Clone, Copy, Debug)]
pub struct FlowRecord {
    pub key: FlowKey,
    pub packets: u64,
    /// IP-layer bytes, headers included (RFC 7012 `octetDeltaCount`).
    pub ip_bytes: u64,
    /// Frame bytes, ringflow's own measure (`layer2OctetDeltaCount`).
    pub frame_bytes: u64,
    /// First and last packet, ms since the Unix epoch.
    pub start_ms: u64,
    pub end_ms: u64,
    /// Every TCP flag the flow has shown since its first packet.
    pub tcp_flags: u8,
    pub reason: EndReason,
    pub observation: Observation,
    /// Source and destination MAC of the flow's first packet (zero
    /// without an Ethernet header).
    pub macs: [u8; 12],
}

/// The index of each capture interface by its number, shared by the
/// capture loops (which write a new one when an interface comes back)
/// and the meter (which names it in records).
pub type IfaceIndexes = std::sync::Arc<Vec<std::sync::atomic::AtomicU32>>;

/// Where a worker's flows were observed: the IPFIX observation domain
/// and the interface index its records carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Observation {
    pub domain: u32,
    pub ifindex: u32,
}

/// The timeouts that cut records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub active: Duration,
    pub idle: Duration,
}

/// A slot's record: what its flow counted since the record opened.
#[derive(Clone, Copy, Default)]
struct Open {
    packets: u64,
    frame_bytes: u64,
    /// bytes outside the IP datagram; may run ahead of `frame_bytes` by
    /// a packet read half-way (see [`Meter::read`])
    outside: u64,
    start_ms: u64,
    end_ms: u64,
    /// the slot's cumulative `outside` as last read
    outside_raw: u32,
    flags: u8,
    state: u8,
}

/// `Open::state`: no flow in the slot.
const EMPTY: u8 = 0;
/// A record is open (it may hold nothing yet after a cut).
const OPEN: u8 = 1;
/// The idle timeout closed the record; the flow is still in its slot.
const CLOSED: u8 = 2;

/// One worker's records.
struct WorkerRecords {
    open: [HugeBuf<Open>; 2],
    /// A bit per slot, set while its record is open: the scans look at
    /// those alone, so they cost the open flows, not the table's size.
    live: [Vec<u64>; 2],
    /// When the timeouts were last checked (ms).
    scanned_ms: u64,
    /// The key and MACs of slots asked to be freed: by the time the
    /// collector learns one was freed, the worker may have reused it.
    leaving: HashMap<u32, (FlowKey, [u8; 12])>,
}

/// The meter: a record per flow in the workers' tables, and the records
/// cut and not yet taken.
pub struct Meter {
    timeouts: Timeouts,
    /// The capture interfaces' indexes, by interface number
    /// ([`FlowKey::iface`]): each is the observation domain and ingress
    /// interface of its flows (0: no domain in particular); a number
    /// missing here: domain 1, no interface (a replay). The capture loops
    /// update an index when an interface comes back with a new one.
    observed: IfaceIndexes,
    workers: Vec<Option<WorkerRecords>>,
    records: Vec<FlowRecord>,
    /// Packets and IP-layer bytes that found a table full (in no record;
    /// the exporter reports them in its options record as
    /// `ignoredPacketTotalCount` and `ignoredOctetTotalCount`). A table holds the
    /// flows of every capture interface, so this is the exporter's total.
    overflow: (u64, u64),
}

fn id(f: usize, s: u32) -> u32 {
    (f as u32) << 31 | s
}

/// The key and MACs of the flow whose record slot `s` of family `f`
/// holds. A slot asked to be freed may have been freed and taken by a new
/// flow before the collector hears of it: its flow is the one kept when
/// it was asked (in `leaving`), not what the slot holds now.
fn kept_flow(
    leaving: &HashMap<u32, (FlowKey, [u8; 12])>,
    view: &TablesView,
    f: usize,
    s: u32,
) -> (FlowKey, [u8; 12]) {
    match leaving.get(&id(f, s)) {
        Some(&flow) => flow,
        None => flow_of(view, f, s),
    }
}

impl Meter {
    pub fn new(timeouts: Timeouts, observed: IfaceIndexes) -> Meter {
        Meter {
            timeouts,
            observed,
            workers: Vec::new(),
            records: Vec::new(),
            overflow: (0, 0),
        }
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Keeps records for worker `worker`'s tables of `capacity` slots per
    /// family.
    pub fn attach(&mut self, worker: usize, capacity: [usize; 2]) {
        if self.workers.len() <= worker {
            self.workers.resize_with(worker + 1, || None);
        }
        self.workers[worker] = Some(WorkerRecords {
            open: capacity.map(|n| HugeBuf::new(n, Open::default())),
            live: capacity.map(|n| vec![0; n.div_ceil(64)]),
            scanned_ms: 0,
            leaving: HashMap::new(),
        });
    }

    /// Bytes the records take.
    pub fn memory_bytes(&self) -> usize {
        self.workers
            .iter()
            .flatten()
            .map(|w| (w.open[V4].len() + w.open[V6].len()) * std::mem::size_of::<Open>())
            .sum()
    }

    /// The merge read slot `s` of family `f` (key `key`): `dp` packets and
    /// `db` bytes more since its last read (`new`: the first read of the
    /// flow in it). `near_ms` is the latest packet time merged, which the
    /// slot's 24-bit time is taken to be near. A record that has lasted
    /// the active timeout is cut here.
    ///
    /// The slot's bytes outside the IP datagram are read after its
    /// counters, so they may include a packet the counters missed; the
    /// record carries that ahead to the next, and the records of a flow
    /// add up exactly.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn read(
        &mut self,
        worker: usize,
        view: &TablesView,
        f: usize,
        s: u32,
        key: &FlowKey,
        new: bool,
        (dp, db): (u64, u64),
        near_ms: u64,
    ) {
        let active_ms = self.timeouts.active.as_millis() as u64;
        let Some(Some(w)) = self.workers.get_mut(worker) else {
            return;
        };
        let Some(o) = w.open[f].get_mut(s as usize) else {
            return;
        };
        let (ms24, flags, outside_raw) = view.read_export(f, s);
        let end_ms = unwrap_ms24(ms24, near_ms);
        if o.state != OPEN {
            set_bit(&mut w.live[f], s, true);
        }
        if new || o.state == EMPTY {
            let (first_ns, ..) = view.first(f, s);
            *o = Open {
                start_ms: first_ns / 1_000_000,
                state: OPEN,
                ..Open::default()
            };
            o.outside = u64::from(outside_raw);
        } else {
            if o.state == CLOSED {
                // back after the idle timeout cut it: the new record starts
                // at the latest packet read (the first, when it is one)
                *o = Open {
                    start_ms: end_ms,
                    state: OPEN,
                    outside_raw: o.outside_raw,
                    outside: o.outside,
                    ..Open::default()
                };
            }
            o.outside += u64::from(outside_raw.wrapping_sub(o.outside_raw));
        }
        o.outside_raw = outside_raw;
        o.packets += dp;
        o.frame_bytes += db;
        o.end_ms = o.end_ms.max(end_ms).max(o.start_ms);
        o.flags |= flags;
        if o.end_ms - o.start_ms >= active_ms && o.packets > 0 {
            let macs = view.first(f, s).3;
            let r = cut(o, (*key, macs), EndReason::Active, &self.observed);
            self.records.push(r);
        }
    }

    /// Slot `s` of family `f` is asked to be freed: keeps its key and MACs
    /// for [`vacate`](Self::vacate).
    pub fn leaving(&mut self, worker: usize, view: &TablesView, f: usize, s: u32) {
        if let Some(Some(w)) = self.workers.get_mut(worker)
            && w.open[f].get(s as usize).is_some_and(|o| o.state != EMPTY)
        {
            w.leaving.insert(id(f, s), flow_of(view, f, s));
        }
    }

    /// Slot `s` counted again after it was asked to be freed: it stays.
    pub fn stays(&mut self, worker: usize, f: usize, s: u32) {
        if let Some(Some(w)) = self.workers.get_mut(worker) {
            w.leaving.remove(&id(f, s));
        }
    }

    /// The worker freed slot `s` of family `f` (the collector has read all
    /// it counted): its record is cut, for the idle timeout or, if
    /// `pressed`, because the table needed the room.
    pub fn vacate(&mut self, worker: usize, f: usize, s: u32, pressed: bool) {
        let Some(Some(w)) = self.workers.get_mut(worker) else {
            return;
        };
        let left = w.leaving.remove(&id(f, s));
        let Some(o) = w.open[f].get_mut(s as usize) else {
            return;
        };
        if o.state == OPEN
            && o.packets > 0
            && let Some(flow) = left
        {
            let why = if pressed {
                EndReason::LackOfResources
            } else {
                EndReason::Idle
            };
            self.records.push(cut(o, flow, why, &self.observed));
        }
        *o = Open::default();
        set_bit(&mut w.live[f], s, false);
    }

    /// Packets and IP-layer bytes that found a worker's table full.
    pub fn overflow(&mut self, packets: u64, bytes: u64) {
        self.overflow.0 += packets;
        self.overflow.1 += bytes;
    }

    /// Cuts the records of worker `worker`'s flows that at `now_ms` (the
    /// clock at a refresh live, a boundary of capture time in a replay,
    /// which comes every second of it) have been idle for the idle
    /// timeout, or open for the active timeout; at most every
    /// [`SCAN_EVERY_MS`], so a short `--refresh` does not scan more. (A
    /// read cuts a record that has lasted the active timeout too; this
    /// finds those that counted nothing since.) It looks at the open
    /// records alone.
    pub fn scan(&mut self, worker: usize, view: &TablesView, now_ms: u64) {
        let idle_ms = self.timeouts.idle.as_millis() as u64;
        let active_ms = self.timeouts.active.as_millis() as u64;
        let Some(Some(w)) = self.workers.get_mut(worker) else {
            return;
        };
        if now_ms < w.scanned_ms + SCAN_EVERY_MS {
            return;
        }
        w.scanned_ms = now_ms;
        for f in [V4, V6] {
            for s in live_slots(&w.live[f]) {
                let Some(o) = w.open[f].get_mut(s) else {
                    continue;
                };
                if o.state != OPEN {
                    continue;
                }
                let idle = now_ms.saturating_sub(o.end_ms) >= idle_ms;
                let active = now_ms.saturating_sub(o.start_ms) >= active_ms;
                if !idle && !active {
                    continue;
                }
                if o.packets > 0 {
                    let why = if idle {
                        EndReason::Idle
                    } else {
                        EndReason::Active
                    };
                    let flow = kept_flow(&w.leaving, view, f, s as u32);
                    self.records.push(cut(o, flow, why, &self.observed));
                }
                if idle {
                    o.state = CLOSED;
                    set_bit(&mut w.live[f], s as u32, false);
                }
            }
        }
    }

    /// Cuts every open record of worker `worker` (its worker has stopped:
    /// the slots hold their flows still).
    pub fn flush(&mut self, worker: usize, view: &TablesView) {
        let Some(Some(w)) = self.workers.get_mut(worker) else {
            return;
        };
        for f in [V4, V6] {
            for s in live_slots(&w.live[f]) {
                let Some(o) = w.open[f].get_mut(s) else {
                    continue;
                };
                if o.state == OPEN && o.packets > 0 {
                    let flow = kept_flow(&w.leaving, view, f, s as u32);
                    self.records
                        .push(cut(o, flow, EndReason::Forced, &self.observed));
                }
                *o = Open::default();
            }
            w.live[f].fill(0);
        }
    }

    /// Records waiting for [`batch`](Self::batch).
    pub fn waiting(&self) -> usize {
        self.records.len()
    }

    /// The records cut since the last batch, with the packets and IP
    /// bytes that found a table full since the start.
    pub fn batch(&mut self) -> RecordBatch {
        RecordBatch {
            records: std::mem::take(&mut self.records),
            overflow: self.overflow,
        }
    }
}

/// What the collector hands the exporter: flow records cut since the last
/// batch, with the packets and IP bytes that found a table full since the
/// start.
pub struct RecordBatch {
    pub records: Vec<FlowRecord>,
    pub overflow: (u64, u64),
}

/// The timeouts are checked at most this often. Half a second, so that
/// refreshes of a second (whose ticks come a little early or late) and a
/// replay's boundaries a second of capture time apart each scan.
const SCAN_EVERY_MS: u64 = 500;

fn set_bit(bits: &mut [u64], s: u32, on: bool) {
    if let Some(w) = bits.get_mut(s as usize / 64) {
        let b = 1u64 << (s % 64);
        if on { *w |= b } else { *w &= !b }
    }
}

/// The slots whose bit is set in `bits`, in order (collected, so the
/// caller may clear bits as it goes).
fn live_slots(bits: &[u64]) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, &word) in bits.iter().enumerate() {
        let mut w = word;
        while w != 0 {
            out.push(i * 64 + w.trailing_zeros() as usize);
            w &= w - 1;
        }
    }
    out
}

/// Where the flow of `key` was observed.
fn observation_of(table: &IfaceIndexes, key: &FlowKey) -> Observation {
    match table.get(usize::from(key.iface())) {
        Some(i) => {
            let i = i.load(Relaxed);
            Observation {
                domain: i,
                ifindex: i,
            }
        }
        None => Observation {
            domain: 1,
            ifindex: 0,
        },
    }
}

/// The key and first-packet MACs of the flow in slot `s` of family `f`.
fn flow_of(view: &TablesView, f: usize, s: u32) -> (FlowKey, [u8; 12]) {
    (view.read(f, s).0, view.first(f, s).3)
}

/// Makes the record of `o`, the flow `key` seen on the interface
/// `observed` says, and opens the next where it ended.
fn cut(
    o: &mut Open,
    (key, macs): (FlowKey, [u8; 12]),
    why: EndReason,
    observed: &IfaceIndexes,
) -> FlowRecord {
    let at = observation_of(observed, &key);
    let r = FlowRecord {
        key,
        packets: o.packets,
        ip_bytes: o.frame_bytes.saturating_sub(o.outside),
        frame_bytes: o.frame_bytes,
        start_ms: o.start_ms,
        end_ms: o.end_ms,
        tcp_flags: o.flags,
        reason: why,
        observation: at,
        macs,
    };
    // what was read ahead of the counters goes into the next record
    o.outside = o.outside.saturating_sub(o.frame_bytes);
    o.packets = 0;
    o.frame_bytes = 0;
    o.start_ms = o.end_ms;
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::numbered as key;
    use crate::flow::table::{Changes, FlowTables};

    const T0: u64 = 1_700_000_000_000_000_000;

    fn meter() -> Meter {
        let t = Timeouts {
            active: Duration::from_secs(60),
            idle: Duration::from_secs(15),
        };
        let mut m = Meter::new(t, Default::default());
        m.attach(0, [64, 1024]);
        m
    }

    /// Flow 1 counts `packets` packets of 100 bytes in a slot and the
    /// meter reads them; the collector asks for the slot, and the worker
    /// frees it and flow 2 takes it before the collector hears of the
    /// freeing. Returns the tables, the meter and the slot.
    fn slot_taken_again(packets: u64) -> (FlowTables, Meter, u32) {
        let (mut t, mut c, mut m) = (FlowTables::new(64), Changes::default(), meter());
        for _ in 0..packets {
            t.account(&key(1), 100, T0, 0, 0);
        }
        t.seal(&mut c);
        let s = c.touched[V4][0];
        let view = t.view();
        let read = (packets, 100 * packets);
        m.read(0, &view, V4, s, &key(1), true, read, T0 / 1_000_000);
        m.leaving(0, &view, V4, s);
        c.expire[V4].push(s);
        c.epoch = 1;
        t.take_back(&mut c);
        t.account(&key(2), 50, T0 + 1_000_000, 0, 0);
        (t, m, s)
    }

    #[test]
    fn a_record_cut_after_its_slot_was_taken_again_names_its_own_flow() {
        let (mut t, mut m, s) = slot_taken_again(3);
        let mut c = Changes::default();
        t.seal(&mut c);
        assert_eq!((&c.freed[V4][..], &c.touched[V4][..]), (&[s][..], &[s][..]));
        // the idle timeout cuts the record meanwhile: it is key(1)'s
        m.scan(0, &t.view(), T0 / 1_000_000 + 20_000);
        let b = m.batch();
        assert_eq!(b.records.len(), 1);
        let r = b.records[0];
        assert_eq!((r.key, r.packets, r.frame_bytes), (key(1), 3, 300));
        assert_eq!(r.reason, EndReason::Idle);
        // then the freeing arrives: nothing more to cut
        m.vacate(0, V4, s, false);
        assert!(m.batch().records.is_empty());
    }

    #[test]
    fn the_last_record_at_shutdown_names_a_flow_asked_to_leave() {
        let (t, mut m, _) = slot_taken_again(1);
        m.flush(0, &t.view());
        let r = m.batch().records;
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].key, r[0].packets), (key(1), 1));
        assert_eq!(r[0].reason, EndReason::Forced);
    }
}
