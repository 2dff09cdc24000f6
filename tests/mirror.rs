//! Mirror ports as they arrive: every tunnel the parser opens, nested
//! ones, broken ones and the copies mirroring makes, replayed with 1 and 3
//! workers, with and without `--dedup`, checked per inner directed host
//! pair against the truth written with the capture and against tshark;
//! flow export and alerts carry the inner flow.

mod common;

use common::mirror::{broken_capture, mirror_capture};
use common::*;
use ringflow::parse::Encap;
use std::collections::BTreeSet;
use std::process::Command;

const START: u64 = 1_700_000_000_000_000_000;

fn write(dir: &TempDir, name: &str, recs: &[Rec]) -> std::path::PathBuf {
    let p = dir.path(name);
    write_pcap(&p, 1, true, recs);
    p
}

fn counter(text: &str, name: &str, label: Option<(&str, &str)>) -> u64 {
    let m = parse_exposition(text);
    m.iter()
        .filter(|(s, _)| s.name == name)
        .filter(|(s, _)| label.is_none_or(|(k, v)| s.label(k) == v))
        .map(|(_, v)| *v as u64)
        .sum()
}

#[test]
fn inner_pairs_exact_with_any_workers_and_copies_counted_once_with_dedup() {
    let dir = TempDir::new("mirror");
    let cap = mirror_capture(60, 4000, 7, START);
    // every kind, raw and nested, and copies, are in it
    assert!(cap.by_depth.iter().all(|n| *n > 100), "{:?}", cap.by_depth);
    assert!(cap.decap.iter().all(|(p, _)| *p > 100), "{:?}", cap.decap);
    assert!(cap.copies > 500, "{}", cap.copies);
    let path = write(&dir, "mirror.pcap", &cap.recs);

    let one = replay(&[&path], &["--workers", "1"]);
    assert_eq!(flows_per_pair(&one), cap.all, "every copy counted");
    for e in Encap::ALL {
        let (p, b) = cap.decap[e as usize];
        let label = Some(("encap", e.as_str()));
        assert_eq!(
            counter(&one, "ringflow_decap_packets_total", label),
            p,
            "{e:?}"
        );
        assert_eq!(
            counter(&one, "ringflow_decap_bytes_total", label),
            b,
            "{e:?}"
        );
    }
    assert_eq!(counter(&one, "ringflow_dedup_dropped_total", None), 0);
    assert_eq!(
        counter(&one, "ringflow_packets_total", None),
        cap.recs.len() as u64
    );
    let three = replay(&[&path], &["--workers", "3"]);
    assert_same_exposition(&one, &three, "1 and 3 workers");

    let deduped = replay(&[&path], &["--workers", "1", "--dedup", "1ms"]);
    assert_eq!(flows_per_pair(&deduped), cap.dedup, "copies counted once");
    assert_eq!(
        counter(&deduped, "ringflow_dedup_dropped_total", None),
        cap.copies
    );
    // what arrived is still every frame
    assert_eq!(
        counter(&deduped, "ringflow_packets_total", None),
        cap.recs.len() as u64
    );
    let deduped3 = replay(&[&path], &["--workers", "3", "--dedup", "1ms"]);
    assert_same_exposition(&deduped, &deduped3, "1 and 3 workers with --dedup");

    // a window shorter than the copies' delay drops only some
    let short = replay(&[&path], &["--dedup", "10us"]);
    let dropped = counter(&short, "ringflow_dedup_dropped_total", None);
    assert!(dropped > 0 && dropped < cap.copies, "{dropped}");
}

