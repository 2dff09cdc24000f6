//! ICMP (RFC 792) and ICMPv6 (RFC 4443) headers: type and code.

use super::Reason;

/// Type, code and checksum: the part every ICMP message shares.
pub const HEADER_LEN: usize = 4;

/// A zero-copy view of an ICMP or ICMPv6 header.
#[derive(Debug, Clone, Copy)]
pub struct IcmpHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> IcmpHeader<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(IcmpHeader { buffer })
    }

    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[1]
    }
}

/// Is this ICMP type the answer to a request (so its sender is the
/// responder, not the side that started the exchange)?
pub fn is_reply_type(v6: bool, msg_type: u8) -> bool {
    if v6 {
        // echo reply, multicast listener report, neighbour advertisement
        matches!(msg_type, 129 | 131 | 136)
    } else {
        // echo, timestamp, information and address mask replies
        matches!(msg_type, 0 | 14 | 16 | 18)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_icmp_echo() {
        let b = [8u8, 0, 0xf7, 0xff, 0, 1, 0, 1];
        let h = IcmpHeader::new_checked(&b[..]).unwrap();
        assert_eq!(h.msg_type(), 8);
        assert_eq!(h.code(), 0);
        assert!(!is_reply_type(false, 8));
        assert!(is_reply_type(false, 0));
        assert!(is_reply_type(true, 129));
        assert!(!is_reply_type(true, 128));
    }

    #[test]
    fn truncated_icmp_is_rejected() {
        assert_eq!(
            IcmpHeader::new_checked(&[3u8, 1, 0][..]).unwrap_err(),
            Reason::Truncated
        );
    }
}
