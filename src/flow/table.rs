//! The per-worker flow tables: one for IPv4 flows (40-byte slots) and one
//! for IPv6 (64-byte slots), allocated once. A flow keeps its slot for as
//! long as it lives: the worker adds to its counters, and the collector
//! reads them while the worker goes on, without a lock and without the
//! worker handing its table over. What the collector needs in order to
//! read only what changed travels in the shard at every hand-over (see
//! [`FlowTables::seal`]):
//! - the slots touched in the epoch (each listed once, the first time it
//!   is touched: a compare on the slot's own cache line per packet);
//! - the slots freed at the collector's request since the last hand-over.
//!
//! Counters are cumulative (packets wrap at 2^32; the collector takes
//! differences), so a read that races with the worker loses nothing: what
//! it misses, the next read sees, as the slot is then listed again.
//!
//! A slot is freed only at the collector's request, and only if the
//! collector has read everything it counted (see
//! [`FlowTables::take_back`] and ARCHITECTURE.md, "Flow state"), so it is
//! never reused while the collector may still read it.
//!
//! Slots sit in a plain array found through an index of 4-byte entries
//! (8 bits of the hash and the slot number), so a slot never moves: its
//! number is the flow's handle for the collector. Open addressing with
//! linear probing over the index, backward-shift removal (no tombstones).
//! All slot fields are relaxed atomics: plain loads and stores on x86 and
//! ARM, and no `unsafe` for the sharing.

use super::{FlowKey, random_seed};
use crate::sys::{HugeBuf, HugeSlice};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

/// Index of the IPv4 table in per-family arrays.
pub const V4: usize = 0;
/// Index of the IPv6 table.
pub const V6: usize = 1;

/// Most flows one table holds: slot numbers take 24 bits of an index entry.
pub const MAX_SLOTS: usize = (1 << 24) - 2;

/// An IPv6 table holds a quarter of the flows of the IPv4 table (at least
/// this many).
pub const MIN_V6_SLOTS: usize = 1024;

/// The IPv6 table's size for `--flow-table-size n`.
pub fn v6_slots(n: usize) -> usize {
    (n / 4).clamp(MIN_V6_SLOTS, MAX_SLOTS)
}

/// One flow: its key in `W` words, its cumulative counters, the worker
/// epoch that last touched it (0: never), and for flow export (kept up
/// only in tables [`FlowTables::for_export`]; else as of the first packet)
/// the time of its latest packet with the TCP flags of all its packets
/// and the cumulative bytes of its frames outside the IP datagram (so
/// IP-layer bytes are `bytes - outside`). `outside` wraps at 2^32 like
/// `packets`: the collector takes differences.
#[repr(C)]
pub struct Slot<const W: usize> {
    key: [AtomicU64; W],
    bytes: AtomicU64,
    packets: AtomicU32,
    epoch: AtomicU32,
    /// [`last_ms24`] of the latest packet << 8 | the TCP flags seen
    last: AtomicU32,
    outside: AtomicU32,
}

/// The milliseconds of `ts_ns` modulo 2^24 (4.7 hours): what a slot keeps
/// of its latest packet's time. The collector reads a slot within a few
/// refreshes of its latest packet, and puts the hours back
/// ([`unwrap_ms24`]).
#[inline]
pub fn last_ms24(ts_ns: u64) -> u32 {
    (ts_ns / 1_000_000) as u32 & 0x00ff_ffff
}

/// The time (ms since the Unix epoch) a [`last_ms24`] value `ms24` stands
/// for, taken to be within 2.3 hours of `near_ms`.
pub fn unwrap_ms24(ms24: u32, near_ms: u64) -> u64 {
    let diff = ms24.wrapping_sub(last_ms24(near_ms * 1_000_000)) & 0x00ff_ffff;
    // sign-extend the 24-bit difference
    let diff = ((diff << 8) as i32 >> 8) as i64;
    near_ms.saturating_add_signed(diff)
}

impl<const W: usize> Default for Slot<W> {
    fn default() -> Self {
        Slot {
            key: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes: AtomicU64::new(0),
            packets: AtomicU32::new(0),
            epoch: AtomicU32::new(0),
            last: AtomicU32::new(0),
            outside: AtomicU32::new(0),
        }
    }
}

/// The part of a table both threads see. Beside each slot, written once
/// when a flow takes it, what its first packet said: its time (ns), and
/// its worker sequence number (24 bits) with its TCP flags, which decide
/// who opened a conversation; its MACs only where something shows them
/// (trafficmonitor's labels), else `macs` is empty.
/// All of it in huge pages: a packet of a table of a million flows reads
/// a random slot, which with small pages is a TLB miss as well.
struct Shared<const W: usize> {
    slots: HugeSlice<Slot<W>>,
    first_ns: HugeSlice<AtomicU64>,
    /// seq (24 bits) | flags << 24
    first_seq: HugeSlice<AtomicU32>,
    macs: HugeSlice<[AtomicU32; 3]>,
}

/// What the collector learns of a flow the first time it reads it.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
    /// Timestamp of the first packet, ns since the Unix epoch.
    pub first_ns: u64,
    /// The worker's packet sequence number of the first packet (24 bits):
    /// orders two flows whose first packets share a timestamp.
    pub first_seq: u32,
    /// TCP flags of the first packet (0 for other protocols).
    pub first_tcp_flags: u8,
    /// Source and destination MAC of the first packet (zero when the link
    /// has no Ethernet header).
    pub macs: [u8; 12],
}

