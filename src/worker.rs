//! The worker: a batch of frames in (from a capture loop or the replay
//! reader), parse, account into the worker's own flow table.
//!
//! A worker owns its [`Shard`] outright. Between two hand-overs nothing else
//! touches it, so the packet path has no locks, no atomics, no allocation
//! and no syscall. When the collector raises the shared epoch, the worker
//! swaps in the spare shard the collector gave back last time and sends the
//! full one over a channel: each packet lands in exactly one shard, and each
//! shard is merged exactly once.

use crate::capture::{Frame, FrameSink};
use crate::flow::dedup::Dedup;
use crate::flow::{Arrival, Changes, FlowKey, FlowTables};
use crate::parse::{self, Decap, Encap, LinkType, Outcome, ParseError};
use crossbeam_channel::{Receiver, Sender};
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// How many distinct non-IP ethertypes a shard keeps apart; more than that
/// in one interval are counted together as "other".
pub const ETHERTYPE_SLOTS: usize = 64;

/// Per-ethertype packet counts in a fixed array.
#[derive(Clone)]
pub struct EthertypeCounts {
    /// (ethertype + 1, packets); 0 marks a free slot.
    slots: [(u32, u64); ETHERTYPE_SLOTS],
    pub other: u64,
}

impl Default for EthertypeCounts {
    fn default() -> Self {
        EthertypeCounts {
            slots: [(0, 0); ETHERTYPE_SLOTS],
            other: 0,
        }
    }
}

impl EthertypeCounts {
    #[inline]
    pub fn add(&mut self, ethertype: u16) {
        let tag = u32::from(ethertype) + 1;
        let mut i = usize::from(ethertype) % ETHERTYPE_SLOTS;
        for _ in 0..ETHERTYPE_SLOTS {
            let slot = &mut self.slots[i];
            if slot.0 == tag {
                slot.1 += 1;
                return;
            }
            if slot.0 == 0 {
                *slot = (tag, 1);
                return;
            }
            i = (i + 1) % ETHERTYPE_SLOTS;
        }
        self.other += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        self.slots
            .iter()
            .filter(|s| s.0 != 0)
            .map(|s| ((s.0 - 1) as u16, s.1))
    }

    pub fn clear(&mut self) {
        self.slots = [(0, 0); ETHERTYPE_SLOTS];
        self.other = 0;
    }
}

/// Everything a worker accumulates between two hand-overs: its counters,
/// and what changed in its flow tables (which stay with the worker).
pub struct Shard {
    pub changes: Changes,
    pub packets: u64,
    pub bytes: u64,
    /// Latest capture time of an IP packet in the shard (ns; 0 if none).
    pub last_ns: u64,
    pub parse_errors: [u64; ParseError::INDEX_COUNT],
    pub non_ip: EthertypeCounts,
    /// Per kind of tunnel ([`Encap`] order): packets that came through
    /// one, and the bytes it took (its headers and those outside it).
    pub decap_packets: [u64; Encap::COUNT],
    pub decap_bytes: [u64; Encap::COUNT],
    /// Packets not counted as duplicates of one seen just before.
    pub dedup_dropped: u64,
    /// Batch processing times in ns.
    pub batch_ns: Histogram<u64>,
    pub batch_ns_sum: u64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::new()
    }
}

/// Largest batch time recorded exactly (60 s); longer ones saturate.
const BATCH_NS_MAX: u64 = 60_000_000_000;

impl Shard {
    /// An empty shard: the lists of changes it carries are the tables'
    /// (see [`FlowTables::seal`]).
    pub fn new() -> Shard {
        Shard {
            changes: Changes::default(),
            packets: 0,
            bytes: 0,
            last_ns: 0,
            parse_errors: [0; ParseError::INDEX_COUNT],
            non_ip: EthertypeCounts::default(),
            decap_packets: [0; Encap::COUNT],
            decap_bytes: [0; Encap::COUNT],
            dedup_dropped: 0,
            batch_ns: new_batch_histogram(),
            batch_ns_sum: 0,
        }
    }

