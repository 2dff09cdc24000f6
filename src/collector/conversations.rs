//! Who opened a conversation: decided once, from its first packet, and
//! remembered while it is active, so both directions count under the same
//! service port and each under its own direction.

use super::snapshot::SeriesKey;
use crate::flow::FlowKey;
use crate::parse::{self, PortKind, icmp, tcp};

/// No series index cached yet.
pub(super) const NO_SERIES: u32 = u32::MAX;

/// Who opened a conversation and on which service port, and the series
/// its two directions count into. The opener is kept as a side of the
/// conversation's key ([`FlowKey::conversation`]), which every flow of it
/// gives back, rather than as an address: a million conversations are
/// 16 MB less.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Conversation {
    /// The opener is the source side of the conversation's key.
    client_first: bool,
    service: Option<u16>,
    pub(super) last_tick: u64,
    /// Flows of it that sit in a worker's table: it is remembered while
    /// any does, however long ago it was looked up.
    pub(super) live: u32,
    /// Indices of its entries in the ledger: [request, reply].
    pub(super) series: [u32; 2],
}

impl Conversation {
    /// Decides from the first packet seen of a conversation (`k` is its
    /// flow, `flags` its TCP flags):
    /// - TCP SYN without ACK, or any first UDP packet: the sender opened
    ///   it and the service port is the destination port;
    /// - TCP first seen mid-stream: the lower port if below 1024, else the
    ///   destination port of that first packet;
    /// - ICMP: the sender of the first packet, unless it is a reply type;
    /// - other protocols: the sender of the first packet.
    pub(super) fn decide(k: &FlowKey, flags: u8, tick: u64) -> Conversation {
        let (src, dst) = (k.src(), k.dst());
        let (sp, dp) = (k.src_port(), k.dst_port());
        // whether a side of `k` is the source side of its conversation's key
        let ck = k.conversation();
        let first = |addr: [u8; 16], port: u16| {
            ck.src() == addr && (k.port_kind() != PortKind::Ports || ck.src_port() == port)
        };
        let from_src = |service| Conversation {
            client_first: first(src, sp),
            service,
            last_tick: tick,
            live: 0,
            series: [NO_SERIES; 2],
        };
        match k.port_kind() {
            PortKind::Ports => {
                let is_tcp = k.proto() == parse::proto::TCP;
                let syn = flags & (tcp::flags::SYN | tcp::flags::ACK) == tcp::flags::SYN;
                let low = sp.min(dp);
                if !is_tcp || syn || low >= 1024 || dp == low {
                    from_src(Some(dp))
                } else {
                    // TCP mid-stream, and the low port is the sender's: this
                    // is the server answering.
                    Conversation {
                        client_first: first(dst, dp),
                        service: Some(low),
                        last_tick: tick,
                        live: 0,
                        series: [NO_SERIES; 2],
                    }
                }
            }
            PortKind::Icmp => {
                if icmp::is_reply_type(k.version() == 6, sp as u8) {
                    Conversation {
                        client_first: first(dst, 0),
                        service: None,
                        last_tick: tick,
                        live: 0,
                        series: [NO_SERIES; 2],
                    }
                } else {
                    from_src(None)
                }
            }
            PortKind::None => from_src(None),
        }
    }

    /// The address and port of the side that opened it, of which `k` is
    /// a flow.
    fn client(&self, k: &FlowKey) -> ([u8; 16], u16) {
        let ck = k.conversation();
        if self.client_first {
            (ck.src(), ck.src_port())
        } else {
            (ck.dst(), ck.dst_port())
        }
    }

    /// The address of the side that opened it, of which `k` is a flow.
    pub(super) fn client_addr(&self, k: &FlowKey) -> [u8; 16] {
        self.client(k).0
    }

    /// Is `addr` the side that opened it, of which `k` is a flow?
    pub(super) fn is_client(&self, k: &FlowKey, addr: &[u8; 16]) -> bool {
        self.client(k).0 == *addr
    }

    /// Is `k` a packet from the opening side?
    pub(super) fn is_request(&self, k: &FlowKey) -> bool {
        let (addr, port) = self.client(k);
        match self.service {
            Some(_) => k.src() == addr && k.src_port() == port,
            None => k.src() == addr,
        }
    }
}

