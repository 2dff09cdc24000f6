//! Label values that are not plain numbers or addresses.

/// Ethertype label: `0x0806`; `802.3` for LLC frames; `other` for what did
/// not fit a shard's ethertype table.
pub fn ethertype_label(et: Option<u16>) -> String {
    match et {
        Some(0) => "802.3".to_string(),
        Some(et) => format!("0x{et:04x}"),
        None => "other".to_string(),
    }
}

/// Protocol label: the name for the four the parser reads, else the number.
pub use crate::parse::proto_label;
