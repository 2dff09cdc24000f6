//! Golden tests: capture files written here from code, replayed by the
//! binary, and every counter compared with what the test knows it wrote.
//! The expected values come from how each frame was built, not from the
//! parser.

mod common;

use common::synth::{self, tcp_flags::*};
use common::*;
use std::collections::BTreeMap;

const ETH: u32 = 1;

/// What the test expects, accumulated frame by frame.
#[derive(Default)]
struct Expect {
    flows: BTreeMap<Vec<String>, (u64, u64)>,
    errors: BTreeMap<Vec<String>, u64>,
    non_ip: BTreeMap<Vec<String>, u64>,
    packets: u64,
    bytes: u64,
}

/// One capture file being built.
struct File {
    recs: Vec<Rec>,
    ts: u64,
}

impl File {
    fn new(start_s: u64) -> File {
        File {
            recs: Vec::new(),
            ts: start_s * 1_000_000_000,
        }
    }
}

impl Expect {
    fn frame(&mut self, f: &mut File, frame: Vec<u8>, caplen: Option<usize>) -> u64 {
        let len = frame.len() as u64;
        self.packets += 1;
        self.bytes += len;
        f.ts += 1_000_000;
        f.recs.push(Rec {
            ts_ns: f.ts,
            frame,
            caplen,
        });
        len
    }

    /// A frame that counts under the flow series `labels`
    /// (src, dst, proto, port, direction).
    fn flow(&mut self, f: &mut File, labels: [&str; 5], frame: Vec<u8>) {
        self.flow_cut(f, labels, frame, None)
    }

    fn flow_cut(&mut self, f: &mut File, labels: [&str; 5], frame: Vec<u8>, caplen: Option<usize>) {
        let len = self.frame(f, frame, caplen);
        let e = self
            .flows
            .entry(labels.iter().map(|s| s.to_string()).collect())
            .or_default();
        e.0 += 1;
        e.1 += len;
    }

    fn error(
        &mut self,
        f: &mut File,
        layer: &str,
        reason: &str,
        frame: Vec<u8>,
        caplen: Option<usize>,
    ) {
        self.frame(f, frame, caplen);
        *self
            .errors
            .entry(vec![layer.into(), reason.into()])
            .or_default() += 1;
    }

    /// A frame whose flow counts normally but whose transport header is
    /// damaged: counted in both places.
    fn flow_with_error(
        &mut self,
        f: &mut File,
        labels: [&str; 5],
        layer: &str,
        reason: &str,
        frame: Vec<u8>,
        caplen: Option<usize>,
    ) {
        self.flow_cut(f, labels, frame, caplen);
        *self
            .errors
            .entry(vec![layer.into(), reason.into()])
            .or_default() += 1;
    }

    fn non_ip(&mut self, f: &mut File, ethertype: &str, frame: Vec<u8>) {
        self.frame(f, frame, None);
        *self.non_ip.entry(vec![ethertype.into()]).or_default() += 1;
    }
}

fn v6(s: &str) -> [u8; 16] {
    s.parse::<std::net::Ipv6Addr>().unwrap().octets()
}

fn eth4(tags: &[(u16, u16)], src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    synth::ethernet(tags, 0x0800, &synth::ipv4(src, dst, proto, (false, 0), l4))
}

fn eth6(tags: &[(u16, u16)], src: &str, dst: &str, next: u8, ext: &[u8], l4: &[u8]) -> Vec<u8> {
    synth::ethernet(tags, 0x86dd, &synth::ipv6(v6(src), v6(dst), next, ext, l4))
}

/// The cases of the Ethernet capture, in the order they are written
/// (a case may rely on what an earlier one opened: none does across
/// cases).
/// A case written into the Ethernet file.
type EthernetCase = fn(&mut Expect, &mut File);
/// A case that writes its own files.
type FileCase = fn(&mut Expect, &TempDir) -> Vec<std::path::PathBuf>;

