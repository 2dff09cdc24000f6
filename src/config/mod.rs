//! Command-line configuration. Every default is documented on its flag.

mod accounting;
pub use accounting::{Accounting, Compat};

use crate::capture::af_packet::{Direction, Fanout};
use crate::capture::af_xdp::{XdpBind, XdpMode};
use crate::export::http::DEFAULT_LISTEN;
use crate::netset::{Cidr, DEFAULT_LOCAL, Networks, parse_list};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "ringflow",
    version,
    about = "Traffic accounting from packet rings and capture files, exported to Prometheus",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Live capture (the same as `ringflow run`).
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture live (the default when no subcommand is given).
    Run(Box<RunArgs>),
    /// Replay pcap/pcapng files through the workers and collector.
    Replay(ReplayArgs),
    /// Write a synthetic capture (a reproducible traffic mix) to a pcap file.
    Synth(SynthArgs),
    /// Send a synthetic traffic mix out of an interface, for tests and benchmarks.
    Gen(GenArgs),
    /// Check a config file as `ringflow --config FILE` would take it, on
    /// this machine's interfaces, and print the effective settings.
    CheckConfig(CheckConfigArgs),
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The TOML file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Capture backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// AF_PACKET with TPACKET_V3 rings and fanout: works on every interface.
    AfPacket,
    /// AF_XDP, one socket per RX queue: takes the frames away from the
    /// kernel stack, for dedicated capture ports.
    AfXdp,
    /// AF_XDP on an interface without addresses (a SPAN port), else AF_PACKET.
    Auto,
}

/// Live capture settings. Every flag has the same key in the TOML file
/// given with --config; a flag given on the command line wins over the
/// file. Defaults are applied after both.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunArgs {
    /// TOML file with any of these settings (keys as the flags, without --).
    #[arg(long, value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Interface to capture on; repeat for several; `any` for all of them.
    /// Default: the interface of the default route.
    #[arg(long = "iface", value_name = "IF")]
    #[serde(default)]
    pub iface: Vec<String>,
    /// Interface to leave out with `any` (repeatable); `lo` is left out by default.
    #[arg(long = "exclude-iface", value_name = "IF")]
    #[serde(default)]
    pub exclude_iface: Vec<String>,
    /// Capture backend [default: af-packet].
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Worker threads [default: the interface's RX queue count, at most the online CPUs].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// CPUs to pin workers to, e.g. `0-3,6` [default: worker i on CPU i].
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// Bytes of each packet copied to the ring [default: 256]; counting
    /// always uses the length on the wire.
    #[arg(long)]
    pub snaplen: Option<u32>,
    /// tcpdump filter expression; only matching packets are captured.
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Put the interfaces in promiscuous mode while capturing.
    #[arg(long)]
    #[serde(default)]
    pub promisc: bool,
    /// Packets to capture: both directions, received (in) or sent (out) [default: both].
    #[arg(long, value_enum)]
    pub direction: Option<Direction>,
    /// How the kernel spreads packets over the workers [default: hash].
    #[arg(long, value_enum)]
    pub fanout: Option<Fanout>,
    /// Ring block size in bytes [default: 1048576].
    #[arg(long)]
    pub block_size: Option<u32>,
    /// Ring blocks per worker and interface [default: 64, so 64 MiB].
    #[arg(long)]
    pub block_count: Option<u32>,
    /// Ring frame size hint in bytes [default: 2048].
    #[arg(long)]
    pub frame_size: Option<u32>,
    /// How long the kernel waits before handing over a block that is not
    /// full [default: 10ms].
    #[arg(long, value_name = "DURATION")]
    pub block_timeout: Option<String>,
    /// Where to serve /metrics [default: 0.0.0.0:19213].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// How often the collector merges and publishes [default: 1s].
    #[arg(long, value_name = "DURATION")]
    pub refresh: Option<String>,
    /// Flows each worker table holds per refresh interval [default: 200000].
    #[arg(long)]
    pub flow_table_size: Option<u64>,
    /// Print the final exposition to stdout on exit.
    #[arg(long)]
    #[serde(default)]
    pub print: bool,
    /// AF_XDP: RX queues to capture, `all` or a list such as `0-3` [default: all].
    #[arg(long, value_name = "all|LIST")]
    pub queues: Option<String>,
    /// AF_XDP: how the XDP program is attached [default: auto].
    #[arg(long, value_enum)]
    pub xdp_mode: Option<XdpMode>,
    /// AF_XDP: how sockets bind to their queues [default: auto].
    #[arg(long, value_enum)]
    pub xdp_bind: Option<XdpBind>,
    /// AF_XDP: bytes per UMEM frame, 2048 or 4096 [default: 2048].
    #[arg(long)]
    pub xdp_frame_size: Option<u32>,
    /// AF_XDP: UMEM frames per queue [default: 16384, at least twice the ring size].
    #[arg(long)]
    pub xdp_frames: Option<u32>,
    /// AF_XDP: entries of the fill and RX rings, a power of two [default: 8192].
    #[arg(long)]
    pub xdp_ring_size: Option<u32>,
    /// AF_XDP: take the UMEM from the huge page pool (vm.nr_hugepages); without it the UMEM is advised for transparent huge pages.
    #[arg(long)]
    #[serde(default)]
    pub xdp_huge_pages: bool,
    /// AF_XDP: busy-poll for this many microseconds (SO_PREFER_BUSY_POLL) [default: off].
    #[arg(long, value_name = "USECS")]
    pub busy_poll: Option<u32>,
    /// AF_XDP: packets per busy poll (SO_BUSY_POLL_BUDGET) [default: 64].
    #[arg(long)]
    pub busy_poll_budget: Option<u32>,
    /// AF_XDP even on an interface with addresses, a default route or a
    /// bridge/bond master: its traffic no longer reaches this host.
    #[arg(long)]
    #[serde(default)]
    pub xdp_steal: bool,
    /// Scheduling of the worker threads: `normal`, a SCHED_FIFO priority
    /// from 1 to 99, or `auto` [default: auto: SCHED_FIFO 1 for AF_XDP
    /// workers, whose capture port feeds nothing else; normal for AF_PACKET,
    /// which must never take its core before the kernel's own traffic].
    #[arg(long, value_name = "auto|normal|1-99")]
    #[serde(default, deserialize_with = "word_or_number")]
    pub worker_priority: Option<String>,
    /// Classification, limits and windows (their own TOML keys, reloadable
    /// with SIGHUP).
    #[command(flatten)]
    #[serde(skip)]
    pub accounting: AccountingArgs,
}

