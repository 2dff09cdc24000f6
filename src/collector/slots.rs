//! A table of entries or hosts: slots in a `Vec` with a free list and an
//! index by key, reserved once at start.

use super::ranking::Ranked;
use crate::flow::FlowKey;
use crate::flow::map::FlowMap;

/// Grows `v`'s capacity to `n` items and writes all of it once, so its
/// pages are the process's from now on (`fill` is overwritten before it
/// is ever read).
pub(super) fn reserve_written<T: Copy>(v: &mut Vec<T>, n: usize, fill: T) {
    if n > v.capacity() {
        let len = v.len();
        v.reserve_exact(n - len);
        v.resize(n, fill);
        v.truncate(len);
    }
}

/// Entries or hosts, in a `Vec` with a free list, so a cached index stays
/// cheap to check (the slot still holds the same key) and a forgotten
/// item's slot is used again, and found by key through an index.
pub(super) struct SlotTable<T> {
    pub(super) items: Vec<T>,
    /// Item of each [`Ranked::index_key`].
    index: FlowMap<u32>,
    free: Vec<u32>,
    /// Per slot, how many times its item was forgotten: an index cached
    /// with its generation is still good while the generation is.
    gens: Vec<u32>,
}

impl<T: Ranked + Copy> SlotTable<T> {
    pub(super) fn new() -> SlotTable<T> {
        SlotTable {
            items: Vec::new(),
            index: FlowMap::default(),
            free: Vec::new(),
            gens: Vec::new(),
        }
    }

    pub(super) fn live(&self) -> usize {
        self.items.len() - self.free.len()
    }

    /// Room for `n` items, written once now (see [`reserve_written`]).
    pub(super) fn reserve(&mut self, n: usize, vacant: T) {
        self.index.reserve(n);
        reserve_written(&mut self.items, n, vacant);
        reserve_written(&mut self.gens, n, 0);
    }

    /// The generation of slot `i` (see [`SlotTable::gens`]).
    #[inline]
    pub(super) fn gen_of(&self, i: u32) -> u32 {
        self.gens.get(i as usize).copied().unwrap_or(0)
    }

    /// Bytes the items and the index hold.
    pub(super) fn memory_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>()
            + self.gens.capacity() * 4
            + self.index.memory_bytes()
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
                self.gens.push(0);
                (self.items.len() - 1) as u32
            }
        };
        self.index.insert(key, h, i);
        Some(i)
    }

    /// Forgets every live item `gone` picks. Returns whether any went.
    pub(super) fn forget_where(&mut self, mut gone: impl FnMut(&T) -> bool) -> bool {
        let mut any = false;
        for (i, x) in self.items.iter_mut().enumerate() {
            if x.alive() && gone(x) {
                x.forget();
                if let Some(g) = self.gens.get_mut(i) {
                    *g = g.wrapping_add(1);
                }
                let k = x.index_key();
                self.index.remove(&k, self.index.hash(&k));
                self.free.push(i as u32);
                any = true;
            }
        }
        any
    }
}
