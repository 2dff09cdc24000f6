//! `ringflow gen`: sends a synthetic traffic mix out of an interface with
//! batched `sendmmsg` on an AF_PACKET socket that bypasses the qdisc, at a
//! target rate or as fast as it can, bounded in packets and time, and
//! writes exactly what it sent per flow and direction.

use crate::capture::af_packet::{CaptureError, Iface};
use crate::capture::sys::SysError;
use crate::capture::sys::af_packet::{PacketSocket, SendBuf};
use crate::config::GenArgs;
use crate::synth::{FlowDesc, Mix, tcp_flags};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

const BATCH: usize = 64;
/// IMIX sizes given to flows in turn: 64, 576 and 1500 bytes in 7:4:1.
const IMIX: [usize; 12] = [64, 64, 64, 64, 64, 64, 64, 576, 576, 576, 576, 1500];

#[derive(Debug, thiserror::Error)]
pub enum GenError {
    #[error("interface {0} not found")]
    NoIface(String),
    #[error(transparent)]
    Capture(#[from] CaptureError),
    #[error("sending on {iface}: {source}")]
    Send { iface: String, source: SysError },
    #[error("cannot write {path}: {source}")]
    Truth {
        path: String,
        source: std::io::Error,
    },
}

/// What one direction of one flow was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub packets: u64,
    pub bytes: u64,
}

/// Key of a truth row: source, destination, protocol, ports, VLAN id.
pub type TruthKey = (String, String, u8, u16, u16, u16);

#[derive(Debug, Default)]
pub struct GenReport {
    pub packets: u64,
    pub bytes: u64,
    pub elapsed: Duration,
    pub truth: BTreeMap<TruthKey, Sent>,
}

/// The frames of one flow: the client's opening packet, then client data
/// and server data.
struct FlowFrames {
    desc: FlowDesc,
    frames: [Vec<u8>; 3],
}

fn plan(args: &GenArgs) -> Vec<FlowFrames> {
    let mix = Mix {
        flows: args.flows,
        packets: args.packets,
        ipv6_percent: args.ipv6_percent,
        vlan_percent: args.vlan_percent,
        udp_percent: args.udp_percent,
        frame_size: args.frame_size,
        seed: args.seed,
    };
    mix.flow_descs()
        .into_iter()
        .enumerate()
        .map(|(i, desc)| {
            let size = if args.frame_size == 0 {
                IMIX[i % IMIX.len()]
            } else {
                args.frame_size
            };
            FlowFrames {
                desc,
                frames: [
                    desc.frame(true, tcp_flags::SYN, size),
                    desc.frame(true, tcp_flags::PSH_ACK, size),
                    desc.frame(false, tcp_flags::PSH_ACK, size),
                ],
            }
        })
        .collect()
}

/// Which frame of its flow packet `n` is: the first round opens every
/// flow; after that two client packets for one server packet.
fn pick(n: u64, flows: usize) -> (usize, usize) {
    let flow = (n % flows as u64) as usize;
    let round = n / flows as u64;
    let kind = match round {
        0 => 0,
        r if r % 3 == 2 => 2,
        _ => 1,
    };
    (flow, kind)
}

fn truth_key(d: &FlowDesc, from_client: bool) -> TruthKey {
    let ip = |a: [u8; 16]| crate::flow::to_ip(if d.v6 { 6 } else { 4 }, a).to_string();
    let proto = if d.udp { 17 } else { 6 };
    let vlan = d.vlan.unwrap_or(0);
    if from_client {
        (
            ip(d.client),
            ip(d.server),
            proto,
            d.client_port,
            d.server_port,
            vlan,
        )
    } else {
        (
            ip(d.server),
            ip(d.client),
            proto,
            d.server_port,
            d.client_port,
            vlan,
        )
    }
}

