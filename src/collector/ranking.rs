//! Ranking: which entries and hosts are exported as series (the top ones
//! by bytes over the ranking window) and which are folded into "other".

use crate::flow::FlowKey;

/// Buckets of a ranking window.
pub(super) const BUCKETS: usize = 5;

/// Bytes over the last `BUCKETS` buckets of the ranking window, cleared
/// lazily: a bucket is zeroed when the entry is next written after its
/// time has passed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Window {
    pub(super) bytes: [u64; BUCKETS],
    /// Number of the bucket last written.
    pub(super) last: u64,
}

impl Window {
    pub(super) fn at(now: u64) -> Window {
        Window {
            bytes: [0; BUCKETS],
            last: now,
        }
    }

    #[inline]
    pub(super) fn add(&mut self, now: u64, bytes: u64) {
        if now != self.last {
            if now < self.last || now - self.last >= BUCKETS as u64 {
                self.bytes = [0; BUCKETS];
            } else {
                for b in self.last + 1..=now {
                    self.bytes[b as usize % BUCKETS] = 0;
                }
            }
            self.last = now;
        }
        self.bytes[now as usize % BUCKETS] += bytes;
    }

    /// Bytes in the buckets still inside the window at bucket `now`.
    pub(super) fn sum(&self, now: u64) -> u64 {
        let age = now.saturating_sub(self.last) as usize;
        (0..BUCKETS.saturating_sub(age))
            .map(|j| self.bytes[(self.last as usize + BUCKETS - j) % BUCKETS])
            .sum()
    }
}

/// What ranking and the slot tables need of an entry or a host.
pub(super) trait Ranked {
    type Key: Ord;
    fn alive(&self) -> bool;
    /// Marks it dead and not exported.
    fn forget(&mut self);
    /// Its key packed as a flow key, for the slot table's index.
    fn index_key(&self) -> FlowKey;
    fn window(&self) -> &Window;
    fn key(&self) -> Self::Key;
    /// Exports it or folds it; a folded one's base follows its total.
    fn set_exported(&mut self, exported: bool);
}

/// Exports the `n` live items with the most window bytes at bucket `now`
/// (ties: smallest key first) and folds the others. `rank` is scratch.
pub(super) fn rank_into<T: Ranked>(
    items: &mut [T],
    rank: &mut Vec<(u64, u32)>,
    now: u64,
    n: usize,
) {
    rank.clear();
    rank.extend(
        items
            .iter()
            .enumerate()
            .filter(|(_, x)| x.alive())
            .map(|(i, x)| (x.window().sum(now), i as u32)),
    );
    if rank.len() > n {
        if n > 0 {
            rank.select_nth_unstable_by(n - 1, |a, b| {
                b.0.cmp(&a.0)
                    .then_with(|| items[a.1 as usize].key().cmp(&items[b.1 as usize].key()))
            });
        }
        rank.truncate(n);
    }
    // walk the items and the chosen indices in step
    rank.sort_unstable_by_key(|r| r.1);
    let mut chosen = rank.iter().map(|r| r.1 as usize).peekable();
    for (i, x) in items.iter_mut().enumerate() {
        let sel = chosen.next_if_eq(&i).is_some();
        if x.alive() {
            x.set_exported(sel);
        }
    }
}
