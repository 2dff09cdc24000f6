//! Flow export's settings (`--ipfix` and its companions): the collectors
//! records go to, checked for their syntax here (resolving a name is the
//! exporter's, which retries), and the timeouts that cut records.

use super::{defaults, parse_duration};
use clap::Args;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The flow export flags of `ringflow run` and `ringflow replay`; in the
/// config file the same keys.
#[derive(Debug, Default, Clone, PartialEq, Eq, Args, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IpfixArgs {
    /// Export every flow as IPFIX records to this collector: HOST:PORT or
    /// udp://HOST:PORT (UDP), tcp://HOST:PORT (TCP, reconnecting); repeat
    /// for several [default: none].
    #[arg(long = "ipfix", value_name = "HOST:PORT")]
    #[serde(default)]
    pub ipfix: Vec<String>,
    /// IPFIX over UDP: resend the templates and the exporter's counts this
    /// often (and at least every 4096 messages).
    #[arg(long, value_name = "DURATION")]
    pub ipfix_template_refresh: Option<String>,
    /// IPFIX: the largest IP packet a message goes out in, headers
    /// included (bytes).
    #[arg(long, value_name = "BYTES")]
    pub ipfix_mtu: Option<u32>,
    /// IPFIX: a flow is reported once it has lasted this long since its
    /// last record (a long flow every minute by default).
    #[arg(long, value_name = "DURATION")]
    pub ipfix_active_timeout: Option<String>,
    /// IPFIX: a flow with no packet for this long ends and is reported.
    #[arg(long, value_name = "DURATION")]
    pub ipfix_idle_timeout: Option<String>,
}

/// TOML keys of [`IpfixArgs`].
pub const IPFIX_KEYS: [&str; 5] = [
    "ipfix",
    "ipfix-template-refresh",
    "ipfix-mtu",
    "ipfix-active-timeout",
    "ipfix-idle-timeout",
];

/// How records travel to a collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// A collector as given: transport, host (a name or an address) and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub transport: Transport,
    pub host: String,
    pub port: u16,
}

