//! `/metrics` as scrapers and linters read it: the Prometheus text format
//! by default (checked by `promtool check metrics`), OpenMetrics when the
//! client prefers it, gzip when accepted, and a real Prometheus server
//! scraping a replay and agreeing with what was replayed.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The Accept header Prometheus 2.x sends.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A capture with IPv4, IPv6, VLANs, fragments, non-IP frames and frames
/// the parser stops on, so that every optional family of a replay has
/// samples; returns its path, packets and bytes.
fn capture(dir: &TempDir, flows: u32) -> (PathBuf, u64, u64) {
    let mix = synth::Mix {
        flows,
        packets: u64::from(flows) * 10,
        ipv6_percent: 30,
        vlan_percent: 20,
        udp_percent: 30,
        frame_size: 0,
        seed: 5,
    };
    let mut recs = Vec::new();
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut push = |frame: Vec<u8>| {
        ts += 1000;
        recs.push(Rec {
            ts_ns: ts,
            frame,
            caplen: None,
        });
    };
    mix.for_each_frame(|_, _, f| push(f.to_vec()));
    for i in 0..10u8 {
        // ARP: not IP
        push(synth::ethernet(&[], 0x0806, &[i; 28]));
        // an IPv4 header that says version 5: a parse error
        let mut bad = synth::ipv4([10, 213, 9, i], [198, 51, 100, 9], 17, (false, 0), &[0; 8]);
        bad[0] = 0x55;
        push(synth::ethernet(&[], 0x0800, &bad));
        // a later IPv4 fragment: counted under its host pair without ports
        let frag = synth::ipv4([10, 213, 9, i], [198, 51, 100, 9], 17, (false, 3), &[0; 40]);
        push(synth::ethernet(&[], 0x0800, &frag));
    }
    let packets = recs.len() as u64;
    let bytes = recs.iter().map(|r| r.frame.len() as u64).sum();
    let path = dir.path("mix.pcap");
    write_pcap(&path, 1, false, &recs);
    (path, packets, bytes)
}

/// Family name (as the text format names it) -> (HELP, TYPE), read from
/// either format: in OpenMetrics a counter family is named without its
/// `_total`, an info family without `_info`, and HELP escapes `"`.
fn descriptors(text: &str, openmetrics: bool) -> BTreeMap<String, (String, String)> {
    let mut help = BTreeMap::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("# HELP ") {
            let (name, text) = h.split_once(' ').unwrap();
            let text = if openmetrics {
                text.replace("\\\"", "\"")
            } else {
                text.to_string()
            };
            help.insert(name.to_string(), text);
        } else if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            let (key, kind) = match (openmetrics, kind) {
                (true, "counter") => (format!("{name}_total"), kind),
                (true, "info") => (format!("{name}_info"), "gauge"),
                _ => (name.to_string(), kind),
            };
            let h = help.remove(name).expect("HELP before TYPE");
            assert!(out.insert(key, (h, kind.to_string())).is_none());
        }
    }
    out
}

#[test]
fn default_is_the_text_format_with_counters_named_total() {
    let dir = TempDir::new("promtool");
    let (file, packets, _) = capture(&dir, 300);
    let served = ServedReplay::start(&file, &["--compat", "promflow,trafficmonitor"]);
    let r = served.get("/metrics", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(TEXT));
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("vary"), Some("Accept, Accept-Encoding"));
    let text = r.text();
    assert!(!text.contains("# EOF"), "no OpenMetrics trailer");
    let m = parse_exposition(&text);
    assert_eq!(family(&m, "ringflow_packets_total")[&vec![]], packets);
    // counters carry _total, and every family but those of live capture
    // sockets and NICs (and active alerts: no limit is set) has samples in
    // a replay
    let d = descriptors(&text, false);
    for (name, (help, kind)) in &d {
        assert!(!help.is_empty(), "{name} has help");
        assert_eq!(kind == "counter", name.ends_with("_total"), "{name} {kind}");
        let prefix = name.trim_end_matches("_total");
        assert!(
            m.keys().any(|s| s.name.starts_with(prefix))
                || name.starts_with("ringflow_capture_")
                || name.starts_with("ringflow_nic_")
                || name == "ringflow_alert_active",
            "{name} has no sample"
        );
    }
    for f in [
        "promflow_transmit_bytes_total",
        "trafficmonitor_hosts_src_dst",
        "ringflow_parse_errors_total",
        "ringflow_non_ip_packets_total",
        "ringflow_worker_batch_seconds",
    ] {
        assert!(d.contains_key(f), "{f} missing");
    }
    // what --print writes is what is served
    assert_same_exposition(
        &text,
        &replay(&[&file], &["--compat", "promflow,trafficmonitor"]),
        "served and printed",
    );
}

