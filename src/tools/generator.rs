//! `ringflow gen`: sends a synthetic traffic mix out of an interface with
//! batched `sendmmsg` on an AF_PACKET socket that bypasses the qdisc, at a
//! target rate or as fast as it can, bounded in packets and time, and
//! writes exactly what it sent per flow and direction.

use crate::capture::{CaptureError, Iface};
use crate::config::GenArgs;
use crate::sys::SysError;
use crate::sys::af_packet::{PacketSocket, SendBuf};
use crate::sys::bpf::{BPF_MAP_TYPE_ARRAY, Insn, Map, Program, insn, op};
use crate::tools::synth::{FlowDesc, Mix, Rng, tcp_flags};
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
    #[error("{0}")]
    Xdp(String),
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
/// and server data; each is one frame, or the fragments of one datagram.
struct FlowFrames {
    desc: FlowDesc,
    frames: [Vec<Vec<u8>>; 3],
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
    // A generator of its own, so that the same seed sends the same
    // conversations whatever --fragment-percent is.
    let mut fragmenting = Rng::new(args.seed ^ 0xf4a9_0000);
    mix.flow_descs()
        .into_iter()
        .enumerate()
        .map(|(i, desc)| {
            let size = if args.frame_size == 0 {
                IMIX[i % IMIX.len()]
            } else {
                args.frame_size
            };
            let fragmented = fragmenting.below(100) < u64::from(args.fragment_percent) && desc.udp;
            let frames = [
                (true, tcp_flags::SYN),
                (true, tcp_flags::PSH_ACK),
                (false, tcp_flags::PSH_ACK),
            ]
            .into_iter()
            .enumerate()
            .map(|(kind, (from_client, flags))| {
                if fragmented {
                    desc.fragments(from_client, size, (i * 3 + kind) as u32)
                } else {
                    vec![desc.frame(from_client, flags, size)]
                }
            });
            let [a, b, c]: [Vec<Vec<u8>>; 3] =
                frames.collect::<Vec<_>>().try_into().expect("three kinds");
            FlowFrames {
                desc,
                frames: [a, b, c],
            }
        })
        .collect()
}

/// Which flow datagram `n` belongs to and which of its frames it is: the
/// first round opens every flow; after that two client packets for one
/// server packet.
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

/// The truth row a frame of `d` counts in: a later fragment has no ports.
fn truth_key(d: &FlowDesc, from_client: bool, ports: bool) -> TruthKey {
    let ip = |a: [u8; 16]| crate::parse::to_ip(if d.v6 { 6 } else { 4 }, a).to_string();
    let proto = if d.udp { 17 } else { 6 };
    let vlan = d.vlan.unwrap_or(0);
    let (src, dst, sp, dp) = if from_client {
        (d.client, d.server, d.client_port, d.server_port)
    } else {
        (d.server, d.client, d.server_port, d.client_port)
    };
    let (sp, dp) = if ports { (sp, dp) } else { (0, 0) };
    (ip(src), ip(dst), proto, sp, dp, vlan)
}

pub fn run(args: &GenArgs) -> Result<GenReport, GenError> {
    let report = if args.xdp {
        run_xdp(args)?
    } else {
        run_sockets(args)?
    };
    if let Some(path) = &args.truth {
        write_truth(path, &report).map_err(|source| GenError::Truth {
            path: path.display().to_string(),
            source,
        })?;
    }
    Ok(report)
}

