//! The JSON API: read-only views of the published snapshot, with rates
//! taken against an earlier snapshot the history kept. Every handler is
//! a function of (snapshots, query) to JSON, so it is tested without a
//! server; [`super::http`] routes to [`get`].

use super::services;
use crate::capture::stats::{CaptureStats, XDP_DROP_REASONS};
use crate::collector::history::{Point, WINDOWS};
use crate::collector::{Count, FlowRow, HostCounts, Published, Snapshot};
use crate::detect::{AlertEvent, Kind, rfc3339};
use crate::flow::FastState;
use crate::netset::{Class, Networks};
use crate::parse::{proto_label, to_ip};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Lists are at most this long.
pub const MAX_N: usize = 1000;
/// ... and this long unless `n` says otherwise.
pub const DEFAULT_N: usize = 20;

/// An error answer: status and message, sent as `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError {
        status: 400,
        message: message.into(),
    }
}

fn not_found(message: impl Into<String>) -> ApiError {
    ApiError {
        status: 404,
        message: message.into(),
    }
}

/// What a request reads: the published snapshot and its history, the
/// capture's counters and their recent rates.
pub struct Sources {
    pub published: Arc<Published>,
    pub stats: Arc<CaptureStats>,
    pub rates: Arc<SocketRates>,
    pub started: Instant,
}

/// Answers `GET path?query`, or `None` if the path is not the API's.
pub fn get(src: &Sources, path: &str, query: &str) -> Option<Result<Value, ApiError>> {
    let q = || Query::parse(query);
    let r = match path {
        "/api/v1/capabilities" | "/capabilities" => q().and_then(|q| {
            q.only(&[])?;
            Ok(capabilities(&src.published.get(), &src.stats))
        }),
        "/api/v1/status" => q().and_then(|q| {
            q.only(&[])?;
            Ok(status(src))
        }),
        "/api/v1/top" => q().and_then(|q| {
            q.only(&["what", "by", "window", "class", "n"])?;
            top(&src.published, &q)
        }),
        "/api/v1/graph" => q().and_then(|q| {
            q.only(&["window", "min-bytes", "n", "class"])?;
            graph(&src.published, &q)
        }),
        "/api/v1/throughput" => q().and_then(|q| {
            q.only(&[])?;
            Ok(throughput(&src.published))
        }),
        "/api/v1/alerts/active" => q().and_then(|q| {
            q.only(&["n"])?;
            let n = q.n()?;
            Ok(json!(src.published.with_history(|h| h.active(n))))
        }),
        "/api/v1/alerts" => q().and_then(|q| {
            q.only(&["since", "n"])?;
            alerts(&src.published, &q)
        }),
        "/active" => q().and_then(|q| {
            q.only(&["n"])?;
            // its users' scripts expect every alert: as many as allowed
            let n = q.get("n").map_or(Ok(MAX_N), |_| q.n())?;
            Ok(trafficalerted_active(
                &src.published.with_history(|h| h.active(n)),
            ))
        }),
        _ => match path.strip_prefix("/api/v1/hosts/") {
            Some(ip) => q().and_then(|q| {
                q.only(&["window", "n"])?;
                host(&src.published, &percent_decode(ip, Part::Path)?, &q)
            }),
            None => return None,
        },
    };
    Some(r)
}

/// A query string, decoded; each parameter at most once.
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: &str) -> Result<Query, ApiError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for part in q.split('&').filter(|p| !p.is_empty()) {
            // no endpoint takes more than five: a long list is not a query
            if out.len() == 16 {
                return Err(bad("too many parameters"));
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let k = percent_decode(k, Part::Query)?;
            let v = percent_decode(v, Part::Query)?;
            if out.iter().any(|(x, _)| *x == k) {
                return Err(bad(format!("parameter {k} given twice")));
            }
            out.push((k, v));
        }
        Ok(Query(out))
    }

    /// An error naming the first parameter not in `known`.
    fn only(&self, known: &[&str]) -> Result<(), ApiError> {
        match self.0.iter().find(|(k, _)| !known.contains(&k.as_str())) {
            Some((k, _)) => Err(bad(format!("unknown parameter {k}"))),
            None => Ok(()),
        }
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str())
    }

    /// `n`: 1 to [`MAX_N`], [`DEFAULT_N`] if absent.
    fn n(&self) -> Result<usize, ApiError> {
        match self.get("n") {
            None => Ok(DEFAULT_N),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_N).contains(&n) => Ok(n),
                _ => Err(bad(format!("n must be a number from 1 to {MAX_N}"))),
            },
        }
    }

    /// `window`: `1m` or `5m` (default `1m`), in seconds.
    fn window(&self) -> Result<(u64, &'static str), ApiError> {
        match self.get("window") {
            None | Some("1m") => Ok((WINDOWS[0], "1m")),
            Some("5m") => Ok((WINDOWS[1], "5m")),
            Some(_) => Err(bad("window must be 1m or 5m")),
        }
    }

    fn class(&self) -> Result<Option<Class>, ApiError> {
        match self.get("class") {
            None | Some("") | Some("all") => Ok(None),
            Some(v) => Class::ALL
                .into_iter()
                .find(|c| c.as_str() == v)
                .map(Some)
                .ok_or_else(|| bad("class must be incoming, outgoing, internal or transit")),
        }
    }
}

/// Where in the URL a string comes from: the path decodes `%XX` only
/// (RFC 3986: `+` is itself there); a query (as forms write it) decodes
/// `+` to a space too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Path,
    Query,
}

impl Part {
    fn name(self) -> &'static str {
        match self {
            Part::Path => "path",
            Part::Query => "query",
        }
    }
}

/// `%XX` (and in a query `+`) decoded; an error, naming where, for a bad
/// escape or what is not UTF-8.
fn percent_decode(s: &str, part: Part) -> Result<String, ApiError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| bad(format!("bad %-escape in the {}", part.name())))?;
                out.push(hex);
                i += 3;
            }
            b'+' if part == Part::Query => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| bad(format!("the {} is not UTF-8", part.name())))
}

/// An address: IP version and 16 bytes.
type Addr = (u8, [u8; 16]);

/// The latest snapshot and the one a window back, with the seconds
/// between them.
pub struct Span {
    pub now: Arc<Snapshot>,
    pub base: Arc<Snapshot>,
    pub seconds: f64,
    pub label: &'static str,
    /// The time rates are taken up to (ns).
    pub at: u64,
}

