//! The whole replay pipeline from memory (pcap reader, dispatch, workers,
//! collector, final snapshot), in packets per second, with 1 and 2 workers.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringflow::capture::pcap_file::PcapReader;
use ringflow::collector::PipelineConfig;
use ringflow::config::defaults;
use ringflow::replay::{Input, Replay};
use std::io::{Cursor, Read};
use std::sync::Arc;
use std::time::Duration;

fn bench_pipeline(c: &mut Criterion) {
    let mix = ringflow::tools::synth::Mix {
        flows: 10_000,
        packets: 1_000_000,
        ipv6_percent: 25,
        vlan_percent: 10,
        udp_percent: 25,
        frame_size: 64,
        seed: 9,
    };
    let file: Arc<[u8]> = mix.to_pcap(1_700_000_000_000_000_000).into();
    let mut g = c.benchmark_group("replay_pipeline");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(mix.packets));
    for workers in [1usize, 2] {
        g.bench_function(
            BenchmarkId::new("64B_10k_flows", format!("{workers}_workers")),
            |b| {
                b.iter(|| {
                    let r: Box<dyn Read + Send> = Box::new(Cursor::new(file.clone()));
                    let input: Input = PcapReader::new(r, "memory").unwrap();
                    let cfg = PipelineConfig {
                        workers,
                        table_capacity: 65_536,
                        ..PipelineConfig::default()
                    };
                    let s = Replay::new(vec![input], &cfg, defaults::REPLAY_BATCH as usize)
                        .run()
                        .unwrap();
                    assert_eq!(s.packets, mix.packets);
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // no plots: criterion would draw them with plotters, which finds no font
    // on a machine without gnuplot; the figures are in the terminal
    config = Criterion::default().without_plots();
    targets = bench_pipeline
}
criterion_main!(benches);
