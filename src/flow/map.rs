//! An open-addressing map from [`FlowKey`] to a small `Copy` value, for the
//! collector's conversations. Like the worker's table it lets the
//! caller hash first and [`touch`](FlowMap::touch) the home slot, so the
//! cache misses of a whole stage of lookups overlap. Linear probing with
//! backward-shift removal: no tombstones, so a map that is sized once at
//! start stays as fast however many entries come and go.

use super::{FlowKey, random_seed};
use crate::sys::HugeBuf;

#[derive(Clone, Copy, Default)]
struct Slot<V> {
    key: FlowKey,
    used: bool,
    value: V,
}

pub struct FlowMap<V: Copy + Default> {
    slots: HugeBuf<Slot<V>>,
    len: usize,
    seed: u64,
}

impl<V: Copy + Default> Default for FlowMap<V> {
    fn default() -> Self {
        FlowMap::with_slots(1024)
    }
}

/// Never more than 3/4 of the slots in use, so a miss probes a few slots,
/// not dozens.
const LOAD_NUM: usize = 3;
const LOAD_DEN: usize = 4;

/// Slots for `n` entries at most 3/4 full (any count: the home slot comes
/// from a multiply, not a mask, so a reserved map is not rounded up to
/// twice its size).
fn slots_for(n: usize) -> usize {
    n.saturating_mul(LOAD_DEN).div_ceil(LOAD_NUM).max(8)
}

/// The slot of `len` that a probe for `hash` starts at: its high bits
/// scaled to the slot count (any count: a multiply, not a mask).
#[inline]
pub(crate) fn probe_home(hash: u64, len: usize) -> usize {
    ((u128::from(hash) * len as u128) >> 64) as usize
}

/// Backward-shift removal: whether the entry in slot `j`, whose home is
/// `home`, must stay where it is when slot `hole` (before `j` in its probe
/// run) empties: its home lies cyclically in (hole, j], so the hole is
/// before its home and moving it there would lose it.
#[inline]
pub(crate) fn stays_behind_hole(hole: usize, home: usize, j: usize) -> bool {
    if hole <= j {
        hole < home && home <= j
    } else {
        hole < home || home <= j
    }
}

/// The slot after `i` of `len`, wrapping at the end.
#[inline]
pub(crate) fn probe_next(i: usize, len: usize) -> usize {
    if i + 1 == len { 0 } else { i + 1 }
}

impl<V: Copy + Default> FlowMap<V> {
    fn with_slots(n: usize) -> FlowMap<V> {
        FlowMap {
            slots: HugeBuf::new(n.max(8), Slot::default()),
            len: 0,
            seed: random_seed(),
        }
    }

    /// A map that holds `n` entries without growing. Its memory is written
    /// once here, so inserting later never waits for the kernel to find a
    /// page.
    pub fn with_capacity(n: usize) -> FlowMap<V> {
        FlowMap::with_slots(slots_for(n))
    }

    /// Entries it holds without growing.
    pub fn capacity(&self) -> usize {
        self.slots.len() * LOAD_NUM / LOAD_DEN
    }

    /// Grows, if needed, to hold `n` entries.
    pub fn reserve(&mut self, n: usize) {
        if n > self.capacity() {
            self.grow(slots_for(n));
        }
    }

