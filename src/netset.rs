//! Sets of IPv4 and IPv6 networks with longest-prefix lookup, and the
//! direction classes ringflow sorts flows into.
//!
//! A set is a binary trie per IP version: a lookup walks at most 32 or 128
//! nodes, one per address bit, whatever the number of networks, and stops
//! as soon as no longer prefix can match.

use std::fmt;
use std::net::IpAddr;

/// One network, `addr/len`, with the host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// 4 or 6.
    pub version: u8,
    /// IPv4 in the first 4 bytes.
    pub addr: [u8; 16],
    pub len: u8,
}

impl Cidr {
    /// Whether `addr` (of IP `version`) is inside this network.
    pub fn contains(&self, version: u8, addr: &[u8; 16]) -> bool {
        if version != self.version {
            return false;
        }
        let full = usize::from(self.len / 8);
        let rest = self.len % 8;
        if addr[..full] != self.addr[..full] {
            return false;
        }
        rest == 0 || {
            let mask = 0xffu8 << (8 - rest);
            addr[full] & mask == self.addr[full] & mask
        }
    }

    /// Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128).
    /// Host bits set under the prefix are an error: `10.0.0.1/8` is almost
    /// always a typo for `10.0.0.1/32` or `10.0.0.0/8`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        // errors quote the input with control characters escaped, so
        // that they stay one line whatever the input holds
        let shown = s.escape_debug();
        let (ip, len) = match s.split_once('/') {
            Some((ip, len)) => (ip, Some(len)),
            None => (s, None),
        };
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("bad network '{shown}' (example: 10.0.0.0/8 or fd00::/8)"))?;
        let (version, addr, max) = match ip {
            IpAddr::V4(a) => (4, crate::parse::v4_addr(a.octets()), 32),
            IpAddr::V6(a) => (6, a.octets(), 128),
        };
        let len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(l) if l <= max => l,
                _ => return Err(format!("bad prefix length in '{shown}' (0 to {max})")),
            },
        };
        let c = Cidr { version, addr, len };
        if c.masked().addr != addr {
            return Err(format!(
                "network '{shown}' has host bits set under its /{len} (did you mean {}?)",
                c.masked()
            ));
        }
        Ok(c)
    }

    /// The network `len` bits long that holds `ip` (a longer `len` is cut
    /// to the address's length).
    pub fn network_of(ip: IpAddr, len: u8) -> Cidr {
        let (version, addr, max) = match ip {
            IpAddr::V4(a) => (4, crate::parse::v4_addr(a.octets()), 32),
            IpAddr::V6(a) => (6, a.octets(), 128),
        };
        Cidr {
            version,
            addr,
            len: len.min(max),
        }
        .masked()
    }

    fn masked(self) -> Cidr {
        let mut addr = self.addr;
        for (i, b) in addr.iter_mut().enumerate() {
            let bit = i * 8;
            if bit >= usize::from(self.len) {
                *b = 0;
            } else if bit + 8 > usize::from(self.len) {
                *b &= 0xffu8 << (8 - (usize::from(self.len) - bit));
            }
        }
        Cidr { addr, ..self }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            crate::parse::to_ip(self.version, self.addr),
            self.len
        )
    }
}

/// Parses a comma-separated list (or several), e.g. `10.0.0.0/8,fd00::/8`.
pub fn parse_list<S: AsRef<str>>(items: &[S]) -> Result<Vec<Cidr>, String> {
    items
        .iter()
        .flat_map(|s| s.as_ref().split(','))
        .filter(|s| !s.trim().is_empty())
        .map(Cidr::parse)
        .collect()
}

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node {
    child: [u32; 2],
    /// Index of the network ending at this node, or NONE.
    net: u32,
}

const EMPTY: Node = Node {
    child: [NONE; 2],
    net: NONE,
};

/// A set of networks of both IP versions.
#[derive(Clone)]
pub struct NetSet {
    nets: Vec<Cidr>,
    /// Tries for IPv4 and IPv6; node 0 is the root.
    tries: [Vec<Node>; 2],
}

