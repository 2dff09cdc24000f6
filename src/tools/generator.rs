//! `ringflow gen`: sends a synthetic traffic mix out of an interface with
//! batched `sendmmsg` on an AF_PACKET socket that bypasses the qdisc, at a
//! target rate or as fast as it can, bounded in packets and time, and
//! writes exactly what it sent per flow and direction.

use crate::capture::{CaptureError, Iface};
use crate::config::{GenArgs, MirrorSession};
use crate::sys::SysError;
use crate::sys::af_packet::{PacketSocket, SendBuf};
use crate::sys::bpf::{BPF_MAP_TYPE_ARRAY, Insn, Map, Program, insn, op};
use crate::tools::synth::tunnel::{Outer, Wrap};
use crate::tools::synth::{FlowDesc, Mix, Rng, tcp_flags};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::OnceLock;
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
/// `wire` is what goes out for each: the frames, or their mirrored
/// copies, each with the frame it counts in the truth (`None`: a second
/// copy of one).
struct FlowFrames {
    desc: FlowDesc,
    frames: [Vec<Vec<u8>>; 3],
    wire: [Vec<(Vec<u8>, Option<usize>)>; 3],
}

/// The tunnel a mirror session sends `frame` in.
fn session_wrap(kind: MirrorSession) -> Wrap {
    match kind {
        MirrorSession::Erspan2 => Wrap::ErspanII {
            vlan: 0,
            session: 1,
        },
        MirrorSession::Erspan3 => Wrap::ErspanIII {
            session: 1,
            subheader: true,
        },
        MirrorSession::Vxlan => Wrap::Vxlan { vni: 1, port: 4789 },
        MirrorSession::Geneve => Wrap::Geneve {
            vni: 1,
            option_words: 1,
        },
        MirrorSession::Gre => Wrap::GreTeb {
            key: Some(1),
            seq: None,
            checksum: false,
        },
    }
}

