//! `ringflow doctor`: the checks from recorded fixtures (a four-queue
//! ixgbe port with what goes wrong on real boxes, and a veth pair recorded
//! here: see tests/data/doctor/), and the command on a veth pair in
//! network namespaces (root: `#[ignore]`d, run with --include-ignored).

mod common;

use common::netns::{VethPair, serial};
use common::*;
use ringflow::config::{Backend, XdpMode};
use ringflow::doctor::checks::{Finding, Severity};
use ringflow::doctor::fix::{Action, Offload};
use ringflow::doctor::kernel::Fixture;
use ringflow::doctor::{Plan, PlanIface, Report, examine};
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/doctor")
        .join(name)
}

fn af_xdp_plan(iface: &str, queues: Vec<u32>, cpus: Vec<usize>) -> Plan {
    Plan {
        backend: Backend::AfXdp,
        xdp_mode: Some(XdpMode::Auto),
        cpus,
        ifaces: vec![PlanIface {
            name: iface.into(),
            queues: Some(queues),
        }],
        memory_bytes: 300 << 20,
        memory: String::new(),
        busy_poll: false,
        huge_pages_bytes: 0,
    }
}

fn af_packet_plan(iface: &str, cpus: Vec<usize>) -> Plan {
    Plan {
        backend: Backend::AfPacket,
        cpus,
        ifaces: vec![PlanIface {
            name: iface.into(),
            queues: None,
        }],
        memory_bytes: 200 << 20,
        memory: String::new(),
        xdp_mode: None,
        busy_poll: false,
        huge_pages_bytes: 0,
    }
}

fn finding<'a>(r: &'a Report, subject: &str, check: &str) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.subject == subject && f.check == check)
        .unwrap_or_else(|| panic!("no {check} finding for {subject}:\n{}", r.render()))
}

fn examine_fixture(dir: &Path, plan: Plan) -> Report {
    examine(&Fixture::load(dir).expect("fixture"), plan)
}

#[test]
fn a_four_queue_nic_is_read_from_its_ethtool_answers_and_sysfs() {
    let r = examine_fixture(
        &fixture("ixgbe-4q"),
        af_xdp_plan("eth1", vec![0, 1, 2, 3], vec![0, 1, 2, 3]),
    );
    let n = &r.interfaces[0];
    assert_eq!(n.driver.as_deref(), Some("ixgbe"));
    assert_eq!(n.bus.as_deref(), Some("0000:03:00.0"));
    assert_eq!(n.speed_mbps, Some(10000));
    assert_eq!(n.numa_node, Some(0));
    assert_eq!(n.rx_queues, 4);
    let c = n.channels.expect("channels");
    assert_eq!((c.combined, c.max_combined, c.rx), (4, 63, 0));
    let rings = n.rings.expect("rings");
    assert_eq!((rings.rx, rings.rx_max, rings.tx), (512, 4096, 512));
    let rss = n.rss.as_ref().expect("rss");
    assert_eq!(rss.indirection.len(), 128);
    assert_eq!(rss.spread(4), vec![32; 4]);
    assert_eq!(rss.key.len(), 40);
    assert_eq!(&rss.key[..4], &[0x6d, 0x5a, 0x56, 0xda]);
    assert!(!rss.symmetric());
    let fields: Vec<(&str, bool, bool)> = n
        .hash_fields
        .iter()
        .map(|h| (h.flow, h.has_addresses(), h.has_ports()))
        .collect();
    assert_eq!(
        fields,
        [
            ("tcp4", true, true),
            ("udp4", true, false),
            ("tcp6", true, true),
            ("udp6", true, false)
        ]
    );
    assert_eq!(
        (n.gro, n.lro, n.gso, n.rx_vlan_offload),
        (Some(true), Some(false), Some(true), Some(true))
    );
    assert_eq!(n.xdp_features, Some(15));
    let irqs: Vec<(u32, u32, Vec<usize>)> = n
        .irqs
        .iter()
        .map(|q| (q.queue, q.irq, q.cpus.clone()))
        .collect();
    assert_eq!(
        irqs,
        [
            (0, 40, vec![0]),
            (1, 41, vec![0]),
            (2, 42, vec![0]),
            (3, 43, vec![0])
        ],
        "the link interrupt (eth1, IRQ 44) is no queue's"
    );
    assert!(n.drop_counters.contains(&("rx_missed_errors".into(), 1234)));
    assert!(n.drop_counters.contains(&("rx_no_buffer_count".into(), 77)));
    assert!(!n.drop_counters.iter().any(|(k, _)| k == "rx_packets"));
    assert!(!n.has_addresses);
    let h = &r.host;
    assert_eq!(h.online_cpus, [0, 1, 2, 3]);
    assert_eq!(h.governors.len(), 4);
    assert_eq!(h.mem_available_bytes, 15_120_044 << 10);
    assert_eq!(h.rmem_max, Some(212_992));
    assert_eq!(h.transparent_huge_pages.as_deref(), Some("madvise"));
    assert!(h.irqbalance);
    assert!(r.unread.is_empty(), "{:?}", r.unread);
}

