//! Live capture settings: the command line and config file resolved on
//! this machine (interfaces, queues, CPUs, backend, rings) and checked,
//! every problem one line.

use super::LiveError;
use crate::capture::af_packet::SocketConfig;
use crate::capture::af_xdp::{self, XdpConfig};
use crate::capture::{Iface, MAX_IFACE_NUMBER};
use crate::collector::PipelineConfig;

use crate::config::{Backend, Direction, RunArgs, defaults, parse_cpu_list, parse_duration};
use crate::sys::xdp::XskParams;
use crate::sys::{self, af_packet::RingParams};
use std::net::SocketAddr;
use std::time::Duration;

/// Everything a live capture needs, resolved and checked.
#[derive(Debug, Clone)]
pub struct LiveSettings {
    /// Flow export, if `--ipfix` is given.
    pub ipfix: Option<crate::config::export::IpfixSettings>,
    pub ifaces: Vec<Iface>,
    pub backend: LiveBackend,
    /// One CPU per worker.
    pub cpus: Vec<usize>,
    /// Where the collector and the other threads run; empty: anywhere.
    pub collector_cpus: Vec<usize>,
    pub snaplen: u32,
    pub filter: Option<String>,
    pub socket: SocketConfig,
    pub pipeline: PipelineConfig,
    pub listen: SocketAddr,
    /// TLS, users and connection limits of the web endpoints.
    pub web: crate::export::web::WebSettings,
    pub print: bool,
    /// Where alert events go.
    pub outputs: crate::config::Outputs,
    /// The command line as given, for reloads: it still wins over the file.
    pub cli: RunArgs,
    /// The config file's keys at start, to tell which changed on reload.
    pub start_file: toml::Table,
    pub worker_priority: WorkerPriority,
    /// This box's own networks, local by default (read again on SIGHUP);
    /// empty when `--local-networks` is given.
    pub own_networks: Vec<crate::netset::Cidr>,
    /// No interface was given: the one of the default route was taken.
    pub iface_of_default_route: bool,
}

/// How the worker threads are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerPriority {
    /// The SCHED_FIFO priority; `None`: the normal policy.
    pub fifo: Option<u8>,
    /// Chosen by `auto`, so failing to get it is a log line, not an error.
    pub auto: bool,
}

impl WorkerPriority {
    /// `--worker-priority`: `auto` (the default) gives AF_XDP workers
    /// SCHED_FIFO 1. An AF_XDP queue feeds only ringflow, and a worker the
    /// scheduler keeps waiting behind the kernel's busy receive thread
    /// lets the fill ring run dry: the kernel then drops frames it has
    /// already paid for. AF_PACKET runs beside the host's own traffic (a
    /// router), which a monitor must never delay, so it keeps the normal
    /// policy.
    pub fn resolve(arg: Option<&str>, af_xdp: bool) -> Result<WorkerPriority, String> {
        match arg.map(str::trim) {
            None | Some("auto") => Ok(WorkerPriority {
                fifo: af_xdp.then_some(1),
                auto: true,
            }),
            Some("normal") => Ok(WorkerPriority {
                fifo: None,
                auto: false,
            }),
            Some(n) => match n.parse::<u8>() {
                Ok(p) if (1..=99).contains(&p) => Ok(WorkerPriority {
                    fifo: Some(p),
                    auto: false,
                }),
                _ => Err(format!(
                    "--worker-priority {n}: expected auto, normal or a SCHED_FIFO priority from 1 to 99"
                )),
            },
        }
    }

    pub(super) fn describe(&self) -> String {
        match self.fifo {
            Some(p) => format!("SCHED_FIFO priority {p}"),
            None => "normal priority".into(),
        }
    }

