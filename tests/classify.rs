//! Direction classes, per-IP counters, service names, folding and the
//! compat profiles, on crafted capture files replayed by the binary. The
//! expected values come from the frames the test writes.

mod common;

use common::synth;
use common::*;
use std::collections::BTreeMap;

const SYN: u8 = synth::tcp_flags::SYN;

/// What the test expects, frame by frame.
#[derive(Default)]
struct Expect {
    recs: Vec<Rec>,
    /// (class, ip_version) -> (packets, bytes)
    classes: BTreeMap<(String, String), (u64, u64)>,
    /// ip -> (tx packets, tx bytes, rx packets, rx bytes)
    hosts: BTreeMap<String, [u64; 4]>,
    /// (src, dst, proto, port, direction, service, class) -> (packets, bytes)
    flows: BTreeMap<Vec<String>, (u64, u64)>,
}

struct Flow<'a> {
    src: &'a str,
    dst: &'a str,
    /// labels: proto, port, direction, service, class
    labels: [&'a str; 5],
}

impl Expect {
    fn frame(&mut self, f: &Flow, frame: Vec<u8>, monitored: &[&str]) {
        let len = frame.len() as u64;
        let ts = 1_700_000_000_000_000_000 + self.recs.len() as u64 * 1_000_000;
        self.recs.push(Rec {
            ts_ns: ts,
            frame,
            caplen: None,
        });
        let version = if f.src.contains(':') { "6" } else { "4" };
        let c = self
            .classes
            .entry((f.labels[4].to_string(), version.to_string()))
            .or_default();
        c.0 += 1;
        c.1 += len;
        if monitored.contains(&f.src) {
            let h = self.hosts.entry(f.src.to_string()).or_default();
            h[0] += 1;
            h[1] += len;
        }
        if monitored.contains(&f.dst) {
            let h = self.hosts.entry(f.dst.to_string()).or_default();
            h[2] += 1;
            h[3] += len;
        }
        let mut key = vec![f.src.to_string(), f.dst.to_string()];
        key.extend(f.labels.iter().map(|s| s.to_string()));
        let e = self.flows.entry(key).or_default();
        e.0 += 1;
        e.1 += len;
    }
}

