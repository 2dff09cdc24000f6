//! Volume alerts end to end: synthetic captures written here, replayed
//! with limits, and the alert log and the alert families compared with
//! what the test knows it wrote. Replay follows the capture's timestamps,
//! so the alerts do not depend on the worker count or the speed.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;

/// Capture time of the first interval (a multiple of 10 s).
const T0: u64 = 1_700_000_000;

/// A record of `frame` at `t` seconds after T0 (plus `ns`).
fn rec(t: u64, ns: u64, frame: Vec<u8>) -> Rec {
    Rec {
        ts_ns: (T0 + t) * 1_000_000_000 + ns,
        frame,
        caplen: None,
    }
}

/// One 1000-byte UDP frame from `src` to `dst` at `t` seconds after T0
/// (plus `ns`), IPv4 or IPv6 by the addresses' form, VLAN-tagged with `vlan`.
fn frame(src: &str, dst: &str, t: u64, ns: u64, vlan: Option<u16>) -> Rec {
    let tags: Vec<(u16, u16)> = vlan.map(|v| (0x8100, v)).into_iter().collect();
    let l2 = 14 + 4 * tags.len();
    let frame = if src.contains(':') {
        let a = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let udp = synth::udp(40000, 5201, 1000 - l2 - 40 - 8);
        synth::ethernet(&tags, 0x86dd, &synth::ipv6(a(src), a(dst), 17, &[], &udp))
    } else {
        let a = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap().octets();
        let udp = synth::udp(40000, 5201, 1000 - l2 - 20 - 8);
        synth::ethernet(
            &tags,
            0x0800,
            &synth::ipv4(a(src), a(dst), 17, (false, 0), &udp),
        )
    };
    assert_eq!(frame.len(), 1000);
    rec(t, ns, frame)
}

/// `n` frames from `src` to `dst` spread over the 10 s interval starting
/// at `t` seconds.
fn burst(recs: &mut Vec<Rec>, src: &str, dst: &str, t: u64, n: u64, vlan: Option<u16>) {
    for i in 0..n {
        recs.push(frame(src, dst, t, i * (9_000_000_000 / n.max(1)), vlan));
    }
}

/// Replays `recs` (sorted by time) with the limits `args` and returns the
/// events of the alert log, parsed, and the exposition.
fn replay_alerts(dir: &TempDir, recs: &mut [Rec], args: &[&str]) -> (Vec<Value>, String) {
    recs.sort_by_key(|r| r.ts_ns);
    let pcap = dir.path("alerts.pcap");
    write_pcap(&pcap, 1, true, recs);
    let log = dir.path(&format!("alerts-{}.jsonl", args.join("_").replace('/', "")));
    let log_arg = log.to_str().unwrap().to_string();
    let text = replay(&[&pcap], &[args, &["--alert-log", &log_arg]].concat());
    let events = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (events, text)
}

/// (event, kind, ip, direction, time) of each event.
fn summary(events: &[Value]) -> BTreeSet<(String, String, String, String, String)> {
    events
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("event"), s("kind"), s("ip"), s("direction"), s("time"))
        })
        .collect()
}

fn at(t: u64) -> String {
    ringflow::detect::rfc3339((T0 + t) * 1_000_000_000)
}

fn set(
    items: &[(&str, &str, &str, &str, u64)],
) -> BTreeSet<(String, String, String, String, String)> {
    items
        .iter()
        .map(|(e, k, ip, d, t)| {
            (
                e.to_string(),
                k.to_string(),
                ip.to_string(),
                d.to_string(),
                at(*t),
            )
        })
        .collect()
}

/// A byte limit of 100000 over 10 s intervals.
const BYTES_100K: [&str; 4] = ["--alert-interval", "10s", "--alert-bytes", "100000"];

/// 10.1.0.1 at twice the byte limit in the first interval, then a
/// bystander's packet two intervals later: one alert, started and ended.
fn over_then_quiet() -> Vec<Rec> {
    let mut recs = Vec::new();
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 0, 200, None);
    burst(&mut recs, "10.1.0.2", "198.51.100.2", 25, 1, None);
    recs
}

const LIMITS: [&str; 6] = [
    "--alert-interval",
    "10s",
    "--alert-bytes",
    "100K",
    "--alert-packets",
    "150",
];

