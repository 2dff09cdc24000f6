//! The cost of `--filter` on the AF_XDP path, where the libpcap-compiled
//! classic BPF runs in user space on every frame: a short and a longer
//! expression over the IPv4/IPv6/VLAN IMIX mix, against parsing the same
//! frames.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringflow::capture::cbpf::Filter;
use ringflow::capture::sys::filter::compile;
use std::hint::black_box;

fn bench_filter(c: &mut Criterion) {
    let mut frames = Vec::new();
    ringflow::synth::Mix {
        flows: 1024,
        packets: 1 << 12,
        ipv6_percent: 40,
        vlan_percent: 30,
        udp_percent: 25,
        frame_size: 0,
        seed: 5,
    }
    .for_each_frame(|_, _, f| frames.push(f.to_vec()));
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

criterion_group!(benches, bench_filter);
criterion_main!(benches);
