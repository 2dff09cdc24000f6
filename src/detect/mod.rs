//! Detection: per-host volume thresholds over tumbling intervals, and the
//! alerts they raise. It works from what the collector already merges
//! (each monitored host's packets and bytes each way, counted per interval
//! in its ledger slot): nothing is added to the workers' packet path.
//!
//! An alert starts when a value of the current interval goes over its
//! limit (strictly greater), is updated at most once per interval while
//! the value rises, and ends when a whole interval passed at or below the
//! limit. Live capture evaluates at every refresh on the clock; replay at
//! the end of each interval of capture time, so a replay gives the same
//! alerts at any speed.

pub mod deliver;
pub mod scan;

use crate::config::{AlertLimits, Detection};
use crate::flow::{FastState, FlowKey};
use crate::netset::NetSet;
use crate::parse::{self, PortKind};
use scan::Distinct;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// What an alert measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Bytes,
    Packets,
    Bps,
    Pps,
    NewFlows,
    NetworkScan,
    PortScan,
}

impl Kind {
    /// The volume kinds, counted per monitored IP and direction.
    pub const VOLUME: [Kind; 5] = [
        Kind::Bytes,
        Kind::Packets,
        Kind::Bps,
        Kind::Pps,
        Kind::NewFlows,
    ];
    /// The scan kinds, counted per source, without a direction.
    pub const SCAN: [Kind; 2] = [Kind::NetworkScan, Kind::PortScan];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bytes => "bytes",
            Kind::Packets => "packets",
            Kind::Bps => "bps",
            Kind::Pps => "pps",
            Kind::NewFlows => "new_flows",
            Kind::NetworkScan => "network_scan",
            Kind::PortScan => "port_scan",
        }
    }

    fn limit(self, l: &AlertLimits) -> Option<u64> {
        match self {
            Kind::Bytes => l.bytes,
            Kind::Packets => l.packets,
            Kind::Bps => l.bps,
            Kind::Pps => l.pps,
            Kind::NewFlows => l.new_flows,
            Kind::NetworkScan | Kind::PortScan => None,
        }
    }

    /// The value of `c` over an interval of `secs`: a count, or a rate
    /// averaged over the interval.
    fn value(self, c: Counts, secs: f64) -> f64 {
        match self {
            Kind::Bytes => c.bytes as f64,
            Kind::Packets => c.packets as f64,
            Kind::Bps => c.bytes as f64 * 8.0 / secs,
            Kind::Pps => c.packets as f64 / secs,
            Kind::NewFlows => c.flows as f64,
            Kind::NetworkScan | Kind::PortScan => 0.0,
        }
    }
}

/// Which way the traffic of an alert went, seen from its IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// What the IP received.
    In,
    /// What the IP sent.
    Out,
    /// Scans have no direction.
    #[serde(rename = "")]
    None,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::None => "",
        }
    }
}

/// Packets and bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub packets: u64,
    pub bytes: u64,
    /// Conversations opened (sent) or opened to it (received).
    pub flows: u64,
}

/// One host's traffic in the current interval: [sent, received].
pub type HostInterval = (u8, [u8; 16], [Counts; 2]);

/// A peer behind an alert: the other side, protocol, service port, and
/// what the pair counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    pub ip: IpAddr,
    pub proto: String,
    pub port: Option<u16>,
    pub packets: u64,
    pub bytes: u64,
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Start,
    Update,
    End,
}

/// One alert event, as the alert log writes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertEvent {
    pub event: Event,
    /// When it happened, RFC 3339 UTC.
    pub time: String,
    pub id: u64,
    pub kind: Kind,
    pub ip: IpAddr,
    pub direction: Direction,
    pub value: f64,
    pub threshold: u64,
    pub interval_seconds: f64,
    pub start: String,
    pub end: Option<String>,
    /// The top peers by bytes behind it when it started.
    pub peers: Vec<Peer>,
    /// The host group whose limits it went over ("" for the global ones).
    pub group: String,
}

