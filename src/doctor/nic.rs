//! What a capture interface is and how it is set: the ethtool answers
//! (laid out as the kernel's `struct ethtool_*`, read here), its sysfs
//! directory, and its interrupts in procfs.

use super::Unread;
use super::kernel::{Kernel, why};
use serde::Serialize;

pub use crate::sys::ethtool::{FLAG_LRO, FLAG_RXVLAN, GFLAGS, request, word};

pub const GDRVINFO: u32 = 0x03;
pub const GRINGPARAM: u32 = 0x10;
pub const SRINGPARAM: u32 = 0x11;
pub const GSTRINGS: u32 = 0x1b;
pub const GSTATS: u32 = 0x1d;
pub const GGSO: u32 = 0x23;
pub const SFLAGS: u32 = 0x26;
pub const GRXFH: u32 = 0x29;
pub const GGRO: u32 = 0x2b;
pub const SGRO: u32 = 0x2c;
pub const GCHANNELS: u32 = 0x3c;
pub const GRSSH: u32 = 0x46;

/// `ETH_SS_STATS`: the driver's statistics names.
const SS_STATS: u32 = 1;

/// The flow types whose hash fields are read: `TCP_V4_FLOW`,
/// `UDP_V4_FLOW`, `TCP_V6_FLOW`, `UDP_V6_FLOW`.
pub const FLOW_TYPES: [(u32, &str); 4] = [(1, "tcp4"), (2, "udp4"), (5, "tcp6"), (6, "udp6")];
/// `RXH_*` bits: the fields a flow type's RSS hash covers.
pub const RXH_IP_SRC: u64 = 1 << 4;
pub const RXH_IP_DST: u64 = 1 << 5;
pub const RXH_L4_B_0_1: u64 = 1 << 6;
pub const RXH_L4_B_2_3: u64 = 1 << 7;
/// `ETH_RSS_HASH_TOP`: Toeplitz.
pub const HASH_TOEPLITZ: u8 = 1;
/// `RXH_XFRM_SYM_XOR` and `RXH_XFRM_SYM_OR_XOR`: the fields are folded
/// before the hash, so both directions hash alike.
pub const XFRM_SYMMETRIC: u8 = 0b11;
/// `NETDEV_XDP_ACT_BASIC` and `NETDEV_XDP_ACT_XSK_ZEROCOPY`.
pub const XDP_NATIVE: u64 = 1;
pub const XDP_ZEROCOPY: u64 = 8;

pub fn command_name(cmd: u32) -> &'static str {
    match cmd {
        GDRVINFO => "gdrvinfo",
        GRINGPARAM => "gringparam",
        SRINGPARAM => "sringparam",
        GSTRINGS => "gstrings",
        GSTATS => "gstats",
        GGSO => "ggso",
        GFLAGS => "gflags",
        SFLAGS => "sflags",
        GRXFH => "grxfh",
        GGRO => "ggro",
        SGRO => "sgro",
        GCHANNELS => "gchannels",
        GRSSH => "grssh",
        _ => "unknown",
    }
}

/// The `u64` at `at` (0 past its end).
fn dword(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8)
        .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
        .unwrap_or(0)
}

fn text(b: &[u8], from: usize, len: usize) -> String {
    let field = b.get(from..from + len).unwrap_or_default();
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DriverInfo {
    pub driver: String,
    pub bus: String,
    pub n_stats: u32,
}

/// `struct ethtool_drvinfo`.
pub fn parse_drvinfo(b: &[u8]) -> DriverInfo {
    DriverInfo {
        driver: text(b, 4, 32),
        bus: text(b, 100, 32),
        n_stats: word(b, 180),
    }
}

/// `struct ethtool_channels`: the queue counts, in use and at most.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Channels {
    pub max_rx: u32,
    pub max_tx: u32,
    pub max_combined: u32,
    pub rx: u32,
    pub tx: u32,
    pub combined: u32,
}

impl Channels {
    /// The queues that receive: combined ones and receive-only ones.
    pub fn receiving(&self) -> u32 {
        self.combined + self.rx
    }
}

