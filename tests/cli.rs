//! The command line as scripts see it: asking for help or the version
//! succeeds and prints to stdout; a usage error is one line on stderr and
//! exit status 2.

mod common;

use common::run;

#[test]
fn version_prints_to_stdout_and_exits_0() {
    for flag in ["--version", "-V"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0), "ringflow {flag}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            stdout.trim(),
            format!("ringflow {}", env!("CARGO_PKG_VERSION")),
            "ringflow {flag}"
        );
        assert!(out.stderr.is_empty(), "ringflow {flag}");
    }
}

#[test]
fn help_prints_to_stdout_and_exits_0() {
    let cases: [&[&str]; 10] = [
        &["--help"],
        &["-h"],
        &["help"],
        &["run", "--help"],
        &["replay", "--help"],
        &["help", "replay"],
        &["synth", "--help"],
        &["gen", "--help"],
        &["check-config", "--help"],
        &["replay", "-h"],
    ];
    for args in cases {
        let out = run(args);
        let what = format!("ringflow {}", args.join(" "));
        assert_eq!(out.status.code(), Some(0), "{what}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(stdout.contains("Usage: ringflow"), "{what}: {stdout}");
        assert!(out.stderr.is_empty(), "{what}");
    }
}

#[test]
fn usage_errors_are_one_line_on_stderr_and_exit_2() {
    let cases: [&[&str]; 9] = [
        &["--no-such-flag"],
        &["replay"],
        &["replay", "x.pcap", "--workers", "0"],
        &["no-such-command", "x"],
        &["gen"],
        // a flow table's slot numbers take 24 bits
        &["replay", "x.pcap", "--flow-table-size", "16777215"],
        &["--iface", "lo", "--flow-table-size", "16777215"],
        &["gen", "--iface", "lo", "--zipf", "0"],
        &["replay", "x.pcap", "--flow-table-size-v6", "0"],
    ];
    for args in cases {
        let out = run(args);
        let what = format!("ringflow {}", args.join(" "));
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(out.stdout.is_empty(), "{what}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.starts_with("ringflow: "), "{what}: {stderr}");
    }
}

/// What `check-config` prints is a config file that gives the same
/// settings: every key it prints is one the file takes (two accounting
/// keys once were not), flow export's among them.
#[test]
fn check_config_prints_a_config_file_that_reads_back_the_same() {
    let dir = common::TempDir::new("cli-check-config");
    let first = dir.path("first.toml");
    std::fs::write(
        &first,
        "iface = [\"lo\"]\nflow-table-idle = \"7s\"\nalert-history = 50\n\
         ipfix = [\"127.0.0.1:4739\", \"tcp://[::1]:4739\"]\nipfix-active-timeout = \"2m\"\n",
    )
    .unwrap();
    let effective = |path: &std::path::Path| {
        let out = run(&["check-config", path.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        // the first line names the file
        text.lines().skip(1).collect::<Vec<_>>().join("\n")
    };
    let printed = effective(&first);
    for key in [
        "flow-table-idle = \"7s\"",
        "alert-history = 50",
        "ipfix = [\"udp://127.0.0.1:4739\", \"tcp://[::1]:4739\"]",
        "ipfix-active-timeout = \"120s\"",
    ] {
        assert!(printed.contains(key), "{key} in {printed}");
    }
    let second = dir.path("second.toml");
    std::fs::write(&second, &printed).unwrap();
    assert_eq!(effective(&second), printed);
}
