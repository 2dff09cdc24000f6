//! IPv6 fixed header (RFC 8200) and the walk over its extension headers.

use super::Reason;

pub mod field {
    use core::ops::Range;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
}

pub const HEADER_LEN: usize = 40;

/// Extension header protocol numbers.
pub mod next_header {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AH: u8 = 51;
    pub const DEST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
}

/// A zero-copy view of an IPv6 packet.
#[derive(Debug, Clone, Copy)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(Reason::BadVersion);
        }
        Ok(Ipv6Packet { buffer })
    }

    #[inline]
    pub fn payload_len(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[4], b[5]])
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    #[inline]
    pub fn src(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        a
    }

    #[inline]
    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        a
    }
}

impl<'a> Ipv6Packet<&'a [u8]> {
    /// The bytes after the fixed header, up to the payload length (all
    /// captured bytes when it is 0: a jumbogram or a GSO capture).
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let b: &'a [u8] = self.buffer;
        let len = usize::from(self.payload_len());
        let end = if len == 0 {
            b.len()
        } else {
            (HEADER_LEN + len).min(b.len())
        };
        &b[HEADER_LEN..end]
    }
}

/// One extension header: its own next-header value and its length in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtHeader {
    pub next_header: u8,
    pub len: usize,
    /// For a fragment header: the fragment offset in 8-byte units.
    pub frag_offset: u16,
}

/// Is `nh` an extension header that [`ext_header`] can walk over?
#[inline]
pub fn is_ext_header(nh: u8) -> bool {
    matches!(
        nh,
        next_header::HOP_BY_HOP
            | next_header::ROUTING
            | next_header::FRAGMENT
            | next_header::AH
            | next_header::DEST_OPTS
            | next_header::MOBILITY
    )
}

/// Reads the extension header of type `nh` at the start of `b`.
pub fn ext_header(nh: u8, b: &[u8]) -> Result<ExtHeader, Reason> {
    if b.len() < 8 {
        return Err(Reason::Truncated);
    }
    let (len, frag_offset) = match nh {
        next_header::FRAGMENT => (8, u16::from_be_bytes([b[2], b[3]]) >> 3),
        next_header::AH => ((usize::from(b[1]) + 2) * 4, 0),
        _ => ((usize::from(b[1]) + 1) * 8, 0),
    };
    if b.len() < len {
        return Err(Reason::Truncated);
    }
    Ok(ExtHeader {
        next_header: b[0],
        len,
        frag_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(next: u8, payload_len: u16) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0] = 0x60;
        b[4..6].copy_from_slice(&payload_len.to_be_bytes());
        b[6] = next;
        b[7] = 64;
        b[8] = 0xfd;
        b[23] = 1;
        b[24] = 0x20;
        b[25] = 0x01;
        b[39] = 2;
        b
    }

    #[test]
    fn parse_ipv6_fixed_header() {
        let mut b = header(17, 8).to_vec();
        b.extend_from_slice(&[0u8; 8]);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.next_header(), 17);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src()[0], 0xfd);
        assert_eq!(p.src()[15], 1);
        assert_eq!(p.dst()[..2], [0x20, 0x01]);
        assert_eq!(p.payload().len(), 8);
    }

    #[test]
    fn parse_ext_headers() {
        // hop-by-hop, 8 bytes, next = fragment
        let hbh = [44u8, 0, 0, 0, 0, 0, 0, 0];
        let e = ext_header(next_header::HOP_BY_HOP, &hbh).unwrap();
        assert_eq!(e.next_header, 44);
        assert_eq!(e.len, 8);
        // fragment, offset 100 (x8), next = UDP
        let frag = [17u8, 0, 0x03, 0x20, 0, 0, 0, 1];
        let e = ext_header(next_header::FRAGMENT, &frag).unwrap();
        assert_eq!(e.next_header, 17);
        assert_eq!(e.frag_offset, 100);
        // AH with payload length 4: (4 + 2) * 4 = 24 bytes
        let mut ah = [0u8; 24];
        ah[0] = 6;
        ah[1] = 4;
        let e = ext_header(next_header::AH, &ah).unwrap();
        assert_eq!(e.len, 24);
        assert_eq!(e.next_header, 6);
        // routing header claiming 16 bytes in an 8-byte buffer
        let rh = [6u8, 1, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            ext_header(next_header::ROUTING, &rh).unwrap_err(),
            Reason::Truncated
        );
        assert!(is_ext_header(60));
        assert!(!is_ext_header(6));
    }

    #[test]
    fn ipv6_errors() {
        let b = header(6, 0);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..39]).unwrap_err(),
            Reason::Truncated
        );
        let mut b = header(6, 0);
        b[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&b[..]).unwrap_err(),
            Reason::BadVersion
        );
    }
}