/// One IP packet for its flow's table: the flow's key and its hash (from
/// [`FlowTables::hash`]), the packets it stands for (1, or the segments a
/// merged packet was on the wire), their bytes and how many of them lie
/// outside the IP datagrams, and what a flow keeps of its first packet:
/// time (ns), the worker's sequence number, TCP flags and the source and
/// destination MAC (zero without an Ethernet header).
#[derive(Clone, Copy, Default)]
pub struct Arrival {
    pub key: FlowKey,
    pub hash: u64,
    pub packets: u32,
    pub bytes: u64,
    pub outside: u32,
    pub ts_ns: u64,
    pub seq: u32,
    pub tcp_flags: u8,
    pub macs: [u8; 12],
}

/// The key words of a family.
trait Words<const W: usize> {
    fn pack(k: &FlowKey) -> [u64; W];
    fn unpack(w: &[u64; W]) -> FlowKey;
}

struct Family;

impl Words<2> for Family {
    #[inline]
    fn pack(k: &FlowKey) -> [u64; 2] {
        k.v4_words()
    }
    fn unpack(w: &[u64; 2]) -> FlowKey {
        FlowKey::from_v4_words(*w)
    }
}

impl Words<5> for Family {
    #[inline]
    fn pack(k: &FlowKey) -> [u64; 5] {
        k.words()
    }
    fn unpack(w: &[u64; 5]) -> FlowKey {
        FlowKey::from_words(*w)
    }
}

/// An index entry: 0 for free, else `tag << 24 | (slot + 1)`.
const FREE: u32 = 0;

/// 7 bits of the hash (the low bits choose the index entry), with the high
/// bit set so an entry is never [`FREE`].
#[inline]
fn tag(hash: u64) -> u32 {
    ((hash >> 57) as u32 | 0x80) << 24
}

#[inline]
fn slot_of(entry: u32) -> usize {
    (entry & 0x00ff_ffff) as usize - 1
}

/// The index is never filled beyond 7/8 of its entries.
const LOAD_NUM: usize = 7;
const LOAD_DEN: usize = 8;

/// One family's table, owned by its worker.
struct Table<const W: usize> {
    shared: Arc<Shared<W>>,
    index: HugeBuf<u32>,
    /// Free slot numbers (a stack: the lowest are taken first).
    free: Vec<u32>,
    /// Slots touched in the current epoch, each once.
    dirty: Vec<u32>,
    /// Slots freed since the last hand-over (at most [`max_requests`]).
    freed: Vec<u32>,
    /// The lists the hand-overs carry, when they are here: a list of
    /// touched slots, one of freed slots, and the one the collector's
    /// requests come back in (see [`Lists`]).
    spare: Lists,
    /// The collector's requests to free slots, from the last hand-over,
    /// applied a few at a time between batches (see
    /// [`FlowTables::expire_some`]); from `pending_at` on, not yet.
    pending: Vec<u32>,
    pending_at: usize,
    /// The epochs the collector had read when it asked.
    pending_epoch: u32,
    overflow_packets: u64,
    overflow_bytes: u64,
    /// Of those bytes, the ones outside the IP datagrams.
    overflow_outside: u64,
    /// Whether flow export reads the latest packet's time, the TCP flags
    /// and the bytes outside IP: without it a packet of a known flow
    /// writes its counters alone.
    export: bool,
}