/// A TOML value that is a word or a number (`worker-priority = 5` as well
/// as `"normal"`), as the text a flag would carry.
fn word_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Value {
        Word(String),
        Number(i64),
    }
    Ok(Option::<Value>::deserialize(d)?.map(|v| match v {
        Value::Word(w) => w,
        Value::Number(n) => n.to_string(),
    }))
}

/// Profiles that add the metric families of a replaced tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CompatProfile {
    /// promflow_transmit_bytes_total{ip} and promflow_receive_bytes_total{ip}.
    Promflow,
    /// trafficmonitor_total_incoming_bytes, trafficmonitor_total_outgoing_bytes
    /// and trafficmonitor_hosts_src_dst.
    Trafficmonitor,
}

/// What the collector classifies and exports, and how much it keeps. The
/// same flags for live capture and replay; in the TOML file the same keys.
/// A running capture reloads them from the file on SIGHUP.
#[derive(Debug, Default, Clone, PartialEq, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AccountingArgs {
    /// Local networks, comma-separated CIDRs (IPv4 and IPv6); they decide
    /// the direction classes [default: 10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,fe80::/10].
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub local_networks: Option<Vec<String>>,
    /// IPs with per-IP counters: inside these networks [default: the local networks].
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub monitor_subnets: Option<Vec<String>>,
    /// ... and outside these [default: none].
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub exclude_subnets: Option<Vec<String>>,
    /// Flow series exported: the top N by bytes over --flow-window; the
    /// rest are summed per class under src="other" [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_flow_series: Option<u64>,
    /// Per-IP series exported, chosen the same way; the rest under ip="other" [default: 10000].
    #[arg(long, value_name = "N")]
    pub max_hosts: Option<u64>,
    /// Flow entries, conversations and hosts the collector keeps at most
    /// (each); this bounds its memory (at most 700 bytes per entry in all) [default: 250000].
    #[arg(long, value_name = "N")]
    pub max_entries: Option<u64>,
    /// Window the series are ranked over [default: 5m].
    #[arg(long, value_name = "DURATION")]
    pub flow_window: Option<String>,
    /// Entries unseen this long leave the exposition [default: 10m].
    #[arg(long, value_name = "DURATION")]
    pub flow_idle: Option<String>,
    /// Also export the families of a replaced tool (repeatable or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub compat: Option<Vec<CompatProfile>>,
}

