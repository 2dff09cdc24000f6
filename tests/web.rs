//! The web endpoints protected by `--web-config` (exporter-toolkit's
//! format) and held to their connection limits: basic auth with bcrypt
//! hashes, TLS checked with curl (with and without client certificates),
//! and a flood of idle and slow connections during which a scraper keeps
//! getting its answer.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.pcap")
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Users with bcrypt hashes: a request without them, with a wrong
/// password or an unknown user gets 401 and the Basic challenge; with
/// them, the answer. Failures are logged once a minute at most, never
/// with a password or hash.
#[test]
fn basic_auth_with_bcrypt_hashes() {
    let dir = TempDir::new("web-auth");
    let hash = bcrypt::hash("s3cret pass", 4).unwrap();
    let config = dir.path("web.yml");
    std::fs::write(
        &config,
        format!("basic_auth_users:\n  prometheus: {hash}\n"),
    )
    .unwrap();
    let served = ServedReplay::start(&sample(), &["--web-config", config.to_str().unwrap()]);
    for path in ["/metrics", "/api/v1/status", "/dashboard", "/"] {
        let r = served.get(path, &[]);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"ringflow\", charset=\"UTF-8\""),
            "{path}"
        );
    }
    for (user, password) in [
        ("prometheus", "wrong"),
        ("nobody", "s3cret pass"),
        ("prometheus", ""),
    ] {
        let r = served.get("/metrics", &[("Authorization", &basic(user, password))]);
        assert_eq!(r.status, 401, "{user}:{password}");
    }
    let r = served.get("/metrics", &[("Authorization", "Bearer s3cret pass")]);
    assert_eq!(r.status, 401);
    let ok = basic("prometheus", "s3cret pass");
    for _ in 0..3 {
        let r = served.get("/metrics", &[("Authorization", &ok)]);
        assert_eq!(r.status, 200);
        assert!(r.text().contains("ringflow_packets_total 600"));
    }
    let r = served.get("/api/v1/status", &[("Authorization", &ok)]);
    assert_eq!(r.status, 200);
    // eight failures, one line; nothing secret in any line
    std::thread::sleep(Duration::from_millis(200));
    let log = served.log();
    let failures: Vec<&String> = log.iter().filter(|l| l.contains("failed login")).collect();
    assert_eq!(failures.len(), 1, "{log:?}");
    assert!(failures[0].contains("127.0.0.1"), "{log:?}");
    for l in &log {
        assert!(
            !l.contains("s3cret") && !l.contains(&hash) && !l.contains("wrong"),
            "{l}"
        );
    }
}