#[test]
#[ignore = "needs promtool (apt-get install prometheus); run with --include-ignored"]
fn promtool_finds_nothing_but_trafficmonitor_label_names() {
    let promtool_bin = tool("promtool", "prometheus");
    let dir = TempDir::new("promtool");
    let (file, _, _) = capture(&dir, 300);
    let served = ServedReplay::start(&file, &["--compat", "promflow,trafficmonitor"]);
    let text = served.get("/metrics", &[]).text();
    // trafficmonitor's own label names (a_srcAddr, ...) are camelCase:
    // the profile keeps them so its users' queries keep working, and that
    // is the one finding promtool may have.
    let (status, findings) = promtool(&promtool_bin, &text);
    let other: Vec<&String> = findings
        .iter()
        .filter(|l| {
            *l != "trafficmonitor_hosts_src_dst label names should be written in 'snake_case' not 'camelCase'"
        })
        .collect();
    assert!(other.is_empty(), "promtool: {other:?}");
    assert!(!findings.is_empty() && status != 0, "the camelCase labels");
    // without that profile: no finding at all
    let plain = ServedReplay::start(&file, &["--compat", "promflow"]);
    let text = plain.get("/metrics", &[]).text();
    assert!(text.contains("promflow_receive_bytes_total{"));
    assert_eq!(promtool(&promtool_bin, &text), (0, vec![]));
}

