//! Everything counted so far, and the merge that adds a worker's shard to
//! it: totals, the conversations, and the ledger of entries and hosts.

use super::conversations::{Conversation, NO_SERIES, Opener, series_key};
use super::export::{IfaceIndexes, Meter, Timeouts};
use super::ledger::{Ledger, Untracked};
use super::snapshot::{Count, SeriesKey, Snapshot, batch_row};
use crate::config::Accounting;
use crate::detect::{AlertEvent, Detector};
use crate::flow::map::FlowMap;
use crate::flow::{Changes, FastState, FlowKey, FlowStats, TablesView, V4, V6};
use crate::parse::{ERROR_KINDS, Encap, ParseError};
use crate::sys::HugeBuf;
use crate::worker::{Shard, new_batch_histogram};
use hdrhistogram::Histogram;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A flow of a merge stage, ready to count: its series key, the entry
/// index cached for it, and where its conversation is (key, hash, and
/// whether the flow is the reply direction); `None` if it waits for its
/// conversation to be decided.
type Staged = (SeriesKey, u32, Option<(FlowKey, u64, bool)>);

/// Flows a merge looks up together, so that their cache misses overlap.
const STAGE: usize = 16;

/// Touched slots a merge reads before it counts the new flows among them:
/// what bounds its scratch (the flows read, and the conversations decided
/// that the collector has no room to remember), a few MiB at this size.
const MERGE_CHUNK: usize = 4_096;

/// The seed of the hash that marks flows freed for room.
const FREED_SEED: u64 = 0x2545_f491_4f6c_dd1d;

/// A flow to count the long way: its key, what to count, and its handle
/// ([`handle_id`]).
type Flow = (FlowKey, FlowStats, u32);

/// How many refresh intervals a flow stays in its worker's table once
/// idle: `--flow-table-idle`, or `--flow-idle` if shorter (the collector
/// would forget its entry first).
fn worker_idle_ticks(acc: &Accounting, refresh: Duration) -> u64 {
    let idle = acc.flow_table_idle.min(acc.flow_idle);
    (idle.as_nanos().div_ceil(refresh.as_nanos().max(1)) as u64).max(1)
}

/// A handle's family and slot in one word.
fn handle_id(f: usize, s: u32) -> u32 {
    (f as u32) << 31 | s
}

/// A handle's state: not in use.
const VACANT: u8 = 0;
/// In use.
const LIVE: u8 = 1;
/// Asked to be freed for being idle, until the worker frees the slot or
/// counts in it again.
const EXPIRING: u8 = 2;
/// Asked to be freed because its table needed room (see [`EXPIRING`]).
const PRESSED: u8 = 3;

/// What the collector knows of a flow in a worker's table: its counters
/// as last read, the entry it counts into (with that entry's generation)
/// or, with no entry (the collector was full), what counting it needs
/// ([`Untracked`]), and when it last changed. 32 bytes: the entry and the
/// untracked flow's hosts share `link`.
#[derive(Clone, Copy)]
struct Handle {
    bytes: u64,
    packets: u32,
    last_tick: u32,
    last_epoch: u32,
    /// [entry, its generation] when `class` is [`LINKED`], else the
    /// untracked flow's hosts.
    link: [u32; 2],
    /// [`LINKED`], or the untracked flow's class.
    class: u8,
    v6: bool,
    state: u8,
    /// It counts in its conversation's `live`.
    conv: bool,
}

/// `Handle::class` of a flow with an entry.
const LINKED: u8 = 0xfe;

impl Handle {
    /// Its entry and that entry's generation ([`NO_SERIES`] if none).
    #[inline]
    fn entry(&self) -> (u32, u32) {
        if self.class == LINKED {
            (self.link[0], self.link[1])
        } else {
            (NO_SERIES, 0)
        }
    }

    /// What counting it without an entry needs (unknown if it has one).
    #[inline]
    fn untracked(&self) -> Untracked {
        if self.class == LINKED {
            Untracked::NEW
        } else {
            Untracked::from_parts(self.class, self.v6, self.link)
        }
    }

    fn set_entry(&mut self, entry: u32, generation: u32) {
        if entry != NO_SERIES {
            (self.class, self.link) = (LINKED, [entry, generation]);
        } else if self.class == LINKED {
            self.set_untracked(Untracked::NEW);
        }
    }

    fn set_untracked(&mut self, u: Untracked) {
        (self.class, self.v6, self.link) = u.parts();
    }
}

const VACANT_HANDLE: Handle = Handle {
    bytes: 0,
    packets: 0,
    last_tick: 0,
    last_epoch: 0,
    link: Untracked::NEW.parts().2,
    class: Untracked::NEW.parts().0,
    v6: false,
    state: VACANT,
    conv: false,
};

/// A worker's tables as the collector reads them, and a handle per slot.
/// Expiry sweeps the handles in slot order, a part at each hand-over (a
/// clock hand), so reading a flow costs no bookkeeping of its age.
struct WorkerFlows {
    view: TablesView,
    /// Flows in its tables at its last hand-over.
    flows: [usize; 2],
    /// Per family: flows asked to be freed, not yet freed or seen again.
    expiring: [usize; 2],
    /// Per family: new flows in the hand-over being merged, but those
    /// that come back after being freed for room (see `freed_for_room`).
    new_flows: [usize; 2],
    /// Per family: the flows freed for room lately, by a bit per hash
    /// of their keys, and how many bits are set. A flow freed for room
    /// that is seen again is not a new flow to make room for: counting it
    /// as one made a set of flows that cycles through a table it nearly
    /// fills (a million every few seconds in 1.1 million slots) free a
    /// few hundred thousand of them at every hand-over, each back as a new
    /// flow at the next, so every packet was a new flow to the collector.
    /// Empty where they are not remembered (a replay, see
    /// [`Accounts::returns_are_not_new`]).
    freed_for_room: [Vec<u64>; 2],
    freed_bits: [usize; 2],
    /// In huge pages: read at random, a slot's at a time.
    handles: [HugeBuf<Handle>; 2],
    /// Per family: the next handle the sweep looks at.
    hand: [usize; 2],
}

