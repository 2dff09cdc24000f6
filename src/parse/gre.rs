//! GRE header (RFC 2784 with the key and sequence fields of RFC 2890).
//!
//! Version 0 only: version 1 is PPTP's enhanced GRE (RFC 2637), which
//! carries PPP, not a mirrored packet, and RFC 1701's routing field is
//! obsolete; [`GreHeader::new_checked`] reports both as foreign.

use super::Reason;

pub mod field {
    use core::ops::Range;
    pub const FLAGS_VERSION: Range<usize> = 0..2;
    pub const PROTOCOL: Range<usize> = 2..4;
}

pub mod flags {
    pub const CHECKSUM: u16 = 0x8000;
    pub const ROUTING: u16 = 0x4000;
    pub const KEY: u16 = 0x2000;
    pub const SEQUENCE: u16 = 0x1000;
    pub const VERSION: u16 = 0x0007;
}

/// Protocol types (ethertypes) a GRE header carries that the decoder opens.
pub mod protocol {
    /// Transparent Ethernet Bridging: an Ethernet frame follows.
    pub const TEB: u16 = 0x6558;
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    /// ERSPAN type I (no ERSPAN header, no sequence number) and II.
    pub const ERSPAN_II: u16 = 0x88be;
    pub const ERSPAN_III: u16 = 0x22eb;
}

pub const MIN_HEADER_LEN: usize = 4;

/// What a GRE header that is not ours to open is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Foreign {
    /// A version other than 0 (PPTP's is 1).
    Version(u8),
    /// RFC 1701 source routing.
    Routing,
}

/// A zero-copy view of a version-0 GRE header and its optional fields.
#[derive(Debug, Clone, Copy)]
pub struct GreHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GreHeader<T> {
    /// `Ok(Err(_))`: a GRE header that is not version 0 plain GRE.
    pub fn new_checked(buffer: T) -> Result<Result<Self, Foreign>, Reason> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Reason::Truncated);
        }
        let fv = u16::from_be_bytes([b[0], b[1]]);
        if fv & flags::VERSION != 0 {
            return Ok(Err(Foreign::Version((fv & flags::VERSION) as u8)));
        }
        if fv & flags::ROUTING != 0 {
            return Ok(Err(Foreign::Routing));
        }
        let len = b.len();
        let h = GreHeader { buffer };
        if len < h.header_len() {
            return Err(Reason::Truncated);
        }
        Ok(Ok(h))
    }

    #[inline]
    fn flags(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    /// 4, plus 4 for each of checksum, key and sequence number present.
    #[inline]
    pub fn header_len(&self) -> usize {
        let f = self.flags();
        MIN_HEADER_LEN
            + 4 * usize::from(f & flags::CHECKSUM != 0)
            + 4 * usize::from(f & flags::KEY != 0)
            + 4 * usize::from(f & flags::SEQUENCE != 0)
    }

    #[inline]
    pub fn has_sequence(&self) -> bool {
        self.flags() & flags::SEQUENCE != 0
    }

    #[inline]
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The key, when the K bit is set.
    pub fn key(&self) -> Option<u32> {
        let f = self.flags();
        if f & flags::KEY == 0 {
            return None;
        }
        let at = MIN_HEADER_LEN + 4 * usize::from(f & flags::CHECKSUM != 0);
        let b = self.buffer.as_ref();
        Some(u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
    }
}

impl<'a> GreHeader<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_optional_fields() {
        let plain = [0x00, 0x00, 0x65, 0x58, 0xaa];
        let g = GreHeader::new_checked(&plain[..]).unwrap().unwrap();
        assert_eq!(
            (g.header_len(), g.protocol(), g.key()),
            (4, protocol::TEB, None)
        );
        assert_eq!(g.payload(), &[0xaa]);
        // checksum, key and sequence: 16 bytes
        let full = [
            0xb0, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 0, 0x30, 0x39, 0, 0, 0, 7, 0x45,
        ];
        let g = GreHeader::new_checked(&full[..]).unwrap().unwrap();
        assert_eq!(g.header_len(), 16);
        assert_eq!(g.key(), Some(12345));
        assert!(g.has_sequence());
        assert_eq!(g.payload(), &[0x45]);
    }

    #[test]
    fn foreign_and_truncated() {
        // PPTP: version 1, key and ack bits
        let pptp = [0x30, 0x81, 0x88, 0x0b, 0, 0, 0, 0];
        assert_eq!(
            GreHeader::new_checked(&pptp[..]).unwrap().unwrap_err(),
            Foreign::Version(1)
        );
        let routed = [0x40, 0x00, 0x08, 0x00, 0, 0, 0, 0];
        assert_eq!(
            GreHeader::new_checked(&routed[..]).unwrap().unwrap_err(),
            Foreign::Routing
        );
        assert_eq!(
            GreHeader::new_checked(&[0x00, 0x00, 0x08][..]).unwrap_err(),
            Reason::Truncated
        );
        // key bit set, key cut off
        assert_eq!(
            GreHeader::new_checked(&[0x20, 0x00, 0x08, 0x00, 0, 0][..]).unwrap_err(),
            Reason::Truncated
        );
    }
}
