//! Helpers shared by the integration tests: writing capture files, running
//! the binary, reading the exposition back.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use ringflow::tools::synth;

pub mod mirror;
pub mod netns;

/// A scratch directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "ringflow-test-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One record: timestamp, frame bytes, bytes stored (None: all).
pub struct Rec {
    pub ts_ns: u64,
    pub frame: Vec<u8>,
    pub caplen: Option<usize>,
}

pub fn write_pcap(path: &Path, linktype: u32, nanos: bool, recs: &[Rec]) {
    let f = std::fs::File::create(path).unwrap();
    let mut w = synth::PcapWriter::new(f, linktype, nanos).unwrap();
    for r in recs {
        w.write(r.ts_ns, &r.frame, r.caplen.unwrap_or(usize::MAX))
            .unwrap();
    }
}

/// A minimal pcapng writer: one section, one interface with microsecond
/// timestamps, enhanced packet blocks.
pub fn write_pcapng(path: &Path, linktype: u16, recs: &[Rec]) {
    fn block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
        let mut b = body.to_vec();
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        let total = (b.len() + 12) as u32;
        out.extend_from_slice(&btype.to_le_bytes());
        out.extend_from_slice(&total.to_le_bytes());
        out.extend_from_slice(&b);
        out.extend_from_slice(&total.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = linktype.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0, 0, 0, 4, 0]);
    block(&mut out, 1, &idb);
    for r in recs {
        let cap = r.frame.len().min(r.caplen.unwrap_or(usize::MAX));
        let us = r.ts_ns / 1000;
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&((us >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(us as u32).to_le_bytes());
        epb.extend_from_slice(&(cap as u32).to_le_bytes());
        epb.extend_from_slice(&(r.frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&r.frame[..cap]);
        block(&mut out, 6, &epb);
    }
    std::fs::write(path, out).unwrap();
}

/// Writes `mix` as the pcap file `name` in `dir` (first frame at a fixed
/// time) and returns its path.
pub fn mix_file(dir: &TempDir, name: &str, mix: &synth::Mix) -> PathBuf {
    let p = dir.path(name);
    std::fs::write(&p, mix.to_pcap(1_700_000_000_000_000_000)).unwrap();
    p
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ringflow")
}

pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// Runs `ringflow replay FILES --print EXTRA...` and returns stdout;
/// panics with stderr if it fails.
pub fn replay(files: &[&Path], extra: &[&str]) -> String {
    let out = Command::new(bin())
        .arg("replay")
        .args(files)
        .arg("--print")
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ringflow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A sample: metric name and its labels in order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl Sample {
    pub fn label(&self, k: &str) -> &str {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} has no label {k}", self.name))
    }
}

/// Parses the text exposition into sample -> value. Checks every line is
/// a comment or a well-formed sample.
pub fn parse_exposition(text: &str) -> BTreeMap<Sample, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (head, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value.parse().expect("numeric value");
        let (name, labels) = match head.split_once('{') {
            Some((n, rest)) => {
                let rest = rest.strip_suffix('}').expect("closing brace");
                let mut labels = Vec::new();
                let mut s = rest;
                while !s.is_empty() {
                    let (k, r) = s.split_once("=\"").expect("label=\"");
                    let end = r.find('"').expect("closing quote");
                    labels.push((k.to_string(), r[..end].to_string()));
                    s = r[end + 1..].trim_start_matches(',');
                }
                (n.to_string(), labels)
            }
            None => (head.to_string(), Vec::new()),
        };
        let prev = out.insert(Sample { name, labels }, value);
        assert!(prev.is_none(), "duplicate sample: {line}");
    }
    out
}

/// The samples of one metric family, keyed by their label values.
pub fn family(m: &BTreeMap<Sample, f64>, name: &str) -> BTreeMap<Vec<String>, u64> {
    m.iter()
        .filter(|(s, _)| s.name == name)
        .map(|(s, v)| (s.labels.iter().map(|(_, v)| v.clone()).collect(), *v as u64))
        .collect()
}

/// The samples of one family keyed by the values of the labels `keys`
/// only (in that order); samples that agree on them are summed.
pub fn family_by(
    m: &BTreeMap<Sample, f64>,
    name: &str,
    keys: &[&str],
) -> BTreeMap<Vec<String>, u64> {
    let mut out = BTreeMap::new();
    for (s, v) in m.iter().filter(|(s, _)| s.name == name) {
        let k: Vec<String> = keys.iter().map(|k| s.label(k).to_string()).collect();
        *out.entry(k).or_default() += *v as u64;
    }
    out
}

