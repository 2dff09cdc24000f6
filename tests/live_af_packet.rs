//! Live AF_PACKET capture on veth pairs in network namespaces that each
//! test creates and deletes. Frames come from `ringflow gen` on the other
//! end, which writes exactly what it sent; counters must match it exactly.
//! Needs root: `#[ignore]`d, run with `cargo test -- --include-ignored`.

mod common;

use common::netns::{
    Capture, FRAGMENT_MIX, MIX, VethPair, assert_fragments_exact, gone_and_back, serial, total,
    truth_per_pair,
};
use common::*;
use std::time::Duration;

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn exact_counts_per_host_pair_and_final_exposition_on_sigterm() {
    let _g = serial();
    let v = VethPair::new("exact");
    let dir = TempDir::new("live-exact");
    // A long refresh: only the final merge at SIGTERM can make the counts
    // complete.
    let cap = Capture::start(
        &v.rx,
        &["--iface", &v.rx_if, "--workers", "1", "--refresh", "60s"],
    );
    // AF_PACKET workers keep the normal policy (a router's own traffic
    // comes first)
    assert_eq!(cap.worker_scheduling(), [(0, 0)]);
    let truth = v.send(&dir, &[&MIX[..], &["--frame-size", "0"]].concat());
    let text = cap.stop();
    let m = parse_exposition(&text);
    let expect = truth_per_pair(&truth, |_| true);
    assert_eq!(expect.len(), 800, "400 flows, both ways");
    assert_eq!(flows_per_pair(&text), expect);
    let sent: u64 = truth.iter().map(|r| r.packets).sum();
    assert_eq!(total(&m, "ringflow_packets_total"), sent);
    assert_eq!(total(&m, "ringflow_capture_drops_total"), 0);
    assert_eq!(total(&m, "ringflow_capture_packets_total"), sent);
    assert_eq!(total(&m, "ringflow_non_ip_packets_total"), 0);
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn two_workers_with_fanout_give_the_same_totals_as_one() {
    let _g = serial();
    let v = VethPair::new("fanout");
    let dir = TempDir::new("live-fanout");
    let mut results = Vec::new();
    for workers in ["1", "2"] {
        let cap = Capture::start(
            &v.rx,
            &[
                "--iface",
                &v.rx_if,
                "--workers",
                workers,
                "--fanout",
                "hash",
            ],
        );
        let truth = v.send(&dir, &MIX);
        // the API's capture health: a socket per worker, what each took
        // in, its rate over the last seconds, no drops; the NIC up, and
        // promiscuous as the kernel says (not asked for here)
        std::thread::sleep(Duration::from_millis(2500));
        let status = cap.api("/api/v1/status");
        let sockets = status["sockets"].as_array().unwrap();
        assert_eq!(sockets.len(), workers.parse::<usize>().unwrap(), "{status}");
        let sent: u64 = truth.iter().map(|r| r.packets).sum();
        let taken: u64 = sockets.iter().map(|s| s["packets"].as_u64().unwrap()).sum();
        assert_eq!(taken, sent, "{status}");
        assert!(
            sockets
                .iter()
                .any(|s| s["packets_per_second"].as_f64().unwrap() > 0.0),
            "{status}"
        );
        for s in sockets {
            assert_eq!(s["backend"], "af-packet");
            assert_eq!(s["drops"], 0);
            assert_eq!(s["drops_per_second_by_reason"]["ring_full"], 0.0);
        }
        assert_eq!(status["nics"][0]["iface"], v.rx_if.as_str());
        assert_eq!(status["nics"][0]["up"], true);
        assert_eq!(status["nics"][0]["promiscuous"], promisc_flag(&v));
        assert_eq!(status["warnings"].as_array().unwrap().len(), 0, "{status}");
        let caps = cap.api("/api/v1/capabilities");
        assert_eq!(caps["source"], "live");
        assert_eq!(caps["interfaces"][0], v.rx_if.as_str());
        assert_eq!(caps["sockets"].as_array().unwrap().len(), sockets.len());
        let text = cap.stop();
        let m = parse_exposition(&text);
        assert_eq!(
            flows_per_pair(&text),
            truth_per_pair(&truth, |_| true),
            "{workers} worker(s)"
        );
        let queues = family(&m, "ringflow_capture_packets_total");
        assert_eq!(queues.len(), workers.parse::<usize>().unwrap());
        assert!(
            queues.values().all(|&n| n > 0),
            "every worker got packets: {queues:?}"
        );
        results.push(flows_per_pair(&text));
    }
    assert_eq!(results[0], results[1]);
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn filter_keeps_only_what_matches() {
    let _g = serial();
    let v = VethPair::new("filter");
    let dir = TempDir::new("live-filter");
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--filter", "udp"]);
    let truth = v.send(&dir, &MIX);
    let text = cap.stop();
    let udp = truth_per_pair(&truth, |r| r.proto == 17);
    assert!(!udp.is_empty() && udp.len() < truth.len());
    assert_eq!(flows_per_pair(&text), udp);
    let m = parse_exposition(&text);
    assert!(
        family(&m, "ringflow_flow_packets_total")
            .keys()
            .all(|k| k[2] == "udp")
    );
}

fn promisc_flag(v: &VethPair) -> bool {
    v.rx_promiscuous()
}

/// Killed outright (SIGKILL) while capturing with two workers in a fanout
/// group and promiscuous mode: the kernel takes the sockets, and with them
/// the group and the membership, so nothing is left behind, and a restart
/// at once captures exactly.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn sigkill_leaves_no_socket_group_or_promiscuous_flag_and_a_restart_captures_at_once() {
    let _g = serial();
    let v = VethPair::with_queues("pktkill", 2);
    let dir = TempDir::new("live-kill");
    let args = ["--iface", &v.rx_if, "--workers", "2", "--promisc"];
    let cap = Capture::start(&v.rx, &args);
    assert!(v.rx_promiscuous());
    assert!(v.rx_packet_sockets() >= 2, "a socket per worker");
    let _ = v.send(&dir, &MIX);
    cap.kill();
    assert_eq!(
        v.rx_packet_sockets(),
        0,
        "sockets (and their fanout group) gone"
    );
    assert!(
        !v.rx_promiscuous(),
        "promiscuous mode left on after SIGKILL"
    );
    let cap = Capture::start(&v.rx, &args);
    let truth = v.send(&dir, &MIX);
    let text = cap.stop();
    assert_eq!(flows_per_pair(&text), truth_per_pair(&truth, |_| true));
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn promiscuous_mode_is_shown_while_running_and_gone_after() {
    let _g = serial();
    let v = VethPair::new("promisc");
    assert!(!promisc_flag(&v));
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--promisc"]);
    assert!(promisc_flag(&v));
    let m = parse_exposition(&cap.scrape());
    assert_eq!(
        family(&m, "ringflow_nic_promiscuous")[&vec![v.rx_if.clone()]],
        1
    );
    assert_eq!(family(&m, "ringflow_nic_up")[&vec![v.rx_if.clone()]], 1);
    cap.stop();
    assert!(
        !promisc_flag(&v),
        "promiscuous mode left on after a clean exit"
    );
    // killed outright: the kernel drops the membership with the socket
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--promisc"]);
    assert!(promisc_flag(&v));
    cap.kill();
    assert!(!promisc_flag(&v), "promiscuous mode left on after SIGKILL");
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn interface_down_up_gone_and_back_is_captured_without_restart() {
    let _g = serial();
    let v = VethPair::new("updown");
    let dir = TempDir::new("live-updown");
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--refresh", "200ms"]);
    let (text, truth) = gone_and_back(
        &v,
        &dir,
        cap,
        |cap| {
            let m = parse_exposition(&cap.scrape());
            assert_eq!(family(&m, "ringflow_nic_up")[&vec![v.rx_if.clone()]], 0);
        },
        |_| {},
    );
    let m = parse_exposition(&text);
    assert_eq!(flows_per_pair(&text), truth_per_pair(&truth, |_| true));
    assert_eq!(total(&m, "ringflow_packets_total"), 3000);
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn setup_errors_are_one_line_and_exit_2() {
    let _g = serial();
    let v = VethPair::new("errors");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--iface", "rf-nope0"],
            "interface rf-nope0 not found (available:",
        ),
        (
            vec!["--iface", &v.rx_if, "--filter", "tcp prot 80"],
            "bad filter 'tcp prot 80'",
        ),
        (
            vec!["--iface", &v.rx_if, "--cpus", "0-999"],
            "is not online",
        ),
        (vec!["--iface", &v.rx_if, "--cpus", "x"], "bad CPU list"),
        (
            vec!["--iface", &v.rx_if, "--worker-priority", "100"],
            "expected auto, normal or a SCHED_FIFO priority from 1 to 99",
        ),
        (
            vec![
                "--iface",
                &v.rx_if,
                "--block-size",
                "1000",
                "--frame-size",
                "1000",
            ],
            "the kernel refused the ring",
        ),
    ];
    for (args, expect) in cases {
        let out = v.in_ns(&v.rx, bin()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    // a port another ringflow serves on
    let first = Capture::start(&v.rx, &["--iface", &v.rx_if]);
    let out = v
        .in_ns(&v.rx, bin())
        .args(["--iface", &v.rx_if, "--listen", &first.addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot listen on"), "{err}");
    first.stop();
    // without CAP_NET_RAW
    if std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = v
            .in_ns(&v.rx, "setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
                bin(),
            ])
            .args(["--iface", &v.rx_if])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("CAP_NET_RAW"), "{err}");
    }
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn config_file_settings_apply_and_flags_win() {
    let _g = serial();
    let v = VethPair::new("config");
    let dir = TempDir::new("live-config");
    let conf = dir.path("ringflow.toml");
    std::fs::write(
        &conf,
        format!(
            "iface = [\"{}\"]\nworkers = 2\nfilter = \"udp\"\nsnaplen = 128\n",
            v.rx_if
        ),
    )
    .unwrap();
    // the file's filter is replaced by the flag's
    let cap = Capture::start(
        &v.rx,
        &["--config", conf.to_str().unwrap(), "--filter", "tcp"],
    );
    let truth = v.send(&dir, &MIX);
    let text = cap.stop();
    assert_eq!(
        flows_per_pair(&text),
        truth_per_pair(&truth, |r| r.proto == 6)
    );
    let m = parse_exposition(&text);
    assert_eq!(
        family(&m, "ringflow_capture_packets_total").len(),
        2,
        "workers from the file"
    );
    std::fs::write(&conf, "iface = [\"x\"]\nworkerz = 2\n").unwrap();
    let out = v
        .in_ns(&v.rx, bin())
        .args(["--config", conf.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn stops_cleanly_when_its_stderr_is_gone() {
    use std::io::{BufRead, BufReader};
    let _g = serial();
    let v = VethPair::new("epipe");
    let mut child = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &v.rx,
            bin(),
            "--iface",
            &v.rx_if,
            "--listen",
            "127.0.0.1:0",
        ])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    while let Some(Ok(l)) = lines.next() {
        if l.contains("serving") {
            break;
        }
    }
    drop(lines); // the reading end closes: later log lines hit a closed pipe
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > end {
            let _ = child.kill();
            panic!("ringflow did not stop after SIGTERM with its stderr closed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn direction_and_any_select_what_is_captured() {
    let _g = serial();
    let v = VethPair::new("dir");
    let dir = TempDir::new("live-dir");
    let mix = [
        "--flows",
        "100",
        "--packets",
        "2000",
        "--rate",
        "40000",
        "--udp-percent",
        "50",
    ];

    // everything from the peer is received traffic
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--direction", "in"]);
    let truth = v.send(&dir, &mix);
    assert!(truth.iter().any(|r| r.proto == 17) && truth.iter().any(|r| r.proto == 6));
    assert_eq!(
        flows_per_pair(&cap.stop()),
        truth_per_pair(&truth, |_| true)
    );

    // --direction out: only what this namespace sends itself
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--direction", "out"]);
    v.send(&dir, &mix);
    let out = dir.path("out.csv");
    let o = v
        .in_ns(&v.rx, bin())
        .args([
            "gen",
            "--iface",
            &v.rx_if,
            "--flows",
            "20",
            "--packets",
            "500",
            "--rate",
            "20000",
            "--seed",
            "9",
            "--through-qdisc",
        ])
        .args(["--truth", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let sent_here: u64 = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(6).unwrap().parse::<u64>().unwrap())
        .sum();
    let m = parse_exposition(&cap.stop());
    assert_eq!(total(&m, "ringflow_packets_total"), sent_here);

    // any: lo is left out, the veth is captured
    let cap = Capture::start(&v.rx, &["--iface", "any"]);
    let truth = v.send(&dir, &mix);
    let text = cap.stop();
    assert_eq!(flows_per_pair(&text), truth_per_pair(&truth, |_| true));
    let m = parse_exposition(&text);
    let ifaces: Vec<String> = family(&m, "ringflow_capture_packets_total")
        .keys()
        .map(|k| k[0].clone())
        .collect();
    assert_eq!(ifaces, vec![v.rx_if.clone()]);

    // any without the veth leaves nothing
    let o = v
        .in_ns(&v.rx, bin())
        .args(["--iface", "any", "--exclude-iface", &v.rx_if])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no interface left"));
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn sighup_reloads_networks_under_traffic_without_losing_a_count() {
    let _g = serial();
    let v = VethPair::new("reload");
    let dir = TempDir::new("live-reload");
    let cfg = dir.path("ringflow.toml");
    std::fs::write(&cfg, "local-networks = [\"10.0.0.0/8\"]\n").unwrap();
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--config",
            cfg.to_str().unwrap(),
            "--refresh",
            "100ms",
        ],
    );
    // 40000 packets over two seconds; the networks change half way
    let truth = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            v.send(
                &dir,
                &[
                    "--flows",
                    "300",
                    "--packets",
                    "40000",
                    "--rate",
                    "20000",
                    "--ipv6-percent",
                    "30",
                ],
            )
        });
        std::thread::sleep(Duration::from_millis(1000));
        std::fs::write(
            &cfg,
            "local-networks = [\"10.0.0.0/8\", \"198.51.0.0/16\", \"fd00::/8\", \"2001:db8::/32\"]\nsnaplen = 128\n",
        )
        .unwrap();
        cap.signal(nix::sys::signal::Signal::SIGHUP);
        sender.join().unwrap()
    });
    assert!(cap.wait_log("reloaded networks", Duration::from_secs(5)));
    assert!(
        cap.log()
            .iter()
            .any(|l| l.contains("snaplen changed") && l.contains("restart")),
        "{:?}",
        cap.log()
    );
    let text = cap.stop();
    let m = parse_exposition(&text);
    // Nothing lost or counted twice across the reload. A series whose
    // class changed starts again under its new class and hands what it
    // had counted to "other" of the old one, so the check is on the sums
    // and on the per-IP counters of the hosts monitored throughout.
    let flow_bytes: u64 = family(&m, "ringflow_flow_bytes_total").values().sum();
    let flow_packets: u64 = family(&m, "ringflow_flow_packets_total").values().sum();
    let sent_packets: u64 = truth.iter().map(|r| r.packets).sum();
    assert_eq!(flow_packets, sent_packets);
    assert_eq!(flow_bytes, truth.iter().map(|r| r.bytes).sum::<u64>());
    let tx = family(&m, "ringflow_host_transmit_bytes_total");
    let rx = family(&m, "ringflow_host_receive_bytes_total");
    let mut clients = 0;
    for (ip, sent, received) in truth
        .iter()
        .filter(|r| r.src.starts_with("10.213."))
        .map(|r| {
            let back: u64 = truth
                .iter()
                .filter(|b| b.src == r.dst && b.dst == r.src)
                .map(|b| b.bytes)
                .sum();
            (r.src.clone(), r.bytes, back)
        })
    {
        assert_eq!(tx[&vec![ip.clone()]], sent, "{ip}");
        assert_eq!(rx[&vec![ip.clone()]], received, "{ip}");
        clients += 1;
    }
    assert!(clients > 100);
    let sent: u64 = truth.iter().map(|r| r.bytes).sum();
    let classes = family(&m, "ringflow_traffic_bytes_total");
    assert_eq!(classes.values().sum::<u64>(), sent);
    let per_class = family_by(&m, "ringflow_traffic_bytes_total", &["class"]);
    let class = |c: &str| per_class[&vec![c.to_string()]];
    // before: clients (10.213/16) local, servers not; after: both local
    assert!(class("outgoing") > 0 && class("incoming") > 0);
    assert!(class("internal") > 0);
    assert_eq!(
        class("outgoing") + class("incoming") + class("internal") + class("transit"),
        sent
    );
    // the servers became monitored hosts with the reload
    let rx = family(&m, "ringflow_host_receive_bytes_total");
    assert!(rx.keys().any(|k| k[0].starts_with("198.51.")));
}

/// Workers take the policy asked for, not the one ringflow was started
/// with: normal by default for AF_PACKET even under `chrt`, and a number
/// gives that SCHED_FIFO priority.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn workers_take_the_policy_asked_for_not_the_inherited_one() {
    let _g = serial();
    let v = VethPair::new("prio");
    let chrt = ["chrt", "-f", "1"];
    let cap = Capture::start_under(&v.rx, &chrt, &["--iface", &v.rx_if, "--workers", "1"]);
    assert_eq!(cap.worker_scheduling(), [(0, 0)]);
    cap.stop();
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--workers",
            "1",
            "--worker-priority",
            "3",
        ],
    );
    assert_eq!(cap.worker_scheduling(), [(1, 3)]);
    assert!(
        cap.log()
            .iter()
            .any(|l| l.contains("at SCHED_FIFO priority 3;")),
        "{:?}",
        cap.log()
    );
    cap.stop();
}

