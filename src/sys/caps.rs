//! The capabilities this process holds and the memory it may lock, as the
//! kernel reports them, so a start that lacks one can name it instead of
//! passing on the EPERM of whichever call came first.

/// The capabilities ringflow may use (numbers from `linux/capability.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    NetAdmin = 12,
    NetRaw = 13,
    IpcLock = 14,
    SysAdmin = 21,
    SysNice = 23,
    Bpf = 39,
}

impl Cap {
    pub const ALL: [Cap; 6] = [
        Cap::NetAdmin,
        Cap::NetRaw,
        Cap::IpcLock,
        Cap::SysAdmin,
        Cap::SysNice,
        Cap::Bpf,
    ];

    /// The capability named `CAP_...`, if it is one of these.
    pub fn from_name(name: &str) -> Option<Cap> {
        Cap::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Cap::NetAdmin => "CAP_NET_ADMIN",
            Cap::NetRaw => "CAP_NET_RAW",
            Cap::IpcLock => "CAP_IPC_LOCK",
            Cap::SysAdmin => "CAP_SYS_ADMIN",
            Cap::SysNice => "CAP_SYS_NICE",
            Cap::Bpf => "CAP_BPF",
        }
    }
}

/// The effective set (`CapEff` of `/proc/self/status`); None when it cannot
/// be read, and then the kernel's answer to each call decides.
pub fn effective() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_cap_eff(&status)
}

fn parse_cap_eff(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

/// Whether `set` (an effective set) holds `cap`.
pub fn holds(set: u64, cap: Cap) -> bool {
    set & (1u64 << cap as u32) != 0
}

/// The soft RLIMIT_MEMLOCK in bytes; None when unlimited.
pub fn memlock_limit() -> Option<u64> {
    use nix::sys::resource::{Resource, getrlimit};
    match getrlimit(Resource::RLIMIT_MEMLOCK) {
        Ok((soft, _)) if soft != libc::RLIM_INFINITY => Some(soft),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_set_of_a_status_file() {
        let status = "Name:\tringflow\nCapInh:\t0000000000000000\nCapPrm:\t0000008000003000\nCapEff:\t0000008000003000\n";
        let set = parse_cap_eff(status).unwrap();
        assert!(holds(set, Cap::NetRaw) && holds(set, Cap::NetAdmin) && holds(set, Cap::Bpf));
        assert!(!holds(set, Cap::SysNice) && !holds(set, Cap::IpcLock));
        assert_eq!(parse_cap_eff("Name:\tx\n"), None);
        assert_eq!(Cap::from_name("CAP_BPF"), Some(Cap::Bpf));
        assert_eq!(Cap::from_name("CAP_CHOWN"), None);
    }
}