#[test]
fn decap_none_counts_the_outer_headers_and_kinds_can_be_chosen() {
    let dir = TempDir::new("mirror-none");
    let cap = mirror_capture(20, 800, 11, START);
    let path = write(&dir, "mirror.pcap", &cap.recs);
    let none = replay(&[&path], &["--decap", "none"]);
    let pairs = flows_per_pair(&none);
    // the outer pairs of the switches and VTEPs take the tunnelled packets
    assert!(pairs.keys().any(|(s, _)| s.starts_with("192.0.2.")));
    assert_eq!(counter(&none, "ringflow_decap_packets_total", None), 0);
    // only VXLAN: nothing else is opened
    let vxlan = replay(&[&path], &["--decap", "vxlan"]);
    for e in Encap::ALL {
        let n = counter(
            &vxlan,
            "ringflow_decap_packets_total",
            Some(("encap", e.as_str())),
        );
        if e == Encap::Vxlan {
            assert!(n > 0);
        } else {
            assert_eq!(n, 0, "{e:?}");
        }
    }
    // the same from the config file
    let conf = dir.path("ringflow.toml");
    std::fs::write(&conf, "decap = \"vxlan\"\n").unwrap();
    let from_file = replay(&[&path], &["--config", conf.to_str().unwrap()]);
    assert_same_exposition(&vxlan, &from_file, "--decap and its key");
}

#[test]
fn broken_and_foreign_tunnels_count_as_the_outer_packet_with_the_reason() {
    let dir = TempDir::new("mirror-broken");
    let b = broken_capture(START);
    let path = write(&dir, "broken.pcap", &b.recs);
    let text = replay(&[&path], &[]);
    assert_eq!(flows_per_pair(&text), b.truth);
    let m = parse_exposition(&text);
    let got = family_by(&m, "ringflow_parse_errors_total", &["layer", "reason"]);
    for (layer, reason) in &b.errors {
        assert_eq!(
            got[&vec![layer.clone(), reason.clone()]],
            1,
            "{layer}/{reason}"
        );
    }
    let total: u64 = got.values().sum();
    assert_eq!(total, b.errors.len() as u64, "{got:?}");
    assert_eq!(counter(&text, "ringflow_decap_packets_total", None), 0);
}

#[test]
fn bad_decap_and_dedup_are_one_line_and_exit_2() {
    let dir = TempDir::new("mirror-bad");
    let path = write(&dir, "one.pcap", &broken_capture(START).recs);
    let p = path.to_str().unwrap();
    for (args, key, want) in [
        (
            ["--decap", "vxlan,mpls"],
            "decap = \"vxlan,mpls\"",
            "--decap: unknown tunnel kind 'mpls'",
        ),
        (
            ["--dedup", "200ms"],
            "dedup = \"200ms\"",
            "--dedup 200ms: the window is at most 100ms",
        ),
        (["--dedup", "0s"], "dedup = \"0s\"", "--dedup: "),
        (["--vxlan-port", "0"], "vxlan-port = [0]", "--vxlan-port: "),
    ] {
        let conf = dir.path("bad.toml");
        std::fs::write(&conf, format!("iface = [\"lo\"]\n{key}\n")).unwrap();
        let c = conf.to_str().unwrap();
        for cmd in [
            [&["replay", p, "--print"][..], &args[..]].concat(),
            vec!["check-config", c],
        ] {
            let out = run(&cmd);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
            assert_eq!(err.trim().lines().count(), 1, "{err}");
            assert!(err.contains(want), "{cmd:?}: {err}");
        }
    }
}

/// (innermost source, destination) -> frames, as tshark decodes them.
fn tshark_inner_pairs(file: &std::path::Path) -> std::collections::BTreeMap<(String, String), u64> {
    let text = stdout_of(
        Command::new(tool("tshark", "tshark"))
            .args([
                "-n",
                "-r",
                file.to_str().unwrap(),
                "-T",
                "fields",
                "-E",
                "occurrence=a",
            ])
            .args([
                "-e", "ip.src", "-e", "ip.dst", "-e", "ipv6.src", "-e", "ipv6.dst",
            ])
            .args(["-e", "frame.protocols"]),
    );
    let mut m = std::collections::BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        // the last IP header in the protocol stack is the innermost
        let last_ip = f[4].split(':').rev().find(|p| *p == "ip" || *p == "ipv6");
        let pick = |s: &str| s.split(',').next_back().unwrap_or_default().to_string();
        let key = match last_ip {
            Some("ip") => (pick(f[0]), pick(f[1])),
            Some(_) => (pick(f[2]), pick(f[3])),
            None => continue,
        };
        *m.entry(key).or_default() += 1;
    }
    m
}

