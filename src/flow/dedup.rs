//! Duplicate suppression for mirror ports (`--dedup WINDOW`).
//!
//! A switch that mirrors several ports, or both directions of one, hands
//! the same packet over more than once: with other MACs and VLAN tags,
//! through a tunnel or not, and with a TTL one lower after each router.
//! A packet is a duplicate when its IP packet is identical to one this
//! worker saw within the window, apart from the TTL (hop limit) and the
//! IPv4 header checksum. Identity is decided on a keyed 64-bit fingerprint
//! of the IP header (those fields masked) and the first
//! [`FINGERPRINT_BYTES`] bytes of the packet, which hold the length, the
//! IP ID (IPv4), the transport header and the start of the payload: a
//! retransmission with another IP ID, or the same payload from another
//! flow, is not a duplicate.
//!
//! The table is fixed at start: buckets of [`WAYS`] fingerprints with the
//! time each was first seen, one cache line each, sized for
//! [`RATE_PER_WORKER`] packets a second over the window. A copy of a
//! packet that has been pushed out of its bucket by newer packets in the
//! meantime is counted again: that is the bound on memory.

use std::time::Duration;

/// Bytes of the IP packet (from its header) the fingerprint covers.
pub const FINGERPRINT_BYTES: usize = 128;
/// Fingerprints per bucket: 4 × 16 bytes, one cache line.
pub const WAYS: usize = 4;
/// The packet rate per worker the table is sized for: twice the packets
/// a window holds at this rate.
pub const RATE_PER_WORKER: u64 = 4_000_000;
/// The table's bounds, in entries (a window of 100 ms, the longest
/// `--dedup` takes, gets the most).
pub const MIN_ENTRIES: usize = 4096;
pub const MAX_ENTRIES: usize = 1 << 20;

#[derive(Clone, Copy, Default)]
#[repr(C)]
struct Entry {
    /// 0: empty.
    fingerprint: u64,
    ts_ns: u64,
}

#[repr(C, align(64))]
#[derive(Clone, Copy, Default)]
struct Bucket([Entry; WAYS]);

/// One worker's table of recently seen packets.
pub struct Dedup {
    window_ns: u64,
    buckets: Box<[Bucket]>,
    seed: u64,
}

impl Dedup {
    pub fn new(window: Duration) -> Dedup {
        let n = Dedup::entries_for(window) / WAYS;
        Dedup {
            window_ns: u64::try_from(window.as_nanos()).unwrap_or(u64::MAX),
            buckets: vec![Bucket::default(); n].into_boxed_slice(),
            seed: super::random_seed() | 1,
        }
    }

    /// Entries a table for this window holds.
    pub fn entries_for(window: Duration) -> usize {
        let per_window = window.as_nanos() * u128::from(RATE_PER_WORKER) / 1_000_000_000;
        let want = usize::try_from(2 * per_window).unwrap_or(MAX_ENTRIES);
        want.clamp(MIN_ENTRIES, MAX_ENTRIES).next_power_of_two()
    }

    /// Bytes a table for this window takes.
    pub fn memory_for(window: Duration) -> usize {
        Dedup::entries_for(window) * std::mem::size_of::<Entry>()
    }

    pub fn memory_bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Bucket>()
    }

    /// The fingerprint of the IP packet `ip` (captured bytes from its
    /// header on, of IP version `version`) for this table (see
    /// [`fingerprint`]);
    /// starts loading its bucket, so that [`Dedup::seen`] a little later
    /// finds it in cache.
    #[inline]
    pub fn fingerprint(&self, version: u8, ip: &[u8]) -> u64 {
        let fp = fingerprint(self.seed, version, ip);
        crate::sys::prefetch(&self.buckets[self.bucket(fp)]);
        fp
    }

    #[inline]
    fn bucket(&self, fp: u64) -> usize {
        (fp >> 32) as usize & (self.buckets.len() - 1)
    }

    /// Whether the packet of fingerprint `fp`, seen at `ts_ns`, repeats one
    /// seen within the window; if not, it is remembered.
    #[inline]
    pub fn seen(&mut self, fp: u64, ts_ns: u64) -> bool {
        let i = self.bucket(fp);
        let bucket = &mut self.buckets[i].0;
        let mut oldest = 0;
        for k in 0..WAYS {
            let e = bucket[k];
            if e.fingerprint == fp && e.ts_ns.abs_diff(ts_ns) <= self.window_ns {
                return true;
            }
            // an empty entry has time 0, the oldest of all
            if e.ts_ns < bucket[oldest].ts_ns {
                oldest = k;
            }
        }
        // the first copy's time stays: a packet repeating after the window
        // from it counts again
        bucket[oldest] = Entry {
            fingerprint: fp,
            ts_ns,
        };
        false
    }
}

const K: [u64; 4] = [
    0x9e37_79b9_7f4a_7c15,
    0xbf58_476d_1ce4_e5b9,
    0x94d0_49bb_1331_11eb,
    0x2545_f491_4f6c_dd1d,
];

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ (full >> 64) as u64
}

