//! ringflow: traffic accounting from packet rings and capture files.
//!
//! The data path reads top to bottom: `capture` hands frames to a
//! [`worker::Worker`], which parses them (`parse`) into its own flow table
//! (`flow`); the [`collector`] merges the workers' tables and publishes a
//! snapshot that `export` renders for Prometheus.

#![deny(unsafe_code)]

pub mod capture;
pub mod collector;
pub mod config;
pub mod detect;
pub mod doctor;
pub mod export;
pub mod flow;
pub mod live;
pub mod netset;
pub mod parse;
pub mod replay;
pub mod sys;
pub mod tools;
pub mod utc;
pub mod worker;

/// Writes one line to stderr, ignoring failure: a daemon whose stderr
/// went away (a closed pipe) must keep counting, not panic as `eprintln!`
/// does.
pub fn log(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(line);
    let _ = e.write_all(b"\n");
}

/// `log!("...", args)`: one line to stderr, never panicking.
#[macro_export]
macro_rules! log {
    ($($t:tt)*) => {
        $crate::log(format_args!($($t)*))
    };
}

/// Says a complaint at most once a minute: a failing output, refused
/// logins, a refused `Host`. What happens between two lines is the
/// caller's to count.
#[derive(Debug, Default)]
pub struct Complaints(Option<std::time::Instant>);

impl Complaints {
    /// Logs `what` if a minute has passed since the last line it logged;
    /// returns whether it did.
    pub fn say(&mut self, what: std::fmt::Arguments<'_>) -> bool {
        let due = self
            .0
            .is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(60));
        if due {
            log(what);
            self.0 = Some(std::time::Instant::now());
        }
        due
    }
}

/// Locks `m`, also when a thread panicked holding it: what it guards
/// (counters, lists, caches) stays usable.
pub fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