const ETHERNET_CASES: [(&str, EthernetCase); 11] = [
    ("tcp_and_udp_open", tcp_and_udp_open),
    ("vlan_mid_stream", vlan_mid_stream),
    ("vlan_stacks", vlan_stacks),
    ("mpls", mpls),
    ("pppoe", pppoe),
    ("non_ip", non_ip),
    ("fragments", fragments),
    ("ipv6_extension_headers", ipv6_extension_headers),
    ("icmp", icmp),
    ("gre", gre),
    ("damaged", damaged),
];

/// The other link layers and file formats, each its own file(s).
const FILE_CASES: [(&str, FileCase); 3] =
    [("cooked", cooked), ("raw_ip", raw_ip), ("pcapng", pcapng)];

/// Writes every golden case into the capture files (the Ethernet cases in
/// one file) and returns them with what they should produce.
fn golden_files(dir: &TempDir) -> (Vec<std::path::PathBuf>, Expect) {
    let mut x = Expect::default();
    let mut f = File::new(1_700_000_000);
    for (_, case) in ETHERNET_CASES {
        case(&mut x, &mut f);
    }
    let main = dir.path("main.pcap");
    write_pcap(&main, ETH, false, &f.recs);
    let mut files = vec![main];
    for (_, case) in FILE_CASES {
        files.extend(case(&mut x, dir));
    }
    (files, x)
}

fn tcp_and_udp_open(x: &mut Expect, f: &mut File) {
    let (c, s) = ([10, 1, 0, 1], [93, 184, 216, 34]);
    // TCP opened by a SYN both ways, then IPv6 UDP
    let req = ["10.1.0.1", "93.184.216.34", "tcp", "443", "request"];
    let rep = ["93.184.216.34", "10.1.0.1", "tcp", "443", "reply"];
    x.flow(f, req, eth4(&[], c, s, 6, &synth::tcp(40001, 443, SYN, 0)));
    x.flow(
        f,
        rep,
        eth4(&[], s, c, 6, &synth::tcp(443, 40001, SYN_ACK, 0)),
    );
    x.flow(
        f,
        req,
        eth4(&[], c, s, 6, &synth::tcp(40001, 443, ACK, 100)),
    );
    x.flow(
        f,
        rep,
        eth4(&[], s, c, 6, &synth::tcp(443, 40001, PSH_ACK, 1000)),
    );
    // a second connection from the same client to the same service: same series
    x.flow(f, req, eth4(&[], c, s, 6, &synth::tcp(40002, 443, SYN, 0)));

    // IPv6 UDP: the first packet opens
    let q = ["fd00::1", "2001:db8::53", "udp", "53", "request"];
    let a = ["2001:db8::53", "fd00::1", "udp", "53", "reply"];
    x.flow(
        f,
        q,
        eth6(
            &[],
            "fd00::1",
            "2001:db8::53",
            17,
            &[],
            &synth::udp(5353, 53, 30),
        ),
    );
    x.flow(
        f,
        a,
        eth6(
            &[],
            "2001:db8::53",
            "fd00::1",
            17,
            &[],
            &synth::udp(53, 5353, 120),
        ),
    );
}

fn vlan_mid_stream(x: &mut Expect, f: &mut File) {
    // 802.1Q, TCP first seen mid-stream from the server side
    let t = [(0x8100, 10)];
    x.flow(
        f,
        ["10.2.0.2", "10.2.0.9", "tcp", "22", "reply"],
        eth4(
            &t,
            [10, 2, 0, 2],
            [10, 2, 0, 9],
            6,
            &synth::tcp(22, 51000, PSH_ACK, 48),
        ),
    );
    x.flow(
        f,
        ["10.2.0.9", "10.2.0.2", "tcp", "22", "request"],
        eth4(
            &t,
            [10, 2, 0, 9],
            [10, 2, 0, 2],
            6,
            &synth::tcp(51000, 22, ACK, 0),
        ),
    );
}

