//! What the workers decode: the tunnels they open (`--decap`,
//! `--vxlan-port`) and the duplicates they drop (`--dedup`). The same keys
//! in the config file; `ringflow run` and `ringflow replay` both take them.

use super::defaults;
use crate::parse::{Decap, Encap};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Default, Clone, PartialEq, Eq, Args, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DecodeArgs {
    /// Tunnels to open and count the packets inside: a comma list of
    /// erspan, vxlan, geneve, gre, ipip; `all` or `none` (count the outer
    /// headers).
    #[arg(long, value_name = "KINDS")]
    pub decap: Option<String>,
    /// UDP port VXLAN arrives on; repeat for several (at most 4).
    #[arg(long = "vxlan-port", value_name = "PORT")]
    #[serde(default)]
    pub vxlan_port: Vec<u16>,
    /// Count a packet once when the same IP packet (apart from its TTL and
    /// checksum, whatever Layer 2 or tunnel it came in) was seen within
    /// this window, e.g. 1ms; at most 100ms [default: off].
    #[arg(long, value_name = "WINDOW")]
    pub dedup: Option<String>,
}

/// TOML keys of [`DecodeArgs`].
pub const DECODE_KEYS: [&str; 3] = ["decap", "vxlan-port", "dedup"];

impl DecodeArgs {
    /// The tunnels opened and the duplicate window, checked; an error
    /// names the flag.
    pub fn settings(&self) -> Result<(Decap, Option<Duration>), String> {
        let kinds = parse_kinds(self.decap.as_deref().unwrap_or(defaults::DECAP))?;
        let ports = if self.vxlan_port.is_empty() {
            vec![defaults::VXLAN_PORT]
        } else {
            self.vxlan_port.clone()
        };
        let decap = Decap::new(&kinds, &ports).map_err(|e| format!("--vxlan-port: {e}"))?;
        let dedup = match &self.dedup {
            None => None,
            Some(w) => Some(parse_window(w)?),
        };
        Ok((decap, dedup))
    }
}

/// `all`, `none`, or a comma list of kinds.
pub fn parse_kinds(text: &str) -> Result<Vec<Encap>, String> {
    let names: Vec<&str> = Encap::ALL.iter().map(|e| e.as_str()).collect();
    let bad = |what: &str| {
        format!(
            "--decap: unknown tunnel kind '{}' (use all, none, or a comma list of {})",
            what.escape_debug(),
            names.join(", ")
        )
    };
    match text.trim() {
        "all" => return Ok(Encap::ALL.to_vec()),
        "none" => return Ok(Vec::new()),
        _ => {}
    }
    let mut kinds = Vec::new();
    for part in text.split(',').map(str::trim) {
        let k = Encap::from_name(part).ok_or_else(|| bad(part))?;
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    Ok(kinds)
}

/// A window above 0 and at most [`defaults::DEDUP_MAX_WINDOW`].
pub fn parse_window(text: &str) -> Result<Duration, String> {
    let max = defaults::DEDUP_MAX_WINDOW;
    let w = super::parse_duration(text).map_err(|e| format!("--dedup: {e}"))?;
    if w > max {
        return Err(format!(
            "--dedup {}: the window is at most {}ms (a copy arrives microseconds after the packet)",
            text.escape_debug(),
            max.as_millis()
        ));
    }
    Ok(w)
}

/// The `check-config` lines of these settings.
pub fn describe(decap: &Decap, dedup: Option<Duration>) -> Vec<String> {
    let kinds: Vec<&str> = decap.kinds().map(|k| k.as_str()).collect();
    let ports: Vec<String> = decap.vxlan_ports().map(|p| p.to_string()).collect();
    vec![
        format!(
            "decap = \"{}\"",
            if kinds.is_empty() {
                "none".to_string()
            } else {
                kinds.join(",")
            }
        ),
        format!("vxlan-port = [{}]", ports.join(", ")),
        match dedup {
            Some(w) => format!("dedup = \"{}us\"", w.as_micros()),
            None => "# dedup: off".to_string(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(parse_kinds("all").unwrap(), Encap::ALL.to_vec());
        assert!(parse_kinds("none").unwrap().is_empty());
        assert_eq!(
            parse_kinds("vxlan, erspan,vxlan").unwrap(),
            vec![Encap::Vxlan, Encap::Erspan]
        );
        let e = parse_kinds("vxlan,mpls").unwrap_err();
        assert!(e.starts_with("--decap: unknown tunnel kind 'mpls'"), "{e}");
        assert!(!e.contains('\n'));
    }

    #[test]
    fn defaults_and_ports() {
        let (d, w) = DecodeArgs::default().settings().unwrap();
        assert_eq!(d, Decap::default());
        assert_eq!(w, None);
        let a = DecodeArgs {
            decap: Some("vxlan".into()),
            vxlan_port: vec![4789, 8472],
            dedup: Some("1ms".into()),
        };
        let (d, w) = a.settings().unwrap();
        assert_eq!(d.kinds().collect::<Vec<_>>(), vec![Encap::Vxlan]);
        assert_eq!(d.vxlan_ports().collect::<Vec<_>>(), vec![4789, 8472]);
        assert_eq!(w, Some(Duration::from_millis(1)));
        let five = DecodeArgs {
            vxlan_port: vec![1, 2, 3, 4, 5],
            ..DecodeArgs::default()
        };
        assert!(five.settings().unwrap_err().starts_with("--vxlan-port"));
        let zero = DecodeArgs {
            vxlan_port: vec![0],
            ..DecodeArgs::default()
        };
        assert!(zero.settings().unwrap_err().starts_with("--vxlan-port"));
    }

    #[test]
    fn window_bounds() {
        assert_eq!(parse_window("100ms").unwrap(), Duration::from_millis(100));
        assert!(parse_window("101ms").unwrap_err().contains("at most 100ms"));
        assert!(parse_window("0ms").unwrap_err().starts_with("--dedup"));
        assert!(parse_window("soon").unwrap_err().starts_with("--dedup"));
    }
}
