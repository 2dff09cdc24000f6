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
    /// The start of its key as a number in the key's order: a smaller
    /// prefix means a smaller key, so most ties of bytes are broken
    /// without reading the items (equal prefixes compare the keys).
    fn key_prefix(&self) -> u64;
    fn window(&self) -> &Window;
    fn key(&self) -> Self::Key;
    /// Exports it or folds it; a folded one's base follows its total.
    fn set_exported(&mut self, exported: bool);
    /// How many times its slot's item was forgotten: a cached item number
    /// is still good while the generation is.
    fn generation(&self) -> u32;
    fn set_generation(&mut self, generation: u32);
}

/// Exports the `n` live items with the most window bytes at bucket `now`
/// (ties: smallest key first) and folds the others. `rank` is scratch:
/// the chosen so far, as a heap with the least first, so it holds `n`
/// places however many items there are.
pub(super) fn rank_into<T: Ranked>(items: &mut [T], rank: &mut Vec<Place>, now: u64, n: usize) {
    rank.clear();
    if n > 0 {
        for (i, x) in items.iter().enumerate() {
            if !x.alive() {
                continue;
            }
            let p = Place::of(x, i as u32, now);
            if rank.len() < n {
                rank.push(p);
                let last = rank.len() - 1;
                sift_up(rank, last, items);
            } else if better(p, rank[0], items) {
                rank[0] = p;
                sift_down(rank, 0, items);
            }
        }
    }
    // walk the items and the chosen indices in step
    rank.sort_unstable_by_key(|r| r.item);
    let mut chosen = rank.iter().map(|r| r.item as usize).peekable();
    for (i, x) in items.iter_mut().enumerate() {
        let sel = chosen.next_if_eq(&i).is_some();
        if x.alive() {
            x.set_exported(sel);
        }
    }
}

/// Moves `heap[at]` towards the root while it is behind its parent (the
/// least at the root).
fn sift_up<T: Ranked>(heap: &mut [Place], mut at: usize, items: &[T]) {
    while at > 0 {
        let parent = (at - 1) / 2;
        if !better(heap[parent], heap[at], items) {
            return;
        }
        heap.swap(parent, at);
        at = parent;
    }
}

/// Moves `heap[at]` towards the leaves while a child is behind it.
fn sift_down<T: Ranked>(heap: &mut [Place], mut at: usize, items: &[T]) {
    loop {
        let (l, r) = (2 * at + 1, 2 * at + 2);
        let mut least = at;
        if l < heap.len() && better(heap[least], heap[l], items) {
            least = l;
        }
        if r < heap.len() && better(heap[least], heap[r], items) {
            least = r;
        }
        if least == at {
            return;
        }
        heap.swap(at, least);
        at = least;
    }
}

/// Which items are exported, kept up to date at each publication at a
/// cost that grows with the items counted since the last one, not with
/// all the items: between two changes of the window's bucket, an item's
/// window bytes only grow, and only when it is counted, so the top `n`
/// after a refresh are the top `n` of those exported before and those
/// counted since. The exported sit in a heap, the least first, with their
/// window bytes as last seen: a lower bound, since they only grow, made
/// exact when the item comes to the root, so an exported item counted
/// again costs nothing. Beside the heap, the exported in key order, the
/// order of the published rows, kept by merging in those that entered. A
/// full ranking ([`rank_into`]) runs when the bucket changes (the window
/// slides), when items were forgotten or the settings changed, and the
/// first time.
#[derive(Default)]
pub(super) struct Ranking {
    /// The exported as a heap, the least first.
    heap: Vec<Place>,
    /// Per item, its place in the heap ([`NOT_EXPORTED`] if none).
    pos: Vec<u32>,
    /// Items counted since the last ranking (possibly more than once).
    touched: Vec<u32>,
    /// The bucket of the last ranking; `None`: a full ranking is due.
    bucket: Option<u64>,
    /// Scratch of the full ranking.
    scratch: Vec<Place>,
    /// The exported in key order, as of the end of the last ranking.
    order: Vec<u32>,
    /// Per item, whether it is in `order`.
    listed: Vec<bool>,
    /// Items exported since `order` was made (some may have left again).
    entered: Vec<u32>,
    /// `order` is made again from the heap at the end of the ranking.
    reorder: bool,
}