/// A bad web config is one line and exit 2 for `ringflow run`, naming
/// the setting and never a secret, before anything is captured.
#[test]
fn a_bad_web_config_is_one_line_and_exit_2() {
    let dir = TempDir::new("web-bad");
    let cases = [
        (
            "unknown.yml",
            "basic_auth_users: {}\nextra_key: 1\n",
            "extra_key",
        ),
        (
            "hash.yml",
            "basic_auth_users:\n  alice: topsecret\n",
            "not a bcrypt hash",
        ),
        (
            "tls.yml",
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n",
            "cert_file",
        ),
        (
            "auth.yml",
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n  client_auth_type: RequireAnyClientCert\n",
            "client_auth_type \"RequireAnyClientCert\"",
        ),
        (
            "noca.yml",
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n  client_auth_type: RequireAndVerifyClientCert\n",
            "needs client_ca_file",
        ),
        (
            "versions.yml",
            "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n  min_version: TLS13\n  max_version: TLS12\n",
            "min_version is above max_version",
        ),
    ];
    for (name, text, want) in cases {
        let f = dir.path(name);
        std::fs::write(&f, text).unwrap();
        let out = run(&["--iface", "lo", "--web-config", f.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
        assert_eq!(lines.len(), 1, "{name}: {err}");
        assert!(
            lines[0].contains(want) && lines[0].contains(name),
            "{name}: {err}"
        );
        assert!(!err.contains("topsecret"), "{err}");
    }
    let out = run(&["--iface", "lo", "--web-max-connections", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Opens `n` connections that send nothing.
fn idle_connections(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|_| TcpStream::connect(addr).ok())
        .collect()
}

/// One scrape on a new connection; its status and how long it took.
fn scrape(addr: &str) -> (u16, Duration) {
    let start = Instant::now();
    let r = http_get_with(addr, "/metrics", &[]);
    (r.status, start.elapsed())
}

/// 2000 idle connections and 50 slowloris clients (a header line every
/// 200 ms, never finishing) against a limit of 64 connections: every
/// scrape in between succeeds, quickly, and ringflow holds no more
/// connections than the limit.
#[test]
fn idle_and_slow_connections_never_keep_a_scraper_out() {
    let served = ServedReplay::start(&sample(), &["--web-max-connections", "64"]);
    let addr = served.addr.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let slow = {
        let (addr, stop) = (addr.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut socks: Vec<TcpStream> = (0..50)
                .filter_map(|_| TcpStream::connect(&addr).ok())
                .collect();
            for s in &mut socks {
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\n");
            }
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for s in &mut socks {
                    let _ = s.write_all(format!("X-Slow-{i}: a\r\n").as_bytes());
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let mut held = Vec::new();
    let mut worst = Duration::ZERO;
    for round in 0..10 {
        held.extend(idle_connections(&addr, 200));
        let (status, took) = scrape(&addr);
        assert_eq!(status, 200, "round {round}");
        worst = worst.max(took);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    slow.join().unwrap();
    assert!(held.len() >= 1900, "{} idle connections opened", held.len());
    println!("slowest scrape among the idle and slow connections: {worst:?}");
    assert!(worst < Duration::from_secs(2), "slowest scrape {worst:?}");
    // what ringflow keeps open: the limit and a few files of its own
    let fds = std::fs::read_dir(format!("/proc/{}/fd", served.pid()))
        .unwrap()
        .count();
    assert!(fds < 64 + 30, "{fds} descriptors open");
    // the connections it gave up are closed: a read sees the end
    let mut closed = 0;
    for s in held.iter_mut().take(100) {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut b = [0u8; 1];
        if matches!(s.read(&mut b), Ok(0)) {
            closed += 1;
        }
    }
    assert!(closed >= 90, "{closed} of the oldest 100 closed");
}

fn openssl(dir: &TempDir, args: &[&str]) {
    let out = Command::new(tool("openssl", "openssl"))
        .args(args)
        .current_dir(dir.path(""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate,
/// all made by openssl in `dir`.
fn certificates(dir: &TempDir) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=ringflow test CA",
        ],
    );
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth",
        ),
        ("client", "extendedKeyUsage=clientAuth"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        std::fs::write(dir.path(&format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
}

fn curl(dir: &TempDir, args: &[&str]) -> (i32, String) {
    let out = Command::new(tool("curl", "curl"))
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .current_dir(dir.path(""))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// TLS from the exporter-toolkit config: curl trusting the test CA gets
/// the metrics over https; plain http and an untrusting curl get nothing.
/// With client certificates required, curl without one is refused and
/// with one (and the password) served.
#[test]
#[ignore = "needs curl and openssl (apt-get install curl openssl); run with --include-ignored"]
fn tls_and_client_certificates_with_curl() {
    let dir = TempDir::new("web-tls");
    certificates(&dir);
    let server = format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\n",
        dir.path("server.pem").display(),
        dir.path("server.key").display()
    );
    std::fs::write(dir.path("tls.yml"), &server).unwrap();
    let served = ServedReplay::start(
        &sample(),
        &["--web-config", dir.path("tls.yml").to_str().unwrap()],
    );
    let url = format!("https://{}/metrics", served.addr);
    let (code, out) = curl(&dir, &["--cacert", "ca.pem", &url]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.ends_with("\n200") && out.contains("ringflow_packets_total 600"),
        "{out}"
    );
    let (code, _) = curl(&dir, &[&url]);
    assert_ne!(code, 0, "a client that does not trust the CA");
    let (_, out) = curl(&dir, &[&format!("http://{}/metrics", served.addr)]);
    assert!(
        !out.contains("ringflow_packets_total"),
        "plain http on the TLS port"
    );
    drop(served);

    let hash = bcrypt::hash("pw", 4).unwrap();
    let mutual = format!(
        "{server}  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: {}\n  min_version: TLS13\nbasic_auth_users:\n  prom: {hash}\n",
        dir.path("ca.pem").display()
    );
    std::fs::write(dir.path("mtls.yml"), &mutual).unwrap();
    let served = ServedReplay::start(
        &sample(),
        &["--web-config", dir.path("mtls.yml").to_str().unwrap()],
    );
    let url = format!("https://{}/metrics", served.addr);
    let (code, _) = curl(&dir, &["--cacert", "ca.pem", "-u", "prom:pw", &url]);
    assert_ne!(code, 0, "no client certificate");
    let with_cert = [
        "--cacert",
        "ca.pem",
        "--cert",
        "client.pem",
        "--key",
        "client.key",
    ];
    let (code, out) = curl(&dir, &[&with_cert[..], &[&url]].concat());
    assert_eq!(code, 0);
    assert!(out.ends_with("\n401"), "certificate but no password: {out}");
    let (code, out) = curl(&dir, &[&with_cert[..], &["-u", "prom:pw", &url]].concat());
    assert_eq!(code, 0);
    assert!(
        out.ends_with("\n200") && out.contains("ringflow_packets_total 600"),
        "{out}"
    );
    // TLS 1.2 is below min_version
    let (code, _) = curl(
        &dir,
        &[&with_cert[..], &["--tls-max", "1.2", "-u", "prom:pw", &url]].concat(),
    );
    assert_ne!(code, 0, "TLS 1.2 refused");
}

/// A raw request on a connection from `src` (any loopback address: each
/// is a source of its own for the server): status, head and body.
fn raw_from(src: [u8; 4], addr: &str, request: &[u8]) -> (u16, String, String) {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, bind, connect, socket};
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let [a, b, c, d] = src;
    bind(
        std::os::fd::AsRawFd::as_raw_fd(&fd),
        &SockaddrIn::new(a, b, c, d, 0),
    )
    .unwrap();
    let to: std::net::SocketAddrV4 = addr.parse().unwrap();
    connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &SockaddrIn::from(to)).unwrap();
    let mut s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn get_as(
    src: [u8; 4],
    addr: &str,
    path: &str,
    host: &str,
    auth: Option<&str>,
) -> (u16, String, String) {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
    raw_from(src, addr, req.as_bytes())
}

/// Password checks are bounded: a password longer than bcrypt reads is
/// refused; beyond the cores of the HTTP side, checks are answered 429
/// with Retry-After, not queued; a source that keeps failing waits, and
/// credentials that verified keep working meanwhile (they are not hashed
/// again).
#[test]
fn password_checks_are_bounded_and_a_failing_source_waits() {
    let dir = TempDir::new("web-bound");
    let long = "p".repeat(72);
    let config = dir.path("web.yml");
    std::fs::write(
        &config,
        format!(
            "basic_auth_users:\n  prometheus: {}\n  slow: {}\n",
            bcrypt::hash(&long, 4).unwrap(),
            bcrypt::hash("x", 13).unwrap()
        ),
    )
    .unwrap();
    let served = ServedReplay::start(&sample(), &["--web-config", config.to_str().unwrap()]);
    let addr = served.addr.clone();
    let ok = basic("prometheus", &long);
    // bcrypt compares 72 bytes: 73 that begin with the right ones are refused
    let (status, _, _) = get_as([127, 0, 3, 1], &addr, "/metrics", &addr, Some(&ok));
    assert_eq!(status, 200);
    let longer = basic("prometheus", &format!("{long}!"));
    let (status, _, _) = get_as([127, 0, 3, 2], &addr, "/metrics", &addr, Some(&longer));
    assert_eq!(status, 401);

    // many dear checks at once, each from its own source: as many run as
    // the HTTP side has cores, the others are told to come back (a cost
    // 13 hash takes long enough, about half a second here, for all of
    // them to arrive while the first ones run)
    let wrong = basic("slow", "wrong");
    let cores = std::thread::available_parallelism().unwrap().get();
    let n = (2 * cores + 4).min(250);
    let answers: Vec<(u16, String, String)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..n as u8)
            .map(|i| {
                let (addr, wrong) = (&addr, &wrong);
                s.spawn(move || get_as([127, 0, 4, i + 1], addr, "/metrics", addr, Some(wrong)))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let busy: Vec<&(u16, String, String)> = answers.iter().filter(|a| a.0 == 429).collect();
    let checked = answers.iter().filter(|a| a.0 == 401).count();
    assert!(
        answers.iter().all(|a| a.0 == 401 || a.0 == 429),
        "{answers:?}"
    );
    assert!(
        (1..=cores).contains(&checked) && busy.len() == n - checked,
        "{checked} checked with {cores} cores: {answers:?}"
    );
    for (_, head, body) in busy {
        assert!(head.contains("retry-after: 1"), "{head}");
        assert!(body.contains("\"error\""), "{body}");
    }

    // one source failing: 5 go, then it waits 1, 2, 4 ... s between tries
    let me = [127, 0, 5, 1];
    let (status, _, _) = get_as(me, &addr, "/metrics", &addr, Some(&ok));
    assert_eq!(status, 200);
    let bad = basic("prometheus", "nope");
    for i in 0..6 {
        let (status, _, _) = get_as(me, &addr, "/metrics", &addr, Some(&bad));
        assert_eq!(status, 401, "try {i}");
    }
    let (status, head, _) = get_as(me, &addr, "/metrics", &addr, Some(&bad));
    assert_eq!(status, 429, "{head}");
    // what verified before still goes (no hash), from the same source
    let (status, _, _) = get_as(me, &addr, "/metrics", &addr, Some(&ok));
    assert_eq!(status, 200);
    // after the wait, it is checked again
    std::thread::sleep(Duration::from_millis(2100));
    let (status, _, _) = get_as(me, &addr, "/metrics", &addr, Some(&bad));
    assert_eq!(status, 401);
}

/// An unknown user costs what the dearest configured user costs: the
/// times of wrong passwords for a cost-12 user and for a name nobody has
/// overlap (each try from a source of its own, so none waits).
#[test]
fn an_unknown_user_takes_as_long_as_a_known_one() {
    let dir = TempDir::new("web-enum");
    let config = dir.path("web.yml");
    std::fs::write(
        &config,
        format!(
            "basic_auth_users:\n  cheap: {}\n  dear: {}\n",
            bcrypt::hash("a", 4).unwrap(),
            bcrypt::hash("b", 12).unwrap()
        ),
    )
    .unwrap();
    let served = ServedReplay::start(&sample(), &["--web-config", config.to_str().unwrap()]);
    let addr = served.addr.clone();
    let mut times = [Vec::new(), Vec::new()];
    for i in 0..6u8 {
        for (k, user) in ["dear", "nobody"].iter().enumerate() {
            let t = Instant::now();
            let (status, _, _) = get_as(
                [127, 0, 6 + k as u8, i + 1],
                &addr,
                "/api/v1/status",
                &addr,
                Some(&basic(user, "guess")),
            );
            assert_eq!(status, 401);
            times[k].push(t.elapsed());
        }
    }
    let range = |v: &Vec<Duration>| (*v.iter().min().unwrap(), *v.iter().max().unwrap());
    let (dear, nobody) = (range(&times[0]), range(&times[1]));
    assert!(
        dear.0 <= nobody.1 && nobody.0 <= dear.1,
        "dear {dear:?}, nobody {nobody:?}"
    );
}

/// `Host` is checked (421 for a name the server does not answer for, as
/// a page rebinding its name would send); every answer says not to be
/// framed, sniffed or cached; errors, the request parser's too, are
/// JSON; a path decodes as RFC 3986 says, and its errors say "path".
#[test]
fn hosts_headers_json_errors_and_paths() {
    let served = ServedReplay::start(&sample(), &[]);
    let addr = served.addr.clone();
    let port = addr.rsplit(':').next().unwrap();
    let lo = [127, 0, 0, 1];
    let (status, _, body) = get_as(lo, &addr, "/metrics", "evil.example", None);
    assert_eq!(status, 421);
    assert!(body.contains("web-allowed-hosts"), "{body}");
    // said in the log, once a minute at most, with the name
    let (status, _, _) = get_as(lo, &addr, "/metrics", "evil2.example", None);
    assert_eq!(status, 421);
    std::thread::sleep(Duration::from_millis(200));
    let refused: Vec<String> = served
        .log()
        .into_iter()
        .filter(|l| l.contains("refused a request"))
        .collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("\"evil.example\"") && refused[0].contains("--web-allowed-hosts"));
    for host in [
        addr.clone(),
        format!("localhost:{port}"),
        "LOCALHOST.".into(),
    ] {
        let (status, _, _) = get_as(lo, &addr, "/metrics", &host, None);
        assert_eq!(status, 200, "{host}");
    }
    let (status, _, _) = get_as(lo, &addr, "/metrics", &format!("[::1]:{port}"), None);
    assert_eq!(status, 200);

    for path in [
        "/metrics",
        "/api/v1/status",
        "/dashboard",
        "/nope",
        "/dashboard/app.js",
    ] {
        let (_, head, _) = get_as(lo, &addr, path, &addr, None);
        assert!(
            head.contains("x-content-type-options: nosniff"),
            "{path}: {head}"
        );
        assert!(head.contains("cache-control: no-store"), "{path}: {head}");
        assert!(head.contains("frame-ancestors 'none'"), "{path}: {head}");
    }

    // what the request parser refuses: a broken header line, a head too large
    let (status, head, body) = raw_from(
        lo,
        &addr,
        format!("GET / HTTP/1.1\r\nHost: {addr}\r\nno colon here\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 400);
    assert!(head.contains("content-type: application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("could not be read"),
        "{v}"
    );
    let big = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nX: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let (status, _, body) = raw_from(lo, &addr, big.as_bytes());
    assert_eq!(status, 431);
    assert!(
        serde_json::from_str::<serde_json::Value>(&body).is_ok(),
        "{body}"
    );

    // `+` is itself in a path; a bad escape there is said to be there
    let (status, _, body) = get_as(lo, &addr, "/api/v1/hosts/10.1.0.1+", &addr, None);
    assert_eq!(status, 400);
    assert!(body.contains("10.1.0.1+"), "{body}");
    let (status, _, body) = get_as(lo, &addr, "/api/v1/hosts/%zz", &addr, None);
    assert_eq!(status, 400);
    assert!(body.contains("bad %-escape in the path"), "{body}");

    // a list given replaces the default; `*` takes any
    let only = ServedReplay::start(&sample(), &["--web-allowed-hosts", "monitor.example"]);
    let (status, _, _) = get_as(lo, &only.addr, "/metrics", "monitor.example:80", None);
    assert_eq!(status, 200);
    let (status, _, _) = get_as(lo, &only.addr, "/metrics", &only.addr, None);
    assert_eq!(status, 421);
    let any = ServedReplay::start(&sample(), &["--web-allowed-hosts", "*"]);
    let (status, _, _) = get_as(lo, &any.addr, "/metrics", "whatever.example", None);
    assert_eq!(status, 200);
}