#[inline(always)]
fn word(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The packet's fingerprint, never 0: its first [`FINGERPRINT_BYTES`]
/// bytes in 16-byte blocks, each folded by a multiply with keys of its
/// place (the blocks' products do not wait on each other), with the TTL
/// and checksum (IPv4) or the hop limit (IPv6) masked out. `ip` holds a
/// whole IP header (20 bytes at least).
#[inline]
pub fn fingerprint(seed: u64, version: u8, ip: &[u8]) -> u64 {
    let n = ip.len().min(FINGERPRINT_BYTES);
    if n < 16 {
        // not an IP header the parser let through; still a fingerprint
        let mut b = [0u8; 16];
        b[..n].copy_from_slice(&ip[..n]);
        return fold_mul(word(&b, 0) ^ seed, word(&b, 8) ^ K[3] ^ n as u64) | 1;
    }
    // little-endian words: byte i of a word is bits 8i..8i+8
    let (mask0, mask1) = if version == 4 {
        // word 1 holds TTL (byte 8) and the checksum (bytes 10 and 11)
        (!0u64, !0x0000_0000_ffff_00ffu64)
    } else {
        // word 0 holds the hop limit (byte 7)
        (!0xff00_0000_0000_0000u64, !0u64)
    };
    let block = |at: usize, a: u64, b: u64| {
        let key = seed.rotate_left(at as u32 / 2) ^ K[(at / 16) & 3];
        fold_mul(a ^ key, b ^ K[1] ^ at as u64)
    };
    let mut acc = block(0, word(ip, 0) & mask0, word(ip, 8) & mask1);
    let mut at = 16;
    while at + 16 <= n {
        acc ^= block(at, word(ip, at), word(ip, at + 8));
        at += 16;
    }
    if at < n {
        // the last 16 bytes, overlapping the block before: no copy
        let t = n - 16;
        acc ^= block(at, word(ip, t), word(ip, t + 8));
    }
    fold_mul(acc ^ n as u64, seed ^ K[2]) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Dedup {
        /// [`Dedup::fingerprint`] and [`Dedup::seen`] at once, as the
        /// worker asks them a stage apart.
        fn is_duplicate(&mut self, version: u8, ip: &[u8], ts_ns: u64) -> bool {
            let fp = self.fingerprint(version, ip);
            self.seen(fp, ts_ns)
        }
    }

    fn ipv4(ttl: u8, id: u16, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, ttl, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let total = (20 + payload.len()) as u16;
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p[4..6].copy_from_slice(&id.to_be_bytes());
        // a checksum that differs with the TTL, as a router's would
        p[10] = ttl.wrapping_mul(3);
        p[11] = ttl;
        p.extend_from_slice(payload);
        p
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn same_packet_with_lower_ttl_within_the_window_is_a_duplicate() {
        let mut d = Dedup::new(Duration::from_millis(1));
        let a = ipv4(64, 7, b"hello, mirror");
        let b = ipv4(63, 7, b"hello, mirror");
        assert!(!d.is_duplicate(4, &a, 10 * MS));
        assert!(d.is_duplicate(4, &b, 10 * MS + 40_000));
        // a third copy, still within the window of the first
        assert!(d.is_duplicate(4, &a, 10 * MS + 900_000));
        // after the window of the first copy: counted again
        assert!(!d.is_duplicate(4, &a, 11 * MS + 1));
    }

    #[test]
    fn another_ip_id_or_payload_is_not_a_duplicate() {
        let mut d = Dedup::new(Duration::from_millis(1));
        assert!(!d.is_duplicate(4, &ipv4(64, 7, b"x"), MS));
        assert!(!d.is_duplicate(4, &ipv4(64, 8, b"x"), MS));
        assert!(!d.is_duplicate(4, &ipv4(64, 7, b"y"), MS));
        // each of them is remembered
        assert!(d.is_duplicate(4, &ipv4(64, 8, b"x"), MS + 1));
    }

    #[test]
    fn ipv6_ignores_only_the_hop_limit() {
        let mut v6 = vec![0x60, 0, 0, 0, 0, 4, 17, 64];
        v6.extend_from_slice(&[0xfd; 32]);
        v6.extend_from_slice(&[1, 2, 3, 4]);
        let s = 7;
        let fp = fingerprint(s, 6, &v6);
        let mut lower = v6.clone();
        lower[7] = 63;
        assert_eq!(fingerprint(s, 6, &lower), fp);
        let mut other = v6.clone();
        other[6] = 6;
        assert_ne!(fingerprint(s, 6, &other), fp);
        let mut payload = v6.clone();
        payload[43] = 5;
        assert_ne!(fingerprint(s, 6, &payload), fp);
    }

    #[test]
    fn bytes_past_the_fingerprint_do_not_count() {
        let mut d = Dedup::new(Duration::from_millis(1));
        let mut a = ipv4(64, 1, &[0u8; 300]);
        assert!(!d.is_duplicate(4, &a, MS));
        a[250] = 1;
        assert!(d.is_duplicate(4, &a, MS));
    }

    #[test]
    fn sized_for_the_window_within_bounds() {
        assert_eq!(Dedup::entries_for(Duration::from_micros(1)), MIN_ENTRIES);
        // 1 ms at 4 Mpps: 4000 packets, twice that, rounded up
        assert_eq!(Dedup::entries_for(Duration::from_millis(1)), 8192);
        assert_eq!(Dedup::entries_for(Duration::from_millis(100)), MAX_ENTRIES);
        assert_eq!(
            Dedup::new(Duration::from_millis(1)).memory_bytes(),
            8192 * 16
        );
    }

    #[test]
    fn a_full_bucket_forgets_its_oldest() {
        let mut d = Dedup::new(Duration::from_millis(100));
        // more packets than the table holds, all in the window
        let n = MAX_ENTRIES as u32 + 10_000;
        let first = ipv4(64, 0, &0u32.to_be_bytes());
        assert!(!d.is_duplicate(4, &first, 0));
        for i in 1..n {
            assert!(!d.is_duplicate(4, &ipv4(64, 0, &i.to_be_bytes()), u64::from(i)));
        }
        // the newest are remembered
        let last = ipv4(64, 0, &(n - 1).to_be_bytes());
        assert!(d.is_duplicate(4, &last, u64::from(n)));
    }
}
