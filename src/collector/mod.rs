//! The collector thread: every refresh it raises the epoch, merges the
//! shards the workers hand over ([`accounts`]), decides who opened each
//! conversation ([`conversations`]), classifies what it has not seen
//! before and keeps the totals of every entry and host ([`ledger`]), keeps
//! the top series by recent bytes and folds the rest ([`ranking`]), and
//! publishes an immutable [`Snapshot`] ([`snapshot`]) that scrapes read
//! without touching a worker.

pub mod accounts;
mod conversations;
pub mod export;
pub mod history;
mod ledger;
mod ranking;
mod slots;
pub mod snapshot;

pub use accounts::Accounts;
pub use snapshot::{BatchRow, Count, FlowRow, HostCounts, HostRow, SeriesKey, Snapshot};

use crate::config::{Accounting, defaults};
use crate::detect::AlertEvent;
use crate::detect::deliver::Deliveries;
use crate::flow::FlowTables;
use crate::flow::dedup::Dedup;
use crate::parse::Decap;
use crate::worker::{Handoff, Shard, Worker};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
pub use export::RecordBatch;
use export::{ExportCounts, IfaceIndexes, Timeouts};
use history::{History, Point};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sizes of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub workers: usize,
    /// IPv4 flows each worker's table holds (its IPv6 table a quarter of
    /// that, see [`crate::flow::table::v6_slots`]).
    pub table_capacity: usize,
    /// IPv6 flows each worker's table holds (`None`: a quarter of
    /// `table_capacity`, see [`crate::flow::table::v6_slots`]).
    pub table_capacity_v6: Option<usize>,
    pub refresh: Duration,
    pub accounting: Accounting,
    /// Time is the capture's (replay): alert limits are evaluated when all
    /// workers hand over at an interval boundary of capture time. Else
    /// (live) they are evaluated at every refresh on the clock.
    pub capture_clock: bool,
    /// Flow export: the timeouts that cut records, and where flows are
    /// observed by capture interface number (a number missing here:
    /// domain 1, no interface, as in a replay).
    pub export: Option<(Timeouts, IfaceIndexes)>,
    /// The tunnels the workers open (`--decap`, `--vxlan-port`).
    pub decap: Decap,
    /// Duplicates within this window are counted once (`--dedup`).
    pub dedup: Option<Duration>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 1,
            table_capacity: defaults::FLOW_TABLE_SIZE as usize,
            table_capacity_v6: None,
            refresh: defaults::duration(defaults::REFRESH),
            accounting: Accounting::default(),
            capture_clock: false,
            export: None,
            decap: Decap::default(),
            dedup: None,
        }
    }
}

impl PipelineConfig {
    /// IPv6 flows each worker's table holds, the default applied.
    pub fn v6_capacity(&self) -> usize {
        self.table_capacity_v6
            .unwrap_or(crate::flow::table::v6_slots(self.table_capacity))
    }

    /// A worker's flow tables as these settings make them.
    pub fn worker_tables(&self) -> FlowTables {
        // the MACs of first packets only where an exposition or flow
        // export shows them
        let macs = self.accounting.compat.trafficmonitor || self.export.is_some();
        let tables = FlowTables::with_sizes(self.table_capacity, self.v6_capacity(), macs);
        if self.export.is_some() {
            tables.for_export()
        } else {
            tables
        }
    }
}