    /// Applies it to the calling thread (normal priority too, so a
    /// ringflow started under `chrt` does not pass that on to its workers);
    /// the error says why it could not.
    pub(super) fn apply(&self) -> Result<(), String> {
        sys::set_thread_priority(self.fifo).map_err(|e| {
            let hint = if e.is_permission() {
                " (it needs CAP_SYS_NICE, and real-time time in the cgroup)"
            } else {
                ""
            };
            format!("{}: {}{hint}", self.describe(), e.source)
        })
    }
}

fn available_ifaces() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The interface of the IPv4 (else IPv6) default route.
pub fn default_route_iface() -> Option<String> {
    let v4 = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    for line in v4.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() > 7 && f[1] == "00000000" && f[7] == "00000000" {
            return Some(f[0].to_string());
        }
    }
    let v6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    for line in v6.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 10
            && f[0] == "00000000000000000000000000000000"
            && f[1] == "00"
            && f[9] != "lo"
        {
            return Some(f[9].to_string());
        }
    }
    None
}

fn rx_queues(iface: &str) -> usize {
    std::fs::read_dir(format!("/sys/class/net/{iface}/queues"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("rx-"))
                .count()
        })
        .unwrap_or(1)
        .max(1)
}

/// The capture backend as resolved.
#[derive(Debug, Clone)]
pub enum LiveBackend {
    AfPacket,
    AfXdp {
        cfg: XdpConfig,
        /// The queues to capture, per interface (in `LiveSettings::ifaces` order).
        queues: Vec<Vec<u32>>,
    },
}

/// UMEM and ring geometry of an AF_XDP socket with the defaults.
pub fn default_xdp_params() -> XskParams {
    XskParams {
        frame_size: defaults::XDP_FRAME_SIZE,
        frame_count: defaults::XDP_FRAMES,
        fill_size: defaults::XDP_RING_SIZE,
        rx_size: defaults::XDP_RING_SIZE,
        huge_pages: false,
    }
}