/// The labels that identify a flow series apart from the ones derived
/// from them (service name, class).
pub const FLOW_KEY: [&str; 5] = ["src", "dst", "proto", "port", "direction"];

/// (src, dst) -> (packets, bytes)
pub type PerPair = BTreeMap<(String, String), (u64, u64)>;

/// The flow series of an exposition summed per source and destination,
/// whatever their protocol, port or direction.
pub fn flows_per_pair(text: &str) -> PerPair {
    let m = parse_exposition(text);
    let packets = family(&m, "ringflow_flow_packets_total");
    let mut out = PerPair::new();
    for (labels, bytes) in family(&m, "ringflow_flow_bytes_total") {
        let e = out
            .entry((labels[0].clone(), labels[1].clone()))
            .or_default();
        e.0 += packets[&labels];
        e.1 += bytes;
    }
    out
}

/// The exposition without the lines that depend on the run rather than
/// the input: batch durations, the worker tables' memory, slots, fill
/// and expiries (which depend on the worker count and the timing), and
/// the process's own state and start time.
pub fn without_run_specific(text: &str) -> String {
    text.lines()
        .filter(|l| {
            !l.contains("ringflow_worker_batch_seconds")
                && !l.contains("process_")
                && !l.contains("ringflow_start_time_seconds")
                && !l.contains("ringflow_flow_table_memory_bytes")
                && !l.contains("ringflow_flow_table_flows")
                && !l.contains("ringflow_flow_table_slots")
                && !l.contains("ringflow_flow_table_expired")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts two expositions are the same apart from run-specific lines,
/// showing the first differing samples rather than both whole texts.
pub fn assert_same_exposition(a: &str, b: &str, what: &str) {
    let (a, b) = (without_run_specific(a), without_run_specific(b));
    if a != b {
        let (x, y) = (parse_exposition(&a), parse_exposition(&b));
        let diff: Vec<_> = x
            .iter()
            .filter(|(k, v)| y.get(k) != Some(v))
            .map(|(k, v)| (k, v, y.get(k)))
            .take(5)
            .collect();
        let extra: Vec<_> = y.keys().filter(|k| !x.contains_key(k)).take(5).collect();
        panic!("{what}: expositions differ: {diff:?}; only in the second: {extra:?}");
    }
}

/// A program the test needs from a Debian package. Tests that call this
/// are `#[ignore]`d, so `cargo test` lists them as ignored; run with
/// `--include-ignored` they fail if the program is missing.
pub fn tool(program: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(program))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| panic!("{program} not found: apt-get install {package}"))
}

/// The standard output of `cmd`, which must succeed (else the test fails
/// with the command and all it printed).
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An HTTP/1.1 response read off the socket: status line and headers
/// (lower-cased names), body bytes.
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
}

/// `GET path` with the extra request headers given, on a new connection.
pub fn http_get_with(addr: &str, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(resp[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: resp[split + 4..].to_vec(),
    }
}

/// `ringflow replay FILE --listen 127.0.0.1:0 EXTRA...`, serving until
/// dropped (then killed).
pub struct ServedReplay {
    child: KillOnDrop,
    pub addr: String,
    /// What it wrote to stderr after it started serving.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServedReplay {
    /// Starts the replay and waits until it serves the complete input.
    pub fn start(file: &Path, extra: &[&str]) -> ServedReplay {
        use std::io::BufRead;
        let mut child = Command::new(bin())
            .arg("replay")
            .arg(file)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut addr = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(rest) = line.split("http://").nth(1) {
                addr = Some(rest.trim_end_matches("/metrics").to_string());
            }
            if line.contains("input complete") {
                break;
            }
        }
        // keep reading stderr so ringflow never blocks on a full pipe
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for l in lines.map_while(Result::ok) {
                log2.lock().unwrap().push(l);
            }
        });
        let mut served = ServedReplay {
            child: KillOnDrop(child),
            addr: addr.unwrap_or_default(),
            log,
        };
        assert!(
            !served.addr.is_empty() && served.child.0.try_wait().unwrap().is_none(),
            "ringflow did not serve the replay"
        );
        served
    }

    /// The lines it wrote to stderr since it started serving.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The serving process's id.
    pub fn pid(&self) -> u32 {
        self.child.0.id()
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
        http_get_with(&self.addr, path, headers)
    }
}