/// TOML keys of [`AccountingArgs`].
pub const ACCOUNTING_KEYS: [&str; 9] = [
    "local-networks",
    "monitor-subnets",
    "exclude-subnets",
    "max-flow-series",
    "max-hosts",
    "max-entries",
    "flow-window",
    "flow-idle",
    "compat",
];

impl AccountingArgs {
    /// This over `file`: what is given here wins.
    pub fn over(self, file: AccountingArgs) -> AccountingArgs {
        AccountingArgs {
            local_networks: self.local_networks.or(file.local_networks),
            monitor_subnets: self.monitor_subnets.or(file.monitor_subnets),
            exclude_subnets: self.exclude_subnets.or(file.exclude_subnets),
            max_flow_series: self.max_flow_series.or(file.max_flow_series),
            max_hosts: self.max_hosts.or(file.max_hosts),
            max_entries: self.max_entries.or(file.max_entries),
            flow_window: self.flow_window.or(file.flow_window),
            flow_idle: self.flow_idle.or(file.flow_idle),
            compat: self.compat.or(file.compat),
        }
    }

    /// The settings, with defaults applied and everything checked.
    pub fn resolve(&self) -> Result<Accounting, String> {
        let nets = |v: &Option<Vec<String>>, flag: &str| -> Result<Option<Vec<Cidr>>, String> {
            v.as_ref()
                .map(|l| parse_list(l).map_err(|e| format!("--{flag}: {e}")))
                .transpose()
        };
        let d = Accounting::default();
        let local = match nets(&self.local_networks, "local-networks")? {
            Some(l) => l,
            None => parse_list(&DEFAULT_LOCAL)?,
        };
        let monitor = nets(&self.monitor_subnets, "monitor-subnets")?.unwrap_or_default();
        let exclude = nets(&self.exclude_subnets, "exclude-subnets")?.unwrap_or_default();
        let limit =
            |v: Option<u64>, flag: &str, min: u64, default: usize| -> Result<usize, String> {
                match v {
                    None => Ok(default),
                    Some(n) if (min..=1 << 32).contains(&n) => Ok(n as usize),
                    Some(n) => Err(format!("--{flag} {n} must be between {min} and 4294967296")),
                }
            };
        let duration = |v: &Option<String>, flag: &str, default: Duration| match v {
            Some(s) => parse_duration(s).map_err(|e| format!("--{flag}: {e}")),
            None => Ok(default),
        };
        let compat = self.compat.clone().unwrap_or_default();
        Ok(Accounting {
            networks: Networks::new(&local, &monitor, &exclude),
            max_flow_series: limit(
                self.max_flow_series,
                "max-flow-series",
                0,
                d.max_flow_series,
            )?,
            max_hosts: limit(self.max_hosts, "max-hosts", 0, d.max_hosts)?,
            max_entries: limit(self.max_entries, "max-entries", 1, d.max_entries)?,
            flow_window: duration(&self.flow_window, "flow-window", d.flow_window)?,
            flow_idle: duration(&self.flow_idle, "flow-idle", d.flow_idle)?,
            compat: Compat {
                promflow: compat.contains(&CompatProfile::Promflow),
                trafficmonitor: compat.contains(&CompatProfile::Trafficmonitor),
            },
        })
    }
}

fn bad_file(path: &Path, e: toml::de::Error) -> String {
    let msg = e.message().replace('\n', " ");
    format!("config file {}: {msg}", path.display())
}

/// The keys and values of a TOML config file, unchecked.
pub fn config_table(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| bad_file(path, e))
}

/// Reads a TOML config file: the capture keys and the accounting keys.
pub fn read_config_file(path: &Path) -> Result<RunArgs, String> {
    run_args_from_table(path, config_table(path)?)
}

/// Checks the keys of the config file at `path` (read with
/// [`config_table`]) and takes their values.
pub fn run_args_from_table(path: &Path, mut table: toml::Table) -> Result<RunArgs, String> {
    let bad = |e| bad_file(path, e);
    let mut acc = toml::Table::new();
    for k in ACCOUNTING_KEYS {
        if let Some(v) = table.remove(k) {
            acc.insert(k.to_string(), v);
        }
    }
    let mut run: RunArgs = table.try_into().map_err(|e| {
        // the accounting keys are read apart: name them too
        let m = bad(e);
        if m.contains("unknown field") {
            let more: Vec<String> = ACCOUNTING_KEYS.iter().map(|k| format!("`{k}`")).collect();
            format!("{m}, {}", more.join(", "))
        } else {
            m
        }
    })?;
    run.accounting = acc.try_into().map_err(bad)?;
    Ok(run)
}

