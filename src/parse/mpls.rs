//! MPLS label stack entry (RFC 3032).

use super::Reason;

pub const ENTRY_LEN: usize = 4;

/// A zero-copy view of one label stack entry and what follows it.
#[derive(Debug, Clone, Copy)]
pub struct MplsEntry<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MplsEntry<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        if buffer.as_ref().len() < ENTRY_LEN {
            return Err(Reason::Truncated);
        }
        Ok(MplsEntry { buffer })
    }

    /// The 20-bit label.
    #[inline]
    pub fn label(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[0], b[1], b[2]]) >> 4
    }

    /// Bottom-of-stack bit.
    #[inline]
    pub fn bottom(&self) -> bool {
        self.buffer.as_ref()[2] & 0x01 != 0
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[3]
    }
}

impl<'a> MplsEntry<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[ENTRY_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_mpls_entry() {
        // label 16000, TC 0, bottom of stack, TTL 64
        let bytes = [0x03, 0xe8, 0x01, 0x40, 0x45];
        let e = MplsEntry::new_checked(&bytes[..]).unwrap();
        assert_eq!(e.label(), 16000);
        assert!(e.bottom());
        assert_eq!(e.ttl(), 64);
        assert_eq!(e.payload(), &[0x45]);
    }

    #[test]
    fn mpls_entry_not_bottom() {
        let bytes = [0x00, 0x01, 0x00, 0xff];
        let e = MplsEntry::new_checked(&bytes[..]).unwrap();
        assert_eq!(e.label(), 16);
        assert!(!e.bottom());
    }

    #[test]
    fn truncated_mpls_is_rejected() {
        assert_eq!(
            MplsEntry::new_checked(&[0u8; 3][..]).unwrap_err(),
            Reason::Truncated
        );
    }
}
