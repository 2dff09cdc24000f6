//! The IPFIX exporter (RFC 7011): a thread that takes the flow records the
//! collector cuts ([`crate::collector::export`]), encodes them with two
//! data templates (IPv4 and IPv6) and an options template of its own
//! counts, and sends them to every collector given, over UDP or TCP.
//!
//! Per collector and observation domain it keeps the sequence number (the
//! data records sent before each message, as RFC 7011 counts it), and
//! over UDP resends the templates and its counts every
//! `--ipfix-template-refresh` and at least every [`TEMPLATE_EVERY`]
//! messages; over TCP they open each connection. It never blocks the
//! collector: a full queue, a full socket buffer, a collector that cannot
//! be resolved or reached are counted ([`ExportCounts`]) and said once,
//! and the exporter tries again.

use crate::collector::RecordBatch;
use crate::collector::export::{CollectorCounts, ExportCounts, FlowRecord};
use crate::config::export::{Destination, IpfixSettings, Transport};
use crate::parse::PortKind;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// The IPFIX version number.
const VERSION: u16 = 10;
/// Message header bytes.
#[cfg(test)]
const HEADER: usize = 16;
/// Set header bytes.
const SET_HEADER: usize = 4;
/// Template set and options template set ids.
const TEMPLATE_SET: u16 = 2;
const OPTIONS_TEMPLATE_SET: u16 = 3;
/// Template ids.
pub const TEMPLATE_V4: u16 = 256;
pub const TEMPLATE_V6: u16 = 257;
pub const TEMPLATE_STATS: u16 = 258;
/// Over UDP, templates go again after this many messages at most.
pub const TEMPLATE_EVERY: u32 = 4096;
/// How often an unresolved or unreachable collector is tried again.
const RETRY: Duration = Duration::from_secs(10);
/// What a TCP connection may hold unwritten before messages are dropped.
const TCP_BUFFER: usize = 4 << 20;

/// Information elements (RFC 7012 numbers) and their lengths.
const IE_OCTETS: u16 = 1;
const IE_PACKETS: u16 = 2;
const IE_PROTOCOL: u16 = 4;
const IE_TCP_FLAGS: u16 = 6;
const IE_SRC_PORT: u16 = 7;
const IE_SRC_V4: u16 = 8;
const IE_INGRESS: u16 = 10;
const IE_DST_PORT: u16 = 11;
const IE_DST_V4: u16 = 12;
const IE_SRC_V6: u16 = 27;
const IE_DST_V6: u16 = 28;
const IE_ICMP_V4: u16 = 32;
const IE_EXPORTED_OCTETS: u16 = 40;
const IE_EXPORTED_MESSAGES: u16 = 41;
const IE_EXPORTED_RECORDS: u16 = 42;
const IE_SRC_MAC: u16 = 56;
const IE_VLAN: u16 = 58;
const IE_DST_MAC: u16 = 80;
const IE_END_REASON: u16 = 136;
const IE_ICMP_V6: u16 = 139;
const IE_DOMAIN: u16 = 149;
const IE_START_MS: u16 = 152;
const IE_END_MS: u16 = 153;
const IE_IGNORED_PACKETS: u16 = 164;
const IE_IGNORED_OCTETS: u16 = 165;
const IE_NOT_SENT_RECORDS: u16 = 166;
const IE_L2_OCTETS: u16 = 352;

/// The fields of a flow record after its addresses and ICMP type-code
/// element, in order, with their lengths.
const FLOW_TAIL: [(u16, u16); 14] = [
    (IE_PROTOCOL, 1),
    (IE_SRC_PORT, 2),
    (IE_DST_PORT, 2),
    (IE_VLAN, 2),
    (IE_PACKETS, 8),
    (IE_OCTETS, 8),
    (IE_L2_OCTETS, 8),
    (IE_START_MS, 8),
    (IE_END_MS, 8),
    (IE_TCP_FLAGS, 2),
    (IE_INGRESS, 4),
    (IE_END_REASON, 1),
    (IE_SRC_MAC, 6),
    (IE_DST_MAC, 6),
];

/// The options record of the exporter's counts: scope, then fields.
const STATS_FIELDS: [(u16, u16); 7] = [
    (IE_DOMAIN, 4),
    (IE_EXPORTED_MESSAGES, 8),
    (IE_EXPORTED_RECORDS, 8),
    (IE_EXPORTED_OCTETS, 8),
    (IE_NOT_SENT_RECORDS, 8),
    (IE_IGNORED_PACKETS, 8),
    (IE_IGNORED_OCTETS, 8),
];

/// The fields of the IPv4 or IPv6 template.
fn flow_fields(v6: bool) -> Vec<(u16, u16)> {
    let mut f = if v6 {
        vec![(IE_SRC_V6, 16), (IE_DST_V6, 16), (IE_ICMP_V6, 2)]
    } else {
        vec![(IE_SRC_V4, 4), (IE_DST_V4, 4), (IE_ICMP_V4, 2)]
    };
    f.extend(FLOW_TAIL);
    f
}

fn record_len(fields: &[(u16, u16)]) -> usize {
    fields.iter().map(|&(_, l)| usize::from(l)).sum()
}

