//! Configuration: the command line (clap), the TOML config file and how
//! they merge ([`file`]), every default ([`defaults`]), and the settings
//! types the rest of ringflow is configured with ([`Accounting`] and the
//! capture words in [`capture`]). It imports nothing from the layers it
//! configures.

mod accounting;
mod capture;
pub mod decode;
pub mod defaults;
pub mod export;
mod file;

pub use accounting::{
    ACCOUNTING_KEYS, Accounting, AccountingArgs, AlertGroup, AlertGroupArgs, AlertLimits, Compat,
    CompatProfile, Detection, MAX_ENTRIES, ScanLimits, own_networks, parse_size,
};
pub use capture::{Backend, Direction, Fanout, XdpBind, XdpMode};
pub use file::{
    config_table, merge, merge_accounting, read_config_file, run_args_from_table,
    run_args_from_text,
};

use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
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

/// Where alert events go (`--alert-log`, `--alert-webhook`,
/// `--alertmanager`, `--alert-exec`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    /// `-` for stdout.
    pub log: Option<PathBuf>,
    pub webhook: Option<String>,
    /// Base URL of an Alertmanager (`http://host:9093`).
    pub alertmanager: Option<String>,
    pub exec: Option<PathBuf>,
}

impl Outputs {
    pub fn any(&self) -> bool {
        *self != Outputs::default()
    }

    /// Checks the URLs: a one-line error for anything but `http://`.
    pub fn check(&self) -> Result<(), String> {
        for (flag, url) in [
            ("--alert-webhook", &self.webhook),
            ("--alertmanager", &self.alertmanager),
        ] {
            if let Some(u) = url
                && !u.starts_with("http://")
            {
                return Err(format!(
                    "{flag} {u}: only http:// URLs are supported (put a TLS proxy in front for https)"
                ));
            }
        }
        Ok(())
    }
}

impl RunArgs {
    /// Where alert events go.
    pub fn outputs(&self) -> Outputs {
        Outputs {
            log: self.alert_log.clone(),
            webhook: self.alert_webhook.clone(),
            alertmanager: self.alertmanager.clone(),
            exec: self.alert_exec.clone(),
        }
    }
}

impl ReplayArgs {
    /// Where alert events go.
    pub fn outputs(&self) -> Outputs {
        Outputs {
            log: self.alert_log.clone(),
            webhook: self.alert_webhook.clone(),
            alertmanager: self.alertmanager.clone(),
            exec: self.alert_exec.clone(),
        }
    }
}

impl Cli {
    /// The command line definition, with every default of [`defaults`]
    /// in the help.
    pub fn command_with_defaults() -> clap::Command {
        use clap::CommandFactory;
        defaults::with_defaults_shown(Cli::command())
    }