impl RunArgs {
    /// This command line over `file`: what the command line gives wins.
    pub fn over(self, file: RunArgs) -> RunArgs {
        RunArgs {
            config: self.config,
            iface: if self.iface.is_empty() {
                file.iface
            } else {
                self.iface
            },
            exclude_iface: if self.exclude_iface.is_empty() {
                file.exclude_iface
            } else {
                self.exclude_iface
            },
            backend: self.backend.or(file.backend),
            workers: self.workers.or(file.workers),
            cpus: self.cpus.or(file.cpus),
            snaplen: self.snaplen.or(file.snaplen),
            filter: self.filter.or(file.filter),
            promisc: self.promisc || file.promisc,
            direction: self.direction.or(file.direction),
            fanout: self.fanout.or(file.fanout),
            block_size: self.block_size.or(file.block_size),
            block_count: self.block_count.or(file.block_count),
            frame_size: self.frame_size.or(file.frame_size),
            block_timeout: self.block_timeout.or(file.block_timeout),
            listen: self.listen.or(file.listen),
            refresh: self.refresh.or(file.refresh),
            flow_table_size: self.flow_table_size.or(file.flow_table_size),
            print: self.print || file.print,
            queues: self.queues.or(file.queues),
            xdp_mode: self.xdp_mode.or(file.xdp_mode),
            xdp_bind: self.xdp_bind.or(file.xdp_bind),
            xdp_frame_size: self.xdp_frame_size.or(file.xdp_frame_size),
            xdp_frames: self.xdp_frames.or(file.xdp_frames),
            xdp_ring_size: self.xdp_ring_size.or(file.xdp_ring_size),
            xdp_huge_pages: self.xdp_huge_pages || file.xdp_huge_pages,
            busy_poll: self.busy_poll.or(file.busy_poll),
            busy_poll_budget: self.busy_poll_budget.or(file.busy_poll_budget),
            xdp_steal: self.xdp_steal || file.xdp_steal,
            worker_priority: self.worker_priority.or(file.worker_priority),
            accounting: self.accounting.over(file.accounting),
        }
    }
}

/// Parses a CPU list such as `0-3,6`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad CPU list '{s}' (example: 0-3,6)");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().map_err(|_| bad())?),
        }
    }
    if out.is_empty() {
        return Err(format!("bad CPU list '{s}': no CPU in it"));
    }
    Ok(out)
}

