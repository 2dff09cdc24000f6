//! A table of entries or hosts: slots in a `Vec` with a free list and an
//! index by key, growing on demand up to its bound.

use super::ranking::Ranked;
use crate::flow::{FlowKey, random_seed};
use crate::sys::HugeBuf;

/// Entries or hosts, in a `Vec` with a free list, so a cached index stays
/// cheap to check (the slot still holds the same key) and a forgotten
/// item's slot is used again, and found by key through an index.
pub(super) struct SlotTable<T> {
    pub(super) items: Vec<T>,
    /// Item of each [`Ranked::index_key`].
    index: ItemIndex,
    free: Vec<u32>,
}

impl<T: Ranked + Copy> SlotTable<T> {
    pub(super) fn new() -> SlotTable<T> {
        SlotTable {
            items: Vec::new(),
            index: ItemIndex::new(),
            free: Vec::new(),
        }
    }

    pub(super) fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// The generation of slot `i`: how many times its item was forgotten
    /// (see [`Ranked::generation`]).
    #[inline]
    pub(super) fn gen_of(&self, i: u32) -> u32 {
        self.items.get(i as usize).map_or(0, Ranked::generation)
    }

    /// Bytes the items and the index hold.
    pub(super) fn memory_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>() + self.index.memory_bytes()
    }

    /// Starts loading the index slot of `key`.
    #[inline]
    pub(super) fn touch_key(&self, key: &FlowKey) {
        self.index.touch(self.index.hash(key));
    }

    /// The index of the item of `key`; if there is none and fewer than
    /// `limit` are live, of a new one `make` builds; else `None`.
    pub(super) fn get_or_add(
        &mut self,
        key: FlowKey,
        limit: usize,
        make: impl FnOnce() -> T,
    ) -> Option<u32> {
        let h = self.index.hash(&key);
        if let Some(i) = self.index.find(&key, h, &self.items) {
            return Some(i);
        }
        if self.live() >= limit.min(MAX_ITEMS) {
            return None;
        }
        let item = make();
        let i = match self.free.pop() {
            Some(i) => {
                // the slot's generation goes on
                let generation = self.items[i as usize].generation();
                self.items[i as usize] = item;
                self.items[i as usize].set_generation(generation);
                i
            }
            None => {
                // grown by doubling, at most to the bound: a large `Vec`
                // is moved by remapping its pages, not copied, so the
                // memory is what the items need and not twice that
                let (len, cap) = (self.items.len(), self.items.capacity());
                if len == cap {
                    let bound = limit.clamp(1, MAX_ITEMS);
                    let to = cap.saturating_mul(2).max(GROW_FROM).min(bound);
                    self.items.reserve_exact(to.saturating_sub(len).max(1));
                }
                self.items.push(item);
                (self.items.len() - 1) as u32
            }
        };
        self.index.insert(h, i, &self.items);
        Some(i)
    }

    /// Forgets every live item `gone` picks. Returns whether any went.
    pub(super) fn forget_where(&mut self, mut gone: impl FnMut(&T) -> bool) -> bool {
        let mut any = false;
        for i in 0..self.items.len() {
            let x = &mut self.items[i];
            if x.alive() && gone(x) {
                x.forget();
                x.set_generation(x.generation().wrapping_add(1));
                let h = self.index.hash(&x.index_key());
                self.index.remove(h, i as u32, &self.items);
                self.free.push(i as u32);
                any = true;
            }
        }
        any
    }
}

/// Items a [`SlotTable`] makes room for when it first grows.
const GROW_FROM: usize = 1024;

/// Items a [`SlotTable`] holds at most: what an index slot can number
/// (24 bits, 0 meaning empty), the bound of `--max-entries`.
pub(super) const MAX_ITEMS: usize = crate::config::MAX_ENTRIES;

/// The index of a [`SlotTable`]: an open-addressing table of 4-byte
/// slots, each 8 bits of an item's hash above the item's number + 1, so
/// the key itself is read from the item (a slot whose bits differ is
/// passed over without reading it). Linear probing, backward-shift
/// removal (no tombstones; a slot that might move has its home found
/// from its item's key), at most 3/4 full: about 5.3 bytes per item
/// instead of a copy of its key.
pub(super) struct ItemIndex {
    /// 0: empty; else the hash's top 8 bits above the item's number + 1.
    slots: HugeBuf<u32>,
    len: usize,
    seed: u64,
}

/// 8 bits of the hash, above the item's number.
#[inline]
fn tag(hash: u64) -> u32 {
    ((hash >> 56) as u32) << 24
}

impl ItemIndex {
    fn new() -> ItemIndex {
        ItemIndex {
            slots: HugeBuf::new(8, 0),
            len: 0,
            seed: random_seed(),
        }
    }

    #[inline]
    pub(super) fn hash(&self, key: &FlowKey) -> u64 {
        key.hash(self.seed)
    }

    fn capacity(&self) -> usize {
        self.slots.len() * 3 / 4
    }

    fn memory_bytes(&self) -> usize {
        self.slots.len() * 4
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        crate::flow::map::probe_home(hash, self.slots.len())
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        crate::flow::map::probe_next(i, self.slots.len())
    }

