//! Two questions to the kernel about an interface: which XDP program is
//! attached to it (rtnetlink `RTM_GETLINK`, attribute `IFLA_XDP`), and
//! which IP addresses it has (`getifaddrs`).

use super::{check_len, check_ret, owned, raw};
use std::net::IpAddr;

const RTM_GETLINK: u16 = 18;
const NLM_F_REQUEST: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_PROG_ID: u16 = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The id of the XDP program attached to `ifindex` in any mode, if any.
pub fn xdp_program_id(ifindex: u32) -> Option<u32> {
    // SAFETY: plain socket creation.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    let fd = owned(check_ret("socket(AF_NETLINK)", fd).ok()?);
    // struct nlmsghdr (16 bytes) + struct ifinfomsg (16 bytes)
    let mut req = [0u8; 32];
    req[0..4].copy_from_slice(&32u32.to_ne_bytes());
    req[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    req[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes()); // sequence
    req[16] = libc::AF_UNSPEC as u8;
    req[20..24].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    // SAFETY: `req` is a readable buffer of the length passed.
    let sent = unsafe { libc::send(raw(&fd), req.as_ptr().cast(), req.len(), 0) };
    check_len("send(netlink)", sent).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: `buf` is a writable buffer of the length passed.
    let n = unsafe { libc::recv(raw(&fd), buf.as_mut_ptr().cast(), buf.len(), 0) };
    let n = check_len("recv(netlink)", n).ok()?;
    parse_link_reply(buf.get(..n)?)
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
    let msg = msg.get(..len)?;
    let attrs = |b: &[u8]| -> Vec<(u16, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while let (Some(l), Some(t)) = (u16_at(b, at), u16_at(b, at + 2)) {
            let l = usize::from(l);
            if l < 4 {
                break;
            }
            if let Some(v) = b.get(at + 4..at + l) {
                out.push((t & NLA_TYPE_MASK, v.to_vec()));
            }
            at += (l + 3) & !3;
        }
        out
    };
    let (_, xdp) = attrs(msg.get(32..)?)
        .into_iter()
        .find(|(t, _)| *t == IFLA_XDP)?;
    let (_, id) = attrs(&xdp)
        .into_iter()
        .find(|(t, _)| *t == IFLA_XDP_PROG_ID)?;
    u32_at(&id, 0).filter(|&id| id != 0)
}

/// The IP addresses of interface `name`.
pub fn addresses(name: &str) -> Vec<IpAddr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut p = head;
    while !p.is_null() {
        // SAFETY: `p` is a node of the list getifaddrs returned, alive until
        // freeifaddrs; its name is a NUL-terminated string and its address,
        // when not null, a sockaddr of the family it names.
        unsafe {
            let ifa = &*p;
            let n = std::ffi::CStr::from_ptr(ifa.ifa_name);
            if n.to_bytes() == name.as_bytes() && !ifa.ifa_addr.is_null() {
                match i32::from((*ifa.ifa_addr).sa_family) {
                    libc::AF_INET => {
                        let a = &*ifa.ifa_addr.cast::<libc::sockaddr_in>();
                        out.push(IpAddr::from(u32::from_be(a.sin_addr.s_addr).to_be_bytes()));
                    }
                    libc::AF_INET6 => {
                        let a = &*ifa.ifa_addr.cast::<libc::sockaddr_in6>();
                        out.push(IpAddr::from(a.sin6_addr.s6_addr));
                    }
                    _ => {}
                }
            }
            p = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
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
    fn loopback_has_its_address() {
        assert!(addresses("lo").contains(&IpAddr::from([127, 0, 0, 1])));
        assert!(addresses("no-such-interface").is_empty());
    }
}