#[test]
#[ignore = "needs tshark (apt-get install tshark); run with --include-ignored"]
fn inner_pairs_match_tshark() {
    let dir = TempDir::new("mirror-tshark");
    let cap = mirror_capture(40, 2000, 5, START);
    let path = write(&dir, "mirror.pcap", &cap.recs);
    let tshark = tshark_inner_pairs(&path);
    let ours: std::collections::BTreeMap<(String, String), u64> =
        flows_per_pair(&replay(&[&path], &["--workers", "3"]))
            .into_iter()
            .map(|(k, v)| (k, v.0))
            .collect();
    let truth: std::collections::BTreeMap<(String, String), u64> =
        cap.all.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    assert_eq!(tshark, truth, "tshark against the truth written");
    assert_eq!(ours, tshark);
}

#[test]
#[ignore = "needs nfcapd and nfdump (apt-get install nfdump); run with --include-ignored"]
fn flow_records_carry_the_inner_flow() {
    let (nfcapd, nfdump) = (tool("nfcapd", "nfdump"), tool("nfdump", "nfdump"));
    let dir = TempDir::new("mirror-ipfix");
    let cap = mirror_capture(30, 1500, 9, START);
    let path = write(&dir, "mirror.pcap", &cap.recs);
    let store = dir.path("nfcapd");
    std::fs::create_dir_all(&store).unwrap();
    let port = free_port();
    let mut collector = Command::new(&nfcapd)
        .args([
            "-b",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "3600",
            "-w",
        ])
        .arg(&store)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(udp_bound(port), "nfcapd did not start");
    replay(&[&path], &["--ipfix", &format!("127.0.0.1:{port}")]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(collector.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    collector.wait().unwrap();
    let mut got = PerPair::new();
    for line in nfdump_read(&nfdump, &store, "fmt:%sa|%da|%pkt|%byt").lines() {
        let v: Vec<&str> = line.split('|').map(str::trim).collect();
        if v.len() < 4 {
            continue;
        }
        let e = got.entry((v[0].to_string(), v[1].to_string())).or_default();
        e.0 += v[2].parse::<u64>().unwrap();
        e.1 += v[3].parse::<u64>().unwrap();
    }
    // the records' octets are the inner IP packets' (octetDeltaCount)
    let want: PerPair = cap
        .all
        .keys()
        .map(|k| (k.clone(), (cap.all[k].0, cap.ip_bytes[k])))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn alerts_name_inner_hosts_only() {
    let dir = TempDir::new("mirror-alerts");
    let cap = mirror_capture(30, 3000, 13, START);
    let path = write(&dir, "mirror.pcap", &cap.recs);
    let log = dir.path("alerts.jsonl");
    replay(
        &[&path],
        &[
            "--alert-interval",
            "10s",
            "--alert-packets",
            "20",
            "--alert-log",
            log.to_str().unwrap(),
        ],
    );
    let ips: BTreeSet<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["ip"].as_str().unwrap().to_string()
        })
        .collect();
    let inner: BTreeSet<String> = cap
        .all
        .keys()
        .flat_map(|(s, d)| [s.clone(), d.clone()])
        .collect();
    assert!(!ips.is_empty());
    assert!(ips.is_subset(&inner), "{ips:?}");
    // the outer endpoints are local too (fd00::/8) but carry no inner flow
    assert!(!ips.iter().any(|ip| ip.starts_with("fd00:213")), "{ips:?}");
}
