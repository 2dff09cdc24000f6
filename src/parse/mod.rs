//! Hand-written zero-copy packet parsing, one file per header.
//!
//! [`parse`] is the top-level decoder. It is lax: it returns what it could
//! parse and, when it stopped early, at which layer and why. Once an IP
//! header is valid the packet always belongs to its host pair; a damaged
//! transport header only loses the ports. Nothing here allocates, logs or
//! panics, whatever the input.
//!
//! Tunnels are opened as [`Decap`] says (ERSPAN, VXLAN, GENEVE, GRE and
//! IP-in-IP, up to [`MAX_DECAP_DEPTH`] inside one another): the packet
//! returned is then the innermost one, and [`Packet::tunnels`] says what was
//! stripped and where the counted unit lies in the frame. A tunnel whose
//! header is broken is not opened: the packet counts as the one that
//! carried it, with the reason in [`Packet::l4_error`].

pub mod erspan;
pub mod ethernet;
pub mod geneve;
pub mod gre;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod pppoe;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod vlan;
pub mod vxlan;

use ethernet::{EthernetFrame, ethertype};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most VLAN tags walked (802.1Q, QinQ and one more).
pub const MAX_VLAN_TAGS: usize = 3;
/// Most MPLS labels walked before giving up.
pub const MAX_MPLS_LABELS: usize = 8;
/// Most IPv6 extension headers walked before giving up.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// Most tunnels opened inside one another; a packet nested deeper counts
/// as the outermost one (`tunnel/too_deep`).
pub const MAX_DECAP_DEPTH: usize = 3;
/// Most UDP ports VXLAN is recognised on.
pub const MAX_VXLAN_PORTS: usize = 4;

/// IP protocol numbers the decoder looks into.
pub mod proto {
    pub const ICMP: u8 = 1;
    /// IPv4 inside IP.
    pub const IPIP: u8 = 4;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    /// IPv6 inside IP (6in4, 6in6).
    pub const IPV6: u8 = 41;
    pub const GRE: u8 = 47;
    pub const ICMPV6: u8 = 58;
}

/// A kind of tunnel the decoder opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Encap {
    /// ERSPAN type I, II and III (GRE protocol 0x88BE, 0x22EB).
    #[default]
    Erspan,
    Vxlan,
    Geneve,
    /// GRE carrying Ethernet (0x6558), IPv4 or IPv6.
    Gre,
    /// IPv4 or IPv6 directly inside IPv4 or IPv6 (protocols 4 and 41).
    Ipip,
}

impl Encap {
    pub const COUNT: usize = 5;
    pub const ALL: [Encap; Encap::COUNT] = [
        Encap::Erspan,
        Encap::Vxlan,
        Encap::Geneve,
        Encap::Gre,
        Encap::Ipip,
    ];

    /// The name in `--decap` and in the `encap` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Encap::Erspan => "erspan",
            Encap::Vxlan => "vxlan",
            Encap::Geneve => "geneve",
            Encap::Gre => "gre",
            Encap::Ipip => "ipip",
        }
    }

    pub fn from_name(name: &str) -> Option<Encap> {
        Encap::ALL.into_iter().find(|e| e.as_str() == name)
    }

    #[inline]
    fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The layer its parse errors are counted at.
    pub fn layer(self) -> Layer {
        match self {
            Encap::Erspan => Layer::Erspan,
            Encap::Vxlan => Layer::Vxlan,
            Encap::Geneve => Layer::Geneve,
            Encap::Gre => Layer::Gre,
            Encap::Ipip => Layer::Ipip,
        }
    }
}

/// Which tunnels the decoder opens, and the UDP ports VXLAN is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decap {
    kinds: u8,
    /// 0 marks an unused place.
    vxlan_ports: [u16; MAX_VXLAN_PORTS],
}

impl Default for Decap {
    fn default() -> Self {
        Decap::ALL
    }
}

impl Decap {
    /// Every kind, VXLAN on its IANA port: the default.
    pub const ALL: Decap = Decap {
        kinds: (1 << Encap::COUNT) - 1,
        vxlan_ports: [vxlan::PORT, 0, 0, 0],
    };

    /// Opens no tunnel: packets count on their outer headers.
    pub const NONE: Decap = Decap {
        kinds: 0,
        vxlan_ports: [0; MAX_VXLAN_PORTS],
    };

    /// The given kinds, VXLAN on the given ports (at most
    /// [`MAX_VXLAN_PORTS`], none of them 0).
    pub fn new(kinds: &[Encap], vxlan_ports: &[u16]) -> Result<Decap, String> {
        if vxlan_ports.len() > MAX_VXLAN_PORTS {
            return Err(format!(
                "at most {MAX_VXLAN_PORTS} VXLAN ports, not {}",
                vxlan_ports.len()
            ));
        }
        if vxlan_ports.contains(&0) {
            return Err("a VXLAN port must be 1 to 65535".into());
        }
        let mut d = Decap::NONE;
        for k in kinds {
            d.kinds |= k.bit();
        }
        d.vxlan_ports[..vxlan_ports.len()].copy_from_slice(vxlan_ports);
        Ok(d)
    }

    #[inline]
    pub fn opens(&self, e: Encap) -> bool {
        self.kinds & e.bit() != 0
    }

    /// The kinds opened, in [`Encap::ALL`]'s order.
    pub fn kinds(&self) -> impl Iterator<Item = Encap> + '_ {
        Encap::ALL.into_iter().filter(|e| self.opens(*e))
    }

    pub fn vxlan_ports(&self) -> impl Iterator<Item = u16> + '_ {
        self.vxlan_ports.iter().copied().filter(|p| *p != 0)
    }

    #[inline]
    fn is_vxlan_port(&self, port: u16) -> bool {
        port != 0 && self.vxlan_ports.contains(&port)
    }
}

/// One tunnel the decoder opened: its kind, and where what it carried (an
/// Ethernet frame or an IP packet) lies in the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stripped {
    pub encap: Encap,
    /// What it carried is an Ethernet frame (else an IP packet).
    pub ethernet: bool,
    /// Offset in the frame where it starts.
    pub start: u32,
    /// Offset in the frame where it ends, from the length fields of the
    /// headers around it (which may lie past the captured bytes);
    /// `u32::MAX` when they leave it open.
    pub end: u32,
}

/// The tunnels opened around a packet, outermost first, packed small
/// (every packet carries this): a tunnel is opened only where what it
/// carried starts within the first 64 KiB of the frame, and no IP packet
/// carries more than 64 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tunnels {
    pub depth: u8,
    /// Bit `i`: tunnel `i` carried an Ethernet frame.
    ethernet: u8,
    kinds: [Encap; MAX_DECAP_DEPTH],
    starts: [u16; MAX_DECAP_DEPTH],
    /// The length of what each carried; `u16::MAX`: open.
    lens: [u16; MAX_DECAP_DEPTH],
}

impl Tunnels {
    /// Tunnel `i` (outermost 0), `i < depth`.
    #[inline]
    pub fn get(&self, i: usize) -> Stripped {
        let start = u32::from(self.starts[i]);
        Stripped {
            encap: self.kinds[i],
            ethernet: self.ethernet & (1 << i) != 0,
            start,
            end: match self.lens[i] {
                u16::MAX => u32::MAX,
                n => start + u32::from(n),
            },
        }
    }