#[test]
fn offenders_alert_bystanders_do_not_and_the_boundary_is_strict() {
    let dir = TempDir::new("detect");
    let mut recs = Vec::new();
    // interval 0: 10.1.0.1 sends twice the byte limit (and 200 packets);
    // fd00::1 receives twice the byte limit, tagged; 10.1.0.2 sends half
    // of it; 10.1.0.3 exactly the limit; 10.1.0.4 one packet more
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 0, 200, None);
    burst(&mut recs, "2001:db8::1", "fd00::1", 0, 200, Some(7));
    burst(&mut recs, "10.1.0.2", "198.51.100.2", 0, 50, None);
    burst(&mut recs, "10.1.0.3", "198.51.100.3", 0, 100, None);
    burst(&mut recs, "10.1.0.4", "198.51.100.4", 0, 101, None);
    // interval 1: nothing from them; interval 2: a bystander's packet
    burst(&mut recs, "10.1.0.2", "198.51.100.2", 25, 1, None);
    let (events, text) = replay_alerts(&dir, &mut recs, &LIMITS);
    let want = set(&[
        ("start", "bytes", "10.1.0.1", "out", 10),
        ("start", "packets", "10.1.0.1", "out", 10),
        ("start", "bytes", "fd00::1", "in", 10),
        ("start", "packets", "fd00::1", "in", 10),
        ("start", "bytes", "10.1.0.4", "out", 10),
        // a whole interval at or below the limit ends them
        ("end", "bytes", "10.1.0.1", "out", 20),
        ("end", "packets", "10.1.0.1", "out", 20),
        ("end", "bytes", "fd00::1", "in", 20),
        ("end", "packets", "fd00::1", "in", 20),
        ("end", "bytes", "10.1.0.4", "out", 20),
    ]);
    assert_eq!(summary(&events), want, "{events:#?}");

    // the evidence and the numbers of an alert
    let a = events
        .iter()
        .find(|e| e["event"] == "start" && e["kind"] == "bytes" && e["ip"] == "10.1.0.1")
        .unwrap();
    assert_eq!(a["value"], 200_000.0);
    assert_eq!(a["threshold"], 100_000);
    assert_eq!(a["interval_seconds"], 10.0);
    assert_eq!(a["start"], at(10));
    let peer = &a["peers"][0];
    assert_eq!(
        (
            peer["ip"].as_str(),
            peer["proto"].as_str(),
            peer["port"].as_u64()
        ),
        (Some("198.51.100.1"), Some("udp"), Some(5201))
    );
    assert_eq!(peer["bytes"], 200_000);
    let end = events
        .iter()
        .find(|e| e["event"] == "end" && e["ip"] == "10.1.0.1" && e["kind"] == "bytes")
        .unwrap();
    assert_eq!(end["id"], a["id"]);
    assert_eq!(end["end"], at(20));

    let m = parse_exposition(&text);
    let started = family(&m, "ringflow_alerts_total");
    let n = |k: &str, d: &str| started[&vec![k.to_string(), d.to_string(), String::new()]];
    assert_eq!((n("bytes", "out"), n("bytes", "in")), (2, 1));
    assert_eq!((n("packets", "out"), n("packets", "in")), (1, 1));
    assert_eq!((n("bps", "out"), n("pps", "in")), (0, 0));
    assert!(family(&m, "ringflow_alert_active").is_empty(), "all ended");
    assert_eq!(family(&m, "ringflow_alerts_suppressed_total")[&vec![]], 0);
}

#[test]
fn an_alert_lasts_while_its_intervals_are_over_and_updates_as_it_rises() {
    let dir = TempDir::new("detect-update");
    let mut recs = Vec::new();
    // over in intervals 0 and 1 (rising), at the limit in 2, silent after
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 0, 120, None);
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 10, 180, None);
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 20, 100, None);
    burst(&mut recs, "10.1.0.2", "198.51.100.2", 30, 1, None);
    let (events, _) = replay_alerts(&dir, &mut recs, &BYTES_100K);
    let want = set(&[
        ("start", "bytes", "10.1.0.1", "out", 10),
        ("update", "bytes", "10.1.0.1", "out", 20),
        ("end", "bytes", "10.1.0.1", "out", 30),
    ]);
    assert_eq!(summary(&events), want, "{events:#?}");
    let update = events.iter().find(|e| e["event"] == "update").unwrap();
    assert_eq!(update["value"], 180_000.0);
}