impl Span {
    pub fn of(published: &Published, window_s: u64, label: &'static str) -> Span {
        let now = published.get();
        // the latest snapshot holds until the collector's latest refresh
        let at = published.now_ns().max(now.at_ns);
        let base = published
            .with_history(|h| h.base(at, window_s))
            .filter(|b| b.at_ns < at)
            .unwrap_or_else(|| {
                // nothing earlier: the counts since nothing was counted
                let mut s = Snapshot::empty(0);
                s.at_ns = at;
                Arc::new(s)
            });
        let seconds = (at - base.at_ns) as f64 / 1e9;
        Span {
            now,
            base,
            seconds,
            label,
            at,
        }
    }

    fn rate(&self, n: u64) -> f64 {
        if self.seconds > 0.0 {
            n as f64 / self.seconds
        } else {
            0.0
        }
    }

    fn header(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::new();
        m.insert("window".into(), json!(self.label));
        m.insert("seconds".into(), json!(self.seconds));
        m.insert("at".into(), json!(rfc3339(self.at)));
        m
    }

    /// Each flow row of `now` that counted in the window (of `class` if
    /// given), with what it counted. Both lists are sorted by key.
    fn flows(&self, class: Option<Class>) -> Deltas<'_> {
        let base = &self.base.flows;
        let mut j = 0;
        let mut out = DELTAS.with_borrow_mut(std::mem::take);
        out.clear();
        for (i, r) in self.now.flows.iter().enumerate() {
            if class.is_some_and(|c| c != r.class) {
                continue;
            }
            while j < base.len() && base[j].key < r.key {
                j += 1;
            }
            let before = base.get(j).filter(|b| b.key == r.key);
            let d = delta(
                Count {
                    packets: r.packets,
                    bytes: r.bytes,
                },
                before.map(|b| Count {
                    packets: b.packets,
                    bytes: b.bytes,
                }),
            );
            if d.packets > 0 || d.bytes > 0 {
                out.push((i as u32, d));
            }
        }
        Deltas {
            rows: &self.now.flows,
            counted: out,
        }
    }

    fn counts(&self, c: Count) -> Value {
        json!({
            "bytes": c.bytes,
            "packets": c.packets,
            "bytes_per_second": self.rate(c.bytes),
            "packets_per_second": self.rate(c.packets),
        })
    }
}

/// Flow rows with what each counted in a window: indices into the rows,
/// in their order, in a buffer that goes back to the thread for the next
/// request when done (a fresh one of tens of megabytes costs page faults).
pub struct Deltas<'a> {
    rows: &'a [FlowRow],
    counted: Vec<(u32, Count)>,
}

thread_local! {
    static DELTAS: std::cell::RefCell<Vec<(u32, Count)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

impl<'a> Deltas<'a> {
    /// Every row of `rows` with what `count` says it counted.
    pub fn new(rows: &'a [FlowRow], count: impl Fn(&FlowRow) -> Count) -> Deltas<'a> {
        let counted = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i as u32, count(r)))
            .collect();
        Deltas { rows, counted }
    }

    pub fn iter(&self) -> DeltasIter<'a, '_> {
        self.into_iter()
    }
}

/// Iterates a [`Deltas`]: each row with what it counted.
pub struct DeltasIter<'a, 'b> {
    rows: &'a [FlowRow],
    inner: std::slice::Iter<'b, (u32, Count)>,
}

impl<'a> Iterator for DeltasIter<'a, '_> {
    type Item = (&'a FlowRow, Count);
    fn next(&mut self) -> Option<Self::Item> {
        let (i, c) = self.inner.next()?;
        Some((&self.rows[*i as usize], *c))
    }
}

impl<'a, 'b> IntoIterator for &'b Deltas<'a> {
    type Item = (&'a FlowRow, Count);
    type IntoIter = DeltasIter<'a, 'b>;
    fn into_iter(self) -> DeltasIter<'a, 'b> {
        DeltasIter {
            rows: self.rows,
            inner: self.counted.iter(),
        }
    }
}

impl Drop for Deltas<'_> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.counted);
        DELTAS.with_borrow_mut(|d| *d = v);
    }
}

/// What a counter counted since `before`: the difference, or all of it if
/// the series restarted (it was folded and exported again).
fn delta(now: Count, before: Option<Count>) -> Count {
    match before {
        Some(b) if now.packets >= b.packets && now.bytes >= b.bytes => Count {
            packets: now.packets - b.packets,
            bytes: now.bytes - b.bytes,
        },
        _ => now,
    }
}

fn ip(a: Addr) -> IpAddr {
    to_ip(a.0, a.1)
}

/// By bytes or by packets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum By {
    Bytes,
    Packets,
}

impl By {
    fn parse(q: &Query) -> Result<By, ApiError> {
        match q.get("by") {
            None | Some("bytes") => Ok(By::Bytes),
            Some("packets") => Ok(By::Packets),
            Some(_) => Err(bad("by must be bytes or packets")),
        }
    }

    fn of(self, c: Count) -> u64 {
        match self {
            By::Bytes => c.bytes,
            By::Packets => c.packets,
        }
    }
}

/// The `n` items with the most `weight`, heaviest first; ties go to the
/// smallest `tie` (an address, a pair, a service), so answers are stable.
fn heaviest<T, K: Ord>(
    items: impl IntoIterator<Item = T>,
    n: usize,
    weight: impl Fn(&T) -> u64,
    tie: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut top = TopN::new(n);
    for x in items {
        top.offer(weight(&x), tie(&x), || x);
    }
    top.into_sorted()
}

/// A service: protocol and port (none for protocols without ports).
type Service = (u8, Option<u16>);

fn service_json(s: Service) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("proto".into(), json!(proto_label(s.0)));
    m.insert("port".into(), json!(s.1));
    m.insert(
        "service".into(),
        json!(s.1.map(|p| services::name(s.0, p)).unwrap_or("")),
    );
    m
}

/// One host pair over the window: the side that opened the conversations
/// first (`a`, the client) and the answering side (`b`), their traffic in
/// both directions, and the services it went to.
#[derive(Clone)]
pub struct Pair {
    pub a: Addr,
    pub b: Addr,
    pub count: Count,
    /// (service, count), heaviest first: the first `n_services`.
    pub services: [(Service, Count); PAIR_SERVICES],
    pub n_services: usize,
    /// Capture time of the first packet the collector counted of it (ns).
    pub first_ns: u64,
}

/// Services shown per pair.
pub const PAIR_SERVICES: usize = 3;