/// The collector and the other threads keep off the workers' CPUs: on
/// the CPUs `--collector-cpus` names, by default on those no worker is
/// pinned to, anywhere when every CPU has a worker.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn collector_runs_off_the_workers_cpus() {
    let _g = serial();
    // the worker on the last CPU: with one CPU, it is the collector's too
    let online = std::thread::available_parallelism().map_or(1, |n| n.get());
    let last = (online - 1).to_string();
    let v = VethPair::new("cpus");
    let others = |cap: &Capture, worker: &str| {
        let threads = cap.thread_cpus();
        assert!(
            threads
                .iter()
                .any(|(n, c)| n == "ringflow-worker" && c == worker),
            "{threads:?}"
        );
        let rest: Vec<String> = threads
            .into_iter()
            .filter(|(n, _)| n != "ringflow-worker")
            .map(|(_, c)| c)
            .collect();
        assert!(!rest.is_empty(), "no other thread");
        rest
    };
    // named
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--workers",
            "1",
            "--cpus",
            &last,
            "--collector-cpus",
            "0",
        ],
    );
    assert!(others(&cap, &last).iter().all(|c| c == "0"));
    let line = format!("on CPU {last}, collector on CPU 0");
    assert!(
        cap.log().iter().any(|l| l.contains(&line)),
        "{:?}",
        cap.log()
    );
    cap.stop();
    // by default, all but the worker's; any CPU when it has the only one
    let cap = Capture::start(
        &v.rx,
        &["--iface", &v.rx_if, "--workers", "1", "--cpus", &last],
    );
    let rest = match online {
        1 | 2 => "0".to_string(),
        n => format!("0-{}", n - 2),
    };
    assert!(others(&cap, &last).iter().all(|c| *c == rest));
    cap.stop();
    // an offline CPU is a setup error
    let out = v
        .in_ns(&v.rx, bin())
        .args(["--iface", &v.rx_if, "--collector-cpus", "999"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("CPU 999 in --collector-cpus is not online"),
        "{err}"
    );
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn live_exposition_passes_promtool() {
    let _g = serial();
    let v = VethPair::new("promtool");
    let dir = TempDir::new("live-promtool");
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--workers",
            "2",
            "--promisc",
            "--compat",
            "promflow",
            "--refresh",
            "100ms",
        ],
    );
    v.send(&dir, &MIX);
    std::thread::sleep(Duration::from_millis(300));
    // curl asks for */*: the text format
    let text = cap.scrape();
    let m = parse_exposition(&text);
    assert_eq!(total(&m, "ringflow_packets_total"), 8000);
    for f in [
        "ringflow_capture_packets_total",
        "ringflow_capture_drops_total",
        "ringflow_capture_freeze_total",
        "ringflow_capture_info",
        "ringflow_nic_up",
        "ringflow_nic_promiscuous",
        "ringflow_nic_rx_packets_total",
        "promflow_receive_bytes_total",
    ] {
        assert!(!family(&m, f).is_empty(), "{f} has samples");
    }
    cap.stop();
    assert_eq!(
        promtool(&tool("promtool", "prometheus"), &text),
        (0, vec![])
    );
}

