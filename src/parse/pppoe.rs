//! PPPoE session header (RFC 2516) with the PPP protocol field that follows it.

use super::Reason;

pub mod field {
    use core::ops::Range;
    pub const VER_TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const SESSION: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const PPP_PROTOCOL: Range<usize> = 6..8;
}

pub const HEADER_LEN: usize = field::PPP_PROTOCOL.end;

pub mod ppp {
    pub const IPV4: u16 = 0x0021;
    pub const IPV6: u16 = 0x0057;
}

/// A zero-copy view of a PPPoE session frame.
#[derive(Debug, Clone, Copy)]
pub struct PppoeSession<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PppoeSession<T> {
    /// Checks length and that version and type are both 1.
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        if b[field::VER_TYPE] != 0x11 {
            return Err(Reason::BadVersion);
        }
        Ok(PppoeSession { buffer })
    }

    #[inline]
    pub fn session_id(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    #[inline]
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[6], b[7]])
    }
}

impl<'a> PppoeSession<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pppoe_session() {
        let bytes = [0x11, 0x00, 0x12, 0x34, 0x00, 0x16, 0x00, 0x57, 0x60];
        let p = PppoeSession::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.session_id(), 0x1234);
        assert_eq!(p.protocol(), ppp::IPV6);
        assert_eq!(p.payload(), &[0x60]);
    }

    #[test]
    fn pppoe_bad_version() {
        let bytes = [0x21, 0x00, 0x12, 0x34, 0x00, 0x16, 0x00, 0x21];
        assert_eq!(
            PppoeSession::new_checked(&bytes[..]).unwrap_err(),
            Reason::BadVersion
        );
    }

    #[test]
    fn truncated_pppoe_is_rejected() {
        assert_eq!(
            PppoeSession::new_checked(&[0x11, 0, 0, 1, 0, 2, 0][..]).unwrap_err(),
            Reason::Truncated
        );
    }
}
