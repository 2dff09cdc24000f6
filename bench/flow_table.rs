//! Parse plus flow-table update on one core, 64-byte frames, 1k / 64k / 1M
//! flows: ringflow's worker (parse, fixed open-addressing table, counters)
//! next to the same parse feeding a std HashMap with SipHash; and the
//! worker with flow export on, and with `--dedup 1ms`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringflow::collector::export::Timeouts;
use ringflow::collector::{PipelineConfig, pipeline};
use ringflow::flow::{FlowKey, FlowStats};
use ringflow::parse::{Decap, LinkType, Outcome, parse};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

#[path = "common.rs"]
mod common;

const BATCH: usize = 256;

fn bench_table(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_and_account");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    for (label, flows) in [("1k", 1 << 10), ("64k", 1 << 16), ("1M", 1 << 20)] {
        let packets = (flows * 2).max(1 << 20);
        let ring = common::ring_64(flows, packets);
        g.throughput(Throughput::Elements(packets as u64));

        // and with flow export on, whose tables keep per packet the
        // latest time, the TCP flags and the bytes outside IP as well
        // and with --dedup 1ms, which looks every packet up in a table of
        // those seen within the window
        for (name, export, dedup) in [
            ("ringflow_worker", false, false),
            ("ringflow_worker_ipfix", true, false),
            ("ringflow_worker_dedup", false, true),
        ] {
            let cfg = PipelineConfig {
                dedup: dedup.then_some(Duration::from_millis(1)),
                workers: 1,
                table_capacity: flows,
                export: export.then(|| {
                    let t = Timeouts {
                        active: Duration::from_secs(60),
                        idle: Duration::from_secs(15),
                    };
                    (t, Default::default())
                }),
                ..PipelineConfig::default()
            };
            let (mut workers, collector) = pipeline(&cfg);
            let mut w = workers.pop().unwrap();
            g.bench_function(BenchmarkId::new(name, label), |b| {
                b.iter(|| {
                    for start in (0..packets).step_by(BATCH) {
                        w.process_batch(ring.frames(start..(start + BATCH).min(packets)));
                    }
                })
            });
            drop(w);
            drop(collector);
        }

        let mut map: HashMap<FlowKey, FlowStats> = HashMap::with_capacity(flows);
        g.bench_function(BenchmarkId::new("std_hashmap_siphash", label), |b| {
            b.iter(|| {
                for f in ring.frames(0..packets) {
                    if let Outcome::Ip(p) =
                        parse(LinkType::Ethernet, black_box(f.data), &Decap::ALL)
                    {
                        let s = map.entry(FlowKey::from_packet(&p)).or_default();
                        s.packets += 1;
                        s.bytes += 64;
                        s.first_ns = 1;
                    }
                }
            })
        });
        black_box(map.len());
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // no plots: criterion would draw them with plotters, which finds no font
    // on a machine without gnuplot; the figures are in the terminal
    config = Criterion::default().without_plots();
    targets = bench_table
}
criterion_main!(benches);
