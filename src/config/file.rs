//! The config file, and how it meets the command line: every flag has a
//! key of the same name, and a flag given on the command line wins over
//! the file. One mechanism does that for every flag ([`merge`]): the flags
//! given are written as TOML over the file's table, and the result is read
//! back as the arguments, checked as the file alone would be. A new flag
//! needs nothing here.

use super::decode::DECODE_KEYS;
use super::export::IPFIX_KEYS;
use super::{ACCOUNTING_KEYS, AccountingArgs, RunArgs};
use serde::Serialize;
use std::path::Path;

/// A file that is not TOML: the parser's message, where it found the fault.
fn bad_syntax(path: &Path, text: &str, e: toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let (line, col) = line_col(text, span.start);
            format!(
                "config file {}, line {line}, column {col}: {msg}",
                path.display()
            )
        }
        None => format!("config file {}: {msg}", path.display()),
    }
}

/// Line and column (from 1, in characters) of byte `at` of `text`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(at.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// Where the value of top-level key `key` starts in the config file at
/// `path` (line, column), read again: only an error needs it.
fn value_position(path: &Path, key: &str) -> Option<(usize, usize)> {
    let text = std::fs::read_to_string(path).ok()?;
    let table = toml::de::DeTable::parse(&text).ok()?;
    let (_, v) = table.get_ref().iter().find(|(k, _)| k.get_ref() == key)?;
    Some(line_col(&text, v.span().start))
}

/// `table` taken as `T`; an error names the file, the key that does not
/// fit (the first that fails alone) and where its value is in the file.
fn take<T: serde::de::DeserializeOwned>(path: &Path, table: toml::Table) -> Result<T, String> {
    table.clone().try_into().map_err(|e: toml::de::Error| {
        let msg = e.message().trim().replace('\n', " ");
        let key = table.iter().map(|(k, _)| k).find(|k| {
            let mut one = toml::Table::new();
            one.insert(k.to_string(), table[k.as_str()].clone());
            one.try_into::<T>().is_err()
        });
        let file = path.display();
        match key {
            Some(k) => {
                let at = value_position(path, k)
                    .map(|(l, c)| format!(", line {l}, column {c}"))
                    .unwrap_or_default();
                if msg.contains(&format!("`{k}`")) {
                    format!("config file {file}{at}: {msg}")
                } else {
                    format!("config file {file}{at}: {k}: {msg}")
                }
            }
            None => format!("config file {file}: {msg}"),
        }
    })
}

/// The keys and values of a TOML config file, unchecked.
pub fn config_table(path: &Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read config file {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| bad_syntax(path, &text, e))
}

/// Takes a config file's text as [`read_config_file`] takes the file;
/// `path` names it in errors.
pub fn run_args_from_text(path: &Path, text: &str) -> Result<RunArgs, String> {
    let table = toml::from_str(text).map_err(|e| bad_syntax(path, text, e))?;
    run_args_from_table(path, table)
}

/// Reads a TOML config file: the capture keys and the accounting keys.
pub fn read_config_file(path: &Path) -> Result<RunArgs, String> {
    run_args_from_table(path, config_table(path)?)
}

/// Checks the keys of the config file at `path` (read with
/// [`config_table`]) and takes their values.
pub fn run_args_from_table(path: &Path, mut table: toml::Table) -> Result<RunArgs, String> {
    // the accounting and flow export keys are read into their own args
    let mut apart = |keys: &[&str]| {
        let mut t = toml::Table::new();
        for k in keys {
            if let Some(v) = table.remove(*k) {
                t.insert(k.to_string(), v);
            }
        }
        t
    };
    let acc = apart(&ACCOUNTING_KEYS);
    let ipfix = apart(&IPFIX_KEYS);
    let decode = apart(&DECODE_KEYS);
    let mut run: RunArgs = take(path, table).map_err(|m| {
        // the accounting and flow export keys are read apart: name them too
        if m.contains("unknown field") {
            let more: Vec<String> = ACCOUNTING_KEYS
                .iter()
                .chain(&IPFIX_KEYS)
                .chain(&DECODE_KEYS)
                .map(|k| format!("`{k}`"))
                .collect();
            format!("{m}, {}", more.join(", "))
        } else {
            m
        }
    })?;
    run.accounting = take(path, acc)?;
    run.ipfix = take(path, ipfix)?;
    run.decode = take(path, decode)?;
    Ok(run)
}

/// The values a command line gives, as TOML keys: an absent option, a
/// flag left off (`false`) and a repeatable flag not given (`[]`) give
/// nothing.
fn given<T: Serialize>(args: &T) -> toml::Table {
    toml::Table::try_from(args)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, v)| match v {
            toml::Value::Boolean(b) => *b,
            toml::Value::Array(a) => !a.is_empty(),
            _ => true,
        })
        .collect()
}

/// The command line `cli` over the config file at `path` (its table as
/// [`config_table`] read it): what the command line gives wins.
pub fn merge(cli: &RunArgs, path: &Path, mut file: toml::Table) -> Result<RunArgs, String> {
    file.extend(given(cli));
    file.extend(given(&cli.accounting));
    file.extend(given(&cli.ipfix));
    file.extend(given(&cli.decode));
    let mut merged = run_args_from_table(path, file)?;
    merged.config = cli.config.clone();
    Ok(merged)
}

