//! AF_XDP capture: an XSKMAP and a redirect-by-RX-queue XDP program,
//! assembled here and attached with a BPF link, and one AF_XDP socket per
//! captured queue. The link closes with the process, so the program never
//! outlives ringflow, even after SIGKILL. And the loop a worker runs over
//! its sockets.

use super::cbpf::Filter;
use super::stats::SocketCounters;
use super::{CaptureError, Frame, FrameSink, Iface};
use crate::config::{XdpBind, XdpMode};
use crate::parse::LinkType;
use crate::sys::bpf::{self, Insn, Link, Map, Program, insn, op};
use crate::sys::xdp::{BindMode, XdpStats, XskParams, XskSocket};
use crate::sys::{self, SysError, netlink};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Settings of every AF_XDP socket.
#[derive(Debug, Clone)]
pub struct XdpConfig {
    pub params: XskParams,
    pub mode: XdpMode,
    pub bind: XdpBind,
    /// Busy polling: (microseconds, budget).
    pub busy_poll: Option<(u32, u32)>,
    /// The longest nap, if shorter than the ring's (see [`Waiter`]): with
    /// `--dedup`, half its window, as a round's frames share one
    /// timestamp.
    pub max_nap: Option<Duration>,
}

/// The attach mode that took effect, for logs and `ringflow_capture_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attached {
    Native,
    Skb,
}

impl Attached {
    pub fn label(self) -> &'static str {
        match self {
            Attached::Native => "native",
            Attached::Skb => "skb",
        }
    }
}

pub fn bind_label(b: BindMode) -> &'static str {
    match b {
        BindMode::ZeroCopy => "zero-copy",
        BindMode::Copy => "copy",
    }
}

/// Offset of `rx_queue_index` in `struct xdp_md`.
const XDP_MD_RX_QUEUE_INDEX: i16 = 16;

/// The XDP program: redirect every frame to the socket registered in
/// `xskmap` for the queue it arrived on; a queue without a socket passes
/// its frames to the kernel stack (the low bits of `bpf_redirect_map`'s
/// flags are the action when the lookup fails).
///
/// ```text
/// r2 = *(u32 *)(r1 + rx_queue_index)
/// r1 = xskmap                       ; ld_imm64, pseudo map fd
/// r3 = XDP_PASS
/// call bpf_redirect_map
/// exit
/// ```
pub fn redirect_program(xskmap_fd: i32) -> Vec<Insn> {
    vec![
        insn(op::LDX_W, 2, 1, XDP_MD_RX_QUEUE_INDEX, 0),
        insn(op::LD_IMM64, 1, op::PSEUDO_MAP_FD, 0, xskmap_fd),
        insn(0, 0, 0, 0, 0),
        insn(op::MOV_IMM, 3, 0, 0, op::XDP_PASS),
        insn(op::CALL, 0, 0, 0, op::FUNC_REDIRECT_MAP),
        insn(op::EXIT, 0, 0, 0, 0),
    ]
}

/// Why AF_XDP on `iface` would take traffic away from the host, if it
/// would: an address (other than IPv6 link-local), the default route, or
/// membership of a bridge or bond.
pub fn steal_reason(iface: &str, default_route_iface: Option<&str>) -> Option<String> {
    let addrs: Vec<IpAddr> = netlink::addresses(iface)
        .into_iter()
        .filter(|a| !matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
        .collect();
    if let Some(a) = addrs.first() {
        return Some(format!("it has the address {a}"));
    }
    if default_route_iface == Some(iface) {
        return Some("the default route goes through it".into());
    }
    let master = std::fs::read_link(format!("/sys/class/net/{iface}/master")).ok()?;
    let m = master.file_name()?.to_string_lossy().into_owned();
    Some(format!("it is a member of {m} (a bridge or bond)"))
}

/// The map and program on one interface, attached while this lives.
pub struct Attachment {
    map: Map,
    _program: Program,
    _link: Link,
    pub mode: Attached,
}

fn sock_err(iface: &Iface) -> impl Fn(SysError) -> CaptureError + '_ {
    |source| {
        if source.is_permission() {
            CaptureError::NoXdpCapability(source)
        } else {
            CaptureError::Socket {
                iface: iface.name.clone(),
                source,
            }
        }
    }
}

