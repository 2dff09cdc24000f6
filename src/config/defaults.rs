//! Every default setting, in one place. The code applies these, and
//! `--help` shows them from here ([`with_defaults_shown`]), so the two
//! cannot disagree. Durations are written as on the command line.

use super::{Backend, Direction, Fanout, XdpBind, XdpMode};
use std::time::Duration;

/// Where `/metrics` is served. 19213 is outside 9100-9999, the range of
/// Prometheus' default port allocations (which is fully taken).
pub const LISTEN: &str = "0.0.0.0:19213";
/// Web connections served at once (as exporter-toolkit's default web
/// connection limit is unbounded, this is ringflow's own: enough for
/// several Prometheus servers, browsers and API clients).
pub const WEB_MAX_CONNECTIONS: usize = 64;
/// How often the collector merges the workers' tables and publishes.
pub const REFRESH: &str = "1s";
/// IPv4 flows one worker's table holds at once (IPv6: a quarter).
pub const FLOW_TABLE_SIZE: u64 = 200_000;

/// Capture backend.
pub const BACKEND: Backend = Backend::AfPacket;
/// Packets captured: both directions.
pub const DIRECTION: Direction = Direction::Both;
/// How the kernel spreads packets over the workers.
pub const FANOUT: Fanout = Fanout::Inner;
/// AF_XDP: how the program is attached, and how sockets bind.
pub const XDP_MODE: XdpMode = XdpMode::Auto;
pub const XDP_BIND: XdpBind = XdpBind::Auto;
/// AF_XDP: the RX queues captured.
pub const QUEUES: &str = "all";

/// The tunnels the workers open.
pub const DECAP: &str = "all";
/// The UDP port VXLAN arrives on (IANA's).
pub const VXLAN_PORT: u16 = 4789;
/// The longest `--dedup` window: copies arrive microseconds apart, and a
/// worker's table holds at most about 100 ms at 4 Mpps.
pub const DEDUP_MAX_WINDOW: Duration = Duration::from_millis(100);

/// Bytes of each packet copied to an AF_PACKET ring.
pub const SNAPLEN: u32 = 256;
/// AF_PACKET ring block size in bytes.
pub const BLOCK_SIZE: u32 = 1 << 20;
/// AF_PACKET ring blocks per worker and interface (64 MiB).
pub const BLOCK_COUNT: u32 = 64;
/// AF_PACKET ring frame size hint in bytes.
pub const FRAME_SIZE: u32 = 2048;
/// How long the kernel waits before handing over a block that is not full.
pub const BLOCK_TIMEOUT: &str = "10ms";

/// AF_XDP UMEM frame size in bytes.
pub const XDP_FRAME_SIZE: u32 = 2048;
/// AF_XDP UMEM frames per queue (at least twice the ring size).
pub const XDP_FRAMES: u32 = 16384;
/// AF_XDP fill and RX ring entries.
pub const XDP_RING_SIZE: u32 = 8192;
/// AF_XDP packets per busy poll.
pub const BUSY_POLL_BUDGET: u32 = 64;

/// Local networks: the private and link-local ranges of both versions.
pub const LOCAL_NETWORKS: [&str; 5] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "fe80::/10",
];
/// Flow series exported.
pub const MAX_FLOW_SERIES: u64 = 10_000;
/// Per-IP series exported.
pub const MAX_HOSTS: u64 = 10_000;
/// Flow entries, conversations and hosts the collector keeps (each).
pub const MAX_ENTRIES: u64 = 250_000;
/// Window the series are ranked over.
pub const FLOW_WINDOW: &str = "5m";
/// Entries unseen this long are forgotten.
pub const FLOW_IDLE: &str = "10m";
/// A flow idle this long leaves its worker's table (sooner when the table
/// lacks room for new flows).
pub const FLOW_TABLE_IDLE: &str = "15s";

/// Alerts: the interval volume limits are counted over.
pub const ALERT_INTERVAL: &str = "10s";
/// Alerts active at most.
pub const MAX_ALERTS: u64 = 1000;
/// Alert events the API keeps.
pub const ALERT_HISTORY: u64 = 10_000;

/// Network scan: distinct IPs one source may open conversations to within
/// the scan interval.
pub const SCAN_HOSTS: u64 = 100;
/// Port scan: distinct ports of one IP one source may open conversations
/// to within the scan interval.
pub const SCAN_PORTS: u64 = 100;
/// The interval scans are counted over.
pub const SCAN_INTERVAL: &str = "60s";
/// Sources (and source-destination pairs) tracked for scans at most.
pub const SCAN_MAX_SOURCES: u64 = 100_000;

/// Replay: worker threads.
pub const REPLAY_WORKERS: u16 = 1;
/// Replay: packets per batch handed to a worker.
pub const REPLAY_BATCH: u32 = 256;

/// IPFIX: how often templates are resent over UDP.
pub const IPFIX_TEMPLATE_REFRESH: &str = "60s";
/// IPFIX: the largest IP packet a message goes out in.
pub const IPFIX_MTU: u32 = 1400;
/// IPFIX: a long flow is reported this often.
pub const IPFIX_ACTIVE_TIMEOUT: &str = "60s";
/// IPFIX: a flow idle this long ends.
pub const IPFIX_IDLE_TIMEOUT: &str = "15s";

/// A default duration above as a [`Duration`].
pub fn duration(text: &str) -> Duration {
    // Every default parses: `defaults_parse` checks it.
    super::parse_duration(text).unwrap_or(Duration::from_secs(1))
}

