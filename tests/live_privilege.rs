//! ringflow without root: run as an unprivileged user holding exactly the
//! capabilities the shipped systemd unit grants (read from
//! `contrib/systemd/`), it captures exactly with AF_PACKET and AF_XDP;
//! with any one of them missing it refuses to start in one line that
//! names it, exit 2; and every system call and socket family it uses is
//! one the unit allows. Needs root to set this up: `#[ignore]`d, run with
//! `cargo test -- --include-ignored`.

mod common;

use common::netns::{Capture, MIX, VethPair, serial, total, truth_per_pair};
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// The user the tests run ringflow as.
const NOBODY: &str = "65534";

fn unit_file(name: &str) -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib/systemd")
            .join(name),
    )
    .unwrap()
}

/// The values of `key=` lines in a unit file, split on spaces.
fn unit_values(text: &str, key: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .flat_map(|v| v.split_whitespace().map(str::to_string))
        .collect()
}

/// The capabilities the unit grants: AF_PACKET as shipped, AF_XDP with
/// its drop-in.
fn unit_caps(xdp: bool) -> Vec<String> {
    let mut caps = unit_values(&unit_file("ringflow.service"), "AmbientCapabilities");
    if xdp {
        caps.extend(unit_values(
            &unit_file("ringflow.service.d/af-xdp.conf"),
            "AmbientCapabilities",
        ));
    }
    // the bounding set is the same list
    let mut bounding = unit_values(&unit_file("ringflow.service"), "CapabilityBoundingSet");
    if xdp {
        bounding.extend(unit_values(
            &unit_file("ringflow.service.d/af-xdp.conf"),
            "CapabilityBoundingSet",
        ));
    }
    assert_eq!(caps, bounding, "ambient and bounding sets differ");
    caps
}

/// The drop-in's LimitMEMLOCK in bytes.
fn unit_memlock() -> u64 {
    let v = unit_values(&unit_file("ringflow.service.d/af-xdp.conf"), "LimitMEMLOCK");
    let m = v[0].strip_suffix('M').expect("LimitMEMLOCK in M");
    m.parse::<u64>().unwrap() << 20
}

/// The hard RLIMIT_MEMLOCK of this process in bytes: the most a child
/// may be given without CAP_SYS_RESOURCE (which containers often lack).
fn memlock_hard_limit() -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let l = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))
        .unwrap();
    l.split_whitespace()
        .nth(4)
        .unwrap()
        .parse()
        .unwrap_or(u64::MAX)
}

/// The memory-lock limit and UMEM flags the AF_XDP tests run with: the
/// drop-in's LimitMEMLOCK and the default UMEM (32 MiB) where this
/// process may hand that limit on; otherwise its own hard limit and a
/// UMEM that fits in it, so the same rule (the UMEM is charged to the
/// limit) is what passes or fails.
fn xdp_memlock() -> (u64, Vec<&'static str>) {
    let unit = unit_memlock();
    let hard = memlock_hard_limit();
    if hard >= unit {
        (unit, vec![])
    } else {
        assert!(
            hard >= 4 << 20,
            "RLIMIT_MEMLOCK hard limit {hard} too small"
        );
        // 2048 frames of 2 KiB: 4 MiB
        (
            hard,
            vec!["--xdp-frames", "2048", "--xdp-ring-size", "1024"],
        )
    }
}

/// A copy of the ringflow binary any user may run (the build directory
/// may not be reachable for them).
fn runnable_copy(dir: &TempDir) -> String {
    let to = dir.path("ringflow");
    std::fs::copy(bin(), &to).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
    let d = dir.path("");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    to.to_str().unwrap().to_string()
}

/// `prlimit` and `setpriv` that run the rest as nobody, holding `caps`
/// (`CAP_NET_RAW`, ...) in every set and no others, with at most
/// `memlock` bytes locked.
fn as_nobody(caps: &[String], memlock: u64) -> Vec<String> {
    let mut list = "-all".to_string();
    for c in caps {
        list.push_str(",+");
        list.push_str(&c.trim_start_matches("CAP_").to_lowercase());
    }
    vec![
        "prlimit".into(),
        format!("--memlock={memlock}:{memlock}"),
        "setpriv".into(),
        format!("--reuid={NOBODY}"),
        format!("--regid={NOBODY}"),
        "--clear-groups".into(),
        format!("--inh-caps={list}"),
        format!("--ambient-caps={list}"),
        format!("--bounding-set={list}"),
    ]
}

/// The bit of a capability in an effective set.
fn cap_bit(name: &str) -> u32 {
    let cap = ringflow::sys::caps::Cap::from_name(name)
        .unwrap_or_else(|| panic!("unexpected capability {name}"));
    cap as u32
}