    /// The tunnels opened, outermost first.
    pub fn opened(&self) -> impl Iterator<Item = Stripped> + '_ {
        (0..usize::from(self.depth)).map(|i| self.get(i))
    }

    #[inline]
    pub fn innermost(&self) -> Option<Stripped> {
        match self.depth {
            0 => None,
            d => Some(self.get(usize::from(d) - 1)),
        }
    }

    /// Adds `t` inside the others (the caller keeps to
    /// [`MAX_DECAP_DEPTH`]); false if it starts past the first 64 KiB.
    #[inline]
    fn push(&mut self, t: Stripped) -> bool {
        let i = usize::from(self.depth);
        let Ok(start) = u16::try_from(t.start) else {
            return false;
        };
        self.kinds[i] = t.encap;
        self.ethernet = self.ethernet & !(1 << i) | u8::from(t.ethernet) << i;
        self.starts[i] = start;
        self.lens[i] = match t.end {
            u32::MAX => u16::MAX,
            end => u16::try_from(end.saturating_sub(t.start)).unwrap_or(u16::MAX - 1),
        };
        self.depth += 1;
        true
    }

    /// The length of what the innermost tunnel carried in a frame of
    /// `orig_len` bytes on the wire, and for each tunnel (outermost first)
    /// the bytes it took: its own headers and those outside it.
    #[inline]
    pub fn unwrap_len(&self, orig_len: u32, mut stripped: impl FnMut(Encap, u32)) -> u32 {
        let (mut end, mut len) = (orig_len, orig_len);
        for t in self.opened() {
            end = end.min(t.end);
            let inner = end.saturating_sub(t.start);
            stripped(t.encap, len - inner.min(len));
            len = inner.min(len);
        }
        len
    }
}

/// The link layer of a capture: what the first byte of a frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    Ethernet,
    /// Linux cooked capture v1 (`LINKTYPE_LINUX_SLL`).
    LinuxSll,
    /// Linux cooked capture v2 (`LINKTYPE_LINUX_SLL2`).
    LinuxSll2,
    /// Raw IP, version from the first nibble.
    RawIp,
    Ipv4,
    Ipv6,
}

impl LinkType {
    /// Every link type the parser reads.
    pub const ALL: [LinkType; 6] = [
        LinkType::Ethernet,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
        LinkType::RawIp,
        LinkType::Ipv4,
        LinkType::Ipv6,
    ];

    /// Maps a pcap/pcapng LINKTYPE value.
    pub fn from_linktype(value: u32) -> Option<LinkType> {
        Some(match value {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            // LINKTYPE_RAW, and the DLT_RAW values of BSD and OpenBSD
            101 | 12 | 14 => LinkType::RawIp,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            _ => return None,
        })
    }

    /// The LINKTYPE value written to pcap files.
    pub fn to_linktype(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::RawIp => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
        }
    }

    pub const SUPPORTED: &'static str =
        "Ethernet (1), Linux cooked v1 (113) and v2 (276), raw IP (101, 12, 14, 228, 229)";
}

/// The layer at which parsing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Layer {
    /// Ethernet, cooked or raw-IP framing.
    Link,
    Vlan,
    Mpls,
    Pppoe,
    Ipv4,
    Ipv6,
    /// An IPv6 extension header; the packet still counts under its host pair.
    Ipv6Ext,
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// A GRE header cut short.
    Gre,
    Erspan,
    Vxlan,
    Geneve,
    /// IP in IP (only ever with [`Reason::BadInner`]).
    Ipip,
    /// Tunnels nested deeper than [`MAX_DECAP_DEPTH`].
    Tunnel,
}

impl Layer {
    pub const COUNT: usize = 17;
    pub const ALL: [Layer; Layer::COUNT] = [
        Layer::Link,
        Layer::Vlan,
        Layer::Mpls,
        Layer::Pppoe,
        Layer::Ipv4,
        Layer::Ipv6,
        Layer::Ipv6Ext,
        Layer::Tcp,
        Layer::Udp,
        Layer::Icmp,
        Layer::Icmpv6,
        Layer::Gre,
        Layer::Erspan,
        Layer::Vxlan,
        Layer::Geneve,
        Layer::Ipip,
        Layer::Tunnel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Link => "link",
            Layer::Vlan => "vlan",
            Layer::Mpls => "mpls",
            Layer::Pppoe => "pppoe",
            Layer::Ipv4 => "ipv4",
            Layer::Ipv6 => "ipv6",
            Layer::Ipv6Ext => "ipv6_ext",
            Layer::Tcp => "tcp",
            Layer::Udp => "udp",
            Layer::Icmp => "icmp",
            Layer::Icmpv6 => "icmpv6",
            Layer::Gre => "gre",
            Layer::Erspan => "erspan",
            Layer::Vxlan => "vxlan",
            Layer::Geneve => "geneve",
            Layer::Ipip => "ipip",
            Layer::Tunnel => "tunnel",
        }
    }

    /// Does a packet that failed at this layer still count under a host
    /// pair? (A tunnel's layer: the packet that carried it.)
    pub fn counted_in_flows(self) -> bool {
        self >= Layer::Ipv6Ext
    }
}

/// Why parsing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Reason {
    /// The captured bytes end inside the header.
    Truncated,
    /// A header length field is below the minimum.
    BadHeaderLength,
    /// An IP version nibble that does not match.
    BadVersion,
    /// IPv4 total length shorter than its own header.
    BadTotalLength,
    /// UDP length shorter than the UDP header.
    BadLength,
    TooManyTags,
    TooManyLabels,
    TooManyExtHeaders,
    /// Tunnels nested deeper than [`MAX_DECAP_DEPTH`].
    TooDeep,
    /// What a tunnel carried is broken below IP (its Ethernet, VLAN or IP
    /// header): the layer names the tunnel.
    BadInner,
}

impl Reason {
    pub const COUNT: usize = 10;

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Truncated => "truncated",
            Reason::BadHeaderLength => "bad_header_length",
            Reason::BadVersion => "bad_version",
            Reason::BadTotalLength => "bad_total_length",
            Reason::BadLength => "bad_length",
            Reason::TooManyTags => "too_many_tags",
            Reason::TooManyLabels => "too_many_labels",
            Reason::TooManyExtHeaders => "too_many_ext_headers",
            Reason::TooDeep => "too_deep",
            Reason::BadInner => "bad_inner",
        }
    }
}

/// Every (layer, reason) pair the decoder can produce: the label sets of
/// `ringflow_parse_errors_total`, exported from the start at 0.
pub const ERROR_KINDS: [ParseError; 34] = {
    use Layer as L;
    use Reason as R;
    const fn e(layer: Layer, reason: Reason) -> ParseError {
        ParseError { layer, reason }
    }
    [
        e(L::Link, R::Truncated),
        e(L::Link, R::BadVersion),
        e(L::Vlan, R::Truncated),
        e(L::Vlan, R::TooManyTags),
        e(L::Mpls, R::Truncated),
        e(L::Mpls, R::TooManyLabels),
        e(L::Pppoe, R::Truncated),
        e(L::Pppoe, R::BadVersion),
        e(L::Ipv4, R::Truncated),
        e(L::Ipv4, R::BadVersion),
        e(L::Ipv4, R::BadHeaderLength),
        e(L::Ipv4, R::BadTotalLength),
        e(L::Ipv6, R::Truncated),
        e(L::Ipv6, R::BadVersion),
        e(L::Ipv6Ext, R::Truncated),
        e(L::Ipv6Ext, R::TooManyExtHeaders),
        e(L::Tcp, R::Truncated),
        e(L::Tcp, R::BadHeaderLength),
        e(L::Udp, R::Truncated),
        e(L::Udp, R::BadLength),
        e(L::Icmp, R::Truncated),
        e(L::Icmpv6, R::Truncated),
        e(L::Gre, R::Truncated),
        e(L::Gre, R::BadInner),
        e(L::Erspan, R::Truncated),
        e(L::Erspan, R::BadVersion),
        e(L::Erspan, R::BadInner),
        e(L::Vxlan, R::Truncated),
        e(L::Vxlan, R::BadInner),
        e(L::Geneve, R::Truncated),
        e(L::Geneve, R::BadVersion),
        e(L::Geneve, R::BadInner),
        e(L::Ipip, R::BadInner),
        e(L::Tunnel, R::TooDeep),
    ]
};

