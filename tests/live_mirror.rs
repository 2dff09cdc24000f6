//! Mirror ports live: a kernel VXLAN device in the sending namespace
//! mirroring a port with `tc ... mirred` (a tunnelled copy and a raw copy
//! of every frame), and ERSPAN sessions as a switch sends them (this
//! kernel has no ip_gre, so `ringflow gen --mirror-session` builds them),
//! captured with AF_PACKET on 1 and 2 workers and with AF_XDP, with and
//! without `--dedup`: every inner host pair counted exactly.

mod common;

use common::netns::{Capture, MIX, VethPair, serial, total, truth_per_pair};
use common::*;
use std::process::Command;

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tc(ns: &str, args: &[&str]) {
    let out = Command::new("tc")
        .args(["-n", ns])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tc {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In the sending namespace: the capture link gets an address and a
/// neighbour that is not the capture interface's MAC (what is sent there
/// is captured, never received), a VXLAN device towards it, and a veth
/// pair `mon` whose egress is mirrored twice, into the VXLAN device and
/// raw onto the capture link. Returns the mirrored port's name.
fn kernel_vxlan_mirror(v: &VethPair) -> String {
    let (tx, link) = (v.tx.as_str(), v.tx_if.as_str());
    let (vx, mon, peer) = (format!("{link}x"), format!("{link}m"), format!("{link}n"));
    ip(&["-n", tx, "link", "set", link, "mtu", "9000"]);
    ip(&["-n", &v.rx, "link", "set", &v.rx_if, "mtu", "9000"]);
    ip(&["-n", tx, "addr", "add", "10.213.250.1/30", "dev", link]);
    ip(&[
        "-n",
        tx,
        "neigh",
        "add",
        "10.213.250.2",
        "lladdr",
        "02:00:00:21:3f:02",
        "dev",
        link,
        "nud",
        "permanent",
    ]);
    ip(&[
        "-n",
        tx,
        "link",
        "add",
        &vx,
        "type",
        "vxlan",
        "id",
        "42",
        "local",
        "10.213.250.1",
        "remote",
        "10.213.250.2",
        "dstport",
        "4789",
        "dev",
        link,
    ]);
    ip(&[
        "-n", tx, "link", "add", &mon, "type", "veth", "peer", "name", &peer,
    ]);
    for ifc in [&vx, &mon, &peer] {
        let out = Command::new("ip")
            .args(["netns", "exec", tx, "sysctl", "-qw"])
            .arg(format!("net.ipv6.conf.{ifc}.disable_ipv6=1"))
            .output()
            .unwrap();
        assert!(out.status.success());
        ip(&["-n", tx, "link", "set", ifc, "up"]);
    }
    tc(tx, &["qdisc", "add", "dev", &mon, "clsact"]);
    tc(
        tx,
        &[
            "filter", "add", "dev", &mon, "egress", "protocol", "all", "u32", "match", "u32", "0",
            "0", "action", "mirred", "egress", "mirror", "dev", &vx, "pipe", "action", "mirred",
            "egress", "mirror", "dev", link,
        ],
    );
    mon
}

fn decap(m: &std::collections::BTreeMap<Sample, f64>, kind: &str) -> u64 {
    family(m, "ringflow_decap_packets_total")[&vec![kind.to_string()]]
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn kernel_vxlan_mirror_with_raw_copies_counted_twice_then_once_with_dedup() {
    let _g = serial();
    let v = VethPair::new("mirvx");
    let dir = TempDir::new("live-mirror-vxlan");
    let mon = kernel_vxlan_mirror(&v);
    let mix = [&MIX[..], &["--frame-size", "0", "--through-qdisc"]].concat();
    for (workers, dedup) in [("1", false), ("2", true)] {
        let mut args = vec!["--iface", v.rx_if.as_str(), "--workers", workers];
        if dedup {
            args.extend(["--dedup", "1ms"]);
        }
        let cap = Capture::start(&v.rx, &args);
        let truth = v.send_on(&dir, &mon, None, &mix);
        let text = cap.stop();
        let m = parse_exposition(&text);
        let sent: u64 = truth.iter().map(|r| r.packets).sum();
        let want = truth_per_pair(&truth, |_| true);
        // the capture link carries two copies of each frame
        assert_eq!(total(&m, "ringflow_packets_total"), 2 * sent);
        assert_eq!(decap(&m, "vxlan"), sent, "{workers} worker(s)");
        if dedup {
            assert_eq!(flows_per_pair(&text), want, "{workers} workers, --dedup");
            assert_eq!(total(&m, "ringflow_dedup_dropped_total"), sent);
        } else {
            let twice: PerPair = want
                .iter()
                .map(|(k, (p, b))| (k.clone(), (2 * p, 2 * b)))
                .collect();
            assert_eq!(flows_per_pair(&text), twice, "{workers} worker(s)");
        }
        assert_eq!(total(&m, "ringflow_capture_drops_total"), 0);
    }
}

/// An ERSPAN session and a raw copy of every frame, `--dedup` on, with
/// `args` (the backend and workers): every inner pair exactly once, and
/// each worker's share of the packets.
fn erspan_session(v: &VethPair, dir: &TempDir, kind: &str, args: &[&str]) -> Vec<u64> {
    // room for a 1500-byte frame and the session's headers
    ip(&["-n", &v.tx, "link", "set", &v.tx_if, "mtu", "9000"]);
    ip(&["-n", &v.rx, "link", "set", &v.rx_if, "mtu", "9000"]);
    let cap = Capture::start(
        &v.rx,
        &[&["--iface", v.rx_if.as_str(), "--dedup", "1ms"], args].concat(),
    );
    let mix = [
        &MIX[..],
        &[
            "--frame-size",
            "0",
            "--mirror-session",
            kind,
            "--mirror-raw",
        ],
    ]
    .concat();
    let truth = v.send(dir, &mix);
    let text = cap.stop();
    let m = parse_exposition(&text);
    let sent: u64 = truth.iter().map(|r| r.packets).sum();
    assert_eq!(
        flows_per_pair(&text),
        truth_per_pair(&truth, |_| true),
        "{args:?}"
    );
    assert_eq!(decap(&m, "erspan"), sent, "{args:?}");
    assert_eq!(total(&m, "ringflow_dedup_dropped_total"), sent, "{args:?}");
    assert_eq!(total(&m, "ringflow_capture_drops_total"), 0);
    family(&m, "ringflow_capture_packets_total")
        .values()
        .copied()
        .collect()
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn erspan_sessions_with_raw_copies_af_packet_one_and_two_workers() {
    let _g = serial();
    let v = VethPair::new("mirers");
    let dir = TempDir::new("live-mirror-erspan");
    let one = erspan_session(&v, &dir, "erspan2", &["--workers", "1"]);
    assert_eq!(one.len(), 1);
    // two workers: the session is one outer flow, yet both get packets,
    // and each copy meets its original (the counts above are exact)
    let two = erspan_session(&v, &dir, "erspan3", &["--workers", "2"]);
    assert_eq!(two.len(), 2);
    assert!(
        two.iter().all(|n| *n > 1000),
        "spread over the workers: {two:?}"
    );
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn erspan_session_with_raw_copies_af_xdp() {
    let _g = serial();
    let v = VethPair::new("mirxdp");
    let dir = TempDir::new("live-mirror-xdp");
    let per_queue = erspan_session(&v, &dir, "erspan2", &["--backend", "af-xdp"]);
    assert_eq!(per_queue.len(), 1);
}
