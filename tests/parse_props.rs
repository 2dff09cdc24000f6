//! Property tests: the parser never panics, reports only errors it
//! declares, and reads back what the frame builder wrote.

use proptest::prelude::*;
use ringflow::parse::{self, Decap, ERROR_KINDS, LinkType, Outcome, PortKind};
use ringflow::tools::synth;

const LINKS: [LinkType; 6] = LinkType::ALL;

fn check_outcome(o: &Outcome) {
    match o {
        Outcome::Error(e) => {
            assert!(ERROR_KINDS.contains(e), "undeclared error {e:?}");
            assert!(!e.layer.counted_in_flows(), "{e:?} stops below IP");
        }
        Outcome::Ip(p) => {
            assert!(p.version == 4 || p.version == 6);
            if let Some(e) = p.l4_error {
                assert!(ERROR_KINDS.contains(&e), "undeclared error {e:?}");
                // a broken header below IP only inside a tunnel the
                // packet carries
                let tunnel = matches!(p.proto, 4 | 41 | 47 | 17);
                assert!(e.layer.counted_in_flows() || tunnel, "{e:?} is above IP");
            }
            let len = 2000;
            let counted = p.counted_len(len);
            assert!(counted <= len);
            assert!(p.outside_ip(len, 300) <= counted);
            if let Some(t) = p.tunnels.innermost() {
                assert!(t.start >= p.tunnels.get(0).start);
            }
        }
        Outcome::NonIp { .. } => {}
    }
}