/// Bytes of an IPv4 flow record (76) and an IPv6 one (100).
pub fn flow_record_len(v6: bool) -> usize {
    record_len(&flow_fields(v6))
}

/// The exporter's counts for one observation domain, as its options
/// record carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainStats {
    pub messages: u64,
    pub records: u64,
    pub octets: u64,
    pub not_sent: u64,
    pub ignored_packets: u64,
    pub ignored_octets: u64,
}

/// Builds IPFIX messages of at most `max` bytes for one observation
/// domain of one collector.
pub struct Encoder {
    max: usize,
    buf: Vec<u8>,
    /// The set being filled: its template id and where its header is.
    set: Option<(u16, usize)>,
    records: usize,
}

impl Encoder {
    /// An encoder of messages that fit IP packets of `mtu` bytes (with
    /// the IPv6 and UDP headers, the larger).
    pub fn new(mtu: usize) -> Encoder {
        let max = mtu.saturating_sub(48).clamp(256, 65_535 - 48);
        Encoder {
            max,
            buf: Vec::with_capacity(max),
            set: None,
            records: 0,
        }
    }

    /// The largest message.
    pub fn max_len(&self) -> usize {
        self.max
    }

    fn start(&mut self, domain: u32, seq: u32, export_s: u32) {
        self.buf.clear();
        self.buf.extend_from_slice(&VERSION.to_be_bytes());
        self.buf.extend_from_slice(&0u16.to_be_bytes());
        self.buf.extend_from_slice(&export_s.to_be_bytes());
        self.buf.extend_from_slice(&seq.to_be_bytes());
        self.buf.extend_from_slice(&domain.to_be_bytes());
        self.set = None;
        self.records = 0;
    }