fn vlan_stacks(x: &mut Expect, f: &mut File) {
    // QinQ (802.1ad outer, 802.1Q inner)
    let qinq = [(0x88a8, 100), (0x8100, 200)];
    x.flow(
        f,
        ["10.3.0.1", "10.3.0.2", "udp", "9999", "request"],
        eth4(
            &qinq,
            [10, 3, 0, 1],
            [10, 3, 0, 2],
            17,
            &synth::udp(1234, 9999, 10),
        ),
    );
    // three tags with the old 0x9100 outer TPID, IPv6 TCP SYN
    let three = [(0x9100, 1), (0x8100, 2), (0x8100, 3)];
    x.flow(
        f,
        ["fd00::3:1", "fd00::3:2", "tcp", "8443", "request"],
        eth6(
            &three,
            "fd00::3:1",
            "fd00::3:2",
            6,
            &[],
            &synth::tcp(50000, 8443, SYN, 0),
        ),
    );
    // four tags: too many
    let four = [(0x88a8, 1), (0x8100, 2), (0x8100, 3), (0x8100, 4)];
    x.error(
        f,
        "vlan",
        "too_many_tags",
        eth4(
            &four,
            [10, 3, 0, 1],
            [10, 3, 0, 2],
            17,
            &synth::udp(1, 2, 0),
        ),
        None,
    );
}

fn mpls(x: &mut Expect, f: &mut File) {
    // MPLS: two labels over IPv4, one over IPv6 (a SYN+ACK from port 443 first)
    let ip = synth::ipv4(
        [10, 4, 0, 1],
        [10, 4, 0, 2],
        17,
        (false, 0),
        &synth::udp(5000, 53, 20),
    );
    x.flow(
        f,
        ["10.4.0.1", "10.4.0.2", "udp", "53", "request"],
        synth::ethernet(&[], 0x8847, &synth::mpls(&[100, 200], &ip)),
    );
    let ip = synth::ipv6(
        v6("fd00::4:2"),
        v6("fd00::4:1"),
        6,
        &[],
        &synth::tcp(443, 60000, SYN_ACK, 0),
    );
    x.flow(
        f,
        ["fd00::4:2", "fd00::4:1", "tcp", "443", "reply"],
        synth::ethernet(&[], 0x8847, &synth::mpls(&[300], &ip)),
    );
}

fn pppoe(x: &mut Expect, f: &mut File) {
    // PPPoE session: IPv4 inside, and LCP (not IP)
    let ip = synth::ipv4(
        [10, 5, 0, 1],
        [10, 5, 0, 2],
        6,
        (false, 0),
        &synth::tcp(40000, 80, SYN, 0),
    );
    x.flow(
        f,
        ["10.5.0.1", "10.5.0.2", "tcp", "80", "request"],
        synth::ethernet(&[], 0x8864, &synth::pppoe(7, 0x0021, &ip)),
    );
    x.non_ip(
        f,
        "0x8864",
        synth::ethernet(&[], 0x8864, &synth::pppoe(7, 0xc021, &[1, 1, 0, 4])),
    );
}

fn non_ip(x: &mut Expect, f: &mut File) {
    // not IP: ARP, LLC (an 802.3 length field), LLDP
    x.non_ip(f, "0x0806", synth::ethernet(&[], 0x0806, &[0; 28]));
    x.non_ip(f, "802.3", synth::ethernet(&[], 38, &[0x42; 38]));
    x.non_ip(f, "0x88cc", synth::ethernet(&[], 0x88cc, &[0; 30]));
    x.non_ip(
        f,
        "0x0806",
        synth::ethernet(&[(0x8100, 5)], 0x0806, &[0; 28]),
    );
}

fn fragments(x: &mut Expect, f: &mut File) {
    // IPv4 fragments: the first keeps its ports, the later one has none
    let first = synth::ipv4(
        [10, 6, 0, 1],
        [10, 6, 0, 2],
        17,
        (true, 0),
        &synth::udp(7000, 7001, 1472),
    );
    x.flow(
        f,
        ["10.6.0.1", "10.6.0.2", "udp", "7001", "request"],
        synth::ethernet(&[], 0x0800, &first),
    );
    let later = synth::ipv4([10, 6, 0, 1], [10, 6, 0, 2], 17, (false, 185), &[0; 500]);
    x.flow(
        f,
        ["10.6.0.1", "10.6.0.2", "udp", "", "request"],
        synth::ethernet(&[], 0x0800, &later),
    );

    // IPv6 fragments
    let frag0 = [17, 0, 0x00, 0x01, 0, 0, 0, 42];
    x.flow(
        f,
        ["fd00::6:1", "fd00::6:2", "udp", "7001", "request"],
        eth6(
            &[],
            "fd00::6:1",
            "fd00::6:2",
            44,
            &frag0,
            &synth::udp(7000, 7001, 1000),
        ),
    );
    let frag1 = [17, 0, 0x03, 0x20, 0, 0, 0, 42];
    x.flow(
        f,
        ["fd00::6:1", "fd00::6:2", "udp", "", "request"],
        eth6(&[], "fd00::6:1", "fd00::6:2", 44, &frag1, &[0; 300]),
    );
}

