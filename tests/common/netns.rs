//! Network namespaces with a veth pair between them, made for one test
//! and deleted when it ends, even on failure.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The tests move packets between two cores' worth of threads; running
/// them one at a time keeps the loads from competing.
static SERIAL: Mutex<()> = Mutex::new(());

pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The mix most live tests send: 400 conversations, 8000 packets at 40k
/// packets/s, 30 % IPv6 and 30 % VLAN-tagged.
pub const MIX: [&str; 10] = [
    "--flows",
    "400",
    "--packets",
    "8000",
    "--rate",
    "40000",
    "--ipv6-percent",
    "30",
    "--vlan-percent",
    "30",
];

/// A mix with fragments among ordinary traffic: 200 conversations, 40 %
/// IPv6, 20 % VLAN-tagged, 60 % UDP, half of the UDP ones sending every
/// datagram as IPv4 or IPv6 fragments, IMIX frame sizes.
pub const FRAGMENT_MIX: [&str; 18] = [
    "--flows",
    "200",
    "--packets",
    "4000",
    "--rate",
    "40000",
    "--ipv6-percent",
    "40",
    "--vlan-percent",
    "20",
    "--udp-percent",
    "60",
    "--fragment-percent",
    "50",
    "--frame-size",
    "0",
    "--seed",
    "3",
];

/// Checks a capture of [`FRAGMENT_MIX`] against what was sent: every
/// frame counted as it was on the wire per host pair, and the later
/// fragments, which have no ports, as UDP series without a port.
pub fn assert_fragments_exact(text: &str, truth: &[TruthRow], what: &str) {
    let later = |r: &TruthRow| r.proto == 17 && r.src_port == 0 && r.dst_port == 0;
    let later_v4 = truth.iter().filter(|r| later(r) && !r.src.contains(':'));
    let later_v6 = truth.iter().filter(|r| later(r) && r.src.contains(':'));
    assert!(
        later_v4.count() > 10 && later_v6.count() > 10,
        "{what}: the mix sent IPv4 and IPv6 fragments"
    );
    assert_same_pairs(
        &super::flows_per_pair(text),
        &truth_per_pair(truth, |_| true),
        &format!("{what}: packets and bytes per host pair"),
    );
    let m = super::parse_exposition(text);
    let mut portless = super::PerPair::new();
    let packets = super::family(&m, "ringflow_flow_packets_total");
    for (labels, bytes) in super::family(&m, "ringflow_flow_bytes_total") {
        // src, dst, proto, port, ...
        if labels[2] == "udp" && labels[3].is_empty() {
            let e = portless
                .entry((labels[0].clone(), labels[1].clone()))
                .or_default();
            e.0 += packets[&labels];
            e.1 += bytes;
        }
    }
    assert_same_pairs(
        &portless,
        &truth_per_pair(truth, later),
        &format!("{what}: later fragments per host pair"),
    );
    let sent: u64 = truth.iter().map(|r| r.packets).sum();
    assert_eq!(total(&m, "ringflow_packets_total"), sent, "{what}");
    assert_eq!(total(&m, "ringflow_capture_packets_total"), sent, "{what}");
    assert_eq!(total(&m, "ringflow_capture_drops_total"), 0, "{what}");
}

/// Asserts two per-pair counts are equal, showing the first pairs that
/// differ rather than both maps.
pub fn assert_same_pairs(got: &super::PerPair, want: &super::PerPair, what: &str) {
    if got != want {
        let diff: Vec<_> = want
            .keys()
            .chain(got.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|k| got.get(*k) != want.get(*k))
            .take(6)
            .map(|k| (k, got.get(k), want.get(k)))
            .collect();
        panic!("{what}: (pair, counted, sent) {diff:?}");
    }
}

/// What the truth rows `keep` add up to per (src, dst).
pub fn truth_per_pair(rows: &[TruthRow], keep: impl Fn(&TruthRow) -> bool) -> super::PerPair {
    let mut m = super::PerPair::new();
    for r in rows.iter().filter(|r| keep(r)) {
        let e = m.entry((r.src.clone(), r.dst.clone())).or_default();
        e.0 += r.packets;
        e.1 += r.bytes;
    }
    m
}

