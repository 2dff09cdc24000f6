//! Parse only: 64-byte IPv4/TCP frames, a mix with IPv6, VLAN and IMIX
//! sizes, and that mix inside mirror sessions' tunnels.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringflow::parse::{Decap, LinkType, Outcome, parse};
use std::hint::black_box;

#[path = "common.rs"]
mod common;

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    let ring = common::ring_64(1024, 1 << 16);
    g.throughput(Throughput::Elements(ring.packets as u64));
    g.bench_function("ipv4_tcp_64B", |b| {
        b.iter(|| {
            let mut ports = 0u64;
            for f in ring.frames(0..ring.packets) {
                if let Outcome::Ip(p) = parse(LinkType::Ethernet, black_box(f.data), &Decap::ALL) {
                    ports += u64::from(p.dst_port);
                }
            }
            ports
        })
    });

    let mixed = common::imix_frames();
    g.throughput(Throughput::Elements(mixed.len() as u64));
    g.bench_function("mix_v4_v6_vlan_imix", |b| {
        b.iter(|| {
            let mut ports = 0u64;
            for f in &mixed {
                if let Outcome::Ip(p) = parse(LinkType::Ethernet, black_box(f), &Decap::ALL) {
                    ports += u64::from(p.dst_port);
                }
            }
            ports
        })
    });

    // the same mix inside tunnels, opened (the default) and not
    let tunnelled = common::tunnelled_frames();
    g.throughput(Throughput::Elements(tunnelled.len() as u64));
    for (name, decap) in [
        ("tunnelled_mix_decap", Decap::ALL),
        ("tunnelled_mix_outer_only", Decap::NONE),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut ports = 0u64;
                for f in &tunnelled {
                    if let Outcome::Ip(p) = parse(LinkType::Ethernet, black_box(f), &decap) {
                        ports += u64::from(p.dst_port);
                    }
                }
                ports
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // no plots: criterion would draw them with plotters, which finds no font
    // on a machine without gnuplot; the figures are in the terminal
    config = Criterion::default().without_plots();
    targets = bench_parse
}
criterion_main!(benches);
