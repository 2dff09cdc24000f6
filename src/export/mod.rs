//! Prometheus exposition of the collector's snapshot in either format, and
//! the HTTP server that serves it.

pub mod api;
pub mod dashboard;
pub mod format;
pub mod http;
pub mod ipfix;
pub mod labels;
pub mod nic;
pub mod process;
pub mod prometheus;
pub mod services;
pub mod web;

pub use format::Format;
pub use prometheus::render;

/// What an exposition is rendered from: the collector's snapshot and the
/// capture's own counters.
pub type Counted = (
    std::sync::Arc<crate::collector::Snapshot>,
    std::sync::Arc<crate::capture::stats::CaptureStats>,
);
