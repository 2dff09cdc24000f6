//! Hand-written zero-copy packet parsing, one file per header.
//!
//! [`parse`] is the top-level decoder. It is lax: it returns what it could
//! parse and, when it stopped early, at which layer and why. Once an IP
//! header is valid the packet always belongs to its host pair; a damaged
//! transport header only loses the ports. Nothing here allocates, logs or
//! panics, whatever the input.

pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod pppoe;
pub mod sll;
pub mod tcp;
pub mod udp;
pub mod vlan;

use ethernet::{EthernetFrame, ethertype};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most VLAN tags walked (802.1Q, QinQ and one more).
pub const MAX_VLAN_TAGS: usize = 3;
/// Most MPLS labels walked before giving up.
pub const MAX_MPLS_LABELS: usize = 8;
/// Most IPv6 extension headers walked before giving up.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// IP protocol numbers the decoder looks into.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
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
}

impl Layer {
    pub const COUNT: usize = 11;
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
        }
    }

    /// Does a packet that failed at this layer still count under a host pair?
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
}

impl Reason {
    pub const COUNT: usize = 8;

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
        }
    }
}

/// Every (layer, reason) pair the decoder can produce: the label sets of
/// `ringflow_parse_errors_total`, exported from the start at 0.
pub const ERROR_KINDS: [ParseError; 22] = {
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
    /// counts under its host pair, without ports.
    pub l4_error: Option<ParseError>,
    /// The IP datagram's length as its header states it (IPv4 total
    /// length, IPv6 40 + payload length), 0 where the header leaves it
    /// open (a TSO or GSO capture, a jumbogram).
    pub ip_len: u32,
    /// Bytes captured from the IP header on: what came before it in the
    /// frame is the link layer.
    pub ip_captured: u32,
}

impl Packet {
    /// The bytes of a frame of `orig_len` bytes on the wire (`captured`
    /// in hand) that lie outside its IP datagram: link-layer headers,
    /// padding and trailers. What is left is the IP-layer length routers
    /// report (RFC 7012's `octetDeltaCount`).
    #[inline]
    pub fn outside_ip(&self, orig_len: u32, captured: usize) -> u32 {
        if self.ip_len != 0 {
            orig_len.saturating_sub(self.ip_len)
        } else {
            (captured as u32)
                .saturating_sub(self.ip_captured)
                .min(orig_len)
        }
    }

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

/// Decodes one frame of the given link type.
#[inline]
pub fn parse(link: LinkType, data: &[u8]) -> Outcome {
    match link {
        LinkType::Ethernet => match EthernetFrame::new_checked(data) {
            Ok(eth) => parse_ethertype(eth.ethertype(), eth.payload()),
            Err(r) => fail(Layer::Link, r),
        },
        LinkType::LinuxSll => match sll::SllHeader::new_checked(data) {
            Ok(h) => parse_ethertype(h.protocol(), h.payload()),
            Err(r) => fail(Layer::Link, r),
        },
        LinkType::LinuxSll2 => match sll::Sll2Header::new_checked(data) {
            Ok(h) => parse_ethertype(h.protocol(), h.payload()),
            Err(r) => fail(Layer::Link, r),
        },
        LinkType::RawIp => match data.first().map(|b| b >> 4) {
            Some(4) => parse_ipv4(data, 0),
            Some(6) => parse_ipv6(data, 0),
            Some(_) => fail(Layer::Link, Reason::BadVersion),
            None => fail(Layer::Link, Reason::Truncated),
        },
        LinkType::Ipv4 => parse_ipv4(data, 0),
        LinkType::Ipv6 => parse_ipv6(data, 0),
    }
}

/// Dispatches on an ethertype, walking VLAN tags first.
fn parse_ethertype(mut et: u16, mut data: &[u8]) -> Outcome {
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
            ethertype::IPV4 => return parse_ipv4(data, vid),
            ethertype::IPV6 => return parse_ipv6(data, vid),
            ethertype::MPLS_UNICAST | ethertype::MPLS_MULTICAST => {
                return parse_mpls(et, data, vid);
            }
            ethertype::PPPOE_SESSION => return parse_pppoe(data, vid),
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

fn parse_mpls(et: u16, mut data: &[u8], vid: u16) -> Outcome {
    for _ in 0..MAX_MPLS_LABELS {
        let entry = match mpls::MplsEntry::new_checked(data) {
            Ok(e) => e,
            Err(r) => return fail(Layer::Mpls, r),
        };
        data = entry.payload();
        if entry.bottom() {
            return match data.first().map(|b| b >> 4) {
                Some(4) => parse_ipv4(data, vid),
                Some(6) => parse_ipv6(data, vid),
                // A pseudowire or other non-IP payload.
                Some(_) => Outcome::NonIp { ethertype: et },
                None => fail(Layer::Mpls, Reason::Truncated),
            };
        }
    }
    fail(Layer::Mpls, Reason::TooManyLabels)
}

fn parse_pppoe(data: &[u8], vid: u16) -> Outcome {
    match pppoe::PppoeSession::new_checked(data) {
        Ok(s) => match s.protocol() {
            pppoe::ppp::IPV4 => parse_ipv4(s.payload(), vid),
            pppoe::ppp::IPV6 => parse_ipv6(s.payload(), vid),
            // LCP, IPCP, ...: PPP control traffic.
            _ => Outcome::NonIp {
                ethertype: ethertype::PPPOE_SESSION,
            },
        },
        Err(r) => fail(Layer::Pppoe, r),
    }
}

#[inline]
fn parse_ipv4(data: &[u8], vid: u16) -> Outcome {
    let ip = match ipv4::Ipv4Packet::new_checked(data) {
        Ok(p) => p,
        Err(r) => return fail(Layer::Ipv4, r),
    };
    let mut pkt = Packet::new(4, v4_addr(ip.src()), v4_addr(ip.dst()), ip.protocol(), vid);
    pkt.ip_len = u32::from(ip.total_len());
    pkt.ip_captured = data.len() as u32;
    // Only the first fragment carries the transport header.
    if ip.frag_offset() == 0 {
        parse_transport(&mut pkt, ip.payload());
    }
    Outcome::Ip(pkt)
}

#[inline]
fn parse_ipv6(data: &[u8], vid: u16) -> Outcome {
    let ip = match ipv6::Ipv6Packet::new_checked(data) {
        Ok(p) => p,
        Err(r) => return fail(Layer::Ipv6, r),
    };
    let mut nh = ip.next_header();
    let mut pkt = Packet::new(6, ip.src(), ip.dst(), nh, vid);
    if ip.payload_len() != 0 {
        pkt.ip_len = ipv6::HEADER_LEN as u32 + u32::from(ip.payload_len());
    }
    pkt.ip_captured = data.len() as u32;
    let mut rest = ip.payload();
    let mut walked = 0;
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
    Outcome::Ip(pkt)
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
}