fn ipv6_extension_headers(x: &mut Expect, f: &mut File) {
    // IPv6 hop-by-hop and destination options before TCP
    let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[6, 0, 1, 4, 0, 0, 0, 0]);
    x.flow(
        f,
        ["fd00::7:1", "fd00::7:2", "tcp", "25", "request"],
        eth6(
            &[],
            "fd00::7:1",
            "fd00::7:2",
            0,
            &ext,
            &synth::tcp(45000, 25, SYN, 0),
        ),
    );
}

fn icmp(x: &mut Expect, f: &mut File) {
    // ICMP echo and reply; ICMPv6 where the reply is seen first
    x.flow(
        f,
        ["10.8.0.1", "10.8.0.2", "icmp", "", "request"],
        eth4(&[], [10, 8, 0, 1], [10, 8, 0, 2], 1, &synth::icmp(8, 0, 56)),
    );
    x.flow(
        f,
        ["10.8.0.2", "10.8.0.1", "icmp", "", "reply"],
        eth4(&[], [10, 8, 0, 2], [10, 8, 0, 1], 1, &synth::icmp(0, 0, 56)),
    );
    x.flow(
        f,
        ["fd00::9:2", "fd00::9:1", "icmpv6", "", "reply"],
        eth6(
            &[],
            "fd00::9:2",
            "fd00::9:1",
            58,
            &[],
            &synth::icmp(129, 0, 56),
        ),
    );
    x.flow(
        f,
        ["fd00::9:1", "fd00::9:2", "icmpv6", "", "request"],
        eth6(
            &[],
            "fd00::9:1",
            "fd00::9:2",
            58,
            &[],
            &synth::icmp(128, 0, 56),
        ),
    );
}

fn gre(x: &mut Expect, f: &mut File) {
    // GRE: a protocol without ports
    x.flow(
        f,
        ["10.10.0.1", "10.10.0.2", "47", "", "request"],
        eth4(&[], [10, 10, 0, 1], [10, 10, 0, 2], 47, &[0; 24]),
    );
}

