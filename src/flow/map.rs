//! An open-addressing map from [`FlowKey`] to a small `Copy` value, for the
//! collector's per-conversation state. Like the worker's table it lets the
//! caller hash first and [`touch`](FlowMap::touch) the home slot, so the
//! cache misses of a whole stage of lookups overlap.

use super::{FlowKey, random_seed};
use crate::capture::sys::HugeBuf;

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

impl<V: Copy + Default> FlowMap<V> {
    fn with_slots(n: usize) -> FlowMap<V> {
        FlowMap {
            slots: HugeBuf::new(n.next_power_of_two().max(8), Slot::default()),
            len: 0,
            seed: random_seed(),
        }
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

    /// Loads the home slot of `hash` (see the module docs).
    #[inline]
    pub fn touch(&self, hash: u64) {
        let i = hash as usize & (self.slots.len() - 1);
        if let Some(s) = self.slots.get(i) {
            crate::capture::sys::prefetch(s);
        }
    }

    #[inline]
    pub fn get_mut(&mut self, key: &FlowKey, hash: u64) -> Option<&mut V> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let s = &self.slots[i];
            if !s.used {
                return None;
            }
            if s.key.same(key) {
                return Some(&mut self.slots[i].value);
            }
            i = (i + 1) & mask;
        }
    }

    /// Inserts or replaces.
    pub fn insert(&mut self, key: FlowKey, hash: u64, value: V) {
        if (self.len + 1) * 8 > self.slots.len() * 7 {
            self.rebuild(self.slots.len() * 2, |_, _| true);
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let s = &mut self.slots[i];
            if !s.used {
                *s = Slot {
                    key,
                    used: true,
                    value,
                };
                self.len += 1;
                return;
            }
            if s.key.same(&key) {
                s.value = value;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    /// Keeps the entries `keep` accepts. Rebuilds only if any goes.
    pub fn retain(&mut self, mut keep: impl FnMut(&FlowKey, &V) -> bool) {
        let gone = self
            .slots
            .iter()
            .filter(|s| s.used && !keep(&s.key, &s.value))
            .count();
        if gone > 0 {
            let n = self.slots.len();
            self.rebuild(n, keep);
        }
    }

    fn rebuild(&mut self, slots: usize, mut keep: impl FnMut(&FlowKey, &V) -> bool) {
        let old = std::mem::replace(&mut self.slots, HugeBuf::new(slots, Slot::default()));
        self.len = 0;
        for s in old.iter().copied().filter(|s| s.used) {
            if keep(&s.key, &s.value) {
                let h = self.hash(&s.key);
                self.insert(s.key, h, s.value);
            }
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
}