/// Runs `promtool check metrics` on `text`: (exit status, findings).
pub fn promtool(promtool: &Path, text: &str) -> (i32, Vec<String>) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = text.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    (out.status.code().unwrap_or(-1), findings)
}

/// A loopback port nothing listens on now: taken from the kernel and
/// let go, for a server the test starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when dropped, so a failing test leaves nothing
/// running.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An executable shell script `name` in `dir` with the body `body`.
pub fn script(dir: &TempDir, name: &str, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Capture time of the first packet of [`known_traffic`], in seconds.
pub const KNOWN_T0: u64 = 1_700_000_000;

/// The host pairs of [`known_traffic`]: (client, server, UDP port, frames
/// of 1000 bytes).
pub const KNOWN_PAIRS: [(&str, &str, u16, u64); 4] = [
    ("10.1.0.1", "198.51.100.1", 5201, 450),
    ("2001:db8::7", "fd00::5", 443, 120),
    ("10.1.0.2", "198.51.100.2", 53, 90),
    ("10.1.0.3", "10.1.0.4", 123, 60),
];

/// One 1000-byte UDP frame from `src` to `dst`:`dport` at `ts_ns`.
pub fn udp_1000(src: &str, dst: &str, dport: u16, ts_ns: u64) -> Rec {
    let frame = if src.contains(':') {
        let a = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
        let udp = synth::udp(40000, dport, 1000 - 14 - 40 - 8);
        synth::ethernet(&[], 0x86dd, &synth::ipv6(a(src), a(dst), 17, &[], &udp))
    } else {
        let a = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap().octets();
        let udp = synth::udp(40000, dport, 1000 - 14 - 20 - 8);
        synth::ethernet(
            &[],
            0x0800,
            &synth::ipv4(a(src), a(dst), 17, (false, 0), &udp),
        )
    };
    assert_eq!(frame.len(), 1000);
    Rec {
        ts_ns,
        frame,
        caplen: None,
    }
}

/// A capture of [`KNOWN_PAIRS`] spread evenly over 30 s from
/// [`KNOWN_T0`]: the first pair sends 150 kB in every 10 s (over a
/// 100K limit), the others less. Returns the file and the capture time of
/// its last packet (ns).
pub fn known_traffic(dir: &TempDir) -> (PathBuf, u64) {
    let mut recs = Vec::new();
    for (src, dst, port, n) in KNOWN_PAIRS {
        for i in 0..n {
            let ts = KNOWN_T0 * 1_000_000_000 + i * (30_000_000_000 / n);
            recs.push(udp_1000(src, dst, port, ts));
        }
    }
    recs.sort_by_key(|r| r.ts_ns);
    let last = recs.last().unwrap().ts_ns;
    let path = dir.path("known.pcap");
    write_pcap(&path, 1, true, &recs);
    (path, last)
}

/// The alert group of [`known_traffic`]'s first host: a name a browser
/// would run if it were ever put in a page as markup.
pub const HOSTILE: &str = "<img src=x onerror=\"window.pwned=1\">";

/// [`known_traffic`] served with a 100K byte limit per 10 s on
/// 10.1.0.0/24, in the alert group [`HOSTILE`]. Returns the server and the
/// capture time of the last packet (ns).
pub fn serve_known_traffic(dir: &TempDir) -> (ServedReplay, u64) {
    let (file, last) = known_traffic(dir);
    let config = dir.path("groups.toml");
    std::fs::write(
        &config,
        format!(
            "[[alert-group]]\nname = {HOSTILE:?}\nnetworks = [\"10.1.0.0/24\"]\nalert-bytes = \"100K\"\n"
        ),
    )
    .unwrap();
    let s = ServedReplay::start(
        &file,
        &[
            "--config",
            config.to_str().unwrap(),
            "--alert-interval",
            "10s",
        ],
    );
    (s, last)
}

/// Waits until `f` holds, at most `secs` seconds.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// Waits (at most 10 s) until something listens on UDP port `port` of
/// 127.0.0.1: a collector that started.
pub fn udp_bound(port: u16) -> bool {
    wait_for(10, || {
        std::net::UdpSocket::bind(("127.0.0.1", port)).is_err()
    })
}

/// The records nfdump reads from the files in `store`, one a line in the
/// output format `format` (plain numbers, whole IPv6 addresses).
pub fn nfdump_read(nfdump: &Path, store: &Path, format: &str) -> String {
    stdout_of(
        Command::new(nfdump)
            .arg("-R")
            .arg(store)
            .args(["-q", "-N", "-6", "-o", format]),
    )
}