fn damaged(x: &mut Expect, f: &mut File) {
    // damaged frames
    x.error(f, "link", "truncated", vec![0x02; 10], None);
    let good = eth4(
        &[],
        [10, 9, 0, 1],
        [10, 9, 0, 2],
        17,
        &synth::udp(1, 2, 100),
    );
    x.error(f, "ipv4", "truncated", good.clone(), Some(14 + 10));
    let mut bad = good.clone();
    bad[14] = 0x55;
    x.error(f, "ipv4", "bad_version", bad, None);
    let mut bad = good.clone();
    bad[14] = 0x44;
    x.error(f, "ipv4", "bad_header_length", bad, None);
    let mut bad = good.clone();
    bad[16] = 0;
    bad[17] = 12;
    x.error(f, "ipv4", "bad_total_length", bad, None);
    // TCP cut by the snap length: still counted under its host pair and ports
    x.flow_with_error(
        f,
        ["10.9.9.9", "10.8.8.8", "tcp", "8080", "request"],
        "tcp",
        "truncated",
        eth4(
            &[],
            [10, 9, 9, 9],
            [10, 8, 8, 8],
            6,
            &synth::tcp(33333, 8080, PSH_ACK, 100),
        ),
        Some(14 + 20 + 10),
    );
    let mut u = synth::udp(1111, 2222, 20);
    u[5] = 4;
    x.flow_with_error(
        f,
        ["10.9.0.1", "10.9.0.2", "udp", "2222", "request"],
        "udp",
        "bad_length",
        eth4(&[], [10, 9, 0, 1], [10, 9, 0, 2], 17, &u),
        None,
    );
    x.error(
        f,
        "ipv6",
        "truncated",
        synth::ethernet(&[], 0x86dd, &[0x60; 30]),
        None,
    );
    // hop-by-hop header claiming 32 bytes where there are 8: host pair kept,
    // protocol is the header that could not be read (0)
    x.flow_with_error(
        f,
        ["fd00::10:1", "fd00::10:2", "0", "", "request"],
        "ipv6_ext",
        "truncated",
        eth6(
            &[],
            "fd00::10:1",
            "fd00::10:2",
            0,
            &[6, 3, 0, 0, 0, 0, 0, 0],
            &[],
        ),
        None,
    );
    x.error(
        f,
        "mpls",
        "truncated",
        synth::ethernet(&[], 0x8847, &[0, 1]),
        None,
    );
    x.error(
        f,
        "pppoe",
        "bad_version",
        synth::ethernet(&[], 0x8864, &[0x21, 0, 0, 1, 0, 2, 0, 0x21]),
        None,
    );
    x.flow_with_error(
        f,
        ["10.11.0.1", "10.11.0.2", "icmp", "", "request"],
        "icmp",
        "truncated",
        eth4(&[], [10, 11, 0, 1], [10, 11, 0, 2], 1, &[8, 0]),
        None,
    );
}

fn cooked(x: &mut Expect, dir: &TempDir) -> Vec<std::path::PathBuf> {
    // ---- Linux cooked v1 and v2 (what `tcpdump -i any` writes)
    let mut f = File::new(1_700_000_100);
    let ip = synth::ipv4(
        [10, 12, 0, 1],
        [10, 12, 0, 2],
        6,
        (false, 0),
        &synth::tcp(40000, 443, SYN, 0),
    );
    x.flow(
        &mut f,
        ["10.12.0.1", "10.12.0.2", "tcp", "443", "request"],
        synth::sll(0x0800, &ip),
    );
    x.non_ip(&mut f, "0x0806", synth::sll(0x0806, &[0; 28]));
    let sll = dir.path("sll.pcap");
    write_pcap(&sll, 113, false, &f.recs);

    let mut f = File::new(1_700_000_200);
    let ip = synth::ipv6(
        v6("fd00::12:1"),
        v6("fd00::12:2"),
        17,
        &[],
        &synth::udp(4000, 123, 48),
    );
    x.flow(
        &mut f,
        ["fd00::12:1", "fd00::12:2", "udp", "123", "request"],
        synth::sll2(0x86dd, &ip),
    );
    let ip = synth::ipv4(
        [10, 12, 0, 3],
        [10, 12, 0, 4],
        17,
        (false, 0),
        &synth::udp(123, 4000, 48),
    );
    x.flow(
        &mut f,
        ["10.12.0.3", "10.12.0.4", "udp", "4000", "request"],
        synth::sll2(0x0800, &ip),
    );
    x.error(&mut f, "link", "truncated", vec![0x08, 0x00, 0, 0], None);
    let sll2 = dir.path("sll2.pcap");
    write_pcap(&sll2, 276, false, &f.recs);
    vec![sll, sll2]
}

fn raw_ip(x: &mut Expect, dir: &TempDir) -> Vec<std::path::PathBuf> {
    // ---- raw IP, nanosecond timestamps
    let mut f = File::new(1_700_000_300);
    x.flow(
        &mut f,
        ["10.13.0.1", "10.13.0.2", "udp", "514", "request"],
        synth::ipv4(
            [10, 13, 0, 1],
            [10, 13, 0, 2],
            17,
            (false, 0),
            &synth::udp(5000, 514, 80),
        ),
    );
    x.flow(
        &mut f,
        ["fd00::13:1", "fd00::13:2", "tcp", "179", "request"],
        synth::ipv6(
            v6("fd00::13:1"),
            v6("fd00::13:2"),
            6,
            &[],
            &synth::tcp(179, 179, PSH_ACK, 19),
        ),
    );
    x.error(&mut f, "link", "bad_version", vec![0x50; 40], None);
    let raw = dir.path("raw.pcap");
    write_pcap(&raw, 101, true, &f.recs);
    vec![raw]
}

