//! The collector's merge of one worker shard: 64k conversations, both
//! directions (128k flow entries), once all are known and when all are
//! new, per entry.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringflow::collector::Accounts;
use ringflow::collector::accounts::Feed;
use ringflow::config::Accounting;
use ringflow::flow::FlowKey;
use ringflow::parse::PortKind;
use std::time::Duration;

fn fill(feed: &mut Feed, convs: u32) {
    fill_from(feed, convs, 0);
}

/// `convs` conversations, each round's clients the next `convs` addresses
/// of 10.0.0.0/8.
fn fill_from(feed: &mut Feed, convs: u32, round: u32) {
    for i in 0..convs {
        let mut c = [0u8; 16];
        let i = i.wrapping_add(round.wrapping_mul(convs)) & 0x00ff_ffff;
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
        feed.account(&k, 64, 1_000, i, 0x02);
        feed.account(&k.reversed(), 64, 2_000, i, 0x12);
    }
}

fn bench_merge(c: &mut Criterion) {
    let convs = 65_536;
    let mut state = Accounts::new(1, Duration::from_secs(1), Accounting::default());
    let mut feed = Feed::new(&mut state, 0, 400_000);
    fill(&mut feed, convs);
    feed.hand_over(&mut state); // every flow is known from now on
    let mut g = c.benchmark_group("collector");
    g.sample_size(20);
    g.throughput(Throughput::Elements(2 * u64::from(convs)));
    // every flow of the table counted again: an indexed add each
    g.bench_function("merge_128k_flows_known", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                fill(&mut feed, convs);
                let t = std::time::Instant::now();
                feed.hand_over(&mut state);
                took += t.elapsed();
            }
            took
        })
    });
    // A long-running collector meeting 64k new conversations: everything
    // of the last round is expired first (outside the timing), so each
    // round makes 128k entries in tables that are already reserved.
    // The same with scan detection off: the difference is detection's
    // share (each new conversation opened counts towards its source's
    // distinct IPs and the pair's distinct ports).
    for (name, scans) in [
        ("merge_128k_flows_new", true),
        ("merge_128k_flows_new_without_detection", false),
    ] {
        let mut idle = Accounting {
            flow_idle: Duration::from_secs(1),
            ..Accounting::default()
        };
        if !scans {
            idle.detection.scan.hosts = 0;
            idle.detection.scan.ports = 0;
        }
        let mut fresh = Accounts::new(1, Duration::from_secs(1), idle);
        let mut fresh_feed = Feed::new(&mut fresh, 0, 400_000);
        let mut round = 0;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut took = Duration::ZERO;
                for _ in 0..iters {
                    fresh.tick();
                    fresh.tick();
                    round += 1;
                    fill_from(&mut fresh_feed, convs, round);
                    let t = std::time::Instant::now();
                    fresh_feed.hand_over(&mut fresh);
                    took += t.elapsed();
                }
                took
            })
        });
    }
    g.throughput(Throughput::Elements(1));
    g.bench_function("snapshot_128k_series", |b| {
        b.iter(|| state.snapshot(0, false).flows.len())
    });
    // A tick that sweeps (one in every eighth of --flow-idle does; with an
    // idle limit of 8 refreshes, every tick), over 64k live conversations
    // and 128k entries that all stay: the shard is merged again before
    // each sweep, outside the timing.
    let swept = Accounting {
        flow_idle: Duration::from_secs(8),
        ..Accounting::default()
    };
    let mut sweeping = Accounts::new(1, Duration::from_secs(1), swept);
    let mut sweeping_feed = Feed::new(&mut sweeping, 0, 400_000);
    g.bench_function("sweep_64k_conversations", |b| {
        b.iter_custom(|iters| {
            let mut took = Duration::ZERO;
            for _ in 0..iters {
                fill(&mut sweeping_feed, convs);
                sweeping_feed.hand_over(&mut sweeping);
                let t = std::time::Instant::now();
                sweeping.tick();
                took += t.elapsed();
            }
            took
        })
    });
    g.finish();
}