pub fn parse_channels(b: &[u8]) -> Channels {
    Channels {
        max_rx: word(b, 4),
        max_tx: word(b, 8),
        max_combined: word(b, 16),
        rx: word(b, 20),
        tx: word(b, 24),
        combined: word(b, 32),
    }
}

/// `struct ethtool_ringparam`: descriptors per receive and send ring.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Rings {
    pub rx_max: u32,
    pub tx_max: u32,
    pub rx: u32,
    pub tx: u32,
    /// The mini and jumbo fields, kept to write back as they were.
    #[serde(skip)]
    pub raw: [u32; 8],
}

pub fn parse_rings(b: &[u8]) -> Rings {
    let mut raw = [0u32; 8];
    for (i, r) in raw.iter_mut().enumerate() {
        *r = word(b, 4 + 4 * i);
    }
    Rings {
        rx_max: raw[0],
        tx_max: raw[3],
        rx: raw[4],
        tx: raw[7],
        raw,
    }
}

/// `struct ethtool_rxfh`: the RSS indirection table (hash bucket to
/// queue), the hash key, the function and the input transformation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Rss {
    pub indirection: Vec<u32>,
    #[serde(serialize_with = "hex_bytes")]
    pub key: Vec<u8>,
    pub hfunc: u8,
    pub input_xfrm: u8,
}

fn hex_bytes<S: serde::Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&colon_hex(b))
}

/// `6d:5a:...`, as `ethtool -X ... hkey` takes a key.
pub fn colon_hex(b: &[u8]) -> String {
    let parts: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    parts.join(":")
}

const RXFH_HEADER: usize = 24;

/// The header of an `ETHTOOL_GRSSH` answer: (indirection entries, key bytes).
pub fn parse_rxfh_sizes(b: &[u8]) -> (u32, u32) {
    (word(b, 8), word(b, 12))
}

pub fn parse_rxfh(b: &[u8]) -> Rss {
    let (n, k) = parse_rxfh_sizes(b);
    let n = n.min(1 << 16) as usize;
    let k = k.min(1 << 10) as usize;
    Rss {
        indirection: (0..n).map(|i| word(b, RXFH_HEADER + 4 * i)).collect(),
        key: b
            .get(RXFH_HEADER + 4 * n..RXFH_HEADER + 4 * n + k)
            .unwrap_or_default()
            .to_vec(),
        hfunc: b.get(16).copied().unwrap_or(0),
        input_xfrm: b.get(17).copied().unwrap_or(0),
    }
}

impl Rss {
    /// Both directions of a flow hash alike: the fields are folded before
    /// the hash, or a Toeplitz key repeats every 16 bits (then swapping
    /// the addresses, and the ports, of a packet leaves its hash as it was).
    pub fn symmetric(&self) -> bool {
        if self.input_xfrm & XFRM_SYMMETRIC != 0 {
            return true;
        }
        self.hfunc == HASH_TOEPLITZ
            && self.key.len() >= 4
            && self
                .key
                .iter()
                .enumerate()
                .all(|(i, b)| *b == self.key[i % 2])
    }

    /// Buckets per queue, for the first `queues` queues.
    pub fn spread(&self, queues: u32) -> Vec<usize> {
        let mut per = vec![0usize; queues as usize];
        for q in &self.indirection {
            if let Some(n) = per.get_mut(*q as usize) {
                *n += 1;
            }
        }
        per
    }
}

/// A flow type's RSS hash fields (`ethtool -n IF rx-flow-hash tcp4`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HashFields {
    pub flow: &'static str,
    pub fields: u64,
}

impl HashFields {
    pub fn has_addresses(&self) -> bool {
        self.fields & (RXH_IP_SRC | RXH_IP_DST) == RXH_IP_SRC | RXH_IP_DST
    }

    pub fn has_ports(&self) -> bool {
        self.fields & (RXH_L4_B_0_1 | RXH_L4_B_2_3) == RXH_L4_B_0_1 | RXH_L4_B_2_3
    }
}

