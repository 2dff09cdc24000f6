//! What ringflow reports about itself besides the capture: its build and
//! start time, and the `process_*` family every Prometheus client library
//! exports (CPU seconds, memory, file descriptors, threads), read from
//! procfs at scrape time.

use std::sync::OnceLock;

/// The build: version, the git commit it was built from (`unknown`
/// outside a git checkout) and the capture backends it has.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const GIT_COMMIT: &str = env!("RINGFLOW_GIT_COMMIT");
pub const BACKEND_FEATURES: &str = "af-packet,af-xdp,pcap";

/// The process's state at one moment. Fields that could not be read are
/// left out of the exposition rather than shown as 0.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub threads: Option<u64>,
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
}

/// When ringflow started, in seconds since the Unix epoch: from the
/// process's start in ticks since boot and the boot time, so it is the
/// same on every scrape.
pub fn start_time_seconds() -> Option<f64> {
    static START: OnceLock<Option<f64>> = OnceLock::new();
    *START.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields = stat_fields(&stat)?;
        let boot = boot_time(&std::fs::read_to_string("/proc/stat").ok()?)?;
        let start_ticks: f64 = fields.get(STARTTIME)?.parse().ok()?;
        Some(boot as f64 + start_ticks / ticks_per_second()?)
    })
}

/// Reads this process's state from procfs.
pub fn read() -> ProcessStats {
    let mut s = ProcessStats {
        start_time_seconds: start_time_seconds(),
        ..Default::default()
    };
    if let Ok(stat) = std::fs::read_to_string("/proc/self/stat")
        && let Some(f) = stat_fields(&stat)
    {
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        if let (Some(u), Some(k), Some(hz)) = (num(UTIME), num(STIME), ticks_per_second()) {
            s.cpu_seconds = Some((u + k) as f64 / hz);
        }
        s.virtual_bytes = num(VSIZE);
        s.threads = num(NUM_THREADS);
        if let (Some(pages), Some(size)) = (num(RSS), page_size()) {
            s.resident_bytes = Some(pages * size);
        }
    }
    s.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    s.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| max_open_files(&l));
    s
}

// Fields of /proc/PID/stat counted from the state (field 3 in proc(5)),
// which follows the ")" that ends the command name.
const UTIME: usize = 14 - 3;
const STIME: usize = 15 - 3;
const NUM_THREADS: usize = 20 - 3;
const STARTTIME: usize = 22 - 3;
const VSIZE: usize = 23 - 3;
const RSS: usize = 24 - 3;

/// The fields after the command name (which may hold spaces and
/// parentheses, so the split is at the last ")").
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

fn boot_time(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn max_open_files(limits: &str) -> Option<u64> {
    let l = limits.lines().find(|l| l.starts_with("Max open files"))?;
    l.split_whitespace().nth(3)?.parse().ok()
}

fn ticks_per_second() -> Option<f64> {
    sysconf(nix::unistd::SysconfVar::CLK_TCK).map(|t| t as f64)
}

fn page_size() -> Option<u64> {
    sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
}

fn sysconf(var: nix::unistd::SysconfVar) -> Option<u64> {
    nix::unistd::sysconf(var).ok().flatten().map(|v| v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (ring flow) x) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 7 0 1234 5678000 900 18446744073709551615";
        let f = stat_fields(stat).unwrap();
        assert_eq!(f[0], "S");
        assert_eq!(f[UTIME], "250");
        assert_eq!(f[STIME], "50");
        assert_eq!(f[NUM_THREADS], "7");
        assert_eq!(f[STARTTIME], "1234");
        assert_eq!(f[VSIZE], "5678000");
        assert_eq!(f[RSS], "900");
    }

    #[test]
    fn limits_and_boot_time() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1764000000\nprocesses 5\n"),
            Some(1764000000)
        );
    }

    #[test]
    fn this_process_reads_whole() {
        let s = read();
        assert!(s.cpu_seconds.is_some() && s.resident_bytes.unwrap() > 0);
        assert!(s.threads.unwrap() >= 1 && s.open_fds.unwrap() >= 3);
        assert!(s.max_fds.unwrap() >= s.open_fds.unwrap());
        let start = s.start_time_seconds.unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "{start} vs {now}"
        );
    }
}