/// An active alert, as the snapshot shows it (the alert log has the
/// rest).
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveAlert {
    pub id: u64,
    pub kind: Kind,
    pub ip: IpAddr,
    pub direction: Direction,
    pub group: String,
}

/// What the snapshot carries of detection.
#[derive(Debug, Clone, Default)]
pub struct DetectionView {
    /// Alerts started, per (kind, direction, group).
    pub started: Vec<((Kind, Direction, String), u64)>,
    /// The host groups' names.
    pub groups: Vec<String>,
    /// Active alerts, by id.
    pub active: Vec<ActiveAlert>,
    /// Alerts not raised because `--max-alerts` were active.
    pub suppressed: u64,
    /// Alert events the outputs' queue had no room for.
    pub events_dropped: u64,
    /// The outputs' delivery counts, read when the snapshot is rendered
    /// (the outputs go on delivering after the collector stops).
    pub deliveries: std::sync::Arc<deliver::Deliveries>,
    /// Bytes the scan tables hold at most.
    pub memory_bytes: usize,
    /// Scan sources and pairs tracked, and those not tracked for want of
    /// room.
    pub scan_sources: usize,
    pub scan_untracked: u64,
}

#[derive(Debug, Clone)]
struct Active {
    id: u64,
    start_ns: u64,
    value: f64,
    threshold: u64,
    /// Interval of the last start or update event.
    reported: u64,
    peers: Vec<Peer>,
    /// The host group it counted under ("" for none).
    group: String,
}

type AlertKey = (u8, [u8; 16], Kind, Direction);
/// An address: IP version and 16 bytes.
type Source = (u8, [u8; 16]);
/// The limits a host counts under, and its group (an index in the
/// settings' groups).
type HostLimits = (AlertLimits, Option<usize>);

/// The detector: settings, the current interval and the active alerts.
#[derive(Debug)]
pub struct Detector {
    settings: Detection,
    /// Number of the current interval (time / interval); `u64::MAX` before
    /// the first check.
    interval: u64,
    active: HashMap<AlertKey, Active>,
    next_id: u64,
    started: HashMap<(Kind, Direction, String), u64>,
    /// The limits each host counts under: its group's, the global ones, or
    /// none (a group that never alerts). Made again on a reload.
    host_limits: HashMap<Source, Option<HostLimits>, FastState>,
    suppressed: u64,
    events: Vec<AlertEvent>,
    /// Distinct IPs each source opened conversations to, this scan interval.
    scan_hosts: Distinct<(u8, [u8; 16])>,
    /// Distinct ports of each (source, destination).
    scan_ports: Distinct<(u8, [u8; 16], [u8; 16])>,
    /// Sources over the port limit towards some IP, this scan interval.
    port_scanners: HashSet<(u8, [u8; 16])>,
    scan_ignore: NetSet,
    /// Number of the current scan interval; `u64::MAX` before the first check.
    scan_interval: u64,
}

impl Detector {
    pub fn new(settings: Detection) -> Detector {
        let sc = &settings.scan;
        Detector {
            scan_hosts: Distinct::new(sc.hosts, sc.max_sources),
            scan_ports: Distinct::new(sc.ports, sc.max_sources),
            port_scanners: HashSet::new(),
            scan_ignore: NetSet::new(&sc.ignore),
            scan_interval: u64::MAX,
            settings,
            interval: u64::MAX,
            active: HashMap::new(),
            next_id: 1,
            started: HashMap::new(),
            host_limits: HashMap::default(),
            suppressed: 0,
            events: Vec::new(),
        }
    }

    /// Whether there is anything to evaluate: a limit set, or an alert
    /// still active (which a reload that removed its limit ends).
    pub fn enabled(&self) -> bool {
        self.settings.volume_enabled() || self.settings.scans_enabled() || !self.active.is_empty()
    }

