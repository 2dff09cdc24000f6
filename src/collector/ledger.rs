//! The ledger: one entry per host pair, service and direction, and one
//! host per monitored IP, each with its totals, its ranking window and
//! what it last exported. Classification happens here, once per entry,
//! never per packet: an entry remembers its class and the hosts its two
//! sides count into.

use super::conversations::NO_SERIES;
use super::ranking::{BUCKETS, Ranked, Ranking, Window};
use super::slots::SlotTable;
use super::snapshot::{Count, FlowRow, HostCounts, HostRow, SeriesKey, Snapshot};
use crate::config::Accounting;
use crate::detect::{Counts, Direction, HostInterval, Peer};
use crate::flow::{FlowKey, FlowStats};
use crate::netset::Class;
use crate::parse::PortKind;
use std::time::Duration;

/// A host's address packed as a flow key, for the host index.
fn host_key(version: u8, addr: [u8; 16]) -> FlowKey {
    FlowKey::new(version, addr, [0; 16], 0, PortKind::None, 0, 0, 0)
}

/// Not a monitored side: no per-IP counter.
const HOST_NONE: u32 = u32::MAX;
/// A monitored side whose host is not (or no longer) linked: look it up.
const HOST_LOOKUP: u32 = u32::MAX - 1;
/// A monitored side whose host was looked up while the hosts were full
/// and was not there: looked up again once there is room.
const HOST_ABSENT: u32 = u32::MAX - 2;

/// What the collector keeps of a flow it has no entry for (no room), so
/// that counting it again needs no lookup: its class, IP version, and
/// the hosts of its monitored sides.
#[derive(Debug, Clone, Copy)]
pub(super) struct Untracked {
    /// Class index; [`Untracked::UNKNOWN`] until first counted.
    class: u8,
    v6: bool,
    hosts: [u32; 2],
}

impl Untracked {
    const UNKNOWN: u8 = u8::MAX;
    pub(super) const NEW: Untracked = Untracked {
        class: Untracked::UNKNOWN,
        v6: false,
        hosts: [HOST_NONE; 2],
    };

    pub(super) fn known(&self) -> bool {
        self.class != Untracked::UNKNOWN
    }

    /// Its class, IP version and hosts, for a handle to keep.
    pub(super) const fn parts(&self) -> (u8, bool, [u32; 2]) {
        (self.class, self.v6, self.hosts)
    }

    pub(super) fn from_parts(class: u8, v6: bool, hosts: [u32; 2]) -> Untracked {
        Untracked { class, v6, hosts }
    }
}

/// One host pair, service and direction.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    key: SeriesKey,
    class: Class,
    alive: bool,
    exported: bool,
    /// Per-IP counters of the source and destination: an index into the
    /// hosts, [`HOST_NONE`] or [`HOST_LOOKUP`].
    hosts: [u32; 2],
    total: Count,
    /// `total` when the series was last exported from scratch: what it
    /// shows is `total - base`. A folded entry's base follows its total at
    /// every publication, as its counts are in "other".
    base: Count,
    window: Window,
    last_tick: u64,
    first_ns: u64,
    /// See [`Ranked::generation`].
    generation: u32,
}

/// One monitored IP.
#[derive(Debug, Clone, Copy)]
pub(super) struct Host {
    version: u8,
    addr: [u8; 16],
    alive: bool,
    exported: bool,
    total: HostCounts,
    base: HostCounts,
    window: Window,
    last_tick: u64,
    /// See [`Ranked::generation`].
    generation: u32,
}

/// A host's traffic in the current alert interval: what it sent, what it
/// received.
type Interval = [Counts; 2];
const NO_INTERVAL: Interval = [Counts {
    packets: 0,
    bytes: 0,
    flows: 0,
}; 2];

