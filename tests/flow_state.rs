//! Flow state that lives across refreshes, under concurrent load: worker
//! threads count into their tables while the collector reads them every
//! few milliseconds and has flows freed: idle for three refreshes, or the
//! longest idle when a table lacks room for the new ones. The flows come
//! in waves that do not fit a table together, so each wave's slots must be
//! freed for the next. Every flow's packets and bytes come out
//! exact: nothing lost or counted twice across reads that race with the
//! workers, slots freed and used again, and the workers' last hand-over.

use ringflow::capture::{Frame, FrameSink};
use ringflow::collector::export::{EndReason, FlowRecord, Timeouts};
use ringflow::collector::{PipelineConfig, pipeline};
use ringflow::config::Accounting;
use ringflow::parse::LinkType;
use ringflow::tools::synth;
use std::collections::HashMap;
use std::time::Duration;

const WAVES: u32 = 4;
/// Flows of a wave (IPv4: four in five).
const WAVE: u32 = 2000;
const FLOWS: u32 = WAVES * WAVE;
const PACKETS: u32 = 600_000;
const WORKERS: usize = 2;

/// Flow `i`: UDP from its own source (IPv6 for one in five) to one server.
fn frame(i: u32, len: usize) -> Vec<u8> {
    let udp = synth::udp(40000, 53, len);
    if i.is_multiple_of(5) {
        let mut src = [0u8; 16];
        src[..2].copy_from_slice(&[0xfd, 0]);
        src[12..].copy_from_slice(&i.to_be_bytes());
        let mut dst = [0u8; 16];
        dst[..2].copy_from_slice(&[0x20, 0x01]);
        dst[15] = 1;
        synth::ethernet(&[], 0x86dd, &synth::ipv6(src, dst, 17, &[], &udp))
    } else {
        let src = (0x0a00_0000 | i).to_be_bytes();
        synth::ethernet(
            &[],
            0x0800,
            &synth::ipv4(src, [198, 51, 100, 1], 17, (false, 0), &udp),
        )
    }
}

/// The flow number of a source address.
fn index(version: u8, src: [u8; 16]) -> u32 {
    if version == 4 {
        u32::from_be_bytes([src[0], src[1], src[2], src[3]]) & 0x00ff_ffff
    } else {
        u32::from_be_bytes([src[12], src[13], src[14], src[15]])
    }
}

#[test]
fn exact_per_flow_counts_while_the_collector_reads_and_frees_concurrently() {
    run(false);
}

/// The same with flow export on: the flow records of each flow add up to
/// its exact packets, frame bytes and IP bytes, whether they were cut by
/// the active timeout (1 s of capture time), the idle timeout, the slot
/// being freed, or the end.
#[test]
fn flow_records_add_up_exactly_while_the_collector_reads_and_frees_concurrently() {
    run(true);
}

