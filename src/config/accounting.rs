//! The collector's settings: what it classifies, how much it keeps and
//! for how long.

use crate::netset::Networks;
use std::time::Duration;

/// Exposition families of the tools ringflow replaces, exported beside
/// its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Compat {
    pub promflow: bool,
    pub trafficmonitor: bool,
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
    pub compat: Compat,
}

impl Default for Accounting {
    fn default() -> Self {
        Accounting {
            networks: Networks::default(),
            max_flow_series: 10_000,
            max_hosts: 10_000,
            max_entries: 250_000,
            flow_window: Duration::from_secs(300),
            flow_idle: Duration::from_secs(600),
            compat: Compat::default(),
        }
    }
}

impl Accounting {
    /// The settings as TOML lines.
    pub fn describe(&self) -> String {
        let nets = |v: &[crate::netset::Cidr]| {
            let q: Vec<String> = v.iter().map(|c| format!("\"{c}\"")).collect();
            format!("[{}]", q.join(", "))
        };
        let n = &self.networks;
        let mut compat = Vec::new();
        if self.compat.promflow {
            compat.push("\"promflow\"");
        }
        if self.compat.trafficmonitor {
            compat.push("\"trafficmonitor\"");
        }
        [
            format!("local-networks = {}", nets(n.local.networks())),
            format!("monitor-subnets = {}", nets(n.monitor.networks())),
            format!("exclude-subnets = {}", nets(n.exclude.networks())),
            format!("max-flow-series = {}", self.max_flow_series),
            format!("max-hosts = {}", self.max_hosts),
            format!("max-entries = {}", self.max_entries),
            format!("flow-window = \"{}s\"", self.flow_window.as_secs_f64()),
            format!("flow-idle = \"{}s\"", self.flow_idle.as_secs_f64()),
            format!("compat = [{}]", compat.join(", ")),
        ]
        .join("\n")
    }
}