    /// Bytes of memory it holds.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot<V>>()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn hash(&self, key: &FlowKey) -> u64 {
        key.hash(self.seed)
    }

    /// Loads the home slot of `hash` (see the module docs), all the lines
    /// it spans: a slot is not a whole line, and its key and `used` flag
    /// may sit on different ones.
    #[inline]
    pub fn touch(&self, hash: u64) {
        if let Some(s) = self.slots.get(self.home(hash)) {
            crate::sys::prefetch_all(s);
        }
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        probe_home(hash, self.slots.len())
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        probe_next(i, self.slots.len())
    }

    /// Where `key` is (`Ok`), or the free slot that ends its probe run
    /// (`Err`).
    #[inline]
    fn find(&self, key: &FlowKey, hash: u64) -> Result<usize, usize> {
        let mut i = self.home(hash);
        loop {
            let s = &self.slots[i];
            if !s.used {
                return Err(i);
            }
            if s.key.same(key) {
                return Ok(i);
            }
            i = self.next(i);
        }
    }

    #[inline]
    pub fn get_mut(&mut self, key: &FlowKey, hash: u64) -> Option<&mut V> {
        let i = self.find(key, hash).ok()?;
        Some(&mut self.slots[i].value)
    }

    /// Inserts or replaces. Grows (a new mapping, and a copy) only beyond
    /// the capacity.
    pub fn insert(&mut self, key: FlowKey, hash: u64, value: V) {
        let free = match self.find(&key, hash) {
            Ok(i) => {
                self.slots[i].value = value;
                return;
            }
            Err(i) => i,
        };
        let free = if self.len < self.capacity() {
            free
        } else {
            self.grow(self.slots.len() * 2);
            match self.find(&key, hash) {
                Ok(i) | Err(i) => i,
            }
        };
        self.slots[free] = Slot {
            key,
            used: true,
            value,
        };
        self.len += 1;
    }

    /// Removes `key`, returning its value. The entries after it in its
    /// probe run move back into the hole where that keeps them reachable
    /// (backward-shift deletion), so lookups never meet a tombstone.
    pub fn remove(&mut self, key: &FlowKey, hash: u64) -> Option<V> {
        let i = self.find(key, hash).ok()?;
        let value = self.slots[i].value;
        self.remove_at(i);
        Some(value)
    }

    /// Empties slot `hole` and closes the gap behind it.
    fn remove_at(&mut self, mut hole: usize) {
        self.slots[hole].used = false;
        self.len -= 1;
        let mut j = hole;
        loop {
            j = self.next(j);
            let s = self.slots[j];
            if !s.used {
                return;
            }
            if !stays_behind_hole(hole, self.home(self.hash(&s.key)), j) {
                self.slots[hole] = s;
                self.slots[j].used = false;
                hole = j;
            }
        }
    }

    /// Keeps the entries `keep` accepts, in place. `keep` must answer the
    /// same for the same entry: one that a removal moves back across the
    /// end of the array is asked again.
    pub fn retain(&mut self, mut keep: impl FnMut(&FlowKey, &V) -> bool) {
        let mut i = 0;
        while i < self.slots.len() {
            let s = &self.slots[i];
            if s.used && !keep(&s.key, &s.value) {
                // an entry from further on may have moved into slot i
                self.remove_at(i);
            } else {
                i += 1;
            }
        }
    }

    /// Moves everything into a new mapping of `slots` slots.
    fn grow(&mut self, slots: usize) {
        let old = std::mem::replace(&mut self.slots, HugeBuf::new(slots, Slot::default()));
        self.len = 0;
        for s in old.iter().filter(|s| s.used) {
            let h = self.hash(&s.key);
            self.insert(s.key, h, s.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::numbered as key;

    #[test]
    fn insert_get_grow_retain() {
        let mut m: FlowMap<u64> = FlowMap::default();
        for i in 0..10_000u32 {
            let k = key(i);
            let h = m.hash(&k);
            m.insert(k, h, u64::from(i) * 2);
        }
        assert_eq!(m.len(), 10_000);
        for i in 0..10_000u32 {
            let k = key(i);
            let h = m.hash(&k);
            assert_eq!(m.get_mut(&k, h).copied(), Some(u64::from(i) * 2));
        }
        let k = key(10_001);
        assert!(m.get_mut(&k, m.hash(&k)).is_none());
        m.retain(|_, v| v % 4 == 0);
        assert_eq!(m.len(), 5_000);
        let k = key(3);
        assert!(m.get_mut(&k, m.hash(&k)).is_none());
        let k = key(4);
        let h = m.hash(&k);
        *m.get_mut(&k, h).unwrap() += 1;
        assert_eq!(m.get_mut(&k, h).copied(), Some(9));
        m.insert(k, h, 1);
        assert_eq!((m.get_mut(&k, h).copied(), m.len()), (Some(1), 5_000));
    }

    /// Removal and in-place retain against a plain HashMap, on a small map
    /// kept nearly full, so probe runs are long and wrap around the end.
    #[test]
    fn remove_and_retain_keep_every_entry_reachable() {
        use std::collections::HashMap;
        let mut m: FlowMap<u32> = FlowMap::with_capacity(56);
        assert_eq!((m.capacity(), m.memory_bytes() > 0), (56, true));
        let mut model: HashMap<u32, u32> = HashMap::new();
        let mut x = 0x9e37_79b9_u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for round in 0..20_000u32 {
            let r = next();
            let id = r % 90;
            let k = key(id);
            let h = m.hash(&k);
            match r >> 29 {
                0..=3 if model.len() < 56 || model.contains_key(&id) => {
                    m.insert(k, h, round);
                    model.insert(id, round);
                }
                0..=5 => assert_eq!(m.remove(&k, h), model.remove(&id)),
                _ => {
                    let cut = next() % 90;
                    m.retain(|k, _| numbered_id(k) >= cut);
                    model.retain(|&id, _| id >= cut);
                }
            }
            assert_eq!(m.len(), model.len());
            for id in 0..90 {
                let k = key(id);
                let h = m.hash(&k);
                assert_eq!(m.get_mut(&k, h).copied(), model.get(&id).copied(), "{id}");
            }
        }
        // never grew: the capacity was enough
        assert_eq!(m.capacity(), 56);
    }

    fn numbered_id(k: &FlowKey) -> u32 {
        (0..90).find(|&i| key(i) == *k).expect("a numbered key")
    }
}
