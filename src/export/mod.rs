//! Prometheus exposition of the collector's snapshot, and the HTTP server
//! that serves it.

pub mod http;
pub mod nic;
pub mod prometheus;

pub use prometheus::{CONTENT_TYPE, render};