fn resolve_backend(args: &RunArgs, ifaces: &[Iface]) -> Result<LiveBackend, LiveError> {
    let cfg = |m: String| LiveError::Config(m);
    let default_route = default_route_iface();
    let chosen = match args.backend.unwrap_or(defaults::BACKEND) {
        Backend::AfPacket => Backend::AfPacket,
        Backend::AfXdp => Backend::AfXdp,
        Backend::Auto => {
            let spans = ifaces.iter().all(|i| {
                !i.dgram && af_xdp::steal_reason(&i.name, default_route.as_deref()).is_none()
            });
            let b = if spans {
                Backend::AfXdp
            } else {
                Backend::AfPacket
            };
            crate::log!(
                "ringflow: --backend auto chose {}",
                if spans {
                    "af-xdp (no addresses on the capture interfaces)"
                } else {
                    "af-packet (a capture interface has an address or carries the host's traffic)"
                }
            );
            b
        }
    };
    if chosen == Backend::AfPacket {
        return Ok(LiveBackend::AfPacket);
    }
    if args.direction == Some(Direction::Out) {
        return Err(cfg(
            "--direction out is impossible with af-xdp, which sees only received frames: use --backend af-packet".into(),
        ));
    }
    let mut queues = Vec::new();
    for i in ifaces {
        if i.dgram {
            return Err(cfg(format!(
                "{} has no Ethernet header; AF_XDP needs one: use --backend af-packet",
                i.name
            )));
        }
        if !args.xdp_steal
            && let Some(why) = af_xdp::steal_reason(&i.name, default_route.as_deref())
        {
            return Err(cfg(format!(
                "refusing AF_XDP on {}: {why}. AF_XDP takes every frame of its queues away from the kernel stack, so this host would stop receiving on it; use --backend af-packet to capture beside the stack, or --xdp-steal if that is really what you want",
                i.name
            )));
        }
        let have = rx_queues(&i.name) as u32;
        let list: Vec<u32> = match args.queues.as_deref() {
            None => (0..have).collect(),
            Some(q) if q == defaults::QUEUES => (0..have).collect(),
            Some(l) => {
                let mut v: Vec<u32> = parse_cpu_list(l)
                    .map_err(|_| cfg(format!("bad queue list '{l}' (example: all, 0-3,6)")))?
                    .into_iter()
                    .map(|q| q as u32)
                    .collect();
                v.sort_unstable();
                v.dedup();
                if let Some(q) = v.iter().find(|&&q| q >= have) {
                    return Err(cfg(format!(
                        "queue {q} of {} does not exist (it has {have} RX queue(s): 0-{})",
                        i.name,
                        have - 1
                    )));
                }
                v
            }
        };
        queues.push(list);
    }
    let frame_size = args.xdp_frame_size.unwrap_or(defaults::XDP_FRAME_SIZE);
    if frame_size != 2048 && frame_size != 4096 {
        return Err(cfg(format!(
            "--xdp-frame-size {frame_size} must be 2048 or 4096"
        )));
    }
    let ring = args.xdp_ring_size.unwrap_or(defaults::XDP_RING_SIZE);
    if !ring.is_power_of_two() || !(64..=1 << 20).contains(&ring) {
        return Err(cfg(format!(
            "--xdp-ring-size {ring} must be a power of two from 64 to 1048576"
        )));
    }
    let frames = args
        .xdp_frames
        .unwrap_or(defaults::XDP_FRAMES.max(2 * ring));
    if frames < ring || u64::from(frames) * u64::from(frame_size) > 1 << 34 {
        return Err(cfg(format!(
            "--xdp-frames {frames} must be at least the ring size ({ring}) and the UMEM at most 16 GiB"
        )));
    }
    Ok(LiveBackend::AfXdp {
        cfg: XdpConfig {
            params: XskParams {
                frame_size,
                frame_count: frames,
                fill_size: ring,
                rx_size: ring,
                huge_pages: args.xdp_huge_pages,
            },
            mode: args.xdp_mode.unwrap_or(defaults::XDP_MODE),
            bind: args.xdp_bind.unwrap_or(defaults::XDP_BIND),
            busy_poll: args.busy_poll.map(|u| {
                (
                    u,
                    args.busy_poll_budget.unwrap_or(defaults::BUSY_POLL_BUDGET),
                )
            }),
            max_nap: None,
        },
        queues,
    })
}

/// This box's own networks (of this network namespace), read now.
pub fn own_networks() -> Vec<crate::netset::Cidr> {
    crate::config::own_networks(&crate::sys::netlink::host_addresses())
}

