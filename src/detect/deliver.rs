//! Where alert events go: the alert log, a webhook, Alertmanager, a notify
//! command. The collector hands events to one bounded queue and never
//! waits; a fan-out thread copies each event to one bounded queue per
//! output, and each output has a thread of its own, so a slow webhook
//! delays nothing else. What an output could not take, or failed to
//! deliver after its retries, is counted in
//! `ringflow_alert_deliveries_total{target,result}`.

use super::{AlertEvent, Event};
use crate::Complaints;
use crate::config::Outputs;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Events waiting for one output at most.
const QUEUE: usize = 1024;

/// Events waiting for the outputs at most; beyond it the collector counts
/// them as dropped instead of waiting.
pub const EVENTS: usize = 4096;

/// The queue the collector sends alert events to.
pub fn queue() -> (Sender<AlertEvent>, Receiver<AlertEvent>) {
    crossbeam_channel::bounded(EVENTS)
}
/// Tries of an HTTP delivery, and the wait before each retry.
const TRIES: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(500),
    Duration::from_secs(2),
];
/// How often Alertmanager is told again of every active alert.
const RESEND: Duration = Duration::from_secs(60);
/// Notify commands running at once at most, and how long one may run.
const EXEC_AT_ONCE: usize = 4;
const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// The outputs' names, as the `target` label.
pub const TARGETS: [&str; 4] = ["log", "webhook", "alertmanager", "exec"];
/// Delivery results, as the `result` label.
pub const RESULTS: [&str; 3] = ["ok", "failed", "dropped"];

/// Delivery counts per target and result.
#[derive(Debug, Default)]
pub struct Deliveries {
    counts: [[AtomicU64; 3]; 4],
}

impl Deliveries {
    fn add(&self, target: usize, result: usize) {
        self.counts[target][result].fetch_add(1, Ordering::Relaxed);
    }

    /// (target, result, count) of every pair.
    pub fn get(&self) -> Vec<(&'static str, &'static str, u64)> {
        let mut out = Vec::new();
        for (t, row) in TARGETS.iter().zip(&self.counts) {
            for (r, n) in RESULTS.iter().zip(row) {
                out.push((*t, *r, n.load(Ordering::Relaxed)));
            }
        }
        out
    }
}

const LOG: usize = 0;
const WEBHOOK: usize = 1;
const ALERTMANAGER: usize = 2;
const EXEC: usize = 3;
const OK: usize = 0;
const FAILED: usize = 1;
const DROPPED: usize = 2;

/// Starts the outputs on the events of `rx`. The log file is opened now,
/// so a bad path is an error at start. The threads end once the queue
/// closes and each has delivered what it had; join them to wait for that.
pub fn start(
    outputs: &Outputs,
    rx: Receiver<AlertEvent>,
    counts: Arc<Deliveries>,
) -> Result<Vec<JoinHandle<()>>, String> {
    outputs.check()?;
    let mut targets: Vec<(usize, Sender<AlertEvent>)> = Vec::new();
    let mut threads = Vec::new();
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new()
            .name(format!("ringflow-{name}"))
            .spawn(f)
            .map_err(|e| format!("cannot start a thread: {e}"))
    };
    if let Some(path) = &outputs.log {
        let out: Box<dyn Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("cannot open the alert log {}: {e}", path.display()))?,
            )
        };
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let c = counts.clone();
        threads.push(spawn("alertlog", Box::new(move || log(out, rx, &c)))?);
        targets.push((LOG, tx));
    }
    if let Some(url) = &outputs.webhook {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let (c, url) = (counts.clone(), url.clone());
        threads.push(spawn("webhook", Box::new(move || webhook(&url, rx, &c)))?);
        targets.push((WEBHOOK, tx));
    }
    if let Some(url) = &outputs.alertmanager {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let url = format!("{}/api/v2/alerts", url.trim_end_matches('/'));
        let c = counts.clone();
        threads.push(spawn(
            "alertmanager",
            Box::new(move || alertmanager(&url, rx, &c)),
        )?);
        targets.push((ALERTMANAGER, tx));
    }
    if let Some(path) = &outputs.exec {
        let (tx, rx) = crossbeam_channel::bounded(QUEUE);
        let (c, path) = (counts.clone(), path.clone());
        threads.push(spawn("alertexec", Box::new(move || exec(&path, rx, &c)))?);
        targets.push((EXEC, tx));
    }
    let c = counts;
    threads.push(spawn(
        "alertfanout",
        Box::new(move || {
            for e in rx {
                for (target, tx) in &targets {
                    if tx.try_send(e.clone()).is_err() {
                        c.add(*target, DROPPED);
                    }
                }
            }
        }),
    )?);
    Ok(threads)
}

fn log(mut out: Box<dyn Write + Send>, rx: Receiver<AlertEvent>, counts: &Deliveries) {
    let mut failing = false;
    for e in rx {
        let ok = serde_json::to_string(&e)
            .map_err(std::io::Error::other)
            .and_then(|line| writeln!(out, "{line}"))
            .and_then(|_| out.flush())
            .is_ok();
        counts.add(LOG, if ok { OK } else { FAILED });
        if !ok && !failing {
            crate::log!("ringflow: cannot write the alert log; alerts go on in /metrics");
        }
        failing = !ok;
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .into()
}

/// POSTs `body` as JSON, retrying; whether it was delivered.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> bool {
    TRIES.iter().any(|wait| {
        std::thread::sleep(*wait);
        agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body)
            .is_ok()
    })
}