/// Every host pair with traffic in the window, in address order. The rows
/// come in conversation order (client, server, service, request before
/// reply: see [`crate::collector::SeriesKey`]), so a pair's rows, and a
/// service's within it, are next to each other: one pass, no table.
pub fn for_each_pair(flows: &Deltas, mut f: impl FnMut(&Pair)) {
    let mut cur: Option<Pair> = None;
    // the service being added up, with its count
    let mut svc: Option<(Service, Count)> = None;
    let close_service = |p: &mut Pair, s: Option<(Service, Count)>| {
        let Some((svc, c)) = s else { return };
        // keep the heaviest few, heaviest first
        let kept = &p.services[..p.n_services];
        let at = kept.partition_point(|(_, x)| x.bytes >= c.bytes);
        if at < PAIR_SERVICES {
            p.n_services = (p.n_services + 1).min(PAIR_SERVICES);
            p.services[at..p.n_services].rotate_right(1);
            p.services[at] = (svc, c);
        }
    };
    for (r, d) in flows {
        let k = &r.key;
        let (client, server) = k.client_server();
        let (a, b) = ((k.version, client), (k.version, server));
        if cur.as_ref().is_some_and(|p| p.a != a || p.b != b)
            && let Some(mut done) = cur.take()
        {
            close_service(&mut done, svc.take());
            f(&done);
        }
        let p = cur.get_or_insert(Pair {
            a,
            b,
            count: Count::default(),
            services: [((0, None), Count::default()); PAIR_SERVICES],
            n_services: 0,
            first_ns: r.first_ns,
        });
        p.count.add_count(d);
        p.first_ns = p.first_ns.min(r.first_ns);
        let this = (k.proto, k.port);
        match &mut svc {
            Some((s, c)) if *s == this => {
                c.add_count(d);
            }
            _ => {
                close_service(p, svc.replace((this, d)));
            }
        }
    }
    if let Some(mut done) = cur {
        close_service(&mut done, svc.take());
        f(&done);
    }
}

/// The `n` heaviest items offered, kept as they come (a bounded heap), so
/// that a million candidates cost no million-item list.
struct TopN<T, K: Ord> {
    n: usize,
    /// The worst kept on top: least weight, then greatest tie key.
    heap: std::collections::BinaryHeap<Ranked<T, K>>,
    offered: usize,
}

struct Ranked<T, K: Ord> {
    weight: u64,
    tie: K,
    item: T,
}

impl<T, K: Ord> Ranked<T, K> {
    /// Worse first: a heap's top is the item to drop.
    fn badness(&self, o: &Self) -> std::cmp::Ordering {
        o.weight
            .cmp(&self.weight)
            .then_with(|| self.tie.cmp(&o.tie))
    }
}

impl<T, K: Ord> PartialEq for Ranked<T, K> {
    fn eq(&self, o: &Self) -> bool {
        self.badness(o).is_eq()
    }
}
impl<T, K: Ord> Eq for Ranked<T, K> {}
impl<T, K: Ord> PartialOrd for Ranked<T, K> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T, K: Ord> Ord for Ranked<T, K> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.badness(o)
    }
}

impl<T, K: Ord> TopN<T, K> {
    fn new(n: usize) -> Self {
        TopN {
            n,
            heap: std::collections::BinaryHeap::with_capacity(n + 1),
            offered: 0,
        }
    }

    fn offer(&mut self, weight: u64, tie: K, item: impl FnOnce() -> T) {
        self.offered += 1;
        if self.heap.len() == self.n {
            let Some(worst) = self.heap.peek() else {
                return;
            };
            let better = weight > worst.weight || (weight == worst.weight && tie < worst.tie);
            if !better {
                return;
            }
            self.heap.pop();
        }
        self.heap.push(Ranked {
            weight,
            tie,
            item: item(),
        });
    }

    /// The items kept, heaviest first.
    fn into_sorted(self) -> Vec<T> {
        // ascending by badness: the best first
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|r| r.item)
            .collect()
    }
}

/// The `n` heaviest pairs by `weight` among those `keep` accepts, and
/// how many it accepted.
fn top_pairs(
    flows: &Deltas,
    n: usize,
    weight: impl Fn(&Pair) -> u64,
    keep: impl Fn(&Pair) -> bool,
) -> (usize, Vec<Pair>) {
    let mut top = TopN::new(n);
    for_each_pair(flows, |p| {
        if keep(p) {
            top.offer(weight(p), (p.a, p.b), || p.clone());
        }
    });
    (top.offered, top.into_sorted())
}

fn pair_json(span: &Span, nets: &Networks, p: &Pair) -> Value {
    let services: Vec<Value> = p.services[..p.n_services]
        .iter()
        .map(|(s, c)| {
            let mut m = service_json(*s);
            m.insert("bytes".into(), json!(c.bytes));
            m.insert("packets".into(), json!(c.packets));
            Value::Object(m)
        })
        .collect();
    let mut m = span.counts(p.count);
    let o = m.as_object_mut().expect("counts are an object");
    o.insert("src".into(), json!(ip(p.a)));
    o.insert("dst".into(), json!(ip(p.b)));
    o.insert(
        "class".into(),
        json!(nets.class(p.a.0, &p.a.1, &p.b.1).as_str()),
    );
    o.insert("services".into(), json!(services));
    o.insert("first_seen".into(), json!(rfc3339(p.first_ns)));
    m
}

/// Each address with traffic in the window, with what it sent and
/// received, in address order. The rows come in conversation order, so
/// what each address did as a client adds up in one pass; what it did as
/// a server is sorted by address (in a buffer kept for the next request:
/// a fresh one of tens of megabytes costs as much in page faults as the
/// sort) and merged in.
fn for_each_host(flows: &Deltas, mut f: impl FnMut(Addr, HostCounts)) {
    let add = |b: &mut HostCounts, sent: bool, c: &Count| {
        let x = if sent { &mut b.tx } else { &mut b.rx };
        x.add_count(*c);
    };
    // a client sends the requests and receives the replies
    let mut as_client = flows
        .iter()
        .map(|(r, c)| {
            let mut b = HostCounts::default();
            add(&mut b, !r.key.reply, &c);
            (
                (r.key.version, u128::from_be_bytes(r.key.client_server().0)),
                b,
            )
        })
        .peekable();
    HOST_SCRATCH.with_borrow_mut(|as_server| {
        // a server receives the requests and sends the replies; one item
        // per host pair (its rows are next to each other), so there is
        // half as much or less to sort
        as_server.clear();
        let mut last_pair: Option<(u8, [u8; 16], [u8; 16])> = None;
        for (r, c) in flows {
            let (client, server) = r.key.client_server();
            let pair = Some((r.key.version, client, server));
            if pair != last_pair {
                let k = (r.key.version, u128::from_be_bytes(server));
                as_server.push((k, HostCounts::default()));
                last_pair = pair;
            }
            if let Some((_, b)) = as_server.last_mut() {
                add(b, r.key.reply, &c);
            }
        }
        as_server.sort_unstable_by_key(|x| x.0);
        let mut as_server = as_server.iter().copied().peekable();
        loop {
            let k = match (as_client.peek(), as_server.peek()) {
                (None, None) => return,
                (Some(a), None) => a.0,
                (None, Some(b)) => b.0,
                (Some(a), Some(b)) => a.0.min(b.0),
            };
            let mut both = HostCounts::default();
            while let Some((_, b)) = as_client
                .next_if(|x| x.0 == k)
                .or_else(|| as_server.next_if(|x| x.0 == k))
            {
                add(&mut both, true, &b.tx);
                add(&mut both, false, &b.rx);
            }
            f((k.0, k.1.to_be_bytes()), both);
        }
    });
}