fn run(export: bool) {
    let acc = Accounting {
        max_flow_series: 10_000,
        // flows idle for three refreshes leave the tables: many are freed
        // in the middle of a wave and come back
        flow_table_idle: Duration::from_millis(30),
        ..Accounting::default()
    };
    let cfg = PipelineConfig {
        workers: WORKERS,
        // the IPv4 table holds 1000 flows: more than each worker's 800
        // IPv4 flows of a wave, less than two waves' (and more than 3/4
        // full with one: short of room); the IPv6 table its minimum of
        // 1024
        table_capacity: 1000,
        table_capacity_v6: None,
        refresh: Duration::from_millis(10),
        accounting: acc,
        capture_clock: false,
        export: export.then(|| {
            (
                Timeouts {
                    active: Duration::from_secs(1),
                    idle: Duration::from_secs(15),
                },
                Default::default(),
            )
        }),
        ..PipelineConfig::default()
    };
    let (workers, mut collector) = pipeline(&cfg);
    let records = export.then(|| {
        let (rx, _) = collector.flow_records(&[]);
        std::thread::spawn(move || {
            let mut all: Vec<FlowRecord> = Vec::new();
            for b in rx {
                all.extend(b.records);
            }
            all
        })
    });
    let collector = std::thread::spawn(move || collector.run());

    // each worker its flows (i % WORKERS), in a random order, a few sizes
    let mut rng = synth::Rng::new(11);
    let mut plan: Vec<Vec<(u32, usize)>> = vec![Vec::new(); WORKERS];
    let mut want: HashMap<u32, (u64, u64)> = HashMap::new();
    for n in 0..PACKETS {
        // a few heavy flows, many light ones
        let wave = n / (PACKETS / WAVES) * WAVE;
        let i = wave
            + if rng.below(4) == 0 {
                rng.below(16) as u32
            } else {
                rng.below(u64::from(WAVE)) as u32
            };
        let len = [20, 200, 1000][rng.below(3) as usize];
        let bytes = frame(i, len).len() as u64;
        let w = want.entry(i).or_default();
        w.0 += 1;
        w.1 += bytes;
        plan[i as usize % WORKERS].push((i, len));
    }
    let frames: HashMap<(u32, usize), Vec<u8>> = plan
        .iter()
        .flatten()
        .map(|&(i, len)| ((i, len), frame(i, len)))
        .collect();
    std::thread::scope(|s| {
        for (mut w, plan) in workers.into_iter().zip(&plan) {
            let frames = &frames;
            s.spawn(move || {
                let mut wave = 0;
                for (n, batch) in plan.chunks(64).enumerate() {
                    if batch[0].0 / WAVE != wave {
                        wave = batch[0].0 / WAVE;
                        // a pause, as an idle capture loop has it, until
                        // the collector has read the last wave and had
                        // its IPv4 flows freed (at most 10 s)
                        for _ in 0..10_000 {
                            std::thread::sleep(Duration::from_millis(1));
                            w.idle();
                            if w.table_flows()[0] == 0 {
                                break;
                            }
                        }
                    }
                    let ts = 1_700_000_000_000_000_000 + n as u64 * 1_000_000;
                    w.process_batch(batch.iter().map(|k| {
                        let data = &frames[k];
                        Frame {
                            link: LinkType::Ethernet,
                            data,
                            orig_len: data.len() as u32,
                            ts_ns: ts,
                            vlan: 0,
                            iface: 0,
                            gso_size: 0,
                        }
                    }));
                    if n % 64 == 0 {
                        // let the collector in between
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            });
        }
    });
    let s = collector.join().unwrap();
    if let Some(records) = records {
        let records = records.join().unwrap();
        let mut got: HashMap<u32, (u64, u64, u64)> = HashMap::new();
        let mut reasons: HashMap<EndReason, usize> = HashMap::new();
        for r in &records {
            let i = index(r.key.version(), r.key.src());
            let e = got.entry(i).or_default();
            e.0 += r.packets;
            e.1 += r.frame_bytes;
            e.2 += r.ip_bytes;
            assert!(r.start_ms <= r.end_ms, "{r:?}");
            *reasons.entry(r.reason).or_default() += 1;
        }
        assert_eq!(got.len(), want.len(), "every flow has records");
        for (i, w) in &want {
            // every frame is an Ethernet header and an IP datagram
            let ip = w.1 - 14 * w.0;
            assert_eq!(got.get(i), Some(&(w.0, w.1, ip)), "flow {i}");
        }
        for why in [EndReason::Active, EndReason::Forced] {
            assert!(reasons.get(&why).is_some_and(|&n| n > 0), "{reasons:?}");
        }
        // the clock is years past the frames' time: every record not cut
        // otherwise ends idle, freed or not
        assert!(
            reasons.get(&EndReason::Idle).is_some_and(|&n| n > 0),
            "{reasons:?}"
        );
    }

    assert_eq!(s.packets, u64::from(PACKETS));
    assert_eq!(s.overflow_packets, 0, "the tables never overflowed");
    let mut got: HashMap<u32, (u64, u64)> = HashMap::new();
    for r in &s.flows {
        let i = index(r.key.version, r.key.src);
        let e = got.entry(i).or_default();
        e.0 += r.packets;
        e.1 += r.bytes;
    }
    assert_eq!(got.len(), want.len(), "every flow is a series");
    for (i, w) in &want {
        assert_eq!(got.get(i), Some(w), "flow {i}");
    }
    // and flows were freed and taken again (about as many times as there
    // are flows, with this timing)
    assert!(
        s.table_expired > u64::from(FLOWS) / 2,
        "{}",
        s.table_expired
    );
}