    /// Loads the home slot of `hash`.
    #[inline]
    fn touch(&self, hash: u64) {
        if let Some(s) = self.slots.get(self.home(hash)) {
            crate::sys::prefetch_all(s);
        }
    }

    /// The item with `key`, comparing keys only where the hash bits agree.
    #[inline]
    fn find<T: Ranked>(&self, key: &FlowKey, hash: u64, items: &[T]) -> Option<u32> {
        let want = tag(hash);
        let mut i = self.home(hash);
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s & 0xff00_0000 == want {
                let item = (s & 0x00ff_ffff) - 1;
                if items
                    .get(item as usize)
                    .is_some_and(|x| x.index_key().same(key))
                {
                    return Some(item);
                }
            }
            i = self.next(i);
        }
    }

    /// Adds `item`, whose key is not in the index, growing beyond the
    /// capacity (reading the keys of the other live `items` again).
    fn insert<T: Ranked>(&mut self, hash: u64, item: u32, items: &[T]) {
        if self.len >= self.capacity() {
            self.rebuild(self.slots.len() * 2, items, Some(item));
        }
        self.put(hash, item);
    }

    fn put(&mut self, hash: u64, item: u32) {
        let mut i = self.home(hash);
        while self.slots[i] != 0 {
            i = self.next(i);
        }
        self.slots[i] = tag(hash) | (item + 1);
        self.len += 1;
    }

    /// Removes `item`, whose key hashes to `hash`, closing the gap behind
    /// it (the homes of the slots after it come from their items' keys).
    fn remove<T: Ranked>(&mut self, hash: u64, item: u32, items: &[T]) {
        let want = tag(hash) | (item + 1);
        let mut hole = self.home(hash);
        loop {
            match self.slots[hole] {
                0 => return,
                s if s == want => break,
                _ => hole = self.next(hole),
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
        let mut j = hole;
        loop {
            j = self.next(j);
            let s = self.slots[j];
            if s == 0 {
                return;
            }
            let Some(x) = items.get(((s & 0x00ff_ffff) - 1) as usize) else {
                continue;
            };
            let home = self.home(self.hash(&x.index_key()));
            if !crate::flow::map::stays_behind_hole(hole, home, j) {
                self.slots[hole] = s;
                self.slots[j] = 0;
                hole = j;
            }
        }
    }

    /// A new table of `slots` slots holding the live items but `skip`
    /// again.
    fn rebuild<T: Ranked>(&mut self, slots: usize, items: &[T], skip: Option<u32>) {
        self.slots = HugeBuf::new(slots, 0);
        self.len = 0;
        for (i, x) in items.iter().enumerate() {
            if x.alive() && skip != Some(i as u32) {
                let h = self.hash(&x.index_key());
                self.put(h, i as u32);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::ranking::test_item::Item;

    /// A forgotten item's slot counts one generation more, and keeps it
    /// when a new item takes the slot.
    #[test]
    fn generations_go_on_across_reuse() {
        let mut t: SlotTable<Item> = SlotTable::new();
        let item = |key| {
            move || Item {
                key,
                alive: true,
                ..Item::default()
            }
        };
        let a = t.get_or_add(crate::flow::numbered(1), 10, item(1)).unwrap();
        assert_eq!(t.gen_of(a), 0);
        assert!(t.forget_where(|x| x.key == 1));
        assert_eq!(t.gen_of(a), 1);
        let b = t.get_or_add(crate::flow::numbered(2), 10, item(2)).unwrap();
        assert_eq!((b, t.gen_of(b)), (a, 1));
        assert!(t.forget_where(|x| x.key == 2));
        assert_eq!(t.gen_of(a), 2);
    }

    /// Items come and go in random order and the table grows from its
    /// smallest size, never past its bound: every live key is found at
    /// its item, no gone one is, and a key comes back in another slot.
    #[test]
    fn slot_table_finds_what_is_there_and_nothing_else() {
        let mut rng = crate::tools::synth::Rng::new(5);
        let mut t: SlotTable<Item> = SlotTable::new();
        let mut live = std::collections::HashMap::new();
        for _ in 0..20_000u32 {
            let key = rng.below(4_000) as u32;
            let make = || Item {
                key,
                alive: true,
                ..Item::default()
            };
            let i = t.get_or_add(crate::flow::numbered(key), 2_500, make);
            match (i, live.get(&key)) {
                (Some(i), Some(&at)) => assert_eq!(i, at, "key {key}"),
                (Some(i), None) => {
                    live.insert(key, i);
                }
                (None, _) => assert_eq!(t.live(), 2_500),
            }
            // forget a few at random
            if rng.below(3) == 0 {
                let gone = rng.below(4_000) as u32;
                t.forget_where(|x| x.key == gone);
                live.remove(&gone);
            }
            assert_eq!(t.live(), live.len());
            assert!(t.items.capacity() <= 2_500, "{}", t.items.capacity());
        }
        assert!(t.items.capacity() > 1_024, "it grew");
        for k in 0..4_000u32 {
            let h = t.index.hash(&crate::flow::numbered(k));
            let found = t.index.find(&crate::flow::numbered(k), h, &t.items);
            assert_eq!(found, live.get(&k).copied(), "key {k}");
        }
    }
}
