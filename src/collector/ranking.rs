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

/// Which items are exported, kept up to date at each publication at a
/// cost that grows with the items counted since the last one, not with
/// all the items: between two changes of the window's bucket, an item's
/// window bytes only grow, and only when it is counted, so the top `n`
/// after a refresh are the top `n` of those exported before and those
/// counted since. The exported sit in a heap, the least first, with their
/// window bytes as last seen. A full ranking ([`rank_into`]) runs when
/// the bucket changes (the window slides), when items were forgotten or
/// the settings changed, and the first time.
#[derive(Default)]
pub(super) struct Ranking {
    /// The exported as a heap of (window bytes, item), the least first.
    heap: Vec<(u64, u32)>,
    /// Per item, its place in the heap ([`NOT_EXPORTED`] if none).
    pos: Vec<u32>,
    /// Items counted since the last ranking (possibly more than once).
    touched: Vec<u32>,
    /// The bucket of the last ranking; `None`: a full ranking is due.
    bucket: Option<u64>,
    /// Scratch of the full ranking.
    scratch: Vec<(u64, u32)>,
}

const NOT_EXPORTED: u32 = u32::MAX;

/// Is `a` ahead of `b`: more bytes, or as many and a smaller key?
#[inline]
fn better<T: Ranked>(a: (u64, u32), b: (u64, u32), items: &[T]) -> bool {
    a.0.cmp(&b.0)
        .then_with(|| items[b.1 as usize].key().cmp(&items[a.1 as usize].key()))
        .is_gt()
}

impl Ranking {
    /// Item `i` was counted (or made).
    #[inline]
    pub(super) fn touched(&mut self, i: u32) {
        self.touched.push(i);
    }

    /// The next ranking looks at every item.
    pub(super) fn invalidate(&mut self) {
        self.bucket = None;
    }

    fn place(&mut self, at: usize) {
        if let Some(p) = self.pos.get_mut(self.heap[at].1 as usize) {
            *p = at as u32;
        }
    }

    /// Moves the heap's item at `at` towards the leaves while a child is
    /// behind it.
    fn down<T: Ranked>(&mut self, mut at: usize, items: &[T]) {
        loop {
            let (l, r) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            if l < self.heap.len() && better(self.heap[least], self.heap[l], items) {
                least = l;
            }
            if r < self.heap.len() && better(self.heap[least], self.heap[r], items) {
                least = r;
            }
            if least == at {
                return;
            }
            self.heap.swap(at, least);
            self.place(at);
            self.place(least);
            at = least;
        }
    }

    /// Moves the heap's item at `at` towards the root while it is behind
    /// its parent.
    fn up<T: Ranked>(&mut self, mut at: usize, items: &[T]) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if !better(self.heap[parent], self.heap[at], items) {
                return;
            }
            self.heap.swap(parent, at);
            self.place(parent);
            self.place(at);
            at = parent;
        }
    }

    /// Exports the `n` live items with the most window bytes at bucket
    /// `now` (ties: smallest key first) and folds the others.
    pub(super) fn rank<T: Ranked>(&mut self, items: &mut [T], now: u64, n: usize) {
        if self.pos.len() < items.len() {
            self.pos.resize(items.len(), NOT_EXPORTED);
        }
        let mut touched = std::mem::take(&mut self.touched);
        if self.bucket != Some(now) {
            rank_into(items, &mut self.scratch, now, n);
            for &(_, i) in &self.heap {
                self.pos[i as usize] = NOT_EXPORTED;
            }
            // the chosen, with their window bytes
            self.heap.clear();
            self.heap.extend_from_slice(&self.scratch);
            for at in 0..self.heap.len() {
                self.place(at);
            }
            for at in (0..self.heap.len() / 2).rev() {
                self.down(at, items);
            }
            self.bucket = Some(now);
        } else {
            for &i in &touched {
                let x = &items[i as usize];
                if !x.alive() {
                    continue;
                }
                let sum = x.window().sum(now);
                match self.pos[i as usize] {
                    NOT_EXPORTED => {
                        let cand = (sum, i);
                        if self.heap.len() < n {
                            items[i as usize].set_exported(true);
                            self.heap.push(cand);
                            let at = self.heap.len() - 1;
                            self.place(at);
                            self.up(at, items);
                        } else if n > 0 && better(cand, self.heap[0], items) {
                            let out = self.heap[0].1;
                            items[out as usize].set_exported(false);
                            self.pos[out as usize] = NOT_EXPORTED;
                            items[i as usize].set_exported(true);
                            self.heap[0] = cand;
                            self.place(0);
                            self.down(0, items);
                        } else {
                            // stays folded: its base follows its total
                            items[i as usize].set_exported(false);
                        }
                    }
                    at => {
                        // exported and counted: more bytes, further from
                        // the least
                        let at = at as usize;
                        self.heap[at].0 = sum;
                        self.down(at, items);
                    }
                }
            }
        }
        touched.clear();
        self.touched = touched;
    }

    /// The exported items of `items` (in no particular order), each loaded
    /// a few ahead of its use: they are scattered over the table.
    pub(super) fn exported<'a, T>(&'a self, items: &'a [T]) -> impl Iterator<Item = &'a T> + 'a {
        self.heap
            .iter()
            .enumerate()
            .filter_map(move |(n, &(_, i))| {
                if let Some(x) = self
                    .heap
                    .get(n + 8)
                    .and_then(|&(_, next)| items.get(next as usize))
                {
                    crate::sys::prefetch_all(x);
                }
                items.get(i as usize)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Default)]
    struct Item {
        key: u32,
        alive: bool,
        exported: bool,
        window: Window,
    }

    impl Ranked for Item {
        type Key = u32;
        fn alive(&self) -> bool {
            self.alive
        }
        fn forget(&mut self) {
            self.alive = false;
            self.exported = false;
        }
        fn index_key(&self) -> FlowKey {
            FlowKey::default()
        }
        fn window(&self) -> &Window {
            &self.window
        }
        fn key(&self) -> u32 {
            self.key
        }
        fn set_exported(&mut self, exported: bool) {
            self.exported = exported;
        }
    }

    #[test]
    fn ranking_what_was_counted_agrees_with_ranking_everything() {
        let mut rng = crate::tools::synth::Rng::new(9);
        let mut items: Vec<Item> = (0..500)
            .map(|key| Item {
                key,
                alive: true,
                ..Item::default()
            })
            .collect();
        let mut inc = Ranking::default();
        for round in 0..200u64 {
            // four buckets of 50 rounds
            let bucket = round / 50;
            // some items counted, many with the same bytes (ties by key)
            for _ in 0..rng.below(40) {
                let i = rng.below(500) as u32;
                items[i as usize].window.add(bucket, 100 * rng.below(3));
                inc.touched(i);
            }
            // n changes with the bucket (a reload would invalidate)
            let n = [1, 20, 0, 499][bucket as usize];
            let mut full = items.clone();
            // one ranking that always looks at everything, for comparison
            rank_into(&mut full, &mut Vec::new(), bucket, n);
            inc.rank(&mut items, bucket, n);
            let want: Vec<u32> = (0..500).filter(|&i| full[i as usize].exported).collect();
            let got: Vec<u32> = (0..500).filter(|&i| items[i as usize].exported).collect();
            assert_eq!(got, want, "round {round}, n {n}");
            let mut listed: Vec<u32> = inc.exported(&items).map(|x| x.key).collect();
            listed.sort();
            assert_eq!(listed, want);
        }
    }
}