#[test]
fn asymmetric_rss_and_interrupts_on_the_wrong_cores_are_found_with_their_fixes() {
    let r = examine_fixture(
        &fixture("ixgbe-4q"),
        af_xdp_plan("eth1", vec![0, 1, 2, 3], vec![0, 1, 2, 3]),
    );
    let text = r.render();

    let irq = finding(&r, "eth1", "irq-affinity");
    assert_eq!(irq.severity, Severity::Problem, "{text}");
    assert!(
        irq.found.contains("all 4 queues are on CPU 0"),
        "{}",
        irq.found
    );
    assert_eq!(
        irq.fix.as_deref(),
        Some(
            "echo 1 > /proc/irq/41/smp_affinity_list; echo 2 > /proc/irq/42/smp_affinity_list; echo 3 > /proc/irq/43/smp_affinity_list"
        )
    );
    assert_eq!(
        irq.actions,
        [1, 2, 3]
            .map(|q| Action::IrqAffinity {
                irq: 40 + q,
                from: "0".into(),
                to: q as usize
            })
            .to_vec()
    );

    let sym = finding(&r, "eth1", "rss-symmetric");
    assert_eq!(sym.severity, Severity::Warning);
    let key = ["6d", "5a"].repeat(20).join(":");
    assert_eq!(
        sym.fix.as_deref(),
        Some(format!("ethtool -X eth1 hkey {key}").as_str())
    );
    assert_eq!(finding(&r, "eth1", "rss-spread").severity, Severity::Ok);

    let hash = finding(&r, "eth1", "hash-fields");
    assert_eq!(hash.severity, Severity::Warning);
    assert_eq!(
        hash.fix.as_deref(),
        Some("ethtool -N eth1 rx-flow-hash udp4 sdfn; ethtool -N eth1 rx-flow-hash udp6 sdfn")
    );
    let ring = finding(&r, "eth1", "rx-ring");
    assert_eq!(
        (ring.severity, ring.fix.as_deref()),
        (Severity::Warning, Some("ethtool -G eth1 rx 4096"))
    );
    assert!(matches!(
        ring.actions[..],
        [Action::RxRing {
            from: 512,
            to: 4096,
            ..
        }]
    ));
    let vlan = finding(&r, "eth1", "rx-vlan-offload");
    assert_eq!(vlan.severity, Severity::Warning);
    assert_eq!(
        vlan.actions,
        [Action::Offload {
            iface: "eth1".into(),
            what: Offload::RxVlan
        }]
    );
    // XDP sees frames before GRO; the driver has native XDP and zero-copy
    assert_eq!(finding(&r, "eth1", "gro").severity, Severity::Ok);
    assert_eq!(finding(&r, "eth1", "xdp").severity, Severity::Ok);
    assert_eq!(finding(&r, "eth1", "queues").severity, Severity::Ok);
    let drops = finding(&r, "eth1", "nic-drops");
    assert_eq!(drops.severity, Severity::Warning);
    assert!(
        drops.found.contains("rx_missed_errors 1234")
            && drops.found.contains("rx_no_buffer_count 77")
    );
    assert_eq!(finding(&r, "eth1", "numa").severity, Severity::Ok);
    let gov = finding(&r, "host", "cpu-governor");
    assert_eq!(gov.severity, Severity::Warning);
    assert!(
        gov.fix
            .as_deref()
            .unwrap()
            .contains("echo performance > /sys/devices/system/cpu/cpu3/cpufreq/scaling_governor")
    );
    assert_eq!(
        finding(&r, "host", "irqbalance").severity,
        Severity::Warning
    );
    assert_eq!(finding(&r, "host", "memory").severity, Severity::Ok);
    // the text names each with why and how
    assert!(text.contains("[problem] irq-affinity"), "{text}");
    assert!(
        text.contains("fix: ethtool -X eth1 hkey 6d:5a:6d:5a"),
        "{text}"
    );
    assert!(text.contains("1 problem(s)"), "{text}");
}

