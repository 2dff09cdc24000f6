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
