//! UDP header (RFC 768).

use super::Reason;

pub mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
}

pub const HEADER_LEN: usize = 8;

/// A zero-copy view of a UDP header.
#[derive(Debug, Clone, Copy)]
pub struct UdpHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpHeader<T> {
    /// Checks that the header is present and its length field covers it.
    /// A length of 0 is accepted (UDP over IPv6 jumbograms).
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        let len = usize::from(u16::from_be_bytes([b[4], b[5]]));
        if len != 0 && len < HEADER_LEN {
            return Err(Reason::BadLength);
        }
        Ok(UdpHeader { buffer })
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    #[inline]
    pub fn length(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[4], b[5]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DNS_QUERY: [u8; 8] = [0xd4, 0x31, 0x00, 0x35, 0x00, 0x21, 0x00, 0x00];

    #[test]
    fn parse_udp_header() {
        let u = UdpHeader::new_checked(&DNS_QUERY[..]).unwrap();
        assert_eq!(u.src_port(), 54321);
        assert_eq!(u.dst_port(), 53);
        assert_eq!(u.length(), 33);
    }

    #[test]
    fn udp_errors() {
        assert_eq!(
            UdpHeader::new_checked(&DNS_QUERY[..7]).unwrap_err(),
            Reason::Truncated
        );
        let mut b = DNS_QUERY;
        b[5] = 7;
        assert_eq!(
            UdpHeader::new_checked(&b[..]).unwrap_err(),
            Reason::BadLength
        );
    }
}
