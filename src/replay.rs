//! Offline replay: capture files read in order, spread over the workers by
//! a symmetric flow hash (as RSS would spread them over queues), through
//! the very same workers and collector as live capture.

use crate::capture::Frame;
use crate::capture::pcap_file::{PcapError, PcapReader};
use crate::capture::stats::CaptureStats;
use crate::collector::{PipelineConfig, Published, Snapshot, pipeline};
use crate::config::ReplayArgs;
use crate::export::Counted;
use crate::export::http::{self, HttpError};
use crate::parse::{self, Decap, LinkType, Outcome};
use crate::worker::Worker;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::io::Read;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Batches in flight per worker.
const BATCHES_PER_WORKER: usize = 4;

/// A batch of frames in one contiguous buffer, recycled between the reader
/// and a worker.
pub struct Batch {
    data: Vec<u8>,
    descs: Vec<Desc>,
    /// After its frames, hand the shard over up to this capture time (an
    /// interval boundary of the alert limits).
    boundary: Option<u64>,
}

#[derive(Clone, Copy)]
struct Desc {
    link: LinkType,
    start: usize,
    len: usize,
    orig_len: u32,
    ts_ns: u64,
}

impl Batch {
    pub fn with_capacity(packets: usize) -> Batch {
        Batch {
            data: Vec::with_capacity(packets * 2048),
            descs: Vec::with_capacity(packets),
            boundary: None,
        }
    }

    pub fn push(&mut self, link: LinkType, bytes: &[u8], orig_len: u32, ts_ns: u64) {
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.descs.push(Desc {
            link,
            start,
            len: bytes.len(),
            orig_len,
            ts_ns,
        });
    }

    pub fn len(&self) -> usize {
        self.descs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.descs.is_empty()
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.descs.clear();
        self.boundary = None;
    }

    pub fn frames(&self) -> impl Iterator<Item = Frame<'_>> {
        self.descs.iter().map(|d| Frame {
            link: d.link,
            data: &self.data[d.start..d.start + d.len],
            orig_len: d.orig_len,
            ts_ns: d.ts_ns,
            vlan: 0,
            iface: 0,
            gso_size: 0,
        })
    }
}

