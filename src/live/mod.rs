//! Live capture: resolves the settings, opens one ring per worker and
//! interface, runs pinned workers and the collector, serves /metrics, and
//! shuts down cleanly on SIGINT or SIGTERM.

mod settings;
mod signals;

pub use settings::{
    LiveBackend, LiveSettings, WorkerPriority, default_route_iface, default_xdp_params, resolve,
};

use crate::capture::CaptureError;
use crate::capture::af_packet;
use crate::capture::af_xdp::{self, XdpConfig};
use crate::capture::cbpf::Filter;
use crate::capture::stats::CaptureStats;
use crate::collector::{Published, Snapshot, pipeline};
use crate::config::{Accounting, Direction};
use crate::export::Counted;
use crate::export::http::{self, HttpError};
use crate::sys;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
}

/// A running live capture.
pub struct Live {
    workers: Vec<std::thread::JoinHandle<()>>,
    collector: std::thread::JoinHandle<Arc<Snapshot>>,
    pub published: Arc<Published>,
    pub stats: Arc<CaptureStats>,
    stop: Arc<AtomicBool>,
    /// Where reloaded accounting settings go.
    reload: crossbeam_channel::Sender<Accounting>,
    /// Kept until the capture ends (dropped after the workers).
    _held: Held,
    /// The alert outputs' threads, which end after the collector.
    outputs: Vec<std::thread::JoinHandle<()>>,
    /// The IPFIX exporter, with flow export.
    exporter: Option<std::thread::JoinHandle<()>>,
}

/// What a capture keeps open besides the workers' sockets: AF_XDP
/// attachments, with the sockets that hold promiscuous mode (the program
/// is detached when the last holder lets go, after the workers).
#[derive(Default)]
struct Held {
    _xdp: Vec<std::sync::Arc<af_xdp::SharedAttachment>>,
}

/// What one worker captures from: its rings, or its AF_XDP sockets.
enum WorkerQueues {
    Packet(Vec<af_packet::QueueRing>),
    Xdp(Vec<af_xdp::QueueSocket>),
}

/// Each worker's queues, and what was opened (for the start line).
type Opened = (Vec<WorkerQueues>, String);

