//! Where the doctor's facts come from: this machine's kernel (the ethtool
//! ioctl, the netdev netlink family, sysfs and procfs), or a fixture
//! recorded from one (`ringflow doctor --record DIR` writes one), so that
//! what a NIC answers can be checked where that NIC is not.
//!
//! A fixture is a directory: `root/` holds the sysfs and procfs files read
//! (`root/sys/class/net/eth1/speed`), `ethtool.txt` one line per answer
//! (`IFACE KEY HEX`, or `IFACE KEY !ERRNO` for a refusal; the key is the
//! command's name, with the flow type or string set it asks about:
//! `grxfh:1`), with the XDP features as `IFACE xdp-features N` and the
//! interface's addresses as `IFACE addresses A,B`.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What the doctor reads, and the one thing `--fix` writes.
pub trait Kernel {
    /// One ethtool command: `buf` holds the request and receives the answer.
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> Result<(), String>;
    /// The driver's `xdp-features` bits.
    fn xdp_features(&self, iface: &str) -> Result<u64, String>;
    /// The IP addresses the interface has.
    fn addresses(&self, iface: &str) -> Vec<IpAddr>;
    /// A sysfs or procfs file, by its absolute path.
    fn read(&self, path: &str) -> Result<String, String>;
    /// The names in a sysfs or procfs directory, sorted.
    fn list(&self, path: &str) -> Result<Vec<String>, String>;
    /// Writes a sysfs or procfs file (`--fix`).
    fn write(&self, path: &str, text: &str) -> Result<(), String>;
}

/// The name under which a fixture keeps the answer to `buf`'s request.
pub fn answer_key(buf: &[u8]) -> String {
    let word = |at: usize| {
        buf.get(at..at + 4)
            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or([0; 4])))
            .unwrap_or(0)
    };
    let cmd = word(0);
    let name = super::nic::command_name(cmd);
    match cmd {
        super::nic::GRXFH | super::nic::GSTRINGS => format!("{name}:{}", word(4)),
        _ => name.to_string(),
    }
}

fn io_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => "the driver does not offer it".into(),
        _ => e.to_string(),
    }
}

/// This machine.
pub struct Live;

impl Kernel for Live {
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> Result<(), String> {
        crate::sys::ethtool::ethtool(iface, buf).map_err(|e| io_text(&e.source))
    }

    fn xdp_features(&self, iface: &str) -> Result<u64, String> {
        let ifindex = crate::sys::ifindex(iface).ok_or("no such interface")?;
        crate::sys::ethtool::xdp_features(ifindex).map_err(|e| io_text(&e.source))
    }

    fn addresses(&self, iface: &str) -> Vec<IpAddr> {
        crate::sys::netlink::addresses(iface)
    }

    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| io_text(&e))
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        let mut names: Vec<String> = std::fs::read_dir(path)
            .map_err(|e| io_text(&e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    fn write(&self, path: &str, text: &str) -> Result<(), String> {
        std::fs::write(path, text).map_err(|e| io_text(&e))
    }
}

/// A recorded machine.
pub struct Fixture {
    root: PathBuf,
    answers: BTreeMap<(String, String), String>,
}

impl Fixture {
    pub fn load(dir: &Path) -> Result<Fixture, String> {
        let text = std::fs::read_to_string(dir.join("ethtool.txt"))
            .map_err(|e| format!("fixture {}: ethtool.txt: {e}", dir.display()))?;
        let mut answers = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut w = line.splitn(3, ' ');
            match (w.next(), w.next(), w.next()) {
                // an empty value: no addresses
                (Some(i), Some(k), v) => {
                    answers.insert(
                        (i.to_string(), k.to_string()),
                        v.unwrap_or("").trim().to_string(),
                    );
                }
                _ => {
                    return Err(format!(
                        "fixture {}: ethtool.txt line {}: expected IFACE KEY VALUE",
                        dir.display(),
                        n + 1
                    ));
                }
            }
        }
        Ok(Fixture {
            root: dir.join("root"),
            answers,
        })
    }

    fn answer(&self, iface: &str, key: &str) -> Result<&str, String> {
        let v = self
            .answers
            .get(&(iface.to_string(), key.to_string()))
            .ok_or("the driver does not offer it")?;
        match v.strip_prefix('!') {
            Some(errno) => Err(io_text(&std::io::Error::from_raw_os_error(
                errno.parse().unwrap_or(libc::EOPNOTSUPP),
            ))),
            None => Ok(v),
        }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl Kernel for Fixture {
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> Result<(), String> {
        let hex = self.answer(iface, &answer_key(buf))?;
        let bytes = from_hex(hex).ok_or("bad hex in the fixture")?;
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(())
    }

    fn xdp_features(&self, iface: &str) -> Result<u64, String> {
        self.answer(iface, "xdp-features")?
            .parse()
            .map_err(|_| "bad number in the fixture".into())
    }

    fn addresses(&self, iface: &str) -> Vec<IpAddr> {
        self.answer(iface, "addresses")
            .map(|v| v.split(',').filter_map(|a| a.parse().ok()).collect())
            .unwrap_or_default()
    }

    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.path(path)).map_err(|e| io_text(&e))
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        let mut names = Live.list(&self.path(path).to_string_lossy())?;
        names.retain(|n| !n.starts_with('.'));
        Ok(names)
    }

    fn write(&self, _: &str, _: &str) -> Result<(), String> {
        Err("a recorded fixture is not changed".into())
    }
}

