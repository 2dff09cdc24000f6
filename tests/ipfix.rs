//! Flow export against real collectors: a synthetic capture (IPv4, IPv6,
//! VLAN tags, ICMP, padded frames, several hundred flows over 150 s of
//! capture time, so most flows cross the active timeout) is replayed with
//! `--ipfix` to nfcapd (nfdump), nfacctd (pmacct) and a UDP receiver whose
//! datagrams tshark decodes. What each shows per flow must equal the
//! truth, which tshark reads from the capture itself.
//!
//! These need Debian packages (`nfdump`, `pmacct`, `tshark`), so they are
//! ignored by default; `.ci/run` installs them and runs them.

mod common;

use common::{
    KillOnDrop, TempDir, bin, free_port, nfdump_read, stdout_of, synth, tool, udp_bound, wait_for,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Capture time of the first frame (ns).
const T0: u64 = 1_700_000_000_000_000_000;
/// Between two frames of the mix (ns): 30000 frames span 150 s.
const STEP: u64 = 5_000_000;

/// A flow and direction as the collectors show it: source, destination,
/// protocol, ports (0 for ICMP), ICMP type << 8 | code, VLAN id.
type Key = (IpAddr, IpAddr, u8, u16, u16, u16, u16);

/// Packets and bytes per flow, under a key of the test's choosing.
type PerFlow<K> = BTreeMap<K, (u64, u64)>;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Truth {
    packets: u64,
    ip_bytes: u64,
    frame_bytes: u64,
    first_ms: u64,
    last_ms: u64,
    tcp_flags: u8,
    /// source and destination MAC of the first frame
    macs: (String, String),
}

/// Writes the capture and returns its path.
fn capture(dir: &TempDir) -> PathBuf {
    let path = dir.path("mix.pcap");
    let f = std::fs::File::create(&path).unwrap();
    let mut w = synth::PcapWriter::new(std::io::BufWriter::new(f), 1, true).unwrap();
    let mix = synth::Mix {
        flows: 400,
        packets: 30_000,
        ipv6_percent: 30,
        vlan_percent: 20,
        ..synth::Mix::default()
    };
    let v4 = |s: &str| s.parse::<std::net::Ipv4Addr>().unwrap().octets();
    let v6 = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap().octets();
    let mut ts = T0;
    let mut n = 0u64;
    // a short flow, over in half a second: one record
    for i in 0..10 {
        let udp = synth::udp(5353, 5353, 100);
        let f = synth::ethernet(
            &[],
            0x0800,
            &synth::ipv4(v4("10.7.0.1"), v4("10.7.0.2"), 17, (false, 0), &udp),
        );
        w.write(T0 + i * 50_000_000, &f, usize::MAX).unwrap();
    }
    mix.for_each_frame(|_, _, frame| {
        w.write(ts, frame, usize::MAX).unwrap();
        n += 1;
        if n.is_multiple_of(300) {
            // ICMP echo and its reply, ICMPv6 echo, and a TCP ACK in a
            // frame padded to 60 bytes: its IP bytes are fewer than its
            // frame's less the Ethernet header
            let echo = synth::ipv4(
                v4("10.8.0.1"),
                v4("10.8.0.2"),
                1,
                (false, 0),
                &synth::icmp(8, 0, 56),
            );
            let reply = synth::ipv4(
                v4("10.8.0.2"),
                v4("10.8.0.1"),
                1,
                (false, 0),
                &synth::icmp(0, 0, 56),
            );
            let echo6 = synth::ipv6(
                v6("fd00:8::1"),
                v6("fd00:8::2"),
                58,
                &[],
                &synth::icmp(128, 0, 56),
            );
            let mut ack = synth::ethernet(
                &[],
                0x0800,
                &synth::ipv4(
                    v4("10.9.0.1"),
                    v4("10.9.0.2"),
                    6,
                    (false, 0),
                    &synth::tcp(40001, 8080, synth::tcp_flags::ACK, 0),
                ),
            );
            ack.resize(60, 0);
            for f in [
                synth::ethernet(&[], 0x0800, &echo),
                synth::ethernet(&[], 0x0800, &reply),
                synth::ethernet(&[], 0x86dd, &echo6),
                ack,
            ] {
                w.write(ts, &f, usize::MAX).unwrap();
            }
        }
        ts += STEP;
    });
    drop(w);
    path
}

/// Milliseconds of a `frame.time_epoch` (`1700000000.005000000`).
fn epoch_ms(s: &str) -> u64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<3}");
    sec.parse::<u64>().unwrap() * 1000 + frac[..3].parse::<u64>().unwrap()
}

fn num<T: std::str::FromStr + Default>(s: &str) -> T {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        // only the TCP flags come as hex; they fit a u8
        return u8::from_str_radix(h, 16)
            .ok()
            .and_then(|v| v.to_string().parse().ok())
            .unwrap_or_default();
    }
    s.parse().unwrap_or_default()
}