/// Bytes the buffers kept between requests hold per exported flow
/// series, at most: its delta, and a host pair's server side.
pub fn kept_bytes_per_series() -> usize {
    std::mem::size_of::<(u32, Count)>() + std::mem::size_of::<((u8, u128), HostCounts)>()
}

thread_local! {
    /// The sort buffer of [`for_each_host`].
    static HOST_SCRATCH: std::cell::RefCell<Vec<((u8, u128), HostCounts)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

fn host_json(span: &Span, nets: &Networks, a: Addr, b: HostCounts) -> Value {
    json!({
        "ip": ip(a),
        "local": nets.is_local(a.0, &a.1),
        "monitored": nets.is_monitored(a.0, &a.1),
        "sent": span.counts(b.tx),
        "received": span.counts(b.rx),
        "bytes": b.total().bytes,
        "packets": b.total().packets,
        "bytes_per_second": span.rate(b.total().bytes),
        "packets_per_second": span.rate(b.total().packets),
    })
}

/// `GET /api/v1/top`.
pub fn top(published: &Published, q: &Query) -> Result<Value, ApiError> {
    let what = q.get("what").unwrap_or("hosts");
    if !["hosts", "pairs", "services"].contains(&what) {
        return Err(bad("what must be hosts, pairs or services"));
    }
    let by = By::parse(q)?;
    let (w, label) = q.window()?;
    let class = q.class()?;
    let n = q.n()?;
    let span = Span::of(published, w, label);
    let nets = &span.now.settings.networks;
    let flows = span.flows(class);
    let (total, items): (usize, Vec<Value>) = match what {
        "hosts" => {
            let mut top = TopN::new(n);
            for_each_host(&flows, |a, b| top.offer(by.of(b.total()), a, || (a, b)));
            let total = top.offered;
            let items = top
                .into_sorted()
                .into_iter()
                .map(|(a, b)| host_json(&span, nets, a, b))
                .collect();
            (total, items)
        }
        "pairs" => {
            let (total, top) = top_pairs(&flows, n, |p| by.of(p.count), |_| true);
            let items = top.iter().map(|p| pair_json(&span, nets, p)).collect();
            (total, items)
        }
        _ => {
            let mut m: HashMap<Service, Count, FastState> = HashMap::default();
            for (r, d) in &flows {
                let c = m.entry((r.key.proto, r.key.port)).or_default();
                c.add_count(d);
            }
            let total = m.len();
            let items = heaviest(m, n, |(_, c)| by.of(*c), |(s, _)| *s)
                .into_iter()
                .map(|(s, c)| {
                    let mut v = span.counts(c);
                    if let Some(o) = v.as_object_mut() {
                        o.extend(service_json(s));
                    }
                    v
                })
                .collect();
            (total, items)
        }
    };
    let mut m = span.header();
    m.insert("what".into(), json!(what));
    m.insert(
        "by".into(),
        json!(if by == By::Bytes { "bytes" } else { "packets" }),
    );
    m.insert("class".into(), json!(class.map(Class::as_str)));
    m.insert("total".into(), json!(total));
    m.insert("items".into(), json!(items));
    Ok(Value::Object(m))
}

/// `GET /api/v1/graph`: the heaviest host pairs of at least `min-bytes`
/// over the window as edges, their hosts as nodes.
pub fn graph(published: &Published, q: &Query) -> Result<Value, ApiError> {
    let (w, label) = q.window()?;
    let n = q.n()?;
    let class = q.class()?;
    let min_bytes = match q.get("min-bytes") {
        None => 0,
        Some(v) => crate::config::parse_size(v)
            .map_err(|e| bad(format!("min-bytes: {e} (a size: 5M, 100K, 1G, bytes)")))?,
    };
    let span = Span::of(published, w, label);
    let nets = &span.now.settings.networks;
    let flows = span.flows(class);
    let (total, edges) = top_pairs(&flows, n, |p| p.count.bytes, |p| p.count.bytes >= min_bytes);
    // the nodes' totals over all their pairs, not only those drawn
    let mut hosts: HashMap<Addr, HostCounts, FastState> = edges
        .iter()
        .flat_map(|p| [p.a, p.b])
        .map(|a| (a, HostCounts::default()))
        .collect();
    for (r, d) in &flows {
        let k = &r.key;
        if let Some(h) = hosts.get_mut(&(k.version, k.src)) {
            h.tx.add_count(d);
        }
        if let Some(h) = hosts.get_mut(&(k.version, k.dst)) {
            h.rx.add_count(d);
        }
    }
    let mut nodes: Vec<(Addr, HostCounts)> = hosts.into_iter().collect();
    nodes.sort_by(|(a, x), (b, y)| y.total().bytes.cmp(&x.total().bytes).then(a.cmp(b)));
    let mut m = span.header();
    m.insert("min_bytes".into(), json!(min_bytes));
    m.insert("class".into(), json!(class.map(Class::as_str)));
    m.insert("total_edges".into(), json!(total));
    m.insert(
        "nodes".into(),
        json!(
            nodes
                .into_iter()
                .map(|(a, b)| host_json(&span, nets, a, b))
                .collect::<Vec<_>>()
        ),
    );
    m.insert(
        "edges".into(),
        json!(
            edges
                .iter()
                .map(|p| pair_json(&span, nets, p))
                .collect::<Vec<_>>()
        ),
    );
    Ok(Value::Object(m))
}

/// `GET /api/v1/hosts/{ip}`: a monitored host's rates, peers, services
/// and active alerts.
pub fn host(published: &Published, text: &str, q: &Query) -> Result<Value, ApiError> {
    let addr: IpAddr = text
        .parse()
        .map_err(|_| bad(format!("{text:?} is not an IP address")))?;
    let a: Addr = match addr {
        IpAddr::V4(v4) => (4, crate::parse::v4_addr(v4.octets())),
        IpAddr::V6(v6) => (6, v6.octets()),
    };
    let (w, label) = q.window()?;
    let n = q.n()?;
    let span = Span::of(published, w, label);
    let nets = &span.now.settings.networks;
    if !nets.is_monitored(a.0, &a.1) {
        return Err(not_found(format!("{addr} is not monitored")));
    }
    let row = |s: &Snapshot| {
        s.hosts
            .binary_search_by(|h| (h.version, h.addr).cmp(&a))
            .ok()
            .map(|i| s.hosts[i].counts)
    };
    let all = span.flows(None);
    let flows: Vec<(&FlowRow, Count)> = all
        .iter()
        .filter(|(r, _)| (r.key.version, r.key.src) == a || (r.key.version, r.key.dst) == a)
        .collect();
    let known = row(&span.now).is_some()
        || span
            .now
            .flows
            .iter()
            .any(|r| (r.key.version, r.key.src) == a || (r.key.version, r.key.dst) == a);
    if !known {
        return Err(not_found(format!("{addr} is not among the hosts counted")));
    }
    // rates: the per-IP series if it has one, else its flow series
    let both = match row(&span.now) {
        Some(now) => {
            let before = row(&span.base);
            HostCounts {
                tx: delta(now.tx, before.map(|b| b.tx)),
                rx: delta(now.rx, before.map(|b| b.rx)),
            }
        }
        None => {
            let mut both = HostCounts::default();
            for (r, d) in &flows {
                let c = if (r.key.version, r.key.src) == a {
                    &mut both.tx
                } else {
                    &mut both.rx
                };
                c.add_count(*d);
            }
            both
        }
    };
    let mut peers: HashMap<Addr, HostCounts, FastState> = HashMap::default();
    let mut svcs: HashMap<Service, HostCounts, FastState> = HashMap::default();
    for (r, d) in &flows {
        let k = &r.key;
        let sent = (k.version, k.src) == a;
        let peer = if sent { k.dst } else { k.src };
        // a peer's sent and received are its own; a service's, the host's
        let p = peers.entry((k.version, peer)).or_default();
        let c = if sent { &mut p.rx } else { &mut p.tx };
        c.add_count(*d);
        let s = svcs.entry((k.proto, k.port)).or_default();
        let c = if sent { &mut s.tx } else { &mut s.rx };
        c.add_count(*d);
    }
    let peers = heaviest(peers, n, |(_, b)| b.total().bytes, |(a, _)| *a);
    let svcs = heaviest(svcs, n, |(_, b)| b.total().bytes, |(s, _)| *s);
    let alerts: Vec<AlertEvent> = published.with_history(|h| h.active_of(addr));
    let mut m = span.header();
    m.insert("ip".into(), json!(addr));
    m.insert("local".into(), json!(nets.is_local(a.0, &a.1)));
    m.insert("sent".into(), span.counts(both.tx));
    m.insert("received".into(), span.counts(both.rx));
    m.insert(
        "peers".into(),
        json!(
            peers
                .into_iter()
                .map(|(p, b)| host_json(&span, nets, p, b))
                .collect::<Vec<_>>()
        ),
    );
    m.insert(
        "services".into(),
        json!(
            svcs.into_iter()
                .map(|(s, b)| {
                    let mut o = service_json(s);
                    o.insert("sent".into(), span.counts(b.tx));
                    o.insert("received".into(), span.counts(b.rx));
                    Value::Object(o)
                })
                .collect::<Vec<_>>()
        ),
    );
    m.insert("alerts".into(), json!(alerts));
    Ok(Value::Object(m))
}

/// `GET /api/v1/throughput`: the traffic of the last hour, per class, as
/// rates between the history's points.
pub fn throughput(published: &Published) -> Value {
    let points: Vec<Point> = published.with_history(|h| h.timeline());
    let mut t = Vec::new();
    let mut series: Vec<(Vec<f64>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); 4];
    for w in points.windows(2) {
        let secs = (w[1].at_ns - w[0].at_ns) as f64 / 1e9;
        if secs <= 0.0 {
            continue;
        }
        t.push(w[1].at_ns as f64 / 1e9);
        for (c, (bits, pkts)) in series.iter_mut().enumerate() {
            let sum = |p: &Point| {
                p.traffic[c]
                    .iter()
                    .fold((0u64, 0u64), |(b, k), x| (b + x.bytes, k + x.packets))
            };
            let (b1, p1) = sum(&w[1]);
            let (b0, p0) = sum(&w[0]);
            bits.push(b1.saturating_sub(b0) as f64 * 8.0 / secs);
            pkts.push(p1.saturating_sub(p0) as f64 / secs);
        }
    }
    let mut classes = serde_json::Map::new();
    for (c, (bits, pkts)) in Class::ALL.iter().zip(series) {
        classes.insert(
            c.as_str().into(),
            json!({"bits_per_second": bits, "packets_per_second": pkts}),
        );
    }
    json!({"time": t, "classes": classes})
}

