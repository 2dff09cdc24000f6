//! Renders a [`Snapshot`] with `prometheus-client`, in the Prometheus text
//! format 0.0.4 or in OpenMetrics 1.0 (see [`super::format`]). Rendering
//! reads only the snapshot: a scrape never waits on or touches a worker.

use super::format::{self, Format};
use super::labels::{ethertype_label, proto_label};
use crate::capture::stats::{CaptureStats, SocketKind, XDP_DROP_REASONS};
use crate::collector::{Count, FlowRow, HostCounts, Snapshot};
use crate::detect::{DetectionView, Direction as AlertDirection, Kind};
use crate::netset::Class;
use crate::parse::{Encap, to_ip};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt;
use std::sync::Arc;

/// How the flow families are chosen, for their help text.
const FOLDED: &str =
    ": the top --max-flow-series by recent bytes, the rest summed per class under src=\"other\".";

/// Renders the snapshot and the capture's own counters.
pub fn render(snapshot: Arc<Snapshot>, capture: Arc<CaptureStats>, format: Format) -> String {
    let mut registry = Registry::default();
    let rows = snapshot.flows.len();
    registry.register_collector(Box::new(SnapshotMetrics { snapshot, capture }));
    let mut out = String::with_capacity(4096 + rows * 2 * 128);
    // Writing into a String cannot fail.
    let _ = text::encode(&mut out, &registry);
    match format {
        Format::OpenMetrics => out,
        Format::Text => format::to_text(&out),
    }
}

/// `encode_descriptor` with the HELP text escaped as OpenMetrics wants it
/// (`prometheus-client` writes it as given) and no unit.
trait Describe {
    fn describe<'s>(
        &'s mut self,
        name: &'s str,
        help: &str,
        kind: MetricType,
    ) -> Result<MetricEncoder<'s>, fmt::Error>;
}

impl Describe for DescriptorEncoder<'_> {
    fn describe<'s>(
        &'s mut self,
        name: &'s str,
        help: &str,
        kind: MetricType,
    ) -> Result<MetricEncoder<'s>, fmt::Error> {
        self.encode_descriptor(name, &format::openmetrics_help(help), None, kind)
    }
}