#[derive(Debug, Args)]
pub struct GenArgs {
    /// Interface to send on.
    #[arg(long, value_name = "IF")]
    pub iface: String,
    /// Conversations in the mix.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=16_000_000))]
    pub flows: u32,
    /// Packets to send at most.
    #[arg(long, default_value_t = 100_000)]
    pub packets: u64,
    /// Packets per second; 0 sends as fast as the socket takes them.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Stop after this long at the latest.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Frame size in bytes; 0 gives each flow a size from an IMIX (64, 576, 1500 in 7:4:1).
    #[arg(long, default_value_t = 64)]
    pub frame_size: usize,
    /// Percent of conversations over IPv6.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub ipv6_percent: u8,
    /// Percent of conversations with an 802.1Q tag.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub vlan_percent: u8,
    /// Percent of conversations over UDP (the others are TCP).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub udp_percent: u8,
    /// Percent of UDP conversations whose every datagram is sent as IP
    /// fragments (at least two, of at most 512 bytes of IP payload each).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub fragment_percent: u8,
    /// Seed of the mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Send through the qdisc layer instead of bypassing it: slower, but
    /// packet captures on this host see the frames (bypassed ones skip them).
    #[arg(long)]
    pub through_qdisc: bool,
    /// Let the kernel send: an XDP_TX program run with BPF_PROG_RUN and
    /// live frames on the interface (IPv4/UDP only, at most 65536 flows,
    /// --frame-size 0 means 64), far faster than sockets.
    #[arg(long)]
    pub xdp: bool,
    /// Write what was sent, per flow and direction, to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Worker threads; packets are spread over them by a symmetric flow hash.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// How often the collector merges the workers' tables and publishes a
    /// snapshot, e.g. 1s, 500ms.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub refresh: Duration,
    /// Flows each worker's table holds per refresh interval (80 bytes a
    /// slot, at most 7/8 full; two tables per worker). Flows beyond it are
    /// counted in ringflow_flow_table_overflow_total.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=1 << 28))]
    pub flow_table_size: u64,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap with µs or ns timestamps, or pcapng), read in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Print the final exposition to stdout when the input ends and exit
    /// (the default when --listen is not given).
    #[arg(long, conflicts_with = "listen")]
    pub print: bool,
    /// Serve /metrics on this address while replaying and after the end,
    /// until interrupted.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_LISTEN)]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    pub accounting: AccountingArgs,
    /// Packets per batch handed to a worker.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Where to write the pcap file.
    #[arg(value_name = "FILE")]
    pub out: String,
    /// Conversations in the mix.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=16_000_000))]
    pub flows: u32,
    /// Frames in all.
    #[arg(long, default_value_t = 10_000)]
    pub packets: u64,
    /// Percent of conversations over IPv6.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub ipv6_percent: u8,
    /// Percent of conversations with an 802.1Q tag.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub vlan_percent: u8,
    /// Percent of conversations over UDP (the others are TCP).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub udp_percent: u8,
    /// Frame size in bytes; 0 draws from an IMIX (64, 576, 1500 in 7:4:1).
    #[arg(long, default_value_t = 0)]
    pub frame_size: usize,
    /// Seed of the mix: the same seed writes the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Parses `1s`, `250ms`, `2m`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (examples: 1s, 250ms, 2m)"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in '{s}' (use ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!("'{s}' must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--help` states the defaults the code applies (it once gave the
    /// AF_XDP sizes of an older version).
    #[test]
    fn help_states_the_defaults_the_code_uses() {
        use crate::config::Accounting;
        use crate::live::*;
        use clap::CommandFactory;
        let cmd = Cli::command();
        let help = |id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default()
        };
        let acc = Accounting::default();
        let numbers = [
            ("snaplen", u64::from(DEFAULT_SNAPLEN)),
            ("block_size", u64::from(DEFAULT_BLOCK_SIZE)),
            ("block_count", u64::from(DEFAULT_BLOCK_COUNT)),
            ("frame_size", u64::from(DEFAULT_FRAME_SIZE)),
            ("xdp_frame_size", u64::from(DEFAULT_XDP_FRAME_SIZE)),
            ("xdp_frames", u64::from(DEFAULT_XDP_FRAMES)),
            ("xdp_ring_size", u64::from(DEFAULT_XDP_RING_SIZE)),
            ("busy_poll_budget", u64::from(DEFAULT_BUSY_POLL_BUDGET)),
            ("max_flow_series", acc.max_flow_series as u64),
            ("max_hosts", acc.max_hosts as u64),
            ("max_entries", acc.max_entries as u64),
        ];
        for (id, value) in numbers {
            let h = help(id);
            assert!(h.contains(&format!("[default: {value}")), "--{id}: {h}");
        }
        let block_timeout = format!("[default: {}ms]", DEFAULT_BLOCK_TIMEOUT.as_millis());
        assert!(help("block_timeout").contains(&block_timeout));
        assert!(help("listen").contains(&format!("[default: {DEFAULT_LISTEN}]")));
        // the policy `WorkerPriority::resolve` applies when none is given
        let auto = WorkerPriority::resolve(None, true).unwrap();
        assert_eq!(auto.fifo, Some(1));
        assert!(help("worker_priority").contains("[default: auto: SCHED_FIFO 1 for AF_XDP"));
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,6"), Ok(vec![0, 1, 2, 3, 6]));
        assert_eq!(parse_cpu_list("1"), Ok(vec![1]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("").is_err());
    }

    #[test]
    fn worker_priority_is_a_word_or_a_number_in_the_file() {
        let key = |text: &str| toml::from_str::<RunArgs>(text).map(|r| r.worker_priority);
        assert_eq!(key("worker-priority = 5").unwrap().as_deref(), Some("5"));
        assert_eq!(
            key("worker-priority = \"normal\"").unwrap().as_deref(),
            Some("normal")
        );
        assert_eq!(key("").unwrap(), None);
        assert!(key("worker-priority = [1]").is_err());
    }

    #[test]
    fn flags_win_over_the_file() {
        let file: RunArgs = toml::from_str(
            "iface = [\"eth1\"]\nworkers = 3\nsnaplen = 128\npromisc = true\nfanout = \"cpu\"\nrefresh = \"2s\"\n",
        )
        .unwrap();
        let cli = RunArgs {
            workers: Some(2),
            ..RunArgs::default()
        };
        let r = cli.over(file);
        assert_eq!(r.workers, Some(2));
        assert_eq!(r.iface, vec!["eth1"]);
        assert_eq!(r.snaplen, Some(128));
        assert!(r.promisc);
        assert_eq!(r.fanout, Some(Fanout::Cpu));
        assert_eq!(r.refresh.as_deref(), Some("2s"));
        assert!(toml::from_str::<RunArgs>("iface = [\"a\"]\nbogus = 1\n").is_err());
    }

    #[test]
    fn accounting_keys_are_read_from_the_file_and_flags_win() {
        let dir = std::env::temp_dir().join(format!("ringflow-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.toml");
        std::fs::write(
            &path,
            "iface = [\"eth1\"]\nlocal-networks = [\"10.0.0.0/8\"]\nmonitor-subnets = [\"10.1.0.0/16\"]\n\
             exclude-subnets = [\"10.1.2.0/24\"]\nmax-flow-series = 5\nmax-hosts = 6\nmax-entries = 7\n\
             flow-window = \"1m\"\nflow-idle = \"2m\"\ncompat = [\"promflow\"]\n",
        )
        .unwrap();
        let file = read_config_file(&path).unwrap();
        let a = &file.accounting;
        // every accounting key is a field, and each was read
        assert_eq!(ACCOUNTING_KEYS.len(), 9);
        assert!(a.local_networks.is_some() && a.monitor_subnets.is_some());
        assert!(a.exclude_subnets.is_some() && a.max_flow_series == Some(5));
        assert!(a.max_hosts == Some(6) && a.max_entries == Some(7));
        assert!(a.flow_window.is_some() && a.flow_idle.is_some() && a.compat.is_some());
        assert_eq!(file.iface, vec!["eth1"]);
        let cli = RunArgs {
            accounting: AccountingArgs {
                max_hosts: Some(60),
                ..AccountingArgs::default()
            },
            ..RunArgs::default()
        };
        let acc = cli.over(file).accounting.resolve().unwrap();
        assert_eq!(
            (acc.max_flow_series, acc.max_hosts, acc.max_entries),
            (5, 60, 7)
        );
        assert_eq!(acc.flow_window, Duration::from_secs(60));
        assert_eq!(acc.flow_idle, Duration::from_secs(120));
        assert_eq!(
            acc.compat,
            Compat {
                promflow: true,
                trafficmonitor: false
            }
        );
        let (v, x) = (4, crate::parse::v4_addr([10, 1, 2, 3]));
        assert!(acc.networks.is_local(v, &x) && !acc.networks.is_monitored(v, &x));
        assert!(
            acc.networks
                .is_monitored(v, &crate::parse::v4_addr([10, 1, 3, 3]))
        );

        std::fs::write(&path, "max-hosts = 1\nbogus = 2\n").unwrap();
        let e = read_config_file(&path).unwrap_err();
        assert!(e.contains("bogus") && e.contains("max-entries"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_accounting_settings_are_one_line_errors() {
        let bad = |a: AccountingArgs| a.resolve().unwrap_err();
        let e = bad(AccountingArgs {
            local_networks: Some(vec!["10.0.0.0/33".into()]),
            ..AccountingArgs::default()
        });
        assert!(
            e.starts_with("--local-networks:") && !e.contains('\n'),
            "{e}"
        );
        let e = bad(AccountingArgs {
            max_entries: Some(0),
            ..AccountingArgs::default()
        });
        assert!(e.contains("--max-entries 0"), "{e}");
        let e = bad(AccountingArgs {
            flow_idle: Some("soon".into()),
            ..AccountingArgs::default()
        });
        assert!(e.starts_with("--flow-idle:"), "{e}");
        let d = AccountingArgs::default().resolve().unwrap();
        assert_eq!(
            (d.max_flow_series, d.max_hosts, d.max_entries),
            (10_000, 10_000, 250_000)
        );
        assert_eq!(d.networks.local.networks().len(), 5);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("1y").is_err());
    }
}
