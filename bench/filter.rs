//! The cost of `--filter` on the AF_XDP path, where the libpcap-compiled
//! classic BPF runs in user space on every frame: a short and a longer
//! expression over the IPv4/IPv6/VLAN IMIX mix, against parsing the same
//! frames.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringflow::capture::cbpf::Filter;
use ringflow::sys::filter::compile;
use std::hint::black_box;

#[path = "common.rs"]
mod common;

fn bench_filter(c: &mut Criterion) {
    let frames = common::imix_frames();
    let mut g = c.benchmark_group("filter");
    g.throughput(Throughput::Elements(frames.len() as u64));
    for (name, expr) in [
        ("udp", "udp"),
        (
            "net_and_ports",
            "(net 10.213.0.0/16 or ip6) and (tcp port 443 or tcp port 80 or udp port 53) and not host 198.51.100.7",
        ),
    ] {
        let f = Filter::new(&compile(expr, 1, 256).expect("compiles")).expect("valid");
        g.bench_function(name, |b| {
            b.iter(|| {
                frames
                    .iter()
                    .filter(|fr| f.accepts(black_box(fr), fr.len() as u32))
                    .count()
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
    targets = bench_filter
}
criterion_main!(benches);