impl WorkerFlows {
    fn new(view: TablesView, discount_returns: bool) -> WorkerFlows {
        let cap = view.capacity();
        let bits = |n: usize| {
            if discount_returns {
                (4 * n).next_power_of_two().div_ceil(64)
            } else {
                0
            }
        };
        WorkerFlows {
            view,
            flows: [0; 2],
            expiring: [0; 2],
            new_flows: [0; 2],
            // four bits a slot: a wave of frees as large as the table fits
            freed_for_room: cap.map(|n| vec![0; bits(n)]),
            freed_bits: [0; 2],
            handles: cap.map(|n| HugeBuf::new(n, VACANT_HANDLE)),
            hand: [0; 2],
        }
    }

    fn get_mut(&mut self, id: u32) -> Option<&mut Handle> {
        let (f, s) = ((id >> 31) as usize, id & 0x7fff_ffff);
        self.handles[f].get_mut(s as usize)
    }

    /// Slot `s`, of flow `key`, was just read: its handle is live.
    #[inline]
    fn seen(&mut self, f: usize, s: u32, key: &FlowKey) {
        match self.handles[f][s as usize].state {
            EXPIRING | PRESSED => self.expiring[f] -= 1,
            VACANT if !self.was_freed_for_room(f, key) => self.new_flows[f] += 1,
            _ => {}
        }
        self.handles[f][s as usize].state = LIVE;
    }

    /// The bit of `key` in `freed_for_room[f]`: its word and mask.
    fn freed_bit(&self, f: usize, key: &FlowKey) -> (usize, u64) {
        let bits = self.freed_for_room[f].len() * 64;
        let b = key.hash(FREED_SEED) as usize & (bits - 1);
        (b / 64, 1 << (b % 64))
    }

    /// Whether flows freed for room are remembered (see
    /// [`Accounts::returns_are_not_new`]): their bits are kept.
    fn discounts_returns(&self) -> bool {
        !self.freed_for_room[V4].is_empty()
    }

    fn was_freed_for_room(&self, f: usize, key: &FlowKey) -> bool {
        if !self.discounts_returns() {
            return false;
        }
        let (w, m) = self.freed_bit(f, key);
        self.freed_for_room[f][w] & m != 0
    }

    /// Flow `key` is asked to be freed for room. The bits are cleared
    /// when an eighth of them is set, so at most one flow in eight is
    /// taken for one that came back.
    fn freeing_for_room(&mut self, f: usize, key: &FlowKey) {
        let (w, m) = self.freed_bit(f, key);
        let bits = &mut self.freed_for_room[f];
        if bits[w] & m == 0 {
            bits[w] |= m;
            self.freed_bits[f] += 1;
            if self.freed_bits[f] * 8 >= bits.len() * 64 {
                bits.fill(0);
                self.freed_bits[f] = 0;
            }
        }
    }

    /// The worker freed slot `s`; returns whether it was asked to because
    /// its table needed room.
    fn vacate(&mut self, f: usize, s: u32) -> bool {
        let Some(h) = self.handles[f].get(s as usize) else {
            return false;
        };
        let pressed = h.state == PRESSED;
        if h.state == EXPIRING || pressed {
            self.expiring[f] -= 1;
        }
        self.handles[f][s as usize] = VACANT_HANDLE;
        pressed
    }

    fn memory_bytes(&self) -> usize {
        self.handles
            .iter()
            .map(|h| h.len() * std::mem::size_of::<Handle>())
            .sum::<usize>()
            + self
                .freed_for_room
                .iter()
                .map(|b| b.len() * 8)
                .sum::<usize>()
    }
}

/// The collector's accounts: the totals, what it knows of every
/// conversation, and the ledger of entries and hosts. Public for
/// benchmarks; the collector thread owns one.
#[doc(hidden)]
pub struct Accounts {
    packets: u64,
    bytes: u64,
    parse_errors: [u64; ParseError::INDEX_COUNT],
    non_ip: BTreeMap<u16, u64>,
    non_ip_other: u64,
    decap_packets: [u64; Encap::COUNT],
    decap_bytes: [u64; Encap::COUNT],
    dedup_dropped: u64,
    overflow_packets: u64,
    overflow_bytes: u64,
    conversations: FlowMap<Conversation>,
    ledger: Ledger,
    refresh: Duration,
    batches: Vec<(Histogram<u64>, u64)>,
    tick: u64,
    pub(super) dirty: bool,
    /// Flows of new conversations, waiting for their opener to be decided.
    pending: Vec<Flow>,
    /// A shard's flows that need a lookup.
    scratch: Vec<Flow>,
    /// Per worker, its tables and the handles of the flows in them.
    workers: Vec<Option<WorkerFlows>>,
    /// `--flow-table-idle` in refresh intervals.
    worker_idle_ticks: u64,
    /// Flows the workers' tables let go.
    table_expired: u64,
    /// Scratch of [`Accounts::request_expiry`]: slots asked for whose
    /// conversation counts them, with when they were last counted.
    leaving: Vec<(u32, u32)>,
    openers: HashMap<FlowKey, Opener, FastState>,
    detector: Detector,
    /// Capture time of the first packet merged (ns), which places the
    /// first alert interval.
    first_ns: u64,
    /// Capture time of the latest packet merged (ns), 0 before any.
    last_ns: u64,
    /// Alert events not yet handed to the log.
    events: Vec<AlertEvent>,
    /// Alert events the outputs' queue had no room for.
    pub(super) events_dropped: u64,
    /// Flow export's records, when flows are exported.
    meter: Option<Meter>,
    /// Whether a flow freed for room that comes back is not counted as a
    /// new flow (see `WorkerFlows::freed_for_room`).
    discount_returns: bool,
}