const NOT_EXPORTED: u32 = u32::MAX;

/// How many items ahead of its turn a counted item starts loading.
const AHEAD: usize = 8;

/// An item's place in a ranking: its window bytes (as last seen, in the
/// heap), the start of its key, and the item.
#[derive(Clone, Copy, Debug)]
pub(super) struct Place {
    bytes: u64,
    prefix: u64,
    item: u32,
}

impl Place {
    #[inline]
    fn of<T: Ranked>(x: &T, item: u32, now: u64) -> Place {
        Place {
            bytes: x.window().sum(now),
            prefix: x.key_prefix(),
            item,
        }
    }
}

/// The ranking's order: `Less` when `a` is ahead of `b` (more bytes, or
/// as many and a smaller key).
#[inline]
fn ahead<T: Ranked>(a: Place, b: Place, items: &[T]) -> std::cmp::Ordering {
    b.bytes
        .cmp(&a.bytes)
        .then(a.prefix.cmp(&b.prefix))
        .then_with(|| {
            items[a.item as usize]
                .key()
                .cmp(&items[b.item as usize].key())
        })
}

/// Is `a` ahead of `b`?
#[inline]
fn better<T: Ranked>(a: Place, b: Place, items: &[T]) -> bool {
    ahead(a, b, items).is_lt()
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
        if let Some(p) = self.pos.get_mut(self.heap[at].item as usize) {
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

    /// The heap's least item, with what the heap holds for every item
    /// made exact up to it: an exported item's window bytes only grow
    /// within a bucket, so the heap holds a lower bound for each, and a
    /// root whose bound is exact is the least of all.
    fn settle_root<T: Ranked>(&mut self, items: &[T], now: u64) -> Place {
        loop {
            let root = self.heap[0];
            let sum = items[root.item as usize].window().sum(now);
            if sum == root.bytes {
                return root;
            }
            self.heap[0].bytes = sum;
            self.down(0, items);
        }
    }

    /// Exports the `n` live items with the most window bytes at bucket
    /// `now` (ties: smallest key first) and folds the others.
    pub(super) fn rank<T: Ranked>(&mut self, items: &mut [T], now: u64, n: usize) {
        if self.pos.len() < items.len() {
            self.pos.resize(items.len(), NOT_EXPORTED);
            self.listed.resize(items.len(), false);
        }
        let mut touched = std::mem::take(&mut self.touched);
        if self.bucket != Some(now) {
            rank_into(items, &mut self.scratch, now, n);
            for p in &self.heap {
                self.pos[p.item as usize] = NOT_EXPORTED;
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
            self.reorder = true;
        } else {
            for (k, &i) in touched.iter().enumerate() {
                // the items counted are scattered over the table: each
                // starts loading a few before its turn
                if let Some(&j) = touched.get(k + AHEAD) {
                    if let Some(x) = items.get(j as usize) {
                        crate::sys::prefetch_all(x);
                    }
                    if let Some(p) = self.pos.get(j as usize) {
                        crate::sys::prefetch(p);
                    }
                }
                let x = &items[i as usize];
                if !x.alive() || self.pos[i as usize] != NOT_EXPORTED {
                    // exported and counted: its bytes grew, so what the
                    // heap holds for it is a lower bound, made exact when
                    // it comes to the root (see `settle_root`)
                    continue;
                }
                let cand = Place::of(x, i, now);
                if self.heap.len() < n {
                    items[i as usize].set_exported(true);
                    self.entered.push(i);
                    self.heap.push(cand);
                    let at = self.heap.len() - 1;
                    self.place(at);
                    self.up(at, items);
                } else if n > 0 && better(cand, self.settle_root(items, now), items) {
                    let out = self.heap[0].item;
                    items[out as usize].set_exported(false);
                    self.pos[out as usize] = NOT_EXPORTED;
                    items[i as usize].set_exported(true);
                    self.entered.push(i);
                    self.heap[0] = cand;
                    self.place(0);
                    self.down(0, items);
                } else {
                    // stays folded: its base follows its total
                    items[i as usize].set_exported(false);
                }
            }
        }
        touched.clear();
        self.touched = touched;
        self.order_exported(items);
    }

    /// Brings `order` up to date: made again after a full ranking;
    /// otherwise those that left are dropped and those that entered are
    /// sorted and merged in, so a ranking that changed little costs a
    /// walk of the exported, not a sort of them.
    fn order_exported<T: Ranked>(&mut self, items: &[T]) {
        let key = |i: &u32| items[*i as usize].key();
        if self.reorder {
            self.reorder = false;
            self.entered.clear();
            for &i in &self.order {
                self.listed[i as usize] = false;
            }
            self.order.clear();
            self.order.extend(self.heap.iter().map(|h| h.item));
            self.order.sort_unstable_by_key(key);
            for &i in &self.order {
                self.listed[i as usize] = true;
            }
            return;
        }
        if self.entered.is_empty() {
            // nothing entered, so nothing left either
            return;
        }
        let mut entered = std::mem::take(&mut self.entered);
        entered.retain(|&i| self.pos[i as usize] != NOT_EXPORTED && !self.listed[i as usize]);
        entered.sort_unstable_by_key(key);
        entered.dedup();
        let old = std::mem::take(&mut self.order);
        let mut order = Vec::with_capacity(self.heap.len());
        let mut new = entered.iter().copied().peekable();
        for i in old {
            if self.pos[i as usize] == NOT_EXPORTED {
                self.listed[i as usize] = false;
                continue;
            }
            let k = key(&i);
            while let Some(e) = new.next_if(|e| key(e) < k) {
                order.push(e);
            }
            order.push(i);
        }
        order.extend(new);
        for &i in &entered {
            self.listed[i as usize] = true;
        }
        entered.clear();
        self.entered = entered;
        self.order = order;
    }

    /// The exported items of `items` in key order, with their numbers,
    /// each loaded a few ahead of its use: they are scattered over the
    /// table.
    pub(super) fn exported<'a, T>(
        &'a self,
        items: &'a [T],
    ) -> impl Iterator<Item = (u32, &'a T)> + 'a {
        self.order.iter().enumerate().filter_map(move |(n, &i)| {
            if let Some(x) = self
                .order
                .get(n + 8)
                .and_then(|&next| items.get(next as usize))
            {
                crate::sys::prefetch_all(x);
            }
            items.get(i as usize).map(|x| (i, x))
        })
    }
}

/// An item for the tests of rankings and slot tables.
#[cfg(test)]
pub(super) mod test_item {
    use super::*;

    #[derive(Clone, Copy, Default)]
    pub(in crate::collector) struct Item {
        pub(in crate::collector) key: u32,
        pub(in crate::collector) alive: bool,
        pub(in crate::collector) exported: bool,
        pub(in crate::collector) generation: u32,
        pub(in crate::collector) window: Window,
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
            crate::flow::numbered(self.key)
        }
        fn key_prefix(&self) -> u64 {
            // coarser than the key: ties of prefix are common
            u64::from(self.key / 8)
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
        fn generation(&self) -> u32 {
            self.generation
        }
        fn set_generation(&mut self, generation: u32) {
            self.generation = generation;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_item::Item;
    use super::*;

    #[test]
    fn ranking_what_was_counted_agrees_with_ranking_everything() {
        let mut rng = crate::tools::synth::Rng::new(9);
        // keys in another order than the items (37 is prime to 500)
        let mut items: Vec<Item> = (0..500)
            .map(|i| Item {
                key: i * 37 % 500,
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
            // and the full ranking is the top n by a plain sort
            let mut sorted: Vec<u32> = (0..500).collect();
            sorted.sort_by_key(|&i| {
                let x = &items[i as usize];
                (std::cmp::Reverse(x.window.sum(bucket)), x.key)
            });
            let mut top: Vec<u32> = sorted[..n].to_vec();
            top.sort();
            assert_eq!(want, top, "round {round}, n {n}");
            // in key order
            let listed: Vec<u32> = inc.exported(&items).map(|(_, x)| x.key).collect();
            let mut keys: Vec<u32> = want.iter().map(|&i| items[i as usize].key).collect();
            keys.sort();
            assert_eq!(listed, keys);
        }
    }
}
