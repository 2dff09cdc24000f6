//! The alert log: one JSON object per event and line, written by a thread
//! of its own so that a slow disk or a closed pipe never holds up the
//! collector, which hands events over a bounded queue and counts what did
//! not fit.

use super::AlertEvent;
use crossbeam_channel::{Receiver, Sender};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Events waiting for the log at most; beyond it they are counted as
/// dropped.
pub const QUEUE: usize = 4096;

/// The queue the collector sends alert events to.
pub fn queue() -> (Sender<AlertEvent>, Receiver<AlertEvent>) {
    crossbeam_channel::bounded(QUEUE)
}

#[derive(Debug, thiserror::Error)]
#[error("cannot open the alert log {path}: {source}")]
pub struct LogError {
    path: PathBuf,
    source: std::io::Error,
}

/// Starts writing the events of `rx` to `path` (`-` for stdout), one JSON
/// object per line, flushed after each. The file is opened (appended to)
/// now, so a bad path is an error at start. The thread ends when the
/// queue closes (the collector stopped).
pub fn spawn(path: &Path, rx: Receiver<AlertEvent>) -> Result<JoinHandle<()>, LogError> {
    let err = |source| LogError {
        path: path.to_path_buf(),
        source,
    };
    let out: Box<dyn Write + Send> = if path == Path::new("-") {
        Box::new(std::io::stdout())
    } else {
        Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(err)?,
        )
    };
    std::thread::Builder::new()
        .name("ringflow-alertlog".into())
        .spawn(move || write_all(out, rx))
        .map_err(err)
}

fn write_all(mut out: Box<dyn Write + Send>, rx: Receiver<AlertEvent>) {
    let mut failed = false;
    for e in rx {
        let line = match serde_json::to_string(&e) {
            Ok(l) => l,
            Err(_) => continue,
        };
        let ok = writeln!(out, "{line}").and_then(|_| out.flush()).is_ok();
        if !ok && !failed {
            crate::log!("ringflow: cannot write the alert log; alerts go on in /metrics");
        }
        failed = !ok;
    }
}
