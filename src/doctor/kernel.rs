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
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// What the doctor reads, and the one thing `--fix` writes. Errors keep
/// the kernel's errno, so that a recording replays the same refusal.
pub trait Kernel {
    /// One ethtool command: `buf` holds the request and receives the answer.
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> io::Result<()>;
    /// The driver's `xdp-features` bits.
    fn xdp_features(&self, iface: &str) -> io::Result<u64>;
    /// The IP addresses the interface has.
    fn addresses(&self, iface: &str) -> Vec<IpAddr>;
    /// A sysfs or procfs file, by its absolute path.
    fn read(&self, path: &str) -> io::Result<String>;
    /// The names in a sysfs or procfs directory, sorted.
    fn list(&self, path: &str) -> io::Result<Vec<String>>;
    /// Writes a sysfs or procfs file (`--fix`).
    fn write(&self, path: &str, text: &str) -> io::Result<()>;
}

/// The name under which a fixture keeps the answer to `buf`'s request.
pub fn answer_key(buf: &[u8]) -> String {
    use super::nic::{GRXFH, GSTRINGS, command_name, word};
    let cmd = word(buf, 0);
    match cmd {
        GRXFH | GSTRINGS => format!("{}:{}", command_name(cmd), word(buf, 4)),
        _ => command_name(cmd).to_string(),
    }
}

/// An error as the checklist says it.
pub fn why(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) => "the driver does not offer it".into(),
        _ => e.to_string(),
    }
}

fn unsupported() -> io::Error {
    io::Error::from_raw_os_error(libc::EOPNOTSUPP)
}

/// This machine.
pub struct Live;

impl Kernel for Live {
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> io::Result<()> {
        crate::sys::ethtool::ethtool(iface, buf).map_err(|e| e.source)
    }

    fn xdp_features(&self, iface: &str) -> io::Result<u64> {
        let ifindex =
            crate::sys::ifindex(iface).ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))?;
        crate::sys::netlink::xdp_features(ifindex).map_err(|e| e.source)
    }

    fn addresses(&self, iface: &str) -> Vec<IpAddr> {
        crate::sys::netlink::addresses(iface)
    }

    fn read(&self, path: &str) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn list(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        Ok(names)
    }

    fn write(&self, path: &str, text: &str) -> io::Result<()> {
        std::fs::write(path, text)
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

    /// The recorded answer: its value, or the refusal recorded.
    fn answer(&self, iface: &str, key: &str) -> io::Result<&str> {
        let v = self
            .answers
            .get(&(iface.to_string(), key.to_string()))
            .ok_or_else(unsupported)?;
        match v.strip_prefix('!') {
            Some(errno) => Err(errno
                .parse()
                .map(io::Error::from_raw_os_error)
                .unwrap_or_else(|_| unsupported())),
            None => Ok(v),
        }
    }

    fn path(&self, path: &str) -> PathBuf {
        self.root.join(path.trim_start_matches('/'))
    }
}

impl Kernel for Fixture {
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> io::Result<()> {
        let hex = self.answer(iface, &answer_key(buf))?;
        let bytes = from_hex(hex).ok_or_else(|| io::Error::other("bad hex in the fixture"))?;
        let n = bytes.len().min(buf.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        Ok(())
    }

    fn xdp_features(&self, iface: &str) -> io::Result<u64> {
        self.answer(iface, "xdp-features")?
            .parse()
            .map_err(|_| io::Error::other("bad number in the fixture"))
    }

    fn addresses(&self, iface: &str) -> Vec<IpAddr> {
        self.answer(iface, "addresses")
            .map(|v| v.split(',').filter_map(|a| a.parse().ok()).collect())
            .unwrap_or_default()
    }

    fn read(&self, path: &str) -> io::Result<String> {
        std::fs::read_to_string(self.path(path))
    }

    fn list(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names = Live.list(&self.path(path).to_string_lossy())?;
        names.retain(|n| !n.starts_with('.'));
        Ok(names)
    }

    fn write(&self, _: &str, _: &str) -> io::Result<()> {
        Err(io::Error::other("a recorded fixture is not changed"))
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

/// A refusal as a fixture keeps it: its errno.
fn refusal(e: &io::Error) -> String {
    format!("!{}", e.raw_os_error().unwrap_or(libc::EINVAL))
}

impl Kernel for Recorder {
    fn ethtool(&self, iface: &str, buf: &mut [u8]) -> io::Result<()> {
        let key = answer_key(buf);
        let r = Live.ethtool(iface, buf);
        match &r {
            // the request was zeros past what the kernel wrote, so the
            // trailing zeros are left out and come back on replay
            Ok(()) => {
                let end = buf.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                self.keep(iface, &key, to_hex(&buf[..end]))
            }
            Err(e) => self.keep(iface, &key, refusal(e)),
        }
        r
    }

    fn xdp_features(&self, iface: &str) -> io::Result<u64> {
        let r = Live.xdp_features(iface);
        match &r {
            Ok(v) => self.keep(iface, "xdp-features", v.to_string()),
            Err(e) => self.keep(iface, "xdp-features", refusal(e)),
        }
        r
    }

    fn addresses(&self, iface: &str) -> Vec<IpAddr> {
        let a = Live.addresses(iface);
        let text: Vec<String> = a.iter().map(|a| a.to_string()).collect();
        self.keep(iface, "addresses", text.join(","));
        a
    }

    fn read(&self, path: &str) -> io::Result<String> {
        let r = Live.read(path);
        if let Ok(text) = &r {
            self.copy(path, text);
        }
        r
    }

    fn list(&self, path: &str) -> io::Result<Vec<String>> {
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

    fn write(&self, _: &str, _: &str) -> io::Result<()> {
        Err(io::Error::other("recording changes nothing"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::nic::{GCHANNELS, GGRO, GRINGPARAM, request, word};

    #[test]
    fn a_refusal_replays_with_the_errno_it_was_recorded_with() {
        let dir = std::env::temp_dir().join(format!("ringflow-kernel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let eperm = io::Error::from_raw_os_error(libc::EPERM);
        let lines = format!(
            "eth1 gringparam {}\neth1 ggro 2b00000001\neth1 addresses\n",
            refusal(&eperm)
        );
        std::fs::write(dir.join("ethtool.txt"), lines).unwrap();
        let f = Fixture::load(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let mut ring = request(GRINGPARAM, 36, &[]);
        let e = f.ethtool("eth1", &mut ring).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EPERM));
        // not recorded at all: the driver does not offer it
        let mut chan = request(GCHANNELS, 36, &[]);
        let e = f.ethtool("eth1", &mut chan).unwrap_err();
        assert_eq!(why(&e), "the driver does not offer it");
        // an answer shorter than the request (trailing zeros left out)
        let mut gro = request(GGRO, 8, &[]);
        f.ethtool("eth1", &mut gro).unwrap();
        assert_eq!(word(&gro, 4), 1);
        assert!(f.addresses("eth1").is_empty());
    }
}
