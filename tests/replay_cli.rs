//! The replay command end to end: worker counts, tshark as ground truth,
//! damaged input, and serving /metrics.

mod common;

use common::synth;
use common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn one_two_and_four_workers_give_identical_exposition() {
    let dir = TempDir::new("workers");
    let mix = synth::Mix {
        flows: 2000,
        packets: 60_000,
        ipv6_percent: 30,
        vlan_percent: 20,
        ..synth::Mix::default()
    };
    let a = mix_file(&dir, "a.pcap", &mix);
    let b = mix_file(
        &dir,
        "b.pcap",
        &synth::Mix {
            seed: 7,
            flows: 300,
            packets: 5000,
            ..mix
        },
    );
    let files = [a.as_path(), b.as_path()];
    // A short refresh and small batches make the workers hand over their
    // shards many times during the replay.
    let run_with = |w: &str| {
        replay(
            &files,
            &["--workers", w, "--refresh", "20ms", "--batch", "32"],
        )
    };
    let one = run_with("1");
    let m = parse_exposition(&one);
    assert_eq!(family(&m, "ringflow_packets_total")[&vec![]], 65_000);
    assert!(family(&m, "ringflow_flow_packets_total").len() > 4000);
    for w in ["2", "4"] {
        assert_same_exposition(&one, &run_with(w), &format!("1 and {w} workers"));
    }
}