/// The accounting flags `cli` over the accounting keys of the config
/// file at `path` (its table as [`config_table`] read it).
pub fn merge_accounting(
    cli: &AccountingArgs,
    path: &Path,
    file: toml::Table,
) -> Result<AccountingArgs, String> {
    let run = RunArgs {
        accounting: cli.clone(),
        ..RunArgs::default()
    };
    Ok(merge(&run, path, file)?.accounting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AccountingArgs, CompatProfile, Fanout};

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn errors_name_the_file_line_column_and_key() {
        let dir = std::env::temp_dir().join(format!("ringflow-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ringflow.toml");
        let check = |text: &str| {
            std::fs::write(&path, text).unwrap();
            let e = config_table(&path)
                .and_then(|t| run_args_from_table(&path, t))
                .unwrap_err();
            assert!(!e.contains('\n'), "{e}");
            e.replace(&path.display().to_string(), "F")
        };
        // not TOML: where the parser stopped
        assert_eq!(
            check("workers = 2\n\niface = eth0\n"),
            "config file F, line 3, column 9: string values must be quoted, expected literal string"
        );
        // a value of the wrong type, in each of the parts the file is read in
        assert_eq!(
            check("workers = 2\nsnaplen = \"x\"\n"),
            "config file F, line 2, column 11: snaplen: invalid type: string \"x\", expected u32"
        );
        assert_eq!(
            check("max-hosts = -1\n"),
            "config file F, line 1, column 13: max-hosts: invalid value: integer `-1`, expected u64"
        );
        assert!(
            check("iface = [\"x\"]\nipfix-mtu = \"big\"\n")
                .starts_with("config file F, line 2, column 13: ipfix-mtu: invalid type")
        );
        // an unknown key is named by the parser
        assert!(
            check("  workerz = 2\n")
                .starts_with("config file F, line 1, column 13: unknown field `workerz`")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_command_line_wins_and_the_file_fills_in() {
        let file = table(
            "iface = [\"eth1\", \"eth2\"]\nworkers = 2\npromisc = true\nfanout = \"cpu\"\n\
             snaplen = 128\nmax-hosts = 5\nflow-idle = \"2m\"\nworker-priority = 5\n",
        );
        let cli = RunArgs {
            iface: vec!["eth9".into()],
            snaplen: Some(96),
            accounting: AccountingArgs {
                max_hosts: Some(7),
                compat: Some(vec![CompatProfile::Promflow]),
                ..AccountingArgs::default()
            },
            ..RunArgs::default()
        };
        let m = merge(&cli, Path::new("x.toml"), file).unwrap();
        assert_eq!(m.iface, ["eth9"]);
        assert_eq!(m.snaplen, Some(96));
        assert_eq!(m.workers, Some(2));
        assert_eq!(m.fanout, Some(Fanout::Cpu));
        // a flag left off does not turn the file's setting off
        assert!(m.promisc);
        assert_eq!(m.worker_priority.as_deref(), Some("5"));
        assert_eq!(m.accounting.max_hosts, Some(7));
        assert_eq!(m.accounting.flow_idle.as_deref(), Some("2m"));
        assert_eq!(m.accounting.compat, Some(vec![CompatProfile::Promflow]));
    }

    #[test]
    fn every_flag_of_the_command_line_reaches_the_merge() {
        // Every field set: a flag the mechanism could not carry would fail
        // to read back, or come back different.
        let cli: RunArgs = toml::from_str(
            "iface = [\"a\"]\nexclude-iface = [\"b\"]\nbackend = \"af-xdp\"\nworkers = 3\n\
             cpus = \"0-1\"\nsnaplen = 100\nfilter = \"udp\"\npromisc = true\ndirection = \"in\"\n\
             fanout = \"lb\"\nblock-size = 4096\nblock-count = 8\nframe-size = 1024\n\
             block-timeout = \"5ms\"\nlisten = \"127.0.0.1:9\"\nrefresh = \"2s\"\n\
             flow-table-size = 1000\nprint = true\nqueues = \"0\"\nxdp-mode = \"skb\"\n\
             xdp-bind = \"copy\"\nxdp-frame-size = 4096\nxdp-frames = 4096\nxdp-ring-size = 1024\n\
             xdp-huge-pages = true\nbusy-poll = 20\nbusy-poll-budget = 8\nxdp-steal = true\n\
             worker-priority = \"normal\"\n",
        )
        .unwrap();
        let m = merge(&cli, Path::new("x.toml"), toml::Table::new()).unwrap();
        assert_eq!(format!("{m:?}"), format!("{cli:?}"));
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_keys() {
        let e = merge(&RunArgs::default(), Path::new("x.toml"), table("bogus = 1")).unwrap_err();
        assert!(
            e.starts_with("config file x.toml: unknown field `bogus`"),
            "{e}"
        );
        assert!(e.contains("`max-hosts`"), "{e}");
    }
}