    /// Resets the counters (the tables empty the lists, see
    /// [`FlowTables::take_back`]).
    pub fn clear(&mut self) {
        self.packets = 0;
        self.bytes = 0;
        self.last_ns = 0;
        self.parse_errors = [0; ParseError::INDEX_COUNT];
        self.non_ip.clear();
        self.decap_packets = [0; Encap::COUNT];
        self.decap_bytes = [0; Encap::COUNT];
        self.dedup_dropped = 0;
        self.batch_ns.reset();
        self.batch_ns_sum = 0;
    }
}

/// A histogram of 1 ns to 60 s at 2 significant digits: fixed bounds, so
/// recording never allocates.
pub fn new_batch_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, BATCH_NS_MAX, 2).expect("constant histogram bounds are valid")
}

/// What workers send to the collector.
pub enum Handoff {
    /// A full shard, to merge and send back empty.
    Shard { worker: usize, shard: Box<Shard> },
    /// Replay: every packet before `at_ns` (capture time) that this worker
    /// was given is in the shards it handed over.
    Boundary { worker: usize, at_ns: u64 },
    /// The worker has stopped; its last shard came just before.
    Done { worker: usize },
}

/// Packets parsed ahead of their table update, so that the table slots of
/// a whole stage are fetched from memory at once.
const STAGE: usize = 16;

/// Frames whose first line is loading while an earlier one is parsed.
const AHEAD: usize = 4;

/// The collector's requests to free slots a worker applies after each
/// batch, and each time its rings are empty (see
/// [`FlowTables::expire_some`]): a request costs a few cache misses, so
/// these are some 10 µs and 0.2 ms of work, and a wave of several
/// hundred thousand is done within a refresh at any rate.
const EXPIRE_PER_BATCH: usize = 64;
const EXPIRE_PER_IDLE: usize = 1024;

pub struct Worker {
    id: usize,
    /// Parsed IP packets waiting for their table update.
    stage: [Arrival; STAGE],
    tables: FlowTables,
    shard: Box<Shard>,
    seq: u32,
    seen_epoch: u64,
    epoch: Arc<AtomicU64>,
    to_collector: Sender<Handoff>,
    spare: Receiver<Box<Shard>>,
    decap: Decap,
    dedup: Option<Box<Dedup>>,
    /// With `--dedup`: the fingerprints of the staged packets.
    fingerprints: [u64; STAGE],
}

impl Worker {
    pub(crate) fn new(
        id: usize,
        tables: FlowTables,
        shard: Box<Shard>,
        epoch: Arc<AtomicU64>,
        to_collector: Sender<Handoff>,
        spare: Receiver<Box<Shard>>,
    ) -> Worker {
        let seen_epoch = epoch.load(Ordering::Relaxed);
        Worker {
            id,
            stage: [Arrival::default(); STAGE],
            tables,
            shard,
            seq: 0,
            seen_epoch,
            epoch,
            to_collector,
            spare,
            decap: Decap::default(),
            dedup: None,
            fingerprints: [0; STAGE],
        }
    }

    /// The tunnels this worker opens, and its duplicate table.
    pub(crate) fn decode(&mut self, decap: Decap, dedup: Option<Dedup>) {
        self.decap = decap;
        self.dedup = dedup.map(Box::new);
    }

    pub fn id(&self) -> usize {
        self.id
    }

    /// Flows in this worker's tables now (IPv4, IPv6).
    pub fn table_flows(&self) -> [usize; 2] {
        self.tables.len()
    }

    /// Bytes of memory this worker's flow tables and its two shards hold,
    /// asked before it runs: the lists of changes the shards carry later
    /// are the tables' then.
    pub fn memory_bytes(&self) -> usize {
        self.tables.memory_bytes()
            + 2 * std::mem::size_of::<Shard>()
            + self.dedup.as_ref().map_or(0, |d| d.memory_bytes())
    }