    /// Whether volume limits need the hosts' interval counts.
    pub fn wants_host_counts(&self) -> bool {
        self.settings.volume_enabled() || self.has_active(&Kind::VOLUME)
    }

    /// Whether an alert of one of `kinds` is active.
    fn has_active(&self, kinds: &[Kind]) -> bool {
        self.active.keys().any(|k| kinds.contains(&k.2))
    }

    /// The active alerts of `kinds`.
    fn active_of(&self, kinds: &[Kind]) -> Vec<AlertKey> {
        self.active
            .keys()
            .filter(|k| kinds.contains(&k.2))
            .copied()
            .collect()
    }

    /// Starts `a` (its id is given here) for `key`, with the evidence
    /// `peers` gives, unless `--max-alerts` are active: then it is counted
    /// as suppressed.
    fn start(&mut self, key: AlertKey, mut a: Active, peers: impl FnOnce() -> Vec<Peer>) {
        if self.active.len() >= self.settings.max_alerts {
            self.suppressed += 1;
            return;
        }
        a.id = self.next_id;
        a.peers = peers();
        self.next_id += 1;
        *self
            .started
            .entry((key.2, key.3, a.group.clone()))
            .or_default() += 1;
        self.emit(Event::Start, a.start_ns, &key, &a, None);
        self.active.insert(key, a);
    }

    /// Ends the alerts of `keys` at `at_ns`, in key order.
    fn end(&mut self, mut keys: Vec<AlertKey>, at_ns: u64) {
        keys.sort();
        for key in keys {
            if let Some(a) = self.active.remove(&key) {
                self.emit(Event::End, at_ns, &key, &a, Some(at_ns));
            }
        }
    }

