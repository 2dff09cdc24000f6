//! Flow keys and the per-worker flow table.

pub mod dedup;
pub mod map;
pub mod table;

pub use table::{Arrival, Changes, FlowStats, FlowTables, TablesView, V4, V6};

use crate::parse::{Packet, PortKind, to_ip};
use std::net::IpAddr;

/// A directional flow: IP version, source, destination, protocol, ports
/// (or ICMP type and code) and VLAN id, packed into five words so that
/// hashing and comparing are a handful of integer operations.
///
/// Words 0-1 hold the source address, 2-3 the destination (big-endian, so
/// the derived order is the address order), word 4 the rest:
/// `meta << 56 | proto << 48 | iface << 44 | vlan << 32 | src_port << 16 |
/// dst_port`, where `meta` is the IP version in the low nibble and the
/// [`PortKind`] above it, and `iface` the capture interface's number.
#[derive(Clone, Copy, Eq, PartialOrd, Ord, Default, Debug)]
pub struct FlowKey {
    w: [u64; 5],
}

impl PartialEq for FlowKey {
    /// Word-wise: the derived `==` on the array calls `memcmp`.
    #[inline]
    fn eq(&self, other: &FlowKey) -> bool {
        self.same(other)
    }
}

impl std::hash::Hash for FlowKey {
    /// Five words, so a hasher mixes five integers rather than a byte slice.
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for w in self.w {
            state.write_u64(w);
        }
    }
}