/// `GET /api/v1/alerts?since=SEQ&n=N`: the alert events recorded after
/// `since` (0: the oldest kept), oldest first, as the alert log writes
/// them; `next` is the `since` of the following page.
pub fn alerts(published: &Published, q: &Query) -> Result<Value, ApiError> {
    let since = match q.get("since") {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| bad("since must be an event number (0 or more)"))?,
    };
    let n = q.n()?;
    let (events, latest) = published.with_history(|h| h.events_since(since, n));
    let next = events.last().map_or(since.min(latest), |r| r.seq);
    Ok(json!({
        "latest": latest,
        "next": next,
        "events": events.into_iter().map(|r| r.event).collect::<Vec<_>>(),
    }))
}

/// TrafficAlerted's `/active`: one object per active alert.
pub fn trafficalerted_active(active: &[AlertEvent]) -> Value {
    let list: Vec<Value> = active
        .iter()
        .map(|e| {
            let peers: u64 = e.peers.iter().map(|p| p.bytes).sum();
            json!({
                "EventType": e.kind.as_str(),
                "SourceIP": e.ip,
                "DestinationIP": e.peers.iter().map(|p| json!({"IP": p.ip, "Bytes": p.bytes})).collect::<Vec<_>>(),
                "TotalBytes": if e.kind == Kind::Bytes { e.value as u64 } else { peers },
            })
        })
        .collect();
    json!(list)
}