/// IPv4 and IPv6 datagrams sent as fragments among ordinary traffic count
/// frame by frame, as on the wire (and as tshark counts them), whatever
/// the worker count and the fanout mode: the kernel must not reassemble
/// them on the way to the rings.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn fragments_count_as_on_the_wire_whatever_workers_and_fanout() {
    let _g = serial();
    let v = VethPair::with_queues("frag", 2);
    let dir = TempDir::new("live-frag");
    for workers in ["1", "2", "3"] {
        for fanout in ["hash", "cpu", "qm", "lb"] {
            let cap = Capture::start(
                &v.rx,
                &[
                    "--iface",
                    &v.rx_if,
                    "--workers",
                    workers,
                    "--fanout",
                    fanout,
                    "--refresh",
                    "100ms",
                ],
            );
            let truth = v.send(&dir, &FRAGMENT_MIX);
            let text = cap.stop();
            let what = format!("{workers} worker(s), fanout {fanout}");
            assert_fragments_exact(&text, &truth, &what);
            let m = parse_exposition(&text);
            let queues = family(&m, "ringflow_capture_packets_total");
            assert_eq!(queues.len(), workers.parse::<usize>().unwrap(), "{what}");
        }
    }
}

/// A host that sends more than its byte limit is in the alert log within
/// a refresh and a second of crossing it.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn a_byte_limit_crossed_live_is_alerted_within_a_refresh_and_a_second() {
    let _g = serial();
    let v = VethPair::new("alert");
    let dir = TempDir::new("live-alert");
    let log = dir.path("alerts.jsonl");
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--refresh",
            "200ms",
            "--alert-interval",
            "10s",
            "--alert-bytes",
            "100K",
            "--alert-log",
            log.to_str().unwrap(),
        ],
    );
    let now_ns = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    };
    let sent_at = now_ns();
    // one conversation: the client sends 2000 frames of 1000 bytes, 20
    // times the limit, in a tenth of a second; the server answers half
    let truth = v.send(
        &dir,
        &[
            "--flows",
            "1",
            "--packets",
            "3000",
            "--frame-size",
            "1000",
            "--rate",
            "30000",
        ],
    );
    let client = truth
        .iter()
        .max_by_key(|r| r.bytes)
        .map(|r| r.src.clone())
        .unwrap();
    let mut start = None;
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while start.is_none() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
        start = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["event"] == "start" && e["ip"] == client.as_str());
    }
    // the API has it too: the same event among the active alerts, the
    // client opening the top pair, the pair in the flow chart
    let e = start.clone().expect("a start event for the client");
    let active = cap.api("/api/v1/alerts/active");
    assert_eq!(active[0]["id"], e["id"], "{active}");
    assert_eq!(active[0]["ip"], client.as_str());
    let top = cap.api("/api/v1/top?what=pairs&n=1");
    assert_eq!(top["items"][0]["src"], client.as_str(), "{top}");
    let graph = cap.api("/api/v1/graph");
    assert_eq!(graph["edges"][0]["src"], client.as_str(), "{graph}");
    let text = cap.stop();
    assert_eq!(
        (e["kind"].as_str(), e["direction"].as_str()),
        (Some("bytes"), Some("out"))
    );
    // crossed within the first 10 ms of sending; reported within a
    // refresh (200 ms) and a second of that (RFC 3339 strings of one
    // width compare as times)
    let t = e["time"].as_str().unwrap().to_string();
    let latest = ringflow::detect::rfc3339(sent_at + 1_300_000_000);
    assert!(
        t <= latest,
        "alert at {t}, sent at {}",
        ringflow::detect::rfc3339(sent_at)
    );
    let m = parse_exposition(&text);
    let started = family(&m, "ringflow_alerts_total");
    assert_eq!(
        started[&vec!["bytes".to_string(), "out".to_string(), String::new()]],
        1
    );
}

