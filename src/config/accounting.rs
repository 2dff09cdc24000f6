//! The collector's settings: what it classifies, how much it keeps and
//! for how long.

use super::{defaults, parse_duration};
use crate::netset::{Cidr, Networks, parse_list};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;

/// The most `--max-entries` can be: the collector's indices number their
/// items in 24 bits.
pub const MAX_ENTRIES: usize = (1 << 24) - 2;

/// Exposition families of the tools ringflow replaces, exported beside
/// its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compat {
    pub promflow: bool,
    pub trafficmonitor: bool,
}

impl Compat {
    /// The profiles on, by their names on the command line.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.promflow, "promflow"),
            (self.trafficmonitor, "trafficmonitor"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// Volume limits of a monitored IP over an interval, each way; `None`
/// is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertLimits {
    pub bytes: Option<u64>,
    pub packets: Option<u64>,
    /// Bits per second, averaged over the interval.
    pub bps: Option<u64>,
    /// Packets per second, averaged over the interval.
    pub pps: Option<u64>,
    /// Conversations opened by the IP (out) or to it (in).
    pub new_flows: Option<u64>,
}

impl AlertLimits {
    pub fn any(&self) -> bool {
        self.bytes
            .or(self.packets)
            .or(self.bps)
            .or(self.pps)
            .or(self.new_flows)
            .is_some()
    }
}

/// What scan detection looks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanLimits {
    /// Distinct IPs one source may open conversations to; 0 is off.
    pub hosts: usize,
    /// Distinct ports of one IP one source may open conversations to; 0
    /// is off.
    pub ports: usize,
    pub interval: Duration,
    /// Sources never flagged.
    pub ignore: Vec<Cidr>,
    /// Sources, and source-destination pairs, tracked at most.
    pub max_sources: usize,
}

impl Default for ScanLimits {
    fn default() -> Self {
        ScanLimits {
            hosts: defaults::SCAN_HOSTS as usize,
            ports: defaults::SCAN_PORTS as usize,
            interval: defaults::duration(defaults::SCAN_INTERVAL),
            ignore: Vec::new(),
            max_sources: defaults::SCAN_MAX_SOURCES as usize,
        }
    }
}

/// What detection looks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Limits are counted over tumbling intervals this long.
    pub interval: Duration,
    pub limits: AlertLimits,
    /// Active alerts at most.
    pub max_alerts: usize,
    /// Alert events the API keeps for `/api/v1/alerts`.
    pub history: usize,
    pub scan: ScanLimits,
    /// Host groups: the longest prefix that matches a host picks its group.
    pub groups: Vec<AlertGroup>,
}

impl Detection {
    /// Whether any volume limit is set, globally or in a host group.
    pub fn volume_enabled(&self) -> bool {
        self.limits.any() || self.groups.iter().any(|g| g.limits.any())
    }

    /// Whether either scan limit is on.
    pub fn scans_enabled(&self) -> bool {
        self.scan.hosts > 0 || self.scan.ports > 0
    }
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            interval: defaults::duration(defaults::ALERT_INTERVAL),
            limits: AlertLimits::default(),
            max_alerts: defaults::MAX_ALERTS as usize,
            history: defaults::ALERT_HISTORY as usize,
            scan: ScanLimits::default(),
            groups: Vec::new(),
        }
    }
}

/// This box's own networks, from its addresses and their prefix lengths
/// (`sys::netlink::host_addresses`): the network of each, in the order
/// given, once each. Loopback and link-local addresses are left out: no
/// traffic of theirs crosses a capture port (and fe80::/10 is local by
/// default).
pub fn own_networks(addrs: &[(IpAddr, u8)]) -> Vec<Cidr> {
    let mut out: Vec<Cidr> = Vec::new();
    for &(a, len) in addrs {
        let skip = match a {
            IpAddr::V4(v) => v.is_loopback() || v.is_link_local() || v.is_unspecified(),
            IpAddr::V6(v) => {
                v.is_loopback() || v.is_unspecified() || v.segments()[0] & 0xffc0 == 0xfe80
            }
        };
        if skip {
            continue;
        }
        let c = Cidr::network_of(a, len);
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// A size or rate such as `500M` or `1.5G`: K, M and G are powers of 1000.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'k' | 'K')) => (&t[..i], 1e3),
        Some((i, 'm' | 'M')) => (&t[..i], 1e6),
        Some((i, 'g' | 'G')) => (&t[..i], 1e9),
        Some((i, 't' | 'T')) => (&t[..i], 1e12),
        _ => (t, 1.0),
    };
    let bad = || format!("bad size '{s}' (examples: 1500, 500M, 1G)");
    let n: f64 = num.trim().parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 || n * mult > u64::MAX as f64 / 2.0 {
        return Err(bad());
    }
    Ok((n * mult).round() as u64)
}

