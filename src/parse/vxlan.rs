//! VXLAN header (RFC 7348): 8 bytes after UDP, then an Ethernet frame.

use super::Reason;

pub mod field {
    pub const FLAGS: usize = 0;
    pub const VNI: core::ops::Range<usize> = 4..7;
}

pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI is valid. RFC 7348 requires it.
pub const FLAG_VNI: u8 = 0x08;
/// The IANA port.
pub const PORT: u16 = 4789;

/// A zero-copy view of a VXLAN header.
#[derive(Debug, Clone, Copy)]
pub struct VxlanHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanHeader<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(VxlanHeader { buffer })
    }

    /// Whether the I flag is set: without it this is not VXLAN as RFC
    /// 7348 defines it (another protocol on the same port).
    #[inline]
    pub fn vni_valid(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & FLAG_VNI != 0
    }

    #[inline]
    pub fn vni(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[4], b[5], b[6]])
    }
}

impl<'a> VxlanHeader<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_vxlan() {
        let b = [0x08, 0, 0, 0, 0x00, 0x30, 0x39, 0, 0xaa];
        let h = VxlanHeader::new_checked(&b[..]).unwrap();
        assert!(h.vni_valid());
        assert_eq!(h.vni(), 12345);
        assert_eq!(h.payload(), &[0xaa]);
        let h = VxlanHeader::new_checked(&[0u8; 8][..]).unwrap();
        assert!(!h.vni_valid());
        assert_eq!(
            VxlanHeader::new_checked(&b[..7]).unwrap_err(),
            Reason::Truncated
        );
    }
}