    /// Parses `f` and counts everything but its table update, which it
    /// stages at `at`. Returns whether it staged anything.
    #[inline]
    fn stage_frame(&mut self, f: &Frame<'_>, at: usize) -> bool {
        let s = &mut *self.shard;
        s.packets += 1;
        s.bytes += u64::from(f.orig_len);
        self.seq = self.seq.wrapping_add(1);
        match parse::parse(f.link, f.data, &self.decap) {
            Outcome::Ip(mut p) => {
                if let Some(e) = p.l4_error {
                    s.parse_errors[e.index()] += 1;
                }
                // what the packet counts for: the frame, or what its
                // innermost tunnel carried
                let (mut bytes, mut outside, macs) = if p.tunnels.depth == 0 {
                    // the tag the kernel took off is the frame's own
                    if p.vlan == 0 {
                        p.vlan = f.vlan;
                    }
                    let macs = match (f.link, f.data.first_chunk::<12>()) {
                        (LinkType::Ethernet, Some(m)) => *m,
                        _ => [0; 12],
                    };
                    let outside = p.outside_ip(f.orig_len, f.data.len());
                    (u64::from(f.orig_len), outside, macs)
                } else {
                    tunnelled(s, &p, f)
                };
                // GRO merged it: it counts as the segments it was
                let mut packets = 1;
                if f.gso_size != 0 {
                    (packets, bytes, outside) = merged(s, &p, f, bytes, outside);
                }
                // with --dedup, whether it is a copy is asked when the
                // stage is counted, its table's bucket loaded by then
                if let Some(d) = self.dedup.as_deref() {
                    self.fingerprints[at] = fingerprint(d, &p, f);
                }
                let key = FlowKey::from_packet(&p).with_iface(f.iface);
                let hash = self.tables.hash(&key);
                // start loading the index entry now: parsing the rest of
                // the stage hides the miss
                self.tables.touch(&key, hash);
                s.last_ns = s.last_ns.max(f.ts_ns);
                self.stage[at] = Arrival {
                    key,
                    hash,
                    packets,
                    bytes,
                    outside,
                    ts_ns: f.ts_ns,
                    seq: self.seq,
                    tcp_flags: p.tcp_flags,
                    macs,
                };
                true
            }
            Outcome::NonIp { ethertype } => {
                s.non_ip.add(ethertype);
                false
            }
            Outcome::Error(e) => {
                s.parse_errors[e.index()] += 1;
                false
            }
        }
    }

    /// Updates the tables for the staged packets, whose index entries each
    /// started loading when it was staged: the slots they name start
    /// loading together, then the packets count, so the misses of a whole
    /// stage are in flight together.
    #[inline]
    fn flush_stage(&mut self, n: usize) {
        let table = &mut self.tables;
        for p in &self.stage[..n] {
            table.touch_slot(&p.key, p.hash);
        }
        match self.dedup.as_deref_mut() {
            None => {
                for p in &self.stage[..n] {
                    table.count(p);
                }
            }
            // in arrival order: a copy in the same stage finds the first
            Some(d) => {
                for (p, fp) in self.stage[..n].iter().zip(&self.fingerprints) {
                    if d.seen(*fp, p.ts_ns) {
                        self.shard.dedup_dropped += u64::from(p.packets);
                    } else {
                        table.count(p);
                    }
                }
            }
        }
    }

