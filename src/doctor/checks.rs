//! The checklist: what was read, against what ringflow will do.

use super::Plan;
use super::fix::Action;
use super::host::Host;
use super::nic::{self, Nic};
use crate::config::format_cpu_list;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Warning,
    Problem,
}

impl Severity {
    pub fn word(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Warning => "warning",
            Severity::Problem => "problem",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The interface, or `host`.
    pub subject: String,
    pub check: &'static str,
    pub severity: Severity,
    /// What was found.
    pub found: String,
    /// Why it matters, in one line.
    pub why: String,
    /// The command (or setting) that fixes it.
    pub fix: Option<String>,
    /// What `--fix` would do about it (the safe fixes only).
    pub actions: Vec<Action>,
}

struct Out<'a> {
    subject: &'a str,
    list: Vec<Finding>,
}

impl Out<'_> {
    fn add(
        &mut self,
        check: &'static str,
        severity: Severity,
        found: String,
        why: &str,
    ) -> &mut Finding {
        self.list.push(Finding {
            subject: self.subject.to_string(),
            check,
            severity,
            found,
            why: why.to_string(),
            fix: None,
            actions: Vec::new(),
        });
        self.list.last_mut().expect("just pushed")
    }

    fn ok(&mut self, check: &'static str, found: String) {
        self.add(check, Severity::Ok, found, "");
    }
}

fn on(v: bool) -> &'static str {
    if v { "on" } else { "off" }
}

pub fn check(nics: &[Nic], host: &Host, plan: &Plan) -> Vec<Finding> {
    let mut all = Vec::new();
    let mut irq_fixes = false;
    for n in nics {
        let mut o = Out {
            subject: &n.name,
            list: Vec::new(),
        };
        check_nic(&mut o, n, host, plan);
        irq_fixes |= o
            .list
            .iter()
            .any(|f| f.check == "irq-affinity" && f.severity != Severity::Ok);
        all.extend(o.list);
    }
    let mut o = Out {
        subject: "host",
        list: Vec::new(),
    };
    check_host(&mut o, host, plan, irq_fixes);
    all.extend(o.list);
    all
}