fn run_sockets(args: &GenArgs) -> Result<GenReport, GenError> {
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
    // Per flow and direction: frames with ports, and later fragments.
    let mut counts: Vec<[[Sent; 2]; 2]> = vec![Default::default(); flows.len()];
    // The fragments of one datagram go out in one batch.
    let most_frames = flows
        .iter()
        .flat_map(|f| f.frames.iter().map(Vec::len))
        .max()
        .unwrap_or(1) as u64;
    let start = Instant::now();
    let end = start + args.duration;
    // frames sent, and datagrams (a datagram is one frame or its fragments)
    let mut n: u64 = 0;
    let mut datagrams: u64 = 0;
    let mut batch: Vec<(usize, usize, usize)> = Vec::with_capacity(BATCH);
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
        let budget = room.max(most_frames).min(args.packets - n) as usize;
        batch.clear();
        refs.clear();
        let mut picked = 0;
        loop {
            let (f, kind) = pick(datagrams + picked, flows.len());
            let frames = &flows[f].frames[kind];
            if refs.len() + frames.len() > budget {
                break;
            }
            for (i, frame) in frames.iter().enumerate() {
                batch.push((f, kind, i));
                refs.push(frame);
            }
            picked += 1;
        }
        if refs.is_empty() {
            // the next datagram has more fragments than --packets leaves
            break;
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
        for &(f, kind, i) in &batch[..done] {
            let c = &mut counts[f][usize::from(kind == 2)][usize::from(i > 0)];
            c.packets += 1;
            c.bytes += flows[f].frames[kind][i].len() as u64;
        }
        n += done as u64;
        datagrams += picked;
    }
    let elapsed = start.elapsed();

    let mut report = GenReport {
        elapsed,
        ..GenReport::default()
    };
    for (ff, c) in flows.iter().zip(&counts) {
        for (dir, per_dir) in c.iter().enumerate() {
            for (later, sent) in per_dir.iter().enumerate() {
                if sent.packets > 0 {
                    report.packets += sent.packets;
                    report.bytes += sent.bytes;
                    report
                        .truth
                        .insert(truth_key(&ff.desc, dir == 0, later == 0), *sent);
                }
            }
        }
    }
    Ok(report)
}

/// The frame the XDP sender starts from: IPv4/UDP from 10.213.0.0 to
/// 198.51.100.1, `size` bytes (at least 60). The program writes the flow
/// index into the last two bytes of the source address.
pub fn xdp_template(size: usize) -> Vec<u8> {
    let size = size.max(60);
    let udp = crate::tools::synth::udp(XDP_SPORT, XDP_DPORT, size - 42);
    let ip = crate::tools::synth::ipv4([10, 213, 0, 0], [198, 51, 100, 1], 17, (false, 0), &udp);
    crate::tools::synth::ethernet(&[], 0x0800, &ip)
}

const XDP_SPORT: u16 = 40000;
const XDP_DPORT: u16 = 5201;
/// Offsets in the template: the IPv4 checksum and the low half of the
/// source address.
const XDP_CSUM_AT: i16 = 14 + 10;
const XDP_SRC_LOW_AT: i16 = 14 + 14;

/// The XDP_TX program of `ringflow gen --xdp`: counts its runs in
/// `counter` (an array map with one u64) and sends run `n` as flow
/// `n % flows`, writing the flow index into the source address and fixing
/// the IPv4 checksum from `sum`, the template header's ones' complement
/// sum. It writes absolute values, as live frames may start from the
/// template or from the last run's bytes.
pub fn xdp_tx_program(counter_fd: i32, flows: u32, sum: u16) -> Vec<Insn> {
    vec![
        insn(op::MOV_REG, 6, 1, 0, 0),                           // 0: r6 = ctx
        insn(op::ST_W, 10, 0, -4, 0),                            // 1: key = 0
        insn(op::MOV_REG, 2, 10, 0, 0),                          // 2: r2 = &key
        insn(op::ADD_IMM, 2, 0, 0, -4),                          // 3
        insn(op::LD_IMM64, 1, op::PSEUDO_MAP_FD, 0, counter_fd), // 4: r1 = counter
        insn(0, 0, 0, 0, 0),                                     // 5
        insn(op::CALL, 0, 0, 0, op::FUNC_MAP_LOOKUP_ELEM),       // 6
        insn(op::JEQ_IMM, 0, 0, 28, 0),                          // 7: no entry: drop (36)
        insn(op::LDX_DW, 7, 0, 0, 0),                            // 8: r7 = n
        insn(op::MOV_REG, 8, 7, 0, 0),                           // 9
        insn(op::ADD_IMM, 8, 0, 0, 1),                           // 10
        insn(op::STX_DW, 0, 8, 0, 0),                            // 11: counter = n + 1
        insn(op::MOD_IMM, 7, 0, 0, flows as i32),                // 12: r7 = flow index
        insn(op::LDX_W, 2, 6, 0, 0),                             // 13: r2 = data
        insn(op::LDX_W, 3, 6, 4, 0),                             // 14: r3 = data_end
        insn(op::MOV_REG, 4, 2, 0, 0),                           // 15
        insn(op::ADD_IMM, 4, 0, 0, 42),                          // 16
        insn(op::JGT_REG, 4, 3, 18, 0), // 17: shorter than 42 bytes: drop (36)
        insn(op::MOV_REG, 5, 7, 0, 0),  // 18
        insn(op::TO_BE, 5, 0, 0, 16),   // 19
        insn(op::STX_H, 2, 5, XDP_SRC_LOW_AT, 0), // 20: source address low half
        insn(op::MOV_IMM, 5, 0, 0, i32::from(sum)), // 21: r5 = sum + index
        insn(op::ADD_REG, 5, 7, 0, 0),  // 22
        insn(op::MOV_REG, 8, 5, 0, 0),  // 23: fold the carry, twice
        insn(op::RSH_IMM, 8, 0, 0, 16), // 24
        insn(op::AND_IMM, 5, 0, 0, 0xffff), // 25
        insn(op::ADD_REG, 5, 8, 0, 0),  // 26
        insn(op::MOV_REG, 8, 5, 0, 0),  // 27
        insn(op::RSH_IMM, 8, 0, 0, 16), // 28
        insn(op::AND_IMM, 5, 0, 0, 0xffff), // 29
        insn(op::ADD_REG, 5, 8, 0, 0),  // 30
        insn(op::XOR_IMM, 5, 0, 0, 0xffff), // 31: checksum = !sum
        insn(op::TO_BE, 5, 0, 0, 16),   // 32
        insn(op::STX_H, 2, 5, XDP_CSUM_AT, 0), // 33
        insn(op::MOV_IMM, 0, 0, 0, op::XDP_TX), // 34
        insn(op::EXIT, 0, 0, 0, 0),     // 35
        insn(op::MOV_IMM, 0, 0, 0, op::XDP_DROP), // 36
        insn(op::EXIT, 0, 0, 0, 0),     // 37
    ]
}

