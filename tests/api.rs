//! The JSON API over a served replay of known traffic: every endpoint's
//! answer against what the capture holds, the parameters checked, errors
//! and headers.

mod common;

use common::{HOSTILE, KNOWN_PAIRS, KNOWN_T0, ServedReplay, TempDir, serve_known_traffic};
use serde_json::Value;

fn json(s: &ServedReplay, path: &str) -> Value {
    let r = s.get(path, &[]);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
    assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn error(s: &ServedReplay, path: &str, status: u16) -> String {
    let r = s.get(path, &[]);
    assert_eq!(r.status, status, "{path}: {}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["error"].as_str().unwrap().to_string()
}

#[test]
fn top_pairs_hosts_services_and_graph_are_the_captures() {
    let dir = TempDir::new("api-top");
    let (s, last) = serve_known_traffic(&dir);
    let seconds = (last - KNOWN_T0 * 1_000_000_000) as f64 / 1e9;

    // the 5-minute window holds the whole capture, which is 30 s long:
    // rates are over the capture's time, not the replay's
    let v = json(&s, "/api/v1/top?what=pairs&window=5m&n=1000");
    assert_eq!(v["window"], "5m");
    // (flow timestamps are kept to 1024 ns)
    let got = v["seconds"].as_f64().unwrap();
    assert!((got - seconds).abs() < 1e-5, "{got} s");
    assert_eq!(v["total"], KNOWN_PAIRS.len());
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), KNOWN_PAIRS.len());
    for ((src, dst, port, frames), item) in KNOWN_PAIRS.iter().zip(items) {
        assert_eq!(item["src"], *src);
        assert_eq!(item["dst"], *dst);
        assert_eq!(item["packets"], *frames);
        assert_eq!(item["bytes"], frames * 1000);
        let rate = item["bytes_per_second"].as_f64().unwrap();
        assert!((rate - (frames * 1000) as f64 / got).abs() < 1e-6);
        assert_eq!(item["services"][0]["port"], *port);
        assert_eq!(item["services"][0]["proto"], "udp");
    }
    assert_eq!(items[0]["class"], "outgoing");
    // since when: every pair's first packet is at the capture's start
    assert_eq!(items[0]["first_seen"], "2023-11-14T22:13:20.000Z");
    assert_eq!(items[1]["class"], "incoming");
    assert_eq!(items[3]["class"], "internal");
    assert_eq!(items[1]["services"][0]["service"], "quic");

    // by packets, n and class
    let v = json(&s, "/api/v1/top?what=pairs&by=packets&n=1&class=internal");
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["src"], "10.1.0.3");

    // the 1-minute window starts at the capture's first packet as well
    let v = json(&s, "/api/v1/top?what=hosts");
    assert_eq!(v["items"][0]["ip"], "10.1.0.1");
    assert_eq!(v["items"][0]["sent"]["bytes"], 450_000);
    assert_eq!(v["items"][0]["received"]["bytes"], 0);
    assert_eq!(v["items"][0]["local"], true);
    assert_eq!(v["total"], 8);

    let v = json(&s, "/api/v1/top?what=services");
    let ports: Vec<u64> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports, [5201, 443, 53, 123]);
    assert_eq!(v["items"][2]["service"], "dns");

    // the chart: edges of at least 100 kB, their hosts as nodes
    let v = json(&s, "/api/v1/graph?window=5m&min-bytes=100K");
    let edges: Vec<(String, String)> = v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["src"].to_string(), e["dst"].to_string()))
        .collect();
    assert_eq!(edges.len(), 2, "{v}");
    assert_eq!(v["total_edges"], 2);
    let mut nodes: Vec<(String, bool)> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["ip"].as_str().unwrap().into(),
                n["local"].as_bool().unwrap(),
            )
        })
        .collect();
    nodes.sort();
    assert_eq!(
        nodes,
        [
            ("10.1.0.1".to_string(), true),
            ("198.51.100.1".to_string(), false),
            ("2001:db8::7".to_string(), false),
            ("fd00::5".to_string(), true)
        ]
    );
    assert_eq!(
        json(&s, "/api/v1/graph?n=3")["edges"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn one_host_alerts_and_the_trafficalerted_paths() {
    let dir = TempDir::new("api-host");
    let (s, _) = serve_known_traffic(&dir);

    let v = json(&s, "/api/v1/hosts/10.1.0.1?window=5m");
    assert_eq!(v["sent"]["bytes"], 450_000);
    assert_eq!(v["received"]["packets"], 0);
    assert_eq!(v["peers"][0]["ip"], "198.51.100.1");
    assert_eq!(v["peers"][0]["received"]["bytes"], 450_000);
    assert_eq!(v["services"][0]["port"], 5201);
    assert_eq!(v["alerts"][0]["kind"], "bytes");
    // an IPv6 address, %-escaped as a browser sends it
    let v = json(&s, "/api/v1/hosts/fd00%3A%3A5");
    assert_eq!(v["received"]["bytes"], 120_000);
    assert!(error(&s, "/api/v1/hosts/198.51.100.1", 404).contains("not monitored"));
    assert!(error(&s, "/api/v1/hosts/10.9.9.9", 404).contains("not among"));
    assert!(error(&s, "/api/v1/hosts/not-an-ip", 400).contains("not an IP"));

    // the alert: over the limit in each of the three intervals; it is
    // still active when the input ends
    let active = json(&s, "/api/v1/alerts/active");
    let active = active.as_array().unwrap();
    assert_eq!(active.len(), 1, "{active:?}");
    let a = &active[0];
    assert_eq!(a["ip"], "10.1.0.1");
    assert_eq!(a["direction"], "out");
    assert_eq!(a["group"], HOSTILE);
    assert_eq!(a["peers"][0]["ip"], "198.51.100.1");

    assert_eq!(
        json(&s, "/api/v1/alerts/active?n=1"),
        json(&s, "/api/v1/alerts/active")
    );
    assert!(error(&s, "/api/v1/alerts/active?n=0", 400).contains("n must"));

    // the events, paged with since
    let all = json(&s, "/api/v1/alerts");
    let events = all["events"].as_array().unwrap();
    assert!(!events.is_empty());
    assert_eq!(events[0]["event"], "start");
    assert_eq!(all["latest"], events.len());
    let page = json(&s, "/api/v1/alerts?since=0&n=1");
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(page["next"], 1);
    let rest = json(&s, &format!("/api/v1/alerts?since={}", all["latest"]));
    assert!(rest["events"].as_array().unwrap().is_empty());

    // TrafficAlerted's shape
    let v = json(&s, "/active");
    assert_eq!(v[0]["EventType"], "bytes");
    assert_eq!(v[0]["SourceIP"], "10.1.0.1");
    assert_eq!(v[0]["DestinationIP"][0]["IP"], "198.51.100.1");
    assert!(v[0]["DestinationIP"][0]["Bytes"].as_u64().unwrap() > 100_000);
    assert!(v[0]["TotalBytes"].as_u64().unwrap() > 100_000);
    assert_eq!(json(&s, "/capabilities"), json(&s, "/api/v1/capabilities"));
}

#[test]
fn capabilities_status_and_throughput() {
    let dir = TempDir::new("api-status");
    let (s, last) = serve_known_traffic(&dir);
    let c = json(&s, "/api/v1/capabilities");
    assert_eq!(c["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(c["source"], "replay");
    assert_eq!(c["workers"], 1);
    assert_eq!(c["detection"]["volume"], true);
    assert_eq!(c["detection"]["groups"][0]["limits"]["bytes"], 100_000);
    assert_eq!(c["detection"]["scan_hosts"], 100);
    assert_eq!(c["limits"]["alert_history"], 10_000);
    assert_eq!(c["limits"]["max_entries"], 250_000);
    assert!(
        c["networks"]["local"]
            .as_array()
            .unwrap()
            .contains(&Value::from("10.0.0.0/8"))
    );

    let st = json(&s, "/api/v1/status");
    assert_eq!(st["complete"], true);
    assert_eq!(st["packets"], 720);
    // the monitored ones: in the local networks
    assert_eq!(st["collector"]["hosts"], 5);
    assert_eq!(st["warnings"].as_array().unwrap().len(), 0);

    // a point every 10 s of capture time, the last at the last packet
    let t = json(&s, "/api/v1/throughput");
    let times: Vec<f64> = t["time"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    let t0 = KNOWN_T0 as f64;
    assert_eq!(times.len(), 3, "{times:?}");
    assert_eq!(&times[..2], &[t0 + 10.0, t0 + 20.0]);
    assert!((times[2] - last as f64 / 1e9).abs() < 1e-5);
    // everything the capture sent in its first 10 s
    let first_10s: u64 = KNOWN_PAIRS
        .iter()
        .map(|(_, _, _, n)| {
            (0..*n)
                .filter(|i| i * (30_000_000_000 / n) < 10_000_000_000)
                .count() as u64
        })
        .sum();
    let bits: f64 = ["incoming", "outgoing", "internal", "transit"]
        .iter()
        .map(|c| t["classes"][c]["bits_per_second"][0].as_f64().unwrap())
        .sum();
    assert_eq!(bits, first_10s as f64 * 8000.0 / 10.0);
}

#[test]
fn bad_parameters_methods_gzip_and_head() {
    let dir = TempDir::new("api-errors");
    let (s, _) = serve_known_traffic(&dir);
    for (path, word) in [
        ("/api/v1/top?what=cats", "what"),
        ("/api/v1/top?by=weight", "by"),
        ("/api/v1/top?window=2h", "window"),
        ("/api/v1/top?class=outer", "class"),
        ("/api/v1/top?n=0", "n must"),
        ("/api/v1/top?n=1001", "n must"),
        ("/api/v1/top?colour=red", "colour"),
        ("/api/v1/graph?min-bytes=lots", "min-bytes"),
        ("/api/v1/alerts?since=-1", "since"),
        ("/api/v1/status?x=1", "x"),
    ] {
        let e = error(&s, path, 400);
        assert!(e.contains(word), "{path}: {e}");
    }
    error(&s, "/api/v2/top", 404);

    // every method but GET and HEAD
    use std::io::{Read, Write};
    for method in ["POST", "PUT", "DELETE"] {
        let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
        write!(
            c,
            "{method} /api/v1/top HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            s.addr
        )
        .unwrap();
        let mut resp = String::new();
        c.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 405"), "{method}: {resp}");
        assert!(resp.contains("{\"error\":"), "{method}");
    }

    // gzip when accepted, the same JSON
    let plain = s.get("/api/v1/top?what=pairs", &[]);
    let gz = s.get("/api/v1/top?what=pairs", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.body);

    // HEAD: the headers, no body
    let mut c = std::net::TcpStream::connect(&s.addr).unwrap();
    write!(
        c,
        "HEAD /api/v1/status HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    )
    .unwrap();
    let mut resp = String::new();
    c.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.ends_with("\r\n\r\n"), "a body after HEAD: {resp}");

    // the page: CSP, and the root leads to it
    let page = s.get("/dashboard", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-security-policy"),
        Some("default-src 'self'; frame-ancestors 'none'")
    );
    assert!(page.text().contains("/dashboard/app.js"));
    assert_eq!(s.get("/", &[]).header("location"), Some("/dashboard"));
}
