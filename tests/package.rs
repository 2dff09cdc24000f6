//! What the Debian package ships: man pages and completions generated
//! from the command line as it is, a default config file that checks out
//! (and still does with every example in it switched on), and the package
//! itself: built with `cargo deb`, installed with dpkg, run, verified by
//! systemd, removed and purged.

mod common;

use common::{TempDir, run, stdout_of, tool};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["man", "completions"] {
        for e in std::fs::read_dir(dir.join(sub)).unwrap() {
            out.push(Path::new(sub).join(e.unwrap().file_name()));
        }
    }
    out.sort();
    out
}

/// `contrib/man` and `contrib/completions` are what `ringflow
/// generate-docs` writes from the command line of this build: a flag
/// added or changed without regenerating them fails here.
#[test]
fn shipped_man_pages_and_completions_match_the_command_line() {
    let dir = TempDir::new("docs");
    let out = run(&["generate-docs", dir.path("").to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let generated = files_under(&dir.path(""));
    assert_eq!(
        generated,
        files_under(&repo("contrib")),
        "run `cargo run -- generate-docs contrib`"
    );
    for f in &generated {
        let want = std::fs::read(dir.path("").join(f)).unwrap();
        let shipped = std::fs::read(repo("contrib").join(f)).unwrap();
        assert!(
            want == shipped,
            "contrib/{} is stale: run `cargo run -- generate-docs contrib`",
            f.display()
        );
    }
    // a page per subcommand, with the flags of each
    let run_page = std::fs::read_to_string(dir.path("man/ringflow-run.1")).unwrap();
    assert!(run_page.contains("backend") && run_page.contains("19213"));
    assert!(generated.contains(&PathBuf::from("man/ringflow-check-config.1")));
    let bash = std::fs::read_to_string(dir.path("completions/ringflow.bash")).unwrap();
    assert!(bash.contains("--alert-bytes") && bash.contains("check-config"));
}

/// The default config file checks out as shipped, and so it does with
/// every commented example switched on (each `# key = value` line and the
/// alert groups), so no example in it can drift from what ringflow takes.
#[test]
fn default_config_checks_out_as_shipped_and_with_every_example_on() {
    let shipped = repo("contrib/ringflow.toml");
    let text = std::fs::read_to_string(&shipped).unwrap();
    let dir = TempDir::new("conffile");
    // the interface of the default route may not exist here; lo does
    let as_shipped = dir.path("as-shipped.toml");
    std::fs::write(&as_shipped, format!("iface = [\"lo\"]\n{text}")).unwrap();
    let out = run(&["check-config", as_shipped.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut examples = vec!["iface = [\"lo\"]".to_string()];
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# ") else {
            continue;
        };
        let key = rest.split(" = ").next().unwrap();
        let is_setting = rest.contains(" = ")
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if (is_setting && key != "iface") || rest == "[[alert-group]]" {
            examples.push(rest.to_string());
        }
    }
    assert!(examples.len() > 30, "{examples:?}");
    let on = dir.path("examples-on.toml");
    std::fs::write(&on, examples.join("\n")).unwrap();
    let out = run(&["check-config", on.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("backup-servers") && stdout.contains("scanners-we-run"));
}

/// Purges ringflow's package when dropped, so a failed test leaves
/// nothing installed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "ringflow"]).output();
    }
}

fn dpkg_status() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "ringflow"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `systemd-analyze security`'s overall exposure of a unit file (0 is
/// the best, 10 the worst).
fn exposure(unit: &Path) -> f64 {
    let out = stdout_of(
        Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--no-pager"])
            .arg(unit),
    );
    let line = out
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{out}"));
    line.split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The whole package life: `cargo deb` builds it (binary, unit, conffile,
/// man pages, completions, README, licence); dpkg installs it; the
/// installed binary answers `--version` and checks the installed config;
/// `systemd-analyze verify` passes on the installed unit and `security`
/// scores it and its AF_XDP drop-in; `dpkg -r` leaves no file it shipped
/// but the conffile, and `dpkg --purge` leaves nothing.
#[test]
#[ignore = "needs root and cargo-deb (cargo install cargo-deb); run with --include-ignored"]
fn deb_builds_installs_runs_and_removes_cleanly() {
    assert!(common::netns::is_root(), "dpkg -i needs root");
    let status = dpkg_status();
    assert!(
        !status.contains("installed") && !status.contains("config-files"),
        "a ringflow package is on this machine ({status}); the test would replace it"
    );
    tool("systemd-analyze", "systemd");
    // Its own target directory: the one `cargo test` uses is locked
    // while the tests run.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/package-test");
    let built = stdout_of(
        Command::new(env!("CARGO"))
            .args(["deb", "--manifest-path"])
            .arg(repo("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target),
    );
    let deb = built
        .lines()
        .map(str::trim)
        .find(|l| l.ends_with(".deb"))
        .unwrap_or_else(|| panic!("no .deb in: {built}"))
        .to_string();

    let _installed = Installed;
    stdout_of(Command::new("dpkg").args(["-i", &deb]));
    assert!(dpkg_status().contains("install ok installed"));
    let files: Vec<String> = stdout_of(Command::new("dpkg").args(["-L", "ringflow"]))
        .lines()
        .map(str::to_string)
        .filter(|f| !Path::new(f).is_dir())
        .collect();
    for shipped in [
        "/usr/bin/ringflow",
        "/lib/systemd/system/ringflow.service",
        "/etc/ringflow/ringflow.toml",
        "/usr/share/man/man1/ringflow.1.gz",
        "/usr/share/man/man1/ringflow-run.1.gz",
        "/usr/share/bash-completion/completions/ringflow",
        "/usr/share/zsh/vendor-completions/_ringflow",
        "/usr/share/fish/vendor_completions.d/ringflow.fish",
        "/usr/share/doc/ringflow/README.md",
        "/usr/share/doc/ringflow/docs/mirror-ports.md",
        "/usr/share/doc/ringflow/copyright",
        "/usr/share/doc/ringflow/examples/af-xdp.conf",
    ] {
        assert!(
            files.iter().any(|f| f == shipped || f.ends_with(shipped)),
            "{shipped} not in the package: {files:?}"
        );
    }
    let copyright = std::fs::read_to_string("/usr/share/doc/ringflow/copyright").unwrap();
    assert!(copyright.contains("Permission is hereby granted"));
    // only the conffile is one
    let conffiles =
        stdout_of(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "ringflow"]));
    assert_eq!(
        conffiles.split_whitespace().next(),
        Some("/etc/ringflow/ringflow.toml")
    );

    let version = stdout_of(Command::new("/usr/bin/ringflow").arg("--version"));
    assert_eq!(
        version.trim(),
        format!("ringflow {}", env!("CARGO_PKG_VERSION"))
    );
    // the default route's interface may not exist here: check-config
    // looks the interface up, so this machine must have one
    let checked = Command::new("/usr/bin/ringflow")
        .args(["check-config", "/etc/ringflow/ringflow.toml"])
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let unit = Path::new("/lib/systemd/system/ringflow.service");
    let verify = Command::new("systemd-analyze")
        .args(["verify"])
        .arg(unit)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    // docs/service.md states these scores: AF_PACKET as shipped, and with the
    // AF_XDP drop-in (its lines appended, as systemd merges them)
    let af_packet = exposure(unit);
    assert!(af_packet <= 2.3, "exposure {af_packet}");
    let dir = TempDir::new("unit");
    let merged = dir.path("ringflow.service");
    std::fs::write(
        &merged,
        std::fs::read_to_string(unit).unwrap()
            + &std::fs::read_to_string("/usr/share/doc/ringflow/examples/af-xdp.conf").unwrap(),
    )
    .unwrap();
    let af_xdp = exposure(&merged);
    assert!(af_xdp <= 2.6, "exposure with AF_XDP {af_xdp}");
    println!("systemd-analyze security: AF_PACKET {af_packet}, AF_XDP {af_xdp}");

    stdout_of(Command::new("dpkg").args(["-r", "ringflow"]));
    assert!(dpkg_status().contains("config-files"), "{}", dpkg_status());
    let left: Vec<&String> = files
        .iter()
        .filter(|f| Path::new(f).symlink_metadata().is_ok())
        .collect();
    assert_eq!(left, ["/etc/ringflow/ringflow.toml"], "left after dpkg -r");

    stdout_of(Command::new("dpkg").args(["--purge", "ringflow"]));
    assert_eq!(dpkg_status(), "");
    assert!(!Path::new("/etc/ringflow").exists());
    for dir in ["/etc/systemd/system", "/var/lib/systemd"] {
        let found = stdout_of(Command::new("find").args([dir, "-name", "*ringflow*"]));
        assert!(found.trim().is_empty(), "left after purge: {found}");
    }
}