/// What `n` packets round-robin over `flows` give each flow.
fn xdp_share(n: u64, flows: u32, i: u32) -> u64 {
    n / u64::from(flows) + u64::from(u64::from(i) < n % u64::from(flows))
}

/// `ringflow gen --xdp`: the kernel sends the frames itself, from an
/// XDP_TX program run with BPF_PROG_RUN and live frames on the interface.
fn run_xdp(args: &GenArgs) -> Result<GenReport, GenError> {
    let iface = Iface::lookup(&args.iface).ok_or_else(|| GenError::NoIface(args.iface.clone()))?;
    let bpf_err = |source: SysError| {
        if source.is_permission() {
            GenError::Capture(CaptureError::NoXdpCapability(source))
        } else {
            GenError::Send {
                iface: args.iface.clone(),
                source,
            }
        }
    };
    if args.flows > 65_536 {
        return Err(GenError::Xdp("--xdp sends at most 65536 flows".into()));
    }
    if args.fragment_percent > 0 {
        return Err(GenError::Xdp(
            "--xdp sends whole IPv4/UDP frames only: leave out --fragment-percent".into(),
        ));
    }
    let size = if args.frame_size == 0 {
        64
    } else {
        args.frame_size
    };
    if !(60..=1514).contains(&size) {
        return Err(GenError::Xdp(format!(
            "--xdp sends frames of 60 to 1514 bytes, not {size}"
        )));
    }
    let frame = xdp_template(size);
    let csum = u16::from_be_bytes([frame[24], frame[25]]);
    let counter = Map::create(BPF_MAP_TYPE_ARRAY, 4, 8, 1, "ringflow_gen_n").map_err(bpf_err)?;
    let prog = Program::load_xdp(
        &xdp_tx_program(counter.fd(), args.flows, !csum),
        "ringflow_gen",
    )
    .map_err(bpf_err)?;

    let start = Instant::now();
    let end = start + args.duration;
    let mut n: u64 = 0;
    while n < args.packets && Instant::now() < end {
        let chunk = if args.rate > 0 {
            let due = start + Duration::from_secs_f64(n as f64 / args.rate as f64);
            let now = Instant::now();
            if due > now {
                std::thread::sleep((due - now).min(Duration::from_millis(10)));
                continue;
            }
            // A call costs the kernel's setup and teardown of its page
            // pool, milliseconds whatever it sends: pace by bursts of
            // 25 ms worth, at most 2048 frames (a quarter of the default
            // AF_XDP RX ring).
            (args.rate / 40).clamp(1, 2048)
        } else {
            // tens of milliseconds of sending per call, so the duration is kept
            1 << 18
        };
        let take = chunk.min(args.packets - n) as u32;
        prog.run_live(&frame, iface.ifindex, take, 64)
            .map_err(bpf_err)?;
        n += u64::from(take);
    }
    let elapsed = start.elapsed();
    let mut report = GenReport {
        elapsed,
        packets: n,
        bytes: n * frame.len() as u64,
        ..GenReport::default()
    };
    for i in 0..args.flows.min(n.min(u64::from(u32::MAX)) as u32) {
        let packets = xdp_share(n, args.flows, i);
        report.truth.insert(
            (
                format!("10.213.{}.{}", i >> 8, i & 0xff),
                "198.51.100.1".into(),
                17,
                XDP_SPORT,
                XDP_DPORT,
                0,
            ),
            Sent {
                packets,
                bytes: packets * frame.len() as u64,
            },
        );
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
    fn xdp_truth_shares_packets_round_robin() {
        let total: u64 = (0..7).map(|i| xdp_share(100, 7, i)).sum();
        assert_eq!(total, 100);
        assert_eq!(xdp_share(100, 7, 0), 15);
        assert_eq!(xdp_share(100, 7, 1), 15);
        assert_eq!(xdp_share(100, 7, 2), 14);
    }

    #[test]
    fn xdp_program_jumps_land_on_the_drop() {
        let p = xdp_tx_program(3, 10, 0x1234);
        for (pc, i) in p.iter().enumerate() {
            if i.code == op::JEQ_IMM || i.code == op::JGT_REG {
                let target = pc as i64 + 1 + i64::from(i.off);
                assert_eq!(p[target as usize].imm, op::XDP_DROP, "jump at {pc}");
            }
        }
        assert_eq!(p.iter().filter(|i| i.code == op::EXIT).count(), 2);
    }

    /// The program itself, run by the kernel without sending: run `n` is
    /// flow `n % flows` in the source address, with a valid IPv4 header
    /// checksum for every index (the counter is set to reach the carries).
    #[test]
    fn program_writes_the_flow_and_a_valid_checksum() {
        let t = xdp_template(64);
        let sum = !u16::from_be_bytes([t[24], t[25]]);
        let counter = match Map::create(BPF_MAP_TYPE_ARRAY, 4, 8, 1, "rf_test_n") {
            Ok(m) => m,
            Err(e) => {
                eprintln!("skipping: loading BPF programs needs root ({e})");
                return;
            }
        };
        let prog = Program::load_xdp(&xdp_tx_program(counter.fd(), 65_536, sum), "rf_test_gen")
            .expect("the verifier takes the program");
        for i in [0u32, 1, 255, 256, 4095, 65_535] {
            counter
                .update(&0u32.to_ne_bytes(), &u64::from(i).to_ne_bytes())
                .unwrap();
            let (ret, f) = prog.test_run(&t).unwrap();
            assert_eq!(ret, op::XDP_TX as u32);
            assert_eq!(f.len(), t.len());
            assert_eq!(f[28..30], (i as u16).to_be_bytes(), "index {i}");
            assert_eq!(crate::tools::synth::checksum(&f[14..34]), 0, "index {i}");
            assert_eq!(f[..24], t[..24]);
            assert_eq!(f[30..], t[30..]);
        }
        // the counter wraps over the flows
        let (_, f) = prog.test_run(&t).unwrap();
        assert_eq!(f[28..30], [0, 0]);
        // a frame too short for the headers is dropped, not written
        let (ret, _) = prog.test_run(&t[..40]).unwrap();
        assert_eq!(ret, op::XDP_DROP as u32);
    }

    #[test]
    fn every_flow_opens_first_then_two_to_one() {
        assert_eq!(pick(0, 3), (0, 0));
        assert_eq!(pick(2, 3), (2, 0));
        assert_eq!(pick(3, 3), (0, 1));
        assert_eq!(pick(6, 3), (0, 2));
        assert_eq!(pick(9, 3), (0, 1));
    }
}