/// The earliest flow of a not yet decided conversation within one shard.
#[derive(Clone, Copy)]
pub(super) struct Opener {
    pub(super) key: FlowKey,
    pub(super) first_ns: u64,
    pub(super) first_seq: u32,
    pub(super) flags: u8,
}

/// The series key flow `k` of conversation `c` counts under, and whether
/// it is the reply direction.
#[inline]
pub(super) fn series_key(c: &Conversation, k: &FlowKey) -> (SeriesKey, bool) {
    let reply = !c.is_request(k);
    let key = SeriesKey {
        version: k.version(),
        src: k.src(),
        dst: k.dst(),
        proto: k.proto(),
        port: if k.port_kind() == PortKind::Ports {
            c.service
        } else {
            None
        },
        reply,
    };
    (key, reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::v4_addr;

    fn tcp_key(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> FlowKey {
        FlowKey::new(4, v4_addr(src), v4_addr(dst), 6, PortKind::Ports, sp, dp, 0)
    }

    #[test]
    fn syn_opens_the_conversation() {
        let k = tcp_key([10, 0, 0, 1], 40000, [1, 1, 1, 1], 8443);
        let c = Conversation::decide(&k, tcp::flags::SYN, 0);
        assert_eq!(c.service, Some(8443));
        assert!(c.is_request(&k));
        assert!(!c.is_request(&k.reversed()));
    }

    #[test]
    fn mid_stream_tcp_takes_the_low_port() {
        // first seen: the server's answer from port 22
        let k = tcp_key([1, 1, 1, 1], 22, [10, 0, 0, 1], 50000);
        let c = Conversation::decide(&k, tcp::flags::ACK, 0);
        assert_eq!(c.service, Some(22));
        assert!(!c.is_request(&k));
        assert!(c.is_request(&k.reversed()));
        // both ports high: the destination of the first packet
        let k = tcp_key([1, 1, 1, 1], 5000, [10, 0, 0, 1], 6000);
        let c = Conversation::decide(&k, tcp::flags::ACK, 0);
        assert_eq!(c.service, Some(6000));
        assert!(c.is_request(&k));
        // a SYN+ACK is not an opener
        let k = tcp_key([1, 1, 1, 1], 443, [10, 0, 0, 1], 50000);
        let c = Conversation::decide(&k, tcp::flags::SYN | tcp::flags::ACK, 0);
        assert_eq!(c.service, Some(443));
        assert!(c.is_request(&k.reversed()));
    }

    #[test]
    fn the_opener_is_known_from_either_direction() {
        // the opener on either side of the conversation's key, with the
        // same address on both sides told apart by the port
        for (src, sp, dst, dp) in [
            ([10, 0, 0, 1], 40000, [1, 1, 1, 1], 80),
            ([1, 1, 1, 1], 40000, [10, 0, 0, 1], 80),
            ([10, 0, 0, 1], 40000, [10, 0, 0, 1], 80),
            ([10, 0, 0, 1], 80, [10, 0, 0, 1], 40000),
        ] {
            let k = tcp_key(src, sp, dst, dp);
            let c = Conversation::decide(&k, tcp::flags::SYN, 0);
            for f in [k, k.reversed()] {
                assert_eq!(c.client_addr(&f), v4_addr(src), "{k:?}");
                assert!(c.is_client(&f, &v4_addr(src)));
                assert_eq!(c.is_request(&f), f == k, "{f:?}");
            }
        }
    }

    #[test]
    fn first_udp_packet_opens() {
        let k = FlowKey::new(
            4,
            v4_addr([1; 4]),
            v4_addr([2; 4]),
            17,
            PortKind::Ports,
            53,
            40000,
            0,
        );
        let c = Conversation::decide(&k, 0, 0);
        assert_eq!(c.service, Some(40000));
        assert!(c.is_request(&k));
    }

    #[test]
    fn icmp_echo_reply_first_makes_the_other_side_the_client() {
        let reply = FlowKey::new(
            4,
            v4_addr([1; 4]),
            v4_addr([2; 4]),
            1,
            PortKind::Icmp,
            0,
            0,
            0,
        );
        let c = Conversation::decide(&reply, 0, 0);
        assert_eq!(c.service, None);
        assert!(!c.is_request(&reply));
        let echo = FlowKey::new(
            4,
            v4_addr([2; 4]),
            v4_addr([1; 4]),
            1,
            PortKind::Icmp,
            8,
            0,
            0,
        );
        assert!(c.is_request(&echo));
    }
}
