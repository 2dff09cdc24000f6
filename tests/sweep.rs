//! The benchmark sweep: `tuning/sweep` on a tiny grid (root: it makes its
//! own network namespaces; `#[ignore]`d, run with --include-ignored), and
//! its report drawn from a CSV.

mod common;

use common::netns::{is_root, serial};
use common::*;
use std::path::Path;
use std::process::Command;

const REPORT: &str = env!("CARGO_BIN_EXE_ringflow-sweep-report");

fn report(dir: &Path) -> std::process::Output {
    Command::new(REPORT).arg(dir).output().unwrap()
}

fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n") && b.len() > 10_000)
}

/// Runs `tuning/sweep OUT` (in namespace `ns` if given) with the test
/// builds and `env`; its CSV once it succeeded.
fn sweep(ns: Option<&str>, out_dir: &Path, env: &[(&str, &str)]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/sweep");
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).arg(script);
            c
        }
        None => Command::new(script),
    };
    stdout_of(
        cmd.arg(out_dir)
            .envs(env.iter().copied())
            .env("RINGFLOW_BIN", bin())
            .env("REPORT_BIN", REPORT),
    );
    std::fs::read_to_string(out_dir.join("results.csv")).unwrap()
}

const HEADER: &str = "axis,value,tool,repeat,flows,frame,offered_pps,captured_pps,drops,captured,sent,cpu_ns_per_pkt,peak_mib,args";

#[test]
fn the_report_draws_each_axis_and_marks_the_best_setting() {
    let dir = TempDir::new("sweep-report");
    let rows = [
        "backend,af-packet,af-packet,1,65536,64,900000,700000,100,700000,900000,150.0,200.0,",
        "backend,af-packet,af-packet,2,65536,64,900000,720000,80,720000,900000,140.0,200.0,",
        "backend,tcpdump,tcpdump,1,65536,64,900000,600000,0,600000,900000,70.0,70.0,",
        "ring,8,af-packet,1,65536,64,900000,500000,5000,500000,900000,160.0,150.0,--block-count 8",
        "ring,32,af-packet,1,65536,64,900000,650000,900,650000,900000,150.0,170.0,--block-count 32",
        "ring,128,af-packet,1,65536,64,900000,800000,0,800000,900000,145.0,260.0,--block-count 128",
    ];
    std::fs::write(
        dir.path("results.csv"),
        format!("{HEADER}\n{}\n", rows.join("\n")),
    )
    .unwrap();
    std::fs::write(dir.path("meta.txt"), "kernel: test\n").unwrap();
    let out = report(dir.path("").as_path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for axis in ["backend", "ring"] {
        assert!(
            is_png(&dir.path(&format!("plots/{axis}.png"))),
            "{axis}.png"
        );
        let svg = std::fs::read_to_string(dir.path(&format!("plots/{axis}.svg"))).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("best"),
            "{axis}.svg"
        );
    }
    // the ring plot has no tcpdump run of its own: the baseline's is drawn
    let ring = std::fs::read_to_string(dir.path("plots/ring.svg")).unwrap();
    assert!(ring.contains("tcpdump (at the baseline)"));
    assert!(ring.contains("ring: best 128 (af-packet)"));
    let md = std::fs::read_to_string(dir.path("report.md")).unwrap();
    assert!(md.contains("- kernel: test"), "{md}");
    assert!(
        md.contains("| 128 **best** | af-packet | 0.800 | 0.0 | 145 | 1 |"),
        "{md}"
    );
    // medians of the repeats, drops as a share of what was seen
    assert!(
        md.contains("| af-packet **best** | af-packet | 0.710 (0.700–0.720) | 0.0 | 145 | 2 |"),
        "{md}"
    );
    assert!(
        md.contains("| 8 | af-packet | 0.500 | 1.0 | 160 | 1 |"),
        "{md}"
    );
    assert!(md.contains("tcpdump at the baseline: 0.600 Mpps"), "{md}");
    assert!(md.contains("![ring](plots/ring.png)"), "{md}");
}

