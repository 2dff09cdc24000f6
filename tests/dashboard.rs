//! The dashboard in a real browser: Debian's Chromium, headless, driven
//! over the DevTools protocol, against `ringflow replay --listen` of known
//! traffic. Ignored by a plain `cargo test` (it needs the chromium
//! package); `.ci/run` installs it and runs it.

mod common;

use common::{HOSTILE, KNOWN_PAIRS, ServedReplay, TempDir, serve_known_traffic};
use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Network, Page};
use headless_chrome::{Browser, LaunchOptions, Tab};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One browser at a time, so that the render timing is not shared.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

fn browser() -> Browser {
    let path = common::tool("chromium", "chromium");
    Browser::new(LaunchOptions {
        path: Some(path),
        headless: true,
        // root in CI has no user namespace sandbox to offer
        sandbox: false,
        window_size: Some((1400, 2000)),
        idle_browser_timeout: Duration::from_secs(120),
        ..LaunchOptions::default()
    })
    .expect("chromium starts")
}

/// What the page did: every request's URL, and every console error,
/// uncaught exception and browser log error.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    errors: Vec<String>,
}

fn watch(tab: &Tab) -> Arc<Mutex<Seen>> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    tab.add_event_listener(Arc::new(move |e: &Event| {
        let mut s = s.lock().unwrap();
        match e {
            Event::NetworkRequestWillBeSent(r) => s.requests.push(r.params.request.url.clone()),
            Event::RuntimeConsoleAPICalled(c)
                if matches!(format!("{:?}", c.params.Type).as_str(), "Error" | "Assert") =>
            {
                s.errors.push(format!("console: {:?}", c.params.args));
            }
            Event::RuntimeExceptionThrown(x) => s
                .errors
                .push(format!("exception: {:?}", x.params.exception_details)),
            Event::LogEntryAdded(l) if format!("{:?}", l.params.entry.level) == "Error" => {
                s.errors.push(format!("log: {}", l.params.entry.text));
            }
            _ => {}
        }
    }))
    .unwrap();
    tab.enable_runtime().unwrap();
    tab.enable_log().unwrap();
    tab.call_method(serde_json::from_value::<Network::Enable>(serde_json::json!({})).unwrap())
        .unwrap();
    seen
}

fn eval(tab: &Tab, js: &str) -> Value {
    tab.evaluate(js, false)
        .unwrap_or_else(|e| panic!("{js}: {e}"))
        .value
        .unwrap_or(Value::Null)
}