/// SIGHUP applies changed alert limits: an active alert is evaluated
/// against its new limit at the end of the interval, ends, and is never
/// started twice.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn sighup_applies_new_alert_limits_without_duplicating_an_alert() {
    let _g = serial();
    let v = VethPair::new("alertreload");
    let dir = TempDir::new("live-alert-reload");
    let log = dir.path("alerts.jsonl");
    let cfg = dir.path("ringflow.toml");
    let write = |limit: &str| {
        std::fs::write(
            &cfg,
            format!(
                "alert-interval = \"2s\"\nalert-bytes = \"{limit}\"\nalert-log = \"{}\"\n",
                log.display()
            ),
        )
        .unwrap()
    };
    write("100K");
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--config",
            cfg.to_str().unwrap(),
            "--refresh",
            "100ms",
        ],
    );
    let burst = [
        "--flows",
        "1",
        "--packets",
        "3000",
        "--frame-size",
        "1000",
        "--rate",
        "30000",
    ];
    let events = || -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let truth = v.send(&dir, &burst);
    let client = truth
        .iter()
        .max_by_key(|r| r.bytes)
        .map(|r| r.src.clone())
        .unwrap();
    let end = std::time::Instant::now() + Duration::from_secs(5);
    while !events().iter().any(|e| e["event"] == "start") {
        assert!(std::time::Instant::now() < end, "no alert: {:?}", cap.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // the limit goes up a hundredfold; the same traffic again is under it
    write("10M");
    cap.signal(nix::sys::signal::Signal::SIGHUP);
    assert!(
        cap.wait_log("reloaded", Duration::from_secs(5)),
        "{:?}",
        cap.log()
    );
    // the same traffic goes on for three intervals: over the old limit in
    // every one of them, under the new one, so only the reload can end
    // the alerts while it lasts
    for _ in 0..4 {
        v.send(&dir, &burst);
        std::thread::sleep(Duration::from_millis(1500));
    }
    cap.stop();
    // it sent 2000 frames and received the 1000 answers: an alert each
    // way, each started once and ended once
    for dir in ["out", "in"] {
        let got: Vec<String> = events()
            .iter()
            .filter(|e| e["ip"] == client.as_str() && e["direction"] == dir)
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, ["start", "end"], "{dir}: {:#?}", events());
    }
}