/// What the collector classifies, how much it keeps and for how long.
/// Everything here can change while running (SIGHUP).
#[derive(Debug, Clone)]
pub struct Accounting {
    pub networks: Networks,
    /// Flow series exported; the rest are folded into one per class.
    pub max_flow_series: usize,
    /// Per-IP series exported; the rest are folded into `ip="other"`.
    pub max_hosts: usize,
    /// Entries the collector keeps at most, of each kind: flow entries,
    /// conversations, hosts. This is what bounds its memory.
    pub max_entries: usize,
    /// Series are ranked by their bytes over this window.
    pub flow_window: Duration,
    /// Entries, conversations and hosts unseen this long are forgotten.
    pub flow_idle: Duration,
    /// A flow idle this long leaves its worker's table (at most
    /// `flow_idle`; sooner when the table lacks room for new flows).
    pub flow_table_idle: Duration,
    pub compat: Compat,
    pub detection: Detection,
}

/// The default local networks, with no monitor or exclude list (the
/// local networks are monitored).
fn default_networks() -> Networks {
    let local = parse_list(&defaults::LOCAL_NETWORKS).unwrap_or_default();
    Networks::new(&local, &[], &[])
}

impl Default for Accounting {
    fn default() -> Self {
        Accounting {
            networks: default_networks(),
            max_flow_series: defaults::MAX_FLOW_SERIES as usize,
            max_hosts: defaults::MAX_HOSTS as usize,
            max_entries: defaults::MAX_ENTRIES as usize,
            flow_window: defaults::duration(defaults::FLOW_WINDOW),
            flow_idle: defaults::duration(defaults::FLOW_IDLE),
            flow_table_idle: defaults::duration(defaults::FLOW_TABLE_IDLE),
            compat: Compat::default(),
            detection: Detection::default(),
        }
    }
}

impl Accounting {
    /// The settings as TOML lines.
    pub fn describe(&self) -> String {
        let nets = |v: &[Cidr]| {
            let q: Vec<String> = v.iter().map(|c| format!("\"{c}\"")).collect();
            format!("[{}]", q.join(", "))
        };
        let limit = |key: &str, v: Option<u64>| match v {
            Some(n) => format!("{key} = {n}"),
            None => format!("# {key}: off"),
        };
        let n = &self.networks;
        let compat: Vec<String> = self
            .compat
            .names()
            .iter()
            .map(|n| format!("{n:?}"))
            .collect();
        [
            format!("local-networks = {}", nets(n.local.networks())),
            format!("monitor-subnets = {}", nets(n.monitor.networks())),
            format!("exclude-subnets = {}", nets(n.exclude.networks())),
            format!("max-flow-series = {}", self.max_flow_series),
            format!("max-hosts = {}", self.max_hosts),
            format!("max-entries = {}", self.max_entries),
            format!("flow-window = \"{}s\"", self.flow_window.as_secs_f64()),
            format!("flow-idle = \"{}s\"", self.flow_idle.as_secs_f64()),
            format!(
                "flow-table-idle = \"{}s\"",
                self.flow_table_idle.as_secs_f64()
            ),
            format!("compat = [{}]", compat.join(", ")),
            format!(
                "alert-interval = \"{}s\"",
                self.detection.interval.as_secs_f64()
            ),
            limit("alert-bytes", self.detection.limits.bytes),
            limit("alert-packets", self.detection.limits.packets),
            limit("alert-bps", self.detection.limits.bps),
            limit("alert-pps", self.detection.limits.pps),
            limit("alert-new-flows", self.detection.limits.new_flows),
            format!("max-alerts = {}", self.detection.max_alerts),
            format!("alert-history = {}", self.detection.history),
            format!("scan-hosts = {}", self.detection.scan.hosts),
            format!("scan-ports = {}", self.detection.scan.ports),
            format!(
                "scan-interval = \"{}s\"",
                self.detection.scan.interval.as_secs_f64()
            ),
            format!("scan-ignore = {}", nets(&self.detection.scan.ignore)),
            format!("scan-max-sources = {}", self.detection.scan.max_sources),
        ]
        .join("\n")
            + &self
                .detection
                .groups
                .iter()
                .map(|g| {
                    let mut t = vec![
                        String::new(),
                        "[[alert-group]]".to_string(),
                        format!("name = {:?}", g.name),
                        format!("networks = {}", nets(&g.networks)),
                        format!("alert = {}", g.alert),
                    ];
                    if g.alert {
                        t.push(limit("alert-bytes", g.limits.bytes));
                        t.push(limit("alert-packets", g.limits.packets));
                        t.push(limit("alert-bps", g.limits.bps));
                        t.push(limit("alert-pps", g.limits.pps));
                        t.push(limit("alert-new-flows", g.limits.new_flows));
                    }
                    t.join("\n")
                })
                .collect::<String>()
    }
}