/// Builds `cfg.workers` workers and the collector that serves them. Each
/// worker starts with one shard and the collector holds its spare.
pub fn pipeline(cfg: &PipelineConfig) -> (Vec<Worker>, CollectorLoop) {
    let n = cfg.workers.max(1);
    let epoch = Arc::new(AtomicU64::new(0));
    // At most three messages per worker are ever in flight (a shard, a
    // boundary and Done), so sends never block.
    let (tx, rx) = crossbeam_channel::bounded(3 * n + 2);
    let refresh = cfg.refresh.max(Duration::from_millis(10));
    let mut accounts = Accounts::new(n, refresh, cfg.accounting.clone());
    // live, a flow freed for room that comes back is not a new flow to
    // make room for; a replay hands over and waits whenever a table fills
    accounts.returns_are_not_new(!cfg.capture_clock);
    if let Some((timeouts, observed)) = &cfg.export {
        accounts.export_flows(*timeouts, observed.clone());
    }
    let mut workers = Vec::with_capacity(n);
    let mut returns = Vec::with_capacity(n);
    for id in 0..n {
        let (ret_tx, ret_rx) = crossbeam_channel::bounded(2);
        let mut tables = cfg.worker_tables();
        // live, the collector's requests to free slots are applied a few
        // at a time, so a wave of them never stalls the capture
        tables.free_gradually(!cfg.capture_clock);
        accounts.attach(id, tables.view());
        let spare = Box::new(Shard::new());
        ret_tx.send(spare).expect("fresh channel has room");
        let shard = Box::new(Shard::new());
        workers.push(Worker::new(
            id,
            tables,
            shard,
            epoch.clone(),
            tx.clone(),
            ret_rx,
        ));
        let w = workers.last_mut().expect("just pushed");
        w.decode(cfg.decap, cfg.dedup.map(Dedup::new));
        returns.push(ret_tx);
    }
    // the collector's handles are sized with the tables, and count with them
    let memory_bytes =
        workers.iter().map(Worker::memory_bytes).sum::<usize>() + accounts.handle_memory_bytes();
    let (reload_tx, reload_rx) = crossbeam_channel::unbounded();
    let (alerts_tx, alerts_rx) = crate::detect::deliver::queue();
    let collector = CollectorLoop {
        rx,
        returns,
        epoch,
        refresh,
        accounts,
        published: Arc::new(Published::new(Snapshot::empty(n))),
        memory_bytes,
        reload_rx,
        reload_tx,
        capture_clock: cfg.capture_clock,
        boundaries: HashMap::new(),
        alerts_tx,
        alerts_rx,
        outputs_attached: false,
        deliveries: Arc::new(Deliveries::default()),
        capture_now: 0,
        records_tx: None,
        export_counts: None,
        publish: Publish::Every,
        ahead: vec![false; n],
        held: Vec::new(),
    };
    (workers, collector)
}

/// The latest snapshot, shared with the HTTP server, and the history the
/// API takes rates from.
pub struct Published {
    current: Mutex<Arc<Snapshot>>,
    history: Mutex<History>,
    /// The time the latest snapshot is still true at (ns): the last
    /// refresh (live), or the capture time handed over up to (replay). A
    /// collector with nothing new to merge publishes no new snapshot, but
    /// its time goes on, so rates fall to zero when traffic stops.
    now_ns: AtomicU64,
}

impl Published {
    pub fn new(s: Snapshot) -> Published {
        Published {
            current: Mutex::new(Arc::new(s)),
            history: Mutex::new(History::default()),
            now_ns: AtomicU64::new(0),
        }
    }

    /// The time the latest snapshot is still true at (ns since the epoch).
    pub fn now_ns(&self) -> u64 {
        self.now_ns.load(Ordering::Relaxed)
    }

    /// Moves the time the latest snapshot holds at (the collector does at
    /// every refresh).
    pub fn set_now(&self, ns: u64) {
        self.now_ns.store(ns, Ordering::Relaxed);
    }