/// The defaults `--help` shows for flags whose value is optional (so that
/// a config file can give it): (argument id, default).
fn shown() -> Vec<(&'static str, String)> {
    fn name<T: clap::ValueEnum>(v: T) -> String {
        v.to_possible_value()
            .map(|p| p.get_name().to_string())
            .unwrap_or_default()
    }
    vec![
        ("backend", name(BACKEND)),
        ("direction", name(DIRECTION)),
        ("fanout", name(FANOUT)),
        ("xdp_mode", name(XDP_MODE)),
        ("xdp_bind", name(XDP_BIND)),
        ("queues", QUEUES.to_string()),
        ("decap", DECAP.to_string()),
        ("vxlan_port", VXLAN_PORT.to_string()),
        ("listen", LISTEN.to_string()),
        ("web_max_connections", WEB_MAX_CONNECTIONS.to_string()),
        ("refresh", REFRESH.to_string()),
        ("ipfix_template_refresh", IPFIX_TEMPLATE_REFRESH.to_string()),
        ("ipfix_mtu", IPFIX_MTU.to_string()),
        ("ipfix_active_timeout", IPFIX_ACTIVE_TIMEOUT.to_string()),
        ("ipfix_idle_timeout", IPFIX_IDLE_TIMEOUT.to_string()),
        ("flow_table_size", FLOW_TABLE_SIZE.to_string()),
        (
            "flow_table_size_v6",
            "a quarter of --flow-table-size, at least 1024".to_string(),
        ),
        ("snaplen", SNAPLEN.to_string()),
        ("block_size", BLOCK_SIZE.to_string()),
        (
            "block_count",
            format!(
                "{BLOCK_COUNT}, so {} MiB",
                (u64::from(BLOCK_COUNT) * u64::from(BLOCK_SIZE)) >> 20
            ),
        ),
        ("frame_size", FRAME_SIZE.to_string()),
        ("block_timeout", BLOCK_TIMEOUT.to_string()),
        ("xdp_frame_size", XDP_FRAME_SIZE.to_string()),
        (
            "xdp_frames",
            format!("{XDP_FRAMES}, at least twice the ring size"),
        ),
        ("xdp_ring_size", XDP_RING_SIZE.to_string()),
        ("busy_poll_budget", BUSY_POLL_BUDGET.to_string()),
        ("local_networks", LOCAL_NETWORKS.join(",")),
        ("max_flow_series", MAX_FLOW_SERIES.to_string()),
        ("max_hosts", MAX_HOSTS.to_string()),
        ("max_entries", MAX_ENTRIES.to_string()),
        ("flow_window", FLOW_WINDOW.to_string()),
        ("flow_idle", FLOW_IDLE.to_string()),
        ("flow_table_idle", FLOW_TABLE_IDLE.to_string()),
        ("alert_interval", ALERT_INTERVAL.to_string()),
        ("max_alerts", MAX_ALERTS.to_string()),
        ("alert_history", ALERT_HISTORY.to_string()),
        ("scan_hosts", SCAN_HOSTS.to_string()),
        ("scan_ports", SCAN_PORTS.to_string()),
        ("scan_interval", SCAN_INTERVAL.to_string()),
        ("scan_max_sources", SCAN_MAX_SOURCES.to_string()),
    ]
}

/// Accounting flags, which live capture and replay share.
const ACCOUNTING: [&str; 14] = [
    "local_networks",
    "max_flow_series",
    "max_hosts",
    "max_entries",
    "flow_window",
    "flow_idle",
    "flow_table_idle",
    "alert_interval",
    "max_alerts",
    "alert_history",
    "scan_hosts",
    "scan_ports",
    "scan_interval",
    "scan_max_sources",
];

/// `cmd` (ringflow's) with `[default: ...]` added to the help of the
/// optional flags of live capture (at the top level and in `run`) and of
/// the accounting flags of `replay`. The replay's and the generator's
/// other flags always have a value and show their default through clap.
pub fn with_defaults_shown(cmd: clap::Command) -> clap::Command {
    let all = shown();
    let accounting: Vec<(&'static str, String)> = all
        .iter()
        .filter(|(id, _)| ACCOUNTING.contains(id))
        .cloned()
        .collect();
    add_defaults(cmd, &all)
        .mut_subcommand("run", |c| add_defaults(c, &all))
        .mut_subcommand("replay", |c| add_defaults(c, &accounting))
}

fn add_defaults(mut cmd: clap::Command, shown: &[(&'static str, String)]) -> clap::Command {
    for (id, value) in shown {
        if cmd.get_arguments().any(|a| a.get_id() == *id) {
            cmd = cmd.mut_arg(*id, |a| {
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                a.help(format!("{help} [default: {value}]"))
            });
        }
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        for d in [
            REFRESH,
            IPFIX_TEMPLATE_REFRESH,
            IPFIX_ACTIVE_TIMEOUT,
            IPFIX_IDLE_TIMEOUT,
            BLOCK_TIMEOUT,
            FLOW_WINDOW,
            FLOW_IDLE,
            ALERT_INTERVAL,
        ] {
            assert!(super::super::parse_duration(d).is_ok(), "{d}");
        }
        assert!(LISTEN.parse::<std::net::SocketAddr>().is_ok());
        assert!(crate::netset::parse_list(&LOCAL_NETWORKS).is_ok());
        assert_eq!(duration(FLOW_IDLE), Duration::from_secs(600));
    }
}