fn v4(s: &str) -> [u8; 4] {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets()
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

fn frame(src: &str, dst: &str, l4: (u8, Vec<u8>)) -> Vec<u8> {
    if src.contains(':') {
        synth::ethernet(
            &[],
            0x86dd,
            &synth::ipv6(v6(src), v6(dst), l4.0, &[], &l4.1),
        )
    } else {
        synth::ethernet(
            &[],
            0x0800,
            &synth::ipv4(v4(src), v4(dst), l4.0, (false, 0), &l4.1),
        )
    }
}

fn tcp(sp: u16, dp: u16, flags: u8, len: usize) -> (u8, Vec<u8>) {
    (6, synth::tcp(sp, dp, flags, len))
}

fn udp(sp: u16, dp: u16, len: usize) -> (u8, Vec<u8>) {
    (17, synth::udp(sp, dp, len))
}

/// Every class in both versions, two local networks talking to each
/// other, and hosts monitored by default (the local networks).
fn crafted() -> Expect {
    let mut x = Expect::default();
    let local = [
        "10.0.0.1",
        "192.168.1.1",
        "172.16.0.9",
        "fd00::1",
        "fe80::2",
    ];
    let out = Flow {
        src: "10.0.0.1",
        dst: "93.184.216.34",
        labels: ["tcp", "443", "request", "https", "outgoing"],
    };
    let back = Flow {
        src: "93.184.216.34",
        dst: "10.0.0.1",
        labels: ["tcp", "443", "reply", "https", "incoming"],
    };
    x.frame(
        &out,
        frame(out.src, out.dst, tcp(40000, 443, SYN, 0)),
        &local,
    );
    for n in 0..3 {
        x.frame(
            &out,
            frame(out.src, out.dst, tcp(40000, 443, 0x10, 100 * n)),
            &local,
        );
        x.frame(
            &back,
            frame(back.src, back.dst, tcp(443, 40000, 0x10, 900)),
            &local,
        );
    }
    // between two different local networks: internal, not internet
    let lan = Flow {
        src: "10.0.0.1",
        dst: "192.168.1.1",
        labels: ["udp", "123", "request", "ntp", "internal"],
    };
    let lan_back = Flow {
        src: "192.168.1.1",
        dst: "10.0.0.1",
        labels: ["udp", "123", "reply", "ntp", "internal"],
    };
    for _ in 0..4 {
        x.frame(&lan, frame(lan.src, lan.dst, udp(50000, 123, 48)), &local);
    }
    x.frame(
        &lan_back,
        frame(lan_back.src, lan_back.dst, udp(123, 50000, 48)),
        &local,
    );
    let lan2 = Flow {
        src: "172.16.0.9",
        dst: "192.168.1.1",
        labels: ["tcp", "22", "request", "ssh", "internal"],
    };
    x.frame(
        &lan2,
        frame(lan2.src, lan2.dst, tcp(50001, 22, SYN, 0)),
        &local,
    );
    // neither side local
    let transit = Flow {
        src: "8.8.8.8",
        dst: "1.1.1.1",
        labels: ["udp", "53", "request", "dns", "transit"],
    };
    for _ in 0..5 {
        x.frame(
            &transit,
            frame(transit.src, transit.dst, udp(5353, 53, 30)),
            &local,
        );
    }
    // an unknown service port has an empty name
    let odd = Flow {
        src: "10.0.0.1",
        dst: "203.0.113.5",
        labels: ["udp", "5201", "request", "", "outgoing"],
    };
    x.frame(&odd, frame(odd.src, odd.dst, udp(40001, 5201, 10)), &local);
    // IPv6: QUIC out and back, and internal between two local prefixes
    let q = Flow {
        src: "fd00::1",
        dst: "2001:db8::1",
        labels: ["udp", "443", "request", "quic", "outgoing"],
    };
    let q_back = Flow {
        src: "2001:db8::1",
        dst: "fd00::1",
        labels: ["udp", "443", "reply", "quic", "incoming"],
    };
    for _ in 0..6 {
        x.frame(&q, frame(q.src, q.dst, udp(40002, 443, 1200)), &local);
    }
    for _ in 0..3 {
        x.frame(
            &q_back,
            frame(q_back.src, q_back.dst, udp(443, 40002, 1200)),
            &local,
        );
    }
    let ll = Flow {
        src: "fd00::1",
        dst: "fe80::2",
        labels: ["udp", "53", "request", "dns", "internal"],
    };
    x.frame(&ll, frame(ll.src, ll.dst, udp(40003, 53, 40)), &local);
    x
}

fn write(dir: &TempDir, x: &Expect) -> std::path::PathBuf {
    let p = dir.path("crafted.pcap");
    write_pcap(&p, 1, false, &x.recs);
    p
}

#[test]
fn classes_hosts_and_services_are_exact() {
    let dir = TempDir::new("classify");
    let x = crafted();
    let path = write(&dir, &x);
    let m = parse_exposition(&replay(&[&path], &[]));

    let packets = family(&m, "ringflow_traffic_packets_total");
    let bytes = family(&m, "ringflow_traffic_bytes_total");
    for class in ["outgoing", "incoming", "internal", "transit"] {
        for version in ["4", "6"] {
            let k = vec![class.to_string(), version.to_string()];
            let (p, b) = x
                .classes
                .get(&(class.to_string(), version.to_string()))
                .copied()
                .unwrap_or_default();
            assert_eq!((packets[&k], bytes[&k]), (p, b), "{class} IPv{version}");
        }
    }
    // internet traffic is exactly incoming plus outgoing: the traffic
    // between two local networks is in neither
    let internet: u64 = bytes
        .iter()
        .filter(|(k, _)| k[0] == "incoming" || k[0] == "outgoing")
        .map(|(_, v)| v)
        .sum();
    let lan: u64 = x
        .flows
        .iter()
        .filter(|(k, _)| k[6] == "internal")
        .map(|(_, v)| v.1)
        .sum();
    let all: u64 = x.flows.values().map(|v| v.1).sum();
    let transit = x.classes[&("transit".to_string(), "4".to_string())].1;
    assert_eq!(internet, all - lan - transit);

    let flows = family(&m, "ringflow_flow_packets_total");
    let flow_bytes = family(&m, "ringflow_flow_bytes_total");
    let want_packets: BTreeMap<_, _> = x.flows.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    let want_bytes: BTreeMap<_, _> = x.flows.iter().map(|(k, v)| (k.clone(), v.1)).collect();
    assert_eq!(flows, want_packets);
    assert_eq!(flow_bytes, want_bytes);

    for (ip, [txp, txb, rxp, rxb]) in &x.hosts {
        let k = vec![ip.clone()];
        let got = |name: &str| family(&m, name).get(&k).copied().unwrap_or(0);
        assert_eq!(got("ringflow_host_transmit_packets_total"), *txp, "{ip}");
        assert_eq!(got("ringflow_host_transmit_bytes_total"), *txb, "{ip}");
        assert_eq!(got("ringflow_host_receive_packets_total"), *rxp, "{ip}");
        assert_eq!(got("ringflow_host_receive_bytes_total"), *rxb, "{ip}");
    }
    let hosts: Vec<String> = family(&m, "ringflow_host_transmit_bytes_total")
        .into_keys()
        .map(|k| k[0].clone())
        .collect();
    let want: Vec<String> = x.hosts.keys().cloned().collect();
    assert_eq!(hosts, want, "public addresses are not monitored");
    let series = family(&m, "ringflow_flow_series");
    assert_eq!(series[&vec!["exported".to_string()]], x.flows.len() as u64);
    assert_eq!(series[&vec!["folded".to_string()]], 0);
    assert_eq!(
        family(&m, "ringflow_collector_entries")[&vec![]],
        x.flows.len() as u64
    );
    // no compat family unless asked for
    assert!(m.keys().all(|s| !s.name.starts_with("promflow_")));
    assert!(m.keys().all(|s| !s.name.starts_with("trafficmonitor_")));
}

#[test]
fn monitor_and_exclude_subnets() {
    let dir = TempDir::new("monitor");
    let x = crafted();
    let path = write(&dir, &x);
    let m = parse_exposition(&replay(
        &[&path],
        &[
            "--monitor-subnets",
            "10.0.0.0/24,192.168.0.0/16,2001:db8::/32",
            "--exclude-subnets",
            "192.168.1.1/32",
        ],
    ));
    let hosts: Vec<String> = family(&m, "ringflow_host_receive_bytes_total")
        .into_keys()
        .map(|k| k[0].clone())
        .collect();
    assert_eq!(hosts, vec!["10.0.0.1", "2001:db8::1"]);
    let rx = family(&m, "ringflow_host_receive_bytes_total");
    let want: u64 = x
        .flows
        .iter()
        .filter(|(k, _)| k[1] == "2001:db8::1")
        .map(|(_, v)| v.1)
        .sum();
    assert_eq!(rx[&vec!["2001:db8::1".to_string()]], want);
}

#[test]
fn folding_keeps_the_sums_exact() {
    let dir = TempDir::new("fold");
    let x = crafted();
    let path = write(&dir, &x);
    let m = parse_exposition(&replay(
        &[&path],
        &["--max-flow-series", "3", "--max-hosts", "2"],
    ));
    let flows = family(&m, "ringflow_flow_bytes_total");
    let exported = flows.keys().filter(|k| k[0] != "other").count();
    assert_eq!(exported, 3);
    // the three largest by bytes are kept
    let mut by_bytes: Vec<(&Vec<String>, u64)> = x.flows.iter().map(|(k, v)| (k, v.1)).collect();
    by_bytes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    for (k, b) in &by_bytes[..3] {
        assert_eq!(flows.get(*k), Some(b), "{k:?}");
    }
    // per class, exported plus other equals the class total
    let classes = family_by(&m, "ringflow_traffic_bytes_total", &["class"]);
    let series = family_by(&m, "ringflow_flow_bytes_total", &["class"]);
    assert_eq!(series, classes);
    let other: Vec<&Vec<String>> = flows.keys().filter(|k| k[0] == "other").collect();
    assert!(other.iter().all(|k| k[1] == "other"));
    assert!(!other.is_empty());
    let series = family(&m, "ringflow_flow_series");
    assert_eq!(series[&vec!["exported".to_string()]], 3);
    assert_eq!(
        series[&vec!["folded".to_string()]],
        x.flows.len() as u64 - 3
    );
    // per-IP: two hosts and "other", adding up to every monitored byte
    let tx = family(&m, "ringflow_host_transmit_bytes_total");
    assert_eq!(tx.len(), 3);
    assert!(tx.contains_key(&vec!["other".to_string()]));
    let sent: u64 = x.hosts.values().map(|h| h[1]).sum();
    assert_eq!(tx.values().sum::<u64>(), sent);
}

#[test]
fn compat_families_carry_the_native_counts() {
    let dir = TempDir::new("compat");
    let x = crafted();
    let path = write(&dir, &x);
    let m = parse_exposition(&replay(&[&path], &["--compat", "promflow,trafficmonitor"]));
    assert_eq!(
        family(&m, "promflow_transmit_bytes_total"),
        family(&m, "ringflow_host_transmit_bytes_total")
    );
    assert_eq!(
        family(&m, "promflow_receive_bytes_total"),
        family(&m, "ringflow_host_receive_bytes_total")
    );
    assert!(!family(&m, "promflow_receive_bytes_total").is_empty());

    let per_class = family_by(&m, "ringflow_traffic_bytes_total", &["class"]);
    let class = |c: &str| per_class[&vec![c.to_string()]];
    assert_eq!(
        family(&m, "trafficmonitor_total_incoming_bytes")[&vec![]],
        class("incoming")
    );
    assert_eq!(
        family(&m, "trafficmonitor_total_outgoing_bytes")[&vec![]],
        class("outgoing")
    );

    // one trafficmonitor series per flow series, with the same bytes
    let tm: Vec<(&Sample, f64)> = m
        .iter()
        .filter(|(s, _)| s.name == "trafficmonitor_hosts_src_dst")
        .map(|(s, v)| (s, *v))
        .collect();
    assert_eq!(tm.len(), x.flows.len());
    let native = family(&m, "ringflow_flow_bytes_total");
    for (s, v) in &tm {
        let names: Vec<&str> = s.labels.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "a_srcAddr",
                "b_dstAddr",
                "c_dstPort",
                "d_firstSeen",
                "e_srcMac",
                "f_dstMac"
            ]
        );
        let port = s.label("c_dstPort");
        let (reply, rest) = match port.strip_prefix("reply_") {
            Some(r) => (true, r),
            None => (false, port),
        };
        let (proto, port_num) = rest.split_once('/').unwrap();
        let port_num = port_num.split('(').next().unwrap();
        let (src, dst) = (s.label("a_srcAddr"), s.label("b_dstAddr"));
        let (_, bytes) = native
            .iter()
            .find(|(k, _)| {
                k[0] == src
                    && k[1] == dst
                    && k[2] == proto
                    && k[3] == port_num
                    && (k[4] == "reply") == reply
            })
            .unwrap_or_else(|| panic!("no native series for {s:?}"));
        assert_eq!(*v as u64, *bytes, "{s:?}");
        assert_eq!(s.label("e_srcMac"), "02:00:00:21:30:01");
        assert_eq!(s.label("f_dstMac"), "02:00:00:21:30:02");
        // the capture's first packet: 2023-11-14 22:13:20 UTC
        assert_eq!(s.label("d_firstSeen"), "2023 11 14 22:13:20");
    }
    let https = tm
        .iter()
        .find(|(s, _)| {
            s.label("a_srcAddr") == "10.0.0.1" && s.label("b_dstAddr") == "93.184.216.34"
        })
        .unwrap();
    assert_eq!(https.0.label("c_dstPort"), "tcp/443(https)");
    let reply = tm
        .iter()
        .find(|(s, _)| s.label("a_srcAddr") == "2001:db8::1")
        .unwrap();
    assert_eq!(reply.0.label("c_dstPort"), "reply_udp/443(quic)");
    let odd = tm
        .iter()
        .find(|(s, _)| s.label("b_dstAddr") == "203.0.113.5")
        .unwrap();
    assert_eq!(odd.0.label("c_dstPort"), "udp/5201");
}

#[test]
fn bad_accounting_flags_are_one_line_errors() {
    for (args, what) in [
        (&["--local-networks", "10.0.0.1/8"][..], "host bits"),
        (&["--monitor-subnets", "10.0.0.0/40"][..], "prefix length"),
        (&["--max-entries", "0"][..], "--max-entries 0"),
        (
            &["--max-entries", "16777215"][..],
            "--max-entries 16777215 must be between 1 and 16777214",
        ),
        (&["--flow-window", "never"][..], "--flow-window"),
    ] {
        let out = run(&[&["replay", "/nonexistent.pcap", "--print"][..], args].concat());
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(what), "{err}");
    }
}
