//! The ethtool ioctl (`SIOCETHTOOL`) `ringflow doctor` asks a NIC with:
//! its request and answer are a buffer laid out as the kernel's
//! `struct ethtool_*`; building the requests and reading the answers is the
//! caller's, here is only the call. (What XDP a driver offers comes from
//! netlink: [`super::netlink::xdp_features`].)

use super::{SysError, check_ret, owned, raw};

/// One ethtool ioctl on `iface`: `buf` holds the request (its first four
/// bytes the command) and, on success, the kernel's answer in place.
pub fn ethtool(iface: &str, buf: &mut [u8]) -> Result<(), SysError> {
    let name = iface.as_bytes();
    if name.len() >= libc::IFNAMSIZ || buf.len() < 4 {
        return Err(SysError {
            call: "ioctl(SIOCETHTOOL)",
            source: std::io::Error::from_raw_os_error(libc::EINVAL),
        });
    }
    // SAFETY: plain socket creation.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    let fd = owned(check_ret("socket(AF_INET)", fd)?);
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    ifr.ifr_ifru.ifru_data = buf.as_mut_ptr().cast();
    // SAFETY: `ifr` names the interface and points at `buf`, which is
    // writable for its whole length and outlives the call. The caller sized
    // `buf` for the command it wrote: the fixed `struct ethtool_*` of the
    // command, the sizes it gave (`ETHTOOL_GRSSH` refuses other sizes than
    // the device's), or, for the string sets and statistics, whose count
    // the kernel takes from the driver at the call, room well beyond the
    // count read just before.
    let ret = unsafe { libc::ioctl(raw(&fd), libc::SIOCETHTOOL as _, &mut ifr) };
    check_ret("ioctl(SIOCETHTOOL)", ret).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_answers_a_feature_question_and_a_missing_interface_does_not() {
        // ETHTOOL_GGSO is answered for every device from its features; lo
        // segments nothing it sends, so GSO is on
        let mut buf = [0u8; 8];
        buf[0..4].copy_from_slice(&0x23u32.to_ne_bytes());
        ethtool("lo", &mut buf).expect("lo answers ETHTOOL_GGSO");
        assert_eq!(u32::from_ne_bytes(buf[4..8].try_into().unwrap()), 1);
        let e = ethtool("rf-no-such-if0", &mut buf).unwrap_err();
        assert_eq!(e.errno(), Some(libc::ENODEV));
        // a name too long is refused before any call
        let e = ethtool("a-name-far-too-long-for-ifnamsiz", &mut buf).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL));
    }
}