impl Accounts {
    pub fn new(workers: usize, refresh: Duration, acc: Accounting) -> Accounts {
        let acc_detection = acc.detection.clone();
        let worker_idle = worker_idle_ticks(&acc, refresh);
        Accounts {
            packets: 0,
            bytes: 0,
            parse_errors: [0; ParseError::INDEX_COUNT],
            non_ip: BTreeMap::new(),
            non_ip_other: 0,
            decap_packets: [0; Encap::COUNT],
            decap_bytes: [0; Encap::COUNT],
            dedup_dropped: 0,
            overflow_packets: 0,
            overflow_bytes: 0,
            conversations: FlowMap::with_capacity(acc.max_entries),
            ledger: Ledger::new(refresh, acc),
            refresh,
            batches: (0..workers).map(|_| (new_batch_histogram(), 0)).collect(),
            tick: 0,
            dirty: true,
            pending: Vec::new(),
            scratch: Vec::new(),
            workers: Vec::new(),
            worker_idle_ticks: worker_idle,
            table_expired: 0,
            leaving: Vec::new(),
            openers: HashMap::default(),
            detector: Detector::new(acc_detection),
            first_ns: u64::MAX,
            last_ns: 0,
            events: Vec::new(),
            events_dropped: 0,
            meter: None,
            discount_returns: true,
        }
    }

    /// Whether a flow freed for room that comes back counts as a new flow
    /// to make room for (before any [`attach`](Self::attach)): not live
    /// (the default), where counting it so kept a set of flows that
    /// nearly fills a table cycling through it; a replay, which hands
    /// over and waits whenever a table fills, counts every flow it finds
    /// a free slot for, as it always did.
    pub fn returns_are_not_new(&mut self, on: bool) {
        self.discount_returns = on;
    }

    /// Keeps flow records for export from now on (before any
    /// [`attach`](Self::attach)), cut by `timeouts`, with where flows were
    /// observed by capture interface number: a flow leaves its
    /// worker's table once idle for the idle timeout, if that is sooner
    /// than `--flow-table-idle`.
    pub fn export_flows(&mut self, timeouts: Timeouts, observed: IfaceIndexes) {
        self.meter = Some(Meter::new(timeouts, observed));
        self.worker_idle_ticks = self.idle_ticks(&self.ledger.acc);
    }

    /// How many refreshes an idle flow stays in its worker's table under
    /// `acc`: [`worker_idle_ticks`], or flow export's idle timeout if that
    /// is sooner.
    fn idle_ticks(&self, acc: &Accounting) -> u64 {
        let table = worker_idle_ticks(acc, self.refresh);
        match &self.meter {
            Some(m) => {
                let idle = m.timeouts().idle.as_nanos();
                table.min((idle.div_ceil(self.refresh.as_nanos().max(1)) as u64).max(1))
            }
            None => table,
        }
    }

    /// Cuts the flow records idle, or open for the active timeout, at
    /// `now_ns` (the clock live, capture time in a replay).
    pub fn scan_export(&mut self, now_ns: u64) {
        let Some(m) = self.meter.as_mut() else {
            return;
        };
        for (w, wf) in self.workers.iter().enumerate() {
            if let Some(wf) = wf {
                m.scan(w, &wf.view, now_ns / 1_000_000);
            }
        }
    }

    /// Cuts every open flow record: the workers have stopped.
    pub fn flush_export(&mut self) {
        let Some(m) = self.meter.as_mut() else {
            return;
        };
        for (w, wf) in self.workers.iter().enumerate() {
            if let Some(wf) = wf {
                m.flush(w, &wf.view);
            }
        }
    }

    /// The flow export's meter, if flows are exported.
    pub fn meter(&mut self) -> Option<&mut Meter> {
        self.meter.as_mut()
    }

    /// Reads worker `worker`'s flow tables through `view` from now on.
    pub fn attach(&mut self, worker: usize, view: TablesView) {
        if self.workers.len() <= worker {
            self.workers.resize_with(worker + 1, || None);
        }
        if let Some(m) = self.meter.as_mut() {
            m.attach(worker, view.capacity());
        }
        self.workers[worker] = Some(WorkerFlows::new(view, self.discount_returns));
    }

    /// Adds one shard to the totals: its counters (which it clears), and
    /// what changed in its worker's tables, read from them. Leaves in the
    /// shard the slots the worker may free (see
    /// [`FlowTables::take_back`](crate::flow::FlowTables::take_back)).
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
        for k in 0..Encap::COUNT {
            self.decap_packets[k] += shard.decap_packets[k];
            self.decap_bytes[k] += shard.decap_bytes[k];
        }
        self.dedup_dropped += shard.dedup_dropped;
        if let Some((h, sum)) = self.batches.get_mut(worker) {
            // Same bounds on both sides, so adding cannot fail.
            let _ = h.add(&shard.batch_ns);
            *sum += shard.batch_ns_sum;
        }
        self.last_ns = self.last_ns.max(shard.last_ns);
        shard.clear();
        let ch = &mut shard.changes;
        self.overflow_packets += ch.overflow_packets;
        self.overflow_bytes += ch.overflow_bytes;

