//! GRO on the capture interface, as on nearly every untuned Linux box: the
//! kernel merges a TCP stream's segments before a packet socket sees them,
//! and ringflow counts them back as the frames the wire carried. Bulk TCP
//! transfers (IPv4 and IPv6) go into a veth with GRO on from
//! a sender that segments in software; ringflow's counts must equal the
//! receiving interface's own counters and a capture taken on the sender's
//! side, frame for frame and byte for byte. (A VLAN case needs a kernel
//! with 802.1Q: a vlan device to send from and VLAN GRO to merge; the
//! worker's unit tests cover a tag in the frame and one the capture took
//! off.)
//! Needs root: `#[ignore]`d, run with `cargo test -- --include-ignored`.

mod common;

use common::netns::{Capture, VethPair, serial};
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `f` on a thread of its own inside network namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).unwrap();
        nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        f()
    })
}

/// Sends `bytes` from the sending namespace to `to` in the capturing one,
/// which reads until the sender closes; returns what arrived.
fn transfer(v: &VethPair, to: SocketAddr, bytes: usize) -> usize {
    let listener = in_netns(&v.rx, move || TcpListener::bind(to).unwrap())
        .join()
        .unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut got = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match c.read(&mut buf).unwrap() {
                0 => return got,
                n => got += n,
            }
        }
    });
    in_netns(&v.tx, move || {
        let mut c = TcpStream::connect_timeout(&to, Duration::from_secs(5)).unwrap();
        let chunk = vec![0x5au8; 1 << 16];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            c.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
    })
    .join()
    .unwrap();
    server.join().unwrap()
}