/// The sum of every series of a family.
pub fn total(m: &std::collections::BTreeMap<super::Sample, f64>, name: &str) -> u64 {
    super::family(m, name).values().sum()
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("ip from iproute2");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two namespaces: `tx` sends on `tx_if`, `rx` captures on `rx_if`. No
/// addresses, IPv6 off, no routes: crafted frames go nowhere else.
pub struct VethPair {
    pub tx: String,
    pub rx: String,
    pub tx_if: String,
    pub rx_if: String,
    queues: u32,
}

impl VethPair {
    /// A pair for the test named `test`. The live tests are `#[ignore]`d
    /// (`cargo test` lists them as ignored); run with `--include-ignored`
    /// they need root, and fail without it.
    pub fn new(test: &str) -> VethPair {
        VethPair::with_queues(test, 1)
    }

    /// A pair whose ends have `queues` RX and TX queues each.
    pub fn with_queues(test: &str, queues: u32) -> VethPair {
        assert!(
            is_root(),
            "{test}: creating network namespaces needs root (run the live tests as root)"
        );
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{}", std::process::id() % 100_000, n);
        let p = VethPair {
            tx: format!("rf-{test}-{id}-tx"),
            rx: format!("rf-{test}-{id}-rx"),
            tx_if: format!("rft{id}"),
            rx_if: format!("rfr{id}"),
            queues,
        };
        ip(&["netns", "add", &p.tx]);
        ip(&["netns", "add", &p.rx]);
        p.create_link();
        for ns in [&p.tx, &p.rx] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        p
    }

    /// (Re)creates the veth pair and brings both ends up.
    pub fn create_link(&self) {
        let q = self.queues.to_string();
        ip(&[
            "link",
            "add",
            &self.tx_if,
            "netns",
            &self.tx,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            &self.rx_if,
            "netns",
            &self.rx,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
        ]);
        for (ns, ifc) in [(&self.tx, &self.tx_if), (&self.rx, &self.rx_if)] {
            self.sysctl(ns, &format!("net.ipv6.conf.{ifc}.disable_ipv6=1"));
            ip(&["-n", ns, "link", "set", ifc, "up"]);
        }
        // the kernel reports carrier a moment later (linkwatch)
        let end = Instant::now() + Duration::from_secs(5);
        while self.rx_sysfs("operstate") != "up"
            || self.sysfs(&self.tx, &self.tx_if, "operstate") != "up"
        {
            assert!(Instant::now() < end, "veth pair did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A second veth pair between the same namespaces, up, IPv6 off (it
    /// goes with them); returns its ends' names (sending, capturing).
    pub fn add_link(&self, tag: &str) -> (String, String) {
        let (t, r) = (
            format!("{}{tag}", self.tx_if),
            format!("{}{tag}", self.rx_if),
        );
        ip(&[
            "link", "add", &t, "netns", &self.tx, "type", "veth", "peer", "name", &r, "netns",
            &self.rx,
        ]);
        for (ns, ifc) in [(&self.tx, &t), (&self.rx, &r)] {
            self.sysctl(ns, &format!("net.ipv6.conf.{ifc}.disable_ipv6=1"));
            ip(&["-n", ns, "link", "set", ifc, "up"]);
        }
        let end = Instant::now() + Duration::from_secs(5);
        while self.sysfs(&self.rx, &r, "operstate") != "up"
            || self.sysfs(&self.tx, &t, "operstate") != "up"
        {
            assert!(Instant::now() < end, "veth pair did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        (t, r)
    }

    /// The interface index of `ifc` in the capturing namespace.
    pub fn rx_ifindex(&self, ifc: &str) -> String {
        self.sysfs(&self.rx, ifc, "ifindex")
    }

    /// Reads a sysfs file of interface `ifc` in namespace `ns`.
    fn sysfs(&self, ns: &str, ifc: &str, file: &str) -> String {
        let out = self
            .in_ns(ns, "cat")
            .arg(format!("/sys/class/net/{ifc}/{file}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn delete_link(&self) {
        ip(&["-n", &self.tx, "link", "del", &self.tx_if]);
    }

    pub fn set_rx_link(&self, up: bool) {
        ip(&[
            "-n",
            &self.rx,
            "link",
            "set",
            &self.rx_if,
            if up { "up" } else { "down" },
        ]);
    }

    fn sysctl(&self, ns: &str, kv: &str) {
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "sysctl", "-qw", kv])
            .output()
            .unwrap();
        assert!(out.status.success(), "sysctl {kv}");
    }

    pub fn in_ns(&self, ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Runs `ip ARGS` in the capture namespace and returns its output.
    pub fn rx_ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["-n", &self.rx])
            .args(args)
            .output()
            .expect("ip from iproute2");
        assert!(out.status.success(), "ip {}", args.join(" "));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether an XDP program is attached to the capture interface.
    pub fn rx_has_xdp(&self) -> bool {
        self.rx_ip(&["-d", "link", "show", "dev", &self.rx_if])
            .contains("prog/xdp")
    }

    /// Whether the capture interface is in promiscuous mode.
    pub fn rx_promiscuous(&self) -> bool {
        let flags = self.rx_sysfs("flags");
        u64::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap() & 0x100 != 0
    }

    /// Packet sockets open in the capture namespace (`/proc/net/packet`):
    /// a fanout group lives only as long as one of its sockets.
    pub fn rx_packet_sockets(&self) -> usize {
        let out = self
            .in_ns(&self.rx, "cat")
            .arg("/proc/net/packet")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().skip(1).count()
    }

    /// Reads a sysfs file of the capture interface.
    pub fn rx_sysfs(&self, file: &str) -> String {
        self.sysfs(&self.rx, &self.rx_if, file)
    }

    /// Sends a mix with `ringflow gen` from the tx side; returns the truth
    /// file's rows: (src, dst, proto, sport, dport, vlan) -> (packets, bytes).
    pub fn send(&self, dir: &super::TempDir, extra: &[&str]) -> Vec<TruthRow> {
        self.send_from(dir, None, extra)
    }

    /// [`send`](Self::send) from a generator pinned to `cpu`: the kernel
    /// picks an AF_PACKET sender's TX queue, and so the veth peer's RX
    /// queue, from the sending CPU.
    pub fn send_from(
        &self,
        dir: &super::TempDir,
        cpu: Option<usize>,
        extra: &[&str],
    ) -> Vec<TruthRow> {
        self.send_on(dir, &self.tx_if, cpu, extra)
    }

    /// [`send_from`](Self::send_from) out of `tx_if`, an interface of the
    /// sending namespace (see [`add_link`](Self::add_link)).
    pub fn send_on(
        &self,
        dir: &super::TempDir,
        tx_if: &str,
        cpu: Option<usize>,
        extra: &[&str],
    ) -> Vec<TruthRow> {
        let truth = dir.path(&format!(
            "truth-{}.csv",
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut cmd = match cpu {
            Some(c) => {
                let mut cmd = self.in_ns(&self.tx, "taskset");
                cmd.args(["-c", &c.to_string(), super::bin()]);
                cmd
            }
            None => self.in_ns(&self.tx, super::bin()),
        };
        let out = cmd
            .args(["gen", "--iface", tx_if, "--truth", truth.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "gen: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(&truth)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                TruthRow {
                    src: f[0].into(),
                    dst: f[1].into(),
                    proto: f[2].parse().unwrap(),
                    src_port: f[3].parse().unwrap(),
                    dst_port: f[4].parse().unwrap(),
                    vlan: f[5].parse().unwrap(),
                    packets: f[6].parse().unwrap(),
                    bytes: f[7].parse().unwrap(),
                }
            })
            .collect()
    }
}

/// Sends a mix, takes the capture interface down and up, sends again,
/// deletes and re-creates it (a new ifindex) and sends a third time,
/// checking that the capture says the interface disappeared and is back;
/// `while_gone` and `while_back` run at those moments. Returns the
/// capture's final exposition and what was sent (1000 packets each time).
pub fn gone_and_back(
    v: &VethPair,
    dir: &super::TempDir,
    cap: Capture,
    while_gone: impl FnOnce(&Capture),
    while_back: impl FnOnce(&Capture),
) -> (String, Vec<TruthRow>) {
    let mix = ["--flows", "50", "--packets", "1000", "--rate", "20000"];
    let mut truth = v.send(dir, &mix);
    v.set_rx_link(false);
    std::thread::sleep(Duration::from_millis(300));
    v.set_rx_link(true);
    std::thread::sleep(Duration::from_millis(300));
    truth.extend(v.send(dir, &mix));
    v.delete_link();
    assert!(
        cap.wait_log("disappeared", Duration::from_secs(5)),
        "{:?}",
        cap.log()
    );
    while_gone(&cap);
    v.create_link();
    assert!(
        cap.wait_log("is back", Duration::from_secs(5)),
        "{:?}",
        cap.log()
    );
    while_back(&cap);
    truth.extend(v.send(dir, &mix));
    (cap.stop(), truth)
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for ns in [&self.tx, &self.rx] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[derive(Debug, Clone)]
pub struct TruthRow {
    pub src: String,
    pub dst: String,
    pub proto: u8,
    /// Both 0 for a later fragment, which carries no transport header.
    pub src_port: u16,
    pub dst_port: u16,
    pub vlan: u16,
    pub packets: u64,
    pub bytes: u64,
}

/// A ringflow capturing in a namespace; killed when dropped.
pub struct Capture {
    child: Child,
    pub addr: String,
    ns: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    /// Starts `ringflow ARGS --listen 127.0.0.1:0 --print` in `ns` and waits
    /// until it serves (its rings are bound by then).
    pub fn start(ns: &str, args: &[&str]) -> Capture {
        Capture::start_under(ns, &[], args)
    }

    /// [`start`](Self::start) under `wrapper`, a program that execs the
    /// rest of its command line in place (setpriv, say).
    /// It runs in a process group of its own, as a service manager starts
    /// it, so a signal to its group reaches it alone.
    pub fn start_under(ns: &str, wrapper: &[&str], args: &[&str]) -> Capture {
        Capture::start_program(ns, wrapper, super::bin(), args)
    }

    /// [`start_under`](Self::start_under) with the ringflow binary at
    /// `program`.
    pub fn start_program(ns: &str, wrapper: &[&str], program: &str, args: &[&str]) -> Capture {
        use std::os::unix::process::CommandExt;
        let mut child = Command::new("ip")
            .process_group(0)
            .args(["netns", "exec", ns])
            .args(wrapper)
            .arg(program)
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--print"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("http://").nth(1) {
                    let _ = tx.send(rest.trim_end_matches("/metrics").to_string());
                }
                log2.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("ringflow did not start: {:?}", log.lock().unwrap());
            }
        };
        Capture {
            child,
            addr,
            ns: ns.to_string(),
            log,
        }
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// (policy, real-time priority) of each worker thread, from
    /// /proc/PID/task/*/stat: policy 0 is SCHED_OTHER, 1 SCHED_FIFO.
    /// (`ip netns exec` execs ringflow in place, so the child is ringflow.)
    pub fn worker_scheduling(&self) -> Vec<(u32, u32)> {
        let mut out = Vec::new();
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap();
        for t in tasks.map_while(Result::ok) {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if !comm.starts_with("ringflow-worker") {
                continue;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // fields after the ")" that closes the name start at field 3;
            // rt_priority is field 40 and policy field 41
            let rest: Vec<&str> = stat
                .rsplit(')')
                .next()
                .unwrap()
                .split_whitespace()
                .collect();
            out.push((rest[41 - 3].parse().unwrap(), rest[40 - 3].parse().unwrap()));
        }
        out
    }

    /// Each thread's name and the CPUs it may run on
    /// (`Cpus_allowed_list`), sorted by name.
    pub fn thread_cpus(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.child.id())).unwrap();
        for t in tasks.map_while(Result::ok) {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            if let Some(l) = status.lines().find(|l| l.starts_with("Cpus_allowed_list:")) {
                let cpus = l.split_whitespace().nth(1).unwrap_or("").to_string();
                out.push((comm.trim().to_string(), cpus));
            }
        }
        out.sort();
        out
    }

    /// Waits until a log line contains `what`.
    pub fn wait_log(&self, what: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log().iter().any(|l| l.contains(what)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// `GET /metrics` from inside the namespace.
    pub fn scrape(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "curl", "-sf"])
            .arg(format!("http://{}/metrics", self.addr))
            .output()
            .expect("curl");
        String::from_utf8(out.stdout).unwrap()
    }

    /// `GET path` of the JSON API from inside the namespace.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.ns, "curl", "-sf"])
            .arg(format!("http://{}{path}", self.addr))
            .output()
            .expect("curl");
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{path}: {e}: {:?}", String::from_utf8_lossy(&out.stdout)))
    }

    /// A line of /proc/PID/status, such as `Uid` or `CapEff`.
    pub fn status_field(&self, field: &str) -> String {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in {status}"))
            .trim()
            .to_string()
    }

    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// `sig` to ringflow and then at once to its process group, as
    /// `timeout`, systemd's `KillMode=control-group` and container runtimes
    /// do: ringflow receives it twice.
    pub fn signal_process_and_group(&self, sig: nix::sys::signal::Signal) {
        self.signal(sig);
        nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }

    /// SIGTERM, then the final exposition it prints; asserts exit 0.
    pub fn stop(self) -> String {
        self.signal(nix::sys::signal::Signal::SIGTERM);
        self.finish()
    }

    /// The final exposition it prints once stopped; asserts exit 0.
    pub fn finish(mut self) -> String {
        let mut out = String::new();
        use std::io::Read;
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit {status}: {:?}", self.log());
        out
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