fn check_nic(o: &mut Out, n: &Nic, host: &Host, plan: &Plan) {
    let name = n.name.as_str();
    let speed = n
        .speed_mbps
        .map(|s| format!("{s} Mb/s"))
        .unwrap_or_else(|| "speed unknown".into());
    o.ok(
        "driver",
        format!(
            "{}{}, {speed}{}",
            n.driver.as_deref().unwrap_or("unknown driver"),
            n.bus
                .as_deref()
                .map(|b| format!(" on {b}"))
                .unwrap_or_default(),
            n.numa_node
                .filter(|&x| x >= 0)
                .map(|x| format!(", NUMA node {x}"))
                .unwrap_or_default()
        ),
    );

    // queues against workers
    let queues = n
        .channels
        .map(|c| c.receiving())
        .filter(|&q| q > 0)
        .unwrap_or(n.rx_queues as u32)
        .max(1);
    let kind = match n.channels {
        Some(c) if c.combined == 0 && c.rx > 0 => "rx",
        _ => "combined",
    };
    let workers = plan.cpus.len() as u32;
    // the most queues of that kind the NIC can have
    let max = n.channels.map(|c| {
        if kind == "rx" {
            c.max_rx
        } else {
            c.max_combined
        }
    });
    let most = max.map(|m| format!(" (at most {m})")).unwrap_or_default();
    let captured = plan
        .ifaces
        .iter()
        .find(|f| f.name == name)
        .and_then(|f| f.queues.clone());
    match captured {
        Some(q) => {
            let missing: Vec<u32> = (0..queues).filter(|x| !q.contains(x)).collect();
            if missing.is_empty() {
                o.ok(
                    "queues",
                    format!("{queues} receive queue(s){most}, each with its AF_XDP worker"),
                );
            } else {
                let f = o.add(
                    "queues",
                    Severity::Problem,
                    format!(
                        "{queues} receive queues, ringflow captures {} of them (not {})",
                        q.len(),
                        missing.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
                    ),
                    "AF_XDP sees only the queues it binds: what RSS sends to the others is never counted",
                );
                f.fix = Some(format!(
                    "ethtool -L {name} {kind} {} (or capture them all: --queues all)",
                    q.len().max(1)
                ));
            }
        }
        None if queues > workers => {
            let f = o.add(
                "queues",
                Severity::Warning,
                format!("{queues} receive queues for {workers} worker(s)"),
                "the interrupts of the extra queues land on CPUs without a worker, and the fanout moves their frames across cores",
            );
            f.fix = Some(format!(
                "ethtool -L {name} {kind} {workers} (or --workers {queues})"
            ));
        }
        None => o.ok(
            "queues",
            format!(
                "{queues} receive queue(s){most} for {workers} worker(s) (AF_PACKET fanout spreads them)"
            ),
        ),
    }
    if let Some(max) = max
        && max > queues
        && workers > queues
    {
        let f = o.add(
            "queues",
            Severity::Warning,
            format!("{queues} of at most {max} queues in use, for {workers} workers"),
            "one queue's interrupt is one core's work: more queues spread the receive load",
        );
        f.fix = Some(format!("ethtool -L {name} {kind} {}", workers.min(max)));
    }

    // ring sizes
    if let Some(r) = n.rings {
        if r.rx_max > r.rx {
            let f = o.add(
                "rx-ring",
                Severity::Warning,
                format!("receive ring of {} descriptors, at most {}", r.rx, r.rx_max),
                "a burst longer than the ring is dropped by the NIC (rx_missed_errors) before any capture sees it",
            );
            f.fix = Some(format!("ethtool -G {name} rx {}", r.rx_max));
            f.actions.push(Action::RxRing {
                iface: name.to_string(),
                from: r.rx,
                to: r.rx_max,
                raw: r.raw,
            });
        } else {
            o.ok(
                "rx-ring",
                format!("receive ring of {} descriptors, the most", r.rx),
            );
        }
    }

    // RSS: spread and symmetry
    if let Some(rss) = n.rss.as_ref().filter(|r| !r.indirection.is_empty()) {
        if queues > 1 {
            let spread = rss.spread(queues);
            let idle: Vec<String> = spread
                .iter()
                .enumerate()
                .filter(|(_, c)| **c == 0)
                .map(|(q, _)| q.to_string())
                .collect();
            let (lo, hi) = (
                spread.iter().copied().min().unwrap_or(0),
                spread.iter().copied().max().unwrap_or(0),
            );
            let shares = spread
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("/");
            if !idle.is_empty() {
                let f = o.add(
                    "rss-spread",
                    Severity::Problem,
                    format!("the indirection table sends nothing to queue(s) {} (buckets per queue {shares})", idle.join(",")),
                    "their workers idle while the others take all the load",
                );
                f.fix = Some(format!("ethtool -X {name} equal {queues}"));
            } else if hi * 2 > lo * 3 {
                let f = o.add(
                    "rss-spread",
                    Severity::Warning,
                    format!("the indirection table is uneven: buckets per queue {shares}"),
                    "the busiest queue's worker drops first",
                );
                f.fix = Some(format!("ethtool -X {name} equal {queues}"));
            } else {
                o.ok(
                    "rss-spread",
                    format!(
                        "{} buckets spread evenly over {queues} queues",
                        rss.indirection.len()
                    ),
                );
            }
        }
        if rss.symmetric() {
            o.ok(
                "rss-symmetric",
                "both directions of a flow hash to the same queue".into(),
            );
        } else if queues > 1 {
            let f = o.add(
                "rss-symmetric",
                Severity::Warning,
                "the RSS hash is not symmetric: the two directions of a flow reach different queues".into(),
                "each direction is counted by another worker, so a conversation's halves meet only in the collector and each pays its own cache misses",
            );
            f.fix = Some(if rss.hfunc == nic::HASH_TOEPLITZ && !rss.key.is_empty() {
                let key: Vec<u8> = (0..rss.key.len()).map(|i| [0x6d, 0x5a][i % 2]).collect();
                format!("ethtool -X {name} hkey {}", nic::colon_hex(&key))
            } else {
                format!("ethtool -X {name} xfrm symmetric-xor")
            });
        }
    }
    if queues > 1 && !n.hash_fields.is_empty() {
        let mut bad = Vec::new();
        let mut worst = Severity::Ok;
        for h in &n.hash_fields {
            if !h.has_addresses() {
                bad.push(format!("{} without both addresses", h.flow));
                worst = Severity::Problem;
            } else if !h.has_ports() {
                bad.push(format!("{} by addresses only", h.flow));
                worst = worst.max(Severity::Warning);
            }
        }
        if bad.is_empty() {
            o.ok(
                "hash-fields",
                "TCP and UDP hash by addresses and ports".into(),
            );
        } else {
            let fix: Vec<String> = n
                .hash_fields
                .iter()
                .filter(|h| !h.has_addresses() || !h.has_ports())
                .map(|h| format!("ethtool -N {name} rx-flow-hash {} sdfn", h.flow))
                .collect();
            let f = o.add(
                "hash-fields",
                worst,
                format!("RSS hashes {}", bad.join(", ")),
                "all the flows between two hosts land on one queue, so one worker takes a whole elephant pair",
            );
            f.fix = Some(fix.join("; "));
        }
    }

    // offloads
    let capture_only = !n.has_addresses;
    let offload = |o: &mut Out,
                   check: &'static str,
                   word: &str,
                   what: super::fix::Offload,
                   sev: Severity,
                   why: &str| {
        let f = o.add(check, sev, format!("{check} on"), why);
        let fix = format!("ethtool -K {name} {word} off");
        if capture_only {
            f.fix = Some(fix);
            f.actions.push(Action::Offload {
                iface: name.to_string(),
                what,
            });
        } else {
            f.fix = Some(format!(
                "{fix} ({name} has addresses, so it carries this host's own traffic: --fix leaves it)"
            ));
        }
    };
    match n.gro {
        Some(true) if !plan.af_xdp() => offload(
            o,
            "gro",
            "gro",
            super::fix::Offload::Gro,
            Severity::Warning,
            "the kernel merges TCP segments before AF_PACKET sees them: ringflow counts them back from the size the kernel gives, but a merged packet has one timestamp and --dedup cannot match copies merged differently",
        ),
        Some(g) => o.ok(
            "gro",
            format!(
                "gro {}{}",
                on(g),
                if g {
                    " (AF_XDP sees frames before GRO)"
                } else {
                    ""
                }
            ),
        ),
        None => {}
    }
    match n.lro {
        Some(true) => offload(
            o,
            "lro",
            "lro",
            super::fix::Offload::Lro,
            Severity::Problem,
            "the NIC merges TCP segments before any capture: packets are undercounted",
        ),
        Some(false) => o.ok("lro", "lro off".into()),
        None => {}
    }
    match n.rx_vlan_offload {
        Some(true) if plan.af_xdp() => offload(
            o,
            "rx-vlan-offload",
            "rxvlan",
            super::fix::Offload::RxVlan,
            Severity::Warning,
            "the NIC strips VLAN tags before XDP sees the frame: flows lose their VLAN",
        ),
        Some(v) => o.ok(
            "rx-vlan-offload",
            format!(
                "rx-vlan-offload {}{}",
                on(v),
                if v {
                    " (AF_PACKET hands the stripped tag back with the frame)"
                } else {
                    ""
                }
            ),
        ),
        None => {}
    }
    if let Some(g) = n.gso {
        o.ok(
            "gso",
            format!("gso {} (it changes only what this host sends)", on(g)),
        );
    }

    // XDP
    if let Some(x) = n.xdp_features {
        let native = x & nic::XDP_NATIVE != 0;
        let zc = x & nic::XDP_ZEROCOPY != 0;
        let what = format!(
            "native XDP {}, zero-copy AF_XDP {}",
            if native { "yes" } else { "no" },
            if zc { "yes" } else { "no" }
        );
        if plan.af_xdp() && !native {
            let sev = if plan.xdp_mode == Some(crate::config::XdpMode::Native) {
                Severity::Problem
            } else {
                Severity::Warning
            };
            let f = o.add(
                "xdp",
                sev,
                what,
                "without a native driver hook XDP runs after the kernel built a socket buffer (generic mode), at a fraction of the speed",
            );
            f.fix = Some("--backend af-packet, or a NIC whose driver has native XDP".into());
        } else if plan.af_xdp() && !zc {
            let f = o.add(
                "xdp",
                Severity::Warning,
                what,
                "AF_XDP copies every frame into its memory (copy mode)",
            );
            f.fix = Some("a driver with AF_XDP zero-copy (ice, i40e, mlx5, ixgbe...)".into());
        } else {
            o.ok("xdp", what);
        }
    }

    // interrupts and NUMA
    if !n.irqs.is_empty() {
        let mut wrong = Vec::new();
        let mut fixes = Vec::new();
        let mut actions = Vec::new();
        for q in &n.irqs {
            let Some(cpu) = plan.worker_cpu(name, q.queue) else {
                continue;
            };
            if q.cpus != [cpu] {
                wrong.push(format!(
                    "queue {} (IRQ {}) on CPU {} not {cpu}",
                    q.queue,
                    q.irq,
                    format_cpu_list(&q.cpus)
                ));
                fixes.push(format!(
                    "echo {cpu} > /proc/irq/{}/smp_affinity_list",
                    q.irq
                ));
                actions.push(Action::IrqAffinity {
                    irq: q.irq,
                    from: format_cpu_list(&q.cpus),
                    to: cpu,
                });
            }
        }
        let mut single: Vec<&Vec<usize>> = n.irqs.iter().map(|q| &q.cpus).collect();
        single.dedup();
        let piled = n.irqs.len() > 1 && single.len() == 1 && single[0].len() == 1;
        if wrong.is_empty() {
            o.ok(
                "irq-affinity",
                format!(
                    "each queue's interrupt on its worker's CPU ({} queues)",
                    n.irqs.len()
                ),
            );
        } else {
            let f = o.add(
                "irq-affinity",
                if piled { Severity::Problem } else { Severity::Warning },
                if piled {
                    format!(
                        "the interrupts of all {} queues are on CPU {}: {}",
                        n.irqs.len(),
                        format_cpu_list(single[0]),
                        wrong.join(", ")
                    )
                } else {
                    wrong.join(", ")
                },
                if piled {
                    "one core does the receive work of every queue and drops when it is full, whatever the workers can take"
                } else {
                    "a queue's receive work runs away from its worker, so every frame crosses caches between two cores"
                },
            );
            f.fix = Some(fixes.join("; "));
            f.actions = actions;
        }
    }
    if let Some(node) = n.numa_node.filter(|&x| x >= 0).map(|x| x as u32)
        && let Some((_, node_cpus)) = host.numa_nodes.iter().find(|(id, _)| *id == node)
    {
        let far: Vec<usize> = plan
            .cpus
            .iter()
            .copied()
            .filter(|c| !node_cpus.contains(c))
            .collect();
        if far.is_empty() {
            o.ok("numa", format!("workers on NUMA node {node}, the NIC's"));
        } else {
            let f = o.add(
                "numa",
                Severity::Warning,
                format!(
                    "the NIC is on NUMA node {node}; worker CPU(s) {} are not",
                    format_cpu_list(&far)
                ),
                "every frame those workers read crosses the interconnect between sockets",
            );
            f.fix = Some(format!("--cpus {}", format_cpu_list(node_cpus)));
        }
    }

    // drops before capture
    let dropped: Vec<String> = n
        .drop_counters
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if dropped.is_empty() {
        if !n.drop_counters.is_empty() {
            o.ok("nic-drops", "no frame dropped by the NIC or driver".into());
        }
    } else {
        let f = o.add(
            "nic-drops",
            Severity::Warning,
            format!("dropped before capture: {}", dropped.join(", ")),
            "these frames never reached ringflow, so its own drop counters cannot show them",
        );
        f.fix = Some(format!(
            "a larger ring (ethtool -G {name} rx N), more queues, or interrupts on idle cores"
        ));
    }

    // NAPI and busy polling
    let astray: Vec<&nic::NapiThread> = n
        .napi_threads
        .iter()
        .filter(|t| t.cpus.is_empty() || t.cpus.iter().any(|c| !plan.cpus.contains(c)))
        .collect();
    match n.threaded_napi {
        Some(true) if !astray.is_empty() => {
            let what: Vec<String> = astray
                .iter()
                .map(|t| {
                    format!(
                        "{} (pid {}) on CPU {}",
                        t.name,
                        t.pid,
                        format_cpu_list(&t.cpus)
                    )
                })
                .collect();
            let f = o.add(
                "threaded-napi",
                Severity::Warning,
                format!("threaded NAPI on, its threads not on the workers' CPUs: {}", what.join(", ")),
                "the receive work of a queue runs wherever the scheduler puts its thread, away from the worker that reads it",
            );
            let fix: Vec<String> = astray
                .iter()
                .map(|t| format!("taskset -pc {} {}", format_cpu_list(&plan.cpus), t.pid))
                .collect();
            f.fix = Some(fix.join("; "));
        }
        Some(true) => o.ok(
            "threaded-napi",
            format!(
                "on, its {} thread(s) on the workers' CPUs",
                n.napi_threads.len()
            ),
        ),
        Some(false) => o.ok(
            "threaded-napi",
            "off: receive work runs in the interrupt's softirq".into(),
        ),
        None => {}
    }
    if plan.busy_poll {
        let defer = n.napi_defer_hard_irqs.unwrap_or(0);
        let flush = n.gro_flush_timeout_ns.unwrap_or(0);
        if defer == 0 || flush == 0 {
            let f = o.add(
                "busy-poll",
                Severity::Warning,
                format!("--busy-poll with napi_defer_hard_irqs {defer} and gro_flush_timeout {flush}"),
                "without deferred interrupts the kernel keeps polling the queue itself and busy polling saves nothing",
            );
            f.fix = Some(format!(
                "echo 2 > /sys/class/net/{name}/napi_defer_hard_irqs; echo 200000 > /sys/class/net/{name}/gro_flush_timeout"
            ));
        } else {
            o.ok(
                "busy-poll",
                format!("napi_defer_hard_irqs {defer}, gro_flush_timeout {flush} ns"),
            );
        }
    }
}