/// What goes out for `frames`: each as it is, or in the mirror session's
/// tunnel (and raw after it with `raw`).
fn on_the_wire(
    frames: &[Vec<u8>],
    session: Option<MirrorSession>,
    raw: bool,
    seq: &mut u32,
) -> Vec<(Vec<u8>, Option<usize>)> {
    let Some(kind) = session else {
        return frames
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, f)| (f, Some(i)))
            .collect();
    };
    // the switch and the monitor's capture port
    let mut src = [0u8; 16];
    let mut dst = [0u8; 16];
    src[..4].copy_from_slice(&[10, 213, 255, 1]);
    dst[..4].copy_from_slice(&[10, 213, 255, 2]);
    let outer = Outer {
        v6: false,
        src,
        dst,
        tags: &[],
        ttl: 64,
    };
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        *seq = seq.wrapping_add(1);
        out.push((outer.wrap(session_wrap(kind), f, *seq), Some(i)));
        if raw {
            out.push((f.clone(), None));
        }
    }
    out
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
    let mut seq = 0;
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
            let wire = [&a, &b, &c]
                .map(|f| on_the_wire(f, args.mirror_session, args.mirror_raw, &mut seq));
            FlowFrames {
                desc,
                frames: [a, b, c],
                wire,
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
    if args.zipf.is_some() && !args.xdp {
        return Err(GenError::Xdp(
            "--zipf shares the packets of --xdp: add --xdp".into(),
        ));
    }
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
        .flat_map(|f| f.wire.iter().map(Vec::len))
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
            let frames = &flows[f].wire[kind];
            if refs.len() + frames.len() > budget {
                break;
            }
            for (i, (frame, _)) in frames.iter().enumerate() {
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
            // the truth counts the frame a copy carries, once
            let Some(j) = flows[f].wire[kind][i].1 else {
                continue;
            };
            let c = &mut counts[f][usize::from(kind == 2)][usize::from(j > 0)];
            c.packets += 1;
            c.bytes += flows[f].frames[kind][j].len() as u64;
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

/// The frame the XDP sender starts from: IPv4/UDP from 10.0.0.0 to
/// 198.51.100.1, `size` bytes (at least 60). The program writes the flow
/// index into the last three bytes of the source address.
pub fn xdp_template(size: usize) -> Vec<u8> {
    let size = size.max(60);
    let udp = crate::tools::synth::udp(XDP_SPORT, XDP_DPORT, size - 42);
    let ip = crate::tools::synth::ipv4([10, 0, 0, 0], [198, 51, 100, 1], 17, (false, 0), &udp);
    crate::tools::synth::ethernet(&[], 0x0800, &ip)
}

const XDP_SPORT: u16 = 40000;
const XDP_DPORT: u16 = 5201;
/// Offsets in the template: the IPv4 checksum, the second byte of the
/// source address and its low half.
const XDP_CSUM_AT: i16 = 14 + 10;
const XDP_SRC_MID_AT: i16 = 14 + 13;
const XDP_SRC_LOW_AT: i16 = 14 + 14;

/// Most flows `ringflow gen --xdp` sends: the index fills 24 bits of the
/// source address.
pub const XDP_MAX_FLOWS: u32 = 16_000_000;

/// The source address of flow `i` of the XDP sender.
pub fn xdp_source(i: u32) -> [u8; 4] {
    [10, (i >> 16) as u8, (i >> 8) as u8, i as u8]
}

/// The state of `ringflow gen --xdp`'s program, the one value of its
/// array map, as u64 words at these offsets: the frames sent, when the
/// next is due (CLOCK_MONOTONIC ns), the interval between two (0: as fast
/// as it goes) and how many to send.
pub const XDP_SENT: i16 = 0;
pub const XDP_NEXT_NS: i16 = 8;
pub const XDP_INTERVAL_NS: i16 = 16;
pub const XDP_LIMIT: i16 = 24;
/// Bytes of that value.
pub const XDP_STATE_BYTES: u32 = 32;
/// How far a paced sender may fall behind and still catch up: frames it
/// could not send in time beyond these many intervals are let go (the
/// kernel ran something else on its core), so a catch-up is never a burst
/// of more than this.
pub const XDP_CATCH_UP: i32 = 32;

/// The XDP_TX program of `ringflow gen --xdp`, run again and again in one
/// BPF_PROG_RUN call: with its state (see [`XDP_SENT`]) in `state`, it
/// drops every run once `limit` frames are sent, and, when paced, every
/// run before the next frame is due (the kernel's clock, so frames leave
/// evenly spaced however the call is scheduled); else it sends run `n` as
/// flow `n % len`, or, with a `schedule` (an array map of `len` u32 flow
/// indices), as flow `schedule[n % len]`, writing the flow index into the
/// source address and fixing the IPv4 checksum from `sum`, the template
/// header's ones' complement sum. It writes absolute values, as live
/// frames may start from the template or from the last run's bytes.
pub fn xdp_tx_program(state_fd: i32, len: u32, schedule: Option<i32>, sum: u16) -> Vec<Insn> {
    // when paced: the clock against the next frame's time, which moves
    // on by an interval (from at most XDP_CATCH_UP intervals ago)
    let pace = [
        insn(op::CALL, 0, 0, 0, op::FUNC_KTIME_GET_NS), // r0 = now
        insn(op::LDX_DW, 2, 9, XDP_NEXT_NS, 0),         // r2 = next
        insn(op::JGT_REG, 2, 0, DROP, 0),               // not yet due: drop
        insn(op::LDX_DW, 3, 9, XDP_INTERVAL_NS, 0),     // r3 = interval
        insn(op::MOV_REG, 4, 3, 0, 0),                  //
        insn(op::MUL_IMM, 4, 0, 0, XDP_CATCH_UP),       //
        insn(op::MOV_REG, 5, 0, 0, 0),                  // r5 = now - that many
        insn(op::SUB_REG, 5, 4, 0, 0),                  //
        insn(op::JGT_REG, 2, 5, 1, 0),                  // next later: keep it
        insn(op::MOV_REG, 2, 5, 0, 0),                  // else let the rest go
        insn(op::ADD_REG, 2, 3, 0, 0),                  // next += interval
        insn(op::STX_DW, 9, 2, XDP_NEXT_NS, 0),         //
    ];
    let mut p = vec![
        insn(op::MOV_REG, 6, 1, 0, 0),                         // r6 = ctx
        insn(op::ST_W, 10, 0, -4, 0),                          // key = 0
        insn(op::MOV_REG, 2, 10, 0, 0),                        // r2 = &key
        insn(op::ADD_IMM, 2, 0, 0, -4),                        //
        insn(op::LD_IMM64, 1, op::PSEUDO_MAP_FD, 0, state_fd), // r1 = state
        insn(0, 0, 0, 0, 0),                                   //
        insn(op::CALL, 0, 0, 0, op::FUNC_MAP_LOOKUP_ELEM),     //
        insn(op::JEQ_IMM, 0, 0, DROP, 0),                      // no entry: drop
        insn(op::MOV_REG, 9, 0, 0, 0),                         // r9 = &state
        insn(op::LDX_DW, 7, 9, XDP_SENT, 0),                   // r7 = n
        insn(op::LDX_DW, 1, 9, XDP_LIMIT, 0),                  //
        insn(op::JGE_REG, 7, 1, DROP, 0),                      // all sent: drop
        insn(op::LDX_DW, 1, 9, XDP_INTERVAL_NS, 0),            //
        insn(op::JEQ_IMM, 1, 0, pace.len() as i16, 0),         // not paced
    ];
    p.extend(pace);
    p.extend([
        insn(op::MOV_REG, 8, 7, 0, 0),          //
        insn(op::ADD_IMM, 8, 0, 0, 1),          //
        insn(op::STX_DW, 9, 8, XDP_SENT, 0),    // n + 1 sent
        insn(op::MOD_IMM, 7, 0, 0, len as i32), // r7 = n % len
    ]);
    if let Some(fd) = schedule {
        p.extend([
            insn(op::STX_W, 10, 7, -8, 0),                   // key = r7
            insn(op::MOV_REG, 2, 10, 0, 0),                  // r2 = &key
            insn(op::ADD_IMM, 2, 0, 0, -8),                  //
            insn(op::LD_IMM64, 1, op::PSEUDO_MAP_FD, 0, fd), // r1 = schedule
            insn(0, 0, 0, 0, 0),                             //
            insn(op::CALL, 0, 0, 0, op::FUNC_MAP_LOOKUP_ELEM),
            insn(op::JEQ_IMM, 0, 0, DROP, 0), // no entry: drop
            insn(op::LDX_W, 7, 0, 0, 0),      // r7 = flow index
        ]);
    }
    p.extend([
        insn(op::LDX_W, 2, 6, 0, 0), // r2 = data
        insn(op::LDX_W, 3, 6, 4, 0), // r3 = data_end
        insn(op::MOV_REG, 4, 2, 0, 0),
        insn(op::ADD_IMM, 4, 0, 0, 42),
        insn(op::JGT_REG, 4, 3, DROP, 0), // shorter than 42 bytes: drop
        insn(op::MOV_REG, 5, 7, 0, 0),    // source address: index >> 16
        insn(op::RSH_IMM, 5, 0, 0, 16),
        insn(op::STX_B, 2, 5, XDP_SRC_MID_AT, 0),
        insn(op::MOV_REG, 5, 7, 0, 0), // then its low half
        insn(op::AND_IMM, 5, 0, 0, 0xffff),
        insn(op::TO_BE, 5, 0, 0, 16),
        insn(op::STX_H, 2, 5, XDP_SRC_LOW_AT, 0),
        insn(op::MOV_IMM, 5, 0, 0, i32::from(sum)), // r5 = sum + both parts
        insn(op::MOV_REG, 8, 7, 0, 0),
        insn(op::RSH_IMM, 8, 0, 0, 16),
        insn(op::ADD_REG, 5, 8, 0, 0),
        insn(op::MOV_REG, 8, 7, 0, 0),
        insn(op::AND_IMM, 8, 0, 0, 0xffff),
        insn(op::ADD_REG, 5, 8, 0, 0),
        insn(op::MOV_REG, 8, 5, 0, 0), // fold the carry, twice
        insn(op::RSH_IMM, 8, 0, 0, 16),
        insn(op::AND_IMM, 5, 0, 0, 0xffff),
        insn(op::ADD_REG, 5, 8, 0, 0),
        insn(op::MOV_REG, 8, 5, 0, 0),
        insn(op::RSH_IMM, 8, 0, 0, 16),
        insn(op::AND_IMM, 5, 0, 0, 0xffff),
        insn(op::ADD_REG, 5, 8, 0, 0),
        insn(op::XOR_IMM, 5, 0, 0, 0xffff), // checksum = !sum
        insn(op::TO_BE, 5, 0, 0, 16),
        insn(op::STX_H, 2, 5, XDP_CSUM_AT, 0),
        insn(op::MOV_IMM, 0, 0, 0, op::XDP_TX),
        insn(op::EXIT, 0, 0, 0, 0),
    ]);
    let drop_at = p.len();
    p.extend([
        insn(op::MOV_IMM, 0, 0, 0, op::XDP_DROP),
        insn(op::EXIT, 0, 0, 0, 0),
    ]);
    // the jumps to the drop, placed now that it is known where it is
    for (pc, i) in p.iter_mut().enumerate() {
        if i.off == DROP && matches!(i.code, op::JEQ_IMM | op::JGT_REG | op::JGE_REG) {
            i.off = (drop_at - pc - 1) as i16;
        }
    }
    p
}

/// A placeholder jump offset: to the drop at the end.
const DROP: i16 = i16::MAX;

/// The order the flows send in with `--zipf s`: every flow once, and about
/// three times as many packets again (as many, above 4M flows) shared by
/// weight `1 / rank^s`, shuffled (by `seed`) so the elephants are spread
/// over time. The program sends round after round of it.
pub fn zipf_schedule(flows: u32, s: f64, seed: u64) -> Vec<u32> {
    let n = flows as usize;
    let extra = if n > 4_000_000 { n } else { 3 * n } as f64;
    let h: f64 = (1..=n).map(|r| (r as f64).powf(-s)).sum();
    let mut out = Vec::with_capacity(n + extra as usize + n);
    for i in 0..flows {
        let share = (extra * f64::from(i + 1).powf(-s) / h).round() as usize;
        out.extend(std::iter::repeat_n(i, 1 + share));
    }
    let mut rng = crate::tools::synth::Rng::new(seed);
    for i in (1..out.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        out.swap(i, j);
    }
    out
}

/// What `n` packets give each of `flows` flows when they are sent round
/// after round of `order` (`None`: the flows in turn), the last round cut
/// short.
fn sent_per_flow(n: u64, flows: u32, order: Option<&[u32]>) -> Vec<u64> {
    let len = order.map_or(u64::from(flows), |o| o.len() as u64);
    let (rounds, rest) = (n / len, n % len);
    let mut c = vec![0u64; flows as usize];
    let mut send = |k: usize, i: u32| c[i as usize] += rounds + u64::from((k as u64) < rest);
    match order {
        Some(o) => o.iter().enumerate().for_each(|(k, &i)| send(k, i)),
        None => (0..flows).for_each(|i| send(i as usize, i)),
    }
    c
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
    if args.flows > XDP_MAX_FLOWS {
        return Err(GenError::Xdp(format!(
            "--xdp sends at most {XDP_MAX_FLOWS} flows"
        )));
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
    let state = Map::create(BPF_MAP_TYPE_ARRAY, 4, XDP_STATE_BYTES, 1, "ringflow_gen_n")
        .map_err(bpf_err)?;
    let schedule = args.zipf.map(|s| zipf_schedule(args.flows, s, args.seed));
    let schedule_map = match &schedule {
        Some(order) => {
            let m = Map::create(
                BPF_MAP_TYPE_ARRAY,
                4,
                4,
                order.len() as u32,
                "ringflow_gen_z",
            )
            .map_err(bpf_err)?;
            let keys: Vec<u32> = (0..order.len() as u32).collect();
            m.update_u32s(&keys, order).map_err(bpf_err)?;
            Some(m)
        }
        None => None,
    };
    let len = schedule.as_ref().map_or(args.flows, |o| o.len() as u32);
    let prog = Program::load_xdp(
        &xdp_tx_program(state.fd(), len, schedule_map.as_ref().map(Map::fd), !csum),
        "ringflow_gen",
    )
    .map_err(bpf_err)?;

    // One call sends them all: the program paces them by the kernel's
    // clock (dropping the runs in between), so a steady rate is steady
    // down to the microsecond, and the receive side's NAPI runs inline
    // on this core after every 64 runs.
    let interval_ns = match args.rate {
        0 => 0,
        r => (1_000_000_000 / r).max(1),
    };
    let start = Instant::now();
    let end = start + args.duration;
    let sent = || {
        let mut v = [0u8; XDP_STATE_BYTES as usize];
        match state.lookup(&0u32.to_ne_bytes(), &mut v) {
            Ok(()) => u64::from_ne_bytes(v[..8].try_into().unwrap_or([0; 8])),
            Err(_) => 0,
        }
    };
    let mut init = Vec::with_capacity(XDP_STATE_BYTES as usize);
    for w in [0, crate::sys::monotonic_ns(), interval_ns, args.packets] {
        init.extend_from_slice(&u64::to_ne_bytes(w));
    }
    state.update(&0u32.to_ne_bytes(), &init).map_err(bpf_err)?;
    // the time from the first frame to the last, as the watcher sees them
    // (to the millisecond): the call's own setup and end are not sending
    let (first, last) = (OnceLock::new(), OnceLock::new());
    prog.run_live_until(&frame, iface.ifindex, 64, &|| {
        let n = sent();
        if n > 0 {
            first.get_or_init(Instant::now);
        }
        if n >= args.packets {
            last.get_or_init(Instant::now);
            return true;
        }
        Instant::now() >= end
    })
    .map_err(bpf_err)?;
    let n = sent();
    let from = first.get().copied().unwrap_or(start);
    let to = last.get().copied().unwrap_or_else(Instant::now);
    // the first frame left up to an interval before the watcher saw it
    let elapsed = to.duration_since(from) + Duration::from_nanos(interval_ns);
    let mut report = GenReport {
        elapsed,
        packets: n,
        bytes: n * frame.len() as u64,
        ..GenReport::default()
    };
    let per_flow = sent_per_flow(n, args.flows, schedule.as_deref());
    for (i, &packets) in per_flow.iter().enumerate() {
        if packets == 0 {
            continue;
        }
        let [a, b, c, d] = xdp_source(i as u32);
        report.truth.insert(
            (
                format!("{a}.{b}.{c}.{d}"),
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
        let share = sent_per_flow(100, 7, None);
        let total: u64 = share.iter().sum();
        assert_eq!(total, 100);
        assert_eq!(share[0], 15);
        assert_eq!(share[1], 15);
        assert_eq!(share[2], 14);
        // a schedule: two rounds of [2, 0, 2], then its first slot
        assert_eq!(sent_per_flow(7, 3, Some(&[2, 0, 2])), [2, 0, 5]);
    }

    #[test]
    fn xdp_program_jumps_land_in_the_program() {
        for schedule in [None, Some(4)] {
            let p = xdp_tx_program(3, 10, schedule, 0x1234);
            let drop = p
                .iter()
                .position(|i| (i.code, i.regs, i.imm) == (op::MOV_IMM, 0, op::XDP_DROP))
                .unwrap();
            let mut to_drop = 0;
            for (pc, i) in p.iter().enumerate() {
                if matches!(i.code, op::JEQ_IMM | op::JGT_REG | op::JGE_REG) {
                    let target = pc as i64 + 1 + i64::from(i.off);
                    assert!((0..p.len() as i64).contains(&target), "jump at {pc}");
                    to_drop += usize::from(target == drop as i64);
                }
            }
            // no state, all sent, not due, too short, no schedule entry
            assert_eq!(to_drop, 4 + usize::from(schedule.is_some()));
            assert_eq!(p.iter().filter(|i| i.code == op::EXIT).count(), 2);
        }
    }

    #[test]
    fn zipf_schedule_has_every_flow_and_a_few_elephants() {
        let flows = 10_000;
        let order = zipf_schedule(flows, 1.0, 7);
        let mut c = vec![0u32; flows as usize];
        for &i in &order {
            c[i as usize] += 1;
        }
        assert!(c.iter().all(|&n| n >= 1), "every flow sends");
        // about four packets a flow, the heaviest by far ahead
        assert!((3 * flows as usize..5 * flows as usize).contains(&order.len()));
        assert!(
            c[0] > 1000 && c[0] + 2 >= 2 * c[1] && c[9999] <= 2,
            "{:?}",
            &c[..3]
        );
        // shuffled: the elephant is not all at the start
        assert!(order[..100].iter().filter(|&&i| i == 0).count() < 50);
        assert_eq!(zipf_schedule(flows, 1.0, 7), order, "the seed decides");
    }

    /// The program itself, run by the kernel without sending: run `n` is
    /// flow `n % flows` in the source address, with a valid IPv4 header
    /// checksum for every index (the counter is set to reach the carries).
    #[test]
    #[ignore = "loads BPF programs: needs root; run with --include-ignored"]
    fn program_writes_the_flow_and_a_valid_checksum() {
        let t = xdp_template(64);
        let sum = !u16::from_be_bytes([t[24], t[25]]);
        let counter = Map::create(BPF_MAP_TYPE_ARRAY, 4, XDP_STATE_BYTES, 1, "rf_test_n")
            .expect("an array map (root, or CAP_BPF)");
        let set = |m: &Map, words: [u64; 4]| {
            let v: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
            m.update(&0u32.to_ne_bytes(), &v).unwrap();
        };
        let get = |m: &Map| {
            let mut v = [0u8; XDP_STATE_BYTES as usize];
            m.lookup(&0u32.to_ne_bytes(), &mut v).unwrap();
            let w = |k: usize| u64::from_ne_bytes(v[8 * k..8 * k + 8].try_into().unwrap());
            [w(0), w(1), w(2), w(3)]
        };
        let flows = XDP_MAX_FLOWS;
        let prog = Program::load_xdp(
            &xdp_tx_program(counter.fd(), flows, None, sum),
            "rf_test_gen",
        )
        .expect("the verifier takes the program");
        for i in [
            0u32,
            1,
            255,
            256,
            4095,
            65_535,
            65_536,
            0x00ab_cdef,
            flows - 1,
        ] {
            set(&counter, [u64::from(i), 0, 0, u64::MAX]);
            let (ret, f) = prog.test_run(&t).unwrap();
            assert_eq!(ret, op::XDP_TX as u32);
            assert_eq!(f.len(), t.len());
            assert_eq!(f[26..30], xdp_source(i), "index {i}");
            assert_eq!(crate::tools::synth::checksum(&f[14..34]), 0, "index {i}");
            assert_eq!(f[..24], t[..24]);
            assert_eq!(f[30..], t[30..]);
        }
        // the counter wraps over the flows
        let (_, f) = prog.test_run(&t).unwrap();
        assert_eq!(f[26..30], [10, 0, 0, 0]);
        // a frame too short for the headers is dropped, not written
        let (ret, _) = prog.test_run(&t[..40]).unwrap();
        assert_eq!(ret, op::XDP_DROP as u32);
        // once the limit is sent, every run drops
        set(&counter, [7, 0, 0, 7]);
        assert_eq!(prog.test_run(&t).unwrap().0, op::XDP_DROP as u32);
        assert_eq!(get(&counter)[0], 7);
        // paced: before the next frame's time a run drops and sends
        // nothing; once it is due, it sends, and the next is an interval
        // later
        let now = crate::sys::monotonic_ns();
        let (hour, second) = (3_600_000_000_000u64, 1_000_000_000u64);
        set(&counter, [0, now + hour, second, u64::MAX]);
        assert_eq!(prog.test_run(&t).unwrap().0, op::XDP_DROP as u32);
        assert_eq!(get(&counter), [0, now + hour, second, u64::MAX]);
        set(&counter, [0, now, second, u64::MAX]);
        assert_eq!(prog.test_run(&t).unwrap().0, op::XDP_TX as u32);
        assert_eq!(get(&counter), [1, now + second, second, u64::MAX]);
        assert_eq!(prog.test_run(&t).unwrap().0, op::XDP_DROP as u32);
        // far behind (a thousand intervals of a millisecond: the clock
        // may be younger than an hour): the frames owed beyond
        // XDP_CATCH_UP intervals are let go, so the next is due at most
        // that long ago
        let ms = 1_000_000u64;
        set(&counter, [0, now - second, ms, u64::MAX]);
        assert_eq!(prog.test_run(&t).unwrap().0, op::XDP_TX as u32);
        let next = get(&counter)[1];
        let back = (XDP_CATCH_UP as u64 - 1) * ms;
        let after = crate::sys::monotonic_ns();
        assert!(next >= now - back && next <= after - back, "{next}");

        // with a schedule: run n sends the flow in its slot n % len
        let order = [5u32, 0x00ab_cdef, 5, 70_000];
        let sched = Map::create(BPF_MAP_TYPE_ARRAY, 4, 4, 4, "rf_test_z").unwrap();
        sched.update_u32s(&[0, 1, 2, 3], &order).unwrap();
        let prog = Program::load_xdp(
            &xdp_tx_program(counter.fd(), 4, Some(sched.fd()), sum),
            "rf_test_genz",
        )
        .expect("the verifier takes the program");
        set(&counter, [0, 0, 0, u64::MAX]);
        for n in 0..6 {
            let (ret, f) = prog.test_run(&t).unwrap();
            assert_eq!(ret, op::XDP_TX as u32);
            assert_eq!(f[26..30], xdp_source(order[n % 4]), "run {n}");
            assert_eq!(crate::tools::synth::checksum(&f[14..34]), 0, "run {n}");
        }
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
