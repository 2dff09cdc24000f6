//! The per-worker flow table: open addressing with linear probing over a
//! fixed array allocated once. No locks, no atomics, no allocation after
//! construction. When it is full, new flows are counted as overflow, so the
//! totals never lose a packet.

use super::{FlowKey, random_seed};
use crate::capture::sys::HugeBuf;

/// What one direction of a flow accumulated since the table was last drained.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct FlowStats {
    pub packets: u64,
    pub bytes: u64,
    /// Timestamp of the first packet, ns since the Unix epoch.
    pub first_ns: u64,
    /// Latest timestamp seen.
    pub last_ns: u64,
    /// The worker's packet sequence number of the first packet: orders two
    /// flows whose first packets share a timestamp.
    pub first_seq: u32,
    /// TCP flags of the first packet (0 for other protocols).
    pub first_tcp_flags: u8,
}

/// One slot: a key and its counters, 80 bytes. `packets == 0` marks it free.
#[derive(Clone, Copy, Default)]
struct Slot {
    key: FlowKey,
    stats: FlowStats,
}

/// Slot storage: huge pages where the kernel gives them, else the heap.
enum Slots {
    Huge(HugeBuf<Slot>),
    Heap(Box<[Slot]>),
}

impl std::ops::Deref for Slots {
    type Target = [Slot];
    #[inline]
    fn deref(&self) -> &[Slot] {
        match self {
            Slots::Huge(h) => h,
            Slots::Heap(b) => b,
        }
    }
}

impl std::ops::DerefMut for Slots {
    #[inline]
    fn deref_mut(&mut self) -> &mut [Slot] {
        match self {
            Slots::Huge(h) => h,
            Slots::Heap(b) => b,
        }
    }
}

/// Bytes one slot takes.
pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

/// The table is never filled beyond 7/8 of its slots.
const LOAD_NUM: usize = 7;
const LOAD_DEN: usize = 8;

pub struct FlowTable {
    slots: Slots,
    /// Indices of the occupied slots, so that a drain visits only those
    /// (4 bytes per usable entry, allocated once).
    used: Vec<u32>,
    len: usize,
    limit: usize,
    seed: u64,
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
        let slots = match HugeBuf::new(slots, Slot::default()) {
            Ok(h) => Slots::Huge(h),
            Err(_) => Slots::Heap(vec![Slot::default(); slots].into_boxed_slice()),
        };
        FlowTable {
            slots,
            used: Vec::with_capacity(limit),
            len: 0,
            limit,
            seed: random_seed(),
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
        self.slots.len() * SLOT_BYTES + self.used.capacity() * std::mem::size_of::<u32>()
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

    /// Loads the home slot of `hash` so that a later `account_hashed` finds
    /// it in cache. Workers touch a whole stage of packets first, so the
    /// cache misses overlap instead of coming one after another.
    #[inline]
    pub fn touch(&self, hash: u64) {
        let i = hash as usize & (self.slots.len() - 1);
        std::hint::black_box(self.slots[i].stats.packets);
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
        self.account_hashed(key, hash, bytes, ts_ns, seq, tcp_flags)
    }

    /// [`account`](Self::account) with the hash already computed by [`hash`](Self::hash).
    #[inline]
    pub fn account_hashed(
        &mut self,
        key: &FlowKey,
        hash: u64,
        bytes: u64,
        ts_ns: u64,
        seq: u32,
        tcp_flags: u8,
    ) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let slot = &mut self.slots[i];
            if slot.stats.packets == 0 {
                if self.len == self.limit {
                    self.overflow_packets += 1;
                    self.overflow_bytes += bytes;
                    return false;
                }
                // within the capacity reserved at construction: no allocation
                self.used.push(i as u32);
                slot.key = *key;
                slot.stats = FlowStats {
                    packets: 1,
                    bytes,
                    first_ns: ts_ns,
                    last_ns: ts_ns,
                    first_seq: seq,
                    first_tcp_flags: tcp_flags,
                };
                self.len += 1;
                return true;
            }
            if slot.key.same(key) {
                let s = &mut slot.stats;
                s.packets += 1;
                s.bytes += bytes;
                s.last_ns = s.last_ns.max(ts_ns);
                return true;
            }
            i = (i + 1) & mask;
        }
    }

    /// Looks a flow up (for tests and diagnostics; not on the packet path).
    pub fn get(&self, key: &FlowKey) -> Option<FlowStats> {
        self.slots
            .iter()
            .find(|s| s.stats.packets != 0 && s.key == *key)
            .map(|s| s.stats)
    }

    /// Hands every flow to `f` and leaves the table empty, overflow counters
    /// included. Returns the overflow (packets, bytes) it cleared.
    pub fn drain(&mut self, mut f: impl FnMut(&FlowKey, &FlowStats)) -> (u64, u64) {
        for &i in &self.used {
            if let Some(slot) = self.slots.get_mut(i as usize) {
                f(&slot.key, &slot.stats);
                slot.stats.packets = 0;
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
    use crate::parse::PortKind;

    fn key(i: u32) -> FlowKey {
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&i.to_be_bytes());
        FlowKey::new(4, src, [9; 16], 17, PortKind::Ports, 1000, 53, 0)
    }

    #[test]
    fn at_most_96_bytes_per_entry() {
        assert_eq!(SLOT_BYTES, 80);
        // per usable entry at full load: 80 * 8 / 7 + 4 = 95.4
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
    fn counts_per_flow() {
        let mut t = FlowTable::with_capacity(16);
        assert!(t.account(&key(1), 100, 10, 0, 0));
        assert!(t.account(&key(1), 50, 30, 1, 0));
        assert!(t.account(&key(2), 60, 20, 2, 0x02));
        assert_eq!(t.len(), 2);
        let s = t.get(&key(1)).unwrap();
        assert_eq!(
            (s.packets, s.bytes, s.first_ns, s.last_ns),
            (2, 150, 10, 30)
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
}
