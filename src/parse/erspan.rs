//! ERSPAN headers after GRE: type II (protocol 0x88BE, version 1) and
//! type III (protocol 0x22EB, version 2, with its optional 8-byte
//! platform-specific sub-header). Type I is GRE 0x88BE without a sequence
//! number and has no ERSPAN header: the mirrored frame follows GRE.

use super::Reason;

pub mod field {
    pub const VERSION_VLAN: core::ops::Range<usize> = 0..2;
    pub const SESSION: core::ops::Range<usize> = 2..4;
    /// Type III: the byte whose lowest bit says a sub-header follows.
    pub const FLAGS_III: usize = 11;
}

pub const TYPE_II_LEN: usize = 8;
pub const TYPE_III_LEN: usize = 12;
pub const PLATFORM_SUBHEADER_LEN: usize = 8;

pub mod version {
    pub const TYPE_II: u8 = 1;
    pub const TYPE_III: u8 = 2;
}

/// A zero-copy view of an ERSPAN type II or III header.
#[derive(Debug, Clone, Copy)]
pub struct ErspanHeader<T: AsRef<[u8]>> {
    buffer: T,
    len: usize,
}

impl<T: AsRef<[u8]>> ErspanHeader<T> {
    /// Checks the header of the given version (from the GRE protocol
    /// type) is there in full and says that version.
    pub fn new_checked(buffer: T, expected: u8) -> Result<Self, Reason> {
        let b = buffer.as_ref();
        let fixed = if expected == version::TYPE_II {
            TYPE_II_LEN
        } else {
            TYPE_III_LEN
        };
        if b.len() < fixed {
            return Err(Reason::Truncated);
        }
        if b[0] >> 4 != expected {
            return Err(Reason::BadVersion);
        }
        let mut len = fixed;
        if expected == version::TYPE_III && b[field::FLAGS_III] & 0x01 != 0 {
            len += PLATFORM_SUBHEADER_LEN;
            if b.len() < len {
                return Err(Reason::Truncated);
            }
        }
        Ok(ErspanHeader { buffer, len })
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[0] >> 4
    }

    /// The VLAN of the mirrored frame as the switch saw it (type II: the
    /// original VLAN; 0 when untagged).
    #[inline]
    pub fn vlan(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]]) & 0x0fff
    }

    /// The 10-bit session id of the mirror session.
    #[inline]
    pub fn session(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]]) & 0x03ff
    }

    #[inline]
    pub fn header_len(&self) -> usize {
        self.len
    }
}

impl<'a> ErspanHeader<&'a [u8]> {
    /// The mirrored Ethernet frame.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.len..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_ii() {
        // version 1, VLAN 100, session 7, index 0
        let b = [0x10, 0x64, 0x00, 0x07, 0, 0, 0, 0, 0xee];
        let h = ErspanHeader::new_checked(&b[..], version::TYPE_II).unwrap();
        assert_eq!((h.version(), h.vlan(), h.session()), (1, 100, 7));
        assert_eq!(h.payload(), &[0xee]);
        assert_eq!(
            ErspanHeader::new_checked(&b[..], version::TYPE_III).unwrap_err(),
            Reason::Truncated
        );
        assert_eq!(
            ErspanHeader::new_checked(&b[..7], version::TYPE_II).unwrap_err(),
            Reason::Truncated
        );
    }

    #[test]
    fn type_iii_with_and_without_subheader() {
        let mut b = vec![0x20, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xee];
        let h = ErspanHeader::new_checked(&b[..], version::TYPE_III).unwrap();
        assert_eq!(h.payload(), &[0xee]);
        b[11] = 0x01;
        assert_eq!(
            ErspanHeader::new_checked(&b[..], version::TYPE_III).unwrap_err(),
            Reason::Truncated
        );
        b.splice(12..12, [0u8; 8]);
        let h = ErspanHeader::new_checked(&b[..], version::TYPE_III).unwrap();
        assert_eq!((h.header_len(), h.payload()), (20, &[0xee][..]));
        assert_eq!(
            ErspanHeader::new_checked(&b[..], version::TYPE_II).unwrap_err(),
            Reason::BadVersion
        );
    }
}