/// `GET /api/v1/capabilities`: what this ringflow captures and how it is
/// set up.
pub fn capabilities(s: &Snapshot, stats: &CaptureStats) -> Value {
    let a = &s.settings;
    let nets = |v: &[crate::netset::Cidr]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let d = &a.detection;
    let limits = |l: &crate::config::AlertLimits| json!({"bytes": l.bytes, "packets": l.packets, "bps": l.bps, "pps": l.pps, "new_flows": l.new_flows});
    let sockets: Vec<Value> = stats
        .sockets()
        .iter()
        .map(|c| {
            let (backend, mode, bind) = c.kind.labels();
            json!({"iface": c.iface, "queue": c.queue, "backend": backend, "mode": mode, "bind": bind})
        })
        .collect();
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "source": if sockets.is_empty() { "replay" } else { "live" },
        "sockets": sockets,
        "interfaces": stats.ifaces(),
        "workers": s.batches.len(),
        "refresh_seconds": s.refresh.as_secs_f64(),
        "networks": {
            "local": nets(a.networks.local.networks()),
            "monitored": nets(a.networks.monitor.networks()),
            "excluded": nets(a.networks.exclude.networks()),
        },
        "detection": {
            "volume": d.volume_enabled(),
            "alert_interval_seconds": d.interval.as_secs_f64(),
            "limits": limits(&d.limits),
            "groups": d.groups.iter().map(|g| json!({
                "name": g.name, "networks": nets(&g.networks), "alert": g.alert, "limits": limits(&g.limits),
            })).collect::<Vec<_>>(),
            "scans": d.scans_enabled(),
            "scan_hosts": d.scan.hosts,
            "scan_ports": d.scan.ports,
            "scan_interval_seconds": d.scan.interval.as_secs_f64(),
            "scan_ignore": nets(&d.scan.ignore),
        },
        "compat": a.compat.names(),
        "limits": {
            "max_flow_series": a.max_flow_series,
            "max_hosts": a.max_hosts,
            "max_entries": a.max_entries,
            "max_alerts": d.max_alerts,
            "scan_max_sources": d.scan.max_sources,
            "alert_history": d.history,
        },
        "flow_window_seconds": a.flow_window.as_secs_f64(),
        "flow_idle_seconds": a.flow_idle.as_secs_f64(),
        "flow_table_idle_seconds": a.flow_table_idle.as_secs_f64(),
        "windows": ["1m", "5m"],
    })
}

