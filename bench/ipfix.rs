//! The IPFIX exporter's cost per record: encoding alone; encoding and
//! sending over UDP on loopback (blocking) to a receiver draining on
//! another thread; and the exporter thread as ringflow runs it, fed by
//! the collector's queue. Target: at least 2 million records a second
//! encoded and sent by one core.

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringflow::collector::RecordBatch;
use ringflow::collector::export::{EndReason, ExportCounts, FlowRecord, Observation};
use ringflow::config::export::IpfixArgs;
use ringflow::export::ipfix::Encoder;
use ringflow::flow::FlowKey;
use ringflow::parse::PortKind;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `n` records, one in four IPv6.
fn records(n: u32) -> Vec<FlowRecord> {
    (0..n)
        .map(|i| {
            let v6 = i % 4 == 0;
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            if v6 {
                src[..2].copy_from_slice(&[0x20, 0x01]);
                src[12..].copy_from_slice(&i.to_be_bytes());
                dst[..2].copy_from_slice(&[0xfd, 0]);
                dst[15] = 1;
            } else {
                src[..4].copy_from_slice(&(0x0a00_0000 | i).to_be_bytes());
                dst[..4].copy_from_slice(&[198, 51, 100, 1]);
            }
            FlowRecord {
                key: FlowKey::new(
                    if v6 { 6 } else { 4 },
                    src,
                    dst,
                    6,
                    PortKind::Ports,
                    (40_000 + i % 20_000) as u16,
                    443,
                    0,
                ),
                packets: 10,
                ip_bytes: 5000,
                frame_bytes: 5140,
                start_ms: 1_700_000_000_000,
                end_ms: 1_700_000_060_000,
                tcp_flags: 0x1b,
                reason: EndReason::Active,
                observation: Observation {
                    domain: 3,
                    ifindex: 3,
                },
                macs: [2; 12],
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let recs = records(65_536);
    let mut g = c.benchmark_group("ipfix");
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(recs.len() as u64));
    g.bench_function(BenchmarkId::new("encode", "mtu_1400"), |b| {
        let mut enc = Encoder::new(1400);
        b.iter(|| {
            let mut bytes = 0;
            enc.data(3, 0, 0, &recs, |m, _| bytes += m.len());
            bytes
        })
    });
    for mtu in [1400usize, 9000] {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let addr = rx.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let drain = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            let mut n = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                if rx.recv(&mut buf).is_ok() {
                    n += 1;
                }
            }
            n
        });
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        tx.connect(addr).unwrap();
        g.bench_function(
            BenchmarkId::new("encode_and_send_udp", format!("mtu_{mtu}")),
            |b| {
                let mut enc = Encoder::new(mtu);
                b.iter(|| {
                    let mut sent = 0;
                    enc.data(3, 0, 0, &recs, |m, n| {
                        // blocking: a full socket buffer waits, so every
                        // record counted here was sent
                        if tx.send(m).is_ok() {
                            sent += n;
                        }
                    });
                    assert_eq!(sent, recs.len());
                })
            },
        );
        stop.store(true, Ordering::Relaxed);
        let _ = drain.join();
    }
    // the exporter thread itself, as ringflow runs it: batches from the
    // collector's queue, non-blocking sends (a full socket buffer drops,
    // counted); printed: the share of records the kernel took
    for mtu in [1400u32, 9000] {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let port = rx.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let drain = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stop2.load(Ordering::Relaxed) {
                let _ = rx.recv(&mut buf);
            }
        });
        let settings = IpfixArgs {
            ipfix: vec![format!("127.0.0.1:{port}")],
            ipfix_mtu: Some(mtu),
            ..IpfixArgs::default()
        }
        .settings()
        .unwrap()
        .unwrap();
        let counts = Arc::new(ExportCounts::new(&[settings.destinations[0].label()]));
        let (tx, queue) = crossbeam_channel::bounded(4);
        let exporter = ringflow::export::ipfix::start(&settings, queue, counts.clone()).unwrap();
        let c = &counts.collectors[0];
        let handled = || c.sent.load(Ordering::Relaxed) + c.dropped.load(Ordering::Relaxed);
        g.bench_function(
            BenchmarkId::new("exporter_thread_udp", format!("mtu_{mtu}")),
            |b| {
                b.iter_batched(
                    || RecordBatch {
                        records: recs.clone(),
                        overflow: (0, 0),
                    },
                    |batch| {
                        let until = handled() + batch.records.len() as u64;
                        tx.send(batch).unwrap();
                        while handled() < until {
                            std::hint::spin_loop();
                        }
                    },
                    BatchSize::LargeInput,
                )
            },
        );
        let (sent, dropped) = (
            c.sent.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed),
        );
        println!(
            "exporter_thread_udp/mtu_{mtu}: {:.1} % of {} records sent, the rest dropped at a full socket buffer",
            100.0 * sent as f64 / (sent + dropped).max(1) as f64,
            sent + dropped
        );
        drop(tx);
        let _ = exporter.join();
        stop.store(true, Ordering::Relaxed);
        let _ = drain.join();
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // no plots: criterion would draw them with plotters, which finds no font
    // on a machine without gnuplot; the figures are in the terminal
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