#[test]
fn the_report_refuses_a_broken_csv_in_one_line() {
    let dir = TempDir::new("sweep-broken");
    std::fs::write(
        dir.path("results.csv"),
        format!("{HEADER}\nflows,1000,af-packet\n"),
    )
    .unwrap();
    let out = report(dir.path("").as_path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2: 3 fields, the header has 14"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = report(&dir.path("nowhere"));
    assert_eq!(out.status.code(), Some(1));
    let out = Command::new(REPORT).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 31's regression: an evenly paced load over a million flows,
/// received inline on the sender's core so the capture core runs the
/// capture alone, is captured whole by both backends: every frame sent is
/// counted and none is dropped, while each of the million flows is new to
/// the worker's table and to the collector.
#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn a_paced_load_over_a_million_flows_is_captured_without_a_drop() {
    let _g = serial();
    assert!(is_root(), "the sweep needs root");
    let dir = TempDir::new("sweep-paced");
    let out_dir = dir.path("out");
    let csv = sweep(
        None,
        &out_dir,
        &[
            ("AXES", "flows"),
            ("VALUES_flows", "1000000"),
            ("TOOLS", "af-xdp af-packet"),
            ("GEN", "xdp"),
            ("RATE", "100000"),
            ("PACKETS", "1000000"),
            ("DURATION", "30"),
            ("REPEAT", "1"),
            ("RECEIVE", "inline"),
        ],
    );
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{csv}");
    for r in &rows {
        let (tool, drops, captured, sent) = (r[2], r[8], r[9], r[10]);
        assert_eq!(sent, "1000000", "{r:?}");
        assert_eq!(drops, "0", "{tool} dropped: {r:?}");
        assert_eq!(captured, sent, "{tool} counted every frame: {r:?}");
        assert!(r[13].contains("--flow-table-size 1100000"), "{r:?}");
    }
    let meta = std::fs::read_to_string(out_dir.join("meta.txt")).unwrap();
    assert!(
        meta.contains("receive inline") && meta.contains("--rate 100000"),
        "{meta}"
    );
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn a_tiny_sweep_writes_its_csv_plots_and_report() {
    let _g = serial();
    assert!(is_root(), "the sweep needs root");
    let dir = TempDir::new("sweep-tiny");
    let out_dir = dir.path("out");
    let csv = sweep(None, &out_dir, &[("TINY", "1")]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(HEADER));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // backend: af-packet and tcpdump; flows 1000 and 4096 with af-packet,
    // af-xdp and tcpdump; two repeats each
    assert_eq!(rows.len(), 2 * 2 + 2 * 3 * 2, "{csv}");
    let count =
        |axis: &str, tool: &str| rows.iter().filter(|r| r[0] == axis && r[2] == tool).count();
    assert_eq!(count("backend", "af-packet"), 2);
    assert_eq!(count("backend", "tcpdump"), 2);
    assert_eq!(count("flows", "af-xdp"), 4);
    for r in &rows {
        let sent: u64 = r[10].parse().unwrap();
        let captured: u64 = r[9].parse().unwrap();
        assert_eq!(sent, 20_000, "{r:?}");
        assert!(captured > 0 && captured <= sent, "{r:?}");
        assert!(r[7].parse::<f64>().unwrap() > 0.0, "{r:?}");
        assert!(r[11].parse::<f64>().unwrap() > 0.0, "CPU per packet: {r:?}");
        if r[0] == "flows" {
            assert_eq!(r[1], r[4], "the flows column is the value: {r:?}");
        }
    }
    for axis in ["backend", "flows"] {
        assert!(is_png(&out_dir.join(format!("plots/{axis}.png"))), "{axis}");
    }
    let backend = std::fs::read_to_string(out_dir.join("plots/backend.svg")).unwrap();
    assert!(
        backend.contains("backend: best af-packet (af-packet)"),
        "{backend}"
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    // the backend is a setting with a best; flows are the load
    assert!(
        md.contains("## flows") && md.contains("**best** | "),
        "{md}"
    );
    let flows = std::fs::read_to_string(out_dir.join("plots/flows.svg")).unwrap();
    assert!(flows.contains("flows (the load)"));
    assert!(
        md.contains("path: a veth pair between two network namespaces"),
        "{md}"
    );
    // its namespaces are gone
    let ns = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&ns.stdout).contains("rfsweep"));
}

#[test]
fn the_sweep_refuses_an_unknown_setting_before_anything_runs() {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/sweep"))
        .env("AXES", "flows colour")
        .env("RINGFLOW_BIN", bin())
        .env("REPORT_BIN", REPORT)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown axis colour"), "{err}");
}

/// A namespace holding both ends of a veth pair, deleted on drop.
struct PairNs {
    name: String,
}

impl Drop for PairNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn between_two_named_interfaces_the_sweep_uses_them_as_they_are() {
    let _g = serial();
    assert!(is_root(), "the sweep needs root");
    let ns = PairNs {
        name: format!("rf-sweep-pair-{}", std::process::id()),
    };
    let sh = |args: &[&str]| stdout_of(Command::new("ip").args(args));
    sh(&["netns", "add", &ns.name]);
    sh(&[
        "-n", &ns.name, "link", "add", "rfpa", "type", "veth", "peer", "name", "rfpb",
    ]);
    for l in ["rfpa", "rfpb", "lo"] {
        sh(&["-n", &ns.name, "link", "set", l, "up"]);
    }
    let dir = TempDir::new("sweep-pair");
    let out_dir = dir.path("out");
    let csv = sweep(
        Some(&ns.name),
        &out_dir,
        &[
            ("TINY", "1"),
            ("AXES", "backend"),
            ("REPEAT", "1"),
            ("TX_IF", "rfpa"),
            ("RX_IF", "rfpb"),
        ],
    );
    let tools: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(tools, ["af-packet", "tcpdump"], "{csv}");
    let meta = std::fs::read_to_string(out_dir.join("meta.txt")).unwrap();
    assert!(
        meta.contains("path: sent out of rfpa, captured on rfpb"),
        "{meta}"
    );
    // it made no namespace of its own
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&list.stdout).contains("rfsweep"));
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn a_sweep_stopped_by_a_signal_leaves_no_namespace_or_capture_behind() {
    let _g = serial();
    assert!(is_root(), "the sweep needs root");
    let dir = TempDir::new("sweep-stopped");
    let out_dir = dir.path("out");
    let mut child = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/sweep"))
        .arg(&out_dir)
        .env("TINY", "1")
        .env("RINGFLOW_BIN", bin())
        .env("REPORT_BIN", REPORT)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // stop it once a run is done and the next has started
    let started = std::time::Instant::now();
    while std::fs::read_to_string(out_dir.join("results.csv"))
        .map(|c| c.lines().count() < 2)
        .unwrap_or(true)
    {
        assert!(started.elapsed().as_secs() < 60, "no run finished");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "stopped, not finished");
    let list = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(!list.contains(&format!("rfsweep-rx-{pid}")), "{list}");
    assert!(!list.contains(&format!("rfsweep-tx-{pid}")), "{list}");
    // the kernel takes down the veth (and its NAPI thread) a moment after
    // its namespace goes
    let left = || {
        let out = Command::new("pgrep")
            .args(["-af", &format!("rfsr{pid}")])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let gone = std::time::Instant::now();
    while !left().is_empty() && gone.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(left(), "", "left running");
}