/// Arbitrary bytes that often start like a real header, so the fuzzing
/// reaches deep layers.
fn framey() -> impl Strategy<Value = Vec<u8>> {
    let ethertypes = prop::sample::select(vec![
        0x0800u16, 0x86dd, 0x8100, 0x88a8, 0x9100, 0x8847, 0x8864, 0x0806, 0x0001,
    ]);
    (ethertypes, prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(et, mut body)| {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&et.to_be_bytes());
        if let Some(b) = body.first_mut() {
            // bias toward plausible IP version nibbles
            if et == 0x0800 {
                *b = 0x40 | (*b & 0x0f);
            } else if et == 0x86dd {
                *b = 0x60 | (*b & 0x0f);
            }
        }
        f.append(&mut body);
        f
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        for link in LINKS {
            check_outcome(&parse::parse(link, &data, &Decap::default()));
        }
    }

    #[test]
    fn never_panics_on_header_like_bytes(data in framey()) {
        check_outcome(&parse::parse(LinkType::Ethernet, &data, &Decap::default()));
        check_outcome(&parse::parse(LinkType::RawIp, &data[14..], &Decap::default()));
    }

    #[test]
    fn reads_back_what_was_built(
        v6 in any::<bool>(),
        udp in any::<bool>(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        sp in any::<u16>(),
        dp in any::<u16>(),
        vlan in prop::option::of(1u16..4095),
        len in 0usize..1600,
    ) {
        let fd = synth::FlowDesc {
            v6, client: src, server: dst, client_port: sp, server_port: dp, udp, vlan,
        };
        let frame = fd.frame(true, synth::tcp_flags::SYN, len);
        let Outcome::Ip(p) = parse::parse(LinkType::Ethernet, &frame, &Decap::default()) else {
            panic!("not IP");
        };
        prop_assert_eq!(p.version, if v6 { 6 } else { 4 });
        let n = if v6 { 16 } else { 4 };
        prop_assert_eq!(&p.src[..n], &src[..n]);
        prop_assert_eq!(&p.dst[..n], &dst[..n]);
        prop_assert_eq!(p.proto, if udp { 17 } else { 6 });
        prop_assert_eq!(p.port_kind, PortKind::Ports);
        prop_assert_eq!((p.src_port, p.dst_port), (sp, dp));
        prop_assert_eq!(p.vlan, vlan.unwrap_or(0));
        prop_assert_eq!(p.l4_error, None);
        // every cut of a good frame is still safe to parse
        for cut in 0..frame.len().min(100) {
            check_outcome(&parse::parse(LinkType::Ethernet, &frame[..cut], &Decap::default()));
        }
    }

    /// Tunnel headers followed by arbitrary bytes: the parser never
    /// panics, declares its errors, and never counts more than the wire.
    #[test]
    fn never_panics_in_tunnels(
        kind in 0usize..6,
        outer_v6 in any::<bool>(),
        body in prop::collection::vec(any::<u8>(), 0..160),
    ) {
        let (proto, payload): (u8, Vec<u8>) = match kind {
            0 => (47, [&[0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1][..], &body].concat()),
            1 => (47, [&[0x00, 0x00, 0x22, 0xeb][..], &body].concat()),
            2 => (47, [&[0xb0, 0x00, 0x65, 0x58][..], &body].concat()),
            3 => (17, synth::tunnel::with_udp(1, 4789, &[&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &body].concat())),
            4 => (17, synth::tunnel::with_udp(1, 6081, &body)),
            _ => (if body.first().map(|b| b >> 4) == Some(6) { 41 } else { 4 }, body.clone()),
        };
        let o = synth::tunnel::Outer {
            v6: outer_v6,
            src: [0xfd; 16],
            dst: [0xfe; 16],
            tags: &[],
            ttl: 9,
        };
        let frame = o.frame(proto, &payload, 1);
        let out = parse::parse(LinkType::Ethernet, &frame, &Decap::default());
        check_outcome(&out);
        for cut in 0..frame.len() {
            check_outcome(&parse::parse(LinkType::Ethernet, &frame[..cut], &Decap::default()));
        }
    }

    /// Any flow wrapped in any tunnel, in another tunnel or not, reads back
    /// as the flow.
    #[test]
    fn reads_back_through_tunnels(
        v6 in any::<bool>(),
        src in any::<[u8; 16]>(),
        dst in any::<[u8; 16]>(),
        sp in any::<u16>(),
        dp in any::<u16>(),
        first in 0usize..6,
        second in prop::option::of(0usize..4),
        len in 0usize..1500,
    ) {
        use synth::tunnel::Wrap;
        let wraps = [
            Wrap::ErspanII { vlan: 3, session: 1 },
            Wrap::ErspanIII { session: 2, subheader: true },
            Wrap::Vxlan { vni: 4, port: 4789 },
            Wrap::Geneve { vni: 5, option_words: 1 },
            Wrap::GreTeb { key: Some(6), seq: None, checksum: true },
            Wrap::Ipip,
        ];
        let fd = synth::FlowDesc {
            v6, client: src, server: dst, client_port: sp, server_port: dp, udp: true, vlan: None,
        };
        let o = synth::tunnel::Outer { v6: !v6, src: [0xfd; 16], dst: [0xfe; 16], tags: &[], ttl: 9 };
        let mut frame = o.wrap(wraps[first], &fd.frame(true, 0, len), 1);
        if let Some(s) = second {
            frame = o.wrap(wraps[s], &frame, 2);
        }
        let Outcome::Ip(p) = parse::parse(LinkType::Ethernet, &frame, &Decap::default()) else {
            panic!("not IP");
        };
        let n = if v6 { 16 } else { 4 };
        prop_assert_eq!(&p.src[..n], &src[..n]);
        prop_assert_eq!(&p.dst[..n], &dst[..n]);
        prop_assert_eq!((p.src_port, p.dst_port), (sp, dp));
        prop_assert_eq!(usize::from(p.tunnels.depth), 1 + usize::from(second.is_some()));
        prop_assert!(p.counted_len(frame.len() as u32) as usize <= frame.len());
    }
}

/// The fuzz corpus holds a frame of each tunnel, so the fuzzer starts
/// inside them: each decodes to the packet inside (PPTP's GRE excepted).
#[test]
fn fuzz_corpus_seeds_open_their_tunnels() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_frame");
    let mut seen = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("tunnel-") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        // the first byte picks the link type: 0 is Ethernet
        assert_eq!(data[0], 0, "{name}");
        let Outcome::Ip(p) = parse::parse(LinkType::Ethernet, &data[1..], &Decap::default()) else {
            panic!("{name}: not IP");
        };
        let want = match name.as_str() {
            "tunnel-pptp-gre1" => 0,
            "tunnel-erspan-vxlan" => 2,
            _ => 1,
        };
        assert_eq!(p.tunnels.depth, want, "{name}");
        assert_eq!(p.l4_error, None, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 9);
}