#[test]
fn openmetrics_only_when_the_client_prefers_it_with_the_same_samples() {
    let dir = TempDir::new("negotiate");
    let (file, _, _) = capture(&dir, 200);
    let served = ServedReplay::start(&file, &["--compat", "promflow,trafficmonitor"]);
    let text = served.get("/metrics", &[]).text();
    let om = served.get("/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    assert_eq!(om.header("content-type"), Some(OPENMETRICS));
    let om = om.text();
    assert!(om.ends_with("# EOF\n"));
    // (the process family is read at each scrape)
    assert_eq!(
        parse_exposition(&without_run_specific(&om)),
        parse_exposition(&without_run_specific(&text))
    );
    let (dt, dom) = (descriptors(&text, false), descriptors(&om, true));
    assert!(dt.len() > 20);
    assert_eq!(dt, dom, "same HELP and TYPE in both formats");
    // a raw quote is not allowed in an OpenMetrics HELP, and `\"` is not
    // an escape of the text format
    assert!(om.contains("under src=\\\"other\\\"."));
    assert!(text.contains("under src=\"other\"."));

    let openmetrics = [
        "application/openmetrics-text",
        "application/openmetrics-text; version=1.0.0",
        "text/plain;q=0.5, application/openmetrics-text;q=0.6",
        "APPLICATION/OPENMETRICS-TEXT;VERSION=0.0.1",
    ];
    for accept in openmetrics {
        let r = served.get("/metrics", &[("Accept", accept)]);
        assert_eq!(r.header("content-type"), Some(OPENMETRICS), "{accept}");
    }
    let text_format = [
        "*/*",
        "text/plain",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "application/json",
        "application/openmetrics-text;q=abc",
        "application/openmetrics-text;q=1.5",
        "application/openmetrics-text;q=-1",
        "application/openmetrics-text;q=0",
        "application/openmetrics-text;version=9.9.9",
        "text/plain;q=0.2, application/openmetrics-text;q=0.1",
        ";;;==,,q=",
        "garbage/;; q=\"x",
    ];
    for accept in text_format {
        let r = served.get("/metrics", &[("Accept", accept)]);
        assert_eq!(r.status, 200, "{accept}");
        assert_eq!(r.header("content-type"), Some(TEXT), "{accept}");
        assert_eq!(
            without_run_specific(&r.text()),
            without_run_specific(&text),
            "{accept}"
        );
    }
    let root = served.get("/", &[]);
    assert_eq!(root.status, 302);
    assert_eq!(root.header("location"), Some("/dashboard"));
    for path in ["/nope", "/metrics/x", "/api", "/api/v1/nope"] {
        let r = served.get(path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
        assert!(r.text().starts_with("{\"error\":"), "{path}");
    }
}

#[test]
fn gzip_when_the_client_accepts_it() {
    let dir = TempDir::new("gzip");
    let (file, _, _) = capture(&dir, 3000);
    let served = ServedReplay::start(&file, &[]);
    let plain = served.get("/metrics", &[]);
    assert_eq!(plain.header("content-encoding"), None);
    for (accept_encoding, accept) in [
        ("gzip", None),
        ("gzip, deflate, br", Some(PROMETHEUS_ACCEPT)),
        ("*", None),
    ] {
        let mut headers = vec![("Accept-Encoding", accept_encoding)];
        headers.extend(accept.map(|a| ("Accept", a)));
        let r = served.get("/metrics", &headers);
        assert_eq!(r.header("content-encoding"), Some("gzip"), "{headers:?}");
        let mut body = String::new();
        flate2::read::GzDecoder::new(&r.body[..])
            .read_to_string(&mut body)
            .unwrap();
        let expect = if accept.is_some() {
            served
                .get("/metrics", &[("Accept", PROMETHEUS_ACCEPT)])
                .text()
        } else {
            plain.text()
        };
        assert_eq!(
            without_run_specific(&body),
            without_run_specific(&expect),
            "{headers:?}"
        );
        assert!(
            r.body.len() * 5 < plain.body.len(),
            "{} bytes compressed to {}",
            plain.body.len(),
            r.body.len()
        );
    }
    for refused in ["gzip;q=0", "identity", "deflate", "*, gzip;q=0", "gzip;q=x"] {
        let r = served.get("/metrics", &[("Accept-Encoding", refused)]);
        assert_eq!(r.header("content-encoding"), None, "{refused}");
        assert!(
            without_run_specific(&r.text()) == without_run_specific(&plain.text()),
            "{refused}"
        );
    }
}

/// A Prometheus server on loopback with its own data directory, killed
/// when dropped.
struct Prometheus {
    _child: KillOnDrop,
    addr: String,
}

impl Prometheus {
    fn start(bin: &Path, dir: &TempDir, target: &str) -> Prometheus {
        let config = dir.path("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: ringflow\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path("prometheus.log")).unwrap();
        let child = Command::new(bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path("tsdb").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        Prometheus {
            _child: KillOnDrop(child),
            addr,
        }
    }

    /// `GET /api/v1/...` as text; None while Prometheus is not answering.
    fn api(&self, path_and_query: &str) -> Option<String> {
        std::net::TcpStream::connect(&self.addr).ok()?;
        let r = http_get_with(&self.addr, path_and_query, &[]);
        (r.status == 200).then(|| r.text())
    }

    /// The answer of `/api/v1/query` to a PromQL expression, as text.
    fn query_answer(&self, expr: &str) -> Option<String> {
        let q: String = expr
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.api(&format!("/api/v1/query?query={q}"))
    }

    /// The value of a PromQL expression that has a single result.
    fn query(&self, expr: &str) -> Option<String> {
        let body = self.query_answer(expr)?;
        // ..."value":[1700000000.123,"42"]}]}}
        let v = body.rsplit_once("\"value\":[")?.1;
        let v = v.split_once(",\"")?.1.split_once('"')?.0;
        Some(v.to_string())
    }
}

#[test]
#[ignore = "needs prometheus (apt-get install prometheus); run with --include-ignored"]
fn prometheus_scrapes_the_replay_and_agrees_with_the_truth() {
    let bin = tool("prometheus", "prometheus");
    let dir = TempDir::new("prometheus");
    let (file, packets, bytes) = capture(&dir, 500);
    let served = ServedReplay::start(&file, &[]);
    let prom = Prometheus::start(&bin, &dir, &served.addr);

    let end = Instant::now() + Duration::from_secs(60);
    let mut values = (None, None, None);
    while Instant::now() < end {
        values = (
            prom.query("up{job=\"ringflow\"}"),
            prom.query("ringflow_packets_total"),
            prom.query("sum(ringflow_flow_bytes_total)"),
        );
        if values.0.as_deref() == Some("1") && values.2.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let log = std::fs::read_to_string(dir.path("prometheus.log")).unwrap_or_default();
    assert_eq!(values.0.as_deref(), Some("1"), "target up; {log}");
    assert_eq!(
        values.1,
        Some(packets.to_string()),
        "ringflow_packets_total"
    );
    // every frame of the capture is in a flow but the 10 ARP frames and
    // the 10 the parser stopped on, 42 bytes each
    let arp_and_bad = 20 * 42;
    assert_eq!(
        values.2,
        Some((bytes - arp_and_bad).to_string()),
        "sum(ringflow_flow_bytes_total)"
    );

    // Prometheus keeps the family's metadata under the name the format it
    // negotiated gives it: ringflow_flow_bytes in OpenMetrics (which it
    // prefers), ringflow_flow_bytes_total in the text format.
    let help = descriptors(&served.get("/metrics", &[]).text(), false)["ringflow_flow_bytes_total"]
        .0
        .clone();
    let mut meta = String::new();
    while Instant::now() < end {
        meta = prom
            .api("/api/v1/metadata?metric=ringflow_flow_bytes")
            .unwrap_or_default()
            + &prom
                .api("/api/v1/metadata?metric=ringflow_flow_bytes_total")
                .unwrap_or_default();
        if meta.contains("\"type\"") {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let json_help = help.replace('"', "\\\"");
    assert!(
        meta.contains(&format!(
            "[{{\"type\":\"counter\",\"help\":\"{json_help}\",\"unit\":\"\"}}]"
        )),
        "metadata of ringflow_flow_bytes_total: {meta}"
    );
}

/// The alerting rules shipped for Prometheus check out and pass their
/// unit tests.
#[test]
#[ignore = "needs promtool (apt-get install prometheus); run with --include-ignored"]
fn shipped_alerting_rules_check_and_pass_their_tests() {
    let promtool = tool("promtool", "prometheus");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/prometheus");
    for args in [
        ["check", "rules", "ringflow-alerts.yml"],
        ["test", "rules", "ringflow-alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// ringflow's build and start, and the standard process family, against
/// what the kernel says of the serving process.
#[test]
fn build_start_and_process_families_describe_the_serving_process() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let dir = TempDir::new("process");
    let (file, _, _) = capture(&dir, 50);
    let served = ServedReplay::start(&file, &[]);
    let m = parse_exposition(&served.get("/metrics", &[]).text());
    let info: Vec<&Sample> = m
        .keys()
        .filter(|k| k.name == "ringflow_build_info")
        .collect();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].label("version"), env!("CARGO_PKG_VERSION"));
    assert_eq!(info[0].label("backend_features"), "af-packet,af-xdp,pcap");
    // the commit this checkout is at, where git can say
    let head = std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short=12",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(
        info[0].label("git_commit"),
        head.as_deref().unwrap_or("unknown")
    );
    let value = |name: &str| -> f64 {
        m.iter()
            .find(|(k, _)| k.name == name)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let start = value("process_start_time_seconds");
    assert_eq!(value("ringflow_start_time_seconds"), start);
    assert!(
        start >= before - 1.0 && start <= before + 30.0,
        "{start} vs {before}"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", served.pid())).unwrap();
    let field = |f: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(f))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let rss = value("process_resident_memory_bytes");
    let kernel_rss = (field("VmRSS:") * 1024) as f64;
    assert!(
        rss > kernel_rss * 0.5 && rss < kernel_rss * 2.0,
        "{rss} vs {kernel_rss}"
    );
    // read a moment apart from the scrape: close, not equal
    let virt = value("process_virtual_memory_bytes");
    let kernel_virt = (field("VmSize:") * 1024) as f64;
    assert!(
        (virt - kernel_virt).abs() <= kernel_virt * 0.1,
        "{virt} vs {kernel_virt}"
    );
    let threads = value("process_threads");
    assert!(threads >= 1.0 && (threads - field("Threads:") as f64).abs() <= 1.0);
    let fds = std::fs::read_dir(format!("/proc/{}/fd", served.pid()))
        .unwrap()
        .count() as f64;
    let open = value("process_open_fds");
    assert!(open >= 3.0 && (open - fds).abs() <= 2.0, "{open} vs {fds}");
    assert!(value("process_max_fds") >= open);
    assert!(value("process_cpu_seconds_total") > 0.0);
}

/// Every PromQL expression of a panel in the shipped Grafana dashboard,
/// with the dashboard's variables set as Grafana would set them.
fn dashboard_queries() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/grafana/ringflow.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    walk(&dash["panels"], &mut exprs);
    exprs
        .into_iter()
        .map(|e| {
            e.replace("$__rate_interval", "1m")
                .replace("$instance", ".*")
        })
        .collect()
}

/// The metric names an expression reads.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find(|c: char| c.is_ascii_lowercase()) {
        rest = &rest[i..];
        let word: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if word.starts_with("ringflow_") || word.starts_with("process_") {
            names.push(word.clone());
        }
        rest = &rest[word.len().max(1)..];
    }
    names
}

/// The Grafana dashboard's queries: promtool parses each (as a recording
/// rule), and a real Prometheus scraping a served replay evaluates each
/// without error; every query whose families the replay exports returns
/// data.
#[test]
#[ignore = "needs prometheus and promtool (apt-get install prometheus); run with --include-ignored"]
fn grafana_dashboard_queries_parse_and_return_data() {
    let exprs = dashboard_queries();
    assert!(exprs.len() >= 15, "{exprs:?}");
    let dir = TempDir::new("grafana");
    let mut rules = String::from("groups:\n  - name: grafana\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: grafana:panel_query_{i}\n        expr: '{}'\n",
            e.replace('\'', "''")
        ));
    }
    let file = dir.path("grafana-rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = Command::new(tool("promtool", "prometheus"))
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (capture_file, _, _) = capture(&dir, 300);
    // a byte limit every host crosses, so the alert families have series
    let served = ServedReplay::start(&capture_file, &["--alert-bytes", "1K"]);
    let exported: std::collections::BTreeSet<String> =
        parse_exposition(&served.get("/metrics", &[]).text())
            .keys()
            .map(|k| k.name.clone())
            .collect();
    assert!(exported.contains("ringflow_alert_active"), "alerts raised");
    let prom = Prometheus::start(&tool("prometheus", "prometheus"), &dir, &served.addr);
    // rates need two scrapes
    let end = Instant::now() + Duration::from_secs(60);
    while prom.query("count(count_over_time(up[1m]) >= 3)").is_none() {
        assert!(Instant::now() < end, "Prometheus scraped too few times");
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut with_data = 0;
    for e in &exprs {
        let body = prom
            .query_answer(e)
            .unwrap_or_else(|| panic!("{e}: not evaluated"));
        assert!(body.contains("\"status\":\"success\""), "{e}: {body}");
        let names = metric_names(e);
        assert!(!names.is_empty(), "{e}");
        if names.iter().all(|n| exported.contains(n)) {
            assert!(!body.contains("\"result\":[]"), "{e}: no data: {body}");
            with_data += 1;
        }
    }
    // the replay has no capture sockets or NICs; everything else has data
    assert!(
        with_data >= exprs.len() - 6,
        "{with_data} of {}",
        exprs.len()
    );
}