pub fn run(args: &GenArgs) -> Result<GenReport, GenError> {
    let iface = Iface::lookup(&args.iface).ok_or_else(|| GenError::NoIface(args.iface.clone()))?;
    let send_err = |source| GenError::Send {
        iface: args.iface.clone(),
        source,
    };
    let sock = PacketSocket::new(false).map_err(|e| {
        if e.is_permission() {
            GenError::Capture(CaptureError::NoRawCapability(e))
        } else {
            send_err(e)
        }
    })?;
    sock.bind(iface.ifindex, false).map_err(send_err)?;
    if !args.through_qdisc {
        // If the bypass is refused the frames still go out, through the qdisc.
        let _ = sock.set_qdisc_bypass();
    }

    let flows = plan(args);
    let mut counts: Vec<[Sent; 2]> = vec![[Sent::default(); 2]; flows.len()];
    let start = Instant::now();
    let end = start + args.duration;
    let mut n: u64 = 0;
    let mut batch: Vec<(usize, usize)> = Vec::with_capacity(BATCH);
    let mut refs: Vec<&[u8]> = Vec::with_capacity(BATCH);
    let mut sendbuf = SendBuf::default();
    while n < args.packets && Instant::now() < end {
        if args.rate > 0 {
            let due = start + Duration::from_secs_f64(n as f64 / args.rate as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(Duration::from_millis(10)));
                continue;
            }
        }
        let room = if args.rate > 0 {
            // no bursts larger than a millisecond's worth
            (args.rate / 1000).clamp(1, BATCH as u64)
        } else {
            BATCH as u64
        };
        let take = room.min(args.packets - n) as usize;
        batch.clear();
        refs.clear();
        for k in 0..take as u64 {
            let (f, kind) = pick(n + k, flows.len());
            batch.push((f, kind));
            refs.push(&flows[f].frames[kind]);
        }
        let mut done = 0;
        while done < refs.len() {
            match sock.send_batch(&refs[done..], &mut sendbuf) {
                Ok(0) => std::thread::sleep(Duration::from_micros(50)),
                Ok(k) => done += k,
                Err(e) if matches!(e.errno(), Some(libc::ENOBUFS) | Some(libc::EAGAIN)) => {
                    std::thread::sleep(Duration::from_micros(50));
                }
                Err(e) => return Err(send_err(e)),
            }
            if Instant::now() >= end + Duration::from_secs(1) {
                break;
            }
        }
        for &(f, kind) in &batch[..done] {
            let c = &mut counts[f][usize::from(kind == 2)];
            c.packets += 1;
            c.bytes += flows[f].frames[kind].len() as u64;
        }
        n += done as u64;
    }
    let elapsed = start.elapsed();

    let mut report = GenReport {
        elapsed,
        ..GenReport::default()
    };
    for (ff, c) in flows.iter().zip(&counts) {
        for (dir, sent) in c.iter().enumerate() {
            if sent.packets > 0 {
                report.packets += sent.packets;
                report.bytes += sent.bytes;
                report.truth.insert(truth_key(&ff.desc, dir == 0), *sent);
            }
        }
    }
    if let Some(path) = &args.truth {
        write_truth(path, &report).map_err(|source| GenError::Truth {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(report)
}

fn write_truth(path: &std::path::Path, r: &GenReport) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "src,dst,proto,src_port,dst_port,vlan,packets,bytes")?;
    for ((src, dst, proto, sp, dp, vlan), s) in &r.truth {
        writeln!(
            f,
            "{src},{dst},{proto},{sp},{dp},{vlan},{},{}",
            s.packets, s.bytes
        )?;
    }
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flow_opens_first_then_two_to_one() {
        assert_eq!(pick(0, 3), (0, 0));
        assert_eq!(pick(2, 3), (2, 0));
        assert_eq!(pick(3, 3), (0, 1));
        assert_eq!(pick(6, 3), (0, 2));
        assert_eq!(pick(9, 3), (0, 1));
    }
}
