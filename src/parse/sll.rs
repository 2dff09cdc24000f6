//! Linux cooked capture headers, v1 (LINKTYPE_LINUX_SLL) and v2 (LINKTYPE_LINUX_SLL2):
//! what libpcap writes for `-i any`.

use super::Reason;

pub const V1_HEADER_LEN: usize = 16;
pub const V2_HEADER_LEN: usize = 20;

/// `sll_pkttype` values.
pub mod packet_type {
    pub const HOST: u8 = 0;
    pub const BROADCAST: u8 = 1;
    pub const MULTICAST: u8 = 2;
    pub const OTHERHOST: u8 = 3;
    pub const OUTGOING: u8 = 4;
}

/// A zero-copy view of a cooked v1 header: packet type (2), ARPHRD type (2),
/// address length (2), address (8), protocol (2).
#[derive(Debug, Clone, Copy)]
pub struct SllHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> SllHeader<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        if buffer.as_ref().len() < V1_HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(SllHeader { buffer })
    }

    #[inline]
    pub fn packet_type(&self) -> u8 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]]) as u8
    }

    #[inline]
    pub fn hatype(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }

    /// The protocol: an ethertype for Ethernet-like devices.
    #[inline]
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[14], b[15]])
    }
}

impl<'a> SllHeader<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[V1_HEADER_LEN..]
    }
}

/// A zero-copy view of a cooked v2 header: protocol (2), reserved (2),
/// interface index (4), ARPHRD type (2), packet type (1), address length (1),
/// address (8).
#[derive(Debug, Clone, Copy)]
pub struct Sll2Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Sll2Header<T> {
    pub fn new_checked(buffer: T) -> Result<Self, Reason> {
        if buffer.as_ref().len() < V2_HEADER_LEN {
            return Err(Reason::Truncated);
        }
        Ok(Sll2Header { buffer })
    }

    #[inline]
    pub fn protocol(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[0], b[1]])
    }

    #[inline]
    pub fn ifindex(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    #[inline]
    pub fn hatype(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[8], b[9]])
    }

    #[inline]
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[10]
    }
}

impl<'a> Sll2Header<&'a [u8]> {
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[V2_HEADER_LEN..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sll_v1() {
        let mut b = [0u8; 17];
        b[1] = packet_type::OUTGOING;
        b[3] = 1; // ARPHRD_ETHER
        b[5] = 6;
        b[14] = 0x86;
        b[15] = 0xdd;
        b[16] = 0x60;
        let h = SllHeader::new_checked(&b[..]).unwrap();
        assert_eq!(h.packet_type(), packet_type::OUTGOING);
        assert_eq!(h.hatype(), 1);
        assert_eq!(h.protocol(), 0x86dd);
        assert_eq!(h.payload(), &[0x60]);
    }

    #[test]
    fn parse_sll_v2() {
        let mut b = [0u8; 21];
        b[0] = 0x08;
        b[7] = 3; // ifindex 3
        b[9] = 1;
        b[10] = packet_type::HOST;
        b[20] = 0x45;
        let h = Sll2Header::new_checked(&b[..]).unwrap();
        assert_eq!(h.protocol(), 0x0800);
        assert_eq!(h.ifindex(), 3);
        assert_eq!(h.hatype(), 1);
        assert_eq!(h.packet_type(), packet_type::HOST);
        assert_eq!(h.payload(), &[0x45]);
    }

    #[test]
    fn truncated_cooked_headers_are_rejected() {
        assert_eq!(
            SllHeader::new_checked(&[0u8; 15][..]).unwrap_err(),
            Reason::Truncated
        );
        assert_eq!(
            Sll2Header::new_checked(&[0u8; 19][..]).unwrap_err(),
            Reason::Truncated
        );
    }
}