/// Waits until the page has rendered `renders` times.
fn wait_renders(tab: &Tab, renders: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = eval(
            tab,
            "window.ringflowStats ? window.ringflowStats.renders : 0",
        )
        .as_u64()
        .unwrap_or(0);
        if n >= renders {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard rendered {n} times in 60 s: {}",
            eval(tab, "JSON.stringify(window.ringflowStats)")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn open(browser: &Browser, url: &str) -> (Arc<Tab>, Arc<Mutex<Seen>>) {
    let tab = browser.new_tab().unwrap();
    let seen = watch(&tab);
    tab.navigate_to(url)
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    (tab, seen)
}

fn assert_clean(seen: &Mutex<Seen>, origin: &str) {
    let s = seen.lock().unwrap();
    assert!(!s.requests.is_empty());
    for url in &s.requests {
        assert!(
            url.starts_with(origin),
            "the page asked for {url}, not at {origin}"
        );
    }
    assert!(s.errors.is_empty(), "console errors: {:?}", s.errors);
}

#[test]
#[ignore = "needs Debian's chromium package (installed by .ci/run)"]
fn the_dashboard_shows_the_known_pairs_the_throughput_and_the_alert() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("dashboard");
    let (served, _) = serve_known_traffic(&dir);
    let origin = format!("http://{}/", served.addr);
    let browser = browser();
    let (tab, seen) = open(&browser, &format!("{origin}dashboard"));
    wait_renders(&tab, 2);

    // the chart's edges are the known pairs, and so are the API's
    let edges: BTreeSet<(String, String)> = serde_json::from_value::<Vec<(String, String)>>(eval(
        &tab,
        "JSON.stringify([...document.querySelectorAll('#graph line')].map(l => [l.dataset.src, l.dataset.dst]))",
    )
    .as_str()
    .map(|s| serde_json::from_str(s).unwrap())
    .unwrap())
    .unwrap()
    .into_iter()
    .collect();
    let known: BTreeSet<(String, String)> = KNOWN_PAIRS
        .iter()
        .map(|(a, b, _, _)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(edges, known);
    let nodes = eval(&tab, "document.querySelectorAll('#graph circle').length");
    assert_eq!(nodes, 8);
    let local = eval(
        &tab,
        "document.querySelectorAll('#graph circle.local').length",
    );
    assert_eq!(local, 5, "10.1.0.1-4 and fd00::5 are local");
    // hovering an edge tells its rate and services
    let title = eval(
        &tab,
        "document.querySelector('#graph line[data-src=\"2001:db8::7\"] title').textContent",
    );
    assert!(title.as_str().unwrap().contains("quic"), "{title}");

    // the throughput chart has points (3: one every 10 s of the capture)
    assert_eq!(eval(&tab, "window.ringflowStats.throughputPoints"), 3);
    assert!(
        eval(
            &tab,
            "document.querySelectorAll('#chart-bits canvas').length"
        )
        .as_u64()
        .unwrap()
            >= 1
    );

    // the top tables hold the known hosts, and sort on a click
    let first_host = eval(
        &tab,
        "document.querySelector('#top-hosts tr:nth-child(2) td').textContent",
    );
    // 10.1.0.1 and 198.51.100.1 tie at 450 kB; the smaller address first
    assert_eq!(first_host, "10.1.0.1");
    // a number column sorts heaviest first, then on a second click the
    // other way
    let click = "document.querySelector('#top-pairs th:nth-child(3)').click()";
    eval(&tab, click);
    eval(&tab, click);
    let smallest = eval(
        &tab,
        "document.querySelector('#top-pairs tr:nth-child(2) td').textContent",
    );
    assert_eq!(smallest, "10.1.0.3", "ascending by rate after two clicks");
    // since when: the pairs' first packets
    let pairs = eval(&tab, "document.querySelector('#top-pairs').textContent");
    assert!(
        pairs.as_str().unwrap().contains("2023-11-14 22:13:20"),
        "{pairs}"
    );

    // the alert, with its evidence, and its group's name shown as text
    let alerts = eval(&tab, "document.querySelector('#alerts-active').textContent");
    let alerts = alerts.as_str().unwrap();
    assert!(
        alerts.contains("10.1.0.1") && alerts.contains("198.51.100.1"),
        "{alerts}"
    );
    assert!(alerts.contains(HOSTILE), "{alerts}");
    assert_eq!(eval(&tab, "document.querySelectorAll('img').length"), 0);
    assert_eq!(eval(&tab, "window.pwned === undefined"), true);
    // no drops in a replay: no warning
    assert_eq!(eval(&tab, "document.getElementById('banner').hidden"), true);
    // the memory figure as the start line gives it (a replay has no rings)
    let box_text = eval(&tab, "document.getElementById('collector').textContent");
    let box_text = box_text.as_str().unwrap();
    let at = box_text
        .find("memory: ")
        .unwrap_or_else(|| panic!("{box_text}"));
    let figure = &box_text[at..];
    assert!(
        figure.contains(" MiB (flow tables ") && figure.contains(" MiB + collector "),
        "{figure}"
    );

    // the host view
    eval(&tab, "location.hash = 'host=10.1.0.1'");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let peers = eval(&tab, "document.querySelector('#host-peers').textContent");
        if peers.as_str().is_some_and(|p| p.contains("198.51.100.1")) {
            break;
        }
        assert!(Instant::now() < deadline, "no host view: {peers}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        eval(&tab, "document.getElementById('host-sec').hidden"),
        false
    );
    let host_alerts = eval(&tab, "document.querySelector('#host-alerts').textContent");
    assert!(host_alerts.as_str().unwrap().contains("bytes"));
    eval(&tab, "location.hash = ''");
    wait_renders(&tab, 4);

    let png = tab
        .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard.png");
    std::fs::write(&out, png).unwrap();
    eprintln!("dashboard screenshot: target/dashboard.png");

    assert_clean(&seen, &origin);
}

#[test]
#[ignore = "needs Debian's chromium package (installed by .ci/run)"]
fn a_monitor_that_loses_detail_says_so_and_console_errors_are_seen() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("dashboard-warn");
    let file = dir.path("300.pcap");
    let out = common::run(&["synth", file.to_str().unwrap(), "--flows", "300"]);
    assert!(out.status.success());
    // the smallest flow table: most flows are counted in the totals only
    let served = ServedReplay::start(&file, &["--flow-table-size", "1"]);
    let origin = format!("http://{}/", served.addr);
    let browser = browser();
    let (tab, seen) = open(&browser, &format!("{origin}dashboard"));
    wait_renders(&tab, 2);
    assert_eq!(
        eval(&tab, "document.getElementById('banner').hidden"),
        false
    );
    let banner = eval(&tab, "document.getElementById('banner').textContent");
    assert!(
        banner.as_str().unwrap().contains("flow table full"),
        "{banner}"
    );
    assert_clean(&seen, &origin);
    // the watch on the console sees an error when there is one
    eval(&tab, "console.error('probe')");
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().errors.is_empty() {
        assert!(Instant::now() < deadline, "a console error went unseen");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
#[ignore = "needs Debian's chromium package (installed by .ci/run)"]
fn a_refresh_with_ten_thousand_hosts_renders_quickly() {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("dashboard-10k");
    let file = dir.path("10k.pcap");
    let out = common::run(&[
        "synth",
        file.to_str().unwrap(),
        "--flows",
        "10000",
        "--packets",
        "60000",
    ]);
    assert!(out.status.success());
    let served = ServedReplay::start(&file, &[]);
    let status: Value = serde_json::from_slice(&served.get("/api/v1/status", &[]).body).unwrap();
    let hosts = status["collector"]["hosts"].as_u64().unwrap();
    let pairs: Value =
        serde_json::from_slice(&served.get("/api/v1/top?what=hosts&n=1", &[]).body).unwrap();
    let known = pairs["total"].as_u64().unwrap();
    assert!(known >= 10_000, "{known} hosts known");
    let origin = format!("http://{}/", served.addr);
    let browser = browser();
    let (tab, seen) = open(&browser, &format!("{origin}dashboard"));
    wait_renders(&tab, 5);
    let stats: Value = serde_json::from_str(
        eval(&tab, "JSON.stringify(window.ringflowStats)")
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stats["edges"], 150, "{stats}");
    let png = tab
        .capture_screenshot(Page::CaptureScreenshotFormatOption::Png, None, None, true)
        .unwrap();
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dashboard-10k.png");
    std::fs::write(&out, png).unwrap();
    // a measurement, not a pass/fail: docs/performance.md carries the figure
    eprintln!(
        "dashboard refresh with {known} hosts known ({hosts} monitored), {} nodes and {} edges drawn: last {:.1} ms, slowest of {} {:.1} ms ({})",
        stats["nodes"],
        stats["edges"],
        stats["lastRenderMs"].as_f64().unwrap(),
        stats["renders"],
        stats["maxRenderMs"].as_f64().unwrap(),
        stats["slowestParts"]
    );
    assert_clean(&seen, &origin);
}