    fn close_set(&mut self) {
        if let Some((_, at)) = self.set.take() {
            let len = (self.buf.len() - at) as u16;
            self.buf[at + 2..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    fn open_set(&mut self, id: u16) {
        if self.set.is_some_and(|(s, _)| s == id) {
            return;
        }
        self.close_set();
        self.set = Some((id, self.buf.len()));
        self.buf.extend_from_slice(&id.to_be_bytes());
        self.buf.extend_from_slice(&0u16.to_be_bytes());
    }

    /// Ends the message: its length goes into the header.
    fn finish(&mut self) -> &[u8] {
        self.close_set();
        let len = self.buf.len() as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
        &self.buf
    }

    /// The message of the templates (IPv4, IPv6, the options template of
    /// the counts) and the counts of `domain` (one data record).
    pub fn templates(
        &mut self,
        domain: u32,
        seq: u32,
        export_s: u32,
        stats: &DomainStats,
    ) -> &[u8] {
        self.start(domain, seq, export_s);
        self.open_set(TEMPLATE_SET);
        for (id, v6) in [(TEMPLATE_V4, false), (TEMPLATE_V6, true)] {
            let fields = flow_fields(v6);
            self.buf.extend_from_slice(&id.to_be_bytes());
            self.buf
                .extend_from_slice(&(fields.len() as u16).to_be_bytes());
            for (ie, len) in fields {
                self.buf.extend_from_slice(&ie.to_be_bytes());
                self.buf.extend_from_slice(&len.to_be_bytes());
            }
        }
        self.open_set(OPTIONS_TEMPLATE_SET);
        self.buf.extend_from_slice(&TEMPLATE_STATS.to_be_bytes());
        self.buf
            .extend_from_slice(&(STATS_FIELDS.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(&1u16.to_be_bytes());
        for (ie, len) in STATS_FIELDS {
            self.buf.extend_from_slice(&ie.to_be_bytes());
            self.buf.extend_from_slice(&len.to_be_bytes());
        }
        self.put_stats(domain, stats);
        self.finish()
    }

    /// The message of the counts of `domain` alone (one data record of
    /// the options template), for a stream that has the templates.
    pub fn stats(&mut self, domain: u32, seq: u32, export_s: u32, stats: &DomainStats) -> &[u8] {
        self.start(domain, seq, export_s);
        self.put_stats(domain, stats);
        self.finish()
    }

    fn put_stats(&mut self, domain: u32, stats: &DomainStats) {
        self.open_set(TEMPLATE_STATS);
        self.buf.extend_from_slice(&domain.to_be_bytes());
        for v in [
            stats.messages,
            stats.records,
            stats.octets,
            stats.not_sent,
            stats.ignored_packets,
            stats.ignored_octets,
        ] {
            self.buf.extend_from_slice(&v.to_be_bytes());
        }
        self.records = 1;
    }

    /// Encodes `records` (all of `domain`) into messages, from sequence
    /// number `seq` on, handing each to `send` with the number of records
    /// in it. Returns the records encoded.
    pub fn data<F: FnMut(&[u8], usize)>(
        &mut self,
        domain: u32,
        mut seq: u32,
        export_s: u32,
        records: &[FlowRecord],
        mut send: F,
    ) -> usize {
        let mut open = false;
        for r in records {
            let v6 = r.key.version() == 6;
            let (id, len) = if v6 {
                (TEMPLATE_V6, 100)
            } else {
                (TEMPLATE_V4, 76)
            };
            let set_cost = if self.set.is_some_and(|(s, _)| s == id) {
                0
            } else {
                SET_HEADER
            };
            if open && self.buf.len() + set_cost + len > self.max {
                let n = self.records;
                send(self.finish(), n);
                seq = seq.wrapping_add(n as u32);
                open = false;
            }
            if !open {
                self.start(domain, seq, export_s);
                open = true;
            }
            self.open_set(id);
            self.put(r, v6);
            self.records += 1;
        }
        if open {
            let n = self.records;
            send(self.finish(), n);
        }
        records.len()
    }

    #[inline]
    fn put(&mut self, r: &FlowRecord, v6: bool) {
        let k = &r.key;
        let b = &mut self.buf;
        if v6 {
            b.extend_from_slice(&k.src());
            b.extend_from_slice(&k.dst());
        } else {
            b.extend_from_slice(&k.src()[..4]);
            b.extend_from_slice(&k.dst()[..4]);
        }
        let (sport, dport, icmp) = match k.port_kind() {
            PortKind::Icmp => (0, 0, k.src_port() << 8 | k.dst_port() & 0xff),
            PortKind::Ports => (k.src_port(), k.dst_port(), 0),
            PortKind::None => (0, 0, 0),
        };
        b.extend_from_slice(&icmp.to_be_bytes());
        b.push(k.proto());
        b.extend_from_slice(&sport.to_be_bytes());
        b.extend_from_slice(&dport.to_be_bytes());
        b.extend_from_slice(&k.vlan().to_be_bytes());
        b.extend_from_slice(&r.packets.to_be_bytes());
        b.extend_from_slice(&r.ip_bytes.to_be_bytes());
        b.extend_from_slice(&r.frame_bytes.to_be_bytes());
        b.extend_from_slice(&r.start_ms.to_be_bytes());
        b.extend_from_slice(&r.end_ms.to_be_bytes());
        b.extend_from_slice(&u16::from(r.tcp_flags).to_be_bytes());
        b.extend_from_slice(&r.observation.ifindex.to_be_bytes());
        b.push(r.reason as u8);
        b.extend_from_slice(&r.macs[6..12]);
        b.extend_from_slice(&r.macs[..6]);
    }
}

/// Per observation domain of one collector.
#[derive(Default)]
struct Domain {
    seq: u32,
    /// When the templates went last (None: not on this connection yet).
    templates_at: Option<Instant>,
    since_templates: u32,
    stats: DomainStats,
}

enum Conn {
    /// Not resolved or not reached: tried again at the instant.
    Down(Instant),
    Udp(UdpSocket),
    /// A TCP connection, what it has not written yet, and per message in
    /// it, its bytes and records.
    Tcp(TcpStream, Vec<u8>, VecDeque<(usize, usize)>),
}

/// One collector.
struct Collector<'a> {
    dest: Destination,
    counts: &'a CollectorCounts,
    conn: Conn,
    /// The latest failure said (said once until it changes).
    said: Option<String>,
    /// Whether a refused datagram was said (once for the run).
    refused_said: bool,
    domains: HashMap<u32, Domain>,
    refresh: Duration,
    /// How long a collector that is down waits before the next try.
    retry: Duration,
    /// The messages of a chunk, and their lengths and records.
    scratch: Vec<u8>,
    lengths: Vec<(usize, usize)>,
}

impl Collector<'_> {
    fn label(&self) -> String {
        self.dest.label()
    }

    fn down(&mut self, why: String) {
        if self.said.as_deref() != Some(why.as_str()) {
            crate::log!(
                "ringflow: IPFIX collector {}: {why}; its records are counted as not exported, trying again every {} s",
                self.label(),
                self.retry.as_secs_f64()
            );
            self.said = Some(why);
        }
        if let Conn::Tcp(_, _, queued) = &self.conn {
            let lost: usize = queued.iter().map(|&(_, n)| n).sum();
            self.counts.unreachable.fetch_add(lost as u64, Relaxed);
        }
        self.conn = Conn::Down(Instant::now() + self.retry);
        self.counts.up.store(false, Relaxed);
        // a new transport session starts its templates and sequence again
        if self.dest.transport == Transport::Tcp {
            self.domains.clear();
        }
    }

    /// Resolves and (TCP) connects, when down and due.
    fn connect(&mut self) {
        let Conn::Down(at) = self.conn else {
            return;
        };
        if Instant::now() < at {
            return;
        }
        let addr: Option<SocketAddr> =
            match (self.dest.host.as_str(), self.dest.port).to_socket_addrs() {
                Ok(mut a) => a.next(),
                Err(e) => {
                    self.down(format!("cannot resolve {}: {e}", self.dest.host));
                    return;
                }
            };
        let Some(addr) = addr else {
            self.down(format!("{} has no address", self.dest.host));
            return;
        };
        let opened = match self.dest.transport {
            Transport::Udp => {
                let local: SocketAddr = if addr.is_ipv4() {
                    "0.0.0.0:0".parse().expect("an address")
                } else {
                    "[::]:0".parse().expect("an address")
                };
                UdpSocket::bind(local)
                    .and_then(|s| s.connect(addr).map(|()| s))
                    .and_then(|s| s.set_nonblocking(true).map(|()| s))
                    .map(Conn::Udp)
            }
            Transport::Tcp => TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .and_then(|s| s.set_nonblocking(true).map(|()| s))
                .and_then(|s| s.set_nodelay(true).map(|()| s))
                .map(|s| Conn::Tcp(s, Vec::new(), VecDeque::new())),
        };
        match opened {
            Ok(c) => {
                self.conn = c;
                self.counts.up.store(true, Relaxed);
                if self.said.take().is_some() {
                    crate::log!(
                        "ringflow: IPFIX collector {}: exporting again",
                        self.label()
                    );
                }
            }
            Err(e) => self.down(format!("cannot reach {addr}: {e}")),
        }
    }

    /// Sends one message of `n` flow records and counts what became of
    /// it.
    fn send(&mut self, msg: &[u8], n: usize, domain: u32) {
        /// What became of a message.
        enum Fate {
            /// Handed to the kernel (UDP).
            Sent,
            /// Waiting in the connection's buffer (TCP).
            Queued,
            /// The socket's buffer was full.
            Dropped,
            /// An ICMP port unreachable came back for an earlier datagram.
            Refused,
            /// The collector is down, or went down with this message.
            Lost(Option<std::io::Error>),
        }
        let fate = match &mut self.conn {
            Conn::Down(_) => Fate::Lost(None),
            Conn::Udp(s) => match s.send(msg) {
                Ok(_) => Fate::Sent,
                Err(e)
                    if e.kind() == ErrorKind::WouldBlock
                        || e.raw_os_error() == Some(libc::ENOBUFS) =>
                {
                    Fate::Dropped
                }
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => Fate::Refused,
                Err(e) => Fate::Lost(Some(e)),
            },
            Conn::Tcp(_, out, queued) if out.len() + msg.len() <= TCP_BUFFER => {
                out.extend_from_slice(msg);
                queued.push_back((msg.len(), n));
                Fate::Queued
            }
            Conn::Tcp(..) => Fate::Dropped,
        };
        let (c, n64) = (self.counts, n as u64);
        let d = self.domains.entry(domain).or_default();
        d.since_templates += 1;
        match &fate {
            Fate::Sent | Fate::Queued => {
                d.stats.messages += 1;
                d.stats.records += n64;
                d.stats.octets += msg.len() as u64;
            }
            Fate::Dropped => {
                c.dropped.fetch_add(n64, Relaxed);
                d.stats.not_sent += n64;
            }
            Fate::Refused | Fate::Lost(_) => {
                c.unreachable.fetch_add(n64, Relaxed);
                d.stats.not_sent += n64;
            }
        }
        match fate {
            Fate::Sent => {
                // a TCP message counts as sent once written (write_out)
                c.up.store(true, Relaxed);
                c.sent.fetch_add(n64, Relaxed);
                c.messages.fetch_add(1, Relaxed);
            }
            Fate::Queued => {
                self.write_out();
            }
            Fate::Refused => {
                // nobody listens there now; the socket stays, and the next
                // datagram goes out
                c.up.store(false, Relaxed);
                if !self.refused_said {
                    self.refused_said = true;
                    crate::log!(
                        "ringflow: IPFIX collector {}: nobody listens (ICMP port unreachable); records refused are counted as not exported",
                        self.dest.label()
                    );
                }
            }
            Fate::Lost(Some(e)) => self.down(e.to_string()),
            Fate::Dropped | Fate::Lost(None) => {}
        }
    }

    /// Writes what a TCP connection holds, as far as it takes it.
    fn write_out(&mut self) -> bool {
        let Conn::Tcp(s, out, queued) = &mut self.conn else {
            return true;
        };
        let mut written = 0;
        let mut failed = None;
        while written < out.len() {
            match s.write(&out[written..]) {
                Ok(0) => {
                    failed = Some("the connection closed".to_string());
                    break;
                }
                Ok(k) => written += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        out.drain(..written);
        // the messages now written whole are sent
        let mut left = written;
        let mut done = Vec::new();
        while let Some(&(len, n)) = queued.front() {
            if len > left {
                if let Some(front) = queued.front_mut() {
                    front.0 -= left;
                }
                break;
            }
            left -= len;
            done.push(n);
            queued.pop_front();
        }
        for n in done {
            self.counts.sent.fetch_add(n as u64, Relaxed);
            self.counts.messages.fetch_add(1, Relaxed);
        }
        if let Some(why) = failed {
            self.down(why);
            return false;
        }
        true
    }

    /// Sends the templates of `domain` if they are due, or at once if
    /// `last` (the exporter's last counts before it stops; over TCP, whose
    /// templates open the connection only, the options record alone).
    fn templates_if_due(
        &mut self,
        enc: &mut Encoder,
        domain: u32,
        ignored: (u64, u64),
        last: bool,
    ) {
        if matches!(self.conn, Conn::Down(_)) {
            return;
        }
        let tcp = self.dest.transport == Transport::Tcp;
        let refresh = self.refresh;
        let d = self.domains.entry(domain).or_default();
        let due = match d.templates_at {
            None => true,
            Some(_) if tcp => false,
            Some(at) => {
                at.elapsed() >= refresh || d.since_templates + TEMPLATE_SLACK >= TEMPLATE_EVERY
            }
        };
        if !due && !last {
            return;
        }
        // over TCP the templates open the connection only
        let templates = due || !tcp;
        (d.stats.ignored_packets, d.stats.ignored_octets) = ignored;
        let (seq, stats) = (d.seq, d.stats);
        // the options record is a data record: it counts in the sequence
        d.seq = d.seq.wrapping_add(1);
        let export_s = unix_seconds();
        let msg = if templates {
            d.templates_at = Some(Instant::now());
            enc.templates(domain, seq, export_s, &stats)
        } else {
            enc.stats(domain, seq, export_s, &stats)
        }
        .to_vec();
        self.send(&msg, 0, domain);
        if templates && let Some(d) = self.domains.get_mut(&domain) {
            d.since_templates = 0;
        }
    }

    /// Exports `records` (all of observation domain `domain`), in chunks
    /// small enough that the templates go again in time.
    fn export(
        &mut self,
        enc: &mut Encoder,
        domain: u32,
        records: &[FlowRecord],
        ignored: (u64, u64),
    ) {
        self.connect();
        for chunk in records.chunks(CHUNK) {
            if matches!(self.conn, Conn::Down(_)) {
                self.counts
                    .unreachable
                    .fetch_add(chunk.len() as u64, Relaxed);
                let d = self.domains.entry(domain).or_default();
                d.stats.not_sent += chunk.len() as u64;
                continue;
            }
            self.templates_if_due(enc, domain, ignored, false);
            let seq = self.domains.entry(domain).or_default().seq;
            // the chunk's messages, one after another, then sent
            let mut bytes = std::mem::take(&mut self.scratch);
            let mut messages = std::mem::take(&mut self.lengths);
            bytes.clear();
            messages.clear();
            enc.data(domain, seq, unix_seconds(), chunk, |m, n| {
                bytes.extend_from_slice(m);
                messages.push((m.len(), n));
            });
            let mut at = 0;
            for &(len, n) in &messages {
                if let Some(d) = self.domains.get_mut(&domain) {
                    d.seq = d.seq.wrapping_add(n as u32);
                }
                self.send(&bytes[at..at + len], n, domain);
                at += len;
            }
            self.scratch = bytes;
            self.lengths = messages;
        }
    }
}

/// Records encoded between two checks of whether the templates are due:
/// at most 52 messages (5 records fit the smallest MTU), so checking
/// [`TEMPLATE_SLACK`] messages early keeps them within
/// [`TEMPLATE_EVERY`].
const CHUNK: usize = 256;
const TEMPLATE_SLACK: u32 = 64;

fn unix_seconds() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32)
}

/// Starts the exporter thread: it exports every batch `rx` brings to the
/// collectors of `settings`, counting in `counts` (made by
/// [`crate::collector::CollectorLoop::flow_records`] for the same
/// collectors, in order), and ends when the collector has sent its last
/// batch, after writing what it holds (at most 5 s more).
pub fn start(
    settings: &IpfixSettings,
    rx: Receiver<RecordBatch>,
    counts: Arc<ExportCounts>,
) -> std::io::Result<JoinHandle<()>> {
    let settings = settings.clone();
    std::thread::Builder::new()
        .name("ringflow-ipfix".into())
        .spawn(move || run(&settings, &rx, &counts, RETRY))
}

fn run(
    settings: &IpfixSettings,
    rx: &Receiver<RecordBatch>,
    counts: &ExportCounts,
    retry: Duration,
) {
    let mut collectors: Vec<Collector> = settings
        .destinations
        .iter()
        .zip(&counts.collectors)
        .map(|(d, c)| Collector {
            dest: d.clone(),
            counts: c,
            conn: Conn::Down(Instant::now()),
            said: None,
            refused_said: false,
            domains: HashMap::new(),
            refresh: settings.template_refresh,
            retry,
            scratch: Vec::new(),
            lengths: Vec::new(),
        })
        .collect();
    let mut enc = Encoder::new(settings.mtu);
    // packets that found a table full: in no flow, said in every
    // domain's options record (the tables hold every interface's flows)
    let mut ignored = (0, 0);
    for c in &mut collectors {
        c.connect();
    }
    loop {
        match rx.recv_timeout(retry.min(Duration::from_secs(1))) {
            Ok(mut batch) => {
                ignored = batch.overflow;
                batch
                    .records
                    .sort_by_key(|r| (r.observation.domain, r.key.version()));
                for group in batch
                    .records
                    .chunk_by(|a, b| a.observation.domain == b.observation.domain)
                {
                    let domain = group[0].observation.domain;
                    for c in &mut collectors {
                        c.export(&mut enc, domain, group, ignored);
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                for c in &mut collectors {
                    c.connect();
                    c.write_out();
                    let domains: Vec<u32> = c.domains.keys().copied().collect();
                    for d in domains {
                        c.templates_if_due(&mut enc, d, ignored, false);
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // the last counts, so a collector knows what it missed; then what TCP
    // connections hold goes out, for at most 5 s
    for c in &mut collectors {
        let mut domains: Vec<u32> = c.domains.keys().copied().collect();
        domains.sort_unstable();
        for d in domains {
            c.templates_if_due(&mut enc, d, ignored, true);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for c in &mut collectors {
        while let Conn::Tcp(_, out, _) = &c.conn {
            if out.is_empty() || Instant::now() >= deadline {
                break;
            }
            if !c.write_out() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Conn::Tcp(s, out, queued) = &c.conn {
            let lost: usize = queued.iter().map(|&(_, n)| n).sum();
            if !out.is_empty() {
                c.counts.unreachable.fetch_add(lost as u64, Relaxed);
            }
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::export::{EndReason, Observation};
    use crate::config::export::IpfixArgs;
    use crate::flow::FlowKey;

    fn record(v6: bool, i: u32) -> FlowRecord {
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        if v6 {
            src[0] = 0x20;
            src[12..].copy_from_slice(&i.to_be_bytes());
            dst[0] = 0x20;
            dst[15] = 9;
        } else {
            src[..4].copy_from_slice(&(0x0a00_0000 | i).to_be_bytes());
            dst[..4].copy_from_slice(&[192, 0, 2, 9]);
        }
        FlowRecord {
            key: FlowKey::new(
                if v6 { 6 } else { 4 },
                src,
                dst,
                6,
                PortKind::Ports,
                40000,
                443,
                7,
            ),
            packets: u64::from(i) + 1,
            ip_bytes: 40 * (u64::from(i) + 1),
            frame_bytes: 64 * (u64::from(i) + 1),
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_001_000,
            tcp_flags: 0x1b,
            reason: EndReason::Idle,
            observation: Observation {
                domain: 3,
                ifindex: 5,
            },
            macs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        }
    }

    /// `n` IPv4 records, with `overflow` packets and bytes in no record.
    fn batch(n: u32, overflow: (u64, u64)) -> RecordBatch {
        RecordBatch {
            records: (0..n).map(|i| record(false, i)).collect(),
            overflow,
        }
    }

    /// The exporter thread for the one collector `args` names, retrying
    /// after `retry`: where batches go, its counts, the thread.
    fn exporter(
        args: IpfixArgs,
        retry: Duration,
    ) -> (
        crossbeam_channel::Sender<RecordBatch>,
        Arc<ExportCounts>,
        JoinHandle<()>,
    ) {
        let settings = args.settings().unwrap().unwrap();
        let counts = Arc::new(ExportCounts::new(&[settings.destinations[0].label()]));
        let (tx, queue) = crossbeam_channel::bounded(64);
        let c2 = counts.clone();
        let t = std::thread::spawn(move || run(&settings, &queue, &c2, retry));
        (tx, counts, t)
    }

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn record_lengths_match_the_templates() {
        assert_eq!(flow_record_len(false), 76);
        assert_eq!(flow_record_len(true), 100);
        let mut enc = Encoder::new(1400);
        let mut got = Vec::new();
        enc.data(3, 0, 0, &[record(false, 0), record(true, 1)], |m, n| {
            got.push((m.to_vec(), n))
        });
        assert_eq!(got.len(), 1);
        let (m, n) = &got[0];
        assert_eq!(*n, 2);
        // header, an IPv4 set of one record, an IPv6 set of one record
        assert_eq!(m.len(), HEADER + SET_HEADER + 76 + SET_HEADER + 100);
        assert_eq!(u16_at(m, 0), 10);
        assert_eq!(usize::from(u16_at(m, 2)), m.len());
        assert_eq!(u32_at(m, 12), 3);
        assert_eq!(u16_at(m, 16), TEMPLATE_V4);
        assert_eq!(u16_at(m, 18), 4 + 76);
        // the IPv4 record: addresses, ICMP, protocol, ports, VLAN, counts
        let r = &m[20..96];
        assert_eq!(&r[..4], &[10, 0, 0, 0]);
        assert_eq!(&r[4..8], &[192, 0, 2, 9]);
        assert_eq!(r[10], 6);
        assert_eq!(u16_at(r, 11), 40000);
        assert_eq!(u16_at(r, 13), 443);
        assert_eq!(u16_at(r, 15), 7);
        assert_eq!(u64::from_be_bytes(r[17..25].try_into().unwrap()), 1);
        assert_eq!(u64::from_be_bytes(r[25..33].try_into().unwrap()), 40);
        assert_eq!(u64::from_be_bytes(r[33..41].try_into().unwrap()), 64);
        assert_eq!(u16_at(r, 57), 0x1b);
        assert_eq!(u32_at(r, 59), 5);
        assert_eq!(r[63], 1);
        assert_eq!(&r[64..70], &[7, 8, 9, 10, 11, 12]);
        assert_eq!(&r[70..76], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(u16_at(m, 96), TEMPLATE_V6);
    }

    #[test]
    fn messages_fit_the_mtu_and_number_their_records() {
        let mtu = 600;
        let mut enc = Encoder::new(mtu);
        let records: Vec<FlowRecord> = (0..100).map(|i| record(i % 3 == 0, i)).collect();
        let mut got = Vec::new();
        let n = enc.data(3, 1000, 0, &records, |m, n| got.push((m.to_vec(), n)));
        assert_eq!(n, 100);
        let mut seq = 1000u32;
        let mut total = 0;
        for (m, n) in &got {
            assert!(m.len() + 48 <= mtu, "{}", m.len());
            assert_eq!(u32_at(m, 8), seq);
            seq += *n as u32;
            total += n;
            // the sets add up to the message
            let mut at = HEADER;
            let mut records = 0;
            while at < m.len() {
                let (id, len) = (u16_at(m, at), usize::from(u16_at(m, at + 2)));
                let per = if id == TEMPLATE_V6 { 100 } else { 76 };
                assert_eq!((len - SET_HEADER) % per, 0);
                records += (len - SET_HEADER) / per;
                at += len;
            }
            assert_eq!(at, m.len());
            assert_eq!(records, *n);
        }
        assert_eq!(total, 100);
        assert!(got.len() > 10);
    }

    /// The messages of a TCP stream: (sequence number, template sets
    /// seen, flow records, packets in them, the flow records its options
    /// record says were sent).
    #[allow(clippy::type_complexity)]
    fn read_stream(mut s: std::net::TcpStream) -> Vec<(u32, bool, usize, u64, Option<u64>)> {
        use std::io::Read;
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while at + HEADER <= all.len() {
            let len = usize::from(u16_at(&all, at + 2));
            let m = &all[at..at + len];
            let (mut templates, mut records, mut packets, mut said) = (false, 0, 0, None);
            let mut set = HEADER;
            while set < m.len() {
                let (id, slen) = (u16_at(m, set), usize::from(u16_at(m, set + 2)));
                if id == TEMPLATE_SET {
                    templates = true;
                }
                if id == TEMPLATE_STATS {
                    let at = set + SET_HEADER + 4 + 8;
                    said = Some(u64::from_be_bytes(m[at..at + 8].try_into().unwrap()));
                }
                if id == TEMPLATE_V4 {
                    for r in m[set + SET_HEADER..set + slen].chunks(76) {
                        records += 1;
                        packets += u64::from_be_bytes(r[17..25].try_into().unwrap());
                    }
                }
                set += slen;
            }
            out.push((u32_at(m, 8), templates, records, packets, said));
            at += len;
        }
        out
    }

    /// Over TCP: records while the collector is down are counted as not
    /// exported and said once; once it listens the exporter connects
    /// (retrying), opens the stream with the templates, numbers the
    /// records from 0, and at the end writes everything it holds.
    #[test]
    fn tcp_reconnects_and_counts_what_it_could_not_send() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (tx, counts, exporter) = exporter(
            IpfixArgs {
                ipfix: vec![format!("tcp://127.0.0.1:{port}")],
                ..Default::default()
            },
            Duration::from_millis(100),
        );
        tx.send(batch(10, (0, 0))).unwrap();
        let c = &counts.collectors[0];
        let until = Instant::now() + Duration::from_secs(5);
        while c.unreachable.load(Relaxed) < 10 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(c.unreachable.load(Relaxed), 10);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        let reader = std::thread::spawn(move || read_stream(listener.accept().unwrap().0));
        let until = Instant::now() + Duration::from_secs(5);
        while !c.up.load(Relaxed) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(c.up.load(Relaxed));
        tx.send(batch(1000, (0, 0))).unwrap();
        drop(tx);
        exporter.join().unwrap();
        let messages = reader.join().unwrap();
        assert!(messages[0].1, "the stream opens with the templates");
        // and ends with the last counts, without the templates
        let last = messages.last().unwrap();
        assert_eq!((last.1, last.2, last.4), (false, 0, Some(1000)));
        let mut seq = 1; // the options record of the first message
        for m in &messages[1..] {
            assert_eq!(m.0, seq);
            seq += m.2 as u32;
        }
        let records: usize = messages.iter().map(|m| m.2).sum();
        let packets: u64 = messages.iter().map(|m| m.3).sum();
        assert_eq!(records, 1000);
        assert_eq!(packets, (1..=1000).sum::<u64>());
        assert_eq!(c.sent.load(Relaxed), 1000);
        assert_eq!(c.unreachable.load(Relaxed), 10);
        assert_eq!(c.dropped.load(Relaxed), 0);
        assert_eq!(c.messages.load(Relaxed), messages.len() as u64);
    }

    /// A TCP collector that stops reading: once the kernel's buffers and
    /// the exporter's 4 MiB are full, messages are dropped and counted,
    /// never waited for; what is still unwritten after the last 5 s at the
    /// end is counted as not exported. Every record is accounted for.
    #[test]
    fn a_collector_that_stops_reading_is_never_waited_for() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, counts, exporter) = exporter(
            IpfixArgs {
                ipfix: vec![format!("tcp://127.0.0.1:{port}")],
                ..Default::default()
            },
            RETRY,
        );
        // accepted, and never read
        let (_conn, _) = listener.accept().unwrap();
        let started = Instant::now();
        let total = 40 * 8192u64;
        for _ in 0..40 {
            tx.send(batch(8192, (0, 0))).unwrap();
        }
        drop(tx);
        exporter.join().unwrap();
        // the records alone are 25 MB: far more than the buffers take
        assert!(started.elapsed() < Duration::from_secs(20));
        let c = &counts.collectors[0];
        let (sent, dropped, unsent) = (
            c.sent.load(Relaxed),
            c.dropped.load(Relaxed),
            c.unreachable.load(Relaxed),
        );
        assert!(dropped > total / 2, "{sent} {dropped} {unsent}");
        assert_eq!(sent + dropped + unsent, total, "{sent} {dropped} {unsent}");
    }

    /// Over UDP the templates and the options record go first, again
    /// after at most 4096 messages, and again once the template refresh
    /// has passed; the options record counts the messages and records sent
    /// before it, and sequence numbers count every data record.
    #[test]
    fn udp_resends_templates_by_count_and_by_time() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let port = rx.local_addr().unwrap().port();
        let (tx, counts, exporter) = exporter(
            IpfixArgs {
                ipfix: vec![format!("127.0.0.1:{port}")],
                ipfix_template_refresh: Some("1s".into()),
                ipfix_mtu: Some(576),
                ..Default::default()
            },
            RETRY,
        );
        let receiver = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = vec![0u8; 65_536];
            while let Ok(n) = rx.recv(&mut buf) {
                got.push(buf[..n].to_vec());
            }
            got
        });
        let batch = |n| batch(n, (7, 700));
        // 6 records a message at this MTU: 4800 messages, in steps of 40
        // (a fifth of what the receive buffer holds) 10 ms apart, which
        // the receiver keeps up with
        for _ in 0..120 {
            tx.send(batch(240)).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(1500));
        tx.send(batch(6)).unwrap();
        drop(tx);
        exporter.join().unwrap();
        let got = receiver.join().unwrap();
        let c = &counts.collectors[0];
        assert_eq!(c.dropped.load(Relaxed), 0, "the receiver kept up");
        assert_eq!(got.len() as u64, c.messages.load(Relaxed));
        // messages that carry the templates, and the options record's
        // counts in each: (index, messages, records)
        let mut templates = Vec::new();
        let mut seq = 0u32;
        let mut records_before = 0u64;
        for (i, m) in got.iter().enumerate() {
            assert_eq!(u32_at(m, 8), seq, "message {i}");
            let (id, len) = (u16_at(m, 16), usize::from(u16_at(m, 18)));
            if id == TEMPLATE_SET {
                let at = 16 + len;
                let at = at + usize::from(u16_at(m, at + 2));
                assert_eq!(u16_at(m, at), TEMPLATE_STATS);
                let v = |k: usize| {
                    u64::from_be_bytes(m[at + 8 + 8 * k..at + 16 + 8 * k].try_into().unwrap())
                };
                templates.push((i, v(0), v(1)));
                assert_eq!((v(4), v(5)), (7, 700), "the ignored packets and bytes");
                seq += 1;
            } else {
                let n = (usize::from(u16_at(m, 2)) - HEADER - SET_HEADER) / 76;
                seq += n as u32;
                records_before += n as u64;
            }
            if id == TEMPLATE_SET {
                // what was sent before this message, templates included
                let (_, messages, records) = *templates.last().unwrap();
                assert_eq!(messages, i as u64);
                // flow records: the options records are not counted
                assert_eq!(records, records_before);
            }
        }
        assert_eq!(templates[0].0, 0, "the templates come first");
        for w in templates.windows(2) {
            assert!(w[1].0 - w[0].0 <= TEMPLATE_EVERY as usize, "{templates:?}");
        }
        // by count (4800 messages), by time (before the last batch), and
        // the last counts when the exporter stops: every flow record sent
        let n = templates.len();
        assert!(n >= 4, "{templates:?}");
        assert_eq!(templates[n - 2].0, got.len() - 3, "{templates:?}");
        assert_eq!(templates[n - 1].0, got.len() - 1, "{templates:?}");
        assert_eq!(templates[n - 1].2, 120 * 240 + 6);
    }

    #[test]
    fn the_templates_message_describes_every_field() {
        let mut enc = Encoder::new(1400);
        let stats = DomainStats {
            messages: 4,
            records: 70,
            octets: 5000,
            not_sent: 2,
            ignored_packets: 9,
            ignored_octets: 900,
        };
        let m = enc.templates(3, 77, 0, &stats).to_vec();
        assert_eq!(u32_at(&m, 8), 77);
        assert_eq!(u16_at(&m, 16), TEMPLATE_SET);
        let set_len = usize::from(u16_at(&m, 18));
        // two templates of 17 fields
        assert_eq!(set_len, 4 + 2 * (4 + 17 * 4));
        assert_eq!(u16_at(&m, 20), TEMPLATE_V4);
        assert_eq!(u16_at(&m, 22), 17);
        let at = 16 + set_len;
        assert_eq!(u16_at(&m, at), OPTIONS_TEMPLATE_SET);
        assert_eq!(u16_at(&m, at + 4), TEMPLATE_STATS);
        assert_eq!(u16_at(&m, at + 8), 1, "one scope field");
        let at = at + usize::from(u16_at(&m, at + 2));
        assert_eq!(u16_at(&m, at), TEMPLATE_STATS);
        assert_eq!(u32_at(&m, at + 4), 3);
        let v: Vec<u64> = (0..6)
            .map(|i| u64::from_be_bytes(m[at + 8 + 8 * i..at + 16 + 8 * i].try_into().unwrap()))
            .collect();
        assert_eq!(v, [4, 70, 5000, 2, 9, 900]);
        assert_eq!(usize::from(u16_at(&m, 2)), m.len());
    }
}
