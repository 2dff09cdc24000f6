//! Tools around the monitor, not part of it: the traffic generator
//! (`ringflow gen`) and synthetic captures (`ringflow synth`, and the
//! frames tests and benchmarks are built from), and the man pages and
//! shell completions generated from the command line (`docs`).

pub mod docs;
pub mod generator;
pub mod synth;
