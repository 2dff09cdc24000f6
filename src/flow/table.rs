//! The per-worker flow table: open addressing with linear probing over a
//! fixed array allocated once. No locks, no atomics, no allocation after
//! construction. When it is full, new flows are counted as overflow, so the
//! totals never lose a packet.
//!
//! Beside the 64-byte slots a one-byte tag per slot (0 for free, else 7
//! bits of the hash) lets a lookup walk its probe sequence in the small tag
//! array, which stays in cache, and touch only the slot whose tag matches:
//! one cache miss per packet however many slots it probes.

use super::{FlowKey, random_seed};
use crate::sys::HugeBuf;

/// What one direction of a flow accumulated since the table was last
/// drained, as the table hands it out.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
    /// Timestamp of the first packet, ns since the Unix epoch (to 1024 ns).
    pub first_ns: u64,
    /// Latest timestamp seen.
    pub last_ns: u64,
    /// The worker's packet sequence number of the first packet (24 bits):
    /// orders two flows whose first packets share a timestamp.
    pub first_seq: u32,
    /// TCP flags of the first packet (0 for other protocols).
    pub first_tcp_flags: u8,
    /// Source and destination MAC of the first packet (zero when the link
    /// has no Ethernet header).
    pub macs: [u8; 12],
}

/// One slot: a key and its counters packed into one 64-byte cache line.
/// Its tag says whether it is in use. Times are kept as offsets from the
/// table's base time in units of 1024 ns (73 minutes fit), the sequence
/// number in 24 bits with the first packet's TCP flags above it.
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Slot {
    key: FlowKey,
    bytes: u64,
    packets: u32,
    seq_flags: u32,
    first: u32,
    last: u32,
}

/// The tag of a free slot.
const FREE: u8 = 0;

/// The tag of a used slot: the top 7 bits of its key's hash (the low bits
/// choose the slot), with the high bit set so it is never [`FREE`].
#[inline]
fn tag(hash: u64) -> u8 {
    (hash >> 57) as u8 | 0x80
}

/// Time unit of the slot offsets: 2^10 ns.
const TIME_SHIFT: u32 = 10;

/// Bytes one slot takes.
pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

/// The table is never filled beyond 7/8 of its slots.
const LOAD_NUM: usize = 7;
const LOAD_DEN: usize = 8;

pub struct FlowTable {
    slots: HugeBuf<Slot>,
    /// The MAC addresses of each slot's first packet: written when a flow
    /// is inserted, read when the table is drained, so the counters keep
    /// their one cache line.
    macs: HugeBuf<[u8; 12]>,
    /// One per slot: [`FREE`] or [`tag`] of the hash of its key.
    tags: HugeBuf<u8>,
    /// Indices of the occupied slots, so that a drain visits only those
    /// (4 bytes per usable entry, allocated once).
    used: Vec<u32>,
    len: usize,
    limit: usize,
    seed: u64,
    /// Timestamp the slot offsets count from: the first packet after a drain.
    base_ns: u64,
    overflow_packets: u64,
    overflow_bytes: u64,
}

impl FlowTable {
    /// A table that holds at least `entries` flows. The slot count is the
    /// next power of two at or above `entries * 8 / 7`, and the usable
    /// capacity is 7/8 of it.
    pub fn with_capacity(entries: usize) -> FlowTable {
        let wanted = entries.max(1).saturating_mul(LOAD_DEN).div_ceil(LOAD_NUM);
        let slots = wanted.next_power_of_two().max(8);
        let limit = slots / LOAD_DEN * LOAD_NUM;
        FlowTable {
            slots: HugeBuf::new(slots, Slot::default()),
            macs: HugeBuf::new(slots, [0; 12]),
            tags: HugeBuf::new(slots, FREE),
            used: Vec::with_capacity(limit),
            len: 0,
            limit,
            seed: random_seed(),
            base_ns: 0,
            overflow_packets: 0,
            overflow_bytes: 0,
        }
    }

    /// How many flows fit.
    pub fn capacity(&self) -> usize {
        self.limit
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes of memory the table holds.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * (SLOT_BYTES + 1 + 12) + self.used.capacity() * std::mem::size_of::<u32>()
    }

    /// Packets and bytes that found the table full since the last drain.
    pub fn overflow(&self) -> (u64, u64) {
        (self.overflow_packets, self.overflow_bytes)
    }