/// Resolves the command line and config file into settings; every problem
/// is one line.
pub fn resolve(args: RunArgs) -> Result<LiveSettings, LiveError> {
    // The file is read once: its keys are kept to tell, on a reload,
    // which capture settings changed.
    let cli = args.clone();
    let (args, start_file) = match &args.config {
        Some(p) => {
            let table = crate::config::config_table(p).map_err(LiveError::Config)?;
            let merged =
                crate::config::merge(&args, p, table.clone()).map_err(LiveError::Config)?;
            (merged, table)
        }
        None => (args, toml::Table::new()),
    };
    let cfg = |m: String| LiveError::Config(m);

    let names: Vec<String> = if args.iface.is_empty() {
        let d = default_route_iface().ok_or_else(|| {
            cfg("no default route to take the interface from: give one with --iface (or --iface any)".into())
        })?;
        vec![d]
    } else if args.iface.iter().any(|i| i == "any") {
        let mut exclude = args.exclude_iface.clone();
        exclude.push("lo".into());
        available_ifaces()
            .into_iter()
            .filter(|i| !exclude.contains(i))
            .collect()
    } else {
        args.iface.clone()
    };
    if names.is_empty() {
        return Err(cfg(
            "no interface left to capture on after the exclusions".into()
        ));
    }
    let mut ifaces = Vec::new();
    for n in &names {
        let mut i = Iface::lookup(n).ok_or_else(|| {
            cfg(format!(
                "interface {n} not found (available: {})",
                available_ifaces().join(", ")
            ))
        })?;
        i.number = ifaces.len().min(usize::from(MAX_IFACE_NUMBER)) as u8;
        ifaces.push(i);
    }

    let online: Vec<usize> = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .unwrap_or_else(|| vec![0]);
    let mut backend = resolve_backend(&args, &ifaces)?;
    // with --dedup, an AF_XDP round (one timestamp for its frames) lasts
    // at most about half the window, so a frame and its copy taken in
    // two rounds are still within it
    if let (LiveBackend::AfXdp { cfg: x, .. }, Ok((_, Some(window)))) =
        (&mut backend, args.decode.settings())
    {
        x.max_nap = Some(window / 2);
    }
    let workers = match (&backend, args.workers) {
        (LiveBackend::AfXdp { queues, .. }, w) => {
            let n = queues.iter().map(Vec::len).max().unwrap_or(1);
            if let Some(w) = w
                && usize::from(w) != n
            {
                return Err(cfg(format!(
                    "--workers {w} does not apply to af-xdp: there is one worker per queue ({n} here; choose them with --queues)"
                )));
            }
            n
        }
        (LiveBackend::AfPacket, Some(w)) => usize::from(w),
        (LiveBackend::AfPacket, None) => names
            .iter()
            .map(|n| rx_queues(n))
            .max()
            .unwrap_or(1)
            .min(online.len()),
    }
    .max(1);
    let online_list = |flag: &str, list: &str| -> Result<Vec<usize>, LiveError> {
        let cpus = parse_cpu_list(list).map_err(|e| cfg(format!("--{flag}: {e}")))?;
        if let Some(bad) = cpus.iter().find(|c| !online.contains(c)) {
            return Err(cfg(format!(
                "CPU {bad} in --{flag} is not online (online: {})",
                online
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
        Ok(cpus)
    };
    let cpu_pool = match &args.cpus {
        Some(list) => online_list("cpus", list)?,
        None => online.clone(),
    };
    let cpus: Vec<usize> = (0..workers).map(|w| cpu_pool[w % cpu_pool.len()]).collect();
    // the collector keeps off the workers' CPUs where there is one left
    let collector_cpus = match &args.collector_cpus {
        Some(list) => online_list("collector-cpus", list)?,
        None => online
            .iter()
            .copied()
            .filter(|c| !cpus.contains(c))
            .collect(),
    };

    let duration =
        |v: &Option<String>, flag: &str, default: Duration| -> Result<Duration, LiveError> {
            match v {
                Some(s) => parse_duration(s).map_err(|e| cfg(format!("--{flag}: {e}"))),
                None => Ok(default),
            }
        };
    let block_timeout = duration(
        &args.block_timeout,
        "block-timeout",
        defaults::duration(defaults::BLOCK_TIMEOUT),
    )?;
    let refresh = duration(
        &args.refresh,
        "refresh",
        defaults::duration(defaults::REFRESH),
    )?;
    let snaplen = args.snaplen.unwrap_or(defaults::SNAPLEN);
    if !(14..=262_144).contains(&snaplen) {
        return Err(cfg(format!(
            "--snaplen {snaplen} must be between 14 and 262144"
        )));
    }
    let ring = RingParams {
        block_size: args.block_size.unwrap_or(defaults::BLOCK_SIZE),
        block_count: args.block_count.unwrap_or(defaults::BLOCK_COUNT),
        frame_size: args.frame_size.unwrap_or(defaults::FRAME_SIZE),
        block_timeout_ms: block_timeout.as_millis().clamp(1, u128::from(u32::MAX)) as u32,
    };
    if ring.block_count == 0 || ring.frame_size == 0 || ring.block_size < ring.frame_size {
        return Err(cfg(format!(
            "ring of {} blocks of {} bytes with frames of {} bytes is impossible: a block must hold at least one frame",
            ring.block_count, ring.block_size, ring.frame_size
        )));
    }
    let flow_table_size = args.flow_table_size.unwrap_or(defaults::FLOW_TABLE_SIZE);
    let most = crate::flow::table::MAX_SLOTS as u64;
    if !(1..=most).contains(&flow_table_size) {
        return Err(cfg(format!(
            "--flow-table-size {flow_table_size} must be between 1 and {most}"
        )));
    }
    if let Some(n) = args.flow_table_size_v6
        && !(1..=most).contains(&n)
    {
        return Err(cfg(format!(
            "--flow-table-size-v6 {n} must be between 1 and {most}"
        )));
    }
    let listen: SocketAddr = args
        .listen
        .unwrap_or_else(|| defaults::LISTEN.parse().expect("constant address"));
    let mut web = crate::export::web::WebSettings::load(
        args.web_config.as_deref(),
        args.web_max_connections
            .unwrap_or(defaults::WEB_MAX_CONNECTIONS),
    )
    .map_err(cfg)?;
    web.allow_hosts(listen, args.web_allowed_hosts.as_deref());
    let own_networks = match args.accounting.local_networks {
        Some(_) => Vec::new(),
        None => own_networks(),
    };
    let worker_priority = WorkerPriority::resolve(
        args.worker_priority.as_deref(),
        matches!(backend, LiveBackend::AfXdp { .. }),
    )
    .map_err(cfg)?;
    let outputs = args.outputs();
    outputs.check().map_err(cfg)?;
    let ipfix = args.ipfix.settings().map_err(cfg)?;
    let (decap, dedup) = args.decode.settings().map_err(cfg)?;
    // per interface number: its index is the observation domain and the
    // ingress interface of its records; the 16th and later interfaces
    // share a number, and their records carry domain 0 (none in
    // particular)
    let mut observed: Vec<u32> = ifaces
        .iter()
        .take(usize::from(MAX_IFACE_NUMBER) + 1)
        .map(|i| i.ifindex)
        .collect();
    if ifaces.len() > usize::from(MAX_IFACE_NUMBER) + 1 {
        observed[usize::from(MAX_IFACE_NUMBER)] = 0;
    }
    let observed = std::sync::Arc::new(
        observed
            .into_iter()
            .map(std::sync::atomic::AtomicU32::new)
            .collect::<Vec<_>>(),
    );
    let export = ipfix
        .as_ref()
        .map(|s| (crate::replay::flow_timeouts(s), observed));
    Ok(LiveSettings {
        ipfix,
        worker_priority,
        own_networks: own_networks.clone(),
        iface_of_default_route: args.iface.is_empty(),
        ifaces,
        backend,
        cpus,
        collector_cpus,
        snaplen,
        filter: args.filter.clone(),
        socket: SocketConfig {
            ring,
            fanout: (workers > 1).then(|| args.fanout.unwrap_or(defaults::FANOUT)),
            decap,
            promisc: args.promisc,
            direction: args.direction.unwrap_or(defaults::DIRECTION),
        },
        pipeline: PipelineConfig {
            workers,
            table_capacity: flow_table_size as usize,
            table_capacity_v6: args.flow_table_size_v6.map(|n| n as usize),
            refresh,
            accounting: args.accounting.resolve_on(&own_networks).map_err(cfg)?,
            capture_clock: false,
            export,
            decap,
            dedup,
        },
        listen,
        web,
        print: args.print,
        outputs,
        cli,
        start_file,
    })
}

/// The memory a live capture takes at start and keeps: the capture's
/// rings or UMEM, the workers' flow tables (with what their hand-overs
/// carry, the collector's handles of their flows and any `--dedup`
/// tables) and the collector's own tables, each fixed at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// "rings" (AF_PACKET) or "UMEM" (AF_XDP).
    pub capture_name: &'static str,
    pub capture: usize,
    pub flow_tables: usize,
    /// Of the flow tables, each worker's `--dedup` table.
    pub dedup_per_worker: Option<usize>,
    pub collector: usize,
}

impl Memory {
    pub fn total(&self) -> usize {
        self.capture + self.flow_tables + self.collector
    }
}

impl std::fmt::Display for Memory {
    /// `193 MiB (rings 64 MiB + flow tables 26 MiB + collector 103 MiB)`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dedup = match self.dedup_per_worker {
            Some(d) => format!(", of which --dedup {} KiB a worker", d >> 10),
            None => String::new(),
        };
        write!(
            f,
            "{} MiB ({} {} MiB + flow tables {} MiB{dedup} + collector {} MiB)",
            self.total() >> 20,
            self.capture_name,
            self.capture >> 20,
            self.flow_tables >> 20,
            self.collector >> 20
        )
    }
}

impl LiveSettings {
    /// Bytes of the capture's rings (AF_PACKET: one per worker and
    /// interface) or UMEM (AF_XDP: one per captured queue).
    pub fn capture_bytes(&self) -> usize {
        match &self.backend {
            LiveBackend::AfPacket => {
                self.pipeline.workers * self.ifaces.len() * self.socket.ring.bytes()
            }
            LiveBackend::AfXdp { cfg, queues } => {
                queues.iter().map(Vec::len).sum::<usize>() * cfg.params.umem_bytes()
            }
        }
    }

    /// What this capture holds in memory, measured on `collector` (the
    /// pipeline these settings make: see [`crate::collector::pipeline`]).
    /// The start line, the doctor and the API say this one figure.
    pub fn memory(&self, collector: &crate::collector::CollectorLoop) -> Memory {
        Memory {
            capture_name: match self.backend {
                LiveBackend::AfPacket => "rings",
                LiveBackend::AfXdp { .. } => "UMEM",
            },
            capture: self.capture_bytes(),
            flow_tables: collector.shard_memory_bytes(),
            dedup_per_worker: self
                .pipeline
                .dedup
                .map(crate::flow::dedup::Dedup::memory_for),
            collector: collector.table_memory_bytes(),
        }
    }

    /// The workers' CPUs, as `--cpus` takes them: `0,1`.
    pub(super) fn cpu_list(&self) -> String {
        crate::config::format_cpu_list(&self.cpus)
    }

    /// Where the collector runs, for the start line.
    pub(super) fn collector_cpu_note(&self) -> String {
        if self.collector_cpus.is_empty() {
            String::new()
        } else {
            format!(
                ", collector on CPU {}",
                crate::config::format_cpu_list(&self.collector_cpus)
            )
        }
    }

    /// The effective settings as TOML lines, defaults applied.
    /// The capture interfaces' indexes by number that flow export names
    /// in its records (an empty table without export).
    pub fn iface_indexes(&self) -> crate::collector::export::IfaceIndexes {
        self.pipeline
            .export
            .as_ref()
            .map(|(_, i)| i.clone())
            .unwrap_or_default()
    }

    pub fn describe(&self) -> String {
        let list = |v: Vec<String>| {
            let q: Vec<String> = v.iter().map(|x| format!("\"{x}\"")).collect();
            format!("[{}]", q.join(", "))
        };
        let mut out = Vec::new();
        out.push(
            "# capture: these take effect at start (a reload names them but keeps them)"
                .to_string(),
        );
        if self.iface_of_default_route {
            out.push("# iface: none given; the interface of the default route".into());
        }
        out.push(format!(
            "iface = {}",
            list(self.ifaces.iter().map(|i| i.name.clone()).collect())
        ));
        match &self.backend {
            LiveBackend::AfPacket => {
                let r = &self.socket.ring;
                out.push("backend = \"af-packet\"".into());
                out.push(format!("block-size = {}", r.block_size));
                out.push(format!("block-count = {}", r.block_count));
                out.push(format!("frame-size = {}", r.frame_size));
                out.push(format!("block-timeout = \"{}ms\"", r.block_timeout_ms));
                if let Some(f) = self.socket.fanout {
                    out.push(format!("fanout = \"{f:?}\"").to_lowercase());
                }
                out.push(format!("direction = \"{:?}\"", self.socket.direction).to_lowercase());
            }
            LiveBackend::AfXdp { cfg, queues } => {
                out.push("backend = \"af-xdp\"".into());
                out.push(format!(
                    "queues = \"{}\"",
                    queues
                        .iter()
                        .flatten()
                        .map(|q| q.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                ));
                out.push(format!("xdp-mode = \"{:?}\"", cfg.mode).to_lowercase());
                out.push(format!("xdp-bind = \"{:?}\"", cfg.bind).to_lowercase());
                out.push(format!("xdp-frame-size = {}", cfg.params.frame_size));
                out.push(format!("xdp-frames = {}", cfg.params.frame_count));
                out.push(format!("xdp-ring-size = {}", cfg.params.rx_size));
                if let Some((us, budget)) = cfg.busy_poll {
                    out.push(format!("busy-poll = {us}"));
                    out.push(format!("busy-poll-budget = {budget}"));
                }
            }
        }
        out.push(format!("workers = {}", self.pipeline.workers));
        out.push(match self.worker_priority.fifo {
            Some(p) => format!("worker-priority = {p}"),
            None => "worker-priority = \"normal\"".into(),
        });
        out.push(format!("cpus = \"{}\"", self.cpu_list()));
        if !self.collector_cpus.is_empty() {
            out.push(format!(
                "collector-cpus = \"{}\"",
                crate::config::format_cpu_list(&self.collector_cpus)
            ));
        }
        out.push(format!("snaplen = {}", self.snaplen));
        if let Some(f) = &self.filter {
            out.push(format!("filter = {f:?}"));
        }
        out.push(format!("promisc = {}", self.socket.promisc));
        out.push(format!("listen = \"{}\"", self.listen));
        if let Some(f) = &self.web.path {
            // the file's name, never its users or keys
            out.push(format!("web-config = {:?}", f.display().to_string()));
        }
        out.push(format!(
            "web-max-connections = {}",
            self.web.max_connections
        ));
        out.push(format!(
            "refresh = \"{}ms\"",
            self.pipeline.refresh.as_millis()
        ));
        out.push(format!(
            "flow-table-size = {}",
            self.pipeline.table_capacity
        ));
        out.push(format!(
            "flow-table-size-v6 = {}",
            self.pipeline.v6_capacity()
        ));
        if let Some(x) = &self.ipfix {
            out.push(format!(
                "ipfix = {}",
                list(x.destinations.iter().map(|d| d.label()).collect())
            ));
            out.push(format!(
                "ipfix-template-refresh = \"{}s\"",
                x.template_refresh.as_secs()
            ));
            out.push(format!("ipfix-mtu = {}", x.mtu));
            out.push(format!(
                "ipfix-active-timeout = \"{}s\"",
                x.active_timeout.as_secs()
            ));
            out.push(format!(
                "ipfix-idle-timeout = \"{}s\"",
                x.idle_timeout.as_secs()
            ));
        }
        out.extend(crate::config::decode::describe(
            &self.pipeline.decap,
            self.pipeline.dedup,
        ));
        let o = &self.outputs;
        for (key, v) in [
            ("alert-log", o.log.as_ref().map(|p| p.display().to_string())),
            ("alert-webhook", o.webhook.clone()),
            ("alertmanager", o.alertmanager.clone()),
            (
                "alert-exec",
                o.exec.as_ref().map(|p| p.display().to_string()),
            ),
        ] {
            match v {
                Some(v) => out.push(format!("{key} = {v:?}")),
                None => out.push(format!("# {key}: none")),
            }
        }
        out.push("# accounting: a SIGHUP reloads these from the file".to_string());
        out.push(self.pipeline.accounting.describe());
        out.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Fanout;

    /// What `--help` says (from `config::defaults`) is what is applied.
    #[test]
    fn nothing_given_resolves_to_the_defaults() {
        let s = settings(1, None);
        assert_eq!(s.snaplen, defaults::SNAPLEN);
        let r = &s.socket.ring;
        assert_eq!(
            (
                r.block_size,
                r.block_count,
                r.frame_size,
                r.block_timeout_ms
            ),
            (
                defaults::BLOCK_SIZE,
                defaults::BLOCK_COUNT,
                defaults::FRAME_SIZE,
                defaults::duration(defaults::BLOCK_TIMEOUT).as_millis() as u32
            )
        );
        assert_eq!(s.socket.direction, defaults::DIRECTION);
        assert_eq!(s.listen.to_string(), defaults::LISTEN);
        assert_eq!(s.pipeline.refresh, defaults::duration(defaults::REFRESH));
        assert_eq!(s.pipeline.table_capacity as u64, defaults::FLOW_TABLE_SIZE);
        let acc = &s.pipeline.accounting;
        assert_eq!(acc.max_flow_series as u64, defaults::MAX_FLOW_SERIES);
        assert_eq!(acc.max_hosts as u64, defaults::MAX_HOSTS);
        assert_eq!(acc.max_entries as u64, defaults::MAX_ENTRIES);
        assert_eq!(acc.flow_window, defaults::duration(defaults::FLOW_WINDOW));
        assert_eq!(acc.flow_idle, defaults::duration(defaults::FLOW_IDLE));
        let xdp = default_xdp_params();
        assert_eq!(
            (xdp.frame_size, xdp.frame_count, xdp.fill_size, xdp.rx_size),
            (
                defaults::XDP_FRAME_SIZE,
                defaults::XDP_FRAMES,
                defaults::XDP_RING_SIZE,
                defaults::XDP_RING_SIZE
            )
        );
    }

    #[test]
    fn worker_priority_auto_is_real_time_for_af_xdp_only() {
        let p = |arg, xdp| WorkerPriority::resolve(arg, xdp);
        let fifo = |f, auto| Ok(WorkerPriority { fifo: f, auto });
        assert_eq!(p(None, true), fifo(Some(1), true));
        assert_eq!(p(Some("auto"), true), fifo(Some(1), true));
        assert_eq!(p(None, false), fifo(None, true));
        assert_eq!(p(Some("normal"), true), fifo(None, false));
        assert_eq!(p(Some("50"), false), fifo(Some(50), false));
        assert_eq!(p(Some("99"), true), fifo(Some(99), false));
        for bad in ["0", "100", "high", "-1"] {
            let e = p(Some(bad), true).unwrap_err();
            assert!(e.contains("from 1 to 99"), "{bad}: {e}");
        }
        // and the default reaches the settings and their description
        let s = settings(1, None);
        assert_eq!(
            s.worker_priority,
            WorkerPriority {
                fifo: None,
                auto: true
            }
        );
        assert!(s.describe().contains("worker-priority = \"normal\""));
    }

    fn settings(workers: u16, fanout: Option<Fanout>) -> LiveSettings {
        resolve(RunArgs {
            iface: vec!["lo".into()],
            workers: Some(workers),
            fanout,
            ..RunArgs::default()
        })
        .expect("lo exists everywhere")
    }

    #[test]
    fn a_single_socket_per_interface_joins_no_fanout_group() {
        assert_eq!(settings(1, None).socket.fanout, None);
        assert_eq!(settings(1, Some(Fanout::Cpu)).socket.fanout, None);
    }

    #[test]
    fn several_workers_share_a_fanout_group_hash_by_default() {
        assert_eq!(settings(2, None).socket.fanout, Some(Fanout::Inner));
        assert_eq!(
            settings(2, Some(Fanout::Lb)).socket.fanout,
            Some(Fanout::Lb)
        );
    }
}
