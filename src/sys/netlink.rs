//! Questions to the kernel about an interface: which XDP program is
//! attached to it (rtnetlink `RTM_GETLINK`, attribute `IFLA_XDP`), which
//! XDP features its driver offers (the `netdev` generic netlink family),
//! and which IP addresses it has (`getifaddrs`).

use super::{SysError, check_len, check_ret, owned, raw};
use std::net::IpAddr;

const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_PROG_ID: u16 = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// Sends one netlink request on a socket of `protocol` and returns the
/// first answer's bytes.
fn ask(protocol: libc::c_int, req: &[u8]) -> Result<Vec<u8>, SysError> {
    // SAFETY: plain socket creation.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    let fd = owned(check_ret("socket(AF_NETLINK)", fd)?);
    // SAFETY: `req` is a readable buffer of the length passed.
    let sent = unsafe { libc::send(raw(&fd), req.as_ptr().cast(), req.len(), 0) };
    check_len("send(netlink)", sent)?;
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: `buf` is a writable buffer of the length passed.
    let n = unsafe { libc::recv(raw(&fd), buf.as_mut_ptr().cast(), buf.len(), 0) };
    buf.truncate(check_len("recv(netlink)", n)?);
    Ok(buf)
}

/// The id of the XDP program attached to `ifindex` in any mode, if any.
pub fn xdp_program_id(ifindex: u32) -> Option<u32> {
    // struct nlmsghdr (16 bytes) + struct ifinfomsg (16 bytes)
    let mut req = [0u8; 32];
    req[0..4].copy_from_slice(&32u32.to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence
    req[16] = libc::AF_UNSPEC as u8;
    req[20..24].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    parse_link_reply(&ask(libc::NETLINK_ROUTE, &req).ok()?)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Walks the attributes of an `RTM_NEWLINK` reply for `IFLA_XDP` /
/// `IFLA_XDP_PROG_ID`.
fn parse_link_reply(msg: &[u8]) -> Option<u32> {
    let len = u32_at(msg, 0)? as usize;
    if u16_at(msg, 4)? == NLMSG_ERROR {
        return None;
    }
    let xdp = find_attr(msg.get(..len)?.get(32..)?, IFLA_XDP)?;
    u32_at(find_attr(xdp, IFLA_XDP_PROG_ID)?, 0).filter(|&id| id != 0)
}

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
const NETDEV_CMD_DEV_GET: u8 = 1;
const NETDEV_A_DEV_IFINDEX: u16 = 1;
const NETDEV_A_DEV_XDP_FEATURES: u16 = 3;

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
    // struct nlmsghdr (16 bytes) + struct genlmsghdr (4) + the attribute
    let alen = 4 + value.len();
    let len = 16 + 4 + ((alen + 3) & !3);
    let mut req = vec![0u8; len];
    req[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&family.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence
    req[16] = cmd;
    req[17] = 1; // version
    req[20..22].copy_from_slice(&(alen as u16).to_ne_bytes());
    req[22..24].copy_from_slice(&attr.to_ne_bytes());
    req[24..24 + value.len()].copy_from_slice(value);
    let msg = ask(libc::NETLINK_GENERIC, &req)?;
    if u16_at(&msg, 4) == Some(NLMSG_ERROR) || msg.len() < 20 {
        // struct nlmsgerr: the negative errno after the header
        let errno = u32_at(&msg, 16)
            .map(|e| -(e as i32))
            .filter(|e| *e > 0)
            .unwrap_or(libc::EOPNOTSUPP);
        return Err(SysError {
            call: "netlink(generic)",
            source: std::io::Error::from_raw_os_error(errno),
        });
    }
    let total = u32_at(&msg, 0).unwrap_or(0) as usize;
    Ok(msg
        .get(20..total.min(msg.len()))
        .unwrap_or_default()
        .to_vec())
}

/// The value of the first attribute of type `want` in a run of them.
fn find_attr(attrs: &[u8], want: u16) -> Option<&[u8]> {
    let mut at = 0;
    while at + 4 <= attrs.len() {
        let l = usize::from(u16_at(attrs, at)?);
        let t = u16_at(attrs, at + 2)? & NLA_TYPE_MASK;
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

/// The IP addresses of interface `name`.
pub fn addresses(name: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    each_address(|n, a, _| {
        if n == name.as_bytes() {
            out.push(a);
        }
    });
    out
}

/// Every address of every interface of this network namespace, with its
/// prefix length (from the netmask; the full length where there is none).
pub fn host_addresses() -> Vec<(IpAddr, u8)> {
    let mut out = Vec::new();
    each_address(|_, a, len| out.push((a, len)));
    out
}

/// Calls `f(interface name, address, prefix length)` for each IPv4 and
/// IPv6 address `getifaddrs` lists; nothing when it fails.
fn each_address(mut f: impl FnMut(&[u8], IpAddr, u8)) {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return;
    }
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs returned, alive until
        // freeifaddrs; its name is a NUL-terminated string, and its address
        // and netmask, when not null, sockaddrs of the family the address
        // names.
        unsafe {
            let ifa = &*p;
            let name = std::ffi::CStr::from_ptr(ifa.ifa_name).to_bytes();
            if !ifa.ifa_addr.is_null() {
                let mask = ifa.ifa_netmask;
                match i32::from((*ifa.ifa_addr).sa_family) {
                    libc::AF_INET => {
                        let a = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                        let len = if mask.is_null() {
                            32
                        } else {
                            let m = &*mask.cast::<libc::sockaddr_in>();
                            u32::from_be(m.sin_addr.s_addr).count_ones() as u8
                        };
                        let addr = IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes());
                        f(name, addr, len);
                    }
                    libc::AF_INET6 => {
                        let a = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                        let len = if mask.is_null() {
                            128
                        } else {
                            let m = &*mask.cast::<libc::sockaddr_in6>();
                            u128::from_be_bytes(m.sin6_addr.s6_addr).count_ones() as u8
                        };
                        f(name, IpAddr::from(a.sin6_addr.s6_addr), len);
                    }
                    _ => {}
                }
            }
            p = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_program_id_in_a_link_reply() {
        // nlmsghdr + ifinfomsg, IFLA_IFNAME "x", nested IFLA_XDP with
        // IFLA_XDP_ATTACHED = 1 and IFLA_XDP_PROG_ID = 77
        let mut m = vec![0u8; 32];
        m.extend_from_slice(&[6, 0, 3, 0, b'x', 0, 0, 0]);
        let mut xdp = vec![5, 0, 2, 0, 1, 0, 0, 0];
        xdp.extend_from_slice(&[8, 0, 4, 0]);
        xdp.extend_from_slice(&77u32.to_ne_bytes());
        m.extend_from_slice(&((4 + xdp.len()) as u16).to_ne_bytes());
        m.extend_from_slice(&(IFLA_XDP | 0x8000).to_ne_bytes());
        m.extend_from_slice(&xdp);
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&16u16.to_ne_bytes());
        assert_eq!(parse_link_reply(&m), Some(77));
        // no program: attribute absent or id 0
        let mut none = m.clone();
        none[56..60].copy_from_slice(&0u32.to_ne_bytes());
        assert_eq!(parse_link_reply(&none), None);
        assert_eq!(parse_link_reply(&m[..40]), None);
    }

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
    fn loopback_has_its_address() {
        assert!(addresses("lo").contains(&IpAddr::from([127, 0, 0, 1])));
        assert!(addresses("no-such-interface").is_empty());
    }
}