/// The receive queue and interrupt of one of the NIC's vectors.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueueIrq {
    pub queue: u32,
    pub irq: u32,
    pub name: String,
    pub cpus: Vec<usize>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NapiThread {
    pub pid: u32,
    pub name: String,
    pub cpus: Vec<usize>,
}

/// Everything read about one interface; `None` where it could not be read
/// (the reason is in the report's unread list).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Nic {
    pub name: String,
    pub driver: Option<String>,
    pub bus: Option<String>,
    pub speed_mbps: Option<u32>,
    pub numa_node: Option<i32>,
    /// `queues/rx-*` in sysfs.
    pub rx_queues: usize,
    pub channels: Option<Channels>,
    pub rings: Option<Rings>,
    pub rss: Option<Rss>,
    pub hash_fields: Vec<HashFields>,
    pub gro: Option<bool>,
    pub lro: Option<bool>,
    pub gso: Option<bool>,
    pub rx_vlan_offload: Option<bool>,
    pub xdp_features: Option<u64>,
    pub irqs: Vec<QueueIrq>,
    /// Counters of frames the NIC dropped before any capture could see
    /// them, by name (driver statistics and the standard ones).
    pub drop_counters: Vec<(String, u64)>,
    pub threaded_napi: Option<bool>,
    /// With threaded NAPI: each `napi/IF-N` kernel thread and the CPUs it
    /// may run on.
    pub napi_threads: Vec<NapiThread>,
    pub napi_defer_hard_irqs: Option<u32>,
    pub gro_flush_timeout_ns: Option<u64>,
    /// Has an address other than link-local: it carries the host's traffic.
    pub has_addresses: bool,
}