    /// Parses the process's arguments (see [`Cli::command_with_defaults`]).
    pub fn try_parse_args() -> Result<Cli, clap::Error> {
        use clap::FromArgMatches;
        let mut cmd = Cli::command_with_defaults();
        let m = cmd.try_get_matches_from_mut(std::env::args_os())?;
        Cli::from_arg_matches(&m).map_err(|e| e.format(&mut cmd))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Capture live (the default when no subcommand is given).
    Run(Box<RunArgs>),
    /// Replay pcap/pcapng files through the workers and collector.
    Replay(Box<ReplayArgs>),
    /// Write a synthetic capture (a reproducible traffic mix) to a pcap file.
    Synth(SynthArgs),
    /// Send a synthetic traffic mix out of an interface, for tests and benchmarks.
    Gen(GenArgs),
    /// Check a config file as `ringflow --config FILE` would take it, on
    /// this machine's interfaces, and print the effective settings.
    CheckConfig(CheckConfigArgs),
    /// Check the capture interfaces and the host against what ringflow,
    /// with these flags or config file, will do: a checklist of findings
    /// (ok, warning, problem), why each matters and the command that fixes
    /// it. Exits with 1 when a problem was found.
    Doctor(Box<DoctorArgs>),
    /// Write the man pages and shell completions generated from this
    /// command line into a directory (for packaging).
    #[command(hide = true)]
    GenerateDocs(GenerateDocsArgs),
}

#[derive(Debug, Args)]
pub struct GenerateDocsArgs {
    /// Directory to write `man/` and `completions/` into.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The findings, what was read and what could not be, as JSON.
    #[arg(long)]
    pub json: bool,
    /// Apply the safe fixes (interrupts onto the workers' CPUs, receive
    /// offloads off on an interface without addresses, receive rings at
    /// their largest) and print what changed with the command that undoes it.
    #[arg(long)]
    pub fix: bool,
    /// With --fix: do not ask first.
    #[arg(long, requires = "fix")]
    pub yes: bool,
    /// Also write everything read into DIR, as a fixture the doctor's tests
    /// (and a bug report) can replay.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// The capture to check: the same flags (and --config) as a run.
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The TOML file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Live capture settings. Every flag has the same key in the TOML file
/// given with --config; a flag given on the command line wins over the
/// file. Defaults are applied after both.
#[derive(Debug, Default, Clone, Args, Deserialize, Serialize)]
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
    /// Capture backend.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Worker threads [default: the interface's RX queue count, at most the online CPUs].
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: Option<u16>,
    /// CPUs to pin workers to, e.g. `0-3,6` [default: worker i on CPU i].
    #[arg(long, value_name = "LIST")]
    pub cpus: Option<String>,
    /// CPUs for the collector and the other threads that are not workers
    /// (HTTP, alert outputs), e.g. `0` [default: the online CPUs no worker
    /// is pinned to; any CPU when every one has a worker].
    #[arg(long, value_name = "LIST")]
    pub collector_cpus: Option<String>,
    /// Bytes of each packet copied to the ring; counting
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
    /// Packets to capture: both directions, received (in) or sent (out).
    #[arg(long, value_enum)]
    pub direction: Option<Direction>,
    /// How the kernel spreads packets over the workers.
    #[arg(long, value_enum)]
    pub fanout: Option<Fanout>,
    /// Ring block size in bytes.
    #[arg(long)]
    pub block_size: Option<u32>,
    /// Ring blocks per worker and interface.
    #[arg(long)]
    pub block_count: Option<u32>,
    /// Ring frame size hint in bytes.
    #[arg(long)]
    pub frame_size: Option<u32>,
    /// How long the kernel waits before handing over a block that is not
    /// full.
    #[arg(long, value_name = "DURATION")]
    pub block_timeout: Option<String>,
    /// Where to serve /metrics, the JSON API (/api/v1/) and the dashboard
    /// (/dashboard).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// YAML file in the Prometheus exporter-toolkit format with TLS
    /// (tls_server_config) and users (basic_auth_users, bcrypt hashes) for
    /// the web endpoints.
    #[arg(long, value_name = "FILE")]
    pub web_config: Option<PathBuf>,
    /// Web connections served at once; beyond this the least recently
    /// active one is closed.
    #[arg(long, value_name = "N")]
    pub web_max_connections: Option<usize>,
    /// Host names and addresses requests may name in `Host`; others get
    /// 421 (a page that rebinds its name to this box reads nothing); `*`:
    /// any [default: the listen address, localhost and this machine's
    /// names; listening on all addresses, every address of the box].
    #[arg(long, value_name = "HOST,...", value_delimiter = ',')]
    pub web_allowed_hosts: Option<Vec<String>>,
    /// How often the collector merges and publishes.
    #[arg(long, value_name = "DURATION")]
    pub refresh: Option<String>,
    /// IPv4 flows each worker's table holds at once (its IPv6 table a
    /// quarter of that), at most 16777214.
    #[arg(long)]
    pub flow_table_size: Option<u64>,
    /// IPv6 flows each worker's table holds at once, at most 16777214.
    #[arg(long, value_name = "N")]
    pub flow_table_size_v6: Option<u64>,
    /// Print the final exposition to stdout on exit.
    #[arg(long)]
    #[serde(default)]
    pub print: bool,
    /// Write alert events to this file, one JSON object per line (`-` for
    /// stdout) [default: none].
    #[arg(long, value_name = "FILE")]
    pub alert_log: Option<PathBuf>,
    /// POST each alert event's JSON to this URL (http://).
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,
    /// Send alerts to this Alertmanager (http://host:9093): started and
    /// resolved, and again every minute while active.
    #[arg(long, value_name = "URL")]
    pub alertmanager: Option<String>,
    /// Run this program on each alert event with the arguments IP
    /// DIRECTION KIND start|update|end and the event's JSON on its input
    /// (at most 4 at once, killed after 10 s).
    #[arg(long, value_name = "PATH")]
    pub alert_exec: Option<PathBuf>,
    /// Flow export (their own TOML keys, as the flags).
    #[command(flatten)]
    #[serde(skip)]
    pub ipfix: export::IpfixArgs,
    /// Tunnels and duplicates (their own TOML keys, as the flags).
    #[command(flatten)]
    #[serde(skip)]
    pub decode: decode::DecodeArgs,
    /// AF_XDP: RX queues to capture, `all` or a list such as `0-3`.
    #[arg(long, value_name = "all|LIST")]
    pub queues: Option<String>,
    /// AF_XDP: how the XDP program is attached.
    #[arg(long, value_enum)]
    pub xdp_mode: Option<XdpMode>,
    /// AF_XDP: how sockets bind to their queues.
    #[arg(long, value_enum)]
    pub xdp_bind: Option<XdpBind>,
    /// AF_XDP: bytes per UMEM frame, 2048 or 4096.
    #[arg(long)]
    pub xdp_frame_size: Option<u32>,
    /// AF_XDP: UMEM frames per queue.
    #[arg(long)]
    pub xdp_frames: Option<u32>,
    /// AF_XDP: entries of the fill and RX rings, a power of two.
    #[arg(long)]
    pub xdp_ring_size: Option<u32>,
    /// AF_XDP: take the UMEM from the huge page pool (vm.nr_hugepages); without it the UMEM is advised for transparent huge pages.
    #[arg(long)]
    #[serde(default)]
    pub xdp_huge_pages: bool,
    /// AF_XDP: busy-poll for this many microseconds (SO_PREFER_BUSY_POLL) [default: off].
    #[arg(long, value_name = "USECS")]
    pub busy_poll: Option<u32>,
    /// AF_XDP: packets per busy poll (SO_BUSY_POLL_BUDGET).
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

/// A CPU list as `--cpus` takes it and [`parse_cpu_list`] reads it: `0,1`.
pub fn format_cpu_list(cpus: &[usize]) -> String {
    let cpus: Vec<String> = cpus.iter().map(|c| c.to_string()).collect();
    cpus.join(",")
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

fn parse_zipf(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 5.0 => Ok(v),
        _ => Err(format!(
            "'{s}' is not a Zipf exponent: give a number above 0, at most 5"
        )),
    }
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
    /// live frames on the interface (IPv4/UDP only, from 10.0.0.0/8, one
    /// source address per flow; --frame-size 0 means 64), far faster than
    /// sockets.
    #[arg(long)]
    pub xdp: bool,
    /// With --xdp: share the packets among the flows by a Zipf law of
    /// exponent S (a few elephants, many mice): every flow sends at least
    /// one packet a round, the flow of rank r about 1/r^S of the rest.
    /// Without it, flows take turns.
    #[arg(long, value_name = "S", value_parser = parse_zipf)]
    pub zipf: Option<f64>,
    /// Write what was sent, per flow and direction, to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub truth: Option<PathBuf>,
    /// Send every frame as a remote mirror session delivers it: inside
    /// this tunnel, from 10.213.255.1 to 10.213.255.2 (the truth counts
    /// the frames inside; --packets and --rate count frames sent).
    #[arg(long, value_enum, value_name = "KIND", conflicts_with = "xdp")]
    pub mirror_session: Option<MirrorSession>,
    /// With --mirror-session: send every frame raw as well, just after
    /// its tunnelled copy, as a switch mirroring it twice does.
    #[arg(long, requires = "mirror_session")]
    pub mirror_raw: bool,
}

/// The tunnels `ringflow gen --mirror-session` sends frames in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MirrorSession {
    /// ERSPAN type II (GRE with a sequence number).
    Erspan2,
    /// ERSPAN type III with the platform sub-header.
    Erspan3,
    /// VXLAN on port 4789, as AWS VPC Traffic Mirroring sends it.
    Vxlan,
    /// GENEVE carrying Ethernet, with one word of options.
    Geneve,
    /// GRE carrying Ethernet (Transparent Ethernet Bridging) with a key.
    Gre,
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Worker threads; packets are spread over them by a symmetric flow hash.
    #[arg(long, default_value_t = defaults::REPLAY_WORKERS, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// How often the collector merges the workers' tables and publishes a
    /// snapshot, e.g. 1s, 500ms.
    #[arg(long, default_value = defaults::REFRESH, value_parser = parse_duration)]
    pub refresh: Duration,
    /// IPv4 flows each worker's table holds at once (its IPv6 table a
    /// quarter of that; about 160 bytes a flow with the collector's
    /// handle). Flows beyond it are counted in
    /// ringflow_flow_table_overflow_total.
    #[arg(long, default_value_t = defaults::FLOW_TABLE_SIZE, value_parser = clap::value_parser!(u64).range(1..=crate::flow::table::MAX_SLOTS as u64))]
    pub flow_table_size: u64,
    /// IPv6 flows each worker's table holds at once [default: a quarter
    /// of --flow-table-size, at least 1024].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=crate::flow::table::MAX_SLOTS as u64))]
    pub flow_table_size_v6: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap with µs or ns timestamps, or pcapng), read in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// TOML file to take the accounting and alert keys from (host groups
    /// among them); the flags given win over it, and its capture keys are
    /// checked but not used.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Print the final exposition to stdout when the input ends and exit
    /// (the default when --listen is not given).
    #[arg(long, conflicts_with = "listen")]
    pub print: bool,
    /// Serve /metrics, the JSON API and the dashboard on this address
    /// while replaying and after the end, until interrupted; their windows
    /// follow the capture's time.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = defaults::LISTEN)]
    pub listen: Option<SocketAddr>,
    /// YAML file in the Prometheus exporter-toolkit format with TLS and
    /// users for the web endpoints (as for `ringflow run`).
    #[arg(long, value_name = "FILE", requires = "listen")]
    pub web_config: Option<PathBuf>,
    /// Web connections served at once.
    #[arg(long, value_name = "N", requires = "listen")]
    pub web_max_connections: Option<usize>,
    /// Host names and addresses requests may name in `Host` (as for
    /// `ringflow run`).
    #[arg(
        long,
        value_name = "HOST,...",
        value_delimiter = ',',
        requires = "listen"
    )]
    pub web_allowed_hosts: Option<Vec<String>>,
    /// Write alert events to this file, one JSON object per line (`-` for
    /// stdout).
    #[arg(long, value_name = "FILE")]
    pub alert_log: Option<PathBuf>,
    /// POST each alert event's JSON to this URL (http://).
    #[arg(long, value_name = "URL")]
    pub alert_webhook: Option<String>,
    /// Send alerts to this Alertmanager (http://host:9093): started and
    /// resolved, and again every minute while active.
    #[arg(long, value_name = "URL")]
    pub alertmanager: Option<String>,
    /// Run this program on each alert event with the arguments IP
    /// DIRECTION KIND start|update|end and the event's JSON on its input
    /// (at most 4 at once, killed after 10 s).
    #[arg(long, value_name = "PATH")]
    pub alert_exec: Option<PathBuf>,
    #[command(flatten)]
    pub ipfix: export::IpfixArgs,
    #[command(flatten)]
    pub decode: decode::DecodeArgs,
    #[command(flatten)]
    pub accounting: AccountingArgs,
    /// Packets per batch handed to a worker.
    #[arg(long, default_value_t = defaults::REPLAY_BATCH, value_parser = clap::value_parser!(u32).range(1..=65_536))]
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
        "us" | "µs" => v / 1e6,
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in '{s}' (use us, ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!("'{s}' must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--help` states every default of [`defaults`] (it once gave the
    /// AF_XDP sizes of an older version); `live` checks the code applies
    /// them.
    #[test]
    fn help_states_the_defaults() {
        let cmd = Cli::command_with_defaults();
        let help = |cmd: &clap::Command, id: &str| {
            cmd.get_arguments()
                .find(|a| a.get_id() == id)
                .and_then(|a| a.get_help())
                .map(|h| h.to_string())
                .unwrap_or_default()
        };
        let run = cmd.find_subcommand("run").unwrap().clone();
        for c in [&cmd, &run] {
            for (id, value) in [
                ("snaplen", defaults::SNAPLEN.to_string()),
                ("block_size", defaults::BLOCK_SIZE.to_string()),
                ("block_count", defaults::BLOCK_COUNT.to_string()),
                ("frame_size", defaults::FRAME_SIZE.to_string()),
                ("block_timeout", defaults::BLOCK_TIMEOUT.to_string()),
                ("xdp_frame_size", defaults::XDP_FRAME_SIZE.to_string()),
                ("xdp_frames", defaults::XDP_FRAMES.to_string()),
                ("xdp_ring_size", defaults::XDP_RING_SIZE.to_string()),
                ("busy_poll_budget", defaults::BUSY_POLL_BUDGET.to_string()),
                ("max_flow_series", defaults::MAX_FLOW_SERIES.to_string()),
                ("max_hosts", defaults::MAX_HOSTS.to_string()),
                ("max_entries", defaults::MAX_ENTRIES.to_string()),
                ("flow_window", defaults::FLOW_WINDOW.to_string()),
                ("listen", defaults::LISTEN.to_string()),
                ("backend", "af-packet".to_string()),
                ("fanout", "inner".to_string()),
                ("decap", "all".to_string()),
                ("vxlan_port", "4789".to_string()),
            ] {
                let h = help(c, id);
                assert!(h.contains(&format!("[default: {value}")), "--{id}: {h}");
                assert_eq!(h.matches("[default:").count(), 1, "--{id}: {h}");
            }
            assert!(help(c, "worker_priority").contains("[default: auto: SCHED_FIFO 1 for AF_XDP"));
        }
        // replay: the accounting defaults, and its own through clap; its
        // --listen is off unless given
        let replay = cmd.find_subcommand("replay").unwrap();
        assert!(help(replay, "max_entries").contains("[default: 250000]"));
        assert!(!help(replay, "listen").contains("[default"));
        let table_size = replay
            .get_arguments()
            .find(|a| a.get_id() == "flow_table_size")
            .unwrap();
        assert_eq!(
            table_size.get_default_values(),
            [defaults::FLOW_TABLE_SIZE.to_string().as_str()]
        );
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

    /// Every accounting flag has its key in the config file: the keys the
    /// file's accounting table is read with are the flags' names (two were
    /// missing, so `flow-table-idle` and `alert-history` could not be set
    /// there although check-config printed them).
    #[test]
    fn every_accounting_flag_is_a_config_file_key() {
        use clap::Args;
        let cmd = AccountingArgs::augment_args(clap::Command::new("x"));
        let mut flags: Vec<String> = cmd
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .collect();
        // host groups are tables of the file alone
        let mut keys: Vec<String> = ACCOUNTING_KEYS
            .iter()
            .filter(|k| **k != "alert-group")
            .map(|k| k.to_string())
            .collect();
        flags.sort();
        keys.sort();
        assert_eq!(keys, flags);
        let run = run_args_from_text(
            std::path::Path::new("x.toml"),
            "flow-table-idle = \"7s\"\nalert-history = 5\n",
        )
        .unwrap();
        assert_eq!(run.accounting.flow_table_idle.as_deref(), Some("7s"));
        assert_eq!(run.accounting.alert_history, Some(5));
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
             flow-window = \"1m\"\nflow-idle = \"2m\"\ncompat = [\"promflow\"]\n\
             alert-interval = \"5s\"\nalert-bytes = \"1G\"\nalert-packets = 9\nalert-bps = 100000\n\
             alert-pps = 8\nmax-alerts = 3\n",
        )
        .unwrap();
        let file = read_config_file(&path).unwrap();
        let a = &file.accounting;
        // every accounting key is a field, and each was read
        assert_eq!(ACCOUNTING_KEYS.len(), 24);
        assert!(a.alert_interval.is_some() && a.alert_bytes.as_deref() == Some("1G"));
        assert!(a.alert_packets == Some(9) && a.alert_bps.as_deref() == Some("100000"));
        assert!(a.alert_pps == Some(8) && a.max_alerts == Some(3));
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
        let table = config_table(&path).unwrap();
        let acc = merge(&cli, &path, table)
            .unwrap()
            .accounting
            .resolve()
            .unwrap();
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
    fn this_box_s_own_networks_are_local_unless_the_list_is_given() {
        let a = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let own = own_networks(&[
            (a("192.0.2.2"), 24),
            (a("127.0.0.1"), 8),
            (a("169.254.3.4"), 16),
            (a("fe80::1"), 64),
            (a("::1"), 128),
            (a("2001:db8:5::7"), 64),
            (a("192.0.2.9"), 24),
            (a("10.1.2.3"), 16),
            (a("198.51.100.1"), 32),
        ]);
        let shown: Vec<String> = own.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            shown,
            [
                "192.0.2.0/24",
                "2001:db8:5::/64",
                "10.1.0.0/16",
                "198.51.100.1/32"
            ]
        );
        let (v4, box_ip) = (4, crate::parse::v4_addr([192, 0, 2, 2]));
        let acc = AccountingArgs::default().resolve_on(&own).unwrap();
        assert!(acc.networks.is_local(v4, &box_ip) && acc.networks.is_monitored(v4, &box_ip));
        // the private ranges stay, and each own network is added once
        assert_eq!(acc.networks.local.networks().len(), 5 + 4);
        assert!(
            acc.describe()
                .contains("\"192.0.2.0/24\", \"2001:db8:5::/64\", \"10.1.0.0/16\"")
        );
        // replay knows nothing of this box
        let replay = AccountingArgs::default().resolve().unwrap();
        assert!(!replay.networks.is_local(v4, &box_ip));
        // a list given replaces the default, own networks and all
        let given = AccountingArgs {
            local_networks: Some(vec!["10.0.0.0/8".into()]),
            ..AccountingArgs::default()
        }
        .resolve_on(&own)
        .unwrap();
        assert!(!given.networks.is_local(v4, &box_ip));
        assert_eq!(given.networks.local.networks().len(), 1);
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