impl fmt::Debug for NetSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.nets).finish()
    }
}

impl NetSet {
    pub fn new(nets: &[Cidr]) -> NetSet {
        let mut set = NetSet {
            nets: Vec::new(),
            tries: [vec![EMPTY], vec![EMPTY]],
        };
        for c in nets {
            if !set.nets.contains(c) {
                set.insert(*c);
            }
        }
        set
    }

    fn insert(&mut self, c: Cidr) {
        let id = self.nets.len() as u32;
        self.nets.push(c);
        let trie = &mut self.tries[usize::from(c.version == 6)];
        let mut n = 0usize;
        for i in 0..usize::from(c.len) {
            let b = usize::from(bit(&c.addr, i));
            if trie[n].child[b] == NONE {
                trie.push(EMPTY);
                let new = (trie.len() - 1) as u32;
                trie[n].child[b] = new;
            }
            n = trie[n].child[b] as usize;
        }
        trie[n].net = id;
    }

    /// The networks, in the order given (duplicates dropped).
    pub fn networks(&self) -> &[Cidr] {
        &self.nets
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The longest network that holds `addr`, if any.
    pub fn longest_match(&self, version: u8, addr: &[u8; 16]) -> Option<Cidr> {
        let trie = &self.tries[usize::from(version == 6)];
        let bits = if version == 6 { 128 } else { 32 };
        let mut best = trie[0].net;
        let mut n = 0usize;
        for i in 0..bits {
            let next = trie[n].child[usize::from(bit(addr, i))];
            if next == NONE {
                break;
            }
            n = next as usize;
            if trie[n].net != NONE {
                best = trie[n].net;
            }
        }
        (best != NONE).then(|| self.nets[best as usize])
    }

    /// Whether any network holds `addr`: stops at the first, shortest, match.
    #[inline]
    pub fn contains(&self, version: u8, addr: &[u8; 16]) -> bool {
        let trie = &self.tries[usize::from(version == 6)];
        let bits = if version == 6 { 128 } else { 32 };
        let mut n = 0usize;
        for i in 0..bits {
            if trie[n].net != NONE {
                return true;
            }
            let next = trie[n].child[usize::from(bit(addr, i))];
            if next == NONE {
                return false;
            }
            n = next as usize;
        }
        trie[n].net != NONE
    }
}

#[inline]
fn bit(addr: &[u8; 16], i: usize) -> u8 {
    (addr[i / 8] >> (7 - i % 8)) & 1
}

/// Which way a flow crosses the edge of the local networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Local source, non-local destination.
    Outgoing,
    /// Non-local source, local destination.
    Incoming,
    /// Both local, the same or two different local networks.
    Internal,
    /// Neither side local (what a SPAN port on a transit link shows).
    Transit,
}

impl Class {
    pub const ALL: [Class; 4] = [
        Class::Outgoing,
        Class::Incoming,
        Class::Internal,
        Class::Transit,
    ];

