//! The words of the capture settings: which backend, how the kernel
//! spreads packets, which direction, how AF_XDP attaches and binds. The
//! capture modules act on them; here they are only parsed and printed.

use serde::{Deserialize, Serialize};

/// Capture backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// AF_PACKET with TPACKET_V3 rings and fanout: works on every interface.
    AfPacket,
    /// AF_XDP, one socket per RX queue: takes the frames away from the
    /// kernel stack, for dedicated capture ports.
    AfXdp,
    /// AF_XDP on an interface without addresses (a SPAN port), else AF_PACKET.
    Auto,
}

/// How the kernel spreads packets over the sockets of a fanout group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Fanout {
    /// By the host pair of the innermost packet, inside the tunnels
    /// `--decap` opens (a classic BPF program): both directions, a mirror
    /// session's flows and every copy of a packet meet on one worker.
    Inner,
    /// By the kernel's flow hash (symmetric) of the outer headers.
    Hash,
    /// By the CPU that received the packet.
    Cpu,
    /// By the NIC queue the packet came in on.
    Qm,
    /// Round robin.
    Lb,
}

/// Which packets to capture relative to this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    Both,
    /// Received packets only.
    In,
    /// Packets this host sends only.
    Out,
}

/// How the XDP program is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum XdpMode {
    /// Native (driver) mode where the driver has it, else SKB mode.
    Auto,
    /// In the driver, before any socket buffer exists.
    Native,
    /// Generic mode, after the kernel built a socket buffer; works everywhere.
    Skb,
}

/// How the sockets are bound to their queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum XdpBind {
    /// Zero-copy, falling back to copy when the driver refuses.
    Auto,
    ZeroCopy,
    Copy,
}