/// A layer and a reason: small, `Copy`, counted and never logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParseError {
    pub layer: Layer,
    pub reason: Reason,
}

impl ParseError {
    pub const fn new(layer: Layer, reason: Reason) -> Self {
        ParseError { layer, reason }
    }

    /// A dense index for counter arrays.
    #[inline]
    pub fn index(self) -> usize {
        self.layer as usize * Reason::COUNT + self.reason as usize
    }

    pub const INDEX_COUNT: usize = Layer::COUNT * Reason::COUNT;
}

/// What the transport ports of a [`Packet`] mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PortKind {
    /// No ports: a later fragment, a protocol without ports, or a damaged
    /// transport header.
    None = 0,
    /// TCP or UDP source and destination ports.
    Ports = 1,
    /// ICMP or ICMPv6: `src_port` holds the type, `dst_port` the code.
    Icmp = 2,
}

/// What accounting needs from an IP packet. Addresses are 16 bytes; an IPv4
/// address fills the first 4 and the rest stay zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// 4 or 6.
    pub version: u8,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub proto: u8,
    pub port_kind: PortKind,
    pub src_port: u16,
    pub dst_port: u16,
    /// TCP flags; 0 for other protocols.
    pub tcp_flags: u8,
    /// VLAN id of the innermost tag, 0 when untagged.
    pub vlan: u16,
    /// Set when a header above IP could not be read; the packet still
    /// counts under its host pair, without ports. Also set when a tunnel
    /// it carries could not be opened (its header, or a header inside it,
    /// is broken: the layer is the tunnel's): the packet then counts as
    /// itself.
    pub l4_error: Option<ParseError>,
    /// The IP datagram's length as its header states it (IPv4 total
    /// length, IPv6 40 + payload length), 0 where the header leaves it
    /// open (a TSO or GSO capture, a jumbogram).
    pub ip_len: u32,
    /// Bytes captured from the IP header on: what came before it in the
    /// frame is the link layer.
    pub ip_captured: u32,
    /// Offset of the IP header in the frame (within its first 64 KiB,
    /// as tunnels are opened only there).
    pub ip_offset: u16,
    /// The tunnels opened to reach this packet (none: it is the frame's
    /// own).
    pub tunnels: Tunnels,
}

impl Packet {
    /// The bytes this packet counts for in a frame of `orig_len` bytes on
    /// the wire: the frame, or, inside tunnels, what the innermost one
    /// carried (an Ethernet frame, or an IP packet).
    #[inline]
    pub fn counted_len(&self, orig_len: u32) -> u32 {
        if self.tunnels.depth == 0 {
            return orig_len;
        }
        self.tunnels.unwrap_len(orig_len, |_, _| {})
    }

    /// Where what is counted starts in the frame.
    #[inline]
    fn unit_start(&self) -> u32 {
        match self.tunnels.innermost() {
            Some(t) => t.start,
            None => 0,
        }
    }

    /// Where the MAC addresses of what is counted are in the frame of a
    /// link type with them: the frame's own, or the innermost Ethernet
    /// frame a tunnel carried; `None` if the innermost tunnel carried IP.
    #[inline]
    pub fn macs_at(&self) -> Option<usize> {
        match self.tunnels.innermost() {
            None => Some(0),
            Some(t) if t.ethernet => Some(t.start as usize),
            Some(_) => None,
        }
    }

    /// The bytes of what is counted (see [`Packet::counted_len`]; a frame
    /// of `orig_len` bytes on the wire, `captured` in hand) that lie
    /// outside its IP datagram: link-layer headers, padding and trailers.
    /// What is left is the IP-layer length routers report (RFC 7012's
    /// `octetDeltaCount`).
    #[inline]
    pub fn outside_ip(&self, orig_len: u32, captured: usize) -> u32 {
        let len = self.counted_len(orig_len);
        if self.ip_len != 0 {
            len.saturating_sub(self.ip_len)
        } else {
            (captured as u32)
                .saturating_sub(self.unit_start())
                .saturating_sub(self.ip_captured)
                .min(len)
        }
    }

    #[inline(always)]
    fn new(version: u8, src: [u8; 16], dst: [u8; 16], proto: u8, vlan: u16) -> Self {
        Packet {
            version,
            src,
            dst,
            proto,
            port_kind: PortKind::None,
            src_port: 0,
            dst_port: 0,
            tcp_flags: 0,
            vlan,
            l4_error: None,
            ip_len: 0,
            ip_captured: 0,
            ip_offset: 0,
            tunnels: Tunnels::default(),
        }
    }
}

/// The outcome of decoding one frame: exactly one of these per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ip(Packet),
    /// Not IP: ARP, LLDP, ... Ethertype 0 stands for an 802.3 length field
    /// (LLC frames).
    NonIp {
        ethertype: u16,
    },
    /// Stopped below IP; the packet belongs to no host pair.
    Error(ParseError),
}

#[inline]
fn fail(layer: Layer, reason: Reason) -> Outcome {
    Outcome::Error(ParseError::new(layer, reason))
}

/// Decodes one frame of the given link type, opening the tunnels `decap`
/// names.
#[inline]
pub fn parse(link: LinkType, data: &[u8], decap: &Decap) -> Outcome {
    // Most packets carry no tunnel: they are decoded by the walk that
    // cannot open one, which keeps no state of tunnels at all. A packet
    // that may carry one is walked again by the walk that opens them.
    // (The outcome is returned as the walk builds it, never inspected
    // here: moving it after reading it would cost more than the walk.)
    Decoder::<false>::new(link, data, decap).link(link, data)
}

/// The walk that opens tunnels, for a packet that may carry one.
#[inline(never)]
fn parse_tunnels(link: LinkType, data: &[u8], decap: &Decap) -> Outcome {
    let mut d = Decoder::<true>::new(link, data, decap);
    let o = d.link(link, data);
    if !d.too_deep {
        return o;
    }
    // A nest deeper than the limit (a loop, or crafted) is not believed:
    // it counts as the outermost packet.
    match Decoder::<true>::new(link, data, &Decap::NONE).link(link, data) {
        Outcome::Ip(mut p) => {
            p.l4_error = Some(ParseError::new(Layer::Tunnel, Reason::TooDeep));
            Outcome::Ip(p)
        }
        other => other,
    }
}

/// What a tunnel carries.
#[derive(Clone, Copy)]
enum Carried {
    Ethernet,
    Ipv4,
    Ipv6,
}

/// One frame's walk: the frame (to place what tunnels carried in it), the
/// tunnels to open and those opened so far. `OPEN`: whether it opens
/// tunnels; the walk that does not keeps no state of them, and hands a
/// packet that may carry one to the walk that does ([`parse_tunnels`]).
struct Decoder<'a, const OPEN: bool> {
    link: LinkType,
    frame: &'a [u8],
    decap: &'a Decap,
    tunnels: Tunnels,
    too_deep: bool,
}

impl<'a, const OPEN: bool> Decoder<'a, OPEN> {
    #[inline(always)]
    fn new(link: LinkType, frame: &'a [u8], decap: &'a Decap) -> Self {
        Decoder {
            link,
            frame,
            decap,
            tunnels: Tunnels::default(),
            too_deep: false,
        }
    }