/// A million collector entries (distinct host pairs, half of them with
/// monitored hosts), then what one publication costs: ranking them all by
/// window bytes, folding all but the top 10000, and building the rows;
/// and classifying all of them again, as a SIGHUP reload does.
fn bench_classify_fold(c: &mut Criterion) {
    let entries: u32 = 1_000_000;
    let acc = Accounting {
        max_entries: 1_200_000,
        ..Accounting::default()
    };
    let mut state = Accounts::new(1, Duration::from_secs(1), acc.clone());
    let per_shard = 200_000;
    let mut feed = Feed::new(&mut state, 0, 1_100_000);
    for chunk in 0..entries / per_shard {
        for j in 0..per_shard {
            let i = chunk * per_shard + j;
            let mut a = [0u8; 16];
            // even: a local client (monitored); odd: a public one
            let first = if i % 2 == 0 { 10 } else { 11 };
            a[..4].copy_from_slice(&[first, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&[198, 51, (i >> 8) as u8, (i % 251) as u8]);
            let k = FlowKey::new(4, a, b, 17, PortKind::Ports, 40000, 443, 0);
            feed.account(&k, 64 + u64::from(i % 1400), 1_000, i, 0);
        }
        feed.hand_over(&mut state);
    }
    let s = state.snapshot(0, false);
    assert_eq!((s.entries, s.flows.len()), (1_000_000, 10_000));
    let mut g = c.benchmark_group("collector_1m_entries");
    g.sample_size(10);
    // a full ranking, as when the window slides (once a bucket: a minute
    // at the defaults)
    g.bench_function("rank_fold_publish", |b| {
        b.iter(|| {
            state.rank_all_next();
            state.snapshot(0, false).flows.len()
        })
    });
    g.bench_function("reclassify_all", |b| {
        b.iter(|| state.reconfigure(acc.clone()))
    });
    g.finish();
}

/// A refresh of a collector that knows a million flows (a million
/// distinct host pairs, so a million entries) when ten thousand of them
/// are active: merging them (each an indexed add through its handle),
/// the tick, and the publication (ranking only what was counted, except
/// when the window's bucket changes: one refresh in 60 at the defaults,
/// included in the mean). Target: under 5 ms.
fn bench_refresh(c: &mut Criterion) {
    let flows: u32 = 1_000_000;
    let acc = Accounting {
        max_entries: 1_100_000,
        flow_table_idle: Duration::from_secs(600),
        ..Accounting::default()
    };
    let mut state = Accounts::new(1, Duration::from_secs(1), acc);
    // under 3/4 full: no pressure
    let mut feed = Feed::new(&mut state, 0, 1_400_000);
    let key = |i: u32| {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[198, 51, (i >> 8) as u8, (i % 251) as u8]);
        FlowKey::new(4, a, b, 17, PortKind::Ports, 40000, 443, 0)
    };
    for i in 0..flows {
        feed.account(&key(i), 64 + u64::from(i % 1400), 1_000, i, 0);
    }
    feed.hand_over(&mut state);
    state.tick();
    let s = state.snapshot(0, false);
    assert_eq!((s.entries, s.table_flows[0]), (1_000_000, 1_000_000));
    let mut g = c.benchmark_group("collector_refresh");
    g.sample_size(30);
    // `iters` refreshes, each with `active` flows counted, flow `pick(round,
    // j)` the j-th of a round: the time of the merges, ticks and
    // publications
    let mut round = 0u32;
    let mut refresh = |iters: u64, active: u32, pick: &dyn Fn(u32, u32) -> u32| {
        let mut took = Duration::ZERO;
        for _ in 0..iters {
            round = round.wrapping_add(1);
            for j in 0..active {
                let i = pick(round, j) % flows;
                feed.account(&key(i), 100, 2_000, i, 0);
            }
            let t = std::time::Instant::now();
            feed.hand_over(&mut state);
            state.tick();
            let s = state.snapshot(0, false);
            took += t.elapsed();
            assert_eq!(s.entries, 1_000_000);
        }
        took
    };
    // a different 10k each time, spread over the million
    let active = 10_000u32;
    g.bench_function("1m_known_10k_active", |b| {
        b.iter_custom(|iters| refresh(iters, active, &|round, j| j * (flows / active) + round))
    });
    // a busy link over the same million: a quarter of the flows counted
    // each refresh, in no order (as packets of a million flows arrive),
    // so each merge reads its slot, handle, entry and hosts from memory;
    // per flow merged
    let active = 250_000u32;
    g.throughput(Throughput::Elements(u64::from(active)));
    g.bench_function("1m_known_250k_active_scattered", |b| {
        b.iter_custom(|iters| {
            refresh(iters, active, &|round, j| {
                j.wrapping_mul(2_654_435_761) ^ round.wrapping_mul(7919)
            })
        })
    });
    g.finish();
}

/// Detection at a refresh with 1M tracked hosts: every host's interval
/// counts evaluated against the volume limits (one host in a thousand
/// over them: its alert starts in the first round and carries on).
fn bench_detect(c: &mut Criterion) {
    use ringflow::config::{AlertLimits, Detection};
    use ringflow::detect::{Counts, Detector, HostInterval};
    let hosts: Vec<HostInterval> = (0..1_000_000u32)
        .map(|i| {
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[10, (i >> 16) as u8, (i >> 8) as u8, i as u8]);
            let bytes = if i % 1000 == 0 { 2_000_000 } else { 5_000 };
            let c = Counts {
                packets: bytes / 1000,
                bytes,
                flows: 3,
            };
            (4, a, [c, c])
        })
        .collect();
    let mut d = Detector::new(Detection {
        limits: AlertLimits {
            bytes: Some(1_000_000),
            packets: Some(10_000),
            new_flows: Some(100),
            ..AlertLimits::default()
        },
        max_alerts: 10_000,
        ..Detection::default()
    });
    let mut no_peers = |_: u8, _: [u8; 16], _| Vec::new();
    let mut t = 1_000_000_000u64;
    let mut g = c.benchmark_group("detect");
    g.sample_size(10);
    g.bench_function("refresh_1m_hosts", |b| {
        b.iter(|| {
            // within the interval: a running check, as a live refresh does
            t += 1;
            d.check(t, 0, &hosts, &mut no_peers);
            d.take_events().len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // no plots: criterion would draw them with plotters, which finds no font
    // on a machine without gnuplot; the figures are in the terminal
    config = Criterion::default().without_plots();
    targets = bench_merge, bench_classify_fold, bench_detect, bench_refresh
}
criterion_main!(benches);