/// Which worker a frame goes to: by the host pair of the packet counted
/// (inside the tunnels `decap` opens), as live AF_PACKET capture spreads
/// them ([`crate::capture::spread`]), so both directions of a conversation
/// and every copy of a packet land on the same one.
#[inline]
pub fn dispatch(link: LinkType, data: &[u8], decap: &Decap, workers: usize) -> usize {
    if workers <= 1 {
        return 0;
    }
    match parse::parse(link, data, decap) {
        Outcome::Ip(p) => crate::capture::spread::worker_of(&p, workers),
        _ => 0,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Pcap(#[from] PcapError),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error("a worker thread stopped unexpectedly")]
    WorkerPanicked,
    #[error("{0}")]
    Config(String),
    /// A setting that is wrong as given (exit status 2).
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("the HTTP server thread stopped")]
    ServerStopped,
}

/// `ringflow replay`: opens every file (so a bad one is an error before
/// anything runs), replays them through the workers and the collector,
/// and either returns the final snapshot for `--print`, or with `--listen`
/// serves it during the replay and after the end until interrupted.
pub fn run(args: &ReplayArgs) -> Result<Option<Counted>, ReplayError> {
    let ipfix = args.ipfix.settings().map_err(ReplayError::Usage)?;
    let decode = match &args.config {
        Some(path) => {
            let file = crate::config::config_table(path).map_err(ReplayError::Config)?;
            let run = crate::config::RunArgs {
                decode: args.decode.clone(),
                ..Default::default()
            };
            crate::config::merge(&run, path, file)
                .map_err(ReplayError::Config)?
                .decode
        }
        None => args.decode.clone(),
    };
    let (decap, dedup) = decode.settings().map_err(ReplayError::Usage)?;
    let cfg = PipelineConfig {
        workers: usize::from(args.pipeline.workers),
        table_capacity: args.pipeline.flow_table_size as usize,
        table_capacity_v6: args.pipeline.flow_table_size_v6.map(|n| n as usize),
        refresh: args.pipeline.refresh,
        accounting: match &args.config {
            Some(path) => {
                let file = crate::config::config_table(path).map_err(ReplayError::Config)?;
                crate::config::merge_accounting(&args.accounting, path, file)
                    .map_err(ReplayError::Config)?
            }
            None => args.accounting.clone(),
        }
        .resolve()
        .map_err(ReplayError::Config)?,
        capture_clock: true,
        // one observation domain (1) and no interface
        export: ipfix
            .as_ref()
            .map(|s| (flow_timeouts(s), std::sync::Arc::default())),
        decap,
        dedup,
    };
    // settings first, like the accounting ones: a bad web config stops
    // the replay before any file is read
    let mut web = crate::export::web::WebSettings::load(
        args.web_config.as_deref(),
        args.web_max_connections
            .unwrap_or(crate::config::defaults::WEB_MAX_CONNECTIONS),
    )
    .map_err(ReplayError::Config)?;
    if let Some(addr) = args.listen {
        web.allow_hosts(addr, args.web_allowed_hosts.as_deref());
    }
    let inputs = args
        .files
        .iter()
        .map(|f| open(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut job = Replay::new(inputs, &cfg, args.batch as usize);
    if args.listen.is_some() {
        // the API's windows and the throughput chart follow capture time
        job.sample_every(crate::collector::history::SAMPLE_STEP_NS);
    }
    let exporter = match &ipfix {
        Some(s) => {
            // idle flows are found every second of capture time
            job.export_every(1_000_000_000);
            let labels: Vec<String> = s.destinations.iter().map(|d| d.label()).collect();
            let (rx, counts) = job.collector.flow_records(&labels);
            Some(crate::export::ipfix::start(s, rx, counts).map_err(ReplayError::Thread)?)
        }
        None => None,
    };
    crate::log!(
        "ringflow: replaying {} file(s) on {} worker(s); flow tables {:.1} MiB, collector {:.1} MiB",
        args.files.len(),
        cfg.workers,
        job.shard_memory_bytes() as f64 / (1 << 20) as f64,
        job.collector_memory_bytes() as f64 / (1 << 20) as f64
    );
    let stats = job.capture_stats();
    let outputs = args.outputs();
    let outputs = if outputs.any() {
        let deliveries = job.deliveries();
        crate::detect::deliver::start(&outputs, job.alert_events(), deliveries)
            .map_err(ReplayError::Config)?
    } else {
        Vec::new()
    };
    let server = match args.listen {
        Some(addr) => {
            let s = http::spawn(addr, job.published(), stats.clone(), web)?;
            crate::log!("ringflow: serving http://{}/metrics", s.local_addr);
            Some(s)
        }
        None => None,
    };
    let snapshot = job.run()?;
    // the collector has stopped: the outputs have every event; once they
    // are done, the delivery counts the snapshot reads are final
    for t in outputs {
        let _ = t.join();
    }
    // the exporter has the last records once the collector stopped
    if let Some(t) = exporter {
        let _ = t.join();
    }
    match server {
        Some(s) => {
            crate::log!(
                "ringflow: input complete ({} packets); still serving until interrupted",
                snapshot.packets
            );
            s.thread.join().map_err(|_| ReplayError::ServerStopped)?;
            Ok(None)
        }
        None => Ok(Some((snapshot, stats))),
    }
}

/// The timeouts that cut flow records, from the IPFIX settings.
pub fn flow_timeouts(
    s: &crate::config::export::IpfixSettings,
) -> crate::collector::export::Timeouts {
    crate::collector::export::Timeouts {
        active: s.active_timeout,
        idle: s.idle_timeout,
    }
}

pub type Input = PcapReader<Box<dyn Read + Send>>;

/// Opens `path` for replay; errors name the file.
pub fn open(path: &str) -> Result<Input, PcapError> {
    let f = std::fs::File::open(path).map_err(|source| PcapError::Io {
        path: path.into(),
        source,
    })?;
    let r: Box<dyn Read + Send> = Box::new(std::io::BufReader::with_capacity(1 << 20, f));
    PcapReader::new(r, path)
}

/// A replay that is set up (files opened and checked, pipeline built) and
/// not yet started, so the HTTP server can be given its snapshot first.
pub struct Replay {
    inputs: Vec<Input>,
    workers: Vec<Worker>,
    collector: crate::collector::CollectorLoop,
    batch: usize,
    stats: Arc<CaptureStats>,
    /// The grid of capture time (ns) workers hand over on (detection's,
    /// and the history's when served), and the grid the last interval
    /// ends on (detection's, so the end is the same served or not).
    interval: Option<(u64, u64)>,
    /// The tunnels opened, which the spread over the workers follows.
    decap: Decap,
}

impl Replay {
    pub fn new(inputs: Vec<Input>, cfg: &PipelineConfig, batch: usize) -> Replay {
        let cfg = PipelineConfig {
            capture_clock: true,
            ..cfg.clone()
        };
        let (workers, collector) = pipeline(&cfg);
        let d = &cfg.accounting.detection;
        Replay {
            inputs,
            workers,
            collector,
            batch: batch.max(1),
            stats: Arc::new(CaptureStats::default()),
            interval: crate::detect::Detector::grid_ns(d).map(|g| (g, g)),
            decap: cfg.decap,
        }
    }

    /// Hands over at least every `step_ns` of capture time as well, so the
    /// history the API reads has samples of the capture's time.
    pub fn sample_every(&mut self, step_ns: u64) {
        self.interval = Some(match self.interval {
            Some((iv, end)) => (crate::detect::common_grid(iv, step_ns), end),
            None => (step_ns, step_ns),
        });
    }

    /// Hands over at least every `step_ns` of capture time for flow
    /// export's timeouts too (after [`sample_every`](Self::sample_every)):
    /// at those boundaries the collector cuts records and publishes
    /// nothing.
    pub fn export_every(&mut self, step_ns: u64) {
        self.collector.publish_on(self.interval.map(|(iv, _)| iv));
        self.interval = Some(match self.interval {
            Some((iv, end)) => (crate::detect::common_grid(iv, step_ns), end),
            None => (step_ns, step_ns),
        });
    }

    /// The alert outputs' delivery counts.
    pub fn deliveries(&self) -> Arc<crate::detect::deliver::Deliveries> {
        self.collector.deliveries()
    }

    /// Where alert events go.
    pub fn alert_events(&mut self) -> Receiver<crate::detect::AlertEvent> {
        self.collector.alert_events()
    }

    pub fn published(&self) -> Arc<Published> {
        self.collector.published()
    }

    pub fn capture_stats(&self) -> Arc<CaptureStats> {
        self.stats.clone()
    }

    pub fn shard_memory_bytes(&self) -> usize {
        self.collector.shard_memory_bytes()
    }

    pub fn collector_memory_bytes(&self) -> usize {
        self.collector.table_memory_bytes()
    }

    /// Reads every input to the end and returns the final snapshot. A file
    /// that ends inside a record is counted as damaged, reported in one
    /// line, and replay goes on with the next file; any other error stops
    /// the replay.
    pub fn run(self) -> Result<Arc<Snapshot>, ReplayError> {
        let Replay {
            inputs,
            workers,
            collector,
            batch,
            stats,
            interval,
            decap,
        } = self;
        let n = workers.len();
        let collector = std::thread::Builder::new()
            .name("ringflow-collector".into())
            .spawn(move || collector.run())
            .map_err(ReplayError::Thread)?;

        let mut to_worker: Vec<Sender<Batch>> = Vec::with_capacity(n);
        let mut pools: Vec<Receiver<Batch>> = Vec::with_capacity(n);
        let mut threads: Vec<JoinHandle<()>> = Vec::with_capacity(n);
        for w in workers {
            let (tx, rx) = crossbeam_channel::bounded::<Batch>(BATCHES_PER_WORKER);
            let (pool_tx, pool_rx) = crossbeam_channel::bounded::<Batch>(BATCHES_PER_WORKER);
            for _ in 0..BATCHES_PER_WORKER - 1 {
                let _ = pool_tx.send(Batch::with_capacity(batch));
            }
            let t = std::thread::Builder::new()
                .name(format!("ringflow-worker-{}", w.id()))
                .spawn(move || worker_loop(w, rx, pool_tx))
                .map_err(ReplayError::Thread)?;
            to_worker.push(tx);
            pools.push(pool_rx);
            threads.push(t);
        }

        let result = read_inputs(inputs, batch, interval, &decap, &to_worker, &pools, &stats);
        // Closing the channels stops the workers, which hand over their
        // last shards; then the collector merges them and stops.
        drop(to_worker);
        let mut panicked = false;
        for t in threads {
            panicked |= t.join().is_err();
        }
        let snapshot = collector.join().map_err(|_| ReplayError::WorkerPanicked)?;
        result?;
        if panicked {
            return Err(ReplayError::WorkerPanicked);
        }
        Ok(snapshot)
    }
}

fn worker_loop(mut w: Worker, rx: Receiver<Batch>, pool: Sender<Batch>) {
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(mut b) => {
                w.process_batch(b.frames());
                let boundary = b.boundary;
                b.clear();
                let _ = pool.send(b);
                match boundary {
                    Some(at_ns) => w.hand_over_at(at_ns),
                    // Offline, nothing is lost by waiting: a filling table
                    // is handed over early instead of overflowing.
                    None => w.hand_over_if_filling(),
                }
            }
            Err(RecvTimeoutError::Timeout) => w.poll_epoch(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Hands worker `w` the batch it is filling and starts a fresh one.
fn send_batch(
    w: usize,
    current: &mut [Batch],
    to_worker: &[Sender<Batch>],
    pools: &[Receiver<Batch>],
) -> Result<(), ReplayError> {
    let Ok(fresh) = pools[w].recv() else {
        return Err(ReplayError::WorkerPanicked);
    };
    let full = std::mem::replace(&mut current[w], fresh);
    to_worker[w]
        .send(full)
        .map_err(|_| ReplayError::WorkerPanicked)
}

/// Every worker hands over what it has, up to capture time `at_ns`.
fn send_boundary(
    at_ns: u64,
    current: &mut [Batch],
    to_worker: &[Sender<Batch>],
    pools: &[Receiver<Batch>],
) -> Result<(), ReplayError> {
    for w in 0..to_worker.len() {
        if !current[w].is_empty() {
            send_batch(w, current, to_worker, pools)?;
        }
        current[w].boundary = Some(at_ns);
        send_batch(w, current, to_worker, pools)?;
    }
    Ok(())
}

/// Reads the inputs and spreads their packets over the workers. With
/// `interval` (ns: the grid to hand over on, and the grid the last
/// interval ends on), every worker hands over at each boundary of capture
/// time, so alerts and the API's windows follow the capture's timestamps
/// whatever the replay's speed.
fn read_inputs(
    inputs: Vec<Input>,
    batch: usize,
    interval: Option<(u64, u64)>,
    decap: &Decap,
    to_worker: &[Sender<Batch>],
    pools: &[Receiver<Batch>],
    stats: &CaptureStats,
) -> Result<(), ReplayError> {
    let n = to_worker.len();
    let mut current: Vec<Batch> = (0..n).map(|_| Batch::with_capacity(batch)).collect();
    // the end of the current interval of capture time
    let mut next_boundary: Option<u64> = None;
    let mut max_ts = 0;
    for mut input in inputs {
        loop {
            let rec = match input.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e @ PcapError::Truncated { .. }) => {
                    stats.add_damaged_record();
                    crate::log!("ringflow: warning: {e}; the packets before it are counted");
                    break;
                }
                Err(e) => return Err(e.into()),
            };
            max_ts = max_ts.max(rec.ts_ns);
            if let Some((iv, _)) = interval {
                let start = rec.ts_ns / iv * iv;
                match next_boundary {
                    None => next_boundary = Some(start + iv),
                    // packets out of order stay in the current interval
                    Some(b) if rec.ts_ns >= b => {
                        send_boundary(start, &mut current, to_worker, pools)?;
                        next_boundary = Some(start + iv);
                    }
                    Some(_) => {}
                }
            }
            let data = input.data();
            let w = dispatch(rec.link, data, decap, n);
            current[w].push(rec.link, data, rec.orig_len, rec.ts_ns);
            if current[w].len() == batch {
                send_batch(w, &mut current, to_worker, pools)?;
            }
        }
    }
    match next_boundary {
        // the last interval ends where it would have, on detection's grid
        Some(b) => {
            let end = interval.map_or(b, |(_, g)| (max_ts / g + 1) * g);
            send_boundary(b.max(end), &mut current, to_worker, pools)?
        }
        None => {
            for w in 0..n {
                if !current[w].is_empty() {
                    send_batch(w, &mut current, to_worker, pools)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::synth::{self, Mix, tcp_flags};

    #[test]
    fn both_directions_of_a_conversation_go_to_the_same_worker() {
        let flows = Mix {
            flows: 2000,
            ipv6_percent: 30,
            vlan_percent: 20,
            udp_percent: 40,
            ..Mix::default()
        }
        .flow_descs();
        for workers in [2, 3, 4, 7] {
            let mut load = vec![0usize; workers];
            for d in &flows {
                let there = d.frame(true, tcp_flags::SYN, 100);
                let back = d.frame(false, tcp_flags::ACK, 1400);
                let w = dispatch(LinkType::Ethernet, &there, &Decap::default(), workers);
                assert_eq!(
                    w,
                    dispatch(LinkType::Ethernet, &back, &Decap::default(), workers),
                    "{d:?}"
                );
                assert!(w < workers);
                load[w] += 1;
            }
            // a hash, not a rule: every worker gets a fair share
            let fair = flows.len() / workers;
            assert!(
                load.iter().all(|&n| n > fair * 3 / 4 && n < fair * 5 / 4),
                "{workers} workers: {load:?}"
            );
        }
    }

    #[test]
    fn one_worker_and_what_is_not_ip_go_to_the_first() {
        let d = Mix::default().flow_descs()[0];
        let f = d.frame(true, tcp_flags::SYN, 64);
        assert_eq!(dispatch(LinkType::Ethernet, &f, &Decap::default(), 1), 0);
        let arp = synth::ethernet(&[], 0x0806, &[0; 28]);
        assert_eq!(dispatch(LinkType::Ethernet, &arp, &Decap::default(), 4), 0);
        assert_eq!(
            dispatch(LinkType::Ethernet, &[0xff; 5], &Decap::default(), 4),
            0
        );
    }

    #[test]
    fn a_batch_hands_back_the_frames_it_was_given() {
        let mut b = Batch::with_capacity(4);
        assert!(b.is_empty());
        b.push(LinkType::Ethernet, &[1, 2, 3], 60, 7);
        b.push(LinkType::RawIp, &[], 0, 8);
        b.push(LinkType::Ethernet, &[9; 300], 1514, 9);
        assert_eq!(b.len(), 3);
        let got: Vec<(LinkType, Vec<u8>, u32, u64)> = b
            .frames()
            .map(|f| (f.link, f.data.to_vec(), f.orig_len, f.ts_ns))
            .collect();
        assert_eq!(
            got,
            [
                (LinkType::Ethernet, vec![1, 2, 3], 60, 7),
                (LinkType::RawIp, vec![], 0, 8),
                (LinkType::Ethernet, vec![9; 300], 1514, 9),
            ]
        );
        b.clear();
        assert!(b.is_empty() && b.frames().next().is_none());
    }
}