impl FlowKey {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        version: u8,
        src: [u8; 16],
        dst: [u8; 16],
        proto: u8,
        port_kind: PortKind,
        src_port: u16,
        dst_port: u16,
        vlan: u16,
    ) -> FlowKey {
        let s = u128::from_be_bytes(src);
        let d = u128::from_be_bytes(dst);
        let meta = u64::from(version & 0x0f) | (port_kind as u64) << 4;
        FlowKey {
            w: [
                (s >> 64) as u64,
                s as u64,
                (d >> 64) as u64,
                d as u64,
                meta << 56
                    | u64::from(proto) << 48
                    | u64::from(vlan) << 32
                    | u64::from(src_port) << 16
                    | u64::from(dst_port),
            ],
        }
    }

    #[inline]
    pub fn from_packet(p: &Packet) -> FlowKey {
        FlowKey::new(
            p.version,
            p.src,
            p.dst,
            p.proto,
            p.port_kind,
            p.src_port,
            p.dst_port,
            p.vlan,
        )
    }

    #[inline]
    pub fn version(&self) -> u8 {
        (self.w[4] >> 56) as u8 & 0x0f
    }

    #[inline]
    pub fn port_kind(&self) -> PortKind {
        match (self.w[4] >> 60) & 0x3 {
            1 => PortKind::Ports,
            2 => PortKind::Icmp,
            _ => PortKind::None,
        }
    }

    #[inline]
    pub fn proto(&self) -> u8 {
        (self.w[4] >> 48) as u8
    }

    /// The VLAN id (12 bits).
    #[inline]
    pub fn vlan(&self) -> u16 {
        (self.w[4] >> 32) as u16 & 0x0fff
    }

    /// The number of the capture interface the flow was seen on (the 4
    /// bits above the VLAN id; 0 in a replay).
    #[inline]
    pub fn iface(&self) -> u8 {
        (self.w[4] >> 44) as u8 & 0x0f
    }

    /// The key of the same flow seen on capture interface number `n` (at
    /// most 15): flows of different interfaces are different flows.
    #[inline]
    pub fn with_iface(mut self, n: u8) -> FlowKey {
        self.w[4] = self.w[4] & !(0xf << 44) | u64::from(n & 0x0f) << 44;
        self
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        (self.w[4] >> 16) as u16
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        self.w[4] as u16
    }

    #[inline]
    pub fn src(&self) -> [u8; 16] {
        (u128::from(self.w[0]) << 64 | u128::from(self.w[1])).to_be_bytes()
    }

    #[inline]
    pub fn dst(&self) -> [u8; 16] {
        (u128::from(self.w[2]) << 64 | u128::from(self.w[3])).to_be_bytes()
    }

    pub fn src_ip(&self) -> IpAddr {
        to_ip(self.version(), self.src())
    }

    pub fn dst_ip(&self) -> IpAddr {
        to_ip(self.version(), self.dst())
    }

    /// Equality as five word compares folded into one branch; the derived
    /// `==` on the array compiles to a `memcmp` call.
    #[inline]
    pub fn same(&self, other: &FlowKey) -> bool {
        let (a, b) = (&self.w, &other.w);
        ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0
    }

    /// The key as five words (the IPv6 table's slot key).
    #[inline]
    pub fn words(&self) -> [u64; 5] {
        self.w
    }

    pub fn from_words(w: [u64; 5]) -> FlowKey {
        FlowKey { w }
    }

    /// An IPv4 key in two words (the IPv4 table's slot key): both
    /// addresses, then the word of protocol, ports and VLAN. An IPv4
    /// address sits in the top 32 bits of its 16 bytes.
    #[inline]
    pub fn v4_words(&self) -> [u64; 2] {
        [self.w[0] & !0xffff_ffff | self.w[2] >> 32, self.w[4]]
    }

    pub fn from_v4_words(w: [u64; 2]) -> FlowKey {
        FlowKey {
            w: [w[0] & !0xffff_ffff, 0, w[0] << 32, 0, w[1]],
        }
    }

    /// The same flow seen from the other side.
    pub fn reversed(&self) -> FlowKey {
        let w4 = self.w[4];
        let ports = (w4 & 0xffff) << 16 | (w4 >> 16) & 0xffff;
        FlowKey {
            w: [
                self.w[2],
                self.w[3],
                self.w[0],
                self.w[1],
                w4 & !0xffff_ffff | ports,
            ],
        }
    }

    /// The key both directions of a conversation share: ports are kept only
    /// when they are ports (ICMP type and code are dropped, so a request and
    /// its reply meet), and the lower (address, port) side comes first.
    pub fn conversation(&self) -> FlowKey {
        let mut k = *self;
        if k.port_kind() != PortKind::Ports {
            k.w[4] &= !0xffff_ffff;
        }
        let fwd = (k.w[0], k.w[1], k.src_port());
        let rev = (k.w[2], k.w[3], k.dst_port());
        if fwd > rev { k.reversed() } else { k }
    }

    /// A keyed hash for the flow table (folded multiplies, as in foldhash).
    #[inline]
    pub fn hash(&self, seed: u64) -> u64 {
        let w = &self.w;
        let a = fold_mul(w[0] ^ seed, w[1] ^ K1);
        let b = fold_mul(w[2] ^ K2, w[3] ^ seed);
        let c = fold_mul(w[4] ^ K3, a ^ K4);
        fold_mul(b ^ K5, c ^ seed)
    }

    /// A hash that is the same for both directions: what RSS with a
    /// symmetric key does, so one worker sees both halves of a flow.
    #[inline]
    pub fn symmetric_hash(&self) -> u64 {
        let w = &self.w;
        // ICMP type and code differ between a request and its reply
        let ports = if self.port_kind() == PortKind::Ports {
            u64::from(self.src_port() ^ self.dst_port())
        } else {
            0
        };
        let rest = w[4] & !0xffff_ffff | ports;
        let a = fold_mul(w[0] ^ w[2] ^ K1, w[1] ^ w[3] ^ K2);
        fold_mul(a ^ K3, rest ^ K4)
    }
}

const K1: u64 = 0x243f_6a88_85a3_08d3;
const K2: u64 = 0x1319_8a2e_0370_7344;
const K3: u64 = 0xa409_3822_299f_31d0;
const K4: u64 = 0x082e_fa98_ec4e_6c89;
const K5: u64 = 0x4528_21e6_38d0_1377;

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ (full >> 64) as u64
}

/// A keyed hasher for the collector's maps (folded multiplies): much
/// cheaper than SipHash on fixed-size keys, and seeded at random so that
/// nobody outside can aim traffic at one bucket.
#[derive(Clone, Copy, Debug)]
pub struct FastState(u64);

impl Default for FastState {
    fn default() -> Self {
        FastState(random_seed())
    }
}

impl std::hash::BuildHasher for FastState {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            self.write_u64(w);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ (rest.len() as u64) << 59);
        }
    }

    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.0 = fold_mul(self.0 ^ x, K5);
    }

    #[inline]
    fn write_u8(&mut self, x: u8) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_u16(&mut self, x: u16) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    #[inline]
    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.0, K4)
    }
}

/// A random seed, so that nobody outside can aim traffic at one bucket.
pub fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
}

