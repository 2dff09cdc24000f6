//! What the host is and how it is set, for capture: CPUs and their
//! frequency governors, isolated CPUs, memory and huge pages, the socket
//! and busy-poll sysctls, NUMA nodes, and whether irqbalance runs.

use super::Unread;
use super::kernel::{Kernel, why};
use crate::config::parse_cpu_list;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, Default)]
pub struct Host {
    pub online_cpus: Vec<usize>,
    /// The frequency governor per CPU, where cpufreq is there.
    pub governors: Vec<(usize, String)>,
    pub isolated_cpus: Vec<usize>,
    pub mem_total_bytes: u64,
    pub mem_available_bytes: u64,
    pub huge_pages_total: u64,
    pub huge_pages_free: u64,
    pub huge_page_bytes: u64,
    /// `always`, `madvise` or `never`.
    pub transparent_huge_pages: Option<String>,
    pub rmem_max: Option<u64>,
    pub busy_poll_us: Option<u64>,
    pub busy_read_us: Option<u64>,
    /// The CPUs of each NUMA node.
    pub numa_nodes: Vec<(u32, Vec<usize>)>,
    pub irqbalance: bool,
}

fn number(k: &dyn Kernel, path: &str) -> Option<u64> {
    k.read(path).ok()?.trim().parse().ok()
}

/// Reads the host; `processes` are its (pid, name).
pub fn read(k: &dyn Kernel, processes: &[(u32, String)], unread: &mut Vec<Unread>) -> Host {
    let mut h = Host::default();
    let mut miss = |what: &str, e: String| unread.push(Unread::new("host", what, e));
    match k.read("/sys/devices/system/cpu/online") {
        Ok(s) => h.online_cpus = parse_cpu_list(s.trim()).unwrap_or_default(),
        Err(e) => miss("online CPUs", why(&e)),
    }
    for &cpu in &h.online_cpus {
        if let Ok(g) = k.read(&format!(
            "/sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"
        )) {
            h.governors.push((cpu, g.trim().to_string()));
        }
    }
    if h.governors.is_empty() {
        miss(
            "CPU frequency governor",
            "no cpufreq in sysfs (a virtual machine, or frequency set by the firmware)".into(),
        );
    }
    if let Ok(s) = k.read("/sys/devices/system/cpu/isolated") {
        h.isolated_cpus = parse_cpu_list(s.trim()).unwrap_or_default();
    }
    match k.read("/proc/meminfo") {
        Ok(m) => {
            for line in m.lines() {
                let mut w = line.split_whitespace();
                let (Some(key), Some(v)) = (w.next(), w.next().and_then(|v| v.parse::<u64>().ok()))
                else {
                    continue;
                };
                match key {
                    "MemTotal:" => h.mem_total_bytes = v << 10,
                    "MemAvailable:" => h.mem_available_bytes = v << 10,
                    "HugePages_Total:" => h.huge_pages_total = v,
                    "HugePages_Free:" => h.huge_pages_free = v,
                    "Hugepagesize:" => h.huge_page_bytes = v << 10,
                    _ => {}
                }
            }
        }
        Err(e) => miss("memory (/proc/meminfo)", why(&e)),
    }
    h.transparent_huge_pages = k
        .read("/sys/kernel/mm/transparent_hugepage/enabled")
        .ok()
        .and_then(|s| {
            let (_, rest) = s.split_once('[')?;
            Some(rest.split(']').next()?.to_string())
        });
    h.rmem_max = number(k, "/proc/sys/net/core/rmem_max");
    h.busy_poll_us = number(k, "/proc/sys/net/core/busy_poll");
    h.busy_read_us = number(k, "/proc/sys/net/core/busy_read");
    if h.busy_poll_us.is_none() {
        miss(
            "busy-poll sysctls (net.core.busy_poll, busy_read)",
            "not in /proc/sys/net/core here (only the first network namespace has them)".into(),
        );
    }
    if let Ok(nodes) = k.list("/sys/devices/system/node") {
        for n in nodes {
            let Some(id) = n.strip_prefix("node").and_then(|i| i.parse().ok()) else {
                continue;
            };
            if let Ok(s) = k.read(&format!("/sys/devices/system/node/{n}/cpulist")) {
                h.numa_nodes
                    .push((id, parse_cpu_list(s.trim()).unwrap_or_default()));
            }
        }
    }
    h.irqbalance = processes.iter().any(|(_, c)| c == "irqbalance");
    h
}

/// Every process and kernel thread: its pid and name.
pub fn processes(k: &dyn Kernel) -> Vec<(u32, String)> {
    k.list("/proc")
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let pid = p.parse().ok()?;
            let comm = k.read(&format!("/proc/{p}/comm")).ok()?;
            Some((pid, comm.trim().to_string()))
        })
        .collect()
}