/// Driver statistics that count frames lost before the host saw them.
fn is_drop_counter(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    (n.contains("rx") || n.contains("missed"))
        && [
            "miss",
            "no_buf",
            "nobuf",
            "no_dma",
            "out_of_buf",
            "fifo",
            "discard",
            "drop",
            "over",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// Reads interface `name`; `processes` are the host's (pid, name), where
/// its threaded-NAPI threads are found.
pub fn read(
    k: &dyn Kernel,
    name: &str,
    processes: &[(u32, String)],
    unread: &mut Vec<Unread>,
) -> Nic {
    let mut nic = Nic {
        name: name.to_string(),
        ..Nic::default()
    };
    let mut miss = |what: &str, e: String| unread.push(Unread::new(name, what, e));
    let sys = format!("/sys/class/net/{name}");
    let call = |cmd: u32, len: usize, words: &[u32]| -> std::io::Result<Vec<u8>> {
        let mut b = request(cmd, len, words);
        k.ethtool(name, &mut b).map(|()| b)
    };

    let mut n_stats = 0;
    match call(GDRVINFO, 196, &[]) {
        Ok(b) => {
            let d = parse_drvinfo(&b);
            n_stats = d.n_stats;
            nic.driver = Some(d.driver);
            nic.bus = Some(d.bus).filter(|b| !b.is_empty() && b != "N/A");
        }
        Err(e) => miss("driver (ETHTOOL_GDRVINFO)", why(&e)),
    }
    // sysfs gives -1, or refuses, when the link has no speed to tell
    nic.speed_mbps = k
        .read(&format!("{sys}/speed"))
        .ok()
        .and_then(|s| u32::try_from(s.trim().parse::<i64>().ok()?).ok());
    if nic.speed_mbps.is_none() {
        miss("link speed", "the link reports none".into());
    }
    match k.read(&format!("{sys}/device/numa_node")) {
        Ok(s) => nic.numa_node = s.trim().parse().ok(),
        Err(_) => miss("NUMA node", "not a device on a bus".into()),
    }
    nic.rx_queues = k
        .list(&format!("{sys}/queues"))
        .map(|q| q.iter().filter(|q| q.starts_with("rx-")).count())
        .unwrap_or(0);
    match call(GCHANNELS, 36, &[]) {
        Ok(b) => nic.channels = Some(parse_channels(&b)),
        Err(e) => miss("queues (ETHTOOL_GCHANNELS)", why(&e)),
    }
    match call(GRINGPARAM, 36, &[]) {
        Ok(b) => nic.rings = Some(parse_rings(&b)),
        Err(e) => miss("ring sizes (ETHTOOL_GRINGPARAM)", why(&e)),
    }
    // the sizes first, then the table and key of those sizes
    let rss = call(GRSSH, RXFH_HEADER, &[]).and_then(|b| {
        let (n, key) = parse_rxfh_sizes(&b);
        let len = RXFH_HEADER + 4 * n as usize + key as usize;
        call(GRSSH, len, &[0, n, key])
    });
    match rss {
        Ok(b) => nic.rss = Some(parse_rxfh(&b)),
        Err(e) => miss("RSS table and key (ETHTOOL_GRSSH)", why(&e)),
    }
    let mut fields_err = None;
    for (flow_type, flow) in FLOW_TYPES {
        match call(GRXFH, 256, &[flow_type]) {
            Ok(b) => nic.hash_fields.push(HashFields {
                flow,
                fields: dword(&b, 8),
            }),
            Err(e) => fields_err = Some(e),
        }
    }
    if let Some(e) = fields_err.filter(|_| nic.hash_fields.is_empty()) {
        miss("RSS hash fields (ETHTOOL_GRXFH)", why(&e));
    }
    let value = |cmd: u32| call(cmd, 8, &[]).map(|b| word(&b, 4));
    match value(GGRO) {
        Ok(v) => nic.gro = Some(v != 0),
        Err(e) => miss("GRO (ETHTOOL_GGRO)", why(&e)),
    }
    match value(GGSO) {
        Ok(v) => nic.gso = Some(v != 0),
        Err(e) => miss("GSO (ETHTOOL_GGSO)", why(&e)),
    }
    match value(GFLAGS) {
        Ok(v) => {
            nic.lro = Some(v & FLAG_LRO != 0);
            nic.rx_vlan_offload = Some(v & FLAG_RXVLAN != 0);
        }
        Err(e) => miss("LRO and rx-vlan-offload (ETHTOOL_GFLAGS)", why(&e)),
    }
    match k.xdp_features(name) {
        Ok(f) => nic.xdp_features = Some(f),
        Err(e) => miss("XDP features (netdev netlink)", why(&e)),
    }
    match read_irqs(k, name) {
        Ok(irqs) => nic.irqs = irqs,
        Err(e) => miss("queue interrupts", e),
    }
    // the driver's own counters, then the standard ones
    if n_stats > 0 {
        // The kernel writes as many names and values as the driver counts
        // at the time of each call, whatever the request says: room for
        // twice the count read a moment ago, and more, so that a driver
        // that grew its statistics in between (new channels) still fits.
        let room = 2 * n_stats as usize + 1024;
        let names = call(GSTRINGS, 12 + 32 * room, &[SS_STATS, n_stats]);
        let values = call(GSTATS, 8 + 8 * room, &[n_stats]);
        match (names, values) {
            (Ok(names), Ok(values)) => {
                let told = word(&names, 8).min(word(&values, 4)) as usize;
                for i in 0..told.min(room) {
                    let stat = text(&names, 12 + 32 * i, 32);
                    if is_drop_counter(&stat) {
                        nic.drop_counters.push((stat, dword(&values, 8 + 8 * i)));
                    }
                }
            }
            (Err(e), _) | (_, Err(e)) => miss("driver statistics (ETHTOOL_GSTATS)", why(&e)),
        }
    }
    for stat in [
        "rx_missed_errors",
        "rx_fifo_errors",
        "rx_over_errors",
        "rx_dropped",
    ] {
        if let Ok(v) = k.read(&format!("{sys}/statistics/{stat}")) {
            let v = v.trim().parse().unwrap_or(0);
            if !nic.drop_counters.iter().any(|(n, _)| n == stat) {
                nic.drop_counters.push((stat.to_string(), v));
            }
        }
    }
    nic.threaded_napi = k
        .read(&format!("{sys}/threaded"))
        .ok()
        .and_then(|s| s.trim().parse::<u8>().ok())
        .map(|v| v != 0);
    if nic.threaded_napi == Some(true) {
        let prefix = format!("napi/{name}-");
        for (pid, comm) in processes {
            if !comm.starts_with(&prefix) {
                continue;
            }
            let cpus = k
                .read(&format!("/proc/{pid}/status"))
                .ok()
                .and_then(|s| {
                    let l = s.lines().find(|l| l.starts_with("Cpus_allowed_list:"))?;
                    crate::config::parse_cpu_list(l.split_once(':')?.1.trim()).ok()
                })
                .unwrap_or_default();
            nic.napi_threads.push(NapiThread {
                pid: *pid,
                name: comm.clone(),
                cpus,
            });
        }
    }
    nic.napi_defer_hard_irqs = k
        .read(&format!("{sys}/napi_defer_hard_irqs"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    nic.gro_flush_timeout_ns = k
        .read(&format!("{sys}/gro_flush_timeout"))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    nic.has_addresses = k.addresses(name).iter().any(|a| match a {
        std::net::IpAddr::V4(_) => true,
        std::net::IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 != 0xfe80,
    });
    nic
}

/// The receive queues' interrupts: the device's MSI vectors, named in
/// `/proc/interrupts` (`eth1-TxRx-3`, `i40e-eth1-TxRx-3`,
/// `mlx5_comp3@pci:...`), the queue taken from the name's last number; a
/// vector whose name says it only sends, or names no queue, is left out.
fn read_irqs(k: &dyn Kernel, name: &str) -> Result<Vec<QueueIrq>, String> {
    let vectors = k
        .list(&format!("/sys/class/net/{name}/device/msi_irqs"))
        .map_err(|_| "no MSI interrupts (not a PCI device, or a virtual one)".to_string())?;
    let table = k.read("/proc/interrupts").map_err(|e| why(&e))?;
    let mut out = Vec::new();
    for line in table.lines() {
        let Some((irq, rest)) = line.trim_start().split_once(':') else {
            continue;
        };
        if !vectors.iter().any(|v| v == irq) {
            continue;
        }
        let Some(label) = rest.split_whitespace().last() else {
            continue;
        };
        let lower = label.to_ascii_lowercase();
        if !(lower.contains("rx") || lower.contains("comp")) {
            continue;
        }
        let head = lower.split('@').next().unwrap_or(&lower);
        let digits: String = head
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_digit())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let (Ok(queue), Ok(irq)) = (digits.parse::<u32>(), irq.trim().parse::<u32>()) else {
            continue;
        };
        let cpus = k
            .read(&format!("/proc/irq/{irq}/smp_affinity_list"))
            .ok()
            .and_then(|s| crate::config::parse_cpu_list(s.trim()).ok())
            .unwrap_or_default();
        out.push(QueueIrq {
            queue,
            irq,
            name: label.to_string(),
            cpus,
        });
    }
    out.sort_by_key(|q| q.queue);
    if out.is_empty() {
        return Err("no interrupt in /proc/interrupts names a receive queue".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_repeats_every_16_bits_is_symmetric() {
        let mut rss = Rss {
            indirection: vec![0, 1, 0, 1],
            key: [0x6d, 0x5a].repeat(20),
            hfunc: HASH_TOEPLITZ,
            input_xfrm: 0,
        };
        assert!(rss.symmetric());
        rss.key[7] = 0x5b;
        assert!(!rss.symmetric());
        rss.input_xfrm = 1;
        assert!(rss.symmetric());
        assert_eq!(rss.spread(3), vec![2, 2, 0]);
    }

    #[test]
    fn drop_counters_are_told_from_the_others() {
        for n in [
            "rx_missed_errors",
            "rx_no_buffer_count",
            "rx_fifo_errors",
            "rx_discards_phy",
            "rx_out_of_buffer",
        ] {
            assert!(is_drop_counter(n), "{n}");
        }
        for n in ["rx_packets", "tx_dropped", "rx_bytes"] {
            assert!(!is_drop_counter(n), "{n}");
        }
    }
}