#[test]
fn against_af_packet_with_two_workers_the_same_nic_has_other_findings() {
    let r = examine_fixture(&fixture("ixgbe-4q"), af_packet_plan("eth1", vec![2, 3]));
    let q = finding(&r, "eth1", "queues");
    assert_eq!(q.severity, Severity::Warning);
    assert_eq!(
        q.fix.as_deref(),
        Some("ethtool -L eth1 combined 2 (or --workers 4)")
    );
    // GRO merges segments before AF_PACKET: counted back, but a warning
    // (timestamps, --dedup), fixed on a port without addresses
    let gro = finding(&r, "eth1", "gro");
    assert_eq!(gro.severity, Severity::Warning);
    assert_eq!(
        gro.actions,
        [Action::Offload {
            iface: "eth1".into(),
            what: Offload::Gro
        }]
    );
    // queue i goes with worker i modulo the workers: CPUs 2,3,2,3
    let irq = finding(&r, "eth1", "irq-affinity");
    let to: Vec<usize> = irq
        .actions
        .iter()
        .map(|a| match a {
            Action::IrqAffinity { to, .. } => *to,
            _ => panic!("{a:?}"),
        })
        .collect();
    assert_eq!(to, [2, 3, 2, 3]);
    // AF_XDP's concerns do not apply: AF_PACKET gives a stripped VLAN
    // tag back, and copies anyway
    assert_eq!(finding(&r, "eth1", "xdp").severity, Severity::Ok);
    let vlan = finding(&r, "eth1", "rx-vlan-offload");
    assert_eq!(vlan.severity, Severity::Ok);
    assert!(vlan.actions.is_empty());
}

