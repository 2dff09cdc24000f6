//! IPv4 header (RFC 791), options included.

use super::Reason;

pub mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
}

pub const MIN_HEADER_LEN: usize = 20;

/// A zero-copy view of an IPv4 packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Validates version, header length and total length once; the getters
    /// below are then cheap and cannot go out of bounds.
    ///
    /// A total length of 0 is accepted: it is what a capture of a TSO/GSO
    /// packet on the sending host shows, and the frame length still counts.
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Reason::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(Reason::BadVersion);
        }
        let header_len = usize::from(b[field::VER_IHL] & 0x0f) * 4;
        if header_len < MIN_HEADER_LEN {
            return Err(Reason::BadHeaderLength);
        }
        if b.len() < header_len {
            return Err(Reason::Truncated);
        }
        let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
        if total != 0 && total < header_len {
            return Err(Reason::BadTotalLength);
        }
        Ok(Ipv4Packet { buffer })
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    #[inline]
    pub fn total_len(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[6], b[7]]) & 0x1fff
    }

    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.buffer.as_ref()[6] & 0x20 != 0
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    #[inline]
    pub fn src(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[12], b[13], b[14], b[15]]
    }

    #[inline]
    pub fn dst(&self) -> [u8; 4] {
        let b = self.buffer.as_ref();
        [b[16], b[17], b[18], b[19]]
    }
}

impl<'a> Ipv4Packet<&'a [u8]> {
    /// The bytes after the header, up to the total length (or to the end of
    /// the captured bytes, whichever comes first).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let b: &'a [u8] = self.buffer;
        let hl = self.header_len();
        let total = usize::from(self.total_len());
        let end = if total == 0 {
            b.len()
        } else {
            total.min(b.len())
        };
        &b[hl..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10.0.0.1 -> 192.0.2.7, UDP, total length 28, no options.
    const UDP_PACKET: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x40, 0x11, 0x00, 0x00, 10, 0, 0, 1, 192,
        0, 2, 7, 0x04, 0xd2, 0x00, 0x35, 0x00, 0x08, 0x00, 0x00,
    ];

    #[test]
    fn parse_ipv4_basic() {
        let p = Ipv4Packet::new_checked(&UDP_PACKET[..]).unwrap();
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.protocol(), 17);
        assert_eq!(p.src(), [10, 0, 0, 1]);
        assert_eq!(p.dst(), [192, 0, 2, 7]);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.payload().len(), 8);
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.more_fragments());
    }

    #[test]
    fn parse_ipv4_with_options() {
        let mut b = [0u8; 32];
        b[0] = 0x46; // IHL 6: 4 bytes of options
        b[3] = 32;
        b[9] = 6;
        b[20..24].copy_from_slice(&[0x94, 0x04, 0x00, 0x00]); // router alert
        b[24] = 0xab;
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.payload().len(), 8);
        assert_eq!(p.payload()[0], 0xab);
    }

    #[test]
    fn payload_stops_at_total_length() {
        let mut b = UDP_PACKET.to_vec();
        b.extend_from_slice(&[0xee; 6]); // Ethernet padding
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn fragment_fields() {
        let mut b = UDP_PACKET;
        b[6] = 0x20;
        b[7] = 0xb9; // MF, offset 185
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.more_fragments());
        assert_eq!(p.frag_offset(), 185);
    }

    #[test]
    fn ipv4_errors() {
        assert_eq!(
            Ipv4Packet::new_checked(&UDP_PACKET[..19]).unwrap_err(),
            Reason::Truncated
        );
        let mut b = UDP_PACKET;
        b[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            Reason::BadVersion
        );
        b[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            Reason::BadHeaderLength
        );
        b[0] = 0x4f; // 60-byte header in a 28-byte buffer
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            Reason::Truncated
        );
        let mut b = UDP_PACKET;
        b[3] = 12;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap_err(),
            Reason::BadTotalLength
        );
    }

    #[test]
    fn zero_total_length_is_tso() {
        let mut b = UDP_PACKET;
        b[2] = 0;
        b[3] = 0;
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 8);
    }
}
