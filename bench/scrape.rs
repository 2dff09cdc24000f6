//! Rendering /metrics from a snapshot with 100k flow series, and a worker's
//! packet rate with and without a scraper rendering in a loop on another
//! thread.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringflow::capture::stats::CaptureStats;
use ringflow::collector::{FlowRow, PipelineConfig, SeriesKey, Snapshot, pipeline};
use ringflow::export::{Format, render};
use ringflow::netset::Class;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

#[path = "common.rs"]
mod common;

fn snapshot(series: usize) -> Arc<Snapshot> {
    let mut s = Snapshot::empty(0);
    s.flows = (0..series as u32)
        .map(|i| {
            let mut src = [0u8; 16];
            src[..4].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let mut dst = [0u8; 16];
            dst[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            dst[12..].copy_from_slice(&i.to_be_bytes());
            FlowRow {
                key: SeriesKey {
                    version: 6,
                    src: dst,
                    dst: src,
                    proto: 6,
                    port: Some(443),
                    reply: i % 2 == 1,
                },
                class: Class::Outgoing,
                packets: u64::from(i) * 7,
                bytes: u64::from(i) * 7 * 1400,
                first_ns: 0,
                macs: [0; 12],
            }
        })
        .collect();
    s.conversations = series;
    s.complete = true;
    Arc::new(s)
}

fn bench_scrape(c: &mut Criterion) {
    let snap = snapshot(100_000);
    let stats = Arc::new(CaptureStats::default());
    let mut g = c.benchmark_group("scrape");
    g.sample_size(10);
    // The text format is the OpenMetrics rendering with its family
    // headers rewritten: the difference is what that rewrite costs.
    for (name, format) in [
        ("render_100k_flow_series", Format::Text),
        ("render_100k_flow_series_openmetrics", Format::OpenMetrics),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| render(snap.clone(), stats.clone(), format).len())
        });
    }
    g.finish();

    // A worker's rate, alone and while another thread renders the 100k
    // snapshot over and over.
    let ring = common::ring_64(1 << 16, 1 << 20);
    let mut g = c.benchmark_group("worker_during_scrape");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(ring.packets as u64));
    for scraping in [false, true] {
        let (mut workers, _collector) = pipeline(&PipelineConfig {
            table_capacity: 1 << 16,
            ..PipelineConfig::default()
        });
        let mut w = workers.pop().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let renders = Arc::new(AtomicU64::new(0));
        let scraper = scraping.then(|| {
            let (snap, stats, stop, renders) =
                (snap.clone(), stats.clone(), stop.clone(), renders.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box(render(snap.clone(), stats.clone(), Format::Text));
                    renders.fetch_add(1, Ordering::Relaxed);
                }
            })
        });
        let name = if scraping { "scraper_running" } else { "alone" };
        g.bench_function(BenchmarkId::new("64B_64k_flows", name), |b| {
            b.iter(|| {
                for start in (0..ring.packets).step_by(256) {
                    w.process_batch(ring.frames(start..start + 256));
                }
            })
        });
        stop.store(true, Ordering::Relaxed);
        if let Some(t) = scraper {
            t.join().unwrap();
            eprintln!(
                "scraper rendered {} times meanwhile",
                renders.load(Ordering::Relaxed)
            );
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // no plots: criterion would draw them with plotters, which finds no font
    // on a machine without gnuplot; the figures are in the terminal
    config = Criterion::default().without_plots();
    targets = bench_scrape
}
criterion_main!(benches);
