//! A flood of two million distinct spoofed sources, replayed: the
//! collector's entries stay within --max-entries, every packet is still
//! counted in its class and its monitored host, the process's peak memory
//! stays under the bound docs/classes.md states for the limits, and a real scanner
//! hidden in the flood is still detected.

mod common;

use common::synth;
use common::*;
use std::io::Write;

const SOURCES: u32 = 2_000_000;
/// The scanner: SYNs to twice the default --scan-hosts (100) distinct IPs,
/// one every 10000 flood packets.
const SCANNER: [u8; 4] = [203, 0, 113, 7];
const SCANNED: u32 = 200;

/// 2,000,000 TCP SYNs from distinct public sources (11.0.0.0/8, through
/// an odd multiplier, a bijection on 24 bits) to 10.0.0.1:80.
fn flood(path: &std::path::Path) -> u64 {
    let f = std::fs::File::create(path).unwrap();
    let mut w = synth::PcapWriter::new(std::io::BufWriter::new(f), 1, false).unwrap();
    let mut bytes = 0;
    for i in 0..SOURCES {
        let low = i.wrapping_mul(0x9e37_79b1) & 0x00ff_ffff;
        let src = (0x0b00_0000 | low).to_be_bytes();
        let frame = synth::ethernet(
            &[],
            0x0800,
            &synth::ipv4(
                src,
                [10, 0, 0, 1],
                6,
                (false, 0),
                &synth::tcp(1024 + (i % 60000) as u16, 80, synth::tcp_flags::SYN, 0),
            ),
        );
        bytes += frame.len() as u64;
        let ts = 1_700_000_000_000_000_000 + u64::from(i) * 1000;
        w.write(ts, &frame, usize::MAX).unwrap();
        if i % (SOURCES / SCANNED) == 0 {
            let n = i / (SOURCES / SCANNED);
            let probe = synth::ethernet(
                &[],
                0x0800,
                &synth::ipv4(
                    SCANNER,
                    [10, 1, (n >> 8) as u8, n as u8],
                    6,
                    (false, 0),
                    &synth::tcp(40000, 22, synth::tcp_flags::SYN, 0),
                ),
            );
            bytes += probe.len() as u64;
            w.write(ts + 1, &probe, usize::MAX).unwrap();
        }
    }
    w.into_inner().flush().unwrap();
    bytes
}

/// Peak resident memory of the largest child waited for, in bytes.
fn children_peak_rss() -> u64 {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    u.max_rss() as u64 * 1024
}

#[test]
fn two_million_spoofed_sources_stay_within_the_limits() {
    let dir = TempDir::new("flood");
    let path = dir.path("flood.pcap");
    let bytes = flood(&path);
    let text = replay(&[&path], &[]);
    let peak = children_peak_rss();
    let m = parse_exposition(&text);
    let one = |name: &str| family(&m, name)[&vec![]];

    // every packet counted: all incoming IPv4, the flood's received by
    // 10.0.0.1
    let packets = u64::from(SOURCES + SCANNED);
    let classes = family(&m, "ringflow_traffic_packets_total");
    assert_eq!(
        classes[&vec!["incoming".to_string(), "4".to_string()]],
        packets
    );
    assert_eq!(classes.values().sum::<u64>(), packets);
    let rx = family(&m, "ringflow_host_receive_bytes_total");
    assert_eq!(
        rx[&vec!["10.0.0.1".to_string()]],
        bytes - u64::from(SCANNED) * 54
    );
    let flows: u64 = family(&m, "ringflow_flow_bytes_total").values().sum();
    assert_eq!(flows, bytes, "exported series plus other add up");
    assert_eq!(one("ringflow_flow_table_overflow_total"), 0);

    // the collector kept at most --max-entries (default 250000) of each
    assert_eq!(one("ringflow_collector_entries"), 250_000);
    assert!(one("ringflow_collector_conversations") <= 250_000);
    assert!(one("ringflow_collector_hosts") <= 250_000);
    assert_eq!(
        one("ringflow_collector_untracked_packets_total"),
        packets - 250_000
    );
    let series = family(&m, "ringflow_flow_series");
    assert_eq!(series[&vec!["exported".to_string()]], 10_000);

    // the scanner, and only it, is flagged: the flood did not push it out
    // of the scan table, and each spoofed source has one target
    let alerts = family(&m, "ringflow_alerts_total");
    let started = |kind: &str| alerts[&vec![kind.to_string(), String::new(), String::new()]];
    assert_eq!((started("network_scan"), started("port_scan")), (1, 0));
    let active = family(&m, "ringflow_alert_active");
    let scanner = vec![
        "network_scan".to_string(),
        "203.0.113.7".to_string(),
        String::new(),
        String::new(),
    ];
    assert_eq!(active.keys().collect::<Vec<_>>(), [&scanner]);
    // (the tables were emptied when the last interval closed, so this one
    // only bounds them; that no source was refused room says the flood
    // never filled them with sources of two or more targets)
    assert!(one("ringflow_scan_sources") <= 2 * 100_000);
    assert_eq!(one("ringflow_scan_untracked_total"), 0);

    // docs/classes.md: at most 500 bytes per --max-entries, plus the worker tables
    // (25 MiB for one worker, handles included), plus the scan tables'
    // bound, plus 64 MiB for the program, the replay buffers and the
    // exposition
    let detection = one("ringflow_detection_memory_bytes");
    let tables = one("ringflow_flow_table_memory_bytes");
    assert!(tables < 28 << 20, "{tables}");
    let bound = 250_000 * 500 + tables + detection + 64 * (1 << 20);
    eprintln!(
        "flood: peak RSS {:.1} MiB (bound {:.1} MiB)",
        peak as f64 / f64::from(1 << 20),
        bound as f64 / f64::from(1 << 20)
    );
    assert!(peak < bound, "peak RSS {peak} over {bound}");
}