impl Attachment {
    /// Creates an XSKMAP for `queues` queue ids and attaches the redirect
    /// program to `iface`.
    pub fn attach(iface: &Iface, queues: u32, mode: XdpMode) -> Result<Attachment, CaptureError> {
        let err = sock_err(iface);
        let map = Map::create(
            bpf::BPF_MAP_TYPE_XSKMAP,
            4,
            4,
            queues.max(1),
            "ringflow_xsks",
        )
        .map_err(&err)?;
        let program =
            Program::load_xdp(&redirect_program(map.fd()), "ringflow_redir").map_err(&err)?;
        let try_attach = |m: Attached| {
            let flags = match m {
                Attached::Native => bpf::XDP_FLAGS_DRV_MODE,
                Attached::Skb => bpf::XDP_FLAGS_SKB_MODE,
            };
            program.attach_xdp(iface.ifindex, flags)
        };
        let attempt = match mode {
            XdpMode::Native => try_attach(Attached::Native).map(|l| (l, Attached::Native)),
            XdpMode::Skb => try_attach(Attached::Skb).map(|l| (l, Attached::Skb)),
            XdpMode::Auto => match try_attach(Attached::Native) {
                Ok(l) => Ok((l, Attached::Native)),
                Err(e) if matches!(e.errno(), Some(libc::EBUSY) | Some(libc::EEXIST)) => Err(e),
                Err(_) => try_attach(Attached::Skb).map(|l| (l, Attached::Skb)),
            },
        };
        match attempt {
            Ok((link, mode)) => Ok(Attachment {
                map,
                _program: program,
                _link: link,
                mode,
            }),
            Err(e) if matches!(e.errno(), Some(libc::EBUSY) | Some(libc::EEXIST)) => {
                let which = match netlink::xdp_program_id(iface.ifindex) {
                    Some(id) => match bpf::program_name(id) {
                        Some(name) if !name.is_empty() => format!("program '{name}' (id {id})"),
                        _ => format!("program id {id}"),
                    },
                    None => "another program".into(),
                };
                Err(CaptureError::XdpBusy {
                    iface: iface.name.clone(),
                    which,
                })
            }
            Err(e) if mode == XdpMode::Native && e.errno() == Some(libc::EOPNOTSUPP) => {
                Err(CaptureError::XdpNoNative {
                    iface: iface.name.clone(),
                })
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Sends the frames of `queue` to `sock`.
    pub fn register(&self, queue: u32, sock: &XskSocket) -> Result<(), SysError> {
        self.map
            .update(&queue.to_ne_bytes(), &(sock.fd() as u32).to_ne_bytes())
    }
}

/// An interface's attachment, shared by the workers that capture its
/// queues: when the interface is deleted and created again (a new
/// ifindex), the first worker to find it back attaches the program and
/// map again (and promiscuous mode), and each registers its own socket.
pub struct SharedAttachment {
    entries: u32,
    mode: XdpMode,
    promisc: bool,
    state: std::sync::Mutex<AttachedTo>,
}

struct AttachedTo {
    ifindex: u32,
    attachment: Option<Attachment>,
    /// The packet socket holding promiscuous mode, if asked for.
    promisc: Option<sys::af_packet::PacketSocket>,
}

impl SharedAttachment {
    /// Attaches to `iface` for queue ids below `entries`, with promiscuous
    /// mode if `promisc`.
    pub fn attach(
        iface: &Iface,
        entries: u32,
        mode: XdpMode,
        promisc: bool,
    ) -> Result<(std::sync::Arc<SharedAttachment>, Attached), CaptureError> {
        let shared = SharedAttachment {
            entries,
            mode,
            promisc,
            state: std::sync::Mutex::new(AttachedTo {
                ifindex: 0,
                attachment: None,
                promisc: None,
            }),
        };
        let attached = shared.attach_to(iface)?;
        Ok((std::sync::Arc::new(shared), attached))
    }

    /// Attaches to `iface` unless already attached to this ifindex; the
    /// attachment to an earlier one (gone) is dropped first.
    fn attach_to(&self, iface: &Iface) -> Result<Attached, CaptureError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.ifindex == iface.ifindex
            && let Some(a) = &st.attachment
        {
            return Ok(a.mode);
        }
        st.attachment = None;
        st.promisc = None;
        let a = Attachment::attach(iface, self.entries, self.mode)?;
        let mode = a.mode;
        st.attachment = Some(a);
        if self.promisc {
            st.promisc = Some(super::af_packet::hold_promiscuous(iface)?);
        }
        st.ifindex = iface.ifindex;
        Ok(mode)
    }

    /// Sends the frames of `queue` to `sock`.
    pub fn register(&self, queue: u32, sock: &XskSocket) -> Result<(), SysError> {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match &st.attachment {
            Some(a) => a.register(queue, sock),
            None => Err(SysError {
                call: "register (no XDP attachment)",
                source: std::io::Error::from_raw_os_error(libc::ENODEV),
            }),
        }
    }
}

/// Opens and binds the socket of one queue; with `XdpBind::Auto` zero-copy
/// is tried first.
pub fn open_socket(
    iface: &Iface,
    queue: u32,
    cfg: &XdpConfig,
) -> Result<(XskSocket, BindMode), CaptureError> {
    let err = sock_err(iface);
    let open = |m| XskSocket::open(iface.ifindex, queue, &cfg.params, m);
    let (sock, bind) = match cfg.bind {
        XdpBind::ZeroCopy => (open(BindMode::ZeroCopy).map_err(&err)?, BindMode::ZeroCopy),
        XdpBind::Copy => (open(BindMode::Copy).map_err(&err)?, BindMode::Copy),
        XdpBind::Auto => match open(BindMode::ZeroCopy) {
            Ok(s) => (s, BindMode::ZeroCopy),
            Err(e) if e.is_permission() => return Err(err(e)),
            Err(_) => (open(BindMode::Copy).map_err(&err)?, BindMode::Copy),
        },
    };
    if let Some((usecs, budget)) = cfg.busy_poll {
        sock.set_busy_poll(usecs, budget).map_err(&err)?;
    }
    Ok((sock, bind))
}

/// How an AF_XDP reader waits once its rings are empty: by time, as
/// TPACKET_V3's block timeout does for AF_PACKET. While frames come, it
/// naps and comes back to a batch, instead of being woken by poll() for
/// every few frames the driver delivers (two context switches each: an
/// evenly paced 100 kpps woke the reader for nearly every packet, a
/// quarter of a core). The nap lasts what a quarter of the RX ring takes
/// at the rate the reader last saw, at least [`MIN_NAP`] and at most the
/// time the ring takes to fill at [`FASTEST`] (2 ms for the default 8192
/// entries): so a wake-up finds a batch worth it, no ring fills while the
/// reader naps unless the rate jumps past what one core reads, and nothing
/// the reader does between batches (a hand-over, a refresh) waits longer
/// than that. A queue that may burst faster than [`FASTEST`] after a
/// moderate rate wants a larger ring (`--xdp-ring-size`): the nap grows
/// with it, and so does what it can hold. In copy mode a round's frames
/// share one timestamp, so with `--dedup` a nap lasts at most half its
/// window ([`Waiter::cap`]), or a frame and its copy taken in two rounds
/// would be further apart than the window.
/// A nap that found nothing means the link went quiet: the reader then
/// blocks in poll(). ringflow's workers and the bench ceiling
/// (`bench/xdp_drop.rs`) wait the same way.
#[derive(Debug)]
pub struct Waiter {
    /// Frames taken since the reader last waited.
    taken: u32,
    /// When it last began a nap or came back from poll(): the frames
    /// taken since came in that time.
    since: Instant,
    /// The longest nap, from the smallest RX ring it reads.
    max_nap: Duration,
    /// A quarter of that ring: the batch a nap aims at.
    aim: u32,
}

/// Frames a second at which a nap of the longest length fills the ring:
/// more than one worker reads from a ring (2.2 to 4.7 Mpps here,
/// `bench/live.sh`). Each wake-up costs a virtual machine tens of
/// microseconds: at 8 Mpps (1 ms naps) a paced 250 kpps took 5.6 % of a
/// core, at 4 Mpps (2 ms) 3.9 %.
pub const FASTEST: u64 = 4_000_000;
/// The shortest nap: below it a sleep costs more than it saves.
pub const MIN_NAP: Duration = Duration::from_micros(50);

impl Waiter {
    /// A waiter for sockets whose smallest RX ring has `ring` entries.
    pub fn new(ring: u32) -> Waiter {
        let fill_ns = u64::from(ring) * 1_000_000_000 / FASTEST;
        Waiter {
            taken: 0,
            since: Instant::now(),
            max_nap: Duration::from_nanos(fill_ns).max(MIN_NAP),
            aim: (ring / 4).max(1),
        }
    }

    /// Naps no longer than `cap` (at least [`MIN_NAP`]).
    pub fn cap(&mut self, cap: Duration) {
        self.max_nap = self.max_nap.min(cap).max(MIN_NAP);
    }

    pub fn took(&mut self, frames: u32) {
        self.taken = self.taken.saturating_add(frames);
    }

    /// How long to nap after taking `taken` frames in `elapsed`.
    pub fn nap(&self, taken: u32, elapsed: Duration) -> Duration {
        let ns = elapsed.as_nanos() as u64 * u64::from(self.aim) / u64::from(taken.max(1));
        Duration::from_nanos(ns).clamp(MIN_NAP, self.max_nap)
    }

    /// Called when a round found nothing. True: block in poll() now;
    /// false: the reader napped and should look again.
    pub fn idle(&mut self) -> bool {
        let taken = std::mem::take(&mut self.taken);
        if taken == 0 {
            return true;
        }
        let nap = self.nap(taken, self.since.elapsed());
        // the next nap's rate counts this one's time
        self.since = Instant::now();
        std::thread::sleep(nap);
        false
    }

    /// The reader came back from poll().
    pub fn woke(&mut self) {
        self.since = Instant::now();
    }
}

/// One AF_XDP socket of a worker.
pub struct QueueSocket {
    pub iface: String,
    /// The interface's number among the capture interfaces.
    pub iface_number: u8,
    /// The capture interfaces' indexes by number, for flow export.
    pub indexes: Arc<Vec<std::sync::atomic::AtomicU32>>,
    pub queue: u32,
    pub cfg: XdpConfig,
    pub attachment: std::sync::Arc<SharedAttachment>,
    /// The interface index the socket is bound to.
    pub ifindex: u32,
    pub sock: XskSocket,
    pub filter: Option<Filter>,
    pub counters: Arc<SocketCounters>,
    /// Frames accepted since the counters were last updated.
    pub packets: u64,
    /// The kernel's counters when last read.
    pub last: XdpStats,
}

impl QueueSocket {
    /// If the interface exists again: attach (once per interface), open
    /// and register a new socket for this queue. `Ok(false)`: not back
    /// yet.
    fn reopen(&mut self) -> Result<bool, CaptureError> {
        let Some(iface) = Iface::lookup(&self.iface) else {
            return Ok(false);
        };
        self.attachment.attach_to(&iface)?;
        let (sock, _) = open_socket(&iface, self.queue, &self.cfg)?;
        self.attachment
            .register(self.queue, &sock)
            .map_err(|source| CaptureError::Socket {
                iface: iface.name.clone(),
                source,
            })?;
        // the counts so far stay; the new socket's statistics start at 0
        self.take_stats();
        self.sock = sock;
        super::new_index(
            &self.indexes,
            self.iface_number,
            self.ifindex,
            iface.ifindex,
        );
        self.ifindex = iface.ifindex;
        self.last = XdpStats::default();
        Ok(true)
    }

    /// [`reopen`](Self::reopen), said in the log: when the queue is
    /// captured again, and the first failure of a run of them (`said`).
    fn come_back(&mut self, said: &mut bool) -> bool {
        match self.reopen() {
            Ok(true) => {
                crate::log!(
                    "ringflow: interface {} is back; capturing queue {} again",
                    self.iface,
                    self.queue
                );
                true
            }
            Ok(false) => false,
            Err(e) => {
                if !*said {
                    *said = true;
                    crate::log!("ringflow: {e}; trying again");
                }
                false
            }
        }
    }

    fn take_stats(&mut self) {
        self.counters.add(std::mem::take(&mut self.packets), 0, 0);
        if let Ok(now) = self.sock.stats() {
            let d = |a: u64, b: u64| a.saturating_sub(b);
            self.counters.add_xdp_drops([
                d(now.rx_dropped, self.last.rx_dropped),
                d(now.rx_invalid_descs, self.last.rx_invalid_descs),
                d(now.rx_ring_full, self.last.rx_ring_full),
                d(
                    now.rx_fill_ring_empty_descs,
                    self.last.rx_fill_ring_empty_descs,
                ),
            ]);
            self.last = now;
        }
    }
}

/// Frames taken from one RX ring at a time.
pub const BATCH: u32 = 256;

/// Once stopped, a worker reads on for this long after it first found its
/// rings empty, and stops at the next empty round after: frames the kernel
/// was still handing over when the stop came are counted, and a busy link
/// does not keep it from stopping.
const DRAIN: Duration = Duration::from_millis(20);

/// A worker's capture loop over its AF_XDP sockets: takes up to
/// [`BATCH`] frames from each RX ring, runs the filter in user space,
/// returns the frames to the fill ring at once, naps or polls when the
/// rings are empty (see [`Waiter`]), reads the socket's counters once a
/// second, and once `stop` is raised reads on for [`DRAIN`] and stops when
/// the rings are empty.
pub fn capture_loop<S: FrameSink>(mut w: S, mut queues: Vec<QueueSocket>, stop: &AtomicBool) {
    let mut pollset = sys::PollSet::default();
    let mut fds: Vec<_> = queues.iter().map(|s| s.sock.fd()).collect();
    let mut next_check = Instant::now() + Duration::from_secs(1);
    // per queue: None while captured; Some(said) while its interface is
    // gone, `said` once a failed attempt to capture it again was logged
    let mut gone: Vec<Option<bool>> = vec![None; queues.len()];
    let ring = queues
        .iter()
        .map(|q| q.cfg.params.rx_size)
        .min()
        .unwrap_or(1);
    let mut waiter = Waiter::new(ring);
    let mut drained_at: Option<Instant> = None;
    if let Some(cap) = queues.iter().filter_map(|q| q.cfg.max_nap).min() {
        waiter.cap(cap);
    }
    loop {
        let mut got = 0;
        // one clock read per round: frames carry no timestamp in copy mode
        let ts_ns = crate::utc::steady_unix_ns();
        for s in queues.iter_mut() {
            let batch = s.sock.receive(BATCH);
            if batch.is_empty() {
                continue;
            }
            got += batch.len();
            waiter.took(batch.len());
            let mut accepted = 0u64;
            let filter = s.filter.as_ref();
            w.process_batch(
                batch
                    .frames()
                    .filter(|f| filter.is_none_or(|flt| flt.accepts(f, f.len() as u32)))
                    .map(|f| {
                        accepted += 1;
                        Frame {
                            link: LinkType::Ethernet,
                            data: f,
                            orig_len: f.len() as u32,
                            ts_ns,
                            vlan: 0,
                            iface: s.iface_number,
                            gso_size: 0,
                        }
                    }),
            );
            drop(batch);
            s.packets += accepted;
            if s.sock.needs_wakeup() {
                s.sock.wakeup();
            }
        }
        if got == 0 {
            for s in queues.iter() {
                if s.sock.needs_wakeup() {
                    s.sock.wakeup();
                }
            }
            if stop.load(Ordering::Relaxed) {
                // The rings are empty; frames the kernel holds still (in
                // a driver's or veth's queue, not yet copied to a ring,
                // which the wake-up above lets it go on with) come within
                // a moment: read on for DRAIN.
                let now = Instant::now();
                let d = *drained_at.get_or_insert(now + DRAIN);
                if now >= d {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if !waiter.idle() {
                w.idle();
                continue;
            }
            let polled = pollset.wait(&fds, 50);
            waiter.woke();
            if polled.is_ok() {
                let mut reopened = false;
                for (s, g) in queues.iter_mut().zip(&mut gone) {
                    if let Some(said) = g
                        && s.come_back(said)
                    {
                        *g = None;
                        reopened = true;
                    }
                }
                if reopened {
                    fds = queues.iter().map(|s| s.sock.fd()).collect();
                }
                if gone.iter().all(Option::is_some) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            w.idle();
        }
        let now = Instant::now();
        if now >= next_check {
            next_check = now + Duration::from_secs(1);
            for (s, g) in queues.iter_mut().zip(&mut gone) {
                s.take_stats();
                // An unbound socket polls as idle, not as failed: the
                // interface is gone when its name no longer leads to the
                // index the socket is bound to (deleted, or created anew).
                if g.is_none() && sys::ifindex(&s.iface) != Some(s.ifindex) {
                    *g = Some(false);
                    crate::log!(
                        "ringflow: interface {} disappeared; capturing it again when it comes back",
                        s.iface
                    );
                }
            }
        }
    }
    for s in queues.iter_mut() {
        s.take_stats();
    }
    drop(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_reads_the_queue_and_redirects_through_the_map() {
        let p = redirect_program(7);
        assert_eq!(p.len(), 6);
        // r2 = ctx->rx_queue_index
        assert_eq!((p[0].code, p[0].regs, p[0].off), (0x61, 0x12, 16));
        // r1 = map fd 7 as a pseudo map load, two slots
        assert_eq!((p[1].code, p[1].regs, p[1].imm), (0x18, 0x11, 7));
        assert_eq!(p[2], insn(0, 0, 0, 0, 0));
        // r3 = XDP_PASS for queues without a socket
        assert_eq!((p[3].code, p[3].regs, p[3].imm), (0xb7, 0x03, 2));
        assert_eq!((p[4].code, p[4].imm), (0x85, 51));
        assert_eq!(p[5].code, 0x95);
    }

    #[test]
    fn a_nap_aims_at_a_quarter_of_the_ring_within_its_bounds() {
        let w = Waiter::new(8192);
        let ms = Duration::from_millis(1);
        // 8192 entries fill in 2.048 ms at 4 Mpps: the longest nap
        let longest = Duration::from_micros(2048);
        assert_eq!(w.nap(1, ms), longest);
        // 100 frames in 1 ms (100 kpps): a quarter ring is 20 ms away
        assert_eq!(w.nap(100, ms), longest);
        // 1024 frames in 1 ms (1 Mpps): a quarter ring is 2 ms away
        assert_eq!(w.nap(1024, ms), 2 * ms);
        // 2048 frames in 1 ms (2 Mpps): 1 ms away
        assert_eq!(w.nap(2048, ms), ms);
        // 4096 frames in 1 ms (4 Mpps): half of that
        assert_eq!(w.nap(4096, ms), ms / 2);
        // never below the shortest
        assert_eq!(w.nap(1 << 20, ms), MIN_NAP);
        // a small ring naps shorter: 2048 entries fill in 512 us at 4 Mpps
        assert_eq!(Waiter::new(2048).nap(1, ms), Duration::from_micros(512));
        // and --dedup's cap (half its window) shorter still
        let mut w = Waiter::new(8192);
        w.cap(ms / 2);
        assert_eq!(w.nap(1, ms), ms / 2);
    }

    #[test]
    fn a_quiet_reader_blocks_and_a_busy_one_naps() {
        let mut w = Waiter::new(64);
        assert!(w.idle(), "nothing taken: block in poll()");
        w.took(10);
        assert!(!w.idle(), "frames came: nap, look again");
        assert!(w.idle(), "the nap found nothing: block");
    }

    #[test]
    fn loopback_is_never_a_capture_port() {
        let why = steal_reason("lo", None).unwrap();
        assert!(why.contains("127.0.0.1") || why.contains("::1"), "{why}");
    }
}
