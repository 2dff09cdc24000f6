//! Command-line configuration. Every default is documented on its flag.

use crate::export::http::DEFAULT_LISTEN;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "ringflow",
    version,
    about = "Traffic accounting from packet rings and capture files, exported to Prometheus",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay pcap/pcapng files through the workers and collector.
    Replay(ReplayArgs),
    /// Write a synthetic capture (a reproducible traffic mix) to a pcap file.
    Synth(SynthArgs),
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    /// Worker threads; packets are spread over them by a symmetric flow hash.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub workers: u16,
    /// How often the collector merges the workers' tables and publishes a
    /// snapshot, e.g. 1s, 500ms.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub refresh: Duration,
    /// Flows each worker's table holds per refresh interval (80 bytes a
    /// slot, at most 7/8 full; two tables per worker). Flows beyond it are
    /// counted in ringflow_flow_table_overflow_total.
    #[arg(long, default_value_t = 200_000, value_parser = clap::value_parser!(u64).range(1..=1 << 28))]
    pub flow_table_size: u64,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Capture files (pcap with µs or ns timestamps, or pcapng), read in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Print the final exposition to stdout when the input ends and exit
    /// (the default when --listen is not given).
    #[arg(long, conflicts_with = "listen")]
    pub print: bool,
    /// Serve /metrics on this address while replaying and after the end,
    /// until interrupted.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_LISTEN)]
    pub listen: Option<SocketAddr>,
    /// Packets per batch handed to a worker.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Where to write the pcap file.
    #[arg(value_name = "FILE")]
    pub out: String,
    /// Conversations in the mix.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=16_000_000))]
    pub flows: u32,
    /// Frames in all.
    #[arg(long, default_value_t = 10_000)]
    pub packets: u64,
    /// Percent of conversations over IPv6.
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub ipv6_percent: u8,
    /// Percent of conversations with an 802.1Q tag.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub vlan_percent: u8,
    /// Frame size in bytes; 0 draws from an IMIX (64, 576, 1500 in 7:4:1).
    #[arg(long, default_value_t = 0)]
    pub frame_size: usize,
    /// Seed of the mix: the same seed writes the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Parses `1s`, `250ms`, `2m`, `1.5s` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (examples: 1s, 250ms, 2m)"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in '{s}' (use ms, s, m or h)")),
    };
    if !(secs.is_finite() && secs > 0.0 && secs < 1e9) {
        return Err(format!("'{s}' must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("1y").is_err());
    }
}