fn check_host(o: &mut Out, h: &Host, plan: &Plan, irq_fixes: bool) {
    // CPUs
    let mut distinct = plan.cpus.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < plan.cpus.len() {
        let f = o.add(
            "worker-cpus",
            Severity::Warning,
            format!(
                "{} workers share CPU(s) {}",
                plan.cpus.len(),
                format_cpu_list(&distinct)
            ),
            "workers on one core take turns, and each turn is a queue left unread",
        );
        f.fix = Some(format!(
            "--cpus with {} CPUs, or fewer queues",
            plan.cpus.len()
        ));
    } else {
        o.ok(
            "worker-cpus",
            format!("one CPU per worker: {}", format_cpu_list(&plan.cpus)),
        );
    }
    let slow: Vec<&(usize, String)> = h
        .governors
        .iter()
        .filter(|(c, g)| plan.cpus.contains(c) && g != "performance")
        .collect();
    if !slow.is_empty() {
        let what: Vec<String> = slow.iter().map(|(c, g)| format!("CPU {c} {g}")).collect();
        let fix: Vec<String> = slow
            .iter()
            .map(|(c, _)| {
                format!(
                    "echo performance > /sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"
                )
            })
            .collect();
        let f = o.add(
            "cpu-governor",
            Severity::Warning,
            format!("frequency governor {}", what.join(", ")),
            "a worker's core slows down between bursts and drops at the start of the next",
        );
        f.fix = Some(fix.join("; "));
    } else if !h.governors.is_empty() {
        o.ok(
            "cpu-governor",
            "the workers' CPUs run the performance governor".into(),
        );
    }
    let shared: Vec<usize> = distinct
        .iter()
        .copied()
        .filter(|c| !h.isolated_cpus.contains(c))
        .collect();
    if shared.is_empty() {
        o.ok(
            "isolated-cpus",
            format!(
                "the workers' CPUs {} are isolated",
                format_cpu_list(&distinct)
            ),
        );
    } else {
        let f = o.add(
            "isolated-cpus",
            Severity::Warning,
            format!(
                "worker CPU(s) {} are not isolated (isolated: {})",
                format_cpu_list(&shared),
                if h.isolated_cpus.is_empty() {
                    "none".into()
                } else {
                    format_cpu_list(&h.isolated_cpus)
                }
            ),
            "other tasks and timer ticks interrupt the workers",
        );
        f.fix = Some(format!(
            "add isolcpus={l} nohz_full={l} rcu_nocbs={l} to the kernel command line and reboot",
            l = format_cpu_list(&distinct)
        ));
    }
    if irq_fixes && h.irqbalance {
        let f = o.add(
            "irqbalance",
            Severity::Warning,
            "irqbalance is running".into(),
            "it moves the queues' interrupts away from the CPUs they were set to",
        );
        f.fix = Some("systemctl disable --now irqbalance".into());
    }

    // memory
    if plan.huge_pages_bytes > 0 && h.huge_page_bytes > 0 {
        let need = plan.huge_pages_bytes.div_ceil(h.huge_page_bytes);
        if h.huge_pages_free < need {
            let f = o.add(
                "huge-pages",
                Severity::Problem,
                format!(
                    "--xdp-huge-pages needs {need} huge pages, {} free",
                    h.huge_pages_free
                ),
                "the UMEM cannot be mapped and the capture does not start",
            );
            f.fix = Some(format!(
                "echo {} > /proc/sys/vm/nr_hugepages",
                h.huge_pages_total + need - h.huge_pages_free
            ));
        } else {
            o.ok(
                "huge-pages",
                format!("{need} huge pages needed, {} free", h.huge_pages_free),
            );
        }
    } else if h.transparent_huge_pages.as_deref() == Some("never") {
        let f = o.add(
            "huge-pages",
            Severity::Warning,
            "transparent huge pages are off".into(),
            "the flow tables and rings fall back to 4 KiB pages: a TLB miss on most packets",
        );
        f.fix = Some("echo madvise > /sys/kernel/mm/transparent_hugepage/enabled".into());
    } else if let Some(t) = &h.transparent_huge_pages {
        o.ok(
            "huge-pages",
            format!(
                "transparent huge pages {t}; {} hugetlbfs pages",
                h.huge_pages_total
            ),
        );
    }
    if h.mem_available_bytes > 0 {
        let share = plan.memory_bytes as f64 / h.mem_available_bytes as f64;
        let found = format!(
            "rings and flow tables take {} MiB of {} MiB available",
            plan.memory_bytes >> 20,
            h.mem_available_bytes >> 20
        );
        if share > 0.25 {
            let f = o.add(
                "memory",
                if share > 0.5 { Severity::Problem } else { Severity::Warning },
                found,
                "the capture competes with the host for memory, and a reload or another process can push it out",
            );
            f.fix = Some("a smaller --flow-table-size, --block-count or --xdp-frames".into());
        } else {
            o.ok("memory", found);
        }
    }
    if let Some(r) = h.rmem_max {
        o.ok(
            "rmem-max",
            format!(
                "net.core.rmem_max {r} (ringflow's rings are mapped and do not count against it)"
            ),
        );
    }
    // not readable outside the first network namespace: said in `unread`
    if let (Some(poll), Some(read)) = (h.busy_poll_us, h.busy_read_us) {
        let own = if plan.busy_poll {
            " (ringflow sets busy polling on its own sockets)"
        } else {
            ""
        };
        o.ok(
            "busy-poll-sysctls",
            format!("net.core.busy_poll {poll}, busy_read {read}{own}"),
        );
    }
}