/// Starts ringflow as nobody with `caps`; checks it runs as that user with
/// exactly those capabilities effective; sends MIX and requires exact
/// per-pair counts.
fn captures_exactly(v: &VethPair, caps: &[String], memlock: u64, args: &[&str]) -> Capture {
    let dir = TempDir::new("priv-bin");
    let program = runnable_copy(&dir);
    let wrapper = as_nobody(caps, memlock);
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let cap = Capture::start_program(&v.rx, &wrapper, &program, args);
    let uids = cap.status_field("Uid");
    assert!(
        uids.split_whitespace().all(|u| u == NOBODY),
        "never root: Uid {uids}"
    );
    let eff = u64::from_str_radix(&cap.status_field("CapEff"), 16).unwrap();
    let want: u64 = caps.iter().map(|c| 1u64 << cap_bit(c)).sum();
    assert_eq!(eff, want, "effective capabilities are exactly {caps:?}");
    cap
}

fn check_counts(v: &VethPair, cap: Capture) {
    check_counts_stopped(v, cap, Capture::stop);
}

/// Sends MIX, stops the capture with `stop` and requires exact counts.
fn check_counts_stopped(v: &VethPair, cap: Capture, stop: impl FnOnce(Capture) -> String) {
    let dir = TempDir::new("priv-send");
    let truth = v.send(&dir, &[&MIX[..], &["--frame-size", "0"]].concat());
    let text = stop(cap);
    assert_eq!(flows_per_pair(&text), truth_per_pair(&truth, |_| true));
    let m = parse_exposition(&text);
    let sent: u64 = truth.iter().map(|r| r.packets).sum();
    assert_eq!(total(&m, "ringflow_packets_total"), sent);
}

/// Runs ringflow as nobody with `caps` and expects the one-line refusal.
fn refused(v: &VethPair, caps: &[String], memlock: u64, args: &[&str]) -> String {
    let dir = TempDir::new("priv-refused");
    let program = runnable_copy(&dir);
    let out = Command::new("ip")
        .args(["netns", "exec", &v.rx])
        .args(as_nobody(caps, memlock))
        .arg(&program)
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{caps:?}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!v.rx_has_xdp(), "nothing left attached: {err}");
    err
}

