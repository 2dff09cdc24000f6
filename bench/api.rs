//! The JSON API with a million collector entries: `/api/v1/top` and
//! `/api/v1/graph` over the 1-minute window (a merge join of two
//! snapshots, then the aggregation), with the default flow-series bound
//! (10000 series exported) and with `--max-flow-series 1000000` (every
//! entry exported, the worst case). Prints each answer's JSON size, and
//! the dashboard's bytes on the wire and the sizes behind docs/memory.md
//! figures for the API.

use criterion::{Criterion, criterion_group, criterion_main};
use ringflow::collector::accounts::Feed;
use ringflow::collector::{Accounts, Published, Snapshot};
use ringflow::config::Accounting;
use ringflow::export::api::{self, Query};
use ringflow::flow::FlowKey;
use ringflow::parse::PortKind;
use std::sync::Arc;
use std::time::Duration;

/// Conversations: both directions of each, so twice as many entries.
const CONVS: u32 = 500_000;
const T0: u64 = 1_700_000_000_000_000_000;

/// 500k conversations from as many clients of 10.0.0.0/8 to 4096
/// servers, on 16 service ports.
fn fill(feed: &mut Feed, from: u32, to: u32, ts: u64) {
    for i in from..to {
        let mut c = [0u8; 16];
        c[..4].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        let mut s = [0u8; 16];
        let j = i % 4096;
        s[..4].copy_from_slice(&[198, 51, (j >> 8) as u8, j as u8]);
        let k = FlowKey::new(
            4,
            c,
            s,
            6,
            PortKind::Ports,
            1024 + (i % 60000) as u16,
            [
                443, 80, 22, 53, 25, 993, 8080, 3306, 5432, 6379, 123, 161, 389, 636, 853, 5201,
            ][(i % 16) as usize],
            0,
        );
        feed.account(&k, u64::from(64 + i % 1400), ts, i, 0x02);
        feed.account(&k.reversed(), u64::from(64 + i % 900), ts + 1000, i, 0x12);
    }
}

/// A published snapshot of 1M entries, and one a minute earlier.
fn published(max_flow_series: usize) -> Arc<Published> {
    let acc = Accounting {
        max_entries: 2 * CONVS as usize + 100_000,
        max_flow_series,
        max_hosts: max_flow_series,
        ..Accounting::default()
    };
    let mut accounts = Accounts::new(1, Duration::from_secs(1), acc);
    let p = Arc::new(Published::new(Snapshot::empty(1)));
    let chunk = 100_000;
    let mut feed = Feed::new(&mut accounts, 0, 2 * CONVS as usize + 100_000);
    for round in 0..2u64 {
        let ts = T0 + round * 60_000_000_000;
        let mut from = 0;
        while from < CONVS {
            fill(&mut feed, from, (from + chunk).min(CONVS), ts);
            feed.hand_over(&mut accounts);
            from += chunk;
        }
        accounts.tick();
        let mut s = accounts.snapshot(0, false);
        s.at_ns = ts;
        p.set_sampled(Arc::new(s));
    }
    let s = p.get();
    eprintln!(
        "{} collector entries, {} flow series exported",
        s.entries,
        s.flows.len()
    );
    p
}

fn bench_api(c: &mut Criterion) {
    let mut g = c.benchmark_group("api");
    g.sample_size(10);
    for (label, series) in [("default_series", 10_000), ("all_series", 1_000_000)] {
        let p = published(series);
        let queries = [
            ("top_pairs", "what=pairs&n=20"),
            ("top_hosts", "what=hosts&n=20"),
            ("top_services", "what=services&n=20"),
            ("graph_150", "n=150"),
            ("graph_1000", "n=1000"),
        ];
        for (name, q) in queries {
            let q = Query::parse(q).unwrap();
            let run = |p: &Published| {
                if name.starts_with("graph") {
                    api::graph(p, &q).unwrap()
                } else {
                    api::top(p, &q).unwrap()
                }
            };
            let size = serde_json::to_vec(&run(&p)).unwrap().len();
            eprintln!("{label}/{name}: {size} bytes of JSON");
            g.bench_function(format!("{label}/{name}"), |b| b.iter(|| run(&p)));
        }
    }
    g.finish();
    let (plain, gz): (usize, usize) = ringflow::export::dashboard::paths()
        .filter_map(ringflow::export::dashboard::asset)
        .fold((0, 0), |(p, z), a| (p + a.plain.len(), z + a.gzip.len()));
    eprintln!("dashboard, all assets: {plain} bytes, {gz} bytes gzipped");
    use std::mem::size_of;
    eprintln!(
        "history: a snapshot holds {} bytes per flow series and {} per host; a throughput point is {} bytes; the API keeps {} bytes per flow series between requests",
        size_of::<ringflow::collector::FlowRow>(),
        size_of::<ringflow::collector::HostRow>(),
        size_of::<ringflow::collector::history::Point>(),
        api::kept_bytes_per_series()
    );
}

criterion_group! {
    name = benches;
    // no plots: criterion would draw them with plotters, which finds no font
    // on a machine without gnuplot; the figures are in the terminal
    config = Criterion::default().without_plots();
    targets = bench_api
}
criterion_main!(benches);