    /// Runs `f` on the history, under its own lock (never the snapshot's).
    pub fn with_history<R>(&self, f: impl FnOnce(&mut History) -> R) -> R {
        match self.history.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Publishes `s` and keeps it as a sample of the history (benchmarks
    /// and tests build a history this way).
    pub fn set_sampled(&self, s: Arc<Snapshot>) {
        self.set_now(s.at_ns);
        self.set(s.clone());
        self.with_history(|h| h.sample(s));
    }

    /// The latest snapshot. Holds the lock only to clone an `Arc`.
    pub fn get(&self) -> Arc<Snapshot> {
        match self.current.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, s: Arc<Snapshot>) {
        match self.current.lock() {
            Ok(mut g) => *g = s,
            Err(poisoned) => *poisoned.into_inner() = s,
        }
    }
}

/// The collector thread's loop and what it owns; [`pipeline`] builds it
/// and [`CollectorLoop::run`] runs it.
pub struct CollectorLoop {
    rx: Receiver<Handoff>,
    returns: Vec<Sender<Box<Shard>>>,
    epoch: Arc<AtomicU64>,
    refresh: Duration,
    accounts: Accounts,
    published: Arc<Published>,
    memory_bytes: usize,
    reload_rx: Receiver<Accounting>,
    reload_tx: Sender<Accounting>,
    capture_clock: bool,
    /// Interval boundaries of capture time (ns) and how many workers have
    /// reached each.
    boundaries: HashMap<u64, usize>,
    alerts_tx: Sender<AlertEvent>,
    alerts_rx: Receiver<AlertEvent>,
    /// Whether anyone reads the alert events.
    outputs_attached: bool,
    deliveries: Arc<Deliveries>,
    /// Replay: the capture time every worker has handed over up to (ns).
    capture_now: u64,
    /// Where flow records go, when they are exported.
    records_tx: Option<Sender<RecordBatch>>,
    /// What became of the records, per collector.
    export_counts: Option<Arc<ExportCounts>>,
    /// Replay: the boundaries of capture time at which alert limits are
    /// evaluated and the counts published.
    publish: Publish,
    /// Replay: per worker, whether it has handed over at a boundary of
    /// capture time the others have not reached yet. What it hands over
    /// next is held until they have, so that an interval's detection and
    /// counts never take packets from past its end (the worker waits for
    /// its spare shard meanwhile).
    ahead: Vec<bool>,
    held: Vec<(usize, Box<Shard>)>,
}

/// Which boundaries of capture time a replay evaluates alert limits and
/// publishes at: every one, or, when flow export adds a boundary every
/// second, those on detection's and the history's grid (none without
/// such a grid).
enum Publish {
    Every,
    OnGrid(u64),
    Never,
}

/// Batches of records the exporter may fall behind by before the
/// collector drops them (counted).
const RECORD_QUEUE: usize = 256;

/// Records the meter holds before they are handed to the exporter
/// between two refreshes.
const RECORD_BATCH: usize = 8192;

impl CollectorLoop {
    /// Where the latest snapshot is published.
    pub fn published(&self) -> Arc<Published> {
        self.published.clone()
    }

    /// Where alert events go (to the outputs); a full queue drops them,
    /// counted.
    pub fn alert_events(&mut self) -> Receiver<AlertEvent> {
        self.outputs_attached = true;
        self.alerts_rx.clone()
    }

    /// Where flow records go (for the exporter; only with
    /// [`PipelineConfig::export`]), and the counts it keeps for the
    /// collectors `labels`, published with every snapshot.
    pub fn flow_records(
        &mut self,
        labels: &[String],
    ) -> (Receiver<RecordBatch>, Arc<ExportCounts>) {
        let (tx, rx) = crossbeam_channel::bounded(RECORD_QUEUE);
        self.records_tx = Some(tx);
        let counts = Arc::new(ExportCounts::new(labels));
        self.export_counts = Some(counts.clone());
        (rx, counts)
    }

    /// Replay: boundaries come on a finer grid than `grid` (detection's
    /// and the history's, if any) for flow export; only those on `grid`
    /// are detected at and published.
    pub fn publish_on(&mut self, grid: Option<u64>) {
        self.publish = grid.map_or(Publish::Never, Publish::OnGrid);
    }

    fn records_unsent(&self, n: usize) {
        if let Some(c) = &self.export_counts {
            c.queue_unsent.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// Hands the records cut so far to the exporter, never waiting.
    fn send_records(&mut self, at_least: usize) {
        let Some(tx) = &self.records_tx else {
            return;
        };
        let Some(m) = self.accounts.meter() else {
            return;
        };
        if m.waiting() < at_least.max(1) {
            return;
        }
        if let Err(crossbeam_channel::TrySendError::Full(b)) = tx.try_send(m.batch()) {
            self.records_unsent(b.records.len());
        }
    }

    /// The outputs' delivery counts, exported with the snapshot.
    pub fn deliveries(&self) -> Arc<Deliveries> {
        self.deliveries.clone()
    }

    /// Where to send new settings; they apply at the next refresh.
    pub fn reloader(&self) -> Sender<Accounting> {
        self.reload_tx.clone()
    }

    /// Memory all workers' flow tables and shards hold, with the
    /// collector's handles of their flows, in bytes.
    pub fn shard_memory_bytes(&self) -> usize {
        self.memory_bytes
    }

    /// Bytes the collector's own tables hold (see [`Accounts::memory_bytes`]).
    pub fn table_memory_bytes(&self) -> usize {
        self.accounts.memory_bytes()
    }

    /// Runs until every worker has stopped, then publishes and returns the
    /// final snapshot.
    pub fn run(mut self) -> Arc<Snapshot> {
        let workers = self.returns.len();
        let mut done = 0;
        if !self.capture_clock {
            let now = crate::utc::steady_unix_ns();
            self.publish(false, now, true);
            self.point(now);
        } else {
            self.publish(false, 0, false);
        }
        let mut next_tick = Instant::now() + self.refresh;
        loop {
            match self.rx.recv_deadline(next_tick) {
                Ok(Handoff::Shard { worker, shard }) => {
                    if self.ahead.get(worker).copied().unwrap_or(false) {
                        // past a boundary the others have not reached:
                        // counted after it (the worker waits for its
                        // spare meanwhile)
                        self.held.push((worker, shard));
                    } else {
                        self.merge_shard(worker, shard);
                    }
                }
                Ok(Handoff::Boundary { worker, at_ns }) => {
                    if let Some(a) = self.ahead.get_mut(worker) {
                        *a = true;
                    }
                    let reached = self.boundaries.entry(at_ns).or_default();
                    *reached += 1;
                    if *reached == workers {
                        self.boundaries.remove(&at_ns);
                        self.ahead.iter_mut().for_each(|a| *a = false);
                        self.all_reached(at_ns);
                        for (w, shard) in std::mem::take(&mut self.held) {
                            self.merge_shard(w, shard);
                        }
                    }
                }
                Ok(Handoff::Done { .. }) => {
                    done += 1;
                    if done == workers {
                        break;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    // Release pairs with nothing in particular: workers read
                    // the epoch relaxed; the shard travels through the channel.
                    self.epoch.fetch_add(1, Ordering::Release);
                    while let Ok(acc) = self.reload_rx.try_recv() {
                        self.accounts.reconfigure(acc);
                    }
                    self.accounts.tick();
                    if !self.capture_clock {
                        let now = crate::utc::steady_unix_ns();
                        self.accounts.detect(now);
                        self.send_alerts();
                        self.accounts.scan_export(now);
                        self.send_records(1);
                        if self.accounts.dirty {
                            self.publish(false, now, true);
                        }
                        self.point(now);
                    } else if self.accounts.dirty {
                        // a replay's samples are taken at boundaries only
                        self.publish(false, self.capture_now, false);
                    }
                    next_tick += self.refresh;
                    let now = Instant::now();
                    if next_tick < now {
                        next_tick = now + self.refresh;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // every flow still open ends now, and the exporter's queue waits
        // for none: the last batch may wait for room
        self.accounts.flush_export();
        if let (Some(tx), Some(m)) = (self.records_tx.take(), self.accounts.meter()) {
            let batch = m.batch();
            let n = batch.records.len();
            if tx.send_timeout(batch, Duration::from_secs(5)).is_err() {
                self.records_unsent(n);
            }
        }
        if !self.capture_clock {
            let now = crate::utc::steady_unix_ns();
            self.published.set_now(now);
            return self.publish(true, now, true);
        }
        // a replay ends as of its last packet, not at the end of the
        // interval that holds it
        let end = match self.accounts.last_packet_ns() {
            Some(last) if self.capture_now > 0 => last.min(self.capture_now),
            _ => self.capture_now,
        };
        let sampled = self.capture_now > 0;
        let s = self.publish(true, end, sampled);
        if sampled {
            self.point(end);
        }
        s
    }

    /// Merges worker `worker`'s shard and gives it back as its spare.
    fn merge_shard(&mut self, worker: usize, mut shard: Box<Shard>) {
        self.accounts.merge(worker, &mut shard);
        if let Some(ret) = self.returns.get(worker) {
            // A stopped worker no longer takes spares back.
            let _ = ret.try_send(shard);
        }
        self.send_records(RECORD_BATCH);
    }

    /// Every worker has handed over up to `at_ns` of capture time: flow
    /// export's timeouts are checked, and on detection's and the
    /// history's grid the alert limits are evaluated and the counts
    /// published.
    fn all_reached(&mut self, at_ns: u64) {
        // capture time is known up to its latest packet: the last boundary
        // lies past it, on the grid
        let seen = self.accounts.last_packet_ns().unwrap_or(at_ns);
        self.accounts.scan_export(at_ns.min(seen));
        self.send_records(1);
        let on_grid = match self.publish {
            Publish::Every => true,
            Publish::OnGrid(g) => at_ns.is_multiple_of(g),
            Publish::Never => false,
        };
        if on_grid {
            self.accounts.detect(at_ns);
            self.send_alerts();
            // everything up to at_ns is merged: a sample of the capture's
            // time for the API's windows
            self.at_boundary(at_ns);
        }
    }

    /// Every worker has handed over up to `at_ns` of capture time, a
    /// boundary of detection's or the history's grid.
    fn at_boundary(&mut self, at_ns: u64) {
        if self.capture_now == 0 {
            // nothing was counted before the first packet
            if let Some(first) = self.accounts.first_packet_ns() {
                let mut origin = Snapshot::empty(self.returns.len());
                origin.at_ns = first.min(at_ns);
                let at_ns = origin.at_ns;
                self.published.with_history(|h| {
                    h.sample(Arc::new(origin));
                    h.point(Point {
                        at_ns,
                        traffic: Default::default(),
                    })
                });
            }
        }
        self.capture_now = at_ns;
        self.publish(false, at_ns, true);
        self.point(at_ns);
    }

    /// Records the traffic totals at `at_ns` for the throughput chart; the
    /// latest snapshot is true up to then.
    fn point(&self, at_ns: u64) {
        self.published.set_now(at_ns);
        let traffic = self.accounts.traffic();
        self.published
            .with_history(|h| h.point(Point { at_ns, traffic }));
    }

    /// Hands the new alert events to the log's queue, never waiting.
    fn send_alerts(&mut self) {
        let events = self.accounts.take_events();
        if !events.is_empty() {
            let cap = self.accounts.settings().detection.history;
            self.published.with_history(|h| h.events(&events, cap));
        }
        if !self.outputs_attached {
            return;
        }
        for e in events {
            if let Err(crossbeam_channel::TrySendError::Full(_)) = self.alerts_tx.try_send(e) {
                self.accounts.events_dropped += 1;
            }
        }
    }

    /// Publishes the counts as of `at_ns`, and keeps them as a sample of
    /// the history if `sample`.
    fn publish(&mut self, complete: bool, at_ns: u64, sample: bool) -> Arc<Snapshot> {
        let mut s = self.accounts.snapshot(self.memory_bytes, complete);
        s.detection.deliveries = self.deliveries.clone();
        s.flow_export = self.export_counts.clone();
        s.at_ns = at_ns;
        let s = Arc::new(s);
        self.published.set(s.clone());
        if sample {
            self.published.with_history(|h| h.sample(s.clone()));
        }
        self.accounts.dirty = false;
        s
    }
}