fn iface_names(s: &LiveSettings) -> String {
    s.ifaces
        .iter()
        .map(|i| i.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn open_af_packet(s: &LiveSettings, stats: &CaptureStats) -> Result<Opened, LiveError> {
    crate::capture::check_privileges(false, 0)?;
    let mut progs = Vec::new();
    for i in &s.ifaces {
        progs.push(Arc::new(crate::capture::filter_program(
            i,
            s.filter.as_deref(),
            s.snaplen,
            s.socket.direction,
        )?));
    }
    let n = s.pipeline.workers;
    let mut per_worker = Vec::with_capacity(n);
    for w in 0..n {
        let mut queues = Vec::new();
        for (i, prog) in s.ifaces.iter().zip(&progs) {
            let ring = af_packet::open_ring(i, prog, &s.socket)?;
            if w == 0 {
                for note in af_packet::exactness_notes(i, ring.vnet()) {
                    crate::log!("ringflow: {note}");
                    stats.add_note(note);
                }
            }
            queues.push(af_packet::QueueRing {
                iface: i.clone(),
                indexes: s.iface_indexes(),
                prog: prog.clone(),
                ring: Some(ring),
                counters: stats.socket(&i.name, w),
                max_frame: af_packet::max_frame(i),
                merged: 0,
                unsplit: 0,
            });
        }
        per_worker.push(WorkerQueues::Packet(queues));
    }
    Ok((per_worker, format!("af-packet on {}", iface_names(s))))
}

fn open_af_xdp(
    s: &LiveSettings,
    cfg: &XdpConfig,
    queues: &[Vec<u32>],
    stats: &CaptureStats,
    held: &mut Held,
) -> Result<Opened, LiveError> {
    crate::capture::check_privileges(true, s.capture_bytes())?;
    let n = s.pipeline.workers;
    let mut per_worker: Vec<Vec<af_xdp::QueueSocket>> = (0..n).map(|_| Vec::new()).collect();
    let mut described = Vec::new();
    for (i, qs) in s.ifaces.iter().zip(queues) {
        let filter = match &s.filter {
            Some(expr) => Some(
                Filter::new(&crate::capture::filter_program(
                    i,
                    Some(expr),
                    s.snaplen,
                    Direction::Both,
                )?)
                .map_err(|msg| CaptureError::Filter {
                    expr: expr.clone(),
                    msg,
                })?,
            ),
            None => None,
        };
        let entries = qs.iter().max().map_or(1, |&q| q + 1);
        let (attachment, attached) =
            af_xdp::SharedAttachment::attach(i, entries, cfg.mode, s.socket.promisc)?;
        let mut binds = Vec::new();
        for (w, &q) in qs.iter().enumerate() {
            let (sock, bind) = af_xdp::open_socket(i, q, cfg)?;
            attachment
                .register(q, &sock)
                .map_err(|source| CaptureError::Socket {
                    iface: i.name.clone(),
                    source,
                })?;
            let (mode, bind) = (attached.label(), af_xdp::bind_label(bind));
            binds.push(bind);
            per_worker[w].push(af_xdp::QueueSocket {
                iface: i.name.clone(),
                iface_number: i.number,
                indexes: s.iface_indexes(),
                queue: q,
                cfg: cfg.clone(),
                attachment: attachment.clone(),
                ifindex: i.ifindex,
                sock,
                filter: filter.clone(),
                counters: stats.xdp_socket(&i.name, q as usize, mode, bind),
                packets: 0,
                last: Default::default(),
            });
        }
        binds.dedup();
        described.push(format!(
            "{} queue(s) {} ({} mode, {} bind)",
            i.name,
            qs.iter()
                .map(|q| q.to_string())
                .collect::<Vec<_>>()
                .join(","),
            attached.label(),
            binds.join("/"),
        ));
        held._xdp.push(attachment);
    }
    Ok((
        per_worker.into_iter().map(WorkerQueues::Xdp).collect(),
        format!("af-xdp on {}", described.join(", ")),
    ))
}

impl Live {
    /// Opens every ring (so that every setup error comes before anything
    /// runs) and starts the workers and the collector.
    pub fn start(s: &LiveSettings) -> Result<Live, LiveError> {
        // every thread started from here on runs on the collector's CPUs,
        // but the workers, which pin themselves
        if !s.collector_cpus.is_empty() {
            sys::set_thread_cpus(&s.collector_cpus).map_err(LiveError::Config)?;
        }
        if s.iface_of_default_route {
            crate::log!(
                "ringflow: capturing on {}, the interface of the default route",
                iface_names(s)
            );
        }
        let stats = Arc::new(CaptureStats::default());
        for i in &s.ifaces {
            stats.add_iface(&i.name);
        }
        let n = s.pipeline.workers;
        let mut held = Held::default();
        let (per_worker, what) = match &s.backend {
            LiveBackend::AfPacket => open_af_packet(s, &stats)?,
            LiveBackend::AfXdp { cfg, queues } => open_af_xdp(s, cfg, queues, &stats, &mut held)?,
        };
        let (workers, mut collector) = pipeline(&s.pipeline);
        // the start line, logged once the workers say how they are scheduled
        let started = format!(
            "ringflow: {what} with {n} worker(s) on CPU {}{}",
            s.cpu_list(),
            s.collector_cpu_note(),
        );
        let memory = s.memory(&collector);
        stats.set_capture_bytes(memory.capture);
        let memory = format!("memory: {memory}");
        let published = collector.published();
        let reload = collector.reloader();
        let outputs = if s.outputs.any() {
            crate::detect::deliver::start(
                &s.outputs,
                collector.alert_events(),
                collector.deliveries(),
            )
            .map_err(LiveError::Config)?
        } else {
            Vec::new()
        };
        let exporter = match &s.ipfix {
            Some(x) => {
                let labels: Vec<String> = x.destinations.iter().map(|d| d.label()).collect();
                let (rx, counts) = collector.flow_records(&labels);
                Some(crate::export::ipfix::start(x, rx, counts).map_err(LiveError::Thread)?)
            }
            None => None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let collector = std::thread::Builder::new()
            .name("ringflow-collector".into())
            .spawn(move || collector.run())
            .map_err(LiveError::Thread)?;
        let mut threads = Vec::with_capacity(n);
        // each worker says whether it got its scheduling priority
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(n);
        for ((w, queues), cpu) in workers
            .into_iter()
            .zip(per_worker)
            .zip(s.cpus.iter().copied())
        {
            let stop = stop.clone();
            let socket = s.socket.clone();
            let (priority, ready) = (s.worker_priority, ready_tx.clone());
            let t = std::thread::Builder::new()
                .name(format!("ringflow-worker-{}", w.id()))
                .spawn(move || {
                    let _ = core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
                    let got = priority.apply();
                    let failed = got.is_err() && !priority.auto;
                    let _ = ready.send(got);
                    drop(ready);
                    if failed {
                        // dropping the worker hands its (empty) shard over
                        return;
                    }
                    match queues {
                        WorkerQueues::Packet(queues) => {
                            af_packet::capture_loop(w, queues, &socket, &stop)
                        }
                        WorkerQueues::Xdp(queues) => af_xdp::capture_loop(w, queues, &stop),
                    }
                })
                .map_err(LiveError::Thread)?;
            threads.push(t);
        }
        drop(ready_tx);
        // one answer from each worker (a worker that died sends none)
        let answers: Vec<Result<(), String>> = ready_rx.iter().take(n).collect();
        let scheduling = match answers.into_iter().find_map(Result::err) {
            None => s.worker_priority.describe(),
            Some(why) if s.worker_priority.auto => {
                format!("normal priority (the default asked for {why})")
            }
            Some(why) => {
                stop.store(true, Ordering::Relaxed);
                for t in threads {
                    let _ = t.join();
                }
                let _ = collector.join();
                return Err(LiveError::Config(format!(
                    "cannot run the workers at {why}; --worker-priority normal runs them at normal priority"
                )));
            }
        };
        let own = if s.own_networks.is_empty() {
            String::new()
        } else {
            let l: Vec<String> = s.own_networks.iter().map(|c| c.to_string()).collect();
            format!(
                "; local networks: the private ranges and this box's {}",
                l.join(", ")
            )
        };
        crate::log!("{started} at {scheduling}; {memory}{own}");
        Ok(Live {
            workers: threads,
            collector,
            published,
            stats,
            stop,
            reload,
            _held: held,
            outputs,
            exporter,
        })
    }

    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Waits for the workers (they stop when the stop flag is raised),
    /// then for the collector's final merge.
    pub fn wait(self) -> Arc<Snapshot> {
        for t in self.workers {
            let _ = t.join();
        }
        let snap = self
            .collector
            .join()
            .unwrap_or_else(|_| Arc::new(self.published.get().as_ref().clone()));
        for t in self.outputs {
            let _ = t.join();
        }
        // the collector's last records are with the exporter
        if let Some(t) = self.exporter {
            let _ = t.join();
        }
        snap
    }
}

/// Serves until SIGINT or SIGTERM, then shuts down cleanly. Returns the
/// final snapshot.
pub fn run(s: &LiveSettings) -> Result<Counted, LiveError> {
    let signals = signals::block_stop_signals();
    // A taken port is an error before any capture starts.
    let listener = http::bind(s.listen)?;
    let live = Live::start(s)?;
    let server = http::spawn_on(
        listener,
        live.published.clone(),
        live.stats.clone(),
        s.web.clone(),
    )?;
    crate::log!("ringflow: serving http://{}/metrics", server.local_addr);
    let stop = live.stop_flag();
    let reload = signals::Reload {
        cli: s.cli.clone(),
        start_file: s.start_file.clone(),
        tx: live.reload.clone(),
    };
    std::thread::Builder::new()
        .name("ringflow-signals".into())
        .spawn(move || signals::wait_for_signals(signals, &stop, &reload))
        .map_err(LiveError::Thread)?;
    let stats = live.stats.clone();
    let snap = live.wait();
    crate::log!("ringflow: stopped; {} packets counted", snap.packets);
    Ok((snap, stats))
}
