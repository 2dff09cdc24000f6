//! Signals of a live capture: SIGINT and SIGTERM stop it, SIGHUP reloads
//! the accounting settings from the config file, SIGQUIT exits at once.
//! A stop signal that comes again within [`SECOND_SIGNAL_GRACE`] of the
//! first is the same stop (`timeout`, systemd's `KillMode=control-group`
//! and container runtimes signal the process and then its whole group);
//! one later than that cuts the drain short. One thread waits for them;
//! every other thread blocks them.

use crate::config::{Accounting, RunArgs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long after the first stop signal a second one is taken as part of
/// the same stop rather than as "exit now".
pub(super) const SECOND_SIGNAL_GRACE: Duration = Duration::from_secs(3);

pub(super) fn block_stop_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set.add(Signal::SIGQUIT);
    // Threads started after this inherit the mask, so only the signal
    // thread receives these.
    let _ = set.thread_block();
    set
}

/// What SIGHUP needs to reload the accounting settings.
pub(super) struct Reload {
    pub(super) cli: RunArgs,
    pub(super) start_file: toml::Table,
    pub(super) tx: crossbeam_channel::Sender<Accounting>,
}

impl Reload {
    /// Reads the config file again and hands the collector its new
    /// networks, limits and windows (applied at its next refresh; no
    /// counter is reset). Capture keys that changed are named: they need
    /// a restart. A file that does not check out changes nothing.
    fn run(&self) {
        let Some(path) = &self.cli.config else {
            crate::log!("ringflow: SIGHUP: no --config file to reload");
            return;
        };
        let read = crate::config::config_table(path).and_then(|now| {
            crate::config::merge(&self.cli, path, now.clone()).map(|merged| (now, merged))
        });
        let (now, merged) = match read {
            Ok(r) => r,
            Err(e) => {
                crate::log!("ringflow: SIGHUP: {e}; keeping the current settings");
                return;
            }
        };
        // this box's addresses may have changed too: they are read again
        let own = super::settings::own_networks();
        let acc = match merged.accounting.resolve_on(&own) {
            Ok(a) => a,
            Err(e) => {
                crate::log!("ringflow: SIGHUP: {e}; keeping the current settings");
                return;
            }
        };
        let mut keys: Vec<&String> = now.keys().chain(self.start_file.keys()).collect();
        keys.sort();
        keys.dedup();
        let restart: Vec<&str> = keys
            .into_iter()
            .filter(|k| !crate::config::ACCOUNTING_KEYS.contains(&k.as_str()))
            .filter(|k| now.get(*k) != self.start_file.get(*k))
            .map(|k| k.as_str())
            .collect();
        if !restart.is_empty() {
            crate::log!(
                "ringflow: SIGHUP: {} changed in {}: capture settings take effect after a restart",
                restart.join(", "),
                path.display()
            );
        }
        if self.tx.send(acc).is_ok() {
            crate::log!(
                "ringflow: SIGHUP: reloaded networks, limits and windows from {}",
                path.display()
            );
        }
    }
}

pub(super) fn wait_for_signals(set: nix::sys::signal::SigSet, stop: &AtomicBool, reload: &Reload) {
    use nix::sys::signal::Signal;
    let mut stopping: Option<Instant> = None;
    while let Ok(sig) = set.wait() {
        match (sig, stopping) {
            (Signal::SIGHUP, _) => reload.run(),
            (Signal::SIGQUIT, _) => {
                crate::log!("ringflow: {sig}: exiting now");
                std::process::exit(131);
            }
            (_, None) => {
                stop.store(true, Ordering::Relaxed);
                crate::log!("ringflow: {sig}: draining the rings and stopping");
                stopping = Some(Instant::now());
            }
            (_, Some(at)) if at.elapsed() < SECOND_SIGNAL_GRACE => {}
            (_, Some(_)) => {
                crate::log!("ringflow: {sig} again: exiting now");
                std::process::exit(130);
            }
        }
    }
}