    pub fn of(src_local: bool, dst_local: bool) -> Class {
        match (src_local, dst_local) {
            (true, false) => Class::Outgoing,
            (false, true) => Class::Incoming,
            (true, true) => Class::Internal,
            (false, false) => Class::Transit,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Class::Outgoing => "outgoing",
            Class::Incoming => "incoming",
            Class::Internal => "internal",
            Class::Transit => "transit",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// Local, monitored and excluded networks, as the collector applies them.
#[derive(Debug, Clone)]
pub struct Networks {
    pub local: NetSet,
    /// Hosts counted per IP: inside `monitor`, outside `exclude`.
    pub monitor: NetSet,
    pub exclude: NetSet,
}

impl Networks {
    /// With no `monitor` networks, the local networks are monitored.
    pub fn new(local: &[Cidr], monitor: &[Cidr], exclude: &[Cidr]) -> Networks {
        let local = NetSet::new(local);
        let monitor = if monitor.is_empty() {
            local.clone()
        } else {
            NetSet::new(monitor)
        };
        Networks {
            local,
            monitor,
            exclude: NetSet::new(exclude),
        }
    }

    pub fn is_local(&self, version: u8, addr: &[u8; 16]) -> bool {
        self.local.contains(version, addr)
    }

    pub fn is_monitored(&self, version: u8, addr: &[u8; 16]) -> bool {
        self.monitor.contains(version, addr) && !self.exclude.contains(version, addr)
    }

    pub fn class(&self, version: u8, src: &[u8; 16], dst: &[u8; 16]) -> Class {
        Class::of(self.is_local(version, src), self.is_local(version, dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> (u8, [u8; 16]) {
        match s.parse::<IpAddr>().unwrap() {
            IpAddr::V4(a) => (4, crate::parse::v4_addr(a.octets())),
            IpAddr::V6(a) => (6, a.octets()),
        }
    }

    fn set(nets: &[&str]) -> NetSet {
        NetSet::new(&parse_list(nets).unwrap())
    }

    #[test]
    fn parses_networks_and_refuses_bad_ones() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert_eq!(
            (c.version, c.len, c.to_string()),
            (4, 16, "10.1.0.0/16".into())
        );
        assert_eq!(Cidr::parse("fd00::/8").unwrap().to_string(), "fd00::/8");
        assert_eq!(Cidr::parse("192.0.2.7").unwrap().len, 32);
        assert_eq!(Cidr::parse("2001:db8::1").unwrap().len, 128);
        assert!(Cidr::parse("10.0.0.0/33").unwrap_err().contains("0 to 32"));
        assert!(Cidr::parse("fd00::/129").unwrap_err().contains("0 to 128"));
        assert!(
            Cidr::parse("10.0.0.300/8")
                .unwrap_err()
                .contains("bad network")
        );
        let e = Cidr::parse("10.0.0.1/8").unwrap_err();
        assert!(e.contains("host bits") && e.contains("10.0.0.0/8"), "{e}");
        assert_eq!(
            parse_list(&["10.0.0.0/8, 192.168.0.0/16", ""])
                .unwrap()
                .len(),
            2
        );
    }

    /// From the CIDR fuzz target: an error quoted the input as it was, so
    /// a newline in it made the error two lines.
    #[test]
    fn errors_stay_one_line_whatever_the_input_holds() {
        for bad in [
            "10.0.0.0/0 \n33",
            "10.0.0.0/8\nx",
            "10.0.0.1/8\r\n7",
            "x\ny",
        ] {
            let e = Cidr::parse(bad).unwrap_err();
            assert!(!e.contains('\n') && !e.contains('\r'), "{e:?}");
        }
        assert_eq!(
            Cidr::parse("10.0.0.0/0 \n33").unwrap_err(),
            "bad prefix length in '10.0.0.0/0 \\n33' (0 to 32)"
        );
    }

    #[test]
    fn longest_prefix_wins() {
        let s = set(&[
            "10.0.0.0/8",
            "10.1.0.0/16",
            "10.1.2.0/24",
            "fd00::/8",
            "fd00:213::/64",
        ]);
        let (v, x) = a("10.1.2.3");
        assert_eq!(s.longest_match(v, &x).unwrap().to_string(), "10.1.2.0/24");
        let (v, x) = a("10.1.3.3");
        assert_eq!(s.longest_match(v, &x).unwrap().to_string(), "10.1.0.0/16");
        let (v, x) = a("10.9.9.9");
        assert_eq!(s.longest_match(v, &x).unwrap().to_string(), "10.0.0.0/8");
        let (v, x) = a("11.0.0.1");
        assert_eq!(s.longest_match(v, &x), None);
        assert!(!s.contains(v, &x));
        let (v, x) = a("fd00:213::5");
        assert_eq!(s.longest_match(v, &x).unwrap().to_string(), "fd00:213::/64");
        let (v, x) = a("fd00:214::5");
        assert_eq!(s.longest_match(v, &x).unwrap().to_string(), "fd00::/8");
        // an IPv4 address whose bytes look like an IPv6 prefix does not match
        let (_, x) = a("253.0.0.1");
        assert!(!s.contains(4, &x));
    }

    #[test]
    fn zero_length_and_host_routes() {
        let all = set(&["0.0.0.0/0"]);
        assert!(all.contains(4, &a("203.0.113.9").1));
        assert!(!all.contains(6, &a("2001:db8::1").1));
        let host = set(&["192.0.2.7", "2001:db8::1"]);
        assert!(host.contains(4, &a("192.0.2.7").1));
        assert!(!host.contains(4, &a("192.0.2.6").1));
        assert!(host.contains(6, &a("2001:db8::1").1));
        assert!(!host.contains(6, &a("2001:db8::2").1));
    }

    #[test]
    fn agrees_with_a_linear_scan() {
        let mut rng = crate::tools::synth::Rng::new(5);
        let mut nets = Vec::new();
        for _ in 0..200 {
            let len = rng.below(33) as u8;
            let mut addr = [0u8; 16];
            addr[..4].copy_from_slice(&(rng.next_u64() as u32).to_be_bytes());
            nets.push(
                Cidr {
                    version: 4,
                    addr,
                    len,
                }
                .masked(),
            );
        }
        let s = NetSet::new(&nets);
        for _ in 0..20_000 {
            let mut addr = [0u8; 16];
            let base = nets[rng.below(nets.len() as u64) as usize].addr;
            addr[..4].copy_from_slice(&base[..4]);
            addr[3] ^= rng.below(4) as u8; // near a network, in or just out
            let best = nets
                .iter()
                .filter(|c| Cidr { addr, ..**c }.masked().addr == c.addr)
                .max_by_key(|c| c.len)
                .copied();
            assert_eq!(s.longest_match(4, &addr), best);
            assert_eq!(s.contains(4, &addr), best.is_some());
        }
    }

    /// The private and link-local ranges of both versions as local.
    fn private_local() -> Networks {
        let local = [
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
            "fe80::/10",
        ];
        Networks::new(&parse_list(&local).unwrap(), &[], &[])
    }

    #[test]
    fn classes() {
        let n = private_local();
        let c = |s: &str, d: &str| n.class(a(s).0, &a(s).1, &a(d).1);
        assert_eq!(c("10.0.0.1", "93.184.216.34"), Class::Outgoing);
        assert_eq!(c("93.184.216.34", "192.168.1.1"), Class::Incoming);
        // two different local networks: internal, never internet
        assert_eq!(c("10.0.0.1", "192.168.1.1"), Class::Internal);
        assert_eq!(c("172.16.5.5", "172.31.0.1"), Class::Internal);
        assert_eq!(c("8.8.8.8", "1.1.1.1"), Class::Transit);
        assert_eq!(c("fd00::1", "2001:db8::1"), Class::Outgoing);
        assert_eq!(c("fe80::1", "fd12::1"), Class::Internal);
    }

    #[test]
    fn monitored_is_monitor_minus_exclude_and_defaults_to_local() {
        let n = private_local();
        assert!(n.is_monitored(4, &a("10.2.3.4").1));
        assert!(!n.is_monitored(4, &a("8.8.8.8").1));
        let m = Networks::new(
            &parse_list(&[
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "fc00::/7",
                "fe80::/10",
            ])
            .unwrap(),
            &parse_list(&["192.168.1.0/24", "2001:db8::/32"]).unwrap(),
            &parse_list(&["192.168.1.128/25"]).unwrap(),
        );
        assert!(m.is_monitored(4, &a("192.168.1.5").1));
        assert!(!m.is_monitored(4, &a("192.168.1.200").1));
        assert!(!m.is_monitored(4, &a("10.0.0.1").1));
        assert!(m.is_monitored(6, &a("2001:db8::9").1));
    }
}
