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
pub mod export;
pub mod flow;
pub mod generator;
pub mod live;
pub mod parse;
pub mod replay;
pub mod source;
pub mod synth;
pub mod worker;