fn webhook(url: &str, rx: Receiver<AlertEvent>, counts: &Deliveries) {
    let agent = agent();
    let mut complaints = Complaints::default();
    for e in rx {
        let body = serde_json::to_string(&e).unwrap_or_default();
        if post(&agent, url, &body) {
            counts.add(WEBHOOK, OK);
        } else {
            counts.add(WEBHOOK, FAILED);
            complaints.say(format_args!("ringflow: alert webhook {url} fails"));
        }
    }
}

/// An alert as Alertmanager's API v2 takes it.
fn am_alert(e: &AlertEvent, instance: &str) -> serde_json::Value {
    let what = if e.kind.as_str().ends_with("scan") {
        format!("{} by {}", e.kind.as_str(), e.ip)
    } else {
        format!(
            "{} over its {} limit ({})",
            e.ip,
            e.kind.as_str(),
            e.direction.as_str()
        )
    };
    let mut a = serde_json::json!({
        "labels": {
            "alertname": format!("ringflow_{}", e.kind.as_str()),
            "kind": e.kind.as_str(),
            "ip": e.ip.to_string(),
            "direction": e.direction.as_str(),
            "group": e.group,
            "instance": instance,
        },
        "annotations": {
            "summary": what,
            "description": format!(
                "{}: {} against a limit of {} over {} s; alert {}",
                what, e.value, e.threshold, e.interval_seconds, e.id
            ),
        },
        "startsAt": e.start,
    });
    if let Some(end) = &e.end {
        a["endsAt"] = serde_json::Value::String(end.clone());
    }
    a
}

fn alertmanager(url: &str, rx: Receiver<AlertEvent>, counts: &Deliveries) {
    let agent = agent();
    let instance = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "ringflow".into());
    let mut active: BTreeMap<u64, serde_json::Value> = BTreeMap::new();
    let mut complaints = Complaints::default();
    let mut next = Instant::now() + RESEND;
    loop {
        let batch: Vec<serde_json::Value> =
            match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(e) => {
                    let a = am_alert(&e, &instance);
                    if e.event == Event::End {
                        active.remove(&e.id);
                    } else {
                        active.insert(e.id, a.clone());
                    }
                    vec![a]
                }
                // Alertmanager forgets an alert not sent again for a while
                Err(RecvTimeoutError::Timeout) => {
                    next = Instant::now() + RESEND;
                    active.values().cloned().collect()
                }
                Err(RecvTimeoutError::Disconnected) => return,
            };
        if batch.is_empty() {
            continue;
        }
        let body = serde_json::Value::Array(batch).to_string();
        if post(&agent, url, &body) {
            counts.add(ALERTMANAGER, OK);
        } else {
            counts.add(ALERTMANAGER, FAILED);
            complaints.say(format_args!("ringflow: Alertmanager {url} fails"));
        }
    }
}

fn exec(path: &PathBuf, rx: Receiver<AlertEvent>, counts: &Deliveries) {
    let mut running: Vec<(Child, Instant)> = Vec::new();
    let mut complaints = Complaints::default();
    let reap = |running: &mut Vec<(Child, Instant)>, complaints: &mut Complaints| {
        running.retain_mut(|(child, started)| {
            let done = match child.try_wait() {
                Ok(Some(status)) => Some(status.success()),
                Ok(None) if started.elapsed() >= EXEC_TIMEOUT => {
                    // the command's own children too: it runs in a process
                    // group of its own
                    let group = nix::unistd::Pid::from_raw(child.id() as i32);
                    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.kill();
                    let _ = child.wait();
                    Some(false)
                }
                Ok(None) => None,
                Err(_) => Some(false),
            };
            match done {
                Some(true) => counts.add(EXEC, OK),
                Some(false) => {
                    counts.add(EXEC, FAILED);
                    complaints.say(format_args!(
                        "ringflow: the alert command {} failed",
                        path.display()
                    ));
                }
                None => {}
            }
            done.is_none()
        });
    };
    let spawn = |e: &AlertEvent| -> std::io::Result<Child> {
        let mut child = Command::new(path)
            .arg(e.ip.to_string())
            .arg(e.direction.as_str())
            .arg(e.kind.as_str())
            .arg(match e.event {
                Event::Start => "start",
                Event::Update => "update",
                Event::End => "end",
            })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{}", serde_json::to_string(e).unwrap_or_default());
        }
        Ok(child)
    };
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(e) => {
                while running.len() >= EXEC_AT_ONCE {
                    reap(&mut running, &mut complaints);
                    if running.len() >= EXEC_AT_ONCE {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                match spawn(&e) {
                    Ok(child) => running.push((child, Instant::now())),
                    Err(err) => {
                        counts.add(EXEC, FAILED);
                        complaints.say(format_args!(
                            "ringflow: cannot run the alert command {}: {err}",
                            path.display()
                        ));
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                while !running.is_empty() {
                    reap(&mut running, &mut complaints);
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
        }
        reap(&mut running, &mut complaints);
    }
}
