//! ringflow: traffic accounting from packet rings and capture files.
//!
//! The data path reads top to bottom: `capture` hands frames to a
//! [`worker::Worker`], which parses them (`parse`) into its own flow table
//! (`flow`); the [`collector`] merges the workers' tables and publishes a
//! snapshot that `export` renders for Prometheus.

#![deny(unsafe_code)]

pub mod parse;
pub mod flow;
pub mod worker;
pub mod collector;
pub mod export;
pub mod source;
pub mod capture;
pub mod replay;
pub mod synth;
pub mod config;