    /// The limits `addr` counts under and the name of its group: the
    /// group whose network is the longest prefix matching it, else the
    /// global limits; `None` in a group that never alerts.
    fn limits_for(&mut self, version: u8, addr: [u8; 16]) -> Option<HostLimits> {
        if self.settings.groups.is_empty() {
            return Some((self.settings.limits, None));
        }
        if let Some(l) = self.host_limits.get(&(version, addr)) {
            return *l;
        }
        let best = self
            .settings
            .groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                g.networks
                    .iter()
                    .filter(|n| n.contains(version, &addr))
                    .map(|n| n.len)
                    .max()
                    .map(|len| (len, i))
            })
            .max_by_key(|(len, _)| *len);
        let groups = &self.settings.groups;
        let l = match best {
            Some((_, i)) if !groups[i].alert => None,
            Some((_, i)) => Some((groups[i].limits, Some(i))),
            None => Some((self.settings.limits, None)),
        };
        self.host_limits.insert((version, addr), l);
        l
    }

    fn group_name(&self, group: Option<usize>) -> String {
        group
            .and_then(|i| self.settings.groups.get(i))
            .map(|g| g.name.clone())
            .unwrap_or_default()
    }

    /// The grid a replay hands over on (ns): the alert interval, the scan
    /// interval, or the largest that divides both.
    pub fn grid_ns(settings: &Detection) -> Option<u64> {
        let alert = settings.volume_enabled().then(|| nanos(settings.interval));
        let scan = settings
            .scans_enabled()
            .then(|| nanos(settings.scan.interval));
        match (alert, scan) {
            (Some(a), Some(s)) => Some(common_grid(a, s)),
            (a, s) => a.or(s),
        }
    }

    /// A conversation was decided from its first flow `k` (TCP flags
    /// `flags`): if the source opened it (a TCP SYN without ACK, any UDP
    /// conversation, an ICMP or ICMPv6 echo request), it counts towards the
    /// source's distinct IPs and the pair's distinct ports.
    pub fn scan_open(&mut self, k: &FlowKey, flags: u8) {
        if !self.settings.scans_enabled() {
            return;
        }
        let (v6, proto) = (k.version() == 6, k.proto());
        let opens = match k.port_kind() {
            PortKind::Ports if proto == parse::proto::TCP => {
                flags & (parse::tcp::flags::SYN | parse::tcp::flags::ACK) == parse::tcp::flags::SYN
            }
            PortKind::Ports => true,
            PortKind::Icmp => k.src_port() as u8 == if v6 { 128 } else { 8 },
            PortKind::None => false,
        };
        let (version, src, dst) = (k.version(), k.src(), k.dst());
        if !opens || self.scan_ignore.contains(version, &src) {
            return;
        }
        if self.settings.scan.hosts > 0 {
            self.scan_hosts.add((version, src), scan::fingerprint(&dst));
        }
        if self.settings.scan.ports > 0 && k.port_kind() == PortKind::Ports {
            let port = k.dst_port();
            self.scan_ports.add(
                (version, src, dst),
                u32::from(port) | u32::from(proto) << 16,
            );
        }
    }

    /// Starts the scan alerts of the sources that went over since the
    /// last check, at `now_ns`; at or past the end of the scan interval,
    /// ends those not over in it and starts a new interval.
    fn check_scans(
        &mut self,
        now_ns: u64,
        first_ns: u64,
        peers: &mut dyn FnMut(u8, [u8; 16], Direction) -> Vec<Peer>,
    ) {
        if !self.settings.scans_enabled() && !self.has_active(&Kind::SCAN) {
            return;
        }
        let iv = nanos(self.settings.scan.interval);
        if self.scan_interval == u64::MAX {
            self.scan_interval = first_ns.min(now_ns) / iv;
        }
        let current = self.scan_interval;
        let end = (current + 1) * iv;
        let at = now_ns.min(end);
        // (source, kind, distinct targets, limit)
        let mut over: Vec<(Source, Kind, usize, usize)> = Vec::new();
        for ((v, src), n) in self.scan_hosts.take_over() {
            over.push(((v, src), Kind::NetworkScan, n, self.settings.scan.hosts));
        }
        for ((v, src, _), n) in self.scan_ports.take_over() {
            self.port_scanners.insert((v, src));
            over.push(((v, src), Kind::PortScan, n, self.settings.scan.ports));
        }
        over.sort();
        for ((version, addr), kind, n, limit) in over {
            let key = (version, addr, kind, Direction::None);
            if self.active.contains_key(&key) {
                continue;
            }
            let a = Active {
                id: 0,
                start_ns: at,
                value: n as f64,
                threshold: limit as u64,
                reported: current,
                peers: Vec::new(),
                group: String::new(),
            };
            self.start(key, a, || peers(version, addr, Direction::Out));
        }
        if now_ns < end {
            return;
        }
        // the interval closes: the sources not over in it end
        let quiet: Vec<AlertKey> = self
            .active_of(&Kind::SCAN)
            .into_iter()
            .filter(|&(v, a, kind, _)| match kind {
                Kind::NetworkScan => !self.scan_hosts.is_over(&(v, a)),
                _ => !self.port_scanners.contains(&(v, a)),
            })
            .collect();
        self.end(quiet, end);
        self.scan_hosts.clear();
        self.scan_ports.clear();
        self.port_scanners.clear();
        self.scan_interval = now_ns / iv;
        if self.scan_interval > current + 1 {
            // a whole interval passed without opens: every one left ends
            let left = self.active_of(&Kind::SCAN);
            self.end(left, end + iv);
        }
    }

    /// Bytes the scan tables hold at most.
    pub fn memory_bound(&self) -> usize {
        self.scan_hosts.memory_bound() + self.scan_ports.memory_bound()
    }

    /// Scan sources tracked, and those not tracked for want of room.
    pub fn scan_sources(&self) -> (usize, u64) {
        (
            self.scan_hosts.len() + self.scan_ports.len(),
            self.scan_hosts.untracked + self.scan_ports.untracked,
        )
    }

    pub fn interval_ns(&self) -> u64 {
        nanos(self.settings.interval)
    }

    /// New settings; active alerts are evaluated against them at the next
    /// check (an alert whose limit is gone ends then).
    pub fn reconfigure(&mut self, settings: Detection) {
        let sc = &settings.scan;
        if *sc != self.settings.scan {
            // new limits count from the next interval on
            self.scan_hosts = Distinct::new(sc.hosts, sc.max_sources);
            self.scan_ports = Distinct::new(sc.ports, sc.max_sources);
            self.port_scanners.clear();
            self.scan_ignore = NetSet::new(&sc.ignore);
        }
        self.settings = settings;
        self.host_limits.clear();
    }

    /// Evaluates the hosts' counts of the current interval (`hosts`) at
    /// `now_ns`: alerts start or are updated. If `now_ns` is at or past the
    /// end of the interval, they are evaluated at its end, the interval is
    /// closed (alerts at or below their limit over it end; an interval
    /// that passed without traffic ends every alert left) and `true` is
    /// returned: the caller then clears the counts. `first_ns` is when the
    /// first packet was seen, which places the first interval. `peers`
    /// gives the evidence of a new alert.
    pub fn check(
        &mut self,
        now_ns: u64,
        first_ns: u64,
        hosts: &[HostInterval],
        peers: &mut dyn FnMut(u8, [u8; 16], Direction) -> Vec<Peer>,
    ) -> bool {
        self.check_scans(now_ns, first_ns, peers);
        if !self.wants_host_counts() {
            return false;
        }
        let iv = self.interval_ns();
        if self.interval == u64::MAX {
            self.interval = first_ns.min(now_ns) / iv;
        }
        let end = (self.interval + 1) * iv;
        self.evaluate(now_ns.min(end), hosts, peers);
        if now_ns < end {
            return false;
        }
        self.close_interval(hosts, end);
        let now_interval = now_ns / iv;
        if now_interval > self.interval + 1 {
            self.close_interval(&[], end + iv);
        }
        self.interval = now_interval;
        true
    }

    fn evaluate(
        &mut self,
        now_ns: u64,
        hosts: &[HostInterval],
        peers: &mut dyn FnMut(u8, [u8; 16], Direction) -> Vec<Peer>,
    ) {
        let secs = self.settings.interval.as_secs_f64().max(1e-9);
        for &(version, addr, counts) in hosts {
            let Some((limits, group)) = self.limits_for(version, addr) else {
                continue;
            };
            for (side, dir) in [(0, Direction::Out), (1, Direction::In)] {
                for kind in Kind::VOLUME {
                    let Some(limit) = kind.limit(&limits) else {
                        continue;
                    };
                    let value = kind.value(counts[side], secs);
                    if value <= limit as f64 {
                        continue;
                    }
                    let key = (version, addr, kind, dir);
                    let interval = self.interval;
                    if let Some(a) = self.active.get_mut(&key) {
                        a.threshold = limit;
                        if value > a.value && a.reported < interval {
                            a.value = value;
                            a.reported = interval;
                            let a = a.clone();
                            self.emit(Event::Update, now_ns, &key, &a, None);
                        }
                        continue;
                    }
                    let a = Active {
                        id: 0,
                        start_ns: now_ns,
                        value,
                        threshold: limit,
                        reported: interval,
                        peers: Vec::new(),
                        group: self.group_name(group),
                    };
                    self.start(key, a, || peers(version, addr, dir));
                }
            }
        }
    }

    /// Ends the alerts whose value over the interval that ended at
    /// `end_ns` (counts in `hosts`; a host absent counted nothing) is at or
    /// below their limit, or whose limit is no longer set. An alert that
    /// started in the interval was over in it, so it carries on.
    fn close_interval(&mut self, hosts: &[HostInterval], end_ns: u64) {
        let secs = self.settings.interval.as_secs_f64().max(1e-9);
        let alerting = self.active_of(&Kind::VOLUME);
        if alerting.is_empty() {
            return;
        }
        // the counts of the few hosts with an alert, not an index of all
        let mut counts: HashMap<Source, [Counts; 2]> = alerting
            .iter()
            .map(|k| ((k.0, k.1), [Counts::default(); 2]))
            .collect();
        for &(v, a, c) in hosts {
            if let Some(slot) = counts.get_mut(&(v, a)) {
                *slot = c;
            }
        }
        let mut ended: Vec<AlertKey> = Vec::new();
        for key in alerting {
            let (version, addr, kind, dir) = key;
            let side = usize::from(dir == Direction::In);
            let c = counts
                .get(&(version, addr))
                .map_or(Counts::default(), |c| c[side]);
            let limit = self
                .limits_for(version, addr)
                .and_then(|(l, _)| kind.limit(&l));
            if limit.is_none_or(|l| kind.value(c, secs) <= l as f64) {
                ended.push(key);
            }
        }
        self.end(ended, end_ns);
    }

    fn emit(&mut self, event: Event, at_ns: u64, key: &AlertKey, a: &Active, end: Option<u64>) {
        let (version, addr, kind, direction) = *key;
        self.events.push(AlertEvent {
            event,
            time: rfc3339(at_ns),
            id: a.id,
            kind,
            ip: crate::parse::to_ip(version, addr),
            direction,
            value: a.value,
            threshold: a.threshold,
            interval_seconds: if Kind::SCAN.contains(&kind) {
                self.settings.scan.interval.as_secs_f64()
            } else {
                self.settings.interval.as_secs_f64()
            },
            start: rfc3339(a.start_ns),
            end: end.map(rfc3339),
            peers: a.peers.clone(),
            group: a.group.clone(),
        });
    }

    /// The events since the last call, in order.
    pub fn take_events(&mut self) -> Vec<AlertEvent> {
        std::mem::take(&mut self.events)
    }

    pub fn view(&self, events_dropped: u64) -> DetectionView {
        let mut started: Vec<((Kind, Direction, String), u64)> =
            self.started.iter().map(|(k, n)| (k.clone(), *n)).collect();
        started.sort();
        let mut active: Vec<ActiveAlert> = self
            .active
            .iter()
            .map(|(&(version, addr, kind, direction), a)| ActiveAlert {
                id: a.id,
                kind,
                ip: crate::parse::to_ip(version, addr),
                direction,
                group: a.group.clone(),
            })
            .collect();
        active.sort_by_key(|a| a.id);
        let (scan_sources, scan_untracked) = self.scan_sources();
        DetectionView {
            started,
            active,
            suppressed: self.suppressed,
            groups: self
                .settings
                .groups
                .iter()
                .map(|g| g.name.clone())
                .collect(),
            events_dropped,
            deliveries: Default::default(),
            memory_bytes: self.memory_bound(),
            scan_sources,
            scan_untracked,
        }
    }
}