/// The entries and hosts, and the totals they add up to. Exported entries
/// and hosts are re-ranked each publication; the rest are folded.
pub(super) struct Ledger {
    /// The settings in force, shared with the snapshots published.
    pub(super) acc: std::sync::Arc<Accounting>,
    /// Volume limits are set: hosts count their alert-interval traffic.
    watch: bool,
    /// Per host, its traffic in the current alert interval: only while
    /// volume limits are set, the one thing that reads it.
    intervals: Vec<Interval>,
    pub(super) idle_ticks: u64,
    bucket_ticks: u64,
    pub(super) entries: SlotTable<Entry>,
    pub(super) hosts: SlotTable<Host>,
    /// The MACs of each entry's first packet, by entry: only with
    /// trafficmonitor's families, the one thing that shows them.
    macs: Vec<[u8; 12]>,
    /// Per class and IP version.
    traffic: [[Count; 2]; 4],
    /// All monitored hosts together.
    host_total: HostCounts,
    untracked: Count,
    /// Which entries and which hosts are exported.
    entry_ranking: Ranking,
    host_ranking: Ranking,
}

/// A per-item array kept beside a slot table only while something reads
/// it: while `on`, one element per item (`len` of them, written now, the
/// new ones `fill`); else none, and its memory given back.
fn side_array<T: Copy>(v: &mut Vec<T>, on: bool, len: usize, fill: T) {
    if !on {
        *v = Vec::new();
    } else if v.len() < len {
        v.resize(len, fill);
    }
}

/// Ticks (refresh intervals) in `d`, at least one.
fn ticks(d: Duration, refresh: Duration) -> u64 {
    (d.as_nanos().div_ceil(refresh.as_nanos().max(1)) as u64).max(1)
}

impl Ledger {
    pub(super) fn traffic(&self) -> [[Count; 2]; 4] {
        self.traffic
    }

    pub(super) fn new(refresh: Duration, acc: Accounting) -> Ledger {
        let mut b = Ledger {
            watch: acc.detection.volume_enabled(),
            intervals: Vec::new(),
            acc: std::sync::Arc::new(acc),
            idle_ticks: 1,
            bucket_ticks: 1,
            entries: SlotTable::new(),
            hosts: SlotTable::new(),
            macs: Vec::new(),
            traffic: [[Count::default(); 2]; 4],
            host_total: HostCounts::default(),
            untracked: Count::default(),
            entry_ranking: Ranking::default(),
            host_ranking: Ranking::default(),
        };
        b.set_times(refresh);
        b.reserve();
        b
    }

    /// Keeps the arrays beside the entries and hosts (the hosts' alert
    /// intervals, the entries' MACs) as long as the tables, or gives their
    /// memory back when nothing reads them. The tables themselves grow as
    /// entries and hosts come, up to `max_entries` each: a link with a
    /// million flows may have a few thousand hosts, and the memory follows
    /// what is there rather than the bound.
    fn reserve(&mut self) {
        side_array(
            &mut self.intervals,
            self.watch,
            self.hosts.items.capacity(),
            NO_INTERVAL,
        );
        side_array(
            &mut self.macs,
            self.acc.compat.trafficmonitor,
            self.entries.items.capacity(),
            [0; 12],
        );
    }

    /// Bytes its entries, hosts and their indices hold.
    pub(super) fn memory_bytes(&self) -> usize {
        self.entries.memory_bytes()
            + self.hosts.memory_bytes()
            + self.macs.len() * 12
            + self.intervals.len() * std::mem::size_of::<Interval>()
    }

    fn set_times(&mut self, refresh: Duration) {
        self.idle_ticks = ticks(self.acc.flow_idle, refresh);
        self.bucket_ticks = ticks(self.acc.flow_window, refresh)
            .div_ceil(BUCKETS as u64)
            .max(1);
    }

    fn bucket(&self, tick: u64) -> u64 {
        tick / self.bucket_ticks
    }

    /// Starts loading what counting `key` at `idx` will read first: the
    /// entry if `idx` is one, else the index slot and the host index slots
    /// a new entry looks up.
    #[inline]
    pub(super) fn touch(&self, idx: u32, key: &SeriesKey) {
        if let Some(e) = self.entries.items.get(idx as usize) {
            // an entry spans three or four lines, and counting writes most
            crate::sys::prefetch_all(e);
            return;
        }
        self.entries.touch_key(&key.index_key());
        for addr in [key.src, key.dst] {
            self.hosts.touch_key(&host_key(key.version, addr));
        }
    }

    #[inline]
    fn holds(&self, idx: u32, key: &SeriesKey) -> bool {
        self.entries
            .items
            .get(idx as usize)
            .is_some_and(|e| e.alive && e.key == *key)
    }