    /// The packet `pkt` of a whole IP packet, whose payload is `l4`: the
    /// packet inside if it carries a tunnel this walk opens, else `pkt`.
    #[inline(always)]
    fn whole(&mut self, mut pkt: Packet, l4: &'a [u8]) -> Outcome {
        if self.may_carry(&pkt) {
            if !OPEN {
                // walked again by the walk that opens tunnels
                return parse_tunnels(self.link, self.frame, self.decap);
            }
            if let Some(inner) = self.open(&mut pkt, l4) {
                return inner;
            }
        }
        Outcome::Ip(pkt)
    }

    /// Offset of `part` (a slice of the frame) in the frame.
    #[inline]
    fn offset(&self, part: &[u8]) -> u32 {
        (part.as_ptr() as usize - self.frame.as_ptr() as usize) as u32
    }

    #[inline]
    fn link(&mut self, link: LinkType, data: &'a [u8]) -> Outcome {
        match link {
            LinkType::Ethernet => self.ethernet(data),
            LinkType::LinuxSll => match sll::SllHeader::new_checked(data) {
                Ok(h) => self.ethertype(h.protocol(), h.payload()),
                Err(r) => fail(Layer::Link, r),
            },
            LinkType::LinuxSll2 => match sll::Sll2Header::new_checked(data) {
                Ok(h) => self.ethertype(h.protocol(), h.payload()),
                Err(r) => fail(Layer::Link, r),
            },
            LinkType::RawIp => match data.first().map(|b| b >> 4) {
                Some(4) => self.ipv4(data, 0),
                Some(6) => self.ipv6(data, 0),
                Some(_) => fail(Layer::Link, Reason::BadVersion),
                None => fail(Layer::Link, Reason::Truncated),
            },
            LinkType::Ipv4 => self.ipv4(data, 0),
            LinkType::Ipv6 => self.ipv6(data, 0),
        }
    }

    #[inline]
    fn ethernet(&mut self, data: &'a [u8]) -> Outcome {
        match EthernetFrame::new_checked(data) {
            Ok(eth) => self.ethertype(eth.ethertype(), eth.payload()),
            Err(r) => fail(Layer::Link, r),
        }
    }

