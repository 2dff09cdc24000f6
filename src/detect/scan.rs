//! Scan detection: distinct targets per source within a tumbling interval,
//! in bounded memory.
//!
//! Each tracked key (a source, or a source and destination pair) keeps the
//! distinct targets it opened conversations to, as 32-bit fingerprints,
//! exactly up to one past the limit: then it is over and stops growing.
//! At most `capacity` keys are tracked. When the table is full, a new key
//! takes the place of the oldest key that still has a single target (what
//! a flood of spoofed one-packet sources leaves), never of a key with two
//! or more: a scanner is kept as long as it reaches a second target
//! before `capacity` newer single-target keys arrive. If every key has two
//! or more targets, the new key is not tracked, and counted.

use crate::flow::FastState;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// The distinct targets of a key: the first inline (most keys never have
/// another, and then nothing is allocated), the others behind one
/// pointer, so a key's entry is 16 bytes beside the key.
#[derive(Debug)]
struct Targets {
    first: u32,
    // boxed on purpose: a pointer beside every key instead of a vector's
    // three words, for the one key in many that has a second target
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<u32>>>,
}

impl Targets {
    fn len(&self) -> usize {
        1 + self.more.as_ref().map_or(0, |m| m.len())
    }

    fn contains(&self, t: &u32) -> bool {
        self.first == *t || self.more.as_ref().is_some_and(|m| m.contains(t))
    }

    fn push(&mut self, t: u32) {
        self.more.get_or_insert_default().push(t);
    }
}

/// Distinct targets per key, bounded.
#[derive(Debug)]
pub struct Distinct<K> {
    limit: usize,
    capacity: usize,
    keys: HashMap<K, Targets, FastState>,
    /// Keys in the order they were made; those that have since reached a
    /// second target are skipped when evicting. Every key in it is in
    /// `keys` (a key leaves `keys` only when it is popped from here, or
    /// with both cleared), so it holds `capacity` keys at most.
    single: VecDeque<K>,
    /// Keys that went over the limit since the last [`Distinct::take_over`].
    over: Vec<(K, usize)>,
    /// Keys not tracked for want of room.
    pub untracked: u64,
}

impl<K: Copy + Eq + Hash> Distinct<K> {
    /// Room for `capacity` keys, taken now.
    pub fn new(limit: usize, capacity: usize) -> Distinct<K> {
        Distinct {
            limit,
            capacity,
            keys: HashMap::with_capacity_and_hasher(capacity, FastState::default()),
            single: VecDeque::with_capacity(capacity),
            over: Vec::new(),
            untracked: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes it holds at most: the key table and its order, and each key's
    /// targets at their largest.
    pub fn memory_bound(&self) -> usize {
        let key = std::mem::size_of::<K>();
        self.capacity * (key + std::mem::size_of::<Targets>() + 8 + key)
            + self.capacity * ((self.limit + 1) * 4 + std::mem::size_of::<Vec<u32>>())
    }

    /// `key` opened a conversation to `target` (a fingerprint).
    pub fn add(&mut self, key: K, target: u32) {
        if let Some(t) = self.keys.get_mut(&key) {
            if t.len() <= self.limit && !t.contains(&target) {
                t.push(target);
                if t.len() == self.limit + 1 {
                    self.over.push((key, t.len()));
                }
            }
            return;
        }
        if self.keys.len() >= self.capacity && !self.evict() {
            self.untracked += 1;
            return;
        }
        self.keys.insert(
            key,
            Targets {
                first: target,
                more: None,
            },
        );
        self.single.push_back(key);
        if self.limit == 0 {
            self.over.push((key, 1));
        }
    }

    /// Drops the oldest key with a single target; false if there is none.
    fn evict(&mut self) -> bool {
        while let Some(k) = self.single.pop_front() {
            if self.keys.get(&k).is_some_and(|t| t.len() == 1) {
                self.keys.remove(&k);
                return true;
            }
        }
        false
    }

    /// The keys that went over the limit since the last call, with how
    /// many distinct targets they had then.
    pub fn take_over(&mut self) -> Vec<(K, usize)> {
        std::mem::take(&mut self.over)
    }

    /// Whether `key` is over the limit in this interval.
    pub fn is_over(&self, key: &K) -> bool {
        self.keys.get(key).is_some_and(|t| t.len() > self.limit)
    }

    /// Starts a new interval: forgets every key, keeps the room.
    pub fn clear(&mut self) {
        self.keys.clear();
        self.single.clear();
        self.over.clear();
    }
}

/// A 32-bit fingerprint of an address (or address and port).
pub fn fingerprint(bytes: &[u8]) -> u32 {
    // FNV-1a: cheap, and enough to tell a few hundred targets apart
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_up_to_one_past_the_limit() {
        let mut d: Distinct<u32> = Distinct::new(3, 10);
        for t in [1, 2, 2, 3, 1, 3] {
            d.add(7, t);
        }
        assert!(
            !d.is_over(&7) && d.take_over().is_empty(),
            "3 distinct: not over"
        );
        d.add(7, 4);
        assert!(d.is_over(&7));
        assert_eq!(d.take_over(), [(7, 4)]);
        // stops growing once over
        for t in 5..100 {
            d.add(7, t);
        }
        assert!(d.take_over().is_empty());
        assert_eq!(d.keys[&7].len(), 4);
    }

    #[test]
    fn a_flood_of_single_target_keys_does_not_evict_a_scanner() {
        let (limit, capacity) = (50, 20_000);
        let mut d: Distinct<u32> = Distinct::new(limit, capacity);
        let scanner = u32::MAX;
        let mut next_source = 0u32;
        let room = d.single.capacity();
        // a million one-packet sources, with the scanner's 100 targets
        // spread among them: 10000 new sources between two of its targets,
        // fewer than the table holds
        for round in 0..100u32 {
            d.add(scanner, round);
            for _ in 0..10_000 {
                d.add(next_source, 1);
                next_source += 1;
            }
            assert!(d.len() <= capacity);
        }
        // the order of keys never needed more than the room taken at start
        assert!(d.single.len() <= capacity);
        assert_eq!(d.single.capacity(), room);
        assert!(d.is_over(&scanner), "the scanner is still tracked and over");
        assert_eq!(d.take_over(), [(scanner, limit + 1)]);
        assert_eq!(d.untracked, 0);
    }

    #[test]
    fn when_every_key_has_two_targets_new_ones_are_counted_not_tracked() {
        let mut d: Distinct<u32> = Distinct::new(5, 3);
        for k in 0..3 {
            d.add(k, 1);
            d.add(k, 2);
        }
        d.add(9, 1);
        assert_eq!((d.len(), d.untracked), (3, 1));
        d.clear();
        assert!(d.is_empty());
        d.add(9, 1);
        assert_eq!(d.len(), 1);
    }
}