    /// The entry of `key`, made if there is room; `NO_SERIES` if not.
    fn entry_for(&mut self, key: &SeriesKey, s: &FlowStats, tick: u64) -> u32 {
        let n = &self.acc.networks;
        let window = Window::at(self.bucket(tick));
        let side = |addr| {
            if n.is_monitored(key.version, addr) {
                HOST_LOOKUP
            } else {
                HOST_NONE
            }
        };
        let make = || Entry {
            key: *key,
            class: n.class(key.version, &key.src, &key.dst),
            alive: true,
            exported: false,
            hosts: [side(&key.src), side(&key.dst)],
            total: Count::default(),
            base: Count::default(),
            window,
            last_tick: tick,
            first_ns: s.first_ns,
            // the slot table carries on its slot's generation
            generation: 0,
        };
        let made = self.entries.live();
        let idx = self
            .entries
            .get_or_add(key.index_key(), self.acc.max_entries, make)
            .unwrap_or(NO_SERIES);
        if self.entries.live() != made {
            self.entry_ranking.touched(idx);
            self.reserve();
            if let Some(m) = self.macs.get_mut(idx as usize) {
                *m = s.macs;
            }
        }
        idx
    }

    /// The host of `addr`, made if there is room; [`HOST_LOOKUP`] if not.
    fn host_for(&mut self, version: u8, addr: [u8; 16], tick: u64) -> u32 {
        let window = Window::at(self.bucket(tick));
        let make = || Host {
            version,
            addr,
            alive: true,
            exported: false,
            total: HostCounts::default(),
            base: HostCounts::default(),
            window,
            last_tick: tick,
            generation: 0,
        };
        let made = self.hosts.live();
        let idx = self
            .hosts
            .get_or_add(host_key(version, addr), self.acc.max_entries, make)
            .unwrap_or(HOST_LOOKUP);
        if self.hosts.live() != made {
            self.host_ranking.touched(idx);
            self.reserve();
            if let Some(iv) = self.intervals.get_mut(idx as usize) {
                *iv = NO_INTERVAL;
            }
        }
        idx
    }

    /// Counts `s` for the host of `addr` (its `side`: 0 sent, 1 received).
    fn count_host(
        &mut self,
        link: u32,
        version: u8,
        addr: [u8; 16],
        side: usize,
        c: Count,
        tick: u64,
    ) -> u32 {
        let valid = self
            .hosts
            .items
            .get(link as usize)
            .is_some_and(|h| h.alive && h.addr == addr && h.version == version);
        let link = if valid {
            link
        } else if link == HOST_ABSENT && self.hosts.live() >= self.acc.max_entries {
            HOST_ABSENT
        } else {
            match self.host_for(version, addr, tick) {
                HOST_LOOKUP => HOST_ABSENT,
                l => l,
            }
        };
        let (packets, bytes) = (c.packets, c.bytes);
        let bucket = self.bucket(tick);
        let total = &mut self.host_total;
        if side == 0 {
            total.tx.add(packets, bytes);
        } else {
            total.rx.add(packets, bytes);
        }
        if let Some(h) = self.hosts.items.get_mut(link as usize) {
            if side == 0 {
                h.total.tx.add(packets, bytes);
            } else {
                h.total.rx.add(packets, bytes);
            }
            h.window.add(bucket, bytes);
            if h.last_tick != tick {
                self.host_ranking.touched(link);
            }
            h.last_tick = tick;
            if let Some(iv) = self.intervals.get_mut(link as usize) {
                let i = &mut iv[side];
                i.packets += packets;
                i.bytes += bytes;
            }
        }
        link
    }

    /// The monitored hosts that counted anything in the current alert
    /// interval, with what they sent and received in it.
    pub(super) fn host_intervals(&self) -> Vec<HostInterval> {
        self.hosts
            .items
            .iter()
            .zip(&self.intervals)
            .filter(|(h, iv)| h.alive && **iv != NO_INTERVAL)
            .map(|(h, iv)| (h.version, h.addr, *iv))
            .collect()
    }

    /// A conversation was opened by (`side` 0) or to (`side` 1) `addr`:
    /// counted for its host's `new_flows` limit if it is monitored.
    pub(super) fn count_new_flow(&mut self, version: u8, addr: [u8; 16], side: usize, tick: u64) {
        if !self.acc.networks.is_monitored(version, &addr) {
            return;
        }
        let link = self.host_for(version, addr, tick);
        if let Some(iv) = self.intervals.get_mut(link as usize) {
            iv[side].flows += 1;
        }
    }