/// Profiles that add the metric families of a replaced tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
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
#[derive(Debug, Default, Clone, PartialEq, Args, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AccountingArgs {
    /// Local networks, comma-separated CIDRs (IPv4 and IPv6); they decide
    /// the direction classes [default: the private ranges and, live, this
    /// box's own networks].
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub local_networks: Option<Vec<String>>,
    /// IPs with per-IP counters: inside these networks [default: the local networks].
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub monitor_subnets: Option<Vec<String>>,
    /// ... and outside these [default: none].
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub exclude_subnets: Option<Vec<String>>,
    /// Flow series exported: the top N by bytes over --flow-window; the
    /// rest are summed per class under src="other".
    #[arg(long, value_name = "N")]
    pub max_flow_series: Option<u64>,
    /// Per-IP series exported, chosen the same way; the rest under ip="other".
    #[arg(long, value_name = "N")]
    pub max_hosts: Option<u64>,
    /// Flow entries, conversations and hosts the collector keeps at most
    /// (each); this bounds its memory (at most 700 bytes per entry in all).
    #[arg(long, value_name = "N")]
    pub max_entries: Option<u64>,
    /// Window the series are ranked over.
    #[arg(long, value_name = "DURATION")]
    pub flow_window: Option<String>,
    /// Entries unseen this long leave the exposition.
    #[arg(long, value_name = "DURATION")]
    pub flow_idle: Option<String>,
    /// A flow idle this long leaves its worker's flow table (at most
    /// --flow-idle; sooner when the table lacks room for new flows).
    #[arg(long, value_name = "DURATION")]
    pub flow_table_idle: Option<String>,
    /// Also export the families of a replaced tool (repeatable or comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub compat: Option<Vec<CompatProfile>>,
    /// Alerts: the interval volume limits are counted over (tumbling).
    #[arg(long, value_name = "DURATION")]
    pub alert_interval: Option<String>,
    /// Alert when a monitored IP sends, or receives, more than this many
    /// bytes within an interval (`500M`, `1G`: K, M, G are powers of 1000) [default: off].
    #[arg(long, value_name = "SIZE")]
    #[serde(default, deserialize_with = "super::word_or_number")]
    pub alert_bytes: Option<String>,
    /// ... more than this many packets [default: off].
    #[arg(long, value_name = "N")]
    pub alert_packets: Option<u64>,
    /// ... more than this many bits per second, averaged over the interval (`100M`) [default: off].
    #[arg(long, value_name = "RATE")]
    #[serde(default, deserialize_with = "super::word_or_number")]
    pub alert_bps: Option<String>,
    /// ... more than this many packets per second, averaged over the interval [default: off].
    #[arg(long, value_name = "N")]
    pub alert_pps: Option<u64>,
    /// ... opens, or is opened, more than this many conversations within an interval [default: off].
    #[arg(long, value_name = "N")]
    pub alert_new_flows: Option<u64>,
    /// Active alerts at most; more are counted in ringflow_alerts_suppressed_total.
    #[arg(long, value_name = "N")]
    pub max_alerts: Option<u64>,
    /// Recent alert events kept for the API and the dashboard (/api/v1/alerts).
    #[arg(long, value_name = "N")]
    pub alert_history: Option<u64>,
    /// Network scan: a source that opens conversations to more than N
    /// distinct IPs within --scan-interval; 0 is off.
    #[arg(long, value_name = "N")]
    pub scan_hosts: Option<u64>,
    /// Port scan: a source that opens conversations to more than N
    /// distinct ports of one IP within --scan-interval; 0 is off.
    #[arg(long, value_name = "N")]
    pub scan_ports: Option<u64>,
    /// The tumbling interval scans are counted over.
    #[arg(long, value_name = "DURATION")]
    pub scan_interval: Option<String>,
    /// Sources never flagged as scanners (resolvers, monitoring hosts).
    #[arg(long, value_name = "CIDR,...", value_delimiter = ',')]
    pub scan_ignore: Option<Vec<String>>,
    /// Sources (and source-destination pairs) tracked for scans at most.
    #[arg(long, value_name = "N")]
    pub scan_max_sources: Option<u64>,
    /// Host groups with limits of their own (config file only:
    /// `[[alert-group]]` tables).
    #[arg(skip)]
    pub alert_group: Option<Vec<AlertGroupArgs>>,
}

