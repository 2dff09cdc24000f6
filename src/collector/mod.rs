//! The collector thread: every refresh it raises the epoch, merges the
//! shards the workers hand over ([`accounts`]), decides who opened each
//! conversation ([`conversations`]), classifies what it has not seen
//! before and keeps the totals of every entry and host ([`ledger`]), keeps
//! the top series by recent bytes and folds the rest ([`ranking`]), and
//! publishes an immutable [`Snapshot`] ([`snapshot`]) that scrapes read
//! without touching a worker.

pub mod accounts;
mod conversations;
mod ledger;
mod ranking;
mod slots;
pub mod snapshot;

pub use accounts::Accounts;
pub use snapshot::{BatchRow, Count, FlowRow, HostCounts, HostRow, SeriesKey, Snapshot};

use crate::config::{Accounting, defaults};
use crate::detect::AlertEvent;
use crate::detect::deliver::Deliveries;
use crate::worker::{Handoff, Shard, Worker};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Sizes of the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub workers: usize,
    /// Flows each worker table holds per refresh interval.
    pub table_capacity: usize,
    pub refresh: Duration,
    pub accounting: Accounting,
    /// Time is the capture's (replay): alert limits are evaluated when all
    /// workers hand over at an interval boundary of capture time. Else
    /// (live) they are evaluated at every refresh on the clock.
    pub capture_clock: bool,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 1,
            table_capacity: defaults::FLOW_TABLE_SIZE as usize,
            refresh: defaults::duration(defaults::REFRESH),
            accounting: Accounting::default(),
            capture_clock: false,
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
    let mut workers = Vec::with_capacity(n);
    let mut returns = Vec::with_capacity(n);
    for id in 0..n {
        let (ret_tx, ret_rx) = crossbeam_channel::bounded(2);
        let spare = Box::new(Shard::new(cfg.table_capacity));
        ret_tx.send(spare).expect("fresh channel has room");
        workers.push(Worker::new(
            id,
            Box::new(Shard::new(cfg.table_capacity)),
            epoch.clone(),
            tx.clone(),
            ret_rx,
        ));
        returns.push(ret_tx);
    }
    let refresh = cfg.refresh.max(Duration::from_millis(10));
    // each worker has one shard in use and one spare
    let memory_bytes = workers.iter().map(Worker::memory_bytes).sum::<usize>() * 2;
    let (reload_tx, reload_rx) = crossbeam_channel::unbounded();
    let (alerts_tx, alerts_rx) = crate::detect::deliver::queue();
    let collector = CollectorLoop {
        rx,
        returns,
        epoch,
        refresh,
        accounts: Accounts::new(n, refresh, cfg.accounting.clone()),
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
    };
    (workers, collector)
}

/// The latest snapshot, shared with the HTTP server.
pub struct Published {
    current: Mutex<Arc<Snapshot>>,
}

impl Published {
    fn new(s: Snapshot) -> Published {
        Published {
            current: Mutex::new(Arc::new(s)),
        }
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
}

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

    /// The outputs' delivery counts, exported with the snapshot.
    pub fn deliveries(&self) -> Arc<Deliveries> {
        self.deliveries.clone()
    }

    /// Where to send new settings; they apply at the next refresh.
    pub fn reloader(&self) -> Sender<Accounting> {
        self.reload_tx.clone()
    }

    /// Memory all worker shards (two per worker) hold, in bytes.
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
        self.publish(false);
        let mut next_tick = Instant::now() + self.refresh;
        loop {
            match self.rx.recv_deadline(next_tick) {
                Ok(Handoff::Shard { worker, mut shard }) => {
                    self.accounts.merge(worker, &mut shard);
                    if let Some(ret) = self.returns.get(worker) {
                        // A stopped worker no longer takes spares back.
                        let _ = ret.try_send(shard);
                    }
                }
                Ok(Handoff::Boundary { at_ns, .. }) => {
                    let reached = self.boundaries.entry(at_ns).or_default();
                    *reached += 1;
                    if *reached == workers {
                        self.boundaries.remove(&at_ns);
                        self.accounts.detect(at_ns);
                        self.send_alerts();
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
                        self.accounts.detect(wall_clock_ns());
                        self.send_alerts();
                    }
                    if self.accounts.dirty {
                        self.publish(false);
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
        self.publish(true)
    }

    /// Hands the new alert events to the log's queue, never waiting.
    fn send_alerts(&mut self) {
        let events = self.accounts.take_events();
        if !self.outputs_attached {
            return;
        }
        for e in events {
            if let Err(crossbeam_channel::TrySendError::Full(_)) = self.alerts_tx.try_send(e) {
                self.accounts.events_dropped += 1;
            }
        }
    }

    fn publish(&mut self, complete: bool) -> Arc<Snapshot> {
        let mut s = self.accounts.snapshot(self.memory_bytes, complete);
        s.detection.deliveries = self.deliveries.clone();
        let s = Arc::new(s);
        self.published.set(s.clone());
        self.accounts.dirty = false;
        s
    }
}

fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
