//! `ringflow doctor`: reads how each capture interface and the host are
//! set (`nic`, `host`, from the kernel or a recorded fixture: `kernel`),
//! compares that with what the configured ringflow will do (`Plan`), and
//! gives a checklist: each finding with its severity, why it matters and
//! the command that fixes it (`checks`); `--fix` applies the safe ones
//! (`fix`).

pub mod checks;
pub mod fix;
pub mod host;
pub mod kernel;
pub mod nic;

use crate::config::{Backend, XdpMode};
use crate::live::{LiveBackend, LiveSettings};
use serde::Serialize;

/// Something the doctor could not read, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unread {
    pub subject: String,
    pub what: String,
    pub error: String,
}

impl Unread {
    pub fn new(subject: &str, what: &str, error: String) -> Unread {
        Unread {
            subject: subject.to_string(),
            what: what.to_string(),
            error,
        }
    }
}

/// What the configured ringflow will do, as far as the checks care (the
/// `plan` of `--json`, and read back from it).
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Plan {
    /// `af-packet` or `af-xdp` (never `auto`: resolved as a run would).
    pub backend: Backend,
    /// AF_XDP only.
    pub xdp_mode: Option<XdpMode>,
    pub busy_poll: bool,
    /// One CPU per worker, in worker order.
    pub cpus: Vec<usize>,
    pub ifaces: Vec<PlanIface>,
    /// All a run would hold (see `live::Memory`): rings or UMEM, flow
    /// tables, the collector's tables.
    pub memory_bytes: u64,
    /// The same, said as the start line says it.
    #[serde(default)]
    pub memory: String,
    /// Of which from the hugetlbfs pool (`--xdp-huge-pages`).
    pub huge_pages_bytes: u64,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, Default)]
pub struct PlanIface {
    pub name: String,
    /// AF_XDP: the queues captured, worker `i` on the `i`-th.
    pub queues: Option<Vec<u32>>,
}

impl Plan {
    pub fn from_settings(s: &LiveSettings) -> Plan {
        // what a run would hold, measured on the tables it would make
        // (allocated, never touched: the pages are not taken)
        let (_, collector) = crate::collector::pipeline(&s.pipeline);
        let memory = s.memory(&collector);
        drop(collector);
        let capture = s.capture_bytes();
        let (xdp_mode, busy_poll, queues, huge) = match &s.backend {
            LiveBackend::AfPacket => (None, false, None, 0),
            LiveBackend::AfXdp { cfg, queues } => (
                Some(cfg.mode),
                cfg.busy_poll.is_some(),
                Some(queues),
                if cfg.params.huge_pages { capture } else { 0 },
            ),
        };
        Plan {
            backend: if queues.is_some() {
                Backend::AfXdp
            } else {
                Backend::AfPacket
            },
            xdp_mode,
            busy_poll,
            cpus: s.cpus.clone(),
            ifaces: s
                .ifaces
                .iter()
                .enumerate()
                .map(|(i, f)| PlanIface {
                    name: f.name.clone(),
                    queues: queues.and_then(|q| q.get(i).cloned()),
                })
                .collect(),
            memory_bytes: memory.total() as u64,
            memory: memory.to_string(),
            huge_pages_bytes: huge as u64,
        }
    }

    pub fn af_xdp(&self) -> bool {
        self.backend == Backend::AfXdp
    }

    /// The CPU of the worker that takes receive queue `queue` of `iface`:
    /// AF_XDP's worker of that queue (none if it is not captured); with
    /// AF_PACKET, queue `i` is matched with worker `i` (modulo the workers).
    pub fn worker_cpu(&self, iface: &str, queue: u32) -> Option<usize> {
        let f = self.ifaces.iter().find(|f| f.name == iface)?;
        let worker = match &f.queues {
            Some(q) => q.iter().position(|&x| x == queue)?,
            None => queue as usize,
        };
        (!self.cpus.is_empty()).then(|| self.cpus[worker % self.cpus.len()])
    }
}

/// Everything `ringflow doctor` says.
#[derive(Debug, Serialize)]
pub struct Report {
    pub plan: Plan,
    pub interfaces: Vec<nic::Nic>,
    pub host: host::Host,
    pub findings: Vec<checks::Finding>,
    pub unread: Vec<Unread>,
}

impl Report {
    pub fn count(&self, s: checks::Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }

    /// The checklist as text: per subject, each finding with its
    /// severity, why it matters and the fix; then what could not be read.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let p = &self.plan;
        let names: Vec<&str> = p.ifaces.iter().map(|f| f.name.as_str()).collect();
        let _ = writeln!(
            out,
            "ringflow doctor: {} on {}, {} worker(s) on CPU {}, memory {}",
            if p.af_xdp() { "af-xdp" } else { "af-packet" },
            names.join(", "),
            p.cpus.len(),
            crate::config::format_cpu_list(&p.cpus),
            if p.memory.is_empty() {
                format!("{} MiB", p.memory_bytes >> 20)
            } else {
                p.memory.clone()
            }
        );
        let mut subjects: Vec<&str> = Vec::new();
        for f in &self.findings {
            if !subjects.contains(&f.subject.as_str()) {
                subjects.push(&f.subject);
            }
        }
        for s in subjects {
            let _ = writeln!(out, "\n{s}");
            for f in self.findings.iter().filter(|f| f.subject == s) {
                let _ = writeln!(
                    out,
                    "  {:<9} {:<17} {}",
                    format!("[{}]", f.severity.word()),
                    f.check,
                    f.found
                );
                if f.severity != checks::Severity::Ok {
                    let _ = writeln!(out, "  {:<27} why: {}", "", f.why);
                    if let Some(fix) = &f.fix {
                        let _ = writeln!(out, "  {:<27} fix: {fix}", "");
                    }
                }
            }
        }
        if !self.unread.is_empty() {
            let _ = writeln!(out, "\ncould not read");
            for u in &self.unread {
                let _ = writeln!(out, "  {}: {}: {}", u.subject, u.what, u.error);
            }
        }
        let _ = writeln!(
            out,
            "\n{} problem(s), {} warning(s), {} ok",
            self.count(checks::Severity::Problem),
            self.count(checks::Severity::Warning),
            self.count(checks::Severity::Ok)
        );
        out
    }
}

/// Reads the interfaces of `plan` and the host from `k` and checks them.
pub fn examine(k: &dyn kernel::Kernel, plan: Plan) -> Report {
    let mut unread = Vec::new();
    let processes = host::processes(k);
    let interfaces: Vec<nic::Nic> = plan
        .ifaces
        .iter()
        .map(|f| nic::read(k, &f.name, &processes, &mut unread))
        .collect();
    let host = host::read(k, &processes, &mut unread);
    let findings = checks::check(&interfaces, &host, &plan);
    Report {
        plan,
        interfaces,
        host,
        findings,
        unread,
    }
}