/// One `[[alert-group]]` table of the config file.
#[derive(Debug, Default, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct AlertGroupArgs {
    pub name: String,
    pub networks: Vec<String>,
    /// `false` makes the group never alert (a whitelist).
    pub alert: Option<bool>,
    #[serde(default, deserialize_with = "super::word_or_number")]
    pub alert_bytes: Option<String>,
    pub alert_packets: Option<u64>,
    #[serde(default, deserialize_with = "super::word_or_number")]
    pub alert_bps: Option<String>,
    pub alert_pps: Option<u64>,
    pub alert_new_flows: Option<u64>,
}

/// A host group: its networks and its limits (unset ones from the global
/// limits), or `alert` false to never alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertGroup {
    pub name: String,
    pub networks: Vec<Cidr>,
    pub alert: bool,
    pub limits: AlertLimits,
}

/// TOML keys of [`AccountingArgs`].
pub const ACCOUNTING_KEYS: [&str; 24] = [
    "local-networks",
    "monitor-subnets",
    "exclude-subnets",
    "max-flow-series",
    "max-hosts",
    "max-entries",
    "flow-window",
    "flow-idle",
    "flow-table-idle",
    "compat",
    "alert-history",
    "alert-interval",
    "alert-bytes",
    "alert-packets",
    "alert-bps",
    "alert-pps",
    "alert-new-flows",
    "max-alerts",
    "scan-hosts",
    "scan-ports",
    "scan-interval",
    "scan-ignore",
    "scan-max-sources",
    "alert-group",
];

impl AccountingArgs {
    /// The settings, with defaults applied and everything checked; the
    /// local networks by default are the private ranges alone (replay: a
    /// capture from elsewhere says nothing of this box).
    pub fn resolve(&self) -> Result<Accounting, String> {
        self.resolve_on(&[])
    }