impl<const W: usize> Table<W>
where
    Family: Words<W>,
{
    fn new(n: usize, macs: bool) -> Table<W> {
        let n = n.clamp(1, MAX_SLOTS);
        let entries = n
            .saturating_mul(LOAD_DEN)
            .div_ceil(LOAD_NUM)
            .next_power_of_two()
            .max(8);
        Table {
            shared: Arc::new(Shared {
                slots: HugeSlice::new_with(n, |_| Slot::default()),
                first_ns: HugeSlice::new_with(n, |_| AtomicU64::new(0)),
                first_seq: HugeSlice::new_with(n, |_| AtomicU32::new(0)),
                macs: HugeSlice::new_with(if macs { n } else { 0 }, |_| Default::default()),
            }),
            index: HugeBuf::new(entries, FREE),
            free: (0..n as u32).rev().collect(),
            dirty: Vec::with_capacity(n),
            freed: Vec::with_capacity(max_requests(n)),
            spare: Lists {
                touched: Vec::with_capacity(n),
                freed: Vec::with_capacity(max_requests(n)),
                expire: Vec::with_capacity(max_requests(n)),
            },
            pending: Vec::with_capacity(max_requests(n)),
            pending_at: 0,
            pending_epoch: 0,
            overflow_packets: 0,
            overflow_bytes: 0,
            overflow_outside: 0,
            export: false,
        }
    }

    fn capacity(&self) -> usize {
        self.shared.slots.len()
    }

    fn len(&self) -> usize {
        self.capacity() - self.free.len()
    }

    fn memory_bytes(&self) -> usize {
        let n = self.capacity();
        n * (std::mem::size_of::<Slot<W>>() + 12)
            + self.shared.macs.len() * 12
            + self.index.len() * 4
            + (self.free.capacity() + self.dirty.capacity() + self.freed.capacity()) * 4
            + self.spare.memory_bytes()
            + self.pending.capacity() * 4
    }

    /// The slot of key words `w` (hash `hash`), if the table holds it.
    fn find(&self, w: &[u64; W], hash: u64) -> Option<usize> {
        let mask = self.index.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let e = self.index[i];
            if e == FREE {
                return None;
            }
            if e & 0xff00_0000 == tag(hash) && Self::same(&self.shared.slots[slot_of(e)], w) {
                return Some(slot_of(e));
            }
            i = (i + 1) & mask;
        }
    }

    #[inline]
    fn touch(&self, hash: u64) {
        let i = hash as usize & (self.index.len() - 1);
        if let Some(e) = self.index.get(i) {
            crate::sys::prefetch(e);
        }
    }

    /// Starts loading the slot the home entry of `hash` names, if it
    /// carries the hash's tag (most flows sit at their home entry).
    #[inline]
    fn touch_slot(&self, hash: u64) {
        let i = hash as usize & (self.index.len() - 1);
        let e = self.index.get(i).copied().unwrap_or(FREE);
        if e & 0xff00_0000 == tag(hash)
            && let Some(s) = self.shared.slots.get(slot_of(e))
        {
            // a 40-byte IPv4 slot may straddle two lines
            crate::sys::prefetch_all(s);
        }
    }

    #[inline]
    fn same(slot: &Slot<W>, w: &[u64; W]) -> bool {
        let mut diff = 0;
        for (a, b) in slot.key.iter().zip(w) {
            diff |= a.load(Relaxed) ^ b;
        }
        diff == 0
    }

    #[inline]
    fn count(&mut self, a: &Arrival, epoch: u32) -> bool {
        let w = <Family as Words<W>>::pack(&a.key);
        let mask = self.index.len() - 1;
        let mut i = a.hash as usize & mask;
        let want = tag(a.hash);
        loop {
            let e = self.index[i];
            if e == FREE {
                let Some(s) = self.free.pop() else {
                    self.overflow_packets += u64::from(a.packets);
                    self.overflow_bytes += a.bytes;
                    self.overflow_outside += u64::from(a.outside);
                    return false;
                };
                self.index[i] = want | (s + 1);
                let slot = &self.shared.slots[s as usize];
                for (a, b) in slot.key.iter().zip(w) {
                    a.store(b, Relaxed);
                }
                slot.bytes.store(a.bytes, Relaxed);
                slot.packets.store(a.packets, Relaxed);
                slot.epoch.store(epoch, Relaxed);
                slot.last
                    .store(last_ms24(a.ts_ns) << 8 | u32::from(a.tcp_flags), Relaxed);
                slot.outside.store(a.outside, Relaxed);
                let sh = &*self.shared;
                sh.first_ns[s as usize].store(a.ts_ns, Relaxed);
                sh.first_seq[s as usize]
                    .store(a.seq & 0x00ff_ffff | u32::from(a.tcp_flags) << 24, Relaxed);
                if let Some(m) = sh.macs.get(s as usize) {
                    for (w, b) in m.iter().zip(a.macs.chunks_exact(4)) {
                        w.store(u32::from_be_bytes([b[0], b[1], b[2], b[3]]), Relaxed);
                    }
                }
                // within the capacity reserved at construction: each slot
                // is listed at most once an epoch
                self.dirty.push(s);
                return true;
            }
            if e & 0xff00_0000 == want {
                let s = slot_of(e);
                let slot = &self.shared.slots[s];
                if Self::same(slot, &w) {
                    // one writer: a load and a store, no locked instruction
                    slot.packets
                        .store(slot.packets.load(Relaxed).wrapping_add(a.packets), Relaxed);
                    slot.bytes
                        .store(slot.bytes.load(Relaxed).wrapping_add(a.bytes), Relaxed);
                    if self.export {
                        let flags = slot.last.load(Relaxed) & 0xff | u32::from(a.tcp_flags);
                        slot.last.store(last_ms24(a.ts_ns) << 8 | flags, Relaxed);
                        slot.outside
                            .store(slot.outside.load(Relaxed).wrapping_add(a.outside), Relaxed);
                    }
                    if slot.epoch.load(Relaxed) != epoch {
                        slot.epoch.store(epoch, Relaxed);
                        self.dirty.push(s as u32);
                    }
                    return true;
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// Applies pending requests while `budget` lasts.
    fn expire_pending(&mut self, budget: &mut usize, seed: u64) {
        while *budget > 0 && self.pending_at < self.pending.len() {
            let s = self.pending[self.pending_at];
            self.pending_at += 1;
            *budget -= 1;
            self.expire(s, self.pending_epoch, seed);
        }
        if self.pending_at == self.pending.len() {
            self.pending.clear();
            self.pending_at = 0;
        }
    }

    /// Frees slot `s` if the collector has read all it counted: it was
    /// not touched after the epochs the collector has finished
    /// (`processed`).
    fn expire(&mut self, s: u32, processed: u32, seed: u64) -> bool {
        let Some(slot) = self.shared.slots.get(s as usize) else {
            return false;
        };
        let epoch = slot.epoch.load(Relaxed);
        if epoch > processed || epoch == 0 {
            return false;
        }
        let mask = self.index.len() - 1;
        let key_hash = |slot: &Slot<W>| {
            let w: [u64; W] = std::array::from_fn(|j| slot.key[j].load(Relaxed));
            <Family as Words<W>>::unpack(&w).hash(seed)
        };
        let mut i = key_hash(slot) as usize & mask;
        loop {
            let e = self.index[i];
            if e == FREE {
                // not in the index: not a live slot
                return false;
            }
            if slot_of(e) == s as usize {
                break;
            }
            i = (i + 1) & mask;
        }
        // backward shift: an entry after the hole moves into it unless its
        // home lies between the hole and itself
        let mut hole = i;
        let mut j = (i + 1) & mask;
        loop {
            let e = self.index[j];
            if e == FREE {
                break;
            }
            let home = key_hash(&self.shared.slots[slot_of(e)]) as usize & mask;
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.index[hole] = e;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.index[hole] = FREE;
        slot.epoch.store(0, Relaxed);
        slot.packets.store(0, Relaxed);
        slot.bytes.store(0, Relaxed);
        slot.last.store(0, Relaxed);
        slot.outside.store(0, Relaxed);
        self.free.push(s);
        self.freed.push(s);
        true
    }
}

/// What a hand-over carries of the tables, per family ([`V4`], [`V6`]).
#[derive(Default)]
pub struct Changes {
    /// The worker epoch these changes end.
    pub epoch: u32,
    /// Slots freed at the collector's request (before any was reused).
    pub freed: [Vec<u32>; 2],
    /// Slots touched in the epoch, each once.
    pub touched: [Vec<u32>; 2],
    /// Flows each table held at the hand-over.
    pub flows: [usize; 2],
    /// Packets and bytes that found a table full, and the bytes of those
    /// outside their IP datagrams.
    pub overflow_packets: u64,
    pub overflow_bytes: u64,
    pub overflow_outside: u64,
    /// Filled by the collector: slots to free, applied when these changes
    /// come back to the worker.
    pub expire: [Vec<u32>; 2],
}

/// Slots the collector asks a table of `n` slots to free at one
/// hand-over at most: half of them (the room it keeps is at most that).
pub fn max_requests(n: usize) -> usize {
    n.div_ceil(2)
}

/// The lists a hand-over carries for one family, kept by the table while
/// they are not travelling. They go round rather than one set per shard:
/// at a hand-over the table's filled lists go out and the spare ones
/// (back from the collector at the previous hand-over) take their place,
/// so two lists of touched slots exist per table, two of freed slots, and
/// one of requests, however many shards there are (and the table keeps
/// one more of requests while it applies them, see
/// [`FlowTables::expire_some`]).
#[derive(Default)]
struct Lists {
    touched: Vec<u32>,
    freed: Vec<u32>,
    expire: Vec<u32>,
}

impl Lists {
    fn memory_bytes(&self) -> usize {
        (self.touched.capacity() + self.freed.capacity() + self.expire.capacity()) * 4
    }
}

/// Keeps whichever of `a` and `b` has more room in `a`.
fn roomier(a: &mut Vec<u32>, b: &mut Vec<u32>) {
    if b.capacity() > a.capacity() {
        std::mem::swap(a, b);
    }
}

impl<const W: usize> Table<W>
where
    Family: Words<W>,
{
    /// Ends the epoch: the touched and freed lists go into `touched` and
    /// `freed` (which were empty), the spare ones take their place, and
    /// `expire` takes the spare list of requests.
    fn hand_out(&mut self, touched: &mut Vec<u32>, freed: &mut Vec<u32>, expire: &mut Vec<u32>) {
        std::mem::swap(touched, &mut self.dirty);
        roomier(&mut self.dirty, &mut self.spare.touched);
        std::mem::swap(freed, &mut self.freed);
        roomier(&mut self.freed, &mut self.spare.freed);
        roomier(expire, &mut self.spare.expire);
    }

    /// Keeps the lists of changes that came back (emptied) as spares.
    fn keep(&mut self, touched: &mut Vec<u32>, freed: &mut Vec<u32>, expire: &mut Vec<u32>) {
        touched.clear();
        freed.clear();
        expire.clear();
        roomier(&mut self.spare.touched, touched);
        roomier(&mut self.spare.freed, freed);
        roomier(&mut self.spare.expire, expire);
    }
}

impl Changes {
    /// Bytes its lists hold.
    pub fn memory_bytes(&self) -> usize {
        self.freed
            .iter()
            .chain(&self.touched)
            .chain(&self.expire)
            .map(|l| l.capacity() * 4)
            .sum()
    }
}

/// A worker's two tables.
pub struct FlowTables {
    v4: Table<2>,
    v6: Table<5>,
    seed: u64,
    /// The current epoch, from 1; raised at every hand-over.
    epoch: u32,
    /// The collector's requests wait to be applied a few at a time
    /// ([`expire_some`](Self::expire_some)) rather than at
    /// [`take_back`](Self::take_back): live capture, which must not stall.
    gradual: bool,
}

impl FlowTables {
    /// Tables for `n` IPv4 flows and [`v6_slots`]`(n)` IPv6 flows.
    pub fn new(n: usize) -> FlowTables {
        FlowTables::with_sizes(n, v6_slots(n), false)
    }

    /// Tables for `v4` IPv4 and `v6` IPv6 flows, keeping the MACs of each
    /// flow's first packet if `macs`.
    pub fn with_sizes(v4: usize, v6: usize, macs: bool) -> FlowTables {
        FlowTables {
            v4: Table::new(v4, macs),
            v6: Table::new(v6, macs),
            seed: random_seed(),
            epoch: 1,
            gradual: false,
        }
    }

    /// The tables keep, per flow, what flow export reads (see
    /// [`TablesView::read_export`]); without this a packet of a known flow
    /// writes its counters alone.
    pub fn for_export(mut self) -> FlowTables {
        self.v4.export = true;
        self.v6.export = true;
        self
    }

    /// Flows each table holds ([`V4`], [`V6`]).
    pub fn capacity(&self) -> [usize; 2] {
        [self.v4.capacity(), self.v6.capacity()]
    }

    /// Flows each table holds now.
    pub fn len(&self) -> [usize; 2] {
        [self.v4.len(), self.v6.len()]
    }

    /// Slots taken in the current epoch and not yet handed over, per
    /// family (a slot touched again counts once).
    pub fn touched(&self) -> [usize; 2] {
        [self.v4.dirty.len(), self.v6.dirty.len()]
    }

    /// Bytes of memory the tables and the lists that travel with the
    /// shards hold.
    pub fn memory_bytes(&self) -> usize {
        self.v4.memory_bytes() + self.v6.memory_bytes()
    }

    /// Packets and bytes that found a table full since the last hand-over.
    pub fn overflow(&self) -> (u64, u64) {
        (
            self.v4.overflow_packets + self.v6.overflow_packets,
            self.v4.overflow_bytes + self.v6.overflow_bytes,
        )
    }

    /// The hash an [`Arrival`] of `key` carries.
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        key.hash(self.seed)
    }

    /// Starts loading the index entry a later [`count`](Self::count) of
    /// `key` (hash `hash`) will read first. Workers touch a whole stage of
    /// packets, then [`touch_slot`](Self::touch_slot) them, then count, so
    /// the cache misses of a stage overlap.
    #[inline]
    pub fn touch(&self, key: &FlowKey, hash: u64) {
        if key.version() == 4 {
            self.v4.touch(hash)
        } else {
            self.v6.touch(hash)
        }
    }

    /// Starts loading the slot the index entry [`touch`](Self::touch)ed
    /// names.
    #[inline]
    pub fn touch_slot(&self, key: &FlowKey, hash: u64) {
        if key.version() == 4 {
            self.v4.touch_slot(hash)
        } else {
            self.v6.touch_slot(hash)
        }
    }

    /// Adds one packet of `bytes` to `key` (no MACs). Returns false when
    /// its table was full and the packet went to the overflow counters
    /// instead.
    pub fn account(
        &mut self,
        key: &FlowKey,
        bytes: u64,
        ts_ns: u64,
        seq: u32,
        tcp_flags: u8,
    ) -> bool {
        self.count(&Arrival {
            key: *key,
            hash: self.hash(key),
            packets: 1,
            bytes,
            outside: 0,
            ts_ns,
            seq,
            tcp_flags,
            macs: [0; 12],
        })
    }

    /// Counts packet `a` in its flow's table: [`account`](Self::account)
    /// with the hash already computed and the MACs.
    #[inline]
    pub fn count(&mut self, a: &Arrival) -> bool {
        let epoch = self.epoch;
        if a.key.version() == 4 {
            self.v4.count(a, epoch)
        } else {
            self.v6.count(a, epoch)
        }
    }

    /// Live capture: the collector's requests to free slots are applied a
    /// few at a time by [`expire_some`](Self::expire_some) (see there).
    /// Otherwise (offline, and by default) [`take_back`](Self::take_back)
    /// applies them at once.
    pub fn free_gradually(&mut self, on: bool) {
        self.gradual = on;
    }

    /// Takes back changes the collector has merged, and frees the slots
    /// it asks to free in them, at once or, with
    /// [`free_gradually`](Self::free_gradually), by
    /// [`expire_some`](Self::expire_some) from now on (those of the
    /// hand-over before are freed now, if any are left): a slot goes only
    /// if it was not touched in an epoch after `back.epoch`, so the
    /// collector has read all it counted (see ARCHITECTURE.md, "Flow
    /// state"). The freed slots travel in the next [`seal`](Self::seal)ed
    /// changes, before any of them is used again. Leaves `back` empty.
    pub fn take_back(&mut self, back: &mut Changes) {
        // the requests of the hand-over before are all applied first, so
        // each hand-over's requests are applied before the next one's
        // shard is sealed
        self.expire_some(usize::MAX);
        let processed = back.epoch;
        std::mem::swap(&mut back.expire[V4], &mut self.v4.pending);
        std::mem::swap(&mut back.expire[V6], &mut self.v6.pending);
        for t in [&mut self.v4.pending_at, &mut self.v6.pending_at] {
            *t = 0;
        }
        self.v4.pending_epoch = processed;
        self.v6.pending_epoch = processed;
        if !self.gradual {
            self.expire_some(usize::MAX);
        }
        let [t4, t6] = &mut back.touched;
        let [f4, f6] = &mut back.freed;
        let [e4, e6] = &mut back.expire;
        self.v4.keep(t4, f4, e4);
        self.v6.keep(t6, f6, e6);
        back.overflow_packets = 0;
        back.overflow_bytes = 0;
        back.overflow_outside = 0;
    }

    /// Applies up to `n` of the collector's requests to free slots that
    /// came back with the last hand-over; returns how many were left.
    /// A worker applies them a few at a time between batches and while
    /// its rings are empty, not all at once when the shard comes back: a
    /// table of a million flows may be asked to free a few hundred
    /// thousand at once, tens of milliseconds of work, and a ring that
    /// fills meanwhile loses frames. A request applied late frees
    /// nothing the worker touched since (its epoch is later than the
    /// collector's read), and the slots it frees travel in the next
    /// shard, as ever.
    pub fn expire_some(&mut self, n: usize) -> usize {
        let (mut budget, seed) = (n, self.seed);
        self.v4.expire_pending(&mut budget, seed);
        self.v6.expire_pending(&mut budget, seed);
        self.expiring()
    }

    /// Requests to free slots not yet applied.
    pub fn expiring(&self) -> usize {
        self.v4.pending.len() - self.v4.pending_at + self.v6.pending.len() - self.v6.pending_at
    }

    /// Ends the current epoch: its touched and freed slots and overflow
    /// move into `out` (emptied by [`take_back`](Self::take_back)), and
    /// the next epoch starts.
    pub fn seal(&mut self, out: &mut Changes) {
        out.epoch = self.epoch;
        let [t4, t6] = &mut out.touched;
        let [f4, f6] = &mut out.freed;
        let [e4, e6] = &mut out.expire;
        self.v4.hand_out(t4, f4, e4);
        self.v6.hand_out(t6, f6, e6);
        out.flows = self.len();
        (out.overflow_packets, out.overflow_bytes) = self.overflow();
        out.overflow_outside = self.v4.overflow_outside + self.v6.overflow_outside;
        self.v4.overflow_packets = 0;
        self.v4.overflow_bytes = 0;
        self.v4.overflow_outside = 0;
        self.v6.overflow_packets = 0;
        self.v6.overflow_bytes = 0;
        self.v6.overflow_outside = 0;
        self.epoch = self.epoch.wrapping_add(1).max(1);
    }

    /// What the collector reads the tables through.
    pub fn view(&self) -> TablesView {
        TablesView {
            v4: self.v4.shared.clone(),
            v6: self.v6.shared.clone(),
        }
    }

    /// Looks a flow up (tests and diagnostics; not on the packet path):
    /// its cumulative packets and bytes.
    pub fn get(&self, key: &FlowKey) -> Option<(u64, u64)> {
        let hash = self.hash(key);
        let (f, s) = if key.version() == 4 {
            (V4, self.v4.find(&key.v4_words(), hash)?)
        } else {
            (V6, self.v6.find(&key.words(), hash)?)
        };
        let (_, p, b) = self.view().read(f, s as u32);
        Some((u64::from(p), b))
    }
}

/// The collector's read-only view of a worker's tables.
#[derive(Clone)]
pub struct TablesView {
    v4: Arc<Shared<2>>,
    v6: Arc<Shared<5>>,
}

impl TablesView {
    /// Slots of each family.
    pub fn capacity(&self) -> [usize; 2] {
        [self.v4.slots.len(), self.v6.slots.len()]
    }

    /// Starts loading slot `s` of family `f`.
    #[inline]
    pub fn touch(&self, f: usize, s: u32) {
        if f == V4 {
            if let Some(x) = self.v4.slots.get(s as usize) {
                crate::sys::prefetch_all(x);
            }
        } else if let Some(x) = self.v6.slots.get(s as usize) {
            crate::sys::prefetch_all(x);
        }
    }

    /// The key and cumulative counters (packets wrap at 2^32) of slot `s`
    /// of family `f`.
    #[inline]
    pub fn read(&self, f: usize, s: u32) -> (FlowKey, u32, u64) {
        fn get<const W: usize>(sh: &Shared<W>, s: u32) -> (FlowKey, u32, u64)
        where
            Family: Words<W>,
        {
            match sh.slots.get(s as usize) {
                Some(x) => {
                    let w: [u64; W] = std::array::from_fn(|j| x.key[j].load(Relaxed));
                    (
                        <Family as Words<W>>::unpack(&w),
                        x.packets.load(Relaxed),
                        x.bytes.load(Relaxed),
                    )
                }
                None => (FlowKey::default(), 0, 0),
            }
        }
        if f == V4 {
            get(&self.v4, s)
        } else {
            get(&self.v6, s)
        }
    }

    /// What flow export reads of slot `s` of family `f` besides its
    /// counters: [`last_ms24`] of its latest packet, the TCP flags of all
    /// its packets, and its cumulative bytes outside the IP datagram
    /// (wrapping at 2^32).
    #[inline]
    pub fn read_export(&self, f: usize, s: u32) -> (u32, u8, u32) {
        fn get<const W: usize>(sh: &Shared<W>, s: u32) -> (u32, u8, u32) {
            match sh.slots.get(s as usize) {
                Some(x) => {
                    let last = x.last.load(Relaxed);
                    (last >> 8, last as u8, x.outside.load(Relaxed))
                }
                None => (0, 0, 0),
            }
        }
        if f == V4 {
            get(&self.v4, s)
        } else {
            get(&self.v6, s)
        }
    }

    /// What the first packet of the flow in slot `s` said (MACs zero
    /// where the tables keep none).
    pub fn first(&self, f: usize, s: u32) -> (u64, u32, u8, [u8; 12]) {
        fn get<const W: usize>(t: &Shared<W>, s: usize) -> (u64, u32, u8, [u8; 12]) {
            let (Some(ns), Some(sf)) = (t.first_ns.get(s), t.first_seq.get(s)) else {
                return (0, 0, 0, [0; 12]);
            };
            let sf = sf.load(Relaxed);
            let mut macs = [0u8; 12];
            if let Some(m) = t.macs.get(s) {
                for (b, w) in macs.chunks_exact_mut(4).zip(m) {
                    b.copy_from_slice(&w.load(Relaxed).to_be_bytes());
                }
            }
            (ns.load(Relaxed), sf & 0x00ff_ffff, (sf >> 24) as u8, macs)
        }
        if f == V4 {
            get(&self.v4, s as usize)
        } else {
            get(&self.v6, s as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::numbered as key;

    /// Every flow of `c` with its counters, read as the collector does.
    fn read_all(t: &FlowTables, c: &Changes) -> Vec<(FlowKey, u32, u64)> {
        let v = t.view();
        let mut out = Vec::new();
        for f in [V4, V6] {
            for &s in &c.touched[f] {
                out.push(v.read(f, s));
            }
        }
        out
    }

    #[test]
    fn slots_are_compact() {
        assert_eq!(std::mem::size_of::<Slot<2>>(), 40);
        assert_eq!(std::mem::size_of::<Slot<5>>(), 64);
        // IPv4, per flow: 40 + 12 (first packet, no MACs) + index (here
        // 8: at most 4 * 16/7) + the lists, 4 bytes each: free slots, two
        // of touched ones, and at half the size two of freed ones and two
        // of requests, one travelling and one being applied (the shards
        // carry them but hold none of their own): 80 bytes; the MACs add 12
        for (macs, per_flow) in [(false, 81), (true, 93)] {
            let t = FlowTables::with_sizes(1 << 20, 1024, macs);
            let all = t.memory_bytes();
            assert!(all <= (1 << 20) * per_flow, "{all}");
            assert!(all > (1 << 20) * (per_flow - 12), "{all}");
        }
    }

    /// Two shards' changes go back and forth as between a worker and the
    /// collector, every slot touched each epoch and half of them freed:
    /// the lists go round, none grows, every epoch lists what it touched
    /// and freed, and the table never overflows.
    #[test]
    fn lists_go_round_without_growing() {
        let n = 64;
        let mut t = FlowTables::with_sizes(n, 8, false);
        let (mut current, mut back) = (Changes::default(), Changes::default());
        let memory = |t: &FlowTables, a: &Changes, b: &Changes| {
            t.memory_bytes() + a.memory_bytes() + b.memory_bytes()
        };
        let start = memory(&t, &current, &back);
        let mut next = 0u32;
        let mut held: Vec<u32> = Vec::new();
        for round in 0..20 {
            // the worker: frees what it was asked to, then new flows into
            // the free slots, the held ones again, then hands over
            t.take_back(&mut back);
            while held.len() < n {
                held.push(next);
                next += 1;
            }
            for &k in &held {
                assert!(t.account(&key(k), 10, 1, 1, 0));
            }
            t.seal(&mut current);
            std::mem::swap(&mut current, &mut back);
            // the collector: every slot listed once, the freed ones too
            assert_eq!(back.touched[V4].len(), n, "round {round}");
            let freed = if round == 0 { 0 } else { max_requests(n) };
            assert_eq!(back.freed[V4].len(), freed, "round {round}");
            assert!(back.expire[V4].capacity() >= max_requests(n));
            // asks for half to be freed: the flows it read in them go
            let v = t.view();
            let gone: Vec<u32> = back.touched[V4][..max_requests(n)].to_vec();
            for &s in &gone {
                let (k, _, _) = v.read(V4, s);
                held.retain(|&h| key(h) != k);
            }
            back.expire[V4].extend(gone);
            assert_eq!(memory(&t, &current, &back), start, "round {round}");
        }
        assert_eq!(t.overflow(), (0, 0));
    }

    #[test]
    fn keeps_macs_only_when_asked() {
        let macs: [u8; 12] = std::array::from_fn(|i| 0xa0 + i as u8);
        for keep in [false, true] {
            let mut t = FlowTables::with_sizes(8, 8, keep);
            let mut c = Changes::default();
            let k = key(3);
            let a = Arrival {
                key: k,
                hash: t.hash(&k),
                packets: 1,
                bytes: 64,
                outside: 0,
                ts_ns: 9,
                seq: 2,
                tcp_flags: 0x12,
                macs,
            };
            assert!(t.count(&a));
            t.seal(&mut c);
            let want = if keep { macs } else { [0; 12] };
            assert_eq!(t.view().first(V4, c.touched[V4][0]), (9, 2, 0x12, want));
        }
    }

    #[test]
    fn lists_each_touched_slot_once_an_epoch() {
        let mut t = FlowTables::with_sizes(16, 16, true);
        let mut c = Changes::default();
        let first: [u8; 12] = std::array::from_fn(|i| i as u8 + 1);
        let (k, h) = (key(7), t.hash(&key(7)));
        let a = |bytes, ts_ns, seq, tcp_flags, macs| Arrival {
            key: k,
            hash: h,
            packets: 1,
            bytes,
            outside: 0,
            ts_ns,
            seq,
            tcp_flags,
            macs,
        };
        assert!(t.count(&a(60, 5, 3, 0x02, first)));
        assert!(t.count(&a(40, 6, 4, 0x10, [0xee; 12])));
        assert!(t.account(&key(8), 10, 7, 5, 0));
        t.seal(&mut c);
        assert_eq!(c.epoch, 1);
        assert_eq!(read_all(&t, &c), vec![(k, 2, 100), (key(8), 1, 10)]);
        let s = c.touched[V4][0];
        assert_eq!(t.view().first(V4, s), (5, 3, 0x02, first));
        t.take_back(&mut c);
        // the next epoch lists only what it touched, with its totals
        assert!(t.account(&key(8), 5, 8, 6, 0));
        t.seal(&mut c);
        assert_eq!((c.epoch, c.flows), (2, [2, 0]));
        assert_eq!(read_all(&t, &c), vec![(key(8), 2, 15)]);
    }

    /// What flow export reads: the latest packet's time, every TCP flag
    /// seen, the bytes outside IP summed; a freed slot starts again.
    #[test]
    fn keeps_what_flow_export_reads() {
        let mut t = FlowTables::with_sizes(16, 16, false).for_export();
        let mut c = Changes::default();
        let (k, h) = (key(7), t.hash(&key(7)));
        let a = |outside, ts_ns, tcp_flags| Arrival {
            key: k,
            hash: h,
            packets: 1,
            bytes: 100,
            outside,
            ts_ns,
            seq: 1,
            tcp_flags,
            macs: [0; 12],
        };
        let t0 = 1_700_000_000_123_000_000u64;
        assert!(t.count(&a(18, t0, 0x02)));
        assert!(t.count(&a(14, t0 + 2_500_000_000, 0x10)));
        assert!(t.count(&a(u32::MAX, t0 + 1_000_000, 0x01)));
        t.seal(&mut c);
        let s = c.touched[V4][0];
        let (ms24, flags, outside) = t.view().read_export(V4, s);
        // the latest packet counted, not the latest in time
        assert_eq!(ms24, last_ms24(t0 + 1_000_000));
        assert_eq!(flags, 0x13);
        // wraps, as the collector's differences expect
        assert_eq!(outside, 31);
        let near = (t0 + 4_000_000_000) / 1_000_000;
        assert_eq!(unwrap_ms24(ms24, near), (t0 + 1_000_000) / 1_000_000);
        t.take_back(&mut c);
        c.expire[V4].push(s);
        c.epoch = 1;
        t.take_back(&mut c);
        assert_eq!(t.view().read_export(V4, s), (0, 0, 0));
    }

    #[test]
    fn the_24_bit_time_unwraps_near_the_clock() {
        let now = 1_795_704_984_079u64;
        for back in [0u64, 1, 999, 3_600_000, 8_000_000] {
            let t = now - back;
            assert_eq!(unwrap_ms24(last_ms24(t * 1_000_000), now), t);
        }
        // a packet stamped just after the collector read its clock
        assert_eq!(unwrap_ms24(last_ms24((now + 5) * 1_000_000), now), now + 5);
    }

    #[test]
    fn ipv6_has_its_own_table() {
        let mut t = FlowTables::with_sizes(4, 4, false);
        let v6 = FlowKey::new(
            6,
            [0xfd; 16],
            [0x20; 16],
            17,
            crate::parse::PortKind::Ports,
            1,
            2,
            0,
        );
        assert!(t.account(&v6, 80, 0, 0, 0));
        assert_eq!(t.len(), [0, 1]);
        assert_eq!(t.get(&v6), Some((1, 80)));
        let mut c = Changes::default();
        t.seal(&mut c);
        assert_eq!(read_all(&t, &c), vec![(v6, 1, 80)]);
    }

    #[test]
    fn full_table_counts_overflow() {
        let mut t = FlowTables::with_sizes(8, 8, false);
        for i in 0..8 {
            assert!(t.account(&key(i), 10, 0, i, 0));
        }
        assert!(!t.account(&key(10_000), 77, 0, 0, 0));
        // known flows still count when full
        assert!(t.account(&key(0), 10, 0, 0, 0));
        let mut c = Changes::default();
        t.seal(&mut c);
        assert_eq!((c.overflow_packets, c.overflow_bytes), (1, 77));
        assert_eq!(t.overflow(), (0, 0));
    }

    #[test]
    fn frees_only_what_the_collector_has_read() {
        let mut t = FlowTables::with_sizes(4, 4, false);
        let mut c = Changes::default();
        for i in 0..4 {
            t.account(&key(i), 10, 0, i, 0);
        }
        t.seal(&mut c); // epoch 1: all four
        let slots: Vec<u32> = c.touched[V4].clone();
        // the collector read them and asks for all four, but flows 1 and 2
        // counted again in epoch 2, which it has not read
        t.account(&key(1), 10, 0, 9, 0);
        t.account(&key(2), 10, 0, 9, 0);
        c.expire[V4].extend(&slots);
        t.take_back(&mut c);
        assert_eq!(t.len(), [2, 0]);
        assert!(t.get(&key(1)).is_some() && t.get(&key(2)).is_some());
        assert!(t.get(&key(0)).is_none() && t.get(&key(3)).is_none());
        t.seal(&mut c);
        assert_eq!(c.freed[V4], vec![slots[0], slots[3]]);
        // a free slot asked for again stays free
        c.expire[V4].push(slots[0]);
        t.take_back(&mut c);
        assert_eq!(t.len(), [2, 0]);
        // freed slots are used again, and the index still finds everyone
        for i in 10..12 {
            assert!(t.account(&key(i), 1, 0, i, 0));
        }
        assert!(!t.account(&key(12), 1, 0, 0, 0));
        for i in [1, 2, 10, 11] {
            assert!(t.get(&key(i)).is_some(), "{i}");
        }
    }

    #[test]
    fn agrees_with_a_hash_map_through_expiry() {
        // many keys per tag (7 bits) and long probe runs: a small table
        // kept full while flows come and go
        let mut t = FlowTables::with_sizes(1000, 16, false);
        let mut c = Changes::default();
        let mut rng = crate::tools::synth::Rng::new(7);
        let mut want: std::collections::HashMap<FlowKey, (u32, u64)> = Default::default();
        let mut seen: std::collections::HashMap<u32, (u32, u64)> = Default::default();
        for _round in 0..20 {
            for n in 0..2000u64 {
                let k = key(rng.below(3000) as u32);
                if t.account(&k, n % 1500, 0, 0, 0) {
                    let e = want.entry(k).or_default();
                    e.0 += 1;
                    e.1 += n % 1500;
                }
            }
            t.seal(&mut c);
            // the collector: reads what was touched, asks to free half of
            // what it has read
            let v = t.view();
            for &s in &c.freed[V4] {
                seen.remove(&s);
            }
            for &s in &c.touched[V4] {
                let (k, p, b) = v.read(V4, s);
                assert_eq!(want[&k], (p, b));
                seen.insert(s, (p, b));
            }
            for &s in seen.keys().filter(|s| **s % 2 == 0) {
                c.expire[V4].push(s);
            }
            t.take_back(&mut c);
            // freed flows start again from zero
            want.retain(|k, _| t.get(k).is_some());
            assert_eq!(want.len(), t.len()[V4]);
        }
    }

    #[test]
    fn requests_wait_to_be_applied_a_few_at_a_time() {
        let mut t = FlowTables::new(64);
        t.free_gradually(true);
        let mut c = Changes::default();
        for i in 0..10 {
            t.account(&key(i), 10, 0, i, 0);
        }
        t.seal(&mut c); // epoch 1
        let slots: Vec<u32> = c.touched[V4].clone();
        c.expire[V4].extend(&slots);
        t.take_back(&mut c);
        // kept, not applied
        assert_eq!((t.len(), t.expiring()), ([10, 0], 10));
        // flow 0 counted again before its request is applied: it stays
        t.account(&key(0), 10, 0, 11, 0);
        assert_eq!(t.expire_some(4), 6);
        assert_eq!(t.len(), [7, 0]);
        // the next hand-over applies what is left before it seals
        t.seal(&mut c);
        assert_eq!(c.freed[V4].len(), 3);
        let mut back = Changes::default();
        t.take_back(&mut back);
        assert_eq!((t.len(), t.expiring()), ([1, 0], 0));
        t.seal(&mut back);
        assert_eq!(back.freed[V4].len(), 6);
        assert!(t.get(&key(0)).is_some());
    }
}