/// This machine, with every answer kept to be written as a fixture.
pub struct Recorder {
    dir: PathBuf,
    lines: RefCell<Vec<String>>,
}

impl Recorder {
    pub fn new(dir: &Path) -> Result<Recorder, String> {
        std::fs::create_dir_all(dir.join("root"))
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Recorder {
            dir: dir.to_path_buf(),
            lines: RefCell::new(vec!["# recorded by ringflow doctor --record".to_string()]),
        })
    }

    fn keep(&self, iface: &str, key: &str, value: String) {
        self.lines
            .borrow_mut()
            .push(format!("{iface} {key} {value}"));
    }

    /// Writes `ethtool.txt`.
    pub fn finish(&self) -> Result<(), String> {
        let mut text = self.lines.borrow().join("\n");
        text.push('\n');
        std::fs::write(self.dir.join("ethtool.txt"), text)
            .map_err(|e| format!("cannot write the fixture: {e}"))
    }

    fn copy(&self, path: &str, text: &str) {
        let to = self.dir.join("root").join(path.trim_start_matches('/'));
        if let Some(parent) = to.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(to, text);
    }
}

fn errno_of(e: &str) -> String {
    if e == "the driver does not offer it" {
        format!("!{}", libc::EOPNOTSUPP)
    } else {
        format!("!{}", libc::EINVAL)
    }
}

impl Kernel for Recorder {
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> Result<(), String> {
        let key = answer_key(buf);
        let r = Live.ethtool(iface, buf);
        match &r {
            // the request was zeros past what the kernel wrote, so the
            // trailing zeros are left out and come back on replay
            Ok(()) => {
                let end = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                self.keep(iface, &key, to_hex(&buf[..end]))
            }
            Err(e) => self.keep(iface, &key, errno_of(e)),
        }
        r
    }

    fn xdp_features(&self, iface: &str) -> Result<u64, String> {
        let r = Live.xdp_features(iface);
        match &r {
            Ok(v) => self.keep(iface, "xdp-features", v.to_string()),
            Err(e) => self.keep(iface, "xdp-features", errno_of(e)),
        }
        r
    }

    fn addresses(&self, iface: &str) -> Vec<IpAddr> {
        let a = Live.addresses(iface);
        let text: Vec<String> = a.iter().map(|a| a.to_string()).collect();
        self.keep(iface, "addresses", text.join(","));
        a
    }

    fn read(&self, path: &str) -> Result<String, String> {
        let r = Live.read(path);
        if let Ok(text) = &r {
            self.copy(path, text);
        }
        r
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        let r = Live.list(path);
        // the processes are kept by the files read under them, not all
        if let (Ok(names), false) = (&r, path == "/proc") {
            for n in names {
                let to = self
                    .dir
                    .join("root")
                    .join(path.trim_start_matches('/'))
                    .join(n);
                if Path::new(path).join(n).is_dir() {
                    // kept in a repository only with a file in it
                    let _ = std::fs::create_dir_all(&to);
                    let _ = std::fs::write(to.join(".keep"), "");
                } else if !to.exists() {
                    if let Some(parent) = to.parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    let _ = std::fs::write(to, "");
                }
            }
        }
        r
    }

    fn write(&self, _: &str, _: &str) -> Result<(), String> {
        Err("recording changes nothing".into())
    }
}

pub fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
