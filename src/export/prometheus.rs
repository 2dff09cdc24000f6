//! Renders a [`Snapshot`] in the OpenMetrics text format with
//! `prometheus-client`. Rendering reads only the snapshot: a scrape never
//! waits on or touches a worker.

use crate::collector::{FlowRow, Snapshot};
use crate::source::{SocketKind, SourceStats, XDP_DROP_REASONS};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet, text};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::fmt;
use std::sync::Arc;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Renders the snapshot and the capture source's own counters.
pub fn render(snapshot: Arc<Snapshot>, source: Arc<SourceStats>) -> String {
    let mut registry = Registry::default();
    let rows = snapshot.flows.len();
    registry.register_collector(Box::new(SnapshotMetrics { snapshot, source }));
    let mut out = String::with_capacity(4096 + rows * 2 * 128);
    // Writing into a String cannot fail.
    let _ = text::encode(&mut out, &registry);
    out
}

#[derive(Debug)]
struct SnapshotMetrics {
    snapshot: Arc<Snapshot>,
    source: Arc<SourceStats>,
}

fn counter(enc: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

fn gauge(enc: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> fmt::Result {
    enc.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
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

        flow_family(
            &mut enc,
            "ringflow_flow_packets",
            "Packets per host pair and service, each way.",
            s,
            |r| r.packets,
        )?;
        flow_family(
            &mut enc,
            "ringflow_flow_bytes",
            "Frame bytes per host pair and service, each way.",
            s,
            |r| r.bytes,
        )?;

        let mut m = enc.encode_descriptor(
            "ringflow_parse_errors",
            "Packets the parser stopped on, by layer and reason. Layers link to ipv6 count \
             packets in no flow; ipv6_ext and the transport layers count packets still \
             counted under their host pair, without ports.",
            None,
            MetricType::Counter,
        )?;
        for (e, n) in &s.parse_errors {
            m.encode_family(&[("layer", e.layer.as_str()), ("reason", e.reason.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }

        let mut m = enc.encode_descriptor(
            "ringflow_non_ip_packets",
            "Packets that are not IP, by ethertype (802.3 for LLC frames).",
            None,
            MetricType::Counter,
        )?;
        for (et, n) in &s.non_ip {
            m.encode_family(&[("ethertype", et.as_str())])?
                .encode_counter::<NoLabelSet, _, u64>(n, None)?;
        }

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

        let mut m = enc.encode_descriptor(
            "ringflow_worker_batch_seconds",
            "Time a worker took to parse and account one batch.",
            None,
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
            "Memory of all worker flow tables and counters (two shards per worker).",
            s.shard_memory_bytes as i64,
        )?;
        gauge(
            &mut enc,
            "ringflow_input_complete",
            "Whether a finite input (pcap replay) has been read to the end and fully merged (1) or not yet (0).",
            i64::from(s.complete),
        )?;
        self.encode_capture(&mut enc)?;
        counter(
            &mut enc,
            "ringflow_capture_damaged_records",
            "Capture-file records that were cut off or damaged and could not be read.",
            self.source.damaged_records(),
        )?;
        Ok(())
    }
}

/// One flow counter family: a series per row of the snapshot.
fn flow_family(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    s: &Snapshot,
    value: impl Fn(&FlowRow) -> u64,
) -> fmt::Result {
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for row in &s.flows {
        m.encode_family(&flow_labels(&row.labels))?
            .encode_counter::<NoLabelSet, _, u64>(&value(row), None)?;
    }
    Ok(())
}

/// Picks one of a socket's (packets, drops, freezes).
type PickSocket = fn((u64, u64, u64)) -> u64;
/// Picks a gauge value from a NIC's state.
type PickNic = fn(&super::nic::NicStats) -> Option<i64>;

impl SnapshotMetrics {
    /// Per-socket kernel counters and per-interface NIC state.
    fn encode_capture(&self, enc: &mut DescriptorEncoder) -> fmt::Result {
        let sockets = self.source.sockets();
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
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
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
        {
            let mut m = enc.encode_descriptor(
                "ringflow_capture_info",
                "One per capture socket: its backend, and how AF_XDP attached and bound.",
                None,
                MetricType::Gauge,
            )?;
            for s in &sockets {
                let queue = s.queue.to_string();
                let (backend, mode, bind) = match &s.kind {
                    SocketKind::AfPacket => ("af-packet", "tpacket-v3", "copy"),
                    SocketKind::AfXdp { mode, bind, .. } => ("af-xdp", *mode, *bind),
                };
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
            .source
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
                "ringflow_nic_speed_bits_per_second",
                "Link speed the driver reports.",
                |n| n.speed_mbps.map(|s| (s * 1_000_000) as i64),
            ),
        ];
        for (name, help, pick) in gauges {
            let mut m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
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
            let mut m = enc.encode_descriptor(&name, &help, None, MetricType::Counter)?;
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

fn flow_labels(l: &crate::collector::FlowLabels) -> [(&'static str, &str); 5] {
    [
        ("src", l.src.as_str()),
        ("dst", l.dst.as_str()),
        ("proto", l.proto.as_str()),
        ("port", l.port.as_str()),
        ("direction", l.direction),
    ]
}