/// Distinct keys for table tests: flow `i` is from address `i` (as IPv4).
#[cfg(test)]
pub(crate) fn numbered(i: u32) -> FlowKey {
    FlowKey::new(
        4,
        crate::parse::v4_addr(i.to_be_bytes()),
        crate::parse::v4_addr([9; 4]),
        17,
        PortKind::Ports,
        1000,
        53,
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::v4_addr;

    fn key(src: [u8; 4], sp: u16, dst: [u8; 4], dp: u16) -> FlowKey {
        FlowKey::new(4, v4_addr(src), v4_addr(dst), 6, PortKind::Ports, sp, dp, 7)
    }

    fn icmp_key(src: u8, dst: u8, msg_type: u16) -> FlowKey {
        let (s, d) = (v4_addr([src; 4]), v4_addr([dst; 4]));
        FlowKey::new(4, s, d, 1, PortKind::Icmp, msg_type, 0, 0)
    }

    #[test]
    fn fields_round_trip() {
        let k = key([10, 0, 0, 1], 40000, [1, 2, 3, 4], 443);
        assert_eq!(k.version(), 4);
        assert_eq!(k.port_kind(), PortKind::Ports);
        assert_eq!(k.proto(), 6);
        assert_eq!(k.vlan(), 7);
        assert_eq!((k.src_port(), k.dst_port()), (40000, 443));
        assert_eq!(k.src_ip().to_string(), "10.0.0.1");
        assert_eq!(k.dst_ip().to_string(), "1.2.3.4");
        let v6 = FlowKey::new(6, [0xfd; 16], [0x20; 16], 58, PortKind::Icmp, 128, 0, 0);
        assert_eq!(v6.src(), [0xfd; 16]);
        assert_eq!(v6.dst(), [0x20; 16]);
        assert_eq!(v6.port_kind(), PortKind::Icmp);
        assert_eq!(v6.version(), 6);
    }

    /// The interface number sits beside the VLAN id, changes neither, and
    /// makes another flow; it survives the IPv4 table's two words and the
    /// reversal.
    #[test]
    fn the_interface_number_is_part_of_the_key() {
        let k = key([10, 0, 0, 1], 40000, [1, 2, 3, 4], 443);
        assert_eq!(k.iface(), 0);
        let on = k.with_iface(11);
        assert_eq!((on.iface(), on.vlan(), on.proto()), (11, 7, 6));
        assert_eq!((on.src_port(), on.dst_port()), (40000, 443));
        assert_ne!(on, k);
        assert_ne!(on.hash(1), k.hash(1));
        assert_eq!(FlowKey::from_v4_words(on.v4_words()), on);
        assert_eq!(on.reversed().iface(), 11);
        assert_eq!(on.with_iface(0), k);
        assert_eq!(k.with_iface(0x1f).iface(), 15);
    }

    #[test]
    fn ipv4_keys_fit_two_words() {
        let k = key([10, 0, 0, 1], 40000, [1, 2, 3, 4], 443);
        assert_eq!(FlowKey::from_v4_words(k.v4_words()), k);
        assert_eq!(FlowKey::from_words(k.words()), k);
    }

    #[test]
    fn reversed_swaps_sides() {
        let k = key([10, 0, 0, 1], 40000, [1, 2, 3, 4], 443);
        let r = k.reversed();
        assert_eq!(r, key([1, 2, 3, 4], 443, [10, 0, 0, 1], 40000));
        assert_eq!(r.reversed(), k);
    }

    #[test]
    fn conversation_is_shared_by_both_directions() {
        let k = key([10, 0, 0, 1], 40000, [1, 2, 3, 4], 443);
        assert_eq!(k.conversation(), k.reversed().conversation());
        let echo = icmp_key(1, 2, 8);
        let reply = icmp_key(2, 1, 0);
        assert_eq!(echo.conversation(), reply.conversation());
    }

    #[test]
    fn symmetric_hash_ignores_direction() {
        let k = key([10, 0, 0, 1], 40000, [1, 2, 3, 4], 443);
        assert_eq!(k.symmetric_hash(), k.reversed().symmetric_hash());
        assert_ne!(
            k.symmetric_hash(),
            key([10, 0, 0, 2], 40000, [1, 2, 3, 4], 443).symmetric_hash()
        );
        assert_ne!(k.hash(1), k.reversed().hash(1));
        let echo = icmp_key(1, 2, 8);
        let reply = icmp_key(2, 1, 0);
        assert_eq!(echo.symmetric_hash(), reply.symmetric_hash());
    }
}