/// One reading of every capture socket's counters: (packets, drops per
/// reason); AF_PACKET has one reason, `ring_full`, and its freezes.
type Reading = (Instant, Vec<(u64, Vec<(&'static str, u64)>)>);

/// Recent readings of the capture sockets' counters, taken every second
/// by a thread of their own, so that `/api/v1/status` has rates whoever
/// asks and however often.
#[derive(Default)]
pub struct SocketRates {
    readings: Mutex<VecDeque<Reading>>,
}

/// Readings kept: rates are over the last this many seconds.
const RATE_SECONDS: usize = 5;

impl SocketRates {
    /// Starts the sampling thread.
    pub fn start(stats: Arc<CaptureStats>) -> Arc<SocketRates> {
        let rates = Arc::new(SocketRates::default());
        let r = rates.clone();
        let _ = std::thread::Builder::new()
            .name("ringflow-rates".into())
            .spawn(move || {
                loop {
                    r.read(&stats);
                    std::thread::sleep(Duration::from_secs(1));
                }
            });
        rates
    }

    fn read(&self, stats: &CaptureStats) {
        let now: Vec<(u64, Vec<(&'static str, u64)>)> = stats
            .sockets()
            .iter()
            .map(|s| {
                let (packets, drops, freezes) = s.get();
                let reasons = match s.xdp_drops() {
                    Some(d) => XDP_DROP_REASONS.iter().copied().zip(d).collect(),
                    None => vec![("ring_full", drops), ("freezes", freezes)],
                };
                (packets, reasons)
            })
            .collect();
        let mut g = crate::lock(&self.readings);
        g.push_back((Instant::now(), now));
        while g.len() > RATE_SECONDS + 1 {
            g.pop_front();
        }
    }

    /// Per socket: (packets/s, [(reason, drops/s)]) over the readings kept.
    fn rates(&self) -> Vec<(f64, Vec<(&'static str, f64)>)> {
        let g = crate::lock(&self.readings);
        let (Some(first), Some(last)) = (g.front(), g.back()) else {
            return Vec::new();
        };
        let secs = last.0.duration_since(first.0).as_secs_f64();
        let per = |a: u64, b: u64| {
            if secs > 0.0 {
                a.saturating_sub(b) as f64 / secs
            } else {
                0.0
            }
        };
        last.1
            .iter()
            .enumerate()
            .map(|(i, (p, reasons))| {
                let before = first.1.get(i);
                let p0 = before.map_or(*p, |b| b.0);
                let r = reasons
                    .iter()
                    .enumerate()
                    .map(|(j, (name, n))| {
                        let n0 = before.and_then(|b| b.1.get(j)).map_or(*n, |x| x.1);
                        (*name, per(*n, n0))
                    })
                    .collect();
                (per(*p, p0), r)
            })
            .collect()
    }
}

/// `GET /api/v1/status`: is the capture healthy, and how loaded is the
/// collector.
pub fn status(src: &Sources) -> Value {
    let s = src.published.get();
    let rates = src.rates.rates();
    // what the capture found at start, then what it finds as it runs
    let mut losing = src.stats.notes();
    let mut unsplit = std::collections::BTreeMap::<&str, u64>::new();
    let all = src.stats.sockets();
    for c in &all {
        *unsplit.entry(c.iface.as_str()).or_default() += c.merged().1;
    }
    for (iface, n) in unsplit.into_iter().filter(|(_, n)| *n > 0) {
        losing.push(format!(
            "{iface}: {n} packets since start were merged before the capture without their segment count (LRO?), each counted as one: ethtool -K {iface} lro off"
        ));
    }
    let sockets: Vec<Value> = all
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (backend, mode, _) = c.kind.labels();
            let (packets, drops, _) = c.get();
            let (merged, unsplit) = c.merged();
            let total_drops = c.xdp_drops().map_or(drops, |d| d.iter().sum());
            let (pps, reasons) = rates.get(i).cloned().unwrap_or_default();
            let drops_ps: f64 = reasons
                .iter()
                .filter(|(r, _)| *r != "freezes")
                .map(|(_, n)| n)
                .sum();
            if drops_ps > 0.0 {
                losing.push(format!(
                    "{} queue {} drops {:.0} packets/s",
                    c.iface, c.queue, drops_ps
                ));
            }
            json!({
                "iface": c.iface,
                "queue": c.queue,
                "backend": backend,
                "mode": mode,
                "packets": packets,
                "drops": total_drops,
                "merged_packets": merged,
                "unsplit_packets": unsplit,
                "packets_per_second": pps,
                "drops_per_second": drops_ps,
                "drops_per_second_by_reason": reasons.into_iter().map(|(r, n)| (r.to_string(), json!(n))).collect::<serde_json::Map<String, Value>>(),
            })
        })
        .collect();
    let nics: Vec<Value> = src
        .stats
        .ifaces()
        .iter()
        .map(|i| {
            let n = super::nic::read(i);
            if !n.up {
                losing.push(format!("{i} is down"));
            }
            json!({
                "iface": i,
                "exists": n.exists,
                "up": n.up,
                "promiscuous": n.promiscuous,
                "speed_bytes_per_second": n.speed_mbps.map(|m| m * 125_000),
            })
        })
        .collect();
    // flow-table overflow over the last minute: counted, but not per flow
    let span = Span::of(&src.published, WINDOWS[0], "1m");
    let overflow = span
        .now
        .overflow_packets
        .saturating_sub(span.base.overflow_packets);
    if overflow > 0 {
        losing.push(format!(
            "{overflow} packets in the last {:.0} s found their worker's flow table full (counted in totals only; raise --flow-table-size)",
            span.seconds
        ));
    }
    let a = &s.settings;
    json!({
        "at": rfc3339(src.published.now_ns().max(s.at_ns)),
        "uptime_seconds": src.started.elapsed().as_secs_f64(),
        "complete": s.complete,
        "warnings": losing,
        "packets": s.packets,
        "bytes": s.bytes,
        "parse_errors": s.parse_errors.iter().map(|(_, n)| n).sum::<u64>(),
        "overflow_packets": s.overflow_packets,
        "sockets": sockets,
        "nics": nics,
        "collector": {
            "entries": s.entries,
            "max_entries": a.max_entries,
            "hosts": s.host_entries,
            "conversations": s.conversations,
            "flow_series": s.flows.len(),
            "flows_folded": s.flows_folded,
            "untracked_packets": s.untracked.packets,
            "untracked_bytes": s.untracked.bytes,
            "memory_bytes": {
                "capture": src.stats.capture_bytes(),
                "shards": s.shard_memory_bytes,
                "collector": s.collector_memory_bytes,
                "detection": s.detection.memory_bytes,
            },
        },
        "alerts_active": s.detection.active.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::SeriesKey;
    use crate::parse::v4_addr;

    fn v4(s: &str) -> [u8; 16] {
        v4_addr(s.parse::<std::net::Ipv4Addr>().unwrap().octets())
    }

    fn row(src: &str, dst: &str, port: u16, reply: bool, packets: u64, bytes: u64) -> FlowRow {
        let nets = Networks::new(
            &crate::netset::parse_list(&["10.0.0.0/8"]).unwrap(),
            &[],
            &[],
        );
        FlowRow {
            key: SeriesKey {
                version: 4,
                src: v4(src),
                dst: v4(dst),
                proto: 6,
                port: Some(port),
                reply,
            },
            class: nets.class(4, &v4(src), &v4(dst)),
            packets,
            bytes,
            first_ns: 0,
            macs: [0; 12],
        }
    }

    fn snap(at_s: u64, mut flows: Vec<FlowRow>) -> Arc<Snapshot> {
        flows.sort_by_key(|r| r.key);
        let mut s = Snapshot::empty(1);
        s.at_ns = at_s * 1_000_000_000;
        s.flows = flows;
        s.settings = Arc::new(crate::config::Accounting {
            networks: Networks::new(
                &crate::netset::parse_list(&["10.0.0.0/8"]).unwrap(),
                &[],
                &[],
            ),
            ..Default::default()
        });
        Arc::new(s)
    }

    /// A 10.0.0.1 -> 93.184.216.34:443 conversation and its reply, and a
    /// smaller one to :80, at 100 s and 160 s.
    fn published() -> Published {
        let p = Published::new(Snapshot::empty(1));
        p.set_sampled(snap(
            100,
            vec![
                row("10.0.0.1", "93.184.216.34", 443, false, 10, 1000),
                row("93.184.216.34", "10.0.0.1", 443, true, 10, 9000),
            ],
        ));
        p.set_sampled(snap(
            160,
            vec![
                row("10.0.0.1", "93.184.216.34", 443, false, 40, 4000),
                row("93.184.216.34", "10.0.0.1", 443, true, 70, 69000),
                row("10.0.0.2", "93.184.216.34", 80, false, 3, 600),
            ],
        ));
        p
    }

    fn q(s: &str) -> Query {
        Query::parse(s).unwrap()
    }

    #[test]
    fn pairs_join_both_directions_and_rates_are_over_the_window() {
        let p = published();
        let v = top(&p, &q("what=pairs&window=1m")).unwrap();
        assert_eq!(v["seconds"], 60.0);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        // 30 + 60 packets, 3000 + 60000 bytes in 60 s
        assert_eq!(items[0]["src"], "10.0.0.1");
        assert_eq!(items[0]["dst"], "93.184.216.34");
        assert_eq!(items[0]["bytes"], 63000);
        assert_eq!(items[0]["packets"], 90);
        assert_eq!(items[0]["bytes_per_second"], 1050.0);
        assert_eq!(items[0]["class"], "outgoing");
        assert_eq!(items[0]["services"][0]["service"], "https");
        // a new series counts whole
        assert_eq!(items[1]["bytes"], 600);
    }

    #[test]
    fn rates_fall_to_zero_when_traffic_stops() {
        let p = published();
        // two minutes with nothing new to publish
        p.set_now(280 * 1_000_000_000);
        let v = top(&p, &q("what=pairs")).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 0, "{v}");
        assert_eq!(v["seconds"], 120.0);
        // the 5-minute window still holds what was sent after the oldest
        // sample, at 100 s
        let v = top(&p, &q("what=pairs&window=5m")).unwrap();
        assert_eq!(v["items"][0]["bytes"], 63000);
        assert_eq!(v["seconds"], 180.0);
    }

    #[test]
    fn hosts_services_and_the_class_filter() {
        let p = published();
        let v = top(&p, &q("what=hosts&by=packets")).unwrap();
        let first = &v["items"][0];
        assert_eq!(first["ip"], "93.184.216.34");
        assert_eq!(first["packets"], 93);
        assert_eq!(first["local"], false);
        // only the reply direction is incoming; a tie goes to the smaller
        // address
        let v = top(&p, &q("what=hosts&class=incoming")).unwrap();
        assert_eq!(v["items"][0]["ip"], "10.0.0.1");
        assert_eq!(v["items"][0]["received"]["bytes"], 60000);
        assert_eq!(v["items"][1]["ip"], "93.184.216.34");
        assert_eq!(v["items"][1]["sent"]["bytes"], 60000);
        assert_eq!(v["items"][1]["received"]["bytes"], 0);
        let v = top(&p, &q("what=services&n=1")).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        assert_eq!(v["items"][0]["port"], 443);
        assert_eq!(v["total"], 2);
    }

    #[test]
    fn graph_edges_respect_min_bytes_and_nodes_follow_edges() {
        let p = published();
        let v = graph(&p, &q("min-bytes=1K")).unwrap();
        assert_eq!(v["edges"].as_array().unwrap().len(), 1);
        let nodes: Vec<&str> = v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["ip"].as_str().unwrap())
            .collect();
        assert_eq!(nodes, ["93.184.216.34", "10.0.0.1"]);
        assert_eq!(v["nodes"][1]["local"], true);
        assert_eq!(
            graph(&p, &q("")).unwrap()["edges"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let p = published();
        for (query, word) in [
            ("what=cats", "what"),
            ("by=weight", "by"),
            ("window=7m", "window"),
            ("class=outer", "class"),
            ("n=0", "n must"),
            ("n=1001", "n must"),
            ("colour=red", "unknown parameter colour"),
            ("n=1&n=2", "twice"),
        ] {
            let e = Query::parse(query)
                .and_then(|q| {
                    q.only(&["what", "by", "window", "class", "n"])?;
                    top(&p, &q)
                })
                .unwrap_err();
            assert_eq!(e.status, 400, "{query}");
            assert!(e.message.contains(word), "{query}: {}", e.message);
        }
        assert!(Query::parse("n=%zz").is_err());
        let long: Vec<String> = (0..10_000).map(|i| format!("p{i}=1")).collect();
        let e = Query::parse(&long.join("&")).err().unwrap();
        assert_eq!(e.message, "too many parameters");
        assert_eq!(graph(&p, &q("min-bytes=lots")).unwrap_err().status, 400);
    }

    #[test]
    fn one_host_its_peers_and_404s() {
        let p = published();
        let v = host(&p, "10.0.0.1", &q("")).unwrap();
        assert_eq!(v["peers"][0]["ip"], "93.184.216.34");
        assert_eq!(v["sent"]["bytes"], 3000);
        assert_eq!(v["received"]["bytes"], 60000);
        assert_eq!(v["services"][0]["port"], 443);
        assert_eq!(host(&p, "93.184.216.34", &q("")).unwrap_err().status, 404);
        assert_eq!(host(&p, "10.9.9.9", &q("")).unwrap_err().status, 404);
        assert_eq!(host(&p, "ten", &q("")).unwrap_err().status, 400);
    }

    #[test]
    fn drops_in_the_last_seconds_are_a_warning_with_their_rate() {
        let stats = Arc::new(CaptureStats::default());
        let sock = stats.socket("eth9", 0);
        stats.add_iface("lo");
        let rates = Arc::new(SocketRates::default());
        let src = Sources {
            published: Arc::new(published()),
            stats: stats.clone(),
            rates: rates.clone(),
            started: Instant::now(),
        };
        sock.add(1000, 0, 0);
        rates.read(&stats);
        std::thread::sleep(Duration::from_millis(50));
        sock.add(1000, 0, 0);
        rates.read(&stats);
        let v = status(&src);
        assert_eq!(v["warnings"].as_array().unwrap().len(), 0, "{v}");
        assert!(v["sockets"][0]["packets_per_second"].as_f64().unwrap() > 0.0);
        assert_eq!(v["nics"][0]["up"], true);
        sock.add(1000, 50, 1);
        rates.read(&stats);
        let v = status(&src);
        let w = v["warnings"][0].as_str().unwrap();
        assert!(w.contains("eth9 queue 0 drops"), "{w}");
        assert_eq!(v["sockets"][0]["drops"], 50);
        assert!(
            v["sockets"][0]["drops_per_second_by_reason"]["ring_full"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        // what the capture found at start, and packets merged where the
        // kernel could not say into how many segments
        stats.add_note("eth9: LRO is on".into());
        sock.add_merged(7, 3);
        let v = status(&src);
        let w: Vec<&str> = v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(w[0], "eth9: LRO is on");
        assert!(
            w[1].starts_with("eth9: 3 packets since start were merged"),
            "{w:?}"
        );
        assert_eq!(
            (
                &v["sockets"][0]["merged_packets"],
                &v["sockets"][0]["unsplit_packets"]
            ),
            (&json!(7), &json!(3))
        );
    }

    /// Hosts that are clients in some conversations and servers in
    /// others, both versions: the one-pass sums equal a table's.
    #[test]
    fn pair_and_host_sums_equal_a_tables() {
        let addrs = ["10.0.0.1", "10.0.0.2", "93.184.216.34", "198.51.100.7"];
        let mut rows = Vec::new();
        let mut x = 7u64;
        for i in 0..200u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let a = addrs[(x >> 33) as usize % 4];
            let b = addrs[(x >> 40) as usize % 4];
            if a == b {
                continue;
            }
            let port = [22, 80, 443][(x >> 50) as usize % 3];
            rows.push(row(a, b, port, i % 3 == 0, 1 + i % 5, 100 + i));
        }
        rows.sort_by_key(|r| r.key);
        rows.dedup_by_key(|r| r.key);
        let deltas = Deltas::new(&rows, |r| Count {
            packets: r.packets,
            bytes: r.bytes,
        });
        let mut want_hosts: HashMap<Addr, (u64, u64)> = HashMap::new();
        let mut want_pairs: HashMap<(Addr, Addr), u64> = HashMap::new();
        for (r, c) in &deltas {
            want_hosts.entry((4, r.key.src)).or_default().0 += c.bytes;
            want_hosts.entry((4, r.key.dst)).or_default().1 += c.bytes;
            let (cl, sv) = r.key.client_server();
            *want_pairs.entry(((4, cl), (4, sv))).or_default() += c.bytes;
        }
        let mut got_hosts = HashMap::new();
        for_each_host(&deltas, |a, b| {
            assert!(
                got_hosts.insert(a, (b.tx.bytes, b.rx.bytes)).is_none(),
                "twice"
            );
        });
        assert_eq!(got_hosts, want_hosts);
        let mut got_pairs = HashMap::new();
        for_each_pair(&deltas, |p| {
            assert!(
                got_pairs.insert((p.a, p.b), p.count.bytes).is_none(),
                "twice"
            );
            let svc: u64 = p.services[..p.n_services].iter().map(|s| s.1.bytes).sum();
            assert!(svc <= p.count.bytes);
        });
        assert_eq!(got_pairs, want_pairs);
    }

    #[test]
    fn percent_decoding() {
        let (path, query) = (Part::Path, Part::Query);
        assert_eq!(percent_decode("fd00%3A%3A1", path).unwrap(), "fd00::1");
        // `+` is a space in a query only
        assert_eq!(percent_decode("a+b%2B", query).unwrap(), "a b+");
        assert_eq!(percent_decode("a+b%2B", path).unwrap(), "a+b+");
        // errors say where
        let msg = |s, p| percent_decode(s, p).unwrap_err().message;
        assert_eq!(msg("%4", path), "bad %-escape in the path");
        assert_eq!(msg("%4", query), "bad %-escape in the query");
        assert_eq!(msg("%ff", path), "the path is not UTF-8");
    }
}