fn without(caps: &[String], gone: &str) -> Vec<String> {
    caps.iter().filter(|c| *c != gone).cloned().collect()
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn af_packet_with_only_the_units_capabilities() {
    let _g = serial();
    let caps = unit_caps(false);
    assert_eq!(caps, ["CAP_NET_RAW"]);
    let v = VethPair::new("privpkt");
    // promiscuous mode too: a packet-socket membership, CAP_NET_RAW only
    let args = ["--iface", &v.rx_if, "--workers", "1", "--promisc"];
    let cap = captures_exactly(&v, &caps, memlock_hard_limit(), &args);
    check_counts(&v, cap);
    for c in &caps {
        let err = refused(&v, &without(&caps, c), memlock_hard_limit(), &args);
        assert!(
            err.contains(&format!("AF_PACKET capture needs {c}")),
            "{err}"
        );
    }
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn af_xdp_with_only_the_units_capabilities() {
    let _g = serial();
    let caps = unit_caps(true);
    let (memlock, umem) = xdp_memlock();
    let v = VethPair::new("privxdp");
    let args = [
        &[
            "--iface",
            &v.rx_if,
            "--backend",
            "af-xdp",
            "--xdp-mode",
            "native",
        ][..],
        &umem,
    ]
    .concat();
    let args = &args[..];
    let cap = captures_exactly(&v, &caps, memlock, args);
    // CAP_SYS_NICE: the workers at SCHED_FIFO 1, the AF_XDP default
    assert_eq!(cap.worker_scheduling(), [(1, 1)]);
    check_counts(&v, cap);
    for c in ["CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_BPF"] {
        let err = refused(&v, &without(&caps, c), memlock, args);
        assert!(err.contains(&format!("AF_XDP capture needs {c}")), "{err}");
    }
    // Without CAP_SYS_NICE the default falls back to normal priority and
    // says so; asked for explicitly, it is refused naming it.
    let no_nice = without(&caps, "CAP_SYS_NICE");
    let cap = captures_exactly(&v, &no_nice, memlock, args);
    assert!(
        cap.log().iter().any(|l| l.contains("CAP_SYS_NICE")),
        "{:?}",
        cap.log()
    );
    assert_eq!(cap.worker_scheduling(), [(0, 0)]);
    check_counts(&v, cap);
    let err = refused(
        &v,
        &no_nice,
        memlock,
        &[args, &["--worker-priority", "1"]].concat(),
    );
    assert!(err.contains("CAP_SYS_NICE"), "{err}");
    // The UMEM over the memory-lock limit: named, with the fixes.
    let over = (memlock / 2048 + 1024).to_string();
    let err = refused(
        &v,
        &caps,
        memlock,
        &[
            &args[..6],
            &["--xdp-frames", &over, "--xdp-ring-size", "1024"],
        ]
        .concat(),
    );
    assert!(
        err.contains("RLIMIT_MEMLOCK")
            && err.contains("LimitMEMLOCK")
            && err.contains("CAP_IPC_LOCK"),
        "{err}"
    );
}

/// Every system call name `systemd-analyze` expands `set` to.
fn syscall_set(set: &str) -> BTreeSet<String> {
    let out = Command::new(tool("systemd-analyze", "systemd"))
        .args(["syscall-filter", set])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut names = BTreeSet::new();
    for l in text.lines().skip(1) {
        let w = l.trim();
        if w.is_empty() || w.starts_with('#') {
            continue;
        }
        if w.starts_with('@') {
            names.extend(syscall_set(w));
        } else {
            names.insert(w.to_string());
        }
    }
    names
}

/// Captures under strace and returns (system calls, socket families)
/// ringflow made after it was executed.
fn traced(
    v: &VethPair,
    caps: &[String],
    memlock: u64,
    args: &[&str],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = TempDir::new("priv-strace");
    let program = runnable_copy(&dir);
    let log = dir.path("strace.log");
    let strace = tool("strace", "strace");
    let mut wrapper = vec![
        strace.to_str().unwrap().to_string(),
        "-f".into(),
        "-qq".into(),
        "-o".into(),
        log.to_str().unwrap().to_string(),
    ];
    wrapper.extend(as_nobody(caps, memlock));
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let cap = Capture::start_program(&v.rx, &wrapper, &program, args);
    // the process is strace: the signal goes to ringflow through the group
    check_counts_stopped(v, cap, |cap| {
        cap.signal_process_and_group(nix::sys::signal::Signal::SIGTERM);
        cap.finish()
    });
    let text = std::fs::read_to_string(&log).unwrap();
    let start = text
        .find(&format!("execve(\"{program}\""))
        .expect("ringflow's execve in the trace");
    let mut calls = BTreeSet::new();
    let mut families = BTreeSet::new();
    for l in text[start..].lines() {
        // "PID name(args) = ret", "PID <... name resumed>) = ret";
        // signals ("---") and exits ("+++") are not calls
        let rest = l.split_once(' ').map_or("", |(_, r)| r.trim_start());
        let (name, call) = match rest.strip_prefix("<... ") {
            Some(r) => (r.split(' ').next().unwrap_or(""), false),
            None => match rest.split_once('(') {
                Some((n, _)) => (n, true),
                None => continue,
            },
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if call && name == "socket" {
            let args = &rest["socket(".len()..];
            families.insert(args.split(',').next().unwrap().to_string());
        }
        let name = name.to_string();
        calls.insert(name);
    }
    (calls, families)
}

#[test]
#[ignore = "live: needs root for network namespaces, strace and systemd-analyze; run with --include-ignored"]
fn every_system_call_and_socket_family_is_one_the_unit_allows() {
    let _g = serial();
    let unit = unit_file("ringflow.service");
    let mut allowed = BTreeSet::new();
    for set in unit_values(&unit, "SystemCallFilter") {
        if set.starts_with('@') {
            allowed.extend(syscall_set(&set));
        } else {
            allowed.insert(set);
        }
    }
    assert!(allowed.contains("bpf") && allowed.len() > 300);
    let families: BTreeSet<String> = unit_values(&unit, "RestrictAddressFamilies")
        .into_iter()
        .collect();
    let v = VethPair::new("privsys");
    let (memlock, umem) = xdp_memlock();
    let runs: [(bool, Vec<&str>); 2] = [
        (
            false,
            vec!["--iface", &v.rx_if, "--workers", "1", "--promisc"],
        ),
        (
            true,
            [&["--iface", &v.rx_if, "--backend", "af-xdp"][..], &umem].concat(),
        ),
    ];
    for (xdp, args) in runs {
        let limit = if xdp { memlock } else { memlock_hard_limit() };
        let (calls, used) = traced(&v, &unit_caps(xdp), limit, &args);
        // the trace is ringflow's: its capture calls are there
        assert!(
            calls.contains("setsockopt") && calls.contains("mmap") && calls.len() > 30,
            "{calls:?}"
        );
        assert_eq!(calls.contains("bpf"), xdp, "{calls:?}");
        let outside: Vec<&String> = calls.difference(&allowed).collect();
        assert!(
            outside.is_empty(),
            "{args:?}: not allowed by the unit: {outside:?}"
        );
        assert!(
            used.contains(if xdp { "AF_XDP" } else { "AF_PACKET" }),
            "{used:?}"
        );
        let outside: Vec<&String> = used.difference(&families).collect();
        assert!(
            outside.is_empty(),
            "{args:?}: families not allowed: {outside:?}"
        );
    }
}