/// The fixture with its faults mended: a symmetric key, UDP hashed by
/// ports, each interrupt on its worker's CPU, the ring at its largest.
fn mended(dir: &TempDir) -> PathBuf {
    let to = dir.path("mended");
    stdout_of(
        Command::new("cp")
            .arg("-r")
            .arg(fixture("ixgbe-4q"))
            .arg(&to),
    );
    let answers = std::fs::read_to_string(to.join("ethtool.txt")).unwrap();
    let key = "6d5a56da255b0ec24167253d43a38fb0d0ca2bcbae7b30b477cb2da38030f20c6a42b73bbeac01fa";
    assert!(answers.contains(key));
    let mut answers = answers.replace(key, &"6d5a".repeat(20));
    for flow in ["02", "06"] {
        let from = format!("29000000{flow}000000300000000000000000");
        let into = format!("29000000{flow}000000f00000000000000000");
        assert!(answers.contains(&from), "{flow}");
        answers = answers.replace(&from, &into);
    }
    // ring: rx 512 -> 4096 (struct ethtool_ringparam's sixth word)
    let ring = |rx: u32| -> String {
        [0x10, 4096, 0, 0, 4096, rx, 0, 0, 512]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(answers.contains(&ring(512)));
    answers = answers.replace(&ring(512), &ring(4096));
    std::fs::write(to.join("ethtool.txt"), answers).unwrap();
    for q in 0..4 {
        std::fs::write(
            to.join(format!("root/proc/irq/{}/smp_affinity_list", 40 + q)),
            format!("{q}\n"),
        )
        .unwrap();
    }
    to
}

#[test]
fn a_mended_nic_has_no_such_findings() {
    let dir = TempDir::new("doctor-mended");
    let r = examine_fixture(
        &mended(&dir),
        af_xdp_plan("eth1", vec![0, 1, 2, 3], vec![0, 1, 2, 3]),
    );
    for check in [
        "irq-affinity",
        "rss-symmetric",
        "hash-fields",
        "rx-ring",
        "rss-spread",
    ] {
        let f = finding(&r, "eth1", check);
        assert_eq!(f.severity, Severity::Ok, "{check}: {}", f.found);
        assert!(f.actions.is_empty());
    }
    assert_eq!(r.count(Severity::Problem), 0, "{}", r.render());
    // irqbalance only matters while interrupts need moving
    assert!(!r.findings.iter().any(|f| f.check == "irqbalance"));
}

#[test]
fn uneven_and_missing_rss_buckets_are_told_apart() {
    let dir = TempDir::new("doctor-spread");
    let to = mended(&dir);
    let answers = std::fs::read_to_string(to.join("ethtool.txt")).unwrap();
    // every bucket of queue 3 to queue 0: queue 3 gets nothing
    let three = "03000000";
    let line = answers
        .lines()
        .find(|l| l.starts_with("eth1 grssh "))
        .unwrap();
    let hex = line.trim_start_matches("eth1 grssh ");
    let (head, rest) = hex.split_at(48);
    let (table, key) = rest.split_at(128 * 8);
    let table: String = (0..128)
        .map(|i| &table[i * 8..i * 8 + 8])
        .map(|w| if w == three { "00000000" } else { w })
        .collect();
    let missing = answers.replace(line, &format!("eth1 grssh {head}{table}{key}"));
    std::fs::write(to.join("ethtool.txt"), missing).unwrap();
    let r = examine_fixture(&to, af_xdp_plan("eth1", vec![0, 1, 2, 3], vec![0, 1, 2, 3]));
    let f = finding(&r, "eth1", "rss-spread");
    assert_eq!(f.severity, Severity::Problem);
    assert!(
        f.found.contains("queue(s) 3") && f.found.contains("64/32/32/0"),
        "{}",
        f.found
    );
    assert_eq!(f.fix.as_deref(), Some("ethtool -X eth1 equal 4"));
}

#[test]
fn a_recorded_veth_says_what_it_could_not_read_and_never_fails() {
    let r = examine_fixture(&fixture("veth"), af_packet_plan("veth0", vec![1]));
    let n = &r.interfaces[0];
    assert_eq!(n.driver.as_deref(), Some("veth"));
    assert_eq!(n.bus, None);
    let c = n.channels.expect("veth has channels");
    assert_eq!((c.rx, c.tx, c.combined), (2, 2, 0));
    assert_eq!(n.gro, Some(false));
    assert!(
        n.xdp_features.is_some_and(|x| x & 1 == 1),
        "veth has native XDP"
    );
    let unread: Vec<&str> = r.unread.iter().map(|u| u.what.as_str()).collect();
    for what in [
        "ring sizes (ETHTOOL_GRINGPARAM)",
        "RSS table and key (ETHTOOL_GRSSH)",
        "RSS hash fields (ETHTOOL_GRXFH)",
        "queue interrupts",
    ] {
        assert!(unread.contains(&what), "{what} in {unread:?}");
    }
    let text = r.render();
    assert!(
        text.contains("\n  veth0: ring sizes (ETHTOOL_GRINGPARAM): the driver does not offer it\n"),
        "{text}"
    );
    // two receive queues for one worker: fewer queues, as channels say
    let q = finding(&r, "veth0", "queues");
    assert_eq!(
        q.fix.as_deref(),
        Some("ethtool -L veth0 rx 1 (or --workers 2)")
    );
    assert!(
        !r.findings
            .iter()
            .any(|f| f.check == "rx-ring" || f.check == "irq-affinity")
    );
}

#[test]
fn a_fixture_with_a_bad_line_is_refused_with_its_line() {
    let dir = TempDir::new("doctor-bad-fixture");
    std::fs::create_dir_all(dir.path("f")).unwrap();
    std::fs::write(dir.path("f/ethtool.txt"), "eth1\n").unwrap();
    let e = Fixture::load(&dir.path("f")).err().expect("refused");
    assert!(e.contains("line 1"), "{e}");
}

// ---- the command, live, on veth pairs in namespaces of its own ----

fn doctor(v: &VethPair, args: &[&str]) -> (i32, String, String) {
    let out = v
        .in_ns(&v.rx, bin())
        .arg("doctor")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ethtool(v: &VethPair, args: &[&str]) -> String {
    stdout_of(v.in_ns(&v.rx, "ethtool").args(args))
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn on_veth_the_json_names_findings_and_what_could_not_be_read() {
    let _g = serial();
    let v = VethPair::with_queues("doctor-json", 2);
    ethtool(&v, &["-K", &v.rx_if, "gro", "off"]);
    let dir = TempDir::new("doctor-json");
    let args = [
        "--iface",
        &v.rx_if,
        "--workers",
        "2",
        "--cpus",
        "0,1",
        "--json",
        "--record",
    ];
    let (code, out, err) = doctor(&v, &args);
    assert_eq!(code, 2, "--record needs its directory: {out}{err}");
    let record = dir.path("recorded");
    let (code, out, err) = doctor(&v, &[&args[..], &[record.to_str().unwrap()]].concat());
    assert_eq!(code, 0, "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["plan"]["backend"], "af-packet");
    assert_eq!(j["plan"]["cpus"], serde_json::json!([0, 1]));
    assert_eq!(j["interfaces"][0]["driver"], "veth");
    assert_eq!(j["interfaces"][0]["channels"]["rx"], 2);
    assert_eq!(j["interfaces"][0]["gro"], false);
    let unread: Vec<&str> = j["unread"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["what"].as_str().unwrap())
        .collect();
    assert!(
        unread.contains(&"ring sizes (ETHTOOL_GRINGPARAM)"),
        "{unread:?}"
    );
    let findings = j["findings"].as_array().unwrap();
    let gro = findings.iter().find(|f| f["check"] == "gro").unwrap();
    assert_eq!(gro["severity"], "ok");
    assert!(findings.iter().all(|f| f["severity"] != "problem"), "{out}");

    // what was recorded replays to the same facts and findings
    let plan: Plan = serde_json::from_value(j["plan"].clone()).unwrap();
    let again = serde_json::to_value(examine_fixture(&record, plan)).unwrap();
    for part in ["interfaces", "host", "findings", "unread"] {
        assert_eq!(again[part], j[part], "{part}");
    }
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn doctor_takes_a_runs_config_file() {
    let _g = serial();
    let v = VethPair::with_queues("doctor-config", 2);
    let dir = TempDir::new("doctor-config");
    let conf = dir.path("ringflow.toml");
    std::fs::write(
        &conf,
        format!(
            "iface = [\"{}\"]\nbackend = \"af-xdp\"\nqueues = \"0\"\ncpus = \"1\"\n",
            v.rx_if
        ),
    )
    .unwrap();
    let (code, out, err) = doctor(&v, &["--config", conf.to_str().unwrap(), "--json"]);
    // queue 1 is not captured: a problem
    assert_eq!(code, 1, "{out}{err}");
    let j: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(j["plan"]["backend"], "af-xdp");
    assert_eq!(j["plan"]["ifaces"][0]["queues"], serde_json::json!([0]));
    let q = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "queues")
        .unwrap();
    assert_eq!(q["severity"], "problem");
    assert_eq!(
        q["fix"],
        format!(
            "ethtool -L {} rx 1 (or capture them all: --queues all)",
            v.rx_if
        )
    );
    // a flag wins over the file, as in a run
    let (code, out, _) = doctor(
        &v,
        &[
            "--config",
            conf.to_str().unwrap(),
            "--queues",
            "all",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}");
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn on_veth_warnings_exit_0_and_their_fix_commands_mend_them() {
    let _g = serial();
    let v = VethPair::with_queues("doctor-fix", 2);
    ethtool(&v, &["-K", &v.rx_if, "gro", "on"]);
    // GRO on before AF_PACKET: a warning (counts stay right), exit 0; two
    // queues, one worker (a problem exits 1: see the config file test)
    let (code, out, _) = doctor(&v, &["--iface", &v.rx_if, "--workers", "1", "--cpus", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[warning] gro"), "{out}");
    let fix = format!("ethtool -L {} rx 1 (or --workers 2)", v.rx_if);
    assert!(out.contains(&format!("fix: {fix}")), "{out}");
    // the fix as printed works
    ethtool(&v, &["-L", &v.rx_if, "rx", "1"]);
    let (_, out, _) = doctor(&v, &["--iface", &v.rx_if, "--workers", "1", "--cpus", "1"]);
    assert!(
        out.contains("[ok]      queues            1 receive queue(s) (at most 2) for 1 worker(s)"),
        "{out}"
    );

    // --fix asks first: with no terminal and no --yes it changes nothing
    let (code, out, err) = doctor(&v, &["--iface", &v.rx_if, "--workers", "1", "--fix"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("give --yes"), "{err}");
    assert!(ethtool(&v, &["-k", &v.rx_if]).contains("generic-receive-offload: on"));
    // with --yes it turns GRO off on this port without addresses, and says how to undo it
    let (code, out, err) = doctor(
        &v,
        &["--iface", &v.rx_if, "--workers", "1", "--fix", "--yes"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let undo = format!(
        "changed: {}: gro off; undo: ethtool -K {} gro on",
        v.rx_if, v.rx_if
    );
    assert!(out.contains(&undo), "{out}");
    assert!(ethtool(&v, &["-k", &v.rx_if]).contains("generic-receive-offload: off"));
    let (code, out, _) = doctor(&v, &["--iface", &v.rx_if, "--workers", "1"]);
    assert_eq!(code, 0, "{out}");

    // an interface with an address carries the host's traffic: left alone
    ethtool(&v, &["-K", &v.rx_if, "gro", "on"]);
    v.rx_ip(&["addr", "add", "10.213.77.1/24", "dev", &v.rx_if]);
    let (_, out, _) = doctor(
        &v,
        &["--iface", &v.rx_if, "--workers", "1", "--fix", "--yes"],
    );
    assert!(out.contains("--fix leaves it"), "{out}");
    assert!(out.contains("nothing for --fix to change"), "{out}");
    assert!(ethtool(&v, &["-k", &v.rx_if]).contains("generic-receive-offload: on"));
}

#[test]
fn doctor_refuses_an_interface_that_is_not_there() {
    let out = run(&["doctor", "--iface", "rf-no-such-if0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("interface rf-no-such-if0 not found"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
#[ignore = "live: needs root for network namespaces; run with --include-ignored"]
fn threaded_napi_threads_away_from_the_workers_are_found_and_the_fix_works() {
    let _g = serial();
    let v = VethPair::new("doctor-napi");
    // veth runs NAPI with GRO on; then a kernel thread per NAPI instance
    ethtool(&v, &["-K", &v.rx_if, "gro", "on"]);
    let threaded = format!("/sys/class/net/{}/threaded", v.rx_if);
    let on = v
        .in_ns(&v.rx, "sh")
        .args(["-c", &format!("echo 1 > {threaded}")])
        .status()
        .unwrap();
    assert!(on.success());
    let args = [
        "--iface",
        &v.rx_if,
        "--backend",
        "af-xdp",
        "--cpus",
        "1",
        "--json",
    ];
    let findings = |out: &str| -> serde_json::Value {
        let j: serde_json::Value = serde_json::from_str(out).expect("JSON");
        j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "threaded-napi")
            .cloned()
            .expect("a threaded-napi finding")
    };
    // pinned elsewhere first: a new thread may run anywhere
    let pids = || -> Vec<String> {
        let out = Command::new("pgrep")
            .args(["-f", &format!("napi/{}-", v.rx_if)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let napi = pids();
    assert!(!napi.is_empty(), "no napi thread for {}", v.rx_if);
    for pid in &napi {
        assert!(
            Command::new("taskset")
                .args(["-pc", "0", pid])
                .output()
                .unwrap()
                .status
                .success()
        );
    }
    let (_, out, err) = doctor(&v, &args);
    let f = findings(&out);
    assert_eq!(f["severity"], "warning", "{out}{err}");
    let fix = f["fix"].as_str().unwrap().to_string();
    assert_eq!(
        fix,
        napi.iter()
            .map(|p| format!("taskset -pc 1 {p}"))
            .collect::<Vec<_>>()
            .join("; ")
    );
    // the fix as printed
    for cmd in fix.split("; ") {
        let w: Vec<&str> = cmd.split(' ').collect();
        assert!(
            Command::new(w[0])
                .args(&w[1..])
                .output()
                .unwrap()
                .status
                .success(),
            "{cmd}"
        );
    }
    let (_, out, _) = doctor(&v, &args);
    assert_eq!(findings(&out)["severity"], "ok", "{out}");
}

/// The manual (docs/tuning.md) quotes what the doctor says of the ixgbe
/// fixture: every line it quotes whole (not cut short with `...`) is in
/// what it says.
#[test]
fn the_manuals_doctor_output_is_what_the_doctor_says() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tuning.md"))
            .unwrap();
    let from = readme
        .find("Part of what it says of the four-queue ixgbe port")
        .expect("docs/tuning.md quotes the doctor");
    let block = readme[from..].split("```").nth(1).expect("a code block");
    let r = examine_fixture(
        &fixture("ixgbe-4q"),
        af_xdp_plan("eth1", vec![0, 1, 2, 3], vec![0, 1, 2, 3]),
    );
    let said = r.render();
    let quoted: Vec<&str> = block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("..."))
        .collect();
    assert!(quoted.len() >= 8, "{block}");
    for line in quoted {
        assert!(
            said.lines().any(|s| s == line),
            "README line not said: {line:?}\n{said}"
        );
    }
}