/// The largest grid that has the boundaries of both grids `a` and `b`
/// (ns): their greatest common divisor.
pub fn common_grid(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A duration in ns, at least 1 (an interval's length).
fn nanos(d: std::time::Duration) -> u64 {
    d.as_nanos().max(1) as u64
}

/// `2026-11-26T02:14:05.123Z` for ns since the Unix epoch.
pub fn rfc3339(ns: u64) -> String {
    let t = crate::utc::Utc::from_secs(ns / 1_000_000_000);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year,
        t.month,
        t.day,
        t.hour,
        t.minute,
        t.second,
        ns / 1_000_000 % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const S: u64 = 1_000_000_000;

    fn no_scans() -> crate::config::ScanLimits {
        crate::config::ScanLimits {
            hosts: 0,
            ports: 0,
            ..crate::config::ScanLimits::default()
        }
    }

    fn detector(limits: AlertLimits, max_alerts: usize) -> Detector {
        Detector::new(Detection {
            interval: Duration::from_secs(10),
            limits,
            max_alerts,
            scan: no_scans(),
            groups: Vec::new(),
            ..Detection::default()
        })
    }

    fn host(last: u8, sent_bytes: u64) -> HostInterval {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&[10, 0, 0, last]);
        let c = Counts {
            packets: sent_bytes / 1000,
            bytes: sent_bytes,
            flows: 0,
        };
        (4, a, [c, Counts::default()])
    }

    fn no_peers(_: u8, _: [u8; 16], _: Direction) -> Vec<Peer> {
        Vec::new()
    }

    fn kinds(events: &[AlertEvent]) -> Vec<(Event, Kind, String)> {
        events
            .iter()
            .map(|e| (e.event, e.kind, e.ip.to_string()))
            .collect()
    }

    #[test]
    fn more_alerts_than_allowed_are_counted_not_raised() {
        let limits = AlertLimits {
            bytes: Some(100),
            ..AlertLimits::default()
        };
        let mut d = detector(limits, 2);
        let hosts: Vec<HostInterval> = (1..=5).map(|i| host(i, 1000)).collect();
        assert!(!d.check(5 * S, 0, &hosts, &mut no_peers));
        assert_eq!(d.take_events().len(), 2);
        let v = d.view(0);
        assert_eq!((v.active.len(), v.suppressed), (2, 3));
    }

    #[test]
    fn a_limit_removed_by_a_reload_ends_its_alerts() {
        let limits = AlertLimits {
            bytes: Some(100),
            ..AlertLimits::default()
        };
        let mut d = detector(limits, 10);
        d.check(5 * S, 0, &[host(1, 1000)], &mut no_peers);
        d.reconfigure(Detection {
            interval: Duration::from_secs(10),
            limits: AlertLimits::default(),
            max_alerts: 10,
            scan: no_scans(),
            groups: Vec::new(),
            ..Detection::default()
        });
        assert!(d.enabled(), "an active alert still needs its end");
        assert!(d.check(10 * S, 0, &[host(1, 1000)], &mut no_peers));
        let k = kinds(&d.take_events());
        assert_eq!(
            k.last(),
            Some(&(Event::End, Kind::Bytes, "10.0.0.1".into()))
        );
        assert!(!d.enabled());
    }

    #[test]
    fn live_checks_start_at_once_and_end_after_a_quiet_interval() {
        let limits = AlertLimits {
            bytes: Some(5000),
            ..AlertLimits::default()
        };
        let mut d = detector(limits, 10);
        // running counts, checked every second
        assert!(!d.check(S, 0, &[host(1, 3000)], &mut no_peers));
        assert!(d.take_events().is_empty());
        assert!(!d.check(2 * S, 0, &[host(1, 6000)], &mut no_peers));
        let e = d.take_events();
        assert_eq!(kinds(&e), [(Event::Start, Kind::Bytes, "10.0.0.1".into())]);
        assert_eq!(e[0].start, rfc3339(2 * S));
        // the interval closes over the limit: carries on
        assert!(d.check(10 * S, 0, &[host(1, 6000)], &mut no_peers));
        assert!(d.take_events().is_empty());
        // a quiet interval ends it
        assert!(d.check(20 * S, 0, &[], &mut no_peers));
        let e = d.take_events();
        assert_eq!(kinds(&e), [(Event::End, Kind::Bytes, "10.0.0.1".into())]);
        assert_eq!(e[0].end.as_deref(), Some(rfc3339(20 * S).as_str()));
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(1_700_000_010_123_456_789),
            "2023-11-14T22:13:30.123Z"
        );
        assert_eq!(rfc3339(951_782_400 * S), "2000-02-29T00:00:00.000Z");
    }
}
