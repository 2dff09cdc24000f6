//! GENEVE header (RFC 8926): 8 bytes after UDP, options of the length the
//! header gives, then what the protocol type says.

use super::Reason;

pub mod field {
    /// Version (2 bits) and options length in 4-byte words (6 bits).
    pub const VER_OPT_LEN: usize = 0;
    pub const PROTOCOL: core::ops::Range<usize> = 2..4;
    pub const VNI: core::ops::Range<usize> = 4..7;
}

pub const HEADER_LEN: usize = 8;
/// The IANA port.
pub const PORT: u16 = 6081;

/// A zero-copy view of a GENEVE header with its options.
#[derive(Debug, Clone, Copy)]
pub struct GeneveHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> GeneveHeader<T> {
    /// Checks the version is 0 and the options are all there.
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        if b[0] >> 6 != 0 {
            return Err(Reason::BadVersion);
        }
        let h = GeneveHeader { buffer };
        if h.buffer.as_ref().len() < h.header_len() {
            return Err(Reason::Truncated);
        }
        Ok(h)
    }

    /// 8 plus the options.
    #[inline]
    pub fn header_len(&self) -> usize {
        HEADER_LEN + usize::from(self.buffer.as_ref()[field::VER_OPT_LEN] & 0x3f) * 4
    }

    /// An ethertype: 0x6558 for Ethernet, 0x0800 or 0x86DD for IP.
    #[inline]
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    #[inline]
    pub fn vni(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[4], b[5], b[6]])
    }
}

impl<'a> GeneveHeader<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_skipped() {
        // 2 words of options
        let b = [
            0x02, 0x00, 0x65, 0x58, 0, 0, 0x2a, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0xaa,
        ];
        let h = GeneveHeader::new_checked(&b[..]).unwrap();
        assert_eq!((h.header_len(), h.protocol(), h.vni()), (16, 0x6558, 42));
        assert_eq!(h.payload(), &[0xaa]);
    }

    #[test]
    fn options_past_the_end_and_bad_version() {
        let b = [0x3f, 0x00, 0x65, 0x58, 0, 0, 1, 0, 0, 0];
        assert_eq!(
            GeneveHeader::new_checked(&b[..]).unwrap_err(),
            Reason::Truncated
        );
        let b = [0x40, 0x00, 0x65, 0x58, 0, 0, 1, 0];
        assert_eq!(
            GeneveHeader::new_checked(&b[..]).unwrap_err(),
            Reason::BadVersion
        );
    }
}