fn pcapng(x: &mut Expect, dir: &TempDir) -> Vec<std::path::PathBuf> {
    // ---- pcapng
    let mut f = File::new(1_700_000_400);
    x.flow(
        &mut f,
        ["10.14.0.1", "10.14.0.2", "udp", "4789", "request"],
        eth4(
            &[],
            [10, 14, 0, 1],
            [10, 14, 0, 2],
            17,
            &synth::udp(50000, 4789, 70),
        ),
    );
    x.flow(
        &mut f,
        ["10.14.0.2", "10.14.0.1", "udp", "4789", "reply"],
        eth4(
            &[],
            [10, 14, 0, 2],
            [10, 14, 0, 1],
            17,
            &synth::udp(4789, 50000, 70),
        ),
    );
    let ng = dir.path("ng.pcapng");
    write_pcapng(&ng, 1, &f.recs);
    vec![ng]
}

fn as_u64_map(m: &BTreeMap<Vec<String>, (u64, u64)>, bytes: bool) -> BTreeMap<Vec<String>, u64> {
    m.iter()
        .map(|(k, v)| (k.clone(), if bytes { v.1 } else { v.0 }))
        .collect()
}

/// Compares a replay's exposition with what `x` says the files hold;
/// every message names `case`.
fn assert_counts(case: &str, text: &str, x: &Expect) {
    let m = parse_exposition(text);
    assert_eq!(
        family(&m, "ringflow_packets_total")[&vec![]],
        x.packets,
        "{case}: packets"
    );
    assert_eq!(
        family(&m, "ringflow_bytes_total")[&vec![]],
        x.bytes,
        "{case}: bytes"
    );
    assert_eq!(
        family_by(&m, "ringflow_flow_packets_total", &FLOW_KEY),
        as_u64_map(&x.flows, false),
        "{case}: flow packets"
    );
    assert_eq!(
        family_by(&m, "ringflow_flow_bytes_total", &FLOW_KEY),
        as_u64_map(&x.flows, true),
        "{case}: flow bytes"
    );
    assert_eq!(
        family(&m, "ringflow_non_ip_packets_total"),
        x.non_ip,
        "{case}: non-IP"
    );
    let errors: BTreeMap<Vec<String>, u64> = family(&m, "ringflow_parse_errors_total")
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .collect();
    assert_eq!(errors, x.errors, "{case}: parse errors");
    assert_eq!(
        family(&m, "ringflow_flow_table_overflow_total")[&vec![]],
        0,
        "{case}"
    );
    assert_eq!(family(&m, "ringflow_input_complete")[&vec![]], 1, "{case}");
    assert_eq!(
        family(&m, "ringflow_capture_damaged_records_total")[&vec![]],
        0,
        "{case}"
    );
}

/// Each case on its own, so that a failure names it.
#[test]
fn each_golden_case_counts_what_was_written() {
    let dir = TempDir::new("golden-cases");
    for (i, (case, write)) in ETHERNET_CASES.into_iter().enumerate() {
        let mut x = Expect::default();
        let mut f = File::new(1_700_000_000);
        write(&mut x, &mut f);
        assert!(x.packets > 0, "{case} writes frames");
        let path = dir.path(&format!("case{i}.pcap"));
        write_pcap(&path, ETH, false, &f.recs);
        assert_counts(case, &replay(&[&path], &[]), &x);
    }
    for (case, write) in FILE_CASES {
        let mut x = Expect::default();
        let files = write(&mut x, &dir);
        let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
        assert_counts(case, &replay(&paths, &[]), &x);
    }
}

/// All of them together, in one replay.
#[test]
fn golden_counters_match_what_was_written() {
    let dir = TempDir::new("golden");
    let (files, x) = golden_files(&dir);
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let text = replay(&paths, &["--workers", "1"]);
    assert_counts("all cases", &text, &x);
}

