//! Prometheus exposition of the collector's snapshot in either format, and
//! the HTTP server that serves it.

pub mod format;
pub mod http;
pub mod labels;
pub mod nic;
pub mod prometheus;

pub use format::Format;
pub use prometheus::render;
