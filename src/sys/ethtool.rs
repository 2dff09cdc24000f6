//! The two kernel interfaces `ringflow doctor` asks about a NIC, besides
//! sysfs and procfs: the ethtool ioctl (`SIOCETHTOOL`), whose request and
//! answer are a buffer laid out as the kernel's `struct ethtool_*`, and the
//! `netdev` generic netlink family, for the XDP features a driver offers.
//! Building the requests and reading the answers is the caller's: here are
//! only the calls.

use super::{SysError, check_len, check_ret, owned, raw};

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

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NETDEV_CMD_DEV_GET: u8 = 1;
const NETDEV_A_DEV_IFINDEX: u16 = 1;
const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;

/// The `xdp-features` bits the driver of `ifindex` announces (netdev
/// family, kernel 6.3 and later): `NETDEV_XDP_ACT_BASIC` (1) is native
/// XDP, `NETDEV_XDP_ACT_XSK_ZEROCOPY` (8) zero-copy AF_XDP.
pub fn xdp_features(ifindex: u32) -> Result<u64, SysError> {
    let family = genl_call(
        GENL_ID_CTRL,
        CTRL_CMD_GETFAMILY,
        CTRL_ATTR_FAMILY_NAME,
        b"netdev\0",
    )?;
    let id = find_attr(&family, CTRL_ATTR_FAMILY_ID)
        .and_then(|v| Some(u16::from_ne_bytes(v.get(..2)?.try_into().ok()?)))
        .ok_or_else(|| not_found("netlink(netdev family)"))?;
    let dev = genl_call(
        id,
        NETDEV_CMD_DEV_GET,
        NETDEV_A_DEV_IFINDEX,
        &ifindex.to_ne_bytes(),
    )?;
    find_attr(&dev, NETDEV_A_DEV_XDP_FEATURES)
        .and_then(|v| Some(u64::from_ne_bytes(v.get(..8)?.try_into().ok()?)))
        .ok_or_else(|| not_found("netlink(xdp-features)"))
}

fn not_found(call: &'static str) -> SysError {
    SysError {
        call,
        source: std::io::Error::from_raw_os_error(libc::EOPNOTSUPP),
    }
}

/// One generic netlink request with one attribute; the attributes of
/// the answer.
fn genl_call(family: u16, cmd: u8, attr: u16, value: &[u8]) -> Result<Vec<u8>, SysError> {
    // SAFETY: plain socket creation.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_GENERIC,
        )
    };
    let fd = owned(check_ret("socket(NETLINK_GENERIC)", fd)?);
    let alen = 4 + value.len();
    let len = 16 + 4 + ((alen + 3) & !3);
    let mut req = vec![0u8; len];
    req[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&family.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = cmd;
    req[17] = 1; // version
    req[20..22].copy_from_slice(&(alen as u16).to_ne_bytes());
    req[22..24].copy_from_slice(&attr.to_ne_bytes());
    req[24..24 + value.len()].copy_from_slice(value);
    // SAFETY: `req` is a readable buffer of the length passed.
    let sent = unsafe { libc::send(raw(&fd), req.as_ptr().cast(), req.len(), 0) };
    check_len("send(netlink)", sent)?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: `buf` is a writable buffer of the length passed.
    let n = unsafe { libc::recv(raw(&fd), buf.as_mut_ptr().cast(), buf.len(), 0) };
    let n = check_len("recv(netlink)", n)?;
    let msg = &buf[..n];
    let ty = msg.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    if ty == Some(NLMSG_ERROR) || msg.len() < 20 {
        let errno = msg
            .get(16..20)
            .map(|b| -i32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
            .filter(|e| *e > 0)
            .unwrap_or(libc::EOPNOTSUPP);
        return Err(SysError {
            call: "netlink(generic)",
            source: std::io::Error::from_raw_os_error(errno),
        });
    }
    let total = u32::from_ne_bytes(msg[0..4].try_into().unwrap_or([0; 4])) as usize;
    Ok(msg.get(20..total.min(n)).unwrap_or_default().to_vec())
}

/// The value of the first attribute of type `want` in a run of them.
fn find_attr(attrs: &[u8], want: u16) -> Option<&[u8]> {
    let mut at = 0;
    while at + 4 <= attrs.len() {
        let l = usize::from(u16::from_ne_bytes([attrs[at], attrs[at + 1]]));
        let t = u16::from_ne_bytes([attrs[at + 2], attrs[at + 3]]) & 0x3fff;
        if l < 4 {
            return None;
        }
        if t == want {
            return attrs.get(at + 4..at + l);
        }
        at += (l + 3) & !3;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_attribute_among_others() {
        let mut a = vec![6, 0, 2, 0, b'n', b'd', 0, 0];
        a.extend_from_slice(&[12, 0, 3, 0]);
        a.extend_from_slice(&9u64.to_ne_bytes());
        assert_eq!(find_attr(&a, 3), Some(&9u64.to_ne_bytes()[..]));
        assert_eq!(find_attr(&a, 2), Some(&b"nd"[..]));
        assert_eq!(find_attr(&a, 7), None);
        assert_eq!(find_attr(&a[..3], 2), None);
    }

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