    /// Starts a new alert interval.
    pub(super) fn clear_intervals(&mut self) {
        self.intervals.fill(NO_INTERVAL);
    }

    /// The evidence of an alert: the ten heaviest peers (by bytes over the
    /// ranking window) of `addr` in direction `dir`, with what each pair
    /// counted since its entry was made.
    pub(super) fn peers(&self, version: u8, addr: [u8; 16], dir: Direction) -> Vec<Peer> {
        let now = self
            .entries
            .items
            .iter()
            .map(|e| e.window.last)
            .max()
            .unwrap_or(0);
        let mut found: Vec<(u64, Peer)> = self
            .entries
            .items
            .iter()
            .filter(|e| e.alive && e.key.version == version)
            .filter_map(|e| {
                let other = match dir {
                    Direction::Out if e.key.src == addr => e.key.dst,
                    Direction::In if e.key.dst == addr => e.key.src,
                    _ => return None,
                };
                let peer = Peer {
                    ip: crate::parse::to_ip(version, other),
                    proto: crate::parse::proto_label(e.key.proto),
                    port: e.key.port,
                    packets: e.total.packets,
                    bytes: e.total.bytes,
                };
                Some((e.window.sum(now), peer))
            })
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.bytes.cmp(&a.1.bytes)));
        found.into_iter().take(10).map(|(_, p)| p).collect()
    }

    /// Counts flow `s` under `key`, whose entry is probably `idx` (a cached
    /// index, or `NO_SERIES`). Returns the entry's index now, or
    /// `NO_SERIES` if there was no room: the flow then counts in its class
    /// and hosts, not in an entry.
    #[inline]
    pub(super) fn count(&mut self, idx: u32, key: &SeriesKey, s: &FlowStats, tick: u64) -> u32 {
        let idx = if self.holds(idx, key) {
            idx
        } else {
            self.entry_for(key, s, tick)
        };
        let c = Count {
            packets: s.packets,
            bytes: s.bytes,
        };
        if self.entries.items.get(idx as usize).is_none() {
            let mut u = self.untracked_of(key);
            self.count_untracked(&mut u, key.version, [key.src, key.dst], c, tick);
            return NO_SERIES;
        }
        self.count_known(idx, c, tick);
        idx
    }

    /// Is there room for a new entry?
    #[inline]
    pub(super) fn has_room(&self) -> bool {
        self.entries.live() < self.acc.max_entries
    }

    /// What to keep of a flow counted under `key` with no entry.
    pub(super) fn untracked_of(&self, key: &SeriesKey) -> Untracked {
        let n = &self.acc.networks;
        let side = |addr| {
            if n.is_monitored(key.version, addr) {
                HOST_LOOKUP
            } else {
                HOST_NONE
            }
        };
        Untracked {
            class: n.class(key.version, &key.src, &key.dst).index() as u8,
            v6: key.version == 6,
            hosts: [side(&key.src), side(&key.dst)],
        }
    }

    /// Counts `c` of a flow with no entry (from `version` and addresses
    /// `addrs` to the other) from what was kept of it (see
    /// [`Untracked`]): in the untracked total, its class and its monitored
    /// hosts, whose links `u` keeps.
    #[inline]
    pub(super) fn count_untracked(
        &mut self,
        u: &mut Untracked,
        version: u8,
        addrs: [[u8; 16]; 2],
        c: Count,
        tick: u64,
    ) {
        self.untracked.add(c.packets, c.bytes);
        if let Some(t) = self
            .traffic
            .get_mut(usize::from(u.class))
            .and_then(|t| t.get_mut(usize::from(u.v6)))
        {
            t.add(c.packets, c.bytes);
        }
        for (side, addr) in addrs.into_iter().enumerate() {
            if u.hosts[side] != HOST_NONE {
                u.hosts[side] = self.count_host(u.hosts[side], version, addr, side, c, tick);
            }
        }
    }

    /// Starts loading entry `idx` (none: [`NO_SERIES`]).
    #[inline]
    pub(super) fn touch_entry(&self, idx: u32) {
        if let Some(e) = self.entries.items.get(idx as usize) {
            crate::sys::prefetch_all(e);
        }
    }

    /// Starts loading the hosts entry `idx` counts into.
    #[inline]
    pub(super) fn touch_entry_hosts(&self, idx: u32) {
        if let Some(e) = self.entries.items.get(idx as usize) {
            for link in e.hosts {
                if let Some(h) = self.hosts.items.get(link as usize) {
                    crate::sys::prefetch_all(h);
                }
            }
        }
    }

    /// The generation of entry `idx`, to cache with it.
    #[inline]
    pub(super) fn entry_gen(&self, idx: u32) -> u32 {
        self.entries.gen_of(idx)
    }

    /// Is `idx` (cached with generation `gen`) still the same live entry?
    #[inline]
    pub(super) fn entry_valid(&self, idx: u32, generation: u32) -> bool {
        self.entries
            .items
            .get(idx as usize)
            .is_some_and(|e| e.alive && self.entries.gen_of(idx) == generation)
    }

    /// Counts `c` more for the live entry `idx` (see
    /// [`entry_valid`](Self::entry_valid)): its totals, window, class and
    /// hosts. A known flow's merge comes here straight from its handle: an
    /// indexed add with no lookup.
    #[inline]
    pub(super) fn count_known(&mut self, idx: u32, c: Count, tick: u64) {
        let bucket = self.bucket(tick);
        let Some(e) = self.entries.items.get_mut(idx as usize) else {
            return;
        };
        e.total.add(c.packets, c.bytes);
        e.window.add(bucket, c.bytes);
        if e.last_tick != tick {
            self.entry_ranking.touched(idx);
        }
        e.last_tick = tick;
        let (class, hosts, key) = (e.class, e.hosts, e.key);
        self.traffic[class.index()][usize::from(key.version == 6)].add(c.packets, c.bytes);
        for (side, (link, addr)) in hosts.into_iter().zip([key.src, key.dst]).enumerate() {
            if link != HOST_NONE {
                let now = self.count_host(link, key.version, addr, side, c, tick);
                if now != link {
                    self.entries.items[idx as usize].hosts[side] = now;
                }
            }
        }
    }

    /// Forgets entries and hosts unseen for longer than the idle limit.
    /// Returns whether it forgot any.
    pub(super) fn expire(&mut self, tick: u64) -> bool {
        let idle = self.idle_ticks;
        let entries = self
            .entries
            .forget_where(|e| tick.saturating_sub(e.last_tick) > idle);
        let hosts = self
            .hosts
            .forget_where(|h| tick.saturating_sub(h.last_tick) > idle);
        if entries {
            self.entry_ranking.invalidate();
        }
        if hosts {
            self.host_ranking.invalidate();
        }
        entries || hosts
    }

    /// Chooses the exported entries and hosts: the top ones by bytes over
    /// the window, ties broken by key. A newly exported series starts from
    /// what it counted since the last publication (before that, its counts
    /// were in "other", which never goes down); a folded one hands all it
    /// showed to "other".
    pub(super) fn rank(&mut self, tick: u64) {
        let now = self.bucket(tick);
        self.entry_ranking
            .rank(&mut self.entries.items, now, self.acc.max_flow_series);
        self.host_ranking
            .rank(&mut self.hosts.items, now, self.acc.max_hosts);
    }

    /// The next ranking looks at every entry and host.
    pub(super) fn rank_all_next(&mut self) {
        self.entry_ranking.invalidate();
        self.host_ranking.invalidate();
    }

    /// Applies new settings: classes and monitored sides are decided again
    /// for every entry. An exported series whose class changed starts
    /// again from zero under its new class (its old counts go to "other"
    /// of the old class); a host no longer monitored is dropped the same
    /// way. Totals are never touched, so no counter goes down or loses a
    /// packet.
    pub(super) fn reconfigure(&mut self, acc: Accounting, refresh: Duration, tick: u64) {
        let old_bucket = self.bucket_ticks;
        self.watch = acc.detection.volume_enabled();
        self.acc = std::sync::Arc::new(acc);
        self.set_times(refresh);
        self.reserve();
        let now = self.bucket(tick);
        let fresh_windows = old_bucket != self.bucket_ticks;
        let n = &self.acc.networks;
        for e in self.entries.items.iter_mut().filter(|e| e.alive) {
            let k = e.key;
            let class = n.class(k.version, &k.src, &k.dst);
            if class != e.class {
                e.class = class;
                e.base = e.total;
            }
            for (side, addr) in [k.src, k.dst].iter().enumerate() {
                let m = n.is_monitored(k.version, addr);
                if !m {
                    e.hosts[side] = HOST_NONE;
                } else if e.hosts[side] == HOST_NONE {
                    e.hosts[side] = HOST_LOOKUP;
                }
            }
            if fresh_windows {
                e.window = Window::at(now);
            }
        }
        self.hosts
            .forget_where(|h| !n.is_monitored(h.version, &h.addr));
        self.entry_ranking.invalidate();
        self.host_ranking.invalidate();
        if fresh_windows {
            for h in self.hosts.items.iter_mut().filter(|h| h.alive) {
                h.window = Window::at(now);
            }
        }
    }

    /// The exported rows (in key order, as the ranking keeps them) and
    /// what the folded rest adds up to.
    pub(super) fn publish(&self, s: &mut Snapshot) {
        let flows: Vec<FlowRow> = self
            .entry_ranking
            .exported(&self.entries.items)
            .filter(|(_, e)| e.alive && e.exported)
            .map(|(i, e)| FlowRow {
                key: e.key,
                class: e.class,
                packets: e.total.packets - e.base.packets,
                bytes: e.total.bytes - e.base.bytes,
                first_ns: e.first_ns,
                macs: self.macs.get(i as usize).copied().unwrap_or_default(),
            })
            .collect();
        let mut other = [Count::default(); 4];
        for (c, o) in other.iter_mut().enumerate() {
            for v in &self.traffic[c] {
                o.add(v.packets, v.bytes);
            }
        }
        for r in &flows {
            let o = &mut other[r.class.index()];
            o.packets -= r.packets;
            o.bytes -= r.bytes;
        }
        let hosts: Vec<HostRow> = self
            .host_ranking
            .exported(&self.hosts.items)
            .map(|(_, h)| h)
            .filter(|h| h.alive && h.exported)
            .map(|h| HostRow {
                version: h.version,
                addr: h.addr,
                counts: h.total.minus(h.base),
            })
            .collect();
        let mut hosts_other = self.host_total;
        for h in &hosts {
            hosts_other = hosts_other.minus(h.counts);
        }
        s.flows_folded = self.entries.live() - flows.len();
        s.flows = flows;
        s.flows_other = other;
        s.traffic = self.traffic;
        s.hosts = hosts;
        s.hosts_other = hosts_other;
        s.entries = self.entries.live();
        s.host_entries = self.hosts.live();
        s.untracked = self.untracked;
        s.settings = self.acc.clone();
    }
}