    /// Dispatches on an ethertype, walking VLAN tags first.
    fn ethertype(&mut self, mut et: u16, mut data: &'a [u8]) -> Outcome {
        let mut vid = 0;
        let mut tags = 0;
        loop {
            match et {
                ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
                    if tags == MAX_VLAN_TAGS {
                        return fail(Layer::Vlan, Reason::TooManyTags);
                    }
                    let tag = match vlan::VlanTag::new_checked(data) {
                        Ok(t) => t,
                        Err(r) => return fail(Layer::Vlan, r),
                    };
                    vid = tag.vid();
                    et = tag.ethertype();
                    data = tag.payload();
                    tags += 1;
                }
                ethertype::IPV4 => return self.ipv4(data, vid),
                ethertype::IPV6 => return self.ipv6(data, vid),
                ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => {
                    return self.mpls(et, data, vid);
                }
                ethertype::PPPOE_SESSION => return self.pppoe(data, vid),
                other => {
                    let ethertype = if other < ethertype::MIN_ETHERTYPE {
                        0
                    } else {
                        other
                    };
                    return Outcome::NonIp { ethertype };
                }
            }
        }
    }

    fn mpls(&mut self, et: u16, mut data: &'a [u8], vid: u16) -> Outcome {
        for _ in 0..MAX_MPLS_LABELS {
            let entry = match mpls::MplsEntry::new_checked(data) {
                Ok(e) => e,
                Err(r) => return fail(Layer::Mpls, r),
            };
            data = entry.payload();
            if entry.bottom() {
                return match data.first().map(|b| b >> 4) {
                    Some(4) => self.ipv4(data, vid),
                    Some(6) => self.ipv6(data, vid),
                    // A pseudowire or other non-IP payload.
                    Some(_) => Outcome::NonIp { ethertype: et },
                    None => fail(Layer::Mpls, Reason::Truncated),
                };
            }
        }
        fail(Layer::Mpls, Reason::TooManyLabels)
    }

    fn pppoe(&mut self, data: &'a [u8], vid: u16) -> Outcome {
        match pppoe::PppoeSession::new_checked(data) {
            Ok(s) => match s.protocol() {
                pppoe::ppp::IPV4 => self.ipv4(s.payload(), vid),
                pppoe::ppp::IPV6 => self.ipv6(s.payload(), vid),
                // LCP, IPCP, ...: PPP control traffic.
                _ => Outcome::NonIp {
                    ethertype: ethertype::PPPOE_SESSION,
                },
            },
            Err(r) => fail(Layer::Pppoe, r),
        }
    }

    #[inline(always)]
    fn packet(&self, version: u8, src: [u8; 16], dst: [u8; 16], proto: u8, vid: u16) -> Packet {
        let mut p = Packet::new(version, src, dst, proto, vid);
        if OPEN {
            p.tunnels = self.tunnels;
        }
        p
    }

    #[inline]
    fn ipv4(&mut self, data: &'a [u8], vid: u16) -> Outcome {
        let ip = match ipv4::Ipv4Packet::new_checked(data) {
            Ok(p) => p,
            Err(r) => return fail(Layer::Ipv4, r),
        };
        let mut pkt = self.packet(4, v4_addr(ip.src()), v4_addr(ip.dst()), ip.protocol(), vid);
        pkt.ip_len = u32::from(ip.total_len());
        pkt.ip_captured = data.len() as u32;
        pkt.ip_offset = self.offset(data) as u16;
        // Only the first fragment carries the transport header; a tunnel
        // is opened only in a whole packet.
        if ip.frag_offset() == 0 {
            let l4 = ip.payload();
            parse_transport(&mut pkt, l4);
            if !ip.more_fragments() {
                return self.whole(pkt, l4);
            }
        }
        Outcome::Ip(pkt)
    }

    #[inline]
    fn ipv6(&mut self, data: &'a [u8], vid: u16) -> Outcome {
        let ip = match ipv6::Ipv6Packet::new_checked(data) {
            Ok(p) => p,
            Err(r) => return fail(Layer::Ipv6, r),
        };
        let mut nh = ip.next_header();
        let mut pkt = self.packet(6, ip.src(), ip.dst(), nh, vid);
        if ip.payload_len() != 0 {
            pkt.ip_len = ipv6::HEADER_LEN as u32 + u32::from(ip.payload_len());
        }
        pkt.ip_captured = data.len() as u32;
        pkt.ip_offset = self.offset(data) as u16;
        let mut rest = ip.payload();
        let mut walked = 0;
        let mut fragment = false;
        while ipv6::is_ext_header(nh) {
            if walked == MAX_IPV6_EXT_HEADERS {
                pkt.l4_error = Some(ParseError::new(Layer::Ipv6Ext, Reason::TooManyExtHeaders));
                return Outcome::Ip(pkt);
            }
            let ext = match ipv6::ext_header(nh, rest) {
                Ok(e) => e,
                Err(r) => {
                    pkt.l4_error = Some(ParseError::new(Layer::Ipv6Ext, r));
                    return Outcome::Ip(pkt);
                }
            };
            fragment |= nh == ipv6::next_header::FRAGMENT;
            nh = ext.next_header;
            pkt.proto = nh;
            rest = &rest[ext.len..];
            walked += 1;
            if ext.frag_offset != 0 {
                // A later fragment: host pair and protocol, no ports.
                return Outcome::Ip(pkt);
            }
        }
        parse_transport(&mut pkt, rest);
        if !fragment {
            return self.whole(pkt, rest);
        }
        Outcome::Ip(pkt)
    }

    /// Whether `pkt` may carry a tunnel this decoder opens: a protocol or
    /// UDP port of one. The common packet is decided here, inline.
    #[inline]
    fn may_carry(&self, pkt: &Packet) -> bool {
        if self.decap.kinds == 0 {
            return false;
        }
        match pkt.proto {
            proto::IPIP | proto::IPV6 | proto::GRE => true,
            proto::UDP => {
                pkt.port_kind == PortKind::Ports
                    && (pkt.dst_port == geneve::PORT || self.decap.is_vxlan_port(pkt.dst_port))
            }
            _ => false,
        }
    }

    /// Opens the tunnel `pkt` carries in `l4` (its IP payload), if it
    /// carries one `decap` names: the packet inside, or `None` to count
    /// `pkt` (a foreign tunnel, or a broken one, whose reason it records).
    #[inline(never)]
    fn open(&mut self, pkt: &mut Packet, l4: &'a [u8]) -> Option<Outcome> {
        let step = match pkt.proto {
            proto::IPIP if self.decap.opens(Encap::Ipip) => {
                self.enter(Encap::Ipip, Carried::Ipv4, pkt, l4)
            }
            proto::IPV6 if self.decap.opens(Encap::Ipip) => {
                self.enter(Encap::Ipip, Carried::Ipv6, pkt, l4)
            }
            proto::GRE => self.gre(pkt, l4),
            proto::UDP if pkt.l4_error.is_none() => {
                let payload = &l4[udp::HEADER_LEN..];
                if self.decap.opens(Encap::Vxlan) && self.decap.is_vxlan_port(pkt.dst_port) {
                    self.vxlan(pkt, payload)
                } else if self.decap.opens(Encap::Geneve) && pkt.dst_port == geneve::PORT {
                    self.geneve(pkt, payload)
                } else {
                    None
                }
            }
            _ => None,
        };
        match step {
            None => None,
            Some(Ok(inner)) => Some(inner),
            Some(Err(e)) => {
                pkt.l4_error = Some(e);
                None
            }
        }
    }

    /// Strips one tunnel of `outer` and decodes what it carried, which
    /// starts at `inner`. `Err`: what it carried is broken. Never inlined:
    /// it closes the loop back to the link layer, and a packet without a
    /// tunnel must not pay for it.
    #[inline(never)]
    fn enter(
        &mut self,
        encap: Encap,
        carried: Carried,
        outer: &Packet,
        inner: &'a [u8],
    ) -> Option<Result<Outcome, ParseError>> {
        if usize::from(self.tunnels.depth) == MAX_DECAP_DEPTH {
            self.too_deep = true;
            return Some(Err(ParseError::new(Layer::Tunnel, Reason::TooDeep)));
        }
        let opened = self.tunnels.push(Stripped {
            encap,
            ethernet: matches!(carried, Carried::Ethernet),
            start: self.offset(inner),
            end: if outer.ip_len != 0 {
                u32::from(outer.ip_offset).saturating_add(outer.ip_len)
            } else {
                u32::MAX
            },
        });
        if !opened {
            // past the first 64 KiB of a giant frame: not a mirror's
            return None;
        }
        let o = match carried {
            Carried::Ethernet => self.ethernet(inner),
            Carried::Ipv4 => self.ipv4(inner, 0),
            Carried::Ipv6 => self.ipv6(inner, 0),
        };
        self.tunnels.depth -= 1;
        match o {
            // counted as the packet that carried it: the error names the
            // tunnel (so the packets below IP stay those in no flow)
            Outcome::Error(_) => Some(Err(ParseError::new(encap.layer(), Reason::BadInner))),
            o => Some(Ok(o)),
        }
    }

    #[inline(never)]
    fn gre(&mut self, outer: &Packet, l4: &'a [u8]) -> Option<Result<Outcome, ParseError>> {
        use gre::protocol;
        let (gre_on, erspan_on) = (
            self.decap.opens(Encap::Gre),
            self.decap.opens(Encap::Erspan),
        );
        if !gre_on && !erspan_on {
            return None;
        }
        let g = match gre::GreHeader::new_checked(l4) {
            Ok(Ok(g)) => g,
            // PPTP and source-routed GRE are not tunnels we open
            Ok(Err(_)) => return None,
            Err(r) => return Some(Err(ParseError::new(Layer::Gre, r))),
        };
        let payload = g.payload();
        let erspan = |version| match erspan::ErspanHeader::new_checked(payload, version) {
            Ok(h) => Ok(h.payload()),
            Err(r) => Err(ParseError::new(Layer::Erspan, r)),
        };
        match g.protocol() {
            protocol::TEB if gre_on => self.enter(Encap::Gre, Carried::Ethernet, outer, payload),
            protocol::IPV4 if gre_on => self.enter(Encap::Gre, Carried::Ipv4, outer, payload),
            protocol::IPV6 if gre_on => self.enter(Encap::Gre, Carried::Ipv6, outer, payload),
            // type I has no sequence number and no ERSPAN header
            protocol::ERSPAN_II if erspan_on && !g.has_sequence() => {
                self.enter(Encap::Erspan, Carried::Ethernet, outer, payload)
            }
            protocol::ERSPAN_II if erspan_on => match erspan(erspan::version::TYPE_II) {
                Ok(frame) => self.enter(Encap::Erspan, Carried::Ethernet, outer, frame),
                Err(e) => Some(Err(e)),
            },
            protocol::ERSPAN_III if erspan_on => match erspan(erspan::version::TYPE_III) {
                Ok(frame) => self.enter(Encap::Erspan, Carried::Ethernet, outer, frame),
                Err(e) => Some(Err(e)),
            },
            _ => None,
        }
    }

    #[inline(never)]
    fn vxlan(&mut self, outer: &Packet, payload: &'a [u8]) -> Option<Result<Outcome, ParseError>> {
        match vxlan::VxlanHeader::new_checked(payload) {
            // without the I flag it is another protocol on the port
            Ok(h) if !h.vni_valid() => None,
            Ok(h) => self.enter(Encap::Vxlan, Carried::Ethernet, outer, h.payload()),
            Err(r) => Some(Err(ParseError::new(Layer::Vxlan, r))),
        }
    }

    fn geneve(&mut self, outer: &Packet, payload: &'a [u8]) -> Option<Result<Outcome, ParseError>> {
        let h = match geneve::GeneveHeader::new_checked(payload) {
            Ok(h) => h,
            Err(r) => return Some(Err(ParseError::new(Layer::Geneve, r))),
        };
        let carried = match h.protocol() {
            gre::protocol::TEB => Carried::Ethernet,
            gre::protocol::IPV4 => Carried::Ipv4,
            gre::protocol::IPV6 => Carried::Ipv6,
            _ => return None,
        };
        self.enter(Encap::Geneve, carried, outer, h.payload())
    }
}