#[test]
fn every_packet_is_accounted_exactly_once() {
    let dir = TempDir::new("identity");
    let (files, x) = golden_files(&dir);
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let m = parse_exposition(&replay(&paths, &["--workers", "2"]));
    let flows: u64 = family(&m, "ringflow_flow_packets_total").values().sum();
    let non_ip: u64 = family(&m, "ringflow_non_ip_packets_total").values().sum();
    // parse errors below IP are packets in no flow
    let unattributed: u64 = family(&m, "ringflow_parse_errors_total")
        .iter()
        .filter(|(k, _)| ["link", "vlan", "mpls", "pppoe", "ipv4", "ipv6"].contains(&k[0].as_str()))
        .map(|(_, v)| v)
        .sum();
    let overflow = family(&m, "ringflow_flow_table_overflow_total")[&vec![]];
    assert_eq!(flows + non_ip + unattributed + overflow, x.packets);
    assert_eq!(family(&m, "ringflow_packets_total")[&vec![]], x.packets);
}

#[test]
fn worker_batch_histogram_is_exported_per_worker() {
    let dir = TempDir::new("batch");
    let (files, x) = golden_files(&dir);
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let m = parse_exposition(&replay(&paths, &["--workers", "2"]));
    let counts = family(&m, "ringflow_worker_batch_seconds_count");
    assert_eq!(
        counts.keys().cloned().collect::<Vec<_>>(),
        vec![vec!["0".to_string()], vec!["1".to_string()]]
    );
    // every packet is in some batch, and no batch is empty of packets
    let batches: u64 = counts.values().sum();
    assert!(batches >= 2 && batches <= x.packets, "{batches} batches");
    let inf = family(&m, "ringflow_worker_batch_seconds_bucket");
    for w in ["0", "1"] {
        assert_eq!(
            inf[&vec!["+Inf".to_string(), w.to_string()]],
            counts[&vec![w.to_string()]]
        );
    }
}

#[test]
fn flow_table_overflow_keeps_totals() {
    // 3000 conversations through a table that holds 7: the totals stay
    // exact and the overflow is counted.
    let dir = TempDir::new("overflow");
    let mix = synth::Mix {
        flows: 3000,
        packets: 6000,
        ..synth::Mix::default()
    };
    let path = mix_file(&dir, "mix.pcap", &mix);
    let mut bytes = 0u64;
    mix.for_each_frame(|_, _, f| bytes += f.len() as u64);
    let out = run(&[
        "replay",
        path.to_str().unwrap(),
        "--print",
        "--flow-table-size",
        "7",
        "--refresh",
        "10s",
    ]);
    assert!(out.status.success());
    let m = parse_exposition(&String::from_utf8(out.stdout).unwrap());
    let flows: u64 = family(&m, "ringflow_flow_packets_total").values().sum();
    let flow_bytes: u64 = family(&m, "ringflow_flow_bytes_total").values().sum();
    let overflow = family(&m, "ringflow_flow_table_overflow_total")[&vec![]];
    let overflow_bytes = family(&m, "ringflow_flow_table_overflow_bytes_total")[&vec![]];
    assert!(overflow > 0);
    assert_eq!(flows + overflow, 6000);
    assert_eq!(flow_bytes + overflow_bytes, bytes);
    assert_eq!(family(&m, "ringflow_bytes_total")[&vec![]], bytes);
}

#[test]
fn replay_hands_a_filling_table_over_instead_of_overflowing() {
    let dir = TempDir::new("handover");
    let mix = synth::Mix {
        flows: 3000,
        packets: 6000,
        ..synth::Mix::default()
    };
    let path = mix_file(&dir, "mix.pcap", &mix);
    // 6000 flow entries through tables of 600, with a refresh far too
    // slow to drain them: only early hand-overs keep every flow
    let text = replay(
        &[&path],
        &[
            "--flow-table-size",
            "600",
            "--batch",
            "64",
            "--refresh",
            "60s",
        ],
    );
    let m = parse_exposition(&text);
    assert_eq!(family(&m, "ringflow_flow_table_overflow_total")[&vec![]], 0);
    let flows: u64 = family(&m, "ringflow_flow_packets_total").values().sum();
    assert_eq!(flows, 6000);
}
