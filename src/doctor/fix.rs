//! `ringflow doctor --fix`: the safe fixes (a queue's interrupt onto its
//! worker's CPU, receive offloads off on a port that only captures, the
//! receive ring at its largest), each applied through the same kernel
//! interfaces the doctor reads, and said back with the command that
//! undoes it.

use super::kernel::{Kernel, why};
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
        let done = match self {
            Action::IrqAffinity { irq, to, .. } => k.write(
                &format!("/proc/irq/{irq}/smp_affinity_list"),
                &to.to_string(),
            ),
            Action::Offload {
                iface,
                what: Offload::Gro,
            } => k.ethtool(iface, &mut nic::request(nic::SGRO, 8, &[0])),
            // the legacy flags are set all at once: the others as they are
            Action::Offload { iface, what } => {
                let bit = match what {
                    Offload::Lro => nic::FLAG_LRO,
                    _ => nic::FLAG_RXVLAN,
                };
                let mut b = nic::request(nic::GFLAGS, 8, &[]);
                k.ethtool(iface, &mut b).and_then(|()| {
                    let value = nic::word(&b, 4) & !bit;
                    k.ethtool(iface, &mut nic::request(nic::SFLAGS, 8, &[value]))
                })
            }
            Action::RxRing { iface, to, raw, .. } => {
                let mut words = *raw;
                words[4] = *to;
                k.ethtool(iface, &mut nic::request(nic::SRINGPARAM, 36, &words))
            }
        };
        done.map_err(|e| why(&e))
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
        fn ethtool(&self, _: &str, buf: &mut [u8]) -> std::io::Result<()> {
            if buf[0..4] == nic::GFLAGS.to_ne_bytes() {
                buf[4..8].copy_from_slice(&self.flags.to_ne_bytes());
            }
            self.calls.borrow_mut().push(buf.to_vec());
            Ok(())
        }
        fn xdp_features(&self, _: &str) -> std::io::Result<u64> {
            Err(std::io::Error::other("none"))
        }
        fn addresses(&self, _: &str) -> Vec<IpAddr> {
            Vec::new()
        }
        fn read(&self, _: &str) -> std::io::Result<String> {
            Err(std::io::Error::other("none"))
        }
        fn list(&self, _: &str) -> std::io::Result<Vec<String>> {
            Err(std::io::Error::other("none"))
        }
        fn write(&self, path: &str, text: &str) -> std::io::Result<()> {
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
        assert_eq!(words(k.calls.borrow().last().unwrap()), [nic::SGRO, 0]);
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
