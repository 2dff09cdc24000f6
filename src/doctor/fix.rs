//! `ringflow doctor --fix`: the safe fixes (a queue's interrupt onto its
//! worker's CPU, receive offloads off on a port that only captures, the
//! receive ring at its largest), each applied through the same kernel
//! interfaces the doctor reads, and said back with the command that
//! undoes it.

use super::kernel::Kernel;
use super::nic;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Offload {
    Gro,
    Lro,
    RxVlan,
}

impl Offload {
    /// The word `ethtool -K` takes.
    pub fn word(self) -> &'static str {
        match self {
            Offload::Gro => "gro",
            Offload::Lro => "lro",
            Offload::RxVlan => "rxvlan",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    IrqAffinity {
        irq: u32,
        /// The CPU list it had, to put back.
        from: String,
        to: usize,
    },
    Offload {
        iface: String,
        what: Offload,
    },
    RxRing {
        iface: String,
        from: u32,
        to: u32,
        #[serde(skip)]
        raw: [u32; 8],
    },
}

impl Action {
    /// What it will do, for the confirmation.
    pub fn describe(&self) -> String {
        match self {
            Action::IrqAffinity { irq, from, to } => {
                format!("IRQ {irq}: CPU {from} -> {to}")
            }
            Action::Offload { iface, what } => format!("{iface}: {} off", what.word()),
            Action::RxRing {
                iface, from, to, ..
            } => {
                format!("{iface}: receive ring {from} -> {to}")
            }
        }
    }

    /// The command that puts it back as it was.
    pub fn undo(&self) -> String {
        match self {
            Action::IrqAffinity { irq, from, .. } => {
                format!("echo {from} > /proc/irq/{irq}/smp_affinity_list")
            }
            Action::Offload { iface, what } => format!("ethtool -K {iface} {} on", what.word()),
            Action::RxRing { iface, from, .. } => format!("ethtool -G {iface} rx {from}"),
        }
    }

    pub fn apply(&self, k: &dyn Kernel) -> Result<(), String> {
        match self {
            Action::IrqAffinity { irq, to, .. } => k.write(
                &format!("/proc/irq/{irq}/smp_affinity_list"),
                &to.to_string(),
            ),
            Action::Offload { iface, what } => {
                let (get, set, bit) = match what {
                    Offload::Gro => (nic::GGRO, nic::SGRO, None),
                    Offload::Lro => (nic::GFLAGS, nic::SFLAGS, Some(nic::FLAG_LRO)),
                    Offload::RxVlan => (nic::GFLAGS, nic::SFLAGS, Some(nic::FLAG_RXVLAN)),
                };
                let mut b = nic::request(get, 8, &[]);
                k.ethtool(iface, &mut b)?;
                let now = u32::from_ne_bytes(b[4..8].try_into().unwrap_or([0; 4]));
                let value = match bit {
                    Some(bit) => now & !bit,
                    None => 0,
                };
                let mut b = nic::request(set, 8, &[value]);
                k.ethtool(iface, &mut b)
            }
            Action::RxRing { iface, to, raw, .. } => {
                let mut words = *raw;
                words[4] = *to;
                let mut b = nic::request(nic::SRINGPARAM, 36, &words);
                k.ethtool(iface, &mut b)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::net::IpAddr;

    /// A kernel that answers GFLAGS with `flags` and keeps every request
    /// and write it is given: what --fix asks of the kernel, byte for byte.
    struct Kept {
        flags: u32,
        calls: RefCell<Vec<Vec<u8>>>,
        writes: RefCell<Vec<(String, String)>>,
    }

    impl Kernel for Kept {
        fn ethtool(&self, _: &str, buf: &mut [u8]) -> Result<(), String> {
            if buf[0..4] == nic::GFLAGS.to_ne_bytes() {
                buf[4..8].copy_from_slice(&self.flags.to_ne_bytes());
            }
            self.calls.borrow_mut().push(buf.to_vec());
            Ok(())
        }
        fn xdp_features(&self, _: &str) -> Result<u64, String> {
            Err("none".into())
        }
        fn addresses(&self, _: &str) -> Vec<IpAddr> {
            Vec::new()
        }
        fn read(&self, _: &str) -> Result<String, String> {
            Err("none".into())
        }
        fn list(&self, _: &str) -> Result<Vec<String>, String> {
            Err("none".into())
        }
        fn write(&self, path: &str, text: &str) -> Result<(), String> {
            self.writes.borrow_mut().push((path.into(), text.into()));
            Ok(())
        }
    }

    fn kept(flags: u32) -> Kept {
        Kept {
            flags,
            calls: RefCell::new(Vec::new()),
            writes: RefCell::new(Vec::new()),
        }
    }

    fn words(b: &[u8]) -> Vec<u32> {
        b.chunks(4)
            .map(|c| u32::from_ne_bytes(c.try_into().unwrap()))
            .collect()
    }

    #[test]
    fn a_ring_is_set_with_its_other_sizes_as_they_were() {
        let k = kept(0);
        let raw = [4096, 0, 0, 4096, 512, 0, 0, 1024];
        let a = Action::RxRing {
            iface: "eth1".into(),
            from: 512,
            to: 4096,
            raw,
        };
        a.apply(&k).unwrap();
        let calls = k.calls.borrow();
        assert_eq!(
            words(&calls[0]),
            [nic::SRINGPARAM, 4096, 0, 0, 4096, 4096, 0, 0, 1024]
        );
        assert_eq!(a.undo(), "ethtool -G eth1 rx 512");
    }

    #[test]
    fn lro_off_keeps_the_other_flags() {
        let k = kept(nic::FLAG_LRO | nic::FLAG_RXVLAN | 1);
        let a = Action::Offload {
            iface: "eth1".into(),
            what: Offload::Lro,
        };
        a.apply(&k).unwrap();
        assert_eq!(
            words(&k.calls.borrow()[1]),
            [nic::SFLAGS, nic::FLAG_RXVLAN | 1]
        );
        assert_eq!(a.undo(), "ethtool -K eth1 lro on");
        let gro = Action::Offload {
            iface: "eth1".into(),
            what: Offload::Gro,
        };
        gro.apply(&k).unwrap();
        assert_eq!(words(&k.calls.borrow()[3]), [nic::SGRO, 0]);
    }

    #[test]
    fn an_interrupt_moves_by_its_affinity_list() {
        let k = kept(0);
        let a = Action::IrqAffinity {
            irq: 41,
            from: "0-3".into(),
            to: 2,
        };
        a.apply(&k).unwrap();
        assert_eq!(
            k.writes.borrow()[..],
            [(
                "/proc/irq/41/smp_affinity_list".to_string(),
                "2".to_string()
            )]
        );
        assert_eq!(a.undo(), "echo 0-3 > /proc/irq/41/smp_affinity_list");
        assert_eq!(a.describe(), "IRQ 41: CPU 0-3 -> 2");
    }
}
