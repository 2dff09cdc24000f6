//! The collector's merge of one worker shard: 64k conversations, both
//! directions (128k flow entries), once all are known, per entry.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ringflow::collector::{Accounting, State};
use ringflow::flow::FlowKey;
use ringflow::parse::PortKind;
use ringflow::worker::Shard;
use std::time::Duration;

fn fill(shard: &mut Shard, convs: u32) {
    for i in 0..convs {
        let mut c = [0u8; 16];
        c[..4].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        let mut s = [0u8; 16];
        s[..4].copy_from_slice(&[198, 51, 100, (i % 7) as u8]);
        let k = FlowKey::new(
            4,
            c,
            s,
            6,
            PortKind::Ports,
            1024 + (i % 60000) as u16,
            443,
            0,
        );
        shard.table.account(&k, 64, 1_000, i, 0x02);
        shard.table.account(&k.reversed(), 64, 2_000, i, 0x12);
    }
}

fn bench_merge(c: &mut Criterion) {
    let convs = 65_536;
    let mut state = State::new(1, Duration::from_secs(1), Accounting::default());
    let mut shard = Shard::new(200_000);
    fill(&mut shard, convs);
    state.merge(0, &mut shard); // every conversation is known from now on
    let mut g = c.benchmark_group("collector");
    g.sample_size(20);
    g.throughput(Throughput::Elements(2 * u64::from(convs)));
    g.bench_function("merge_128k_entries_known", |b| {
        b.iter_batched_ref(
            || {
                let mut s = Shard::new(200_000);
                fill(&mut s, convs);
                s
            },
            |s| state.merge(0, s),
            BatchSize::PerIteration,
        )
    });
    g.bench_function("merge_128k_entries_new", |b| {
        b.iter_batched_ref(
            || {
                let mut s = Shard::new(200_000);
                fill(&mut s, convs);
                (
                    State::new(1, Duration::from_secs(1), Accounting::default()),
                    s,
                )
            },
            |(st, s)| st.merge(0, s),
            BatchSize::PerIteration,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("snapshot_128k_series", |b| {
        b.iter(|| state.snapshot(0, false).flows.len())
    });
    g.bench_function("tick_expiry_scan_64k_conversations", |b| {
        b.iter(|| state.tick())
    });
    g.finish();
}

criterion_group!(benches, bench_merge);
criterion_main!(benches);