    /// Accounts a batch, records how long it took, and hands the shard over
    /// if the collector asked for it.
    #[inline]
    pub fn process_batch<'a, I>(&mut self, frames: I)
    where
        I: IntoIterator<Item = Frame<'a>>,
    {
        let start = Instant::now();
        let mut staged = 0;
        // a frame's first line starts loading AHEAD frames before it is
        // parsed: a ring's frames were written by the kernel, often on
        // another core, and parsing one waits for that line otherwise
        let mut frames = frames.into_iter().fuse();
        let mut pull = || {
            let f = frames.next();
            if let Some(b) = f.as_ref().and_then(|f| f.data.first()) {
                crate::sys::prefetch(b);
            }
            f
        };
        let mut ahead: [Option<Frame<'a>>; AHEAD] = std::array::from_fn(|_| pull());
        let mut i = 0;
        // ahead[i] is the next frame in order: once it is none, all are
        while let Some(f) = ahead[i].take() {
            ahead[i] = pull();
            i = (i + 1) % AHEAD;
            if self.stage_frame(&f, staged) {
                staged += 1;
                if staged == STAGE {
                    self.flush_stage(staged);
                    staged = 0;
                }
            }
        }
        self.flush_stage(staged);
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.shard
            .batch_ns
            .saturating_record(ns.clamp(1, BATCH_NS_MAX));
        self.shard.batch_ns_sum = self.shard.batch_ns_sum.saturating_add(ns);
        if self.tables.expiring() > 0 {
            self.tables.expire_some(EXPIRE_PER_BATCH);
        }
        self.poll_epoch();
    }

    /// Hands the shard over when the collector has raised the epoch and a
    /// spare is back. Called once per batch, and when a capture is idle.
    #[inline]
    pub fn poll_epoch(&mut self) {
        // Relaxed: the shard itself travels through the channel, which
        // orders its contents; the epoch is only a request to send it.
        let epoch = self.epoch.load(Ordering::Relaxed);
        if epoch == self.seen_epoch {
            return;
        }
        if let Ok(spare) = self.spare.try_recv() {
            self.seen_epoch = epoch;
            self.switch(spare);
        }
    }

    /// Takes the spare back (freeing the slots the collector asks for in
    /// it), seals the epoch into the full shard and sends it.
    fn switch(&mut self, mut spare: Box<Shard>) {
        self.tables.take_back(&mut spare.changes);
        let mut full = std::mem::replace(&mut self.shard, spare);
        self.tables.seal(&mut full.changes);
        // The collector outlives the workers; if it is gone there is
        // nobody left to count for.
        let _ = self.to_collector.send(Handoff::Shard {
            worker: self.id,
            shard: full,
        });
    }
}

impl Worker {
    /// For offline input, where waiting costs nothing. When a quarter of
    /// a table was touched since the last hand-over, hands over (waiting
    /// for the spare), so the collector never merges more than that at
    /// once (its scratch grows with what it merges). When a table is more
    /// than 3/4 full as well, hands over twice, waiting for the collector
    /// each time, so that the flows it has read and that are idle since
    /// are freed at once (the collector asks for idle flows when a
    /// table lacks room). A table then overflows only if more flows than it
    /// holds are active at once. Live capture never waits.
    pub fn hand_over_if_filling(&mut self) {
        let (len, touched, cap) = (
            self.tables.len(),
            self.tables.touched(),
            self.tables.capacity(),
        );
        let busy = (0..2).any(|f| 4 * touched[f] >= cap[f]);
        let full = (0..2).any(|f| 4 * len[f] > 3 * cap[f] && 8 * touched[f] >= cap[f]);
        if full {
            self.hand_over_merged();
        } else if busy {
            self.hand_over_now();
        }
    }

    /// Hands the shard over now, waiting for the spare (offline only).
    fn hand_over_now(&mut self) {
        if let Ok(spare) = self.spare.recv() {
            self.seen_epoch = self.epoch.load(Ordering::Relaxed);
            self.switch(spare);
        }
    }

    /// Hands the shard over and waits until the collector has merged it:
    /// the second hand-over takes the first shard back, with the slots to
    /// free it asks for, which are freed then (offline only).
    fn hand_over_merged(&mut self) {
        self.hand_over_now();
        self.hand_over_now();
    }

