//! The ethtool ioctl (`SIOCETHTOOL`) `ringflow doctor` asks a NIC with,
//! and a live capture asks whether LRO is on: its request and answer are a
//! buffer laid out as the kernel's `struct ethtool_*`. Here are the call,
//! the buffer's two helpers and the flags word both callers read; the
//! doctor builds and reads the rest. (What XDP a driver offers comes from
//! netlink: [`super::netlink::xdp_features`].)

use super::{SysError, check_ret, owned, raw};

/// `ETHTOOL_GFLAGS`, and the `ETH_FLAG_*` bits of its answer.
pub const GFLAGS: u32 = 0x25;
pub const FLAG_RXVLAN: u32 = 1 << 8;
pub const FLAG_LRO: u32 = 1 << 15;

/// A request buffer of `len` bytes for `cmd`, with `words` after it.
pub fn request(cmd: u32, len: usize, words: &[u32]) -> Vec<u8> {
    let mut b = vec![0u8; len.max(4 + 4 * words.len())];
    b[0..4].copy_from_slice(&cmd.to_ne_bytes());
    for (i, w) in words.iter().enumerate() {
        b[4 + 4 * i..8 + 4 * i].copy_from_slice(&w.to_ne_bytes());
    }
    b
}

/// The `u32` at `at` of a `struct ethtool_*` (0 past its end).
pub fn word(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
        .unwrap_or(0)
}

/// Whether LRO is on for `iface` (`None`: it cannot say).
pub fn lro_on(iface: &str) -> Option<bool> {
    let mut b = request(GFLAGS, 8, &[]);
    ethtool(iface, &mut b).ok()?;
    Some(word(&b, 4) & FLAG_LRO != 0)
}

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
