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

    /// Whether the IP packet `ip` (captured bytes from its header on, of
    /// IP version `version`), seen at `ts_ns`, repeats one seen within the
    /// window; if not, it is remembered.
    #[inline]
    pub fn is_duplicate(&mut self, version: u8, ip: &[u8], ts_ns: u64) -> bool {
        let fp = fingerprint(self.seed, version, ip);
        let i = (fp >> 32) as usize & (self.buckets.len() - 1);
        let bucket = &mut self.buckets[i].0;
        let mut oldest = 0;
        for (k, e) in bucket.iter().enumerate() {
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

const K: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    let full = u128::from(h ^ w) * u128::from(K);
    (full as u64) ^ (full >> 64) as u64
}

/// The packet's fingerprint, never 0: its first [`FINGERPRINT_BYTES`]
/// bytes in 8-byte words, with the TTL and checksum (IPv4) or the hop
/// limit (IPv6) masked out.
#[inline]
pub fn fingerprint(seed: u64, version: u8, ip: &[u8]) -> u64 {
    let data = &ip[..ip.len().min(FINGERPRINT_BYTES)];
    // little-endian words: byte i of a word is bits 8i..8i+8
    let (mask0, mask1) = if version == 4 {
        // word 1 holds TTL (byte 8) and the checksum (bytes 10 and 11)
        (!0u64, !0x0000_0000_ffff_00ffu64)
    } else {
        // word 0 holds the hop limit (byte 7)
        (!0xff00_0000_0000_0000u64, !0u64)
    };
    let mut h = seed ^ data.len() as u64;
    let mut chunks = data.chunks_exact(8);
    for (i, c) in chunks.by_ref().enumerate() {
        let mut w = u64::from_le_bytes(c.try_into().expect("chunks of 8"));
        if i == 0 {
            w &= mask0;
        } else if i == 1 {
            w &= mask1;
        }
        h = mix(h, w);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        // a header shorter than 16 bytes never reaches here: IP headers
        // are 20 and 40
        h = mix(h, u64::from_le_bytes(last));
    }
    mix(h, K) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

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