/// The wall clock stepped back an hour while an alert is active (as
/// settimeofday or a jumping NTP client would), under libfaketime: the
/// alert interval still closes on time and the alert ends after one
/// whole quiet interval, and its events carry times near the real ones.
#[test]
#[ignore = "live: needs root for network namespaces and libfaketime (apt-get install faketime); run with --include-ignored"]
fn a_wall_clock_stepped_back_neither_stalls_intervals_nor_moves_alert_times() {
    let _g = serial();
    let lib = ["libfaketimeMT.so.1", "libfaketime.so.1"]
        .iter()
        .map(|f| std::path::Path::new("/usr/lib/x86_64-linux-gnu/faketime").join(f))
        .find(|p| p.exists())
        .expect("libfaketime: apt-get install faketime");
    let v = VethPair::new("clock");
    let dir = TempDir::new("live-clock");
    let offset = dir.path("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    let log = dir.path("alerts.jsonl");
    let preload = format!("LD_PRELOAD={}", lib.display());
    let offset_file = format!("FAKETIME_TIMESTAMP_FILE={}", offset.display());
    let cap = Capture::start_under(
        &v.rx,
        &[
            "env",
            &preload,
            &offset_file,
            "FAKETIME_NO_CACHE=1",
            "FAKETIME_DONT_FAKE_MONOTONIC=1",
        ],
        &[
            "--iface",
            &v.rx_if,
            "--refresh",
            "200ms",
            "--alert-interval",
            "2s",
            "--alert-bytes",
            "100K",
            "--alert-log",
            log.to_str().unwrap(),
        ],
    );
    let events = |kind: &str| -> Vec<serde_json::Value> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|e| e["event"] == kind)
            .collect()
    };
    let wait_for = |kind: &str, within: Duration| -> Option<serde_json::Value> {
        let end = std::time::Instant::now() + within;
        while std::time::Instant::now() < end {
            if let Some(e) = events(kind).into_iter().next() {
                return Some(e);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    };
    v.send(
        &dir,
        &[
            "--flows",
            "1",
            "--packets",
            "3000",
            "--frame-size",
            "1000",
            "--rate",
            "30000",
        ],
    );
    assert!(
        wait_for("start", Duration::from_secs(5)).is_some(),
        "alert started"
    );
    // an hour back, for ringflow alone
    std::fs::write(&offset, "-3600\n").unwrap();
    let stepped = std::time::Instant::now();
    // quiet from here: the alert ends at the end of the first whole quiet
    // interval (at most two intervals of 2 s, a refresh and a second)
    let end = wait_for("end", Duration::from_secs(8));
    let waited = stepped.elapsed();
    let _ = cap.stop();
    let end = end.expect("the alert ended although the wall clock went back an hour");
    assert!(waited < Duration::from_secs(6), "ended after {waited:?}");
    // its time follows the steady clock, not the stepped one
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let t = end["time"].as_str().unwrap().to_string();
    assert!(
        t >= ringflow::detect::rfc3339(now - 30_000_000_000) && t <= ringflow::detect::rfc3339(now),
        "end at {t}, now {}",
        ringflow::detect::rfc3339(now)
    );
}

/// 100 scrapers fetching a 100k-series exposition for 10 s, while traffic
/// flows at a rate AF_PACKET captures without loss: no capture drop, the
/// counts stay exact, and the scrapers are answered. Scrapes render on the
/// HTTP thread, on the collector's CPUs, never on a worker's.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn a_scrape_flood_adds_no_capture_drop() {
    let _g = serial();
    let v = VethPair::new("scrapeflood");
    let dir = TempDir::new("live-scrape-flood");
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--workers",
            "1",
            "--max-flow-series",
            "100000",
        ],
    );
    // 50000 conversations, both ways: 100000 flow series
    let mut truth = v.send(
        &dir,
        &[
            "--flows",
            "50000",
            "--packets",
            "200000",
            "--rate",
            "50000",
            "--seed",
            "7",
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    let series = parse_exposition(&cap.scrape())
        .keys()
        .filter(|k| k.name == "ringflow_flow_bytes_total" && k.label("src") != "other")
        .count();
    assert!(series >= 99_000, "{series} flow series");
    // the rate alone: loss-free
    let steady = [
        "--flows",
        "1000",
        "--packets",
        "100000",
        "--rate",
        "10000",
        "--seed",
        "8",
    ];
    truth.extend(v.send(&dir, &steady));
    let drops = |cap: &Capture| {
        total(
            &parse_exposition(&cap.scrape()),
            "ringflow_capture_drops_total",
        )
    };
    assert_eq!(drops(&cap), 0, "loss-free without scrapers");

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    // each scraper's connection of the moment (one each: the one before
    // is closed), to cut the waiting ones short at the end
    let open: std::sync::Arc<std::sync::Mutex<Vec<Option<std::net::TcpStream>>>> =
        std::sync::Arc::new(std::sync::Mutex::new((0..100).map(|_| None).collect()));
    let scrapers: Vec<_> = (0..100)
        .map(|i| {
            let (ns, addr, stop, answered, open) = (
                v.rx.clone(),
                cap.addr.clone(),
                stop.clone(),
                answered.clone(),
                open.clone(),
            );
            std::thread::spawn(move || {
                // this thread only, into the capture's namespace
                let f = std::fs::File::open(format!("/var/run/netns/{ns}")).unwrap();
                nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
                use std::io::{Read, Write};
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Ok(mut s) = std::net::TcpStream::connect(&addr) else {
                        continue;
                    };
                    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
                    if let Ok(c) = s.try_clone() {
                        open.lock().unwrap()[i] = Some(c);
                    }
                    let req = format!(
                        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
                    );
                    if s.write_all(req.as_bytes()).is_err() {
                        continue;
                    }
                    let mut body = Vec::new();
                    if s.read_to_end(&mut body).is_ok() && body.starts_with(b"HTTP/1.1 200") {
                        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // the same rate, for 10 s, under the flood
    truth.extend(v.send(&dir, &steady));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in open.lock().unwrap().iter().flatten() {
        let _ = c.shutdown(std::net::Shutdown::Both);
    }
    for s in scrapers {
        s.join().unwrap();
    }
    let text = cap.stop();
    let m = parse_exposition(&text);
    assert_eq!(
        total(&m, "ringflow_capture_drops_total"),
        0,
        "no drop under the flood"
    );
    let sent: u64 = truth.iter().map(|r| r.packets).sum();
    assert_eq!(total(&m, "ringflow_packets_total"), sent);
    let answered = answered.load(std::sync::atomic::Ordering::Relaxed);
    println!("{answered} scrapes of {series} flow series answered in 10 s");
    // (a scrape of 100k series takes most of a second here)
    assert!(answered >= 3, "{answered} scrapes answered");
}

/// The box's own networks (read from the capture namespace's addresses)
/// are local by default: named in the start line and in `check-config`'s
/// effective settings; a `--local-networks` given replaces them.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn this_box_s_own_networks_are_local_by_default() {
    let _g = serial();
    let v = VethPair::new("own");
    let dir = TempDir::new("live-own");
    let ns = |args: &[&str]| {
        let out = v.in_ns(&v.rx, args[0]).args(&args[1..]).output().unwrap();
        assert!(out.status.success(), "{args:?}");
    };
    let key = format!("net.ipv6.conf.{}.disable_ipv6=0", v.rx_if);
    ns(&["sysctl", "-qw", &key]);
    v.rx_ip(&["addr", "add", "10.213.9.1/24", "dev", &v.rx_if]);
    v.rx_ip(&["addr", "add", "fd00:213::9/64", "dev", &v.rx_if, "nodad"]);
    let cap = Capture::start(&v.rx, &["--iface", &v.rx_if, "--workers", "1"]);
    assert!(cap.wait_log("local networks", Duration::from_secs(5)));
    let start = cap
        .log()
        .into_iter()
        .find(|l| l.contains("local networks"))
        .unwrap();
    assert!(
        start.ends_with(
            "local networks: the private ranges and this box's 10.213.9.0/24, fd00:213::/64"
        ),
        "{start}"
    );
    cap.stop();

    let conf = dir.path("ringflow.toml");
    let check = |file: &str| {
        std::fs::write(&conf, file).unwrap();
        stdout_of(
            v.in_ns(&v.rx, bin())
                .args(["check-config", conf.to_str().unwrap()]),
        )
    };
    let iface = format!("iface = [\"{}\"]\n", v.rx_if);
    let own = check(&iface);
    assert!(
        own.contains(
            "local-networks = [\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\", \
             \"fc00::/7\", \"fe80::/10\", \"10.213.9.0/24\", \"fd00:213::/64\"]"
        ),
        "{own}"
    );
    let given = check(&format!("{iface}local-networks = [\"10.213.0.0/16\"]\n"));
    assert!(
        given.contains("local-networks = [\"10.213.0.0/16\"]\n"),
        "{given}"
    );
}

/// With no interface given, the one of the default route is taken: a run
/// says it captures there; `check-config` and `doctor`, which capture
/// nothing, do not say so (the effective settings say where it came from).
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn only_a_capture_says_it_captures_on_the_default_route_s_interface() {
    let _g = serial();
    let v = VethPair::new("route");
    // a route in a namespace nothing sends from
    v.rx_ip(&["route", "add", "default", "dev", "lo"]);
    let dir = TempDir::new("live-route");
    let conf = dir.path("ringflow.toml");
    std::fs::write(&conf, "workers = 1\n").unwrap();
    let said = |args: &[&str]| {
        let out = v.in_ns(&v.rx, bin()).args(args).output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (out, err) = said(&["check-config", conf.to_str().unwrap()]);
    assert!(!err.contains("capturing"), "{err}");
    assert!(
        out.contains("# iface: none given; the interface of the default route\niface = [\"lo\"]"),
        "{out}"
    );
    let (out, err) = said(&["doctor", "--workers", "1"]);
    assert!(
        !err.contains("capturing") && !out.contains("capturing"),
        "{out}{err}"
    );
    let cap = Capture::start(&v.rx, &["--workers", "1"]);
    assert!(
        cap.log()
            .iter()
            .any(|l| l == "ringflow: capturing on lo, the interface of the default route"),
        "{:?}",
        cap.log()
    );
    cap.stop();
}

/// One memory figure, computed in one place: the start line, the doctor
/// (for the same settings) and the API's status say the same.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn the_start_line_the_doctor_and_the_api_give_one_memory_figure() {
    let _g = serial();
    let v = VethPair::new("memory");
    let args = [
        "--iface",
        &v.rx_if,
        "--workers",
        "2",
        "--max-entries",
        "5000",
        "--dedup",
        "1ms",
    ];
    let cap = Capture::start(&v.rx, &args);
    let start = cap
        .log()
        .into_iter()
        .find(|l| l.contains("memory: "))
        .unwrap();
    let said = start.split("memory: ").nth(1).unwrap();
    let said = &said[..said.find(')').unwrap() + 1];
    assert!(
        said.contains(" MiB (rings ") && said.contains(", of which --dedup 128 KiB a worker"),
        "{said}"
    );
    let out = v
        .in_ns(&v.rx, bin())
        .arg("doctor")
        .args(args)
        .output()
        .unwrap();
    let doctor = String::from_utf8_lossy(&out.stdout);
    assert!(
        doctor
            .lines()
            .next()
            .unwrap()
            .ends_with(&format!("memory {said}")),
        "{doctor}"
    );
    let m = &cap.api("/api/v1/status")["collector"]["memory_bytes"];
    let total: u64 = ["capture", "shards", "collector"]
        .iter()
        .map(|k| m[k].as_u64().unwrap())
        .sum();
    assert!(
        said.starts_with(&format!("{} MiB (", total >> 20)),
        "{said} {m}"
    );
    cap.stop();
}