    /// Replay: hands everything before `at_ns` over, then says so. The
    /// collector reads the flows' counters from the tables, so the worker
    /// waits until it has merged them: nothing after `at_ns` is counted
    /// before it.
    pub fn hand_over_at(&mut self, at_ns: u64) {
        self.hand_over_merged();
        let _ = self.to_collector.send(Handoff::Boundary {
            worker: self.id,
            at_ns,
        });
    }
}

/// For a packet that came in tunnels: counts what they took, and gives
/// the bytes it counts for (what the innermost tunnel carried), those
/// outside its IP datagram, and its MACs (the inner frame's, if the tunnel
/// carried one). Out of line: the common packet never comes here.
#[cold]
#[inline(never)]
fn tunnelled(s: &mut Shard, p: &parse::Packet, f: &Frame<'_>) -> (u64, u32, [u8; 12]) {
    let inner = p.tunnels.unwrap_len(f.orig_len, |e, n| {
        s.decap_packets[e as usize] += 1;
        s.decap_bytes[e as usize] += u64::from(n);
    });
    let macs = p
        .macs_at()
        .and_then(|at| f.data.get(at..))
        .and_then(|d| d.first_chunk::<12>())
        .copied()
        .unwrap_or([0; 12]);
    (
        u64::from(inner),
        p.outside_ip(f.orig_len, f.data.len()),
        macs,
    )
}

/// For a packet merged from segments (`f.gso_size` > 0; see
/// [`Frame::gso_size`]): the segments it was on the wire, the bytes they
/// count for and those outside their IP datagrams, from the packet's
/// `bytes` and `outside`, each further segment repeating every header in
/// front of the payload. The segments beyond the first go into the
/// shard's totals and its tunnels' counts too. A packet that is not TCP
/// or UDP straight after its IP header, or whose headers were not all
/// captured, stays one. Out of line: a GRO packet stands for many.
#[cold]
#[inline(never)]
fn merged(
    s: &mut Shard,
    p: &parse::Packet,
    f: &Frame<'_>,
    bytes: u64,
    outside: u32,
) -> (u32, u64, u32) {
    let datagram = match p.ip_len {
        // a merged packet over 64 KiB (BIG TCP) leaves its length open
        0 => bytes.saturating_sub(u64::from(outside)),
        n => u64::from(n),
    };
    let Some(payload) = segment_payload(p, f.data, datagram) else {
        return (1, bytes, outside);
    };
    let segments = payload
        .div_ceil(u64::from(f.gso_size))
        .clamp(1, u64::from(u16::MAX));
    let more = segments - 1;
    // what each further segment repeats: everything but the payload
    let head = |len: u64| len.saturating_sub(payload);
    s.packets += more;
    s.bytes += more * head(u64::from(f.orig_len));
    if p.tunnels.depth > 0 {
        p.tunnels.unwrap_len(f.orig_len, |e, n| {
            s.decap_packets[e as usize] += more;
            s.decap_bytes[e as usize] += more * u64::from(n);
        });
    }
    (
        segments as u32,
        bytes + more * head(bytes),
        outside.saturating_mul(segments as u32),
    )
}

/// The transport payload of a TCP or UDP packet whose IP datagram is
/// `datagram` bytes long: the datagram less its IP header and the TCP
/// (with options) or UDP header. `None` for anything else, or headers
/// cut short.
fn segment_payload(p: &parse::Packet, data: &[u8], datagram: u64) -> Option<u64> {
    let ip = data.get(usize::from(p.ip_offset)..)?;
    let (ip_header, next) = match p.version {
        4 => (usize::from(ip.first()? & 0x0f) * 4, *ip.get(9)?),
        _ => (40, *ip.get(6)?),
    };
    let l4 = ip.get(ip_header..)?;
    let l4_header = match next {
        6 => usize::from(l4.get(12)? >> 4) * 4,
        17 => 8,
        _ => return None,
    };
    datagram.checked_sub((ip_header + l4_header) as u64)
}

/// The fingerprint of `p`'s IP packet in `d` (its bucket starts loading).
#[inline(never)]
fn fingerprint(d: &Dedup, p: &parse::Packet, f: &Frame<'_>) -> u64 {
    let ip = f.data.get(usize::from(p.ip_offset)..).unwrap_or_default();
    d.fingerprint(p.version, ip)
}

impl FrameSink for Worker {
    fn id(&self) -> usize {
        self.id
    }

    #[inline]
    fn process_batch<'a, I>(&mut self, frames: I)
    where
        I: IntoIterator<Item = Frame<'a>>,
    {
        Worker::process_batch(self, frames);
    }