impl Destination {
    /// Parses `HOST:PORT`, `udp://HOST:PORT` or `tcp://HOST:PORT` (an IPv6
    /// address in brackets).
    pub fn parse(text: &str) -> Result<Destination, String> {
        let bad = |why: &str| {
            format!(
                "--ipfix {}: {why} (examples: 192.0.2.9:4739, udp://collector:2055, tcp://[2001:db8::9]:4739)",
                text.escape_debug()
            )
        };
        let (transport, rest) = if let Some(r) = text.strip_prefix("udp://") {
            (Transport::Udp, r)
        } else if let Some(r) = text.strip_prefix("tcp://") {
            (Transport::Tcp, r)
        } else if text.contains("://") {
            return Err(bad("only udp:// and tcp:// are supported"));
        } else {
            (Transport::Udp, text)
        };
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("no port"))?;
        let port: u16 = match port.parse() {
            Ok(p) if p > 0 => p,
            _ => return Err(bad("the port is not a number from 1 to 65535")),
        };
        let host = match host.strip_prefix('[') {
            Some(h) => h
                .strip_suffix(']')
                .filter(|h| h.parse::<std::net::Ipv6Addr>().is_ok())
                .ok_or_else(|| bad("not an IPv6 address in brackets"))?,
            None if host.contains(':') => {
                return Err(bad("put an IPv6 address in brackets"));
            }
            None => host,
        };
        let name_ok = |h: &str| {
            !h.is_empty()
                && h.len() <= 253
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':')
        };
        if !name_ok(host) {
            return Err(bad("not a host name or address"));
        }
        Ok(Destination {
            transport,
            host: host.to_string(),
            port,
        })
    }

    /// How it is named in logs and in the `collector` label.
    pub fn label(&self) -> String {
        let scheme = match self.transport {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Flow export's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpfixSettings {
    pub destinations: Vec<Destination>,
    pub template_refresh: Duration,
    /// The largest IP packet a message goes out in.
    pub mtu: usize,
    pub active_timeout: Duration,
    pub idle_timeout: Duration,
}

/// The smallest `--ipfix-mtu`: a message of the templates and a record
/// fits (and every IP link carries 576 bytes).
pub const MIN_MTU: u32 = 576;
/// The largest: a UDP datagram over IPv4.
pub const MAX_MTU: u32 = 65_535;

impl IpfixArgs {
    /// The settings, or `None` without `--ipfix`. Errors are one line.
    pub fn settings(&self) -> Result<Option<IpfixSettings>, String> {
        if self.ipfix.is_empty() {
            return Ok(None);
        }
        let destinations = self
            .ipfix
            .iter()
            .map(|d| Destination::parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        let at_least_1s = |flag: &str, v: &Option<String>, default: &str| {
            let text = v.as_deref().unwrap_or(default);
            let d = parse_duration(text).map_err(|e| format!("--{flag}: {e}"))?;
            if d < Duration::from_secs(1) {
                return Err(format!("--{flag} {text}: give at least 1s"));
            }
            Ok(d)
        };
        let mtu = self.ipfix_mtu.unwrap_or(defaults::IPFIX_MTU);
        if !(MIN_MTU..=MAX_MTU).contains(&mtu) {
            return Err(format!(
                "--ipfix-mtu {mtu}: give {MIN_MTU} to {MAX_MTU} bytes"
            ));
        }
        Ok(Some(IpfixSettings {
            destinations,
            template_refresh: at_least_1s(
                "ipfix-template-refresh",
                &self.ipfix_template_refresh,
                defaults::IPFIX_TEMPLATE_REFRESH,
            )?,
            mtu: mtu as usize,
            active_timeout: at_least_1s(
                "ipfix-active-timeout",
                &self.ipfix_active_timeout,
                defaults::IPFIX_ACTIVE_TIMEOUT,
            )?,
            idle_timeout: at_least_1s(
                "ipfix-idle-timeout",
                &self.ipfix_idle_timeout,
                defaults::IPFIX_IDLE_TIMEOUT,
            )?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_and_name_themselves() {
        for (text, label) in [
            ("192.0.2.9:4739", "udp://192.0.2.9:4739"),
            (
                "udp://collector.example:2055",
                "udp://collector.example:2055",
            ),
            ("tcp://[2001:db8::9]:4739", "tcp://[2001:db8::9]:4739"),
            ("localhost:9995", "udp://localhost:9995"),
        ] {
            assert_eq!(Destination::parse(text).unwrap().label(), label);
        }
        assert_eq!(
            Destination::parse("tcp://10.0.0.1:1").unwrap().transport,
            Transport::Tcp
        );
    }

    #[test]
    fn bad_destinations_are_one_line_naming_them() {
        for (text, why) in [
            ("collector", "no port"),
            ("collector:0", "the port"),
            ("collector:99999", "the port"),
            ("sctp://x:1", "only udp:// and tcp://"),
            ("2001:db8::9:4739", "brackets"),
            ("[2001:db8::zz]:4739", "not an IPv6 address"),
            (":4739", "not a host"),
            ("bad host:4739", "not a host"),
            ("x\ny:1", "not a host"),
        ] {
            let e = Destination::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(!e.contains('\n'), "{e}");
            assert!(e.starts_with("--ipfix "), "{e}");
        }
    }

    /// Every flow export flag is a config-file key, read apart from the
    /// capture keys, and a flag wins over the file.
    #[test]
    fn every_flag_is_a_config_file_key_and_flags_win() {
        let cmd = IpfixArgs::augment_args(clap::Command::new("x"));
        let mut flags: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
        let mut keys = IPFIX_KEYS.to_vec();
        flags.sort_unstable();
        keys.sort_unstable();
        assert_eq!(keys, flags);
        let path = std::path::Path::new("x.toml");
        let file: toml::Table =
            toml::from_str("ipfix = [\"a:1\"]\nipfix-mtu = 9000\nipfix-idle-timeout = \"5s\"\n")
                .unwrap();
        let cli = super::super::RunArgs {
            ipfix: IpfixArgs {
                ipfix_mtu: Some(1500),
                ..IpfixArgs::default()
            },
            ..Default::default()
        };
        let m = super::super::merge(&cli, path, file).unwrap();
        assert_eq!(m.ipfix.ipfix, ["a:1"]);
        assert_eq!(m.ipfix.ipfix_mtu, Some(1500));
        assert_eq!(m.ipfix.ipfix_idle_timeout.as_deref(), Some("5s"));
    }

    #[test]
    fn settings_take_the_defaults_and_check_their_ranges() {
        assert_eq!(IpfixArgs::default().settings(), Ok(None));
        let a = IpfixArgs {
            ipfix: vec!["127.0.0.1:4739".into()],
            ..IpfixArgs::default()
        };
        let s = a.settings().unwrap().unwrap();
        assert_eq!(s.mtu, 1400);
        assert_eq!(s.active_timeout, Duration::from_secs(60));
        assert_eq!(s.idle_timeout, Duration::from_secs(15));
        assert_eq!(s.template_refresh, Duration::from_secs(60));
        for bad in [
            IpfixArgs {
                ipfix_mtu: Some(100),
                ..a.clone()
            },
            IpfixArgs {
                ipfix_active_timeout: Some("10ms".into()),
                ..a.clone()
            },
            IpfixArgs {
                ipfix_idle_timeout: Some("soon".into()),
                ..a.clone()
            },
        ] {
            let e = bad.settings().unwrap_err();
            assert!(e.starts_with("--ipfix-"), "{e}");
        }
    }
}