    /// The same for a capture on this box: `own` (this box's networks, see
    /// [`own_networks`]) joins the default local networks. An explicit
    /// `--local-networks` still replaces the default, own networks and all.
    pub fn resolve_on(&self, own: &[Cidr]) -> Result<Accounting, String> {
        let nets = |v: &Option<Vec<String>>, flag: &str| -> Result<Option<Vec<Cidr>>, String> {
            v.as_ref()
                .map(|l| parse_list(l).map_err(|e| format!("--{flag}: {e}")))
                .transpose()
        };
        let d = Accounting::default();
        let local = match nets(&self.local_networks, "local-networks")? {
            Some(l) => l,
            None => {
                let mut l = parse_list(&defaults::LOCAL_NETWORKS)?;
                for c in own {
                    if !l.contains(c) {
                        l.push(*c);
                    }
                }
                l
            }
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
            max_entries: match limit(self.max_entries, "max-entries", 1, d.max_entries)? {
                n if n > MAX_ENTRIES => {
                    return Err(format!(
                        "--max-entries {n} must be between 1 and {MAX_ENTRIES}"
                    ));
                }
                n => n,
            },
            flow_window: duration(&self.flow_window, "flow-window", d.flow_window)?,
            flow_idle: duration(&self.flow_idle, "flow-idle", d.flow_idle)?,
            flow_table_idle: duration(&self.flow_table_idle, "flow-table-idle", d.flow_table_idle)?,
            compat: Compat {
                promflow: compat.contains(&CompatProfile::Promflow),
                trafficmonitor: compat.contains(&CompatProfile::Trafficmonitor),
            },
            detection: self.detection()?,
        })
    }

    fn detection(&self) -> Result<Detection, String> {
        let d = Detection::default();
        let size = |v: &Option<String>, flag: &str| -> Result<Option<u64>, String> {
            v.as_deref()
                .map(|s| parse_size(s).map_err(|e| format!("--{flag}: {e}")))
                .transpose()
        };
        let interval = match &self.alert_interval {
            Some(s) => parse_duration(s).map_err(|e| format!("--alert-interval: {e}"))?,
            None => d.interval,
        };
        if interval < Duration::from_millis(100) {
            return Err("--alert-interval must be at least 100ms".into());
        }
        let max_alerts = match self.max_alerts {
            None => d.max_alerts,
            Some(n) if (1..=1_000_000).contains(&n) => n as usize,
            Some(n) => return Err(format!("--max-alerts {n} must be between 1 and 1000000")),
        };
        let history = match self.alert_history {
            None => d.history,
            Some(n) if n <= 1_000_000 => n as usize,
            Some(n) => return Err(format!("--alert-history {n} must be at most 1000000")),
        };
        let count = |v: Option<u64>, flag: &str, default: u64| -> Result<usize, String> {
            match v.unwrap_or(default) {
                n if n <= 1_000_000 => Ok(n as usize),
                n => Err(format!("--{flag} {n} must be at most 1000000")),
            }
        };
        let scan_interval = match &self.scan_interval {
            Some(s) => parse_duration(s).map_err(|e| format!("--scan-interval: {e}"))?,
            None => d.scan.interval,
        };
        if scan_interval < Duration::from_millis(100) {
            return Err("--scan-interval must be at least 100ms".into());
        }
        let max_sources = match self.scan_max_sources {
            None => d.scan.max_sources,
            Some(n) if (1..=100_000_000).contains(&n) => n as usize,
            Some(n) => {
                return Err(format!(
                    "--scan-max-sources {n} must be between 1 and 100000000"
                ));
            }
        };
        let scan = ScanLimits {
            hosts: count(self.scan_hosts, "scan-hosts", defaults::SCAN_HOSTS)?,
            ports: count(self.scan_ports, "scan-ports", defaults::SCAN_PORTS)?,
            interval: scan_interval,
            ignore: match &self.scan_ignore {
                Some(l) => parse_list(l).map_err(|e| format!("--scan-ignore: {e}"))?,
                None => Vec::new(),
            },
            max_sources,
        };
        let limits = AlertLimits {
            bytes: size(&self.alert_bytes, "alert-bytes")?,
            packets: self.alert_packets,
            bps: size(&self.alert_bps, "alert-bps")?,
            pps: self.alert_pps,
            new_flows: self.alert_new_flows,
        };
        let mut groups: Vec<AlertGroup> = Vec::new();
        for g in self.alert_group.iter().flatten() {
            let bad = |m: String| format!("alert-group '{}': {m}", g.name);
            if g.name.is_empty() {
                return Err("alert-group: every group needs a name".into());
            }
            if groups.iter().any(|o| o.name == g.name) {
                return Err(bad("a second group of that name".into()));
            }
            if g.networks.is_empty() {
                return Err(bad("networks is empty".into()));
            }
            let networks = parse_list(&g.networks).map_err(bad)?;
            let size = |v: &Option<String>| -> Result<Option<u64>, String> {
                v.as_deref()
                    .map(|s| parse_size(s).map_err(|e| bad(e.to_string())))
                    .transpose()
            };
            groups.push(AlertGroup {
                name: g.name.clone(),
                networks,
                alert: g.alert.unwrap_or(true),
                limits: AlertLimits {
                    bytes: size(&g.alert_bytes)?.or(limits.bytes),
                    packets: g.alert_packets.or(limits.packets),
                    bps: size(&g.alert_bps)?.or(limits.bps),
                    pps: g.alert_pps.or(limits.pps),
                    new_flows: g.alert_new_flows.or(limits.new_flows),
                },
            });
        }
        Ok(Detection {
            scan,
            interval,
            limits,
            max_alerts,
            history,
            groups,
        })
    }
}