/// What every flow of `pcap` carried, read by tshark.
fn truth(tshark: &Path, pcap: &Path) -> BTreeMap<Key, Truth> {
    let fields = [
        "frame.time_epoch",
        "frame.len",
        "vlan.id",
        "ip.src",
        "ip.dst",
        "ip.proto",
        "ip.len",
        "ipv6.src",
        "ipv6.dst",
        "ipv6.nxt",
        "ipv6.plen",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.flags",
        "udp.srcport",
        "udp.dstport",
        "icmp.type",
        "icmp.code",
        "icmpv6.type",
        "icmpv6.code",
        "eth.src",
        "eth.dst",
    ];
    let mut cmd = Command::new(tshark);
    cmd.args(["-n", "-r"]).arg(pcap).args([
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=f",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let mut t: BTreeMap<Key, Truth> = BTreeMap::new();
    for line in stdout_of(&mut cmd).lines() {
        let v: Vec<&str> = line.split('|').collect();
        let at = |name: &str| v[fields.iter().position(|f| *f == name).unwrap()];
        let v6 = !at("ipv6.src").is_empty();
        let (src, dst, proto, ip_len): (IpAddr, IpAddr, u8, u64) = if v6 {
            (
                at("ipv6.src").parse().unwrap(),
                at("ipv6.dst").parse().unwrap(),
                num(at("ipv6.nxt")),
                40 + num::<u64>(at("ipv6.plen")),
            )
        } else {
            (
                at("ip.src").parse().unwrap(),
                at("ip.dst").parse().unwrap(),
                num(at("ip.proto")),
                num(at("ip.len")),
            )
        };
        let (sport, dport, icmp) = match proto {
            6 => (num(at("tcp.srcport")), num(at("tcp.dstport")), 0),
            17 => (num(at("udp.srcport")), num(at("udp.dstport")), 0),
            1 => (
                0,
                0,
                num::<u16>(at("icmp.type")) << 8 | num::<u16>(at("icmp.code")),
            ),
            58 => (
                0,
                0,
                num::<u16>(at("icmpv6.type")) << 8 | num::<u16>(at("icmpv6.code")),
            ),
            _ => (0, 0, 0),
        };
        let key = (src, dst, proto, sport, dport, icmp, num(at("vlan.id")));
        let ms = epoch_ms(at("frame.time_epoch"));
        let e = t.entry(key).or_insert_with(|| Truth {
            first_ms: ms,
            macs: (at("eth.src").to_string(), at("eth.dst").to_string()),
            ..Truth::default()
        });
        e.packets += 1;
        e.ip_bytes += ip_len;
        e.frame_bytes += num::<u64>(at("frame.len"));
        e.last_ms = e.last_ms.max(ms);
        e.tcp_flags |= num::<u8>(at("tcp.flags"));
    }
    t
}

/// The samples of the family `name` in an exposition, by their label
/// values.
fn samples(text: &str, name: &str) -> BTreeMap<Vec<String>, u64> {
    common::family(&common::parse_exposition(text), name)
}

/// The records of the IPFIX collector `label` with `result`, as the
/// exposition counts them.
fn records(text: &str, label: &str, result: &str) -> u64 {
    samples(text, "ringflow_ipfix_records_total")[&vec![label.to_string(), result.to_string()]]
}

/// nfcapd on loopback: the records replayed to it, as `nfdump` reads them
/// and added up per flow, equal the truth in packets and IP bytes; it saw no sequence
/// error; long flows came in several records, every record ended as
/// routers say (active or idle timeout, or forced at the end of the
/// capture); ringflow counted every record sent and none lost.
#[test]
#[ignore = "needs nfdump (apt-get install nfdump) and tshark"]
fn nfdump_shows_exactly_the_truth() {
    let (nfcapd, nfdump, tshark) = (
        tool("nfcapd", "nfdump"),
        tool("nfdump", "nfdump"),
        tool("tshark", "tshark"),
    );
    let dir = TempDir::new("ipfix-nfdump");
    let pcap = capture(&dir);
    let truth = truth(&tshark, &pcap);
    let store = dir.path("nfcapd");
    std::fs::create_dir_all(&store).unwrap();
    let port = free_port();
    let log = dir.path("nfcapd.log");
    let mut collector = KillOnDrop(
        Command::new(&nfcapd)
            .args([
                "-b",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-t",
                "3600",
                "-v",
                "-w",
            ])
            .arg(&store)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    assert!(udp_bound(port), "nfcapd did not start");
    let text = common::replay(&[&pcap], &["--ipfix", &format!("127.0.0.1:{port}")]);
    // nfcapd writes its file when it stops
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(collector.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    collector.0.wait().unwrap();
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("Sequence Errors: 0"), "{log}");

    let mut got: PerFlow<Key> = BTreeMap::new();
    for line in nfdump_read(&nfdump, &store, "fmt:%sa|%da|%pr|%sp|%dp|%svln|%pkt|%byt").lines() {
        let v: Vec<&str> = line.split('|').map(str::trim).collect();
        if v.len() < 8 {
            continue;
        }
        let proto: u8 = match v[2] {
            "TCP" => 6,
            "UDP" => 17,
            "ICMP" => 1,
            "ICMP6" => 58,
            p => p.parse().unwrap(),
        };
        // nfdump shows an ICMP type and code as the destination port
        let (sport, dport, icmp) = match proto {
            1 | 58 => {
                let (t, c) = v[4].split_once('.').unwrap_or((v[4], "0"));
                (0, 0, num::<u16>(t) << 8 | num::<u16>(c))
            }
            _ => (num(v[3]), num(v[4]), 0),
        };
        let key = (
            v[0].parse().unwrap(),
            v[1].parse().unwrap(),
            proto,
            sport,
            dport,
            icmp,
            num(v[5]),
        );
        let e = got.entry(key).or_default();
        e.0 += num::<u64>(v[6]);
        e.1 += num::<u64>(v[7]);
    }
    let want: PerFlow<Key> = truth
        .iter()
        .map(|(k, t)| (*k, (t.packets, t.ip_bytes)))
        .collect();
    assert_eq!(got.len(), want.len(), "flows");
    for (k, w) in &want {
        assert_eq!(got.get(k), Some(w), "{k:?}");
    }

    // the records themselves: more than the flows (long ones cut every
    // minute of capture time), each ended by the active timeout or the end
    let raw = nfdump_read(&nfdump, &store, "raw");
    let mut reasons: HashMap<String, usize> = HashMap::new();
    for l in raw.lines().filter(|l| l.contains("end reason")) {
        *reasons
            .entry(l.split('=').nth(1).unwrap().trim().to_string())
            .or_default() += 1;
    }
    let records: usize = reasons.values().sum();
    assert!(records > 2 * want.len(), "{records} records, {reasons:?}");
    // replies come one in three packets of a conversation, every 2 s on
    // average: some go quiet for the idle timeout (15 s)
    let known = [
        "0x01 idle timeout",
        "0x02 active timeout",
        "0x04 forced end",
    ];
    assert!(
        reasons.keys().all(|r| known.contains(&r.as_str())),
        "{reasons:?}"
    );
    assert!(
        known.iter().all(|r| reasons.contains_key(*r)),
        "{reasons:?}"
    );
    assert!(reasons["0x04 forced end"] <= want.len(), "{reasons:?}");
    let c = format!("udp://127.0.0.1:{port}");
    assert_eq!(self::records(&text, &c, "sent"), records as u64);
    for r in ["dropped", "not_exported"] {
        assert_eq!(self::records(&text, &c, r), 0);
    }
}

/// Milliseconds since the Unix epoch of tshark's `Nov 14, 2023
/// 22:13:20.019000000 UTC`.
fn tshark_time_ms(s: &str) -> u64 {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let v: Vec<&str> = s.split_whitespace().collect();
    let m = MONTHS.iter().position(|m| *m == v[0]).unwrap() as i64 + 1;
    let d: i64 = v[1].trim_end_matches(',').parse().unwrap();
    let y: i64 = v[2].parse().unwrap();
    // days from 1970-01-01 of a proleptic Gregorian date
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let (hms, frac) = v[3].split_once('.').unwrap_or((v[3], "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    secs as u64 * 1000 + format!("{frac:0<3}")[..3].parse::<u64>().unwrap()
}

/// One IPFIX message as tshark decodes it: its sequence number, domain,
/// and its data records (template id, then each field's name and value
/// as tshark prints them).
#[derive(Debug, Default)]
struct Message {
    sequence: u64,
    domain: u64,
    records: Vec<(u16, HashMap<String, String>)>,
}

/// Decodes the IPFIX messages of `pcap` (UDP to `port`) with tshark.
fn tshark_messages(tshark: &Path, pcap: &Path, port: u16) -> Vec<Message> {
    let text = stdout_of(Command::new(tshark).args(["-n", "-r"]).arg(pcap).args([
        "-d",
        &format!("udp.port=={port},cflow"),
        "-V",
    ]));
    let mut messages: Vec<Message> = Vec::new();
    let mut set = 0u16;
    for line in text.lines() {
        let t = line.trim();
        if line.starts_with("Frame ") {
            messages.push(Message::default());
            continue;
        }
        let Some(m) = messages.last_mut() else {
            continue;
        };
        if let Some(v) = t.strip_prefix("FlowSequence: ") {
            m.sequence = v.parse().unwrap();
        } else if let Some(v) = t.strip_prefix("Observation Domain Id: ")
            && m.records.is_empty()
            && set == 0
        {
            m.domain = v.parse().unwrap();
        } else if let Some(rest) = t.strip_prefix("Set ") {
            // Set 3 [id=258] (1 flows)
            set = rest
                .split("[id=")
                .nth(1)
                .and_then(|r| r.split(']').next())
                .and_then(|id| id.parse().ok())
                .unwrap();
        } else if t.starts_with("Flow ") && t[5..].parse::<u32>().is_ok() {
            m.records.push((set, HashMap::new()));
        } else if let Some((_, fields)) = m.records.last_mut()
            && set >= 256
            && let Some((k, v)) = t.split_once(": ")
        {
            fields.entry(k.to_string()).or_insert(v.to_string());
        }
        if line.starts_with("Frame ") || line.starts_with("Cisco NetFlow") {
            set = 0;
        }
    }
    messages
}

/// Replays `pcap` with `--ipfix` to a UDP receiver on loopback and
/// `extra`, writes what it received into a capture file (each message at
/// most `mtu` bytes with the IPv6 and UDP headers), and returns the
/// messages as tshark decodes them, with the replay's exposition.
fn export_and_decode(
    tshark: &Path,
    dir: &TempDir,
    pcap: &Path,
    extra: &[&str],
    mtu: usize,
) -> (Vec<Message>, String) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let receiver = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got
    });
    let to = format!("127.0.0.1:{port}");
    let text = common::replay(&[pcap], &[&["--ipfix", to.as_str()], extra].concat());
    let datagrams = receiver.join().unwrap();
    assert!(!datagrams.is_empty());
    let received = dir.path("ipfix.pcap");
    {
        let f = std::fs::File::create(&received).unwrap();
        let mut w = synth::PcapWriter::new(f, 1, false).unwrap();
        for (i, d) in datagrams.iter().enumerate() {
            assert!(d.len() + 48 <= mtu, "message of {} bytes", d.len());
            let mut udp = Vec::new();
            udp.extend_from_slice(&40000u16.to_be_bytes());
            udp.extend_from_slice(&port.to_be_bytes());
            udp.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
            udp.extend_from_slice(&[0, 0]);
            udp.extend_from_slice(d);
            let ip = synth::ipv4([127, 0, 0, 1], [127, 0, 0, 1], 17, (false, 0), &udp);
            let frame = synth::ethernet(&[], 0x0800, &ip);
            w.write(T0 + i as u64 * 1000, &frame, usize::MAX).unwrap();
        }
    }
    let messages = tshark_messages(tshark, &received, port);
    assert_eq!(messages.len(), datagrams.len());
    (messages, text)
}

/// A flow table too small for the capture's flows: the packets that found
/// it full are in no record, and the exporter's last options record says
/// how many, with their IP bytes; with the records they add up to every
/// packet of the capture.
#[test]
#[ignore = "needs tshark (apt-get install tshark)"]
fn packets_of_a_full_table_are_in_the_options_record() {
    let tshark = tool("tshark", "tshark");
    let dir = TempDir::new("ipfix-overflow");
    let pcap = capture(&dir);
    let truth = truth(&tshark, &pcap);
    let (messages, text) = export_and_decode(
        &tshark,
        &dir,
        &pcap,
        &["--flow-table-size", "64", "--flow-table-size-v6", "64"],
        1400,
    );
    let overflow = samples(&text, "ringflow_flow_table_overflow_total")[&vec![]];
    assert!(overflow > 1000, "{overflow}");
    let (mut packets, mut ip_bytes, mut flows) = (0u64, 0u64, 0u64);
    let mut last_stats = None;
    for (set, r) in messages.iter().flat_map(|m| &m.records) {
        if *set == 258 {
            last_stats = Some(r.clone());
        } else {
            packets += first_number(&r["Packets"], false);
            ip_bytes += first_number(&r["Octets"], false);
            flows += 1;
        }
    }
    let stats = last_stats.unwrap();
    let ignored = first_number(&stats["Ignored Packets"], false);
    let ignored_bytes = first_number(&stats["Ignored Octets"], false);
    assert_eq!(ignored, overflow);
    assert_eq!(first_number(&stats["FlowsExp"], false), flows);
    assert_eq!(first_number(&stats["Not Sent Flows"], false), 0);
    let all: u64 = truth.values().map(|t| t.packets).sum();
    let all_ip: u64 = truth.values().map(|t| t.ip_bytes).sum();
    assert_eq!(packets + ignored, all);
    assert_eq!(ip_bytes + ignored_bytes, all_ip);
}

/// The first number in `s` (`UDP (17)` gives 17 with `in_parens`).
fn first_number(s: &str, in_parens: bool) -> u64 {
    let s = if in_parens {
        s.split('(').nth(1).unwrap_or(s)
    } else {
        s
    };
    let digits: String = s
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap()
}

/// tshark decodes every field of every record the exporter sent over UDP
/// to a receiver on loopback (which writes the datagrams into a capture
/// file): per flow, the records add up to the truth in packets, IP bytes
/// and frame bytes, the first starts at the flow's first packet and the
/// last ends at its last, the last carries every TCP flag the flow
/// showed, addresses, ports, ICMP type and code, VLAN, MACs of the first
/// frame and the end reason are right; sequence numbers count the data
/// records before each message; the templates and the exporter's options
/// record come first.
#[test]
#[ignore = "needs tshark (apt-get install tshark)"]
fn tshark_decodes_every_field() {
    let tshark = tool("tshark", "tshark");
    let dir = TempDir::new("ipfix-tshark");
    let pcap = capture(&dir);
    let truth = truth(&tshark, &pcap);
    let (messages, _) = export_and_decode(&tshark, &dir, &pcap, &["--ipfix-mtu", "1500"], 1500);

    // the first message: templates and the options record
    let first = &messages[0];
    assert_eq!(first.records.len(), 1, "{first:?}");
    let (set, stats) = &first.records[0];
    assert_eq!(*set, 258);
    assert_eq!(
        stats.get("Observation Domain Id").map(String::as_str),
        Some("1")
    );
    for k in [
        "PacketsExp",
        "FlowsExp",
        "OctetsExp",
        "Not Sent Flows",
        "Ignored Packets",
    ] {
        assert!(stats.contains_key(k), "{k} in {stats:?}");
    }
    // sequence numbers: the data records before each message
    let mut seq = 0u64;
    for m in &messages {
        assert_eq!(m.sequence, seq, "{m:?}");
        assert_eq!(m.domain, 1);
        seq += m.records.len() as u64;
    }

    let mut got: BTreeMap<Key, Truth> = BTreeMap::new();
    let mut flags_of_last: HashMap<Key, (u64, u8)> = HashMap::new();
    for (set, r) in messages.iter().flat_map(|m| &m.records) {
        if *set == 258 {
            continue;
        }
        assert!(*set == 256 || *set == 257, "set {set}");
        let field = |k: &str| {
            r.get(k)
                .unwrap_or_else(|| panic!("no {k} in {r:?}"))
                .as_str()
        };
        let proto = first_number(field("Protocol"), true) as u8;
        let icmp = if *set == 256 {
            u16::from_str_radix(field("ICMP Type").trim_start_matches("0x"), 16).unwrap()
        } else {
            (first_number(field("IPv6 ICMP Type"), false) << 8
                | first_number(field("IPv6 ICMP Code"), false)) as u16
        };
        let key: Key = (
            field("SrcAddr").parse().unwrap(),
            field("DstAddr").parse().unwrap(),
            proto,
            first_number(field("SrcPort"), false) as u16,
            first_number(field("DstPort"), false) as u16,
            icmp,
            first_number(field("Vlan Id"), false) as u16,
        );
        assert_eq!(key.0.is_ipv6(), *set == 257);
        let (start, end) = (
            tshark_time_ms(field("StartTime")),
            tshark_time_ms(field("EndTime")),
        );
        assert!(start <= end, "{r:?}");
        let flags = u8::from_str_radix(
            field("TCP Flags")
                .split(',')
                .next()
                .unwrap()
                .trim_start_matches("0x"),
            16,
        )
        .unwrap();
        assert_eq!(field("InputInt"), "0");
        let reason = first_number(field("Flow End Reason"), true);
        assert!([1, 2, 4].contains(&reason), "{r:?}");
        let mac = |k: &str| field(k).split(' ').next().unwrap().to_string();
        let e = got.entry(key).or_insert_with(|| Truth {
            first_ms: start,
            macs: (mac("Source Mac Address"), mac("Destination Mac Address")),
            ..Truth::default()
        });
        e.packets += first_number(field("Packets"), false);
        e.ip_bytes += first_number(field("Octets"), false);
        e.frame_bytes += first_number(field("Layer2 Octet Delta Count"), false);
        e.first_ms = e.first_ms.min(start);
        e.last_ms = e.last_ms.max(end);
        e.tcp_flags |= flags;
        let last = flags_of_last.entry(key).or_insert((end, flags));
        if end >= last.0 {
            *last = (end, flags);
        }
        assert_eq!(
            e.macs,
            (mac("Source Mac Address"), mac("Destination Mac Address"))
        );
    }
    assert_eq!(got.len(), truth.len(), "flows");
    for (k, t) in &truth {
        assert_eq!(got.get(k), Some(t), "{k:?}");
        // the last record carries every flag the flow showed
        assert_eq!(flags_of_last[k].1, t.tcp_flags, "{k:?}");
    }
}

/// nfacctd (pmacct) on loopback, aggregating per flow into CSV: packets
/// and IP bytes per flow equal the truth.
#[test]
#[ignore = "needs pmacct (apt-get install pmacct) and tshark"]
fn nfacctd_shows_exactly_the_truth() {
    let (nfacctd, tshark) = (tool("nfacctd", "pmacct"), tool("tshark", "tshark"));
    let dir = TempDir::new("ipfix-nfacctd");
    let pcap = capture(&dir);
    let truth = truth(&tshark, &pcap);
    let port = free_port();
    let csv = dir.path("flows.csv");
    let conf = dir.path("nfacctd.conf");
    std::fs::write(
        &conf,
        format!(
            "daemonize: false\nnfacctd_ip: 127.0.0.1\nnfacctd_port: {port}\nplugins: print\n\
             aggregate: src_host, dst_host, src_port, dst_port, proto, vlan\n\
             print_output: csv\nprint_output_file: {}\nprint_output_file_append: true\n\
             print_refresh_time: 1\n",
            csv.display()
        ),
    )
    .unwrap();
    let log = dir.path("nfacctd.log");
    let mut collector = KillOnDrop(
        Command::new(&nfacctd)
            .arg("-f")
            .arg(&conf)
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::options().append(true).open(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    assert!(udp_bound(port), "nfacctd did not start");
    common::replay(&[&pcap], &["--ipfix", &format!("127.0.0.1:{port}")]);
    // what it counted is written at its next refresh: wait until every
    // packet is there, at most 10 s
    let total: u64 = truth.values().map(|t| t.packets).sum();
    let read = || -> PerFlow<(IpAddr, IpAddr, u8, u16, u16, u16)> {
        let mut got = BTreeMap::new();
        let text = std::fs::read_to_string(&csv).unwrap_or_default();
        for line in text.lines().filter(|l| !l.starts_with("VLAN")) {
            let v: Vec<&str> = line.split(',').collect();
            if v.len() != 8 {
                continue;
            }
            let proto = match v[5] {
                "tcp" => 6,
                "udp" => 17,
                "icmp" => 1,
                "ipv6-icmp" => 58,
                p => p.parse().unwrap_or(255),
            };
            let (sport, dport) = if proto == 1 || proto == 58 {
                (0, 0)
            } else {
                (num(v[3]), num(v[4]))
            };
            let k = (
                v[1].parse().unwrap(),
                v[2].parse().unwrap(),
                proto,
                sport,
                dport,
                num(v[0]),
            );
            let e: &mut (u64, u64) = got.entry(k).or_default();
            e.0 += num::<u64>(v[6]);
            e.1 += num::<u64>(v[7]);
        }
        got
    };
    let complete = wait_for(10, || read().values().map(|v| v.0).sum::<u64>() >= total);
    let _ = collector.0.kill();
    assert!(
        complete,
        "nfacctd counted {} of {total} packets: {}",
        read().values().map(|v| v.0).sum::<u64>(),
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // ICMP type and code are not among nfacctd's keys here: per host pair
    let mut want: PerFlow<(IpAddr, IpAddr, u8, u16, u16, u16)> = BTreeMap::new();
    for (k, t) in &truth {
        let e = want.entry((k.0, k.1, k.2, k.3, k.4, k.6)).or_default();
        e.0 += t.packets;
        e.1 += t.ip_bytes;
    }
    assert_eq!(read(), want);
}

/// Stops a collector started with `ip netns exec` (which execs it, so the
/// child is the collector) with SIGTERM, and waits for it.
fn stop(c: &mut KillOnDrop) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    c.0.wait().unwrap();
}

/// A flow as a live test keys it: the ingress interface nfdump shows
/// (the capture interface's index), source, destination, protocol, ports.
type LiveKey = (String, IpAddr, IpAddr, u8, u16, u16);

/// Per flow: packets and bytes of the records nfdump reads from `store`.
fn nfdump_per_flow(nfdump: &Path, store: &Path) -> PerFlow<LiveKey> {
    let mut got = BTreeMap::new();
    for line in nfdump_read(nfdump, store, "fmt:%in|%sa|%da|%pr|%sp|%dp|%pkt|%byt").lines() {
        let v: Vec<&str> = line.split('|').map(str::trim).collect();
        if v.len() < 8 {
            continue;
        }
        let proto = match v[3] {
            "TCP" => 6,
            "UDP" => 17,
            p => p.parse().unwrap_or(0),
        };
        let k = (
            v[0].to_string(),
            v[1].parse().unwrap(),
            v[2].parse().unwrap(),
            proto,
            num(v[4]),
            num(v[5]),
        );
        let e: &mut (u64, u64) = got.entry(k).or_default();
        e.0 += num::<u64>(v[6]);
        e.1 += num::<u64>(v[7]);
    }
    got
}

/// Adds what the generator says it sent (`rows`) through the capture
/// interface of index `ifindex` to `want`: packets, and IP bytes (each
/// frame less its Ethernet header and VLAN tag).
fn sent_per_flow(rows: &[common::netns::TruthRow], ifindex: &str, want: &mut PerFlow<LiveKey>) {
    for r in rows {
        let l2 = if r.vlan != 0 { 18 } else { 14 };
        let e = want
            .entry((
                ifindex.to_string(),
                r.src.parse().unwrap(),
                r.dst.parse().unwrap(),
                r.proto,
                r.src_port,
                r.dst_port,
            ))
            .or_default();
        e.0 += r.packets;
        e.1 += r.bytes - l2 * r.packets;
    }
}

/// nfcapd in the capturing namespace of `v` on 127.0.0.1:4739, storing in
/// `store` and logging to `log`; returns once it listens.
fn nfcapd_in(v: &common::netns::VethPair, store: &Path, log: &Path) -> KillOnDrop {
    let nfcapd = tool("nfcapd", "nfdump");
    std::fs::create_dir_all(store).unwrap();
    let c = KillOnDrop(
        v.in_ns(&v.rx, nfcapd.to_str().unwrap())
            .args(["-b", "127.0.0.1", "-p", "4739", "-t", "3600", "-v", "-w"])
            .arg(store)
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(std::fs::File::options().append(true).open(log).unwrap())
            .spawn()
            .unwrap(),
    );
    let listening = wait_for(10, || {
        let out = v
            .in_ns(&v.rx, "ss")
            .args(["-Hunl", "sport = :4739"])
            .output()
            .unwrap();
        !out.stdout.is_empty()
    });
    assert!(listening, "nfcapd did not start");
    c
}

/// Live capture (AF_PACKET, and AF_XDP below) on a veth pair with export
/// to nfcapd in the capture's namespace: the generator's mix twice, 2.5 s apart (so the 1 s active
/// timeout cuts records in between), then SIGTERM, which flushes every
/// open flow. nfdump shows per flow exactly the packets sent and their IP
/// bytes, with the capture interface as the ingress interface; the
/// records came from its observation domain; ringflow counted as sent
/// what nfcapd got, and nothing lost.
#[test]
#[ignore = "live: needs root for network namespaces, and nfdump"]
fn live_af_packet_capture_exports_exact_counts() {
    live_capture_exports_exact_counts("af-packet");
}

/// The same with AF_XDP.
#[test]
#[ignore = "live: needs root for network namespaces, and nfdump"]
fn live_af_xdp_capture_exports_exact_counts() {
    live_capture_exports_exact_counts("af-xdp");
}

fn live_capture_exports_exact_counts(backend: &str) {
    use common::netns::{Capture, MIX, VethPair, serial};
    let _g = serial();
    let nfdump = tool("nfdump", "nfdump");
    let v = VethPair::new("ipfix");
    let dir = TempDir::new("ipfix-live");
    let (store, log) = (dir.path("nfcapd"), dir.path("nfcapd.log"));
    let mut collector = nfcapd_in(&v, &store, &log);
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--backend",
            backend,
            "--workers",
            "1",
            "--ipfix",
            "127.0.0.1:4739",
            "--ipfix-active-timeout",
            "1s",
        ],
    );
    let mut truth = v.send(&dir, &MIX);
    std::thread::sleep(Duration::from_millis(2500));
    truth.extend(v.send(&dir, &MIX));
    let text = cap.stop();
    stop(&mut collector);
    let log = std::fs::read_to_string(&log).unwrap();
    let ifindex = v.rx_ifindex(&v.rx_if);
    assert!(
        log.contains(&format!("Observation domain {ifindex} ")),
        "{log}"
    );
    assert!(log.contains("Sequence Errors: 0"), "{log}");
    let mut want = BTreeMap::new();
    sent_per_flow(&truth, &ifindex, &mut want);
    assert_eq!(want.len(), 800, "400 flows, both ways");
    let got = nfdump_per_flow(&nfdump, &store);
    assert_eq!(got.len(), want.len());
    for (k, w) in &want {
        assert_eq!(got.get(k), Some(w), "{k:?}");
    }
    let c = "udp://127.0.0.1:4739";
    let sent = records(&text, c, "sent");
    assert!(
        sent > want.len() as u64,
        "some flows were cut by the active timeout: {sent}"
    );
    let flows_line = log
        .lines()
        .find(|l| l.contains("Flows: "))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(
        flows_line.contains(&format!("Flows: {sent},")),
        "{flows_line}"
    );
    for r in ["dropped", "not_exported"] {
        assert_eq!(records(&text, c, r), 0);
    }
}

/// A bad `--ipfix` or companion is one line naming it and exit 2, for a
/// replay, a live capture and a config file alike, before anything runs.
#[test]
fn bad_export_settings_are_one_line_and_exit_2() {
    let dir = TempDir::new("ipfix-bad");
    let pcap = common::mix_file(&dir, "small.pcap", &synth::Mix::default());
    let pcap = pcap.to_str().unwrap();
    let conf = dir.path("bad.toml");
    std::fs::write(&conf, "iface = [\"lo\"]\nipfix = [\"collector:0\"]\n").unwrap();
    for (args, needle) in [
        (
            vec!["replay", pcap, "--ipfix", "nonsense"],
            "--ipfix nonsense: no port",
        ),
        (
            vec!["replay", pcap, "--ipfix", "sctp://x:1"],
            "only udp:// and tcp://",
        ),
        (
            vec!["replay", pcap, "--ipfix", "x:1", "--ipfix-mtu", "100"],
            "--ipfix-mtu 100",
        ),
        (
            vec![
                "replay",
                pcap,
                "--ipfix",
                "x:1",
                "--ipfix-idle-timeout",
                "0s",
            ],
            "--ipfix-idle-timeout: '0s'",
        ),
        (
            vec!["run", "--iface", "lo", "--ipfix", "[::1:4739"],
            "--ipfix [::1:4739",
        ),
        (
            vec!["check-config", conf.to_str().unwrap()],
            "--ipfix collector:0",
        ),
    ] {
        let out = common::run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// A collector that cannot be resolved, or where nobody listens, is said
/// once; the replay counts every packet and exits 0, and the records are
/// counted as not exported (or sent, to the port nobody listens on, for
/// the datagrams the kernel did not refuse).
#[test]
fn unresolvable_and_unreachable_collectors_are_said_once_and_counted() {
    let dir = TempDir::new("ipfix-unreachable");
    let mix = synth::Mix {
        flows: 200,
        packets: 4000,
        ..synth::Mix::default()
    };
    let pcap = common::mix_file(&dir, "mix.pcap", &mix);
    let nobody = free_port();
    let out = Command::new(bin())
        .arg("replay")
        .arg(&pcap)
        .args([
            "--print",
            "--ipfix",
            "nosuch.invalid:4739",
            "--ipfix",
            &format!("127.0.0.1:{nobody}"),
            "--ipfix-mtu",
            "576",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(samples(&text, "ringflow_packets_total")[&vec![]], 4000);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("IPFIX")).collect();
    assert_eq!(said.len(), 2, "{err}");
    assert!(
        said.iter()
            .any(|l| l.contains("cannot resolve nosuch.invalid")),
        "{err}"
    );
    assert!(said.iter().any(|l| l.contains("nobody listens")), "{err}");
    let records = |c: &str, r: &str| records(&text, c, r);
    // 200 conversations, both ways: a record each
    let c = "udp://nosuch.invalid:4739";
    assert_eq!(records(c, "not_exported"), 400);
    assert_eq!(records(c, "sent") + records(c, "dropped"), 0);
    let c = format!("udp://127.0.0.1:{nobody}");
    assert!(records(&c, "not_exported") > 0);
    assert_eq!(records(&c, "sent") + records(&c, "not_exported"), 400);
    assert_eq!(
        samples(&text, "ringflow_ipfix_collector_up")
            [&vec!["udp://nosuch.invalid:4739".to_string()]],
        0
    );
}

/// Two capture interfaces, the same flows sent through each: each flow is
/// a flow per interface, exported from the interface's observation
/// domain with its index as the ingress interface, and per interface
/// nfdump shows exactly what went through it.
#[test]
#[ignore = "live: needs root for network namespaces, and nfdump"]
fn each_capture_interface_is_its_own_observation_domain() {
    use common::netns::{Capture, MIX, VethPair, serial};
    let _g = serial();
    let nfdump = tool("nfdump", "nfdump");
    let v = VethPair::new("ipfix2");
    let (tx_b, rx_b) = v.add_link("b");
    let dir = TempDir::new("ipfix-two");
    let (store, log) = (dir.path("nfcapd"), dir.path("nfcapd.log"));
    let mut collector = nfcapd_in(&v, &store, &log);
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--iface",
            &rx_b,
            "--workers",
            "1",
            "--ipfix",
            "127.0.0.1:4739",
        ],
    );
    let a = v.send(&dir, &MIX);
    let b = v.send_on(&dir, &tx_b, None, &MIX);
    cap.stop();
    stop(&mut collector);
    let log = std::fs::read_to_string(&log).unwrap();
    let (ia, ib) = (v.rx_ifindex(&v.rx_if), v.rx_ifindex(&rx_b));
    for i in [&ia, &ib] {
        assert!(log.contains(&format!("Observation domain {i} ")), "{log}");
    }
    let mut want = BTreeMap::new();
    sent_per_flow(&a, &ia, &mut want);
    sent_per_flow(&b, &ib, &mut want);
    assert_eq!(want.len(), 1600, "the same 800 flows through each");
    assert_eq!(nfdump_per_flow(&nfdump, &store), want);
}

/// Flow export changes no other count: a replay with alert limits and
/// scan detection gives the same exposition (but for the export's own
/// metrics) and the same alert events (but for their ids) with `--ipfix`
/// as without, although the export makes the workers hand over every
/// second of capture time.
#[test]
fn export_changes_nothing_else() {
    let dir = TempDir::new("ipfix-same");
    let pcap = capture(&dir);
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = format!("127.0.0.1:{}", sink.local_addr().unwrap().port());
    let run = |log: &str, export: bool| {
        let log = dir.path(log);
        let mut args = vec![
            "--workers",
            "2",
            "--alert-interval",
            "10s",
            "--alert-packets",
            "5",
            "--scan-hosts",
            "50",
            "--alert-log",
            log.to_str().unwrap(),
        ];
        if export {
            args.extend(["--ipfix", to.as_str()]);
        }
        let text = common::replay(&[&pcap], &args);
        // the events, without the ids (numbered in the order hosts are
        // evaluated, which follows the order flows were first merged)
        let events: BTreeSet<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| {
                let mut e: serde_json::Value = serde_json::from_str(l).unwrap();
                e.as_object_mut().unwrap().remove("id");
                e.to_string()
            })
            .collect();
        let text: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("ringflow_ipfix_"))
            .collect();
        (text.join("\n"), events)
    };
    let (plain, plain_events) = run("plain.jsonl", false);
    let (exported, exported_events) = run("exported.jsonl", true);
    assert!(!plain_events.is_empty(), "the limits raise alerts");
    assert_eq!(exported_events, plain_events);
    // the same samples (active alerts are listed in the order they
    // started, which within an interval follows the order flows were
    // first merged)
    let samples = |t: &str| common::parse_exposition(&common::without_run_specific(t));
    assert_eq!(samples(&plain), samples(&exported));
    assert!(samples(&plain).len() > 1000);
}

/// The capture interface is deleted and created again (a new index)
/// while ringflow exports: the records of what came after name the new
/// index as their ingress interface (and domain), and every flow's
/// records add up to what was sent through both.
#[test]
#[ignore = "live: needs root for network namespaces, and nfdump"]
fn an_interface_created_again_is_named_by_its_new_index() {
    use common::netns::{Capture, VethPair, gone_and_back, serial};
    let _g = serial();
    let nfdump = tool("nfdump", "nfdump");
    let v = VethPair::new("ipfix3");
    let dir = TempDir::new("ipfix-again");
    let (store, log) = (dir.path("nfcapd"), dir.path("nfcapd.log"));
    let mut collector = nfcapd_in(&v, &store, &log);
    let before = v.rx_ifindex(&v.rx_if);
    let cap = Capture::start(
        &v.rx,
        &[
            "--iface",
            &v.rx_if,
            "--workers",
            "1",
            "--ipfix",
            "127.0.0.1:4739",
        ],
    );
    let (_, truth) = gone_and_back(&v, &dir, cap, |_| {}, |_| {});
    stop(&mut collector);
    let after = v.rx_ifindex(&v.rx_if);
    assert_ne!(before, after);
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("Sequence Errors: 0"), "{log}");
    let got = nfdump_per_flow(&nfdump, &store);
    assert!(
        got.keys().any(|k| k.0 == after),
        "records under the new index"
    );
    assert!(got.keys().all(|k| k.0 == before || k.0 == after));
    // per flow, whichever index its records came under
    let strip = |m: &PerFlow<LiveKey>| {
        let mut out: PerFlow<(IpAddr, IpAddr, u8, u16, u16)> = BTreeMap::new();
        for (k, v) in m {
            let e = out.entry((k.1, k.2, k.3, k.4, k.5)).or_default();
            e.0 += v.0;
            e.1 += v.1;
        }
        out
    };
    let mut want = BTreeMap::new();
    sent_per_flow(&truth, &before, &mut want);
    assert_eq!(strip(&got), strip(&want));
}
