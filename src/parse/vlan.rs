//! 802.1Q / 802.1ad VLAN tag (the 4 bytes after the tag's TPID).

use super::Reason;

pub mod field {
    use core::ops::Range;
    pub const TCI: Range<usize> = 0..2;
    pub const ETHERTYPE: Range<usize> = 2..4;
}

pub const HEADER_LEN: usize = field::ETHERTYPE.end;

/// A zero-copy view of one VLAN tag and what follows it.
#[derive(Debug, Clone, Copy)]
pub struct VlanTag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VlanTag<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(VlanTag { buffer })
    }

    /// The 12-bit VLAN identifier.
    #[inline]
    pub fn vid(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]]) & 0x0fff
    }

    /// Priority code point (3 bits).
    #[inline]
    pub fn pcp(&self) -> u8 {
        self.buffer.as_ref()[0] >> 5
    }

    /// The ethertype of what follows the tag.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }
}

impl<'a> VlanTag<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_vlan_tag() {
        // PCP 5, VID 0x123, inner ethertype IPv4.
        let bytes = [0xa1, 0x23, 0x08, 0x00, 0x45];
        let t = VlanTag::new_checked(&bytes[..]).unwrap();
        assert_eq!(t.vid(), 0x123);
        assert_eq!(t.pcp(), 5);
        assert_eq!(t.ethertype(), 0x0800);
        assert_eq!(t.payload(), &[0x45]);
    }

    #[test]
    fn truncated_vlan_tag_is_rejected() {
        assert_eq!(
            VlanTag::new_checked(&[0x00, 0x01, 0x08][..]).unwrap_err(),
            Reason::Truncated
        );
    }
}