    fn idle(&mut self) {
        self.tables.expire_some(EXPIRE_PER_IDLE);
        self.poll_epoch();
    }
}

impl Drop for Worker {
    /// A worker that stops, for whatever reason, hands over what it has and
    /// says it is done, so the collector's final totals are complete.
    fn drop(&mut self) {
        let mut last = std::mem::replace(&mut self.shard, Box::new(Shard::new()));
        self.tables.seal(&mut last.changes);
        let _ = self.to_collector.send(Handoff::Shard {
            worker: self.id,
            shard: last,
        });
        let _ = self.to_collector.send(Handoff::Done { worker: self.id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`merged`] makes of `frame` (captured up to 128 bytes; `tag`:
    /// the capture took a VLAN tag off it) merged from `gso`-byte segments:
    /// (segments, bytes, bytes outside IP, the shard's packets and bytes).
    fn split(frame: &[u8], tag: bool, gso: u16) -> (u32, u64, u32, u64, u64) {
        let orig_len = frame.len() as u32 + if tag { 4 } else { 0 };
        let data = &frame[..frame.len().min(128)];
        let Outcome::Ip(p) = parse::parse(LinkType::Ethernet, data, &Decap::ALL) else {
            panic!("not IP");
        };
        let f = Frame {
            link: LinkType::Ethernet,
            data,
            orig_len,
            ts_ns: 1,
            vlan: if tag { 7 } else { 0 },
            iface: 0,
            gso_size: gso,
        };
        let mut s = Shard::new();
        // as stage_frame has them by then
        let (bytes, outside) = (u64::from(orig_len), p.outside_ip(orig_len, data.len()));
        let (n, b, o) = merged(&mut s, &p, &f, bytes, outside);
        (n, b, o, s.packets, s.bytes)
    }

    #[test]
    fn a_merged_packet_counts_as_the_segments_it_was_on_the_wire() {
        use crate::tools::synth::{ethernet, ipv4, ipv6, tcp, udp};
        let (a, b) = ([10, 213, 0, 1], [10, 213, 0, 2]);
        let (a6, b6) = ([0xfd; 16], [0xfe; 16]);
        // 9 segments of 1448 and one of 1348: each frame repeats the
        // Ethernet, IPv4 and TCP headers (14 + 20 + 20)
        let v4 = ethernet(
            &[],
            0x0800,
            &ipv4(a, b, 6, (false, 0), &tcp(1, 2, 0x18, 14_380)),
        );
        assert_eq!(
            split(&v4, false, 1448),
            (10, 14_380 + 10 * 54, 140, 9, 9 * 54)
        );
        // a tag the capture took off is in every segment too
        assert_eq!(
            split(&v4, true, 1448),
            (10, 14_380 + 10 * 58, 180, 9, 9 * 58)
        );
        // IPv6 in a VLAN tag (18 + 40 + 20), segments of 1428 exactly
        let v6 = ethernet(
            &[(0x8100, 7)],
            0x86dd,
            &ipv6(a6, b6, 6, &[], &tcp(1, 2, 0x10, 4 * 1428)),
        );
        assert_eq!(
            split(&v6, false, 1428),
            (4, 4 * 1428 + 4 * 78, 72, 3, 3 * 78)
        );
        // UDP segments (GSO_UDP_L4): 8-byte headers
        let u = ethernet(
            &[],
            0x0800,
            &ipv4(a, b, 17, (false, 0), &udp(1, 2, 3 * 1200)),
        );
        assert_eq!(split(&u, false, 1200), (3, 3600 + 3 * 42, 42, 2, 2 * 42));
        // one segment's worth, and anything that is not TCP or UDP: one
        let one = ethernet(
            &[],
            0x0800,
            &ipv4(a, b, 6, (false, 0), &tcp(1, 2, 0x10, 1000)),
        );
        assert_eq!(split(&one, false, 1448), (1, 1054, 14, 0, 0));
        let icmp = ethernet(&[], 0x0800, &ipv4(a, b, 1, (false, 0), &[0u8; 3000]));
        assert_eq!(split(&icmp, false, 1448), (1, 3034, 14, 0, 0));
        // a merged packet over 64 KiB leaves its IP length 0 (BIG TCP):
        // the frame's length tells it
        let mut big = ethernet(
            &[],
            0x0800,
            &ipv4(a, b, 6, (false, 0), &tcp(1, 2, 0x10, 50 * 1448)),
        );
        big[16..18].copy_from_slice(&[0, 0]);
        assert_eq!(
            split(&big, false, 1448),
            (50, 50 * 1448 + 50 * 54, 700, 49, 49 * 54)
        );
    }

    #[test]
    fn ethertype_counts_fill_then_overflow() {
        let mut c = EthertypeCounts::default();
        c.add(0x0806);
        c.add(0x0806);
        c.add(0);
        let mut v: Vec<_> = c.iter().collect();
        v.sort();
        assert_eq!(v, vec![(0, 1), (0x0806, 2)]);
        for et in 0..ETHERTYPE_SLOTS as u16 + 5 {
            c.add(0x9000 + et);
        }
        assert_eq!(c.iter().count(), ETHERTYPE_SLOTS);
        // 2 slots were taken before, so 7 of the new ones did not fit
        assert_eq!(c.other, 7);
        c.clear();
        assert_eq!(c.iter().count(), 0);
        assert_eq!(c.other, 0);
    }
}