#[test]
fn rates_are_averaged_over_the_interval() {
    let dir = TempDir::new("detect-rates");
    let mut recs = Vec::new();
    // 100 packets of 1000 bytes in 10 s: 10 pps and 80 kbit/s
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 0, 100, None);
    burst(&mut recs, "10.1.0.2", "198.51.100.2", 0, 101, None);
    burst(&mut recs, "10.1.0.2", "198.51.100.2", 15, 1, None);
    let (events, _) = replay_alerts(
        &dir,
        &mut recs,
        &[
            "--alert-interval",
            "10s",
            "--alert-pps",
            "10",
            "--alert-bps",
            "80k",
        ],
    );
    let starts: BTreeSet<(String, String)> = events
        .iter()
        .filter(|e| e["event"] == "start")
        .map(|e| {
            (
                e["kind"].as_str().unwrap().into(),
                e["ip"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String)> = [("bps", "10.1.0.2"), ("pps", "10.1.0.2")]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(starts, want, "{events:#?}");
}

#[test]
fn the_same_alerts_whatever_the_workers_and_the_speed() {
    let dir = TempDir::new("detect-workers");
    let mut recs = Vec::new();
    for i in 0..40u64 {
        let host = format!("10.2.{}.{}", i / 200, i % 200 + 1);
        // every fourth host over the limit in its interval
        let n = if i % 4 == 0 { 150 } else { 60 };
        burst(&mut recs, &host, "198.51.100.9", (i % 5) * 10, n, None);
    }
    burst(&mut recs, "10.9.0.1", "198.51.100.9", 70, 1, None);
    let base = BYTES_100K;
    let (one, _) = replay_alerts(&dir, &mut recs, &base);
    assert_eq!(one.iter().filter(|e| e["event"] == "start").count(), 10);
    for args in [
        ["--workers", "2", "--refresh", "20ms", "--batch", "32"],
        ["--workers", "3", "--refresh", "10ms", "--batch", "7"],
    ] {
        let (other, _) = replay_alerts(&dir, &mut recs, &[&base[..], &args[..]].concat());
        assert_eq!(summary(&other), summary(&one), "{args:?}");
    }
}

#[test]
fn bad_limits_are_one_line_errors() {
    let dir = TempDir::new("detect-bad");
    let pcap = mix_file(&dir, "m.pcap", &synth::Mix::default());
    for (args, msg) in [
        (
            vec!["--alert-bytes", "lots"],
            "--alert-bytes: bad size 'lots'",
        ),
        (vec!["--alert-bps=-1M"], "--alert-bps: bad size '-1M'"),
        (
            vec!["--alert-interval", "10ms"],
            "--alert-interval must be at least 100ms",
        ),
        (
            vec!["--max-alerts", "0"],
            "--max-alerts 0 must be between 1 and 1000000",
        ),
    ] {
        let out = run(&[&["replay", pcap.to_str().unwrap()], &args[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(msg), "{args:?}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.contains("error")).count(),
            1,
            "{err}"
        );
    }
}

/// A SYN (or, with `flags`, another TCP segment) from `src` to
/// `dst`:`port` at `t` seconds after T0 (plus `ns`).
fn tcp(src: [u8; 4], dst: [u8; 4], port: u16, flags: u8, t: u64, ns: u64) -> Rec {
    let seg = synth::tcp(40000, port, flags, 0);
    rec(
        t,
        ns,
        synth::ethernet(&[], 0x0800, &synth::ipv4(src, dst, 6, (false, 0), &seg)),
    )
}

const SCANS: [&str; 6] = [
    "--scan-hosts",
    "5",
    "--scan-ports",
    "5",
    "--scan-interval",
    "10s",
];

#[test]
fn scans_alert_one_past_their_limit_and_end_after_a_quiet_interval() {
    use synth::tcp_flags::{PSH_ACK, SYN, SYN_ACK};
    let dir = TempDir::new("detect-scan");
    let mut recs = Vec::new();
    let (scanner, near, sweeper, quiet) = (
        [198, 51, 100, 66],
        [198, 51, 100, 67],
        [10, 3, 0, 9],
        [10, 3, 0, 10],
    );
    for i in 0..6u8 {
        // 6 hosts on one port: a network scan (limit 5)
        recs.push(tcp(scanner, [10, 4, 0, i], 22, SYN, 1, u64::from(i)));
        // 6 ports of one host: a port scan
        recs.push(tcp(
            sweeper,
            [10, 4, 1, 1],
            1000 + u16::from(i),
            SYN,
            2,
            u64::from(i),
        ));
    }
    for i in 0..5u8 {
        // exactly 5 hosts, and 5 ports of one of them: no alert
        recs.push(tcp(near, [10, 4, 2, i], 80, SYN, 3, u64::from(i)));
        if i < 4 {
            recs.push(tcp(
                near,
                [10, 4, 2, 0],
                2000 + u16::from(i),
                SYN,
                3,
                100 + u64::from(i),
            ));
        }
        // mid-stream segments and answers open nothing
        recs.push(tcp(quiet, [10, 4, 4, i], 443, PSH_ACK, 4, u64::from(i)));
        recs.push(tcp(
            [10, 4, 5, i],
            quiet,
            3000 + u16::from(i),
            SYN_ACK,
            4,
            9 + u64::from(i),
        ));
        recs.push(tcp(
            quiet,
            [10, 4, 6, 1],
            4000 + u16::from(i),
            PSH_ACK,
            4,
            99 + u64::from(i),
        ));
    }
    recs.push(tcp(quiet, [10, 4, 7, 1], 80, PSH_ACK, 4, 999));
    // the scanner goes on in the next interval, the sweeper stops; a
    // packet in the interval after that closes both
    for i in 0..6u8 {
        recs.push(tcp(scanner, [10, 4, 8, i], 22, SYN, 11, u64::from(i)));
    }
    recs.push(tcp(quiet, [10, 4, 7, 1], 80, PSH_ACK, 25, 0));
    let (events, text) = replay_alerts(&dir, &mut recs, &SCANS);
    let want = set(&[
        ("start", "network_scan", "198.51.100.66", "", 10),
        ("start", "port_scan", "10.3.0.9", "", 10),
        ("end", "port_scan", "10.3.0.9", "", 20),
        ("end", "network_scan", "198.51.100.66", "", 30),
    ]);
    assert_eq!(summary(&events), want, "{events:#?}");
    let start = events
        .iter()
        .find(|e| e["kind"] == "network_scan" && e["event"] == "start")
        .unwrap();
    assert_eq!(
        (start["value"].as_f64(), start["threshold"].as_u64()),
        (Some(6.0), Some(5))
    );
    assert_eq!(start["peers"].as_array().unwrap().len(), 6);
    assert_eq!(start["peers"][0]["port"], 22);
    let m = parse_exposition(&text);
    let started = family(&m, "ringflow_alerts_total");
    let n = |k: &str| started[&vec![k.to_string(), String::new(), String::new()]];
    assert_eq!((n("network_scan"), n("port_scan")), (1, 1));
}

#[test]
fn ignored_sources_icmp_echo_and_ipv6() {
    let dir = TempDir::new("detect-scan-icmp");
    let mut recs = Vec::new();
    let pinger = [10, 5, 0, 1];
    let resolver = [10, 5, 0, 53];
    for i in 0..6u8 {
        // echo requests to 6 hosts: a network scan
        let ping = synth::ipv4(pinger, [10, 6, 0, i], 1, (false, 0), &synth::icmp(8, 0, 8));
        recs.push(rec(1, u64::from(i), synth::ethernet(&[], 0x0800, &ping)));
        // echo replies open nothing
        let pong = synth::ipv4(
            [10, 6, 1, i],
            [10, 5, 0, 2],
            1,
            (false, 0),
            &synth::icmp(0, 0, 8),
        );
        recs.push(rec(2, u64::from(i), synth::ethernet(&[], 0x0800, &pong)));
        // a resolver asking 6 servers is ignored
        let udp = synth::udp(5353, 53, 20);
        let ask = synth::ipv4(resolver, [10, 7, 0, i], 17, (false, 0), &udp);
        recs.push(rec(3, u64::from(i), synth::ethernet(&[], 0x0800, &ask)));
    }
    // an IPv6 source, VLAN-tagged, sweeping 6 ports of one host: a port scan
    for i in 0..6u16 {
        let a = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let seg = synth::tcp(40000, 3000 + i, synth::tcp_flags::SYN, 0);
        let ip = synth::ipv6(a("2001:db8::66"), a("fd00::5"), 6, &[], &seg);
        recs.push(rec(
            4,
            u64::from(i),
            synth::ethernet(&[(0x8100, 42)], 0x86dd, &ip),
        ));
    }
    let args = [&SCANS[..], &["--scan-ignore", "10.5.0.53/32"]].concat();
    let (events, _) = replay_alerts(&dir, &mut recs, &args);
    let want = set(&[
        ("start", "network_scan", "10.5.0.1", "", 10),
        ("start", "port_scan", "2001:db8::66", "", 10),
    ]);
    assert_eq!(summary(&events), want, "{events:#?}");
    // without the ignore list the resolver is flagged too
    let (events, _) = replay_alerts(&dir, &mut recs, &SCANS);
    assert_eq!(events.len(), 3, "{events:#?}");
}

/// A webhook receiver on loopback: answers 200 to every POST (or 500 to
/// the first `fail` of them) and keeps the bodies.
fn webhook_server(fail: usize) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    std::thread::spawn(move || {
        let mut seen = 0;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            seen += 1;
            let status = if seen <= fail {
                "500 Internal Server Error"
            } else {
                kept.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                "200 OK"
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (format!("http://{addr}/hook"), bodies)
}

#[test]
fn events_go_to_a_webhook_and_a_command_as_to_the_log() {
    let dir = TempDir::new("detect-outputs");
    let mut recs = over_then_quiet();
    // the first POST fails: it is retried
    let (url, bodies) = webhook_server(1);
    let out = dir.path("exec-out");
    std::fs::create_dir_all(&out).unwrap();
    let script = script(
        &dir,
        "notify.sh",
        &format!(
            "f={}/$4-$3-$1\necho \"$1 $2 $3 $4\" > \"$f\"\ncat >> \"$f\"\n",
            out.display()
        ),
    );
    let (events, text) = replay_alerts(
        &dir,
        &mut recs,
        &[
            &BYTES_100K[..],
            &[
                "--alert-webhook",
                &url,
                "--alert-exec",
                script.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    assert_eq!(events.len(), 2, "a start and an end: {events:#?}");
    let posted: Vec<Value> = bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    assert_eq!(posted, events, "the webhook got what the log got");
    for (event, e) in ["start", "end"].iter().zip(&events) {
        let f = std::fs::read_to_string(out.join(format!("{event}-bytes-10.1.0.1"))).unwrap();
        let (args, json) = f.split_once('\n').unwrap();
        assert_eq!(args, format!("10.1.0.1 out bytes {event}"));
        assert_eq!(&serde_json::from_str::<Value>(json).unwrap(), e);
    }
    let m = parse_exposition(&text);
    let d = family(&m, "ringflow_alert_deliveries_total");
    let n = |t: &str, r: &str| d[&vec![t.to_string(), r.to_string()]];
    assert_eq!(
        (n("log", "ok"), n("webhook", "ok"), n("exec", "ok")),
        (2, 2, 2)
    );
    assert_eq!((n("webhook", "failed"), n("webhook", "dropped")), (0, 0));
}

#[test]
fn a_failing_webhook_is_counted_and_blocks_nothing() {
    let dir = TempDir::new("detect-webhook-down");
    let mut recs = over_then_quiet();
    // a port nothing listens on
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/hook");
    let (events, text) = replay_alerts(
        &dir,
        &mut recs,
        &[&BYTES_100K[..], &["--alert-webhook", &url]].concat(),
    );
    assert_eq!(events.len(), 2, "the log still gets every event");
    let m = parse_exposition(&text);
    let d = family(&m, "ringflow_alert_deliveries_total");
    assert_eq!(d[&vec!["webhook".to_string(), "failed".to_string()]], 2);
    // an https URL is refused at start
    let out = run(&[
        "replay",
        dir.path("alerts.pcap").to_str().unwrap(),
        "--alert-webhook",
        "https://example.invalid/hook",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("only http:// URLs are supported"), "{err}");
}

#[test]
#[ignore = "needs prometheus-alertmanager (apt-get install prometheus-alertmanager); run with --include-ignored"]
fn alerts_reach_a_real_alertmanager_and_resolve() {
    let bin = tool("prometheus-alertmanager", "prometheus-alertmanager");
    let dir = TempDir::new("detect-am");
    let config = dir.path("am.yml");
    std::fs::write(
        &config,
        "route:\n  receiver: none\nreceivers:\n  - name: none\n",
    )
    .unwrap();
    let port = free_port();
    // Debian's Alertmanager on loopback, with its own data directory
    let am_url = format!("127.0.0.1:{port}");
    let _am = KillOnDrop(
        std::process::Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.path("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.path("am.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let get = |path: &str| -> Option<Value> {
        std::net::TcpStream::connect(&am_url).ok()?;
        let r = http_get_with(&am_url, path, &[]);
        (r.status == 200).then(|| serde_json::from_slice(&r.body).ok())?
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while get("/api/v2/status").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "Alertmanager did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // 10.1.0.1 is over in the first interval and quiet after (resolved);
    // 10.1.0.5 is over in the last one (still active)
    let mut recs = Vec::new();
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 0, 200, None);
    burst(&mut recs, "10.1.0.5", "198.51.100.5", 20, 200, None);
    let url = format!("http://{am_url}");
    let (events, text) = replay_alerts(
        &dir,
        &mut recs,
        &[&BYTES_100K[..], &["--alertmanager", &url]].concat(),
    );
    assert_eq!(events.len(), 3, "{events:#?}");
    let m = parse_exposition(&text);
    let d = family(&m, "ringflow_alert_deliveries_total");
    assert_eq!(d[&vec!["alertmanager".to_string(), "ok".to_string()]], 3);
    let mut alerts = Value::Null;
    while std::time::Instant::now() < deadline {
        alerts = get("/api/v2/alerts").unwrap_or(Value::Null);
        if alerts.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let alerts = alerts.as_array().expect("alerts").clone();
    assert_eq!(alerts.len(), 1, "only the active one: {alerts:#?}");
    let labels = &alerts[0]["labels"];
    assert_eq!(labels["alertname"], "ringflow_bytes");
    assert_eq!(labels["ip"], "10.1.0.5");
    assert_eq!(
        (labels["kind"].as_str(), labels["direction"].as_str()),
        (Some("bytes"), Some("out"))
    );
    assert!(labels["instance"].as_str().is_some_and(|i| !i.is_empty()));
    assert!(
        alerts[0]["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("10.1.0.5")
    );
    assert_eq!(alerts[0]["status"]["state"], "active");
}

#[test]
fn new_flows_count_conversations_opened_each_way() {
    let dir = TempDir::new("detect-new-flows");
    let mut recs = Vec::new();
    for i in 1..=6u64 {
        // 10.1.0.1 opens 6 conversations, 10.1.0.2 five; 10.1.0.9 is
        // opened to by 6 outside clients
        recs.push(frame("10.1.0.1", &format!("198.51.100.{i}"), 1, i, None));
        if i <= 5 {
            recs.push(frame("10.1.0.2", &format!("198.51.100.{i}"), 2, i, None));
        }
        recs.push(frame(&format!("203.0.113.{i}"), "10.1.0.9", 3, i, None));
        // answers (5201 -> 40000) open nothing
        let a = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap().octets();
        let udp = synth::udp(5201, 40000, 100);
        let ip = synth::ipv4(
            a("10.1.0.9"),
            a(&format!("203.0.113.{i}")),
            17,
            (false, 0),
            &udp,
        );
        recs.push(rec(4, i, synth::ethernet(&[], 0x0800, &ip)));
    }
    recs.push(frame("10.1.0.2", "198.51.100.1", 25, 0, None));
    let (events, _) = replay_alerts(
        &dir,
        &mut recs,
        &["--alert-interval", "10s", "--alert-new-flows", "5"],
    );
    let want = set(&[
        ("start", "new_flows", "10.1.0.1", "out", 10),
        ("start", "new_flows", "10.1.0.9", "in", 10),
        ("end", "new_flows", "10.1.0.1", "out", 20),
        ("end", "new_flows", "10.1.0.9", "in", 20),
    ]);
    assert_eq!(summary(&events), want, "{events:#?}");
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "start")
            .all(|e| e["value"] == 6.0)
    );
}

#[test]
fn host_groups_take_the_longest_prefix_and_whitelist() {
    let dir = TempDir::new("detect-groups");
    let config = dir.path("groups.toml");
    std::fs::write(
        &config,
        "alert-interval = \"10s\"\nalert-bytes = \"100K\"\n\n\
         [[alert-group]]\nname = \"servers\"\nnetworks = [\"10.1.0.0/24\", \"fd00:1::/64\"]\n\
         alert-bytes = \"1M\"\n\n\
         [[alert-group]]\nname = \"lab\"\nnetworks = [\"10.1.0.0/16\"]\nalert = false\n",
    )
    .unwrap();
    let mut recs = Vec::new();
    // a server at twice the global limit but under its group's: quiet
    burst(&mut recs, "10.1.0.1", "198.51.100.1", 0, 200, None);
    // a server over its group's limit: an alert of the group
    burst(&mut recs, "10.1.0.9", "198.51.100.9", 0, 1100, None);
    // the lab never alerts
    burst(&mut recs, "10.1.5.1", "198.51.100.5", 0, 2000, None);
    // outside every group: the global limit
    burst(&mut recs, "10.2.0.1", "198.51.100.2", 0, 200, None);
    burst(&mut recs, "10.2.0.1", "198.51.100.2", 25, 1, None);
    let cfg = config.to_str().unwrap().to_string();
    let (events, text) = replay_alerts(&dir, &mut recs, &["--config", &cfg]);
    let starts: BTreeSet<(String, String, u64)> = events
        .iter()
        .filter(|e| e["event"] == "start")
        .map(|e| {
            (
                e["ip"].as_str().unwrap().to_string(),
                e["group"].as_str().unwrap().to_string(),
                e["threshold"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: BTreeSet<(String, String, u64)> = [
        ("10.1.0.9".to_string(), "servers".to_string(), 1_000_000),
        ("10.2.0.1".to_string(), String::new(), 100_000),
    ]
    .into_iter()
    .collect();
    assert_eq!(starts, want, "{events:#?}");
    let m = parse_exposition(&text);
    let started = family(&m, "ringflow_alerts_total");
    let n = |g: &str| started[&vec!["bytes".to_string(), "out".to_string(), g.to_string()]];
    assert_eq!((n(""), n("servers"), n("lab")), (1, 1, 0));
    // a flag still wins over the file
    let (events, _) = replay_alerts(&dir, &mut recs, &["--config", &cfg, "--alert-bytes", "10M"]);
    let starts: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "start")
        .map(|e| e["ip"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        ["10.1.0.9"],
        "10.2.0.1 is under 10M now: {events:#?}"
    );
}

#[test]
fn bad_groups_are_one_line_errors() {
    let dir = TempDir::new("detect-bad-groups");
    let pcap = mix_file(&dir, "m.pcap", &synth::Mix::default());
    for (text, msg) in [
        (
            "[[alert-group]]\nname = \"a\"\nnetworks = [\"10.0.0.0/8\"]\nalert-byte = 5\n",
            "unknown field `alert-byte`",
        ),
        (
            "[[alert-group]]\nname = \"a\"\nnetworks = []\n",
            "alert-group 'a': networks is empty",
        ),
        (
            "[[alert-group]]\nname = \"a\"\nnetworks = [\"10.0.0.1/8\"]\n",
            "alert-group 'a': ",
        ),
        (
            "[[alert-group]]\nname = \"a\"\nnetworks = [\"10.0.0.0/8\"]\nalert-bytes = \"x\"\n",
            "alert-group 'a': bad size 'x'",
        ),
        (
            "[[alert-group]]\nname = \"a\"\nnetworks = [\"10.0.0.0/8\"]\n[[alert-group]]\nname = \"a\"\nnetworks = [\"10.0.0.0/9\"]\n",
            "alert-group 'a': a second group of that name",
        ),
    ] {
        let config = dir.path("bad.toml");
        std::fs::write(&config, text).unwrap();
        let out = run(&[
            "replay",
            pcap.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(msg), "{text}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.contains("error")).count(),
            1,
            "{err}"
        );
    }
}

#[test]
fn a_notify_command_that_hangs_is_killed_after_ten_seconds_and_counted() {
    let dir = TempDir::new("detect-exec-hang");
    let mut recs = over_then_quiet();
    let out = dir.path("ran");
    std::fs::create_dir_all(&out).unwrap();
    let script = script(
        &dir,
        "hang.sh",
        &format!("touch {0}/$4\nsleep 30\ntouch {0}/$4-done\n", out.display()),
    );
    let started = std::time::Instant::now();
    let (events, text) = replay_alerts(
        &dir,
        &mut recs,
        &[&BYTES_100K[..], &["--alert-exec", script.to_str().unwrap()]].concat(),
    );
    let took = started.elapsed();
    assert_eq!(events.len(), 2);
    assert!(out.join("start").exists() && out.join("end").exists());
    assert!(
        !out.join("start-done").exists(),
        "killed before it finished"
    );
    assert!(
        took >= std::time::Duration::from_secs(10) && took < std::time::Duration::from_secs(25),
        "{took:?}"
    );
    let m = parse_exposition(&text);
    let d = family(&m, "ringflow_alert_deliveries_total");
    assert_eq!(d[&vec!["exec".to_string(), "failed".to_string()]], 2);
}

/// The alert log's disk full (`/dev/full` answers every write with
/// ENOSPC): every failed write is counted, one line says so, and the
/// counts are exactly those of the same replay with a log that works.
#[test]
fn a_full_disk_under_the_alert_log_is_counted_and_changes_no_count() {
    let dir = TempDir::new("alert-full");
    let recs = over_then_quiet();
    let file = dir.path("over.pcap");
    write_pcap(&file, 1, false, &recs);
    let ok_log = dir.path("alerts.jsonl");
    let args = ["--alert-bytes", "1K", "--alert-interval", "10s"];
    let good = std::process::Command::new(bin())
        .arg("replay")
        .arg(&file)
        .args(args)
        .args(["--alert-log", ok_log.to_str().unwrap(), "--print"])
        .output()
        .unwrap();
    assert!(good.status.success());
    let full = std::process::Command::new(bin())
        .arg("replay")
        .arg(&file)
        .args(args)
        .args(["--alert-log", "/dev/full", "--print"])
        .output()
        .unwrap();
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let events = std::fs::read_to_string(&ok_log).unwrap().lines().count() as u64;
    assert!(events > 0);
    let (good, full_text) = (
        String::from_utf8(good.stdout).unwrap(),
        String::from_utf8(full.stdout).unwrap(),
    );
    let deliveries = |text: &str, result: &str| {
        family(&parse_exposition(text), "ringflow_alert_deliveries_total")
            [&vec!["log".to_string(), result.to_string()]]
    };
    assert_eq!(deliveries(&good, "ok"), events);
    assert_eq!(deliveries(&full_text, "failed"), events);
    assert_eq!(deliveries(&full_text, "ok"), 0);
    let stderr = String::from_utf8_lossy(&full.stderr);
    assert_eq!(
        stderr.matches("cannot write the alert log").count(),
        1,
        "{stderr}"
    );
    // everything but the deliveries is the same
    let without = |t: &str| {
        without_run_specific(t)
            .lines()
            .filter(|l| !l.contains("ringflow_alert_deliveries_total"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_same_exposition(&without(&good), &without(&full_text), "log full or not");
}

/// Many hosts near a low limit over 150 s of capture time: the alert
/// events (all but their ids) are the same with 1, 2 and 3 workers, and
/// the same in repeated runs. A worker that has handed over at an interval
/// boundary while another has not must not have its next packets counted
/// in the interval that ends there (they used to be, now and then, with
/// more than one worker: hundreds of alerts that 1 worker did not raise).
#[test]
fn alerts_do_not_depend_on_the_worker_count_or_the_run() {
    let dir = TempDir::new("detect-workers");
    let mix = synth::Mix {
        flows: 400,
        packets: 30_000,
        ipv6_percent: 30,
        vlan_percent: 20,
        ..synth::Mix::default()
    };
    let mut recs = Vec::new();
    let mut ts = T0 * 1_000_000_000;
    mix.for_each_frame(|_, _, f| {
        recs.push(Rec {
            ts_ns: ts,
            frame: f.to_vec(),
            caplen: None,
        });
        ts += 5_000_000;
    });
    let args = ["--alert-interval", "10s", "--alert-packets", "3"];
    let without_ids = |events: &[Value]| -> BTreeSet<String> {
        events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.as_object_mut().unwrap().remove("id");
                e.to_string()
            })
            .collect()
    };
    let (one, _) = replay_alerts(&dir, &mut recs, &[&args[..], &["--workers", "1"]].concat());
    let want = without_ids(&one);
    assert!(
        want.len() > 100,
        "the limit is near many hosts' traffic: {}",
        want.len()
    );
    for workers in ["2", "3", "2", "3"] {
        let (got, _) = replay_alerts(
            &dir,
            &mut recs,
            &[&args[..], &["--workers", workers]].concat(),
        );
        assert_eq!(without_ids(&got), want, "{workers} workers");
    }
}