        // Known flows count at once, into the entry their handle names;
        // new flows, and flows whose entry is gone, go the long way, a
        // chunk of touched slots at a time, so the scratch of the long way
        // stays that size however many flows are new. A slot is listed
        // the first time it is touched in the epoch, so the first flow of
        // a conversation comes first.
        let tick = self.tick;
        let mut flows = std::mem::take(&mut self.scratch);
        flows.clear();
        if let Some(m) = self.meter.as_mut() {
            m.overflow(
                ch.overflow_packets,
                ch.overflow_bytes.saturating_sub(ch.overflow_outside),
            );
        }
        if let Some(Some(wf)) = self.workers.get_mut(worker) {
            wf.flows = ch.flows;
            for f in [V4, V6] {
                self.table_expired += ch.freed[f].len() as u64;
                for &s in &ch.freed[f] {
                    let pressed = wf.vacate(f, s);
                    if let Some(m) = self.meter.as_mut() {
                        m.vacate(worker, f, s, pressed);
                    }
                }
            }
        }
        for f in [V4, V6] {
            for chunk in ch.touched[f].chunks(MERGE_CHUNK) {
                self.read_touched(worker, f, chunk, &mut flows, tick, ch.epoch);
                self.merge_flows(worker, &flows, tick);
                flows.clear();
            }
        }
        self.scratch = flows;
        self.request_expiry(worker, ch, tick);
    }

    /// Reads the touched slots `chunk` of family `f` of worker `worker`:
    /// counts known flows through their handles, and leaves the others in
    /// `flows`.
    fn read_touched(
        &mut self,
        worker: usize,
        f: usize,
        chunk: &[u32],
        flows: &mut Vec<Flow>,
        tick: u64,
        epoch: u32,
    ) {
        let Some(Some(wf)) = self.workers.get_mut(worker) else {
            return;
        };
        let mut first_ns = self.first_ns;
        for stage in chunk.chunks(STAGE) {
            // a stage's slots and handles start loading together, then
            // the entries the handles name, then those entries' hosts:
            // over a million flows each is a cache miss, and a stage's
            // are in flight at once rather than one after the other
            for &s in stage {
                wf.view.touch(f, s);
                if let Some(h) = wf.handles[f].get(s as usize) {
                    crate::sys::prefetch(h);
                }
            }
            let entry_of = |s: u32| wf.handles[f].get(s as usize).map(|h| h.entry().0);
            for &s in stage {
                if let Some(e) = entry_of(s) {
                    self.ledger.touch_entry(e);
                }
            }
            for &s in stage {
                if let Some(e) = entry_of(s) {
                    self.ledger.touch_entry_hosts(e);
                }
            }
            for &s in stage {
                let (key, packets, bytes) = wf.view.read(f, s);
                let Some(h) = wf.handles[f].get_mut(s as usize) else {
                    continue;
                };
                let new = h.state == VACANT;
                // a flow the worker kept after all is looked up again, to
                // count in its conversation again
                let back = h.state == EXPIRING || h.state == PRESSED;
                let (dp, db) = if new {
                    (u64::from(packets), bytes)
                } else {
                    (
                        u64::from(packets.wrapping_sub(h.packets)),
                        bytes.wrapping_sub(h.bytes),
                    )
                };
                h.packets = packets;
                h.bytes = bytes;
                h.last_tick = tick as u32;
                h.last_epoch = epoch;
                let (entry, generation) = h.entry();
                let mut untracked = h.untracked();
                wf.seen(f, s, &key);
                if let Some(m) = self.meter.as_mut() {
                    if back {
                        m.stays(worker, f, s);
                    }
                    let near_ms = self.last_ns / 1_000_000;
                    m.read(worker, &wf.view, f, s, &key, new, (dp, db), near_ms);
                }
                if dp == 0 && db == 0 {
                    continue;
                }
                if !new && !back {
                    let c = Count {
                        packets: dp,
                        bytes: db,
                    };
                    if self.ledger.entry_valid(entry, generation) {
                        self.ledger.count_known(entry, c, tick);
                        continue;
                    }
                    if entry == NO_SERIES && untracked.known() && !self.ledger.has_room() {
                        // still no room: counted from what was kept
                        let addrs = [key.src(), key.dst()];
                        self.ledger
                            .count_untracked(&mut untracked, key.version(), addrs, c, tick);
                        wf.handles[f][s as usize].set_untracked(untracked);
                        continue;
                    }
                }
                let (ns, seq, flags, macs) = wf.view.first(f, s);
                if new {
                    first_ns = first_ns.min(ns);
                }
                let stats = FlowStats {
                    packets: dp,
                    bytes: db,
                    first_ns: ns,
                    first_seq: seq,
                    first_tcp_flags: flags,
                    macs,
                };
                flows.push((key, stats, handle_id(f, s)));
            }
        }
        self.first_ns = first_ns;
    }

    /// Asks worker `worker` to free the slots of flows idle for longer
    /// than `--flow-table-idle` and, when a table lacks room, of flows not
    /// counted in the epoch just read, until it will have room again. The
    /// room a table keeps is twice the new flows of this hand-over (at
    /// least 1/64 of it, at most half): a stable set of flows that fills a
    /// table is left alone, and a flood of new ones pushes the idle ones
    /// out. A sweep goes round each table once per `--flow-table-idle`
    /// (so an idle flow leaves one to two times that after its last
    /// packet), further while room is needed: a hand-over costs a
    /// sequential walk of that part of the handles.
    fn request_expiry(&mut self, worker: usize, ch: &mut Changes, tick: u64) {
        let Some(Some(wf)) = self.workers.get_mut(worker) else {
            return;
        };
        let idle = self.worker_idle_ticks;
        let mut leaving = std::mem::take(&mut self.leaving);
        for f in [V4, V6] {
            let slots = wf.handles[f].len();
            if slots == 0 {
                continue;
            }
            let room = (2 * wf.new_flows[f]).max(slots / 64).min(slots / 2);
            let free = slots.saturating_sub(ch.flows[f]) + wf.expiring[f];
            let mut need = room.saturating_sub(free);
            wf.new_flows[f] = 0;
            let part = (slots / idle.max(1) as usize).clamp(1024.min(slots), slots);
            let mut looked = 0;
            // the list the requests go back in holds this many
            let most = crate::flow::table::max_requests(slots);
            while looked < slots && (looked < part || need > 0) && ch.expire[f].len() < most {
                let s = wf.hand[f];
                wf.hand[f] = if s + 1 == slots { 0 } else { s + 1 };
                looked += 1;
                let h = &mut wf.handles[f][s];
                if h.state != LIVE {
                    continue;
                }
                let pressed = need > 0 && h.last_epoch != ch.epoch;
                if !pressed && tick.saturating_sub(u64::from(h.last_tick)) < idle {
                    continue;
                }
                need = need.saturating_sub(1);
                h.state = if pressed { PRESSED } else { EXPIRING };
                let conv = std::mem::take(&mut h.conv);
                let last = h.last_tick;
                if pressed && wf.discounts_returns() {
                    let key = wf.view.read(f, s as u32).0;
                    wf.freeing_for_room(f, &key);
                }
                if let Some(m) = self.meter.as_mut() {
                    m.leaving(worker, &wf.view, f, s as u32);
                }
                if conv {
                    leaving.push((s as u32, last));
                }
                wf.expiring[f] += 1;
                ch.expire[f].push(s as u32);
            }
            // Their conversations no longer count them, in stages so the
            // misses overlap. The slots are live: the worker does not reuse
            // one before it has this request.
            for stage in leaving.chunks(STAGE) {
                for &(s, _) in stage {
                    wf.view.touch(f, s);
                }
                let mut keys = [(FlowKey::default(), 0u64); STAGE];
                for (&(s, _), k) in stage.iter().zip(keys.iter_mut()) {
                    let ck = wf.view.read(f, s).0.conversation();
                    let hash = self.conversations.hash(&ck);
                    self.conversations.touch(hash);
                    *k = (ck, hash);
                }
                for (&(_, last), (ck, hash)) in stage.iter().zip(keys) {
                    if let Some(c) = self.conversations.get_mut(&ck, hash) {
                        c.live = c.live.saturating_sub(1);
                        c.last_tick = c.last_tick.max(u64::from(last));
                    }
                }
            }
            leaving.clear();
        }
        self.leaving = leaving;
    }

    /// Counts flows that need their conversation and entry looked up: new
    /// ones, and known ones whose entry was forgotten or never made. Each
    /// flow's handle then caches the entry.
    fn merge_flows(&mut self, worker: usize, flows: &[Flow], tick: u64) {
        // Flows of known conversations count at once; the others wait
        // until the earliest flow of each new conversation is known. Work
        // goes in stages: hash and touch a stage's conversations, look them
        // up, touch their entries, then count, so the cache misses overlap.
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        let mut unremembered: HashMap<FlowKey, Conversation, FastState> = HashMap::default();
        for stage in flows.chunks(STAGE) {
            let keys = self.touch_conversations(stage);
            let mut found = [(SeriesKey::default(), NO_SERIES, None); STAGE];
            for (((k, s, hid), (ck, h)), f) in stage.iter().zip(keys).zip(found.iter_mut()) {
                match self.conversations.get_mut(&ck, h) {
                    Some(c) => {
                        c.last_tick = tick;
                        let c = *c;
                        *f = self.stage_flow(&c, k, ck, h);
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
                        pending.push((*k, *s, *hid));
                    }
                }
            }
            self.count_stage(worker, stage, found, &mut unremembered, tick);
        }

        // New conversations are remembered while there is room; beyond it
        // each is decided again from what each shard shows of it.
        let room = self.ledger.acc.max_entries;
        let count_new_flows = self.ledger.acc.detection.limits.new_flows.is_some();
        let mut openers = self.openers.drain();
        loop {
            // staged too: touch a stage's slots, then insert
            let mut stage = [(FlowKey::default(), 0u64, Conversation::default()); STAGE];
            let mut n = 0;
            // the stage first: zip must not take an opener it has no room for
            for (slot, (ck, o)) in stage.iter_mut().zip(openers.by_ref()) {
                let h = self.conversations.hash(&ck);
                self.conversations.touch(h);
                let c = Conversation::decide(&o.key, o.flags, tick);
                *slot = (ck, h, c);
                self.detector.scan_open(&o.key, o.flags);
                if count_new_flows {
                    let (v, s, d) = (o.key.version(), o.key.src(), o.key.dst());
                    let server = if c.is_client(&o.key, &s) { d } else { s };
                    self.ledger
                        .count_new_flow(v, c.client_addr(&o.key), 0, tick);
                    self.ledger.count_new_flow(v, server, 1, tick);
                }
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
            let mut found = [(SeriesKey::default(), NO_SERIES, None); STAGE];
            for (((k, _, _), (ck, h)), f) in stage.iter().zip(keys).zip(found.iter_mut()) {
                let c = match self.conversations.get_mut(&ck, h) {
                    Some(c) => *c,
                    // decided just above, so one of the two has it
                    None => unremembered.get(&ck).copied().unwrap_or_default(),
                };
                *f = self.stage_flow(&c, k, ck, h);
            }
            self.count_stage(worker, stage, found, &mut unremembered, tick);
        }
        self.pending = pending;
    }

    /// Stages flow `k` of conversation `c` (key `ck`, hash `h`): its series
    /// key, the entry index the conversation caches for its direction, and
    /// where to cache a new one, with the entry starting to load.
    #[inline]
    fn stage_flow(&self, c: &Conversation, k: &FlowKey, ck: FlowKey, h: u64) -> Staged {
        let (key, reply) = series_key(c, k);
        let idx = c.series[usize::from(reply)];
        self.ledger.touch(idx, &key);
        (key, idx, Some((ck, h, reply)))
    }

    /// Counts the staged flows of a stage in the ledger (flows staged with
    /// no conversation wait for a later stage), and caches the entry index
    /// the ledger gives back in the conversation, remembered or not.
    #[inline]
    fn count_stage(
        &mut self,
        worker: usize,
        stage: &[Flow],
        found: [Staged; STAGE],
        unremembered: &mut HashMap<FlowKey, Conversation, FastState>,
        tick: u64,
    ) {
        for ((_, s, hid), (key, idx, at)) in stage.iter().zip(found) {
            let Some((ck, h, reply)) = at else { continue };
            let now = self.ledger.count(idx, &key, s, tick);
            if let Some(Some(wf)) = self.workers.get_mut(worker)
                && let Some(handle) = wf.get_mut(*hid)
            {
                handle.set_entry(now, self.ledger.entry_gen(now));
                if now == NO_SERIES && !handle.untracked().known() {
                    handle.set_untracked(self.ledger.untracked_of(&key));
                }
                if !handle.conv
                    && let Some(c) = self.conversations.get_mut(&ck, h)
                {
                    c.live += 1;
                    handle.conv = true;
                }
            }
            if now == idx {
                continue;
            }
            let c = match self.conversations.get_mut(&ck, h) {
                Some(c) => Some(c),
                None => unremembered.get_mut(&ck),
            };
            if let Some(c) = c {
                c.series[usize::from(reply)] = now;
            }
        }
    }

    /// The conversation key of each flow of a stage (at most [`STAGE`]) and
    /// its hash, with its home slot starting to load.
    #[inline]
    fn touch_conversations(&self, stage: &[Flow]) -> [(FlowKey, u64); STAGE] {
        let mut keys = [(FlowKey::default(), 0u64); STAGE];
        for ((k, _, _), slot) in stage.iter().zip(keys.iter_mut()) {
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
        let (tick, idle) = (self.tick, self.ledger.idle_ticks);
        if tick % (idle / 8).max(1) != 0 {
            return;
        }
        let before = self.conversations.len();
        self.conversations
            .retain(|_, c| c.live > 0 || tick.saturating_sub(c.last_tick) <= idle);
        if self.ledger.expire(tick) || self.conversations.len() != before {
            self.dirty = true;
        }
    }

    /// Applies reloaded settings (see [`Ledger::reconfigure`]).
    pub fn reconfigure(&mut self, acc: Accounting) {
        // classes and monitored sides may change: flows with no entry are
        // looked at again
        for wf in self.workers.iter_mut().flatten() {
            for h in wf.handles.iter_mut().flat_map(|h| h.iter_mut()) {
                if h.class != LINKED {
                    h.set_untracked(Untracked::NEW);
                }
            }
        }
        self.worker_idle_ticks = self.idle_ticks(&acc);
        self.conversations.reserve(acc.max_entries);
        self.detector.reconfigure(acc.detection.clone());
        self.ledger.reconfigure(acc, self.refresh, self.tick);
        self.dirty = true;
    }

    /// Evaluates the alert limits at `now_ns` (see [`Detector::check`]);
    /// new events wait in [`Accounts::take_events`].
    pub fn detect(&mut self, now_ns: u64) {
        if !self.detector.enabled() {
            return;
        }
        let hosts = if self.detector.wants_host_counts() {
            self.ledger.host_intervals()
        } else {
            Vec::new()
        };
        let ledger = &self.ledger;
        let mut peers = |v, a, d| ledger.peers(v, a, d);
        let first = if self.first_ns == u64::MAX {
            now_ns
        } else {
            self.first_ns
        };
        if self.detector.check(now_ns, first, &hosts, &mut peers) {
            self.ledger.clear_intervals();
        }
        let events = self.detector.take_events();
        if !events.is_empty() {
            self.dirty = true;
            self.events.extend(events);
        }
    }

    /// The alert events since the last call.
    pub fn take_events(&mut self) -> Vec<AlertEvent> {
        std::mem::take(&mut self.events)
    }

    /// The settings in force.
    pub fn settings(&self) -> &Accounting {
        &self.ledger.acc
    }

    /// Every flow counted so far, per class and IP version.
    pub fn traffic(&self) -> [[super::Count; 2]; 4] {
        self.ledger.traffic()
    }

    /// Capture time of the first packet merged (ns), if any.
    pub fn first_packet_ns(&self) -> Option<u64> {
        (self.first_ns != u64::MAX).then_some(self.first_ns)
    }

    /// Capture time of the latest packet merged (ns), if any.
    pub fn last_packet_ns(&self) -> Option<u64> {
        (self.last_ns != 0).then_some(self.last_ns)
    }

    /// Bytes its conversations, entries and hosts hold: reserved at start
    /// for `--max-entries` of each.
    pub fn memory_bytes(&self) -> usize {
        self.conversations.memory_bytes() + self.ledger.memory_bytes()
    }

    /// Bytes the handles of the workers' flows hold: sized with the
    /// workers' tables, and reported with them.
    pub fn handle_memory_bytes(&self) -> usize {
        self.workers
            .iter()
            .flatten()
            .map(WorkerFlows::memory_bytes)
            .sum::<usize>()
            + self.meter.as_ref().map_or(0, Meter::memory_bytes)
    }

    /// The next snapshot ranks every entry and host, as when the window
    /// slides (benchmarks).
    #[doc(hidden)]
    pub fn rank_all_next(&mut self) {
        self.ledger.rank_all_next();
    }

    /// Ranks the series and publishes everything as a snapshot.
    pub fn snapshot(&mut self, shard_memory_bytes: usize, complete: bool) -> Snapshot {
        self.ledger.rank(self.tick);
        let mut non_ip: Vec<(Option<u16>, u64)> =
            self.non_ip.iter().map(|(et, n)| (Some(*et), *n)).collect();
        if self.non_ip_other > 0 {
            non_ip.push((None, self.non_ip_other));
        }
        let mut s = Snapshot::empty(0);
        s.packets = self.packets;
        s.bytes = self.bytes;
        s.parse_errors = ERROR_KINDS
            .iter()
            .map(|e| (*e, self.parse_errors[e.index()]))
            .collect();
        s.non_ip = non_ip;
        s.decap_packets = self.decap_packets;
        s.decap_bytes = self.decap_bytes;
        s.dedup_dropped = self.dedup_dropped;
        s.overflow_packets = self.overflow_packets;
        s.overflow_bytes = self.overflow_bytes;
        for wf in self.workers.iter().flatten() {
            for f in [V4, V6] {
                s.table_flows[f] += wf.flows[f] as u64;
                s.table_slots[f] += wf.handles[f].len() as u64;
            }
        }
        s.table_expired = self.table_expired;
        self.ledger.publish(&mut s);
        s.detection = self.detector.view(self.events_dropped);
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
        s.refresh = self.refresh;
        s
    }
}

/// One worker's tables and shard, fed directly and merged into an
/// [`Accounts`] without threads: for tests and benchmarks.
#[doc(hidden)]
pub struct Feed {
    pub tables: crate::flow::FlowTables,
    shard: Shard,
    worker: usize,
}

impl Feed {
    /// Tables for `n` IPv4 flows (and a quarter of that IPv6) read by
    /// `accounts` as worker `worker`.
    pub fn new(accounts: &mut Accounts, worker: usize, n: usize) -> Feed {
        Feed::with_tables(accounts, worker, crate::flow::FlowTables::new(n))
    }

    pub fn with_tables(
        accounts: &mut Accounts,
        worker: usize,
        tables: crate::flow::FlowTables,
    ) -> Feed {
        accounts.attach(worker, tables.view());
        let shard = Shard::new();
        Feed {
            tables,
            shard,
            worker,
        }
    }

    /// Counts one packet of `bytes` for `key`, as the worker does.
    pub fn account(&mut self, key: &FlowKey, bytes: u64, ts_ns: u64, seq: u32, flags: u8) -> bool {
        self.shard.packets += 1;
        self.shard.bytes += bytes;
        self.shard.last_ns = self.shard.last_ns.max(ts_ns);
        self.tables.account(key, bytes, ts_ns, seq, flags)
    }

    /// Hands the epoch over and merges it, then frees what the collector
    /// asked for.
    pub fn hand_over(&mut self, accounts: &mut Accounts) {
        self.tables.seal(&mut self.shard.changes);
        accounts.merge(self.worker, &mut self.shard);
        self.tables.take_back(&mut self.shard.changes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::snapshot::{Count, HostCounts};
    use crate::netset::{Class, Networks};
    use crate::parse::{PortKind, v4_addr};

    #[test]
    fn handles_are_compact() {
        // docs/memory.md's memory per flow counts on it
        assert_eq!(std::mem::size_of::<Handle>(), 32);
        let mut h = VACANT_HANDLE;
        assert_eq!(h.entry(), (NO_SERIES, 0));
        assert!(!h.untracked().known());
        h.set_entry(7, 3);
        assert_eq!(h.entry(), (7, 3));
        assert!(!h.untracked().known());
        h.set_entry(NO_SERIES, 0);
        assert_eq!(h.entry(), (NO_SERIES, 0));
        assert!(!h.untracked().known());
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
        let mut seq = 0;
        for (k, packets, size) in flows {
            for _ in 0..*packets {
                seq += 1;
                assert!(st.feed.account(k, *size, 1_700_000_000_000_000_000, seq, 0));
            }
        }
        st.feed.hand_over(&mut st.accounts);
        st.tick();
        st.snapshot(0, false)
    }

    /// Accounts and the one worker that feeds them.
    struct State {
        accounts: Accounts,
        feed: Feed,
    }

    impl std::ops::Deref for State {
        type Target = Accounts;
        fn deref(&self) -> &Accounts {
            &self.accounts
        }
    }

    impl std::ops::DerefMut for State {
        fn deref_mut(&mut self) -> &mut Accounts {
            &mut self.accounts
        }
    }

    fn count(packets: u64, bytes: u64) -> Count {
        Count { packets, bytes }
    }

    fn state(acc: Accounting) -> State {
        let mut accounts = Accounts::new(1, Duration::from_secs(1), acc);
        let feed = Feed::new(&mut accounts, 0, 65_536);
        State { accounts, feed }
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
                &nets(&crate::config::defaults::LOCAL_NETWORKS),
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

    /// The entries and the hosts grow as they come, each on its own, and
    /// never past `max_entries`: filling them to the limit and past it
    /// leaves the memory where the limit put it, and a link with many
    /// flows and few hosts holds room for the few.
    #[test]
    fn tables_grow_as_items_come_each_on_its_own_up_to_the_bound() {
        let acc = |n| Accounting {
            max_entries: n,
            ..Accounting::default()
        };
        let entry = std::mem::size_of::<crate::collector::ledger::Entry>();
        let host = std::mem::size_of::<crate::collector::ledger::Host>();
        // client i of `clients` (monitored, 10.1/16) to server j of `servers`
        let flows = |n: u32, clients: u32, servers: u32, from: u32| -> Vec<_> {
            (from..from + n)
                .map(|i| {
                    let (c, s) = (i % clients, i % servers);
                    let c = v4(&format!("10.1.{}.{}", c / 250, c % 250));
                    let s = v4(&format!("203.0.{}.{}", s / 250, s % 250));
                    (
                        FlowKey::new(4, c, s, 17, PortKind::Ports, 40000, 53, 0),
                        1,
                        100,
                    )
                })
                .collect()
        };
        let mut st = state(acc(4000));
        let at_start = st.memory_bytes();
        let s = interval(&mut st, &flows(4000, 4000, 4000, 0));
        assert_eq!((s.entries, s.host_entries), (4000, 4000));
        let full = st.memory_bytes();
        assert!(
            full >= at_start + 4000 * (entry + host),
            "{at_start} {full}"
        );
        // past the limit: nothing more is taken
        let s = interval(&mut st, &flows(2000, 6000, 6000, 4000));
        assert_eq!((s.entries, s.host_entries), (4000, 4000));
        assert_eq!(s.collector_memory_bytes, full);
        assert_eq!(st.memory_bytes(), full);
        // the same flows from a single host: room for the entries only
        let mut one = state(acc(4000));
        let s = interval(&mut one, &flows(4000, 1, 4000, 0));
        assert_eq!((s.entries, s.host_entries), (4000, 1));
        assert!(
            one.memory_bytes() + 2000 * host < full,
            "{} {full}",
            one.memory_bytes()
        );
    }

    /// A set of flows that nearly fills a worker's table and cycles
    /// through it (a quarter of them in each hand-over) is freed for room
    /// once, while it fills the table, and then left alone: the flows
    /// freed for room that come back are not new flows to make room for.
    #[test]
    fn flows_cycling_through_a_nearly_full_table_are_not_freed_again_and_again() {
        let acc = Accounting {
            max_entries: 100_000,
            ..Accounting::default()
        };
        let mut accounts = Accounts::new(1, Duration::from_secs(1), acc);
        let feed = Feed::new(&mut accounts, 0, 10_000);
        let mut st = State { accounts, feed };
        let flows: Vec<_> = (0..9_000u32)
            .map(|i| {
                let c = v4(&format!("10.2.{}.{}", i / 250, i % 250));
                (
                    FlowKey::new(4, c, v4("203.0.113.9"), 17, PortKind::Ports, 40000, 53, 0),
                    1,
                    100,
                )
            })
            .collect();
        let mut expired = Vec::new();
        for _ in 0..10 {
            for quarter in flows.chunks(2_250) {
                let s = interval(&mut st, quarter);
                expired.push(s.table_expired);
            }
        }
        // every packet counted
        let s = st.snapshot(0, true);
        assert_eq!(s.packets, 10 * 9_000);
        // freed while the first rounds fill the table, then never again
        assert!(expired[7] > 0, "{expired:?}");
        assert_eq!(expired[7], expired[39], "{expired:?}");
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

    /// A flow the collector has no entry for counts from what its handle
    /// kept, interval after interval, as exactly as the first time.
    #[test]
    fn flows_without_an_entry_count_from_their_handle() {
        let acc = Accounting {
            max_entries: 2,
            ..Accounting::default()
        };
        let mut st = state(acc);
        let a = udp("10.0.0.1", "203.0.113.1", 53);
        let b = udp("10.0.0.2", "203.0.113.1", 53);
        let c = udp("10.0.0.1", "203.0.113.9", 53);
        let d = udp("10.0.0.7", "203.0.113.9", 53);
        let mut s = interval(&mut st, &[(a, 1, 100), (b, 1, 100)]);
        for n in 1..=3u64 {
            s = interval(&mut st, &[(a, 1, 100), (c, 2, 50), (d, 1, 70)]);
            assert_eq!(s.entries, 2);
            assert_eq!(s.untracked, count(3 * n, 170 * n), "interval {n}");
        }
        let out = s.traffic[Class::Outgoing.index()][0];
        assert_eq!(out, count(2 + 3 + 9, 200 + 300 + 510));
        // c's host has an entry's host (a's): counted there too; d's host
        // found no room (hosts are full as well) and is in the total only
        assert_eq!(host(&s, "10.0.0.1").tx, count(4 + 6, 400 + 300));
        assert_eq!(host(&s, "10.0.0.7").tx, Count::default());
        assert_eq!(
            s.hosts_other.tx.packets + s.hosts.iter().map(|h| h.counts.tx.packets).sum::<u64>(),
            14
        );
        assert_sums(&s);
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_sources() {
        let acc = Accounting {
            max_entries: 1000,
            max_flow_series: 100,
            ..Accounting::default()
        };
        let mut st = state(acc);
        let mut rng = crate::tools::synth::Rng::new(3);
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
        assert!(st.ledger.entries.items.len() <= 1000 && st.ledger.hosts.items.len() <= 1000);
    }

    /// A host's alert-interval counts are kept only while a volume limit
    /// is set: a reload that sets one makes room for them, and they count
    /// from then on.
    #[test]
    fn volume_limits_set_by_a_reload_count_from_then() {
        let mut st = state(Accounting::default());
        let k = udp("10.0.0.1", "198.51.100.1", 53);
        interval(&mut st, &[(k, 10, 1000)]);
        let before = st.memory_bytes();
        assert!(st.accounts.ledger.host_intervals().is_empty());
        let mut acc = Accounting::default();
        acc.detection.limits.bytes = Some(1_000_000);
        st.accounts.reconfigure(acc);
        // one for each host there is room for
        let hosts = st.accounts.ledger.hosts.items.capacity();
        assert!(hosts >= 1);
        assert_eq!(st.memory_bytes(), before + hosts * 48);
        interval(&mut st, &[(k, 3, 1000)]);
        let iv = st.accounts.ledger.host_intervals();
        assert_eq!(iv.len(), 1);
        assert_eq!((iv[0].2[0].packets, iv[0].2[0].bytes), (3, 3000));
        // and none once no limit is set
        st.accounts.reconfigure(Accounting::default());
        assert_eq!(st.memory_bytes(), before);
        interval(&mut st, &[(k, 3, 1000)]);
        assert!(st.accounts.ledger.host_intervals().is_empty());
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