/// Reads ports (or ICMP type and code) into `pkt`. A damaged header keeps
/// whatever fields are still there and records the error.
#[inline]
fn parse_transport(pkt: &mut Packet, l4: &[u8]) {
    match pkt.proto {
        proto::TCP => match tcp::TcpHeader::new_checked(l4) {
            Ok(t) => {
                pkt.port_kind = PortKind::Ports;
                pkt.src_port = t.src_port();
                pkt.dst_port = t.dst_port();
                pkt.tcp_flags = t.flags();
            }
            Err(r) => {
                keep_ports(pkt, l4);
                if let Some(&f) = l4.get(tcp::field::FLAGS) {
                    pkt.tcp_flags = f;
                }
                pkt.l4_error = Some(ParseError::new(Layer::Tcp, r));
            }
        },
        proto::UDP => match udp::UdpHeader::new_checked(l4) {
            Ok(u) => {
                pkt.port_kind = PortKind::Ports;
                pkt.src_port = u.src_port();
                pkt.dst_port = u.dst_port();
            }
            Err(r) => {
                keep_ports(pkt, l4);
                pkt.l4_error = Some(ParseError::new(Layer::Udp, r));
            }
        },
        proto::ICMP | proto::ICMPV6 => {
            let v6 = pkt.proto == proto::ICMPV6;
            match icmp::IcmpHeader::new_checked(l4) {
                Ok(h) => {
                    pkt.port_kind = PortKind::Icmp;
                    pkt.src_port = u16::from(h.msg_type());
                    pkt.dst_port = u16::from(h.code());
                }
                Err(r) => {
                    let layer = if v6 { Layer::Icmpv6 } else { Layer::Icmp };
                    pkt.l4_error = Some(ParseError::new(layer, r));
                }
            }
        }
        _ => {}
    }
}

/// Ports sit in the first four bytes of both TCP and UDP: keep them when
/// the rest of the header is cut off or malformed.
#[inline]
fn keep_ports(pkt: &mut Packet, l4: &[u8]) {
    if let [a, b, c, d, ..] = *l4 {
        pkt.port_kind = PortKind::Ports;
        pkt.src_port = u16::from_be_bytes([a, b]);
        pkt.dst_port = u16::from_be_bytes([c, d]);
    }
}

/// The name of an IP protocol for the four the parser reads, else its
/// number.
pub fn proto_label(p: u8) -> String {
    match p {
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        proto::ICMP => "icmp".into(),
        proto::ICMPV6 => "icmpv6".into(),
        n => n.to_string(),
    }
}

/// An IPv4 address in the 16-byte form packets and flow keys use: the first 4 bytes,
/// the rest zero.
#[inline]
pub fn v4_addr(a: [u8; 4]) -> [u8; 16] {
    let mut x = [0u8; 16];
    x[..4].copy_from_slice(&a);
    x
}

