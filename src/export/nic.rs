//! NIC state and the kernel's interface counters, read from sysfs at
//! scrape time.

use std::fs;

/// What sysfs says about one interface; None fields were unreadable.
#[derive(Debug, Default, Clone)]
pub struct NicStats {
    pub exists: bool,
    pub up: bool,
    pub promiscuous: bool,
    /// Link speed in Mb/s, when the driver reports one.
    pub speed_mbps: Option<u64>,
    /// (counter name in sysfs, value)
    pub counters: Vec<(&'static str, u64)>,
}

/// The sysfs statistics exported, as `ringflow_nic_<name>_total`.
pub const COUNTERS: [&str; 10] = [
    "rx_packets",
    "rx_bytes",
    "rx_dropped",
    "rx_missed_errors",
    "rx_errors",
    "tx_packets",
    "tx_bytes",
    "tx_dropped",
    "tx_errors",
    "rx_fifo_errors",
];

const IFF_UP: u64 = 0x1;
const IFF_PROMISC: u64 = 0x100;

fn read_u64(path: &str) -> Option<u64> {
    let s = fs::read_to_string(path).ok()?;
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

pub fn read(iface: &str) -> NicStats {
    let base = format!("/sys/class/net/{iface}");
    let Some(flags) = read_u64(&format!("{base}/flags")) else {
        return NicStats::default();
    };
    let oper_up = fs::read_to_string(format!("{base}/operstate"))
        .map(|s| matches!(s.trim(), "up" | "unknown"))
        .unwrap_or(false);
    NicStats {
        exists: true,
        up: flags & IFF_UP != 0 && oper_up,
        promiscuous: flags & IFF_PROMISC != 0,
        speed_mbps: read_u64(&format!("{base}/speed")).filter(|s| *s < u64::from(u32::MAX)),
        counters: COUNTERS
            .iter()
            .filter_map(|c| read_u64(&format!("{base}/statistics/{c}")).map(|v| (*c, v)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_readable_and_missing_is_not() {
        let lo = read("lo");
        assert!(lo.exists);
        assert!(lo.counters.iter().any(|(n, _)| *n == "rx_packets"));
        let none = read("rf-no-such-if0");
        assert!(!none.exists && !none.up);
    }
}