#[derive(Debug)]
struct SnapshotMetrics {
    snapshot: Arc<Snapshot>,
    capture: Arc<CaptureStats>,
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.describe(name, help, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> fmt::Result {
    enc.describe(name, help, MetricType::Gauge)?
        .encode_gauge(&v)
}

/// A gauge with a series for IPv4 and one for IPv6.
fn gauge_by_version(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: [u64; 2],
) -> fmt::Result {
    let mut m = enc.describe(name, help, MetricType::Gauge)?;
    for (version, n) in ["4", "6"].into_iter().zip(v) {
        m.encode_family(&[("version", version)])?
            .encode_gauge(&(n as i64))?;
    }
    Ok(())
}

impl Collector for SnapshotMetrics {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        let s = &*self.snapshot;
        counter(
            &mut enc,
            "ringflow_packets",
            "Packets the workers saw, whatever became of them.",
            s.packets,
        )?;
        counter(
            &mut enc,
            "ringflow_bytes",
            "Frame bytes the workers saw (original length on the wire, no FCS).",
            s.bytes,
        )?;

        let labels: Vec<FlowLabels> = s.flows.iter().map(FlowLabels::of).collect();
        flow_family(
            &mut enc,
            "ringflow_flow_packets",
            &format!("Packets per host pair and service, each way{FOLDED}"),
            s,
            &labels,
            |c| c.packets,
        )?;
        flow_family(
            &mut enc,
            "ringflow_flow_bytes",
            &format!("Frame bytes per host pair and service, each way{FOLDED}"),
            s,
            &labels,
            |c| c.bytes,
        )?;
        traffic_family(
            &mut enc,
            "ringflow_traffic_packets",
            "Packets of every flow by direction class (outgoing, incoming, internal, \
             transit) and IP version; internet traffic is incoming plus outgoing.",
            s,
            |c| c.packets,
        )?;
        traffic_family(
            &mut enc,
            "ringflow_traffic_bytes",
            "Frame bytes of every flow by direction class and IP version.",
            s,
            |c| c.bytes,
        )?;
        let host_families: [(&str, &str, PickHost); 4] = [
            (
                "ringflow_host_transmit_bytes",
                "Frame bytes a monitored IP sent.",
                |h| h.tx.bytes,
            ),
            (
                "ringflow_host_receive_bytes",
                "Frame bytes a monitored IP received.",
                |h| h.rx.bytes,
            ),
            (
                "ringflow_host_transmit_packets",
                "Packets a monitored IP sent.",
                |h| h.tx.packets,
            ),
            (
                "ringflow_host_receive_packets",
                "Packets a monitored IP received.",
                |h| h.rx.packets,
            ),
        ];
        for (name, help, pick) in host_families {
            host_family(&mut enc, name, help, s, pick)?;
        }
        let mut m = enc.describe(
            "ringflow_flow_series",
            "Collector entries exported as flow series, and folded into the \"other\" series.",
            MetricType::Gauge,
        )?;
        for (state, n) in [("exported", s.flows.len()), ("folded", s.flows_folded)] {
            m.encode_family(&[("state", state)])?
                .encode_gauge(&(n as i64))?;
        }
        gauge(
            &mut enc,
            "ringflow_collector_entries",
            "Flow entries (host pair, service, direction) the collector keeps.",
            s.entries as i64,
        )?;
        gauge(
            &mut enc,
            "ringflow_collector_hosts",
            "Monitored IPs the collector keeps.",
            s.host_entries as i64,
        )?;
        counter(
            &mut enc,
            "ringflow_collector_untracked_packets",
            "Packets of flows the collector had no room to keep an entry for (--max-entries): \
             counted in the traffic totals and the \"other\" series only.",
            s.untracked.packets,
        )?;
        counter(
            &mut enc,
            "ringflow_collector_untracked_bytes",
            "Frame bytes of the packets in ringflow_collector_untracked_packets_total.",
            s.untracked.bytes,
        )?;
        if s.settings.compat.promflow {
            host_family(
                &mut enc,
                "promflow_transmit_bytes",
                "Promflow profile: ringflow_host_transmit_bytes_total under Promflow's name.",
                s,
                |h| h.tx.bytes,
            )?;
            host_family(
                &mut enc,
                "promflow_receive_bytes",
                "Promflow profile: ringflow_host_receive_bytes_total under Promflow's name.",
                s,
                |h| h.rx.bytes,
            )?;
        }
        if s.settings.compat.trafficmonitor {
            trafficmonitor(&mut enc, s, &labels)?;
        }

        let mut m = enc.describe(
            "ringflow_parse_errors",
            "Packets the parser stopped on, by layer and reason. Layers link to ipv6 count \
             packets in no flow; ipv6_ext and the transport layers count packets still \
             counted under their host pair, without ports.",
            MetricType::Counter,
        )?;
        for (e, n) in &s.parse_errors {
            m.encode_family(&[("layer", e.layer.as_str()), ("reason", e.reason.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }

        let mut m = enc.describe(
            "ringflow_non_ip_packets",
            "Packets that are not IP, by ethertype (802.3 for LLC frames).",
            MetricType::Counter,
        )?;
        for (et, n) in &s.non_ip {
            let et = ethertype_label(*et);
            m.encode_family(&[("ethertype", et.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }

        let mut m = enc.describe(
            "ringflow_decap_packets",
            "Packets that arrived in a tunnel the parser opened, by kind (erspan, vxlan, \
             geneve, gre, ipip); a packet in two tunnels counts in both. Their flows count \
             the packet inside.",
            MetricType::Counter,
        )?;
        for e in Encap::ALL {
            m.encode_family(&[("encap", e.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(&s.decap_packets[e as usize], None)?;
        }
        let mut m = enc.describe(
            "ringflow_decap_bytes",
            "Bytes the tunnels took, by kind: their headers and the headers outside them, \
             which the flows of the packets inside do not count.",
            MetricType::Counter,
        )?;
        for e in Encap::ALL {
            m.encode_family(&[("encap", e.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(&s.decap_bytes[e as usize], None)?;
        }
        counter(
            &mut enc,
            "ringflow_dedup_dropped",
            "Packets not counted because the same IP packet (apart from TTL and checksum) was \
             seen within the --dedup window.",
            s.dedup_dropped,
        )?;

        counter(
            &mut enc,
            "ringflow_flow_table_overflow",
            "Packets counted in the totals but in no flow because a worker's flow table was full.",
            s.overflow_packets,
        )?;
        counter(
            &mut enc,
            "ringflow_flow_table_overflow_bytes",
            "Frame bytes of the packets in ringflow_flow_table_overflow_total.",
            s.overflow_bytes,
        )?;

        counter(
            &mut enc,
            "ringflow_flow_table_expired",
            "Flows the worker flow tables let go: idle for --flow-table-idle, or idle for a refresh when a table lacked room for new flows.",
            s.table_expired,
        )?;
        gauge_by_version(
            &mut enc,
            "ringflow_flow_table_flows",
            "Flows in the worker flow tables at their last hand-over, by IP version.",
            s.table_flows,
        )?;
        gauge_by_version(
            &mut enc,
            "ringflow_flow_table_slots",
            "Flows the worker flow tables hold at most, by IP version.",
            s.table_slots,
        )?;

        let mut m = enc.describe(
            "ringflow_worker_batch_seconds",
            "Time a worker took to parse and account one batch.",
            MetricType::Histogram,
        )?;
        for b in &s.batches {
            let worker = b.worker.to_string();
            m.encode_family(&[("worker", worker.as_str())])?
                .encode_histogram::<NoLabelSet>(b.sum_seconds, b.count, &b.buckets, None)?;
        }

        gauge(
            &mut enc,
            "ringflow_collector_conversations",
            "Conversations whose opening side the collector remembers.",
            s.conversations as i64,
        )?;
        gauge(
            &mut enc,
            "ringflow_flow_table_memory_bytes",
            "Memory of all worker flow tables, the lists their hand-overs carry, and the collector's handles of their flows.",
            s.shard_memory_bytes as i64,
        )?;
        gauge(
            &mut enc,
            "ringflow_collector_memory_bytes",
            "Memory of the collector's conversations (taken at start for --max-entries), entries and hosts (grown as they come, up to --max-entries each).",
            s.collector_memory_bytes as i64,
        )?;
        gauge(
            &mut enc,
            "ringflow_input_complete",
            "Whether a finite input (pcap replay) has been read to the end and fully merged (1) or not yet (0).",
            i64::from(s.complete),
        )?;
        encode_detection(&mut enc, &s.detection)?;
        if let Some(x) = &s.flow_export {
            encode_flow_export(&mut enc, x)?;
        }
        self.encode_capture(&mut enc)?;
        counter(
            &mut enc,
            "ringflow_capture_damaged_records",
            "Capture-file records that were cut off or damaged and could not be read.",
            self.capture.damaged_records(),
        )?;
        encode_process(&mut enc, &super::process::read())
    }
}

/// Flow export's counts per collector (only with `--ipfix`).
fn encode_flow_export(
    enc: &mut DescriptorEncoder,
    x: &crate::collector::export::ExportCounts,
) -> fmt::Result {
    let rows = x.rows();
    let mut m = enc.describe(
        "ringflow_ipfix_records",
        "IPFIX flow records per collector and result: sent, dropped (the socket's buffer was full), not_exported (the collector could not be resolved or reached, its connection broke, or the exporter's queue was full).",
        MetricType::Counter,
    )?;
    for &(label, sent, dropped, unsent, _, _) in &rows {
        for (result, n) in [
            ("sent", sent),
            ("dropped", dropped),
            ("not_exported", unsent),
        ] {
            m.encode_family(&[("collector", label), ("result", result)])?
                .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
        }
    }
    let mut m = enc.describe(
        "ringflow_ipfix_messages",
        "IPFIX messages sent per collector.",
        MetricType::Counter,
    )?;
    for &(label, _, _, _, messages, _) in &rows {
        m.encode_family(&[("collector", label)])?
            .encode_counter::<NoLabelSet, _, u64>(&messages, None)?;
    }
    let mut m = enc.describe(
        "ringflow_ipfix_collector_up",
        "Whether the collector is resolved and, over TCP, connected (1) or not (0).",
        MetricType::Gauge,
    )?;
    for &(label, _, _, _, _, up) in &rows {
        m.encode_family(&[("collector", label)])?
            .encode_gauge(&i64::from(up))?;
    }
    Ok(())
}

/// ringflow's build and start, and the standard `process_*` family.
fn encode_process(enc: &mut DescriptorEncoder, p: &super::process::ProcessStats) -> fmt::Result {
    use super::process::{BACKEND_FEATURES, GIT_COMMIT, VERSION};
    enc.describe(
        "ringflow_build_info",
        "1, with the version, the git commit and the capture backends of this build.",
        MetricType::Gauge,
    )?
    .encode_family(&[
        ("version", VERSION),
        ("git_commit", GIT_COMMIT),
        ("backend_features", BACKEND_FEATURES),
    ])?
    .encode_gauge(&1i64)?;
    let floats: [(&str, &str, Option<f64>); 2] = [
        (
            "ringflow_start_time_seconds",
            "When ringflow started, in seconds since the Unix epoch.",
            p.start_time_seconds,
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            p.start_time_seconds,
        ),
    ];
    for (name, help, v) in floats {
        if let Some(v) = v {
            enc.describe(name, help, MetricType::Gauge)?
                .encode_gauge(&v)?;
        }
    }
    if let Some(v) = p.cpu_seconds {
        enc.describe(
            "process_cpu_seconds",
            "Total user and system CPU time spent in seconds.",
            MetricType::Counter,
        )?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
    }
    let gauges: [(&str, &str, Option<u64>); 5] = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            p.resident_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            p.virtual_bytes,
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            p.open_fds,
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            p.max_fds,
        ),
        (
            "process_threads",
            "Number of OS threads in the process.",
            p.threads,
        ),
    ];
    for (name, help, v) in gauges {
        if let Some(v) = v {
            enc.describe(name, help, MetricType::Gauge)?
                .encode_gauge(&(v as i64))?;
        }
    }
    Ok(())
}

/// Alerts: started, active, suppressed, and events the log lost.
fn encode_detection(enc: &mut DescriptorEncoder, d: &DetectionView) -> fmt::Result {
    let mut m = enc.describe(
        "ringflow_alerts",
        "Alerts started, by kind, direction and host group.",
        MetricType::Counter,
    )?;
    // every (kind, direction) from the start at 0, for no group and for
    // each host group (scans have neither direction nor group)
    let mut groups: Vec<&str> = vec![""];
    groups.extend(d.groups.iter().map(String::as_str));
    let volume = Kind::VOLUME.iter().flat_map(|&k| {
        groups
            .iter()
            .flat_map(move |&g| [(k, AlertDirection::In, g), (k, AlertDirection::Out, g)])
    });
    let scans = Kind::SCAN.iter().map(|&k| (k, AlertDirection::None, ""));
    for (kind, dir, group) in volume.chain(scans) {
        let n = d
            .started
            .iter()
            .find(|((k, dr, g), _)| (*k, *dr, g.as_str()) == (kind, dir, group))
            .map_or(0, |(_, n)| *n);
        m.encode_family(&[
            ("kind", kind.as_str()),
            ("direction", dir.as_str()),
            ("group", group),
        ])?
        .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
    }
    let mut m = enc.describe(
        "ringflow_alert_active",
        "1 for each active alert (at most --max-alerts).",
        MetricType::Gauge,
    )?;
    for a in &d.active {
        let ip = a.ip.to_string();
        m.encode_family(&[
            ("kind", a.kind.as_str()),
            ("ip", ip.as_str()),
            ("direction", a.direction.as_str()),
            ("group", a.group.as_str()),
        ])?
        .encode_gauge(&1i64)?;
    }
    counter(
        enc,
        "ringflow_alerts_suppressed",
        "Alerts not raised because --max-alerts alerts were active.",
        d.suppressed,
    )?;
    counter(
        enc,
        "ringflow_alert_events_dropped",
        "Alert events the outputs' queue had no room for.",
        d.events_dropped,
    )?;
    let mut m = enc.describe(
        "ringflow_alert_deliveries",
        "Alert deliveries by output and result (ok, failed after retries, dropped by a full queue).",
        MetricType::Counter,
    )?;
    for (target, result, n) in &d.deliveries.get() {
        m.encode_family(&[("target", *target), ("result", *result)])?
            .encode_counter::<NoLabelSet, _, u64>(n, None)?;
    }
    gauge(
        enc,
        "ringflow_detection_memory_bytes",
        "Memory the scan tables hold at most (--scan-max-sources sources and pairs, each up to the limit).",
        d.memory_bytes as i64,
    )?;
    gauge(
        enc,
        "ringflow_scan_sources",
        "Sources and source-destination pairs tracked for scans in the current interval.",
        d.scan_sources as i64,
    )?;
    counter(
        enc,
        "ringflow_scan_untracked",
        "Sources not tracked for scans because every tracked one had two or more targets.",
        d.scan_untracked,
    )
}

/// Label values of one flow row, formatted once per scrape.
struct FlowLabels {
    src: String,
    dst: String,
    proto: String,
    port: String,
    direction: &'static str,
    service: &'static str,
    class: &'static str,
}

impl FlowLabels {
    fn of(r: &FlowRow) -> FlowLabels {
        let k = &r.key;
        FlowLabels {
            src: to_ip(k.version, k.src).to_string(),
            dst: to_ip(k.version, k.dst).to_string(),
            proto: proto_label(k.proto),
            port: k.port.map(|p| p.to_string()).unwrap_or_default(),
            direction: if k.reply { "reply" } else { "request" },
            service: k
                .port
                .map(|p| super::services::name(k.proto, p))
                .unwrap_or(""),
            class: r.class.as_str(),
        }
    }

    fn pairs(&self) -> [(&'static str, &str); 7] {
        [
            ("src", self.src.as_str()),
            ("dst", self.dst.as_str()),
            ("proto", self.proto.as_str()),
            ("port", self.port.as_str()),
            ("direction", self.direction),
            ("service", self.service),
            ("class", self.class),
        ]
    }
}

/// One flow counter family: a series per exported row, then one "other"
/// series per class that has folded traffic.
fn flow_family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    s: &Snapshot,
    labels: &[FlowLabels],
    value: impl Fn(&Count) -> u64,
) -> fmt::Result {
    let mut m = enc.describe(name, help, MetricType::Counter)?;
    for (row, l) in s.flows.iter().zip(labels) {
        let c = Count {
            packets: row.packets,
            bytes: row.bytes,
        };
        m.encode_family(&l.pairs())?
            .encode_counter::<NoLabelSet, _, u64>(&value(&c), None)?;
    }
    for (class, other) in Class::ALL.iter().zip(&s.flows_other) {
        if other.packets > 0 || other.bytes > 0 {
            let l = [
                ("src", "other"),
                ("dst", "other"),
                ("proto", ""),
                ("port", ""),
                ("direction", ""),
                ("service", ""),
                ("class", class.as_str()),
            ];
            m.encode_family(&l)?
                .encode_counter::<NoLabelSet, _, u64>(&value(other), None)?;
        }
    }
    Ok(())
}

fn traffic_family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    s: &Snapshot,
    value: impl Fn(&Count) -> u64,
) -> fmt::Result {
    let mut m = enc.describe(name, help, MetricType::Counter)?;
    for (class, per_version) in Class::ALL.iter().zip(&s.traffic) {
        for (version, c) in ["4", "6"].iter().zip(per_version) {
            m.encode_family(&[("class", class.as_str()), ("ip_version", version)])?
                .encode_counter::<NoLabelSet, _, u64>(&value(c), None)?;
        }
    }
    Ok(())
}

/// Picks one per-IP counter.
type PickHost = fn(&HostCounts) -> u64;

/// One per-IP family: a series per exported host, then `ip="other"` for
/// the folded rest if it has counted anything.
fn host_family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    s: &Snapshot,
    value: PickHost,
) -> fmt::Result {
    let mut m = enc.describe(name, help, MetricType::Counter)?;
    for h in &s.hosts {
        let ip = to_ip(h.version, h.addr).to_string();
        m.encode_family(&[("ip", ip.as_str())])?
            .encode_counter::<NoLabelSet, _, u64>(&value(&h.counts), None)?;
    }
    if s.hosts_other != HostCounts::default() {
        m.encode_family(&[("ip", "other")])?
            .encode_counter::<NoLabelSet, _, u64>(&value(&s.hosts_other), None)?;
    }
    Ok(())
}

/// The trafficmonitor profile: its totals of internet traffic and its
/// per-flow gauge, with ringflow's counts (gauges, as trafficmonitor
/// exported them, so their names stay exactly the same).
fn trafficmonitor(enc: &mut DescriptorEncoder, s: &Snapshot, labels: &[FlowLabels]) -> fmt::Result {
    let total = |c: Class| s.traffic[c.index()].iter().map(|v| v.bytes).sum::<u64>();
    gauge(
        enc,
        "trafficmonitor_total_incoming_bytes",
        "trafficmonitor profile: frame bytes from the internet into the local networks.",
        total(Class::Incoming) as i64,
    )?;
    gauge(
        enc,
        "trafficmonitor_total_outgoing_bytes",
        "trafficmonitor profile: frame bytes from the local networks to the internet.",
        total(Class::Outgoing) as i64,
    )?;
    let mut m = enc.describe(
        "trafficmonitor_hosts_src_dst",
        "trafficmonitor profile: frame bytes per exported flow series.",
        MetricType::Gauge,
    )?;
    for (row, l) in s.flows.iter().zip(labels) {
        let port = match row.key.port {
            Some(p) if l.service.is_empty() => format!("{}/{p}", l.proto),
            Some(p) => format!("{}/{p}({})", l.proto, l.service),
            None => l.proto.clone(),
        };
        let port = if row.key.reply {
            format!("reply_{port}")
        } else {
            port
        };
        let first = utc_seconds(row.first_ns / 1_000_000_000);
        let (src_mac, dst_mac) = (mac(&row.macs[6..12]), mac(&row.macs[..6]));
        m.encode_family(&[
            ("a_srcAddr", l.src.as_str()),
            ("b_dstAddr", l.dst.as_str()),
            ("c_dstPort", port.as_str()),
            ("d_firstSeen", first.as_str()),
            ("e_srcMac", src_mac.as_str()),
            ("f_dstMac", dst_mac.as_str()),
        ])?
        .encode_gauge(&(row.bytes as i64))?;
    }
    Ok(())
}

/// `aa:bb:cc:dd:ee:ff`, or "" for an unknown (all-zero) address.
fn mac(b: &[u8]) -> String {
    if b.iter().all(|&x| x == 0) {
        return String::new();
    }
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `2021 03 17 13:31:58` (UTC) for seconds since the Unix epoch, the way
/// trafficmonitor writes its firstSeen label.
pub fn utc_seconds(secs: u64) -> String {
    let t = crate::utc::Utc::from_secs(secs);
    format!(
        "{:04} {:02} {:02} {:02}:{:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// Picks one of a socket's (packets, drops, freezes).
type PickSocket = fn((u64, u64, u64)) -> u64;
/// Picks one of a socket's (merged, unsplit).
type PickMerged = fn((u64, u64)) -> u64;
/// Picks a gauge value from a NIC's state.
type PickNic = fn(&super::nic::NicStats) -> Option<i64>;

impl SnapshotMetrics {
    /// Per-socket kernel counters and per-interface NIC state.
    fn encode_capture(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let sockets = self.capture.sockets();
        let families: [(&str, &str, PickSocket); 3] = [
            (
                "ringflow_capture_packets",
                "Packets the kernel put in a capture socket's ring.",
                |c| c.0,
            ),
            (
                "ringflow_capture_drops",
                "Packets the kernel dropped because a capture socket's ring was full.",
                |c| c.1,
            ),
            (
                "ringflow_capture_freeze",
                "Times a capture socket's ring was frozen (full) by the kernel.",
                |c| c.2,
            ),
        ];
        for (name, help, pick) in families {
            let is_drops = name == "ringflow_capture_drops";
            let mut m = enc.describe(name, help, MetricType::Counter)?;
            for s in &sockets {
                let queue = s.queue.to_string();
                let labels = [("iface", s.iface.as_str()), ("queue", queue.as_str())];
                match (&s.kind, s.xdp_drops()) {
                    (SocketKind::AfXdp { .. }, Some(drops)) => {
                        // AF_XDP has no freezes, and its drops have reasons
                        if is_drops {
                            for (reason, n) in XDP_DROP_REASONS.iter().zip(drops) {
                                m.encode_family(&[labels[0], labels[1], ("reason", reason)])?
                                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
                            }
                        } else if name == "ringflow_capture_packets" {
                            m.encode_family(&labels)?
                                .encode_counter::<NoLabelSet, _, u64>(&pick(s.get()), None)?;
                        }
                    }
                    _ => {
                        m.encode_family(&labels)?
                            .encode_counter::<NoLabelSet, _, u64>(&pick(s.get()), None)?;
                    }
                }
            }
        }
        let merged: [(&str, &str, PickMerged); 2] = [
            (
                "ringflow_capture_merged_packets",
                "AF_PACKET ring packets merged from TCP or UDP segments (GRO, or GSO this host had yet to do), each counted as the segments it was on the wire.",
                |m| m.0,
            ),
            (
                "ringflow_capture_unsplit_packets",
                "AF_PACKET ring packets longer than the interface's MTU allows that came without a segment size (hardware LRO, a kernel without the virtio header): each counted as one packet, so fewer than the wire had.",
                |m| m.1,
            ),
        ];
        for (name, help, pick) in merged {
            let mut m = enc.describe(name, help, MetricType::Counter)?;
            for s in sockets
                .iter()
                .filter(|s| matches!(s.kind, SocketKind::AfPacket))
            {
                let queue = s.queue.to_string();
                m.encode_family(&[("iface", s.iface.as_str()), ("queue", queue.as_str())])?
                    .encode_counter::<NoLabelSet, _, u64>(&pick(s.merged()), None)?;
            }
        }
        {
            let mut m = enc.describe(
                "ringflow_capture_info",
                "One per capture socket: its backend, and how AF_XDP attached and bound.",
                MetricType::Gauge,
            )?;
            for s in &sockets {
                let queue = s.queue.to_string();
                let (backend, mode, bind) = s.kind.labels();
                m.encode_family(&[
                    ("iface", s.iface.as_str()),
                    ("queue", queue.as_str()),
                    ("backend", backend),
                    ("mode", mode),
                    ("bind", bind),
                ])?
                .encode_gauge(&1i64)?;
            }
        }

        let nics: Vec<(String, super::nic::NicStats)> = self
            .capture
            .ifaces()
            .into_iter()
            .map(|i| {
                let s = super::nic::read(&i);
                (i, s)
            })
            .collect();
        let gauges: [(&str, &str, PickNic); 3] = [
            (
                "ringflow_nic_up",
                "1 if the interface exists, is administratively up and has its link up.",
                |n| Some(i64::from(n.up)),
            ),
            (
                "ringflow_nic_promiscuous",
                "1 if the interface is in promiscuous mode, whoever set it.",
                |n| n.exists.then_some(i64::from(n.promiscuous)),
            ),
            (
                "ringflow_nic_speed_bytes_per_second",
                "Link speed the driver reports, in bytes per second (base unit, as node_exporter's node_network_speed_bytes).",
                |n| n.speed_mbps.map(|s| (s * 125_000) as i64),
            ),
        ];
        for (name, help, pick) in gauges {
            let mut m = enc.describe(name, help, MetricType::Gauge)?;
            for (iface, n) in &nics {
                if let Some(v) = pick(n) {
                    m.encode_family(&[("iface", iface.as_str())])?
                        .encode_gauge(&v)?;
                }
            }
        }
        for c in super::nic::COUNTERS {
            let name = format!("ringflow_nic_{c}");
            let help = format!("The kernel's {c} counter of the interface (sysfs).");
            let mut m = enc.describe(&name, &help, MetricType::Counter)?;
            for (iface, n) in &nics {
                if let Some((_, v)) = n.counters.iter().find(|(k, _)| *k == c) {
                    m.encode_family(&[("iface", iface.as_str())])?
                        .encode_counter::<NoLabelSet, _, u64>(v, None)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{HostRow, SeriesKey};
    use crate::config::Compat;
    use crate::parse::v4_addr;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        v4_addr(a)
    }

    /// A snapshot with one conversation each way, an "other" series, a
    /// host, non-IP ethertypes and both compat profiles.
    fn snapshot() -> Arc<Snapshot> {
        let mut s = Snapshot::empty(1);
        s.packets = 12;
        s.bytes = 1200;
        let key = SeriesKey {
            version: 4,
            src: v4([10, 0, 0, 1]),
            dst: v4([93, 184, 216, 34]),
            proto: 6,
            port: Some(443),
            reply: false,
        };
        s.flows = vec![
            FlowRow {
                key,
                class: Class::Outgoing,
                packets: 3,
                bytes: 300,
                first_ns: 1_615_988_000_000_000_000,
                macs: [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1],
            },
            FlowRow {
                key: SeriesKey {
                    src: key.dst,
                    dst: key.src,
                    reply: true,
                    ..key
                },
                class: Class::Incoming,
                packets: 2,
                bytes: 500,
                first_ns: 1_615_988_001_000_000_000,
                macs: [0; 12],
            },
        ];
        s.flows_other[Class::Transit.index()] = Count {
            packets: 4,
            bytes: 400,
        };
        s.hosts = vec![HostRow {
            version: 4,
            addr: v4([10, 0, 0, 1]),
            counts: HostCounts {
                tx: Count {
                    packets: 3,
                    bytes: 300,
                },
                rx: Count {
                    packets: 2,
                    bytes: 500,
                },
            },
        }];
        s.non_ip = vec![(Some(0x0806), 2), (Some(0), 1), (None, 1)];
        s.settings = Arc::new(crate::config::Accounting {
            compat: Compat {
                promflow: true,
                trafficmonitor: true,
            },
            ..Default::default()
        });
        Arc::new(s)
    }

    #[test]
    fn flow_host_and_compat_series_carry_their_labels() {
        let text = render(snapshot(), Arc::new(CaptureStats::default()), Format::Text);
        let lines: Vec<&str> = text.lines().collect();
        for want in [
            "ringflow_packets_total 12",
            "ringflow_flow_bytes_total{src=\"10.0.0.1\",dst=\"93.184.216.34\",proto=\"tcp\",port=\"443\",direction=\"request\",service=\"https\",class=\"outgoing\"} 300",
            "ringflow_flow_packets_total{src=\"93.184.216.34\",dst=\"10.0.0.1\",proto=\"tcp\",port=\"443\",direction=\"reply\",service=\"https\",class=\"incoming\"} 2",
            "ringflow_flow_bytes_total{src=\"other\",dst=\"other\",proto=\"\",port=\"\",direction=\"\",service=\"\",class=\"transit\"} 400",
            "ringflow_host_transmit_bytes_total{ip=\"10.0.0.1\"} 300",
            "ringflow_host_receive_packets_total{ip=\"10.0.0.1\"} 2",
            "promflow_receive_bytes_total{ip=\"10.0.0.1\"} 500",
            "ringflow_non_ip_packets_total{ethertype=\"0x0806\"} 2",
            "ringflow_non_ip_packets_total{ethertype=\"802.3\"} 1",
            "ringflow_non_ip_packets_total{ethertype=\"other\"} 1",
            "ringflow_flow_series{state=\"exported\"} 2",
            "trafficmonitor_hosts_src_dst{a_srcAddr=\"10.0.0.1\",b_dstAddr=\"93.184.216.34\",c_dstPort=\"tcp/443(https)\",d_firstSeen=\"2021 03 17 13:33:20\",e_srcMac=\"02:00:00:00:00:01\",f_dstMac=\"02:00:00:00:00:02\"} 300",
            "trafficmonitor_hosts_src_dst{a_srcAddr=\"93.184.216.34\",b_dstAddr=\"10.0.0.1\",c_dstPort=\"reply_tcp/443(https)\",d_firstSeen=\"2021 03 17 13:33:21\",e_srcMac=\"\",f_dstMac=\"\"} 500",
            "# TYPE ringflow_flow_bytes_total counter",
            "# TYPE ringflow_worker_batch_seconds histogram",
        ] {
            assert!(lines.contains(&want), "missing: {want}\n{text}");
        }
    }

    #[test]
    fn both_formats_have_the_same_samples() {
        let stats = Arc::new(CaptureStats::default());
        let text = render(snapshot(), stats.clone(), Format::Text);
        let om = render(snapshot(), stats, Format::OpenMetrics);
        // the process family is read at each render: its values move
        let samples = |s: &str| -> Vec<String> {
            s.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| match l.strip_prefix("process_") {
                    Some(rest) => rest.split(' ').next().unwrap().to_string(),
                    None => l.to_string(),
                })
                .collect()
        };
        assert_eq!(samples(&text), samples(&om));
        assert!(om.ends_with("# EOF\n") && !text.contains("# EOF"));
        assert!(om.contains("# TYPE ringflow_flow_bytes counter\n"));
        assert!(
            om.contains("src=\\\"other\\\""),
            "OpenMetrics escapes quotes in HELP"
        );
    }
}