    /// The hash `account_hashed` expects for `key`.
    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        key.hash(self.seed)
    }

    /// Starts loading, without waiting for either, the tag and the home
    /// slot a later `account_hashed` of `hash` will most likely use (at
    /// most 7/8 full, most flows sit in their home slot). Workers touch a
    /// whole stage of packets first, so the cache misses overlap instead of
    /// coming one after another.
    #[inline]
    pub fn touch(&self, hash: u64) {
        let i = hash as usize & (self.slots.len() - 1);
        if let Some(t) = self.tags.get(i) {
            crate::sys::prefetch(t);
        }
        self.touch_slot(i);
    }

    #[inline]
    fn touch_slot(&self, i: usize) {
        if let Some(s) = self.slots.get(i) {
            crate::sys::prefetch(s);
        }
    }

    /// Adds one packet of `bytes` to `key`. Returns false when the table was
    /// full and the packet went to the overflow counters instead.
    #[inline]
    pub fn account(
        &mut self,
        key: &FlowKey,
        bytes: u64,
        ts_ns: u64,
        seq: u32,
        tcp_flags: u8,
    ) -> bool {
        let hash = self.hash(key);
        self.account_hashed(key, hash, bytes, ts_ns, seq, tcp_flags, &[0; 12])
    }

    /// [`account`](Self::account) with the hash already computed by
    /// [`hash`](Self::hash), and the packet's MAC addresses (kept from a
    /// flow's first packet).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub fn account_hashed(
        &mut self,
        key: &FlowKey,
        hash: u64,
        bytes: u64,
        ts_ns: u64,
        seq: u32,
        tcp_flags: u8,
        macs: &[u8; 12],
    ) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        if self.len == 0 {
            self.base_ns = ts_ns;
        }
        let t32 =
            (ts_ns.saturating_sub(self.base_ns) >> TIME_SHIFT).min(u64::from(u32::MAX)) as u32;
        let want = tag(hash);
        loop {
            let t = self.tags[i];
            if t == FREE {
                if self.len == self.limit {
                    self.overflow_packets += 1;
                    self.overflow_bytes += bytes;
                    return false;
                }
                // within the capacity reserved at construction: no allocation
                self.used.push(i as u32);
                self.tags[i] = want;
                self.slots[i] = Slot {
                    key: *key,
                    bytes,
                    packets: 1,
                    seq_flags: (seq & 0x00ff_ffff) | u32::from(tcp_flags) << 24,
                    first: t32,
                    last: t32,
                };
                self.macs[i] = *macs;
                self.len += 1;
                return true;
            }
            if t == want {
                let slot = &mut self.slots[i];
                if slot.key.same(key) {
                    if slot.packets == u32::MAX {
                        // 4 billion packets of one flow in one interval: the
                        // rest count as overflow rather than wrap
                        self.overflow_packets += 1;
                        self.overflow_bytes += bytes;
                        return false;
                    }
                    slot.packets += 1;
                    slot.bytes += bytes;
                    slot.last = slot.last.max(t32);
                    return true;
                }
            }
            i = (i + 1) & mask;
        }
    }

    fn stats(&self, i: usize, slot: &Slot) -> FlowStats {
        FlowStats {
            macs: self.macs.get(i).copied().unwrap_or_default(),
            packets: u64::from(slot.packets),
            bytes: slot.bytes,
            first_ns: self.base_ns + (u64::from(slot.first) << TIME_SHIFT),
            last_ns: self.base_ns + (u64::from(slot.last) << TIME_SHIFT),
            first_seq: slot.seq_flags & 0x00ff_ffff,
            first_tcp_flags: (slot.seq_flags >> 24) as u8,
        }
    }

    /// Looks a flow up (for tests and diagnostics; not on the packet path).
    pub fn get(&self, key: &FlowKey) -> Option<FlowStats> {
        self.slots
            .iter()
            .zip(self.tags.iter())
            .enumerate()
            .find(|(_, (s, t))| **t != FREE && s.key == *key)
            .map(|(i, (s, _))| self.stats(i, s))
    }

    /// Hands every flow to `f` and leaves the table empty, overflow counters
    /// included. Returns the overflow (packets, bytes) it cleared.
    pub fn drain(&mut self, mut f: impl FnMut(&FlowKey, &FlowStats)) -> (u64, u64) {
        // Slots come in insertion order, scattered: touch a few ahead so
        // their misses overlap.
        // Freeing a slot only clears its tag: the slots are read once.
        const AHEAD: usize = 16;
        for (n, &i) in self.used.iter().enumerate() {
            if let Some(&next) = self.used.get(n + AHEAD) {
                self.touch_slot(next as usize);
                if let Some(m) = self.macs.get(next as usize) {
                    crate::sys::prefetch_all(m);
                }
            }
            if let Some(slot) = self.slots.get(i as usize) {
                f(&slot.key, &self.stats(i as usize, slot));
            }
        }
        for &i in &self.used {
            if let Some(t) = self.tags.get_mut(i as usize) {
                *t = FREE;
            }
        }
        self.used.clear();
        self.len = 0;
        let overflow = self.overflow();
        self.overflow_packets = 0;
        self.overflow_bytes = 0;
        overflow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::numbered as key;

    #[test]
    fn at_most_96_bytes_per_entry() {
        assert_eq!(SLOT_BYTES, 64);
        // per usable entry at full load: (64 + 1 + 12) * 8 / 7 + 4 = 92
        for n in [1000, 65_536, 1 << 20] {
            let t = FlowTable::with_capacity(n);
            assert!(t.capacity() >= n);
            assert!(
                t.memory_bytes() <= 96 * t.capacity(),
                "{n}: {}",
                t.memory_bytes()
            );
        }
    }

    #[test]
    fn keeps_the_first_packets_macs() {
        let mut t = FlowTable::with_capacity(16);
        let (k, h) = (key(7), t.hash(&key(7)));
        let first: [u8; 12] = std::array::from_fn(|i| i as u8 + 1);
        assert!(t.account_hashed(&k, h, 60, 0, 0, 0, &first));
        assert!(t.account_hashed(&k, h, 60, 0, 1, 0, &[0xee; 12]));
        assert_eq!(t.get(&k).unwrap().macs, first);
        let mut seen = Vec::new();
        t.drain(|_, s| seen.push(s.macs));
        assert_eq!(seen, vec![first]);
        // a new flow in the same slot after the drain gets its own
        assert!(t.account_hashed(&k, h, 60, 0, 2, 0, &[9; 12]));
        assert_eq!(t.get(&k).unwrap().macs, [9; 12]);
    }

    #[test]
    fn counts_per_flow() {
        let mut t = FlowTable::with_capacity(16);
        let t0 = 1_700_000_000_000_000_000;
        assert!(t.account(&key(1), 100, t0, 0, 0));
        assert!(t.account(&key(1), 50, t0 + 30 * 1024, 1, 0));
        assert!(t.account(&key(2), 60, t0 + 20 * 1024, 2, 0x02));
        assert_eq!(t.len(), 2);
        let s = t.get(&key(1)).unwrap();
        assert_eq!(
            (s.packets, s.bytes, s.first_ns, s.last_ns),
            (2, 150, t0, t0 + 30 * 1024)
        );
        let s = t.get(&key(2)).unwrap();
        assert_eq!((s.first_seq, s.first_tcp_flags), (2, 0x02));
    }

    #[test]
    fn full_table_counts_overflow() {
        let mut t = FlowTable::with_capacity(8);
        let cap = t.capacity();
        for i in 0..cap as u32 {
            assert!(t.account(&key(i), 10, 0, i, 0));
        }
        assert!(!t.account(&key(10_000), 77, 0, 0, 0));
        // known flows still count when full
        assert!(t.account(&key(0), 10, 0, 0, 0));
        assert_eq!(t.overflow(), (1, 77));
        let mut packets = 0;
        let overflow = t.drain(|_, s| packets += s.packets);
        assert_eq!(packets, cap as u64 + 1);
        assert_eq!(overflow, (1, 77));
        assert!(t.is_empty());
        assert_eq!(t.overflow(), (0, 0));
        assert!(t.get(&key(0)).is_none());
        // usable again after a drain
        assert!(t.account(&key(10_000), 1, 0, 0, 0));
    }

    #[test]
    fn agrees_with_a_hash_map_across_drains() {
        // many keys per tag (7 bits) and long probe runs: a small table
        // filled to its limit, drained and filled again
        let mut t = FlowTable::with_capacity(3000);
        let mut rng = crate::tools::synth::Rng::new(7);
        for round in 0..3 {
            let mut want = std::collections::HashMap::new();
            for n in 0..20_000u64 {
                let k = key(rng.below(2_900) as u32 + round * 7);
                if t.account(&k, n % 1500, 0, 0, 0) {
                    let e = want.entry(k).or_insert((0u64, 0u64));
                    e.0 += 1;
                    e.1 += n % 1500;
                }
            }
            let mut got = std::collections::HashMap::new();
            let overflow = t.drain(|k, s| {
                assert!(
                    got.insert(*k, (s.packets, s.bytes)).is_none(),
                    "{k:?} twice"
                );
            });
            assert_eq!(overflow, (0, 0));
            assert_eq!(got, want, "round {round}");
            assert!(t.is_empty());
        }
    }
}