impl Ranked for Entry {
    type Key = SeriesKey;
    fn alive(&self) -> bool {
        self.alive
    }
    fn forget(&mut self) {
        self.alive = false;
        self.exported = false;
    }
    fn index_key(&self) -> FlowKey {
        self.key.index_key()
    }
    fn key_prefix(&self) -> u64 {
        self.key.prefix()
    }
    fn window(&self) -> &Window {
        &self.window
    }
    fn key(&self) -> SeriesKey {
        self.key
    }
    fn set_exported(&mut self, exported: bool) {
        self.exported = exported;
        if !exported {
            self.base = self.total;
        }
    }
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}

impl Ranked for Host {
    type Key = (u8, [u8; 16]);
    fn alive(&self) -> bool {
        self.alive
    }
    fn forget(&mut self) {
        self.alive = false;
        self.exported = false;
    }
    fn index_key(&self) -> FlowKey {
        host_key(self.version, self.addr)
    }
    fn key_prefix(&self) -> u64 {
        u64::from(self.version) << 56 | (u128::from_be_bytes(self.addr) >> 72) as u64
    }
    fn window(&self) -> &Window {
        &self.window
    }
    fn key(&self) -> (u8, [u8; 16]) {
        (self.version, self.addr)
    }
    fn set_exported(&mut self, exported: bool) {
        self.exported = exported;
        if !exported {
            self.base = self.total;
        }
    }
    fn generation(&self) -> u32 {
        self.generation
    }
    fn set_generation(&mut self, generation: u32) {
        self.generation = generation;
    }
}