fn run(ns_cmd: &mut Command) {
    let out = ns_cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{ns_cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// (packets, bytes) of the frames in `pcap` that `filter` (a tshark
/// display filter) keeps.
fn tshark_sum(pcap: &std::path::Path, filter: &str) -> (u64, u64) {
    let tshark = tool("tshark", "tshark");
    let out = stdout_of(
        Command::new(tshark)
            .args(["-n", "-r", pcap.to_str().unwrap(), "-Y", filter])
            .args(["-T", "fields", "-e", "frame.len"]),
    );
    out.lines()
        .filter(|l| !l.is_empty())
        .fold((0, 0), |(p, b), l| {
            (p + 1, b + l.trim().parse::<u64>().unwrap())
        })
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn gro_merged_tcp_counts_as_the_frames_on_the_wire() {
    let _g = serial();
    let v = VethPair::new("gro");
    let dir = TempDir::new("live-gro");
    // IPv6 on (without router solicitations, addresses without DAD), an
    // address of each version on the pair
    for (ns, ifc, host) in [(&v.tx, &v.tx_if, 1), (&v.rx, &v.rx_if, 2)] {
        for kv in [
            format!("net.ipv6.conf.{ifc}.router_solicitations=0"),
            format!("net.ipv6.conf.{ifc}.disable_ipv6=0"),
        ] {
            run(v.in_ns(ns, "sysctl").args(["-qw", &kv]));
        }
        let ip = |args: &[&str]| run(Command::new("ip").args(["-n", ns]).args(args));
        ip(&["addr", "add", &format!("10.213.60.{host}/24"), "dev", ifc]);
        ip(&[
            "addr",
            "add",
            &format!("fd00:213::60:{host}/64"),
            "dev",
            ifc,
            "nodad",
        ]);
    }
    // neighbours known beforehand: no ARP or neighbour discovery mixes in
    let mac = |ns: &str, ifc: &str| {
        stdout_of(
            v.in_ns(ns, "cat")
                .arg(format!("/sys/class/net/{ifc}/address")),
        )
        .trim()
        .to_string()
    };
    let (tx_mac, rx_mac) = (mac(&v.tx, &v.tx_if), mac(&v.rx, &v.rx_if));
    for (ns, ifc, peer_mac, host) in [
        (&v.tx, v.tx_if.clone(), &rx_mac, 2),
        (&v.rx, v.rx_if.clone(), &tx_mac, 1),
    ] {
        for (addr, dev) in [
            (format!("10.213.60.{host}"), ifc.clone()),
            (format!("fd00:213::60:{host}"), ifc.clone()),
        ] {
            run(Command::new("ip")
                .args(["-n", ns, "neigh", "replace", &addr])
                .args(["lladdr", peer_mac, "dev", &dev, "nud", "permanent"]));
        }
    }
    // the capture side merges; the sender segments in software, so the
    // wire carries segments of one MSS
    run(v
        .in_ns(&v.rx, "ethtool")
        .args(["-K", &v.rx_if, "gro", "on"]));
    run(v
        .in_ns(&v.tx, "ethtool")
        .args(["-K", &v.tx_if, "tso", "off", "gso", "off"]));

    // the sender's view: every frame out of its end of the pair
    let pcap = dir.path("sender.pcap");
    let mut tcpdump = KillOnDrop(
        v.in_ns(&v.tx, tool("tcpdump", "tcpdump").to_str().unwrap())
            .args([
                "-i", &v.tx_if, "-Q", "out", "-s", "128", "-B", "131072", "-U", "-w",
            ])
            .arg(&pcap)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(wait_for(10, || pcap.exists()), "tcpdump did not start");
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--workers", "1"]);
    // the link falls quiet once IPv6 has said what it says on coming up
    let rx_counters = || {
        let read = |f: &str| {
            v.rx_sysfs(&format!("statistics/{f}"))
                .parse::<u64>()
                .unwrap()
        };
        (read("rx_packets"), read("rx_bytes"))
    };
    let mut last = (rx_counters(), Instant::now());
    let deadline = Instant::now() + Duration::from_secs(15);
    while last.1.elapsed() < Duration::from_millis(1500) {
        assert!(Instant::now() < deadline, "the link did not fall quiet");
        std::thread::sleep(Duration::from_millis(100));
        let now = rx_counters();
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    let before = last.0;

    let flows = [
        ("10.213.60.1", "10.213.60.2", 5001u16),
        ("fd00:213::60:1", "fd00:213::60:2", 5002),
    ];
    for (_, dst, port) in flows {
        let to = SocketAddr::new(dst.parse().unwrap(), port);
        assert_eq!(transfer(&v, to, 4_000_000), 4_000_000);
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = rx_counters();
    let text = cap.stop();
    // tcpdump hands a ring block over after its timeout: give its last one
    // time to reach the file
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(tcpdump.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let _ = tcpdump.0.wait();
    let mut said = String::new();
    tcpdump
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    assert!(
        said.contains("\n0 packets dropped by kernel"),
        "tcpdump: {said}"
    );

    let m = parse_exposition(&text);
    let merged = netns::total(&m, "ringflow_capture_merged_packets_total");
    let ring = netns::total(&m, "ringflow_capture_packets_total");
    let counted = netns::total(&m, "ringflow_packets_total");
    assert!(merged > 100, "GRO merged {merged} of {ring} ring packets");
    assert!(
        counted > ring * 3,
        "{counted} counted from {ring} ring packets"
    );
    assert_eq!(
        netns::total(&m, "ringflow_capture_unsplit_packets_total"),
        0
    );

    let series = |fam: &str, src: &str, dst: &str, port: u16| -> u64 {
        m.iter()
            .filter(|(s, _)| {
                s.name == fam
                    && s.label("src") == src
                    && s.label("dst") == dst
                    && s.label("port") == port.to_string()
            })
            .map(|(_, n)| *n as u64)
            .sum()
    };
    let (mut wire_packets, mut wire_bytes) = (0, 0);
    for (src, dst, port) in flows {
        let ipf = if src.contains(':') { "ipv6" } else { "ip" };
        let want = tshark_sum(
            &pcap,
            &format!("{ipf}.src=={src} && {ipf}.dst=={dst} && tcp.dstport=={port}"),
        );
        assert!(want.0 > 2_700, "{src}: {want:?} frames on the wire");
        let got = (
            series("ringflow_flow_packets_total", src, dst, port),
            series("ringflow_flow_bytes_total", src, dst, port),
        );
        assert_eq!(
            got, want,
            "{src} -> {dst}:{port}: ringflow against the sender's capture"
        );
        wire_packets += want.0;
        wire_bytes += want.1;
    }
    // the receiving interface's own counters saw the same frames (a veth
    // counts bytes from behind the Ethernet header, which its peer has
    // already taken off when it counts)
    let (packets, bytes) = (after.0 - before.0, after.1 - before.1);
    assert_eq!(
        (packets, bytes + 14 * packets),
        (wire_packets, wire_bytes),
        "rx counters against the sender's capture"
    );
}