/// Turns a 16-byte address of the given IP version into an [`IpAddr`].
pub fn to_ip(version: u8, a: [u8; 16]) -> IpAddr {
    if version == 4 {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The decoder as a run uses it by default (every tunnel opened).
    fn parse(link: LinkType, data: &[u8]) -> Outcome {
        super::parse(link, data, &Decap::default())
    }

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4_tcp(flags: u8) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 8, 8, 8, 8,
        ];
        p.extend_from_slice(&[0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags]);
        p.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
        p
    }

    fn ip(o: Outcome) -> Packet {
        match o {
            Outcome::Ip(p) => p,
            other => panic!("expected IP, got {other:?}"),
        }
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let p = ip(parse(LinkType::Ethernet, &eth(0x0800, &ipv4_tcp(0x02))));
        assert_eq!(p.version, 4);
        assert_eq!(&p.src[..4], &[10, 0, 0, 1]);
        assert_eq!(&p.dst[..4], &[8, 8, 8, 8]);
        assert_eq!(p.src[4..], [0; 12]);
        assert_eq!((p.proto, p.src_port, p.dst_port), (6, 40000, 80));
        assert_eq!(p.port_kind, PortKind::Ports);
        assert_eq!(p.tcp_flags, 0x02);
        assert_eq!(p.vlan, 0);
        assert_eq!(p.l4_error, None);
    }

    #[test]
    fn qinq_keeps_inner_vid() {
        let mut payload = vec![0x00, 0x64, 0x81, 0x00, 0x00, 0xc8, 0x08, 0x00];
        payload.extend_from_slice(&ipv4_tcp(0x10));
        let p = ip(parse(LinkType::Ethernet, &eth(0x88a8, &payload)));
        assert_eq!(p.vlan, 200);
        assert_eq!(p.dst_port, 80);
    }

    #[test]
    fn four_vlan_tags_are_too_many() {
        let mut payload = Vec::new();
        for _ in 0..3 {
            payload.extend_from_slice(&[0x00, 0x01, 0x81, 0x00]);
        }
        payload.extend_from_slice(&[0x00, 0x01, 0x08, 0x00]);
        payload.extend_from_slice(&ipv4_tcp(0x10));
        assert_eq!(
            parse(LinkType::Ethernet, &eth(0x8100, &payload)),
            fail(Layer::Vlan, Reason::TooManyTags)
        );
    }

    #[test]
    fn mpls_stack_to_ipv4() {
        let mut payload = vec![0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
        payload.extend_from_slice(&ipv4_tcp(0x10));
        let p = ip(parse(LinkType::Ethernet, &eth(0x8847, &payload)));
        assert_eq!(p.dst_port, 80);
    }

    #[test]
    fn mpls_pseudowire_is_non_ip() {
        let payload = [0x00, 0x01, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00];
        assert_eq!(
            parse(LinkType::Ethernet, &eth(0x8847, &payload)),
            Outcome::NonIp { ethertype: 0x8847 }
        );
    }

    #[test]
    fn mpls_without_bottom_is_too_many_labels() {
        let payload = [0u8; 40];
        assert_eq!(
            parse(LinkType::Ethernet, &eth(0x8847, &payload)),
            fail(Layer::Mpls, Reason::TooManyLabels)
        );
    }

    #[test]
    fn pppoe_session_ipv4() {
        let mut payload = vec![0x11, 0x00, 0x00, 0x01, 0x00, 42, 0x00, 0x21];
        payload.extend_from_slice(&ipv4_tcp(0x10));
        let p = ip(parse(LinkType::Ethernet, &eth(0x8864, &payload)));
        assert_eq!(p.src_port, 40000);
        let lcp = [0x11, 0x00, 0x00, 0x01, 0x00, 2, 0xc0, 0x21];
        assert_eq!(
            parse(LinkType::Ethernet, &eth(0x8864, &lcp)),
            Outcome::NonIp { ethertype: 0x8864 }
        );
    }

    #[test]
    fn arp_and_llc_are_non_ip() {
        assert_eq!(
            parse(LinkType::Ethernet, &eth(0x0806, &[0; 28])),
            Outcome::NonIp { ethertype: 0x0806 }
        );
        assert_eq!(
            parse(LinkType::Ethernet, &eth(0x0026, &[0; 38])),
            Outcome::NonIp { ethertype: 0 }
        );
    }

    #[test]
    fn later_ipv4_fragment_has_no_ports() {
        let mut p = ipv4_tcp(0x10);
        p[6] = 0x00;
        p[7] = 0x10;
        let pkt = ip(parse(LinkType::RawIp, &p));
        assert_eq!(pkt.port_kind, PortKind::None);
        assert_eq!(pkt.proto, 6);
        // the first fragment keeps its ports
        let mut p = ipv4_tcp(0x10);
        p[6] = 0x20;
        let pkt = ip(parse(LinkType::RawIp, &p));
        assert_eq!(pkt.port_kind, PortKind::Ports);
    }

    fn ipv6_with(next: u8, ext: &[u8], l4: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
        p.push(next);
        p.push(64);
        p.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(ext);
        p.extend_from_slice(l4);
        p
    }

    #[test]
    fn ipv6_extension_chain_to_udp() {
        let udp = [0x30, 0x39, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00];
        let mut ext = vec![60, 0, 0, 0, 0, 0, 0, 0]; // hop-by-hop -> dest opts
        ext.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]); // dest opts -> fragment
        ext.extend_from_slice(&[51, 0, 0, 1, 0, 0, 0, 9]); // fragment, offset 0, M -> AH
        ext.extend_from_slice(&[43, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // AH (12 bytes) -> routing
        ext.extend_from_slice(&[17, 0, 0, 0, 0, 0, 0, 0]); // routing -> UDP
        let p = ip(parse(LinkType::Ipv6, &ipv6_with(0, &ext, &udp)));
        assert_eq!(p.version, 6);
        assert_eq!(p.proto, 17);
        assert_eq!((p.src_port, p.dst_port), (12345, 53));
        assert_eq!(p.l4_error, None);
    }

    #[test]
    fn later_ipv6_fragment_has_no_ports() {
        let ext = [17, 0, 0x05, 0x00, 0, 0, 0, 9];
        let p = ip(parse(LinkType::Ipv6, &ipv6_with(44, &ext, &[0; 16])));
        assert_eq!(p.proto, 17);
        assert_eq!(p.port_kind, PortKind::None);
        assert_eq!(p.l4_error, None);
    }

    #[test]
    fn truncated_ipv6_ext_header_keeps_host_pair() {
        let ext = [6, 3, 0, 0, 0, 0, 0, 0]; // claims 32 bytes
        let p = ip(parse(LinkType::Ipv6, &ipv6_with(0, &ext, &[])));
        assert_eq!(
            p.l4_error,
            Some(ParseError::new(Layer::Ipv6Ext, Reason::Truncated))
        );
        assert_eq!(p.port_kind, PortKind::None);
    }

    #[test]
    fn truncated_tcp_is_counted_with_ports() {
        let mut p = ipv4_tcp(0x10);
        p.truncate(20 + 10);
        let pkt = ip(parse(LinkType::RawIp, &p));
        assert_eq!(
            pkt.l4_error,
            Some(ParseError::new(Layer::Tcp, Reason::Truncated))
        );
        assert_eq!(pkt.port_kind, PortKind::Ports);
        assert_eq!(pkt.dst_port, 80);
        p.truncate(22);
        let pkt = ip(parse(LinkType::RawIp, &p));
        assert_eq!(pkt.port_kind, PortKind::None);
    }

    #[test]
    fn icmpv6_type_and_code() {
        let icmp = [128, 0, 0, 0, 0, 1, 0, 1];
        let p = ip(parse(LinkType::Ipv6, &ipv6_with(58, &[], &icmp)));
        assert_eq!(p.port_kind, PortKind::Icmp);
        assert_eq!((p.src_port, p.dst_port), (128, 0));
    }

    #[test]
    fn cooked_captures() {
        let mut v1 = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
        v1.extend_from_slice(&ipv4_tcp(0x10));
        assert_eq!(ip(parse(LinkType::LinuxSll, &v1)).dst_port, 80);
        let mut v2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        v2.extend_from_slice(&ipv4_tcp(0x10));
        assert_eq!(ip(parse(LinkType::LinuxSll2, &v2)).dst_port, 80);
        assert_eq!(
            parse(LinkType::LinuxSll2, &v2[..19]),
            fail(Layer::Link, Reason::Truncated)
        );
    }

    #[test]
    fn raw_ip_bad_version() {
        assert_eq!(
            parse(LinkType::RawIp, &[0x55; 30]),
            fail(Layer::Link, Reason::BadVersion)
        );
        assert_eq!(
            parse(LinkType::RawIp, &[]),
            fail(Layer::Link, Reason::Truncated)
        );
    }

    #[test]
    fn error_kinds_have_distinct_indices() {
        let mut seen = std::collections::HashSet::new();
        for e in ERROR_KINDS {
            assert!(e.index() < ParseError::INDEX_COUNT);
            assert!(seen.insert(e.index()));
        }
        assert!(Layer::Tcp.counted_in_flows());
        assert!(!Layer::Ipv6.counted_in_flows());
    }

    mod tunnels {
        use super::super::*;
        use crate::tools::synth::tunnel::{Outer, Wrap, every_wrap, payload};
        use crate::tools::synth::{self, FlowDesc};

        fn inner_flow(v6: bool, vlan: Option<u16>) -> FlowDesc {
            let mut c = [0u8; 16];
            let mut s = [0u8; 16];
            if v6 {
                c[..2].copy_from_slice(&[0xfd, 0x01]);
                c[15] = 5;
                s[..2].copy_from_slice(&[0x20, 0x01]);
                s[15] = 9;
            } else {
                c[..4].copy_from_slice(&[10, 9, 8, 7]);
                s[..4].copy_from_slice(&[203, 0, 113, 5]);
            }
            FlowDesc {
                v6,
                client: c,
                server: s,
                client_port: 51000,
                server_port: 443,
                udp: false,
                vlan,
            }
        }

        fn ip(o: Outcome) -> Packet {
            match o {
                Outcome::Ip(p) => p,
                other => panic!("expected IP, got {other:?}"),
            }
        }

        fn decode(frame: &[u8]) -> Packet {
            ip(parse(LinkType::Ethernet, frame, &Decap::default()))
        }

        #[test]
        fn every_kind_over_both_outer_versions_counts_the_inner_packet() {
            for wrap in every_wrap() {
                for inner_v6 in [false, true] {
                    for (outer_v6, tags) in [
                        (false, &[][..]),
                        (true, &[(0x88a8, 100), (0x8100, 200)][..]),
                    ] {
                        let f = inner_flow(inner_v6, Some(42).filter(|_| wrap.carries_ethernet()));
                        let raw = f.frame(true, synth::tcp_flags::ACK, 300);
                        let o = Outer::example(outer_v6, tags);
                        let frame = o.wrap(wrap, &raw, 1);
                        let p = decode(&frame);
                        let what = format!("{wrap:?} inner v6 {inner_v6} outer v6 {outer_v6}");
                        assert_eq!(p.version, if inner_v6 { 6 } else { 4 }, "{what}");
                        assert_eq!(p.src, f.client, "{what}");
                        assert_eq!(p.dst, f.server, "{what}");
                        assert_eq!((p.src_port, p.dst_port), (51000, 443), "{what}");
                        assert_eq!(p.l4_error, None, "{what}");
                        assert_eq!(p.tunnels.depth, 1, "{what}");
                        let t = p.tunnels.get(0);
                        assert_eq!(t.encap.as_str(), wrap.kind(), "{what}");
                        // the inner VLAN, never the outer one
                        let vlan = if wrap.carries_ethernet() { 42 } else { 0 };
                        assert_eq!(p.vlan, vlan, "{what}");
                        // counted: the inner frame, or the inner IP packet
                        let ip_len = raw.len() - if f.vlan.is_some() { 18 } else { 14 };
                        let want = if wrap.carries_ethernet() {
                            raw.len()
                        } else {
                            ip_len
                        };
                        let wire = frame.len() as u32 + 4; // and an FCS
                        assert_eq!(p.counted_len(wire) as usize, want, "{what}");
                        assert_eq!(p.ip_len as usize, ip_len, "{what}");
                        assert_eq!(p.outside_ip(wire, frame.len()) as usize, want - ip_len);
                        let mut stripped = Vec::new();
                        p.tunnels.unwrap_len(wire, |e, n| stripped.push((e, n)));
                        assert_eq!(stripped, vec![(t.encap, wire - want as u32)], "{what}");
                        // the inner MACs where the tunnel carried a frame
                        match p.macs_at() {
                            Some(at) => assert_eq!(frame[at..at + 12], raw[..12], "{what}"),
                            None => assert!(!wrap.carries_ethernet(), "{what}"),
                        }
                        // without decapsulation: the outer pair
                        let o_pkt = ip(parse(LinkType::Ethernet, &frame, &Decap::NONE));
                        assert_eq!(o_pkt.src, o.src);
                        assert_eq!(o_pkt.tunnels.depth, 0);
                    }
                }
            }
        }

        #[test]
        fn only_the_kinds_given_are_opened() {
            let raw = inner_flow(false, None).frame(true, synth::tcp_flags::ACK, 100);
            let o = Outer::example(false, &[]);
            for wrap in every_wrap() {
                let frame = o.wrap(wrap, &raw, 1);
                let kind = Encap::from_name(wrap.kind()).unwrap();
                let others: Vec<Encap> = Encap::ALL.into_iter().filter(|e| *e != kind).collect();
                let d = Decap::new(&others, &[4789]).unwrap();
                let p = ip(parse(LinkType::Ethernet, &frame, &d));
                assert_eq!(p.src, o.src, "{wrap:?} opened though not asked");
                assert_eq!(p.l4_error, None);
                let d = Decap::new(&[kind], &[4789]).unwrap();
                assert_eq!(ip(parse(LinkType::Ethernet, &frame, &d)).tunnels.depth, 1);
            }
            // VXLAN on another port only where it is given
            let frame = o.wrap(Wrap::Vxlan { vni: 1, port: 8472 }, &raw, 1);
            assert_eq!(decode(&frame).tunnels.depth, 0);
            let d = Decap::new(&Encap::ALL, &[4789, 8472]).unwrap();
            assert_eq!(ip(parse(LinkType::Ethernet, &frame, &d)).tunnels.depth, 1);
        }

        #[test]
        fn nested_up_to_the_depth_and_no_further() {
            let raw = inner_flow(false, None).frame(true, synth::tcp_flags::ACK, 100);
            let o = Outer::example(false, &[]);
            // ERSPAN carrying VXLAN carrying GRE
            let l3 = o.wrap(
                Wrap::GreTeb {
                    key: None,
                    seq: None,
                    checksum: false,
                },
                &raw,
                1,
            );
            let l2 = o.wrap(Wrap::Vxlan { vni: 5, port: 4789 }, &l3, 2);
            let l1 = o.wrap(
                Wrap::ErspanII {
                    vlan: 0,
                    session: 1,
                },
                &l2,
                3,
            );
            let p = decode(&l1);
            assert_eq!(p.tunnels.depth, 3);
            assert_eq!(&p.src[..4], &[10, 9, 8, 7]);
            let kinds: Vec<Encap> = p.tunnels.opened().map(|t| t.encap).collect();
            assert_eq!(kinds, vec![Encap::Erspan, Encap::Vxlan, Encap::Gre]);
            let wire = l1.len() as u32;
            let mut stripped = Vec::new();
            let inner = p.tunnels.unwrap_len(wire, |e, n| stripped.push((e, n)));
            assert_eq!(inner as usize, raw.len());
            assert_eq!(
                stripped,
                vec![
                    (Encap::Erspan, (l1.len() - l2.len()) as u32),
                    (Encap::Vxlan, (l2.len() - l3.len()) as u32),
                    (Encap::Gre, (l3.len() - raw.len()) as u32),
                ]
            );
            // one more is too deep: counted as the outermost packet
            let l0 = o.wrap(Wrap::Ipip, &synth::ethernet(&[], 0x0800, &l1[14..]), 4);
            let p = decode(&l0);
            assert_eq!(p.tunnels.depth, 0);
            assert_eq!(p.src, o.src);
            assert_eq!(
                p.l4_error,
                Some(ParseError::new(Layer::Tunnel, Reason::TooDeep))
            );
        }

        #[test]
        fn broken_and_foreign_tunnels_count_as_the_outer_packet() {
            let raw = inner_flow(false, None).frame(true, synth::tcp_flags::ACK, 100);
            let o = Outer::example(false, &[]);
            let outer_ip = |proto: u8, body: &[u8]| o.frame(proto, body, 1);
            let check = |frame: &[u8], err: Option<(Layer, Reason)>| {
                let p = decode(frame);
                assert_eq!(p.src, o.src, "{err:?}");
                assert_eq!(p.tunnels.depth, 0, "{err:?}");
                assert_eq!(p.l4_error, err.map(|(l, r)| ParseError::new(l, r)));
            };
            // GRE cut short
            check(
                &outer_ip(47, &[0x20, 0x00, 0x65, 0x58, 0]),
                Some((Layer::Gre, Reason::Truncated)),
            );
            // PPTP's GRE version 1: foreign, not broken
            check(&outer_ip(47, &[0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0]), None);
            // ERSPAN II header of the wrong version
            let (_, mut g) = payload(
                Wrap::ErspanII {
                    vlan: 0,
                    session: 1,
                },
                &raw,
                false,
                1,
            );
            g[8] = 0x20;
            check(&outer_ip(47, &g), Some((Layer::Erspan, Reason::BadVersion)));
            // GENEVE options longer than the packet
            let mut g6 = vec![0x3f, 0, 0x65, 0x58, 0, 0, 1, 0];
            g6.extend_from_slice(&[0; 20]);
            check(
                &outer_ip(17, &synth::tunnel::with_udp(1, 6081, &g6)),
                Some((Layer::Geneve, Reason::Truncated)),
            );
            // VXLAN header cut short
            check(
                &outer_ip(17, &synth::tunnel::with_udp(1, 4789, &[0x08, 0, 0])),
                Some((Layer::Vxlan, Reason::Truncated)),
            );
            // an inner frame too short for its IP header
            let (_, mut v) = payload(Wrap::Vxlan { vni: 1, port: 4789 }, &raw, false, 1);
            v.truncate(8 + 8 + 14 + 10);
            check(&outer_ip(17, &v), Some((Layer::Vxlan, Reason::BadInner)));
            // IP-in-IP of the wrong version
            let mut inner = raw[14..].to_vec();
            inner[0] = 0x65;
            check(&outer_ip(4, &inner), Some((Layer::Ipip, Reason::BadInner)));
            // a fragment of a tunnel packet is not opened
            let frag = synth::ethernet(
                &[],
                0x0800,
                &synth::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 4, (true, 0), &raw[14..]),
            );
            check(&frag, None);
            // a tunnel carrying ARP is not IP
            let arp = synth::ethernet(&[], 0x0806, &[0; 28]);
            let frame = o.wrap(Wrap::Vxlan { vni: 1, port: 4789 }, &arp, 1);
            assert_eq!(
                parse(LinkType::Ethernet, &frame, &Decap::default()),
                Outcome::NonIp { ethertype: 0x0806 }
            );
        }

        #[test]
        fn a_snapped_frame_counts_what_the_wire_carried() {
            let raw = inner_flow(false, None).frame(true, synth::tcp_flags::ACK, 1400);
            let frame = Outer::example(false, &[]).wrap(
                Wrap::ErspanII {
                    vlan: 0,
                    session: 1,
                },
                &raw,
                1,
            );
            // captured up to the inner TCP header only
            let p = decode(&frame[..14 + 20 + 8 + 8 + 14 + 20 + 20]);
            assert_eq!(p.dst_port, 443);
            assert_eq!(p.counted_len(frame.len() as u32) as usize, raw.len());
        }

        #[test]
        fn mpls_outside_and_the_encap_names() {
            let raw = inner_flow(false, None).frame(true, synth::tcp_flags::ACK, 100);
            let o = Outer::example(false, &[]);
            let f = o.wrap(Wrap::Vxlan { vni: 1, port: 4789 }, &raw, 1);
            let mpls = synth::ethernet(&[], 0x8847, &synth::mpls(&[16, 17], &f[14..]));
            assert_eq!(&decode(&mpls).src[..4], &[10, 9, 8, 7]);
            for e in Encap::ALL {
                assert_eq!(Encap::from_name(e.as_str()), Some(e));
            }
        }
    }
}
