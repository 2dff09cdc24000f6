//! TCP header (RFC 9293). Only the fields accounting needs are read.

use super::Reason;

pub mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
}

pub const MIN_HEADER_LEN: usize = 20;

pub mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// A zero-copy view of a TCP header.
#[derive(Debug, Clone, Copy)]
pub struct TcpHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpHeader<T> {
    /// Checks that the fixed header is present and the data offset is sane.
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN {
            return Err(Reason::Truncated);
        }
        if usize::from(b[field::DATA_OFFSET] >> 4) * 4 < MIN_HEADER_LEN {
            return Err(Reason::BadHeaderLength);
        }
        Ok(TcpHeader { buffer })
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
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFFSET] >> 4) * 4
    }

    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: [u8; 20] = [
        0x9c, 0x40, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];

    #[test]
    fn parse_tcp_header() {
        let t = TcpHeader::new_checked(&SYN[..]).unwrap();
        assert_eq!(t.src_port(), 40000);
        assert_eq!(t.dst_port(), 443);
        assert_eq!(t.header_len(), 20);
        assert_eq!(t.flags(), flags::SYN);
    }

    #[test]
    fn truncated_tcp_is_rejected() {
        assert_eq!(
            TcpHeader::new_checked(&SYN[..19]).unwrap_err(),
            Reason::Truncated
        );
    }

    #[test]
    fn tcp_bad_data_offset() {
        let mut b = SYN;
        b[12] = 0x40;
        assert_eq!(
            TcpHeader::new_checked(&b[..]).unwrap_err(),
            Reason::BadHeaderLength
        );
    }
}