/// Per (src, dst): frames and bytes, from `tshark -z conv,ip -z conv,ipv6`.
fn tshark_conversations(file: &Path) -> PerPair {
    let out = Command::new(tool("tshark", "tshark"))
        .args([
            "-n",
            "-q",
            "-r",
            file.to_str().unwrap(),
            "-z",
            "conv,ip",
            "-z",
            "conv,ipv6",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut m = PerPair::new();
    for line in text.lines().filter(|l| l.contains("<->")) {
        // A <-> B  frames(B->A) bytes unit  frames(A->B) bytes unit  total ...
        let t: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(t[1], "<->", "{line}");
        let (a, b) = (t[0].to_string(), t[2].to_string());
        assert_eq!(
            t[5], "bytes",
            "conversation too large for exact bytes: {line}"
        );
        assert_eq!(
            t[8], "bytes",
            "conversation too large for exact bytes: {line}"
        );
        let n = |i: usize| t[i].replace(',', "").parse::<u64>().unwrap();
        m.insert((b.clone(), a.clone()), (n(3), n(4)));
        m.insert((a, b), (n(6), n(7)));
    }
    m.retain(|_, v| v.0 > 0);
    m
}

#[test]
#[ignore = "needs tshark (apt-get install tshark); run with --include-ignored"]
fn flow_bytes_per_host_pair_match_tshark() {
    let dir = TempDir::new("tshark");
    // Many small conversations (tshark prints exact bytes below 10 kB),
    // IPv4 and IPv6, tagged and untagged, plus fragments and ICMP.
    let mix = synth::Mix {
        flows: 400,
        packets: 4000,
        ipv6_percent: 40,
        vlan_percent: 30,
        udp_percent: 25,
        frame_size: 0,
        seed: 3,
    };
    let path = dir.path("conv.pcap");
    let mut recs = Vec::new();
    let mut ts = 1_700_000_000_000_000_000u64;
    mix.for_each_frame(|_, _, f| {
        ts += 1000;
        recs.push(Rec {
            ts_ns: ts,
            frame: f.to_vec(),
            caplen: None,
        });
    });
    for i in 0..20u8 {
        let first = synth::ipv4(
            [10, 50, 0, i],
            [198, 51, 100, i],
            17,
            (true, 0),
            &synth::udp(7000, 7001, 1472),
        );
        let later = synth::ipv4(
            [10, 50, 0, i],
            [198, 51, 100, i],
            17,
            (false, 185),
            &[0; 700],
        );
        let echo = synth::ipv4(
            [198, 51, 100, i],
            [10, 50, 0, i],
            1,
            (false, 0),
            &synth::icmp(8, 0, 56),
        );
        for ip in [first, later, echo] {
            ts += 1000;
            recs.push(Rec {
                ts_ns: ts,
                frame: synth::ethernet(&[], 0x0800, &ip),
                caplen: Some(96),
            });
        }
    }
    write_pcap(&path, 1, false, &recs);

    let truth = tshark_conversations(&path);
    assert!(truth.len() > 600, "tshark saw {} directions", truth.len());
    let ours = flows_per_pair(&replay(&[&path], &["--workers", "2"]));
    assert_eq!(ours, truth);
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn damaged_file_is_one_line_and_non_zero_exit() {
    let dir = TempDir::new("damaged");
    let path = dir.path("bad.pcap");
    let mut bytes = synth::Mix {
        flows: 2,
        packets: 3,
        ..synth::Mix::default()
    }
    .to_pcap(0);
    // second record's captured length: impossibly large
    let first_len = u32::from_le_bytes(bytes[24 + 8..24 + 12].try_into().unwrap()) as usize;
    let second = 24 + 16 + first_len;
    bytes[second + 8..second + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let out = run(&["replay", path.to_str().unwrap(), "--print"]);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    let errors: Vec<&str> = err.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains(path.to_str().unwrap()), "{err}");
    assert!(errors[0].contains(&format!("offset {second}")), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn truncated_last_record_is_counted_and_replay_goes_on() {
    let dir = TempDir::new("truncated");
    let mix = synth::Mix {
        flows: 5,
        packets: 50,
        frame_size: 200,
        ..synth::Mix::default()
    };
    let mut bytes = mix.to_pcap(0);
    bytes.truncate(bytes.len() - 100);
    let cut = dir.path("cut.pcap");
    std::fs::write(&cut, &bytes).unwrap();
    let whole = mix_file(&dir, "whole.pcap", &mix);
    let out = run(&[
        "replay",
        cut.to_str().unwrap(),
        whole.to_str().unwrap(),
        "--print",
    ]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("warning") && err.contains("cut.pcap") && err.contains("offset"),
        "{err}"
    );
    let m = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        family(&m, "ringflow_capture_damaged_records_total")[&vec![]],
        1
    );
    assert_eq!(family(&m, "ringflow_packets_total")[&vec![]], 49 + 50);
}

#[test]
fn bad_inputs_are_one_line_errors() {
    let dir = TempDir::new("badinput");
    let text = dir.path("notes.txt");
    std::fs::write(&text, "this is not a capture\n").unwrap();
    let missing = dir.path("missing.pcap");
    let mut usb = synth::PcapWriter::new(Vec::new(), 189, false).unwrap();
    usb.write(0, &[0; 64], 64).unwrap();
    let usb_path = dir.path("usb.pcap");
    std::fs::write(&usb_path, usb.into_inner()).unwrap();
    for (path, expect) in [
        (&text, "not a pcap or pcapng file"),
        (&missing, "No such file"),
        (&usb_path, "link type 189"),
    ] {
        let out = run(&["replay", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(expect) && err.contains(path.to_str().unwrap()),
            "{err}"
        );
        // the cause once
        assert_eq!(err.matches(expect).count(), 1, "{err}");
    }
    // settings that are wrong exit 2 as a live capture's do: a flag's
    // value, a config file's value (named with its line and column)
    let conf = dir.path("bad.toml");
    std::fs::write(
        &conf,
        "max-hosts = 5
flow-idle = 10
",
    )
    .unwrap();
    let out = run(&[
        "replay",
        text.to_str().unwrap(),
        "--config",
        conf.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("line 2, column 13: flow-idle: invalid type"),
        "{err}"
    );
    for args in [
        vec![
            "replay",
            text.to_str().unwrap(),
            "--max-hosts",
            "99999999999",
        ],
        vec!["replay", text.to_str().unwrap(), "--workers", "0"],
        vec!["replay", text.to_str().unwrap(), "--listen", "nowhere"],
        vec!["replay", text.to_str().unwrap(), "--refresh", "soon"],
        vec!["replay"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&out);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ringflow: error:"), "{err}");
    }
    // a taken port
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.pcap");
    let out = run(&["replay", sample.to_str().unwrap(), "--listen", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.lines()
            .any(|l| l.contains("cannot listen on") && l.contains(&addr)),
        "{err}"
    );
}

#[test]
fn listen_serves_the_final_exposition_after_the_input_ends() {
    let dir = TempDir::new("listen");
    let path = mix_file(
        &dir,
        "mix.pcap",
        &synth::Mix {
            flows: 50,
            packets: 2000,
            ..synth::Mix::default()
        },
    );
    let printed = replay(&[&path], &[]);
    let mut child = KillOnDrop(
        Command::new(bin())
            .args([
                "replay",
                path.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--refresh",
                "50ms",
            ])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("ringflow printed its address").unwrap();
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.trim_end_matches("/metrics").to_string();
        }
    };
    let mut body = String::new();
    for _ in 0..200 {
        let r = http_get_with(&addr, "/metrics", &[]);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8")
        );
        body = r.text();
        if body.contains("\nringflow_input_complete 1\n") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_same_exposition(&body, &printed, "served and printed");
    assert_eq!(http_get_with(&addr, "/nope", &[]).status, 404);
    // still serving after the end
    assert!(child.0.try_wait().unwrap().is_none());
}

#[test]
fn sample_capture_is_what_synth_writes() {
    let dir = TempDir::new("sample");
    let out = dir.path("sample.pcap");
    let o = run(&[
        "synth",
        out.to_str().unwrap(),
        "--flows",
        "30",
        "--packets",
        "600",
        "--seed",
        "1",
    ]);
    assert!(o.status.success());
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sample.pcap");
    assert!(std::fs::read(&out).unwrap() == std::fs::read(&committed).unwrap());
    let m = parse_exposition(&replay(&[&committed], &[]));
    assert_eq!(family(&m, "ringflow_packets_total")[&vec![]], 600);
    assert_eq!(
        family(&m, "ringflow_flow_packets_total")
            .values()
            .sum::<u64>(),
        600
    );
}

/// The IPv6 table is a quarter of the IPv4 one unless --flow-table-size-v6
/// says otherwise; an IPv6 flood bigger than the IPv6 table overflows it
/// and is still in the totals.
#[test]
fn flow_table_sizes_per_ip_version() {
    let dir = TempDir::new("v6-size");
    let mix = synth::Mix {
        flows: 400,
        packets: 2000,
        ipv6_percent: 100,
        ..synth::Mix::default()
    };
    let path = mix_file(&dir, "v6.pcap", &mix);
    let slots = |text: &str| family(&parse_exposition(text), "ringflow_flow_table_slots");
    let v = |v: &str| vec![v.to_string()];
    let text = replay(&[&path], &["--flow-table-size", "40000"]);
    let s = slots(&text);
    assert_eq!((s[&v("4")], s[&v("6")]), (40_000, 10_000));
    let text = replay(
        &[&path],
        &["--flow-table-size-v6", "100", "--refresh", "60s"],
    );
    let m = parse_exposition(&text);
    assert_eq!(slots(&text)[&v("6")], 100);
    let overflow = family(&m, "ringflow_flow_table_overflow_total")[&vec![]];
    let flows: u64 = family(&m, "ringflow_flow_packets_total").values().sum();
    assert!(overflow > 0);
    assert_eq!(flows + overflow, 2000);
}
